"""Loss functions with fused, hand-derived backward. Derivations: docs/math.md E13-E15
(E13a, E13b, E13c: weights, label smoothing, probability targets, nll_loss; E14a: mse_loss's
weight; E14b: l1_loss; E15a: binary_cross_entropy on probabilities).

Each takes ``reduction`` in {"mean", "sum", "none"} as torch does. A "mean" over no element
(zero rows, or every cross_entropy target ignored) is 0, where torch gives NaN. A loss whose
exact value exceeds the dtype's maximum is inf, silently as in torch; float32 losses are summed
in float64, so a mean of losses near the float32 maximum stays finite.
"""

from __future__ import annotations

import numbers
import operator
import warnings

import numpy as np

from ..autograd import Function
from ..device import DeviceError
from ..kernels.array_api import NUMPY
from ..tensor import Tensor, as_array
from ..userline import callers_stacklevel
from ._util import (
    broadcast_error,
    ieee,
    numeric_arg,
    operand,
    promoted_as_torch,
    result_dtype_as_torch,
    tensor_arg,
    unbroadcast,
    xp_of,
)
from .elementwise import cast

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(loss: np.ndarray, reduction: str, count: float) -> np.ndarray:
    """The losses ``loss`` summed, or summed and divided by ``count`` (the number of losses
    or their total weight; 0 counts as 1, so the mean of no loss is 0), or as they are
    ("none")."""
    if reduction == "none":
        return loss
    xp = xp_of(loss)
    # NOTE: float32 losses are summed in float64: their float32 sum can overflow where the
    # mean does not (each loss near 3e38)
    wide = xp.astype(loss, np.float64) if loss.dtype == np.float32 else loss
    total = xp.sum(wide)
    total = xp.divide(total, count or 1) if reduction == "mean" else total
    return xp.astype(total, loss.dtype) if wide is not loss else total


def _reduce_grad(dy: np.ndarray, reduction: str, count: float, shape: tuple) -> np.ndarray:
    if reduction == "none":
        return dy
    xp = xp_of(dy)
    scale = 1.0 / (count or 1) if reduction == "mean" else 1.0
    return xp.broadcast_to(xp.multiply(dy, scale), shape)


def _row_weighted_nll(xp, y, q):
    """ℓ_n = −Σ_c q_nc y_nc (E13a), summing only the classes with q_nc ≠ 0.

    NOTE: the classes with q = 0 are selected away, never multiplied by 0: their
    log-probability may be −inf (a masked logit) or NaN (a row of −inf only, ignored)."""
    M = y.shape[0]
    terms = xp.where(xp.not_equal(q, 0), xp.multiply(q, y), 0)
    return xp.negative(xp.reshape(xp.sum(terms, axis=(1,)), (M,)))


def _dl_column(ctx, dl):
    """The upstream gradient of each row's loss, as a column (M, 1)."""
    M = ctx.rows
    return xp_of(dl).reshape(_reduce_grad(dl, ctx.reduction, ctx.divisor, (M,)), (M, 1))


def _counted_only(xp, counted, d):
    """``d`` (M, C) with the rows not counted set to 0 by selection (an inf upstream gradient
    or a NaN log-probability there gives 0, not NaN)."""
    return xp.where(xp.reshape(counted, (len(counted), 1)), d, 0)


@ieee
class NLLLoss(Function):
    """ℓ_n = −Σ_c q_nc y_nc  (E13a);  dy = −q dℓ,  dq = −y dℓ  (E13a, E13c).

    y (M, C) log-probabilities; q (M, C) each row's class coefficients (E13b: the weighted,
    smoothed one-hot of its target; E13c: weighted, smoothed probabilities), a constant
    array or a Tensor; ``counted`` (M,) bool, False for a row whose target is ignored (its q
    is 0). The "mean" divides the sum by ``divisor`` (0 counts as 1: no weight gives 0).
    Saved: y and q.
    """

    @staticmethod
    def forward(ctx, y, q, counted, divisor, reduction):
        xp = xp_of(y)
        ctx.save_for_backward(y, q, counted)
        ctx.rows, ctx.reduction, ctx.divisor = y.shape[0], reduction, divisor
        return _reduce(_row_weighted_nll(xp, y, q), reduction, divisor)

    @staticmethod
    def backward(ctx, dl):
        y, q, counted = ctx.saved
        xp = xp_of(dl)
        dl = _dl_column(ctx, dl)
        dy = _counted_only(xp, counted, xp.negative(xp.multiply(q, dl)))     # E13a
        dq = xp.negative(xp.multiply(y, dl)) if ctx.needs_grad[1] else None  # E13c
        return dy, dq, None, None, None


