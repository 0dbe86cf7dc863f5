"""More ops that move values, as torch's: ``expand``, ``repeat``, ``chunk``, ``split``,
``t``, ``flip``, ``index_select``, and the running sum ``cumsum``. Their backward routes
each gradient back to where the value came from (docs/math.md E16a, E17a) or, for cumsum,
sums it back (E29). ``repeat``, ``chunk`` and ``split`` are compositions of ``reshape``,
``expand`` and basic indexing, whose gradients are theirs.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function, keep_view_source
from ..kernels.array_api import NUMPY
from ..tensor import Tensor
from ._util import ieee, normalize_axes, tensor_arg, unbroadcast, xp_of
from .elementwise import cast
from .index import _axis_of, _index_array
from .shape import Permute, getitem, reshape, transpose

__all__ = ["expand", "expand_as", "repeat", "chunk", "split", "t", "flip", "index_select",
           "cumsum"]


def _sizes(sizes, op: str) -> tuple[int, ...]:
    """Sizes given as separate ints or one sequence (torch's two forms), as ints; none
    given is a TypeError, as torch's (``()`` is the empty shape)."""
    if not sizes:
        raise TypeError(f"{op}: missing the sizes (separate ints or one tuple; () for none)")
    if len(sizes) == 1 and not isinstance(sizes[0], numbers.Integral):
        sizes = sizes[0]
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise TypeError(f"{op}: expected sizes as ints or one tuple of ints, got {sizes!r:.40}")
    sizes = tuple(sizes)
    for s in sizes:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Integral):
            raise TypeError(f"{op}: every size must be an int, got {s!r:.40} in {sizes!r:.60}")
    return tuple(int(s) for s in sizes)


