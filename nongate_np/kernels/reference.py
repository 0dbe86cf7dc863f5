"""NumPy reference kernels: the specification the fast backends must match.

Written to be read against docs/math.md, not for speed. Every function accepts float32,
float64 and complex128 arrays; the complex path exists for complex-step gradient checks, so
the formulas are analytic (no ``abs``, no ``conj``) and any branch is chosen by the real part.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e^{-x}) without overflow for any finite x (docs/math.md E6).

    NOTE: for Re x ≥ 0 use 1 / (1 + e^{-x}), otherwise e^{x} / (1 + e^{x}); the exponent
    never has a positive real part, and both branches are the same analytic function.
    """
    x = np.asarray(x)
    pos = x.real >= 0
    z = np.exp(np.where(pos, -x, x))
    return np.where(pos, 1.0 / (1.0 + z), z / (1.0 + z))


def softplus(x: np.ndarray) -> np.ndarray:
    """softplus(x) = log(1 + e^{x}) without overflow (docs/math.md E15).

    NOTE: for Re x ≥ 0 it equals x + log1p(e^{-x}); otherwise log1p(e^{x}).
    """
    x = np.asarray(x)
    pos = x.real >= 0
    return np.where(pos, x, 0) + np.log1p(np.exp(np.where(pos, -x, x)))


def max_real(x: np.ndarray, axis, keepdims: bool = True) -> np.ndarray:
    """The maximum of the real part: a shift constant for softmax-like formulas."""
    return np.max(x.real, axis=axis, keepdims=keepdims)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax(x) = x - m - log Σ e^{x - m}, m = max Re x (docs/math.md E12)."""
    shifted = x - max_real(x, axis)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """softmax(x) = e^{x - m} / Σ e^{x - m}, m = max Re x (docs/math.md E11)."""
    e = np.exp(x - max_real(x, axis))
    return e / np.sum(e, axis=axis, keepdims=True)
