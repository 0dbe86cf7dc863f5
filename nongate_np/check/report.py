"""The report of a gradient check: per input, the worst element and by how much it is off.

:class:`GradcheckReport` holds one :class:`InputReport` per checked input; ``str(report)`` is
a table, ``report.failure_text()`` the message of ``GradcheckError`` (which element, both
values, the tolerance, and a ``reproduce`` line naming the call that shows the failure again).
The reported relative error of an element is |a − n| / max(|a|, |n|, 1e-3·max_j|n_j|, tiny),
so a near-zero entry does not read as 100 % wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

__all__ = ["GradcheckReport", "InputReport", "REL_FLOOR"]

REL_FLOOR = 1e-3       # entries are judged against at least 1e-3·max|n|
TINY = np.finfo(np.float64).tiny


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
    keyword: bool = False            # inputs were a dict: only= names them
    claimed: bool = False            # the gradient came from grad=, not from backward
    options: dict = field(default_factory=dict)     # eps, atol, rtol the caller set

    def reproduce(self, r: "InputReport") -> str:
        """The call that checks input ``r`` alone by the method whose verdict failed."""
        # NOTE: after a failed directional check the full central check decided
        method = "central" if r.fallback_ran else r.method
        # NOTE: positional inputs by index: a name would need names= as well
        only = json.dumps(r.name) if self.keyword else r.index
        args = ["fn", "inputs"] + (["grad=grad"] if self.claimed else [])
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
            lines.append(f"  {r.label:<{w}} {str(r.shape):<14} {r.dtype:<10} "
                         f"{r.checked_by:<22} {r.max_abs_error:>8.1e} {r.max_rel_error:>8.1e}"
                         f"  {'pass' if r.passed else 'FAIL'}")
        lines += [f"  {r.label}: directional failed → full central difference passed"
                  for r in self.inputs if r.fallback_ran and r.passed]
        if not self.passed:
            lines.append(self.failure_text())
        return "\n".join(lines)

    def _backend(self) -> str:
        # a gradient claimed through grad= ran none of this library's kernels
        return "" if self.claimed else f", backend={self.backend}"

    def failure_text(self) -> str:
        """The message of :class:`GradcheckError`: one block per failing input."""
        return "\n".join(_failure_block(self, r) for r in self.inputs if not r.passed)


def format_value(value) -> str:
    if np.iscomplexobj(value):
        value = complex(value)
        return f"({value.real:+.4e}{value.imag:+.4e}j)"
    return f"{float(value):+.4e}"


def _failure_block(rep: GradcheckReport, r: InputReport) -> str:
    # NOTE: no "GradcheckError:" here: Python's traceback already prints the class name
    head = f"{rep.name}: d(output)/d({r.label})"
    if r.problem:
        return f"{head} {r.problem}"
    lines = [f"{head} mismatch" + (f" [backend={rep.backend}]" if not rep.claimed else "")]
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
        rel = relative_error(r.analytic_grad, r.numeric_grad)[idx]
        block = f" (block {r.worst_block!r})" if r.worst_block else ""
        lines.append(f"  worst       {r.element(idx)}: analytic={format_value(r.analytic)} "
                     f"numeric={format_value(r.numeric)} abs={abs(r.analytic - r.numeric):.1e} "
                     f"rel={rel:.1e}{block}")
    if r.directional_analytic is not None:
        lines.append(f"  directional <u,J^T v>={format_value(r.directional_analytic)}  "
                     f"<Ju,v>={format_value(r.directional_numeric)}  (seed={rep.seed})")
    lines += [f"  note        {note}" for note in r.notes]
    lines.append(f"  reproduce   {rep.reproduce(r)}")
    return "\n".join(lines)


def relative_floor(numeric) -> float:
    """1e-3·max|n| over the finite entries: no element is judged against less."""
    n = np.abs(np.asarray(numeric))
    return REL_FLOOR * float(np.max(n[np.isfinite(n)], initial=0.0))


def relative_error(analytic, numeric) -> np.ndarray:
    """|a − n| / max(|a|, |n|, 1e-3·max_j|n_j|, tiny); inf where a value is not finite."""
    a, n = np.asarray(analytic), np.asarray(numeric)
    with np.errstate(all="ignore"):
        denom = np.maximum(np.maximum(np.abs(a), np.abs(n)), max(relative_floor(n), TINY))
        return np.where(np.isfinite(a) & np.isfinite(n), np.abs(a - n) / denom, np.inf)


