"""Gradient checking: compare a function's backward pass with numerical derivatives.

``gradcheck(fn, inputs)`` builds the scalar L(x) = Σ_k ⟨v_k, f_k(x)⟩ from the outputs of
``fn`` with fixed-seed random cotangents v_k, takes ∂L/∂x from one backward pass (the
analytic vector-Jacobian product Jᵀv) and compares it with a numerical derivative of L:

- ``"central"``: (L(x + h e_i) − L(x − h e_i)) / 2h per element, h = ε^(1/3)·max(1, |x_i|)
  (docs/math.md G1);
- ``"complex_step"``: Im L(x + i h e_i) / h, h = 1e-20·max(1, |x_i|): no subtraction, so
  exact to rounding (G2). Precondition: fn must be real-analytic along the path (no abs, no
  conjugation; max/where/relu only away from kinks) and must carry complex values through;
- ``"directional"`` (default, fast): ⟨∂L/∂x, u⟩ against (L(x + h u) − L(x − h u)) / 2h for a
  random direction u per input (G3); a failure reruns the full central check on that input.

The verdict, per element: |a − n| ≤ atol + rtol·max(|n|, s) with s = 1e-3·max|n| (entries
far below the gradient's scale are judged against a thousandth of it). The reported
relative error of an element is |a − n| / max(|a|, |n|, s). Tolerances come from one table,
``TOLERANCES``, keyed by method and dtype. The check also runs backward twice and requires
bit-identical gradients (reentrancy), and checks every gradient's shape.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .autograd import no_grad
from .kernels.registry import get_backend
from .tensor import Tensor

__all__ = ["gradcheck", "numeric_gradient", "GradcheckError", "GradcheckReport",
           "InputReport", "TOLERANCES", "METHODS"]

METHODS = ("central", "complex_step", "directional")

# (atol, rtol) by method and the dtype the inputs are checked in.
TOLERANCES = {
    ("central", "float64"): (1e-8, 1e-6),
    ("central", "float32"): (1e-3, 1e-2),
    ("directional", "float64"): (1e-8, 1e-6),
    ("directional", "float32"): (1e-3, 1e-2),
    ("complex_step", "float64"): (1e-14, 1e-11),
    ("complex_step", "float32"): (1e-5, 1e-4),
}
SCALE_FLOOR = 1e-3


class GradcheckError(AssertionError):
    """A gradient check failed; ``.report`` holds the whole :class:`GradcheckReport`."""

    def __init__(self, report: "GradcheckReport"):
        super().__init__(report.failure_text())
        self.report = report


@dataclass
class InputReport:
    """The comparison for one input: errors, the worst element and its two values."""
    name: str
    label: str                        # "input 1 'W'" as messages show it
    shape: tuple
    dtype: str
    method: str
    eps: float
    atol: float
    rtol: float
    analytic: np.ndarray              # ∂L/∂x from backward
    numeric: np.ndarray | None        # numerical ∂L/∂x (None: directional passed)
    passed: bool = True
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    worst_index: tuple = ()
    n_failing: int = 0
    directional: tuple | None = None  # (analytic ⟨g,u⟩, numeric) when directional ran
    fallback: str = ""                # what the directional failure led to
    blocks: str = ""

    @property
    def n_total(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


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
        """The k elements that violate their tolerance most, over all inputs (full checks)."""
        rows = []
        for r in self.inputs:
            if r.numeric is None:
                continue
            err = np.abs(r.analytic - r.numeric)
            ratio = err / _allowed(r.numeric, r.atol, r.rtol)
            for flat in np.argsort(ratio, axis=None)[::-1][:k]:
                idx = np.unravel_index(flat, r.shape)
                rows.append({"input": r.name, "index": tuple(int(i) for i in idx),
                             "analytic": float(r.analytic[idx]),
                             "numeric": float(r.numeric[idx]), "abs": float(err[idx]),
                             "rel": float(_rel(r.analytic, r.numeric)[idx]),
                             "violation": float(ratio[idx])})
        return sorted(rows, key=lambda row: -row["violation"])[:k]

    def __str__(self) -> str:
        head = f"gradcheck {self.name} [{self.method}, backend={self.backend}]: " + \
               ("passed" if self.passed else "FAILED")
        lines = [head, f"  {'input':<24} {'shape':<14} {'max abs':>9} {'max rel':>9}  result"]
        for r in self.inputs:
            lines.append(f"  {r.label:<24} {str(r.shape):<14} {r.max_abs_error:>9.1e} "
                         f"{r.max_rel_error:>9.1e}  {'pass' if r.passed else 'FAIL'}")
        if not self.passed:
            lines.append(self.failure_text())
        return "\n".join(lines)

    def failure_text(self) -> str:
        parts = []
        for r in self.inputs:
            if r.passed:
                continue
            lines = [f"GradcheckError: {self.name}: d(output)/d({r.label}) mismatch "
                     f"[backend={self.backend}]"]
            method = r.method if not r.fallback else f"directional → {r.fallback}"
            lines.append(f"  method      {method} (eps={r.eps:.1e}, {r.dtype})")
            lines.append(f"  tolerance   |a-n| <= atol + rtol*max(|n|, {SCALE_FLOOR:g}*max|n|)"
                         f"   atol={r.atol:g} rtol={r.rtol:g}")
            if r.numeric is not None:
                pct = 100.0 * r.n_failing / max(r.n_total, 1)
                lines.append(f"  failing     {r.n_failing} / {r.n_total} elements "
                             f"({pct:.1f}%){r.blocks}")
                a, n = r.analytic[r.worst_index], r.numeric[r.worst_index]
                idx = ", ".join(str(i) for i in r.worst_index)
                rel = _rel(r.analytic, r.numeric)[r.worst_index]
                lines.append(f"  worst       {r.name}[{idx}]: analytic={a:+.4e} "
                             f"numeric={n:+.4e} abs={abs(a - n):.1e} rel={rel:.1e}")
            if r.directional is not None:
                lines.append(f"  directional <u,J^T v>={r.directional[0]:+.4e}  "
                             f"<Ju,v>={r.directional[1]:+.4e}  (seed={self.seed})")
            lines.append(f"  reproduce   gradcheck(fn, inputs, only={r.name!r}, "
                         f"seed={self.seed}, method=\"central\")")
            parts.append("\n".join(lines))
        return "\n".join(parts)


# ---------------------------------------------------------------------------------------------

def _allowed(numeric: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    scale = SCALE_FLOOR * (np.max(np.abs(numeric)) if numeric.size else 0.0)
    return atol + rtol * np.maximum(np.abs(numeric), scale)


def _rel(analytic: np.ndarray, numeric: np.ndarray) -> np.ndarray:
    scale = SCALE_FLOOR * (np.max(np.abs(numeric)) if numeric.size else 0.0)
    denom = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), max(scale, 1e-300))
    return np.abs(analytic - numeric) / denom


class _Problem:
    """The function, its inputs as arrays, which of them are checked, and the cotangents."""

    def __init__(self, fn, inputs, names, only, seed):
        self.fn = fn
        self.keyword = isinstance(inputs, dict)
        keys = list(inputs) if self.keyword else list(range(len(inputs)))
        values = list(inputs.values()) if self.keyword else list(inputs)
        if names is not None and len(names) != len(values):
            raise ValueError(f"gradcheck: {len(names)} names for {len(values)} inputs")
        self.keys, self.originals = keys, values
        self.arrays, self.checked, self.names, self.labels = [], [], [], []
        for k, (key, v) in enumerate(zip(keys, values)):
            arr = v.data if isinstance(v, Tensor) else v
            is_float = isinstance(arr, np.ndarray) and arr.dtype.kind in "fc"
            check = is_float and (v.requires_grad if isinstance(v, Tensor) else True)
            name = str(key) if self.keyword else (names[k] if names else f"input {k}")
            self.arrays.append(arr)
            self.names.append(name)
            self.labels.append(f"input {name!r}" if self.keyword else
                               (f"input {k} {name!r}" if names else f"input {k}"))
            self.checked.append(check)
        if only is not None:
            wanted = set(only) if isinstance(only, (list, tuple, set)) else {only}
            self.checked = [c and (k in wanted or self.names[k] in wanted or key in wanted)
                            for k, (c, key) in enumerate(zip(self.checked, keys))]
        if not any(self.checked):
            raise ValueError("gradcheck: no input to check: pass floating ndarrays or Tensors "
                             "with requires_grad=True (and check `only=`)")
        self.seed = seed
        self.cotangents = None

    def call(self, arrays, requires_grad: bool):
        tensors = [Tensor(a, requires_grad=requires_grad) if c else orig
                   for a, c, orig in zip(arrays, self.checked, self.originals)]
        out = self.fn(**dict(zip(self.keys, tensors))) if self.keyword else self.fn(*tensors)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        outs = [o for o in outs if isinstance(o, Tensor) and o.dtype.kind in "fc"]
        if not outs:
            raise TypeError("gradcheck: fn returned no floating Tensor output")
        if self.cotangents is None:
            rng = np.random.default_rng(self.seed)
            self.cotangents = [np.ones(o.shape) if o.size == 1 else
                               rng.standard_normal(o.shape) for o in outs]
        return tensors, outs

    def loss(self, arrays, complex_step: bool = False):
        """L(x) = Σ_k ⟨v_k, f_k(x)⟩ without recording a graph."""
        with no_grad():
            _, outs = self.call(arrays, requires_grad=False)
        if complex_step and not all(np.iscomplexobj(o.data) for o in outs):
            raise TypeError("gradcheck: complex-step is not applicable: an output of fn is "
                            "real for complex input (fn drops the imaginary part, e.g. with "
                            ".real, abs or a cast); use method='central'")
        return sum(np.sum(v * o.data) for v, o in zip(self.cotangents, outs))

    def analytic(self, name: str) -> list:
        """∂L/∂x for every checked input (zeros where backward gave none), run twice."""
        runs = []
        for _ in range(2):
            tensors, outs = self.call(self.arrays, requires_grad=True)
            total = None
            for v, o in zip(self.cotangents, outs):
                if o.requires_grad:
                    term = (o * v.astype(o.dtype)).sum()
                    total = term if total is None else total + term
            if total is not None:
                total.backward()
            grads = []
            for k, t in enumerate(tensors):
                if not self.checked[k]:
                    grads.append(None)
                    continue
                g = np.zeros(t.shape) if t.grad is None else np.asarray(t.grad)
                if g.shape != t.shape:
                    raise GradcheckShapeError(f"gradcheck: {name}: the gradient of "
                                              f"{self.labels[k]} has shape {g.shape}, expected "
                                              f"the input's shape {t.shape}")
                grads.append(g)
            runs.append(grads)
        for k, (g1, g2) in enumerate(zip(*runs)):
            if g1 is not None and not np.array_equal(g1, g2, equal_nan=True):
                raise GradcheckError(_reentrancy_report(name, self.labels[k], g1, g2))
        return runs[0]


class GradcheckShapeError(ValueError):
    """A gradient's shape differs from its input's."""


def _reentrancy_report(name, label, g1, g2):
    rep = GradcheckReport(name=name, method="reentrancy", backend=get_backend())
    diff = np.abs(g1 - g2)
    idx = np.unravel_index(np.argmax(diff), g1.shape)
    r = InputReport(name=label, label=label, shape=g1.shape, dtype=str(g1.dtype),
                    method="reentrancy: two backward passes differ", eps=0.0, atol=0.0,
                    rtol=0.0, analytic=g1, numeric=g2, passed=False,
                    max_abs_error=float(diff.max()), max_rel_error=float(_rel(g1, g2).max()),
                    worst_index=idx, n_failing=int(np.count_nonzero(diff)))
    rep.inputs.append(r)
    return rep


def _central(problem, k, eps):
    x = problem.arrays[k]
    num = np.zeros(x.shape)
    steps = np.full(x.shape, eps) if eps else \
        np.finfo(x.dtype).eps ** (1 / 3) * np.maximum(1.0, np.abs(x))
    for idx in np.ndindex(x.shape):
        arrays = list(problem.arrays)
        xp, xm = x.copy(), x.copy()
        xp[idx] += steps[idx]
        xm[idx] -= steps[idx]
        h = (xp[idx] - xm[idx]) / 2          # NOTE: the step actually taken after rounding
        arrays[k] = xp
        lp = problem.loss(arrays)
        arrays[k] = xm
        num[idx] = np.real(lp - problem.loss(arrays)) / (2 * h)
    return num, float(np.max(steps)) if steps.size else 0.0


def _complex_step(problem, k, eps):
    x = problem.arrays[k]
    num = np.zeros(x.shape)
    steps = np.full(x.shape, eps) if eps else 1e-20 * np.maximum(1.0, np.abs(x))
    for idx in np.ndindex(x.shape):
        arrays = list(problem.arrays)
        xc = x.astype(np.complex128)
        xc[idx] += 1j * steps[idx]
        arrays[k] = xc
        num[idx] = np.imag(problem.loss(arrays, complex_step=True)) / steps[idx]
    return num, float(np.max(steps)) if steps.size else 0.0


def numeric_gradient(fn, inputs, *, method: str = "central", eps=None, seed: int = 0,
                     only=None, names=None) -> list:
    """Numerical ∂L/∂x for each checked input (None for the others), L as in gradcheck with
    the same ``seed``: compare it against your own framework's vector-Jacobian product."""
    if method not in ("central", "complex_step"):
        raise ValueError(f"numeric_gradient: method must be 'central' or 'complex_step', "
                         f"got {method!r}")
    problem = _Problem(fn, inputs, names, only, seed)
    problem.loss(problem.arrays)                 # draws the cotangents
    run = _central if method == "central" else _complex_step
    return [run(problem, k, eps)[0] if c else None for k, c in enumerate(problem.checked)]


