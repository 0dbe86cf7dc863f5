"""More element-wise functions of the GPU array namespace (kernels/array_api.py), NumPy's
names and semantics on numba.cuda device arrays, beside ``elementwise.py``'s and through its
machinery (dtype resolution by NumPy's ufunc, broadcasting, layout, launch: ``_run``):

- one operand, the ``unary`` kernel: ``tan``, ``arctan``, ``arcsin``, ``arccos``
  (docs/math.md E32), ``sinh``, ``cosh``, ``arcsinh``, ``arccosh``, ``arctanh`` (E33),
  ``log2``, ``log10``, ``exp2``, ``erfc`` (E34; the device's ``erfc``, accurate in the tail,
  not 1 − erf), ``floor``, ``ceil``, ``trunc`` and ``rint`` (round half to even, E36);
- two operands, the ``binary`` kernel: ``arctan2``, ``hypot`` (E35) and ``logaddexp`` (E34:
  m + log1p(e^{−|a − b|}), m the larger, and a + log 2 where a = b, so that two equal
  infinities give that infinity, not inf − inf).

As in ``elementwise.py`` an op code picks the function, the operands are converted to the
loop dtype NumPy chooses (``ct``), and the results are NumPy's IEEE ones: NaN outside a
domain, ±inf at a pole or past the dtype's range. The guards that spell those out are
there for the simulator, which runs the kernel body with Python's ``math`` (whose
functions raise on a domain error or an overflow, and whose ``floor``, ``ceil``, ``trunc``
give a Python int, failing on NaN and ±inf); on a GPU the same branches are the IEEE
results the device functions give anyway. The rounding functions keep the sign of a zero
result (ceil(−0.5) = −0, as NumPy's). An integer or bool operand of ``floor``, ``ceil``,
``trunc`` (NumPy's loop keeps integers) is copied.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np
from numba import cuda

from . import elementwise as ew
from .blocks import strided_offsets

__all__ = ["tan", "arctan", "arcsin", "arccos", "sinh", "cosh", "arcsinh", "arccosh",
           "arctanh", "log2", "log10", "exp2", "erfc", "floor", "ceil", "trunc", "rint",
           "arctan2", "hypot", "logaddexp"]

# the op codes of the unary kernel
(TAN, ARCTAN, ARCSIN, ARCCOS, SINH, COSH, ARCSINH, ARCCOSH, ARCTANH, LOG2, LOG10, EXP2, ERFC,
 FLOOR, CEIL, TRUNC, RINT) = range(17)
# the op codes of the binary kernel
(ARCTAN2, HYPOT, LOGADDEXP) = range(3)

_abs = abs                           # the builtin
_LN2 = math.log(2.0)


def _largest_finite(f: Any, dtype: np.dtype, guess: float) -> float:
    """The largest x of ``dtype`` where NumPy's f(x) is finite in ``dtype``, searched from
    ``guess`` one representable number at a time (a few steps)."""
    x = dtype.type(guess)
    up = dtype.type(np.inf)
    with np.errstate(over="ignore"):
        while np.isfinite(f(np.nextafter(x, up))):
            x = np.nextafter(x, up)
        while not np.isfinite(f(x)):
            x = np.nextafter(x, dtype.type(0))
    return float(x)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# past these the result is ±inf, which the kernel returns without computing (the
# simulator's math.sinh, math.cosh and math.pow raise OverflowError)
SINH_MAX = {d: _largest_finite(np.sinh, d, np.arcsinh(float(np.finfo(d).max))) for d in _FLOATS}
COSH_MAX = {d: _largest_finite(np.cosh, d, np.arccosh(float(np.finfo(d).max))) for d in _FLOATS}
EXP2_MAX = {d: _largest_finite(np.exp2, d, np.log2(float(np.finfo(d).max))) for d in _FLOATS}


class _Kernels(NamedTuple):
    unary: Any
    binary: Any


def _make_kernels(loop: np.dtype) -> _Kernels:
    """The unary and binary kernels whose operands are converted to ``loop`` (``ct``)."""
    ct = numba.from_dtype(loop)
    sinh_max = SINH_MAX.get(loop, 0.0)
    cosh_max = COSH_MAX.get(loop, 0.0)
    exp2_max = EXP2_MAX.get(loop, 0.0)

    @cuda.jit
    def unary(op, n, shape, a, sa, out):
        """out[i] = op(a at output index i), for the n elements of out (grid-stride)."""
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            ia, _, _ = strided_offsets(i, shape, sa, sa, sa)
            x = ct(a[ia])
            inf = ct(math.inf)
            nan = ct(math.nan)
            if op == TAN:                              # E32; NaN at ±inf, as NumPy's
                out[i] = math.tan(x) if _abs(x) < inf else nan
            elif op == ARCTAN:
                out[i] = math.atan(x)
            elif op == ARCSIN:                         # NaN outside [-1, 1] (and at NaN)
                out[i] = math.asin(x) if _abs(x) <= ct(1) else nan
            elif op == ARCCOS:
                out[i] = math.acos(x) if _abs(x) <= ct(1) else nan
            elif op == SINH:                           # E33; ±inf past the range
                out[i] = math.copysign(inf, x) if _abs(x) > ct(sinh_max) else math.sinh(x)
            elif op == COSH:
                out[i] = inf if _abs(x) > ct(cosh_max) else math.cosh(x)
            elif op == ARCSINH:
                out[i] = math.asinh(x)
            elif op == ARCCOSH:                        # NaN below 1
                out[i] = math.acosh(x) if x >= ct(1) else nan
            elif op == ARCTANH:                        # ±inf at ±1, NaN beyond
                if _abs(x) < ct(1):
                    out[i] = math.atanh(x)
                elif _abs(x) == ct(1):
                    out[i] = math.copysign(inf, x)
                else:
                    out[i] = nan
            elif op == LOG2 or op == LOG10:            # E34; the guards as log's
                if x > 0:
                    out[i] = math.log2(x) if op == LOG2 else math.log10(x)
                elif x == 0:
                    out[i] = -inf
                else:                                  # x < 0 or NaN
                    out[i] = nan
            elif op == EXP2:                           # 0 at -inf, inf past the range
                out[i] = inf if x > ct(exp2_max) else math.pow(ct(2), x)
            elif op == ERFC:
                out[i] = math.erfc(x)
            elif _abs(x) < inf:                        # E36: FLOOR, CEIL, TRUNC, RINT of a
                if op == FLOOR:                        # finite x (NaN, ±inf are themselves)
                    r = ct(math.floor(x))
                elif op == CEIL:
                    r = ct(math.ceil(x))
                elif op == TRUNC:                      # NOTE: not math.trunc, which the
                    # simulator cannot call on a NumPy float32 (it has no __trunc__)
                    r = ct(math.floor(x)) if x >= 0 else ct(math.ceil(x))
                else:                                  # RINT: x − floor(x) is exact
                    r = ct(math.floor(x))
                    frac = x - r
                    if frac > ct(0.5) or (frac == ct(0.5) and math.fmod(r, ct(2)) != 0):
                        r += ct(1)                     # half way: to the even neighbour
                out[i] = math.copysign(r, x) if r == 0 else r
            else:
                out[i] = x

    @cuda.jit
    def binary(op, n, shape, a, sa, b, sb, out):
        """out[i] = op(a, b at output index i), for the n elements of out (grid-stride)."""
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            ia, ib, _ = strided_offsets(i, shape, sa, sb, sb)
            x = ct(a[ia])
            y = ct(b[ib])
            if op == ARCTAN2:                          # E35
                out[i] = math.atan2(x, y)
            elif op == HYPOT:
                out[i] = math.hypot(x, y)
            elif x != x or y != y:                     # LOGADDEXP (E34) of a NaN
                out[i] = ct(math.nan)
            elif x == y:                               # ±inf twice: itself, not inf − inf
                out[i] = x + ct(_LN2)
            else:                                      # e^{-|x - y|} ≤ 1: no overflow
                m = x if x > y else y
                out[i] = m + math.log1p(math.exp(-_abs(x - y)))

    return _Kernels(unary, binary)


_KERNELS: dict[np.dtype, _Kernels] = {}


def _kernels(loop: np.dtype) -> _Kernels:
    """The kernels of one loop dtype, made on first use."""
    if loop not in _KERNELS:
        _KERNELS[loop] = _make_kernels(loop)
    return _KERNELS[loop]


def _ufunc(name: str, ufunc: np.ufunc, op: int, *operands: Any) -> Any:
    """The unary or binary kernel doing ``op`` where NumPy calls ``ufunc`` (its loop and
    result dtypes, its broadcasting)."""
    loop, result = ew._resolve(name, ufunc, *operands)
    if loop.kind != "f":
        raise TypeError(f"{name}: NumPy computes it in {loop} here; the GPU kernel takes "
                        f"float32 or float64 operands: cast first")
    args = [ew._device(x, loop) for x in operands]
    if len(args) == 1:
        return ew._run(name, _kernels(loop).unary, op, tuple(args[0].shape), args, result)
    shape = ew._broadcast_shape(name, *args)
    return ew._run(name, _kernels(loop).binary, op, shape, args, result)


def tan(a: Any, /) -> Any:
    """tan a (NumPy's ``tan``: NaN at ±inf and NaN). a: a device array (bool, int32, int64,
    float32, float64) or a Python scalar; integers and bools compute in float64, as
    NumPy's. Returns a new C-contiguous device array of a's shape. Raises TypeError on
    complex or other dtypes."""
    return _ufunc("tan", np.tan, TAN, a)


def arctan(a: Any, /) -> Any:
    """arctan a, in (−π/2, π/2) (NumPy's ``arctan``; ±π/2 at ±inf); as ``tan``."""
    return _ufunc("arctan", np.arctan, ARCTAN, a)


def arcsin(a: Any, /) -> Any:
    """arcsin a, in [−π/2, π/2] (NumPy's ``arcsin``: NaN outside [−1, 1]); as ``tan``."""
    return _ufunc("arcsin", np.arcsin, ARCSIN, a)


def arccos(a: Any, /) -> Any:
    """arccos a, in [0, π] (NumPy's ``arccos``: NaN outside [−1, 1]); as ``tan``."""
    return _ufunc("arccos", np.arccos, ARCCOS, a)


def sinh(a: Any, /) -> Any:
    """sinh a (NumPy's ``sinh``: ±inf past the dtype's range); as ``tan``."""
    return _ufunc("sinh", np.sinh, SINH, a)


def cosh(a: Any, /) -> Any:
    """cosh a (NumPy's ``cosh``: inf past the dtype's range); as ``tan``."""
    return _ufunc("cosh", np.cosh, COSH, a)


def arcsinh(a: Any, /) -> Any:
    """arcsinh a (NumPy's ``arcsinh``); as ``tan``."""
    return _ufunc("arcsinh", np.arcsinh, ARCSINH, a)


def arccosh(a: Any, /) -> Any:
    """arccosh a, ≥ 0 (NumPy's ``arccosh``: NaN below 1); as ``tan``."""
    return _ufunc("arccosh", np.arccosh, ARCCOSH, a)


def arctanh(a: Any, /) -> Any:
    """arctanh a (NumPy's ``arctanh``: ±inf at ±1, NaN beyond); as ``tan``."""
    return _ufunc("arctanh", np.arctanh, ARCTANH, a)


def log2(a: Any, /) -> Any:
    """log₂ a (NumPy's ``log2``: −inf at 0, NaN below); as ``tan``."""
    return _ufunc("log2", np.log2, LOG2, a)


def log10(a: Any, /) -> Any:
    """log₁₀ a (NumPy's ``log10``: −inf at 0, NaN below); as ``tan``."""
    return _ufunc("log10", np.log10, LOG10, a)


def exp2(a: Any, /) -> Any:
    """2^a (NumPy's ``exp2``: 0 at −inf, inf past the dtype's range); as ``tan``."""
    return _ufunc("exp2", np.exp2, EXP2, a)


def erfc(a: Any, /) -> Any:
    """The complementary error function 1 − erf a, computed as such (the device's
    ``erfc``, accurate where erf a is near 1: erfc(10) ≈ 2e-45 in float64, where 1 − erf
    gives 0; scipy.special's ``erfc`` on the CPU); as ``tan``."""
    return _ufunc("erfc", np.exp, ERFC, a)


def _rounding(name: str, ufunc: np.ufunc, op: int, a: Any) -> Any:
    """``ufunc`` of a float array by the kernel; an integer or bool array whose NumPy loop
    keeps its dtype is copied (an integer is its own floor)."""
    loop, result = ew._resolve(name, ufunc, a)
    if loop.kind != "f":
        return ew._unary(name, loop, result, ew.COPY, a)
    return _ufunc(name, ufunc, op, a)


def floor(a: Any, /) -> Any:
    """The largest integer ≤ a (NumPy's ``floor``: NaN and ±inf themselves, −0 for −0);
    integers as they are, in NumPy's dtype; as ``tan`` otherwise."""
    return _rounding("floor", np.floor, FLOOR, a)


def ceil(a: Any, /) -> Any:
    """The smallest integer ≥ a (NumPy's ``ceil``: −0 for −1 < a ≤ −0); as ``floor``."""
    return _rounding("ceil", np.ceil, CEIL, a)


def trunc(a: Any, /) -> Any:
    """a rounded toward 0 (NumPy's ``trunc``); as ``floor``."""
    return _rounding("trunc", np.trunc, TRUNC, a)


def rint(a: Any, /) -> Any:
    """a rounded to the nearest integer, a half to the even one (NumPy's ``rint``: 0.5 → 0,
    1.5 → 2, −2.5 → −2); as ``floor``."""
    return _rounding("rint", np.rint, RINT, a)


def arctan2(a: Any, b: Any, /) -> Any:
    """The angle of the point (b, a), in [−π, π] (NumPy's ``arctan2``: the signs of zeros
    and the infinities as C's atan2), broadcast. a, b: device arrays (bool, int32, int64,
    float32, float64) or Python scalars. Returns a new C-contiguous device array of the
    broadcast shape and NumPy's result dtype. Raises ValueError where the shapes do not
    broadcast, TypeError on complex or other dtypes."""
    return _ufunc("arctan2", np.arctan2, ARCTAN2, a, b)


def hypot(a: Any, b: Any, /) -> Any:
    """√(a² + b²) without overflow or underflow in the squares (NumPy's ``hypot``: inf if
    either is ±inf, even beside NaN); as ``arctan2``."""
    return _ufunc("hypot", np.hypot, HYPOT, a, b)


def logaddexp(a: Any, b: Any, /) -> Any:
    """log(e^a + e^b) without overflow (NumPy's ``logaddexp``: a + log 2 where a = b, so
    inf for two infinities, −inf for two −infinities); as ``arctan2``."""
    return _ufunc("logaddexp", np.logaddexp, LOGADDEXP, a, b)
