"""Element-wise functions of the GPU array namespace (kernels/array_api.py), NumPy's names and
semantics on numba.cuda device arrays: broadcasting, NumPy 2's dtype promotion (NEP 50: a
Python scalar takes the array's dtype where its kind allows), empty and 0-d arrays, strided
views.

Three kernels, one per arity, do all of it: ``unary`` (``negative``, ``exp``, ``log``,
``log1p``, ``expm1`` (docs/math.md E5a), ``tanh``, ``sigmoid`` (E6, ``scalar.sigmoid``),
``softplus`` (E15, the form of ``kernels.reference.softplus``), ``abs``, ``sqrt``, ``sin``,
``cos``, ``erf`` (GELU's, E6b; E31), and the copy behind ``astype``, ``broadcast_to`` and
``full``), ``binary`` (``add``, ``subtract``, ``multiply``,
``divide``, ``power``, ``maximum`` and the six comparisons) and ``ternary`` (``where``). The
operation is an integer op code picked by a short if-chain in the kernel, so one compiled
kernel serves every op of its arity.

Layout: the output is C-contiguous, one flat index per element, visited by a grid-stride
loop (``THREADS`` per block, at most ``MAX_BLOCKS`` blocks). Each operand is passed as a 1-D
view of its memory (from its first element, ``_flat``) with one element stride per output
axis, 0 on an axis it is broadcast along; the kernel unravels the flat output index over
the output's shape and adds index × stride per axis (``blocks.strided_offsets``, one
division per axis for all operands). The shape and strides travel as tuples, kernel
arguments by value (no transfer), after ``_layout`` has dropped the axes of length 1 and
merged neighbouring axes that every operand steps through contiguously (same shapes and
C-contiguous operands make one axis: one division per element).

Dtypes: NumPy chooses the computation (its ufunc loop, ``ufunc.resolve_dtypes``) and the
result; each operand is converted to the loop's dtype in the kernel (``ct``), so the kernels
are compiled per loop dtype (``_kernels``) and, lazily by numba's dispatcher, per operand
array types and number of axes. Supported: bool, int32, int64, float32, float64; a loop in
another dtype (``exp`` of bool is float16 in NumPy, ``power`` of bools int8) and complex
raise TypeError (complex runs on the CPU only). A Python scalar operand becomes a 0-d device
array in the loop dtype (one small transfer), broadcast like any 0-d operand. Negative
strides are refused (numba's device arrays do not support them either).

NaN and infinities as NumPy: ``maximum`` propagates NaN, x / ±0, log(0), log(x < 0),
sqrt(x < 0) and exp of a large x are the IEEE results, spelled out by guards in the kernels
because the simulator runs the kernel body with Python's ``math`` (which raises on them)
and NumPy scalars (which warn). Its + − · and ** are NumPy scalar operations: they warn
where NumPy's do (inf − inf, overflow) and a GPU is silent; the values are the same.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np
from numba import cuda
from numba.cuda.cudadrv import devicearray

from . import arrays
from .blocks import strided_offsets
from .scalar import sigmoid_dev

__all__ = ["THREADS", "MAX_BLOCKS", "add", "subtract", "multiply", "divide", "power",
           "maximum", "negative", "exp", "log", "log1p", "expm1", "tanh", "sigmoid",
           "softplus", "abs", "sqrt", "sin", "cos", "erf", "equal",
           "not_equal", "less", "less_equal", "greater", "greater_equal", "where", "astype",
           "broadcast_to", "full"]

THREADS = 64                         # threads per block
# blocks per launch at most; the grid-stride loop covers the rest (2 in the simulator, which
# runs one OS thread per CUDA thread, so that its small tests still take the loop)
MAX_BLOCKS = 2 if numba.config.ENABLE_CUDASIM else 4096

# the op codes of the unary kernel
(COPY, NEGATIVE, EXP, LOG, TANH, SIGMOID, SOFTPLUS, ABS, SQRT, ERF, SIN, COS, LOG1P,
 EXPM1) = range(14)
# the op codes of the binary kernel (INT_POWER: power of an integer loop)
(ADD, SUBTRACT, MULTIPLY, DIVIDE, POWER, INT_POWER, MAXIMUM, EQUAL, NOT_EQUAL, LESS,
 LESS_EQUAL, GREATER, GREATER_EQUAL) = range(13)

_abs = abs                           # the builtin, which this module's ``abs`` shadows

SUPPORTED = tuple(np.dtype(t) for t in (np.bool_, np.int32, np.int64, np.float32, np.float64))
_SUPPORTED_NAMES = ", ".join(map(str, SUPPORTED))

# the largest x whose exp is finite in the dtype (NumPy's too): above it exp(x) is inf, which
# the kernel returns without computing (the simulator's math.exp would raise OverflowError)
EXP_MAX = {np.dtype(np.float32): 88.72283172607422,     # the float32 below log(FLT_MAX)
           np.dtype(np.float64): 709.782712893384}      # log(DBL_MAX), rounded down


class _Kernels(NamedTuple):
    unary: Any
    binary: Any


def _make_kernels(loop: np.dtype) -> _Kernels:
    """The unary and binary kernels whose operands are converted to ``loop`` (``ct``)."""
    ct = numba.from_dtype(loop)
    exp_max = EXP_MAX.get(loop, 0.0)       # integer loops never take exp (NumPy's is float)

    @cuda.jit
    def unary(op, n, shape, a, sa, out):
        """out[i] = op(a at output index i), for the n elements of out (grid-stride)."""
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            ia, _, _ = strided_offsets(i, shape, sa, sa, sa)
            x = ct(a[ia])
            if op == COPY:
                out[i] = x
            elif op == NEGATIVE:
                out[i] = -x
            elif op == EXP:
                out[i] = ct(math.inf) if x > ct(exp_max) else math.exp(x)
            elif op == LOG:
                if x > 0:
                    out[i] = math.log(x)
                elif x == 0:
                    out[i] = -ct(math.inf)
                else:                                  # x < 0 or NaN
                    out[i] = ct(math.nan)
            elif op == LOG1P:                          # E5a; the guards as LOG's
                if x > ct(-1):
                    out[i] = math.log1p(x)
                elif x == ct(-1):
                    out[i] = -ct(math.inf)
                else:                                  # x < -1 or NaN
                    out[i] = ct(math.nan)
            elif op == EXPM1:                          # E5a; -1 at -inf, as NumPy's
                out[i] = ct(math.inf) if x > ct(exp_max) else math.expm1(x)
            elif op == TANH:
                out[i] = math.tanh(x)
            elif op == SIGMOID:
                out[i] = sigmoid_dev(x, ct(1))         # E6, the stable form
            elif op == SOFTPLUS:                       # E15: e^{-|x|} ≤ 1, never overflows;
                if x >= 0:                             # each result rounded to the loop
                    out[i] = x + ct(math.log1p(ct(math.exp(-x))))  # dtype as NumPy's
                else:                                  # x < 0 or NaN
                    out[i] = ct(math.log1p(ct(math.exp(x))))
            elif op == ABS:
                out[i] = _abs(x)
            elif op == ERF:
                out[i] = math.erf(x)
            elif op == SIN:                            # E30; NaN at ±inf, NumPy's
                out[i] = math.sin(x) if _abs(x) < ct(math.inf) else ct(math.nan)
            elif op == COS:
                out[i] = math.cos(x) if _abs(x) < ct(math.inf) else ct(math.nan)
            else:                                      # SQRT
                out[i] = math.sqrt(x) if x >= 0 else ct(math.nan)

    @cuda.jit
    def binary(op, n, shape, a, sa, b, sb, out):
        """out[i] = op(a, b at output index i), for the n elements of out (grid-stride)."""
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            ia, ib, _ = strided_offsets(i, shape, sa, sb, sb)
            x = ct(a[ia])
            y = ct(b[ib])
            if op == ADD:
                out[i] = x + y
            elif op == SUBTRACT:
                out[i] = x - y
            elif op == MULTIPLY:
                out[i] = x * y
            elif op == DIVIDE:
                if y != 0:
                    out[i] = x / y
                elif x == 0 or x != x:                 # 0 / ±0, NaN / ±0
                    out[i] = ct(math.nan)
                elif (x > 0) == (math.copysign(ct(1), y) > 0):
                    out[i] = ct(math.inf)
                else:
                    out[i] = -ct(math.inf)
            elif op == POWER:
                out[i] = x ** y
            elif op == INT_POWER:                      # y >= 0, checked on the host
                r = ct(1)
                while y > 0:                           # typed constants: no float64 in
                    if y % ct(2) == ct(1):             # the (unused) float32 branch
                        r *= x
                    y //= ct(2)
                    if y > 0:                          # no square past the last bit
                        x *= x
                out[i] = r
            elif op == MAXIMUM:
                out[i] = x if x >= y or x != x else y  # NaN in either operand wins
            elif op == EQUAL:
                out[i] = x == y
            elif op == NOT_EQUAL:
                out[i] = x != y
            elif op == LESS:
                out[i] = x < y
            elif op == LESS_EQUAL:
                out[i] = x <= y
            elif op == GREATER:
                out[i] = x > y
            else:                                      # GREATER_EQUAL
                out[i] = x >= y

    return _Kernels(unary, binary)


@cuda.jit
def _ternary(n, shape, c, sc, a, sa, b, sb, out):
    """where: out = a if c else b, each read through its strides; stored as out's dtype."""
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        ic, ia, ib = strided_offsets(i, shape, sc, sa, sb)
        if c[ic]:
            out[i] = a[ia]
        else:
            out[i] = b[ib]


