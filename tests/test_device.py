"""Devices: Tensor.device, moving tensors and modules, and the errors that say what is
missing (no numba-cuda, no driver, no GPU) or which two devices an op was given."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.device import CPU, CUDA, DeviceError, device, device_of


def test_a_host_tensor_is_on_the_cpu_and_moving_there_is_free():
    t = ng.tensor([1.0, 2.0], requires_grad=True)
    assert t.device == "cpu" and t.device is CPU and str(t.device) == "cpu"
    assert repr(t.device) == "device(type='cpu')"
    assert t.to("cpu") is t and t.cpu() is t
    assert ng.tensor([1.0], device="cpu").device is CPU
    assert t.to(np.float32).dtype == np.float32          # a dtype still casts


def test_device_names():
    assert device("cuda:0") is CUDA and device(CUDA) is CUDA and CUDA == "cuda"
    with pytest.raises(ValueError, match="unknown device 'tpu'; expected 'cpu' or 'cuda'"):
        device("tpu")
    for wrong in ("cuda:1", "gpu"):
        with pytest.raises(ValueError, match=f"to: unknown device or dtype '{wrong}'; "
                                             "devices are 'cpu' and 'cuda'"):
            ng.tensor([1.0]).to(wrong)
        with pytest.raises(ValueError, match=f"Linear.to: unknown device or dtype '{wrong}'"):
            ng.nn.Linear(2, 3).to(wrong)



def test_to_takes_torchs_forms():
    """``Tensor.to`` and ``Module.to`` take torch's forms, not only one positional target:
    ``to(device, dtype)``, ``to(dtype=...)``, ``to(device=...)``, ``to(other_tensor)`` and
    ``non_blocking=`` (``xb.to(device, non_blocking=True)`` in a torch training loop, a
    TypeError before); the gradient flows back through the cast as through ``to(dtype)``."""
    t = ng.tensor([1.0, 2.0], requires_grad=True)                   # float64
    assert t.to("cpu", non_blocking=True) is t and t.to(device="cpu") is t
    for out in (t.to(dtype=np.float32), t.to("cpu", np.float32), t.to(ng.ones(1).float()),
                t.to(device=CPU, dtype="float32", non_blocking=True)):
        assert out.dtype == np.float32 and out.device is CPU
    t.to(dtype=np.float32).sum().backward()
    assert t.grad.dtype == np.float64 and np.array_equal(t.grad, [1.0, 1.0])
    m = ng.nn.Linear(2, 1)
    assert m.to(device="cpu", dtype=np.float64) is m and m.weight.dtype == np.float64
    assert m.to("cpu", np.float32, non_blocking=True).weight.dtype == np.float32
    assert m.to(dtype=np.float64).bias.dtype == np.float64
    assert m.to(ng.ones(1).float()).weight.dtype == np.float32
    with pytest.raises(TypeError, match="to: the dtype is given twice"):
        t.to(np.float32, dtype=np.float64)
    with pytest.raises(TypeError, match="to: the device is given twice"):
        t.to("cpu", device="cpu")
    with pytest.raises(ValueError, match="unknown device 'gpu' for device="):
        m.to(device="gpu")
    with pytest.raises(ValueError, match="dtype= takes a dtype such as np.float32, got the "
                                         "device 'cpu'"):
        t.to(dtype="cpu")
    with pytest.raises(TypeError, match=r"takes a device and a dtype \(to\(device, dtype\)\), "
                                        "got 3 positional arguments"):
        m.to("cpu", np.float32, np.float64)
    with pytest.raises(TypeError, match="Linear.to: expected a floating dtype"):
        m.to(dtype=np.int64)
    # to(None) asks for nothing, as torch's (np.dtype(None) is float64: a cast before)
    f = ng.tensor([1.0, 2.0], dtype=np.float32)
    assert f.to(None) is f and f.to(None, None).dtype == np.float32
    assert m.to(None) is m and m.weight.dtype == np.float32


def _in_fresh_process(code: str, env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


ATTEMPTS = """
import json, sys
{prelude}
import numpy as np
import nongate_np as ng
out = {{}}
for name, call in [("tensor", lambda: ng.tensor([1.0], device="cuda")),
                   ("to", lambda: ng.tensor([1.0]).to("cuda")),
                   ("module", lambda: ng.nn.Linear(2, 3).to("cuda"))]:
    try:
        call()
        out[name] = "moved"
    except Exception as err:
        out[name] = f"{{type(err).__name__}}: {{err}}"
