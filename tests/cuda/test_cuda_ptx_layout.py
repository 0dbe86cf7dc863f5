"""Every kernel of kernels/cuda/layout.py compiles to PTX (no GPU), for each element type
and index type a launch can give it (tests/cuda/ptx.py)."""

import pytest

pytest.importorskip("numba.cuda")
from tests.cuda.ptx import compile_in_subprocess  # noqa: E402


def test_layout_kernels_compile_to_ptx():
    out = compile_in_subprocess("""
        from numba import boolean, cuda, float32, float64, int32, int64
        from nongate_np.kernels.cuda import layout
        meta = int64[::1]
        # the copy: each dtype to itself, and the casts concatenate, stack, matmul's
        # promotion and add_at's values make
        pairs = [(t, t) for t in (float32, float64, boolean, int32, int64)]
        pairs += [(float32, float64), (boolean, int64), (boolean, float64), (int64, float64),
                  (int32, int64), (float64, float32), (float64, int64)]
        for src, dst in pairs:
            cuda.compile_ptx(layout._copy_kernel.py_func,
                             (src[::1], int64, dst[::1], int64, meta, int64), cc=CC)
        print("copy", len(pairs))
        for t in (float32, float64, boolean, int32, int64):
            for i in (int32, int64):
                cuda.compile_ptx(layout._gather_kernel.py_func,
                                 (t[::1], int64, i[::1], int64, t[::1], meta, int64, int64,
                                  int64, int64[::1]), cc=CC)
        print("gather ok")
        for t in (float32, float64, int32, int64):
            for i in (int32, int64):
                cuda.compile_ptx(layout._scatter_add_kernel.py_func,
                                 (t[::1], int64, i[::1], int64, t[::1], int64, meta, int64,
                                  int64, int64, int64[::1]), cc=CC)
        print("scatter ok")
    """)
    assert out.split() == ["copy", "12", "gather", "ok", "scatter", "ok"]
