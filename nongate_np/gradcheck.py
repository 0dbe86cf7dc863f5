"""Gradient checking: compare a function's backward pass with numerical derivatives.

``gradcheck(fn, inputs)`` forms the scalar L(x) = Σ_k ⟨v_k, f_k(x)⟩ from the outputs f_k of
``fn`` with fixed-seed standard-normal cotangents v_k (v = 1 for a one-element output),
takes the analytic ∂L/∂x_j (the vector-Jacobian product Jᵀv) from one backward pass and
compares it with a numerical derivative of L (``nongate_np.numdiff``, docs/math.md G1-G3):

- ``"central"``: (L(x + h e_i) − L(x − h e_i)) / 2h per element, h = ε^(1/3)·max(1, |x_i|).
- ``"complex_step"``: Im L(x + i h e_i) / h, h = 1e-20·max(1, |x_i|): no subtraction, so
  exact to rounding. **Precondition: fn must be real-analytic along the path.** abs, max,
  where, relu and friends are fine only away from their kinks (branches are chosen by the
  real part), and fn must not conjugate or drop the imaginary part (``.real``, a cast to a
  real dtype, a detour through ``.data`` into real arrays). When every output comes back
  real, gradcheck raises "complex-step is not applicable".
- ``"directional"`` (default, fast): ⟨∂L/∂x_j, u_j⟩ against the central difference
  (L(x + h u_j) − L(x − h u_j)) / 2h along a fixed-seed random direction u_j (max-abs 1),
  h = ε^(1/3)·max(1, max|x_j|): two evaluations per input. On failure the full central
  check of that input decides (torch's fast-then-slow fallback) and the report says so.

The verdict per element, a analytic, n numeric, (atol, rtol) from ``TOLERANCES``::

    |a − n| ≤ atol + rtol·max(|n|, 1e-3·max_j|n_j|) + ν_i,    ν_i = 4·ε·Σ_k|v_k·f_k(x)| / h_i

This is torch's ``atol + rtol·|n|`` made scale-free by two terms: entries far below the
gradient's scale are judged against a thousandth of it, and ν_i (the rounding noise of L
over the step) is the resolution of a central difference; complex-step has no such noise
(ν = 0). So a correct function scaled by 1e6 still passes; for O(1) outputs both terms are
far below atol. The directional check uses the bound this implies for ⟨a, u⟩, namely
Σ_i |u_i|·(atol + rtol·max(|a_i|, 1e-3·max|a|)) + 4·ε·Σ|v·f| / h.
The reported relative error of an element is |a − n| / max(|a|, |n|, 1e-3·max_j|n_j|, tiny),
so a near-zero entry does not read as 100 % wrong. The worst element is the one with the
largest violation |a − n| / allowed_i (above 1 fails).

Before any numerical work backward runs twice from fresh forwards and must give
bit-identical gradients (reentrancy), each shaped like its input.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field

import numpy as np

from .autograd import GradientShapeError, enable_grad
from .kernels.registry import get_backend
from .numdiff import ScalarLoss, directional_derivative, directional_step, numeric_gradient

__all__ = ["gradcheck", "numeric_gradient", "GradcheckError", "GradcheckReport",
           "InputReport", "TOLERANCES", "METHODS", "tolerance"]

METHODS = ("central", "complex_step", "directional")

# (atol, rtol) by method and the precision of the checked input (complex128 uses float64's
# row). Central float64 keeps ~10 correct digits (G1): rtol=1e-6 leaves 4 digits of margin
# and still flags any real bug. Complex-step is exact to rounding (G2): rtol=1e-11 leaves
# room for the rounding of long backward sums and still flags a stray float32 (1e-7).
TOLERANCES = {
    ("central", "float64"): (1e-8, 1e-6),
    ("directional", "float64"): (1e-8, 1e-6),
    ("complex_step", "float64"): (1e-13, 1e-11),
    ("central", "float32"): (1e-3, 1e-2),
    ("directional", "float32"): (1e-3, 1e-2),
    ("complex_step", "float32"): (1e-5, 1e-4),
    ("central", "float16"): (5e-2, 1e-1),
    ("directional", "float16"): (5e-2, 1e-1),
    ("complex_step", "float16"): (1e-2, 1e-2),
}
REL_FLOOR = 1e-3       # entries are judged against at least 1e-3·max|n|
NOISE_FACTOR = 4.0     # ν = 4·ε·Σ|v·f| / h
_TINY = np.finfo(np.float64).tiny


def tolerance(method: str, dtype) -> tuple[float, float]:
    """(atol, rtol) from ``TOLERANCES`` for an input of ``dtype`` (float64's row if absent)."""
    precision = np.finfo(np.dtype(dtype)).dtype.name     # complex128 -> float64
    return TOLERANCES.get((method, precision), TOLERANCES[(method, "float64")])


class GradcheckError(AssertionError):
    """A gradient check failed; ``.report`` holds the whole :class:`GradcheckReport`."""

    def __init__(self, report: "GradcheckReport | str"):
        # NOTE: a str is accepted so the exception survives pickling (it rebuilds from args).
        super().__init__(report if isinstance(report, str) else report.failure_text())
        self.report = None if isinstance(report, str) else report


@dataclass
class InputReport:
    """The check of one input. ``analytic``/``numeric`` are the values at ``worst_index``;
    the whole arrays are ``analytic_grad``/``numeric_grad`` (``numeric_grad`` is None where
    only the directional check ran). ``problem`` describes a failure found before any
    comparison (backward not reentrant, gradient of the wrong shape)."""
    name: str
    index: int
    label: str                       # "input 1 'W'", as messages show it
    display: str                     # how its elements are written: W -> W[7, 29]
    shape: tuple
    dtype: str
    method: str
    atol: float = 0.0
    rtol: float = 0.0
    eps: float = 0.0                 # the base step: h_i = eps·max(1, |x_i|) unless fixed
    eps_rule: str = ""
    noise: float = 0.0               # the largest ν_i allowed for rounding noise
    passed: bool = True
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    worst_index: tuple | None = None
    analytic: float | complex | None = None
    numeric: float | complex | None = None
    n_failing: int = 0
    directional_analytic: float | None = None    # ⟨u, Jᵀv⟩
    directional_numeric: float | None = None     # ⟨Ju, v⟩ by central difference
    fallback_ran: bool = False
    fallback_passed: bool | None = None
    blocks: str = ""                 # ", all in block 'g' (W[6:9])"
    worst_block: str | None = None
    notes: list = field(default_factory=list)
    problem: str = ""
    analytic_grad: np.ndarray | None = field(default=None, repr=False)
    numeric_grad: np.ndarray | None = field(default=None, repr=False)
    violation: np.ndarray | None = field(default=None, repr=False)
    regions: list = field(default_factory=list, repr=False)     # (label, text, mask)

    @property
    def n_total(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def checked_by(self) -> str:
        if self.problem:
            return "backward"
        return "directional → central" if self.fallback_ran else self.method

    def element(self, idx) -> str:
        return f"{self.display}[{', '.join(str(i) for i in idx)}]" if idx else self.display

    def block_of(self, idx) -> str | None:
        """The label of the first block (``blocks=``) holding element ``idx``."""
        return next((label for label, _, mask in self.regions if mask[idx]), None)


@dataclass
class GradcheckReport:
    """The result of :func:`gradcheck`: one :class:`InputReport` per checked input."""
    name: str
    method: str
    inputs: list = field(default_factory=list)
    seed: int = 0
    backend: str = ""

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.inputs)

    @property
    def max_abs_error(self) -> float:
        return max((r.max_abs_error for r in self.inputs), default=0.0)

    @property
    def max_rel_error(self) -> float:
        return max((r.max_rel_error for r in self.inputs), default=0.0)

    def worst(self, k: int = 5) -> list[dict]:
        """The k elements with the largest violation, over every input compared element by
        element: dicts with input, index, analytic, numeric, abs, rel, violation, block."""
        rows = []
        for r in self.inputs:
            if r.violation is None:
                continue
            a, n = r.analytic_grad, r.numeric_grad
            rel = _rel_error(a, n)
            for flat in np.argsort(-r.violation, axis=None, kind="stable")[:k]:
                idx = tuple(int(i) for i in np.unravel_index(flat, r.shape))
                rows.append({"input": r.name, "index": idx, "analytic": a[idx].item(),
                             "numeric": n[idx].item(), "abs": float(abs(a[idx] - n[idx])),
                             "rel": float(rel[idx]), "violation": float(r.violation[idx]),
                             "block": r.block_of(idx)})
        return sorted(rows, key=lambda row: -row["violation"])[:k]

    def __str__(self) -> str:
        lines = [f"gradcheck {self.name} [{self.method}, backend={self.backend}, "
                 f"seed={self.seed}]: {'passed' if self.passed else 'FAILED'}",
                 f"  {'input':<20} {'shape':<14} {'dtype':<10} {'checked by':<22} "
                 f"{'max abs':>8} {'max rel':>8}  result"]
        for r in self.inputs:
            lines.append(f"  {r.label:<20} {str(r.shape):<14} {r.dtype:<10} "
                         f"{r.checked_by:<22} {r.max_abs_error:>8.1e} {r.max_rel_error:>8.1e}"
                         f"  {'pass' if r.passed else 'FAIL'}")
        lines += [f"  {r.label}: directional failed → full central difference passed"
                  for r in self.inputs if r.fallback_ran and r.passed]
        if not self.passed:
            lines.append(self.failure_text())
        return "\n".join(lines)

    def failure_text(self) -> str:
        """The message of :class:`GradcheckError`: one block per failing input."""
        return "\n".join(_failure_block(self, r) for r in self.inputs if not r.passed)


def _fmt(value) -> str:
    if np.iscomplexobj(value):
        value = complex(value)
        return f"({value.real:+.4e}{value.imag:+.4e}j)"
    return f"{float(value):+.4e}"


def _failure_block(rep: GradcheckReport, r: InputReport) -> str:
    head = f"GradcheckError: {rep.name}: d(output)/d({r.label})"
    if r.problem:
        return f"{head} {r.problem}"
    lines = [f"{head} mismatch [backend={rep.backend}]"]
    method = r.method if not r.fallback_ran else "directional → full central difference " \
        + ("passed" if r.fallback_passed else "failed")
    lines.append(f"  method      {method} (eps={r.eps:.1e}{r.eps_rule}, {r.dtype})")
    noise = (" + noise", f" noise={r.noise:.1e}") if r.noise else ("", "")
    lines.append(f"  tolerance   |a-n| <= atol + rtol*max(|n|, {REL_FLOOR:g}*max|n|){noise[0]}"
                 f"   atol={r.atol:g} rtol={r.rtol:g}{noise[1]}")
    if r.violation is not None:
        pct = 100.0 * r.n_failing / max(r.n_total, 1)
        lines.append(f"  failing     {r.n_failing} / {r.n_total} elements ({pct:.1f}%)"
                     f"{r.blocks}")
        idx = r.worst_index
        rel = _rel_error(r.analytic_grad, r.numeric_grad)[idx]
        block = f" (block {r.worst_block!r})" if r.worst_block else ""
        lines.append(f"  worst       {r.element(idx)}: analytic={_fmt(r.analytic)} "
                     f"numeric={_fmt(r.numeric)} abs={abs(r.analytic - r.numeric):.1e} "
                     f"rel={rel:.1e}{block}")
    if r.directional_analytic is not None:
        lines.append(f"  directional <u,J^T v>={_fmt(r.directional_analytic)}  "
                     f"<Ju,v>={_fmt(r.directional_numeric)}  (seed={rep.seed})")
    lines += [f"  note        {note}" for note in r.notes]
    only = r.index if r.display.startswith("inputs[") else json.dumps(r.name)
    lines.append(f"  reproduce   gradcheck(fn, inputs, only={only}, seed={rep.seed}, "
                 f"method=\"central\")")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The analytic side: two fresh backward passes
# ---------------------------------------------------------------------------------------------

def _analytic(loss: ScalarLoss):
    """∂L/∂x per input (None where unchecked), which inputs got no gradient at all, and
    Σ|v·f| at x. Two backward passes from fresh forwards must agree bit for bit."""
    first, missing, magnitude = _backward_once(loss)
    second, _, _ = _backward_once(loss)
    bad = [_reentrancy_report(loss, k, g1, g2) for k, (g1, g2) in enumerate(zip(first, second))
           if g1 is not None and not np.array_equal(g1, g2, equal_nan=True)]
    if bad:
        raise GradcheckError(_report(loss, "reentrancy", bad))
    return first, missing, magnitude


def _backward_once(loss: ScalarLoss):
    with enable_grad():
        args, outs = loss.invoke([None if a is None else a.copy() for a in loss.arrays],
                                 requires_grad=True)
        magnitude = float(sum(np.sum(np.abs(v * o.data)) for v, o in zip(loss.cotangents, outs)))
        terms = [(o * v.astype(o.dtype)).sum() for v, o in zip(loss.cotangents, outs)
                 if o.requires_grad]
        if terms:
            total = terms[0]
            for t in terms[1:]:
                total = total + t
            try:
                total.backward()
            except GradientShapeError as err:
                raise GradcheckError(_engine_error_report(loss, err, args)) from err
    grads, missing = [], []
    for k, t in enumerate(args):
        if not loss.checked[k]:
            grads.append(None)
            continue
        missing.append(t.grad is None)
        g = np.zeros(t.shape, t.dtype) if t.grad is None else np.asarray(t.grad)
        if g.shape != t.shape:
            raise GradcheckError(_report(loss, "shape", [_problem(
                loss, k, f"has shape {g.shape}, expected the input's shape {t.shape}")]))
        grads.append(g)
    return grads, missing, magnitude


def _report(loss: ScalarLoss, method: str, inputs=()) -> GradcheckReport:
    return GradcheckReport(name=loss.name, method=method, inputs=list(inputs), seed=loss.seed,
                           backend=get_backend())


def _problem(loss: ScalarLoss, k: int, problem: str) -> InputReport:
    x = loss.arrays[k]
    return InputReport(name=loss.names[k], index=k, label=loss.labels[k],
                       display=loss.displays[k], shape=x.shape, dtype=str(x.dtype),
                       method="backward", passed=False, problem=problem)


def _reentrancy_report(loss: ScalarLoss, k: int, g1, g2) -> InputReport:
    with np.errstate(invalid="ignore"):
        diff = np.abs(g1 - g2)
    diff = np.where(np.isnan(diff), np.inf, diff)
    idx = tuple(int(i) for i in np.unravel_index(np.argmax(diff), g1.shape))
    r = _problem(loss, k, "")
    r.problem = (
        "is not reentrant: two backward passes differ\n"
        f"  differ      {int(np.count_nonzero(diff))} / {g1.size} elements; the largest at "
        f"{r.element(idx)}: first={_fmt(g1[idx])} second={_fmt(g2[idx])}\n"
        "  cause       fn's forward or backward is not deterministic (random numbers, "
        "np.empty, state kept between calls, a race); seed any randomness inside fn")
    r.max_abs_error = float(diff.max())
    r.worst_index, r.analytic, r.numeric = idx, g1[idx].item(), g2[idx].item()
    return r


def _engine_error_report(loss: ScalarLoss, err: GradientShapeError, args) -> GradcheckReport:
    """The engine refused a wrongly shaped gradient: name the input it was for."""
    leaves = {id(t): k for k, t in enumerate(args) if loss.checked[k]}
    k = leaves.get(id(err.tensor))
    if k is not None:
        r = _problem(loss, k, f"has shape {err.grad_shape}, expected the input's shape "
                              f"{err.tensor.shape}\n  raised by   the autograd engine: {err}")
    else:
        r = _problem(loss, loss.checked.index(True), "")
        r.label = "inputs"
        r.problem = ("cannot be computed: backward failed for an intermediate tensor inside "
                     f"fn\n  raised by   the autograd engine: {err}")
    return _report(loss, "shape", [r])


# ---------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------

def _scale(numeric) -> float:
    n = np.abs(np.asarray(numeric))
    return REL_FLOOR * float(np.max(n[np.isfinite(n)], initial=0.0))


def _rel_error(analytic, numeric) -> np.ndarray:
    """|a − n| / max(|a|, |n|, 1e-3·max_j|n_j|, tiny); inf where a value is not finite."""
    a, n = np.asarray(analytic), np.asarray(numeric)
    with np.errstate(all="ignore"):
        denom = np.maximum(np.maximum(np.abs(a), np.abs(n)), max(_scale(n), _TINY))
        return np.where(np.isfinite(a) & np.isfinite(n), np.abs(a - n) / denom, np.inf)


def _allowed(numeric, atol, rtol, noise=0.0):
    """atol + rtol·max(|n|, 1e-3·max|n|) + ν, element by element."""
    return atol + rtol * np.maximum(np.abs(numeric), _scale(numeric)) + noise


def _compare(r: InputReport, analytic, numeric, blocks, noise=0.0) -> None:
    """Fill ``r`` from the element-wise comparison of the two gradients of one input."""
    r.analytic_grad, r.numeric_grad = analytic, numeric
    r.noise = float(np.max(noise, initial=0.0))
    if analytic.size == 0:
        return
    with np.errstate(all="ignore"):
        err = np.where(np.isfinite(analytic) & np.isfinite(numeric),
                       np.abs(analytic - numeric), np.inf)
        allowed = _allowed(numeric, r.atol, r.rtol, noise)
        r.violation = np.where(err == 0, 0.0, np.where(allowed > 0, err / allowed, np.inf))
    failing = r.violation > 1
    r.worst_index = tuple(int(i) for i in np.unravel_index(np.argmax(r.violation),
                                                           analytic.shape))
    r.analytic, r.numeric = analytic[r.worst_index].item(), numeric[r.worst_index].item()
    r.max_abs_error = float(err.max())
    r.max_rel_error = float(np.max(_rel_error(analytic, numeric)))
    r.n_failing = int(np.count_nonzero(failing))
    r.passed = r.n_failing == 0
    for what, arr in (("analytic", analytic), ("numeric", numeric)):
        bad = arr.size - int(np.count_nonzero(np.isfinite(arr)))
        if bad:
            r.notes.append(f"the {what} gradient has {bad} non-finite value(s)")
    if blocks:
        r.blocks = _block_summary(blocks, r, failing)


def _index_text(index) -> str:
    def one(p):
        if isinstance(p, slice):
            text = f"{'' if p.start is None else p.start}:{'' if p.stop is None else p.stop}"
            return text + ("" if p.step in (None, 1) else f":{p.step}")
        if p is Ellipsis:
            return "..."
        return str(int(p)) if isinstance(p, (int, np.integer)) else "[...]"
    return ", ".join(one(p) for p in (index if isinstance(index, tuple) else (index,)))


def _block_summary(blocks, r: InputReport, failing: np.ndarray) -> str:
    """Fill ``r.regions`` and ``r.worst_block``; describe where the failing elements lie."""
    for label, index in blocks:
        mask = np.zeros(r.shape, bool)
        try:
            mask[index] = True
        except (IndexError, TypeError, ValueError) as err:
            raise ValueError(f"gradcheck: block {label!r} of {r.label}: {index!r} does not "
                             f"index an array of shape {r.shape} ({err})") from None
        r.regions.append((label, f"{r.display}[{_index_text(index)}]", mask))
    r.worst_block = r.block_of(r.worst_index)
    counts = [(label, text, int(np.count_nonzero(failing & mask)))
              for label, text, mask in r.regions]
    counts = [c for c in counts if c[2]]
    outside = int(np.count_nonzero(failing & ~np.any([m for *_, m in r.regions], axis=0)))
    if not r.n_failing:
        return ""
    if len(counts) == 1 and not outside:
        return f", all in block {counts[0][0]!r} ({counts[0][1]})"
    text = ", by block " + ", ".join(f"{label!r}: {n}" for label, _, n in counts)
    return text + (f", outside every block: {outside}" if outside else "")


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------

def gradcheck(fn, inputs, *, method: str = "directional", eps=None, atol=None, rtol=None,
              seed: int = 0, raise_exception: bool = True, only=None, names=None,
              blocks=None, name=None) -> GradcheckReport:
    """Check ``fn``'s backward against numerical derivatives (methods: module docstring).

    Parameters
    ----------
    fn : callable
        ``fn(*inputs)``, or ``fn(**inputs)`` for a dict, returning a Tensor or a tuple/list
        of Tensors. It must be deterministic (seed any randomness inside it).
    inputs : sequence or dict of ndarray / Tensor
        Floating/complex ndarrays and Tensors with ``requires_grad=True`` are checked (each
        becomes a fresh leaf Tensor; the caller's arrays are never modified); everything
        else is passed through as a constant. Use float64: float32 inputs warn and get the
        float32 tolerances.
    method : "directional" (default), "central" or "complex_step"
    eps : float, optional
        One absolute step for every element instead of the step rule.
    atol, rtol : float, optional
        Override ``TOLERANCES[(method, precision)]``.
    seed : int
        Seeds the cotangents v_k (``np.random.default_rng(seed)``) and the directions.
    raise_exception : bool
        Raise :class:`GradcheckError` on failure (default), or return the failing report.
    only : name, index or list of them
        Check only these inputs (the others become constants).
    names : list of str, optional
        Names of positional inputs for messages (default "input 0", "input 1", ...).
    blocks : dict, optional
        ``{input name: [(label, index), ...]}``, e.g. for an LSTM weight of shape (4H, I)
        ``{"W": [("i", np.s_[0:H]), ("f", np.s_[H:2*H]), ("g", ...), ("o", ...)]}``: the
        report says in which block the failing elements and the worst one lie.
    name : str, optional
        The function's name in messages (default ``fn.__name__``).

    Returns
    -------
    GradcheckReport
        ``passed``, per-input ``inputs``, ``max_abs_error``, ``max_rel_error``, ``worst(k)``.

    Raises
    ------
    GradcheckError
        A gradient mismatch, a backward that is not reentrant (two passes differ), or a
        gradient shaped unlike its input; ``str()`` is the report, ``.report`` the object.
    TypeError
        ``method="complex_step"`` on a function that drops the imaginary part.
    """
    if method not in METHODS:
        raise ValueError(f"gradcheck: method must be one of {', '.join(map(repr, METHODS))}, "
                         f"got {method!r}")
    loss = ScalarLoss(fn, inputs, names=names, only=only, seed=seed, name=name)
    blocks = blocks or {}
    unknown = [b for b in blocks if b not in loss.names]
    if unknown:
        raise ValueError(f"gradcheck: blocks= names {unknown}, which are not inputs; the "
                         "inputs are " + ", ".join(repr(n) for n in loss.names))
    for k, x in enumerate(loss.arrays):
        if loss.checked[k] and x.dtype not in (np.float64, np.complex128):
            a_tol, r_tol = tolerance(method, x.dtype)
            named = "" if loss.displays[k].startswith("inputs[") else f" {loss.names[k]!r}"
            warnings.warn(f"gradcheck: input #{k}{named} is {x.dtype}; use float64 "
                          f"({x.dtype} tolerances apply: atol={a_tol:g}, rtol={r_tol:g})",
                          UserWarning, stacklevel=2)
    try:
        grads, missing, magnitude = _analytic(loss)
    except GradcheckError as err:
        if raise_exception:
            raise
        return err.report
    report = _report(loss, method)
    for j, k in enumerate(k for k, c in enumerate(loss.checked) if c):
        r = _check_input(loss, k, grads[k], method, eps, atol, rtol, magnitude,
                         blocks.get(loss.names[k]))
        if missing[j] and not r.passed:
            r.notes.append("backward gave this input no gradient (None, counted as zeros): fn "
                           "reaches it only through unrecorded paths (.data, .numpy(), "
                           "detach) or the graph is cut")
        report.inputs.append(r)
    if raise_exception and not report.passed:
        raise GradcheckError(report)
    return report


def _check_input(loss: ScalarLoss, k: int, grad, method, eps, atol, rtol, magnitude, blocks):
    x = loss.arrays[k]
    a_tol, r_tol = tolerance(method, x.dtype)
    r = InputReport(name=loss.names[k], index=k, label=loss.labels[k],
                    display=loss.displays[k], shape=x.shape, dtype=str(x.dtype),
                    method=method, atol=a_tol if atol is None else atol,
                    rtol=r_tol if rtol is None else rtol)
    rounding = NOISE_FACTOR * float(np.finfo(x.dtype).eps) * magnitude    # ν·h
    if method == "directional":
        _directional(loss, k, grad, r, eps, rounding)
        if r.passed:
            return r
        # The fast check failed: the full central check of this input decides (fallback).
        a_tol, r_tol = tolerance("central", x.dtype)
        r.atol, r.rtol = a_tol if atol is None else atol, r_tol if rtol is None else rtol
        r.fallback_ran, method = True, "central"
    numeric = loss.gradient(k, method, eps)
    if method == "central":
        r.eps = float(np.finfo(x.dtype).eps ** (1 / 3)) if eps is None else float(eps)
        noise = rounding / np.maximum(1.0, np.abs(x)) / r.eps if eps is None else \
            np.full(x.shape, rounding / r.eps)
    else:
        r.eps, noise = 1e-20 if eps is None else float(eps), 0.0
    r.eps_rule = "·max(1,|x_i|)" if eps is None else ""
    _compare(r, grad, numeric, blocks, noise)
    if r.fallback_ran:
        r.fallback_passed = r.passed
    if method == "complex_step" and not r.passed:
        if loss.real_outputs:
            r.notes.append(f"output(s) {loss.real_outputs} stayed real under complex-step on "
                           "this input: if they depend on it, fn drops the imaginary part")
        if not np.any(numeric) and np.any(grad):
            r.notes.append("complex-step gave exactly 0 everywhere: fn likely drops the "
                           "imaginary part inside (.data, .real) and rebuilds complex values")
    return r


def _directional(loss: ScalarLoss, k: int, grad, r: InputReport, eps, rounding) -> None:
    """G3: ⟨g, u⟩ against (L(x + h u) − L(x − h u)) / 2h for a fixed-seed direction u, with
    the bound the element-wise criterion implies: Σ_i |u_i|·allowed_i."""
    x = loss.arrays[k]
    u = np.random.default_rng([loss.seed, k + 1]).standard_normal(x.shape)
    if u.size:
        u /= np.max(np.abs(u))
    r.eps = directional_step(x, eps)
    r.analytic_grad = grad
    numeric, u_eff = directional_derivative(loss, loss.arrays, k, u, r.eps)
    analytic = np.sum(grad * u_eff)
    r.noise = float(rounding / r.eps)
    bound = float(np.sum(np.abs(u_eff) * _allowed(grad, r.atol, r.rtol))) + r.noise
    r.directional_analytic, r.directional_numeric = analytic.item(), np.asarray(numeric).item()
    finite = bool(np.isfinite(analytic) and np.isfinite(numeric) and np.all(np.isfinite(grad)))
    err = float(abs(analytic - numeric)) if finite else np.inf
    r.max_abs_error = err
    r.max_rel_error = err / max(abs(analytic), abs(numeric),
                                REL_FLOOR * float(np.sum(np.abs(grad * u_eff))), _TINY)
    r.passed = bool(err <= bound)
