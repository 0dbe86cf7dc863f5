"""Reductions on the GPU, as NumPy's: ``sum`` and ``max`` over any axes, ``softmax`` and
``log_softmax`` along one axis (docs/math.md E11-E12), on numba.cuda device arrays.

Reading. The input may be any view (slices with steps, negative strides, transposes,
broadcast axes of stride 0): ``_elements`` gives its memory as a 1-D device array, the
element offset of ``a[0, ..., 0]`` in it and the strides in elements, and kernels index it
by arithmetic. The host splits the axes into kept ones (the output's) and reduced ones,
drops axes of length 1 and merges neighbours that step through memory as one axis
(``_merge``: a contiguous array's last two axes are one run), and hands their lengths and
strides to the kernel in one small int64 device array (``_table``).

Launch layouts, chosen per call:

- one thread per output element, looping over its reduced elements (``_*_threads``): any
  reduced axes. Neighbouring threads read neighbouring memory when the reduced axes are
  the outer ones (a sum over the batch: the bias gradients).
- one block per output element (``_*_tree``) when its reduced elements are one contiguous
  run of at least TREE_THREADS (the last axis of a contiguous array: softmax over classes,
  a row sum): the block's threads stride along the run, reading neighbouring elements,
  then combine their partial results in a tree in shared memory (kernels/cuda/blocks.py;
  no warp shuffles: the simulator has none).

Not yet: a reduction to few outputs of very many elements (``sum(a)`` of a large array)
runs on one block, or one thread where not contiguous; splitting it over many blocks and
a second pass is the next step once a GPU measures it.

Semantics as NumPy's: ``sum`` of bool or int gives int64, of nothing gives 0; ``max``
propagates NaN as ``np.max`` does and raises ValueError over no elements; softmax and
log-softmax are exactly ``kernels.reference``'s formulas with m the maximum along the axis
(so a row of -inf, or one holding +inf or NaN, gives NaN as there). Summation order:
sequential within a thread, a tree across a block; NumPy sums pairwise, so float32 sums
may differ from NumPy's in the last bits.

Threads per block are 128 on a GPU and a few in the simulator, where every CUDA thread is
an OS thread.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numba
import numpy as np
from numba import cuda

from . import arrays
from .blocks import TREE_THREADS, block_max, block_sum, offset_of

__all__ = ["THREADS", "TREE_THREADS", "sum", "max", "softmax", "log_softmax"]

_SIM = bool(numba.config.ENABLE_CUDASIM)
THREADS = 16 if _SIM else 128         # one output element (or softmax row) per thread
# TREE_THREADS (kernels/cuda/blocks.py): threads per block of the one-block-per-output kernels

# the element types the GPU namespace holds, and numba's names for them
_NUMBA_TYPES = {np.dtype(np.float32): numba.float32, np.dtype(np.float64): numba.float64,
                np.dtype(np.bool_): numba.boolean, np.dtype(np.int32): numba.int32,
                np.dtype(np.int64): numba.int64}

Axes = tuple[int, ...] | int | None


# ---------------------------------------------------------------------------------------------
# Kernels. The table holds, for nk kept and nr reduced axes (merged, length > 1):
#   [kept lengths | kept input strides | kept output strides | reduced lengths | reduced
#    input strides], in elements, the last axis varying fastest. Each kernel maps its output
# element (or row) to the input position ``src`` of its first reduced element and the
# output position ``dst`` by ``offset_of`` over the table's columns; the block trees are
# ``block_sum`` and ``block_max``
# (kernels/cuda/blocks.py).
# ---------------------------------------------------------------------------------------------

@cuda.jit
def _sum_threads(x, offset, out, table, nk, nr, n_red, zero):
    """out[o] = Σ over output element o's reduced elements, one thread per o."""
    o = cuda.grid(1)
    if o >= out.size:
        return
    src = offset + offset_of(o, table, nk, 0, nk)
    total = zero
    for r in range(n_red):
        total += x[src + offset_of(r, table, nr, 3 * nk, 3 * nk + nr)]
    out[o] = total


@cuda.jit
def _max_threads(x, offset, out, table, nk, nr, n_red):
    """out[o] = max over output element o's reduced elements (NaN wins), one thread per o."""
    o = cuda.grid(1)
    if o >= out.size:
        return
    src = offset + offset_of(o, table, nk, 0, nk)
    m = x[src]
    for r in range(1, n_red):
        v = x[src + offset_of(r, table, nr, 3 * nk, 3 * nk + nr)]
        if v > m or v != v:
            m = v
    out[o] = m


