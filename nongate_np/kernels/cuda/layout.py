"""The GPU namespace's layout, indexing and product functions (``kernels/array_api.py``), as
NumPy's of the same names, on numba.cuda device arrays: ``copy``, ``copyto`` (in place),
``reshape``, ``transpose``, ``concatenate``, ``stack``, ``getitem`` (basic indexing),
``take``, ``take_along_axis``, ``add_at`` (in place) and ``matmul``.

How: every array is read as NumPy sees it, a :class:`Strided` description: a 1-D device
array over the memory of its elements, the offset of element 0 in it, the shape and the
element strides (``strided``). Moving elements is then arithmetic on that description, and
three kernels do all the work, each one thread per output element in a grid-stride loop
(``THREADS`` per block, at most ``MAX_BLOCKS`` blocks):

- ``_copy_kernel``: the one generic strided copy. A flat index over a shape is split into
  its indices, and the source and destination offsets follow from two sets of strides
  (``meta`` = shape | source strides | destination strides, a small int64 device array).
  It serves ``copy`` (and the contiguous copy the others make of a strided input where
  they need one), ``copyto`` (into dst's strides, the source broadcast), ``transpose``
  (the permuted strides), ``getitem`` (the sliced strides), ``concatenate``/``stack``
  (each input into its block of the result) and dtype casts (the store converts).
- ``_gather_kernel``: out = src[…, k, …] with k read from an index array through its own
  strides; ``take`` and ``take_along_axis`` differ only in the strides they pass
  (docs/math.md E17, the forward).
- ``_scatter_add_kernel``: ``cuda.atomic.add`` of each value into the row its index names,
  so repeated indices accumulate (E17's backward: the embedding's dW).

Results are new C-contiguous device arrays (``arrays.empty``), except where a view is
free and NumPy gives one too: ``reshape`` of a C-contiguous array, and ``getitem`` when
the selected elements lie one after another in memory (``a[i]``, ``a[2:5]`` of a
C-contiguous array). Unlike NumPy, ``transpose`` always copies (into the new order,
C-contiguous), and ``getitem`` copies a strided selection (``a[:, 1]``, ``a[::-1]``).

``matmul`` (E10) runs on the shared tiled product ``matmul.matmul``: one launch for 2-D @
2-D and for N-d @ 2-D (the batch folded into the rows), one launch per batch element
otherwise (see its docstring).

Indices out of range: host indices are checked on the host, before any launch, and raise
IndexError as NumPy does. Device indices are checked by the kernel, which skips the bad
ones (writes 0 for a gather, adds nothing for a scatter) and records one; after the launch
the record is read back (an 8-byte copy, so a synchronisation) and IndexError raised.

Each launch copies its ``meta`` (a few int64) to the device; on a GPU, passing shape and
strides as kernel arguments (tuples, one compiled kernel per ndim) would save that
transfer, and merging neighbouring axes that are contiguous in both operands would
shorten the index arithmetic. Neither is measured yet.
"""

from __future__ import annotations

import math
import operator
from typing import Any, NamedTuple

import numba
import numpy as np
from numba import cuda

from ..array_api import Casting
from . import arrays
from . import matmul as _matmul

__all__ = ["THREADS", "MAX_BLOCKS", "Strided", "strided", "copy", "copyto", "reshape",
           "transpose", "concatenate", "stack", "getitem", "take", "take_along_axis", "add_at",
           "matmul"]

SIMULATOR = bool(numba.config.ENABLE_CUDASIM)
THREADS = 64                                   # threads per block of every kernel here
# the grid-stride loops cover any size; the simulator runs each thread as an OS thread
MAX_BLOCKS = 1 if SIMULATOR else 4096
DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.bool_, np.int32, np.int64))
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------------------- kernels


@cuda.jit
def _copy_kernel(src, src_offset, dst, dst_offset, meta, n):
    """dst[dst_offset + Σ_d i_d t_d] = src[src_offset + Σ_d i_d s_d] for each of the n
    indices i of the shape; meta = shape | s | t."""
    ndim = meta.size // 3
    for flat in range(cuda.grid(1), n, cuda.gridsize(1)):
        rest = flat
        s = src_offset
        t = dst_offset
        for d in range(ndim - 1, -1, -1):
            i = rest % meta[d]
            rest //= meta[d]
            s += i * meta[ndim + d]
            t += i * meta[2 * ndim + d]
        dst[t] = src[s]


