"""Softmax and log-softmax along one axis, log-sum-exp over axes. Derivations: docs/math.md
E11-E12, E11a."""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import ieee, normalize_axes, numeric_arg, torch_alias, xp_of

__all__ = ["softmax", "log_softmax", "logsumexp"]


def _forward(ctx, x, axis, fn: str):
    """The device's ``fn`` (softmax or log_softmax) of x along ``axis``; the output y and
    the axis are saved for the backward, which needs only those.

    An empty x (as over an empty axis) gives an empty y, as torch, without calling the
    kernel (the max over an empty axis has no value)."""
    xp = xp_of(x)
    y = xp.zeros(x.shape, x.dtype) if x.size == 0 else getattr(xp, fn)(x, axis)
    ctx.save_for_backward(y)
    ctx.axis = axis
    return y


@ieee
class Softmax(Function):
    """y = e^{x-m} / Σ e^{x-m} (m = max x);  dx = y ⊙ (dy - Σ dy ⊙ y)  (E11)."""

    @staticmethod
    def forward(ctx, x, axis):
        return _forward(ctx, x, axis, "softmax")

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        xp = xp_of(dy)
        dot = xp.sum(xp.multiply(dy, y), axis=(ctx.axis,), keepdims=True)
        return xp.multiply(y, xp.subtract(dy, dot)), None


@ieee
class LogSoftmax(Function):
    """y = x - m - log Σ e^{x-m};  dx = dy - softmax(x) Σ dy  (E12)."""

    @staticmethod
    def forward(ctx, x, axis):
        return _forward(ctx, x, axis, "log_softmax")

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        xp = xp_of(dy)
        total = xp.sum(dy, axis=(ctx.axis,), keepdims=True)
        return xp.subtract(dy, xp.multiply(xp.exp(y), total)), None


def _axis(x: Tensor, axis: int, op: str) -> int:
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be one int, got {axis!r}")
    if x.ndim == 0:
        raise ValueError(f"{op}: needs at least one dimension, got a 0-d tensor")
    return normalize_axes(axis, x.ndim, op)[0]


def softmax(x, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Softmax along ``axis`` (default -1; ``dim`` is torch's name for it), max-shifted, so
    any finite input is safe; dx = y ⊙ (dy − Σ dy ⊙ y) along the axis (docs/math.md E11).

    x: any shape with at least one axis, float (an integer tensor gives float64); the
    result has x's shape and float dtype. Raises TypeError for an axis that is not one int
    or a bool tensor, ValueError for an axis out of range or a 0-d tensor."""
    x = numeric_arg(x, "softmax")
    axis = torch_alias("softmax", "axis", axis, "dim", dim, -1)
    return Softmax.apply(x, _axis(x, axis, "softmax"))


def log_softmax(x, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """log(softmax(x)) along ``axis`` (default -1; ``dim`` as in ``softmax``), computed
    without forming softmax (stable); dx = dy − softmax(x) Σ dy (docs/math.md E12). Shapes,
    dtypes and errors as :func:`softmax`'s."""
    x = numeric_arg(x, "log_softmax")
    axis = torch_alias("log_softmax", "axis", axis, "dim", dim, -1)
    return LogSoftmax.apply(x, _axis(x, axis, "log_softmax"))


@ieee
class LogSumExp(Function):
    """y = m + log Σ e^{x-m} over ``axes`` (m = max x, 0 where infinite);
    dx = dy ⊙ e^{x - y}  (E11a). Saved: x and y (with the reduced axes kept)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        xp = xp_of(x)
        if x.size == 0:             # an empty slice sums to 0: log 0 = -inf (torch's)
            shape = tuple(1 if k in axes else n for k, n in enumerate(x.shape))
            y = xp.full(shape, -np.inf, x.dtype)
        else:
            m = xp.max(x, axis=axes, keepdims=True)
            # NOTE: an infinite max shifts by 0, so a slice of -inf is log 0, not NaN (E11a)
            m = xp.where(xp.equal(xp.abs(m), np.inf), 0, m)
            total = xp.sum(xp.exp(xp.subtract(x, m)), axis=axes, keepdims=True)
            y = xp.add(xp.log(total), m)
        ctx.save_for_backward(x, y)
        ctx.axes = axes
        return y if keepdim else xp.reshape(y, tuple(n for k, n in enumerate(y.shape)
                                                     if k not in axes))

    @staticmethod
    def backward(ctx, dy):
        x, y = ctx.saved
        xp = xp_of(dy)
        dy = xp.reshape(dy, y.shape)        # the reduced axes back, as length 1
        return xp.multiply(dy, xp.exp(xp.subtract(x, y))), None, None


def logsumexp(input, dim, keepdim: bool = False) -> Tensor:
    """log Σ e^{x} over ``dim`` (an int or a tuple of ints), max-shifted so that nothing
    overflows, as ``torch.logsumexp`` (docs/math.md E11a; the gradient is softmax(x)).

    Shapes: x (...) -> x's shape without the ``dim`` axes (length 1 in their place with
    ``keepdim``). A float input keeps its dtype, an integer one gives float64 (the
    library's default float; torch's is float32). A slice of -inf, or an empty one, gives
    -inf; one holding +inf gives +inf.

    Raises TypeError for a dim that is not an int or a tuple of ints and for a bool input;
    ValueError for a dim out of range or repeated, or an empty tuple (torch's own dim=()
    fails).
    """
    x = numeric_arg(input, "logsumexp")
    if isinstance(dim, (tuple, list)) and len(dim) == 0:
        raise ValueError("logsumexp: dim must name at least one axis, got ()")
    if dim is None:
        raise TypeError("logsumexp: dim must be an int or a tuple of ints, got None")
    axes = normalize_axes(dim, x.ndim, "logsumexp")
    if x.dtype.kind in "iu":
        x = x.double()
    return LogSumExp.apply(x, axes, bool(keepdim))
