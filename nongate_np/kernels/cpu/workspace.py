"""Large kernel arrays reused from call to call instead of fresh from the system each time.

A training step allocates the same large arrays at every step (the LSTM's cache of all T
steps, the input projection, δa, the products' outputs). With glibc, freed memory at the
top of the heap beyond ``M_TRIM_THRESHOLD`` is handed back to the system, and the next
step page-faults every page back in, zeroed by the kernel. Measured on this project's
2-vCPU machine (bench/RESULTS.md): an M1 float32 training step took 36 ms with the default
malloc settings and 24 ms with ``MALLOC_TRIM_THRESHOLD_`` raised, the kernels unchanged.

``empty(shape, dtype)`` hands out an array backed by a pooled buffer of exactly that many
bytes when one is free, else a new one. When the array and every view of it are gone, the
buffer goes back to the pool (at most ``LIMIT_BYTES`` are kept; ``release()`` empties it).
Arrays below ``MIN_BYTES`` come from ``np.empty``: small blocks are reused by malloc anyway.

NOTE: the buffer is reached through a memoryview, so the array handed out is the one every
view of it keeps alive (NumPy collapses a view's base only through arrays of one type): the
buffer cannot return to the pool while any view of it exists.
"""

from __future__ import annotations

import math
import threading
import weakref

import numpy as np

#: Arrays from this size up are pooled.
MIN_BYTES = 1 << 18
#: Most bytes of free buffers the pool keeps; a buffer beyond it is left to the allocator.
LIMIT_BYTES = 1 << 30

# NOTE: re-entrant: a garbage collection inside a locked section can run a finalizer
# (_give_back) on the same thread
_lock = threading.RLock()
_free: dict[int, list[np.ndarray]] = {}
_kept = 0


def empty(shape, dtype) -> np.ndarray:
    """Like ``np.empty(shape, dtype)`` (C order); large ones come from the pool."""
    global _kept
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    count = math.prod(shape)            # NOTE: not np.prod: 20x slower on a short tuple,
    nbytes = count * dtype.itemsize     # and this runs several times per small call
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype)
    with _lock:
        stack = _free.get(nbytes)
        buf = stack.pop() if stack else None
        if buf is not None:
            _kept -= nbytes
    if buf is None:
        buf = np.empty(nbytes, np.uint8)
    owner = np.frombuffer(memoryview(buf), dtype=dtype, count=count)
    weakref.finalize(owner, _give_back, buf).atexit = False     # nothing to do at exit
    return owner.reshape(shape)


def _give_back(buf: np.ndarray) -> None:
    global _kept
    with _lock:
        if _kept + buf.nbytes <= LIMIT_BYTES:
            _free.setdefault(buf.nbytes, []).append(buf)
            _kept += buf.nbytes


def kept_bytes() -> int:
    """Bytes of free buffers the pool holds now."""
    return _kept


def release() -> None:
    """Hand every free buffer back to the allocator."""
    global _kept
    with _lock:
        _free.clear()
        _kept = 0
