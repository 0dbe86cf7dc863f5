"""Vectorisable exp, sigmoid and tanh for Numba loops (docs/math.md K1-K3).

pip's llvmlite has no SVML, so ``np.exp``/``np.tanh`` inside an ``@njit`` loop become one
libm call per element (bench/KERNEL_NOTES.md, "Activations: libm calls"). These are
branch-free polynomials built from +, *, min/max, select and one integer-to-float bit cast,
which LLVM vectorises (16 float32 lanes with AVX-512, 8 with AVX2). Maximum errors,
measured by tests/test_activations.py over every float32 value and over a dense float64
sweep, are stated in ``ERROR_BOUNDS``.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .cache import cache_location

__all__ = ["exp32", "exp64", "sigmoid32", "sigmoid64", "tanh32", "tanh64", "ERROR_BOUNDS",
           "KERNEL_FLAGS"]

# Stated bounds (max relative error over the finite range, exhaustive over float32 inputs
# for the float32 versions); tests/test_activations.py measures and asserts them.
# float32, exhaustive (bench/activation_errors.py, every finite float32, compiled with
# KERNEL_FLAGS): exp32 7.89e-8 on [-87.3, 88]; sigmoid32 1.53e-7 for x >= -87.3 (below,
# σ < 1.2e-38 and the absolute error is smaller than that); tanh32 1.76e-7 everywhere.
# float64: dense sweeps, 2-4.5e-16 (1-2 ulp).
ERROR_BOUNDS = {"exp32": 8e-8, "sigmoid32": 1.6e-7, "tanh32": 1.8e-7,
                "exp64": 5e-16, "sigmoid64": 7e-16, "tanh64": 7e-16}


@intrinsic
def _float32_from_bits(typingctx, bits):
    """Reinterpret an int32's bits as a float32 (no conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


@intrinsic
def _float64_from_bits(typingctx, bits):
    """Reinterpret an int64's bits as a float64 (no conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


#: The flags of these functions and of every kernel that calls them; the error sweeps (tests
#: and bench/activation_errors.py) compile their callers with the same ones. "contract" lets
#: LLVM fuse a * b + c into one FMA: one rounding instead of two, and faster
#: (bench/KERNEL_NOTES.md, "Activations: FMA contraction"). Results stay deterministic on a
#: given CPU. The compiled code is cached where ``cache.py`` says (never in the package's
#: folder), or not at all.
KERNEL_FLAGS = dict(cache=cache_location().enabled, error_model="numpy", nogil=True,
                    fastmath={"contract"})
# NOTE: each function below is compiled once per dtype, not inlined in Numba's IR
# (``inline="always"``): LLVM inlines it into each calling loop all the same (same machine
# code, same bits), while Numba's inlining parsed and typed it again at every call site
# (bench/KERNEL_NOTES.md, "Compile time: activations inlined by LLVM")

# K1: exp(x) = 2^k e^r, k = round(x / ln 2), r = x - k ln 2 (Cody-Waite: ln 2 = hi + lo with
# hi exact in few bits so k*hi is exact), |r| <= ln2/2, e^r by its Taylor polynomial.
_LOG2E = 1.4426950408889634
_LN2_HI_32, _LN2_LO_32 = np.float32(0.693359375), np.float32(-2.12194440e-4)
_LN2_HI_64, _LN2_LO_64 = 0.693147180369123816490, 1.90821492927058770002e-10


@njit(**KERNEL_FLAGS)
def exp32(x):
    """K1 in float32: e^x for x in [-87.3, 88] (clamped outside: saturates, never inf)."""
    x = min(max(x, np.float32(-87.3)), np.float32(88.0))
    k = np.floor(x * np.float32(_LOG2E) + np.float32(0.5))
    r = x - k * _LN2_HI_32 - k * _LN2_LO_32
    p = np.float32(1 / 5040)
    p = p * r + np.float32(1 / 720)
    p = p * r + np.float32(1 / 120)
    p = p * r + np.float32(1 / 24)
    p = p * r + np.float32(1 / 6)
    p = p * r + np.float32(0.5)
    p = p * r + np.float32(1.0)
    p = p * r + np.float32(1.0)
    return p * _float32_from_bits((np.int32(k) + np.int32(127)) << np.int32(23))


@njit(**KERNEL_FLAGS)
def _expm1_taylor64(r):
    """e^r − 1 for |r| ≤ ln2/2 in float64: its Taylor polynomial to r^13 (K1, K3)."""
    p = 1 / 6227020800.0                       # 1/13!
    p = p * r + 1 / 479001600.0
    p = p * r + 1 / 39916800.0
    p = p * r + 1 / 3628800.0
    p = p * r + 1 / 362880.0
    p = p * r + 1 / 40320.0
    p = p * r + 1 / 5040.0
    p = p * r + 1 / 720.0
    p = p * r + 1 / 120.0
    p = p * r + 1 / 24.0
    p = p * r + 1 / 6.0
    p = p * r + 0.5
    return r + r * r * p


@njit(**KERNEL_FLAGS)
def exp64(x):
    """K1 in float64: e^x for x in [-708, 709] (clamped outside)."""
    x = min(max(x, -708.0), 709.0)
    k = np.floor(x * _LOG2E + 0.5)
    r = x - k * _LN2_HI_64 - k * _LN2_LO_64
    return (1.0 + _expm1_taylor64(r)) * _float64_from_bits((np.int64(k) + np.int64(1023))
                                                           << np.int64(52))


@njit(**KERNEL_FLAGS)
def sigmoid32(x):
    """K2: σ(x) = 1/(1 + e^{−x}); e^{−x} is clamped (K1), so it never overflows."""
    return np.float32(1.0) / (np.float32(1.0) + exp32(-x))


@njit(**KERNEL_FLAGS)
def sigmoid64(x):
    """K2 in float64."""
    return 1.0 / (1.0 + exp64(-x))


@njit(**KERNEL_FLAGS)
def _expm1_32(z):
    """e^z − 1 for 0 ≤ z ≤ 18 (K3): 2^k (e^r − 1) + (2^k − 1), k, r as in K1; e^r − 1 by its
    Taylor polynomial, so small z keep their relative accuracy (no 1 to cancel). One term
    more than ``exp32``'s: here the last term must be below half an ulp of e^r − 1, not of
    e^r."""
    k = np.floor(z * np.float32(_LOG2E) + np.float32(0.5))
    r = z - k * _LN2_HI_32 - k * _LN2_LO_32
    p = np.float32(1 / 40320)
    p = p * r + np.float32(1 / 5040)
    p = p * r + np.float32(1 / 720)
    p = p * r + np.float32(1 / 120)
    p = p * r + np.float32(1 / 24)
    p = p * r + np.float32(1 / 6)
    p = p * r + np.float32(0.5)
    s = _float32_from_bits((np.int32(k) + np.int32(127)) << np.int32(23))
    return s * (r + r * r * p) + (s - np.float32(1.0))


@njit(**KERNEL_FLAGS)
def _expm1_64(z):
    """e^z − 1 for 0 ≤ z ≤ 39 in float64 (K3), as ``_expm1_32``."""
    k = np.floor(z * _LOG2E + 0.5)
    r = z - k * _LN2_HI_64 - k * _LN2_LO_64
    s = _float64_from_bits((np.int64(k) + np.int64(1023)) << np.int64(52))
    return s * _expm1_taylor64(r) + (s - 1.0)


@njit(**KERNEL_FLAGS)
def tanh32(x):
    """K3: tanh |x| = E/(E + 2) with E = e^{2|x|} − 1, |x| clamped to 9 (where tanh is
    within one float32 ulp of 1; it rounds to 1 from 9.011), the sign copied from x."""
    a = min(abs(x), np.float32(9.0))
    e = _expm1_32(a + a)
    return math.copysign(e / (e + np.float32(2.0)), x)


@njit(**KERNEL_FLAGS)
def tanh64(x):
    """K3 in float64, |x| clamped to 19.1."""
    a = min(abs(x), 19.1)
    e = _expm1_64(a + a)
    return math.copysign(e / (e + 2.0), x)
