"""Matrix products of the Numba backend, split over threads (docs/math.md K4).

Every product of this backend is ``blas.gemm`` (inside the jitted attention kernels),
``matmul`` here (from Python) or, for the step loops' products with a weight used at every
step, ``packed.packed_gemm`` (K5); never NumPy's own BLAS. ``blas.gemm`` calls the BLAS
chosen in ``blas.py``, which the backend keeps on one thread (``threads.owns_cores``) while
``matmul`` splits the large products over the backend's threads (``threads.run_chunks``),
each part through ``blas.gemm`` or, for a large product with a small right operand and
for the weight gradients at moderate sizes, the packed kernel (``packed_dot``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import threads, tuning, workspace
from .blas import gemm
from .cache import cache_location
from .packed import packed_gemm, packed_weight, panel_width

_JIT = dict(cache=cache_location().enabled, error_model="numpy", nogil=True)


@njit(**_JIT)
def dot(a_c, a_t, b_c, b_t, out):
    """out = a @ b through the chosen BLAS (``blas.gemm``), on the calling thread, from C
    arrays: a is a_c, or a_cᵀ when a_t; b likewise. One compiled signature serves every
    layout pair, without copies (a transposed operand is passed as its C-contiguous
    transpose)."""
    if a_t and b_t:
        gemm(a_c.T, b_c.T, out)
    elif a_t:
        gemm(a_c.T, b_c, out)
    elif b_t:
        gemm(a_c, b_c.T, out)
    else:
        gemm(a_c, b_c, out)


@njit(**_JIT)
def packed_dot(a_c, a_t, b_c, b_t, out):
    """out = a @ b through the packed kernel (K5), b (b_c, or b_cᵀ when b_t) packed here,
    by the thread that reads it: :func:`dot`'s arguments, a_c C-contiguous (a is a_c, or
    with a_t its transpose, which the kernel reads in place) and out as wide as b's
    panels."""
    w = packed_weight(b_c.T) if b_t else packed_weight(b_c)
    if a_t:
        packed_gemm(a_c.T, w, out)
    else:
        packed_gemm(a_c, w, out)


def _operand(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """x as (a C array, whether x is its transpose)."""
    if not x.flags.c_contiguous and x.flags.f_contiguous:
        return x.T, True
    return np.ascontiguousarray(x), False


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for 2-D a, b of one float dtype, split over the threads when large enough:

    * by rows of the result when ``a`` is C-contiguous: ``out[r] = a[r] @ b``;
    * otherwise (``a`` a transposed C array, as in the weight gradients ``δᵀ X``) by the
      reduction index: ``out = Σ_k a[:, K_k] @ b[K_k]``, the partial products summed in
      chunk order; or, for a result of ``tuning.PRODUCT_ROWS_MIN_BYTES`` and more, by rows
      too, each chunk reading its columns of a's C array in place.

    A fixed thread count gives the same bits every run.

    NOTE: one compiled signature for every layout pair, C arrays and flags (a second, for
    column blocks of a's C array, only where a transposed ``a`` is split by rows): a
    signature per pair costs compile time, and a copy of a large transposed operand costs a
    good part of the product (bench/KERNEL_NOTES.md, "Compile time: one layout for small
    products")."""
    if _unsplit(a, b):
        return _dot(a, b)
    plan = _Plan(a, b)
    _run([plan], len(plan.parts))
    return plan.result()


def matmuls(*pairs: tuple[np.ndarray, np.ndarray]) -> list[np.ndarray]:
    """``[a @ b for a, b in pairs]``, each product split as :func:`matmul` splits it (same
    parts, same bits), all in one split over the threads: chunk k makes part k of every
    product, so independent products share one start and one end of the threads instead
    of one each (bench/KERNEL_NOTES.md, "Products: one split for several")."""
    if all(_unsplit(a, b) for a, b in pairs):
        return [_dot(a, b) for a, b in pairs]
    plans = [_Plan(a, b) for a, b in pairs]
    _run(plans, max([len(p.parts) for p in plans]))
    return [p.result() for p in plans]


