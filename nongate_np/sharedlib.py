"""Which loaded shared library holds a function: ``file_of(address)``, through ``dladdr``.

Used to name the BLAS the kernels' products call (``kernels/cpu/blas.py``) and the
libraries each benchmark worker loaded (``benchmark/host.py``). Imports nothing of the
engine (and not numba), so the benchmark's torch workers can use it too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

__all__ = ["file_of"]


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def file_of(address: int | None) -> str | None:
    """The real path of the loaded shared library holding ``address``, or None (no
    address, no ``dladdr`` as on Windows, or an address in no library)."""
    if not address:
        return None
    try:
        libdl = ctypes.CDLL(ctypes.util.find_library("dl") or None)
        info = _DlInfo()
        if not libdl.dladdr(ctypes.c_void_p(address), ctypes.byref(info)) or not info.dli_fname:
            return None
    except (OSError, AttributeError, TypeError):
        return None
    return os.path.realpath(info.dli_fname.decode())
