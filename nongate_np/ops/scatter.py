"""Ops that write or repeat values at positions an index names, as torch's: ``scatter_add``
(E44: its gradient is a gather, E26 read backwards), ``scatter`` (E45: it overwrites, so
the overwritten values get no gradient), ``index_add``, ``index_copy`` and ``index_fill``
(E46: the two scatters with an index laid out along one dim), ``scatter_reduce`` (E48:
each target's sum, product, mean, max or min of what reaches it), and ``repeat_interleave``
(E43: an ``index_select`` with each index repeated, so its gradient sums each repeated
block). Derivations: docs/math.md E43-E48."""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function
from ..casting import fill_value
from ..tensor import Tensor
from ._util import ieee, tensor_arg, xp_of
from .elementwise import cast
from .index import _axis_of, _index_array
from .shape import reshape
from .tile import IndexSelect

__all__ = ["scatter_add", "scatter", "scatter_reduce", "index_add", "index_copy",
           "index_fill", "repeat_interleave"]


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


@ieee
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
    x, s, axis, idx = _operands("scatter_add", input, dim, index, src)
    return ScatterAdd.apply(x, s, axis, idx)


def _operands(name: str, input, dim, index, src) -> tuple[Tensor, Tensor, int, np.ndarray]:
    """The arguments of a scatter (:func:`scatter_add`, :func:`scatter`) checked: input
    and src as tensors of one dtype (a real and a complex one of its precision, a complex
    step, both made complex), dim as a non-negative axis, index as host int64 in range;
    errors name ``name``."""
    x = tensor_arg(input, name)
    if not isinstance(src, (Tensor, np.ndarray)) and not hasattr(src, "__array__"):
        raise TypeError(f"{name}: src must be a tensor, got {type(src).__name__} "
                        f"(torch's takes a tensor; for one number use "
                        f"x.new_full(index.shape, value))")
    s = tensor_arg(src, name)
    idx = _index_array(index, name)
    axis = _axis_of(name, dim, x.ndim)
    x, s = _one_dtype(name, x, s, "src")
    if not idx.ndim == s.ndim == x.ndim:
        raise ValueError(f"{name}: index ({idx.ndim}-d, shape {idx.shape}), src "
                         f"({s.ndim}-d) and input ({x.ndim}-d) must have one number of "
                         f"dimensions")
    for k, m in enumerate(idx.shape):
        if m > s.shape[k] or (k != axis and m > x.shape[k]):
            raise ValueError(f"{name}: index of shape {idx.shape} must be no longer "
                             f"than src {s.shape} along every axis and than input "
                             f"{x.shape} off dim={axis}; axis {k} is longer")
    _check_range(name, idx, x.shape[axis] if x.ndim else 1, axis)
    return x, s, axis, idx


def _one_dtype(name: str, x: Tensor, s: Tensor, what: str) -> tuple[Tensor, Tensor]:
    """x and s (``what``) of one dtype: as given where equal; both complex where one is
    the complex dtype of the other's precision (a complex step, docs/math.md G2; the cast
    recorded); TypeError otherwise, as torch."""
    if s.dtype != x.dtype and {s.dtype.kind, x.dtype.kind} == {"f", "c"} and \
            np.result_type(s.dtype, 1j) == np.result_type(x.dtype, 1j):
        wide = np.result_type(s.dtype, x.dtype)
        x, s = cast(x, wide), cast(s, wide)
    if s.dtype != x.dtype:
        raise TypeError(f"{name}: {what} is {s.dtype} and input {x.dtype}; they must be "
                        f"equal (as torch): convert {what}, e.g. {what}.to(input.dtype)")
    return x, s


def _check_range(name: str, idx: np.ndarray, n: int, axis: int) -> None:
    """IndexError naming the first index outside [0, n) along ``axis``."""
    bad = idx[(idx < 0) | (idx >= n)]
    if bad.size:
        raise IndexError(f"{name}: index {bad.flat[0]} is out of range for dim {axis} "
                         f"of size {n}; expected indices in [0, {n - 1}]")


def _last_writes(to: np.ndarray) -> np.ndarray:
    """The positions in ``to`` (flat targets, in the index's row-major order) that a
    sequential loop leaves written: of a repeated target, its last write, as torch's CPU
    loop (torch leaves the order undefined). Ascending, host int64."""
    _, first_from_end = np.unique(to[::-1], return_index=True)
    return np.sort(to.size - 1 - first_from_end)


