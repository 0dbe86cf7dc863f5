"""Large kernel arrays reused from call to call instead of fresh from the system each time.

A training step allocates the same large arrays at every step (the LSTM's cache of all T
steps, the input projection, da, the products' outputs). With glibc, freed memory at the
top of the heap beyond ``M_TRIM_THRESHOLD`` is handed back to the system, and the next
step page-faults every page back in, zeroed by the kernel, which slows a training step
by a large fraction (bench/KERNEL_NOTES.md, "Workspace: pooled buffers").

``empty(shape, dtype)`` hands out an array backed by a pooled buffer of its size class
(its bytes rounded up to 2^k times 1, 1.25, 1.5 or 1.75) when one is free, else a new one.
When the array and every view of it are gone, the buffer goes back to the pool. Classes,
not exact sizes, so that inputs of varying shapes (a service's requests) reuse buffers
instead of filling the pool with sizes never asked for again (bench/KERNEL_NOTES.md,
"Workspace: size classes"); at most a quarter of a buffer goes unused, and its pages are
never touched unless a larger array of the class uses them. The pool keeps at most
``tuning.POOL_LIMIT_BYTES`` (``set_limit``, or the environment variable
``NONGATE_NP_WORKSPACE_LIMIT``); beyond that, the buffers freed longest ago go back to the
allocator first, so sizes no longer asked for (a finished training run) age out.
``release()`` empties it and asks the allocator to hand its free memory back to the
system. Arrays below ``tuning.POOL_MIN_BYTES`` are not pooled: malloc reuses small blocks,
while larger ones it may hand back to the system when freed and fault in again at the next
step. ``ascontiguous(a, dtype)`` is ``np.ascontiguousarray`` with its copy, when it makes
one, in such an array.

Pooled arrays start on a cache line (``ALIGN`` bytes), and so do small ones asked for with
``align=True``. The step loops split rows between threads at multiples of 16 float32, and
glibc's large blocks start 16 bytes past a page, so without this two threads wrote the
same cache line at every chunk boundary of every row. Small arrays are aligned only on
request: aligning costs more than ``np.empty`` itself, and a small call (S1) makes many
(bench/KERNEL_NOTES.md, "Workspace: cache-line alignment"); ``empty_many(shapes, dtype,
align=True)`` carves several such arrays from one block, one allocation for all, and
``empty_apart`` the arrays of several threads, each thread's in pages of their own.

NOTE: the buffer is reached through a memoryview, so the array handed out is the one every
view of it keeps alive (NumPy collapses a view's base only through arrays of one type): the
buffer cannot return to the pool while any view of it exists.
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import threading
import weakref
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from . import tuning

#: Where pooled arrays, and small ones asked for, start: a multiple of this many bytes (a
#: cache line).
ALIGN = 64
#: Where each group of :func:`empty_apart` starts, and the unit its size is rounded up to:
#: a page (the CPU's prefetchers stay within one).
PAGE = 4096

# NOTE: re-entrant: a garbage collection inside a locked section can run a weak reference's
# callback (_released) on the same thread
_lock = threading.RLock()
_free: dict[int, list[np.ndarray]] = {}     # byte size -> free buffers of that size
_order: list[np.ndarray] = []               # every free buffer, the longest-free first
_kept = 0
_lent: dict[int, tuple[weakref.ref, np.ndarray]] = {}   # id(ref) -> (ref, buffer) in use


def empty(shape: int | Iterable[int], dtype: npt.DTypeLike, align: bool = False) -> np.ndarray:
    """Like ``np.empty(shape, dtype)`` (C order); large ones come from the pool and start on
    a cache line, small ones too with ``align``."""
    dtype = np.dtype(dtype)
    if type(shape) is not tuple:        # NOTE: the kernels pass tuples: skip the checks
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    # NOTE: math.prod, not np.prod: much faster on a short tuple, and this runs several
    # times per small call (bench/KERNEL_NOTES.md, "Workspace: math.prod")
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    if nbytes < tuning.POOL_MIN_BYTES:
        return _aligned(nbytes).view(dtype).reshape(shape) if align else np.empty(shape, dtype)
    size = size_class(nbytes)
    with _lock:
        stack = _free.get(size)
        buf = stack.pop() if stack else None
        if buf is not None:
            _forget(buf)
    if buf is None:
        buf = _aligned(size)
    owner = np.frombuffer(buf.data, dtype=dtype, count=count)     # buf.data: a memoryview
    # NOTE: a weak reference with a callback, not weakref.finalize, whose object and
    # registry cost more at every call (bench/KERNEL_NOTES.md, "Workspace: pooled buffers")
    ref = weakref.ref(owner, _released)
    _lent[id(ref)] = ref, buf
    return owner.reshape(shape)


def size_class(nbytes: int) -> int:
    """The bytes of the pooled buffer an array of ``nbytes`` gets: ``nbytes`` rounded up
    to 2^k times 1, 1.25, 1.5 or 1.75 (its three leading bits)."""
    step = 1 << max(nbytes.bit_length() - 3, 0)
    return -(-nbytes // step) * step


def empty_many(shapes: Iterable[tuple[int, ...]], dtype: npt.DTypeLike,
               align: bool = False) -> list[np.ndarray]:
    """``[empty(shape, dtype, align) for shape in shapes]``; with ``align``, the arrays are
    carved from one block (each starting on a cache line, as ``empty`` gives them): one
    allocation, not one per array, for the small scratch arrays of a kernel call, where
    each aligned allocation costs about 2.5 µs (bench/KERNEL_NOTES.md, "Workspace: small
    arrays from one block"). The block lives as long as any of them."""
    dtype = np.dtype(dtype)
    shapes = [tuple(s) for s in shapes]
    if not align:
        # NOTE: a small one straight from np.empty, as empty would make it, without its
        # checks: a small call (S1) asks for several at once
        return [np.empty(s, dtype) if math.prod(s) * dtype.itemsize < tuning.POOL_MIN_BYTES
                else empty(s, dtype) for s in shapes]
    starts, total = _offsets(shapes, dtype, 0)
    block = empty(total, np.uint8, align=True)
    return [np.ndarray(s, dtype, block, o) for o, s in zip(starts, shapes)]


def _offsets(shapes: list[tuple[int, ...]], dtype: np.dtype, start: int
             ) -> tuple[list[int], int]:
    """Where each array of ``shapes`` starts in a block, from byte ``start`` on, each on a
    cache line; and the byte after the last."""
    starts, total = [], start
    for s in shapes:
        starts.append(total)
        total += -(-math.prod(s) * dtype.itemsize // ALIGN) * ALIGN
    return starts, total


def empty_apart(groups: Iterable[Iterable[tuple[int, ...]]], dtype: npt.DTypeLike
                ) -> list[list[np.ndarray]]:
    """``[empty_many(shapes, dtype, align=True) for shapes in groups]`` from one block, each
    group in whole pages of its own: for the rows that each thread of a split writes at
    every step. Rows of two threads side by side in memory, even on separate cache lines,
    slowed both threads at every step, less the further apart they were, and hardly at
    all from a page on (bench/KERNEL_NOTES.md, "Step loop: each chunk's rows apart"). The
    block lives as long as any of the arrays."""
    dtype = np.dtype(dtype)
    key = tuple(map(tuple, groups))
    try:
        layout, total = _layout_apart(key, dtype)
    except TypeError:                   # a shape given as a list: unhashable
        layout, total = _layout_apart(tuple(tuple(map(tuple, g)) for g in key), dtype)
    raw = empty(total + PAGE, np.uint8)
    first = -_address(raw) % PAGE
    block = raw[first:first + total]
    return [[np.ndarray(s, dtype, block, o) for s, o in group] for group in layout]


@functools.lru_cache(maxsize=256)
def _layout_apart(groups: tuple[tuple[tuple[int, ...], ...], ...], dtype: np.dtype
                  ) -> tuple[tuple[tuple[tuple[tuple[int, ...], int], ...], ...], int]:
    """:func:`empty_apart`'s layout: each group's (shape, byte offset) pairs and the block's
    bytes. Cached: a split kernel call asks for the same few layouts at every call, and
    working them out took a third of the arrays' set-up at S3 (bench/KERNEL_NOTES.md,
    "Workspace: small arrays from one block")."""
    layout: list[tuple[tuple[tuple[int, ...], int], ...]] = []
    total = 0
    for shapes in groups:
        starts, total = _offsets(list(shapes), dtype, total)
        total = -(-total // PAGE) * PAGE
        layout.append(tuple(zip(shapes, starts)))
    return tuple(layout), total


def ascontiguous(a: npt.ArrayLike, dtype: npt.DTypeLike) -> np.ndarray:
    """Like ``np.ascontiguousarray(a, dtype)`` (but a 0-d ``a`` stays 0-d): ``a`` itself when
    it is already C-contiguous of that dtype, else a copy in an array from :func:`empty` (a
    transposed view, another dtype), so a copy made at every step reuses its buffer instead
    of faulting its pages back in (bench/KERNEL_NOTES.md, "Workspace: pooled buffers")."""
    a, dtype = np.asarray(a), np.dtype(dtype)
    if a.dtype == dtype and a.flags.c_contiguous:
        return a
    out = empty(a.shape, dtype)
    np.copyto(out, a, casting="unsafe")       # the conversion ascontiguousarray makes
    return out


def _aligned(nbytes: int) -> np.ndarray:
    """``nbytes`` uninitialised bytes (uint8) starting at a multiple of ``ALIGN``."""
    raw = np.empty(nbytes + ALIGN, np.uint8)
    start = -_address(raw) % ALIGN
    return raw[start:start + nbytes]


def _address(raw: np.ndarray) -> int:
    """The address of a writable uint8 array's first byte.

    NOTE: through a ctypes view of its buffer: ``raw.ctypes.data`` builds a helper object
    that costs three times as long (bench/KERNEL_NOTES.md, "Workspace: small arrays from
    one block")."""
    return ctypes.addressof(ctypes.c_char.from_buffer(raw.data))


def _released(ref: weakref.ref) -> None:
    """The callback of the weak reference to an array :func:`empty` handed out, called once
    the array and every view of it are gone: its buffer back to the pool."""
    _, buf = _lent.pop(id(ref))
    _give_back(buf)


def _give_back(buf: np.ndarray) -> None:
    global _kept
    if buf.nbytes > tuning.POOL_LIMIT_BYTES:
        return
    with _lock:
        _free.setdefault(buf.nbytes, []).append(buf)
        _order.append(buf)
        _kept += buf.nbytes
        _trim_pool()


def _drop_from_stack(buf: np.ndarray) -> None:
    stack = _free[buf.nbytes]
    for k, other in enumerate(stack):
        if other is buf:
            del stack[k]
            return


def _forget(buf: np.ndarray) -> None:
    """Take ``buf`` (already off its size's stack) out of the order and the count."""
    global _kept
    for k, other in enumerate(_order):
        if other is buf:
            del _order[k]
            break
    _kept -= buf.nbytes


def kept_bytes() -> int:
    """Bytes of free buffers the pool holds now."""
    return _kept


def release() -> None:
    """Hand every free buffer back to the allocator, and ask it (glibc's ``malloc_trim``,
    where there is one) to return the memory it keeps free to the system."""
    global _kept
    with _lock:
        _free.clear()
        _order.clear()
        _kept = 0
    _trim_heap()


def _trim_heap() -> None:
    """glibc keeps freed blocks below its (adaptive) mmap threshold in its heap, counted
    in the process's resident memory: ``malloc_trim(0)`` returns their pages. Nothing
    elsewhere (macOS, Windows, musl)."""
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
        trim(0)


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None) if os.name == "posix" else None
    except OSError:
        return None


def limit() -> int:
    """Most bytes of free buffers the pool keeps (``tuning.POOL_LIMIT_BYTES``)."""
    return tuning.POOL_LIMIT_BYTES


def set_limit(nbytes: int) -> None:
    """Keep at most ``nbytes`` of free buffers (default 512 MiB, or the environment variable
    ``NONGATE_NP_WORKSPACE_LIMIT`` read at import: bytes, or with a K, M or G suffix in
    binary units); the buffers freed longest ago go now if the pool holds more. 0 pools
    nothing: every large array is fresh from the allocator, and a training step
    page-faults its arrays in again (bench/KERNEL_NOTES.md, "Workspace: pooled buffers").

    Raises ValueError for a value that is not a non-negative int."""
    if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)) or nbytes < 0:
        raise ValueError(f"workspace.set_limit: expected a non-negative number of bytes, "
                         f"got {nbytes!r}")
    tuning.POOL_LIMIT_BYTES = int(nbytes)
    with _lock:
        _trim_pool()


def _trim_pool() -> None:
    """The longest-free buffers out until the pool keeps at most the limit (lock held)."""
    while _kept > tuning.POOL_LIMIT_BYTES:
        old = _order[0]
        _drop_from_stack(old)
        _forget(old)


def _after_fork_in_child() -> None:
    """A fresh lock and an empty pool: another thread of the parent may have held the lock
    at the fork, and no thread of the child would ever release it."""
    global _lock, _kept
    _lock = threading.RLock()
    _free.clear()
    _order.clear()
    _kept = 0


os.register_at_fork(after_in_child=_after_fork_in_child)