@ieee
class CrossEntropy(Function):
    """NLLLoss of log_softmax(z) in one node: ℓ_n = −Σ_c q_nc log softmax(z_n)_c;
    dz_n = (softmax(z_n) Σ_c q_nc − q_n) dℓ_n  (E13, E13a).

    z (M, C) logits, the class axis last; q, ``counted``, ``divisor`` as in NLLLoss. Saved:
    log_softmax(z) (softmax is its exp) and q.
    """

    @staticmethod
    def forward(ctx, z, q, counted, divisor, reduction):
        y = xp_of(z).log_softmax(z, axis=1)
        return NLLLoss.forward(ctx, y, q, counted, divisor, reduction)

    @staticmethod
    def backward(ctx, dl):
        y, q, counted = ctx.saved
        xp = xp_of(dl)
        dl = _dl_column(ctx, dl)
        total = xp.sum(q, axis=(1,), keepdims=True)
        dz = xp.multiply(xp.subtract(xp.multiply(xp.exp(y), total), q), dl)     # E13a
        dq = xp.negative(xp.multiply(y, dl)) if ctx.needs_grad[1] else None    # E13c
        return _counted_only(xp, counted, dz), dq, None, None, None


def _wide(xp, a):
    """``a`` in float64 where it is float32: sums of float32 losses and weights are taken
    in float64 (see _reduce)."""
    return xp.astype(a, np.float64) if a.dtype == np.float32 else a


def _pointwise_forward(ctx, x, y, w, reduction, op, value):
    """The forward of a loss s(x - y) per element, weighted by ``w`` (E14a): the shared body
    of MSELoss (s = d², E14) and L1Loss (s = |d|, E14b); ``value(xp, d)`` gives s. Saved:
    d = x - y, and w and s with a weight; for its "mean", D and ℓ̄ (0 where Σ w = 0) as 0-d
    arrays on the device."""
    xp = xp_of(x, y, w)
    x, y = (v if isinstance(v, numbers.Number) else xp.asarray(v) for v in (x, y))
    x, y = promoted_as_torch(xp, x, y)      # an int64 target leaves float32 as float32
    try:
        diff = xp.subtract(x, y)
    except ValueError:
        raise broadcast_error(op, x, y) from None
    except TypeError as err:    # e.g. NumPy's bool subtract: named by the op
        raise TypeError(f"{op}: {err}") from None
    ctx.shapes, ctx.reduction = (np.shape(x), np.shape(y)), reduction
    s = value(xp, diff)
    if w is None:
        ctx.save_for_backward(diff, None, None)
        return _reduce(s, reduction, diff.size)
    s, w = promoted_as_torch(xp, s, xp.asarray(w))     # a bool or int w takes s's dtype
    loss = xp.multiply(w, s)
    ctx.save_for_backward(diff, w, s)
    if reduction != "mean":
        return _reduce(loss, reduction, loss.size)
    total, weights = xp.sum(_wide(xp, loss)), xp.sum(_wide(xp, w))
    nothing = xp.equal(weights, 0)
    # NOTE: D and ℓ̄ stay 0-d device arrays: a Python number would copy Σ w to the host
    ctx.divisor = xp.where(nothing, 1, weights)                               # E14a
    mean = xp.divide(total, ctx.divisor)
    ctx.mean = xp.where(nothing, 0, mean)
    return xp.astype(mean, loss.dtype)


def _pointwise_backward(ctx, dl, slope):
    """dx = s'(d) w dℓ, dy = -dx, dw = Σ_broadcast s dℓ (less ℓ̄ dℓ̄ / D for a weighted
    "mean"), E14a; ``slope(xp, d, g)`` gives s'(d) g."""
    diff, w, s = ctx.saved
    xp = xp_of(dl)
    shape = diff.shape if w is None else np.broadcast_shapes(diff.shape, w.shape)
    if w is not None and ctx.reduction == "mean":
        g = xp.divide(dl, ctx.divisor)                                        # dℓ/D (E14a)
        dl = xp.broadcast_to(xp.astype(g, dl.dtype), shape)
    else:
        dl = _reduce_grad(dl, ctx.reduction, diff.size, shape)
    dx = slope(xp, diff, dl if w is None else xp.multiply(w, dl))
    sx, sy = ctx.shapes                                            # broadcast operands (E1)
    dw = None
    if w is not None and ctx.needs_grad[2]:
        dw = unbroadcast(xp.multiply(s, dl), w.shape)                         # E14a
        if ctx.reduction == "mean":
            dw = xp.subtract(dw, xp.astype(xp.multiply(ctx.mean, g), dw.dtype))
    return (unbroadcast(dx, sx) if ctx.needs_grad[0] else None,
            unbroadcast(xp.negative(dx), sy) if ctx.needs_grad[1] else None, dw, None)


def _squared(xp, d):
    return xp.multiply(d, d)


def _twice(xp, d, g):
    # NOTE: 2 (d g), not (2 d) g: the same value (×2 is exact) without the overflow of 2 d
    # for |d| > max/2 where the mean's gradient is finite
    return xp.multiply(2, xp.multiply(d, g))                                  # E14


def _absolute(xp, d):
    """|d|; complex d (a complex step): ±d by the sign of its real part (E19)."""
    if np.iscomplexobj(d):
        return xp.where(xp.less(np.real(d), 0), xp.negative(d), d)
    return xp.abs(d)


def _signed(xp, d, g):
    """sign(d) g as selects (E14b, E19): 0 at d = 0 and at NaN, and an inf g there gives 0."""
    re = np.real(d) if np.iscomplexobj(d) else d
    return xp.where(xp.greater(re, 0), g, xp.where(xp.less(re, 0), xp.negative(g), 0))


