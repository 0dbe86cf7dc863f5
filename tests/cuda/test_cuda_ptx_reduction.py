"""Every kernel of kernels/cuda/reduction.py compiles to PTX (no GPU), for each element type
the functions launch it with: 1-D C-contiguous arrays (``_elements`` and the flat output),
Python ints as int64, the accumulator's zero as its NumPy scalar."""

import pytest

pytest.importorskip("numba.cuda")
from tests.cuda.ptx import compile_in_subprocess  # noqa: E402


def test_reduction_kernels_compile_to_ptx():
    out = compile_in_subprocess("""
        from numba import boolean, cuda, float32, float64, int32, int64
        from nongate_np.kernels.cuda import reduction as r

        def ptx(kernel, *args):
            cuda.compile_ptx(kernel.py_func, args, cc=CC)

        table = int64[::1]
        sums = [(float32, float32), (float64, float64), (boolean, int64), (int32, int64),
                (int64, int64)]
        for item, acc in sums:
            ptx(r._sum_threads, item[::1], int64, acc[::1], table, int64, int64, int64, acc)
            ptx(r._sum_tree(acc), item[::1], int64, acc[::1], table, int64, int64)
            print("sum", item, "ok")
        for item in (float32, float64, boolean, int32, int64):
            ptx(r._max_threads, item[::1], int64, item[::1], table, int64, int64, int64)
            ptx(r._max_tree(item), item[::1], int64, item[::1], table, int64, int64)
            print("max", item, "ok")
        for item, acc in [(float32, float32), (float64, float64), (int32, float64),
                          (int64, float64)]:
            ptx(r._softmax_threads, item[::1], int64, acc[::1], table, int64, int64, int64,
                int64, int64, boolean, acc)
            ptx(r._softmax_tree(item, acc), item[::1], int64, acc[::1], table, int64, int64,
                int64, boolean)
            print("softmax", item, "ok")
    """)
    assert out.count("ok") == 14, out