def _block_text(blocks, name, shape, failing_mask, worst_index) -> str:
    if not blocks or name not in blocks:
        return ""
    counts, worst_label = [], None
    for label, index in blocks[name]:
        region = np.zeros(shape, bool)
        region[index] = True
        n = int(np.count_nonzero(failing_mask & region))
        if n:
            counts.append((label, n))
        if region[worst_index]:
            worst_label = label
    if len(counts) == 1:
        return f", all in block {counts[0][0]!r}"
    shown = ", ".join(f"{label!r}: {n}" for label, n in counts)
    return f", by block {shown}; worst in {worst_label!r}"


def _compare(report_args, analytic, numeric, atol, rtol, blocks):
    r = InputReport(analytic=analytic, numeric=numeric, atol=atol, rtol=rtol, **report_args)
    if analytic.size == 0:
        return r
    err = np.abs(analytic - numeric)
    fails = err > _allowed(numeric, atol, rtol)
    ratio = err / _allowed(numeric, atol, rtol)
    r.worst_index = tuple(int(i) for i in np.unravel_index(np.argmax(ratio), analytic.shape))
    r.max_abs_error = float(err.max())
    r.max_rel_error = float(_rel(analytic, numeric).max())
    r.n_failing = int(np.count_nonzero(fails))
    r.passed = r.n_failing == 0 and bool(np.all(np.isfinite(analytic)))
    r.blocks = _block_text(blocks, r.name, analytic.shape, fails, r.worst_index)
    return r


