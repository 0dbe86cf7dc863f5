"""Gradient checking: compare a function's backward pass with numerical derivatives.

``gradcheck(fn, inputs)`` forms the scalar L(x) = Σ_k ⟨v_k, f_k(x)⟩ from the outputs f_k of
``fn`` with fixed-seed standard-normal cotangents v_k (v = 1 for a one-element output),
takes the analytic ∂L/∂x_j (the vector-Jacobian product Jᵀv) from one backward pass (or,
with ``grad=``, from the product another framework claims for a function on NumPy arrays)
and compares it with a numerical derivative of L (``nongate_np.check.numdiff``, docs/math.md
G1-G3):

- ``"central"``: (L(x + h e_i) − L(x − h e_i)) / 2h per element, h = ε^(1/3)·max(1, |x_i|).
- ``"complex_step"``: Im L(x + i h e_i) / h, h = 1e-20·max(1, |x_i|): no subtraction, so
  exact to rounding. **Precondition: fn must be real-analytic along the path.** abs, max,
  where, relu and friends are fine only away from their kinks (branches are chosen by the
  real part), and fn must not conjugate or drop the imaginary part (``.real``, a cast to a
  real dtype, a detour through ``.data`` into real arrays). When every output comes back
  real, or fn raises on the complex input (a Numba kernel compiled for float64, a
  scipy.special function with no complex loop), gradcheck raises "complex-step is not
  applicable", naming what fn raised. A fn that takes complex input but is not analytic
  (np.abs, torch.abs, a variance of a complex value) differentiates something else, so
  complex-step's estimate is itself checked against real central differences (G2b): after
  a pass by the directional check below (two real evaluations of fn), after a failure (or
  a failed directional check) element by element. Where it is off the central difference
  beyond central's own error bound at any element, complex-step does not apply to the input
  and the full central check decides, right gradient or wrong, the report naming those
  elements (checked by "complex_step → central"); where it agrees, complex-step's verdict
  stands at its tight tolerance, so a bug below central's resolution still fails.
- ``"directional"`` (default, fast): ⟨∂L/∂x_j, u_j⟩ against the central difference
  (L(x + h u_j) − L(x − h u_j)) / 2h along a fixed-seed random direction u_j (each
  |u_ji| in [0.5, 1], random signs, so no element's error hides behind a tiny weight),
  h = ε^(1/3)·max(1, max|x_j|): two evaluations per input. On failure the full central
  check of that input decides (torch's fast-then-slow fallback) and the report says so.
  Its bound (below) grows with the root of the input's size, and so does the error of one
  element it can see (``Directional.sensitivity``, the relative error one element of
  median size needs to fail: about 0.01 % for a 64 x 64 weight, 0.2 % for 1024 x 1024).
  The table says a directional row bounds one projection, not each element, and gives
  its sensitivity ("pass (sees ≥ 3.7e-05)"); ``method="central"`` compares each element.

The verdict per element, a analytic, n numeric, (atol, rtol) from ``TOLERANCES``::

    |a − n| ≤ atol + rtol·max(|n|, 1e-3·max_j min(|a_j|, |n_j|)) + ν_i,
    ν_i = 4·ε·Σ_k|v_k·f_k(x)| / h_i

This is torch's ``atol + rtol·|n|`` made scale-free by two terms: entries far below the
gradient's scale are judged against a thousandth of it (the scale read where the analytic
and numeric values agree in size, so an estimate far off on one side cannot set it and hide
the others), and ν_i (the rounding noise of L
over the step) is the resolution of a central difference; complex-step has no such noise
(ν = 0). So a correct function scaled by 1e6 still passes; for O(1) outputs both terms are
far below atol. atol does not pass an element whose analytic value is off by ``GROSS_ERROR``
(40 %: the sign, a factor of 2) or more where the estimate is resolved (those at 10h and
h/10 within 10 % of it, the noise there below 10 % of it): atol stands for what differences
cannot resolve (x³ at 0 reads c·h², which moves with h), not for a small gradient, and a
sign-flipped gradient of 1e-9 passed under atol = 1e-8 (``_gross``; the directional check
hands such a projection to the central check, ``_gross_projection``; complex-step keeps its
atol of 1e-13). The directional check's bound for ⟨a, u⟩ is the root of the summed squares
of the elements' allowances, √(Σ_i (|u_i|·allowed_i)²) + 4·ε·Σ|v·f| / h: the spread of Σ_i
u_i·e_i when each error e_i is within its allowance and independent of u's random signs (a
correct gradient's errors are rounding, far inside). A gap beyond it sends the input to the
full central check, which decides element by element, so the bound sets how often that check
runs, never a verdict; the sum Σ_i |u_i|·allowed_i, which no correct gradient can exceed,
let one element 1 % wrong in a 64 x 64 weight pass.
The reported relative error of an element is |a − n| / max(|a|, |n|, 1e-3·max_j
min(|a_j|, |n_j|), tiny), so a near-zero entry does not read as 100 % wrong. The worst
element is the one with the largest violation |a − n| / allowed_i (above 1 fails). A passing
comparison names the elements (at or above the floor) whose allowance exceeds 10 % of |n|
(``report.BLIND_ERROR``): atol and ν_i let them be that wrong and pass, as in float32.

The step h_i = ε^(1/3)·max(1, |x_i|) suits a function that varies on the scale max(1,
|x_i|); where it does not (log, 1/x, sqrt near a small x_i; tanh(x − 1e8) at a large one),
a failing element's central difference is retried with steps 10, 100, ... times smaller,
down to ε^(1/3)·min(|x_i|, 1)/100 (3 to 12 levels), and an estimate counts only once two
successive steps agree within the tolerance (noise ν at the smaller step included):
truncation then is below about 1 % of the tolerance, so a correct backward passes and a
wrong value fails against the converged estimate (``_step_ladder``). It counts only where
the default step can be the cause (its truncation, about |n(10h) − n(h)|/99, could explain
the gap, or the smaller step moved the estimate beyond both steps' rounding): elsewhere
the smaller step's larger noise would pass an error the default step resolves. An element
whose analytic value is off by ``GROSS_ERROR`` or more where the estimates at 10h and h
agree within the tolerance skips the descent: no smaller step comes near the analytic
value, so a sign-flipped block costs one more step per element, not the whole ladder
(``_resolved_mismatch``). An explicit
``eps`` is used as given. On failure the report says whether the step could be the cause:
the worst element's central difference at 10h, h and h/10 either shows a truncation at h
(about 1/99 of the change from 10h) too small to explain the gap ("the step is not the
cause") or moves ("the finite-difference step may be too large for values of magnitude M
at x[i]; try eps=... or method='complex_step'"), or, where the rounding noise ν of L
exceeds the tolerance, says central differences cannot resolve the element.
Complex-step subtracts nothing, so its step is never the cause; a mismatch there of a
relative 1e-11..1e-8 is the size float64 rounding reaches when the backward subtracts
nearly equal terms, and the report says so (rtol 1e-11 allows ~5e4 ulps of such loss).
The worst failing element and up to ``KINK_SCAN`` more are examined: those that are kinks
of fn (their one-sided slopes differ at h and at h/10) are named in one note, and the worst
of them where fn is smooth gets the note on its step, whichever is the worst. A NaN or inf
on one side where the other is finite is named with its element, and no step note is made
for it; a checked input that is not finite is refused up front (ValueError). Where fn has
several outputs, the worst element's
analytic and numerical values are split into one part per output (L with the other
cotangents zero), and the note names the outputs whose part fails. Without ``blocks=``,
the failing line names the region the failures lie in where an axis narrows them down (a
row, a column, a run or stride of them: ``_failing_region``).

Where a failure fits a hand-written backward's common bug at every element within the
tolerance, a note names it: the analytic gradient a constant multiple of the numeric one
("analytic = 2.0 × numeric", -1.0: the sign), over the input or over the one block that
holds every failing element, or a square input's gradient transposed (``_pattern_notes``);
a gradient of the wrong shape, the transpose or a broadcast input's gradient not summed over
the leading axes (``_shape_hint``).

Before any numerical work backward (or ``grad``) runs twice from fresh forwards and must
give bit-identical gradients (reentrancy), each shaped like its input. The report's
classes are in ``nongate_np.check.report``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import warnings
from types import MappingProxyType
from typing import Callable

import numpy as np

from ..autograd import GradientShapeError, enable_grad, no_grad, recorded_ops
from ..kernels.registry import get_backend
from ..ops.attention import AttentionPool
from ..ops.lstm import LSTMLayer
from ..tensor import Tensor
from ..userline import callers_stacklevel
from .blocks import other_cell
from .foreign import conversion_hint, library_of
from .numdiff import (
    COMPLEX_STEP,
    ArrayLoss,
    ComplexStepNotApplicable,
    ScalarLoss,
    _function_name,
    central_differences_at,
    central_steps,
    check_option,
    complex_step_at,
    complex_steps,
    directional_derivative,
    directional_step,
    layout_copy,
    numeric_gradient,
    one_sided_differences_at,
    output_precision,
    progress_bar,
    working_dtype,
)
from .report import (
    BLIND_ERROR,
    GROSS_ERROR,
    REL_FLOOR,
    RESOLVED_SPREAD,
    TINY,
    UNRESOLVED_ERROR,
    BlockSummary,
    Comparison,
    Defect,
    Directional,
    GradcheckReport,
    InputReport,
    Subject,
    Tolerance,
    format_pair,
    format_value,
    relative_error,
    relative_floor,
    verdict,
)

__all__ = ["gradcheck", "numeric_gradient", "GradcheckError", "GradcheckReport",
           "InputReport", "TOLERANCES", "METHODS", "tolerance"]

METHODS = ("central", "complex_step", "directional")

#: the ops whose kernels the backend gives (the others are NumPy's on every CPU backend): a
#: complex-step check runs them on the NumPy reference, which the report then says
_FUSED = (LSTMLayer.__name__, AttentionPool.__name__)

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
NOISE_FACTOR = 4.0     # ν = 4·ε·Σ|v·f| / h

# the note on a failing input that got no gradient at all
_NO_GRADIENT = ("backward gave this input no gradient (None, counted as zeros): fn reaches it "
                "only through unrecorded paths (.data, .numpy(), detach) or the graph is cut")
_NO_CLAIMED_GRADIENT = "grad returned None for this input (counted as zeros)"


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


# ---------------------------------------------------------------------------------------------
# The analytic side: two fresh backward passes, or two calls of the claimed gradient
# ---------------------------------------------------------------------------------------------

def _analytic(loss: ScalarLoss, grad=None):
    """∂L/∂x per input (None where unchecked), which inputs got no gradient at all, Σ|v·f|
    at x and fn's outputs there. Two backward passes from fresh forwards (two calls of
    ``grad``) must agree bit for bit."""
    once: Callable[[], tuple]
    if grad is None:
        once = functools.partial(_backward_once, loss)
    else:
        assert isinstance(loss, ArrayLoss)      # gradcheck builds one exactly when grad is given
        once = functools.partial(_claimed_once, loss, grad=grad)
    first, missing, magnitude, values = once()
    second, _, _, again = once()
    changed = [j for j, (a, b) in enumerate(zip(values, again))
               if not np.array_equal(a, b, equal_nan=True)]
    if changed:
        k = loss.checked.index(True)
        raise GradcheckError(_report(loss, "reentrancy", [_defect(loss, k, _unrepeatable(
            changed[0], values[changed[0]], again[changed[0]]))]))
    bad = [_defect(loss, k, _reentrancy(_subject(loss, k), g1, g2, claimed=grad is not None))
           for k, (g1, g2) in enumerate(zip(first, second))
           if g1 is not None and not np.array_equal(g1, g2, equal_nan=True)]
    if bad:
        raise GradcheckError(_report(loss, "reentrancy", bad))
    loss.reference = values                     # L then takes each output's change first
    return first, missing, _moving_magnitude(loss, values, magnitude), values


def _moving_magnitude(loss: ScalarLoss, values: list, magnitude: float) -> float:
    """Σ|v·f| over the output elements that move when fn's checked inputs do (fn evaluated
    once more, each input moved by a random 1e-3 of its scale): the rounding in L(x ± h)
    comes from those, while an output that does not depend on the inputs is the same bits
    at x + h and x − h. Counting a large constant output's |v·f| in ν hid a 100 % error
    behind its allowance. ``magnitude`` (all of Σ|v·f|) where the outputs cannot be
    compared."""
    rng = np.random.default_rng(1)
    moved = [a if a is None or not checked else _moved(a, rng)
             for a, checked in zip(loss.arrays, loss.checked)]
    with no_grad(), np.errstate(all="ignore"):
        _, outs = loss.invoke(moved, requires_grad=False)
    assert loss.cotangents is not None          # invoke draws them
    total = 0.0
    for v, at_x, o in zip(loss.cotangents, values, outs):
        there = np.asarray(o.data if isinstance(o, Tensor) else o)
        if there.shape != at_x.shape:
            return magnitude
        moves = ~((at_x == there) | (np.isnan(at_x) & np.isnan(there)))
        total += float(np.sum(np.abs(v * at_x)[moves]))
    return total


def _unrepeatable(j: int, a: np.ndarray, b: np.ndarray) -> Defect:
    """fn gave two different outputs at the same inputs: where and by how much (every
    numerical derivative would then measure that noise, not fn's slope)."""
    with np.errstate(all="ignore"):
        diff = np.abs(a - b)
    diff = np.where(np.isnan(diff), np.inf, diff)
    idx = tuple(int(i) for i in np.unravel_index(np.argmax(diff), a.shape))
    at = f"output {j}" + (f"[{', '.join(map(str, idx))}]" if idx else "")
    first, second = format_pair(a[idx], b[idx])
    text = (
        f"cannot be checked: fn is not deterministic\n"
        f"  differ      two calls at the same inputs gave {at}: "
        f"first={first} second={second} abs={diff[idx]:.1e} "
        f"({int(np.count_nonzero(diff))} / {a.size} elements differ)\n"
        f"  cause       random numbers, np.empty, state kept between calls or a race in fn; "
        f"seed any randomness inside it at its start (ng.rng.seed(0) for nongate_np, "
        f"torch.manual_seed(0), a fixed jax.random key), or put a model with dropout in "
        f"eval mode (model.eval())")
    return Defect(text, max_abs_error=float(diff.max()), worst_index=idx,
                  first=a[idx].item(), second=b[idx].item())


def _check_signature(grad, n_inputs: int) -> None:
    """TypeError, with how gradcheck calls it, where ``grad`` cannot take ``n_inputs`` + 1
    positional arguments (a VJP written without v, or as grad(inputs, v)); nothing where
    its signature cannot be read (a builtin)."""
    try:
        signature = inspect.signature(grad)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*range(n_inputs + 1))
    except TypeError as err:
        raise TypeError(f"gradcheck: grad is called as grad(*inputs, v), with fn's "
                        f"{n_inputs} input(s) and the cotangent v (shaped like fn's output: "
                        f"a tuple for several outputs), {n_inputs + 1} positional arguments; "
                        f"grad{signature} cannot take them ({err})") from None


