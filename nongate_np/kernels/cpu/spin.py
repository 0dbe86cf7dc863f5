"""Waiting for another thread of the kernels' pool: watch a counter for a while, then sleep.

A thread of ``threads.run_chunks`` that sleeps on a lock as soon as it has nothing to do
must be woken for the next chunk, and on a virtual machine whose idle vCPUs halt (KVM
guests without halt polling) that wake can take longer than the chunk, so that the split
runs serially (bench/KERNEL_NOTES.md, "Threads: watch, then sleep"). OpenMP runtimes
spin for the same reason. Here the waiting thread first watches a counter that the other
thread bumps (:func:`watch`, compiled, without the GIL), yielding its core at every look so
that another process that wants the core gets it, and only then sleeps on the lock. The
watch is a hint: the lock handoff alone keeps the pool correct, the watch only lets the
thread find the lock already released.

Watching pays only while the machine has a core for each runnable thread. When another
process wants the cores, a thread that yields at every look gets its core back only after
that process's time slice, later than a sleeping thread, which the scheduler runs as soon
as it is woken (under another process's two-thread BLAS loop the S3 training step was
2.5x slower watching than sleeping). So :func:`looks_now` watches only where it can see
that the machine is not oversubscribed (Linux's count of running threads, /proc/loadavg,
read at most every 50 ms), and elsewhere sleeps at once, as before.
"""

from __future__ import annotations

import ctypes
import functools
import os
import time

import llvmlite.binding as ll
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .cache import cache_location

__all__ = ["watch", "looks_for", "looks_now", "oversubscribed"]

# NOTE: the yield is called by name, resolved at load time, as blas.py's BLAS: a function
# pointer baked into the compiled code would make Numba refuse to cache it
_YIELD = "nongate_np_yield_cpu"
if os.name == "nt":
    _yield_fn = ctypes.windll.kernel32.SwitchToThread      # type: ignore[attr-defined]
else:
    _yield_fn = ctypes.CDLL(None).sched_yield
ll.add_symbol(_YIELD, ctypes.cast(_yield_fn, ctypes.c_void_p).value)


@intrinsic
def _load_acquire(typingctx, counters, index):
    """counters[index] read from memory at every call (an atomic load), never hoisted out of
    a loop: another thread changes it."""
    if not (isinstance(counters, types.Array) and counters.dtype == types.int64
            and counters.ndim == 1):
        return None
    sig = types.int64(counters, types.intp)

    def codegen(context, builder, sig, args):
        array = context.make_array(sig.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, sig.args[0], array, [args[1]])
        return builder.load_atomic(ptr, "acquire", 8)
    return sig, codegen


@intrinsic
def _yield_cpu(typingctx):
    """Give the core to another runnable thread, if any (sched_yield; SwitchToThread on
    Windows); returns at once when none is waiting."""
    sig = types.void()

    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(32), []), _YIELD)
        builder.call(fn, [])
        return context.get_dummy_value()
    return sig, codegen


@njit(cache=cache_location().enabled, nogil=True)
def watch(counters, index, old, looks):
    """Look at counters[index] (int64) up to ``looks`` times, yielding the core after each
    look; True as soon as it differs from ``old``, False if it never did."""
    for _ in range(looks):
        if _load_acquire(counters, index) != old:
            return True
        _yield_cpu()
    return _load_acquire(counters, index) != old


@functools.lru_cache(maxsize=None)
def _seconds_per_look() -> float:
    """The time one look of :func:`watch` takes on this machine, measured once (at the
    first split), on a counter nobody changes."""
    still = np.zeros(1, np.int64)
    watch(still, 0, 0, 1)                       # compiled (or loaded) before timing
    n = 2000
    start = time.perf_counter()
    watch(still, 0, 0, n)
    return max((time.perf_counter() - start) / n, 1e-8)


def looks_for(microseconds: int) -> int:
    """How many looks of :func:`watch` take about ``microseconds`` on an idle core."""
    return int(microseconds * 1e-6 / _seconds_per_look()) if microseconds > 0 else 0


_RECHECK_SECONDS = 0.05
_load_read = [-1.0, 1.0]             # when looks_now last read the load; 1.0 if oversubscribed


def oversubscribed(loadavg: str = "/proc/loadavg") -> bool:
    """Whether more threads are running or waiting to run than the machine has cores, from
    the fourth field of Linux's ``/proc/loadavg`` ("running/total"; this process's own
    threads included); True where that file cannot be read or parsed (not Linux)."""
    try:
        with open(loadavg, "rb") as f:
            running = int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return True
    return running > (os.cpu_count() or 1)


def looks_now(microseconds: int) -> int:
    """The looks a waiting thread of the pool makes now: :func:`looks_for` ``microseconds``
    while the machine is not :func:`oversubscribed`, else 0 (sleep at once); the load is
    read again at most every 50 ms, ``microseconds`` at every call (a knob set by
    ``tuning.override`` holds from the next split)."""
    if microseconds <= 0:
        return 0
    now = time.monotonic()
    if now - _load_read[0] > _RECHECK_SECONDS:
        _load_read[:] = [now, float(oversubscribed())]
    return 0 if _load_read[1] else looks_for(microseconds)
