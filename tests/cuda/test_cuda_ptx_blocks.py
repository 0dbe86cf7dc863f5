"""kernels/cuda/blocks.py's device functions compile to PTX alone (no GPU), for every type
the reduction kernels call them with; the float32 trees do no float64 arithmetic, and each
tree synchronises the block (``bar.sync``) between its steps."""

import pytest

pytest.importorskip("numba.cuda")
from tests.cuda.ptx import compile_in_subprocess  # noqa: E402


def test_block_functions_compile_to_ptx():
    out = compile_in_subprocess("""
        from numba import boolean, cuda, float32, float64, int32, int64
        from nongate_np.kernels.cuda import blocks

        for t in (float32, float64, boolean, int32, int64):
            for name in ("block_sum", "block_max"):
                ptx, ret = cuda.compile_ptx(getattr(blocks, name).py_func, (t[::1], t),
                                            device=True, cc=CC)
                assert ret == t, (name, t, ret)
                assert "bar.sync" in ptx, name
                if t == float32:
                    assert ".f64" not in ptx, f"{name}: float64 arithmetic in float32"
            print(t, "ok")
        _, ret = cuda.compile_ptx(blocks.offset_of.py_func, (int64, int64[::1], int64, int64,
                                  int64), device=True, cc=CC)
        assert ret == int64, ret
        print("offset_of ok")
    """)
    assert out.count("ok") == 6, out
