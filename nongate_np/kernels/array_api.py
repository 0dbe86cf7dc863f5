"""The array functions the primitive ops need, one namespace per device (issue 14's seam).

A primitive op (``ops/``) asks its tensors' device for an :class:`ArrayFunctions`
namespace and calls it instead of NumPy: :data:`NUMPY` serves the CPU (each function is
NumPy's, so results are NumPy's bit for bit), the namespace of the ``kernels.cuda``
package the GPU (numba.cuda kernels on device arrays). The set is the small one the ops
use, with NumPy's names, arguments and results (broadcasting, dtype promotion, empty
dimensions), so a reader who knows NumPy knows it:

- creation and transfer: ``asarray`` (host data or a scalar onto the device), ``to_host``,
  ``empty``, ``zeros``, ``full``, ``copy``; ``copyto`` (into an array of the device, in
  place: the one way to overwrite one, as a GPU's device arrays refuse ``a[...] = v``);
- element-wise with broadcasting (a Python scalar may stand for either operand):
  ``add``, ``subtract``, ``multiply``, ``divide``, ``power``, ``maximum``, ``negative``,
  ``exp``, ``log``, ``log1p``, ``expm1`` (E5a), ``tanh``, ``sigmoid`` (docs/math.md E6),
  ``softplus`` (E15), ``abs``, ``sqrt``, ``sin``, ``cos`` (E30), ``erf`` (scipy.special's;
  GELU's Φ, E6b, E31); ``tan``, ``arctan``, ``arcsin``, ``arccos`` (E32), ``sinh``,
  ``cosh``, ``arcsinh``, ``arccosh``, ``arctanh`` (E33), ``log2``, ``log10``, ``exp2``,
  ``erfc`` (scipy.special's; E34), ``floor``, ``ceil``, ``trunc``, ``rint`` (E36), and of
  two operands ``arctan2``, ``hypot``, ``logaddexp`` (E34, E35); the
  comparisons ``equal``, ``not_equal``, ``less``, ``less_equal``, ``greater``,
  ``greater_equal`` (bool results); ``where``; ``astype``;
- reductions over axes (a tuple of non-negative axes, or None for all): ``sum``, ``max``;
  ``softmax`` and ``log_softmax`` along one axis (E11-E12);
- ``matmul`` (NumPy's, batch dimensions broadcast);
- layout: ``reshape``, ``transpose`` (axes given), ``broadcast_to``, ``concatenate``,
  ``stack``, ``getitem`` (basic indexing: ints, slices, None, Ellipsis);
- indexing by integer arrays: ``take`` (gather along an axis), ``take_along_axis``,
  ``add_at`` (scatter-add along axis 0, in place: the embedding's backward).

Arrays are the device's own type (``np.ndarray`` here); dtypes float32, float64, bool and
int64 on every device, complex128 on the CPU only (complex-step checks).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import numpy as np
from scipy.special import erf as _erf
from scipy.special import erfc as _erfc

from .reference import log_softmax as _log_softmax
from .reference import sigmoid as _sigmoid
from .reference import softmax as _softmax
from .reference import softplus as _softplus

__all__ = ["ArrayFunctions", "NumPyFunctions", "NUMPY", "Casting"]

Axes = tuple[int, ...] | None
Casting = Literal["no", "equiv", "safe", "same_kind", "unsafe"]     # NumPy's casting rules


class ArrayFunctions(Protocol):
    """The namespace of array functions of one device; each as NumPy's function of that
    name (see the module docstring), the element-wise ones taking their arrays positionally
    as NumPy's ufuncs do. ``Any`` stands for the device's array type."""

    name: str

    # creation and transfer
    def asarray(self, data: Any, dtype: Any = None) -> Any: ...
    def to_host(self, a: Any) -> np.ndarray: ...
    def empty(self, shape: tuple[int, ...], dtype: Any) -> Any: ...
    def zeros(self, shape: tuple[int, ...], dtype: Any) -> Any: ...
    def full(self, shape: tuple[int, ...], value: float, dtype: Any) -> Any: ...
    def copy(self, a: Any) -> Any: ...
    def copyto(self, dst: Any, src: Any, casting: Casting = "same_kind") -> None: ...

    # element-wise, broadcasting
    def add(self, a: Any, b: Any, /) -> Any: ...
    def subtract(self, a: Any, b: Any, /) -> Any: ...
    def multiply(self, a: Any, b: Any, /) -> Any: ...
    def divide(self, a: Any, b: Any, /) -> Any: ...
    def power(self, a: Any, b: Any, /) -> Any: ...
    def maximum(self, a: Any, b: Any, /) -> Any: ...
    def negative(self, a: Any, /) -> Any: ...
    def exp(self, a: Any, /) -> Any: ...
    def log(self, a: Any, /) -> Any: ...
    def log1p(self, a: Any, /) -> Any: ...
    def expm1(self, a: Any, /) -> Any: ...
    def tanh(self, a: Any, /) -> Any: ...
    def sigmoid(self, a: Any, /) -> Any: ...
    def softplus(self, a: Any, /) -> Any: ...
    def abs(self, a: Any, /) -> Any: ...
    def sqrt(self, a: Any, /) -> Any: ...
    def sin(self, a: Any, /) -> Any: ...
    def cos(self, a: Any, /) -> Any: ...
    def erf(self, a: Any, /) -> Any: ...
    def tan(self, a: Any, /) -> Any: ...
    def arctan(self, a: Any, /) -> Any: ...
    def arcsin(self, a: Any, /) -> Any: ...
    def arccos(self, a: Any, /) -> Any: ...
    def sinh(self, a: Any, /) -> Any: ...
    def cosh(self, a: Any, /) -> Any: ...
    def arcsinh(self, a: Any, /) -> Any: ...
    def arccosh(self, a: Any, /) -> Any: ...
    def arctanh(self, a: Any, /) -> Any: ...
    def log2(self, a: Any, /) -> Any: ...
    def log10(self, a: Any, /) -> Any: ...
    def exp2(self, a: Any, /) -> Any: ...
    def erfc(self, a: Any, /) -> Any: ...
    def floor(self, a: Any, /) -> Any: ...
    def ceil(self, a: Any, /) -> Any: ...
    def trunc(self, a: Any, /) -> Any: ...
    def rint(self, a: Any, /) -> Any: ...
    def arctan2(self, a: Any, b: Any, /) -> Any: ...
    def hypot(self, a: Any, b: Any, /) -> Any: ...
    def logaddexp(self, a: Any, b: Any, /) -> Any: ...
    def equal(self, a: Any, b: Any, /) -> Any: ...
    def not_equal(self, a: Any, b: Any, /) -> Any: ...
    def less(self, a: Any, b: Any, /) -> Any: ...
    def less_equal(self, a: Any, b: Any, /) -> Any: ...
    def greater(self, a: Any, b: Any, /) -> Any: ...
    def greater_equal(self, a: Any, b: Any, /) -> Any: ...
    def where(self, cond: Any, a: Any, b: Any, /) -> Any: ...
    def astype(self, a: Any, dtype: Any) -> Any: ...

    # reductions
    def sum(self, a: Any, axis: Axes = None, keepdims: bool = False) -> Any: ...
    def max(self, a: Any, axis: Axes = None, keepdims: bool = False) -> Any: ...
    def softmax(self, a: Any, axis: int = -1) -> Any: ...
    def log_softmax(self, a: Any, axis: int = -1) -> Any: ...

    # products
    def matmul(self, a: Any, b: Any, /) -> Any: ...

    # layout
    def reshape(self, a: Any, shape: tuple[int, ...]) -> Any: ...
    def transpose(self, a: Any, axes: tuple[int, ...]) -> Any: ...
    def broadcast_to(self, a: Any, shape: tuple[int, ...]) -> Any: ...
    def concatenate(self, arrays: list[Any], axis: int = 0) -> Any: ...
    def stack(self, arrays: list[Any], axis: int = 0) -> Any: ...
    def getitem(self, a: Any, index: Any) -> Any: ...

    # indexing by integer arrays
    def take(self, a: Any, indices: Any, axis: int = 0) -> Any: ...
    def take_along_axis(self, a: Any, indices: Any, axis: int) -> Any: ...
    def add_at(self, a: Any, indices: Any, values: Any) -> None: ...


class NumPyFunctions:
    """:class:`ArrayFunctions` on the CPU: NumPy's own functions (and the reference
    kernels' sigmoid, softplus and softmax, docs/math.md E6, E15, E11-E12; scipy.special's
    erf and erfc)."""

    name = "cpu"

    def asarray(self, data: Any, dtype: Any = None) -> np.ndarray:
        return np.asarray(data, dtype=dtype)

    def to_host(self, a: Any) -> np.ndarray:
        return np.asarray(a)

    def empty(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return np.empty(shape, dtype)

    def zeros(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return np.zeros(shape, dtype)

    def full(self, shape: tuple[int, ...], value: float, dtype: Any) -> np.ndarray:
        return np.full(shape, value, dtype)

    def copy(self, a: Any) -> np.ndarray:
        return np.array(a, copy=True)

    def copyto(self, dst: Any, src: Any, casting: Casting = "same_kind") -> None:
        np.copyto(dst, src, casting=casting)

    add = staticmethod(np.add)
    subtract = staticmethod(np.subtract)
    multiply = staticmethod(np.multiply)
    divide = staticmethod(np.true_divide)
    power = staticmethod(np.power)
    maximum = staticmethod(np.maximum)
    negative = staticmethod(np.negative)
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    log1p = staticmethod(np.log1p)
    expm1 = staticmethod(np.expm1)
    tanh = staticmethod(np.tanh)
    sigmoid = staticmethod(_sigmoid)
    softplus = staticmethod(_softplus)
    abs = staticmethod(np.abs)
    sqrt = staticmethod(np.sqrt)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    erf = staticmethod(_erf)
    tan = staticmethod(np.tan)
    arctan = staticmethod(np.arctan)
    arcsin = staticmethod(np.arcsin)
    arccos = staticmethod(np.arccos)
    sinh = staticmethod(np.sinh)
    cosh = staticmethod(np.cosh)
    arcsinh = staticmethod(np.arcsinh)
    arccosh = staticmethod(np.arccosh)
    arctanh = staticmethod(np.arctanh)
    log2 = staticmethod(np.log2)
    log10 = staticmethod(np.log10)
    exp2 = staticmethod(np.exp2)
    erfc = staticmethod(_erfc)
    floor = staticmethod(np.floor)
    ceil = staticmethod(np.ceil)
    trunc = staticmethod(np.trunc)
    rint = staticmethod(np.rint)
    arctan2 = staticmethod(np.arctan2)
    hypot = staticmethod(np.hypot)
    logaddexp = staticmethod(np.logaddexp)
    equal = staticmethod(np.equal)
    not_equal = staticmethod(np.not_equal)
    less = staticmethod(np.less)
    less_equal = staticmethod(np.less_equal)
    greater = staticmethod(np.greater)
    greater_equal = staticmethod(np.greater_equal)
    where = staticmethod(np.where)

    def astype(self, a: Any, dtype: Any) -> np.ndarray:
        a = np.asarray(a)
        if a.dtype.kind == "c" and np.dtype(dtype).kind != "c":
            # NOTE: a real weight's gradient through a complex step (complex input, real
            # weights) is its real part, as the cast gives it, without NumPy's ComplexWarning
            a = a.real
        if a.dtype.kind == "f" and np.dtype(dtype).itemsize < a.dtype.itemsize:
            # a value beyond the narrower float's range becomes ±inf (IEEE, as torch's .to)
            with np.errstate(over="ignore"):
                return a.astype(dtype)
        return a.astype(dtype, copy=False)

    # NOTE: the ndarray methods where an array is given: the same results as np.sum etc.,
    # without their dispatch (about a microsecond a call, per op at small sizes)
    def sum(self, a: Any, axis: Axes = None, keepdims: bool = False) -> np.ndarray:
        return np.asarray(a).sum(axis=axis, keepdims=keepdims)

    def max(self, a: Any, axis: Axes = None, keepdims: bool = False) -> np.ndarray:
        return np.asarray(a).max(axis=axis, keepdims=keepdims)

    # NOTE: x - max x may overflow to -inf (entries ±3e38 in float32), whose e^{-inf} = 0 is
    # the right limit; a row of -inf gives NaN, as torch: IEEE results, without NumPy's warning
    def softmax(self, a: Any, axis: int = -1) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return _softmax(a, axis)

    def log_softmax(self, a: Any, axis: int = -1) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return _log_softmax(a, axis)

    matmul = staticmethod(np.matmul)

    def reshape(self, a: Any, shape: tuple[int, ...]) -> np.ndarray:
        return np.asarray(a).reshape(shape)

    def transpose(self, a: Any, axes: tuple[int, ...]) -> np.ndarray:
        return np.asarray(a).transpose(axes)

    def broadcast_to(self, a: Any, shape: tuple[int, ...]) -> np.ndarray:
        a = np.asarray(a)
        if a.size == 1 and a.ndim <= len(shape) and not a.dtype.hasobject:
            # NOTE: one value (the gradient of a full sum) as a read-only view with zero
            # strides, made directly: np.broadcast_to's checks cost a small step a few µs
            view = np.ndarray(shape, a.dtype, a, 0, (0,) * len(shape))
            view.flags.writeable = False
            return view
        return np.broadcast_to(a, shape)

    def concatenate(self, arrays: list[Any], axis: int = 0) -> np.ndarray:
        return np.concatenate(arrays, axis=axis)

    def stack(self, arrays: list[Any], axis: int = 0) -> np.ndarray:
        return np.stack(arrays, axis=axis)

    def getitem(self, a: Any, index: Any) -> np.ndarray:
        return a[index]

    def take(self, a: Any, indices: Any, axis: int = 0) -> np.ndarray:
        return np.take(a, indices, axis=axis)

    def take_along_axis(self, a: Any, indices: Any, axis: int) -> np.ndarray:
        return np.take_along_axis(a, indices, axis=axis)

    def add_at(self, a: Any, indices: Any, values: Any) -> None:
        np.add.at(a, indices, values)


NUMPY: ArrayFunctions = NumPyFunctions()
