"""Whether a CUDA GPU is usable here and, if not, why: found without importing numba.cuda.

numba.cuda fixes its target (a real GPU, or the CUDA simulator when NUMBA_ENABLE_CUDASIM=1)
when it is first imported, so this probe asks the CUDA driver directly through ctypes
(``cuInit``, ``cuDeviceGetCount``): the test suite uses it to choose the simulator before
anything imports numba.cuda, and ``nongate-np info`` and the registry use it to say what is
missing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import os
import sys
from typing import NamedTuple

from ..extras import install_hint

__all__ = ["GpuStatus", "probe", "simulator_requested"]

INSTALL_HINT = install_hint("cuda")


class GpuStatus(NamedTuple):
    """``usable``: the CUDA backend can run here; ``reason``: what it runs on, or what is
    missing (no numba-cuda, no driver, no device); ``devices``: the names of the CUDA
    devices the driver reports (none on the simulator); ``simulator``:
    NUMBA_ENABLE_CUDASIM=1."""

    usable: bool
    reason: str
    devices: tuple[str, ...] = ()
    simulator: bool = False


def simulator_requested() -> bool:
    """NUMBA_ENABLE_CUDASIM is set to a true value (numba reads it the same way)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0").strip() not in ("", "0")


def _fixed_target() -> bool | None:
    """Whether numba.cuda, once imported, runs on the simulator (its target is fixed then,
    whatever NUMBA_ENABLE_CUDASIM says later); None before it is imported. Read from the
    module it loaded, not numba.config, which re-reads the variable at every compile."""
    if "numba.cuda" not in sys.modules:
        return None
    return "numba.cuda.simulator_init" in sys.modules


def _driver_names() -> list[str]:
    if sys.platform == "win32":
        return ["nvcuda.dll"]
    if sys.platform == "darwin":
        return []                           # no CUDA driver on macOS since CUDA 10.2
    found = ctypes.util.find_library("cuda")
    return ["libcuda.so.1", "libcuda.so"] + ([found] if found else [])


def _devices() -> tuple[tuple[str, ...], str]:
    """(the devices' names, "") from the driver, or ((), why there are none)."""
    names = _driver_names()
    lib = None
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if lib is None:
        tried = ", ".join(names) or "none on this platform"
        return (), f"no CUDA driver (tried {tried})"
    status = lib.cuInit(0)
    if status != 0:
        return (), f"the CUDA driver did not initialise (cuInit returned {status})"
    count = ctypes.c_int(0)
    status = lib.cuDeviceGetCount(ctypes.byref(count))
    if status != 0:
        return (), f"the CUDA driver could not count devices (cuDeviceGetCount returned {status})"
    if count.value == 0:
        return (), "no CUDA device (the driver reports none)"
    found = []
    for ordinal in range(count.value):
        device, text = ctypes.c_int(0), ctypes.create_string_buffer(256)
        named = lib.cuDeviceGet(ctypes.byref(device), ordinal) == 0 and \
            lib.cuDeviceGetName(text, len(text), device) == 0
        found.append(text.value.decode(errors="replace") if named else f"device {ordinal}")
    return tuple(found), ""


def probe() -> GpuStatus:
    """Whether the CUDA backend can run here, and why (not). Never raises."""
    if importlib.util.find_spec("numba_cuda") is None:
        return GpuStatus(False, f"numba-cuda is not installed ({INSTALL_HINT})")
    fixed = _fixed_target()
    simulator = simulator_requested() if fixed is None else fixed
    late = "" if fixed is None or fixed == simulator_requested() else (
        f" (NUMBA_ENABLE_CUDASIM was {'set' if simulator_requested() else 'unset'} after "
        f"numba.cuda was imported, which fixed its target then: set it before, in the shell "
        f"or at the top of the program)")
    if simulator:
        return GpuStatus(True, "the CUDA simulator (NUMBA_ENABLE_CUDASIM=1): correct, slow, "
                               "for tests" + late, simulator=True)
    devices, why = _devices()
    if not devices:
        return GpuStatus(False, f"{why}: the GPU code needs an NVIDIA GPU and its driver; "
                                f"without one, NUMBA_ENABLE_CUDASIM=1 runs it on numba's "
                                f"CUDA simulator (slow: tiny sizes){late}")
    return GpuStatus(True, "CUDA device found: " + "; ".join(devices) + late, devices=devices)