_KERNELS: dict[np.dtype, _Kernels] = {}


def _kernels(loop: np.dtype) -> _Kernels:
    """The kernels of one loop dtype, made on first use."""
    if loop not in _KERNELS:
        _KERNELS[loop] = _make_kernels(loop)
    return _KERNELS[loop]


# ----------------------------------------------------------------------------------------
# operands, dtypes and layout (host side)

def _is_scalar(x: Any) -> bool:
    return isinstance(x, (bool, int, float, complex, np.generic))


def _check(name: str, x: Any) -> None:
    """A device array of a supported dtype or a real scalar, else TypeError."""
    if not arrays.is_device(x) and not _is_scalar(x):
        raise TypeError(f"{name}: expected a numba.cuda device array or a Python scalar, got "
                        f"{type(x).__name__} (move host data with arrays.to_device first)")
    dtype = np.dtype(x.dtype) if hasattr(x, "dtype") else np.dtype(type(x))
    if dtype.kind == "c":
        raise TypeError(f"{name}: complex operands run on the CPU only (NumPy namespace)")
    if arrays.is_device(x) and dtype not in SUPPORTED:
        raise TypeError(f"{name}: a device array of {dtype}; the GPU kernels support "
                        f"{_SUPPORTED_NAMES}")


def _array(name: str, x: Any) -> Any:
    """A device array as it is, a scalar as a 0-d device array of its NumPy dtype."""
    _check(name, x)
    return x if arrays.is_device(x) else _device(x, np.asarray(x).dtype)