def _grad_call_text(call: list, v: list) -> str:
    """What gradcheck passed to a ``grad`` that raised: each input's dtype and shape, and
    v's form (one array, or a tuple with one array per output), for the note on its error."""
    def described(a) -> str:
        return f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
    inputs = ", ".join(described(a) for a in call[:-1])
    shapes = ", ".join(str(c.shape) for c in v)
    form = f"v, one array of shape {shapes}" if len(v) == 1 and not isinstance(call[-1], tuple) \
        else f"v, a tuple of {len(call[-1])} (one per output of fn: {shapes})"
    integral = any(isinstance(a, np.ndarray) and a.dtype.kind in "iub" for a in call[:-1])
    return (f"gradcheck called grad(*inputs, v) with the inputs {inputs} and {form}" +
            ("; integer and bool inputs are passed as they are and not checked: grad may "
             "return None for them" if integral else ""))


def _claimed_once(loss: ArrayLoss, grad):
    """The gradient ``grad(*inputs, v)`` claims for L = Σ_k ⟨v_k, f_k⟩: Jᵀv per input."""
    args, outs = loss.invoke([None if a is None else layout_copy(a) for a in loss.arrays])
    _unchanged_inputs(loss, args)
    values = [np.array(o) for o in outs]        # copies: fn may reuse its output's memory
    assert loss.cotangents is not None          # invoke draws them
    # NOTE: v in each output's dtype, as a framework's VJP takes it (JAX refuses a float64
    # cotangent for a float32 output); rounded there once, so that L and Jᵀv share it
    loss.cotangents = [c.astype(o.dtype).astype(c.dtype) if o.dtype.kind == "f" else c
                       for c, o in zip(loss.cotangents, outs)]
    magnitude = float(sum(np.sum(np.abs(v * o)) for v, o in zip(loss.cotangents, outs)))
    v = [c.astype(o.dtype) if o.dtype.kind == "f" else c.copy()
         for c, o in zip(loss.cotangents, outs)]
    # NOTE: None where fn returned integers or bools: torch.autograd.grad takes it there
    given = iter(v)
    every = [None if j in loss.integral else next(given)
             for j in range(len(v) + len(loss.integral))]
    call = [layout_copy(a) if isinstance(a, np.ndarray) else a for a in args] + \
        [every[0] if loss.single_output else tuple(every)]
    _check_signature(grad, len(args))
    try:
        result = grad(*call)
    except Exception as err:
        if hasattr(err, "add_note"):        # Python 3.11 on: the error says what was called
            err.add_note(_grad_call_text(call, v))
        raise
    if len(args) == 1 and not isinstance(result, (tuple, list)):
        result = (result,)
    if not isinstance(result, (tuple, list)) or len(result) != len(args):
        got = f"{len(result)} values" if isinstance(result, (tuple, list)) else \
            type(result).__name__
        raise TypeError(f"gradcheck: grad returned {got}; expected a tuple/list of "
                        f"{len(args)} gradients, one per input of fn (None where there is none)")
    grads: list[np.ndarray | None] = []
    missing: list[bool] = []
    for k, g in enumerate(result):
        if not loss.checked[k]:
            _ignored_gradient(loss, k, g)
            grads.append(None)
            continue
        x = loss.arrays[k]
        assert x is not None                    # every checked input has its array
        missing.append(g is None)
        g = np.zeros(x.shape, x.dtype) if g is None else _claimed_array(loss, k, g)
        if g.shape != x.shape:
            raise GradcheckError(_report(loss, "shape", [_defect(loss, k, Defect(
                f"has shape {g.shape}, expected the input's shape {x.shape}"
                f"{_shape_hint(g.shape, x.shape)}\n"
                f"  raised by   grad: its result {k} is the gradient of input {k}"))]))
        grads.append(g)
    return grads, missing, magnitude, values


def _ignored_gradient(loss: ArrayLoss, k: int, g) -> None:
    """A warning, once per input, where ``grad`` returns a nonzero gradient for an input
    held constant for its type (a float or np.float64 scalar, an integer array; not a float
    array that ``only=`` leaves out): the verdict ignores it,
    and a scalar the caller meant to check would pass without a word. Zeros, and JAX's
    float0, are how frameworks say there is none."""
    value = loss.constants[k]
    # NOTE: a floating array is constant only because only= left it out, on purpose
    if g is None or k in loss.warned_constant or (
            isinstance(value, np.ndarray) and value.dtype.kind in "fc"):
        return
    arr = np.asarray(g) if isinstance(g, (np.ndarray, np.generic, float, int)) else None
    if arr is not None and (arr.dtype.kind == "V" or (arr.dtype.kind in "fciub" and
                                                      not np.any(arr))):
        return
    loss.warned_constant.add(k)
    if isinstance(value, (float, np.floating)):
        what, fix = (f"the scalar {type(value).__name__} {float(value)!r}",
                     f"pass np.array({float(value)!r}) to check it")
    elif isinstance(value, np.ndarray):
        article = "an" if value.dtype.name[0] in "aeiou" else "a"
        what, fix = (f"{article} {value.dtype} array", "pass it as a float64 array to check it")
    else:
        what, fix = f"a {type(value).__name__}", "pass a float64 ndarray to check it"
    warnings.warn(f"gradcheck: grad returned a gradient for {loss.labels[k]}, {what}, which "
                  f"is held constant and not checked: that gradient is ignored; {fix}",
                  UserWarning, stacklevel=callers_stacklevel())


_IGNORES_V = ("grad gave the same gradient for 2·v as for v, so it ignores the cotangent v "
              "(random, shaped like fn's output; not ones): return Jᵀv, e.g. "
              "torch.autograd.grad(out, inputs, grad_outputs=v) or jax.vjp(f, *inputs)[1](v)")


def _ignored_cotangent(loss: ArrayLoss, grad, grads: list, inputs: list) -> list:
    """The failing inputs' reports, with a note where the claimed product is the same for
    2v as for v: a vector-Jacobian product that ignores v (``out.sum().backward()``, a
    cotangent of ones) is the commonest mistake, and no step or tolerance explains it."""
    saved = loss.cotangents
    assert saved is not None                    # drawn by the first call
    loss.cotangents = [2 * c for c in saved]
    try:
        doubled = _claimed_once(loss, grad=grad)[0]
    finally:
        loss.cotangents = saved
    return [dataclasses.replace(r, notes=r.notes + (_IGNORES_V,))
            if not r.passed and np.any(grads[r.index]) and
            np.array_equal(grads[r.index], doubled[r.index]) else r for r in inputs]


def _output_parts(loss: ScalarLoss, grad, inputs: list, magnitude: float) -> list:
    """The failing inputs' reports, with a note on which of fn's outputs the mismatch at
    the worst element comes from: L = Σ_j ⟨v_j, f_j⟩, so the backward and the numerical
    derivative split into one part per output, each computed with the other cotangents
    set to zero. A part fails where its gap exceeds the element's allowance (with the
    whole L's rounding noise ν, an upper bound on the part's)."""
    saved = loss.cotangents
    assert saved is not None                    # drawn by the first call
    failing = [r for r in inputs if not r.passed and r.comparison is not None
               and r.comparison.compared and r.comparison.worst_index is not None]
    parts: dict[int, list] = {r.index: [] for r in failing}
    try:
        for j in range(len(saved)):
            loss.cotangents = [c if i == j else np.zeros_like(c) for i, c in enumerate(saved)]
            analytic = (_backward_once(loss) if grad is None else
                        _claimed_once(loss, grad))[0]           # type: ignore[arg-type]
            for r in failing:
                parts[r.index].append(_output_part(loss, r, analytic[r.index], magnitude))
    finally:
        loss.cotangents = saved
    return [r if r.index not in parts else
            dataclasses.replace(r, notes=r.notes + _output_note(r, parts[r.index], loss))
            for r in inputs]


def _output_part(loss: ScalarLoss, r: InputReport, analytic: np.ndarray, magnitude: float
                 ) -> tuple[float, float, bool]:
    """(analytic, numerical, fails) of the current cotangents' L at r's worst element, by
    the method r's comparison used (the default step; the central steps' noise)."""
    c, tol = r.comparison, r.tolerance
    assert c is not None and c.worst_index is not None and tol is not None
    x = loss.arrays[r.index]
    assert x is not None
    idx = c.worst_index
    flat = int(np.ravel_multi_index(idx, x.shape)) if x.ndim else 0
    numeric = None
    if r.method == "complex_step":
        try:
            numeric = complex_step_at(lambda a: loss(a, complex_step=True), loss.arrays,
                                      r.index, [flat], complex_steps(x).reshape(-1)[[flat]])[0]
            noise = 0.0
        except ComplexStepNotApplicable:
            pass                                # this output stays real: central decides
    if numeric is None:
        h = float(central_steps(x, None, loss.precision).reshape(-1)[flat])
        numeric = central_differences_at(loss, loss.arrays, r.index, [flat], [h])[0]
        work = working_dtype(x, loss.precision)
        noise = NOISE_FACTOR * float(np.finfo(work).eps) * magnitude / h
    a = analytic[idx].item()
    allowed = float(_allowed(numeric, tol.atol, tol.rtol, noise,
                             floor=relative_floor(c.numeric_grad, c.analytic_grad)))
    return a, numeric.item(), bool(abs(a - numeric) > allowed)


