"""Every kernel of kernels/cuda/optim.py compiles to PTX without a GPU, for float32 and
float64, and the instructions keep the updates bit-identical to NumPy's on a real GPU:

- the float32 update kernels do their arithmetic in float32 (no .f64 instruction): their
  scalar arguments are typed from what the host functions pass (``_adam_scalars`` etc.),
  so a scalar left a Python float (float64) shows here, which the simulator cannot show
  (NumPy computes a float32 element with a Python float in float32 anyway);
- no FMA in the update kernels (NVVM contracts a product feeding a sum by default: one
  rounding where NumPy rounds twice), and IEEE division and square root (``div.rn``,
  ``sqrt.rn``; no approximations).

The reduction kernels call kernels/cuda/blocks.py's trees: those are compiled alone and the
kernels against their declarations (tests/cuda/ptx_blocks.py), which their PTX must call.
"""

import pytest

pytest.importorskip("numba.cuda")
from tests.cuda.ptx import compile_in_subprocess  # noqa: E402


def test_optim_kernels_compile_to_ptx():
    out = compile_in_subprocess("""
        import numpy as np
        from numba import boolean, cuda, float32, float64, int64, typeof
        from nongate_np.kernels.cuda import blocks, optim
        from tests.cuda.ptx_blocks import declare, kernel_ptx

        def scalars(values):
            return tuple(typeof(v) for v in values)

        def compile(fn, sig):
            return cuda.compile_ptx(fn.py_func, sig, cc=CC)[0]

        trees = {name: declare(name, getattr(blocks, name), (float64[::1], float64), CC)
                 for name in ("block_sum", "block_max")}
        for nt in (float32, float64):
            dtype = np.dtype(nt.name)
            k = optim._KERNELS[dtype]
            v = nt[::1]
            adam = scalars(optim._adam_scalars(dtype, lr=1e-3, beta1=0.9, beta2=0.999,
                                               eps=1e-8, weight_decay=1e-2, decoupled=True,
                                               maximize=False, amsgrad=True, step=3))
            sgd = scalars(optim._sgd_scalars(dtype, lr=0.1, momentum=0.9, dampening=0.0,
                                             weight_decay=0.0, nesterov=True, maximize=False,
                                             first=False))
            clip = scalars(optim._clip_scalars(dtype, 1.0))
            updates = {"adam": compile(k.adam, (v,) * 5 + adam),
                       "sgd": compile(k.sgd, (v,) * 3 + sgd),
                       "clip": compile(k.clip, (v,) + clip)}
            for name, ptx in updates.items():
                if nt == float32:
                    assert ".f64" not in ptx, f"{name}: float64 arithmetic in float32"
                assert "fma" not in ptx, f"{name}: a product contracted into an FMA"
                assert "approx" not in ptx and "div.full" not in ptx, name
            assert f"div.rn.f{nt.bitwidth}" in updates["adam"]
            assert f"sqrt.rn.f{nt.bitwidth}" in updates["adam"]
            assert f"mul.rn.f{nt.bitwidth}" in updates["sgd"]
            for factor in (float32, float64):
                ptx = compile(k.scale, (v, factor[::1]))
                assert f"mul.rn.f{nt.bitwidth}" in ptx or f"mul.f{nt.bitwidth}" in ptx
            # the reductions accumulate in float64 whatever the input type
            kernel_ptx(optim._partials, (v, int64, float64, boolean, float64[::1],
                                        float64[::1], int64),
                       CC, trees)
            print(nt, "ok")
        kernel_ptx(optim._finish, (float64[::1], int64, int64, int64, float64, boolean,
                                   float64[::1], float64[::1]), CC, trees)
        compile(optim._clip_coefficient, (float64[::1], float64, float64[::1]))
        print("reductions ok")
    """)
    assert out.split() == ["float32", "ok", "float64", "ok", "reductions", "ok"]