def gradcheck(fn, inputs, *, method: str = "directional", eps=None, atol=None, rtol=None,
              seed: int = 0, raise_exception: bool = True, only=None, names=None,
              blocks=None, name=None) -> GradcheckReport:
    """Check ``fn``'s gradients against numerical derivatives (see the module docstring).

    Parameters
    ----------
    fn : callable
        Takes Tensors (positionally, or by keyword when ``inputs`` is a dict) and returns a
        Tensor or a tuple of Tensors.
    inputs : sequence or dict of ndarray / Tensor
        Floating ndarrays and Tensors with ``requires_grad=True`` are checked; the rest are
        passed through unchanged. Use float64.
    method : "directional" (default), "central" or "complex_step"
    eps : float, optional
        A fixed step instead of the documented per-element rule.
    atol, rtol : float, optional
        Override ``TOLERANCES[(method, dtype)]``.
    seed : int
        Seeds the output cotangents and the directions.
    raise_exception : bool
        Raise :class:`GradcheckError` on failure (default) or return the failing report.
    only : name, index or list of them
        Check only these inputs.
    names : list of str, optional
        Names of positional inputs, used in messages.
    blocks : dict, optional
        ``{input name: [(label, index), ...]}``, e.g. the gate blocks of an LSTM weight
        ``[("i", np.s_[0:H]), ("f", np.s_[H:2*H]), ...]``: failures are counted per block.
    name : str, optional
        The function's name in messages (default ``fn.__name__``).
    """
    if method not in METHODS:
        raise ValueError(f"gradcheck: method must be one of {METHODS}, got {method!r}")
    name = name or getattr(fn, "__name__", "fn")
    problem = _Problem(fn, inputs, names, only, seed)
    for k, (arr, c) in enumerate(zip(problem.arrays, problem.checked)):
        if c and arr.dtype == np.float32:
            warnings.warn(f"gradcheck: input #{k} {problem.names[k]!r} is float32; use "
                          f"float64 (the check runs with float32 tolerances)", UserWarning,
                          stacklevel=2)
    try:
        analytic = problem.analytic(name)
    except GradcheckError as err:
        if raise_exception:
            raise
        return err.report
    report = GradcheckReport(name=name, method=method, seed=seed, backend=get_backend())
    rng = np.random.default_rng(seed + 1)
    for k, c in enumerate(problem.checked):
        if not c:
            continue
        x = problem.arrays[k]
        dt = "float32" if x.dtype in (np.float32, np.complex64) else "float64"
        tol_atol, tol_rtol = TOLERANCES[(method, dt)]
        a_tol = tol_atol if atol is None else atol
        r_tol = tol_rtol if rtol is None else rtol
        args = dict(name=problem.names[k], label=problem.labels[k], shape=x.shape,
                    dtype=str(x.dtype), method=method, eps=0.0)
        if method == "directional":
            r = _directional(problem, k, analytic[k], rng, eps, a_tol, r_tol, blocks, args)
        else:
            run = _central if method == "central" else _complex_step
            numeric, args["eps"] = run(problem, k, eps)
            r = _compare(args, analytic[k], numeric, a_tol, r_tol, blocks)
        report.inputs.append(r)
    if not report.passed and raise_exception:
        raise GradcheckError(report)
    return report