def _output_note(r: InputReport, parts: list, loss: ScalarLoss) -> tuple[str, ...]:
    """"the mismatch at x[i] lies in output 1's part (...); output 0's part agrees": the
    outputs whose backward to look at, numbered as fn returns them (``parts`` holds those in
    L, ``loss.positions``), or nothing where no part fails alone."""
    c = r.comparison
    assert c is not None and c.worst_index is not None
    bad = [j for j, (_, _, fails) in enumerate(parts) if fails]
    if not bad:
        return ()

    def values(j):
        a, n, _ = parts[j]
        analytic, numerical = format_pair(a, n)
        return f"analytic {analytic}, numerical {numerical}"
    number = loss.positions
    good = [str(number[j]) for j in range(len(parts)) if j not in bad]
    lies = "; ".join(f"output {number[j]}'s part ({values(j)})" for j in bad)
    agree = "" if not good else f"; output {good[0]}'s agrees" if len(good) == 1 else \
        f"; those of outputs {', '.join(good[:-1])} and {good[-1]} agree"
    left = loss.n_outputs - len(parts)
    out = "" if not left else f" ({left} not floating-point, left out)"
    return (f"fn has {loss.n_outputs} outputs{out}: the mismatch at "
            f"{r.element(c.worst_index)} lies in {lies}{agree} (each part: L with the other "
            f"outputs' cotangents zero)",)


def _unchanged_inputs(loss: ArrayLoss, args: list) -> None:
    """ValueError where fn changed one of its checked inputs in place: every estimate
    evaluates fn at x ± h and reads the step it took back from x, so a function that moves
    x measures nothing it can be compared with (its backward then passed, or a kink was
    blamed)."""
    for k, (given, x) in enumerate(zip(args, loss.arrays)):
        if x is not None and loss.checked[k] and not np.array_equal(given, x, equal_nan=True):
            raise ValueError(f"gradcheck: fn changed {loss.labels[k]} in place "
                             f"(x -= ..., torch.from_numpy(x).sub_(...), which shares x's "
                             f"memory); the checks evaluate fn at x ± h and need it to leave "
                             f"its inputs as they are: work on a copy (x = x.copy(), "
                             f"torch.tensor(x))")


def _claimed_array(loss: ArrayLoss, k: int, g) -> np.ndarray:
    library = library_of(g)
    if library is not None:
        raise TypeError(f"gradcheck: grad returned a {library} array for {loss.labels[k]}; "
                        f"return NumPy arrays: {conversion_hint(library)}")
    arr = np.asarray(g) if isinstance(g, (np.ndarray, np.generic, float, int)) else None
    if arr is None or arr.dtype.kind not in "fc":
        got = type(g).__name__ if arr is None else f"dtype {arr.dtype}"
        raise TypeError(f"gradcheck: grad returned {got} for {loss.labels[k]}; expected a "
                        "floating-point ndarray shaped like that input (or None)")
    return arr


def _backward_once(loss: ScalarLoss):
    with enable_grad():
        args, outs = loss.invoke([None if a is None else layout_copy(a)
                                  for a in loss.arrays],
                                 requires_grad=True)
        values = [np.array(o.data) for o in outs]
        assert loss.cotangents is not None      # invoke draws them
        magnitude = float(sum(np.sum(np.abs(v * o.data)) for v, o in zip(loss.cotangents, outs)))
        terms = [(o * v.astype(o.dtype)).sum() for v, o in zip(loss.cotangents, outs)
                 if o.requires_grad]
        if terms:
            total = terms[0]
            for t in terms[1:]:
                total = total + t
            loss.ops = recorded_ops(total)          # the report names what ran
            try:
                total.backward()
            except GradientShapeError as err:
                raise GradcheckError(_engine_error_report(loss, err, args)) from err
    grads: list[np.ndarray | None] = []
    missing: list[bool] = []
    for k, t in enumerate(args):
        if not loss.checked[k]:
            grads.append(None)
            continue
        missing.append(t.grad is None)
        g = np.zeros(t.shape, t.dtype) if t.grad is None else np.asarray(t.grad)
        if g.shape != t.shape:
            raise GradcheckError(_report(loss, "shape", [_defect(loss, k, Defect(
                f"has shape {g.shape}, expected the input's shape {t.shape}"
                f"{_shape_hint(g.shape, t.shape)}"))]))
        grads.append(g)
    return grads, missing, magnitude, values


def _shape_hint(got: tuple, want: tuple) -> str:
    """What a wrongly shaped gradient likely is: the transpose, a broadcast input's
    gradient not summed over the axes it was broadcast along, or the right elements in
    another shape; "" where none fits."""
    got, want = tuple(got), tuple(want)
    if len(got) > 1 and got == want[::-1]:
        return f": {got} is the transpose of {want}"
    lead = len(got) - len(want)
    if lead > 0 and got[lead:] == want:
        axes = "axis" if lead == 1 else f"{lead} axes"
        return (f": {got} for {want}, not summed over the leading {axes} (an input "
                f"broadcast along {'it' if lead == 1 else 'them'} gets the sum of the "
                f"gradient there)")
    if int(np.prod(got, dtype=np.int64)) == int(np.prod(want, dtype=np.int64)):
        return ": the same number of elements, in another shape (a reshape missing?)"
    return ""


def _report(loss: ScalarLoss, method: str, inputs=(), claimed: bool = False,
            options=None) -> GradcheckReport:
    # NOTE: a gradient claimed through grad= ran none of this library's kernels, whatever
    # the check (a wrong shape, reentrancy) that reports it
    claimed = claimed or isinstance(loss, ArrayLoss)
    backend, device = _backend_that_ran(loss)
    return GradcheckReport(name=loss.name, method=method, inputs=tuple(inputs), seed=loss.seed,
                           backend=backend, device=device, keyword=loss.keyword,
                           claimed=claimed, options=MappingProxyType(dict(options or {})),
                           names=loss.given_names, named=loss.named,
                           fused=any(name in _FUSED for name, _ in loss.ops))


def _backend_that_ran(loss: ScalarLoss) -> tuple[str, str]:
    """(backend, device): "cuda" and the GPU's name where an op of fn ran on the GPU (its
    fused ops then run the CUDA kernels, whatever the active backend), else the active
    backend and "" (the CPU)."""
    backend = "cuda" if any(device == "cuda" for _, device in loss.ops) else get_backend()
    if backend != "cuda":
        return backend, ""
    # NOTE: imported here, where the GPU ran: numba.cuda is loaded already
    from ..kernels.cuda.arrays import device_name
    return backend, device_name()


def _constants(loss: ScalarLoss) -> tuple:
    """The inputs passed through unchecked, each as "label (what it is)": an integer array
    among them may be one the caller meant to check."""
    values = loss.constants
    described = []
    for k, checked in enumerate(loss.checked):
        if checked:
            continue
        v = values[k]
        data = v.data if isinstance(v, Tensor) else v
        if isinstance(data, np.ndarray):
            what = f"{data.dtype} {data.shape}" + (
                "" if data.dtype.kind in "fc" else ", not floating point")
        else:
            what = type(v).__name__
        described.append(f"{loss.labels[k]} ({what})")
    return tuple(described)


def _subject(loss: ScalarLoss, k: int, label: str | None = None) -> Subject:
    x = loss.arrays[k]
    assert x is not None                        # only checked inputs are reported
    return Subject(name=loss.names[k], index=k, label=loss.labels[k] if label is None else label,
                   display=loss.displays[k], shape=x.shape, dtype=str(x.dtype))


def _defect(loss: ScalarLoss, k: int, defect: Defect, label: str | None = None) -> InputReport:
    return InputReport(_subject(loss, k, label), method="backward", defect=defect)


def _reentrancy(subject: Subject, g1, g2, claimed: bool) -> Defect:
    """Two backward passes (two calls of ``grad``) gave different gradients: where and by how
    much."""
    with np.errstate(all="ignore"):
        diff = np.abs(g1 - g2)
    diff = np.where(np.isnan(diff), np.inf, diff)
    idx = tuple(int(i) for i in np.unravel_index(np.argmax(diff), g1.shape))
    passes, which = ("calls of grad", "fn or grad") if claimed else \
        ("backward passes", "fn's forward or backward")
    first, second = format_pair(g1[idx], g2[idx])
    text = (
        f"is not reentrant: two {passes} differ\n"
        f"  differ      {int(np.count_nonzero(diff))} / {g1.size} elements; the largest at "
        f"{subject.element(idx)}: first={first} second={second} "
        f"abs={diff[idx]:.1e}\n"
        f"  cause       {which} is not deterministic (random numbers, np.empty, state kept "
        "between calls, a race); seed any randomness inside it")
    return Defect(text, max_abs_error=float(diff.max()), worst_index=idx,
                  first=g1[idx].item(), second=g2[idx].item())


def _engine_error_report(loss: ScalarLoss, err: GradientShapeError, args) -> GradcheckReport:
    """The engine refused a wrongly shaped gradient: name the input it was for."""
    leaves = {id(t): k for k, t in enumerate(args) if loss.checked[k]}
    k = leaves.get(id(err.tensor))
    if k is not None:
        r = _defect(loss, k, Defect(f"has shape {err.grad_shape}, expected the input's shape "
                                    f"{err.tensor.shape}\n  raised by   the autograd engine: "
                                    f"{err}"))
    else:
        r = _defect(loss, loss.checked.index(True), Defect(
            "cannot be computed: backward failed for an intermediate tensor inside "
            f"fn\n  raised by   the autograd engine: {err}"), label="inputs")
    return _report(loss, "shape", [r])


# ---------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------

def _allowed(numeric, atol, rtol, noise=0.0, floor=None):
    """atol + rtol·max(|n|, floor) + ν, element by element; ``floor`` defaults to 1e-3·max|n|
    (``relative_floor``; pass the one of the whole gradient, with the analytic side, where
    there is one)."""
    floor = relative_floor(numeric) if floor is None else floor
    return atol + rtol * np.maximum(np.abs(numeric), floor) + noise


def _compare(analytic, numeric, tol: Tolerance, noise=0.0, strict=None) -> Comparison:
    """G2a element by element, for the two gradients of one input; ``noise`` is ν_i;
    ``strict``: where atol is not applied (resolved estimates grossly off, ``_gross``)."""
    if analytic.size == 0:
        return Comparison(analytic, numeric)
    with np.errstate(all="ignore"):
        finite = np.isfinite(analytic) & np.isfinite(numeric)
        err = np.where(finite, np.abs(analytic - numeric), np.inf)
        floor = relative_floor(numeric, analytic)
        allowed = _allowed(numeric, tol.atol, tol.rtol, noise, floor=floor)
        if strict is not None:
            allowed = np.where(strict, allowed - tol.atol, allowed)
        violation = np.where(err == 0, 0.0, np.where(allowed > 0, err / allowed, np.inf))
        size = np.abs(numeric)
        blind = (size >= floor) & (size > 0) & (allowed > BLIND_ERROR * size)
        n_blind = int(np.count_nonzero(blind))
        blind_sizes = (float(size[blind].min()), float(size[blind].max())) if n_blind \
            else (0.0, 0.0)
        blind_noise = float(np.broadcast_to(noise, size.shape)[blind].max()) if n_blind \
            else 0.0
        scale = np.maximum(size, np.abs(analytic))
        judged = (scale >= floor) & (scale > 0)
        unresolved = bool(np.any(judged)) and bool(np.all(
            np.broadcast_to(noise, scale.shape)[judged] >= UNRESOLVED_ERROR * scale[judged]))
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(violation), analytic.shape))
    return Comparison(analytic, numeric, violation, worst_index=worst,
                      analytic=analytic[worst].item(), numeric=numeric[worst].item(),
                      # NOTE: sizes of the finite pairs: a NaN has none, the notes name it
                      max_abs_error=float(np.max(err[finite], initial=0.0)),
                      max_rel_error=float(np.max(relative_error(analytic, numeric)[finite],
                                                 initial=0.0)),
                      n_failing=int(np.count_nonzero(violation > 1)),
                      n_blind=n_blind, blind_sizes=blind_sizes, blind_noise=blind_noise,
                      blind=blind if n_blind else None,
                      unresolved=unresolved,
                      strict=strict if strict is not None and np.any(strict) else None)


