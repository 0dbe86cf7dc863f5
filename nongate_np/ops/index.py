"""Selection by integer indices along one axis: torch's ``gather`` (E26), ``topk`` (E27)
and ``sort``, whose values are a gather at the indices they find, and ``argsort``. The
backward is a scatter-add of the gradient to the elements read. (Indexing with ``[]`` and
embedding lookups are in shape.py, E17.) Also ``unique``, whose results take no gradient.
Derivations: docs/math.md E26-E27."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..arguments import check_flag
from ..autograd import Function
from ..tensor import Tensor, as_array
from ._util import ieee, normalize_axes, numeric_arg, tensor_arg, xp_of
from .reduce import _reversed
from .shape import reshape

__all__ = ["gather", "topk", "TopKResult", "sort", "argsort", "SortResult", "unique"]


@ieee
class Gather(Function):
    """y[i] = x[i with coordinate ``axis`` replaced by index[i]];
    dx = dy scatter-added to those positions, repeats summing  (E26).

    Shapes: x (..., n, ...), index (host int64, x's number of axes, no longer than x off
    ``axis``, values in [0, n)) → y of index's shape, x's dtype. Both ways go through the
    flat positions in x of the elements read (host int64, index's shape), which are saved.
    """

    @staticmethod
    def forward(ctx, x, axis, index):
        xp = xp_of(x)
        flat = np.zeros((), np.int64)              # a 0-d x: its one element
        if x.ndim:
            coordinates = list(np.indices(index.shape, sparse=True))
            coordinates[axis] = index
            flat = np.ravel_multi_index(coordinates, x.shape)
        ctx.shape, ctx.flat = x.shape, np.reshape(flat, -1)
        return xp.reshape(xp.take(xp.reshape(x, (-1,)), ctx.flat), index.shape)

    @staticmethod
    def backward(ctx, dy):
        xp = xp_of(dy)
        dx = xp.zeros((int(np.prod(ctx.shape)),), dy.dtype)
        # NOTE: add_at sums repeated positions; a plain assignment would keep only the last
        xp.add_at(dx, ctx.flat, xp.reshape(dy, (-1,)))
        return xp.reshape(dx, ctx.shape), None, None


def _axis_of(name: str, dim, ndim: int) -> int:
    """``dim`` as a non-negative axis (0 for a 0-d tensor); TypeError for anything but an
    int, ValueError out of range."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, (bool, np.bool_)):
        given = type(dim).__name__ if isinstance(dim, (Tensor, np.ndarray)) else repr(dim)
        raise TypeError(f"{name}: dim must be an int (one axis, as torch's {name}), got "
                        f"{given:.60}")
    axes = normalize_axes(dim, ndim, name)
    return axes[0] if axes else 0


def _index_array(index, name: str) -> np.ndarray:
    """``index`` (a tensor on either device, an array or a nested list) as a host int64
    array; TypeError for anything but integers."""
    if isinstance(index, Tensor):
        index = xp_of(index.data).to_host(index.data)
    try:
        arr = as_array(index, what=f"{name}: index")
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.dtype.kind not in "iu":
        given = "a non-array" if arr is None else f"dtype {arr.dtype}"
        raise TypeError(f"{name}: index must be an integer array, got {given} (torch's "
                        "index is int64)")
    return arr.astype(np.int64, copy=False)


def gather(x, dim, index) -> Tensor:
    """The elements of ``x`` along ``dim`` that ``index`` names, as ``torch.gather``:
    y[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (the index replaces the dim's
    coordinate), with the gradient scatter-added back, repeated indices summing (E26).

    Shapes: ``index`` has x's number of axes and, off ``dim``, is no longer than x (x's
    leading part is read there); along ``dim`` any length. y has index's shape and x's
    dtype. ``index``: integers (a tensor, an array, a list; int32 or int64), in
    [0, x.shape[dim]) (torch refuses negative ones too). A 0-d x takes dim 0 and a 0-d
    index 0.

    Raises TypeError for a non-integer index or a dim that is not one int, ValueError for
    index's number of axes or a length off ``dim`` beyond x's, or a dim out of range,
    IndexError for an index out of range.
    """
    x = tensor_arg(x, "gather")
    idx = _index_array(index, "gather")
    axis = _axis_of("gather", dim, x.ndim)
    if idx.ndim != x.ndim:
        raise ValueError(f"gather: index has {idx.ndim} dimension(s), x has {x.ndim}; they "
                         f"must be equal (index shape {idx.shape}, x shape {x.shape})")
    for k, (m, n) in enumerate(zip(idx.shape, x.shape)):
        if k != axis and m > n:
            raise ValueError(f"gather: index of shape {idx.shape} is longer than x of shape "
                             f"{x.shape} along axis {k}; off dim={axis} it may be no longer")
    n = x.shape[axis] if x.ndim else 1
    bad = idx[(idx < 0) | (idx >= n)]
    if bad.size:
        raise IndexError(f"gather: index {bad.flat[0]} is out of range for axis {axis} of size "
                         f"{n}; expected indices in [0, {n - 1}]")
    return Gather.apply(x, axis, idx)


class TopKResult(NamedTuple):
    """``topk``'s result, as ``torch.return_types.topk``: ``values`` (x's dtype, with a
    gradient) and ``indices`` (int64, none); unpacks and indexes as a pair."""

    values: Tensor
    indices: Tensor


TopKResult.__name__ = "topk"        # torch's type name: the repr reads "topk(values=..."


def _topk_order(key: np.ndarray, k: int, axis: int, largest: bool) -> np.ndarray:
    """The indices (int64) of the ``k`` largest (smallest) entries of the host array
    ``key`` along ``axis``, in order (E27): stable, so the lower index first among ties,
    NaN larger than every number."""
    if largest:
        # NOTE: E18's order-reversing key, sorted ascending and stably; a float NaN stays
        # NaN and sorts last, so a second stable sort brings the NaNs first
        order = np.argsort(_reversed(key), axis=axis, kind="stable")
        if key.dtype.kind == "f":
            nan_last = ~np.isnan(np.take_along_axis(key, order, axis))
            order = np.take_along_axis(order, np.argsort(nan_last, axis=axis, kind="stable"),
                                       axis)
    else:
        order = np.argsort(key, axis=axis, kind="stable")       # NaN last: the largest
    return np.take(order, np.arange(k), axis=axis).astype(np.int64, copy=False)


def topk(x, k, dim=-1, largest: bool = True, sorted: bool = True) -> TopKResult:
    """The ``k`` largest (``largest=False``: smallest) elements of ``x`` along ``dim``, as
    ``torch.topk``: a named tuple ``(values, indices)`` (:class:`TopKResult`), indices int64
    without a gradient; the gradient of the values goes to the selected elements (E27).

    Order: by value, descending for ``largest``; among ties the lower index first (torch
    leaves that undefined); NaN is larger than every number (torch's values). With
    ``sorted=False`` the same order is returned (torch's is then unspecified). Complex input
    (a complex step) is ordered by its real part.

    Shapes: x (..., n, ...) → values, indices (..., k, ...); a 0-d x is one element (k = 1
    gives 0-d results). On the GPU the order is found on the host (x's keys copied there,
    the k indices back); values and gradients stay on the device.

    Raises TypeError for a bool tensor (as torch), a ``k`` that is not an int, a ``dim`` that
    is not one int, or ``largest``/``sorted`` not True or False; ValueError for k outside
    [0, n] or a dim out of range.
    """
    x = numeric_arg(x, "topk")
    if not isinstance(k, (int, np.integer)) or isinstance(k, (bool, np.bool_)):
        raise TypeError(f"topk: k must be an int, got {k!r:.40}")
    largest = check_flag(largest, "largest", "topk")
    check_flag(sorted, "sorted", "topk")
    axis = _axis_of("topk", dim, x.ndim)
    n = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"topk: k={k} is out of range for axis {axis} of size {n}; expected "
                         f"0 <= k <= {n}")
    zero_d = x.ndim == 0
    if zero_d:
        if k == 0:
            raise ValueError("topk: k=0 of a 0-d tensor: a 0-d result cannot hold no element "
                             "(torch returns the element); use k=1, or x.reshape(1)")
        x = reshape(x, (1,))
    xp = xp_of(x.data)
    key = xp.to_host(x.data)
    key = np.real(key) if np.iscomplexobj(key) else key
    idx = _topk_order(key, int(k), axis, largest)
    values = Gather.apply(x, axis, idx)
    indices = Tensor._wrap(xp.asarray(idx))
    if zero_d:
        values, indices = reshape(values, ()), Tensor._wrap(xp.reshape(indices.data, ()))
    return TopKResult(values, indices)


