"""Ops that write or repeat values at positions an index names, as torch's: ``scatter_add``
(E44: its gradient is a gather, E26 read backwards) and ``repeat_interleave`` (E43: an
``index_select`` with each index repeated, so its gradient sums each repeated block).
Derivations: docs/math.md E43-E44."""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import tensor_arg, xp_of
from .elementwise import cast
from .index import _axis_of, _index_array
from .shape import reshape
from .tile import IndexSelect

__all__ = ["scatter_add", "repeat_interleave"]


def _flat_positions(index_shape: tuple, shape: tuple, axis: int | None,
                    index: np.ndarray | None) -> np.ndarray:
    """The flat positions (host int64, 1-d) in an array of ``shape`` of the elements that
    an index of ``index_shape`` addresses: its own coordinates, the one along ``axis``
    replaced by ``index``'s values where given (a 0-d shape: its one element)."""
    if not shape:
        return np.zeros(1, np.int64)
    coordinates = list(np.indices(index_shape, sparse=True))
    if index is not None and axis is not None:
        coordinates[axis] = index
    return np.reshape(np.ravel_multi_index(coordinates, shape), -1).astype(np.int64)


class ScatterAdd(Function):
    """y = x, then y[i with coordinate ``axis`` replaced by index[i]] += src[i] for every
    position i of index;  dx = dy,  dsrc[i] = dy[that position] (0 where index does not
    reach), a gather  (E44).

    Shapes: x (..., n, ...), src of x's number of axes, index (host int64, x's number of
    axes, no longer than src anywhere and than x off ``axis``, values in [0, n)) → y of x's
    shape and dtype. Saved: the flat positions in y and in src of the elements written and
    read (host int64, index's size each); no values.
    """

    @staticmethod
    def forward(ctx, x, src, axis, index):
        xp = xp_of(x)
        ctx.to = _flat_positions(index.shape, x.shape, axis, index)
        ctx.frm = _flat_positions(index.shape, src.shape, None, None)
        ctx.src_shape = src.shape
        y = xp.reshape(xp.copy(x), (-1,))
        # NOTE: add_at sums repeated positions, as torch's scatter_add; y[pos] += v keeps one
        xp.add_at(y, ctx.to, xp.take(xp.reshape(src, (-1,)), ctx.frm))
        return xp.reshape(y, x.shape)

    @staticmethod
    def backward(ctx, dy):
        xp = xp_of(dy)
        dsrc = None
        if ctx.needs_grad[1]:
            flat = xp.zeros((int(np.prod(ctx.src_shape)),), dy.dtype)
            # NOTE: the positions read in src are distinct: this adds each value once
            xp.add_at(flat, ctx.frm, xp.take(xp.reshape(dy, (-1,)), ctx.to))     # E44
            dsrc = xp.reshape(flat, ctx.src_shape)
        return (dy if ctx.needs_grad[0] else None), dsrc, None, None


def scatter_add(input, dim, index, src) -> Tensor:
    """``input`` with ``src``'s values added at the positions ``index`` names along ``dim``,
    as ``torch.scatter_add``: for dim 0, y[index[i][j][k]][j][k] += src[i][j][k] over every
    position (i, j, k) of ``index``, repeated positions summing. The gradient: dy for
    ``input``, and for ``src`` dy read back at the positions each value went to, a gather
    (0 beyond index's shape; E44).

    Shapes: ``index`` and ``src`` have input's number of axes; index is no longer than
    ``src`` along every axis and than ``input`` off ``dim`` (their leading parts are used);
    y has input's shape and dtype, which src's must equal (as torch; a real one and a
    complex one of its precision, a complex step, give the complex dtype). ``index``: integers
    (a tensor, an array, a list), in [0, input.shape[dim]). A 0-d input takes 0-d index and
    src. On the GPU the positions are found on the host (from the index, which is copied
    there); the values stay on the device.

    Raises TypeError for a non-integer index, a ``src`` that is not a tensor or an array,
    dtypes that differ, or a dim that is not an int; ValueError for numbers of axes that
    differ, an index longer than src or input, or a dim out of range; IndexError for an
    index out of range.
    """
    x = tensor_arg(input, "scatter_add")
    if not isinstance(src, (Tensor, np.ndarray)) and not hasattr(src, "__array__"):
        raise TypeError(f"scatter_add: src must be a tensor, got {type(src).__name__} "
                        f"(torch's takes a tensor; for one number use "
                        f"x.new_full(index.shape, value))")
    s = tensor_arg(src, "scatter_add")
    idx = _index_array(index, "scatter_add")
    axis = _axis_of("scatter_add", dim, x.ndim)
    if s.dtype != x.dtype and {s.dtype.kind, x.dtype.kind} == {"f", "c"} and \
            np.result_type(s.dtype, 1j) == np.result_type(x.dtype, 1j):
        # NOTE: a complex step (docs/math.md G2) in one of them: both complex, recorded
        wide = np.result_type(s.dtype, x.dtype)
        x, s = cast(x, wide), cast(s, wide)
    if s.dtype != x.dtype:
        raise TypeError(f"scatter_add: src is {s.dtype} and input {x.dtype}; they must be "
                        f"equal (as torch): convert src, e.g. src.to(input.dtype)")
    if not idx.ndim == s.ndim == x.ndim:
        raise ValueError(f"scatter_add: index ({idx.ndim}-d, shape {idx.shape}), src "
                         f"({s.ndim}-d) and input ({x.ndim}-d) must have one number of "
                         f"dimensions")
    for k, m in enumerate(idx.shape):
        if m > s.shape[k] or (k != axis and m > x.shape[k]):
            raise ValueError(f"scatter_add: index of shape {idx.shape} must be no longer "
                             f"than src {s.shape} along every axis and than input "
                             f"{x.shape} off dim={axis}; axis {k} is longer")
    n = x.shape[axis] if x.ndim else 1
    bad = idx[(idx < 0) | (idx >= n)]
    if bad.size:
        raise IndexError(f"scatter_add: index {bad.flat[0]} is out of range for dim {axis} "
                         f"of size {n}; expected indices in [0, {n - 1}]")
    return ScatterAdd.apply(x, s, axis, idx)