def _pattern_notes(subject: Subject, c: Comparison, tol: Tolerance,
                   regions: tuple = ()) -> tuple[str, ...]:
    """The hand-written backward's common bugs, where one explains the failure at every
    element within the tolerance (the allowance with the largest ν, scaled by |factor|):
    the analytic gradient is a constant multiple of the numeric one (a factor of 2, the
    sign), over the whole input or over the one block of ``regions`` ((label, text, mask)
    per block, ``blocks=``) that holds every failing element; or, for a square matrix
    input, the numeric one transposed. Nothing otherwise."""
    a, n = c.analytic_grad, c.numeric_grad
    if np.iscomplexobj(a) or np.iscomplexobj(n) or a.size < 2 or \
            not (np.all(np.isfinite(a)) and np.all(np.isfinite(n))):
        return ()
    with np.errstate(all="ignore"):
        allowed = _allowed(n, tol.atol, tol.rtol, tol.noise, floor=relative_floor(n, a))
        factor = _constant_factor(a, n, allowed)
        if factor is not None:
            return (f"analytic = {factor} × numeric at every element of {subject.display} "
                    f"(within the tolerance): {_factor_meaning(factor)}",)
        failing = c.violation > 1 if c.violation is not None else np.zeros(a.shape, bool)
        for label, text, mask in regions:
            if np.any(failing) and not np.any(failing & ~mask):
                factor = _constant_factor(a[mask], n[mask], allowed[mask])
                if factor is not None:
                    return (f"analytic = {factor} × numeric at every element of block "
                            f"{label!r} ({text}; within the tolerance), and the rest agrees: "
                            f"{_factor_meaning(factor)} in that block",)
        sized = int(np.count_nonzero(np.abs(n) > allowed))
        if n.ndim == 2 and n.shape[0] == n.shape[1] and sized >= 2 and \
                np.all(np.abs(a.T - n) <= allowed):
            return (f"analytic = numeric transposed at every element of {subject.display} "
                    f"(within the tolerance): the backward returns the gradient's transpose "
                    f"(x.T @ d where d @ x.T was due, or the reverse)",)
    return ()


def _constant_factor(a: np.ndarray, n: np.ndarray, allowed: np.ndarray) -> str | None:
    """The factor f, as the notes show it, where a = f·n within ``allowed`` (scaled by |f|)
    at every element and f is not 1 there; None otherwise."""
    square = float(np.sum(n * n))
    # NOTE: two elements of the gradient's scale at least: one alone is a multiple of any
    # other number
    if square == 0 or int(np.count_nonzero(np.abs(n) > allowed)) < 2:
        return None
    factor = float(np.sum(a * n)) / square
    off_one = abs(factor - 1) * np.abs(n) > allowed
    if not (np.any(off_one) and np.all(np.abs(a - factor * n) <= max(1.0, abs(factor))
                                       * allowed)):
        return None
    # NOTE: 2.0, -1.0 where the factor is a whole number to 6 digits (a multiple of an
    # estimate can be no closer), else 4 digits: 1.001
    return f"{round(factor):.1f}" if abs(factor - round(factor)) < \
        1e-6 * max(1.0, abs(factor)) else f"{factor:.4g}"


def _factor_meaning(shown: str) -> str:
    return "the sign is wrong" if shown == "-1.0" else \
        "a constant factor in the backward (a missing or extra scale, a 2 of a square, a " \
        "mean's 1/n)"


def _non_finite_notes(subject: Subject, c: Comparison) -> tuple[str, ...]:
    """The notes on non-finite values of either gradient, each naming the first such
    element; where the other side is finite there, it says which side is the cause (a NaN
    in a backward is no matter of the step)."""
    if not c.compared:
        return ()
    notes = []
    for what, bad, other, side in (("analytic", c.analytic_grad, c.numeric_grad, "numeric"),
                                   ("numeric", c.numeric_grad, c.analytic_grad, "analytic")):
        count = _non_finite(bad)
        if not count:
            continue
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(bad))[0])
        where = f"{format_value(bad[idx]).lstrip('+')} at {subject.element(idx)}"
        if np.isfinite(other[idx]):
            cause = "the backward (or grad) gives it, whatever the step" if what == "analytic" \
                else "fn's outputs are not finite at x ± h there (out of its domain, overflow)"
            where += f", where the {side} value is {format_value(other[idx])}: {cause}"
        notes.append(f"the {what} gradient has {count} non-finite value(s) ({where})")
    return tuple(notes)


def _non_finite(arr: np.ndarray) -> int:
    return arr.size - int(np.count_nonzero(np.isfinite(arr)))


def _index_text(index) -> str:
    def one(p):
        if isinstance(p, slice):
            text = f"{'' if p.start is None else p.start}:{'' if p.stop is None else p.stop}"
            return text + ("" if p.step in (None, 1) else f":{p.step}")
        if p is Ellipsis:
            return "..."
        return str(int(p)) if isinstance(p, (int, np.integer)) else "[...]"
    return ", ".join(one(p) for p in (index if isinstance(index, tuple) else (index,)))


def _check_blocks(loss: ScalarLoss, blocks) -> None:
    """ValueError for ``blocks=`` that do not fit their input's shape, before anything runs:
    an index past the end of an axis (a slice running past it would quietly label fewer
    elements), or :func:`lstm_gate_blocks`'s (:func:`gru_gate_blocks`'s) blocks for an input
    whose first axis is not 4H (3H) (each gate's rows would be another gate's)."""
    hidden = getattr(blocks, "hidden_size", None)
    for name, entries in blocks.items():
        k = loss.names.index(name)
        x = loss.arrays[k]
        if x is None:                           # a constant: never compared
            continue
        shape, label = x.shape, loss.labels[k]
        if hidden is not None and shape[:1] != (len(blocks.gates) * hidden,):
            n = len(blocks.gates)
            fits = (f"; hidden_size={shape[0] // n} fits it" if shape and shape[0] % n == 0
                    and shape[0] else "") + other_cell(shape[:1], hidden, blocks.gates)
            raise ValueError(f"gradcheck: blocks= made by {blocks.made_by}(..., hidden_size="
                             f"{hidden}) for {label} of shape {shape}: its first axis stacks "
                             f"the {n} gates, {n}H = {n * hidden} rows{fits}")
        for block, index in entries:
            parts = index if isinstance(index, tuple) else (index,)
            if any(p is Ellipsis or p is None for p in parts):
                continue                        # axes not known without NumPy's rules
            for axis, (part, n) in enumerate(zip(parts, shape)):
                if isinstance(part, slice):
                    past = any(v is not None and v > n for v in (part.start, part.stop))
                elif isinstance(part, (int, np.integer)):
                    past = not -n <= part < n
                else:
                    ends = np.asarray(part)
                    past = ends.dtype.kind in "iu" and ends.size > 0 and \
                        (ends.max() >= n or ends.min() < -n)
                if past:
                    raise ValueError(f"gradcheck: block {block!r} of {label} (shape {shape}) "
                                     f"reaches past the end of axis {axis}, of length {n}: "
                                     f"{_index_text(index)}; blocks must lie inside the "
                                     f"input (a wrong hidden size?)")


def _block_summary(subject: Subject, blocks, c: Comparison) -> BlockSummary:
    """Where the failing elements of a comparison lie among ``blocks``, [(label, index), ...]."""
    regions = []
    for label, index in blocks:
        mask = np.zeros(subject.shape, bool)
        try:
            mask[index] = True
        except (IndexError, TypeError, ValueError) as err:
            raise ValueError(f"gradcheck: block {label!r} of {subject.label}: {index!r} does "
                             f"not index an array of shape {subject.shape} ({err})") from None
        regions.append((label, f"{subject.display}[{_index_text(index)}]", mask))
    worst = next((label for label, _, mask in regions if mask[c.worst_index]), None)
    assert c.violation is not None              # called only for a comparison that compared
    failing = c.violation > 1
    counts = [(label, text, int(np.count_nonzero(failing & mask)))
              for label, text, mask in regions]
    counts = [count for count in counts if count[2]]
    outside = int(np.count_nonzero(failing & ~np.any([m for *_, m in regions], axis=0)))
    if not c.n_failing:
        text = ""
    elif len(counts) == 1 and not outside:
        text = f", all in block {counts[0][0]!r} ({counts[0][1]})"
    else:
        text = ", by block " + ", ".join(f"{label!r}: {n}" for label, _, n in counts) + \
            (f", outside every block: {outside}" if outside else "")
    return BlockSummary(tuple(regions), text, worst)


def _failing_region(subject: Subject, c: Comparison) -> BlockSummary | None:
    """Where more than one element fails and the failures lie in part of the input along
    some axis (a row, a column, a run or stride of them: a gate's rows, a broadcast bias),
    the smallest such region: ", exactly W[2, :]" where every element of it fails, ", all
    within W[4:8, :]" where some do. None where no axis narrows them down."""
    if not c.compared or c.n_failing < 2:
        return None
    assert c.violation is not None
    failing = c.violation > 1
    axes = []
    for a, n in enumerate(failing.shape):
        hit = np.flatnonzero(np.any(failing, axis=tuple(i for i in range(failing.ndim)
                                                         if i != a)))
        axes.append(_axis_text(hit, n))
    # NOTE: one list axis at most: with two, W[[0, 2], [0, 2]] would read as NumPy's two
    # elements, not the box of four it stands for
    lists = [a for a, (text, _) in enumerate(axes) if text.startswith("[")]
    for a in lists[1:]:
        axes[a] = (":", np.arange(failing.shape[a]))
    if all(text == ":" for text, _ in axes):
        return None
    box = np.zeros_like(failing)
    box[np.ix_(*[index for _, index in axes])] = True
    region = f"{subject.display}[{', '.join(text for text, _ in axes)}]"
    full = int(np.count_nonzero(box)) == c.n_failing
    return BlockSummary((), f", {'exactly' if full else 'all within'} {region}", None)


def _axis_text(hit: np.ndarray, n: int) -> tuple[str, np.ndarray]:
    """How the indices ``hit`` along an axis of ``n`` are written in a region (":" where
    no short form covers them), and the indices the text stands for."""
    every = np.arange(n)
    if len(hit) == n:
        return ":", every
    if len(hit) == 1:
        return str(int(hit[0])), hit
    step = int(hit[1] - hit[0])
    if np.all(np.diff(hit) == step) and (step == 1 or len(hit) >= 3):
        if step == 1:
            return f"{int(hit[0])}:{int(hit[-1]) + 1}", hit
        return f"{int(hit[0])}:{min(int(hit[-1]) + step, n)}:{step}", hit
    if len(hit) <= 4:
        return "[" + ", ".join(str(int(i)) for i in hit) + "]", hit
    return ":", every


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------