@ieee
class MSELoss(Function):
    """ℓ = (x - y)²;  dx = 2 (x - y) dℓ,  dy = -dx  (E14). With a weight w of x's shape
    (E14a): ℓ = w (x - y)², "mean" ℓ̄ = Σ ℓ / D with D = Σ w (1 where Σ w = 0), whose
    elements' dℓ is dℓ̄ / D; dx = 2 (x - y) w dℓ, dy = -dx, dw = Σ_broadcast (x - y)² dℓ,
    less ℓ̄ dℓ̄ / D for "mean" (where Σ w ≠ 0).

    x, y broadcast (E1); w (a constant array, or a Tensor that gets its gradient) None or
    of x's shape, promoted with (x - y)² as torch. Saved: x - y, and w and (x - y)² with a
    weight; for its "mean", D and ℓ̄ (0 where Σ w = 0) as 0-d arrays on the device.
    """

    @staticmethod
    def forward(ctx, x, y, w, reduction):
        return _pointwise_forward(ctx, x, y, w, reduction, "mse_loss", _squared)

    @staticmethod
    def backward(ctx, dl):
        return _pointwise_backward(ctx, dl, _twice)


@ieee
class L1Loss(Function):
    """ℓ = |x - y|;  dx = sign(x - y) dℓ (0 at x = y, as torch),  dy = -dx  (E14b). With a
    weight w of x's shape, MSELoss's weighting and "mean" (E14a) with |x - y| for (x - y)²:
    dx = sign(x - y) w dℓ, dw = Σ_broadcast |x - y| dℓ, less ℓ̄ dℓ̄ / D for "mean".

    x, y broadcast (E1); w as MSELoss's. Complex x - y (a complex step) takes ±(x - y) by
    the sign of its real part (E19). Saved: x - y, and w and |x - y| with a weight.
    """

    @staticmethod
    def forward(ctx, x, y, w, reduction):
        return _pointwise_forward(ctx, x, y, w, reduction, "l1_loss", _absolute)

    @staticmethod
    def backward(ctx, dl):
        return _pointwise_backward(ctx, dl, _signed)


def _is_array(v) -> bool:
    """A host or GPU array (not a Python or NumPy scalar)."""
    return isinstance(v, np.ndarray) or hasattr(v, "copy_to_host")


def _arithmetic(xp):
    """xp's (add, subtract, multiply), which leave two scalars to Python's operators: a
    Python float stays weak as in NumPy's own expressions (NEP 50), where ``np.multiply``
    would make a float64 scalar that promotes float32 arrays."""
    def of(f, op):
        return lambda a, b: f(a, b) if _is_array(a) or _is_array(b) else op(a, b)
    return (of(xp.add, operator.add), of(xp.subtract, operator.sub),
            of(xp.multiply, operator.mul))


def _on_device_of_logits(xp, v, what: str, op: str = "binary_cross_entropy_with_logits",
                         of: str = "the logits"):
    """An array ``v`` on the device of ``op``'s input (``xp``; ``of`` names that input): a
    host array is copied to the GPU, a GPU array beside host input refused (DeviceError, as
    for two tensors); a scalar as it is."""
    if not _is_array(v):
        return v
    if xp is NUMPY and xp_of(v) is not NUMPY:
        raise DeviceError(f"{op}: {what} is on cuda and {of} on cpu; move it to one device "
                          f"with .to(...) first")
    return xp.asarray(v)


@ieee
class BCEWithLogits(Function):
    """ℓ = ω [(1 - y) z + w softplus(-z)], w = 1 + (p - 1) y  (E15, p = pos_weight, ω the
    rescaling weight, 1 if None); dz = ω [(1 - y) - w σ(-z)],  dy = ω [-z + (p - 1)
    softplus(-z)].

    Runs on the device of z through its array functions, in the order of the NumPy
    expressions above (so CPU results are NumPy's bit for bit); a host target, ``pos_weight``
    or ``weight`` array is copied to z's device."""

    @staticmethod
    def forward(ctx, z, y, pos_weight, weight, reduction):
        xp = xp_of(z)
        y = _on_device_of_logits(xp, y, "the target")
        p = 1.0 if pos_weight is None else _on_device_of_logits(xp, pos_weight, "pos_weight")
        omega = None if weight is None else _on_device_of_logits(xp, weight, "weight")
        add, sub, mul = _arithmetic(xp)
        w = add(1, mul(sub(p, 1), y))
        sp = xp.softplus(xp.negative(z))
        loss = add(mul(sub(1, y), z), mul(w, sp))
        if omega is not None:
            loss = mul(omega, loss)
        ctx.save_for_backward(z, y, w, sp, p, omega)
        ctx.reduction, ctx.shape = reduction, loss.shape
        return _reduce(loss, reduction, loss.size)

    @staticmethod
    def backward(ctx, dl):
        z, y, w, sp, p, omega = ctx.saved
        xp = xp_of(dl)
        dl = _reduce_grad(dl, ctx.reduction, int(np.prod(ctx.shape)), ctx.shape)
        add, sub, mul = _arithmetic(xp)
        if omega is not None:
            dl = mul(omega, dl)
        dz = dy = None
        if ctx.needs_grad[0]:
            dz = mul(sub(sub(1, y), mul(w, xp.sigmoid(xp.negative(z)))), dl)
        if ctx.needs_grad[1]:
            dy = mul(add(xp.negative(z), mul(sub(p, 1), sp)), dl)
        return dz, dy, None, None, None


