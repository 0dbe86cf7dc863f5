"""Ops that move values without changing them: reshape, permute, concat, stack, indexing,
embedding lookup. Their backward routes each gradient back to where the value came from
(docs/math.md E16-E17)."""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function, keep_view_source
from ..kernels.array_api import NUMPY
from ..tensor import Tensor, as_array
from ._util import normalize_axes, result_dtype_as_torch, tensor_arg, torch_alias, xp_of

__all__ = ["reshape", "transpose", "permute", "concat", "cat", "stack", "getitem", "embedding",
           "unsqueeze", "squeeze", "flatten"]


class Reshape(Function):
    """y = x viewed with a new shape;  dx = dy viewed with x's shape  (E16)."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        try:
            y = xp_of(x).reshape(x, shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                             f"({x.size} elements) into shape {shape}") from None
        keep_view_source(ctx, x, y)
        return y

    @staticmethod
    def backward(ctx, dy):
        return xp_of(dy).reshape(dy, ctx.shape), None


class Permute(Function):
    """y = x with axes permuted by p;  dx = dy permuted by p⁻¹  (E16)."""

    @staticmethod
    def forward(ctx, x, dims):
        ctx.inverse = tuple(sorted(range(len(dims)), key=dims.__getitem__))   # p⁻¹
        y = xp_of(x).transpose(x, dims)
        keep_view_source(ctx, x, y)
        return y

    @staticmethod
    def backward(ctx, dy):
        return xp_of(dy).transpose(dy, ctx.inverse), None


def _joined_as_torch(xp, xs) -> list:
    """``xs`` in the dtype PyTorch joins them in (``result_dtype_as_torch``: float32 with
    int64 stays float32); each gradient is cast back to its input's dtype."""
    target = result_dtype_as_torch([x.dtype for x in xs])
    return [x if x.dtype == target else xp.astype(x, target) for x in xs]


class Concat(Function):
    """y = [x_1, …, x_n] along an axis;  dx_k = the k-th slice of dy  (E16)."""

    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        ctx.bounds = np.cumsum([0] + [x.shape[axis] for x in xs]).tolist()
        xp = xp_of(*xs)
        return xp.concatenate(_joined_as_torch(xp, xs), axis=axis)

    @staticmethod
    def backward(ctx, dy):
        xp, lead = xp_of(dy), (slice(None),) * ctx.axis
        return (None, *(xp.getitem(dy, lead + (slice(a, b),)) if need else None
                        for a, b, need in zip(ctx.bounds[:-1], ctx.bounds[1:],
                                              ctx.needs_grad[1:])))


class Stack(Function):
    """y = x_1, …, x_n stacked on a new axis;  dx_k = dy[…, k, …]  (E16)."""

    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        xp = xp_of(*xs)
        return xp.stack(_joined_as_torch(xp, xs), axis=axis)

    @staticmethod
    def backward(ctx, dy):
        xp, lead = xp_of(dy), (slice(None),) * ctx.axis
        return (None, *(xp.getitem(dy, lead + (k,)) if need else None
                        for k, need in enumerate(ctx.needs_grad[1:])))


def _is_basic(index) -> bool:
    """True when ``x[index]`` is NumPy basic indexing (a view: no element read twice)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (slice, numbers.Integral))
               for p in parts)


class GetItem(Function):
    """y = x[index];  dx = zeros with dy scattered back, summing repeated indices  (E17)."""

    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.dtype, ctx.index = x.shape, x.dtype, index
        xp = xp_of(x)
        try:
            if xp is NUMPY or _is_basic(index):
                y = xp.getitem(x, index)
                keep_view_source(ctx, x, y)
                return y
            return xp.take(xp.reshape(x, (-1,)), _flat_positions(x.shape, index))
        except IndexError as err:
            raise IndexError(f"getitem: index {_describe(index)} does not fit a tensor of "
                             f"shape {x.shape}: {err}") from None

    @staticmethod
    def backward(ctx, dy):
        xp = xp_of(dy)
        if xp is NUMPY:
            dx = np.zeros(ctx.shape, ctx.dtype)
            if _is_basic(ctx.index):
                dx[ctx.index] = dy
            else:
                np.add.at(dx, ctx.index, dy)    # NOTE: add.at sums repeated indices
            return dx, None
        # on a device without item assignment: scatter-add dy into the flat positions
        positions = _flat_positions(ctx.shape, ctx.index)
        dx = xp.zeros((int(np.prod(ctx.shape)),), ctx.dtype)
        xp.add_at(dx, positions.reshape(-1), xp.reshape(dy, (-1,)))
        return xp.reshape(dx, ctx.shape), None


def _flat_positions(shape: tuple, index) -> np.ndarray:
    """The flat positions in an array of ``shape`` that ``array[index]`` reads, in the
    result's shape (host ints, so any NumPy index works and is checked here)."""
    return np.arange(int(np.prod(shape))).reshape(shape)[index]