class SortResult(NamedTuple):
    """``sort``'s result, as ``torch.return_types.sort``: ``values`` (x's dtype, with a
    gradient) and ``indices`` (int64, none); unpacks and indexes as a pair."""

    values: Tensor
    indices: Tensor


SortResult.__name__ = "sort"        # torch's type name: the repr reads "sort(values=..."


def _sorted_order(op: str, x, dim, descending, stable
                  ) -> tuple[Tensor, int, np.ndarray, bool]:
    """x (as a Tensor, a 0-d one as one element), its axis, the host int64 order of its
    elements along the axis (E27 with k the axis's length), and whether x was 0-d."""
    x = tensor_arg(x, op)
    descending = check_flag(descending, "descending", op)
    check_flag(stable, "stable", op)
    axis = _axis_of(op, dim, x.ndim)
    zero_d = x.ndim == 0
    if zero_d:
        x = reshape(x, (1,))
    key = xp_of(x.data).to_host(x.data)
    key = np.real(key) if np.iscomplexobj(key) else key
    return x, axis, _topk_order(key, x.shape[axis], axis, descending), zero_d


def sort(input, dim=-1, descending: bool = False, *, stable: bool = False) -> SortResult:
    """``input``'s elements sorted along ``dim``, as ``torch.sort``: a named tuple
    ``(values, indices)`` (:class:`SortResult`), ``values[..., j, ...] =
    input[..., indices[..., j, ...], ...]``, indices int64 without a gradient; the gradient
    of the values goes back to the elements they came from (E27 with k the axis's length:
    a gather at a permutation, E26).

    Order: ascending, or descending with ``descending=True``; NaN larger than every number
    (last ascending, first descending), as torch's. Always stable, equal elements in their
    index order, what torch gives with ``stable=True`` (and ``stable=False`` too, where
    torch's order of ties is unspecified). Bool and integer tensors sort too (no gradient);
    complex input (a complex step) is ordered by its real part.

    Shapes: input (..., n, ...) → values, indices of its shape; a 0-d input gives 0-d
    results. On the GPU the order is found on the host (the keys copied there, the indices
    back), as ``topk``'s; values and gradients stay on the device.

    Raises TypeError for a ``dim`` that is not one int or ``descending``/``stable`` not
    True or False; ValueError for a dim out of range.
    """
    x, axis, idx, zero_d = _sorted_order("sort", input, dim, descending, stable)
    xp = xp_of(x.data)
    values, indices = Gather.apply(x, axis, idx), Tensor._wrap(xp.asarray(idx))
    if zero_d:
        values, indices = reshape(values, ()), Tensor._wrap(xp.reshape(indices.data, ()))
    return SortResult(values, indices)