def gradcheck(fn, inputs, *, grad=None, method: str = "directional", eps=None, atol=None,
              rtol=None, seed: int = 0, raise_exception: bool = True, only=None, names=None,
              blocks=None, name=None, progress: bool | None = None) -> GradcheckReport:
    """Check a gradient against numerical derivatives (methods: module docstring).

    Two uses:

    - ``gradcheck(fn, inputs)`` checks the backward of ``fn``, a function of nongate_np
      Tensors (this library's ops, or your own :class:`~nongate_np.Function`).
    - ``gradcheck(f, inputs, grad=vjp)`` checks a gradient computed anywhere else (PyTorch,
      JAX, by hand): ``f`` maps NumPy arrays to an ndarray or scalar, and ``vjp`` returns
      the vector-Jacobian product it claims, as JAX's ``jax.vjp`` and PyTorch's
      ``torch.autograd.grad(out, inputs, grad_outputs=v)`` compute it. Complex-step then
      needs ``f`` to compute in complex128 when given a complex128 input; if it cannot,
      gradcheck says so (use central or directional).

    A PyTorch function and the gradient PyTorch computes for it::

        import torch

        def f(x, w):                      # float64 ndarrays in, an ndarray out
            dt = np.result_type(x, w)     # complex128 while complex-stepping one of them
            return torch.tanh(torch.from_numpy(x.astype(dt)) @
                              torch.from_numpy(w.astype(dt))).numpy()

        def f_vjp(x, w, v):               # v: the cotangent, shaped like f's output
            xt = torch.tensor(x, requires_grad=True)
            wt = torch.tensor(w, requires_grad=True)
            out = torch.tanh(xt @ wt)
            gx, gw = torch.autograd.grad(out, (xt, wt), grad_outputs=torch.from_numpy(v))
            return gx.numpy(), gw.numpy()

        x, w = np.random.randn(4, 3), np.random.randn(3, 2)    # float64
        print(gradcheck(f, [x, w], grad=f_vjp, method="complex_step"))    # or any method

    With JAX (``jax_enable_x64`` on), for a function ``g`` written with ``jax.numpy`` and
    compiled with ``jax.jit`` (central differences call it twice per element)::

        gradcheck(lambda x, w: np.asarray(g(x, w)), [x, w],
                  grad=lambda x, w, v: [np.asarray(d) for d in jax.vjp(g, x, w)[1](v)])

    A JAX pytree of parameters (nested dicts of arrays) goes in as its leaves, named by
    their paths, for ``loss(params)`` written with ``jax.numpy`` (and jitted)::

        from jax.tree_util import keystr, tree_flatten_with_path, tree_unflatten
        paths, leaves = zip(*tree_flatten_with_path(params)[0])
        tree = jax.tree_util.tree_structure(params)
        f = lambda *ls: np.asarray(loss(tree_unflatten(tree, ls)))
        f_vjp = lambda *a: [np.asarray(d) for d in jax.tree_util.tree_leaves(
            jax.vjp(loss, tree_unflatten(tree, a[:-1]))[1](a[-1])[0])]
        gradcheck(f, [np.asarray(l) for l in leaves], grad=f_vjp,
                  names=[keystr(p) for p in paths])

    Parameters
    ----------
    fn : callable
        Without ``grad``: ``fn(*inputs)``, or ``fn(**inputs)`` for a dict, returning a
        Tensor or a tuple/list of Tensors. With ``grad``: ``fn(*inputs)`` on ndarrays,
        returning a floating-point ndarray or scalar or a tuple/list of them. Integer and
        bool outputs (indices beside the values) are left out of the check. It must be
        deterministic (seed any randomness inside it).
    inputs : sequence or dict of ndarray / Tensor
        Floating/complex ndarrays and Tensors with ``requires_grad=True`` are checked (each
        becomes a fresh leaf Tensor, or with ``grad`` a fresh ndarray, laid out in memory as
        the caller's: a transposed or strided input reaches fn so, except one spread over
        more than 16 times its size, or 2 times while complex-stepping, which arrives
        densely in its axes' order: ``numdiff.layout_copy``; the caller's arrays are
        never modified); everything else is passed through as a constant, and the report
        lists it under "not checked" (``constants``). Use float64:
        float32 inputs warn and get the float32 tolerances. With ``grad``: a sequence of
        ndarrays (no Tensors, no dict; ``names=`` names them).
    grad : callable, optional
        ``grad(*inputs, v) -> gradients``: the vector-Jacobian product Jᵀv that is checked.
        ``v`` is a float64 ndarray shaped like ``fn``'s output (a tuple of them when ``fn``
        returns a tuple, with None in the place of an integer or bool output; for a
        one-element output it is 1, so the result is the gradient).
        It returns one ndarray per input, shaped like it (None for an input it gives no
        gradient, or a bare ndarray when there is one input). A nonzero gradient for an
        input held constant (a float scalar: pass ``np.array(2.0)`` to check it) is
        ignored, with a warning naming the input. It is called twice and must
        give identical results.
    method : "directional" (default), "central" or "complex_step"
        "complex_step" decides where its estimate agrees with central differences; where
        it is off them (fn not complex-analytic: abs, max), central decides (G2b) and the
        report says so ("checked by complex_step → central").
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
        Names of positional inputs for messages, ``only=`` and ``report[name]``. Default:
        fn's positional parameter names where it has one per input (``lambda x, w: ...``
        names them "x" and "w"), else "input 0", "input 1", ... (``*args``, no signature).
    blocks : dict, optional
        ``{input name: [(label, index), ...]}``, e.g. for an LSTM weight of shape (4H, I)
        ``{"W": [("i", np.s_[0:H]), ("f", np.s_[H:2*H]), ("g", ...), ("o", ...)]}``: the
        report says in which block the failing elements and the worst one lie.
        :func:`~nongate_np.check.lstm_gate_blocks` gives an LSTM's, by PyTorch's names.
    name : str, optional
        The function's name in messages (default ``fn.__name__``).
    progress : bool or None
        A bar on stderr over each element-wise check (central differences evaluate fn twice
        per element, complex-step once: 100,000 elements take minutes): True always, False
        never, None (default) on a terminal once a check has run 2 s (``PROGRESS_DELAY``).

    Returns
    -------
    GradcheckReport
        ``passed``, per-input ``inputs``, ``max_abs_error``, ``max_rel_error``, ``worst(k)``,
        ``constants`` (the inputs not checked), ``backend`` and ``device``: the kernels that
        ran, "cuda" and the GPU's name where an op of fn ran on the GPU, else the active
        backend and "".

    Raises
    ------
    GradcheckError
        A gradient mismatch, a backward (or ``grad``) that is not reentrant (two passes
        differ), or a gradient shaped unlike its input; ``str()`` is one block per failing
        input (its ``reproduce`` line is the call that checks that input alone by the
        failing method), ``.report`` the whole report (``str(err.report)``: the table of
        every input, the passing ones too).
    TypeError
        ``method="complex_step"`` on a function that drops the imaginary part or cannot take
        complex input; a PyTorch/JAX array among the inputs, or a function calling PyTorch/JAX
        given without ``grad`` (the message says how to convert and how to use ``grad``);
        ``grad`` returning anything but one floating-point ndarray (or None) per input;
        ``eps``, ``atol`` or ``rtol`` not a real number.
    ValueError
        An unknown ``method``; ``eps`` not finite and > 0, ``atol`` or ``rtol`` not finite
        and >= 0 (NaN included); a checked input holding NaN or inf (the message names the
        first such element).
    """
    if method not in METHODS:
        raise ValueError(f"gradcheck: method must be one of {', '.join(map(repr, METHODS))}, "
                         f"got {method!r}")
    if progress not in (None, True, False):
        raise TypeError(f"gradcheck: progress must be True, False or None, got {progress!r}")
    eps = check_option("gradcheck", "eps", eps, positive=True)
    atol = check_option("gradcheck", "atol", atol, positive=False)
    rtol = check_option("gradcheck", "rtol", rtol, positive=False)
    loss = ScalarLoss(fn, inputs, names=names, only=only, seed=seed, name=name) if grad is None \
        else ArrayLoss(fn, inputs, names=names, only=only, seed=seed, name=name)
    loss.refuse_non_finite()
    blocks = blocks or {}
    unknown = [b for b in blocks if b not in loss.names]
    if unknown:
        raise ValueError(f"gradcheck: blocks= names {unknown}, which are not inputs; the "
                         "inputs are " + ", ".join(repr(n) for n in loss.names) +
                         " (lstm_gate_blocks(names, H) takes the checked inputs' names)")
    _check_blocks(loss, blocks)
    coarse: dict = {}                           # dtype -> the inputs of it, labelled
    for k, x in enumerate(loss.arrays):
        if loss.checked[k] and x is not None and x.dtype not in (np.float64, np.complex128):
            named = "" if loss.displays[k].startswith("inputs[") else f" {loss.names[k]!r}"
            coarse.setdefault(x.dtype, []).append(f"input {k}{named}")
    for dtype, labels in coarse.items():        # one warning per dtype, naming its inputs
        a_tol, r_tol = tolerance(method, dtype)
        warnings.warn(f"gradcheck: {', '.join(labels)} {'is' if len(labels) == 1 else 'are'} "
                      f"{dtype}; use float64 ({dtype} tolerances apply: atol={a_tol:g}, "
                      f"rtol={r_tol:g})", UserWarning, stacklevel=2)
    try:
        grads, missing, magnitude, values = _analytic(loss, grad)
    except GradcheckError as err:
        if raise_exception:
            raise
        assert err.report is not None           # raised with a report, not the pickled str
        return err.report
    _coarser_outputs(loss, method, values)
    claimed = grad is not None
    checked = [k for k, c in enumerate(loss.checked) if c]
    not_finite = _non_finite_outputs(values)
    inputs = [_check_input(loss, k, grads[k], method, eps=eps, atol=atol, rtol=rtol,
                           magnitude=magnitude, blocks=blocks.get(loss.names[k]),
                           missing=missing[j], claimed=claimed, not_finite=not_finite,
                           progress=progress)
              for j, k in enumerate(checked)]
    if isinstance(loss, ArrayLoss) and not all(r.passed for r in inputs):
        inputs = _ignored_cotangent(loss, grad, grads, inputs)
    if len(loss.cotangents or ()) > 1 and not all(r.passed for r in inputs):
        inputs = _output_parts(loss, grad, inputs, magnitude)
    options = {key: value for key, value in (("eps", eps), ("atol", atol), ("rtol", rtol))
               if value is not None}
    report = dataclasses.replace(_report(loss, method, inputs, claimed=claimed,
                                         options=options), constants=_constants(loss),
                                 call_names=(_callable_name(loss.fn, "fn"),
                                             _callable_name(grad, "grad")))
    if raise_exception and not report.passed:
        raise GradcheckError(report)
    return report


def _callable_name(f, fallback: str) -> str:
    """How a reproduce line calls ``f``: its name where that is a (dotted) Python name
    (``f_vjp``, ``MyOp.apply``), else ``fallback`` (a lambda, a callable object, None)."""
    name = _function_name(f) if f is not None else ""
    return name if name and all(part.isidentifier() for part in name.split(".")) \
        else fallback


def _coarser_outputs(loss: ScalarLoss, method: str, values) -> None:
    """Where fn's outputs show that it computes in float32 while a checked input is
    float64 (a float32 PyTorch model fed float64 arrays, its result cast up or not): a
    warning, and ``loss.precision`` set, so that the steps, the rounding noise and the
    tolerances are float32's. With float64's, the steps are below what fn resolves and
    its rounding is taken for a wrong gradient or for a step problem."""
    precision = output_precision(values, [x for k, x in enumerate(loss.arrays)
                                          if loss.checked[k] and x is not None])
    if precision is None:
        return
    finer = [k for k, x in enumerate(loss.arrays) if loss.checked[k] and x is not None
             and working_dtype(x, precision) != working_dtype(x)]
    if not finer:
        return
    loss.precision = precision
    a_tol, r_tol = tolerance(method, precision)
    shown = ", ".join(loss.labels[k] for k in finer)
    warnings.warn(f"gradcheck: fn computes in {precision}: its outputs are {precision} "
                  f"values, while {shown} {'is' if len(finer) == 1 else 'are'} float64; its "
                  f"rounding limits what finite differences can check, so {precision} steps "
                  f"and tolerances apply (atol={a_tol:g}, rtol={r_tol:g}). For a precise "
                  f"check, run it in float64 (a PyTorch model: model.double(), and float64 "
                  f"inputs; JAX: jax.config.update('jax_enable_x64', True))", UserWarning,
                  stacklevel=3)


def _non_finite_outputs(values) -> str | None:
    """The note for a failure where fn's outputs at x are not all finite, or None."""
    for j, v in enumerate(values):
        v = np.asarray(v)
        if v.dtype.kind not in "fc":
            continue
        bad = ~np.isfinite(v)
        if np.any(bad):
            first = ", ".join(str(int(i)) for i in np.argwhere(bad)[0])
            where = f"(the scalar output, {v.item()})" if v.ndim == 0 else \
                f"({int(bad.sum())} of {v.size} values NaN or infinite, the first at [{first}])"
            return (f"fn's output {j} is not finite at these inputs {where}, nor is L: "
                    "its numerical derivatives mean nothing whatever the step or method, so "
                    "neither the step nor the backward is shown wrong; make fn finite there "
                    "(a log or sqrt outside its domain; or padding multiplied by zero, "
                    "0·NaN being NaN: select it away with where)")
    return None