def _counts(repeats, n: int | None, op: str) -> np.ndarray:
    """``repeats`` (an int, or integers of shape (), (1,) or (n,)) as n host int64 counts
    (``n`` None: integers of shape (m,), as they are); TypeError for anything but integers,
    ValueError for another shape or a negative count."""
    if n is not None and isinstance(repeats, numbers.Integral) and \
            not isinstance(repeats, (bool, np.bool_)):
        counts = np.full(n, int(repeats), np.int64)
    else:
        try:
            if isinstance(repeats, (bool, np.bool_, numbers.Number, str, bytes)):
                raise TypeError
            counts = _index_array(repeats, op)
        except TypeError:
            given = repr(repeats) if isinstance(repeats, numbers.Number) else \
                type(repeats).__name__
            raise TypeError(f"{op}: repeats must be an int or a tensor of integers, got "
                            f"{given:.40}") from None
        if counts.ndim > 1 or (n is None and counts.ndim != 1):
            raise ValueError(f"{op}: repeats must be {'a 1-d' if n is None else 'a 0-d or 1-d'}"
                             f" tensor of integers, got shape {counts.shape}")
        counts = counts.reshape(-1)
        if n is not None and counts.size == 1:
            counts = np.full(n, counts[0], np.int64)
        elif n is not None and counts.size != n:
            raise ValueError(f"{op}: repeats has {counts.size} entries, the dim {n}: give "
                             f"one per element of the dim, or one for all")
    if counts.size and counts.min() < 0:
        raise ValueError(f"{op}: repeats must be non-negative, got {counts.min()}")
    return counts


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Each element (each slice along ``dim``) of ``input`` repeated, one after the other,
    as ``torch.repeat_interleave``: ``[a, b]`` with repeats 2 is ``[a, a, b, b]`` (where
    ``repeat`` tiles: ``[a, b, a, b]``). ``repeats``: an int, or integers of shape (), (1,)
    or (n,) (one per slice). Without ``dim`` the input is flattened first. The gradient of
    each element is the sum of dy over its block of copies (E43: an ``index_select`` with
    the index ``k`` repeated ``repeats[k]`` times, E17a).

    ``repeat_interleave(repeats)`` (one tensor of integers, torch's other form) gives the
    int64 indices 0, 1, ... each repeated its count: ``[2, 1]`` gives ``[0, 0, 1]``.
    ``output_size``: the result's length along dim, if known (checked here; torch uses it to
    avoid a device sync).

    Shapes: x (..., n, ...) → (..., Σ repeats, ...), x's dtype and device; flattened
    without ``dim``. Raises TypeError for repeats that are not integers or a dim that is not
    an int; ValueError for a negative repeat, repeats of another length or more than one
    dim, an ``output_size`` that differs from the sum, a dim out of range or a dim given
    for a 0-d tensor (torch: IndexError).
    """
    if repeats is None:
        counts = _counts(input, None, "repeat_interleave")
        out = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
        _check_output_size(output_size, out.size)
        like = input.data if isinstance(input, Tensor) else out
        return Tensor._wrap(xp_of(like).asarray(out))
    x = tensor_arg(input, "repeat_interleave")
    if dim is None:
        x, axis = reshape(x, (-1,)), 0
    elif x.ndim == 0:
        raise ValueError(f"repeat_interleave: dim={dim!r} given for a 0-d tensor, which has "
                         f"no dims; leave dim=None")
    else:
        axis = _axis_of("repeat_interleave", dim, x.ndim)
    counts = _counts(repeats, x.shape[axis], "repeat_interleave")
    idx = np.repeat(np.arange(x.shape[axis], dtype=np.int64), counts)
    _check_output_size(output_size, idx.size)
    return IndexSelect.apply(x, axis, idx)


def _check_output_size(output_size, total: int) -> None:
    if output_size is not None and output_size != total:
        raise ValueError(f"repeat_interleave: output_size={output_size!r} but the repeats "
                         f"sum to {total}")
