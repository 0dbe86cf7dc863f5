"""Input validation shared by the sequence modules: each error names the argument, what
was expected and what was given. (The step masks and lengths are the ops' to check:
``ops.attention.step_mask``, ``ops._util.check_lengths``.)"""

from __future__ import annotations

import numpy as np

from ..device import CPU, DeviceError, device_of, move
from ..tensor import Tensor, as_array


def complex_step_pair(given: np.dtype, expected: np.dtype) -> bool:
    """Whether ``given`` and ``expected`` differ only as a complex-step check makes them:
    one complex, the other floating, of one precision (complex128 and float64)."""
    return given != expected and given.kind in "fc" and expected.kind in "fc" \
        and np.result_type(given, 1j) == np.result_type(expected, 1j)


# torch's method that converts a tensor to a dtype, by dtype (``x.float()``)
_TORCH_CONVERSIONS = {"float32": "float", "float64": "double", "float16": "half",
                      "complex64": "cfloat", "complex128": "cdouble"}


def _conversion(x, arg: str, dtype: np.dtype) -> str:
    """The code that converts ``x`` (the argument ``arg``) to ``dtype``: for a torch tensor
    torch's method and ``.to(torch.<dtype>)`` (a torch tensor has no ``astype``), for a
    Tensor of this library or an array ``astype``."""
    if type(x).__module__.partition(".")[0] == "torch":
        method = _TORCH_CONVERSIONS.get(dtype.name)
        to = f"{arg}.to(torch.{dtype.name})"
        return f"{arg}.{method}() or {to}" if method else to
    return f"{arg}.astype(np.{dtype})"


def check_features(where: str, arg: str, x, dtype: np.dtype, size: int, ndims: tuple | None,
                   layout: str, size_name: str = "input_size", device=None) -> Tensor:
    """``x`` (the argument ``arg``) as a Tensor with the module's floating dtype, ``ndims``
    dimensions (None: any from 1 up) and ``size`` features (the module's ``size_name``) on
    the last axis; TypeError for another dtype (as torch, which refuses float64 input to a
    float32 module), ValueError for another shape. Nested lists (which have no dtype of
    their own) are converted to that dtype; complex input with parameters of its precision,
    or the reverse (complex128 and float64), is taken as it is, for complex-step gradient
    checks (docs/math.md G2). With ``device`` (the module's), a host array is moved there;
    a Tensor elsewhere, or a GPU array given to a module on the CPU, is a DeviceError naming
    ``where``, as torch refuses them."""
    if x is None:
        raise TypeError(f"{where}: {arg} must be an array of {dtype} features, got None")
    if isinstance(x, Tensor) or hasattr(x, "dtype"):
        data = x.data if isinstance(x, Tensor) else as_array(x, what=f"{where}: {arg}")
    else:
        data = as_array(x, dtype, what=f"{where}: {arg}")
    if device is not None and not isinstance(x, Tensor) and device_of(data) is not CPU \
            and device_of(data) != device:
        raise DeviceError(f"{where}: {arg} is a {device_of(data)} array, the module's "
                          f"parameters on {device}; move the module (.to('cuda')) or the "
                          f"{arg} (copy_to_host())")
    dtype = np.dtype(dtype)
    accepted = (data.dtype == dtype and dtype.kind in "fc") or \
        complex_step_pair(data.dtype, dtype)
    if not accepted and "c" in (data.dtype.kind, dtype.kind) and \
            {data.dtype.kind, dtype.kind} <= {"f", "c"}:
        raise TypeError(f"{where}: {arg} is {data.dtype} and the module's parameters "
                        f"{dtype}: a complex-step check needs both of one precision, "
                        f"float64 for the steps to be exact; convert the module "
                        f"(.to(np.float64)) and {arg}")
    if data.dtype.kind != "f" and not accepted:
        raise TypeError(f"{where}: {arg} must be floating point ({dtype}), got dtype "
                        f"{data.dtype}; convert it, e.g. {_conversion(x, arg, dtype)}")
    if not accepted:
        raise TypeError(f"{where}: {arg} is {data.dtype} but the module's parameters are "
                        f"{dtype}; convert {arg} ({_conversion(x, arg, dtype)}) or the "
                        f"module (.to(np.{data.dtype}))")
    if data.ndim not in (ndims or range(1, 33)):
        raise ValueError(f"{where}: {arg} must be {layout}, got {data.ndim}-D shape "
                         f"{data.shape}")
    if data.shape[-1] != size:
        raise ValueError(f"{where}: {arg} has {data.shape[-1]} features (shape {data.shape}), "
                         f"expected {size_name}={size}")
    if isinstance(x, Tensor):
        if device is not None and x.device != device:
            raise DeviceError(f"{where}: {arg} is on {x.device}, the module's parameters on "
                              f"{device}; move it with {arg}.to('{device}')")
        return x
    return Tensor._wrap(data if device is None else move(data, device))   # checked above

