"""The report of a gradient check: per input, the worst element and by how much it is off.

:class:`GradcheckReport` holds one :class:`InputReport` per checked input; ``str(report)`` is
a table, ``report.failure_text()`` the message of ``GradcheckError`` (which element, both
values, the tolerance, and a ``reproduce`` line naming the call that shows the failure again).
The reported relative error of an element is |a − n| / max(|a|, |n|, 1e-3·max_j
min(|a_j|, |n_j|), tiny), so a near-zero entry does not read as 100 % wrong.

Every part is immutable and built once, by the check that produced it (``gradcheck.py``):

- :class:`Subject`: which input, its label in messages, shape and dtype;
- :class:`Tolerance`: the criterion of the check that decided (atol, rtol, step, noise ν);
- :class:`Defect`: a failure found before any comparison (not reentrant, wrongly shaped);
- :class:`Directional`: the directional check (G3), ⟨u, Jᵀv⟩ against ⟨Ju, v⟩;
- :class:`Comparison`: the element-wise comparison (G2a), the worst element, how many fail;
- :class:`BlockSummary`: where the failing elements lie among the blocks given (``blocks=``).

:class:`InputReport` is assembled from them once, :class:`GradcheckReport` from the
InputReports once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

__all__ = ["GradcheckReport", "InputReport", "Subject", "Tolerance", "Defect", "Directional",
           "Comparison", "BlockSummary", "verdict", "REL_FLOOR", "BLIND_ERROR",
           "GROSS_ERROR", "RESOLVED_SPREAD"]

REL_FLOOR = 1e-3       # entries are judged against at least 1e-3·max|n|
TINY = np.finfo(np.float64).tiny


@dataclass(frozen=True)
class Subject:
    """The checked input, as messages name it."""
    name: str
    index: int
    label: str                       # "input 1 'W'", as messages show it
    display: str                     # how its elements are written: W -> W[7, 29]
    shape: tuple
    dtype: str

    @property
    def n_total(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def element(self, idx) -> str:
        return f"{self.display}[{', '.join(str(i) for i in idx)}]" if idx else self.display


@dataclass(frozen=True)
class Tolerance:
    """The criterion of the check that decided, |a − n| ≤ atol + rtol·max(|n|, floor) + ν_i
    (docs/math.md G2a), and the step of its numerical derivative."""
    atol: float
    rtol: float
    eps: float                       # the base step: h_i = eps·max(1, |x_i|) unless fixed
    eps_rule: str = ""               # "·max(1,|x_i|)", or "" for one fixed step
    noise: float = 0.0               # the largest ν_i allowed for rounding noise
    dtype: str = ""                  # whose ε sets the step and ν, and whose TOLERANCES apply


@dataclass(frozen=True)
class Defect:
    """A failure found before any comparison: backward not reentrant, a gradient of the wrong
    shape. For reentrancy, the element where the two passes differ most and both values."""
    text: str                        # the message, after "d(output)/d(input ...)"
    max_abs_error: float = 0.0
    worst_index: tuple | None = None
    first: float | complex | None = None
    second: float | complex | None = None


@dataclass(frozen=True)
class Directional:
    """The directional check (G3): ⟨g, u⟩ from the analytic gradient g against the central
    difference along u; ``passed`` when their gap is within √(Σ_i (|u_i|·allowed_i)²) + ν
    (docs/math.md G3)."""
    analytic: float                  # ⟨u, Jᵀv⟩
    numeric: float                   # ⟨Ju, v⟩ by central difference
    max_abs_error: float
    max_rel_error: float
    passed: bool
    analytic_grad: np.ndarray = field(repr=False)
    # the smallest relative error of one element of median size that fails the check: the
    # bound over the median of |g_i u_i| (nonzero ones; inf if none); it grows with the
    # root of the input's size
    sensitivity: float = 0.0


#: An element-wise pass names the elements that could be wrong by this relative error and
#: still pass (``Comparison.n_blind``): atol and the rounding noise ν_i allow that much
BLIND_ERROR = 0.1
# how many of them a passing report names (the first, in row-major order)
BLIND_NAMED = 3
#: A comparison is inconclusive, and fails, when at every element at or above the relative
#: floor the rounding noise ν_i alone allows this relative error (``Comparison.unresolved``):
#: a gradient that wrong would pass everywhere (an output with a large constant term)
UNRESOLVED_ERROR = 0.5
#: atol does not pass an element whose analytic value is off its numerical estimate by this
#: relative error or more (the sign wrong: 2, a factor of 2: 0.5) where the estimate is
#: resolved (G2a): atol is for estimates that cannot be (a zero gradient read through
#: truncation), not for a gradient that is merely small
GROSS_ERROR = 0.4
#: an estimate is resolved where those at 10h and h/10 lie within this fraction of it and
#: the rounding noise at h/10 (10 ν_i) below it: truncation and rounding then explain at most
#: about a fifth of it, far below GROSS_ERROR
RESOLVED_SPREAD = 0.1


@dataclass(frozen=True)
class Comparison:
    """The element-wise comparison (G2a) of the analytic and the numerical gradient. The worst
    element is the one with the largest violation |a − n| / allowed (above 1 fails). An empty
    input compares nothing: ``violation`` is None and the fields keep their defaults."""
    analytic_grad: np.ndarray = field(repr=False)
    numeric_grad: np.ndarray = field(repr=False)
    violation: np.ndarray | None = field(default=None, repr=False)
    worst_index: tuple | None = None
    analytic: float | complex | None = None      # the values at worst_index
    numeric: float | complex | None = None
    # over the elements where both values are finite (0 where none is): NaN and inf are
    # counted and named in the notes, they have no size
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    n_failing: int = 0
    # the elements at or above the relative floor whose allowance exceeds BLIND_ERROR·|n|
    # (they could be that wrong and pass), the least and largest |n| among them, and their
    # largest ν_i
    n_blind: int = 0
    blind_sizes: tuple[float, float] = (0.0, 0.0)
    blind_noise: float = 0.0
    blind: np.ndarray | None = field(default=None, repr=False)     # which they are (mask)
    unresolved: bool = False         # every element allows UNRESOLVED_ERROR: inconclusive
    # the elements judged without atol: resolved estimates GROSS_ERROR off (G2a)
    strict: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_strict(self) -> int:
        return 0 if self.strict is None else int(np.count_nonzero(self.strict))

    @property
    def compared(self) -> bool:
        return self.violation is not None

    @property
    def passed(self) -> bool:
        return self.n_failing == 0 and not self.unresolved


@dataclass(frozen=True)
class BlockSummary:
    """Where the failing elements lie among the blocks of an input (``blocks=``)."""
    regions: tuple = field(repr=False)           # (label, text, mask) per block
    text: str = ""                   # ", all in block 'g' (W[6:9])"; "" when none fails
    worst: str | None = None         # the block of the worst element

    def block_of(self, idx) -> str | None:
        """The label of the first block holding element ``idx``."""
        return next((label for label, _, mask in self.regions if mask[idx]), None)


def verdict(directional: Directional | None, comparison: Comparison | None) -> bool:
    """Whether an input without a defect passes: the element-wise comparison decides where it
    compared any element (after a failed directional check too), else the directional check,
    else (nothing to compare) it passes."""
    if comparison is not None and comparison.compared:
        return comparison.passed
    return directional is None or directional.passed


@dataclass(frozen=True)
class InputReport:
    """The check of one input, assembled from the parts its check produced: a ``defect``
    alone (``method`` "backward"); the ``directional`` check alone (it passed); or the
    ``comparison`` of every element, after a failed directional check (the fallback) or
    for ``method`` "central" and "complex_step" (``method`` "central" with ``inapplicable``
    set where complex-step was asked for but its estimate is off central's: G2b).

    The attributes below read the part that decided: ``analytic``/``numeric`` are the values
    at ``worst_index``, the whole arrays are ``analytic_grad``/``numeric_grad``
    (``numeric_grad`` is None where only the directional check ran)."""
    subject: Subject
    method: str
    tolerance: Tolerance | None = None           # None for a defect
    defect: Defect | None = None
    directional: Directional | None = None
    comparison: Comparison | None = None
    block_summary: BlockSummary | None = None
    notes: tuple[str, ...] = ()
    # where complex-step was asked for and the central check decided (G2b): why complex-step
    # did not apply (its estimate is off central's); "" where the requested method decided
    inapplicable: str = ""

    # -- which input --------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.subject.name

    @property
    def index(self) -> int:
        return self.subject.index

    @property
    def label(self) -> str:
        return self.subject.label

    @property
    def display(self) -> str:
        return self.subject.display

    @property
    def shape(self) -> tuple:
        return self.subject.shape

    @property
    def dtype(self) -> str:
        return self.subject.dtype

    @property
    def n_total(self) -> int:
        return self.subject.n_total

    def element(self, idx) -> str:
        return self.subject.element(idx)

    # -- the verdict and its numbers ----------------------------------------------------------
    @property
    def passed(self) -> bool:
        return self.defect is None and verdict(self.directional, self.comparison)

    @property
    def problem(self) -> str:
        return "" if self.defect is None else self.defect.text

    @property
    def checked_by(self) -> str:
        if self.defect is not None:
            return "backward"
        if self.inapplicable:
            return "complex_step → central"
        return "directional → central" if self.fallback_ran else self.method

    @property
    def fallback_ran(self) -> bool:
        return self.directional is not None and self.comparison is not None

    @property
    def fallback_passed(self) -> bool | None:
        return self.passed if self.fallback_ran else None

    def _deciding(self) -> Defect | Comparison | Directional | None:
        """The part whose errors the report shows."""
        if self.defect is not None:
            return self.defect
        if self.comparison is not None and self.comparison.compared:
            return self.comparison
        return self.directional

    @property
    def max_abs_error(self) -> float:
        part = self._deciding()
        return 0.0 if part is None else part.max_abs_error

    @property
    def max_rel_error(self) -> float:
        part = self._deciding()
        return 0.0 if part is None or isinstance(part, Defect) else part.max_rel_error

    @property
    def worst_index(self) -> tuple | None:
        part = self.defect or self.comparison
        return None if part is None else part.worst_index

    @property
    def analytic(self) -> float | complex | None:
        if self.defect is not None:
            return self.defect.first
        return None if self.comparison is None else self.comparison.analytic

    @property
    def numeric(self) -> float | complex | None:
        if self.defect is not None:
            return self.defect.second
        return None if self.comparison is None else self.comparison.numeric

    @property
    def n_failing(self) -> int:
        return 0 if self.comparison is None else self.comparison.n_failing

    @property
    def analytic_grad(self) -> np.ndarray | None:
        part = self.comparison or self.directional
        return None if part is None else part.analytic_grad

    @property
    def numeric_grad(self) -> np.ndarray | None:
        return None if self.comparison is None else self.comparison.numeric_grad

    @property
    def unused(self) -> bool:
        """Whether both gradients are exactly zero at every element (the numeric one, or
        the directional check's ⟨Ju, v⟩ where no element was compared): fn's output does
        not depend on this input at x, as when the input is never read."""
        a, n = self.analytic_grad, self.numeric_grad
        if a is None or a.size == 0 or np.any(a != 0):
            return False
        if n is not None:
            return not np.any(n != 0)
        return self.directional is not None and self.directional.numeric == 0

    @property
    def violation(self) -> np.ndarray | None:
        return None if self.comparison is None else self.comparison.violation

    @property
    def directional_analytic(self) -> float | None:
        return None if self.directional is None else self.directional.analytic

    @property
    def directional_numeric(self) -> float | None:
        return None if self.directional is None else self.directional.numeric

    # -- the tolerance ------------------------------------------------------------------------
    @property
    def atol(self) -> float:
        return 0.0 if self.tolerance is None else self.tolerance.atol

    @property
    def rtol(self) -> float:
        return 0.0 if self.tolerance is None else self.tolerance.rtol

    @property
    def eps(self) -> float:
        return 0.0 if self.tolerance is None else self.tolerance.eps

    @property
    def eps_rule(self) -> str:
        return "" if self.tolerance is None else self.tolerance.eps_rule

    @property
    def noise(self) -> float:
        return 0.0 if self.tolerance is None else self.tolerance.noise

    # -- blocks -------------------------------------------------------------------------------
    @property
    def blocks(self) -> str:
        return "" if self.block_summary is None else self.block_summary.text

    @property
    def worst_block(self) -> str | None:
        return None if self.block_summary is None else self.block_summary.worst

    @property
    def regions(self) -> tuple:
        return () if self.block_summary is None else self.block_summary.regions

    def block_of(self, idx) -> str | None:
        """The label of the first block (``blocks=``) holding element ``idx``."""
        return None if self.block_summary is None else self.block_summary.block_of(idx)


@dataclass(frozen=True)
class GradcheckReport:
    """The result of :func:`gradcheck`: one :class:`InputReport` per checked input."""
    name: str
    method: str
    inputs: tuple = ()
    seed: int = 0
    backend: str = ""                # the kernels that ran: the active backend's, or "cuda"
    device: str = ""                 # the GPU's name where backend is "cuda"
    keyword: bool = False            # inputs were a dict: only= names them
    claimed: bool = False            # the gradient came from grad=, not from backward
    fused: bool = False              # fn ran a fused kernel (the LSTM, attention pooling)
    # eps, atol, rtol the caller set
    options: Mapping = field(default_factory=lambda: MappingProxyType({}))
    # the inputs passed through as constants, each "label (what it is)": not checked
    constants: tuple = ()
    names: tuple = ()                # the names= given to positional inputs, if any
    named: bool = False              # every input has a name (names=, a key, fn's parameter)
    # how the reproduce line calls fn and grad: their own names where Python can call them
    # so (not a lambda's), else "fn" and "grad"
    call_names: tuple[str, str] = ("fn", "grad")

    def __getitem__(self, key: int | str) -> InputReport:
        """The report of one checked input, by its name (``names=``, a dict input's key, or
        fn's positional parameter), as its label reads ("input 1") or by its position among
        fn's arguments (``inputs[k]`` counts checked inputs only).

        Raises KeyError naming the checked inputs where none is ``key``."""
        for r in self.inputs:
            if isinstance(key, str):
                found = key == r.name or (not self.keyword and key == f"input {r.index}")
            else:
                found = r.index == key
            if found:
                return r
        raise KeyError(f"gradcheck report: no checked input {key!r}; the checked inputs are "
                       + ", ".join(r.label for r in self.inputs))

    def reproduce(self, r: "InputReport") -> str:
        """The call that checks input ``r`` alone by the method whose verdict failed: fn and
        grad by their own names (``call_names``), ``inputs`` standing for the caller's."""
        # NOTE: after a failed directional check the full central check decided
        method = "central" if r.fallback_ran else r.method
        # NOTE: by name where a rerun names the input the same: a key, names= repeated, or
        # fn's own parameter
        only = json.dumps(r.name) if self.named else r.index
        fn, grad = self.call_names
        args = [fn, "inputs"] + ([f"grad={grad}"] if self.claimed else [])
        args += [f"names={json.dumps(list(self.names))}"] if self.names else []
        args += [f"only={only}", f"seed={self.seed}", f"method={json.dumps(method)}"]
        args += [f"{key}={value!r}" for key, value in self.options.items()]
        return f"gradcheck({', '.join(args)})"

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
            rel = relative_error(a, n)
            for flat in np.argsort(-r.violation, axis=None, kind="stable")[:k]:
                idx = tuple(int(i) for i in np.unravel_index(flat, r.shape))
                rows.append({"input": r.name, "index": idx, "analytic": a[idx].item(),
                             "numeric": n[idx].item(), "abs": float(abs(a[idx] - n[idx])),
                             "rel": float(rel[idx]), "violation": float(r.violation[idx]),
                             "block": r.block_of(idx)})
        return sorted(rows, key=lambda row: -row["violation"])[:k]

    def __str__(self) -> str:
        w = max([20] + [len(r.label) for r in self.inputs])
        lines = [f"gradcheck {self.name} [{self.method}{self._backend()}, "
                 f"seed={self.seed}]: {'passed' if self.passed else 'FAILED'}",
                 f"  {'input':<{w}} {'shape':<14} {'dtype':<10} {'checked by':<22} "
                 f"{'max abs':>8} {'max rel':>8}  result"]
        for r in self.inputs:
            # NOTE: a defect compared no values (a wrong shape): a dash, not a zero error
            compared = r.defect is None or r.defect.worst_index is not None
            abs_text = f"{r.max_abs_error:>8.1e}" if compared else f"{'-':>8}"
            rel_text = f"{r.max_rel_error:>8.1e}" if r.defect is None else f"{'-':>8}"
            lines.append(f"  {r.label:<{w}} {str(r.shape):<14} {r.dtype:<10} "
                         f"{r.checked_by:<22} {abs_text} {rel_text}"
                         f"  {_result(r)}{_sees(r)}")
        lines += [f"  {r.label}: directional failed → full central difference passed"
                  for r in self.inputs if r.fallback_ran and r.passed]
        lines += [f"  {r.label}: {r.inapplicable}" for r in self.inputs
                  if r.inapplicable and r.passed]
        lines += [_blind_line(r) for r in self.inputs
                  if r.passed and r.comparison is not None and r.comparison.n_blind]
        lines += [line for r in self.inputs if r.passed for line in [_beyond_rtol_line(r)]
                  if line]
        lines += [f"  {r.label}: the gradient is exactly zero at every element, analytic and "
                  f"numeric: the output does not depend on this input at x (is it read? a "
                  f"model's weights go in through ng.nn.functional_call)"
                  for r in self.inputs if r.passed and r.unused]
        if self._reference_kernels():
            lines.append(f"  the fused LSTM and attention kernels take complex input on the "
                         f"NumPy reference path, whatever the backend: method=\"central\" or "
                         f"\"directional\" checks the {self.backend} backend's")
        if self.constants:
            lines.append("  not checked (constants): " + ", ".join(self.constants))
        if any(r.directional is not None and r.comparison is None for r in self.inputs):
            lines.append('  directional rows bound one projection <g,u> per input (u random), '
                         'not each element: max abs/rel are the projection\'s; "sees ≥ r": one '
                         'element of median size wrong by less than a relative r can pass. '
                         'method="central" or "complex_step" compares each element')
        if not self.passed:
            lines.append(self.failure_text())
        return "\n".join(lines)

    def _backend(self) -> str:
        # a gradient claimed through grad= ran none of this library's kernels
        return "" if self.claimed else f", backend={self._ran()}"

    def _ran(self) -> str:
        """The backend, and the device where it is a GPU."""
        return self.backend + (f", device={self.device}" if self.device else "")

    def _reference_kernels(self) -> bool:
        """Whether the kernels that ran are the reference ones, not the backend's: the
        fused kernels take complex input on the reference path only (kernels/registry); the
        other ops are NumPy's on every CPU backend."""
        return self.method == "complex_step" and not self.claimed and self.fused \
            and self.backend != "numpy"

    def failure_text(self) -> str:
        """The message of :class:`GradcheckError`: one block per failing input."""
        return "\n".join(_failure_block(self, r) for r in self.inputs if not r.passed)


def _result(r: InputReport) -> str:
    """A row's result: pass, FAIL, or FAIL (inconclusive) where no element is beyond its
    allowance but the rounding noise allows half of every one (G2a)."""
    if r.passed:
        return "pass"
    c = r.comparison
    return "FAIL (inconclusive)" if c is not None and c.unresolved and not c.n_failing \
        else "FAIL"


def _sees(r: InputReport) -> str:
    """A directional row's sensitivity (G3): the relative error one element of median size
    needs to fail the one projection the row bounds; "" for an element-wise row."""
    d = r.directional
    if d is None or r.comparison is not None or not np.isfinite(d.sensitivity):
        return ""
    return f" (sees ≥ {d.sensitivity:.1e})"


def _blind_line(r: InputReport) -> str:
    """The elements of a passing element-wise check that could be BLIND_ERROR wrong and
    pass, what allows it (atol, the rounding noise ν_i), and what resolves them."""
    c = r.comparison
    assert c is not None and r.tolerance is not None
    noise = f" and the rounding noise of L over the step (up to {c.blind_noise:.1e})" \
        if c.blind_noise else ""
    if r.tolerance.dtype in ("float32", "float16"):
        remedy = "; a float64 check resolves them" + (
            "" if r.method == "complex_step" else
            ', as does method="complex_step" where fn computes in complex arithmetic')
    elif c.blind_noise > r.atol:
        remedy = '; method="complex_step" has no rounding noise'
    else:
        remedy = ""
    lo, hi = c.blind_sizes
    named = ""
    if c.blind is not None:
        where = [tuple(int(i) for i in idx) for idx in np.argwhere(c.blind)[:BLIND_NAMED]]
        named = ": " + ", ".join(r.element(idx) for idx in where) + \
            (", ..." if c.n_blind > BLIND_NAMED else "")
    return (f"  {r.label}: {c.n_blind} of {r.n_total} elements (|n| from {lo:.1e} to "
            f"{hi:.1e}{named}) could be {BLIND_ERROR:.0%} wrong and pass: atol={r.atol:g}"
            f"{noise} allow that much{remedy}")


def _beyond_rtol_line(r: InputReport) -> str:   # docs/math.md G2a
    """Where a passing element-wise check's largest relative error among the elements whose
    estimate exceeds atol (a smaller one may be a zero gradient read through truncation)
    exceeds rtol, atol or the rounding noise letting it pass: that element and its values,
    so a suspicious one is named, not only counted; "" otherwise."""
    c = r.comparison
    if c is None or not c.compared or r.tolerance is None or c.max_rel_error <= r.rtol:
        return ""
    rel = relative_error(c.analytic_grad, c.numeric_grad)
    with np.errstate(invalid="ignore"):
        rel = np.where(np.abs(c.numeric_grad) > r.atol, rel, 0.0)
    idx = np.unravel_index(int(np.argmax(rel)), rel.shape)
    if not rel[idx] > r.rtol:
        return ""
    a, n = c.analytic_grad[idx], c.numeric_grad[idx]
    remedy = "; a float64 check resolves it" if r.tolerance.dtype in ("float32", "float16") \
        else ""
    analytic, numeric = format_pair(a, n)
    return (f"  {r.label}: the largest relative error, {rel[idx]:.1e} at {r.element(idx)} "
            f"(analytic={analytic} numeric={numeric}), is above rtol="
            f"{r.rtol:g}: atol={r.atol:g} or the rounding noise allowed it{remedy}")


def format_value(value, digits: int = 4) -> str:
    """``value`` in scientific notation with ``digits`` decimals (a negative zero as +0)."""
    if np.iscomplexobj(value):
        value = complex(value)
        return f"({value.real + 0.0:+.{digits}e}{value.imag + 0.0:+.{digits}e}j)"
    return f"{float(value) + 0.0:+.{digits}e}"


def format_pair(a, b) -> tuple[str, str]:
    """Two values side by side, with as many decimals as show their difference to about two
    digits (4 at the least, 16 at the most), so that two different values never read the
    same: an error of 1e-7 shows in the values, not only in abs= and rel=."""
    differ = not bool(np.all((np.asarray(a) == np.asarray(b)) |
                             (np.isnan(np.asarray(a)) & np.isnan(np.asarray(b)))))
    scale, gap = max(abs(a), abs(b)), abs(a - b)
    decimals = 4
    if differ and math.isfinite(scale) and math.isfinite(gap) and gap > 0:
        # NOTE: by the two exponents: the last decimal shown is a tenth of the gap's
        # leading digit, or finer
        decimals = min(max(math.floor(math.log10(scale)) - math.floor(math.log10(gap)) + 1,
                           decimals), 16)
    while differ and decimals < 16 and format_value(a, decimals) == format_value(b, decimals):
        decimals += 1
    return format_value(a, decimals), format_value(b, decimals)


def _failure_block(rep: GradcheckReport, r: InputReport) -> str:
    # NOTE: no "GradcheckError:" here: Python's traceback already prints the class name
    head = f"{rep.name}: d(output)/d({r.label})"
    if r.defect is not None:
        return f"{head} {r.defect.text}"
    ran = "numpy reference: complex input" if rep._reference_kernels() else rep._ran()
    c = r.comparison
    # NOTE: an inconclusive comparison can fail with no element beyond its allowance
    inconclusive = c is not None and c.unresolved and c.n_failing == 0
    lines = [f"{head} {'inconclusive' if inconclusive else 'mismatch'}" +
             (f" [backend={ran}]" if not rep.claimed else "")]
    method = r.method if not r.fallback_ran else "directional → full central difference " \
        + ("passed" if r.fallback_passed else "failed")
    # NOTE: a float32 model fed float64: the input's dtype, and whose steps apply
    work = r.tolerance.dtype if r.tolerance is not None else ""
    coarser = work != "" and np.finfo(work).bits < np.finfo(r.dtype).bits
    dtype = f"{r.dtype} input, {work} steps and tolerances" if coarser else r.dtype
    lines.append(f"  method      {method} (eps={r.eps:.1e}{r.eps_rule}, {dtype})")
    noise = (" + noise", f" noise={r.noise:.1e}") if r.noise else ("", "")
    lines.append(f"  tolerance   |a-n| <= atol + rtol*max(|n|, {REL_FLOOR:g}*M){noise[0]}"
                 f"   atol={r.atol:g} rtol={r.rtol:g}{noise[1]}"
                 f" (M: the input's largest min(|a|,|n|))")
    if c is not None and c.compared:
        pct = 100.0 * c.n_failing / max(r.n_total, 1)
        lines.append(f"  failing     {c.n_failing} / {r.n_total} elements ({pct:.1f}%)"
                     f"{r.blocks}" + ("; the differences cannot judge any (note)"
                                      if inconclusive else ""))
        rel = relative_error(c.analytic_grad, c.numeric_grad)[c.worst_index]
        assert c.analytic is not None and c.numeric is not None     # set when it compared
        block = f" (block {r.worst_block!r})" if r.worst_block else ""
        assert c.violation is not None
        analytic, numeric = format_pair(c.analytic, c.numeric)
        # NOTE: the worst is the largest |a - n| over its allowance, not the largest rel
        if np.isfinite(rel):
            size = (f" abs={abs(c.analytic - c.numeric):.1e} rel={rel:.1e}{block} "
                    f"({c.violation[c.worst_index]:.1e}x its allowance; worst = largest "
                    f"|a-n|/allowance, not largest rel)")
        else:
            # NOTE: a NaN has no size: the notes say which side is not finite
            size = (f"{block} (not finite on one side, or different infinities; max abs "
                    f"and rel are over the finite pairs)")
        lines.append(f"  worst       {r.element(c.worst_index)}: "
                     f"analytic={analytic} numeric={numeric}{size}")
    if r.directional is not None:
        analytic, numeric = format_pair(r.directional.analytic, r.directional.numeric)
        lines.append(f"  directional <u,J^T v>={analytic}  <Ju,v>={numeric}  (seed={rep.seed})")
    lines += [f"  note        {note}" for note in (r.inapplicable, *r.notes) if note]
    lines.append(f"  reproduce   {rep.reproduce(r)}")
    return "\n".join(lines)


def relative_floor(numeric, analytic=None) -> float:
    """1e-3·max_j m_j over the finite entries, m_j = |n_j|, or min(|a_j|, |n_j|) when the
    analytic gradient is given: no element is judged against less. With the minimum, a
    value far off on one side (a wrong backward's, a numerical estimate from a step far too
    large for the function) cannot lift the floor and hide the other elements' errors."""
    m = np.abs(np.asarray(numeric))
    if analytic is not None:
        with np.errstate(all="ignore"):
            m = np.minimum(m, np.abs(np.asarray(analytic)))
    return REL_FLOOR * float(np.max(m[np.isfinite(m)], initial=0.0))


def relative_error(analytic, numeric) -> np.ndarray:
    """|a − n| / max(|a|, |n|, 1e-3·max_j min(|a_j|, |n_j|), tiny); inf where a value is not
    finite."""
    a, n = np.asarray(analytic), np.asarray(numeric)
    with np.errstate(all="ignore"):
        denom = np.maximum(np.maximum(np.abs(a), np.abs(n)), max(relative_floor(n, a), TINY))
        return np.where(np.isfinite(a) & np.isfinite(n), np.abs(a - n) / denom, np.inf)
