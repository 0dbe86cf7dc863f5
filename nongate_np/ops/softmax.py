"""Softmax and log-softmax along one axis. Derivations: docs/math.md E11-E12."""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import ieee, normalize_axes, numeric_arg, torch_alias, xp_of

__all__ = ["softmax", "log_softmax"]


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
    any finite input is safe."""
    x = numeric_arg(x, "softmax")
    axis = torch_alias("softmax", "axis", axis, "dim", dim, -1)
    return Softmax.apply(x, _axis(x, axis, "softmax"))


def log_softmax(x, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """log(softmax(x)) along ``axis`` (default -1; ``dim`` as in ``softmax``), computed
    without forming softmax (stable)."""
    x = numeric_arg(x, "log_softmax")
    axis = torch_alias("log_softmax", "axis", axis, "dim", dim, -1)
    return LogSoftmax.apply(x, _axis(x, axis, "log_softmax"))
