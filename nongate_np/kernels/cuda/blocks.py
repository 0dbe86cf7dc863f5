"""Device functions the kernels share: a block's sum and NaN-propagating max by a tree in
shared memory (the reductions, kernels/cuda/reduction.py and optim.py), and the memory
offset of an element of a strided index space (the reductions' ``offset_of``, the
element-wise kernels' ``strided_offsets``: kernels/cuda/elementwise.py and
elementwise_math.py).

The trees. Each of the block's ``TREE_THREADS`` threads brings one value; the values go
into a shared array the kernel declares (of the kernel's accumulator type, its length
``TREE_THREADS``), and halves of it are combined until one element is left: thread t adds
(or maxes) element t + s into element t for s = TREE_THREADS/2, ..., 1, a
``cuda.syncthreads()`` after each step. The order of the operations is therefore fixed by
TREE_THREADS alone, so a result is the same on every run. Every thread of the block must
call the function (it synchronises the block), and every thread gets the result. The
simulator has no warp shuffles, so the tree stays in shared memory.

tests/cuda/ptx_blocks.py compiles these to PTX without a GPU, alone or with the kernels that
call them.
"""

from __future__ import annotations

from typing import Any

import numba
from numba import cuda

__all__ = ["TREE_THREADS", "block_sum", "block_max", "offset_of", "strided_offsets"]

_SIM = bool(numba.config.ENABLE_CUDASIM)
# threads per block of a tree reduction; a power of two (few in the simulator, which runs
# an OS thread per CUDA thread)
TREE_THREADS = 8 if _SIM else 128


def _tree(maximum: bool) -> Any:
    """The block's sum (``maximum`` False) or maximum, as a device function ``(partial,
    value) -> result``: each thread brings its ``value``, partial is a shared array of
    TREE_THREADS elements of value's type (overwritten), and every thread gets the block's
    result (partial[0]). The maximum is NaN wherever a value is NaN, as ``np.max``'s.
    ``maximum`` is a constant of the compiled code (a closure variable, its branch folded
    away), so the two are one tree written once."""

    def reduce(partial, value):
        tid = cuda.threadIdx.x
        partial[tid] = value
        cuda.syncthreads()
        s = TREE_THREADS // 2
        while s > 0:
            if tid < s:
                v = partial[tid + s]
                if not maximum:
                    partial[tid] += v
                elif v > partial[tid] or v != v:
                    partial[tid] = v
            cuda.syncthreads()
            s //= 2
        return partial[0]

    return cuda.jit(device=True)(reduce)


block_sum = _tree(maximum=False)     # the sum of every thread's value over the block
block_max = _tree(maximum=True)      # their maximum, NaN wherever one is NaN


@cuda.jit(device=True)
def offset_of(index, table, n, lengths, strides):
    """The memory offset (in elements) of element ``index`` of an n-axis index space in C
    order, whose axes' lengths are table[lengths:lengths + n] and their strides
    table[strides:strides + n]: Σ_d i_d · stride_d with index = Σ_d i_d Π_{e>d} length_e.

    index, n, lengths, strides: ints; table: an int64 array. Returns an int64."""
    position = 0
    rest = index
    for d in range(n - 1, -1, -1):
        length = table[lengths + d]
        position += (rest % length) * table[strides + d]
        rest //= length
    return position


@cuda.jit(device=True)
def strided_offsets(index, shape, sa, sb, sc):
    """The memory offsets (in elements) of element ``index`` of the index space ``shape`` in
    C order, in three operands whose element strides over those axes are ``sa``, ``sb``,
    ``sc`` (0 along an axis one is broadcast on): Σ_d i_d · s_d with index = Σ_d i_d Π_{e>d}
    shape_e. Each i_d is found once for the three (an integer division per axis, the costly
    part); a kernel with fewer operands passes one's strides again and leaves the extra
    offsets unused, which the compiler then drops.

    index: an int; shape, sa, sb, sc: tuples of ints, one per axis. Returns three int64s."""
    oa = 0
    ob = 0
    oc = 0
    rest = index
    for d in range(len(shape) - 1, -1, -1):
        k = rest % shape[d]
        oa += k * sa[d]
        ob += k * sb[d]
        oc += k * sc[d]
        rest //= shape[d]
    return oa, ob, oc
