"""Compare two sets of arrays from two implementations, element by element: ours against
PyTorch's, a port against its original, a float32 run against a float64 one.

:func:`compare_arrays` takes two mappings name -> array (or two arrays, or two sequences of
them) and returns a :class:`ComparisonReport`: one :class:`ArrayReport` per name with the
largest absolute and relative error, the worst element, both values there and how many
elements fail; ``str(report)`` is a fixed-width table. With ``blocks=`` (the form
:func:`~nongate_np.check.gradcheck` takes, e.g. from :func:`lstm_gate_blocks`) the worst
element and the failing counts name their block: ``weight_hh_l0[7, 0] (block 'f')``.

The verdict per element, a actual, e expected, both in float64 (complex128)::

    |a − e| ≤ atol + rtol·|e|

NumPy's ``allclose`` rule: not symmetric, e is the reference. NaN passes only where the
other side is NaN too (at the same place, in the same part of a complex number: numpy.testing's
``equal_nan=True``), ±inf only against the same infinity. The largest absolute and relative
errors are over the pairs where both values are finite (a NaN against 0 has no size); the
elements with NaN or inf on one side only, or different ones on both, are counted apart and
the first of each kind named. The defaults, by the coarser precision of the two arrays, are
gradcheck's row for a comparison exact to rounding, ``TOLERANCES[("complex_step", ·)]``:
float64 atol=1e-13 rtol=1e-11 (the same math summed in another order differs by rounding,
~1e-15 relative, and long sums by ~1e-13; a stray float32 step, 1e-7, or any real bug is far
above), float32 atol=1e-5 rtol=1e-4, float16 atol=1e-2 rtol=1e-2. atol is absolute: for
arrays far from O(1) pass one of their scale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..device import CPU, move
from ..tensor import as_array
from .foreign import library_of
from .gradcheck import _index_text, tolerance
from .numdiff import check_option
from .report import format_pair, relative_error

__all__ = ["compare_arrays", "ComparisonReport", "ArrayReport", "ComparisonError"]

class ComparisonError(AssertionError):
    """Two sets of arrays differ; ``.report`` holds the whole :class:`ComparisonReport`."""

    def __init__(self, report: "ComparisonReport | str"):
        # NOTE: a str is accepted so the exception survives pickling (it rebuilds from args).
        super().__init__(report if isinstance(report, str) else report.failure_text())
        self.report = None if isinstance(report, str) else report


@dataclass(frozen=True)
class ArrayReport:
    """One name's comparison. ``actual``/``expected`` are the values at ``worst_index``, the
    element with the largest |a − e| / (atol + rtol·|e|), a failing NaN or inf first (None
    for an empty array; among equal ones a finite pair first); ``max_abs_error`` and
    ``max_rel_error`` are over the ``n_finite`` elements where both values are finite (0,
    and "-" in the table, where there is none). The whole arrays, in float64 or
    complex128, are ``actual_array``/``expected_array``."""
    name: str
    shape: tuple
    dtypes: tuple[str, str]          # the two arrays' own dtypes, before the float64 cast
    atol: float
    rtol: float
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    n_failing: int = 0
    worst_index: tuple | None = None
    actual: float | complex | None = None
    expected: float | complex | None = None
    block: str | None = None         # the worst element's block, where blocks= has one
    # per block given: (label, its region as text, failing elements in it)
    block_failing: tuple[tuple[str, str, int], ...] = ()
    n_outside_blocks: int = 0        # failing elements in no block (with blocks= only)
    n_non_finite: int = 0            # failing elements where either side is NaN or inf
    n_finite: int = 0                # pairs finite on both sides: the errors' sizes are theirs
    first_non_finite: tuple | None = None    # the first of them (row-major order)
    actual_array: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    expected_array: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    violation: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    blocks: tuple = field(default=(), repr=False)

    @property
    def passed(self) -> bool:
        return self.n_failing == 0

    @property
    def n_total(self) -> int:
        return math.prod(self.shape)

    def element(self, idx) -> str:
        """How an element reads in messages: ``weight_hh_l0[7, 0]``."""
        return f"{self.name}[{', '.join(str(i) for i in idx)}]" if idx else self.name

    def block_of(self, idx) -> str | None:
        """The label of the first block holding element ``idx``, None if none does."""
        for label, index in self.blocks:
            mask = np.zeros(self.shape, bool)
            mask[index] = True
            if mask[idx]:
                return label
        return None


@dataclass(frozen=True)
class ComparisonReport:
    """The result of :func:`compare_arrays`: one :class:`ArrayReport` per name, in the order
    of ``actual``; ``labels`` name the two sides in the table."""
    rows: tuple[ArrayReport, ...]
    labels: tuple[str, str] = ("actual", "expected")

    def __getitem__(self, key: int | str) -> ArrayReport:
        """One name's row, by its name or its position.

        Raises KeyError naming the compared names where none is ``key``."""
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            if -len(self.rows) <= key < len(self.rows):
                return self.rows[key]
        for r in self.rows:
            if r.name == key:
                return r
        raise KeyError(f"comparison report: no array {key!r}; the compared names are "
                       + ", ".join(repr(r.name) for r in self.rows))

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    @property
    def failing(self) -> tuple[ArrayReport, ...]:
        return tuple(r for r in self.rows if not r.passed)

    @property
    def max_abs_error(self) -> float:
        return max((r.max_abs_error for r in self.rows), default=0.0)

    @property
    def max_rel_error(self) -> float:
        return max((r.max_rel_error for r in self.rows), default=0.0)

    def worst(self, k: int = 5) -> list[dict]:
        """The k elements with the largest |a − e| / (atol + rtol·|e|) over every array: dicts
        with name, index, actual, expected, abs, rel, violation, block."""
        found = []
        for r in self.rows:
            if r.violation.size == 0:
                continue
            a, e = r.actual_array, r.expected_array
            rel = _relative(a, e)
            for flat in np.argsort(-r.violation, axis=None, kind="stable")[:k]:
                idx = tuple(int(i) for i in np.unravel_index(flat, r.shape))
                found.append({"name": r.name, "index": idx, "actual": a[idx].item(),
                              "expected": e[idx].item(), "abs": float(_error(a, e)[idx]),
                              "rel": float(rel[idx]), "violation": float(r.violation[idx]),
                              "block": r.block_of(idx)})
        return sorted(found, key=lambda row: -row["violation"])[:k]

    def __str__(self) -> str:
        return self._text(self.rows)

    def failure_text(self) -> str:
        """The message of :class:`ComparisonError`: the table, failing rows first."""
        return self._text(self.failing + tuple(r for r in self.rows if r.passed))

    def _text(self, rows) -> str:
        n_fail = len(self.failing)
        verdict = f"FAILED, {n_fail} of {len(self.rows)} arrays differ" if n_fail else \
            ("passed, 1 array agrees" if len(self.rows) == 1 else
             f"passed, {len(self.rows)} arrays agree")
        actual, expected = self.labels
        lines = [f"compare_arrays {actual} vs {expected}: {verdict}",
                 f"  tolerance   |a-e| <= atol + rtol*|e| per element (a: {actual}, "
                 f"e: {expected}): {_tolerances(self.rows)}"]
        head = ("name", "shape", "dtype", "max abs", "max rel", "worst", actual, expected,
                "failing", "result")
        cells = [_cells(r) for r in rows]
        widths = [max([len(h)] + [len(c[j]) for c in cells]) for j, h in enumerate(head)]
        right = {3, 4, 6, 7, 8}                 # numbers align right

        def line(values) -> str:
            return "  " + " ".join(v.rjust(w) if j in right else v.ljust(w)
                                   for j, (v, w) in enumerate(zip(values, widths))).rstrip()
        lines.append(line(head))
        lines += [line(c) for c in cells]
        lines += [_failure_line(r, self.labels) for r in rows if not r.passed]
        return "\n".join(lines)


def _cells(r: ArrayReport) -> tuple[str, ...]:
    """One row of the table, as text."""
    dtype = r.dtypes[0] if r.dtypes[0] == r.dtypes[1] else "/".join(r.dtypes)
    if r.worst_index is None:                   # an empty array: nothing compared
        worst, a, e = "-", "-", "-"
    else:
        block = f" (block {r.block!r})" if r.block is not None else ""
        worst = r.element(r.worst_index) + block
        a, e = format_pair(r.actual, r.expected)
    sized = r.n_finite or not r.n_total         # no finite pair: no size to show
    return (r.name, str(r.shape), dtype, f"{r.max_abs_error:.1e}" if sized else "-",
            f"{r.max_rel_error:.1e}" if sized else "-", worst, a, e,
            f"{r.n_failing}/{r.n_total}", "pass" if r.passed else "FAIL")


def _tolerances(rows) -> str:
    """The (atol, rtol) pairs in use, with the dtypes of the rows that use each."""
    used: dict[tuple[float, float], list[str]] = {}
    for r in rows:
        names = used.setdefault((r.atol, r.rtol), [])
        dtype = "/".join(dict.fromkeys(r.dtypes))
        if dtype not in names:
            names.append(dtype)
    return "; ".join(f"atol={a:g} rtol={r:g} ({', '.join(d)})" for (a, r), d in used.items())


def _failure_line(r: ArrayReport, labels: tuple[str, str]) -> str:
    """Below the table, per failing array: how many elements fail, where, and by how much;
    the NaN and inf on one side only counted by side, each kind with its first element."""
    assert r.worst_index is not None and r.actual is not None and r.expected is not None
    pct = 100.0 * r.n_failing / max(r.n_total, 1)
    text = f"  {r.name}: {r.n_failing} of {r.n_total} elements fail ({pct:.1f}%)"
    counted = [c for c in r.block_failing if c[2]]
    if len(counted) == 1 and not r.n_outside_blocks:
        text += f", all in block {counted[0][0]!r} ({counted[0][1]})"
    elif counted or r.n_outside_blocks:
        text += ", by block " + ", ".join(f"{label!r}: {n}" for label, _, n in counted) + \
            (f", outside every block: {r.n_outside_blocks}" if r.n_outside_blocks else "")
    a, e = r.actual_array, r.expected_array
    for what, mask in _non_finite_kinds(a, e, labels):
        idx = tuple(int(i) for i in np.argwhere(mask)[0])
        shown = format_pair(a[idx].item(), e[idx].item())
        text += (f"; {int(np.count_nonzero(mask))} {what} (first {r.element(idx)}: "
                 f"{shown[0]} vs {shown[1]})")
    finite = np.isfinite(a) & np.isfinite(e)
    failing_finite = finite & (r.violation > 1)
    if not np.any(failing_finite):
        return text
    flat = int(np.argmax(np.where(failing_finite, r.violation, -1.0)))
    where = tuple(int(i) for i in np.unravel_index(flat, r.shape))
    actual, expected = a[where].item(), e[where].item()
    allowed = r.atol + r.rtol * abs(expected)
    err = abs(actual - expected)
    ratio = err / allowed if allowed else math.inf
    worst = "worst finite" if r.n_non_finite else "worst"
    return text + (f"; {worst} {r.element(where)}: |a-e|={err:.2e} > atol + rtol*|e| = "
                   f"{allowed:.2e}" + (f" ({ratio:.1e}x)" if math.isfinite(ratio) else ""))


def _non_finite_kinds(a: np.ndarray, e: np.ndarray, labels: tuple[str, str]) -> list:
    """(what, mask) for each kind of non-finite mismatch present: NaN or inf in one array
    where the other is finite, and different non-finite values in both (inf vs -inf, NaN
    vs inf)."""
    bad_a, bad_e = ~np.isfinite(a), ~np.isfinite(e)
    kinds = [(f"NaN or inf in {labels[0]} only", bad_a & ~bad_e),
             (f"NaN or inf in {labels[1]} only", ~bad_a & bad_e),
             ("different NaN or inf on both sides", bad_a & bad_e & ~_matches(a, e))]
    return [(what, mask) for what, mask in kinds if np.any(mask)]


# ---------------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------------

def compare_arrays(actual, expected, *, atol=None, rtol=None, blocks=None,
                   labels=("actual", "expected"), raise_exception: bool = False
                   ) -> ComparisonReport:
    """Compare two sets of arrays element by element, name by name.

    Parameters
    ----------
    actual, expected : mapping of name -> array, an array, or a list/tuple of arrays
        Both the same form: two mappings with the same names (a state dict, a dict of
        gradients; the rows follow ``actual``'s order), two arrays (one row, "array"), or
        two lists/tuples of the same length (rows "arrays[0]", "arrays[1]", ...; wrap one
        array given as a nested list in ``np.asarray``). An array is an ndarray, a nongate_np
        Tensor (on either device), a PyTorch tensor (detached and copied to the CPU: one
        that requires grad, a parameter, is fine; torch is never imported here), a JAX or
        TensorFlow array, or a Python number. Each name's two arrays have the same shape (no
        broadcasting); their dtypes may differ (bool, int, float, complex): both are
        compared in float64, or complex128 where either is complex, and the table gives
        both dtypes.
    atol, rtol : float, optional
        Element passes where |a − e| ≤ atol + rtol·|e| (``numpy.allclose``'s rule; e is the
        reference). NaN passes only against NaN, inf only against the same inf. Default,
        per name, by the coarser precision of its two arrays (float32 where either is
        float32 or complex64; integers count as float64): float64 atol=1e-13 rtol=1e-11,
        float32 1e-5 and 1e-4, float16 1e-2 and 1e-2 (``TOLERANCES[("complex_step", ·)]``,
        gradcheck's row for a comparison exact to rounding). atol is absolute: pass one of
        the arrays' scale where it is far from 1.
    blocks : dict, optional
        ``{name: [(label, index), ...]}``, as gradcheck takes it: the report names the block
        of the worst element ("weight_hh_l0[7, 0] (block 'f')") and counts the failing
        elements per block. ``lstm_gate_blocks(names, H)`` gives an LSTM's gates.
    labels : (str, str)
        What to call ``actual`` and ``expected`` in the table ("nongate_np", "torch").
    raise_exception : bool
        Raise :class:`ComparisonError` where any element fails (default: return the report).

    Returns
    -------
    ComparisonReport
        ``passed``; ``rows`` (``report[name]``), one :class:`ArrayReport` each with
        ``shape``, ``dtypes``, ``max_abs_error``, ``max_rel_error`` (|a − e| / max(|a|, |e|,
        1e-3·max_j min(|a_j|, |e_j|)): relative to the larger value, floored at a thousandth
        of the array's scale so an entry near zero does not read as 100 % wrong),
        ``worst_index`` (the largest |a − e| / (atol + rtol·|e|)), ``actual`` and
        ``expected`` there, ``n_failing``, ``block``; ``worst(k)``. ``str(report)`` is a
        table, its values printed with the digits that show where they differ (report.format_pair).

    Raises
    ------
    ComparisonError
        (an AssertionError) with ``raise_exception=True`` where an element fails; its
        message is the table, failing rows first, and ``.report`` the report.
    ValueError
        The names differ (the message lists those missing on either side), a sequence's
        lengths differ, a name's two shapes differ (the message gives both, and says when
        one is the other's transpose), ``blocks`` names an array not compared or has an
        index that does not fit its shape, or ``atol``/``rtol`` is not finite and >= 0.
    TypeError
        ``actual`` and ``expected`` of different forms (a mapping and a list), an entry
        that is None or not numeric (strings, objects, a bfloat16 tensor: convert it to
        float32 first), ``atol``/``rtol`` not a real number, ``labels`` not two strings.

    Example
    -------
    A PyTorch LSTM's gradients against ours, the same weights in both::

        import torch
        import nongate_np as ng
        from nongate_np.check import compare_arrays, lstm_gate_blocks

        theirs = torch.nn.LSTM(3, 4).double()
        ours = ng.nn.LSTM(3, 4, dtype=np.float64)
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
        x = np.random.default_rng(0).standard_normal((5, 2, 3))
        ours(ng.tensor(x))[0].sum().backward()
        theirs(torch.from_numpy(x))[0].sum().backward()
        report = compare_arrays(dict((k, p.grad) for k, p in ours.named_parameters()),
                                dict((k, p.grad) for k, p in theirs.named_parameters()),
                                blocks=lstm_gate_blocks(dict(ours.named_parameters()), 4),
                                labels=("nongate_np", "torch"))
        print(report)                   # one row per weight; report.passed
    """
    atol = check_option("compare_arrays", "atol", atol, positive=False)
    rtol = check_option("compare_arrays", "rtol", rtol, positive=False)
    if not (isinstance(labels, (tuple, list)) and len(labels) == 2
            and all(isinstance(s, str) for s in labels)):
        raise TypeError(f"compare_arrays: labels must be two strings, got {labels!r}")
    labels = (labels[0], labels[1])
    names, pairs, subscripts = _pairs(actual, expected, labels)
    blocks = dict(blocks or {})
    unknown = [b for b in blocks if b not in names]
    if unknown:
        raise ValueError(f"compare_arrays: blocks= names {unknown}, which are not compared; "
                         f"the names are {', '.join(repr(n) for n in names)}")
    arrays = [(_host(a, labels[0] + sub), _host(e, labels[1] + sub))
              for sub, (a, e) in zip(subscripts, pairs)]
    mismatched = [f"{n!r}: {labels[0]} {a.shape}, {labels[1]} {e.shape}"
                  f"{_shape_hint(a.shape, e.shape)}"
                  for n, (a, e) in zip(names, arrays) if a.shape != e.shape]
    if mismatched:
        raise ValueError("compare_arrays: shapes differ (no broadcasting): "
                         + "; ".join(mismatched))
    rows = tuple(_compare(str(n), a, e, atol, rtol, blocks.get(n, ()))
                 for n, (a, e) in zip(names, arrays))
    report = ComparisonReport(rows, labels)
    if raise_exception and not report.passed:
        raise ComparisonError(report)
    return report


def _pairs(actual, expected, labels: tuple[str, str]) -> tuple[list, list, list[str]]:
    """The names, the (actual, expected) pair of each, and how each is subscripted in
    messages ("['x']", "[0]", ""), from the two arguments' form."""
    forms = [_form(v) for v in (actual, expected)]
    if forms[0] != forms[1]:
        raise TypeError(f"compare_arrays: {labels[0]} is {forms[0]} and {labels[1]} is "
                        f"{forms[1]}; give both as mappings name -> array, both as "
                        f"lists/tuples of arrays, or both as one array")
    if forms[0] == "a mapping":
        missing = [k for k in actual if k not in expected]
        extra = [k for k in expected if k not in actual]
        if missing or extra:
            parts = [f"in {labels[0]} only: {missing}" if missing else "",
                     f"in {labels[1]} only: {extra}" if extra else ""]
            raise ValueError(f"compare_arrays: the names differ: "
                             f"{'; '.join(p for p in parts if p)}")
        return (list(actual), [(actual[k], expected[k]) for k in actual],
                [f"[{k!r}]" for k in actual])
    if forms[0] == "a sequence":
        if len(actual) != len(expected):
            raise ValueError(f"compare_arrays: {labels[0]} has {len(actual)} arrays, "
                             f"{labels[1]} {len(expected)}")
        n = len(actual)
        return ([f"arrays[{k}]" for k in range(n)], list(zip(actual, expected)),
                [f"[{k}]" for k in range(n)])
    return ["array"], [(actual, expected)], [""]


def _form(value) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    return "a sequence" if isinstance(value, (list, tuple)) else "an array"


def _host(value, where: str) -> np.ndarray:
    """``value`` as a host ndarray of its own dtype: a Tensor's data (copied from the GPU),
    a PyTorch tensor detached and on the CPU, anything else through ``np.asarray``."""
    if value is None:
        raise TypeError(f"compare_arrays: {where} is None; expected an array (a gradient "
                        f"that was never computed?)")
    library = library_of(value)
    if library == "PyTorch" and hasattr(value, "detach"):
        # NOTE: by its methods, never importing torch: detach for a parameter, cpu for a GPU
        # tensor, resolve_conj/resolve_neg for a lazily conjugated or negated view (which
        # refuses .numpy())
        value = value.detach().cpu().resolve_conj().resolve_neg()
        if str(value.dtype) == "torch.bfloat16":
            raise TypeError(f"compare_arrays: {where} is a bfloat16 tensor, which NumPy has "
                            f"no dtype for; convert it with t.float()")
        value = value.numpy()
    elif library is not None:
        # NOTE: JAX and TensorFlow copy to the host through __array__; a GPU array's
        # __cuda_array_interface__ would need numba's CUDA here
        value = np.asarray(value)
        if value.dtype.kind not in "biufc":
            raise TypeError(f"compare_arrays: {where} has dtype {value.dtype}, which NumPy "
                            f"does not compute in; convert it to float32 or float64")
    return np.asarray(move(as_array(value, what=f"compare_arrays: {where}"), CPU))


def _shape_hint(a: tuple, e: tuple) -> str:
    """What two shapes of the same array likely mean: "" where nothing fits."""
    if len(a) > 1 and a == e[::-1]:
        return f" ({a} is the transpose of {e})"
    if [d for d in a if d != 1] == [d for d in e if d != 1]:
        return " (the same but for axes of length 1: a squeeze or an [None] missing?)"
    if math.prod(a) == math.prod(e):
        return " (the same number of elements in another shape: a reshape missing?)"
    return ""


def _matches(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Element by element: a == e, NaN equal to NaN, each part of a complex number apart."""
    if np.iscomplexobj(a) or np.iscomplexobj(e):
        return _matches(np.real(a), np.real(e)) & _matches(np.imag(a), np.imag(e))
    return (a == e) | (np.isnan(a) & np.isnan(e))


def _error(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """|a − e|: 0 where the two are equal (the same NaN, the same inf), inf where either is
    not finite otherwise."""
    with np.errstate(all="ignore"):
        finite = np.isfinite(a) & np.isfinite(e)
        return np.where(finite, np.abs(a - e), np.where(_matches(a, e), 0.0, np.inf))


def _relative(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """gradcheck's relative error (report.relative_error), 0 where the two are equal."""
    return np.where(_matches(a, e), 0.0, relative_error(a, e))


def _precision(dtype: np.dtype) -> np.dtype:
    """The real precision whose tolerances apply: float32 for complex64, float64 for
    integers and bool."""
    return np.finfo(dtype).dtype if dtype.kind in "fc" else np.dtype(np.float64)


def _compare(name: str, a_in: np.ndarray, e_in: np.ndarray, atol, rtol, blocks
             ) -> ArrayReport:
    dtypes = (a_in.dtype.name, e_in.dtype.name)
    coarser = min((_precision(a_in.dtype), _precision(e_in.dtype)), key=lambda d: d.itemsize)
    default_atol, default_rtol = tolerance("complex_step", coarser)
    atol = default_atol if atol is None else atol
    rtol = default_rtol if rtol is None else rtol
    work = np.complex128 if np.iscomplexobj(a_in) or np.iscomplexobj(e_in) else np.float64
    a, e = a_in.astype(work), e_in.astype(work)
    regions = _regions(name, blocks, a.shape)
    base = ArrayReport(name, a.shape, dtypes, atol, rtol, actual_array=a, expected_array=e,
                       blocks=tuple(blocks))
    if a.size == 0:
        return base
    err = _error(a, e)
    with np.errstate(all="ignore"):
        allowed = atol + rtol * np.abs(e)
        finite = np.isfinite(a) & np.isfinite(e)
        # NOTE: err > allowed, not violation > 1: the division can round a failure to 1.0
        failing = np.where(finite, err > allowed, err > 0)
        violation = np.where(err == 0, 0.0, np.where(finite & (allowed > 0), err / allowed,
                                                      np.inf))
    # the worst: the largest violation, among equal ones the largest error, then the first
    top = np.flatnonzero(violation == violation.max())
    if finite.ravel()[top].any():               # a NaN matching NaN is no one's worst
        top = top[finite.ravel()[top]]
    flat = int(top[np.argmax(err.ravel()[top])])
    worst = tuple(int(i) for i in np.unravel_index(flat, a.shape))
    counts = tuple((label, text, int(np.count_nonzero(failing & mask)))
                   for label, text, mask in regions)
    outside = int(np.count_nonzero(failing & ~np.any([m for *_, m in regions], axis=0))) \
        if regions else 0
    non_finite = failing & ~finite
    first = np.argwhere(non_finite)
    # NOTE: sizes over the finite pairs only: a NaN against 0 is counted and named, not inf
    return ArrayReport(
        name, a.shape, dtypes, atol, rtol, max_abs_error=float(np.max(err[finite], initial=0.0)),
        max_rel_error=float(np.max(_relative(a, e)[finite], initial=0.0)),
        n_failing=int(np.count_nonzero(failing)),
        worst_index=worst, actual=a[worst].item(), expected=e[worst].item(),
        block=next((label for label, _, mask in regions if mask[worst]), None),
        block_failing=counts, n_outside_blocks=outside,
        n_non_finite=int(np.count_nonzero(non_finite)), n_finite=int(np.count_nonzero(finite)),
        first_non_finite=tuple(int(i) for i in first[0]) if len(first) else None,
        actual_array=a,
        expected_array=e, violation=violation, blocks=base.blocks)


def _regions(name: str, blocks, shape: tuple) -> list[tuple[str, str, np.ndarray]]:
    """(label, region text, mask) per block of ``name``; ValueError for a malformed one."""
    regions = []
    for item in blocks:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise ValueError(f"compare_arrays: blocks[{name!r}] holds {item!r}; expected "
                             f"(label, index) pairs, e.g. ('f', np.s_[6:12])")
        label, index = item
        mask = np.zeros(shape, bool)
        try:
            mask[index] = True
        except (IndexError, TypeError, ValueError) as err:
            raise ValueError(f"compare_arrays: block {label!r} of {name!r}: {index!r} does "
                             f"not index an array of shape {shape} ({err})") from None
        regions.append((str(label), f"{name}[{_index_text(index)}]", mask))
    return regions