@cuda.jit
def _gather_kernel(src, src_offset, index, index_offset, dst, meta, axis_stride, axis_size,
                   n, bad):
    """E17: dst[flat] = src[src_offset + Σ_d i_d s_d + k axis_stride] with
    k = index[index_offset + Σ_d i_d t_d] (negative k counts from the end); meta = shape |
    s | t. An out-of-range k writes 0 and is recorded: bad = (1, k)."""
    ndim = meta.size // 3
    for flat in range(cuda.grid(1), n, cuda.gridsize(1)):
        rest = flat
        s = src_offset
        t = index_offset
        for d in range(ndim - 1, -1, -1):
            i = rest % meta[d]
            rest //= meta[d]
            s += i * meta[ndim + d]
            t += i * meta[2 * ndim + d]
        k = index[t]
        if k < 0:
            k += axis_size
        if 0 <= k < axis_size:
            dst[flat] = src[s + k * axis_stride]
        else:
            dst[flat] = 0
            bad[0] = 1
            bad[1] = index[t]


@cuda.jit
def _scatter_add_kernel(dst, dst_offset, index, index_offset, values, values_offset, meta,
                        axis_stride, axis_size, n, bad):
    """E17 backward: dst[dst_offset + Σ_d i_d s_d + k axis_stride] += values[values_offset +
    Σ_d i_d v_d] with k = index[index_offset + Σ_d i_d t_d], atomically (repeated k add
    up); meta = shape | s | t | v. An out-of-range k adds nothing and is recorded."""
    ndim = meta.size // 4
    for flat in range(cuda.grid(1), n, cuda.gridsize(1)):
        rest = flat
        s = dst_offset
        t = index_offset
        v = values_offset
        for d in range(ndim - 1, -1, -1):
            i = rest % meta[d]
            rest //= meta[d]
            s += i * meta[ndim + d]
            t += i * meta[2 * ndim + d]
            v += i * meta[3 * ndim + d]
        k = index[t]
        if k < 0:
            k += axis_size
        if 0 <= k < axis_size:
            cuda.atomic.add(dst, s + k * axis_stride, values[v])
        else:
            bad[0] = 1
            bad[1] = index[t]