@cuda.jit
def _softmax_threads(x, offset, out, table, nk, n_rows, L, s_in, s_out, log, zero):
    """E11/E12 along a row of L elements (strides s_in, s_out), one thread per row."""
    row = cuda.grid(1)
    if row >= n_rows:
        return
    src = offset + offset_of(row, table, nk, 0, nk)
    dst = offset_of(row, table, nk, 0, 2 * nk)
    m = x[src]
    for j in range(1, L):
        v = x[src + j * s_in]
        if v > m or v != v:
            m = v
    total = zero
    for j in range(L):
        total += math.exp(x[src + j * s_in] - m)
    for j in range(L):
        shifted = x[src + j * s_in] - m
        if log:
            out[dst + j * s_out] = shifted - math.log(total)                    # E12
        else:
            out[dst + j * s_out] = math.exp(shifted) / total                    # E11


@cuda.jit(device=True)
def _thread_max(x, src, L):
    """The max (NaN wins) of this thread's elements of the contiguous run x[src:src + L],
    those at j = tid, tid + TREE_THREADS, ...; L >= TREE_THREADS, so every thread has one."""
    tid = cuda.threadIdx.x
    m = x[src + tid]
    for j in range(tid + TREE_THREADS, L, TREE_THREADS):
        v = x[src + j]
        if v > m or v != v:
            m = v
    return m


@functools.cache
def _sum_tree(acc_type: Any) -> Any:
    """The block-per-output sum of a contiguous run of L elements, with partial sums of
    ``acc_type`` in shared memory."""

    @cuda.jit
    def kernel(x, offset, out, table, nk, L):
        partial = cuda.shared.array(TREE_THREADS, acc_type)
        src = offset + offset_of(cuda.blockIdx.x, table, nk, 0, nk)
        total = acc_type(0)
        for j in range(cuda.threadIdx.x, L, TREE_THREADS):
            total += x[src + j]
        total = block_sum(partial, total)
        if cuda.threadIdx.x == 0:
            out[cuda.blockIdx.x] = total

    return kernel


@functools.cache
def _max_tree(item_type: Any) -> Any:
    """The block-per-output max (NaN wins) with partial maxima in shared memory; the run
    holds L >= TREE_THREADS elements."""

    @cuda.jit
    def kernel(x, offset, out, table, nk, L):
        partial = cuda.shared.array(TREE_THREADS, item_type)
        src = offset + offset_of(cuda.blockIdx.x, table, nk, 0, nk)
        m = block_max(partial, _thread_max(x, src, L))
        if cuda.threadIdx.x == 0:
            out[cuda.blockIdx.x] = m

    return kernel


@functools.cache
def _softmax_tree(item_type: Any, acc_type: Any) -> Any:
    """E11/E12 along a contiguous row of L >= TREE_THREADS elements (output stride s_out),
    one block per row: the max and the sum of exponentials each by a tree in shared memory,
    then every thread writes its elements."""

    @cuda.jit
    def kernel(x, offset, out, table, nk, L, s_out, log):
        partial_max = cuda.shared.array(TREE_THREADS, item_type)
        partial_sum = cuda.shared.array(TREE_THREADS, acc_type)
        tid = cuda.threadIdx.x
        src = offset + offset_of(cuda.blockIdx.x, table, nk, 0, nk)
        dst = offset_of(cuda.blockIdx.x, table, nk, 0, 2 * nk)
        m = block_max(partial_max, _thread_max(x, src, L))
        total = acc_type(0)
        for j in range(tid, L, TREE_THREADS):
            total += math.exp(x[src + j] - m)
        total = block_sum(partial_sum, total)
        for j in range(tid, L, TREE_THREADS):
            shifted = x[src + j] - m
            if log:
                out[dst + j * s_out] = shifted - math.log(total)                # E12
            else:
                out[dst + j * s_out] = math.exp(shifted) / total                # E11

    return kernel


# ---------------------------------------------------------------------------------------------
# The host side: checks, the axes' table, the launches
# ---------------------------------------------------------------------------------------------

def _check(name: str, a: Any) -> np.dtype:
    """a's dtype, once ``a`` is a device array of a dtype the GPU namespace holds."""
    if not arrays.is_device(a):
        raise TypeError(f"{name}: expected a numba.cuda device array, got {type(a).__name__}")
    dtype = np.dtype(a.dtype)
    if dtype.kind == "c":
        raise TypeError(f"{name}: complex arrays run on the CPU only (complex-step checks)")
    if dtype not in _NUMBA_TYPES:
        raise TypeError(f"{name}: {dtype} arrays are not supported on the GPU (float32, "
                        f"float64, bool, int32, int64)")
    return dtype


