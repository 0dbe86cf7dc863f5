"""Compiling CUDA kernels to PTX without a GPU.

The simulator never type-checks a kernel, so every kernel and device function is also
compiled by numba's real CUDA target, which needs NVVM (the numba-cuda[cu13] wheels) but
no GPU. The real target cannot be chosen in a process whose numba.cuda is the simulator's,
so the compile runs in a fresh interpreter with NUMBA_ENABLE_CUDASIM=0.

A kernel that calls a ``cuda.jit(device=True)`` function compiles there too: numba compiles
the callee for the current device's compute capability, which it asks the driver for (the
notes on the simulator, §6), so the script first makes numba's dispatcher answer ``CC``
(``tests.cuda.ptx_blocks.without_gpu``): the kernel's PTX then holds the callee itself,
inlined or called, as a GPU's would."""

import os
import subprocess
import sys
import textwrap

import pytest

CC = (8, 0)          # an explicit compute capability: without one numba asks the driver
MISSING_NVVM = ("DynamicLibNotFoundError", "libnvrtc", "libnvvm", "NvvmSupportError")


def compile_in_subprocess(script: str) -> str:
    """Run ``script`` (which calls ``cuda.compile_ptx(..., cc=CC)``) on the real target and
    return its output; skip when the NVVM/NVRTC libraries are not installed, fail on any
    other error (a kernel that does not type-check)."""
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0"}
    prelude = f"CC = {CC!r}\nfrom tests.cuda.ptx_blocks import without_gpu\nwithout_gpu(CC)\n"
    result = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(script)],
                            env=env, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        if any(marker in result.stderr for marker in MISSING_NVVM):
            pytest.skip("NVVM/NVRTC not installed (pip install 'numba-cuda[cu13]')")
        raise AssertionError(f"PTX compile failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout
