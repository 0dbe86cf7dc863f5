"""On the GPU (the simulator without one) as on the CPU: max, min and their indices of
integer and bool tensors (the reversed order min compares, docs/math.md E18), and the
element-wise maximum and minimum of two tensors with their gradients (E22)."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)


def _extremes(dtype):
    if dtype is np.bool_:
        return np.array([[True, False, True], [True, True, True], [False, False, False]])
    i = np.iinfo(dtype)
    return np.array([[1, i.max, i.min], [i.max, i.max, 0], [i.min, 0, i.min]], dtype)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
@pytest.mark.parametrize("name", ["min", "max"])
def test_min_max_of_integers_and_bools_on_the_gpu_equal_the_cpus(name, dtype):
    x = _extremes(dtype)
    on_cpu, on_gpu = ng.tensor(x), ng.tensor(x, device="cuda")
    calls = {f"{name}(x)": lambda t: getattr(ng, name)(t),
             f"a{name}(x, 1)": lambda t: getattr(ng, f"a{name}")(t, 1),
             f"{name}(x, 0).values": lambda t: getattr(ng, name)(t, 0).values,
             f"{name}(x, 0).indices": lambda t: getattr(ng, name)(t, 0).indices,
             f"arg{name}(x)": lambda t: getattr(ng, f"arg{name}")(t)}
    for what, call in calls.items():
        want, got = call(on_cpu), call(on_gpu)
        assert got.device == "cuda" and got.dtype == want.dtype, what
        np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=what)


def _host(a):
    return a if isinstance(a, np.ndarray) else a.copy_to_host()


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_on_the_gpu_equal_the_cpus(name):
    """Values and gradients (E22: ties split, NaN to both), a broadcast operand's summed."""
    a = np.array([1.0, 3.0, 2.0, np.nan, 1.0, -np.inf])
    b = np.array([[2.0, 1.0, 2.0, 1.0, np.nan, 5.0], [0.0, 3.0, 4.0, 1.0, 1.0, -np.inf]])
    results = []
    for device in ("cpu", "cuda"):
        x, y = (ng.tensor(v, device=device, requires_grad=True) for v in (a, b))
        out = getattr(ng, name)(x, y)
        (out * ng.tensor(np.arange(12.0).reshape(2, 6), device=device)).sum().backward()
        results.append((out.numpy(), _host(x.grad), _host(y.grad)))
    for what, got, want in zip(("values", "da", "db"), results[1], results[0]):
        np.testing.assert_array_equal(got, want, err_msg=f"{name}: {what}")
