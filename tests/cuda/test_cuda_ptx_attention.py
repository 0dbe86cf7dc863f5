"""Every attention kernel (kernels/cuda/attention.py) compiles to PTX without a GPU, in
float32 and float64, with the argument types its launches pass; the float32 kernels do no
float64 arithmetic.

A kernel that calls a device-function dispatcher (``scalar.sigmoid_dev``) cannot be
compiled without a GPU (numba asks the driver for the compute capability: the notes on the
simulator, §6). So the sigmoid is compiled on its own (``device=True``), and each kernel
body calls a declaration of its real signature (tests/cuda/ptx_blocks.py): the whole body
is typed and lowered, the library untouched."""

import pytest

pytest.importorskip("numba.cuda")
from tests.cuda.ptx import compile_in_subprocess  # noqa: E402


def test_attention_kernels_compile_to_ptx():
    out = compile_in_subprocess("""
        import numpy as np
        from numba import boolean, cuda, float32, float64, int64
        from nongate_np.kernels.cuda import attention, scalar
        from tests.cuda.ptx_blocks import body, declare

        for nt in (float32, float64):
            sig = declare("sigmoid_dev", scalar.sigmoid_dev, (nt, nt), CC)
            callees = {"sigmoid_dev": sig}
            M, V, T3 = nt[:, ::1], nt[::1], nt[:, :, ::1]
            mask, i, flag = boolean[:, ::1], int64, boolean
            signatures = {
                "activations": (M, V, flag, M, M, M),
                "values": (M, V, i, M),
                "softmax_gate": (M, mask, M, V, i, flag, T3, T3, T3),
                "pool": (T3, M, T3),
                "softmax_backward": (T3, T3, M, T3, T3, flag, i, M, M),
                "value_backward": (T3, T3, i, M),
                "activations_backward": (M, M, M, flag, M),
                "online_fold": (M, mask, M, V, i, flag, M, M, M, T3, M, M, T3, T3),
            }
            assert set(signatures) == set(attention._Kernels._fields)
            kernels = attention._KERNELS[np.dtype(nt.name)]
            compiled = [(name, body(getattr(kernels, name), callees), sig)
                        for name, sig in signatures.items()]
            compiled.append(("_copy_block", attention._copy_block.py_func, (M, M, i)))
            for name, fn, sig in compiled:
                ptx, _ = cuda.compile_ptx(fn, sig, cc=CC)
                assert ".entry" in ptx, name
                assert nt == float64 or ".f64" not in ptx, f"{name}: float64 in float32"
            print(nt, len(compiled), "ok")
    """)
    assert out.split() == ["float32", "9", "ok", "float64", "9", "ok"]
