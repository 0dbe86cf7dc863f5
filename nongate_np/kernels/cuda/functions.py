"""The GPU's :class:`~nongate_np.kernels.array_api.ArrayFunctions`: the array functions the
primitive ops call on tensors that live on the GPU, gathered from the modules that
implement them (``elementwise``, ``elementwise_math``, ``reduction``, ``layout``,
``arrays``), each as NumPy's function of that name on numba.cuda device arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda

from ..array_api import ArrayFunctions
from . import arrays, elementwise, elementwise_math, layout, reduction

__all__ = ["CudaFunctions", "CUDA_FUNCTIONS"]


class CudaFunctions:
    """:class:`ArrayFunctions` on the GPU (device arrays in, device arrays out)."""

    name = "cuda"

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        """Host data (or a scalar) copied onto the GPU; a device array as it is, cast to
        ``dtype`` if given."""
        if arrays.is_device(data):
            return data if dtype is None else elementwise.astype(data, dtype)
        return cuda.to_device(np.asarray(data, dtype=dtype, order="C"))

    def to_host(self, a: Any) -> np.ndarray:
        return arrays.to_host(a)

    def empty(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return arrays.empty(shape, dtype)

    def zeros(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return arrays.zeros(shape, dtype)

    full = staticmethod(elementwise.full)
    copy = staticmethod(layout.copy)
    copyto = staticmethod(layout.copyto)

    add = staticmethod(elementwise.add)
    subtract = staticmethod(elementwise.subtract)
    multiply = staticmethod(elementwise.multiply)
    divide = staticmethod(elementwise.divide)
    power = staticmethod(elementwise.power)
    maximum = staticmethod(elementwise.maximum)
    negative = staticmethod(elementwise.negative)
    exp = staticmethod(elementwise.exp)
    log = staticmethod(elementwise.log)
    log1p = staticmethod(elementwise.log1p)
    expm1 = staticmethod(elementwise.expm1)
    tanh = staticmethod(elementwise.tanh)
    sigmoid = staticmethod(elementwise.sigmoid)
    softplus = staticmethod(elementwise.softplus)
    abs = staticmethod(elementwise.abs)
    sqrt = staticmethod(elementwise.sqrt)
    sin = staticmethod(elementwise.sin)
    cos = staticmethod(elementwise.cos)
    erf = staticmethod(elementwise.erf)
    tan = staticmethod(elementwise_math.tan)
    arctan = staticmethod(elementwise_math.arctan)
    arcsin = staticmethod(elementwise_math.arcsin)
    arccos = staticmethod(elementwise_math.arccos)
    sinh = staticmethod(elementwise_math.sinh)
    cosh = staticmethod(elementwise_math.cosh)
    arcsinh = staticmethod(elementwise_math.arcsinh)
    arccosh = staticmethod(elementwise_math.arccosh)
    arctanh = staticmethod(elementwise_math.arctanh)
    log2 = staticmethod(elementwise_math.log2)
    log10 = staticmethod(elementwise_math.log10)
    exp2 = staticmethod(elementwise_math.exp2)
    erfc = staticmethod(elementwise_math.erfc)
    floor = staticmethod(elementwise_math.floor)
    ceil = staticmethod(elementwise_math.ceil)
    trunc = staticmethod(elementwise_math.trunc)
    rint = staticmethod(elementwise_math.rint)
    arctan2 = staticmethod(elementwise_math.arctan2)
    hypot = staticmethod(elementwise_math.hypot)
    logaddexp = staticmethod(elementwise_math.logaddexp)
    equal = staticmethod(elementwise.equal)
    not_equal = staticmethod(elementwise.not_equal)
    less = staticmethod(elementwise.less)
    less_equal = staticmethod(elementwise.less_equal)
    greater = staticmethod(elementwise.greater)
    greater_equal = staticmethod(elementwise.greater_equal)
    where = staticmethod(elementwise.where)
    astype = staticmethod(elementwise.astype)
    broadcast_to = staticmethod(elementwise.broadcast_to)

    sum = staticmethod(reduction.sum)
    max = staticmethod(reduction.max)
    softmax = staticmethod(reduction.softmax)
    log_softmax = staticmethod(reduction.log_softmax)

    matmul = staticmethod(layout.matmul)
    reshape = staticmethod(layout.reshape)
    transpose = staticmethod(layout.transpose)
    concatenate = staticmethod(layout.concatenate)
    stack = staticmethod(layout.stack)
    getitem = staticmethod(layout.getitem)
    take = staticmethod(layout.take)
    take_along_axis = staticmethod(layout.take_along_axis)
    add_at = staticmethod(layout.add_at)


CUDA_FUNCTIONS: ArrayFunctions = CudaFunctions()