def _directional(problem, k, grad, rng, eps, atol, rtol, blocks, args):
    x = problem.arrays[k]
    u = rng.standard_normal(x.shape)
    u /= max(np.max(np.abs(u)), 1e-300) if u.size else 1.0
    h = eps or float(np.finfo(x.dtype).eps ** (1 / 3) * max(1.0, np.max(np.abs(x), initial=0)))
    arrays = list(problem.arrays)
    arrays[k] = x + h * u
    lp = problem.loss(arrays)
    arrays[k] = x - h * u
    numeric = float(np.real(lp - problem.loss(arrays)) / (2 * h))
    exact = float(np.sum(grad * u))
    scale = float(np.sum(np.abs(grad * u)))      # the size of the terms summed in ⟨g, u⟩
    args["eps"] = h
    r = InputReport(analytic=grad, numeric=None, atol=atol, rtol=rtol,
                    directional=(exact, numeric), **args)
    r.max_abs_error = abs(exact - numeric)
    r.max_rel_error = r.max_abs_error / max(abs(exact), abs(numeric), SCALE_FLOOR * scale,
                                            1e-300)
    if r.max_abs_error <= atol * (1 + scale) + rtol * max(abs(numeric), SCALE_FLOOR * scale) \
            and np.all(np.isfinite(grad)):
        return r
    # The fast check failed: the full central check on this input decides (torch's fallback).
    numeric_full, central_eps = _central(problem, k, None)
    full = _compare(dict(args, method="central", eps=central_eps), grad, numeric_full,
                    atol, rtol, blocks)
    full.directional = (exact, numeric)
    full.fallback = "full central difference " + ("passed" if full.passed else "failed")
    return full
