"""Maximum relative error of the fast float32 activations over EVERY finite float32 input.

    python bench/activation_errors.py            # about 1-3 minutes on 2 cores

The reference is the float64 libm function at the same input. Inputs where the reference is
zero or below the smallest normal float32 (sigmoid far left) are skipped: there the fast
versions return a value below 2e-38 (an absolute error below 2e-38). The figures printed
here are the ones stated in nongate_np/kernels/cpu/activations.py (ERROR_BOUNDS);
tests/test_activations.py re-measures them on a strided subset in every CI run.
"""

import math
import sys
import time

import numpy as np
from numba import njit, prange

from nongate_np.kernels.cpu.activations import KERNEL_FLAGS, exp32, sigmoid32, tanh32

TINY = 1.1754943508222875e-38       # smallest normal float32


@njit
def _exp_ref(x):
    return math.exp(x)


@njit
def _sigmoid_ref(x):
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


@njit
def _tanh_ref(x):
    return math.tanh(x)


def make_sweep(fast, ref, lo, hi):
    # the kernels' flags (FMA contraction), so the errors are those of the kernels' code
    @njit(parallel=True, error_model="numpy", fastmath=KERNEL_FLAGS["fastmath"])
    def sweep(start, stop, stride):
        n_chunks = 64
        worst = np.zeros(n_chunks)
        where = np.zeros(n_chunks, np.float32)
        span = (stop - start) // n_chunks + 1
        for c in prange(n_chunks):
            bits = np.empty(1, np.uint32)
            xs = bits.view(np.float32)
            for b in range(start + c * span, min(start + (c + 1) * span, stop), stride):
                bits[0] = b
                x = xs[0]
                if not (x >= lo and x <= hi):          # also skips NaN
                    continue
                r = ref(np.float64(x))
                if abs(r) < TINY:
                    continue
                e = abs(np.float64(fast(x)) - r) / abs(r)
                if e > worst[c]:
                    worst[c], where[c] = e, x
        k = np.argmax(worst)
        return worst[k], where[k]
    return sweep


FUNCTIONS = {
    "exp32": (exp32, _exp_ref, -87.3, 88.0),
    "sigmoid32": (sigmoid32, _sigmoid_ref, -87.3, np.inf),   # below: |error| < 1.2e-38
    "tanh32": (tanh32, _tanh_ref, -np.inf, np.inf),
}


def max_errors(stride: int = 1) -> dict:
    out = {}
    for name, (fast, ref, lo, hi) in FUNCTIONS.items():
        sweep = make_sweep(fast, ref, np.float32(lo), np.float32(hi))
        out[name] = sweep(0, 2**32, stride)
    return out


if __name__ == "__main__":
    stride = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    t = time.perf_counter()
    for name, (err, at) in max_errors(stride).items():
        print(f"{name}: max relative error {err:.3e} at x = {at!r}")
    print(f"(every {stride}th float32 bit pattern; {time.perf_counter() - t:.0f} s)")