_LOG_FLOOR = -100.0     # torch clamps each log of binary_cross_entropy at −100
# NOTE: torch's floor of x (1 − x) in its gradient is the float32 constant 1e-12
# (9.99999996e-13), in float64 too
_EPS = float(np.float32(1e-12))


def _log1p(xp, u):
    """log(1 + u) from the array functions' log, to a few ulps where log(1 + u) alone loses
    the digits of a small u.

    NOTE: Goldberg's trick: with v = fl(1 + u), log(v) · u / (v − 1) divides out v's
    rounding (v − 1 is exact); where v = 1, log(1 + u) = u to rounding."""
    v = xp.add(1, u)
    v1 = xp.subtract(v, 1)
    exact = xp.equal(v1, 0)
    # NOTE: the divisor 1 where v = 1, so the branch not taken holds no 0/0 either
    ratio = xp.divide(u, xp.where(exact, 1, v1))
    return xp.where(exact, u, xp.multiply(xp.log(v), ratio))


def _at_least(xp, v, floor: float):
    """max(v, floor), comparing the real part of a complex v (a complex step, E19)."""
    re = np.real(v) if np.iscomplexobj(v) else v
    return xp.where(xp.less(re, floor), floor, v)


@ieee
class BCELoss(Function):
    """ℓ = ω [(y − 1) max(log(1 − x), −100) − y max(log x, −100)]  (E15a, torch's clamped
    logs; ω the weight, 1 if None);  dx = ω (x − y) / max(x (1 − x), 1e-12) dℓ,
    dy = ω [log(1 − x) − log x] dℓ, torch's backward (E15a): the unclamped loss's gradient,
    its denominator floored.

    x probabilities in [0, 1] (checked by the caller), y of x's shape, ω broadcast to it.
    Runs on x's device through its array functions; a host target or weight is copied
    there. Saved: x, y, ω, log x and log(1 − x).
    """

    @staticmethod
    def forward(ctx, x, y, weight, reduction):
        xp = xp_of(x)
        y = _on_device_of_logits(xp, y, "the target", "binary_cross_entropy", "the input")
        omega = None if weight is None else _on_device_of_logits(
            xp, weight, "weight", "binary_cross_entropy", "the input")
        add, sub, mul = _arithmetic(xp)
        log_x, log_1mx = xp.log(x), _log1p(xp, xp.negative(x))
        # NOTE: torch's order of the terms: (y − 1) max(log1p(−x), −100) − y max(log x, −100)
        loss = sub(mul(sub(y, 1), _at_least(xp, log_1mx, _LOG_FLOOR)),
                   mul(y, _at_least(xp, log_x, _LOG_FLOOR)))
        if omega is not None:
            loss = mul(omega, loss)
        ctx.save_for_backward(x, y, omega, log_x, log_1mx)
        ctx.reduction, ctx.shape = reduction, loss.shape
        return _reduce(loss, reduction, loss.size)

    @staticmethod
    def backward(ctx, dl):
        x, y, omega, log_x, log_1mx = ctx.saved
        xp = xp_of(dl)
        dl = _reduce_grad(dl, ctx.reduction, int(np.prod(ctx.shape)), ctx.shape)
        add, sub, mul = _arithmetic(xp)
        if omega is not None:
            dl = mul(omega, dl)
        dx = dy = None
        if ctx.needs_grad[0]:
            # NOTE: x (1 − x) floored at 1e-12, as torch: finite (±1e12 dℓ) at x = 0 and 1
            spread = _at_least(xp, mul(sub(1, x), x), _EPS)
            dx = mul(xp.divide(sub(x, y), spread), dl)                         # E15a
        if ctx.needs_grad[1]:
            dy = mul(sub(log_1mx, log_x), dl)                                  # E15a
        return dx, dy, None, None


def _classes_last(x: Tensor) -> Tensor:
    """(C,) → (1, C) and (N, C, d1, …) → (N·d1·…, C): one row per prediction (E16)."""
    n_classes = x.shape[0] if x.ndim == 1 else x.shape[1]
    if x.ndim > 2:
        x = x.permute((0, *range(2, x.ndim), 1))
    return x.reshape(-1, n_classes)


def _checked_input(x, op: str) -> Tensor:
    """The logits (log-probabilities for nll_loss): (C,) or (N, C, d1, …) with C ≥ 1."""
    what = "logits" if op == "cross_entropy" else "input"
    x = numeric_arg(x, op)
    if x.ndim == 0:
        raise ValueError(f"{op}: {what} must be (N, C) or (C,), got a 0-d tensor")
    n_classes = x.shape[0] if x.ndim == 1 else x.shape[1]
    if n_classes == 0:
        raise ValueError(f"{op}: {what} of shape {x.shape} have 0 classes; expected at "
                         f"least one")
    return x


