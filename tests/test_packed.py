"""``packed.packed_gemm``, the step loops' product with a weight packed once (docs/math.md
K5), in blocks one and two panels wide whatever this CPU's choice: NumPy's product to
rounding for every block shape (whole blocks of 6 rows, each shorter last block, a single
row, an odd panel count), the padding columns zero, row slices as the chunks pass
them, the same bits every call, and a clear error for operands that do not match."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

cpu = pytest.importorskip("nongate_np.kernels.cpu")
from nongate_np.kernels.cpu import packed  # noqa: E402  (after the importorskip)

EPS = {np.float32: np.finfo(np.float32).eps, np.float64: np.finfo(np.float64).eps}


def _compiled(product):
    """The product (one panel per block, two, or this CPU's) and a chunk's call of it."""
    @njit
    def whole(a, wp, out):
        product(a, wp, out)

    @njit
    def rows(a, r0, r1, wp, out):
        product(a[r0:r1], wp, out[r0:r1])

    return whole, rows


#: name: (the product, a chunk's call of it, panels per block)
PRODUCTS = {f"{p}-panel blocks": (*_compiled(packed.products[p]), p) for p in packed.products}
PRODUCTS["this CPU's"] = (*_compiled(packed.packed_gemm), packed.PANELS)
_product = PRODUCTS["this CPU's"][0]


def _check(got, a, w, dtype):
    """got equals a @ w within K + 2 roundings of Σ|a||w| (the sum's error bound)."""
    a64, w64 = a.astype(np.float64), w.astype(np.float64)
    want = a64 @ w64
    bound = (a.shape[1] + 2) * EPS[dtype] * (np.abs(a64) @ np.abs(w64)) + 1e-300
    assert np.all(np.abs(got[:, :w.shape[1]] - want) <= bound)
    np.testing.assert_array_equal(got[:, w.shape[1]:], 0)      # W's zero padding


@pytest.mark.parametrize("product", sorted(PRODUCTS))
@settings(max_examples=60, deadline=None)
@given(M=st.integers(0, 20), K=st.integers(0, 40), N=st.integers(1, 60),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2 ** 32 - 1))
def test_packed_product_equals_numpy(product, M, K, N, dtype, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((M, K)).astype(dtype)
    w = rng.standard_normal((K, N)).astype(dtype)
    whole, _, panels = PRODUCTS[product]
    nr = packed.NR[np.dtype(dtype)]
    wp = packed.pack(w, dtype, panels)
    width = packed.panel_width(N, dtype, panels)
    assert width % (nr * panels) == 0 and N <= width < N + nr * panels
    assert wp.shape == (width // nr, K, nr)
    out = np.full((M, width), np.nan, dtype)
    whole(a, wp, out)
    _check(out, a, w, dtype)
    again = np.empty_like(out)
    whole(a, wp, again)
    np.testing.assert_array_equal(again, out)                   # same bits every call


@pytest.mark.parametrize("product", sorted(PRODUCTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("r0, r1", [(0, 13), (2, 9), (5, 6), (7, 7)])
def test_row_slices_write_only_their_rows(product, dtype, r0, r1):
    """A chunk's call on rows r0:r1 of the batch: those rows of the product, no others."""
    rng = np.random.default_rng(r0 * 31 + r1)
    a = rng.standard_normal((13, 33)).astype(dtype)
    w = rng.standard_normal((33, 50)).astype(dtype)
    _, rows, panels = PRODUCTS[product]
    out = np.full((13, packed.panel_width(50, dtype, panels)), 7.0, dtype)
    rows(a, r0, r1, packed.pack(w, dtype, panels), out)
    _check(out[r0:r1], a[r0:r1], w, dtype)
    untouched = np.ones(13, bool)
    untouched[r0:r1] = False
    assert np.all(out[untouched] == 7.0)


def test_operands_that_do_not_match_are_refused():
    a = np.ones((3, 5), np.float32)
    wp = packed.pack(np.ones((4, 20), np.float32), np.float32)      # K = 4, not 5
    with pytest.raises(ValueError, match=r"a \(M, K\), wp \(NP, K, NR\)"):
        _product(a, wp, np.empty((3, 32), np.float32))
    wp = packed.pack(np.ones((5, 20), np.float32), np.float32, 1)   # 2 panels: 32 columns
    with pytest.raises(ValueError, match=r"out \(M, >= NP\*NR\)"):
        PRODUCTS["1-panel blocks"][0](a, wp, np.empty((3, 20), np.float32))
    wp = packed.pack(np.ones((5, 40), np.float32), np.float32, 1)   # 3 panels
    with pytest.raises(ValueError, match="NP is not a multiple of 2"):
        PRODUCTS["2-panel blocks"][0](a, wp, np.empty((3, 48), np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("block_min", [0, 1 << 40])
def test_pack_in_blocks_of_rows_equals_the_panels(dtype, transposed, block_min):
    """The panels by their definition, wp[p, k, j] = W[k, p·NR + j] (0 past N), whether the
    copy runs in blocks of rows (a large weight with contiguous rows, forced here by a
    threshold of 0 and a block that does not divide K) or at once; float64 weights cast."""
    from nongate_np.kernels.cpu import tuning
    rng = np.random.default_rng(7)
    K, N = 77, 45
    w = rng.standard_normal((N, K)).T if transposed else rng.standard_normal((K, N))
    nr = packed.NR[np.dtype(dtype)]
    want = np.zeros((packed.panel_width(N, dtype) // nr, K, nr), dtype)
    for p in range(-(-N // nr)):
        cols = w[:, p * nr:(p + 1) * nr].astype(dtype)
        want[p, :, :cols.shape[1]] = cols
    with tuning.override(PACK_BLOCK_MIN_BYTES=block_min, PACK_BLOCK_ROWS=10):
        got = packed.pack(w, dtype)
    np.testing.assert_array_equal(got, want)