@ieee
class Scatter(Function):
    """y = x, then y[i with coordinate ``axis`` replaced by index[i]] = src[i] for every
    position i of index;  dx = dy where nothing was written, 0 where something was;
    dsrc[i] = dy[that position] for the value kept there, 0 for a value overwritten by a
    later one and beyond index's shape  (E45).

    Shapes: x (..., n, ...), src of x's number of axes (for :func:`index_fill` and a
    scatter of one number, a tensor of that constant, needing no gradient), index (host
    int64, x's number of axes, no longer than src anywhere and than x off ``axis``, values
    in [0, n)) → y of x's shape and dtype. Of a target written more than once the last
    write in index's row-major order is kept (torch's CPU loop; torch leaves it
    undefined). Saved: the written flat positions in y and the read ones in src (host
    int64, one each per target), and the written mask (x's shape, booleans on x's
    device); no values.
    """

    @staticmethod
    def forward(ctx, x, src, axis, index):
        xp = xp_of(x)
        to = _flat_positions(index.shape, x.shape, axis, index)
        frm = _flat_positions(index.shape, src.shape, None, None)
        kept = _last_writes(to)
        ctx.to, ctx.frm, ctx.src_shape = to[kept], frm[kept], src.shape
        written = np.zeros(x.size, np.bool_)
        written[ctx.to] = True
        ctx.written = xp.asarray(np.reshape(written, x.shape))
        # NOTE: -0.0 + v is v exactly for a real v (-0.0, inf, NaN included; a complex zero
        # imaginary part may lose its sign), so an add_at into -0.0 writes the values on
        # either device, whose array functions have no assignment
        values = xp.full((x.size,), -0.0, x.dtype)
        xp.add_at(values, ctx.to, xp.take(xp.reshape(src, (-1,)), ctx.frm))
        return xp.where(ctx.written, xp.reshape(values, x.shape), x)

    @staticmethod
    def backward(ctx, dy):
        xp = xp_of(dy)
        dx = xp.where(ctx.written, xp.zeros((), dy.dtype), dy) if ctx.needs_grad[0] else None
        dsrc = None
        if ctx.needs_grad[1]:
            flat = xp.zeros((int(np.prod(ctx.src_shape)),), dy.dtype)
            # NOTE: the kept positions are distinct: this writes each value once
            xp.add_at(flat, ctx.frm, xp.take(xp.reshape(dy, (-1,)), ctx.to))     # E45
            dsrc = xp.reshape(flat, ctx.src_shape)
        return dx, dsrc, None, None


def scatter(input, dim, index, src=None, *, value=None, reduce=None) -> Tensor:
    """``input`` with ``src``'s values (or one ``value``) written at the positions ``index``
    names along ``dim``, as ``torch.scatter``: for dim 0, y[index[i][j][k]][j][k] =
    src[i][j][k] over every position (i, j, k) of ``index``. The gradient: dy for
    ``input`` where nothing was written (0 where something was), and for ``src`` dy read
    back where each value went (E45).

    Of a position written more than once the last write in index's row-major order is kept
    and only its value gets a gradient (torch leaves which undefined, and its backward
    gives every value dy there); the result is the same at every run.

    Shapes: ``index`` and ``src`` have input's number of axes; index is no longer than
    ``src`` along every axis and than ``input`` off ``dim`` (their leading parts are used);
    y has input's shape and dtype, which src's must equal (as torch; a complex step in one
    of them makes both complex). ``index``: integers (a tensor, an array, a list), in
    [0, input.shape[dim]). ``src`` a number, or ``value=``, writes that number (no
    gradient, as torch's). ``reduce``: only None (torch's reduce="add" is
    :func:`scatter_add`; its "multiply" has no backward in torch and is not here).

    Raises TypeError for a non-integer index, a ``src`` that is neither a tensor, an array
    nor a number, src and value both given, dtypes that differ, or a dim that is not an
    int; ValueError for numbers of axes that differ, an index longer than src or input, a
    dim out of range, a reduce, or a value input's dtype cannot hold (NaN or inf in an
    integer dtype; 1.5 in one is 1, as torch); IndexError for an index out of range.
    """
    if reduce is not None:
        hint = "use scatter_add" if reduce == "add" else "it is not here (torch's has no " \
                                                         "backward for it)"
        raise ValueError(f"scatter: reduce={reduce!r} is not supported: {hint}")
    if src is not None and value is not None:
        raise TypeError("scatter: give src or value, not both")
    if src is None and value is None:
        raise TypeError("scatter: give src (a tensor) or value (a number)")
    if isinstance(src, numbers.Number):         # torch's scatter(dim, index, value)
        src, value = None, src
    if value is not None:
        return _fill("scatter", input, dim, index, value)
    return Scatter.apply(*_operands("scatter", input, dim, index, src))


REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


@ieee
class ScatterReduce(Function):
    """y = x, then at each position p that index names along ``axis`` the reduction of the
    values that reach it: src[i] for every i with i' = p (E44's i'), and x[p] with
    ``include_self``;  dx, dsrc the reduction's own gradient per target (E48):

    - sum: 1 for each value; mean: 1/n_p (n_p the values reaching p);
    - prod: the product of the other values of p (exact with zeros: no division by one);
    - amax, amin: 1/k_p for each of the k_p values equal to y[p], 0 for the others (torch's
      even split among ties); NaN for all where y[p] is NaN (torch's).

    x off the targets gets dy; with ``include_self`` False, x at a target gets 0. Shapes:
    x (..., n, ...), src and index as :func:`scatter_add`'s → y of x's shape and dtype (an
    integer mean divides by floor, as torch's). Computed on the host (a GPU tensor's arrays
    are copied there and back). Saved: the flat positions, and x, src and y (host).
    """

    @staticmethod
    def forward(ctx, x, src, axis, index, reduce, include_self):
        xp = xp_of(x)
        host_x, host_src = xp.to_host(x), xp.to_host(src)
        to = _flat_positions(index.shape, x.shape, axis, index)
        frm = _flat_positions(index.shape, src.shape, None, None)
        values = np.reshape(host_src, -1)[frm]
        y = np.array(host_x, copy=True).reshape(-1)
        hits = np.zeros(y.size, np.int64)
        np.add.at(hits, to, 1)
        target = hits > 0
        count = hits + (1 if include_self else 0)          # the values reaching each p
        if not include_self:
            y[target] = _identity(reduce, y.dtype)
        if reduce in ("sum", "mean"):
            np.add.at(y, to, values)
            if reduce == "mean":
                divide = np.floor_divide if y.dtype.kind in "iub" else np.true_divide
                y[target] = divide(y[target], count[target].astype(y.dtype))
        elif reduce == "prod":
            np.multiply.at(y, to, values)
        else:
            (np.maximum if reduce == "amax" else np.minimum).at(y, to, values)
        ctx.to, ctx.frm, ctx.reduce, ctx.include_self = to, frm, reduce, include_self
        ctx.count, ctx.target, ctx.src_shape = count, target, src.shape
        ctx.x, ctx.values, ctx.y = np.reshape(host_x, -1), values, y
        return xp.asarray(y.reshape(x.shape))

    @staticmethod
    def backward(ctx, dy):
        xp = xp_of(dy)
        g = np.reshape(xp.to_host(dy), -1)
        self_factor, src_factor = _reduce_factors(ctx)     # ∂y[p]/∂x[p], ∂y[i']/∂src[i]
        dx = np.where(ctx.target, g * self_factor if ctx.include_self else 0, g)
        dsrc = np.zeros(int(np.prod(ctx.src_shape)), g.dtype)
        dsrc[ctx.frm] = g[ctx.to] * src_factor             # E48; each src element read once
        return (xp.asarray(dx.astype(g.dtype).reshape(dy.shape)) if ctx.needs_grad[0] else None,
                xp.asarray(dsrc.reshape(ctx.src_shape)) if ctx.needs_grad[1] else None,
                None, None, None, None)