def argsort(input, dim=-1, descending: bool = False, *, stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim``, as ``torch.argsort``: int64, no
    gradient, :func:`sort`'s ``indices`` (its order, ties and NaN; its errors)."""
    x, axis, idx, zero_d = _sorted_order("argsort", input, dim, descending, stable)
    if zero_d:
        idx = idx.reshape(())
    xp = xp_of(x.data)
    return Tensor._wrap(xp.asarray(idx))


def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the first row of each group of equal rows in sorted order, each row's group, the
    groups' sizes) of a 2-D host array: rows ordered lexicographically (NaN last, as
    ``np.sort``), neighbours compared with ``!=``, so a NaN equals nothing and each row
    holding one is a group of its own, as torch's."""
    n = rows.shape[0]
    if n == 0:
        return rows, np.zeros(0, np.int64), np.zeros(0, np.int64)
    # NOTE: lexsort's last key is the primary one: the columns from the last to the first
    order = np.lexsort(rows.T[::-1]) if rows.shape[1] else np.arange(n)
    ordered = rows[order]
    starts = np.ones(n, bool)
    starts[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    group = np.cumsum(starts) - 1
    inverse = np.empty(n, np.int64)
    inverse[order] = group
    counts = np.diff(np.append(np.flatnonzero(starts), n))
    return ordered[starts], inverse, counts.astype(np.int64)


def unique(input, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim=None):
    """The distinct elements of ``input`` (its distinct slices along ``dim``), in ascending
    order, as ``torch.unique``: a tensor, or with ``return_inverse`` / ``return_counts`` a
    tuple (values, inverse, counts) of those asked for, inverse giving each element's
    (slice's) position in values and counts how many each value has, both int64.

    Without ``dim``: values 1-d (a 0-d input gives one element), inverse of input's shape.
    With ``dim``: the slices compared whole, ordered lexicographically; values keep the
    other dims, inverse has input.shape[dim] entries. -0 and 0 are one value; NaN equals
    nothing, so each NaN (each slice with a NaN) is a value of its own, as torch's, sorted
    last (torch's order of slices with a NaN follows its sort's comparisons with NaN).
    ``sorted=False`` gives the sorted order too (torch's order is then unspecified; its
    CPU's is sorted as well).

    No gradient: the results are new tensors without a graph (torch's values keep
    ``requires_grad`` but cannot be differentiated either). On the GPU the values are found
    on the host, the results moved back. Raises TypeError for flags that are not True or
    False or a dim that is not an int, ValueError for a dim out of range or a 0-d input
    with a dim (torch: IndexError)."""
    x = tensor_arg(input, "unique")
    check_flag(sorted, "sorted", "unique")
    inverse_asked = check_flag(return_inverse, "return_inverse", "unique")
    counts_asked = check_flag(return_counts, "return_counts", "unique")
    xp = xp_of(x.data)
    values = xp.to_host(x.data)
    if dim is None:
        found, inverse, counts = _unique_rows(values.reshape(-1, 1))
        found, inverse = found.reshape(-1), inverse.reshape(x.shape)
    else:
        if x.ndim == 0:
            raise ValueError(f"unique: dim={dim!r} given for a 0-d tensor, which has no "
                             f"dims; leave dim=None")
        axis = _axis_of("unique", dim, x.ndim)
        moved = np.moveaxis(values, axis, 0)
        # NOTE: the sizes written out, not -1: a slice may have no element
        width = int(np.prod(moved.shape[1:], dtype=np.int64))
        found, inverse, counts = _unique_rows(moved.reshape(moved.shape[0], width))
        found = np.moveaxis(found.reshape(found.shape[:1] + moved.shape[1:]), 0, axis)
    results = [Tensor._wrap(xp.asarray(np.ascontiguousarray(found)))]
    if inverse_asked:
        results.append(Tensor._wrap(xp.asarray(inverse)))
    if counts_asked:
        results.append(Tensor._wrap(xp.asarray(counts)))
    return results[0] if len(results) == 1 else tuple(results)
