"""Every CUDA LSTM kernel (kernels/cuda/lstm.py) compiles to PTX without a GPU, for float32
and float64, and the float32 kernels do their arithmetic in float32 (no .f64 instruction).

``cell_forward`` calls the device function ``cell_update``, which calls
``scalar.sigmoid_dev``, and compiling a call to a device function asks the driver for the
GPU's compute capability (numba-cuda's ``compile_device``), which fails without one. So each
device function is compiled alone and each caller's body calls a declaration of its real
signature (tests/cuda/ptx_blocks.py).

The persistent forward's kernel ``persistent_forward`` is NOT compiled here: it takes
``cuda.cg.this_grid()``, and compiling a grid group asks the driver too (CudaSupportError
without a GPU), as does its calls of the device functions below. Its work is in those device
functions, ``stage``, ``persistent_cell`` (calling the same ``cell_update``) and
``persistent_project``, compiled here as device functions; what is left unchecked without a
GPU is the kernel's own few lines: the shared array, the initial copies, the step loop and
the grid syncs."""

import pytest

pytest.importorskip("numba.cuda")
from tests.cuda.ptx import compile_in_subprocess  # noqa: E402


def test_lstm_kernels_compile_to_ptx():
    out = compile_in_subprocess("""
        import numpy as np
        from numba import boolean, cuda, float32, float64, int64
        from nongate_np.kernels.cuda import lstm, scalar
        from tests.cuda.ptx_blocks import body, declare

        for nt in (float32, float64):
            callees = {"sigmoid_dev": declare("sigmoid_dev", scalar.sigmoid_dev, (nt, nt), CC)}
            k = lstm._KERNELS[np.dtype(nt.name)]
            v1, v2, v3, lens = nt[::1], nt[:, ::1], nt[:, :, ::1], int64[::1]
            update = (int64, int64, int64, nt, nt, nt, nt, nt, v2, lens, v2, v3, boolean, v3,
                      v3, v3, boolean)
            # both forward paths call the cell update: it is declared in their bodies
            callees["cell_update"] = declare("cell_update", k.cell_update, update, CC, callees)
            project = (int64, int64, int64, v2, v2, v2, lens, v2, v3)
            callees["project_unit"] = declare("project_unit", k.project_unit, project, CC)
            sigs = {
                "cell_update": update,
                "project_unit": project,
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
            device = {"cell_update", "project_unit", "stage", "persistent_cell",
                      "persistent_project"}
            for name, sig in sigs.items():
                fn = body(getattr(k, name), callees)
                ptx, _ = cuda.compile_ptx(fn, sig, device=name in device, cc=CC)
                if nt == float32:
                    assert ".f64" not in ptx, f"{name}: float64 arithmetic in float32"
            print(nt, "ok")
    """)
    assert out.split() == ["float32", "ok", "float64", "ok"]
