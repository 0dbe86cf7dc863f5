"""Every kernel of kernels/cuda/reduction.py, and the device functions they call
(kernels/cuda/blocks.py's trees and offsets, reduction's ``_thread_max``), compiles to PTX
(no GPU), for each element type the functions launch them with: 1-D C-contiguous arrays
(``_elements`` and the flat output), Python ints as int64, the accumulator's zero as its
NumPy scalar. The device functions are compiled alone and each kernel against their
declarations (tests/cuda/ptx_blocks.py), which its PTX must call."""

import pytest

pytest.importorskip("numba.cuda")
from tests.cuda.ptx import compile_in_subprocess  # noqa: E402


def test_reduction_kernels_compile_to_ptx():
    out = compile_in_subprocess("""
        from numba import boolean, float32, float64, int32, int64
        from nongate_np.kernels.cuda import blocks, reduction as r
        from tests.cuda.ptx_blocks import declare, kernel_ptx

        table = int64[::1]
        offset_of = declare("offset_of", blocks.offset_of, (int64, table, int64, int64, int64),
                            CC)

        def ptx(kernel, *args, **callees):
            kernel_ptx(kernel, args, CC, {"offset_of": offset_of, **callees})

        def tree(name, t):
            return {name: declare(name, getattr(blocks, name), (t[::1], t), CC)}

        def thread_max(item):
            return {"_thread_max": declare("_thread_max", r._thread_max,
                                           (item[::1], int64, int64), CC)}

        sums = [(float32, float32), (float64, float64), (boolean, int64), (int32, int64),
                (int64, int64)]
        for item, acc in sums:
            ptx(r._sum_threads, item[::1], int64, acc[::1], table, int64, int64, int64, acc)
            ptx(r._sum_tree(acc), item[::1], int64, acc[::1], table, int64, int64,
                **tree("block_sum", acc))
            print("sum", item, "ok")
        for item in (float32, float64, boolean, int32, int64):
            ptx(r._max_threads, item[::1], int64, item[::1], table, int64, int64, int64)
            ptx(r._max_tree(item), item[::1], int64, item[::1], table, int64, int64,
                **tree("block_max", item), **thread_max(item))
            print("max", item, "ok")
        for item, acc in [(float32, float32), (float64, float64), (int32, float64),
                          (int64, float64)]:
            ptx(r._softmax_threads, item[::1], int64, acc[::1], table, int64, int64, int64,
                int64, int64, boolean, acc)
            ptx(r._softmax_tree(item, acc), item[::1], int64, acc[::1], table, int64, int64,
                int64, boolean, **tree("block_max", item), **tree("block_sum", acc),
                **thread_max(item))
            print("softmax", item, "ok")
    """)
    assert out.count("ok") == 14, out
