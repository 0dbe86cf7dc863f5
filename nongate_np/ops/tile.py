"""More ops that move values, as torch's: ``expand``, ``repeat``, ``chunk``, ``split``,
``t``, ``flip``, ``roll``, ``index_select``, and the running sum and product ``cumsum`` and
``cumprod``. Their backward routes each gradient back to where the value came from
(docs/math.md E16a, E17a, E39) or, for cumsum and cumprod, sums it back (E29, E37).
``repeat``, ``chunk`` and ``split`` are compositions of ``reshape``, ``expand`` and basic
indexing, whose gradients are theirs.
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

__all__ = ["expand", "expand_as", "repeat", "chunk", "split", "unbind", "t", "flip",
           "index_select", "cumsum", "cumprod", "roll"]


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


def unbind(input, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of ``input`` along ``dim``, that dim removed, as ``torch.unbind``: a tuple
    of ``input.shape[dim]`` views (basic indexing), each gradient routed back (E17). Raises
    ValueError for a 0-d tensor or a dim out of range (torch: IndexError), TypeError for a
    dim that is not an int."""
    x = tensor_arg(input, "unbind")
    axis = _split_axis(x, dim, "unbind")
    lead = (slice(None),) * axis
    return tuple(getitem(x, lead + (k,)) for k in range(x.shape[axis]))


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


def _cumprod(xp, a, axis: int):
    if xp is NUMPY:
        return np.cumprod(a, axis=axis)
    # NOTE: no device scan kernel: multiplied on the host, moved back (as cumsum)
    return xp.asarray(np.cumprod(xp.to_host(a), axis=axis))


def _cumprod_grad(x: np.ndarray, dy: np.ndarray, axis: int) -> np.ndarray:
    """dx_k = p_k S_k along ``axis`` (E37): p_k = Π_{j<k} x_j, the running product before
    k, and S_k = Σ_{i≥k} dy_i Π_{k<j≤i} x_j by its recurrence from the end, S_{n−1} =
    dy_{n−1}, S_k = dy_k + x_{k+1} S_{k+1}. Products and sums only: exact where x holds
    zeros. A loop of n steps along the axis, each over the other axes. Host arrays."""
    xm, dym = np.moveaxis(x, axis, 0), np.moveaxis(dy, axis, 0)
    dx = np.zeros(dym.shape, np.result_type(x, dy))
    n = xm.shape[0]
    if n == 0:
        return np.moveaxis(dx, 0, axis)
    before = np.ones_like(dx)                                   # p_k
    np.cumprod(xm[:-1], axis=0, out=before[1:])
    s = dym[n - 1]
    dx[n - 1] = before[n - 1] * s
    for k in range(n - 2, -1, -1):
        s = dym[k] + xm[k + 1] * s                               # E37: S_k
        dx[k] = before[k] * s
    return np.moveaxis(dx, 0, axis)


@ieee
class Cumprod(Function):
    """y_i = Π_{j ≤ i} x_j along an axis;  dx_k = p_k S_k, p_k = Π_{j<k} x_j,
    S_k = dy_k + x_{k+1} S_{k+1} from S_{n−1} = dy_{n−1}  (E37: no division, exact with one
    or several zeros). Saved: x. Both directions compute on the host on the GPU."""

    @staticmethod
    def forward(ctx, x, axis):
        ctx.save_for_backward(x)
        ctx.axis = axis
        return _cumprod(xp_of(x), x, axis)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        dx = _cumprod_grad(xp.to_host(x), xp.to_host(dy), ctx.axis)
        return (dx if xp is NUMPY else xp.asarray(dx)), None


