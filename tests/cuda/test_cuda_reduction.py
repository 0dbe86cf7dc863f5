"""kernels/cuda/reduction.py against the CPU namespace (kernels.array_api.NUMPY: NumPy's sum
and max, the reference softmax and log-softmax), on the simulator without a GPU.

Shapes are written in terms of TREE_THREADS so that both launch layouts run: a contiguous
reduced run of at least TREE_THREADS elements takes the block-per-output tree, anything
else the thread-per-output loop. Every result is allocated poisoned (NaN), so an element a
kernel leaves unwritten fails the comparison."""

import warnings

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
from numba import cuda  # noqa: E402  (after the skip)

from nongate_np.kernels.array_api import NUMPY  # noqa: E402
from nongate_np.kernels.cuda import arrays, reduction  # noqa: E402

T = reduction.TREE_THREADS
DTYPES = [np.float32, np.float64]
# NumPy sums pairwise, the kernels sequentially then by a tree: the bound is relative to
# the sum and to Σ|a| (the size of the rounding errors either order makes)
RTOL = {np.float32: 1e-5, np.float64: 1e-13}

REDUCTIONS = [                          # (shape, axis); the tree where a run is >= T long
    ((), None), ((), ()), ((5,), None), ((5,), (0,)),
    ((3, 4), (0,)), ((3, 4), (1,)), ((3, 4), (0, 1)), ((3, 4), ()), ((3, 4), -1),
    ((2, 3, 4), (1,)), ((2, 3, 4), (0, 2)), ((2, 3, 4), (2, 0)), ((2, 1, 3, 2), (1, 3)),
    ((2, T + 3), (1,)), ((T + 5,), None), ((2, 3, (T + 2) // 3), (1, 2)),
]


def device(a):
    """A fresh host array on the device (cuda.to_device keeps a 0-d array 0-d)."""
    return cuda.to_device(a)


def assert_sum_close(got, a, axis, keepdims):
    """got (a device array) is NumPy's sum of the host array a, to RTOL of it and of Σ|a|."""
    want = NUMPY.sum(a, axis, keepdims)
    assert got.shape == np.shape(want) and got.dtype == want.dtype
    host = got.copy_to_host()
    if want.dtype.kind == "i":
        np.testing.assert_array_equal(host, want)
        return
    rtol = RTOL[want.dtype.type]
    bound = rtol * (np.abs(want) + np.sum(np.abs(a), axis, keepdims=keepdims))
    assert (np.abs(host - want) <= bound).all(), (host, want)


def assert_max_equal(got, a, axis, keepdims):
    want = NUMPY.max(a, axis, keepdims)
    assert got.shape == np.shape(want) and got.dtype == want.dtype
    np.testing.assert_array_equal(got.copy_to_host(), want)     # NaN where NumPy's is NaN


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, axis", REDUCTIONS)
def test_sum_and_max_equal_numpy(shape, axis, dtype):
    a = np.random.default_rng(len(shape)).standard_normal(shape).astype(dtype)
    for keepdims in (False, True):
        with arrays.poisoned():
            got_sum = reduction.sum(device(a), axis, keepdims)
            got_max = reduction.max(device(a), axis, keepdims)
        assert_sum_close(got_sum, a, axis, keepdims)
        assert_max_equal(got_max, a, axis, keepdims)


def test_axes_that_step_as_one_are_merged():
    # (length, stride, ...): a contiguous (2, 3, 4) is one run of 24; a gap between rows
    # keeps them apart; length-1 axes go; broadcast axes (stride 0) merge
    assert reduction._merge([(2, 12, 12), (3, 4, 4), (4, 1, 1)]) == [(24, 1, 1)]
    assert reduction._merge([(2, 24), (1, 99), (3, 4), (4, 1)]) == [(2, 24), (12, 1)]
    assert reduction._merge([(3, 0), (4, 0)]) == [(12, 0)]


def views():
    """(host view, device view) pairs: steps, negative steps, an int index, a transpose,
    a broadcast axis (stride 0), and rows of the tree's length with a gap between them."""
    rng = np.random.default_rng(7)
    a = rng.standard_normal((4, 6, 5))
    b = rng.standard_normal((5, 2 * T + 1))
    row = rng.standard_normal((1, 4))
    d, e = device(a), device(b)
    broadcast = np.broadcast_to(row, (3, 4))
    return [(a[::2, 1:, ::-1], d[::2, 1:, ::-1]), (a[1:3, ::-2, 2], d[1:3, ::-2, 2]),
            (b.T, e.T), (b[::2, 1:T + 2], e[::2, 1:T + 2]), (b[:, ::-1], e[:, ::-1]),
            (broadcast, cuda.to_device(broadcast))]


@pytest.mark.parametrize("axis", [None, (0,), (1,)])
def test_sum_and_max_read_views(axis):
    for host, dev in views():
        assert dev.shape == host.shape
        with arrays.poisoned():
            got_sum, got_max = reduction.sum(dev, axis), reduction.max(dev, axis)
        assert_sum_close(got_sum, host, axis, False)
        assert_max_equal(got_max, host, axis, False)


@pytest.mark.parametrize("dtype", [np.bool_, np.int32, np.int64])
def test_sum_of_bools_and_ints_is_int64_and_max_keeps_the_dtype(dtype):
    rng = np.random.default_rng(3)
    for shape, axis in [((3, 5), (0,)), ((3, 5), None), ((2, T + 1), (1,))]:
        a = rng.integers(-50, 50, shape).astype(dtype)
        with arrays.poisoned():
            got_sum, got_max = reduction.sum(device(a), axis), reduction.max(device(a), axis)
        assert got_sum.dtype == np.int64
        assert_sum_close(got_sum, a, axis, False)
        assert_max_equal(got_max, a, axis, False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [5, T + 3])
def test_max_propagates_nan_and_sum_sees_infinities(dtype, n):
    a = np.random.default_rng(4).standard_normal((4, n)).astype(dtype)
    a[0, n - 1] = np.nan                 # NaN last, after larger numbers
    a[1, 0] = np.nan                     # NaN first
    a[2, 1] = -np.inf
    a[3, :] = -np.inf                    # a max of -inf
    with arrays.poisoned():
        got_max, got_sum = reduction.max(device(a), (1,)), reduction.sum(device(a), (1,))
    assert_max_equal(got_max, a, (1,), False)
    np.testing.assert_array_equal(got_sum.copy_to_host()[[0, 1, 2, 3]],
                                  [np.nan, np.nan, -np.inf, -np.inf])


@pytest.mark.parametrize("shape, axis", [((0, 3), (1,)), ((0, 3), (0,)), ((0, 3), None),
                                         ((3, 0), (1,)), ((2, 0, 3), (0,)), ((3, 0), ())])
def test_empty_sums_are_zero_and_an_empty_max_raises_as_numpy(shape, axis):
    a = np.ones(shape, np.float64)
    with arrays.poisoned():
        got = reduction.sum(device(a), axis)
    assert got.shape == NUMPY.sum(a, axis).shape
    np.testing.assert_array_equal(got.copy_to_host(), NUMPY.sum(a, axis))
    try:
        want = NUMPY.max(a, axis)
    except ValueError as error:
        with pytest.raises(ValueError, match="^max: " + str(error)):
            reduction.max(device(a), axis)
    else:
        assert reduction.max(device(a), axis).shape == want.shape


def test_bad_input_and_axes_raise_as_numpy():
    d = device(np.ones((2, 3)))
    with pytest.raises(np.exceptions.AxisError, match="sum: axis 2 is out of bounds for "
                                                      "array of dimension 2"):
        reduction.sum(d, (2,))
    with pytest.raises(np.exceptions.AxisError, match="max: axis -3 is out"):
        reduction.max(d, (-3,))
    with pytest.raises(ValueError, match="sum: duplicate value in 'axis'"):
        reduction.sum(d, (0, -2))
    with pytest.raises(TypeError, match="max: expected a numba.cuda device array, got "
                                        "ndarray"):
        reduction.max(np.ones(3))
    with pytest.raises(TypeError, match="sum: complex arrays run on the CPU only"):
        reduction.sum(cuda.to_device(np.ones(3, np.complex128)))
    with pytest.raises(TypeError, match="softmax: float16 arrays are not supported"):
        reduction.softmax(cuda.to_device(np.ones(3, np.float16)))
    with pytest.raises(TypeError, match="log_softmax: bool arrays have no log_softmax"):
        reduction.log_softmax(device(np.ones(3, bool)))
    with pytest.raises(np.exceptions.AxisError, match="softmax: axis -1 is out of bounds "
                                                      "for array of dimension 0"):
        reduction.softmax(device(np.ones(())))


SOFTMAXES = [((5,), -1), ((3, 4), 0), ((3, 4), 1), ((3, 1), -1), ((2, 3, 4), 1),
             ((2, 3, 4), -1), ((2, T + 2), -1), ((1, 2, T), 2)]
FUNCTIONS = [(reduction.softmax, NUMPY.softmax), (reduction.log_softmax, NUMPY.log_softmax)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, axis", SOFTMAXES)
def test_softmax_and_log_softmax_equal_the_reference(shape, axis, dtype):
    a = (3 * np.random.default_rng(5).standard_normal(shape)).astype(dtype)
    for ours, reference in FUNCTIONS:
        with arrays.poisoned():
            got = ours(device(a), axis)
        want = reference(a, axis)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got.copy_to_host(), want, rtol=RTOL[dtype], atol=0)


@pytest.mark.parametrize("axis", [0, -1])
def test_softmax_reads_views(axis):
    for host, dev in views():
        for ours, reference in FUNCTIONS:
            with arrays.poisoned():
                got = ours(dev, axis)
            np.testing.assert_allclose(got.copy_to_host(), reference(host, axis), rtol=1e-13,
                                       atol=0)


@pytest.mark.parametrize("n", [4, T + 1])
def test_softmax_of_infinities_and_nan_is_the_references(n):
    a = np.zeros((5, n))
    a[0, :] = -np.inf                   # all -inf: -inf - (-inf) = NaN, as the reference
    a[1, 1:] = -np.inf                  # one finite element takes everything
    a[2, 1] = np.inf                    # +inf: inf - inf = NaN
    a[3, n - 1] = np.nan
    a[4, :] = np.arange(n)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        # NOTE: inf - inf warns in NumPy (the reference, and the simulator's kernel threads)
        warnings.simplefilter("ignore", RuntimeWarning)
        for ours, reference in FUNCTIONS:
            with arrays.poisoned():
                got = ours(device(a), -1).copy_to_host()
            want = reference(a, -1)
            assert np.isnan(want[[0, 2, 3]]).all()
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)


def test_softmax_of_ints_is_float64_and_empty_axes_are_numpys():
    a = np.array([[1, 5, -2], [0, 0, 0]], np.int64)
    for ours, reference in FUNCTIONS:
        got = ours(device(a), 1)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got.copy_to_host(), reference(a, 1), rtol=1e-13)
        empty = ours(device(np.ones((0, 3))), -1)
        assert empty.shape == (0, 3) and empty.dtype == np.float64
        with pytest.raises(ValueError, match="softmax: zero-size array to reduction "
                                             "operation maximum which has no identity"):
            ours(device(np.ones((3, 0))), -1)