class Expand(Function):
    """y = x broadcast to a shape (a view);  dx = dy summed over the axes broadcasting added
    or stretched  (E16a, E1)."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        y = xp_of(x).broadcast_to(x, shape)
        keep_view_source(ctx, x, y)
        return y

    @staticmethod
    def backward(ctx, dy):
        return unbroadcast(dy, ctx.shape), None


def expand(x, *sizes) -> Tensor:
    """``x`` broadcast to ``sizes`` (separate ints or one tuple), as torch's ``expand``: a
    size of -1 keeps that dim, new dims are added in front, and a dim of size 1 may take
    any size; the result is a read-only view (torch's shares memory too): an in-place
    change of it raises ValueError (torch: RuntimeError), clone() it first. The gradient is
    summed over the expanded dims (E16a). Raises ValueError for fewer sizes than dims, a -1
    in a new leading dim, or a size that does not match a dim that is not 1."""
    x = tensor_arg(x, "expand")
    shape = _sizes(sizes, "expand")
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: {len(shape)} sizes {shape} for a tensor of shape "
                         f"{x.shape}; give at least one per dim ({x.ndim})")
    target = []
    for k, s in enumerate(shape):
        old = x.shape[k - lead] if k >= lead else None
        if s == -1 and old is not None:
            s = old
        if s < 0 or old is not None and old != 1 and s != old:
            raise ValueError(f"expand: size {shape[k]} at dim {k} does not fit tensor of "
                             f"shape {x.shape} (target {shape}): a dim keeps its size (-1) "
                             f"unless it is 1, and new leading dims take sizes >= 0")
        target.append(s)
    return Expand.apply(x, tuple(target))


def expand_as(x, other) -> Tensor:
    """``expand(x, other.shape)``, as torch's ``expand_as``."""
    return expand(x, tuple(tensor_arg(other, "expand_as").shape))


def repeat(x, *sizes) -> Tensor:
    """``x`` tiled ``sizes[k]`` times along dim k, as torch's ``repeat`` (NumPy's ``tile``):
    sizes (separate ints or one tuple) at least one per dim, extra ones adding dims in front.
    A reshape, an expand and a reshape, so the gradient is dy summed over the tiles (E16,
    E16a). Raises ValueError for fewer sizes than dims or a negative size."""
    x = tensor_arg(x, "repeat")
    reps = _sizes(sizes, "repeat")
    if len(reps) < x.ndim or any(r < 0 for r in reps):
        raise ValueError(f"repeat: sizes {reps} for a tensor of shape {x.shape}: expected at "
                         f"least {x.ndim} non-negative ints")
    shape = (1,) * (len(reps) - x.ndim) + x.shape
    split = tuple(n for s in shape for n in (1, s))                 # (1, s0, 1, s1, ...)
    tiled = tuple(n for r, s in zip(reps, shape) for n in (r, s))   # (r0, s0, r1, s1, ...)
    return reshape(expand(reshape(x, split), tiled),
                   tuple(r * s for r, s in zip(reps, shape)))


def _pieces(x: Tensor, axis: int, sizes) -> tuple[Tensor, ...]:
    """The consecutive slices of ``x`` along ``axis`` of the given sizes (views, each a
    basic-indexing getitem: its gradient routed back by E17)."""
    lead, out, start = (slice(None),) * axis, [], 0
    for n in sizes:
        out.append(getitem(x, lead + (slice(start, start + n),)))
        start += n
    return tuple(out)


def _split_axis(x: Tensor, dim, op: str) -> int:
    if x.ndim == 0:
        raise ValueError(f"{op}: expected a tensor with at least 1 dim, got a 0-d tensor")
    return _axis_of(op, dim, x.ndim)


def chunk(x, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """``x`` split along ``dim`` into pieces of ceil(n / chunks) elements (the last smaller,
    so there may be fewer than ``chunks``), as ``torch.chunk``: a tuple of views, each
    gradient routed back (E17). Raises ValueError for chunks < 1 or a 0-d tensor."""
    x = tensor_arg(x, "chunk")
    if isinstance(chunks, bool) or not isinstance(chunks, numbers.Integral):
        raise TypeError(f"chunk: chunks must be an int, got {chunks!r:.40}")
    if chunks < 1:
        raise ValueError(f"chunk: chunks must be at least 1, got {chunks}")
    axis = _split_axis(x, dim, "chunk")
    n = x.shape[axis]
    if n == 0:                  # torch: `chunks` empty pieces
        return _pieces(x, axis, [0] * int(chunks))
    size = -(-n // int(chunks))
    return _pieces(x, axis, [min(size, n - k) for k in range(0, n, size)])


def split(x, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """``x`` split along ``dim``, as ``torch.split``: into pieces of ``split_size_or_sections``
    elements (an int; the last smaller) or of the sizes listed (which must sum to the dim's
    length). A tuple of views, each gradient routed back (E17). Raises ValueError for a
    negative size, a size 0 of a non-empty dim, sizes that do not sum to the length, or a
    0-d tensor; TypeError for sizes that are not ints."""
    x = tensor_arg(x, "split")
    axis = _split_axis(x, dim, "split")
    n = x.shape[axis]
    given = split_size_or_sections
    if isinstance(given, numbers.Integral) and not isinstance(given, bool):
        size = int(given)
        if size < 0 or size == 0 and n > 0:
            raise ValueError(f"split: split_size must be positive (0 only for an empty dim), "
                             f"got {size} for a dim of length {n}")
        return _pieces(x, axis, [min(size, n - k) for k in range(0, n, size)] if n else [0])
    sizes = _sizes((given,), "split")
    if any(s < 0 for s in sizes) or sum(sizes) != n:
        raise ValueError(f"split: sizes {list(sizes)} must be non-negative and sum to the "
                         f"length {n} of dim {axis} (shape {x.shape})")
    return _pieces(x, axis, sizes)


def t(x) -> Tensor:
    """The transpose of a 2-D tensor, as ``torch.t``; a 0-d or 1-d tensor as it is (a view
    in the graph, as torch's). ValueError for more than 2 dims (use transpose or permute)."""
    x = tensor_arg(x, "t")
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor with <= 2 dims, got shape {x.shape}; use "
                         f"transpose(x, dim0, dim1) or permute")
    return transpose(x, 0, 1) if x.ndim == 2 else Permute.apply(x, tuple(range(x.ndim)))


def _flipped(xp, a, axes: tuple[int, ...]):
    """``a`` reversed along ``axes``, a new array (torch's flip copies, NumPy's is a view)."""
    if xp is NUMPY:
        return np.flip(a, axes).copy()
    for ax in axes:         # NOTE: a gather per axis: device arrays refuse negative strides
        a = xp.take(a, np.arange(a.shape[ax] - 1, -1, -1), axis=ax)
    return a if axes else xp.copy(a)


class Flip(Function):
    """y = x reversed along some axes;  dx = dy reversed along them  (E17a)."""

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return _flipped(xp_of(x), x, axes)

    @staticmethod
    def backward(ctx, dy):
        return _flipped(xp_of(dy), dy, ctx.axes), None


def flip(x, dims) -> Tensor:
    """``x`` reversed along ``dims`` (an int or a tuple), as ``torch.flip``: a copy, not a
    view (NumPy's flip is one); the gradient flipped back (E17a). Raises ValueError for a
    dim out of range or repeated, TypeError for dims that are not ints."""
    x = tensor_arg(x, "flip")
    return Flip.apply(x, normalize_axes(dims, x.ndim, "flip"))


class IndexSelect(Function):
    """y = x with its slices along an axis picked by idx;  dx = dy's slices scatter-added back
    to the rows idx names, repeats summing  (E17a)."""

    @staticmethod
    def forward(ctx, x, axis, idx):
        ctx.shape, ctx.axis, ctx.idx = x.shape, axis, idx
        return xp_of(x).take(x, idx, axis=axis)

    @staticmethod
    def backward(ctx, dy):
        xp, axis = xp_of(dy), ctx.axis
        # NOTE: the axis moved first: the device's add_at scatters along axis 0
        order = (axis,) + tuple(k for k in range(dy.ndim) if k != axis)
        inverse = tuple(np.argsort(order))
        first = tuple(ctx.shape[k] for k in order)
        dx = xp.zeros(first, dy.dtype)
        xp.add_at(dx, ctx.idx, xp.transpose(dy, order))
        return xp.transpose(dx, inverse), None, None


def index_select(x, dim: int, index) -> Tensor:
    """The slices of ``x`` along ``dim`` that ``index`` names, in its order, as
    ``torch.index_select``: shape x.shape with dim's length replaced by len(index); the
    gradient scatter-added back, repeated indices summing (E17a).

    ``index``: 1-d (or 0-d) integers (a tensor, an array, a list), in [0, x.shape[dim]).
    Raises TypeError for a non-integer index or a dim that is not an int, IndexError for
    an index with more than 1 dim or out of range (torch: RuntimeError), ValueError for a
    dim out of range."""
    x = tensor_arg(x, "index_select")
    idx = _index_array(index, "index_select")
    axis = _axis_of("index_select", dim, x.ndim)
    if idx.ndim > 1:
        raise IndexError(f"index_select: index must be a vector (1-d), got shape {idx.shape}")
    idx = idx.reshape(-1)
    n = x.shape[axis] if x.ndim else 1
    bad = idx[(idx < 0) | (idx >= n)]
    if bad.size:
        raise IndexError(f"index_select: index {bad[0]} is out of range for dim {axis} of "
                         f"size {n}; expected indices in [0, {n - 1}]")
    if x.ndim == 0:
        if idx.size != 1:
            raise IndexError(f"index_select: a 0-d tensor takes 1 index, got {idx.size}")
        return reshape(IndexSelect.apply(reshape(x, (1,)), 0, idx), ())
    return IndexSelect.apply(x, axis, idx)


def _reverse_cumsum(xp, a, axis: int):
    """Σ_{j ≥ i} a_j along ``axis`` (E29)."""
    return _flipped(xp, _cumsum(xp, _flipped(xp, a, (axis,)), axis), (axis,))


def _cumsum(xp, a, axis: int):
    if xp is NUMPY:
        return np.cumsum(a, axis=axis)
    # NOTE: no device scan kernel: summed on the host, moved back (as topk sorts)
    return xp.asarray(np.cumsum(xp.to_host(a), axis=axis))


@ieee
class Cumsum(Function):
    """y_i = Σ_{j ≤ i} x_j along an axis;  dx_i = Σ_{j ≥ i} dy_j, the reversed running sum
    of dy  (E29)."""

    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        return _cumsum(xp_of(x), x, axis)

    @staticmethod
    def backward(ctx, dy):
        return _reverse_cumsum(xp_of(dy), dy, ctx.axis), None


def cumsum(x, dim: int, *, dtype=None) -> Tensor:
    """The running sum along ``dim``, as ``torch.cumsum``: y_i = x_0 + … + x_i; the gradient
    is the running sum of dy from the end (E29). inf - inf is NaN without NumPy's warning,
    as torch. A bool or integer tensor sums in int64
    (torch's), ``dtype`` converts x first (recorded, as ``cast``). On the GPU it sums on the
    host. Raises TypeError for a dim that is not an int, ValueError for one out of range."""
    x = tensor_arg(x, "cumsum")
    axis = _axis_of("cumsum", dim, x.ndim)
    target = np.dtype(dtype) if dtype is not None else \
        np.dtype(np.int64) if x.dtype.kind in "biu" else x.dtype
    if target != x.dtype:
        x = cast(x, target)
    if x.ndim == 0:
        return reshape(Cumsum.apply(reshape(x, (1,)), 0), ())
    return Cumsum.apply(x, axis)
