"""The scalar math the CUDA kernels share, written once as plain Python and compiled as a
device function (docs/math.md E6). Each branch keeps ``math.exp``'s argument ≤ 0, so nothing
overflows (and the simulator, which runs Python's math, never raises)."""

from __future__ import annotations

import math

from numba import cuda

__all__ = ["sigmoid", "sigmoid_dev"]


def sigmoid(x, one):
    """σ(x) = 1 / (1 + e^{-x}), as e^{x} / (1 + e^{x}) for x < 0 (E6). ``one`` is 1 in x's
    type: a float literal would make float32 arithmetic float64."""
    if x >= 0:
        return one / (one + math.exp(-x))
    z = math.exp(x)
    return z / (one + z)


sigmoid_dev = cuda.jit(device=True)(sigmoid)