def _real_dtype(dtype) -> np.dtype:
    """float64 for float64 and complex128 (a complex-step check), float32 for float32."""
    return np.empty(0, dtype).real.dtype


def _checked_weight(weight, x: Tensor, op: str):
    """``weight`` as a Tensor or array of shape (C,) and the input's precision: its real
    dtype, or the complex one (a complex-step check); a list or tuple takes the real dtype.
    ValueError for another shape, TypeError for another dtype, as torch."""
    if weight is None:
        return None
    n_classes = x.shape[0] if x.ndim == 1 else x.shape[1]
    want = _real_dtype(x.dtype)
    if isinstance(weight, (list, tuple)):
        weight = as_array(weight, want, what=f"{op}: weight")
    elif not isinstance(weight, Tensor):
        weight = as_array(weight, what=f"{op}: weight")
    if weight.shape != (n_classes,):
        raise ValueError(f"{op}: weight must have shape ({n_classes},) (one per class), got "
                         f"{weight.shape}")
    if _real_dtype(weight.dtype) != want:       # complex of that precision: a complex-step
        raise TypeError(f"{op}: weight must be {want} like the input, got {weight.dtype}; "
                        f"convert it, e.g. weight.astype(np.{want})")
    return weight


def _class_coefficients(op: str, x: Tensor, target, weight, ignore_index: int,
                        label_smoothing: float):
    """q (M, C), counted (M,), the mean's divisor and the shape of the unreduced loss for
    integer class targets (E13b):
    q_n = (1 − ε) w_{t_n} onehot(t_n) + (ε/C) w for a counted row, 0 for an ignored one;
    the divisor is Σ w_{t_n} over the counted rows (their number without weights), as
    torch. q has the input's precision and is made on its device."""
    t = as_array(target.data if isinstance(target, Tensor) else target, what=f"{op}: target")
    unbatched = x.ndim == 1
    expected = () if unbatched else (x.shape[0],) + x.shape[2:]
    if t.dtype.kind not in "iu":
        also = " or probabilities of the logits' shape " + str(x.shape) \
            if op == "cross_entropy" else ""
        raise TypeError(f"{op}: target must hold integer class indices of shape {expected}"
                        f"{also}, got {t.dtype} of shape {t.shape}")
    if t.shape != expected:
        raise ValueError(f"{op}: target has shape {t.shape}, expected {expected} for input "
                         f"of shape {x.shape}")
    n_classes = x.shape[0] if unbatched else x.shape[1]
    bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise IndexError(f"{op}: target {t[bad].flat[0]} is out of range for {n_classes} "
                         f"classes (expected 0..{n_classes - 1} or "
                         f"ignore_index={ignore_index})")
    if isinstance(weight, Tensor):
        if weight.requires_grad:
            raise ValueError(f"{op}: not differentiable with respect to weight for class "
                             f"targets (as in torch); pass weight.detach()")
        weight = weight.data
    t = t.reshape(-1)
    counted = t != ignore_index
    safe_t = np.where(counted, t, 0)
    w = None if weight is None else xp_of(weight).to_host(weight)
    # NOTE: the input's precision (a weight has it already): float32 logits give float32
    # coefficients and a float32 loss, as torch's
    dtype = _real_dtype(x.dtype) if w is None else w.dtype
    # NOTE: each coefficient formed in (at least) float64 and rounded once to that dtype
    wide = np.ones(n_classes) if w is None else w.astype(np.result_type(w.dtype, np.float64))
    spread = (label_smoothing / n_classes) * wide                  # every class's share
    on_target = np.where(counted, (1 - label_smoothing) * wide[safe_t] + spread[safe_t], 0)
    divisor = float(wide[safe_t[counted]].sum()) if w is not None else int(counted.sum())
    # NOTE: q made on the input's device from its rows and columns (M + C numbers), not
    # made on the host and copied there whole (M·C)
    xp = xp_of(x.data)
    hit = xp.equal(xp.asarray(np.arange(n_classes).reshape(1, n_classes)),
                   xp.asarray(safe_t.reshape(-1, 1)))
    q = xp.where(hit, xp.asarray(on_target.astype(dtype).reshape(-1, 1)),
                 xp.asarray(spread.astype(dtype).reshape(1, -1)))
    if label_smoothing:                                         # an ignored row's q is 0
        q = xp.where(xp.asarray(counted.reshape(-1, 1)), q, 0)
    return q, xp.asarray(counted), divisor, expected


def _probability_coefficients(target, weight, label_smoothing: float) -> Tensor:
    """q (M, C) = w ⊙ ((1 − ε) p + ε/C) for probability targets p of the logits' shape
    (E13c), built with autograd ops: the gradient reaches p (and a weight Tensor that
    requires one), as in torch. Every row counts; the mean divides by their number."""
    p = _classes_last(tensor_arg(target, "cross_entropy"))
    n_classes = p.shape[1]
    if label_smoothing:
        p = p * (1 - label_smoothing) + label_smoothing / n_classes
    return p if weight is None else p * weight


