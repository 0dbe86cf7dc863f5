"""Every kernel and device function of the CUDA backend's base compiles to PTX (no GPU)."""

import pytest

pytest.importorskip("numba.cuda")
from tests.cuda.ptx import compile_in_subprocess  # noqa: E402


def test_base_kernels_and_device_functions_compile_to_ptx():
    out = compile_in_subprocess("""
        from numba import boolean, cuda, float32, float64
        from nongate_np.kernels.cuda import matmul, scalar
        for nt in (float32, float64):
            dtype = nt.bitwidth // 8
            kernel = matmul._KERNELS[matmul.np.dtype(f"f{dtype}")]
            columns = matmul._COLUMN_KERNELS[matmul.np.dtype(f"f{dtype}")]
            cuda.compile_ptx(kernel.py_func, (nt[:, :], nt[:, :], nt[:, :], boolean, boolean,
                                              boolean), cc=CC)
            cuda.compile_ptx(columns.py_func, (nt[:, :], nt[:]), cc=CC)
            ptx, ret = cuda.compile_ptx(scalar.sigmoid, (nt, nt), device=True, cc=CC)
            assert ret == nt, f"sigmoid returns {ret} for {nt}"
            assert nt == float64 or ".f64" not in ptx, "sigmoid: float64 arithmetic"
            print(nt, "ok")
    """)
    assert out.split() == ["float32", "ok", "float64", "ok"]