class Embedding(Function):
    """y[…] = W[ids[…]];  dW[k] = Σ_{ids = k} dy (padding row gets none)  (E17)."""

    @staticmethod
    def forward(ctx, weight, ids, padding_idx):
        ctx.shape, ctx.ids, ctx.padding_idx = weight.shape, ids, padding_idx
        return xp_of(weight).take(weight, ids, axis=0)

    @staticmethod
    def backward(ctx, dy):
        xp = xp_of(dy)
        dw = xp.zeros(ctx.shape, dy.dtype)
        ids, rows = ctx.ids.reshape(-1), xp.reshape(dy, (-1, ctx.shape[1]))
        if ctx.padding_idx is not None:          # the padding row gets no gradient
            kept = np.flatnonzero(ids != ctx.padding_idx)
            ids, rows = ids[kept], xp.take(rows, kept, axis=0)
        xp.add_at(dw, ids, rows)                 # NOTE: sums repeated ids; += would not
        return dw, None, None


def _describe(index) -> str:
    parts = index if isinstance(index, tuple) else (index,)
    shown = [f"array{p.shape}" if isinstance(p, np.ndarray) else repr(p) for p in parts]
    return "[" + ", ".join(shown) + "]"


def reshape(x, shape) -> Tensor:
    """``x`` with a new shape (one entry may be -1), as ``np.reshape`` (C order); dx = dy
    reshaped back (docs/math.md E16). Raises TypeError for a shape that is not an int or a
    tuple of ints, ValueError for one of another number of elements."""
    x = tensor_arg(x, "reshape")
    if type(shape) is tuple and all(type(s) is int for s in shape):    # the common case, fast
        return Reshape.apply(x, shape)
    sides = (shape,) if isinstance(shape, numbers.Integral) else \
        tuple(shape) if isinstance(shape, (tuple, list)) else None
    if sides is None or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                                for s in sides):
        raise TypeError(f"reshape: shape must be an int or a tuple of ints, got {shape!r:.60}")
    return Reshape.apply(x, tuple(int(s) for s in sides))


def unsqueeze(x, dim: int) -> Tensor:
    """``x`` with a new axis of size 1 at ``dim`` (in [-ndim-1, ndim], as torch's): a
    reshape, so its gradient is dy reshaped back (E16)."""
    x = tensor_arg(x, "unsqueeze")
    (axis,) = normalize_axes(dim, x.ndim + 1, "unsqueeze")
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def squeeze(x, dim=None) -> Tensor:
    """``x`` without its axes of size 1 (``dim`` None), or without the axes ``dim`` (an int
    or a tuple) where their size is 1, others left as they are (torch's rule): a reshape
    (E16)."""
    x = tensor_arg(x, "squeeze")
    axes = range(x.ndim) if dim is None else normalize_axes(dim, x.ndim, "squeeze")
    drop = {a for a in axes if x.shape[a] == 1}
    return reshape(x, tuple(n for a, n in enumerate(x.shape) if a not in drop))


def flatten(x, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """``x`` with the axes ``start_dim`` to ``end_dim`` (both included) merged into one, as
    torch's ``flatten``: a reshape (E16). ValueError where ``start_dim`` comes after
    ``end_dim``."""
    x = tensor_arg(x, "flatten")
    if x.ndim == 0:
        return reshape(x, (1,))
    (start,) = normalize_axes(start_dim, x.ndim, "flatten")
    (end,) = normalize_axes(end_dim, x.ndim, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for a "
                         f"tensor of shape {x.shape}")
    merged = int(np.prod(x.shape[start:end + 1], dtype=np.int64))
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def permute(x, dims) -> Tensor:
    """``x`` with its axes reordered: output axis k is input axis ``dims[k]``; each dim in
    [-ndim, ndim), negative ones counted from the end (torch's ``permute``). Raises
    ValueError for a dim out of that range (as every op's axis) or dims that are not a
    permutation (a repeat, or too few), TypeError for dims that are not a sequence of
    ints. dx = dy permuted back by the inverse permutation (docs/math.md E16)."""
    x = tensor_arg(x, "permute")
    if isinstance(dims, (int, np.integer)) or not hasattr(dims, "__iter__"):
        raise TypeError(f"permute: dims must be a sequence of {x.ndim} ints, got "
                        f"{type(dims).__name__} {dims!r}")
    given = tuple(dims)
    n = max(x.ndim, 1)                  # the range torch allows a 0-d tensor too
    for d in given:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            raise TypeError(f"permute: dims must be ints, got {type(d).__name__} {d!r}")
        if not -n <= d < n:
            raise ValueError(f"permute: dim {d} is out of range for a tensor of shape "
                             f"{x.shape} (expected one in [{-n}, {n - 1}])")
    normal = tuple(int(d) % n for d in given)
    if sorted(normal) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {given} is not a permutation of the {x.ndim} axes "
                         f"of a tensor of shape {x.shape}")
    return Permute.apply(x, normal)