def _check_label_smoothing(label_smoothing, op: str = "cross_entropy") -> None:
    if not isinstance(label_smoothing, numbers.Real):
        raise TypeError(f"{op}: label_smoothing must be a float in [0, 1], got "
                        f"{type(label_smoothing).__name__}")
    if not 0 <= float(label_smoothing) <= 1:    # NaN fails too (torch ignores it silently)
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")


def _check_ignore_index(ignore_index, op: str, positional_hint: bool = True) -> None:
    """TypeError for a non-int ``ignore_index``; where ``op`` is a function, the hint that
    torch's third positional argument (an array there, most likely) is its weight."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        hint = ("; torch's third positional argument is weight: pass weight=... by keyword"
                if positional_hint else "")
        raise TypeError(f"{op}: ignore_index must be an int, got "
                        f"{type(ignore_index).__name__}{hint}")


def cross_entropy(logits, target, ignore_index: int = -100, reduction: str = "mean", *,
                  weight=None, label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy, as ``torch.nn.functional.cross_entropy``.

    ``logits`` (N, C) or (N, C, d1, …), or (C,) unbatched. ``target`` either integer class
    indices (N,) or (N, d1, …) (a scalar for (C,)), or class probabilities of the logits'
    shape (floating; they receive a gradient too). ``weight`` (C,), of the logits' dtype,
    rescales each class; ``label_smoothing`` ε in [0, 1] mixes each target with the uniform
    distribution: (1 − ε)·NLL + ε·(mean over the classes of −log p), weighted as torch.

    Class targets equal to ``ignore_index`` contribute nothing, and "mean" divides by the
    summed weight of the other targets (their number without ``weight``); a mean with no
    weight to divide by (every target ignored) is 0, where torch gives NaN. Probability
    targets: "mean" divides by the number of rows (N·d1·…), and ``ignore_index`` must stay
    negative, as torch. Returns a 0-d tensor, or the target's shape for ``reduction="none"``
    (the batch shape for probabilities). Equations: docs/math.md E13, E13a, E13b, E13c.

    ``weight`` and ``label_smoothing`` are keyword-only: torch's third positional argument
    is ``weight``, ours ``ignore_index`` (an array there is a TypeError saying so).

    Raises
    ------
    ValueError
        An unknown reduction, a 0-d or 0-class input, a target or weight of the wrong shape,
        ``label_smoothing`` outside [0, 1], ``ignore_index`` ≥ 0 with probabilities, a weight
        that requires a gradient with class targets (torch: not differentiable).
    TypeError
        Non-integer class targets, integer probabilities, a weight of another dtype than
        the logits', a non-integer ``ignore_index``.
    IndexError
        A class target outside 0..C-1 that is not ``ignore_index``.
    """
    _check_reduction(reduction, "cross_entropy")
    _check_ignore_index(ignore_index, "cross_entropy")
    _check_label_smoothing(label_smoothing)
    z = _checked_input(logits, "cross_entropy")
    weight = _checked_weight(weight, z, "cross_entropy")
    if np.shape(target.data if isinstance(target, Tensor) else target) == z.shape:
        return _cross_entropy_with_probabilities(z, target, weight, ignore_index, reduction,
                                                 label_smoothing)
    q, counted, divisor, shape = _class_coefficients("cross_entropy", z, target, weight,
                                                     ignore_index, label_smoothing)
    loss = CrossEntropy.apply(_classes_last(z), q, counted, divisor, reduction)
    return loss.reshape(shape) if reduction == "none" else loss


def _cross_entropy_with_probabilities(z: Tensor, target, weight, ignore_index: int,
                                      reduction: str, label_smoothing: float) -> Tensor:
    p = target if isinstance(target, Tensor) else as_array(target, what="cross_entropy: "
                                                                          "target")
    if p.dtype.kind not in "fc":
        raise TypeError(f"cross_entropy: a target of the logits' shape {z.shape} holds class "
                        f"probabilities, and class probabilities must be floating, got "
                        f"{p.dtype}")
    if ignore_index >= 0:
        raise ValueError(f"cross_entropy: ignore_index is not supported for probability "
                         f"targets (got {ignore_index}), as in torch")
    dtype = result_dtype_as_torch([z.dtype, p.dtype])   # float32 with float64: float64
    if z.dtype != dtype:
        z = cast(z, dtype)
    if p.dtype != dtype:
        p = cast(p, dtype)
    q = _probability_coefficients(p, weight, label_smoothing)
    rows = q.shape[0]
    counted = xp_of(z.data).asarray(np.ones(rows, bool))
    loss = CrossEntropy.apply(_classes_last(z), q, counted, rows, reduction)
    if reduction == "none":
        loss = loss.reshape(() if z.ndim == 1 else (z.shape[0],) + z.shape[2:])
    return loss


