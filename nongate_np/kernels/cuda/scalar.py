"""The scalar math the CUDA kernels share, written once as plain Python and compiled as
device functions (docs/math.md E6, L2, L9-L11). Each branch keeps ``math.exp``'s argument
≤ 0, so nothing overflows (and the simulator, which runs Python's math, never raises)."""

from __future__ import annotations

import math

from numba import cuda

__all__ = ["sigmoid", "dsigmoid_from_y", "dtanh_from_y", "sigmoid_dev", "dsigmoid_from_y_dev",
           "dtanh_from_y_dev"]


def sigmoid(x):
    """σ(x) = 1 / (1 + e^{-x}), as e^{x} / (1 + e^{x}) for x < 0 (E6)."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def dsigmoid_from_y(y):
    """σ'(x) from y = σ(x): y (1 − y) (E6)."""
    return y * (1.0 - y)


def dtanh_from_y(y):
    """tanh'(x) from y = tanh(x): 1 − y² (E6)."""
    return 1.0 - y * y


sigmoid_dev = cuda.jit(device=True)(sigmoid)
dsigmoid_from_y_dev = cuda.jit(device=True)(dsigmoid_from_y)
dtanh_from_y_dev = cuda.jit(device=True)(dtanh_from_y)