def _launch(n: int) -> tuple[int, int]:
    """(blocks, threads) for n elements in a grid-stride loop."""
    threads = min(THREADS, n)
    return min(-(-n // threads), MAX_BLOCKS), threads


def _meta(shape: tuple[int, ...], *strides: tuple[int, ...]) -> Any:
    """shape | strides… as one int64 device array (a 0-d shape as (1,) with stride 0)."""
    if not shape:
        shape, strides = (1,), tuple((0,) for _ in strides)
    return cuda.to_device(np.array([shape, *strides], np.int64).ravel())


# --------------------------------------------------------------- strided descriptions


class Strided(NamedTuple):
    """The elements of a device array as NumPy sees them: element ``i`` is
    ``memory[offset + Σ_d i_d strides[d]]``, with ``memory`` a 1-D C-contiguous device
    array and the strides in elements (a broadcast axis has stride 0)."""

    memory: Any
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.memory.dtype)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def strided(a: Any) -> Strided:
    """``a`` (a device array, any strides, 0-d included) as a :class:`Strided`.

    A C-contiguous array is its own memory (``a.reshape(size)``, a view). Otherwise the
    memory is a 1-D view from the lowest to the highest address ``a`` reaches: in the
    simulator over the NumPy array it wraps, on a GPU made from ``a``'s
    ``__cuda_array_interface__`` pointer (``cuda.from_cuda_array_interface``, owned by
    ``a`` so it stays alive)."""
    itemsize = a.dtype.itemsize
    shape = tuple(int(n) for n in a.shape)
    strides = tuple(int(s) // itemsize for s in a.strides)
    if a.is_c_contiguous() or math.prod(shape) == 0:
        return Strided(a.reshape(math.prod(shape)), 0, shape, strides if shape else ())
    low = sum((n - 1) * s for n, s in zip(shape, strides) if s < 0)
    span = 1 + sum((n - 1) * abs(s) for n, s in zip(shape, strides))
    if SIMULATOR:
        # NOTE: flipping the negative-stride axes puts the data pointer at the lowest address
        host = a._ary[tuple(slice(None, None, -1) if s < 0 else slice(None)
                            for s in strides)]
        memory = type(a)(np.lib.stride_tricks.as_strided(host, (span,), (itemsize,)))
    else:
        pointer = a.__cuda_array_interface__["data"][0] + low * itemsize
        memory = cuda.from_cuda_array_interface(
            {"shape": (span,), "strides": None, "data": (pointer, False),
             "typestr": a.dtype.str, "version": 3}, owner=a, sync=False)
    return Strided(memory, -low, shape, strides)


def _c_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Element strides of a C-contiguous array of ``shape``."""
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def _copy_into(src: Strided, dst: Any, dst_offset: int, dst_strides: tuple[int, ...]) -> None:
    """Copy every element of ``src`` to ``dst`` (a 1-D contiguous device array) at
    ``dst_offset`` + Σ i_d dst_strides[d], converting to dst's dtype."""
    n = src.size
    if n:
        blocks, threads = _launch(n)
        _copy_kernel[blocks, threads](src.memory, src.offset, dst, dst_offset,
                                      _meta(src.shape, src.strides, dst_strides), n)


def _copy(src: Strided, dtype: Any = None) -> Any:
    """A new C-contiguous device array of ``src``'s elements (in ``dtype`` if given)."""
    out = arrays.empty(src.shape, src.dtype if dtype is None else dtype)
    _copy_into(src, out.reshape(src.size), 0, _c_strides(src.shape))
    return out


def _device(a: Any, name: str) -> Any:
    """``a`` as a device array of a supported dtype (a host array or scalar is copied over,
    in NumPy's dtype for it); TypeError for complex and other dtypes."""
    if not arrays.is_device(a):
        # NOTE: asarray, not ascontiguousarray, which makes a 0-d array 1-d
        a = cuda.to_device(np.asarray(a, order="C"))
    if np.dtype(a.dtype) not in DTYPES:
        raise TypeError(f"{name}: {np.dtype(a.dtype)} arrays are not supported on the GPU "
                        f"(float32, float64, bool, int32, int64; complex runs on the CPU "
                        f"only)")
    return a


def _axis(axis: Any, ndim: int, name: str) -> int:
    """``axis`` in range(ndim) (negative counts from the end); AxisError otherwise."""
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(axis, ndim, name)
    return axis % ndim


def _broadcast_strides(shape: tuple[int, ...], strides: tuple[int, ...],
                       to: tuple[int, ...]) -> tuple[int, ...] | None:
    """Strides that read an array of ``shape`` broadcast to ``to`` (stride 0 on the
    broadcast axes), or None when it does not broadcast (NumPy's rules)."""
    if len(shape) > len(to):
        return None
    lead = len(to) - len(shape)
    out = [0] * lead
    for n, s, m in zip(shape, strides, to[lead:]):
        if n == m:
            out.append(s)
        elif n == 1:
            out.append(0)
        else:
            return None
    return tuple(out)


# ------------------------------------------------------------------------------ layout


def copy(a: Any) -> Any:
    """A new C-contiguous device array with ``a``'s elements (any strides in), as
    ``np.array(a, copy=True)``."""
    return _copy(strided(_device(a, "copy")))


def copyto(dst: Any, src: Any, casting: Casting = "same_kind") -> None:
    """``np.copyto(dst, src, casting=casting)`` into the device array ``dst`` (any strides),
    in place: ``src`` (a device array, host data or a scalar) broadcast to dst's shape and
    converted to its dtype. The in-place write for device arrays, whose ``dst[...] = src``
    a GPU refuses (numba.cuda's index arithmetic has no Ellipsis; the simulator accepts it).

    A C-contiguous ``dst`` given a C-contiguous source of its shape and dtype is one
    ``copy_to_device`` (a memcpy); otherwise the strided-copy kernel writes through dst's
    strides, reading src with stride 0 along the broadcast axes (a scalar: one element
    copied over, then broadcast). ``src`` must not overlap ``dst`` in memory (the kernel's
    writes have no order). Raises TypeError for a host ``dst`` or a conversion ``casting``
    forbids (a host source is converted by NumPy, with its rules), ValueError where src's
    shape does not broadcast to dst's."""
    if not arrays.is_device(dst):
        raise TypeError(f"copyto: dst must be a device array (it is written in place), got "
                        f"{type(dst).__name__}")
    if arrays.is_device(src):
        if not np.can_cast(src.dtype, dst.dtype, casting):
            raise TypeError(f"copyto: cannot cast {src.dtype} to {dst.dtype} according to "
                            f"the rule {casting!r}")
    else:
        host = np.empty(np.shape(src), dst.dtype)
        try:
            np.copyto(host, src, casting=casting)
        except TypeError as err:
            raise TypeError(f"copyto: {err}") from None
        src = host
    shape = tuple(int(n) for n in dst.shape)
    if (tuple(src.shape) == shape and src.dtype == dst.dtype and dst.is_c_contiguous()
            and (isinstance(src, np.ndarray) or src.is_c_contiguous())):
        dst.copy_to_device(src)
        return
    source = strided(_device(src, "copyto"))
    steps = _broadcast_strides(source.shape, source.strides, shape)
    if steps is None:
        raise ValueError(f"copyto: a source of shape {source.shape} cannot be broadcast to "
                         f"the destination's shape {shape}")
    target = strided(dst)
    _copy_into(Strided(source.memory, source.offset, shape, steps), target.memory,
               target.offset, target.strides)


def reshape(a: Any, shape: int | tuple[int, ...]) -> Any:
    """``a`` with ``shape`` (one entry may be -1: inferred), as ``np.reshape``.

    A view when ``a`` is C-contiguous (the device array's own ``reshape``), else a new
    C-contiguous array (a copy first; NumPy finds a view for some strided arrays).
    Raises ValueError when the sizes differ or the shape is invalid, as NumPy."""
    a = _device(a, "reshape")
    dims = ((operator.index(shape),) if isinstance(shape, (int, np.integer))
            else tuple(operator.index(n) for n in shape))
    unknown = [i for i, n in enumerate(dims) if n < 0]
    if len(unknown) > 1 or any(dims[i] != -1 for i in unknown):
        raise ValueError(f"reshape: can only specify one unknown dimension (-1), got {dims}")
    known = math.prod(n for n in dims if n >= 0)
    if unknown and known and a.size % known == 0:
        dims = dims[:unknown[0]] + (a.size // known,) + dims[unknown[0] + 1:]
    if unknown and dims[unknown[0]] < 0 or math.prod(dims) != a.size:
        raise ValueError(f"reshape: cannot reshape array of size {a.size} into shape {dims}")
    if a.size == 0:
        return arrays.empty(dims, a.dtype)
    if not a.is_c_contiguous():
        a = _copy(strided(a))
    return a.reshape(dims)


def transpose(a: Any, axes: tuple[int, ...] | None = None) -> Any:
    """``a`` with its axes permuted (result axis i is ``a``'s axis ``axes[i]``; None
    reverses them), as ``np.transpose`` but always a new C-contiguous array in the new
    order (NumPy gives a strided view). Raises ValueError when ``axes`` is not a
    permutation of ``a``'s axes (AxisError for one out of range)."""
    a = _device(a, "transpose")
    if axes is None:
        axes = tuple(range(a.ndim - 1, -1, -1))
    if len(axes) != a.ndim:
        raise ValueError(f"transpose: axes {tuple(axes)} don't match an array of "
                         f"{a.ndim} dimensions")
    perm = tuple(_axis(ax, a.ndim, "transpose") for ax in axes)
    if len(set(perm)) != len(perm):
        raise ValueError(f"transpose: repeated axis in {tuple(axes)}")
    src = strided(a)
    return _copy(src._replace(shape=tuple(src.shape[d] for d in perm),
                              strides=tuple(src.strides[d] for d in perm)))


def _joined(name: str, sources: list[Strided], axis: int) -> Any:
    """The sources (of equal ndim, equal shapes but along ``axis``) one after another
    along ``axis``, in their common NumPy dtype."""
    dtype = np.result_type(*(s.dtype for s in sources))
    if dtype not in DTYPES:
        raise TypeError(f"{name}: the common dtype {dtype} is not supported on the GPU")
    first = sources[0].shape
    shape = first[:axis] + (sum(s.shape[axis] for s in sources),) + first[axis + 1:]
    out = arrays.empty(shape, dtype)
    strides, at = _c_strides(shape), 0
    flat = out.reshape(out.size)
    for src in sources:
        _copy_into(src, flat, at * strides[axis], strides)
        at += src.shape[axis]
    return out


def concatenate(arrays: list[Any] | tuple[Any, ...], axis: int | None = 0) -> Any:
    """The arrays joined along an existing ``axis`` (None: flattened first), as
    ``np.concatenate``: a new C-contiguous array in their common dtype (float32 with
    float64 gives float64, bool with int64 int64). Raises ValueError for no arrays, 0-d
    arrays, or shapes that differ off the axis; AxisError for an axis out of range."""
    items = [_device(a, "concatenate") for a in arrays]
    if not items:
        raise ValueError("concatenate: need at least one array to concatenate")
    if axis is None:
        items, axis = [reshape(a, (-1,)) for a in items], 0
    ndim = items[0].ndim
    if ndim == 0:
        raise ValueError("concatenate: zero-dimensional arrays cannot be concatenated")
    axis = _axis(axis, ndim, "concatenate")
    for i, a in enumerate(items[1:], 1):
        if a.ndim != ndim:
            raise ValueError(f"concatenate: all the input arrays must have the same number "
                             f"of dimensions, but the array at index 0 has {ndim} and the "
                             f"array at index {i} has {a.ndim}")
        for d in range(ndim):
            if d != axis and a.shape[d] != items[0].shape[d]:
                raise ValueError(f"concatenate: all the input array dimensions except for "
                                 f"the concatenation axis must match exactly, but along "
                                 f"dimension {d}, the array at index 0 has size "
                                 f"{items[0].shape[d]} and the array at index {i} has size "
                                 f"{a.shape[d]}")
    return _joined("concatenate", [strided(a) for a in items], axis)


def stack(arrays: list[Any] | tuple[Any, ...], axis: int = 0) -> Any:
    """The arrays (all of one shape) joined along a new ``axis``, as ``np.stack``: a new
    C-contiguous array in their common dtype. Raises ValueError for no arrays or unequal
    shapes; AxisError for an axis out of range (-ndim-1 <= axis <= ndim)."""
    items = [_device(a, "stack") for a in arrays]
    if not items:
        raise ValueError("stack: need at least one array to stack")
    shape = tuple(items[0].shape)
    for i, a in enumerate(items[1:], 1):
        if tuple(a.shape) != shape:
            raise ValueError(f"stack: all input arrays must have the same shape, but the "
                             f"array at index 0 has shape {shape} and the array at index "
                             f"{i} has shape {tuple(a.shape)}")
    axis = _axis(axis, len(shape) + 1, "stack")
    sources = []
    for a in items:
        src = strided(a)              # the new axis: length 1, any stride
        sources.append(src._replace(shape=shape[:axis] + (1,) + shape[axis:],
                                    strides=src.strides[:axis] + (0,) + src.strides[axis:]))
    return _joined("stack", sources, axis)


def getitem(a: Any, index: Any) -> Any:
    """``a[index]`` for basic indexing, as NumPy: integers (negative count from the end),
    slices (any step, negative too), None (a new axis of length 1) and one Ellipsis.

    A view when the selected elements are one contiguous block of a C-contiguous array
    (``a[i]``, ``a[2:5]``, ``a[1, 2]`` as a 0-d array); otherwise a new C-contiguous array
    copied by the strided-copy kernel. Raises IndexError for an integer out of range, too
    many indices, a second Ellipsis or an index of another kind (arrays included: see
    ``take``); ValueError for a slice step of zero."""
    a = _device(a, "getitem")
    src = strided(a)
    items = index if isinstance(index, tuple) else (index,)
    for item in items:
        if not (item is None or item is Ellipsis or isinstance(item, slice)
                or isinstance(item, (int, np.integer)) and not isinstance(item, bool)):
            raise IndexError(f"getitem: only integers, slices (`:`), ellipsis (`...`) and "
                             f"None are valid indices here, got {item!r} (integer arrays: "
                             f"take)")
    if sum(item is Ellipsis for item in items) > 1:
        raise IndexError("getitem: an index can only have a single ellipsis ('...')")
    used = sum(item is not None and item is not Ellipsis for item in items)
    if used > a.ndim:
        raise IndexError(f"getitem: too many indices for array: array is {a.ndim}-"
                         f"dimensional, but {used} were indexed")
    fill = (slice(None),) * (a.ndim - used)
    items = (tuple(x for item in items for x in (fill if item is Ellipsis else (item,)))
             if Ellipsis in items else items + fill)
    offset, shape, strides, d = src.offset, [], [], 0
    for item in items:
        if item is None:
            shape.append(1)
            strides.append(0)
            continue
        n, s = src.shape[d], src.strides[d]
        if isinstance(item, slice):
            start, stop, step = item.indices(n)
            shape.append(len(range(start, stop, step)))
            strides.append(step * s)
            offset += start * s if shape[-1] else 0
        else:
            i = int(item)
            if not -n <= i < n:
                raise IndexError(f"getitem: index {i} is out of bounds for axis {d} with "
                                 f"size {n}")
            offset += (i % n) * s
        d += 1
    view = Strided(src.memory, offset, tuple(shape), tuple(strides))
    size = view.size
    if size == 0:
        return arrays.empty(view.shape, view.dtype)
    if all(s == c for n, s, c in zip(view.shape, view.strides, _c_strides(view.shape))
           if n > 1):
        return src.memory[offset:offset + size].reshape(view.shape)
    return _copy(view)


# ------------------------------------------------------------------- integer indexing


class _Indices(NamedTuple):
    """An index array ready for a kernel, and whether it was checked on the host."""

    src: Strided
    checked: bool


def _indices(indices: Any, size: int, axis: int, name: str) -> _Indices:
    """Host indices are checked against ``size`` (IndexError as NumPy), wrapped when
    negative and copied over as int64; device indices (int32 or int64) are read as they
    are, the kernel checking them."""
    if arrays.is_device(indices):
        if np.dtype(indices.dtype).kind != "i":
            raise IndexError(f"{name}: indices must be an integer array (int32 or int64 on "
                             f"the device), got {np.dtype(indices.dtype)}")
        return _Indices(strided(indices), False)
    host = np.asarray(indices)
    if host.size == 0 and host.dtype.kind == "f":
        host = host.astype(np.int64)          # [] as NumPy reads it: no indices
    if host.dtype.kind not in "iub":
        raise IndexError(f"{name}: indices must be integers, got {host.dtype}")
    host = host.astype(np.int64)
    bad = (host < -size) | (host >= size)
    if bad.any():
        raise IndexError(f"{name}: index {host[bad].flat[0]} is out of bounds for axis "
                         f"{axis} with size {size}")
    return _Indices(strided(cuda.to_device(np.where(host < 0, host + size, host))), True)


def _raise_if_bad(bad: Any, size: int, axis: int, name: str) -> None:
    """After a launch on device indices: IndexError if the kernel recorded one."""
    flag, k = bad.copy_to_host()
    if flag:
        raise IndexError(f"{name}: index {k} is out of bounds for axis {axis} with size "
                         f"{size}")


def _gather(name: str, src: Strided, idx: _Indices, shape: tuple[int, ...],
            src_strides: tuple[int, ...], idx_strides: tuple[int, ...], axis: int) -> Any:
    """out (``shape``) with out[i] = src at Σ i_d src_strides[d] + k strides[axis],
    k = the index at Σ i_d idx_strides[d]."""
    out = arrays.empty(shape, src.dtype)
    n = out.size
    if n:
        bad = arrays.zeros((2,), np.int64)
        blocks, threads = _launch(n)
        _gather_kernel[blocks, threads](
            src.memory, src.offset, idx.src.memory, idx.src.offset, out.reshape(n),
            _meta(shape, src_strides, idx_strides), src.strides[axis], src.shape[axis], n,
            bad)
        if not idx.checked:
            _raise_if_bad(bad, src.shape[axis], axis, name)
    return out


def take(a: Any, indices: Any, axis: int | None = 0) -> Any:
    """``np.take(a, indices, axis)``: the slices of ``a`` along ``axis`` that ``indices``
    name (any shape; None flattens ``a`` first); shape a.shape[:axis] + indices.shape +
    a.shape[axis+1:], a new C-contiguous array of a's dtype (E17 forward).

    indices: host integers (list, array or scalar) or an int32/int64 device array;
    negative ones count from the end. Raises IndexError for one out of range (device
    indices: after the launch, see the module docstring), AxisError for a bad axis."""
    a = _device(a, "take")
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    axis = _axis(axis, a.ndim, "take")
    src = strided(a)
    idx = _indices(indices, src.shape[axis], axis, "take")
    k = len(idx.src.shape)
    shape = src.shape[:axis] + idx.src.shape + src.shape[axis + 1:]
    src_strides = src.strides[:axis] + (0,) * k + src.strides[axis + 1:]
    idx_strides = (0,) * axis + idx.src.strides + (0,) * (a.ndim - axis - 1)
    return _gather("take", src, idx, shape, src_strides, idx_strides, axis)


def take_along_axis(a: Any, indices: Any, axis: int | None) -> Any:
    """``np.take_along_axis(a, indices, axis)``: out[…, j, …] = a[…, indices[…, j, …], …]
    along ``axis`` (None: ``a`` flattened, ``indices`` 1-D). ``indices`` has a's number of
    dimensions and broadcasts against ``a`` off the axis (E17 forward: picking one
    element per row, as a cross-entropy does).

    Raises ValueError for unequal numbers of dimensions, IndexError for shapes that do not
    broadcast or an index out of range (device indices: after the launch), AxisError."""
    a = _device(a, "take_along_axis")
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    axis = _axis(axis, a.ndim, "take_along_axis")
    src = strided(a)
    idx = _indices(indices, src.shape[axis], axis, "take_along_axis")
    if len(idx.src.shape) != a.ndim:
        raise ValueError(f"take_along_axis: indices and arr must have the same number of "
                         f"dimensions, got {len(idx.src.shape)} and {a.ndim}")
    shape = []
    for d, (n, m) in enumerate(zip(src.shape, idx.src.shape)):
        if d != axis and n != m and 1 not in (n, m):
            raise IndexError(f"take_along_axis: shape mismatch: arr {src.shape} and indices "
                             f"{idx.src.shape} cannot be broadcast together off axis {axis}")
        shape.append(m if d == axis or n == 1 else n)
    src_strides = tuple(0 if d == axis or n == 1 else s
                        for d, (n, s) in enumerate(zip(src.shape, src.strides)))
    idx_strides = tuple(0 if m == 1 else s for m, s in zip(idx.src.shape, idx.src.strides))
    return _gather("take_along_axis", src, idx, tuple(shape), src_strides, idx_strides, axis)


def add_at(a: Any, indices: Any, values: Any) -> None:
    """``np.add.at(a, indices, values)`` along axis 0, in place: a[indices[j]] += values[j]
    for every position j of ``indices``, repeated indices accumulating (atomic adds; the
    order of the additions is not fixed, so float sums may differ from NumPy's in the last
    bits). E17 backward: the embedding's dW_k = Σ_{ids = k} dy.

    a: a device array (any strides) of float32, float64, int32 or int64, at least 1-d;
    indices: as ``take``'s; values: broadcastable to indices.shape + a.shape[1:], cast to
    a's dtype. Raises TypeError for a host or bool ``a``, ValueError for values that do not
    broadcast, IndexError for an index out of range (device indices: after the launch, the
    others added)."""
    if not arrays.is_device(a):
        raise TypeError("add_at: a must be a device array (it is updated in place)")
    a = _device(a, "add_at")
    if a.dtype == np.bool_:
        raise TypeError("add_at: bool arrays cannot be added to (atomic adds)")
    if a.ndim == 0:
        raise IndexError("add_at: a is 0-dimensional; it needs an axis 0 to index")
    dst = strided(a)
    idx = _indices(indices, dst.shape[0], 0, "add_at")
    k = len(idx.src.shape)
    shape = idx.src.shape + dst.shape[1:]
    vals = strided(_device(values, "add_at"))
    if vals.dtype != dst.dtype:
        vals = strided(_copy(vals, dst.dtype))
    vals_strides = _broadcast_strides(vals.shape, vals.strides, shape)
    if vals_strides is None:
        raise ValueError(f"add_at: values of shape {vals.shape} cannot be broadcast to "
                         f"{shape} (indices {idx.src.shape} + a's {dst.shape[1:]})")
    n = math.prod(shape)
    if n == 0:
        return
    bad = arrays.zeros((2,), np.int64)
    blocks, threads = _launch(n)
    _scatter_add_kernel[blocks, threads](
        dst.memory, dst.offset, idx.src.memory, idx.src.offset, vals.memory, vals.offset,
        _meta(shape, (0,) * k + dst.strides[1:], idx.src.strides + (0,) * (a.ndim - 1),
              vals_strides), dst.strides[0], dst.shape[0], n, bad)
    if not idx.checked:
        _raise_if_bad(bad, dst.shape[0], 0, "add_at")


# ----------------------------------------------------------------------------- products


def matmul(a: Any, b: Any) -> Any:
    """``np.matmul(a, b)`` (E10) for float32/float64 device arrays: (…, M, K) @ (…, K, N)
    -> (…, M, N), the batch dimensions broadcast; a 1-d ``a`` is a row (K,) -> (1, K), a
    1-d ``b`` a column, and that dimension is dropped from the result (1-d @ 1-d: 0-d).
    float32 with float64 computes in float64 (the float32 operand copied).

    On ``matmul.matmul`` (tiled, any strides): 2-D @ 2-D is one launch on the operands as
    they are; N-d @ 2-D (the library's x W) is one launch with the batch folded into the
    rows of a C-contiguous ``a``; anything else one launch per batch element.

    Raises ValueError for 0-d operands, inner dimensions that differ or batch dimensions
    that do not broadcast; TypeError for operands that are not float32/float64 (NumPy
    multiplies integers and bools too; the tiled kernel does not)."""
    a, b = _device(a, "matmul"), _device(b, "matmul")
    for i, x in enumerate((a, b)):
        if x.ndim == 0:
            raise ValueError(f"matmul: operand {i} is 0-dimensional (shape ()); it needs "
                             f"at least 1 dimension")
        if np.dtype(x.dtype) not in FLOATS:
            raise TypeError(f"matmul: operand {i} is {np.dtype(x.dtype)}; the GPU matmul "
                            f"takes float32 and float64 (cast first)")
    dtype = np.result_type(a.dtype, b.dtype)
    a, b = (x if x.dtype == dtype else _copy(strided(x), dtype) for x in (a, b))
    a_row, b_column = a.ndim == 1, b.ndim == 1
    a2 = reshape(a, (1, a.shape[0])) if a_row else a
    b2 = reshape(b, (b.shape[0], 1)) if b_column else b
    (M, K), (K2, N) = a2.shape[-2:], b2.shape[-2:]
    if K != K2:
        raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)}: the inner "
                         f"dimensions differ ({K} != {K2})")
    try:
        batch = np.broadcast_shapes(tuple(a2.shape[:-2]), tuple(b2.shape[:-2]))
    except ValueError:
        raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)}: the batch "
                         f"dimensions cannot be broadcast together") from None
    out = arrays.empty(batch + (M, N), dtype)
    if out.size:
        if b2.ndim == 2 and a2.ndim == 2:
            _matmul.matmul(a2, b2, out)
        elif b2.ndim == 2:
            rows = math.prod(a2.shape[:-1])
            _matmul.matmul(reshape(a2, (rows, K)), b2, out.reshape(rows, N))
        else:
            _batched(a2, b2, out, batch)
    drop = (-2,) * a_row + (-1,) * b_column
    if drop:
        shape = list(out.shape)
        for d in drop:
            del shape[d]
        out = out.reshape(tuple(shape))
    return out


def _batched(a: Any, b: Any, out: Any, batch: tuple[int, ...]) -> None:
    """out[j] = a[j'] @ b[j''] per batch element j, a and b indexed through the broadcast
    (one ``matmul.matmul`` launch each)."""
    n = math.prod(batch)

    def slices(x: Any) -> tuple[Any, np.ndarray]:
        lead = tuple(x.shape[:-2])
        ids = np.broadcast_to(np.arange(math.prod(lead)).reshape(lead), batch).ravel()
        return reshape(x, (math.prod(lead),) + tuple(x.shape[-2:])), ids

    (a3, a_ids), (b3, b_ids) = slices(a), slices(b)
    out3 = out.reshape((n,) + tuple(out.shape[-2:]))
    for j in range(n):
        _matmul.matmul(a3[int(a_ids[j])], b3[int(b_ids[j])], out3[j])
