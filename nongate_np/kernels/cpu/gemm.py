"""Matrix products of the Numba backend, split over Numba's threads (docs/math.md K4).

Every product of this backend is ``blas.gemm`` (inside the jitted step loops) or ``matmul``
here (from Python), never NumPy's own BLAS: ``blas.gemm`` calls the BLAS chosen in
``blas.py``, which the backend keeps on one thread (``threads.owns_cores``) while Numba's
pool splits the large products:

* by rows of the result when ``a`` is C-contiguous: ``out[r] = a[r] @ b``;
* otherwise (``a`` a transposed C array, as in the weight gradients ``δᵀ X``) by the
  reduction index: ``out = Σ_k a[:, K_k] @ b[K_k]``, the partial products summed in chunk
  order, so a fixed thread count gives the same bits every run.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import blas, threads, tuning, workspace
from .blas import gemm
from .cache import cache_location

_JIT = dict(cache=cache_location().enabled, error_model="numpy", nogil=True)
#: OpenBLAS kernel sets (``blas.core()``) whose small-matrix path the row blocks were
#: measured on: the AVX-512 ones
_BLOCKING_CORES = ("SkylakeX", "Cooperlake", "SapphireRapids")

def row_blocks(rows: int, k: int, n: int) -> np.ndarray:
    """Bounds cutting a (rows, k) x (k, n) product into blocks of rows, each a multiple of
    ``tuning.ROW_BLOCK_MULTIPLE`` rows (but the last) within ``tuning.ROW_BLOCK_MAX_MACS``,
    as even as that allows; one block when no such block exists or one would do, or when
    the BLAS runs kernels other than OpenBLAS's AVX-512 ones (or blocks of
    ``tuning.forced_block_rows`` rows when forced). The step loops make one BLAS call per
    block: the same product through BLAS's faster path (which may round differently, but
    the same way every run)."""
    if tuning.forced_block_rows is not None:
        return np.append(np.arange(0, rows, tuning.forced_block_rows), rows).astype(np.int64)
    # NOTE: the blocks pay off only with OpenBLAS's AVX-512 kernels; with its Haswell (AVX2)
    # kernels they make a step's product up to 4x slower (bench/KERNEL_NOTES.md, "Step
    # loop: row blocks of the recurrent product")
    if blas.core() not in _BLOCKING_CORES:
        return np.array([0, rows], np.int64)
    step = tuning.ROW_BLOCK_MULTIPLE
    most = tuning.ROW_BLOCK_MAX_MACS // (k * n) // step * step
    if most < step or most >= rows:
        return np.array([0, rows], np.int64)
    return threads.even_blocks(rows, -(-rows // most), step)


@njit(**_JIT)
def dot(a_c, a_t, b_c, b_t):
    """a @ b through the chosen BLAS (``blas.gemm``), on the calling thread, from C arrays:
    a is a_c, or a_cᵀ when a_t; b likewise. One compiled signature serves every layout
    pair, without copies (a transposed operand is passed as its C-contiguous transpose)."""
    M = a_c.shape[1] if a_t else a_c.shape[0]
    N = b_c.shape[0] if b_t else b_c.shape[1]
    out = np.empty((M, N), a_c.dtype)
    if a_t and b_t:
        gemm(a_c.T, b_c.T, out)
    elif a_t:
        gemm(a_c.T, b_c, out)
    elif b_t:
        gemm(a_c, b_c.T, out)
    else:
        gemm(a_c, b_c, out)
    return out


@njit(parallel=True, **_JIT)
def _by_rows(a, b, bounds, out):
    for k in prange(bounds.shape[0] - 1):
        r0, r1 = bounds[k], bounds[k + 1]
        gemm(a[r0:r1], b, out[r0:r1])


@njit(parallel=True, **_JIT)
def _by_reduction(a_t, b, bounds, out):
    """out = a_tᵀ b with the reduction index split: chunk k adds a_t[K_k]ᵀ b[K_k]."""
    n = bounds.shape[0] - 1
    partial = np.empty((n - 1,) + out.shape, out.dtype)
    for k in prange(n):
        r0, r1 = bounds[k], bounds[k + 1]
        gemm(a_t[r0:r1].T, b[r0:r1], out if k == 0 else partial[k - 1])
    # NOTE: loops, not out += partial[k]: slice assignments compile slowly
    # (bench/KERNEL_NOTES.md, "Compile time: slice assignments")
    for k in range(n - 1):
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] += partial[k, i, j]


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for 2-D a, b of one float dtype, split over the threads when large enough."""
    M, K = a.shape
    N = b.shape[1]
    n = threads.parallel_chunks(M * K * N, tuning.PRODUCT_SPLIT_MIN_MACS)
    b = b if (b.flags.c_contiguous or b.flags.f_contiguous) else np.ascontiguousarray(b)
    if n > 1 and a.flags.c_contiguous and M >= n:
        out = workspace.empty((M, N), np.result_type(a, b))
        _by_rows(a, b, threads.even_blocks(M, n), out)
        return out
    if n > 1 and a.T.flags.c_contiguous and K >= n and b.flags.c_contiguous:
        out = workspace.empty((M, N), np.result_type(a, b))
        _by_reduction(a.T, b, threads.even_blocks(K, n), out)
        return out
    # NOTE: one compiled signature for every layout pair, C arrays and flags: a signature
    # per pair costs compile time, and a copy of a large transposed operand costs a good
    # part of the product (bench/KERNEL_NOTES.md, "Compile time: one layout for small
    # products")
    a_t = not a.flags.c_contiguous and a.flags.f_contiguous
    b_t = not b.flags.c_contiguous and b.flags.f_contiguous
    return dot(a.T if a_t else np.ascontiguousarray(a), a_t,
               b.T if b_t else np.ascontiguousarray(b), b_t)
