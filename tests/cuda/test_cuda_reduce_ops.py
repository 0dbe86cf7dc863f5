"""max, min and their indices of integer and bool tensors on the GPU (the simulator without
one) equal the CPU's: the reversed order min compares (docs/math.md E18) runs on the GPU's
array functions."""

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
