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
2.5x slower watching than sleeping). So :func:`budget_now` watches only where it can see
that the machine is not oversubscribed (Linux's count of running threads, /proc/loadavg,
read at most every 50 ms), and elsewhere sleeps at once, as before. The watch's budget is a
time, read from a monotonic clock inside the compiled loop: a count of looks would last
far longer once another process shares the core (each yield then waits out its slice).
"""

from __future__ import annotations

import ctypes
import os
import sys
import time

import llvmlite.binding as ll
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ...cores import usable_cores
from .cache import cache_location

__all__ = ["watch", "end_then_watch", "ticks_for", "budget_now", "oversubscribed"]

# NOTE: the yield and the clock are called by name, resolved at load time, as blas.py's
# BLAS: a function pointer baked into the compiled code would make Numba refuse to cache it
_YIELD, _CLOCK = "nongate_np_yield_cpu", "nongate_np_monotonic_clock"
if os.name == "nt":
    _kernel32 = ctypes.windll.kernel32                      # type: ignore[attr-defined]
    _yield_fn, _clock_fn = _kernel32.SwitchToThread, _kernel32.QueryPerformanceCounter
    _frequency = ctypes.c_int64()
    _kernel32.QueryPerformanceFrequency(ctypes.byref(_frequency))
    _TICKS_PER_SECOND = _frequency.value
else:
    _libc = ctypes.CDLL(None)
    _yield_fn, _clock_fn = _libc.sched_yield, _libc.clock_gettime
    _TICKS_PER_SECOND = 1_000_000_000                       # timespec: ns
    _MONOTONIC = 6 if sys.platform == "darwin" else 1     # CLOCK_MONOTONIC
for _name, _fn in ((_YIELD, _yield_fn), (_CLOCK, _clock_fn)):
    ll.add_symbol(_name, ctypes.cast(_fn, ctypes.c_void_p).value)


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
def _store_release(typingctx, counters, index, value):
    """counters[index] = value, written to memory at once (an atomic store) and after every
    write before it: another thread reads it with :func:`_load_acquire`."""
    if not (isinstance(counters, types.Array) and counters.dtype == types.int64
            and counters.ndim == 1):
        return None
    sig = types.void(counters, types.intp, types.int64)

    def codegen(context, builder, sig, args):
        array = context.make_array(sig.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, sig.args[0], array, [args[1]])
        builder.store_atomic(args[2], ptr, "release", 8)
        return context.get_dummy_value()
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


@intrinsic
def _clock(typingctx):
    """A monotonic clock's reading, in ticks of ``ticks_for`` (clock_gettime's
    CLOCK_MONOTONIC in ns; QueryPerformanceCounter on Windows)."""
    sig = types.int64()

    def codegen(context, builder, sig, args):
        i32, i64 = ir.IntType(32), ir.IntType(64)
        if os.name == "nt":
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(i32, [i64.as_pointer()]), _CLOCK)
            count = cgutils.alloca_once(builder, i64)
            builder.call(fn, [count])
            return builder.load(count)
        timespec = ir.LiteralStructType([i64, i64])     # time_t tv_sec, long tv_nsec (LP64)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i32, [i32, timespec.as_pointer()]), _CLOCK)
        now = cgutils.alloca_once(builder, timespec)
        builder.call(fn, [ir.Constant(i32, _MONOTONIC), now])
        seconds = builder.load(cgutils.gep_inbounds(builder, now, 0, 0))
        nanoseconds = builder.load(cgutils.gep_inbounds(builder, now, 0, 1))
        return builder.add(builder.mul(seconds, ir.Constant(i64, 1_000_000_000)), nanoseconds)
    return sig, codegen


@njit(cache=cache_location().enabled, nogil=True)
def watch(counters, index, old, ticks):
    """Look at counters[index] (int64) until it differs from ``old`` (True) or ``ticks``
    of the monotonic clock have passed (False), yielding the core after each look."""
    end = _clock() + ticks
    while _load_acquire(counters, index) == old:
        if _clock() >= end:
            return False
        _yield_cpu()
    return True


@njit(cache=cache_location().enabled, nogil=True)
def end_then_watch(counters, ticks, grace):
    """A pool thread's end of a chunk: bump counters[1] (chunks ended), then :func:`watch`
    counters[0] (chunks handed over) until the next chunk comes or ``ticks`` have passed;
    once it has come, go on yielding for ``grace`` ticks before returning.

    NOTE: the bump is made here, once the GIL is released, not in Python before this call:
    the waiting caller, seeing it, takes the GIL at once instead of sleeping until the
    bumping thread lets it go (bench/KERNEL_NOTES.md, "Threads: the end of a chunk"). The
    grace is the same at the start: the caller hands a chunk over holding the GIL until its
    own chunk enters compiled code, and a thread that asks for the GIL meanwhile sleeps
    until woken ("Threads: the start of a chunk")."""
    ended = counters[1] + 1
    _store_release(counters, 1, ended)
    if not watch(counters, 0, ended, ticks):
        return False
    end = _clock() + grace
    while _clock() < end:
        _yield_cpu()
    return True


def ticks_for(microseconds: int) -> int:
    """The watch budget of ``microseconds``, in ticks of the clock :func:`watch` reads."""
    return min(microseconds * _TICKS_PER_SECOND // 1_000_000, 1 << 62) \
        if microseconds > 0 else 0


_RECHECK_SECONDS = 0.05
#: when budget_now last read the load, whether the machine was oversubscribed, which file
_load_read: list = [-1.0, True, ""]


def oversubscribed(loadavg: str = "/proc/loadavg") -> bool:
    """Whether more threads are running or waiting to run than this process may use cores,
    from the fourth field of Linux's ``/proc/loadavg`` ("running/total", machine-wide, this
    process's own threads included) against the cores this process may keep busy
    (``nongate_np.cores.usable_cores``: a ``taskset`` of 2 of 64 cores counts 2, and so
    does a cgroup CPU limit of 1.5); True where that file cannot be read or parsed (not
    Linux). The count is the host's, so in a container with a CPU limit on a shared host
    it is nearly always True: there the threads sleep at once, and a watch does not spend
    the group's quota."""
    try:
        with open(loadavg, "rb") as f:
            running = int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return True
    return running > usable_cores()


def budget_now(microseconds: int, loadavg: str = "/proc/loadavg") -> int:
    """The watch budget of a waiting thread of the pool now, in ticks: :func:`ticks_for`
    ``microseconds`` while the machine is not :func:`oversubscribed` (``loadavg``: the file
    read), else 0 (sleep at once); the file is read again at most every 50 ms,
    ``microseconds`` at every call (a knob set by ``tuning.override`` holds from the next
    split)."""
    if microseconds <= 0:
        return 0
    now = time.monotonic()
    if now - _load_read[0] > _RECHECK_SECONDS or _load_read[2] != loadavg:
        _load_read[:] = [now, oversubscribed(loadavg), loadavg]
    return 0 if _load_read[1] else ticks_for(microseconds)
