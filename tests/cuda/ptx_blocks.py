"""Compiling to PTX, without a GPU, kernels that call device functions (those of
kernels/cuda/blocks.py, or a module's own).

numba compiles a call to a device-function dispatcher for the current device's compute
capability, which it asks the driver for (the notes on the simulator, §6); ``without_gpu``,
which tests.cuda.ptx.compile_in_subprocess calls first, has it take a given one instead, so
a kernel compiles whole, its callees with it.

To compile a device function apart from its callers (its own PTX, its return type) and
check that a kernel calls it rather than inlining another body, each device function is
compiled alone (``device=True``, an explicit ``cc``), and each caller's body is compiled
from a copy of its function whose globals name, in place of each callee, an external
declaration of the callee's real signature (``cuda.declare_device``), as
test_cuda_ptx_attention.py does for the sigmoid: the whole body is typed and lowered, the
library untouched. Imported only by the scripts ``tests.cuda.ptx.compile_in_subprocess``
runs on the real target (NUMBA_ENABLE_CUDASIM=0)."""

import re
import types
from typing import Any

import numba.cuda.dispatcher
from numba import cuda


def without_gpu(cc: tuple[int, int]) -> None:
    """Make numba compile the device functions a kernel calls for compute capability ``cc``,
    without asking a driver: its dispatcher takes the capability from ``get_current_device``
    (numba-cuda 0.30), which answers ``cc`` from here on in this interpreter."""
    dispatcher = numba.cuda.dispatcher
    if not hasattr(dispatcher, "get_current_device"):     # a numba-cuda that looks elsewhere
        raise RuntimeError("numba.cuda.dispatcher.get_current_device is gone: update "
                           "tests/cuda/ptx_blocks.without_gpu for this numba-cuda")
    device = types.SimpleNamespace(compute_capability=cc)
    dispatcher.get_current_device = lambda: device


def body(fn: Any, callees: dict[str, Any]) -> Any:
    """The Python function of ``fn`` (a kernel or device dispatcher) with its globals copied
    and each name of ``callees``, a global or a variable of the enclosing factory (a device
    function defined beside the kernel), bound to the declaration given there."""
    f = fn.py_func
    names = {**f.__globals__, **callees}
    closure = f.__closure__ and tuple(
        types.CellType(callees[name]) if name in callees else cell
        for name, cell in zip(f.__code__.co_freevars, f.__closure__))
    return types.FunctionType(f.__code__, names, f.__name__, f.__defaults__, closure)


def declare(name: str, fn: Any, args: tuple, cc: tuple[int, int],
            callees: dict[str, Any] | None = None) -> Any:
    """Compile the device function ``fn`` alone for the argument types ``args`` (its own
    callees declared) and return a declaration of its real signature named ``name``."""
    _, ret = cuda.compile_ptx(body(fn, callees or {}), args, device=True, cc=cc)
    return cuda.declare_device(name, ret(*args))


def kernel_ptx(fn: Any, args: tuple, cc: tuple[int, int],
               callees: dict[str, Any] | None = None) -> str:
    """The PTX of the kernel ``fn`` for the argument types ``args``, its callees declared;
    fails unless it is a kernel that calls each of them."""
    callees = callees or {}
    ptx, _ = cuda.compile_ptx(body(fn, callees), args, cc=cc)
    assert ".entry" in ptx, fn.__name__
    for name in callees:
        called = re.search(rf"call\.uni \(retval0\),\s*{name},", ptx)
        assert called, f"{fn.__name__} never calls {name}"
    return ptx