def _check_input(loss: ScalarLoss, k: int, grad, method: str, *, eps, atol, rtol,
                 magnitude: float, blocks, missing: bool, claimed: bool,
                 not_finite: str | None = None, progress: bool | None = None,
                 numeric=None) -> InputReport:
    """The check of input k by ``method``: its report, assembled once from the parts.
    ``magnitude`` is Σ|v·f| at x; ``missing``: backward (or ``grad``) gave it no gradient;
    ``not_finite``: the note that fn's outputs at x are not finite, which then replaces
    the notes on the step; ``numeric``: the element-wise estimate at the method's step,
    where the caller has it already."""
    x = loss.arrays[k]
    assert x is not None                        # only checked inputs are checked
    subject = _subject(loss, k)
    work = working_dtype(x, loss.precision)     # x's dtype, or the coarser one fn uses
    rounding = NOISE_FACTOR * float(np.finfo(work).eps) * magnitude    # ν·h
    directional = None
    if method == "directional":
        tol = _directional_tolerance(x, eps, rounding, loss.precision,
                                     *_tolerance(method, work, atol, rtol))
        directional = _directional(loss, k, grad, tol)
        if directional.passed:
            return InputReport(subject, method, tol, directional=directional)
    # After a failed directional check the full central check of this input decides.
    full = "central" if method == "directional" else method
    if numeric is None:
        numeric = _estimate(loss, k, grad, full, eps, progress)
    comparison, tol, steps = _element_wise(loss, k, grad, numeric, full, eps, atol, rtol,
                                           rounding)
    notes = _non_finite_notes(subject, comparison)
    if full == "complex_step" and not_finite is None and comparison.compared:
        central, agreement = _against_central(loss, k, comparison, rounding, progress)
        if agreement is not None and np.any(_off_central(agreement)):
            return _central_decides(loss, k, grad, central, agreement, comparison,
                                    atol=atol, rtol=rtol, magnitude=magnitude, blocks=blocks,
                                    missing=missing, claimed=claimed, progress=progress)
        if agreement is not None and not comparison.passed:
            notes += ("central differences agree with complex-step's estimate within their "
                      "error bound at every element, so fn is complex-analytic here and "
                      "complex-step's verdict stands (it resolves errors below central "
                      "differences' bound)",)
    summary = _block_summary(subject, blocks, comparison) \
        if blocks and comparison.compared else _failing_region(subject, comparison)
    if comparison.unresolved:
        notes += (f"inconclusive: the rounding of fn's outputs at x (noise ν up to "
                  f"{tol.noise:.1e}, from Σ|v·f| = {magnitude:.1e}) alone allows a "
                  f"{UNRESOLVED_ERROR:.0%} error at every element, so these differences "
                  f"cannot tell a right gradient from a wrong one; take large constant terms "
                  f"out of fn's outputs (a loss's constant offset), or use "
                  f"method='complex_step'",)
    if comparison.n_strict:
        notes += (_gross_note(subject, comparison, tol),)
    if not verdict(directional, comparison):
        if work != working_dtype(x):
            notes += (f"fn computes in {work} (its outputs are {work} values): {work} steps "
                      f"and tolerances apply; run it in float64 for a precise check",)
        if not_finite is None and comparison.compared and not comparison.unresolved:
            notes += _pattern_notes(subject, comparison, tol,
                                    summary.regions if summary is not None else ())
        if not_finite is not None:
            notes += (not_finite,)
        elif steps is not None and comparison.compared and not comparison.unresolved:
            # NOTE: inconclusive: the estimates are rounding, and the note above says so
            notes += _step_notes(loss, k, comparison, tol, steps, rounding)
        if full == "complex_step" and not_finite is None and comparison.compared:
            kink = _complex_step_kink(loss, k, comparison, tol, rounding)
            notes += kink if kink else _complex_step_notes(loss, grad, numeric, comparison)
        if missing:
            notes += (_NO_CLAIMED_GRADIENT if claimed else _NO_GRADIENT,)
    return InputReport(subject, method, tol, directional=directional, comparison=comparison,
                       block_summary=summary, notes=notes)


def _gross_note(subject: Subject, c: Comparison, tol: Tolerance) -> str:
    """Why elements that atol would pass fail (``_gross``, G2a), with the worst of them."""
    assert c.strict is not None and c.violation is not None
    flat = int(np.argmax(np.where(c.strict, c.violation, -1.0)))
    idx = tuple(int(i) for i in np.unravel_index(flat, c.strict.shape))
    a, n = c.analytic_grad[idx], c.numeric_grad[idx]
    ratio = "" if np.iscomplexobj(a) or n == 0 else f", analytic/numeric = {a / n:+.2g}"
    analytic, numeric = format_pair(a, n)
    return (f"atol={tol.atol:g} alone would pass {c.n_strict} element(s) whose analytic value "
            f"is off by {GROSS_ERROR:.0%} or more ({subject.element(idx)}: analytic "
            f"{analytic}, numeric {numeric}{ratio}), but their numerical "
            f"estimates are resolved (those at 10h and h/10 agree within "
            f"{RESOLVED_SPREAD:.0%}, far above the rounding noise): atol stands for what "
            f"central differences cannot resolve, not for a gradient that is merely small, so "
            f"they are judged without it (docs/math.md G2a); atol=0 checks every element so")


def _estimate(loss: ScalarLoss, k: int, grad, method: str, eps, progress) -> np.ndarray:
    """∂L/∂x_k at every element by ``method`` (G1 at the default step, or G2)."""
    try:
        with progress_bar(loss, k, method, progress):
            return loss.gradient(k, method, eps)
    except ComplexStepNotApplicable:
        # fn's outputs stayed real: it drops the imaginary part, or never reads this input,
        # which central differences report as a zero gradient; so does complex-step then
        if grad is not None and not np.any(grad) and _ignored(loss, k):
            return np.zeros(np.shape(grad))
        raise


def _element_wise(loss: ScalarLoss, k: int, grad, numeric, method: str, eps, atol, rtol,
                  rounding: float) -> tuple[Comparison, Tolerance, np.ndarray | None]:
    """G2a at every element of input k, ``grad`` against the estimate ``numeric`` by
    ``method``; central's failing elements retried with smaller steps (``_step_ladder``).
    Returns the comparison, its tolerance and the steps of central's estimates (None for
    complex-step)."""
    x = loss.arrays[k]
    assert x is not None
    work = working_dtype(x, loss.precision)
    tol, noise = _difference_tolerance(x, method, eps, rounding, work,
                                       *_tolerance(method, work, atol, rtol))
    comparison = _compare(grad, numeric, tol, noise)
    steps = central_steps(x, eps, loss.precision) if method == "central" else None
    if method == "central" and eps is None and comparison.compared and not comparison.passed:
        numeric, noise, steps = _step_ladder(loss, k, grad, comparison, tol, noise, rounding)
        tol = dataclasses.replace(tol, noise=float(np.max(noise, initial=0.0)))
        comparison = _compare(grad, numeric, tol, noise)
    if method == "central" and comparison.compared and tol.atol > 0:
        assert steps is not None
        strict = _gross(loss, k, comparison, tol, noise, steps, rounding)
        if np.any(strict):
            comparison = _compare(grad, comparison.numeric_grad, tol, noise, strict=strict)
    return comparison, tol, steps


def _gross(loss: ScalarLoss, k: int, c: Comparison, tol: Tolerance, noise, steps,
           rounding: float) -> np.ndarray:
    """G2a: the elements that atol alone passes although their analytic value is off the
    numerical estimate by ``GROSS_ERROR`` or more (the sign, a factor of 2) and the estimate
    is resolved: those at 10h and h/10 lie within ``RESOLVED_SPREAD`` of it (truncation
    falls 100-fold per step, rounding grows 10-fold) and 10 ν_i is below that fraction of
    it. atol stands for what central differences cannot resolve, a zero gradient read
    through truncation (x³ at 0: c·h², which moves with h); a resolved estimate is the
    derivative to about 20 %, so a correct backward is never among these, while a sign-
    flipped gradient of 1e-9 passed under atol = 1e-8. Four evaluations per candidate."""
    x = loss.arrays[k]
    assert x is not None and c.violation is not None
    a, n = c.analytic_grad, c.numeric_grad
    with np.errstate(all="ignore"):
        err = np.abs(a - n)
        floor = relative_floor(n, a)
        without = _allowed(n, 0.0, tol.rtol, noise, floor=floor)
        rel = relative_error(a, n)
        candidate = (c.violation <= 1) & (err > without) & (rel >= GROSS_ERROR) & \
            (n != 0) & np.isfinite(n) & np.isfinite(a)
    strict = np.zeros(x.shape, bool)
    if not np.any(candidate):
        return strict
    flat = np.flatnonzero(candidate)
    h = np.broadcast_to(steps, x.shape).reshape(-1)[flat]
    here = n.reshape(-1)[flat]
    coarse = central_differences_at(loss, loss.arrays, k, flat, 10 * h)
    fine = central_differences_at(loss, loss.arrays, k, flat, h / 10)
    with np.errstate(all="ignore"):
        spread = RESOLVED_SPREAD * np.abs(here)
        resolved = (np.abs(coarse - here) <= spread) & (np.abs(fine - here) <= spread) & \
            (10 * rounding / h <= spread)
    strict.reshape(-1)[flat[resolved]] = True
    return strict


def _against_central(loss: ScalarLoss, k: int, c: Comparison, rounding: float, progress
                     ) -> tuple[np.ndarray | None, Comparison | None]:
    """G2b: complex-step's estimate (``c.numeric_grad``) against real central differences,
    by central's own tolerances (the caller's atol and rtol are for the verdict, not for
    what central differences resolve). Where complex-step passed, the directional check
    (G3, two evaluations of fn) of its estimate first: where that passes, (None, None).
    Else the central estimate at the default step and the element-wise comparison of
    complex-step's estimate with it (step ladder included): a central step too large for
    fn is not taken for complex-step being off."""
    x = loss.arrays[k]
    assert x is not None
    estimate = c.numeric_grad
    if c.passed:
        work = working_dtype(x, loss.precision)
        tol = _directional_tolerance(x, None, rounding, loss.precision,
                                     *tolerance("directional", work))
        if _directional(loss, k, estimate, tol).passed:
            return None, None
    central = _estimate(loss, k, None, "central", None, progress)
    agreement, _, _ = _element_wise(loss, k, estimate, central, "central", None, None, None,
                                    rounding)
    return central, agreement


def _off_central(agreement: Comparison) -> np.ndarray:
    """Where complex-step's estimate is off the central difference beyond central's
    allowance (G2b), both finite: nowhere where central differences cannot resolve fn (its
    rounding noise), which leaves complex-step's verdict, with no such noise."""
    assert agreement.violation is not None
    if agreement.unresolved:
        return np.zeros(agreement.violation.shape, bool)
    return (agreement.violation > 1) & np.isfinite(agreement.analytic_grad) & \
        np.isfinite(agreement.numeric_grad)


def _central_decides(loss: ScalarLoss, k: int, grad, central: np.ndarray | None,
                     agreement: Comparison, complex_step: Comparison, **options
                     ) -> InputReport:
    """G2b: complex-step's estimate is off the central difference beyond central's error
    bound, so fn is not complex-analytic here (abs, a conjugate, max, a real-only branch)
    and complex-step measured the derivative of another function: the full central check
    decides, and the report says where complex-step was off and why. A gradient that
    agreed with complex-step may miss the same term, and a note says so."""
    report = _check_input(loss, k, grad, "central", eps=None, numeric=central, **options)
    off = _off_central(agreement)
    assert agreement.violation is not None
    order = np.argsort(-np.where(off, agreement.violation, -1.0), axis=None, kind="stable")
    shown = [tuple(int(i) for i in np.unravel_index(f, off.shape))
             for f in order[:min(3, int(np.count_nonzero(off)))]]
    first = shown[0]
    stepped_text, central_text = format_pair(agreement.analytic_grad[first],
                                             agreement.numeric_grad[first])
    also = [report.element(idx) for idx in shown[1:]] + \
        (["..."] if np.count_nonzero(off) > len(shown) else [])
    inapplicable = (
        f"complex-step does not apply: its estimate is off the central difference by more "
        f"than central's error bound at {int(np.count_nonzero(off))} / {off.size} elements "
        f"({report.element(first)}: complex-step "
        f"{stepped_text}, central {central_text}"
        + (f"; also {', '.join(also)}" if also else "") +
        "), so fn is likely not complex-analytic (abs, a conjugate, max or relu, or a norm or "
        "variance of a complex value: np.abs, torch.abs, jnp.abs, x.var()) and complex-step "
        "differentiates another function: the central difference decided; check fn with "
        'method="central"')
    notes = report.notes
    if complex_step.passed:
        side = "claimed gradient" if options["claimed"] else "backward"
        notes = (f"complex-step agreed with the {side} (max rel "
                 f"{complex_step.max_rel_error:.1e}): a gradient that agrees with it may miss "
                 f"the same term",) + notes
    return dataclasses.replace(report, notes=notes, inapplicable=inapplicable)


def _ignored(loss: ScalarLoss, k: int) -> bool:
    """Whether L is exactly the same with input k moved by a random real step of 1e-3 of
    its scale: fn does not read it (one that reads it, even only its real part, changes)."""
    moved = list(loss.arrays)
    moved[k] = _moved(np.asarray(loss.arrays[k]), np.random.default_rng(0))
    return bool(loss(moved) == loss(loss.arrays))