def _loop_type(x: Any) -> Any:
    """What ``ufunc.resolve_dtypes`` takes for an operand: a Python int or float stays a
    weak type (NEP 50), a bool is the bool dtype, an array or NumPy scalar its dtype."""
    if isinstance(x, (bool, np.generic)) or arrays.is_device(x):     # np.float64 is a float
        return np.dtype(type(x) if isinstance(x, bool) else x.dtype)
    return type(x)


def _resolve(name: str, ufunc: np.ufunc, *operands: Any) -> tuple[np.dtype, np.dtype]:
    """(loop dtype, result dtype) of ``ufunc`` on the operands, as NumPy chooses them;
    TypeError where NumPy has no loop or its loop is not in ``SUPPORTED``."""
    for x in operands:
        _check(name, x)
    types = [_loop_type(x) for x in operands]
    if all(isinstance(t, type) for t in types):        # Python scalars alone: NumPy's defaults
        types = [np.dtype(t) for t in types]
    try:
        dtypes = ufunc.resolve_dtypes((*types, None))
    except TypeError as e:
        raise TypeError(f"{name}: {e}") from None
    loop, result = dtypes[0], dtypes[-1]
    if loop not in SUPPORTED or result not in SUPPORTED:
        described = " and ".join(str(np.dtype(t)) for t in types)
        raise TypeError(f"{name}: NumPy computes {described} in {loop} giving {result}; the GPU "
                        f"kernels support {_SUPPORTED_NAMES}: cast first")
    return loop, result


