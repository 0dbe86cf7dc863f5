"""The kernels of kernels/cuda/elementwise_math.py (docs/math.md E32-E36) compile to PTX
without a GPU (tests/cuda/ptx.py), for each float loop, and the float32 kernels compute in
float32: the unary kernel's only float64 instructions are those of libdevice's tanf
argument reduction (as sinf's and cosf's, tests/cuda/test_cuda_ptx_elementwise.py), the
binary kernel has none."""

import pytest

pytest.importorskip("numba.cuda")
from tests.cuda.ptx import compile_in_subprocess  # noqa: E402


def test_kernels_compile_to_ptx_in_their_dtype():
    """The real CUDA target type-checks both kernels; float32 stays float32 (the tan op
    compiled alone gives the float64 instructions allowed)."""
    out = compile_in_subprocess("""
        from collections import Counter

        import numpy as np
        from numba import cuda, from_dtype, int64
        from numba.core.types import UniTuple, literal
        from nongate_np.kernels.cuda import elementwise_math as em

        def f64_ops(ptx):
            return Counter(line.split()[0] for line in ptx.splitlines()
                           if ".f64" in line and not line.strip().startswith(".reg"))

        axes = UniTuple(int64, 2)
        for loop in em._FLOATS:
            k = em._kernels(loop)
            v = from_dtype(loop)[::1]
            unary, _ = cuda.compile_ptx(k.unary.py_func, (int64, int64, axes, v, axes, v),
                                        cc=CC)
            binary, _ = cuda.compile_ptx(k.binary.py_func,
                                         (int64, int64, axes, v, axes, v, axes, v), cc=CC)
            if loop == np.float32:
                tan, _ = cuda.compile_ptx(k.unary.py_func, (literal(em.TAN), int64, axes, v,
                                                            axes, v), cc=CC)
                assert f64_ops(unary) <= f64_ops(tan), "unary: float64 in float32"
                assert not f64_ops(binary), "binary: float64 in float32"
            print(loop, "ok")
    """)
    assert out.count("ok") == 2, out