def nll_loss(log_probs, target, weight=None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class targets, as ``torch.nn.functional.nll_loss``:
    ℓ_n = −w_{t_n} x_{n,t_n} (docs/math.md E13a, E13b with ε = 0); ``cross_entropy`` is this
    after a log_softmax over the classes.

    ``log_probs`` (N, C) or (N, C, d1, …), or (C,) unbatched; ``target`` integer class
    indices (N,) or (N, d1, …) (a scalar for (C,)); ``weight`` (C,) of the input's dtype.
    Targets equal to ``ignore_index`` contribute nothing; "mean" divides by the summed
    weight of the other targets (0 where there is none; torch: NaN). Returns a 0-d tensor,
    or the target's shape for ``reduction="none"``.

    Raises ValueError, TypeError and IndexError as :func:`cross_entropy` for class targets.
    """
    _check_reduction(reduction, "nll_loss")
    _check_ignore_index(ignore_index, "nll_loss")
    x = _checked_input(log_probs, "nll_loss")
    weight = _checked_weight(weight, x, "nll_loss")
    q, counted, divisor, shape = _class_coefficients("nll_loss", x, target, weight,
                                                     ignore_index, 0.0)
    loss = NLLLoss.apply(_classes_last(x), q, counted, divisor, reduction)
    return loss.reshape(shape) if reduction == "none" else loss


def _regression_operands(input, target, weight, op: str):
    """(x, y, weight) of mse_loss and l1_loss, checked as torch: a target that broadcasts the
    input to a larger shape warns at the caller's line; bool input or target is a
    TypeError, a weight of another shape than the input's a ValueError."""
    x, y = operand(input, op), operand(target, op)
    if np.shape(x) != np.shape(y):
        try:
            both = np.broadcast_shapes(np.shape(x), np.shape(y))
        except ValueError:              # the Function names the shapes that do not broadcast
            both = None
        if both is not None and both != np.shape(x):
            warnings.warn(f"{op}: the target has shape {np.shape(y)}, the input "
                          f"{np.shape(x)}; they broadcast to {both}, which is likely not "
                          f"what you meant (torch warns too): give both one shape",
                          UserWarning, stacklevel=callers_stacklevel())
    for side in (x, y):                 # x − y of bools is not defined, as in torch
        if isinstance(side, (bool, np.bool_)) or getattr(side, "dtype", None) == np.bool_:
            raise TypeError(f"{op}: not defined for bool input; convert it first, e.g. "
                            "x.astype(np.float32)")
    if weight is not None:
        weight = operand(weight, op)
        if np.shape(weight) != np.shape(x):
            raise ValueError(f"{op}: weight must have the input's shape {np.shape(x)} "
                             f"(as torch), got {np.shape(weight)}")
    return x, y, weight


def mse_loss(input, target, reduction: str = "mean", *, weight=None) -> Tensor:
    """Mean squared error (x - y)², broadcasting; both sides may require gradients
    (docs/math.md E14). A target that broadcasts the input to a larger shape warns, at the
    caller's line (torch warns on any other shape): (N, 1) against (N,) gives (N, N), seldom
    what was meant; a scalar target does not.

    ``weight`` (torch 2.13's), of the input's shape exactly as torch requires, multiplies
    each loss: ℓ = w (x - y)², and "mean" divides their sum by Σ w (E14a), by 1 where
    Σ w = 0 (0 for zero weights; torch: NaN). A bool weight is a mask. It may be a Tensor
    that requires a gradient, and gets it, as in torch; its dtype promotes with the loss's
    as torch's (float64 beside float32 gives float64). Keyword-only: torch's third
    positional argument is ``size_average``.

    Raises ValueError for an unknown reduction, shapes that do not broadcast or a weight of
    another shape than the input's; TypeError for bool input or target.
    """
    _check_reduction(reduction, "mse_loss")
    x, y, weight = _regression_operands(input, target, weight, "mse_loss")
    return MSELoss.apply(x, y, weight, reduction)


def l1_loss(input, target, reduction: str = "mean", *, weight=None) -> Tensor:
    """Mean absolute error |x - y|, as ``torch.nn.functional.l1_loss``, broadcasting; both
    sides may require gradients (docs/math.md E14b): sign(x - y), 0 where x = y (torch's
    subgradient there). A target that broadcasts the input to a larger shape warns at the
    caller's line, as :func:`mse_loss`.

    ``weight`` (torch 2.13's), as :func:`mse_loss`'s: of the input's shape, ℓ = w |x - y|,
    "mean" dividing by Σ w (by 1 where Σ w = 0: 0 for zero weights; torch: NaN); a Tensor
    that requires a gradient gets it. Keyword-only: torch's third positional argument is
    ``size_average``. An empty input's "mean" is 0 (torch: NaN).

    Raises ValueError for an unknown reduction, shapes that do not broadcast or a weight of
    another shape than the input's; TypeError for bool input or target.
    """
    _check_reduction(reduction, "l1_loss")
    x, y, weight = _regression_operands(input, target, weight, "l1_loss")
    return L1Loss.apply(x, y, weight, reduction)


def _elementwise_weight(v, name: str, z: Tensor, precision,
                        op: str = "binary_cross_entropy_with_logits", of: str = "the logits'"):
    """A weight of binary_cross_entropy_with_logits (``pos_weight``, ``weight``) or of
    binary_cross_entropy (``weight``; ``op`` names it, ``of`` its input) as a constant array
    of ``precision``, or None; ValueError naming it where its shape does not broadcast to
    the input's shape ``z.shape`` without widening it, or that requires a gradient (a
    constant: torch's is not differentiable with respect to it either)."""
    if v is None:
        return None
    if isinstance(v, Tensor) and v.requires_grad:
        raise ValueError(f"{op}: not differentiable with respect to {name} (as in torch); "
                         f"pass {name}.detach()")
    v = as_array(v.data if isinstance(v, Tensor) else v, precision, what=name)
    try:
        widened = np.broadcast_shapes(v.shape, z.shape) != z.shape
    except ValueError:
        widened = True
    if widened:
        last = f"({z.shape[-1]},), one per class of the last axis, " if z.ndim else ""
        raise ValueError(f"{op}: {name} of shape {v.shape} does not broadcast to {of} shape "
                         f"{z.shape} (aligned from the right, each dimension equal or 1, as "
                         f"torch: e.g. {last}or {z.shape})")
    return v


def binary_cross_entropy_with_logits(logits, target, pos_weight=None,
                                     reduction: str = "mean", *, weight=None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable formula, as torch's function of that name
    (docs/math.md E15).

    ``target`` holds probabilities in [0, 1] with the logits' shape; ``pos_weight``
    (broadcast to it) weighs the positive term; ``weight`` (broadcast to it, without
    widening it) rescales each element's loss, and "mean" still divides by the number of
    elements, as torch. Both weights are constants (torch: not differentiable). ``weight``
    is keyword-only: torch's third positional argument is ``weight``, ours ``pos_weight``.

    Raises ValueError for an unknown reduction, a target of another shape or a
    ``pos_weight`` or ``weight`` that does not broadcast to the logits' shape or that
    requires a gradient (it was dropped from the graph without a word).
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    z = numeric_arg(logits, "binary_cross_entropy_with_logits")
    y = operand(target, "binary_cross_entropy_with_logits")
    if np.shape(y) != z.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: target has shape {np.shape(y)}, "
                         f"expected the logits' shape {z.shape}")
    # NOTE: both weights take the logits' precision, so float32 logits give a float32 loss
    # beside NumPy's default float64 weights, as torch
    precision = _real_dtype(z.dtype)
    pos_weight = _elementwise_weight(pos_weight, "pos_weight", z, precision)
    weight = _elementwise_weight(weight, "weight", z, precision)
    return BCEWithLogits.apply(z, y, pos_weight, weight, reduction)


def _outside_unit_interval(v) -> int:
    """How many elements of ``v`` (a Tensor, array or scalar) lie outside [0, 1] or are NaN
    (compared by the real part for a complex step); one sum, read back from v's device."""
    data = v.data if isinstance(v, Tensor) else v
    if not _is_array(data):
        data = np.asarray(data)
    xp = xp_of(data)
    re = np.real(data) if np.iscomplexobj(data) else data
    nonnegative = xp.greater_equal(re, 0)
    # NOTE: where(x ≥ 0, x ≤ 1, x ≥ 0): False below 0 and at NaN (both comparisons fail)
    inside = xp.where(nonnegative, xp.less_equal(re, 1), nonnegative)
    return int(data.size) - int(xp.to_host(xp.sum(inside)))


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities, as ``torch.nn.functional.binary_cross_entropy``
    (docs/math.md E15a): ℓ = −ω [y log x + (1 − y) log(1 − x)], each log clamped at −100 as
    torch, so x = 0 or 1 gives a finite loss (at most 100 ω).

    ``input`` x, probabilities in [0, 1] of any shape; ``target`` y, in [0, 1], of its shape
    (it gets a gradient too, as torch's: ω [log(1 − x) − log x], ±inf at x = 0 or 1);
    ``weight`` ω rescales each element's loss, broadcast to the input's shape without
    widening it, a constant of the input's precision (torch: not differentiable); "mean"
    divides by the number of elements, as torch, and is 0 for no element (torch: NaN). The
    gradient is torch's: (x − y) / max(x (1 − x), 1e-12) ω dℓ, finite at x = 0 and 1.
    Prefer :func:`binary_cross_entropy_with_logits` on logits: stable, and exact there.

    Raises
    ------
    ValueError
        An unknown reduction; an input or target element outside [0, 1] or NaN (torch:
        RuntimeError); a target of another shape; a weight that does not broadcast to the
        input's shape or that requires a gradient.
    TypeError
        A bool input.
    """
    op = "binary_cross_entropy"
    _check_reduction(reduction, op)
    x = numeric_arg(input, op)
    y = operand(target, op)
    if isinstance(y, np.ndarray) and y.dtype.kind in "biu":
        y = y.astype(_real_dtype(x.dtype))     # 0/1 labels: the input's dtype, not float64
    if np.shape(y) != x.shape:
        raise ValueError(f"{op}: target has shape {np.shape(y)}, expected the input's shape "
                         f"{x.shape} (as torch)")
    for name, v in (("input", x), ("target", y)):
        outside = _outside_unit_interval(v)
        if outside:
            raise ValueError(f"{op}: every element of the {name} must be a probability in "
                             f"[0, 1] (as torch), got {outside} outside it or NaN; for "
                             f"logits use binary_cross_entropy_with_logits")
    weight = _elementwise_weight(weight, "weight", x, _real_dtype(x.dtype), op, "the input's")
    return BCELoss.apply(x, y, weight, reduction)