def _device(x: Any, dtype: np.dtype) -> Any:
    """A device operand: a device array as it is, a scalar as a 0-d array of ``dtype``."""
    if arrays.is_device(x):
        return x
    return cuda.to_device(np.asarray(x, dtype=dtype))  # (arrays.to_device makes 0-d 1-d)


def _broadcast_shape(name: str, *operands: Any) -> tuple[int, ...]:
    shapes = [tuple(x.shape) for x in operands]
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        listed = ", ".join(map(str, shapes[:-1])) + f" and {shapes[-1]}"
        raise ValueError(f"{name}: shapes {listed} cannot be broadcast together") from None


def _strides(name: str, x: Any, shape: tuple[int, ...]) -> list[int]:
    """x's element strides against the output ``shape`` (0 on broadcast and new axes)."""
    itemsize = x.dtype.itemsize
    if any(s < 0 and n > 1 for n, s in zip(x.shape, x.strides)):
        raise ValueError(f"{name}: an operand has negative strides {tuple(x.strides)}, which "
                         f"numba's device arrays do not support on a GPU")
    own = [0 if n == 1 else s // itemsize for n, s in zip(x.shape, x.strides)]
    return [0] * (len(shape) - len(own)) + own


def _layout(shape: tuple[int, ...], strides: list[list[int]]
            ) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """The kernel's shape and per-operand strides: axes of length 1 dropped, neighbours
    merged where every operand's outer stride is its inner stride times the inner length
    (the output, C-contiguous, always is). At least one axis (a 0-d output: (1,))."""
    kept: list[int] = []
    merged: list[list[int]] = [[] for _ in strides]
    for d, n in enumerate(shape):
        if n == 1:
            continue
        if kept and all(st[-1] == s[d] * n for st, s in zip(merged, strides)):
            kept[-1] *= n
            for st, s in zip(merged, strides):
                st[-1] = s[d]
        else:
            kept.append(n)
            for st, s in zip(merged, strides):
                st.append(s[d])
    if not kept:
        return (1,), [(0,) for _ in strides]
    return tuple(kept), [tuple(st) for st in merged]


def _flat(x: Any) -> Any:
    """A 1-D view of x's memory from its first element to its last (non-negative strides),
    which the kernels index with element offsets."""
    itemsize = x.dtype.itemsize
    span = 1 + sum((n - 1) * (s // itemsize) for n, s in zip(x.shape, x.strides))
    if numba.config.ENABLE_CUDASIM:            # the simulator's arrays wrap a NumPy array
        return type(x)(np.lib.stride_tricks.as_strided(x._ary, (span,), (itemsize,)))
    return devicearray.DeviceNDArray((span,), (itemsize,), x.dtype, gpu_data=x.gpu_data)


def _run(name: str, kernel: Any, op: int | None, shape: tuple[int, ...], operands: list[Any],
         result: np.dtype) -> Any:
    """A new (shape) array of ``result``, written by ``kernel`` from the operands (device
    arrays whose shapes broadcast to ``shape``)."""
    out = arrays.empty(shape, result)
    n = math.prod(shape)
    if n == 0:
        return out
    kshape, kstrides = _layout(shape, [_strides(name, x, shape) for x in operands])
    args: list[Any] = [kshape]
    for x, st in zip(operands, kstrides):
        args += [_flat(x), st]
    args.append(_flat(out))
    threads = min(THREADS, n)
    grid = (min((n + threads - 1) // threads, MAX_BLOCKS), threads)
    if op is None:
        kernel[grid](n, *args)
    else:
        kernel[grid](op, n, *args)
    return out


# ----------------------------------------------------------------------------------------
# the functions

def _unary(name: str, loop: np.dtype, result: np.dtype, op: int, a: Any) -> Any:
    """op(a) computed in ``loop``, a new array of ``result``."""
    a = _device(a, loop)
    return _run(name, _kernels(loop).unary, op, tuple(a.shape), [a], result)


def _binary(name: str, loop: np.dtype, result: np.dtype, op: int, a: Any, b: Any) -> Any:
    """op(a, b) broadcast, computed in ``loop``, a new array of ``result``."""
    a, b = _device(a, loop), _device(b, loop)
    shape = _broadcast_shape(name, a, b)
    return _run(name, _kernels(loop).binary, op, shape, [a, b], result)


def _ufunc(name: str, ufunc: np.ufunc, op: int, *operands: Any) -> Any:
    """The unary or binary kernel doing ``op`` where NumPy calls ``ufunc``."""
    loop, result = _resolve(name, ufunc, *operands)
    if len(operands) == 1:
        return _unary(name, loop, result, op, operands[0])
    return _binary(name, loop, result, op, *operands)


def add(a: Any, b: Any, /) -> Any:
    """a + b, broadcast (NumPy's ``add``; on bools: or). a, b: device arrays (bool, int32,
    int64, float32, float64) or Python scalars. Returns a new C-contiguous device array of
    the broadcast shape and NumPy's result dtype. Raises ValueError where the shapes do not
    broadcast, TypeError on complex or other dtypes."""
    return _ufunc("add", np.add, ADD, a, b)


def subtract(a: Any, b: Any, /) -> Any:
    """a − b, broadcast (NumPy's ``subtract``: TypeError on two bools); as ``add``."""
    return _ufunc("subtract", np.subtract, SUBTRACT, a, b)


def multiply(a: Any, b: Any, /) -> Any:
    """a · b, broadcast (NumPy's ``multiply``; on bools: and); as ``add``."""
    return _ufunc("multiply", np.multiply, MULTIPLY, a, b)


def divide(a: Any, b: Any, /) -> Any:
    """a / b, broadcast (NumPy's ``true_divide``: integers and bools divide as float64;
    x / ±0 is ±inf, 0 / 0 NaN); as ``add``."""
    return _ufunc("divide", np.true_divide, DIVIDE, a, b)


def power(a: Any, b: Any, /) -> Any:
    """a ** b, broadcast (NumPy's ``power``); as ``add``. Integer powers are exact (by
    squaring, wrapping around as NumPy's do); a negative integer exponent raises ValueError
    as in NumPy, found on the host (an integer exponent array is copied there to look)."""
    loop, result = _resolve("power", np.power, a, b)
    if loop.kind == "f":
        return _binary("power", loop, result, POWER, a, b)
    exponent = b.copy_to_host() if arrays.is_device(b) else np.asarray(b)
    if exponent.size and exponent.min() < 0:
        raise ValueError("power: integers to negative integer powers are not allowed "
                         "(as in NumPy); make the base float")
    return _binary("power", loop, result, INT_POWER, a, b)


def maximum(a: Any, b: Any, /) -> Any:
    """The element-wise maximum, broadcast (NumPy's ``maximum``: NaN in either operand gives
    NaN); as ``add``."""
    return _ufunc("maximum", np.maximum, MAXIMUM, a, b)


def equal(a: Any, b: Any, /) -> Any:
    """a == b, broadcast, a bool device array (NumPy's ``equal``); as ``add``."""
    return _ufunc("equal", np.equal, EQUAL, a, b)


def not_equal(a: Any, b: Any, /) -> Any:
    """a != b, broadcast, bool (NumPy's ``not_equal``: True where either is NaN)."""
    return _ufunc("not_equal", np.not_equal, NOT_EQUAL, a, b)


def less(a: Any, b: Any, /) -> Any:
    """a < b, broadcast, bool (NumPy's ``less``)."""
    return _ufunc("less", np.less, LESS, a, b)


def less_equal(a: Any, b: Any, /) -> Any:
    """a <= b, broadcast, bool (NumPy's ``less_equal``)."""
    return _ufunc("less_equal", np.less_equal, LESS_EQUAL, a, b)


def greater(a: Any, b: Any, /) -> Any:
    """a > b, broadcast, bool (NumPy's ``greater``)."""
    return _ufunc("greater", np.greater, GREATER, a, b)


def greater_equal(a: Any, b: Any, /) -> Any:
    """a >= b, broadcast, bool (NumPy's ``greater_equal``)."""
    return _ufunc("greater_equal", np.greater_equal, GREATER_EQUAL, a, b)


def negative(a: Any, /) -> Any:
    """−a: a new C-contiguous device array of a's shape and dtype (NumPy's ``negative``).
    Raises TypeError on bool (as NumPy), complex or other dtypes."""
    return _ufunc("negative", np.negative, NEGATIVE, a)


def exp(a: Any, /) -> Any:
    """e^a, a new device array of a's shape (NumPy's ``exp``: float32 stays float32,
    integers give float64; inf above the dtype's largest finite result). Raises TypeError
    on bool (float16 in NumPy), complex or other dtypes."""
    return _ufunc("exp", np.exp, EXP, a)


def log(a: Any, /) -> Any:
    """ln a (NumPy's ``log``: log 0 = −inf, log of a negative number NaN); as ``exp``."""
    return _ufunc("log", np.log, LOG, a)


def log1p(a: Any, /) -> Any:
    """ln(1 + a), accurate for small a (NumPy's ``log1p``: −inf at −1, NaN below; docs/math.md
    E5a); as ``exp``."""
    return _ufunc("log1p", np.log1p, LOG1P, a)


def expm1(a: Any, /) -> Any:
    """e^a − 1, accurate for small a (NumPy's ``expm1``: −1 at −inf, inf above the dtype's
    largest finite result; E5a); as ``exp``."""
    return _ufunc("expm1", np.expm1, EXPM1, a)


def tanh(a: Any, /) -> Any:
    """tanh a (NumPy's ``tanh``); as ``exp``."""
    return _ufunc("tanh", np.tanh, TANH, a)


def sigmoid(a: Any, /) -> Any:
    """σ(a) = 1 / (1 + e^{−a}) in the stable form of ``scalar.sigmoid`` (docs/math.md E6),
    as ``kernels.reference.sigmoid``; dtypes as ``exp``."""
    return _ufunc("sigmoid", np.exp, SIGMOID, a)


def softplus(a: Any, /) -> Any:
    """softplus(a) = log(1 + e^a) without overflow (docs/math.md E15), as
    ``kernels.reference.softplus``: a + log1p(e^{−a}) for a ≥ 0, else log1p(e^a) (NaN for
    NaN, +inf for +inf, 0 for −inf); dtypes as ``exp``."""
    return _ufunc("softplus", np.exp, SOFTPLUS, a)


def abs(a: Any, /) -> Any:
    """|a| of a's shape and dtype (NumPy's ``absolute``; bool is copied). Raises TypeError on
    complex or other dtypes."""
    loop, result = _resolve("abs", np.absolute, a)
    return _unary("abs", loop, result, COPY if loop.kind == "b" else ABS, a)


def sqrt(a: Any, /) -> Any:
    """√a (NumPy's ``sqrt``: NaN below 0, −0 for −0); as ``exp``."""
    return _ufunc("sqrt", np.sqrt, SQRT, a)


def sin(a: Any, /) -> Any:
    """sin a (NumPy's ``sin``: NaN at ±inf and NaN); as ``exp``."""
    return _ufunc("sin", np.sin, SIN, a)


def cos(a: Any, /) -> Any:
    """cos a (NumPy's ``cos``: NaN at ±inf and NaN); as ``exp``."""
    return _ufunc("cos", np.cos, COS, a)


def erf(a: Any, /) -> Any:
    """The error function erf a = (2/√π) ∫_0^a e^{−t²} dt (scipy.special's ``erf``; GELU's
    Φ, docs/math.md E6b); dtypes as ``exp``."""
    return _ufunc("erf", np.exp, ERF, a)


def where(cond: Any, a: Any, b: Any, /) -> Any:
    """a where cond else b, the three broadcast together (NumPy's ``where``; cond read as
    truth values: nonzero, NaN true). Returns a new device array of NumPy's
    ``result_type`` of a and b (a Python scalar weak, NEP 50). Raises ValueError where the
    shapes do not broadcast, TypeError on complex or other dtypes."""
    for x in (cond, a, b):
        _check("where", x)
    result = np.result_type(*(x if isinstance(_loop_type(x), type) else _loop_type(x)
                              for x in (a, b)))         # a Python int or float weak
    if result not in SUPPORTED:
        raise TypeError(f"where: the result would be {result}; the GPU kernels support "
                        f"{_SUPPORTED_NAMES}: cast first")
    operands = [_device(cond, np.dtype(np.bool_)), _device(a, result), _device(b, result)]
    shape = _broadcast_shape("where", *operands)
    return _run("where", _ternary, None, shape, operands, result)


def astype(a: Any, dtype: Any) -> Any:
    """a converted to ``dtype`` as NumPy's ``astype`` (float to integer truncates, to bool
    is x != 0): a new C-contiguous device array of a's shape, or a itself when it has that
    dtype already (NumPy's copy=False). Raises TypeError on complex or other dtypes."""
    a = _array("astype", a)
    dtype = np.dtype(dtype)
    if dtype not in SUPPORTED:
        raise TypeError(f"astype: {a.dtype} to {dtype}; the GPU kernels support "
                        f"{_SUPPORTED_NAMES}")
    if a.dtype == dtype:
        return a
    return _unary("astype", np.dtype(a.dtype), dtype, COPY, a)


def broadcast_to(a: Any, shape: int | tuple[int, ...]) -> Any:
    """a broadcast to ``shape`` (NumPy's ``broadcast_to``), materialised: a new C-contiguous
    device array of a's dtype, where NumPy returns a read-only view (the copy costs memory,
    and spares the kernels downstream reading stride-0 operands). Raises ValueError where
    a's shape does not broadcast to ``shape``."""
    a = _array("broadcast_to", a)
    shape = (shape,) if isinstance(shape, int) else tuple(int(n) for n in shape)
    own = tuple(a.shape)
    if len(own) > len(shape) or any(m not in (1, n) for m, n in zip(own[::-1], shape[::-1])):
        raise ValueError(f"broadcast_to: shape {own} cannot be broadcast to {shape}")
    dtype = np.dtype(a.dtype)
    return _run("broadcast_to", _kernels(dtype).unary, COPY, shape, [a], dtype)


def full(shape: int | tuple[int, ...], value: Any, dtype: Any = None) -> Any:
    """A new device array of ``shape`` filled with the scalar ``value`` converted to ``dtype``
    (NumPy's ``full``; dtype None: the value's own). Raises TypeError on a value that is not
    a real scalar, and on complex or other dtypes."""
    if not _is_scalar(value):
        raise TypeError(f"full: the value is a scalar, got {type(value).__name__}")
    _check("full", value)
    dtype = np.asarray(value).dtype if dtype is None else np.dtype(dtype)
    if dtype not in SUPPORTED:
        raise TypeError(f"full: {dtype}; the GPU kernels support {_SUPPORTED_NAMES}")
    shape = (shape,) if isinstance(shape, int) else tuple(int(n) for n in shape)
    filler = _device(value, dtype)
    return _run("full", _kernels(dtype).unary, COPY, shape, [filler], dtype)
