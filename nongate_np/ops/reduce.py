"""Reductions: sum, mean, max over axes. Derivations: docs/math.md E9."""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import ieee, normalize_axes, tensor_arg, torch_alias, xp_of

__all__ = ["sum", "mean", "max"]


def _kept(shape: tuple, axes: tuple) -> tuple:
    """``shape`` with the reduced ``axes`` kept as length 1 (keepdims' shape)."""
    return tuple(1 if k in axes else n for k, n in enumerate(shape))


def _expand(dy: np.ndarray, shape: tuple, axes: tuple, keepdims: bool) -> np.ndarray:
    """Re-insert the reduced axes of ``dy`` so it broadcasts against the input of
    ``shape``."""
    return dy if keepdims else xp_of(dy).reshape(dy, _kept(shape, axes))


@ieee
class Sum(Function):
    """y = Σ_axes x;  dx = dy broadcast back over the reduced axes  (E9)."""

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = x.shape, axes, keepdims
        return xp_of(x).sum(x, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, dy):
        dx = xp_of(dy).broadcast_to(_expand(dy, ctx.shape, ctx.axes, ctx.keepdims), ctx.shape)
        return dx, None, None


@ieee
class Mean(Function):
    """y = Σ_axes x / n;  dx = dy / n broadcast back  (E9).

    Over an empty axis (n = 0) y is NaN, as torch's and NumPy's mean, without NumPy's
    warning; the gradient is then empty or zero.
    """

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = x.shape, axes, keepdims
        ctx.n = int(np.prod([x.shape[a] for a in axes]))
        xp = xp_of(x)
        total = xp.sum(x, axis=axes, keepdims=keepdims)
        if ctx.n == 0:                  # NOTE: 0/0 selected as NaN, not computed (a warning)
            dtype = total.dtype if total.dtype.kind in "fc" else np.dtype(np.float64)
            return xp.full(total.shape, np.nan, dtype)
        return xp.divide(total, ctx.n)

    @staticmethod
    def backward(ctx, dy):
        xp = xp_of(dy)
        if ctx.n == 0:                  # no element took part
            return xp.zeros(ctx.shape, dy.dtype), None, None
        dx = xp.broadcast_to(xp.divide(_expand(dy, ctx.shape, ctx.axes, ctx.keepdims), ctx.n),
                             ctx.shape)
        return dx, None, None


@ieee
class Max(Function):
    """y = max_axes x;  dx = dy ⊙ [x = y] / #ties  (E9).

    Ties share the gradient equally (the subgradient torch's ``amax`` uses). Complex input
    (complex-step checks) is compared by its real part.
    """

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        xp = xp_of(x)
        real = np.real(x) if np.iscomplexobj(x) else x
        m = xp.max(real, axis=axes, keepdims=True)
        mask = xp.equal(real, m)
        count = xp.sum(mask, axis=axes, keepdims=True)
        ctx.save_for_backward(mask, count)
        ctx.shape, ctx.axes, ctx.keepdims = x.shape, axes, keepdims
        if np.iscomplexobj(x):
            y = xp.divide(xp.sum(xp.where(mask, x, 0), axis=axes, keepdims=True), count)
        else:
            y = m
        if keepdims:
            return y
        return xp.reshape(y, tuple(n for k, n in enumerate(x.shape) if k not in axes))

    @staticmethod
    def backward(ctx, dy):
        mask, count = ctx.saved
        xp = xp_of(dy)
        # NOTE: a select, not dy ⊙ mask: an inf dy at a non-maximal entry must give 0, not NaN
        dx = xp.where(mask, _expand(dy, ctx.shape, ctx.axes, ctx.keepdims), 0)
        return xp.divide(dx, count), None, None


def _reduction(fn, name, x, axis, keepdims, dim, keepdim):
    x = tensor_arg(x, name)
    axis = torch_alias(name, "axis", axis, "dim", dim, None)
    keepdims = torch_alias(name, "keepdims", keepdims, "keepdim", keepdim, False)
    axes = normalize_axes(axis, x.ndim, name)
    return fn.apply(x, axes, bool(keepdims))


def sum(x, axis=None, keepdims: bool | None = None, *, dim=None,
        keepdim: bool | None = None) -> Tensor:
    """Sum over ``axis`` (None: all axes; an int or a tuple of ints); ``dim`` and
    ``keepdim`` are torch's names for ``axis`` and ``keepdims``."""
    return _reduction(Sum, "sum", x, axis, keepdims, dim, keepdim)


def mean(x, axis=None, keepdims: bool | None = None, *, dim=None,
         keepdim: bool | None = None) -> Tensor:
    """Arithmetic mean over ``axis`` (None: all axes); ``dim``, ``keepdim`` as in ``sum``."""
    return _reduction(Mean, "mean", x, axis, keepdims, dim, keepdim)


def max(x, axis=None, keepdims: bool | None = None, *, dim=None,
        keepdim: bool | None = None) -> Tensor:
    """Maximum over ``axis`` (values only, like ``torch.amax``); ties share the gradient.
    Unlike ``torch.max(x, dim)``, which returns (values, indices), this returns the values
    alone: ``values, idx = x.max(1)`` would unpack rows; the indices are
    ``x.numpy().argmax(axis)``.

    Raises ValueError when a reduced axis is empty (there is no maximum; torch raises too);
    an empty tensor reduced over non-empty axes gives an empty result.
    """
    x = tensor_arg(x, "max")
    axis = torch_alias("max", "axis", axis, "dim", dim, None)
    keepdims = torch_alias("max", "keepdims", keepdims, "keepdim", keepdim, False)
    axes = normalize_axes(axis, x.ndim, "max")
    empty = [a for a in axes if x.shape[a] == 0]
    if empty:
        raise ValueError(f"max: cannot reduce over axis {empty[0]} of size 0 (tensor of shape "
                         f"{x.shape}); reduce over non-empty axes only")
    return Max.apply(x, axes, bool(keepdims))