print(json.dumps(out))
"""


def test_cuda_without_numba_cuda_names_the_package_to_install():
    out = _in_fresh_process(ATTEMPTS.format(prelude="sys.modules['numba_cuda'] = None"),
                            {"NUMBA_ENABLE_CUDASIM": "0"})
    for name, message in out.items():
        assert message == ("DeviceError: device 'cuda' is not usable here: numba-cuda is not "
                           "installed (pip install 'numba-cuda[cu13]' (or, in the checkout, pip "
                           "install -e '.[cuda]'))"), name


def test_cuda_without_a_gpu_says_what_is_missing():
    out = _in_fresh_process(ATTEMPTS.format(prelude=""), {"NUMBA_ENABLE_CUDASIM": "0"})
    from nongate_np.kernels import gpu
    if gpu.probe().devices:
        pytest.skip("this machine has a GPU")
    for name, message in out.items():
        assert message.startswith("DeviceError: device 'cuda' is not usable here: "), name
        assert ("no CUDA driver" in message or "no CUDA device" in message
                or "did not initialise" in message), message


def test_the_simulator_asked_for_after_numba_cuda_was_imported_is_named():
    """numba.cuda fixes its target when imported: the variable set later made the probe
    report the simulator while numba stayed on the real target, and .to("cuda") failed
    nine frames deep in numba with "CUDA driver library cannot be found"."""
    pytest.importorskip("numba.cuda")
    from nongate_np.kernels import gpu
    if gpu.probe().devices:
        pytest.skip("this machine has a GPU")
    # a CPU compile after it: numba.config re-reads the variable then, numba.cuda does not
    prelude = ("import os\nfrom numba import cuda, njit\ncuda.is_available()\n"
               "os.environ['NUMBA_ENABLE_CUDASIM'] = '1'\nnjit(lambda a: a + 1)(1)")
    out = _in_fresh_process(ATTEMPTS.format(prelude=prelude), {"NUMBA_ENABLE_CUDASIM": "0"})
    for name, message in out.items():
        assert message.startswith("DeviceError: device 'cuda' is not usable here: "), name
        assert message.endswith("(NUMBA_ENABLE_CUDASIM was set after numba.cuda was imported, "
                                "which fixed its target then: set it before, in the shell or "
                                "at the top of the program)"), message


def test_an_op_on_two_devices_names_both():
    cuda = pytest.importorskip("numba.cuda")
    if not cuda.is_available():
        pytest.skip("no GPU and not on the simulator")
    on_gpu = ng.Tensor(cuda.to_device(np.ones(2)))
    assert on_gpu.device is CUDA and device_of(on_gpu.data) is CUDA
    with pytest.raises(DeviceError, match="Add: its tensors are on two devices, cpu and cuda"):
        ng.tensor([1.0, 2.0]) + on_gpu
    with pytest.raises(TypeError, match="does not convert to a NumPy array implicitly"):
        np.asarray(on_gpu)
    np.testing.assert_array_equal(on_gpu.numpy(), [1.0, 1.0])   # an explicit copy


# -- torch's spelling: ng.device(...), ng.cuda ---------------------------------------------

def test_ng_device_is_callable_as_torch_device_and_still_the_module():
    """``device = torch.device("cuda" if torch.cuda.is_available() else "cpu")`` ports."""
    import nongate_np.device as module
    from nongate_np.device import Device
    assert ng.device is module and module.device is device
    assert ng.device("cpu") is CPU and ng.device("cuda") is CUDA
    assert ng.device("cuda:0") is CUDA and ng.device("cuda", 0) is CUDA
    assert ng.device("cpu", 0) is CPU and ng.device(CUDA) is CUDA
    assert isinstance(ng.device("cpu"), ng.device) and not isinstance("cpu", ng.device)
    assert isinstance(CPU, Device) and CPU.index is None and CUDA.index == 0
    chosen = ng.device("cuda" if ng.cuda.is_available() else "cpu")
    t = ng.tensor([1.0, 2.0], requires_grad=True)
    assert t.to(ng.device("cpu")) is t and t.device == ng.device("cpu")
    assert ng.tensor([1.0], device=ng.device("cpu")).device is CPU
    assert ng.zeros(2, device=ng.device("cpu")).device is CPU
    assert ng.nn.Linear(2, 2).to(ng.device("cpu")).weight.device is CPU
    if ng.cuda.is_available():                  # the simulator in the suite
        moved = t.to(chosen)
        assert moved.device == chosen == ng.device("cuda:0") and moved.device is CUDA


@pytest.mark.parametrize("args, error, message", [
    (("tpu",), ValueError, "unknown device 'tpu'; expected 'cpu' or 'cuda' (one GPU: 'cuda', "
                           "'cuda:0' or ('cuda', 0), the current one)"),
    (("cuda:1",), ValueError, "unknown device 'cuda:1'"),
    (("cuda", 1), ValueError, "unknown device 'cuda' with index 1"),
    (("cuda:0", 0), ValueError, "unknown device 'cuda:0' with index 0"),
    (("mps",), ValueError, "unknown device 'mps'"),
    ((0,), TypeError, "device: expected a device name such as 'cpu' or 'cuda' (or a Device), "
                      "got int"),
])
def test_a_bad_device_string_says_what_is_accepted(args, error, message):
    import re
    with pytest.raises(error, match=re.escape(message)):
        ng.device(*args)


@pytest.mark.torch
def test_device_compares_as_torchs():
    import torch
    for name in ("cpu", "cuda", "cuda:0"):
        assert str(ng.device(name).type) == torch.device(name).type
        assert ng.device(name) == name
    assert ng.device("cuda") == ng.device("cuda:0") and ng.device("cpu") != ng.device("cuda")


def test_ng_cuda_answers_from_the_librarys_probe():
    from nongate_np.kernels import gpu
    usable = gpu.probe().usable
    assert ng.cuda.is_available() is usable
    assert ng.cuda.device_count() == (1 if usable else 0)
    out = _in_fresh_process("import nongate_np as ng\nimport json\nprint(json.dumps("
                            "[ng.cuda.is_available(), ng.cuda.device_count()]))",
                            {"NUMBA_ENABLE_CUDASIM": "0"})
    assert out in ([False, 0], [True, 1]) and out[0] == bool(gpu.probe().devices)


FACTORIES = {
    "zeros": lambda **kw: ng.zeros(2, 3, **kw), "ones": lambda **kw: ng.ones((2,), **kw),
    "full": lambda **kw: ng.full((2,), 1.5, **kw), "empty": lambda **kw: ng.empty(2, **kw),
    "eye": lambda **kw: ng.eye(2, **kw), "randn": lambda **kw: ng.randn(2, **kw),
    "rand": lambda **kw: ng.rand(2, **kw), "randint": lambda **kw: ng.randint(5, (2,), **kw),
    "randperm": lambda **kw: ng.randperm(3, **kw), "arange": lambda **kw: ng.arange(3, **kw),
    "linspace": lambda **kw: ng.linspace(0, 1, 3, **kw),
    **{f"{name}_like": (lambda name: lambda **kw: getattr(ng, f"{name}_like")(
        ng.ones(2), **kw))(name) for name in ("zeros", "ones", "empty", "randn", "rand")},
    "full_like": lambda **kw: ng.full_like(ng.ones(2), 3.0, **kw),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_every_factory_takes_torchs_device_argument(name):
    """``torch.zeros(B, H, device=device)`` ports: each factory takes ``device=`` (a name or
    ``ng.device(...)``); "cuda" puts it on the GPU (the simulator in the suite)."""
    make = FACTORIES[name]
    assert make(device=ng.device("cpu")).device is CPU and make(device="cpu").device is CPU
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        make(device="gpu")
    if ng.cuda.is_available():
        on_gpu = make(device=ng.device("cuda"))
        assert on_gpu.device is CUDA
        np.testing.assert_array_equal(on_gpu.numpy().shape, make().shape)