def _axes(name: str, axis: Axes, ndim: int) -> tuple[int, ...]:
    """The axes as non-negative ints (all for None), NumPy's errors for a bad one."""
    if axis is None:
        return tuple(range(ndim))
    given = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = []
    for ax in given:
        if not -ndim <= ax < ndim:
            raise np.exceptions.AxisError(int(ax), ndim, name)
        axes.append(int(ax) % ndim)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: duplicate value in 'axis'")
    return tuple(axes)


def _elements(a: Any) -> tuple[Any, int, list[int]]:
    """a's memory as a 1-D device array, the index in it of a[0, ..., 0], and a's strides in
    elements: a[i] is at flat[offset + Σ_k i_k strides_k] for any view."""
    itemsize = a.dtype.itemsize
    strides = [s // itemsize for s in a.strides]
    if a.is_c_contiguous():
        return a.reshape(a.size), 0, strides
    # the view's lowest element starts the 1-D array (negative strides count down from 0)
    start = 0
    span = 1
    for n, s in zip(a.shape, strides):
        start += (n - 1) * s if s < 0 else 0
        span += (n - 1) * abs(s)
    if _SIM:
        # NOTE: the simulator's device array wraps a host NumPy array (_ary)
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
        host = a._ary[tuple(slice(None, None, -1) if s < 0 else slice(None)
                            for s in strides)]
        flat = FakeCUDAArray(np.lib.stride_tricks.as_strided(host, (span,), (itemsize,)))
    else:
        pointer = a.device_ctypes_pointer.value + start * itemsize
        flat = cuda.from_cuda_array_interface(
            {"shape": (span,), "strides": None, "typestr": a.dtype.str,
             "data": (pointer, False), "version": 3}, owner=a, sync=False)
    return flat, -start, strides


def _merge(dims: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Axes as (length, stride, ...) with those of length 1 dropped and each merged into
    the one before when together they step as one axis (its strides = these × length)."""
    merged: list[tuple[int, ...]] = []
    for dim in dims:
        n = dim[0]
        if n == 1:
            continue
        if merged and all(before == s * n for before, s in zip(merged[-1][1:], dim[1:])):
            merged[-1] = (merged[-1][0] * n, *dim[1:])
        else:
            merged.append(dim)
    return merged


def _contiguous_strides(shape: tuple[int, ...] | list[int]) -> list[int]:
    """C-order strides in elements."""
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    return strides


def _table(kept: list[tuple[int, ...]], reduced: list[tuple[int, ...]]) -> Any:
    """The kernels' int64 table (see the kernels' header) on the device."""
    columns = [[dim[k] for dim in kept] for k in range(3)]
    columns += [[dim[k] for dim in reduced] for k in range(2)]
    flat = [v for column in columns for v in column] or [0]   # never a zero-size array
    return cuda.to_device(np.array(flat, np.int64))


def _blocks(n: int, threads: int) -> int:
    return (n + threads - 1) // threads


def _reduce(name: str, a: Any, axis: Axes, keepdims: bool) -> Any:
    """The output of a sum or max over ``axis``, filled by the kernels."""
    item = _check(name, a)
    # NumPy's: a sum of bools or ints is int64, a max keeps the dtype
    dtype = np.dtype(np.int64) if name == "sum" and item.kind in "bi" else item
    axes = _axes(name, axis, a.ndim)
    shape = tuple(1 if d in axes else n for d, n in enumerate(a.shape) if keepdims
                  or d not in axes)
    n_red = math.prod(a.shape[d] for d in axes)
    if name == "max" and n_red == 0:
        raise ValueError("max: zero-size array to reduction operation maximum which has no "
                         "identity")
    n_out = math.prod(shape)
    if n_out == 0:
        return arrays.empty(shape, dtype)
    if n_red == 0:
        return arrays.zeros(shape, dtype)
    out = arrays.empty(shape, dtype)
    x, offset, strides = _elements(a)
    kept_axes = [d for d in range(a.ndim) if d not in axes]
    out_strides = _contiguous_strides([a.shape[d] for d in kept_axes])
    kept = _merge([(a.shape[d], strides[d], s) for d, s in zip(kept_axes, out_strides)])
    reduced = _merge([(a.shape[d], strides[d]) for d in sorted(axes)])
    table = _table(kept, reduced)
    flat_out = out.reshape(n_out)
    if len(reduced) == 1 and reduced[0][1] == 1 and reduced[0][0] >= TREE_THREADS:
        tree = _max_tree(_NUMBA_TYPES[item]) if name == "max" else \
            _sum_tree(_NUMBA_TYPES[dtype])
        tree[n_out, TREE_THREADS](x, offset, flat_out, table, len(kept), reduced[0][0])
    elif name == "max":
        _max_threads[_blocks(n_out, THREADS), THREADS](x, offset, flat_out, table, len(kept),
                                                       len(reduced), n_red)
    else:
        _sum_threads[_blocks(n_out, THREADS), THREADS](x, offset, flat_out, table, len(kept),
                                                       len(reduced), n_red, dtype.type(0))
    return out


def sum(a: Any, axis: Axes = None, keepdims: bool = False) -> Any:
    """np.sum(a, axis, keepdims) on the GPU.

    a: a device array of float32, float64, bool, int32 or int64, any shape and strides;
    axis: None (all), an int or a tuple of ints (negative ones count from the end). Returns
    a new device array of the kept axes' shape (length-1 axes in place of the summed ones
    with keepdims; 0-d for a full sum): float32/float64 as a, int64 for bool and int
    input; 0 where nothing is summed. Raises TypeError for a host, complex or other-typed
    array, AxisError for an axis out of range, ValueError for a repeated one."""
    return _reduce("sum", a, axis, keepdims)


def max(a: Any, axis: Axes = None, keepdims: bool = False) -> Any:
    """np.max(a, axis, keepdims) on the GPU: the same shapes and errors as :func:`sum`, the
    dtype of a, NaN wherever a reduced element is NaN. Raises ValueError (NumPy's message)
    when an output element would have no elements (a reduced axis of length 0)."""
    return _reduce("max", a, axis, keepdims)


def _softmax(name: str, a: Any, axis: int, log: bool) -> Any:
    """softmax or log-softmax along ``axis`` (E11 or E12), as kernels.reference computes."""
    item = _check(name, a)
    if item.kind == "b":
        raise TypeError(f"{name}: bool arrays have no {name} (NumPy cannot subtract bools)")
    (ax,) = _axes(name, (axis,), a.ndim)
    dtype = item if item.kind == "f" else np.dtype(np.float64)
    L = a.shape[ax]
    if L == 0:
        raise ValueError(f"{name}: zero-size array to reduction operation maximum which has "
                         f"no identity")
    out = arrays.empty(a.shape, dtype)
    if out.size == 0:
        return out
    x, offset, strides = _elements(a)
    out_strides = _contiguous_strides(a.shape)
    kept = _merge([(a.shape[d], strides[d], out_strides[d]) for d in range(a.ndim)
                   if d != ax])
    table = _table(kept, [])
    n_rows = out.size // L
    flat_out = out.reshape(out.size)
    if strides[ax] == 1 and L >= TREE_THREADS:
        tree = _softmax_tree(_NUMBA_TYPES[item], _NUMBA_TYPES[dtype])
        tree[n_rows, TREE_THREADS](x, offset, flat_out, table, len(kept), L, out_strides[ax],
                                   log)
    else:
        _softmax_threads[_blocks(n_rows, THREADS), THREADS](
            x, offset, flat_out, table, len(kept), n_rows, L, strides[ax], out_strides[ax],
            log, dtype.type(0))
    return out


def softmax(a: Any, axis: int = -1) -> Any:
    """kernels.reference.softmax on the GPU: e^{x - m} / Σ e^{x - m} along ``axis``, m the
    maximum along it (docs/math.md E11).

    a: a device array of float32, float64, int32 or int64, any shape and strides. Returns
    a new C-contiguous device array of a's shape, float32/float64 as a (float64 for int
    input); NaN along a row holding NaN or +inf, or all -inf, as the reference gives.
    Raises TypeError for a host, bool or complex array, AxisError for an axis out of range
    (any axis of a 0-d array), ValueError for an axis of length 0."""
    return _softmax("softmax", a, axis, log=False)


def log_softmax(a: Any, axis: int = -1) -> Any:
    """kernels.reference.log_softmax on the GPU: x - m - log Σ e^{x - m} along ``axis``
    (docs/math.md E12); shapes, dtypes and errors as :func:`softmax`."""
    return _softmax("log_softmax", a, axis, log=True)
