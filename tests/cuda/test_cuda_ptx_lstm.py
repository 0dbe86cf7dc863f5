"""Every CUDA LSTM kernel (kernels/cuda/lstm.py) compiles to PTX without a GPU, for float32
and float64, and the float32 kernels do their arithmetic in float32 (no .f64 instruction).

``cell_forward`` calls the device function ``scalar.sigmoid_dev``, and compiling a call to a
device function asks the driver for the GPU's compute capability (numba-cuda's
``compile_device``), which fails without one. So its body is compiled as a copy whose globals
have ``math.tanh`` (the same type, float to float) in place of ``sigmoid_dev``; the sigmoid
itself is compiled as a device function by tests/cuda/test_cuda_ptx_base.py.

The persistent forward's kernel ``persistent_forward`` is NOT compiled here: it takes
``cuda.cg.this_grid()``, and compiling a grid group asks the driver too (CudaSupportError
without a GPU), as does its calls of the device functions below. Its work is in those device
functions, ``stage``, ``persistent_cell`` (with the same sigmoid stand-in) and
``persistent_project``, compiled here as device functions; what is left unchecked without a
GPU is the kernel's own few lines: the shared array, the initial copies, the step loop and
the grid syncs."""

import pytest

pytest.importorskip("numba.cuda")
from tests.cuda.ptx import compile_in_subprocess  # noqa: E402


def test_lstm_kernels_compile_to_ptx():
    out = compile_in_subprocess("""
        import math
        import types
        import numpy as np
        from numba import boolean, cuda, float32, float64, int64
        from nongate_np.kernels.cuda import lstm

        def without_device_calls(fn):
            return types.FunctionType(fn.__code__, {**fn.__globals__, "sigmoid_dev": math.tanh},
                                      fn.__name__, fn.__defaults__, fn.__closure__)

        for nt in (float32, float64):
            k = lstm._KERNELS[np.dtype(nt.name)]
            v1, v2, v3, lens = nt[::1], nt[:, ::1], nt[:, :, ::1], int64[::1]
            sigs = {
                "cell_forward": (int64, v3, v1, v2, v2, v2, v2, lens, v2, v3, boolean, v3, v3,
                                 v3, boolean),
                "project_forward": (int64, v2, v2, v2, lens, v2, v3),
                "adjoint_projected": (int64, v2, v3, lens, v2, v3),
                "cell_backward": (int64, int64, v2, v3, v2, v2, boolean, v2, v3, v3, v3, v2,
                                  lens, v3),
                "carry_backward": (int64, v3, v2, lens, v2),
                "previous": (v3, v2, lens, boolean, v3),
                "hidden": (v3, v3, v3),
                # device functions of the persistent forward; w is its shared array
                "stage": (v2, int64, v1),
                "persistent_cell": (int64, int64, v1, v3, v1, v2, v2, lens, v2, v3, boolean,
                                    v3, v3, v3, boolean),
                "persistent_project": (int64, v2, v2, v2, lens, v2, v3),
            }
            # the cooperative kernel needs a GPU to compile (the module docstring)
            assert set(sigs) | {"persistent_forward"} == set(lstm._StepKernels._fields)
            device = {"stage", "persistent_cell", "persistent_project"}
            for name, sig in sigs.items():
                fn = getattr(k, name).py_func
                if name in ("cell_forward", "persistent_cell"):
                    fn = without_device_calls(fn)
                ptx, _ = cuda.compile_ptx(fn, sig, device=name in device, cc=CC)
                if nt == float32:
                    assert ".f64" not in ptx, f"{name}: float64 arithmetic in float32"
            print(nt, "ok")
    """)
    assert out.split() == ["float32", "ok", "float64", "ok"]
