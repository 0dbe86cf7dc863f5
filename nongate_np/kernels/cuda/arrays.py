"""Device arrays for the CUDA kernels: moving data in and out, allocating results.

A contract function of this backend takes host NumPy arrays or numba.cuda device arrays;
``to_device`` brings either onto the GPU, and ``returned`` gives a result back in the kind
the caller passed (kernels/README.md). Results are allocated by ``empty``, which fills them
with NaN inside ``with poisoned():`` so a test sees any element a kernel failed to write.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

import numba
import numpy as np
from numba import cuda

from .. import gpu

__all__ = ["is_device", "to_device", "to_host", "returned", "empty", "zeros", "poisoned",
           "device_name"]

if numba.config.ENABLE_CUDASIM:
    # The simulator's device arrays give a shape that refuses negative indices (as a shape
    # does inside a kernel), where a real device array's shape, read on the host as the
    # library reads it (``x.shape[-1]``), is a plain tuple: give the host the real
    # behaviour. Kernels are still type-checked for a GPU by the PTX compile tests.
    from numba.cuda.simulator.cudadrv import devicearray as _simulated

    _simulated.FakeShape.__getitem__ = tuple.__getitem__

_poison: contextvars.ContextVar[bool] = contextvars.ContextVar("nongate_cuda_poison",
                                                               default=False)


def device_name() -> str:
    """The current GPU's name as its driver gives it; "CUDA simulator" on the simulator,
    whose devices have none."""
    if gpu.probe().simulator:                   # the target numba.cuda was imported with
        return "CUDA simulator"
    name = cuda.get_current_device().name
    return name.decode(errors="replace") if isinstance(name, bytes) else str(name)


def is_device(a: Any) -> bool:
    """True for a numba.cuda device array (the simulator's too)."""
    return not isinstance(a, np.ndarray) and hasattr(a, "copy_to_host")


def to_device(a: Any, dtype: np.dtype | type) -> Any:
    """``a`` as a device array of ``dtype``: a device array of that dtype as it is, a host
    array made C-contiguous in ``dtype`` and copied over. None stays None."""
    if a is None:
        return None
    dtype = np.dtype(dtype)
    if is_device(a):
        if a.dtype != dtype:
            raise TypeError(f"CUDA kernels: a device array of {a.dtype} where {dtype} is "
                            f"needed; convert it first (device arrays are not cast silently)")
        return a
    return cuda.to_device(np.asarray(a, dtype=dtype, order="C"))   # 0-d stays 0-d


def to_host(a: Any) -> Any:
    """A host NumPy copy of a device array; a host array or None as it is."""
    return a.copy_to_host() if is_device(a) else a


def returned(a: Any, on_device: bool) -> Any:
    """A result in the kind the caller passed: the device array, or a host copy."""
    return a if on_device or a is None else to_host(a)


def empty(shape: int | tuple[int, ...], dtype: np.dtype | type) -> Any:
    """An uninitialised device array (NaN in every element inside ``poisoned()``)."""
    if _poison.get() and np.dtype(dtype).kind == "f":
        return cuda.to_device(np.full(shape, np.nan, dtype))
    return cuda.device_array(shape, dtype)


def zeros(shape: int | tuple[int, ...], dtype: np.dtype | type) -> Any:
    """A device array of zeros."""
    return cuda.to_device(np.zeros(shape, dtype))


@contextlib.contextmanager
def poisoned() -> Iterator[None]:
    """Inside the block ``empty`` returns NaN-filled arrays: a kernel that leaves an element
    of its output unwritten shows it as NaN (the tests' check that every element is
    written)."""
    token = _poison.set(True)
    try:
        yield
    finally:
        _poison.reset(token)
