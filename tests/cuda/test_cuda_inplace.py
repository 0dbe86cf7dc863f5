"""The public calls that overwrite an array of a tensor or module on the GPU (the simulator
without one) write it in place with an index a GPU's device array takes.

numba.cuda's device arrays on a GPU refuse ``a[...] = v`` (their index arithmetic adds the
Ellipsis to an int: TypeError) where the simulator's accept it, so ``zero_grad(set_to_none=
False)``, ``nn.init`` and ``set_input_normalization`` passed here and failed on a GPU. Each
call runs under a profiler (observation only, nothing replaced) that records every item
assignment into a device array; each recorded index is then given to numba's own index
arithmetic (``dummyarray``, what a GPU's device array runs), which must take it.
"""

import contextlib
import importlib.util
import pathlib
import sys

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)

import numba.cuda  # noqa: E402
from numba import cuda  # noqa: E402


def _dummyarray():
    """numba.cuda's index arithmetic for device arrays (its module ``cudadrv.dummyarray``,
    which needs NumPy and the standard library only), loaded from its file: on the
    simulator the module of that name is a stub."""
    path = pathlib.Path(numba.cuda.__file__).parent / "cudadrv" / "dummyarray.py"
    spec = importlib.util.spec_from_file_location("gpu_dummyarray", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dummyarray = _dummyarray()

TASKS = [{"name": "cls", "kind": "classification", "num_classes": 3},
         {"name": "reg", "kind": "regression", "output_size": 2}]


def _device_setitems(call) -> list[tuple]:
    """(index, shape, strides, itemsize) of each ``device_array[index] = value`` made while
    ``call()`` runs: the simulator's and a GPU's device array classes, not the arrays a
    kernel sees (those run in other threads, which the profiler does not follow)."""
    seen = []

    def profile(frame, event, arg):
        code = frame.f_code
        if event != "call" or code.co_name != "__setitem__" or \
                "devicearray" not in code.co_filename:
            return
        array = frame.f_locals["self"]
        if type(array).__name__ in ("FakeCUDAArray", "DeviceNDArray"):
            seen.append((frame.f_locals[code.co_varnames[1]], tuple(array.shape),
                         tuple(array.strides), array.dtype.itemsize))
    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return seen


def _indices_a_gpu_refuses(call) -> list[str]:
    """The item assignments into device arrays made by ``call()`` that a GPU's device array
    refuses, each as "index on shape: error"."""
    refused = []
    for index, shape, strides, itemsize in _device_setitems(call):
        try:
            dummyarray.Array.from_desc(0, shape, strides, itemsize)[index]
        except Exception as err:                # any error is a GPU's refusal
            refused.append(f"{index!r} on shape {shape}: {type(err).__name__}: {err}")
    return refused


def test_the_check_refuses_an_ellipsis_and_takes_a_slice_and_an_integer():
    """The recorder sees each assignment, and numba's index arithmetic refuses ``a[...]``
    (a TypeError, which a GPU raises here already) and takes ``a[1:]`` and ``a[0]``."""
    a = cuda.to_device(np.ones((3, 2)))

    def write():
        a[1:] = 0
        a[0] = 0
        with contextlib.suppress(TypeError):
            a[...] = 0
    assert len(_device_setitems(write)) == 3
    refused = _indices_a_gpu_refuses(write)
    assert len(refused) == 1 and refused[0].startswith("Ellipsis on shape (3, 2): TypeError"), \
        refused


def _linear_with_gradients():
    ng.seed(0)
    layer = ng.nn.Linear(3, 2, dtype=np.float64).cuda()
    layer(ng.tensor(np.ones((4, 3)), device="cuda")).sum().backward()
    return layer


def _module_zero_grad():
    layer = _linear_with_gradients()
    grads = [p.grad for p in layer.parameters()]
    return lambda: layer.zero_grad(set_to_none=False), lambda: grads, \
        [np.zeros(p.shape) for p in layer.parameters()]


def _optimizer_zero_grad():
    layer = _linear_with_gradients()
    opt = ng.optim.SGD(layer.parameters(), lr=0.1)
    grads = [p.grad for p in layer.parameters()]
    return lambda: opt.zero_grad(set_to_none=False), lambda: grads, \
        [np.zeros(p.shape) for p in layer.parameters()]


def _init(name, *args):
    def build():
        ng.seed(3)
        want = getattr(ng.nn.init, name)(ng.tensor(np.zeros((2, 3))), *args).numpy()
        t = ng.tensor(np.zeros((2, 3)), device="cuda")
        ng.seed(3)
        return lambda: getattr(ng.nn.init, name)(t, *args), lambda: [t.data], [want]
    return build


def _normalization_model():
    return ng.nn.MultiTaskSequenceModel(TASKS, input_size=3, hidden_size=3, attn_size=3,
                                        normalize_input=True, normalize_targets=True,
                                        dtype=np.float32).cuda()


def _input_normalization():
    model, mean, std = _normalization_model(), [1.0, -2.0, 0.5], [2.0, 3.0, 0.25]
    return lambda: model.set_input_normalization(mean, std), \
        lambda: [model.input_mean, model.input_std], [np.float32(mean), np.float32(std)]


def _target_normalization():
    model = _normalization_model()
    return lambda: model.set_target_normalization("reg", [4.0, 6.0], [8.0, 12.0]), \
        lambda: [model.target_mean, model.target_std], [np.float32([4, 6]), np.float32([8, 12])]


def _load_state_dict():
    ng.seed(1)
    source = ng.nn.Linear(3, 2, dtype=np.float64)
    ng.seed(2)
    layer = ng.nn.Linear(3, 2, dtype=np.float64).cuda()
    return lambda: layer.load_state_dict(source.state_dict()), \
        lambda: [p.data for p in layer.parameters()], [p.numpy() for p in source.parameters()]


def _tensor_add_in_place():
    t = ng.tensor(np.arange(6.0).reshape(2, 3), device="cuda")

    def add():
        nonlocal t
        t += 1
    return add, lambda: [t.data], [np.arange(6.0).reshape(2, 3) + 1]


def _tensor_method(name, *args, **kwargs):
    """``t.NAME(*args)`` on a GPU tensor under no_grad (a parameter's update), and the
    values the same call gives on the CPU."""
    def build():
        start = np.arange(6.0).reshape(2, 3)
        host = ng.tensor(start)
        getattr(host, name)(*args, **kwargs)
        t = ng.tensor(start, device="cuda", requires_grad=True)

        def call():
            with ng.no_grad():
                getattr(t, name)(*args, **kwargs)
        return call, lambda: [t.data], [host.numpy()]
    return build


CALLS = {
    "Module.zero_grad(set_to_none=False)": _module_zero_grad,
    "SGD.zero_grad(set_to_none=False)": _optimizer_zero_grad,
    "nn.init.normal_": _init("normal_"),
    "nn.init.constant_": _init("constant_", 2.5),
    "nn.init.xavier_uniform_": _init("xavier_uniform_"),
    "set_input_normalization": _input_normalization,
    "set_target_normalization": _target_normalization,
    "load_state_dict": _load_state_dict,
    "Tensor +=": _tensor_add_in_place,
    "Tensor.zero_": _tensor_method("zero_"),
    "Tensor.fill_": _tensor_method("fill_", -1.5),
    "Tensor.copy_ from the CPU": _tensor_method("copy_", np.array([1.0, 2.0, 3.0])),
    "Tensor.add_": _tensor_method("add_", np.ones(3), alpha=-0.5),
    "Tensor.clamp_": _tensor_method("clamp_", 1.0, 4.0),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_a_call_overwriting_a_gpu_array_uses_indices_a_gpu_takes(name):
    """Each call writes its arrays on the GPU in place (the same device array objects, the
    values the CPU gives) without an item assignment a GPU refuses (``[...]`` before)."""
    call, arrays, want = CALLS[name]()
    before = arrays()
    assert _indices_a_gpu_refuses(call) == [], name
    after = arrays()
    assert all(a is b for a, b in zip(after, before)), f"{name}: not written in place"
    for k, (got, expected) in enumerate(zip(after, want)):
        np.testing.assert_array_equal(got.copy_to_host(), expected, err_msg=f"{name} #{k}")
