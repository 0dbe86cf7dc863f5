"""Devices: where a tensor's array lives, and the array functions the ops call there.

A tensor on the CPU holds a NumPy array, one on the GPU a numba.cuda device array (as
``torch.device``: ``"cpu"``, ``"cuda"``; one GPU, the current one). An op asks its
arguments' device for its :class:`~nongate_np.kernels.array_api.ArrayFunctions` (``xp``):
NumPy on the CPU, the CUDA kernels on the GPU. Moving between devices is explicit
(``Tensor.to``, ``Module.to``, ``Tensor.numpy`` copies to the host); an op given tensors on
two devices raises :class:`DeviceError` naming both.

The module is callable as torch's ``torch.device``: ``nongate_np.device("cuda")`` is
:func:`device` (``import nongate_np.device`` and ``from nongate_np.device import ...`` work
as for any module), and ``isinstance(d, nongate_np.device)`` asks whether ``d`` is a
:class:`Device`.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

import numpy as np

from .kernels import gpu
from .kernels.array_api import NUMPY, ArrayFunctions, Casting

__all__ = ["Device", "DeviceError", "device", "device_or_dtype", "to_arguments", "device_of",
           "move",
           "copy_into", "from_cuda_array", "memo_device_copies", "move_unpickled",
           "CPU", "CUDA"]


class DeviceError(RuntimeError):
    """A device that is not usable here, or tensors of one op on two devices."""


class Device:
    """A device, ``Device("cpu")`` or ``Device("cuda")``; compares equal to its name."""

    __slots__ = ("type",)

    def __init__(self, type: str):
        self.type = type

    def __repr__(self) -> str:
        return f"device(type={self.type!r})"

    def __str__(self) -> str:
        return self.type

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Device):
            return other.type == self.type
        return isinstance(other, str) and other in (self.type, f"{self.type}:0")

    def __hash__(self) -> int:
        return hash(self.type)

    @property
    def index(self) -> int | None:
        """torch's device index: 0 for the GPU (one GPU, the current one), None for the
        CPU."""
        return 0 if self.type == "cuda" else None

    @property
    def xp(self) -> ArrayFunctions:
        """The array functions of this device (:mod:`nongate_np.kernels.array_api`);
        for "cuda" the first use checks that a GPU is usable (:class:`DeviceError`)."""
        return NUMPY if self.type == "cpu" else _cuda_functions()


CPU = Device("cpu")
CUDA = Device("cuda")
_DEVICES = {"cpu": CPU, "cuda": CUDA, "cuda:0": CUDA}


def device(spec: Device | str, index: int | None = None) -> Device:
    """``spec`` ("cpu", "cuda", "cuda:0" or a Device) as a Device, as ``torch.device``
    (also ``device("cuda", 0)``; ``index`` 0 or None, "cpu" None or 0: torch's forms).
    "cuda" names the GPU whether or not one is usable here (a move there says so).
    ValueError for another name or index (one GPU: index 0), TypeError for a spec that is
    not a string or a Device."""
    if index is None:
        if isinstance(spec, Device):
            return spec
        if isinstance(spec, str) and spec in _DEVICES:
            return _DEVICES[spec]
    elif str(spec) in ("cpu", "cuda") and type(index) is int and index == 0:
        return _DEVICES[str(spec)]
    if not isinstance(spec, (str, Device)):
        raise TypeError(f"device: expected a device name such as 'cpu' or 'cuda' (or a "
                        f"Device), got {type(spec).__name__}")
    given = repr(spec) if index is None else f"{str(spec)!r} with index {index!r}"
    raise ValueError(f"unknown device {given}; expected 'cpu' or 'cuda' (one GPU: 'cuda', "
                     f"'cuda:0' or ('cuda', 0), the current one)")


def device_or_dtype(spec: Any, where: str) -> Device | np.dtype:
    """What ``to(spec)`` means: a Device for "cpu", "cuda", "cuda:0" or a Device, else a
    NumPy dtype; ValueError naming both kinds when ``spec`` is neither (``to("gpu")``)."""
    if isinstance(spec, Device) or (isinstance(spec, str) and spec in _DEVICES):
        return device(spec)
    try:
        return np.dtype(spec)
    except TypeError:
        raise ValueError(f"{where}: unknown device or dtype {spec!r}; devices are 'cpu' and "
                         f"'cuda' ('cuda:0'), dtypes such as np.float32 or 'float64'"
                         ) from None



def to_arguments(args: tuple, device_: Any, dtype: Any,
                 where: str) -> tuple[Device | None, np.dtype | None]:
    """What torch's forms of ``to`` ask for, as (the device or None, the dtype or None):
    ``to(device)`` or ``to(dtype)`` (read by :func:`device_or_dtype`), ``to(device,
    dtype)``, ``to(other)`` (a tensor: its device and dtype) and the keywords ``device=``
    and ``dtype=``; None asks for nothing, as torch's ``to(None)``. TypeError for more than
    two positional arguments or a device or dtype given twice; ValueError for an unknown
    device or dtype (``device="gpu"``)."""
    if len(args) > 2:
        raise TypeError(f"{where}: takes a device and a dtype (to(device, dtype)), got "
                        f"{len(args)} positional arguments")
    found: dict[str, Any] = {}

    def put(kind: str, value: Any) -> None:
        if kind in found:
            raise TypeError(f"{where}: the {kind} is given twice ({found[kind]} and {value})")
        found[kind] = value

    for arg in args:
        if arg is None:             # torch's to(None): no change (np.dtype(None) is float64)
            continue
        if not isinstance(arg, (Device, str, np.dtype, type)) and hasattr(arg, "device") \
                and hasattr(arg, "dtype"):             # to(other): a tensor's device, dtype
            put("device", device(arg.device))
            put("dtype", np.dtype(arg.dtype))
            continue
        target = device_or_dtype(arg, where)
        put("device" if isinstance(target, Device) else "dtype", target)
    if device_ is not None:
        if not (isinstance(device_, Device) or (isinstance(device_, str)
                                                and device_ in _DEVICES)):
            raise ValueError(f"{where}: unknown device {device_!r} for device=; expected "
                             f"'cpu' or 'cuda' ('cuda:0')")
        put("device", device(device_))
    if dtype is not None:
        target = device_or_dtype(dtype, where)
        if isinstance(target, Device):
            raise ValueError(f"{where}: dtype= takes a dtype such as np.float32, got the "
                             f"device {dtype!r} (device=)")
        put("dtype", target)
    return found.get("device"), found.get("dtype")


def device_of(array: Any) -> Device:
    """The device an array (or a scalar) lives on: a numba.cuda device array is on "cuda",
    everything else on "cpu"."""
    if type(array) is np.ndarray or isinstance(array, (np.ndarray, np.generic)) or \
            not hasattr(array, "copy_to_host"):
        return CPU
    return CUDA


def move(array: Any, to: Device | str) -> Any:
    """``array`` on the device ``to``: the array itself if it is there already, else a copy
    (host to GPU, GPU to host). DeviceError if ``to`` is "cuda" and no GPU is usable."""
    target, source = device(to), device_of(array)
    if target == source:
        return array
    if target is CPU:
        return source.xp.to_host(array)
    return target.xp.asarray(array)


def copy_into(dest: Any, source: Any, casting: Casting = "same_kind") -> None:
    """Write ``source`` (an array on either device, host data or a scalar) into the array
    ``dest`` in place, on dest's device: ``np.copyto(dest, source, casting=casting)``
    (broadcast to dest's shape, converted to its dtype). Use it, never ``dest[...] = v``,
    for an array that may live on the GPU: numba.cuda's device arrays refuse an Ellipsis
    index on a GPU (the simulator accepts it, so only a real GPU would fail)."""
    where = device_of(dest)
    if where is CPU:
        source = move(source, CPU)      # an explicit copy, not NumPy converting a GPU array
    with np.errstate(over="ignore"):    # NOTE: a float beyond dest's range is ±inf, as torch
        where.xp.copyto(dest, source, casting)


def from_cuda_array(obj: Any) -> Any:
    """A numba.cuda device array viewing ``obj``'s GPU memory without a copy, for any object
    with ``__cuda_array_interface__`` (a PyTorch CUDA tensor, a CuPy array). DeviceError
    where no GPU is usable (the CUDA simulator has no such interface)."""
    _cuda_functions()                   # DeviceError unless "cuda" is usable here
    from numba import cuda
    if not hasattr(cuda, "as_cuda_array"):
        raise DeviceError("__cuda_array_interface__ needs a real GPU; the CUDA simulator "
                          "does not support it")
    return cuda.as_cuda_array(obj)


def memo_device_copies(arrays: Any, memo: dict) -> None:
    """Enter a copy on the GPU of each numba.cuda device array among ``arrays`` (None and host
    arrays are skipped) in a ``copy.deepcopy`` memo, so a deep copy keeps it on the GPU: a
    device array has no deep copy of its own (the simulator's gives its host array)."""
    for arr in arrays:
        if arr is not None and device_of(arr) is not CPU and id(arr) not in memo:
            memo[id(arr)] = device_of(arr).xp.copy(arr)


def move_unpickled(array: Any, to: str, what: str) -> Any:
    """``move(array, to)`` for the host copy of an array pickled on ``to`` (part of ``what``,
    "a tensor", "a Linear"); a DeviceError naming ``.cpu()`` where ``to`` is not usable."""
    try:
        return move(array, to)
    except DeviceError as err:
        raise DeviceError(f"unpickling {what} pickled on {to}: {err}; move it to the CPU "
                          f"with .cpu() before pickling to read it where there is no GPU"
                          ) from None


_cuda: list[ArrayFunctions] = []        # the CUDA namespace, once loaded


def _cuda_functions() -> ArrayFunctions:
    if _cuda:
        return _cuda[0]
    status = gpu.probe()
    if not status.usable:
        raise DeviceError(f"device 'cuda' is not usable here: {status.reason}")
    try:
        module = importlib.import_module("nongate_np.kernels.cuda.functions")
    except ImportError as err:
        raise DeviceError(f"device 'cuda' is not usable here: the GPU array functions do not "
                          f"load ({err})") from err
    _cuda.append(module.CUDA_FUNCTIONS)
    return _cuda[0]


class _CallableModule(types.ModuleType):
    """This module, callable as ``torch.device``: ``nongate_np.device("cuda")`` is
    :func:`device`, and ``isinstance(d, nongate_np.device)`` asks for a :class:`Device`."""

    def __call__(self, type: Device | str, index: int | None = None) -> Device:
        return device(type, index)

    def __instancecheck__(self, obj: object) -> bool:
        return isinstance(obj, Device)


sys.modules[__name__].__class__ = _CallableModule
