"""The GPU namespace's functions of kernels/cuda/elementwise_math.py (tan … rint, arctan2,
hypot, logaddexp; docs/math.md E32-E36) against the CPU namespace (NumPy's and
scipy.special's functions) on the simulator without a GPU: the edges of each domain, ±0,
±inf, NaN, past the dtype's range, halves for rint, broadcasting and strided views, the
dtypes NumPy chooses. (Their PTX: tests/cuda/test_cuda_ptx_elementwise_math.py.)"""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
from numba import cuda  # noqa: E402  (after the skip)

from nongate_np.kernels import array_api  # noqa: E402
from nongate_np.kernels.cuda import arrays  # noqa: E402
from nongate_np.kernels.cuda import elementwise_math as em  # noqa: E402

NUMPY = array_api.NUMPY
UNARY = ["tan", "arctan", "arcsin", "arccos", "sinh", "cosh", "arcsinh", "arccosh", "arctanh",
         "log2", "log10", "exp2", "erfc", "floor", "ceil", "trunc", "rint"]
BINARY = ["arctan2", "hypot", "logaddexp"]
RTOL = {np.dtype(np.float32): 2e-6, np.dtype(np.float64): 2e-15}


def _edges(dtype):
    d = np.dtype(dtype)
    values = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -1.5, 2.5, -2.5, 3.5, 0.49999997, 0.7,
              -0.2, 1e-30, 30.0, -30.0, 100.0, 1100.0, -1100.0, 3e38, np.inf, -np.inf, np.nan,
              em.SINH_MAX[d], np.nextafter(em.SINH_MAX[d], np.inf), em.COSH_MAX[d],
              em.EXP2_MAX[d], np.nextafter(em.EXP2_MAX[d], np.inf), 8388609.0, -8388609.5,
              4503599627370497.0]
    with np.errstate(over="ignore"):
        return np.array(values, np.float64).astype(dtype)


def _host(got):
    return got.copy_to_host()


def _same(got, want, what):
    assert got.dtype == want.dtype and got.shape == want.shape, what
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what}: NaN")
    rtol = RTOL.get(want.dtype, 0)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=0, err_msg=what)
    ok = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[ok]), np.signbit(want[ok]),
                                  err_msg=f"{what}: signs")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", UNARY)
def test_unary_functions_equal_numpys_at_the_edges(name, dtype):
    x = _edges(dtype)
    with arrays.poisoned():
        got = _host(getattr(em, name)(cuda.to_device(x)))
    with np.errstate(all="ignore"):
        want = np.asarray(getattr(NUMPY, name)(x))
    _same(got, want, name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", BINARY)
def test_binary_functions_equal_numpys_at_the_edges(name, dtype):
    x = _edges(dtype)
    y = np.concatenate([x[::-1][:20], x[:12]])
    with arrays.poisoned():
        got = _host(getattr(em, name)(cuda.to_device(x), cuda.to_device(y)))
    with np.errstate(all="ignore"):
        want = np.asarray(getattr(NUMPY, name)(x, y))
    _same(got, want, name)


def test_rint_is_half_to_even():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, 2.5000000000000004])
    got = _host(em.rint(cuda.to_device(x)))
    np.testing.assert_array_equal(got, [0.0, 2.0, 2.0, -0.0, -2.0, -2.0, 0.0, 3.0])
    assert np.signbit(got[3])


def test_broadcasting_strides_scalars_and_dtypes():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((3, 1, 4)), rng.standard_normal((2, 4))
    for name in BINARY:
        _same(_host(getattr(em, name)(cuda.to_device(a), cuda.to_device(b))),
              getattr(NUMPY, name)(a, b), name)
        _same(_host(getattr(em, name)(cuda.to_device(a.astype(np.float32)), 2.0)),
              getattr(NUMPY, name)(a.astype(np.float32), 2.0), f"{name} with a scalar")
    big = cuda.to_device(rng.standard_normal((6, 8)))
    view = big[1:5, ::3].T
    host = view.copy_to_host()
    for name in ("arctan", "floor", "erfc"):
        _same(_host(getattr(em, name)(view)), getattr(NUMPY, name)(host), f"{name} view")
    ints = np.array([-3, 0, 7])
    assert _host(em.floor(cuda.to_device(ints))).dtype == np.floor(ints).dtype
    _same(_host(em.tan(cuda.to_device(ints))), np.tan(ints), "tan of int64 (float64)")
    empty = em.log2(cuda.to_device(np.zeros((0, 3))))
    assert empty.shape == (0, 3)


def test_errors():
    with pytest.raises(TypeError, match="^tan: complex operands run on the CPU only"):
        em.tan(1j)
    with pytest.raises(ValueError, match=r"^hypot: shapes \(2,\) and \(3,\) cannot be "
                                         r"broadcast"):
        em.hypot(cuda.to_device(np.ones(2)), cuda.to_device(np.ones(3)))
