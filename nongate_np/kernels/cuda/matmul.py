"""Matrix products and column sums on the GPU, always available (no cuBLAS needed).

``matmul`` is a shared-memory tiled product: each block computes a TILE × TILE tile of the
output, stepping along the inner dimension one TILE at a time through two tiles staged in
shared memory. Transposed operands are read in place (``trans_a``/``trans_b``), so
``aᵀ b`` needs no copy. ``column_sums`` is one thread per column (the bias gradients: sums
over B·T rows).

The tile is 16 on a GPU and 4 in the simulator, where every CUDA thread is an OS thread and
a 256-thread block takes seconds (measured in the project's notes on the simulator).
Register blocking and cuBLAS for the large time-parallel products are the next steps once a
GPU measures them.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import cuda

from . import arrays

__all__ = ["TILE", "matmul", "column_sums"]

TILE = 4 if numba.config.ENABLE_CUDASIM else 16
COLUMN_THREADS = 64


def _tiled_kernel(dtype: Any) -> Any:
    """The tiled product kernel for one element type (shared arrays need it at compile)."""

    @cuda.jit
    def kernel(a, b, out, trans_a, trans_b, accumulate):
        sa = cuda.shared.array((TILE, TILE), dtype)
        sb = cuda.shared.array((TILE, TILE), dtype)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row = cuda.blockIdx.y * TILE + ty
        col = cuda.blockIdx.x * TILE + tx
        M, N = out.shape[0], out.shape[1]
        K = a.shape[0] if trans_a else a.shape[1]
        acc = dtype(0)
        for k0 in range(0, K, TILE):
            ka, kb = k0 + tx, k0 + ty
            if row < M and ka < K:
                sa[ty, tx] = a[ka, row] if trans_a else a[row, ka]
            else:
                sa[ty, tx] = 0
            if col < N and kb < K:
                sb[ty, tx] = b[col, kb] if trans_b else b[kb, col]
            else:
                sb[ty, tx] = 0
            cuda.syncthreads()
            for k in range(TILE):
                acc += sa[ty, k] * sb[k, tx]
            cuda.syncthreads()
        if row < M and col < N:
            out[row, col] = out[row, col] + acc if accumulate else acc

    return kernel


_KERNELS = {np.dtype(np.float32): _tiled_kernel(numba.float32),
            np.dtype(np.float64): _tiled_kernel(numba.float64)}


def matmul(a: Any, b: Any, out: Any = None, *, trans_a: bool = False, trans_b: bool = False,
           accumulate: bool = False) -> Any:
    """out = op(a) op(b), or out += it with ``accumulate``; op transposes when asked.

    a, b: 2-D device arrays of one dtype (float32 or float64); op(a) (M, K), op(b) (K, N);
    out: a (M, N) device array of that dtype, allocated when None (then ``accumulate`` must
    be False). Returns out. Raises ValueError on mismatched shapes or dtypes."""
    M, K = (a.shape[1], a.shape[0]) if trans_a else (a.shape[0], a.shape[1])
    K2, N = (b.shape[1], b.shape[0]) if trans_b else (b.shape[0], b.shape[1])
    if K != K2 or a.dtype != b.dtype:
        raise ValueError(f"matmul: op(a) {(M, K)} {a.dtype} and op(b) {(K2, N)} {b.dtype} "
                         f"do not multiply")
    if out is None:
        if accumulate:
            raise ValueError("matmul: accumulate=True needs out")
        out = arrays.empty((M, N), a.dtype)
    elif out.shape != (M, N) or out.dtype != a.dtype:
        raise ValueError(f"matmul: out is {out.shape} {out.dtype}, expected {(M, N)} "
                         f"{a.dtype}")
    if M == 0 or N == 0:
        return out
    if K == 0:
        if not accumulate:
            out.copy_to_device(np.zeros((M, N), out.dtype))
        return out
    grid = ((N + TILE - 1) // TILE, (M + TILE - 1) // TILE)
    _KERNELS[np.dtype(a.dtype)][grid, (TILE, TILE)](a, b, out, trans_a, trans_b, accumulate)
    return out


def _column_sums_kernel(dtype: Any) -> Any:
    """One thread per column, summing down the rows in the element type."""

    @cuda.jit
    def kernel(a, out):
        j = cuda.grid(1)
        if j < a.shape[1]:
            total = dtype(0)
            for i in range(a.shape[0]):
                total += a[i, j]
            out[j] = total

    return kernel


_COLUMN_KERNELS = {np.dtype(np.float32): _column_sums_kernel(numba.float32),
                   np.dtype(np.float64): _column_sums_kernel(numba.float64)}


def column_sums(a: Any, out: Any = None) -> Any:
    """Σ_i a[i, :] for a 2-D device array (N, K): a (K,) device array (``out`` if given)."""
    K = a.shape[1]
    if out is None:
        out = arrays.empty((K,), a.dtype)
    if a.shape[0] == 0:
        out.copy_to_device(np.zeros(K, out.dtype))
        return out
    if K:
        blocks = (K + COLUMN_THREADS - 1) // COLUMN_THREADS
        _COLUMN_KERNELS[np.dtype(a.dtype)][blocks, COLUMN_THREADS](a, out)
    return out