def _identity(reduce: str, dtype: np.dtype):
    """The value a reduction starts from where x does not take part (include_self=False)."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    if dtype.kind == "b":
        return reduce != "amax"
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


def _reduce_factors(ctx) -> tuple[np.ndarray, np.ndarray]:
    """∂y[p]/∂x[p] at every position (used at the targets) and ∂y[i']/∂src[i] for each
    value read, of the reduction ``ctx.reduce`` (E48)."""
    to, count, values, x, y = ctx.to, ctx.count, ctx.values, ctx.x, ctx.y
    if ctx.reduce == "sum":
        return np.ones(x.size, y.dtype), np.ones(values.size, y.dtype)
    if ctx.reduce == "mean":
        share = 1 / np.maximum(count, 1)
        return share.astype(y.dtype), share[to].astype(y.dtype)
    if ctx.reduce == "prod":
        # the product of the other values of p: from the count of zeros and the product of
        # the nonzero values at p, so a zero among them is exact (no 0/0)
        zeros = np.zeros(x.size, np.int64)
        np.add.at(zeros, to, values == 0)
        nonzero = np.ones(x.size, y.dtype)
        np.multiply.at(nonzero, to, np.where(values == 0, 1, values))
        if ctx.include_self:
            zeros += x == 0
            nonzero *= np.where(x == 0, 1, x)
        return (_others(x, zeros, nonzero),
                _others(values, zeros[to], nonzero[to]))
    # amax, amin: y's gradient split evenly among the values equal to it; a NaN result
    # equals none of them (no ties): NaN for all, as torch's
    equal_src = values == y[to]
    ties = np.zeros(x.size, np.int64)
    np.add.at(ties, to, equal_src)
    equal_self = (x == y) if ctx.include_self else np.zeros(x.size, bool)
    ties += equal_self
    with np.errstate(divide="ignore"):
        share = np.where(ties > 0, 1 / np.maximum(ties, 1), np.nan)
    return (np.where(ties > 0, equal_self * share, share).astype(y.dtype),
            np.where(ties[to] > 0, equal_src * share[to], np.nan).astype(y.dtype))


def _others(v: np.ndarray, zeros: np.ndarray, nonzero: np.ndarray) -> np.ndarray:
    """The product of the other values of each value v's target, from its target's count
    of zeros and product of nonzero values: 0 where another value is 0, the nonzero
    product where v is the one zero, else that product over v."""
    with np.errstate(all="ignore"):
        return np.where(zeros - (v == 0) > 0, 0,
                        np.where(v == 0, nonzero, nonzero / np.where(v == 0, 1, v)))


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True) -> Tensor:
    """``input`` with, at each position ``index`` names along ``dim``, the reduction of
    the ``src`` values that reach it (and input's own value with ``include_self``), as
    ``torch.scatter_reduce``: ``reduce`` "sum", "prod", "mean", "amax" or "amin". For dim
    0, position (index[i][j][k], j, k) reduces src[i][j][k] over every (i, j, k) of
    index. Positions no index names keep input's value. The gradient is each reduction's
    own per target (E48): sum 1, mean 1/n, prod the product of the other values (exact with
    zeros), amax/amin dy split evenly among the values equal to the result (torch's rule,
    but where ``include_self`` is False input's own value is not among them: torch counts
    it, so its shares sum to less than dy there); input gets 0 at the targets without
    ``include_self``.

    Shapes: ``index`` and ``src`` have input's number of axes; index is no longer than
    ``src`` along every axis and than ``input`` off ``dim``; y has input's shape and dtype,
    which src's must equal (an integer mean divides by floor, as torch's). ``index``:
    integers in [0, input.shape[dim]). On the GPU the reduction runs on the host.

    Raises TypeError for a non-integer index, a ``src`` that is not a tensor or an array,
    dtypes that differ, a dim that is not an int, or amax/amin of complex values;
    ValueError for an unknown ``reduce``, numbers of axes that differ, an index longer than
    src or input, or a dim out of range; IndexError for an index out of range.
    """
    if reduce not in REDUCTIONS:
        raise ValueError(f"scatter_reduce: reduce must be one of {', '.join(REDUCTIONS)}, got "
                         f"{reduce!r:.40}")
    x, s, axis, idx = _operands("scatter_reduce", input, dim, index, src)
    if reduce in ("amax", "amin") and x.dtype.kind == "c":
        raise TypeError(f"scatter_reduce: reduce={reduce!r} of complex values has no order "
                        f"(torch refuses it too); check its gradient with method='central'")
    return ScatterReduce.apply(x, s, axis, idx, reduce, bool(include_self))


def _fill(name: str, input, dim, index, value) -> Tensor:
    """:class:`Scatter` of one number ``value`` (a constant: no gradient)."""
    x = tensor_arg(input, name)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"{name}: value must be a number or a 0-d tensor, got shape "
                             f"{value.shape}")
        value = value.item()
    if not isinstance(value, (numbers.Number, np.number)):
        raise TypeError(f"{name}: value must be a number, got {type(value).__name__}")
    idx = _index_array(index, name)
    constants = xp_of(x.data).full(idx.shape, fill_value(value, x.dtype, name).item(),
                                   x.dtype)
    return Scatter.apply(*_operands(name, x, dim, idx, constants))


def index_add(input, dim, index, source, *, alpha=1) -> Tensor:
    """``input`` with ``alpha · source``'s slices along ``dim`` added to the slices
    ``index`` names, as ``torch.index_add``: for dim 0, y[index[j]] += alpha · source[j],
    repeated indices summing. A :func:`scatter_add` of the index laid out along dim (E46):
    dy for input, ``alpha`` times dy's slices at the index for source.

    Shapes: input (..., n, ...), index (m,) integers in [0, n) (a tensor, an array, a
    list; 0-d as (1,)), source input's shape with m at dim → y of input's shape and dtype
    (a 0-d input: index of one element, 0-d source). Raises TypeError for a non-integer
    index, dtypes that differ, or a dim that is not an int; ValueError for a source of
    another shape or a dim out of range; IndexError for an index with more than 1 dim or
    out of range (torch: RuntimeError).
    """
    x, s, axis, idx = _along_dim("index_add", input, dim, index, source)
    return ScatterAdd.apply(x, s if alpha == 1 else s * alpha, axis, idx)


def index_copy(input, dim, index, source) -> Tensor:
    """``input`` with the slices along ``dim`` that ``index`` names replaced by
    ``source``'s, as ``torch.index_copy``: for dim 0, y[index[j]] = source[j]. A
    :func:`scatter` of the index laid out along dim (E46): dy for input off the replaced
    slices (0 on them), dy's slices at the index for source. Of an index repeated the
    last slice is kept and only it gets a gradient (torch leaves it undefined).

    Shapes and errors as :func:`index_add`.
    """
    return Scatter.apply(*_along_dim("index_copy", input, dim, index, source))


def index_fill(input, dim, index, value) -> Tensor:
    """``input`` with the slices along ``dim`` that ``index`` names set to ``value``, as
    ``torch.index_fill``: for dim 0, y[index[j]] = value. A :func:`scatter` of a constant
    (E46): dy for input off the filled slices, 0 on them; ``value`` (a number, or a 0-d
    tensor read as one) gets no gradient.

    Shapes: input (..., n, ...), index (m,) integers in [0, n) → y of input's shape and
    dtype. Raises TypeError for a non-integer index or a value that is not a number,
    ValueError for a value tensor that is not 0-d, a value input's dtype cannot hold (as
    :func:`scatter`) or a dim out of range, IndexError for an index with more than 1 dim
    or out of range.
    """
    x = tensor_arg(input, "index_fill")
    idx, axis = _index_vector("index_fill", index, dim, x)
    return _fill("index_fill", x, dim, _laid_out(idx, axis, x.shape, x.ndim), value)


def _index_vector(name: str, index, dim, x: Tensor) -> tuple[np.ndarray, int]:
    """``index`` as 1-d host int64 in range along ``dim`` of x (a 0-d x: one index, 0),
    and dim as an axis."""
    idx = _index_array(index, name)
    axis = _axis_of(name, dim, x.ndim)
    if idx.ndim > 1:
        raise IndexError(f"{name}: index must be a vector (1-d), got shape {idx.shape}")
    idx = idx.reshape(-1)
    if x.ndim == 0 and idx.size != 1:
        raise IndexError(f"{name}: a 0-d tensor takes 1 index, got {idx.size}")
    _check_range(name, idx, x.shape[axis] if x.ndim else 1, axis)
    return idx, axis


def _laid_out(idx: np.ndarray, axis: int, shape: tuple, ndim: int) -> np.ndarray:
    """A scatter's index of ``ndim`` axes (0: idx's one element) holding the 1-d ``idx``
    along ``axis`` and the same at every other coordinate: len(idx) at axis, ``shape``
    elsewhere (E46)."""
    if ndim == 0:
        return idx.reshape(())
    along = [1] * ndim
    along[axis] = -1
    return np.broadcast_to(idx.reshape(along), shape[:axis] + (idx.size,) + shape[axis + 1:])


def _along_dim(name: str, input, dim, index,
               source) -> tuple[Tensor, Tensor, int, np.ndarray]:
    """index_add's and index_copy's arguments as a scatter's: input, source (one dtype),
    the axis, and the index laid out over source's shape; errors name ``name``."""
    x = tensor_arg(input, name)
    s = tensor_arg(source, name)
    idx, axis = _index_vector(name, index, dim, x)
    x, s = _one_dtype(name, x, s, "source")
    want = x.shape[:axis] + (idx.size,) + x.shape[axis + 1:] if x.ndim else ()
    if s.shape != want:
        raise ValueError(f"{name}: source has shape {s.shape}; expected input's shape "
                         f"{x.shape} with dim {axis} of len(index) = {idx.size}: {want}")
    return x, s, axis, _laid_out(idx, axis, x.shape, x.ndim)


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
