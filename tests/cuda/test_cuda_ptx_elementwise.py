"""Every element-wise kernel (kernels/cuda/elementwise.py) compiles to PTX without a GPU, for
each loop dtype, and the float32 kernels do their arithmetic in float32 (no .f64
instruction; in the unary kernel none beyond the few that libdevice's float32 sine and
cosine, ``sinf`` and ``cosf``, use to reduce a huge argument, E30).

The unary kernel calls the device function ``scalar.sigmoid_dev``, compiled with it (the
harness gives numba the compute capability it would ask a GPU for): the float32 check
covers the sigmoid's arithmetic too.

The softplus op (E15) is also compiled on its own: the unary kernel with its op code typed
as the literal ``SOFTPLUS``, so numba drops the other ops' branches and the PTX left is
softplus's two branches (x ≥ 0 and the rest), each storing once.

The binary and ternary kernels find their operands' offsets with one integer division per
axis for all of them (``blocks.strided_offsets``): their PTX has one ``rem.s64`` per axis."""

import pytest

pytest.importorskip("numba.cuda")
from tests.cuda.ptx import compile_in_subprocess  # noqa: E402


def test_elementwise_kernels_compile_to_ptx():
    out = compile_in_subprocess("""
        import math
        from collections import Counter

        import numpy as np
        from numba import boolean, cuda, float32, float64, from_dtype, int32, int64
        from numba.core.types import UniTuple, literal
        from nongate_np.kernels.cuda import elementwise as ew

        def f64_ops(ptx):                     # the float64 instructions, as a multiset
            return Counter(line.split()[0] for line in ptx.splitlines()
                           if ".f64" in line and not line.strip().startswith(".reg"))

        def sin32(a, out):
            out[cuda.grid(1)] = math.sin(a[cuda.grid(1)])

        def cos32(a, out):
            out[cuda.grid(1)] = math.cos(a[cuda.grid(1)])

        # libdevice's float32 sine and cosine reduce a huge argument in float64
        trig = sum((f64_ops(cuda.compile_ptx(f, (float32[::1], float32[::1]), cc=CC)[0])
                    for f in (sin32, cos32)), Counter())

        axes = UniTuple(int64, 2)
        for loop in ew.SUPPORTED:
            k = ew._kernels(loop)
            v = from_dtype(loop)[::1]
            unary = (int64, int64, axes, v, axes, v)
            ptx, _ = cuda.compile_ptx(k.unary.py_func, unary, cc=CC)
            assert loop != np.float32 or f64_ops(ptx) <= trig, "unary: float64 in float32"
            ptx, _ = cuda.compile_ptx(k.binary.py_func, (int64, int64, axes, v, axes, v, axes, v),
                                      cc=CC)
            assert loop != np.float32 or ".f64" not in ptx, "binary: float64 in float32"
            assert ptx.count("rem.s64") == len(axes), "binary: a division per operand and axis"
            print(loop, "ok")
        # operands of other dtypes than the loop's (converted in the kernel), bool results
        k = ew._kernels(np.dtype(np.float64))
        cuda.compile_ptx(k.binary.py_func, (int64, int64, axes, int64[::1], axes, float32[::1],
                                            axes, boolean[::1]), cc=CC)
        cuda.compile_ptx(k.unary.py_func,
                         (int64, int64, axes, float64[::1], axes, int32[::1]), cc=CC)
        for c, a, b, o in [(boolean, float32, float32, float32),
                           (float64, int64, float64, float64), (boolean, int64, boolean, int64)]:
            ptx, _ = cuda.compile_ptx(ew._ternary.py_func, (int64, axes, c[::1], axes, a[::1],
                                                            axes, b[::1], axes, o[::1]), cc=CC)
            # the three operands' offsets share each axis's division (blocks.strided_offsets)
            assert ptx.count("rem.s64") == len(axes), "where: a division per operand and axis"
        print("mixed ok")
        # softplus alone: its two branches, in float32 arithmetic for float32
        for loop in [np.dtype(np.float32), np.dtype(np.float64)]:
            v = from_dtype(loop)[::1]
            unary = ew._kernels(loop).unary.py_func
            ptx, _ = cuda.compile_ptx(unary, (literal(ew.SOFTPLUS), int64, axes, v, axes, v),
                                      cc=CC)
            assert loop != np.float32 or ".f64" not in ptx, "softplus: float64 in float32"
            stores = ptx.count(f"st.global.{'f32' if loop == np.float32 else 'f64'}")
            assert stores == 2, f"softplus: {stores} stores, expected one per branch"
            print("softplus", loop, "ok")
    """)
    assert out.split() == ["bool", "ok", "int32", "ok", "int64", "ok", "float32", "ok",
                           "float64", "ok", "mixed", "ok", "softplus", "float32", "ok",
                           "softplus", "float64", "ok"]