def cumprod(input, dim: int, *, dtype=None) -> Tensor:
    """The running product along ``dim``, as ``torch.cumprod``: y_i = x_0 · … · x_i. The
    gradient dx_k = Σ_{i≥k} dy_i Π_{j≤i, j≠k} x_j is formed from running products and a
    recurrence from the end, without division (E37): exact where x holds one zero or
    several (torch's too), where the running product underflows and where x holds an
    infinity (torch's divides there: a wrong gradient, or NaN at the infinity). The
    backward takes one step per element of the axis, each vectorised over the other dims
    (fast for batches; a long 1-d tensor costs about half a microsecond per element).

    A bool or integer tensor multiplies in int64 (torch's; wrapping around as NumPy's),
    ``dtype`` converts x first (recorded, as ``cast``). On the GPU it multiplies on the
    host. Shapes: x (*) -> (*). Raises TypeError for a dim that is not an int, ValueError
    for one out of range."""
    x = tensor_arg(input, "cumprod")
    axis = _axis_of("cumprod", dim, x.ndim)
    target = np.dtype(dtype) if dtype is not None else \
        np.dtype(np.int64) if x.dtype.kind in "biu" else x.dtype
    if target != x.dtype:
        x = cast(x, target)
    if x.ndim == 0:
        return reshape(Cumprod.apply(reshape(x, (1,)), 0), ())
    return Cumprod.apply(x, axis)


def _rolled(xp, a, shifts: tuple[int, ...], axes: tuple[int, ...]):
    """``a`` shifted cyclically by shifts[k] along axes[k], a new array: a gather per axis
    of y_i = a_{(i − s) mod n} (E39)."""
    out = a
    for s, axis in zip(shifts, axes):
        n = a.shape[axis]
        if n:
            out = xp.take(out, (np.arange(n, dtype=np.int64) - s) % n, axis=axis)
    return xp.copy(out) if out is a else out


class Roll(Function):
    """y_i = x_{(i − s) mod n} along each rolled axis (shift s, length n);  dx = dy rolled
    by −s  (E39: a permutation, whose adjoint is its inverse)."""

    @staticmethod
    def forward(ctx, x, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        return _rolled(xp_of(x), x, shifts, axes)

    @staticmethod
    def backward(ctx, dy):
        back = tuple(-s for s in ctx.shifts)
        return _rolled(xp_of(dy), dy, back, ctx.axes), None, None


def _ints(value, what: str) -> tuple[int, ...]:
    """An int or a sequence of ints as a tuple of ints (TypeError for anything else)."""
    items = (value,) if isinstance(value, numbers.Integral) else value
    if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
        raise TypeError(f"roll: {what} must be an int or a sequence of ints, got "
                        f"{value!r:.40}")
    items = tuple(items)
    for v in items:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
            raise TypeError(f"roll: {what} must be ints, got {v!r:.40} in {value!r:.60}")
    return tuple(int(v) for v in items)


def roll(input, shifts, dims=None) -> Tensor:
    """``input`` shifted cyclically, as ``torch.roll``: along dim ``dims[k]`` by
    ``shifts[k]`` (ints or sequences of equal length; a dim named twice is rolled twice),
    y_i = x_{(i − s) mod n}, the elements pushed off one end coming in at the other; with
    ``dims`` None, x flattened, rolled by the one shift and reshaped. dx is dy rolled back
    (E39). A copy, on x's device. Shapes: x (*) -> (*), x's dtype.

    Raises ValueError for no shift, for numbers of shifts and dims that differ (one shift
    without dims), or a dim out of range; TypeError for shifts or dims that are not ints."""
    x = tensor_arg(input, "roll")
    shift = _ints(shifts, "shifts")
    if not shift:
        raise ValueError("roll: shifts is empty; give one shift per dim (or one shift "
                         "with dims=None)")
    if dims is None:
        if len(shift) != 1:
            raise ValueError(f"roll: {len(shift)} shifts {shift} without dims; give one "
                             f"shift to roll the flattened tensor, or dims, one per shift")
        return reshape(Roll.apply(reshape(x, (-1,)), shift, (0,)), x.shape)
    axes = _ints(dims, "dims")
    if len(axes) != len(shift):
        raise ValueError(f"roll: {len(shift)} shifts {shift} and {len(axes)} dims {axes}; "
                         f"give one shift per dim")
    rolled = tuple(a for d in axes for a in normalize_axes(d, x.ndim, "roll"))
    if not rolled:                                    # a 0-d tensor: nothing moves
        return Roll.apply(x, (), ())
    return Roll.apply(x, shift, rolled)