def _moved(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """x with each element moved by 1e-3 of its scale (at least 1e-3), up or down at
    random: far beyond rounding, small enough to stay in fn's domain."""
    moved = layout_copy(x)                      # fn sees the caller's memory layout
    moved += (1e-3 * np.maximum(1.0, np.abs(x)) * rng.choice([-1.0, 1.0], x.shape)
              ).astype(x.dtype)
    return moved


# The central difference of a failing element is retried with steps 10, 100, ... times
# smaller, down to ε^(1/3)·min(|x_i|, 1)/10**LADDER_EXTRA (at least LADDER_MIN steps, at
# most LADDER_MAX): the default step ε^(1/3)·max(1, |x_i|) is far too large where the
# function varies on a scale below max(1, |x_i|): that of a small |x_i| (log, 1/x, sqrt, x³
# near 0), or 1 at a large x_i (tanh(x - 1e8)).
LADDER_MIN, LADDER_EXTRA, LADDER_MAX = 3, 2, 12


def _step_ladder(loss: ScalarLoss, k: int, grad, c: Comparison, tol: Tolerance, noise,
                 rounding: float):
    """G1 with smaller steps for the elements the default step fails, so that a correct
    backward is not accused because the step was too large for the element's magnitude.
    A smaller step's estimate counts only where the default step can be the cause: its
    truncation, read at 10h, could explain the gap (``_truncation_may_explain``), or the
    estimate moved away from the default one by more than the default's allowance and the
    finer step's noise; elsewhere the default step resolves the element better than any
    finer step (whose ν is 10^m times larger) and its verdict stands.

    At step h_m = h_(m-1)/10 the tolerance is a_m = atol + rtol·max(|n_m|, floor) + ν_m,
    ν_m = rounding/h_m (the criterion of the default step). An estimate has *converged*
    where it agrees with the one at h_(m-1) within a_m: truncation falls 100-fold per step,
    so it is then within about 1 % of a_m of the true derivative. An element passes at a
    level where a converged estimate matches the analytic value within a_m. Once two steps
    agree within the coarser one's tolerance a_(m-1) (its noise ν_m/10) and the estimate
    does not match (gap g = |a − n|), the descent goes on only while ν_m < g/4, where
    rounding cannot close the gap: so a backward wrong by more than about 2·a_(m-1) still
    fails at every level, while an agreement only within the finer step's noise allowance
    (by chance, truncation still large) does not stop the descent. An element whose steps
    never agree so is not resolved by central differences; it passes only within the noise
    ν, as at the default step. A gross mismatch the default step resolves (n(10h) and
    n(h) agree, ``_resolved_mismatch``) keeps n(h) without the descent.
    The numeric value kept is the matching estimate, else the first converged one, else the
    default-step one. Returns the numeric gradient, ν_i and the step of each element's
    estimate."""
    x = loss.arrays[k]
    assert x is not None and c.violation is not None
    real = working_dtype(x, loss.precision)         # complex128 -> float64
    numeric = np.array(c.numeric_grad, copy=True).reshape(-1)
    noise = np.array(np.broadcast_to(noise, x.shape), dtype=np.float64).reshape(-1)
    steps = central_steps(x, None, loss.precision).reshape(-1)
    analytic = np.asarray(grad).reshape(-1)
    magnitude = np.abs(x).reshape(-1).astype(real)
    settled = c.violation.reshape(-1) <= 1         # estimates the comparison accepted
    todo = np.flatnonzero(~settled)
    h = steps[todo]
    # down to the step for a function of scale min(|x_i|, 1): relative to a small x_i, and
    # absolute (ε^(1/3)) for a large one that varies on scale 1 (tanh(x - 1e8))
    finest = float(np.finfo(real).eps) ** (1 / 3) * np.clip(magnitude[todo], TINY, 1.0)
    depth = np.clip(np.ceil(np.log10(h / finest)) + LADDER_EXTRA, LADDER_MIN, LADDER_MAX)
    smallest = 4 * np.spacing(magnitude[todo]).astype(np.float64)   # x ± h must move x
    previous = numeric[todo]
    # the default step's estimate and allowance, and whether it can be the cause (above)
    default = numeric[todo]
    default_allowed = _allowed(default, tol.atol, tol.rtol, noise[todo],
                               floor=relative_floor(c.numeric_grad, c.analytic_grad))
    coarse = central_differences_at(loss, loss.arrays, k, todo, 10 * h)
    explained = _truncation_may_explain(coarse, default, analytic[todo], default_allowed)
    # NOTE: a gross mismatch the default step resolves keeps its estimate without the descent
    gross = _resolved_mismatch(c, tol, todo, coarse, noise[todo]) & ~explained
    settled[todo[gross]] = True
    todo, h, depth, smallest, previous, default, default_allowed, explained = (
        v[~gross] for v in (todo, h, depth, smallest, previous, default, default_allowed,
                            explained))
    gap = np.full(len(todo), np.inf)               # until a converged estimate mismatches
    recorded = np.zeros(x.size, bool)
    for level in range(1, LADDER_MAX + 1):
        h = h / 10
        live = (depth >= level) & (h >= smallest) & (rounding / h < gap / 4)
        if not np.any(live):
            break
        todo, h, depth, smallest, previous, gap, default, default_allowed, explained = (
            v[live] for v in (todo, h, depth, smallest, previous, gap, default,
                              default_allowed, explained))
        estimate = central_differences_at(loss, loss.arrays, k, todo, h)
        nu = rounding / h
        # NOTE: the floor from settled estimates only: one from a step far too large can be
        # astronomically off (exp over a step 600 times its scale)
        plain = _allowed(estimate, tol.atol, tol.rtol,
                         floor=relative_floor(numeric[settled], analytic[settled]))
        with np.errstate(all="ignore"):
            moved = np.abs(previous - estimate)
            off = np.abs(analytic[todo] - estimate)
            shifted = ~np.isfinite(default) | (np.abs(default - estimate) > default_allowed + nu)
        converged = (moved <= plain + nu) & (explained | shifted)
        matches = converged & (off <= plain + nu)
        # a mismatch counts once the steps agree within the coarser step's tolerance (its
        # noise is 10 times smaller): agreeing only within the finer one's, they may agree
        # by chance while truncation is still large
        first = (moved <= plain + nu / 10) & ~matches & np.isinf(gap)
        keep = (converged & ~recorded[todo]) | matches
        numeric[todo[keep]] = estimate[keep]
        noise[todo[keep]] = nu[keep]
        steps[todo[keep]] = h[keep]
        recorded[todo[converged]] = True
        settled[todo[first | matches]] = True
        gap = np.where(first, off, gap)
        left = ~matches
        todo, h, depth, smallest, previous, gap, default, default_allowed, explained = (
            todo[left], h[left], depth[left], smallest[left], estimate[left], gap[left],
            default[left], default_allowed[left], explained[left])
    return numeric.reshape(x.shape), noise.reshape(x.shape), steps.reshape(x.shape)


def _truncation_may_explain(coarse, estimate, analytic, allowed) -> np.ndarray:
    """Which failing elements' gap |a − n| the truncation error of their step h could
    explain, read from the estimate ``coarse`` at 10h (noise 10 times smaller than at h):
    n(h) = g + c₂h² + …, so the truncation at h is about |n(10h) − n(h)| / 99. ``allowed``:
    the allowance at h. Not finite at either step: the step may be the cause (a pole within
    10h)."""
    with np.errstate(all="ignore"):
        explained = np.abs(coarse - estimate) / 99 + allowed >= np.abs(analytic - estimate)
    return explained | ~np.isfinite(coarse) | ~np.isfinite(estimate)


def _resolved_mismatch(c: Comparison, tol: Tolerance, todo, coarse, noise) -> np.ndarray:
    """Which failing elements ``todo`` are grossly wrong where the default step h resolves
    them: the analytic value is off the estimate n(h) by ``GROSS_ERROR`` or more (the sign,
    a factor of 2) and ``coarse``, n(10h), agrees with n(h) within the tolerance at 10h
    (noise ν/10), so both are the derivative to within it and no smaller step can come near
    the analytic value: the step ladder would keep n(h) at every level. Its purpose, a
    correct element not accused for one bad step, needs no descent for these, which spares
    a gross failure its 2 evaluations per level (one sign-flipped block cost 3-5 times a
    passing check). Only structure of fn finer than h/10 that n(10h) and n(h) both miss
    could move a finer step's estimate; that is not what the ladder is for."""
    n = c.numeric_grad.reshape(-1)[todo]
    plain = _allowed(n, tol.atol, tol.rtol,
                     floor=relative_floor(c.numeric_grad, c.analytic_grad))
    rel = relative_error(c.analytic_grad, c.numeric_grad).reshape(-1)[todo]
    with np.errstate(all="ignore"):
        return (np.abs(coarse - n) <= plain + noise / 10) & (rel >= GROSS_ERROR)


# Up to KINK_SCAN failing elements after the worst are examined too: each that is a kink is
# named as one, and the worst where fn is differentiable gets the note on its step, so the
# notes do not depend on which of them happens to be the worst.
KINK_SCAN = 8


def _step_notes(loss: ScalarLoss, k: int, c: Comparison, tol: Tolerance, steps,
                rounding: float) -> tuple[str, ...]:
    """The notes on the failing elements (the worst and up to ``KINK_SCAN`` more, by
    decreasing violation): one for the kinks among them (``_kink_note``), and the step note
    (``_step_note``) of the worst one where fn is differentiable, after it."""
    kinks: list = []
    smooth = None
    for idx in [c.worst_index] + _next_failing(c, KINK_SCAN):
        note = _element_kink(loss, k, c, tol, rounding, idx, steps)
        if note is not None:
            kinks.append((idx, note))
        elif smooth is None:
            # NOTE: None at a non-finite analytic value: the next such element gets the note
            step = _step_note(loss, k, c, tol, steps, rounding, idx)
            smooth = None if step is None else (idx, step)
    notes = []
    if kinks:
        notes.append(kinks[0][1] + _other_kinks(loss, k, kinks[1:]))
    if smooth is not None:
        prefix = _beside_kink(loss, k, smooth[0]) if kinks else ""
        notes.append(prefix + smooth[1])
    return tuple(notes)


def _other_kinks(loss: ScalarLoss, k: int, others: list) -> str:
    """"; so is fn at x[4] and x[7] ...": the further kinks among the scanned elements."""
    if not others:
        return ""
    where = [_subject(loss, k).element(idx) for idx, _ in others]
    listed = where[0] if len(where) == 1 else ", ".join(where[:-1]) + " and " + where[-1]
    return (f"; fn is not differentiable at {listed} either (their one-sided slopes differ "
            f"likewise)")


def _next_failing(c: Comparison, n: int) -> list[tuple]:
    """The indices of the failing elements after the worst, by decreasing violation: at
    most ``n``."""
    assert c.violation is not None
    flat = np.flatnonzero(c.violation.reshape(-1) > 1)
    order = flat[np.argsort(-c.violation.reshape(-1)[flat], kind="stable")][1:n + 1]
    return [tuple(int(i) for i in np.unravel_index(f, c.violation.shape)) for f in order]


def _beside_kink(loss: ScalarLoss, k: int, idx) -> str:
    return (f"beside the kink, {_subject(loss, k).element(idx)} fails too, where fn is "
            f"differentiable (its one-sided slopes agree); ")


def _plain(c: Comparison, tol: Tolerance, idx, value) -> float:
    """The noise-free allowance of element ``idx`` at the estimate ``value``: without atol
    where the element is judged without it (``_gross``)."""
    strict = c.strict is not None and bool(c.strict[idx])
    return float(_allowed(value, 0.0 if strict else tol.atol, tol.rtol,
                          floor=relative_floor(c.numeric_grad, c.analytic_grad)))


def _step_note(loss: ScalarLoss, k: int, c: Comparison, tol: Tolerance, steps,
               rounding: float, idx) -> str | None:
    """Whether the step could explain element ``idx``'s mismatch, from its central
    difference at 10h, h and h/10 (h: the step its estimate came from); the element is no
    kink (``_element_kink``). The truncation error at h is about |n(10h) − n(h)| / 99
    (``_truncation_may_explain``); where it and the tolerance at h (its noise ν included)
    fall short of the gap to the analytic value, or the three estimates agree: the step is
    not the cause. Otherwise, with ν above the noise-free tolerance: central differences
    cannot resolve the element. Otherwise the estimates move with the step: it may be too
    large (or, for an explicit eps far below ε^(1/3)·|x_i|, too small). None where the
    analytic value is not finite and the estimates are: the note on non-finite values
    says what is wrong, and no step is."""
    x = loss.arrays[k]
    assert x is not None
    h = float(steps[idx])
    flat = int(np.ravel_multi_index(idx, x.shape)) if x.ndim else 0
    n_big, n_mid, n_small = central_differences_at(loss, loss.arrays, k, [flat] * 3,
                                                   [10 * h, h, h / 10])
    plain = _plain(c, tol, idx, n_mid)
    noise = rounding / h
    first = float(central_steps(x, None, loss.precision)[idx])
    # NOTE: h < first where the ladder stepped down from the method's step
    reduced = f" (the check stepped down to it from {first:.1e})" if h < first else ""
    values = (f"{format_value(n_mid)} with the step h = {h:.1e}{reduced}, "
              f"{format_value(n_big)} with 10h, {format_value(n_small)} with h/10")
    where = _subject(loss, k).element(idx)
    magnitude = float(np.abs(x[idx]))
    analytic = c.analytic_grad[idx].item()
    finite = bool(np.all(np.isfinite([n_big, n_mid, n_small])))
    if finite and not np.isfinite(analytic):
        return None
    with np.errstate(all="ignore"):
        truncation = abs(n_big - n_mid) / 99
        gap = abs(analytic - n_mid)
        not_the_step = bool(truncation + plain + noise < gap)      # False for NaN
        # NOTE: h/10 carries 10 times the noise of h
        still = finite and max(abs(n_big - n_mid), abs(n_small - n_mid)) <= plain + 10 * noise
    if not_the_step or still:
        return (f"the step is not the cause: the central difference at {where} is "
                f"{values}; its truncation error at h, about 1/99 of the change from 10h "
                f"({truncation:.1e}), cannot explain the gap ({gap:.1e}) to the analytic "
                f"value {format_value(analytic)}")
    if noise > plain:
        return (f"central differences cannot resolve {where} (magnitude {magnitude:.1e}): "
                f"the rounding noise of L over the step (ν={noise:.1e} at h) exceeds the "
                f"tolerance ({plain:.1e}) before the truncation error is small ({values}); "
                "check it with method='complex_step'")
    relative = float(np.finfo(working_dtype(x, loss.precision)).eps) ** (1 / 3) * magnitude
    if 0 < h < relative / 10:
        way, better = "small", relative
    else:
        way, better = "large", min(h / 100, relative) if relative > 0 else h / 100
    return (f"the finite-difference step may be too {way} for values of magnitude "
            f"{magnitude:.1e} at {where}: its central difference moves with the step "
            f"({values}); try eps={better:.1e} or method='complex_step'")


def _complex_step_kink(loss: ScalarLoss, k: int, c: Comparison, tol: Tolerance,
                       rounding: float) -> tuple[str, ...]:
    """The kink notes (:func:`_kink_note`) for a complex-step failure, from real one-sided
    differences at the central step: at relu's 0 or a tie of max the branch the real part
    picks gives one slope, the backward may give another. The worst element and up to
    ``KINK_SCAN`` more failing ones are examined; empty where none is a kink, else the
    kinks' note and, for the worst failing element that is not one, its values."""
    kinks, smooth = [], None
    assert c.worst_index is not None
    for idx in [c.worst_index] + _next_failing(c, KINK_SCAN):
        note = _element_kink(loss, k, c, tol, rounding, idx)
        if note is not None:
            kinks.append((idx, note))
        elif smooth is None:
            smooth = idx
    if not kinks:
        return ()
    notes = [kinks[0][1] + _other_kinks(loss, k, kinks[1:])]
    if smooth is not None:
        notes.append(_beside_kink(loss, k, smooth) + (
            f"the analytic value is {format_value(c.analytic_grad[smooth])}, complex-step's "
            f"{format_value(c.numeric_grad[smooth])}, and complex-step subtracts nothing, so "
            f"its step is not the cause"))
    return tuple(notes)


def _element_kink(loss: ScalarLoss, k: int, c: Comparison, tol: Tolerance, rounding: float,
                  idx, steps=None) -> str | None:
    """:func:`_kink_note` at element ``idx``, with one-sided steps of the size ``steps``
    gives there (the central steps where None)."""
    x = loss.arrays[k]
    assert x is not None
    h = float((central_steps(x, None, loss.precision) if steps is None else steps)[idx])
    flat = int(np.ravel_multi_index(idx, x.shape)) if x.ndim else 0
    plain = _plain(c, tol, idx, c.numeric_grad[idx])
    return _kink_note(loss, k, flat, h, plain, rounding / h, _subject(loss, k).element(idx))


def _kink_note(loss: ScalarLoss, k: int, flat: int, h: float, plain: float, noise: float,
               where: str) -> str | None:
    """Where L has a kink at the element (relu, abs, max at a tie): its slopes left and
    right of it differ, by as much at h/10 as at h (for a smooth L the gap shrinks with
    the step), and by more than the tolerance and the rounding of a one-sided difference
    allow. Central differences then average the two slopes, and no step resolves them:
    the note says so, instead of blaming the backward or the step."""
    left, right = one_sided_differences_at(loss, loss.arrays, k, flat, h)
    left_fine, right_fine = one_sided_differences_at(loss, loss.arrays, k, flat, h / 10)
    gap, gap_fine = abs(right - left), abs(right_fine - left_fine)
    # NOTE: a one-sided difference at h/10 carries twice the noise of the central one at h
    # (one step, not two, and 10 times smaller): 20 ν
    if not (gap_fine > plain + 20 * noise and gap_fine > gap / 2):
        return None
    return (f"fn is not differentiable at {where}: its slope left of it is "
            f"{format_value(left_fine)} and right of it {format_value(right_fine)} "
            f"(one-sided differences with the step {h / 10:.1e}; {format_value(left)} and "
            f"{format_value(right)} with {h:.1e}), so central differences give their mean at "
            f"any step, complex-step the slope of the branch the real part picks, and the "
            f"backward's value there is one choice among them (PyTorch takes 0 for relu and "
            f"abs at 0): check fn at inputs away from the kink")


def _tolerance(method: str, dtype, atol, rtol) -> tuple[float, float]:
    """(atol, rtol): the caller's where given, else ``TOLERANCES``'."""
    a_tol, r_tol = tolerance(method, dtype)
    return a_tol if atol is None else atol, r_tol if rtol is None else rtol


def _directional_tolerance(x: np.ndarray, eps, rounding: float, precision, atol, rtol
                           ) -> Tolerance:
    """The step h along u (G3) and the rounding noise of L over it (``precision``: the
    dtype fn computes in, :func:`working_dtype`)."""
    h = directional_step(x, eps, precision)
    return Tolerance(atol, rtol, eps=h, noise=float(rounding / h),
                     dtype=working_dtype(x, precision).name)


def _difference_tolerance(x: np.ndarray, method: str, eps, rounding: float, work, atol,
                          rtol):
    """The base step of central differences (G1) or complex-step (G2), and ν_i per element:
    the rounding noise of L over the step h_i (none for complex-step); ``work``: the dtype
    whose ε sets the step (:func:`working_dtype`)."""
    if method == "central":
        base = float(np.finfo(work).eps ** (1 / 3)) if eps is None else float(eps)
        noise = rounding / np.maximum(1.0, np.abs(x)) / base if eps is None else \
            np.full(x.shape, rounding / base)
    else:
        base, noise = COMPLEX_STEP if eps is None else float(eps), 0.0
    rule = "·max(1,|x_i|)" if eps is None else ""
    return Tolerance(atol, rtol, eps=base, eps_rule=rule,
                     noise=float(np.max(noise, initial=0.0)), dtype=np.dtype(work).name), noise


# A complex-step mismatch below this relative size is within what float64 rounding in a
# backward that subtracts nearly equal terms can produce (rtol 1e-11 is ~5e4 ulps).
_ROUNDING_SIZED = 1e-8


def _complex_step_notes(loss: ScalarLoss, grad, numeric, c: Comparison) -> tuple[str, ...]:
    """Why a complex-step check that applies (G2b) may fail: never the step (no
    subtraction); fn dropping the imaginary part; rounding amplified by cancellation in
    the backward."""
    notes: tuple[str, ...] = ("complex-step subtracts nothing, so its step (1e-20·max(1,"
                              "|x_i|)) is not the cause",)
    if c.compared and c.max_rel_error < _ROUNDING_SIZED and \
            not (_non_finite(c.analytic_grad) or _non_finite(c.numeric_grad)):
        notes += (f"the mismatch (rel {c.max_rel_error:.1e}) is of the size float64 rounding "
                  "reaches when the backward subtracts nearly equal terms (cancellation); a "
                  "wrong formula is usually far larger: compare method='central'",)
    if loss.real_outputs:
        notes += (f"output(s) {loss.real_outputs} stayed real under complex-step on this "
                  "input: if they depend on it, fn drops the imaginary part",)
    if not np.any(numeric) and np.any(grad):
        notes += ("complex-step gave exactly 0 everywhere: fn likely drops the imaginary part "
                  "inside (.data, .real) and rebuilds complex values",)
    return notes


def _directional(loss: ScalarLoss, k: int, grad, tol: Tolerance) -> Directional:
    """G3: ⟨g, u⟩ against (L(x + h u) − L(x − h u)) / 2h for a fixed-seed direction u,
    within √(Σ_i (|u_i|·allowed_i)²) + ν (the module's docstring says why)."""
    x = loss.arrays[k]
    assert x is not None                        # only checked inputs are checked
    # NOTE: every |u_i| in [0.5, 1]: an element with a near-zero weight in u could hide a
    # wrong gradient there under the other elements' tolerances.
    rng = np.random.default_rng([loss.seed, k + 1])
    u = rng.choice([-1.0, 1.0], size=x.shape) * rng.uniform(0.5, 1.0, size=x.shape)
    numeric, u_eff = directional_derivative(loss, loss.arrays, k, u, tol.eps)
    analytic = np.sum(grad * u_eff)
    bound = _root_sum_squares(np.abs(u_eff) * _allowed(grad, tol.atol, tol.rtol)) + tol.noise
    finite = bool(np.isfinite(analytic) and np.isfinite(numeric) and np.all(np.isfinite(grad)))
    err = float(abs(analytic - numeric)) if finite else np.inf
    weighted = np.abs(grad * u_eff)
    typical = float(np.median(weighted[weighted > 0])) if finite and np.any(weighted) else 0.0
    # NOTE: where the noise alone allows half of a typical element's term, a pass would
    # hide that much error in it: the full central check then decides (and says whether it
    # is inconclusive)
    resolved = typical == 0.0 or tol.noise < UNRESOLVED_ERROR * typical
    # NOTE: finite first: an inf in grad makes the bound inf too, and inf <= inf
    passed = finite and bool(err <= bound) and resolved
    if passed and tol.atol > 0:
        passed = not _gross_projection(loss, k, u, grad, u_eff, numeric, err, tol)
    return Directional(analytic=analytic.item(), numeric=np.asarray(numeric).item(),
                       max_abs_error=err,
                       # NOTE: not finite: inf, not inf/inf (a NaN and a RuntimeWarning)
                       max_rel_error=err / max(abs(analytic), abs(numeric),
                                               REL_FLOOR * float(np.sum(np.abs(grad * u_eff))),
                                               TINY) if finite else np.inf,
                       passed=passed, analytic_grad=grad,
                       sensitivity=bound / typical if typical > 0 else np.inf)


def _gross_projection(loss: ScalarLoss, k: int, u, grad, u_eff, numeric, err: float,
                      tol: Tolerance) -> bool:
    """G2a for the directional check: whether atol alone passes a projection ⟨g, u⟩ off
    the central difference by ``GROSS_ERROR`` or more whose estimate is resolved (those at
    10h and h/10 within ``RESOLVED_SPREAD`` of it, 10 ν below that): the input then goes to
    the full central check, which judges each element (``_gross``). Without it a sign-
    flipped gradient of 1e-9 passed under atol = 1e-8 at every element."""
    analytic = float(np.real(np.sum(grad * u_eff)))
    value = float(np.real(numeric))
    without = _root_sum_squares(np.abs(u_eff) * _allowed(grad, 0.0, tol.rtol)) + tol.noise
    scale = max(abs(analytic), abs(value))
    if not (err > without and scale > 0 and err >= GROSS_ERROR * scale and value != 0):
        return False
    spread = RESOLVED_SPREAD * abs(value)
    if 10 * tol.noise > spread:
        return False
    for h in (10 * tol.eps, tol.eps / 10):
        other = float(np.real(directional_derivative(loss, loss.arrays, k, u, h)[0]))
        if not abs(other - value) <= spread:
            return False
    return True


def _root_sum_squares(terms: np.ndarray) -> float:
    """√(Σ t_i²), scaled by the largest |t_i| so that no square overflows (allowances of a
    gradient of 1e200) or underflows; inf or NaN where a term is."""
    largest = float(np.max(np.abs(terms), initial=0.0))
    if largest == 0 or not np.isfinite(largest):
        return largest
    return largest * float(np.sqrt(np.sum((terms / largest) ** 2)))