def transpose(x, dim0: int = -2, dim1: int = -1) -> Tensor:
    """``x`` with axes ``dim0`` and ``dim1`` swapped (torch's ``transpose``)."""
    x = tensor_arg(x, "transpose")
    dims = list(range(x.ndim))
    a, b = (normalize_axes(d, x.ndim, "transpose") for d in (dim0, dim1))
    if x.ndim:                          # a 0-d tensor (dims 0 or -1, as torch) stays itself
        dims[a[0]], dims[b[0]] = dims[b[0]], dims[a[0]]
    return Permute.apply(x, tuple(dims))


def _sequence_args(tensors, op: str) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not hasattr(tensors, "__len__") or len(tensors) == 0:
        raise TypeError(f"{op}: expected a non-empty list of tensors, got "
                        f"{type(tensors).__name__}")
    return [tensor_arg(t, op) for t in tensors]


def concat(tensors, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis (torch.cat / np.concatenate); ``axis`` defaults
    to 0, ``dim`` is torch's name for it (TypeError if both are given). Each input's
    gradient is its slice of dy (docs/math.md E16).

    The tensors: one number of dimensions, equal but along ``axis``; NumPy's promotion of
    their dtypes. Raises ValueError for 0-d tensors, shapes that differ off the axis, or an
    axis out of range."""
    axis = torch_alias("concat", "axis", axis, "dim", dim, 0)
    xs = _sequence_args(tensors, "concat")
    if xs[0].ndim == 0:
        raise ValueError("concat: zero-dimensional tensors cannot be concatenated; use stack")
    ax = normalize_axes(axis, xs[0].ndim, "concat")[0]
    for k, x in enumerate(xs):
        if x.ndim != xs[0].ndim or x.shape[:ax] + x.shape[ax + 1:] != \
                xs[0].shape[:ax] + xs[0].shape[ax + 1:]:
            raise ValueError(f"concat: tensor {k} has shape {x.shape} but tensor 0 has shape "
                             f"{xs[0].shape}; all dimensions except axis {axis} must match")
    return Concat.apply(ax, *xs)


#: torch's other name for :func:`concat` (``torch.cat``)
cat = concat


def stack(tensors, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Join equally shaped tensors along a new axis (torch.stack / np.stack); ``axis``
    defaults to 0, ``dim`` is torch's name for it (TypeError if both are given). Each
    input's gradient is its slice of dy (docs/math.md E16). Raises ValueError for shapes
    that differ or an axis out of [-ndim-1, ndim]."""
    axis = torch_alias("stack", "axis", axis, "dim", dim, 0)
    xs = _sequence_args(tensors, "stack")
    for k, x in enumerate(xs):
        if x.shape != xs[0].shape:
            raise ValueError(f"stack: tensor {k} has shape {x.shape} but tensor 0 has shape "
                             f"{xs[0].shape}; all must be equal")
    ax = normalize_axes(axis, xs[0].ndim + 1, "stack")[0]
    if len(xs) == 1:        # a new axis of length 1: a reshape, cheaper than a Stack node
        return reshape(xs[0], xs[0].shape[:ax] + (1,) + xs[0].shape[ax:])
    return Stack.apply(ax, *xs)


def _index_part(p):
    if isinstance(p, Tensor):
        p = p.data
    if isinstance(p, (list, np.ndarray)):
        p = as_array(p, what="getitem: index")
        if p.dtype.kind not in "biu":
            raise IndexError(f"getitem: index arrays must be integer or boolean, got dtype "
                             f"{p.dtype}")
    return p


def getitem(x, index) -> Tensor:
    """``x[index]``: basic (ints, slices, None, ...) and integer/boolean-array indexing."""
    x = tensor_arg(x, "getitem")
    index = tuple(_index_part(p) for p in index) if isinstance(index, tuple) \
        else _index_part(index)
    return GetItem.apply(x, index)


def embedding(weight, ids, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` (V, D) picked by the integer array ``ids``: shape ids.shape + (D,),
    weight's dtype; dweight[v] = Σ of dy over the positions holding id v (docs/math.md E17).

    ``padding_idx``: that row receives no gradient (torch's ``nn.Embedding`` convention).
    Raises ValueError for a weight that is not 2-D or a padding_idx out of range, TypeError
    for ids that are not integers, IndexError for an id out of [0, V).
    """
    weight = tensor_arg(weight, "embedding")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, dim), got shape "
                         f"{weight.shape}")
    ids = as_array(ids.data if isinstance(ids, Tensor) else ids, what="embedding: ids")
    if ids.dtype.kind not in "iu":
        raise TypeError(f"embedding: ids must be an integer array, got dtype {ids.dtype}")
    n = weight.shape[0]
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        bad = ids[(ids < 0) | (ids >= n)].flat[0]
        raise IndexError(f"embedding: id {bad} is out of range for {n} embeddings; expected "
                         f"ids in [0, {n - 1}]")
    if padding_idx is not None and not -n <= padding_idx < n:
        raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for {n} "
                         "embeddings")
    return Embedding.apply(weight, ids, None if padding_idx is None else padding_idx % n)