def _unsplit(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether a @ b is below every threshold of a split and of the packed kernel, so that
    :class:`_Plan` would make it one :func:`dot` call whatever the layouts."""
    return unsplit(a.shape[0] * a.shape[1] * b.shape[1])


def unsplit(macs: int) -> bool:
    """Whether a product of ``macs`` multiply-adds is below every threshold of a split and
    of the packed kernel: :func:`matmul` makes it one BLAS call (``blas.gemm``), whatever
    the layouts."""
    return macs < tuning.PRODUCT_SPLIT_MIN_MACS and macs < tuning.PACKED_PRODUCT_MIN_MACS \
        and macs < tuning.PACKED_TRANSPOSED_MIN_MACS


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b as one :func:`dot` call, as :class:`_Plan` makes a product it does not split.

    NOTE: without the plan's object and its split decisions: a small call (S1) makes nine
    such products a training step (bench/KERNEL_NOTES.md, "Kernel calls: Python
    overhead")."""
    out = workspace.empty((a.shape[0], b.shape[1]), a.dtype)      # one dtype: matmul's contract
    dot(*_operand(a), *_operand(b), out)
    return out


def _run(plans: list[_Plan], n: int) -> None:
    """Part k of every plan that has one, for k in 0..n-1, split over the threads."""
    if n == 1:
        for p in plans:
            p.kernel(*p.parts[0])
    else:
        threads.run_chunks(lambda k: [p.kernel(*p.parts[k]) for p in plans
                                      if k < len(p.parts)], n)


class _Plan:
    """One product: its output, its kernel (:func:`dot`, or :func:`packed_dot` where
    :func:`_packed` says so) with the arguments for each of its parts (one per chunk) and,
    split by the reduction index, the partial sums after the first."""

    __slots__ = ("out", "parts", "partial", "kernel")

    def __init__(self, a: np.ndarray, b: np.ndarray) -> None:
        M, K = a.shape
        N = b.shape[1]
        dtype = np.result_type(a, b)
        out = self.out = workspace.empty((M, N), dtype)
        self.partial = None
        n = threads.parallel_chunks(M * K * N, tuning.PRODUCT_SPLIT_MIN_MACS)
        (a_c, a_t), (b_c, b_t) = _operand(a), _operand(b)
        # NOTE: a transposed a by rows too where the result is large: the split by the
        # reduction index writes a partial result per chunk and adds it in a pass of its own,
        # which from this size goes to memory (bench/KERNEL_NOTES.md, "Products: parallel
        # threshold")
        by_rows = not a_t or (not b_t and out.nbytes >= tuning.PRODUCT_ROWS_MIN_BYTES)
        # the reduction's length in one part; None for a transposed a split by rows (a
        # block of its C array's columns), which stays on the BLAS
        k_part: int | None = K
        if n > 1 and by_rows and M >= n:
            k_part = None if a_t else K
            rows = threads.even_blocks(M, n)
            self.parts = [(a_c[:, r0:r1] if a_t else a_c[r0:r1], a_t, b_c, b_t, out[r0:r1])
                          for r0, r1 in zip(rows, rows[1:])]
        elif n > 1 and a_t and not b_t and K >= n:
            ks = threads.even_blocks(K, n)
            k_part = ks[1] - ks[0]
            partial = self.partial = np.empty((len(ks) - 2, M, N), dtype)
            self.parts = [(a_c[k0:k1], True, b_c[k0:k1], False,
                           out if i == 0 else partial[i - 1])
                          for i, (k0, k1) in enumerate(zip(ks, ks[1:]))]
        else:
            self.parts = [(a_c, a_t, b_c, b_t, out)]
        self.kernel = packed_dot if _packed(M, K, N, a_t, b_t, k_part, dtype) else dot

    def result(self) -> np.ndarray:
        """The product, once every part has run: the partial sums added in chunk order."""
        if self.partial is not None:
            for part in self.partial:
                self.out += part
        return self.out


def _packed(M: int, K: int, N: int, a_t: bool, b_t: bool, k_part: int | None,
            dtype: np.dtype) -> bool:
    """Whether a product runs on the packed kernel (:func:`packed_dot`) rather than the
    BLAS: a width of whole panel groups and

    * a C-contiguous ``a``: at least ``tuning.PACKED_PRODUCT_MIN_MACS`` multiply-adds and
      b of at most ``tuning.PACKED_PRODUCT_MAX_BYTES`` (bench/KERNEL_NOTES.md, "Products:
      the packed kernel over many rows");
    * a transposed ``a`` (the weight gradients δᵀX), unsplit or split by the reduction
      index (``k_part`` rows of a's C array and of b a part; None: split by rows), b not
      transposed: at least ``tuning.PACKED_TRANSPOSED_MIN_MACS`` multiply-adds, and each
      operand's part of at most ``tuning.PACKED_TRANSPOSED_MAX_ELEMENTS`` (bench/KERNEL_NOTES.md,
      "Products: the packed kernel for the weight gradients")."""
    if N != panel_width(N, dtype):
        return False
    if a_t:
        return not b_t and k_part is not None \
            and M * K * N >= tuning.PACKED_TRANSPOSED_MIN_MACS \
            and k_part * max(M, N) <= tuning.PACKED_TRANSPOSED_MAX_ELEMENTS
    return M * K * N >= tuning.PACKED_PRODUCT_MIN_MACS \
        and K * N * dtype.itemsize <= tuning.PACKED_PRODUCT_MAX_BYTES
