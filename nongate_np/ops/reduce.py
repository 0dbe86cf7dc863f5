"""Reductions: sum, mean, amax and amin over axes (E9); the product prod (E9a); max and min,
along one axis with the index they select (E18), or of two tensors (elementwise.py, E22);
argmax and argmin. Derivations: docs/math.md E9, E9a, E18."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..autograd import Function
from ..kernels.array_api import NUMPY
from ..tensor import Tensor
from ._util import ieee, normalize_axes, tensor_arg, torch_alias, xp_of
from .elementwise import cast, maximum, minimum
from .shape import reshape

__all__ = ["sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin", "prod"]


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


def _exclusive_products(x: np.ndarray, axes: tuple) -> np.ndarray:
    """Π_{j ≠ k} x_j over the reduced ``axes``, for each element k of x (E9a): the product
    of the elements before k times that of those after it, in the flattened order of the
    reduced axes, with no division (exact where x holds zeros). Host arrays."""
    rest = tuple(a for a in range(x.ndim) if a not in axes)
    moved = np.transpose(x, rest + axes)
    lead = moved.shape[:len(rest)]
    k = int(np.prod(moved.shape[len(rest):], dtype=np.int64))
    if x.size == 0:
        return np.zeros(x.shape, x.dtype)
    flat = moved.reshape(lead + (k,))                   # (..., K), K the reduced elements
    ones = np.ones(lead + (1,), x.dtype)
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    out = (before * after).reshape(moved.shape)
    return np.transpose(out, np.argsort(rest + axes))


@ieee
class Prod(Function):
    """y = Π_axes x;  dx_k = dy ⊙ Π_{j ≠ k} x_j, over the elements j reduced with k  (E9a).

    The products of the others are the running products before and after k, so one zero in
    a slice gives its position the product of the rest and the others 0, two zeros 0
    everywhere, as torch's. Saved: x. On the GPU both directions compute on the host (no
    device product or running-product kernel), as ``cumsum``.
    """

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.save_for_backward(x)
        ctx.axes, ctx.keepdims = axes, keepdims
        xp = xp_of(x)
        if xp is NUMPY:
            return np.prod(x, axis=axes, keepdims=keepdims)
        # NOTE: no device product kernel: computed on the host, moved back (as cumsum)
        return xp.asarray(np.prod(xp.to_host(x), axis=axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        others = _exclusive_products(xp.to_host(x), ctx.axes)
        if xp is not NUMPY:
            others = xp.asarray(others)
        dy = _expand(dy, x.shape, ctx.axes, ctx.keepdims)
        return xp.multiply(dy, others), None, None


def prod(x, axis=None, keepdims: bool | None = None, *, dim=None, keepdim: bool | None = None,
         dtype=None) -> Tensor:
    """The product over ``axis`` (None: all axes), as ``torch.prod``; ``dim`` and ``keepdim``
    are torch's names for ``axis`` and ``keepdims`` (torch takes one int; a tuple, NumPy's,
    is taken too). dx_k = dy ⊙ the product of the other elements of k's slice, computed
    without division: with one zero in a slice its position gets the product of the rest,
    with several every gradient there is 0, as torch's (docs/math.md E9a).

    The result drops the reduced axes (keeps them as 1 with ``keepdims``); 1 over an empty
    axis. A bool or integer tensor multiplies in int64, as torch (wrapping around as
    NumPy's), ``dtype`` converts x first (recorded, as ``cast``). On the GPU it multiplies
    on the host. Raises TypeError for an axis that is not an int or a tuple of ints,
    ValueError for one out of range or repeated."""
    x = tensor_arg(x, "prod")
    target = np.dtype(dtype) if dtype is not None else \
        np.dtype(np.int64) if x.dtype.kind in "biu" else x.dtype
    if target != x.dtype:
        x = cast(x, target)
    return _reduction(Prod, "prod", x, axis, keepdims, dim, keepdim)


def _reversed(a):
    """An order-reversing map that undoes itself (E18): −a for floats (exact), the bitwise
    complement ~a for integers, not a for bools."""
    xp = xp_of(a)
    if a.dtype == np.bool_:
        return xp.equal(a, False)
    if a.dtype.kind in "iu":
        # NOTE: ~a as (all bits set) − a: −1 − a signed, iinfo.max − a unsigned; a subtraction
        # that never overflows (−a does at iinfo.min), and the GPU namespace has no invert
        ones = -1 if a.dtype.kind == "i" else int(np.iinfo(a.dtype).max)
        return xp.subtract(ones, a)
    return xp.negative(a)


def _selection_key(x, smallest: bool):
    """What max (min) compares: x (its order reversed, E18), by the real part of complex
    input."""
    real = np.real(x) if np.iscomplexobj(x) else x
    return _reversed(real) if smallest else real


def _hits(key, m):
    """Where ``key`` is its maximum ``m``: the NaNs where ``m`` is NaN (NaN equals
    nothing, itself included)."""
    xp = xp_of(key)
    return xp.where(xp.not_equal(m, m), xp.not_equal(key, key), xp.equal(key, m))


@ieee
class Max(Function):
    """y = max_axes x (or min_axes x, ``smallest``);  dx = dy ⊙ [x = y] / #ties  (E9).

    Ties share the gradient equally (the subgradient torch's ``amax``, ``amin`` and full
    ``max``, ``min`` use). Where y is NaN, ``nan_hits`` (torch's full ``max``, ``min``) gives
    the NaNs as the ties; else no element equals y and the gradient is NaN (torch's
    ``amax``). Complex input (complex-step checks) is compared by its real part.
    """

    @staticmethod
    def forward(ctx, x, axes, keepdims, smallest, nan_hits):
        xp = xp_of(x)
        key = _selection_key(x, smallest)
        m = xp.max(key, axis=axes, keepdims=True)
        mask = _hits(key, m) if nan_hits else xp.equal(key, m)
        count = xp.sum(mask, axis=axes, keepdims=True)
        ctx.save_for_backward(mask, count)
        ctx.shape, ctx.axes, ctx.keepdims = x.shape, axes, keepdims
        if np.iscomplexobj(x):
            y = xp.divide(xp.sum(xp.where(mask, x, 0), axis=axes, keepdims=True), count)
        else:
            y = _reversed(m) if smallest else m
        if keepdims:
            return y
        return xp.reshape(y, tuple(n for k, n in enumerate(x.shape) if k not in axes))

    @staticmethod
    def backward(ctx, dy):
        mask, count = ctx.saved
        xp = xp_of(dy)
        # NOTE: a select, not dy ⊙ mask: an inf dy at a non-maximal entry must give 0, not NaN
        dx = xp.where(mask, _expand(dy, ctx.shape, ctx.axes, ctx.keepdims), 0)
        return xp.divide(dx, count), None, None, None, None


def _positions(xp, shape: tuple, axis: int, reverse: bool = False):
    """0, 1, ..., n-1 (or n-1, ..., 0) along ``axis`` of ``shape``, int64, length 1
    elsewhere, on the device of ``xp``: compared with an index, it broadcasts."""
    n = shape[axis]
    k = np.arange(n - 1, -1, -1) if reverse else np.arange(n)
    return xp.asarray(k.reshape(tuple(n if a == axis else 1 for a in range(len(shape)))))


def _first_max_index(key, axis: int):
    """The index of the first maximum of ``key`` along ``axis`` (kept as length 1), int64:
    the first NaN where there is one, as torch's ``max``/``argmax`` on the CPU."""
    xp = xp_of(key)
    hit = _hits(key, xp.max(key, axis=(axis,), keepdims=True))
    # NOTE: no argmax on every device: the first hit is the one with the largest n-1-k
    last = xp.max(xp.where(hit, _positions(xp, key.shape, axis, reverse=True), -1),
                  axis=(axis,), keepdims=True)
    return xp.subtract(key.shape[axis] - 1, last)


@ieee
class SelectMax(Function):
    """values, indices = max (or min, ``smallest``) of x along ``axis``;
    dx = dy at the selected (first) index, 0 elsewhere  (E18).

    Shapes: x (..., n, ...) → values, indices (..., ...) (or (..., 1, ...) with
    ``keepdims``); indices int64 (no gradient). Saved: the indices.
    """

    @staticmethod
    def forward(ctx, x, axis, keepdims, smallest):
        xp = xp_of(x)
        idx = _first_max_index(_selection_key(x, smallest), axis)
        # NOTE: the selected element itself, not the maximum: its imaginary part (a complex
        # step) and its sign of zero come with it
        values = xp.take_along_axis(x, idx, axis)
        ctx.save_for_backward(idx)
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        # NOTE: the indices returned are a copy: an in-place change to them leaves the saved
        indices = xp.copy(idx)
        if keepdims:
            return values, indices
        kept = tuple(n for k, n in enumerate(x.shape) if k != axis)
        return xp.reshape(values, kept), xp.reshape(indices, kept)

    @staticmethod
    def backward(ctx, dy, _):
        (idx,) = ctx.saved
        xp = xp_of(dy)
        chosen = xp.equal(_positions(xp, ctx.shape, ctx.axis), idx)
        # NOTE: a select, as E9's: an inf dy never meets a 0 of the mask
        dx = xp.where(chosen, _expand(dy, ctx.shape, (ctx.axis,), ctx.keepdims), 0)
        return dx, None, None, None


def _reduction(fn, name, x, axis, keepdims, dim, keepdim, *args):
    x = tensor_arg(x, name)
    axis = torch_alias(name, "axis", axis, "dim", dim, None)
    keepdims = torch_alias(name, "keepdims", keepdims, "keepdim", keepdim, False)
    axes = normalize_axes(axis, x.ndim, name)
    if fn is Max:
        _check_nonempty(name, x, axes)
    return fn.apply(x, axes, bool(keepdims), *args)


def sum(x, axis=None, keepdims: bool | None = None, *, dim=None,
        keepdim: bool | None = None) -> Tensor:
    """Sum over ``axis`` (None: all axes; an int or a tuple of ints); ``dim`` and
    ``keepdim`` are torch's names for ``axis`` and ``keepdims``. dx = dy broadcast back over
    the summed axes (docs/math.md E9).

    The result drops the summed axes (keeps them as 1 with ``keepdims``); x's dtype (bools
    and integers as NumPy's sum: int64). Raises TypeError for an axis that is not an int or
    a tuple of ints, ValueError for one out of range or repeated."""
    return _reduction(Sum, "sum", x, axis, keepdims, dim, keepdim)


def mean(x, axis=None, keepdims: bool | None = None, *, dim=None,
         keepdim: bool | None = None) -> Tensor:
    """Arithmetic mean over ``axis`` (None: all axes); ``dim``, ``keepdim`` as in ``sum``;
    dx = dy / n broadcast back, n the number of elements averaged (docs/math.md E9). NaN
    over an empty axis, without a warning (as torch). Shapes and errors as :func:`sum`'s."""
    return _reduction(Mean, "mean", x, axis, keepdims, dim, keepdim)


class MaxResult(NamedTuple):
    """``max(x, dim)``'s result, as ``torch.return_types.max``: ``values`` (x's dtype, with
    a gradient) and ``indices`` (int64, none); unpacks and indexes as a pair."""

    values: Tensor
    indices: Tensor


class MinResult(NamedTuple):
    """``min(x, dim)``'s result, as ``torch.return_types.min``; fields as :class:`MaxResult`."""

    values: Tensor
    indices: Tensor


# torch's type names: the repr reads "max(values=..., indices=...)"
MaxResult.__name__, MinResult.__name__ = "max", "min"


def _check_nonempty(name: str, x: Tensor, axes: tuple) -> None:
    """ValueError where a reduced axis is empty: there is no extreme (torch raises too)."""
    empty = [a for a in axes if x.shape[a] == 0]
    if empty:
        raise ValueError(f"{name}: cannot reduce over axis {empty[0]} of size 0 (tensor of "
                         f"shape {x.shape}); reduce over non-empty axes only")


def _one_dim(name: str, dim, x: Tensor) -> int:
    """``dim`` as a non-negative axis of ``x`` whose length is not 0 (0 for a 0-d ``x``):
    TypeError for anything but an int (torch's max, min, argmax, argmin reduce one dim),
    ValueError out of range or over an empty axis."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, (bool, np.bool_)):
        given = type(dim).__name__ if isinstance(dim, (Tensor, np.ndarray)) else repr(dim)
        raise TypeError(f"{name}: dim must be an int (one axis, as torch's {name}; amax and "
                        f"amin reduce several), got {given:.60}")
    axes = normalize_axes(dim, x.ndim, name)
    _check_nonempty(name, x, axes)
    return axes[0] if axes else 0


def _extreme(name: str, x, axis, keepdims, dim, keepdim, smallest: bool):
    """max and min: over every axis, one 0-d tensor (E9); along ``dim``, (values, indices)
    (E18); with a tensor or array second argument, torch's element-wise max(a, b) (E22)."""
    x = tensor_arg(x, name)
    axis = torch_alias(name, "axis", axis, "dim", dim, None)
    keepdims = torch_alias(name, "keepdims", keepdims, "keepdim", keepdim, None)
    if isinstance(axis, (Tensor, np.ndarray)):
        pairwise = "minimum" if smallest else "maximum"
        if keepdims is not None:
            raise TypeError(f"{name}: keepdim with a second tensor: {name}(a, b) is the "
                            f"element-wise {pairwise}(a, b), as torch's, and keeps no dim")
        return (minimum if smallest else maximum)(x, axis)
    if axis is None:
        if keepdims is not None:
            raise TypeError(f"{name}: keepdim needs a dim (torch's {name}(x) reduces every axis "
                            f"and takes none); use a{name}(x, keepdim=True)")
        axes = tuple(range(x.ndim))
        _check_nonempty(name, x, axes)
        return Max.apply(x, axes, False, smallest, True)
    axis = _one_dim(name, axis, x)
    if x.ndim == 0:             # torch: dim 0 of a 0-d tensor, a 0-d result either way
        x, keepdims = reshape(x, (1,)), False
    values, indices = SelectMax.apply(x, axis, bool(keepdims), smallest)
    return (MinResult if smallest else MaxResult)(values, indices)


def max(x, axis=None, keepdims: bool | None = None, *, dim=None, keepdim: bool | None = None):
    """The maximum of ``x``, as ``torch.max``: over every axis (no ``axis``) a 0-d tensor,
    ties sharing the gradient (E9); along the one axis ``axis`` (an int) a named tuple
    ``(values, indices)`` (:class:`MaxResult`), the indices int64, the first of ties selected
    and given the whole gradient (E18). ``dim`` and ``keepdim`` are torch's names for
    ``axis`` and ``keepdims``.

    NaN is the maximum (max propagates it; its first occurrence is the index), as torch. Complex
    input (complex-step checks) is compared by its real part.

    Shapes: x (..., n, ...) → values, indices (..., ...), or (..., 1, ...) with ``keepdims``.
    ``max(x, other)`` with a tensor or array ``other`` is ``maximum(x, other)`` (E22), as torch.
    Raises TypeError for an ``axis`` other than one int (several axes: :func:`amax`) and for
    ``keepdims`` without an axis, ValueError for an axis out of range or of length 0.
    """
    return _extreme("max", x, axis, keepdims, dim, keepdim, smallest=False)


def min(x, axis=None, keepdims: bool | None = None, *, dim=None, keepdim: bool | None = None):
    """The minimum of ``x``, as ``torch.min``: as :func:`max` (E9, E18), the result along an
    axis a :class:`MinResult`; NaN is the minimum too (it propagates). ``min(x, other)`` is
    ``minimum(x, other)``."""
    return _extreme("min", x, axis, keepdims, dim, keepdim, smallest=True)


def amax(x, axis=None, keepdims: bool | None = None, *, dim=None,
         keepdim: bool | None = None) -> Tensor:
    """Maximum over ``axis`` (None: all axes; an int or a tuple of ints), the values only, as
    ``torch.amax``; ties share the gradient (E9). ``dim``, ``keepdim`` as in ``sum``.

    Raises ValueError when a reduced axis is empty (there is no maximum; torch raises too);
    an empty tensor reduced over non-empty axes gives an empty result.
    """
    return _reduction(Max, "amax", x, axis, keepdims, dim, keepdim, False, False)


def amin(x, axis=None, keepdims: bool | None = None, *, dim=None,
         keepdim: bool | None = None) -> Tensor:
    """Minimum over ``axis``, the values only, as ``torch.amin``; as :func:`amax` (E9)."""
    return _reduction(Max, "amin", x, axis, keepdims, dim, keepdim, True, False)


def _arg(name: str, x, axis, keepdims, dim, keepdim, smallest: bool) -> Tensor:
    """argmax and argmin: the index of the first maximum (minimum), int64, no gradient."""
    x = tensor_arg(x, name)
    axis = torch_alias(name, "axis", axis, "dim", dim, None)
    keepdims = bool(torch_alias(name, "keepdims", keepdims, "keepdim", keepdim, False))
    xp = xp_of(x.data)
    key = _selection_key(x.data, smallest)
    if axis is None:            # torch: the index into the flattened tensor
        _check_nonempty(name, x, tuple(range(x.ndim)))
        shape = (1,) * x.ndim if keepdims else ()
        key, axis = xp.reshape(key, (x.size,)), 0
    else:
        axis = _one_dim(name, axis, x)
        if x.ndim == 0:
            key = xp.reshape(key, (1,))
        shape = (_kept(x.shape, (axis,)) if keepdims else
                 tuple(n for k, n in enumerate(x.shape) if k != axis))
    return Tensor._wrap(xp.reshape(_first_max_index(key, axis), shape))


def argmax(x, axis=None, keepdims: bool | None = None, *, dim=None,
           keepdim: bool | None = None) -> Tensor:
    """The index of the maximum along ``axis`` (an int), as ``torch.argmax``: int64, no
    gradient; the first of ties, the first NaN where there is one. With no ``axis``, the
    index into the flattened tensor (``keepdims``: every axis kept as length 1). ``dim``,
    ``keepdim`` are torch's names. Errors as :func:`max`'s."""
    return _arg("argmax", x, axis, keepdims, dim, keepdim, smallest=False)


def argmin(x, axis=None, keepdims: bool | None = None, *, dim=None,
           keepdim: bool | None = None) -> Tensor:
    """The index of the minimum, as ``torch.argmin``; as :func:`argmax`."""
    return _arg("argmin", x, axis, keepdims, dim, keepdim, smallest=True)
