"""Every attention kernel (kernels/cuda/attention.py) compiles to PTX without a GPU, in
float32 and float64, with the argument types its launches pass; the float32 kernels do no
float64 arithmetic.

A kernel that calls a device-function dispatcher (``scalar.sigmoid_dev``) cannot be
compiled without a GPU (numba asks the driver for the compute capability: the notes on the
simulator, §6). So the sigmoid is compiled on its own (``device=True``), and each kernel
body is compiled as a copy of its function whose globals name, in place of the dispatcher,
an external declaration of the sigmoid's real signature (``cuda.declare_device``): the
whole body is typed and lowered, the library untouched. The sigmoid returns float64 for
float32 input, so a float32 body may load that result and convert it back, nothing else in
float64."""

import pytest

pytest.importorskip("numba.cuda")
from tests.cuda.ptx import compile_in_subprocess  # noqa: E402


def test_attention_kernels_compile_to_ptx():
    out = compile_in_subprocess("""
        import re
        import types
        import numpy as np
        from numba import boolean, cuda, float32, float64, int64
        from nongate_np.kernels.cuda import attention, scalar

        # a float64 instruction that is not arithmetic: a register declaration, a load or
        # store, the conversion of the sigmoid's float64 result to float32
        F64 = re.compile(r"\\.f64\\b")
        MOVES_ONLY = re.compile(r"^\\s*(\\.reg|ld\\.|st\\.|cvt\\.rn\\.f32\\.f64)")
        for nt in (float32, float64):
            names = dict(vars(attention))       # a copy: the kernels' globals for compiling
            _, ret = cuda.compile_ptx(scalar.sigmoid, (nt,), device=True, cc=CC)
            names["sigmoid_dev"] = cuda.declare_device("sigmoid_dev", ret(nt))

            def body(kernel):
                f = kernel.py_func
                return types.FunctionType(f.__code__, names, f.__name__, f.__defaults__,
                                          f.__closure__)
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
            compiled = [(name, body(getattr(kernels, name)), sig)
                        for name, sig in signatures.items()]
            compiled.append(("_copy_block", attention._copy_block.py_func, (M, M, i)))
            for name, fn, sig in compiled:
                ptx, _ = cuda.compile_ptx(fn, sig, cc=CC)
                assert ".entry" in ptx, name
                if nt == float32:
                    wide = [line for line in ptx.splitlines()
                            if F64.search(line) and not MOVES_ONLY.match(line)]
                    assert not wide, f"{name}: float64 arithmetic in float32: {wide}"
            print(nt, len(compiled), "ok")
    """)
    assert out.split() == ["float32", "9", "ok", "float64", "9", "ok"]
