"""``packed.packed_gemm``, the step loops' product with a weight packed once (docs/math.md
K5), in blocks one and two panels wide whatever this CPU's choice: NumPy's product to
rounding for every block shape (whole blocks of ``MR`` rows, the tail's blocks, a single
row, an odd panel count), the padding columns zero, row slices as the chunks pass
them, the same bits every call, for every block height and in the AVX2 build, and a clear
error for operands that do not match."""

import os
import subprocess
import sys

import llvmlite.binding as ll
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
@given(M=st.integers(0, 30), K=st.integers(0, 40), N=st.integers(1, 60),
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
def test_each_rows_bits_whatever_the_other_rows(product, dtype):
    """From 3 rows up each row's sum runs in k order alone, whatever ``MR`` (12 on AVX-512, 6
    on AVX2) and wherever the row falls (1 or 2 rows after a whole block go with its last
    rows, not in partial sums): every row of a product of M rows has the bits it has in a
    product of 3 rows, so a split of the rows over threads changes no bit."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((37, 40)).astype(dtype)
    whole, _, panels = PRODUCTS[product]
    wp = packed.pack(w, dtype, panels)
    three = np.empty((3, packed.panel_width(40, dtype, panels)), dtype)
    for M in range(3, 30):
        a = rng.standard_normal((M, 37)).astype(dtype)
        out = np.empty((M, three.shape[1]), dtype)
        whole(a, wp, out)
        for i in range(M):
            r0 = min(i, M - 3)
            whole(np.ascontiguousarray(a[r0:r0 + 3]), wp, three)
            np.testing.assert_array_equal(out[i], three[i - r0], err_msg=f"row {i} of {M}")


_DIGEST = """
import hashlib, numpy as np
from numba import njit
from nongate_np.kernels.cpu import packed
@njit
def product(a, wp, out):
    packed.packed_gemm(a, wp, out)
parts = []
for dtype in (np.float32, np.float64):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((77, 100)).astype(dtype)
    wp = packed.pack(w, dtype)
    for M in range(3, 40):
        a = rng.standard_normal((M, 77)).astype(dtype)
        out = np.empty((M, packed.panel_width(100, dtype)), dtype)
        product(a, wp, out)
        parts.append(out[:, :100].tobytes())
print(packed.MR, hashlib.sha256(b"".join(parts)).hexdigest())
"""


def test_the_avx2_build_gives_the_same_bits(tmp_path):
    """From 3 rows up a row's sum runs in k order alone whatever ``MR``: the product that
    Numba compiles for AVX2 (blocks of 6 rows by one panel) gives the bits of this CPU's
    (12 rows by two panels on AVX-512), float32 and float64, M from 3 to 39 (docs/math.md
    K5). Each in a process of its own, the AVX2 one with ``NUMBA_CPU_NAME=haswell``."""
    features = ll.get_host_cpu_features()
    if not (features.get("avx2") and features.get("fma")):
        pytest.skip("this CPU cannot run code compiled for AVX2 and FMA")
    avx2 = {"NUMBA_CPU_NAME": "haswell",
            "NUMBA_CPU_FEATURES": "+avx,+avx2,+fma,+sse4.2,+popcnt,+f16c"}
    host = {k: v for k, v in os.environ.items()
            if k not in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES")}
    runs = []
    for extra in ({}, avx2):
        env = dict(host, NUMBA_CACHE_DIR=str(tmp_path / str(len(runs))), **extra)
        proc = subprocess.run([sys.executable, "-c", _DIGEST], env=env, text=True,
                              capture_output=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        runs.append(proc.stdout.split())
    assert runs[1][0] == "6"
    assert runs[0][1] == runs[1][1], f"MR {runs[0][0]} and MR 6 differ"


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


@njit
def _packed_in_compiled_code(w):
    return packed.packed_weight(w)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["C", "transposed", "strided"])
@pytest.mark.parametrize("K, N", [(77, 45), (3, 16), (0, 5), (4, 0)])
def test_pack_equals_the_panels_by_definition(dtype, layout, K, N):
    """The panels by their definition, wp[p, k, j] = W[k, p·NR + j] (0 past N), from
    Python (``pack``, float64 weights cast) and inside compiled code (``packed_weight``),
    for W in C order, a transposed view and a strided view; N a whole panel, a partial
    one, none; K empty."""
    rng = np.random.default_rng(7)
    w = {"C": lambda: rng.standard_normal((K, N)),
         "transposed": lambda: rng.standard_normal((N, K)).T,
         "strided": lambda: rng.standard_normal((K, 2 * N))[:, ::2]}[layout]()
    nr = packed.NR[np.dtype(dtype)]
    want = np.zeros((packed.panel_width(N, dtype) // nr, K, nr), dtype)
    for p in range(-(-N // nr)):
        cols = w[:, p * nr:(p + 1) * nr].astype(dtype)
        want[p, :, :cols.shape[1]] = cols
    np.testing.assert_array_equal(packed.pack(w, dtype), want)
    np.testing.assert_array_equal(_packed_in_compiled_code(w.astype(dtype)), want)


def test_pack_into_refuses_panels_that_do_not_hold_the_weight():
    w = np.ones((5, 20), np.float32)
    with pytest.raises(ValueError, match=r"wp \(NP, K, NR\) does not hold W \(K, N\)"):
        packed.pack_into(w, np.empty((2, 4, 16), np.float32))       # K = 4, not 5
    with pytest.raises(ValueError, match="does not hold"):
        packed.pack_into(w, np.empty((1, 5, 16), np.float32))       # 16 columns, not 20
