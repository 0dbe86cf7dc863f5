"""Loss functions with fused, hand-derived backward. Derivations: docs/math.md E13-E15.

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
from ._util import (
    broadcast_error,
    ieee,
    numeric_arg,
    operand,
    promoted_as_torch,
    unbroadcast,
    xp_of,
)

__all__ = ["cross_entropy", "mse_loss", "binary_cross_entropy_with_logits"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(loss: np.ndarray, reduction: str, count: int) -> np.ndarray:
    """The losses ``loss`` summed, or summed and divided by ``count`` (at least 1: the mean
    of no loss is 0), or as they are ("none")."""
    if reduction == "none":
        return loss
    xp = xp_of(loss)
    # NOTE: float32 losses are summed in float64: their float32 sum can overflow where the
    # mean does not (each loss near 3e38)
    wide = xp.astype(loss, np.float64) if loss.dtype == np.float32 else loss
    total = xp.sum(wide)
    total = xp.divide(total, max(count, 1)) if reduction == "mean" else total
    return xp.astype(total, loss.dtype) if wide is not loss else total


def _reduce_grad(dy: np.ndarray, reduction: str, count: int, shape: tuple) -> np.ndarray:
    if reduction == "none":
        return dy
    xp = xp_of(dy)
    scale = 1.0 / max(count, 1) if reduction == "mean" else 1.0
    return xp.broadcast_to(xp.multiply(dy, scale), shape)


@ieee
class CrossEntropy(Function):
    """ℓ_n = -log softmax(z_n)[t_n];  dz_n = (softmax(z_n) - onehot(t_n)) dℓ_n  (E13).

    z (N, C), t (N,) integer classes; rows whose target is ``ignore_index`` give ℓ = 0 and
    no gradient, and "mean" divides by the number of the other rows.

    NOTE: an ignored row is selected away (``where``), never multiplied by 0: its logits
    may hold -inf (log-probability -inf or NaN), and 0·inf is NaN.
    """

    @staticmethod
    def forward(ctx, z, target, ignore_index, reduction):
        xp = xp_of(z)
        valid = target != ignore_index                     # targets stay on the host
        safe_t = np.where(valid, target, 0)
        valid_z = xp.asarray(valid)                        # on z's device
        logp = xp.log_softmax(z, axis=1)
        picked = xp.take_along_axis(logp, safe_t[:, None], axis=1)
        loss = xp.where(valid_z, xp.negative(xp.reshape(picked, (len(safe_t),))), 0)
        ctx.save_for_backward(logp, safe_t, valid_z)
        ctx.reduction, ctx.count = reduction, int(valid.sum())
        return _reduce(loss, reduction, ctx.count)

    @staticmethod
    def backward(ctx, dy):
        logp, safe_t, valid = ctx.saved
        xp = xp_of(dy)
        N, C = logp.shape
        dl = _reduce_grad(dy, ctx.reduction, ctx.count, (N,))
        dz = xp.exp(logp)
        # softmax − onehot(t), in place: row n gains −onehot(t_n) (+0 elsewhere: exact, as
        # exp(logp) ≥ 0 is never −0)
        minus_onehot = np.zeros((N, C), dz.dtype)
        minus_onehot[np.arange(N), safe_t] = -1
        xp.add_at(dz, np.arange(N), xp.asarray(minus_onehot))
        return (xp.where(xp.reshape(valid, (N, 1)), xp.multiply(dz, xp.reshape(dl, (N, 1))), 0),
                None, None, None)


@ieee
class MSELoss(Function):
    """ℓ = (x - y)²;  dx = 2 (x - y) dℓ,  dy = -dx  (E14)."""

    @staticmethod
    def forward(ctx, x, y, reduction):
        xp = xp_of(x, y)
        x, y = (v if isinstance(v, numbers.Number) else xp.asarray(v) for v in (x, y))
        x, y = promoted_as_torch(xp, x, y)      # an int64 target leaves float32 as float32
        try:
            diff = xp.subtract(x, y)
        except ValueError:
            raise broadcast_error("mse_loss", x, y) from None
        except TypeError as err:    # e.g. NumPy's bool subtract: named by the op
            raise TypeError(f"mse_loss: {err}") from None
        ctx.save_for_backward(diff)
        ctx.shapes, ctx.reduction = (np.shape(x), np.shape(y)), reduction
        return _reduce(xp.multiply(diff, diff), reduction, diff.size)

    @staticmethod
    def backward(ctx, dl):
        (diff,) = ctx.saved
        xp = xp_of(dl)
        # NOTE: 2 (diff dℓ), not (2 diff) dℓ: the same value (×2 is exact) without the
        # overflow of 2 diff for |diff| > max/2 where the mean's gradient is finite
        dx = xp.multiply(2, xp.multiply(diff, _reduce_grad(dl, ctx.reduction, diff.size,
                                                            diff.shape)))
        sx, sy = ctx.shapes                                        # broadcast operands (E1)
        return (unbroadcast(dx, sx) if ctx.needs_grad[0] else None,
                unbroadcast(xp.negative(dx), sy) if ctx.needs_grad[1] else None, None)


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


def _on_device_of_logits(xp, v, what: str):
    """An array ``v`` on the logits' device (``xp``): a host array is copied to the GPU, a
    GPU array beside host logits refused (DeviceError, as for two tensors); a scalar as it
    is."""
    if not _is_array(v):
        return v
    if xp is NUMPY and xp_of(v) is not NUMPY:
        raise DeviceError(f"binary_cross_entropy_with_logits: {what} is on cuda and the "
                          f"logits on cpu; move it to one device with .to(...) first")
    return xp.asarray(v)


@ieee
class BCEWithLogits(Function):
    """ℓ = (1 - y) z + w softplus(-z), w = 1 + (p - 1) y  (E15, p = pos_weight);
    dz = (1 - y) - w σ(-z),  dy = -z + (p - 1) softplus(-z).

    Runs on the device of z through its array functions, in the order of the NumPy
    expressions above (so CPU results are NumPy's bit for bit); a host target or
    ``pos_weight`` array is copied to z's device."""

    @staticmethod
    def forward(ctx, z, y, pos_weight, reduction):
        xp = xp_of(z)
        y = _on_device_of_logits(xp, y, "the target")
        p = 1.0 if pos_weight is None else _on_device_of_logits(xp, pos_weight, "pos_weight")
        add, sub, mul = _arithmetic(xp)
        w = add(1, mul(sub(p, 1), y))
        sp = xp.softplus(xp.negative(z))
        loss = add(mul(sub(1, y), z), mul(w, sp))
        ctx.save_for_backward(z, y, w, sp, p)
        ctx.reduction, ctx.shape = reduction, loss.shape
        return _reduce(loss, reduction, loss.size)

    @staticmethod
    def backward(ctx, dl):
        z, y, w, sp, p = ctx.saved
        xp = xp_of(dl)
        dl = _reduce_grad(dl, ctx.reduction, int(np.prod(ctx.shape)), ctx.shape)
        add, sub, mul = _arithmetic(xp)
        dz = dy = None
        if ctx.needs_grad[0]:
            dz = mul(sub(sub(1, y), mul(w, xp.sigmoid(xp.negative(z)))), dl)
        if ctx.needs_grad[1]:
            dy = mul(add(xp.negative(z), mul(sub(p, 1), sp)), dl)
        return dz, dy, None, None


def cross_entropy(logits, target, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy with integer class targets, as ``torch.nn.functional.cross_entropy``.

    ``logits`` (N, C) or (N, C, d1, …) with ``target`` (N,) or (N, d1, …); also (C,) with a
    scalar target. Targets equal to ``ignore_index`` contribute nothing; a "mean" over a
    batch with every target ignored is 0 (torch gives NaN).
    """
    _check_reduction(reduction, "cross_entropy")
    z = numeric_arg(logits, "cross_entropy")
    t = as_array(target.data if isinstance(target, Tensor) else target,
                 what="cross_entropy: target")
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices, got dtype "
                        f"{t.dtype}; for probabilities use log_softmax and a sum")
    if z.ndim == 0:
        raise ValueError("cross_entropy: logits must be (N, C) or (C,), got a 0-d tensor")
    unbatched = z.ndim == 1
    expected = () if unbatched else (z.shape[0],) + z.shape[2:]
    if t.shape != expected:
        raise ValueError(f"cross_entropy: target has shape {t.shape}, expected {expected} "
                         f"for logits of shape {z.shape}")
    n_classes = z.shape[0] if unbatched else z.shape[1]
    if n_classes == 0:
        raise ValueError(f"cross_entropy: logits of shape {z.shape} have 0 classes; expected "
                         f"at least one")
    bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise IndexError(f"cross_entropy: target {t[bad].flat[0]} is out of range for "
                         f"{n_classes} classes (expected 0..{n_classes - 1} or "
                         f"ignore_index={ignore_index})")
    # Bring the class axis last and flatten the rest: (M, C).
    if unbatched:
        z2 = z.reshape(1, n_classes)
    else:
        z2 = z.permute((0, *range(2, z.ndim), 1)).reshape(-1, n_classes)
    loss = CrossEntropy.apply(z2, t.reshape(-1), ignore_index, reduction)
    if reduction == "none":
        loss = loss.reshape(t.shape)
    return loss


def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """Mean squared error (x - y)², broadcasting; both sides may require gradients. A target
    that broadcasts the input to a larger shape warns (torch warns on any other shape):
    (N, 1) against (N,) gives (N, N), seldom what was meant; a scalar target does not."""
    _check_reduction(reduction, "mse_loss")
    x, y = operand(input, "mse_loss"), operand(target, "mse_loss")
    if np.shape(x) != np.shape(y):
        try:
            both = np.broadcast_shapes(np.shape(x), np.shape(y))
        except ValueError:              # MSELoss names the shapes that do not broadcast
            both = None
        if both is not None and both != np.shape(x):
            warnings.warn(f"mse_loss: the target has shape {np.shape(y)}, the input "
                          f"{np.shape(x)}; they broadcast to {both}, which is likely not "
                          f"what you meant (torch warns too): give both one shape",
                          UserWarning, stacklevel=2)
    for side in (x, y):                 # (x − y)² of bools is not defined, as in torch
        if isinstance(side, (bool, np.bool_)) or getattr(side, "dtype", None) == np.bool_:
            raise TypeError("mse_loss: not defined for bool input; convert it first, e.g. "
                            "x.astype(np.float32)")
    return MSELoss.apply(x, y, reduction)


def binary_cross_entropy_with_logits(logits, target, pos_weight=None,
                                     reduction: str = "mean") -> Tensor:
    """Sigmoid + binary cross-entropy in one stable formula, as torch's function of that name.

    ``target`` holds probabilities in [0, 1] with the logits' shape; ``pos_weight``
    (broadcast to it) weighs the positive term.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    z = numeric_arg(logits, "binary_cross_entropy_with_logits")
    y = operand(target, "binary_cross_entropy_with_logits")
    if np.shape(y) != z.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: target has shape {np.shape(y)}, "
                         f"expected the logits' shape {z.shape}")
    if pos_weight is not None:
        pos_weight = as_array(pos_weight.data if isinstance(pos_weight, Tensor)
                              else pos_weight, what="pos_weight")
    return BCEWithLogits.apply(z, y, pos_weight, reduction)
