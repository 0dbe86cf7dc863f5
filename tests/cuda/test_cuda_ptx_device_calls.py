"""The PTX harness (tests/cuda/ptx.py) compiles a kernel that calls a ``cuda.jit(device=True)``
function without a GPU, and the callee's own code is in the kernel's PTX: inlined where NVVM
optimises (the default), a function the kernel calls where it does not (``opt=False``). The
callee takes a square root and the kernel nothing else, so ``sqrt.rn.f64`` in the PTX can
only come from the callee; the same kernel without the call is the control."""

import pytest

pytest.importorskip("numba.cuda")
from tests.cuda.ptx import compile_in_subprocess  # noqa: E402


def test_kernel_calling_a_device_function_compiles_with_its_callee():
    out = compile_in_subprocess("""
        import math
        import re

        from numba import cuda, float64

        @cuda.jit(device=True)
        def root(x):
            return math.sqrt(x)

        @cuda.jit
        def roots(a):
            i = cuda.grid(1)
            a[i] = root(a[i])

        @cuda.jit
        def copies(a):                        # the control: the same kernel, no call
            i = cuda.grid(1)
            a[i] = a[i]

        sig = (float64[::1],)
        inlined, _ = cuda.compile_ptx(roots.py_func, sig, cc=CC)
        called, _ = cuda.compile_ptx(roots.py_func, sig, cc=CC, opt=False)
        control, _ = cuda.compile_ptx(copies.py_func, sig, cc=CC)
        print("inlined", ".entry" in inlined and "sqrt.rn.f64" in inlined)
        # numba's mangled names spell each part with its length: 4root
        callee = re.search(r"\\.func\\s+\\(.*?\\)\\s+(\\w*4root\\w*)\\s*\\(", called)
        print("defined", callee is not None)
        print("called", callee is not None
              and re.search(rf"call\\.uni \\(retval0\\),\\s*{callee[1]},", called) is not None
              and "sqrt.rn.f64" in called.rsplit(callee[0], 1)[1])   # the definition
        print("control", "sqrt" in control)
    """)
    assert out.split() == ["inlined", "True", "defined", "True", "called", "True",
                           "control", "False"], out
