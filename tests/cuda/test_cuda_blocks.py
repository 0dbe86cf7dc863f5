"""kernels/cuda/blocks.py's device functions on the simulator: the block trees give every
thread the result of the tree's own order of operations (bit for bit), the maximum is NaN
wherever a value is NaN, and ``offset_of`` is the C-order index arithmetic."""

import functools

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
from numba import cuda, float32, float64  # noqa: E402  (after the skip)

from nongate_np.kernels.cuda import blocks  # noqa: E402

T = blocks.TREE_THREADS


@functools.cache
def _tree_kernel(nt):
    """A one-block kernel: out[t] = the block's sum (or max) of values[:T], seen by thread t."""

    @cuda.jit
    def kernel(values, maximum, out):
        partial = cuda.shared.array(T, nt)
        v = values[cuda.threadIdx.x]
        out[cuda.threadIdx.x] = blocks.block_max(partial, v) if maximum else \
            blocks.block_sum(partial, v)

    return kernel


def run_tree(values, maximum):
    out = cuda.device_array(T, values.dtype)
    nt = float32 if values.dtype == np.float32 else float64
    _tree_kernel(nt)[1, T](cuda.to_device(values), maximum, out)
    return out.copy_to_host()


def tree_order(values, op):
    """The tree's order: element t combines element t + s, for s = T/2, ..., 1."""
    p = list(values)
    s = T // 2
    while s:
        for t in range(s):
            p[t] = op(p[t], p[t + s])
        s //= 2
    return p[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_sum_is_the_tree_order_in_every_thread(dtype):
    # 2^(mantissa+1) then ones: a sequential sum rounds every 1 away, the tree only the one
    # it adds to element 0 first (the others meet each other first)
    rng = np.random.default_rng(0)
    big = dtype(2.0 ** (np.finfo(dtype).nmant + 1))
    cases = [np.array([big] + [1] * (T - 1), dtype),
             (rng.standard_normal(T) * 10.0 ** rng.integers(-6, 6, T)).astype(dtype)]

    def add(a, b):
        return dtype(a + b)

    assert tree_order(cases[0], add) != functools.reduce(add, cases[0])   # can tell them apart
    for values in cases:
        expected = tree_order(values, add)
        np.testing.assert_array_equal(run_tree(values, maximum=False), np.full(T, expected))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_max_propagates_nan_from_any_thread(dtype):
    values = np.linspace(-3.0, 2.0, T).astype(dtype)[::-1].copy()
    values[T // 2] = np.inf
    np.testing.assert_array_equal(run_tree(values, maximum=True), np.full(T, np.inf, dtype))
    for where in range(T):
        with_nan = np.full(T, -np.inf, dtype)
        with_nan[where] = np.nan
        assert np.isnan(run_tree(with_nan, maximum=True)).all(), where


@cuda.jit
def _offsets(table, n, lengths, strides, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = blocks.offset_of(i, table, n, lengths, strides)


@pytest.mark.parametrize("shape, strides", [((), ()), ((5,), (3,)), ((2, 3), (1, -2)),
                                            ((2, 3, 2), (12, 1, 5))])
def test_offset_of_is_the_c_order_index_arithmetic(shape, strides):
    n = len(shape)
    # a column of other numbers first: offset_of reads from the given positions only
    table = np.array([7, 7, *shape, *strides], np.int64)
    size = int(np.prod(shape))
    out = cuda.device_array(size, np.int64)
    _offsets[1, max(size, 1)](cuda.to_device(table), n, 2, 2 + n, out)
    expected = [int(np.dot(np.unravel_index(i, shape), strides)) if n else 0
                for i in range(size)]
    np.testing.assert_array_equal(out.copy_to_host(), expected)
