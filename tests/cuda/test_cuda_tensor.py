"""A tensor on the GPU (the simulator without one) copied and pickled as PyTorch's CUDA
tensors: the copy is on the GPU with the same values, dtype, requires_grad and gradient."""

import copy
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)


def _tensor_with_grad(dtype):
    t = ng.tensor(np.arange(6.0).reshape(2, 3), dtype=dtype, device="cuda",
                  requires_grad=True)
    (t * t).sum().backward()
    return t


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_a_tensor_on_the_gpu_copies_and_pickles_to_the_gpu(how, dtype):
    """pickle.loads(pickle.dumps(t)) recursed without end on the simulator (its device
    array wraps a NumPy array behind __getattr__) and a GPU's device array holds a pointer;
    copy.deepcopy(t) gave a tensor on the CPU."""
    t = _tensor_with_grad(dtype)
    twin = pickle.loads(pickle.dumps(t)) if how == "pickle" else copy.deepcopy(t)
    assert twin.device == "cuda" and twin.dtype == dtype and twin.requires_grad
    assert type(twin.grad) is type(t.grad) and twin.data is not t.data
    np.testing.assert_array_equal(twin.numpy(), t.numpy(), err_msg="data")
    np.testing.assert_array_equal(twin.grad.copy_to_host(), t.grad.copy_to_host(),
                                  err_msg="grad")
    (twin * 3).sum().backward()          # the copy is a working leaf of its own
    np.testing.assert_array_equal(twin.grad.copy_to_host(), 2 * t.numpy() + 3,
                                  err_msg="grad after a second backward")
    np.testing.assert_array_equal(t.grad.copy_to_host(), 2 * t.numpy(),
                                  err_msg="the original's grad")


def test_a_shallow_copy_shares_the_gpu_array():
    t = ng.tensor([1.0, 2.0], device="cuda")
    assert copy.copy(t).data is t.data


def test_a_host_tensor_pickles_as_before():
    t = ng.tensor([1.0, 2.0], requires_grad=True)
    twin = pickle.loads(pickle.dumps(t))
    assert twin.device == "cpu" and type(twin.data) is np.ndarray and twin.requires_grad
    np.testing.assert_array_equal(twin.numpy(), [1.0, 2.0])


UNPICKLE = """
import json, pickle, sys
try:
    pickle.loads(bytes.fromhex(sys.stdin.read()))
    print(json.dumps("loaded"))
except Exception as err:
    print(json.dumps(f"{type(err).__name__}: {err}"))
"""


def test_a_gpu_tensor_unpickled_without_a_gpu_names_cpu():
    if gpu.probe().devices:
        pytest.skip("this machine has a GPU")
    data = pickle.dumps(ng.tensor([1.0, 2.0], device="cuda")).hex()
    proc = subprocess.run([sys.executable, "-c", UNPICKLE], input=data, capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "NUMBA_ENABLE_CUDASIM": "0"})
    assert proc.returncode == 0, proc.stderr
    message = json.loads(proc.stdout)
    assert message.startswith("DeviceError: unpickling a tensor pickled on cuda: device "
                              "'cuda' is not usable here: "), message
    assert message.endswith("; move it to the CPU with .cpu() before pickling to read it "
                            "where there is no GPU"), message
