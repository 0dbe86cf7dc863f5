"""The CUDA backend's base (kernels/cuda/arrays.py, matmul.py, scalar.py) against NumPy, on
the simulator without a GPU (tests/conftest.py chooses), and the GPU probe."""

import math

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
from nongate_np.kernels import gpu  # noqa: E402
from nongate_np.kernels.cuda import arrays, matmul, scalar  # noqa: E402  (after the skip)

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True),
                                              (True, True)])
def test_matmul_equals_numpy_for_every_transpose(dtype, trans_a, trans_b):
    rng = np.random.default_rng(0)
    M, K, N = 7, 5, 6                                   # ragged against every tile size
    a = rng.standard_normal((K, M) if trans_a else (M, K)).astype(dtype)
    b = rng.standard_normal((N, K) if trans_b else (K, N)).astype(dtype)
    with arrays.poisoned():
        got = matmul.matmul(arrays.to_device(a, dtype), arrays.to_device(b, dtype),
                            trans_a=trans_a, trans_b=trans_b)
    want = (a.T if trans_a else a) @ (b.T if trans_b else b)
    assert got.dtype == dtype
    np.testing.assert_allclose(got.copy_to_host(), want, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_accumulates_and_handles_empty_dimensions(dtype):
    rng = np.random.default_rng(1)
    a, b, c = (rng.standard_normal(s).astype(dtype) for s in ((3, 2), (2, 4), (3, 4)))
    out = arrays.to_device(c, dtype)
    matmul.matmul(arrays.to_device(a, dtype), arrays.to_device(b, dtype), out,
                  accumulate=True)
    np.testing.assert_allclose(out.copy_to_host(), c + a @ b, rtol=TOL[dtype])
    with arrays.poisoned():                             # K = 0: a product of zeros
        empty_k = matmul.matmul(arrays.to_device(np.ones((3, 0), dtype), dtype),
                                arrays.to_device(np.ones((0, 4), dtype), dtype))
    np.testing.assert_array_equal(empty_k.copy_to_host(), np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"op\(a\) \(3, 2\) .* and op\(b\) \(3, 4\)"):
        matmul.matmul(arrays.to_device(a, dtype), arrays.to_device(c, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_column_sums_equal_numpy(dtype):
    a = np.random.default_rng(2).standard_normal((9, 5)).astype(dtype)
    with arrays.poisoned():
        got = matmul.column_sums(arrays.to_device(a, dtype)).copy_to_host()
        empty = matmul.column_sums(arrays.to_device(np.ones((0, 3), dtype), dtype))
    np.testing.assert_allclose(got, a.sum(axis=0), rtol=TOL[dtype])
    np.testing.assert_array_equal(empty.copy_to_host(), np.zeros(3))


def test_poisoned_arrays_show_what_is_not_written():
    with arrays.poisoned():
        assert np.isnan(arrays.empty((2, 3), np.float32).copy_to_host()).all()
    assert not np.isnan(arrays.zeros((2, 3), np.float64).copy_to_host()).any()


def test_transfers_keep_the_kind_and_refuse_a_silent_cast():
    x = np.arange(6.0).reshape(2, 3)
    d = arrays.to_device(x, np.float64)
    assert arrays.is_device(d) and not arrays.is_device(x)
    assert arrays.to_device(d, np.float64) is d
    np.testing.assert_array_equal(arrays.returned(d, on_device=False), x)
    assert arrays.returned(d, on_device=True) is d
    with pytest.raises(TypeError, match="device array of float64 where float32 is needed"):
        arrays.to_device(d, np.float32)


@pytest.mark.parametrize("x", [-800.0, -3.0, -0.0, 0.5, 40.0, 800.0])
def test_scalar_sigmoid_is_the_stable_formula(x):
    want = 1 / (1 + math.exp(-x)) if x > -700 else 0.0
    assert scalar.sigmoid(x, 1.0) == pytest.approx(want, rel=1e-15, abs=1e-300)


def test_probe_reports_the_simulator_or_a_device():
    status = gpu.probe()
    assert status.usable
    assert status.simulator or len(status.devices) > 0, status


def test_the_gpu_namespace_implements_every_array_function():
    from nongate_np.kernels.array_api import ArrayFunctions
    from nongate_np.kernels.cuda.functions import CUDA_FUNCTIONS
    members = [name for name, value in vars(ArrayFunctions).items()
               if callable(value) and not name.startswith("_")]
    missing = [name for name in members if not callable(getattr(CUDA_FUNCTIONS, name, None))]
    assert not missing and CUDA_FUNCTIONS.name == "cuda"
    x = CUDA_FUNCTIONS.asarray(np.arange(6.0).reshape(2, 3))
    got = CUDA_FUNCTIONS.sum(CUDA_FUNCTIONS.multiply(x, 2.0), axis=(1,), keepdims=False)
    np.testing.assert_array_equal(CUDA_FUNCTIONS.to_host(got), [6.0, 24.0])
    assert CUDA_FUNCTIONS.asarray(np.float64(3.0)).shape == ()      # 0-d stays 0-d
