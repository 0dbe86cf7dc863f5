"""Who owns the cores while a kernel of the Numba backend runs (docs/math.md K4).

The kernels' parallelism is one pool of Python threads (``run_chunks``), each running a
jitted function that releases the GIL: the LSTM step loop is split by batch rows (each
thread runs the whole loop on its rows, ``batch_chunks``), the large products by rows or by
the reduction index (``gemm.py``), and every thread calls BLAS for its own slice. Numba's
own pool (``prange``) is not used: a ``parallel=True`` function is compiled a second time
for the threaded path, and its waiting threads spin on cores other processes may want
(bench/KERNEL_NOTES.md, "Threads: one pool of Python threads"). BLAS itself must run on
one thread: OpenBLAS's workers keep spinning after a call and steal the cores the kernels'
threads are using (bench/KERNEL_NOTES.md, "Threads: BLAS on one thread inside a kernel").
While a kernel runs (``owns_cores``), the BLAS that the kernels' products call (``blas.py``)
runs on one thread: the scipy-openblas32 wheel, which ``blas.py`` opens for the kernels
alone, is set to one thread once, for good; SciPy's OpenBLAS, which SciPy's own calls share,
is set to one thread for each kernel call and its count restored when the kernel returns.

Policy, in order:

* only when the BLAS's thread count can be set (OpenBLAS, found through
  ``blas.library()``); otherwise everything runs on the calling thread;
* only when the work is large enough to pay for the threads' start and join
  (``tuning.py``);
* in as many chunks as ``num_threads()`` (``NUMBA_NUM_THREADS``, or
  ``numba.set_num_threads``; by default the cores the process may use, a cgroup's CPU
  limit counted), so a fixed thread count gives a fixed split and bit-identical results
  run to run;
* never in a forked child (``os.fork``, ``multiprocessing``'s "fork" start method): the
  pool's threads are not copied into the child, and the serial paths keep a child's
  results bit-identical to its parent's serial paths (as PyTorch, whose forked DataLoader
  workers compute on one thread). A process started by "spawn" or "forkserver" is not a
  fork child of the computing process and splits as usual.

NOTE: the BLAS thread count is per library and process-wide: another Python thread calling
the same library while a kernel runs (SciPy's BLAS, when ``blas.py`` chose it) gets one
thread too.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import numpy as np

from ...cores import usable_cores
from . import spin, tuning

_P = ParamSpec("_P")
_R = TypeVar("_R")

_SETTERS = ("scipy_openblas_set_num_threads", "openblas_set_num_threads",
            "scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_")
_GETTERS = ("scipy_openblas_get_num_threads", "openblas_get_num_threads",
            "scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_")


@functools.lru_cache(maxsize=None)
def _blas_thread_control():
    """(get, set) for the thread count of the BLAS the kernels call (``blas.library()``:
    the scipy-openblas32 wheel or SciPy's BLAS), or None when it has no such functions."""
    try:
        from .blas import library
        lib = library()
    except (ImportError, ValueError):      # no BLAS, or a bad NONGATE_NP_BLAS
        return None
    if lib is None:
        return None
    get = next((getattr(lib, n) for n in _GETTERS if hasattr(lib, n)), None)
    set_ = next((getattr(lib, n) for n in _SETTERS if hasattr(lib, n)), None)
    if get is None or set_ is None:
        return None
    get.restype, get.argtypes = ctypes.c_int, []
    set_.restype, set_.argtypes = None, [ctypes.c_int]
    return get, set_


def _loaded_libraries(fragment: str) -> list[str]:
    """Paths of the libraries this process has mapped whose file name contains ``fragment``
    (any case), from /proc/self/maps; an empty list where it cannot be read (not Linux)."""
    try:
        with open("/proc/self/maps") as maps:
            return sorted({line.split()[-1] for line in maps
                           if fragment in line.rsplit("/", 1)[-1].lower()})
    except OSError:
        return []


#: (len(sys.modules) at the scan, its (get, set) controls, the same as (address, get, set)):
#: :func:`_every_openblas`'s last scan
_openblas_scan: tuple[int, list[tuple], list[tuple]] | None = None


def _address(set_: Any) -> int:
    """The address of a thread-count setter: one library opened twice (the kernels'
    ``blas.library()`` and the scan's ``CDLL``) gives two function objects, one address."""
    return ctypes.cast(set_, ctypes.c_void_p).value or id(set_)


def _every_openblas() -> list[tuple]:
    """(get, set) for every OpenBLAS copy this process has loaded (NumPy and SciPy each
    bundle their own), found in /proc/self/maps; an empty list elsewhere.

    NOTE: the scan is kept until a module is imported (a copy comes with one: NumPy's,
    SciPy's): reading /proc/self/maps took about 0.7 ms, which every ``single_threaded_blas``
    block paid (each ``predict`` call: 2.2 ms for one short sequence, 0.55 ms without it).
    A copy loaded otherwise (ctypes) is seen at the next scan."""
    return _scan_openblas()[1]


def _keyed_openblas() -> list[tuple]:
    """:func:`_every_openblas`'s copies as (address, get, set), for ``_BlasOwnership``.

    NOTE: the addresses are kept with the scan: ``ctypes.cast`` at every block cost each
    ``encode`` of one short sequence several µs (bench/RESULTS.md, "One sequence through
    predict and encode")."""
    return _scan_openblas()[2]


def _scan_openblas() -> tuple[int, list[tuple], list[tuple]]:
    global _openblas_scan
    modules, scan = len(sys.modules), _openblas_scan
    if scan is not None and scan[0] == modules:
        return scan
    controls = []
    for path in _loaded_libraries("openblas"):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        get = next((getattr(lib, n) for n in _GETTERS if hasattr(lib, n)), None)
        set_ = next((getattr(lib, n) for n in _SETTERS if hasattr(lib, n)), None)
        if get is not None and set_ is not None:
            get.restype, get.argtypes = ctypes.c_int, []
            set_.restype, set_.argtypes = None, [ctypes.c_int]
            controls.append((get, set_))
    scan = _openblas_scan = modules, controls, [(_address(s), g, s) for g, s in controls]
    return scan


@contextlib.contextmanager
def single_threaded_blas():
    """Every loaded OpenBLAS on one thread inside the block, each count restored after the
    last block still open ends (nested and concurrent blocks, and kernel calls, share one
    saved count per copy: ``_BlasOwnership``).

    For loops that alternate NumPy products (the small ops around the fused kernels) with
    the threaded kernels: OpenBLAS's workers keep spinning after each product and take
    the cores the step loop's threads are waiting for (bench/RESULTS.md, "NumPy's BLAS
    threads"). ``owns_cores`` cannot help there: the spinning starts before a kernel."""
    keys = _ownership.enter(_keyed_openblas)
    try:
        yield
    finally:
        _ownership.leave(keys)


def blas_threads() -> int | None:
    """The current thread count of the BLAS the kernels call, or None if unknown."""
    control = _blas_thread_control()
    return None if control is None else control[0]()


class _BlasOwnership:
    """Nested and concurrent users of the BLAS copies share one saved count per copy (keyed
    by the address of its thread-count setter, so a kernel call and a ``predict`` block
    that both hold SciPy's agree): the first to enter sets it to one thread, the last to
    leave restores what that first one found. (Per-call save and restore is wrong with
    Python threads: two overlapping calls could leave 1 for good, as two overlapping
    ``predict`` calls did for NumPy's BLAS.)"""

    def __init__(self):
        self.lock = threading.Lock()
        self.held: dict[int, list] = {}     # setter address -> [depth, set, count found]

    def enter(self, controls: Callable[[], list[tuple]]) -> list[int]:
        """Hold the copies ``controls()`` gives as (address, get, set) (:func:`_address`);
        returns the keys to leave."""
        keys = []
        with self.lock:
            for key, get, set_ in controls():
                entry = self.held.get(key)
                if entry is None:
                    entry = self.held[key] = [0, set_, get()]
                    set_(1)
                entry[0] += 1
                keys.append(key)
        return keys

    def leave(self, keys: list[int]) -> None:
        with self.lock:
            for key in keys:
                entry = self.held.get(key)
                if entry is None:       # a fork child leaving its parent's block: restored
                    continue
                entry[0] -= 1
                if entry[0] == 0:
                    del self.held[key]
                    entry[1](entry[2])

    def restore(self) -> None:
        for _, set_, count in self.held.values():
            set_(count)
        self.held = {}


_ownership = _BlasOwnership()       # every BLAS a kernel call or single_threaded_blas holds

#: True in a process forked from the one that imported this module: kernels run serially.
forked = False


def _after_fork_in_child() -> None:
    """Mark the process as a fork child, and drop the parent's BLAS ownership: a kernel
    running on another thread at the fork left its lock held and BLAS on one thread, and
    that thread does not exist here; nor do the pool's threads."""
    global forked, _ownership, _pool, _pool_busy
    forked = True
    _pool, _pool_busy = [], threading.Lock()
    _ownership.restore()
    _ownership = _BlasOwnership()


if hasattr(os, "register_at_fork"):            # not on Windows, which cannot fork
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _private_blas_on_one_thread(get: Callable[[], int], set_: Callable[[int], None]) -> bool:
    """Whether the kernels' BLAS is a copy no other code calls (``blas.private()``); if so,
    it is put on one thread, if it is not already, and left there. Saving and restoring its
    count around every kernel call cost a small call (S1) several µs (bench/KERNEL_NOTES.md,
    "Kernel calls: Python overhead"); the count is still read every call, since whatever
    sets every loaded OpenBLAS (``single_threaded_blas``, threadpoolctl) may restore it."""
    if not _private():
        return False
    if get() != 1:
        set_(1)
    return True


@functools.lru_cache(maxsize=None)
def _private() -> bool:
    from .blas import private
    return private()


def owns_cores(kernel: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``kernel`` with the kernels' BLAS on one thread; restore the count afterwards
    where other code shares that BLAS (SciPy's)."""
    @functools.wraps(kernel)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        control = _blas_thread_control()
        if control is None or _private_blas_on_one_thread(*control):
            return kernel(*args, **kwargs)
        keys = _ownership.enter(lambda: [(_address(control[1]), *control)])
        try:
            return kernel(*args, **kwargs)
        finally:
            _ownership.leave(keys)
    return wrapper


def num_threads() -> int:
    """The thread count the kernels split into: once Numba's own pool has started
    (``numba.set_num_threads``, or any ``parallel=True`` function), what
    ``numba.set_num_threads`` set on the calling thread; before, ``NUMBA_NUM_THREADS``
    where it is set, else Numba's default (the CPUs of the affinity mask) capped by the
    cgroup's CPU limit (``nongate_np.cores.usable_cores``: a container given one CPU of a
    64-core host splits into one chunk, not 64 throttled ones).

    NOTE: read without launching Numba's own thread pool, which the kernels never use
    (``numba.set_num_threads`` launches it, and then its value is read)."""
    import numba
    from numba.np.ufunc import parallel as numba_parallel
    if getattr(numba_parallel, "_is_initialized", True):
        return numba.get_num_threads()
    return _default_threads()


@functools.lru_cache(maxsize=1)
def _default_threads() -> int:
    """:func:`num_threads` before Numba's pool starts, read once (as Numba reads
    ``NUMBA_NUM_THREADS`` once)."""
    import numba
    if os.environ.get("NUMBA_NUM_THREADS", "").strip():
        return numba.config.NUMBA_NUM_THREADS
    return min(numba.config.NUMBA_NUM_THREADS, usable_cores())


class _Worker:
    """One thread of the pool: runs ``fn(k)`` once per :meth:`start`, and signals its end
    to :meth:`join`.

    NOTE: two locks handed back and forth, not a ThreadPoolExecutor: a split costs one
    lock release and one acquire each way, about 13 µs on a 2-core host against 45 µs
    through an executor's futures and queue (bench/KERNEL_NOTES.md, "Threads: dispatch
    cost"). Each side watches the other's counter for ``tuning.WATCH_MICROSECONDS``
    before it sleeps on its lock (``spin.watch``), so that a thread is not asleep, to be
    woken, when its chunk or its partner's end comes soon (bench/KERNEL_NOTES.md, "Threads:
    watch, then sleep"); each side releases its lock before it bumps its counter, so the
    watcher finds the lock free. The pool thread bumps its counter without the GIL, and
    takes the GIL for its next chunk only ``tuning.START_GRACE_MICROSECONDS`` after it
    came (``spin.end_then_watch``): each side then finds the GIL free instead of sleeping
    on it (bench/KERNEL_NOTES.md, "Threads: the end of a chunk", "Threads: the start of a
    chunk")."""

    def __init__(self, name: str) -> None:
        self._go, self._done = threading.Lock(), threading.Lock()
        self._go.acquire()
        self._done.acquire()
        self._job: tuple[Callable[[int], object], int] | None = None
        self._error: BaseException | None = None
        self._budget = self._grace = 0        # watch ticks, grace ticks (spin.end_then_watch)
        self._counts = np.zeros(2, np.int64)      # chunks handed over, chunks ended
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    def _loop(self) -> None:
        _worker.inside = True
        while True:
            self._go.acquire()
            assert self._job is not None
            fn, k = self._job
            try:
                fn(k)
            except BaseException as e:      # raised in the caller, by join
                self._error = e
            # NOTE: the chunk's closure goes before the end is signalled: kept until the
            # next split, it kept that split's arrays out of the workspace pool
            del fn
            self._job = None
            self._done.release()
            spin.end_then_watch(self._counts, self._budget, self._grace)

    def start(self, fn: Callable[[int], object], k: int, budget: int, grace: int = 0) -> None:
        self._job, self._error, self._budget, self._grace = (fn, k), None, budget, grace
        self._go.release()
        self._counts[0] += 1

    def join(self) -> BaseException | None:
        """Wait for the chunk to end; its exception, if it raised one, else the
        KeyboardInterrupt that came while waiting, which ``run_chunks`` raises once every
        chunk has ended."""
        interrupt = None
        try:
            spin.watch(self._counts, 1, self._counts[0] - 1, self._budget)
            self._done.acquire()
        except KeyboardInterrupt as e:
            interrupt = e
            self._wait_out()
        error, self._error = self._error, None
        return error or interrupt

    def _wait_out(self) -> None:
        """Wait for the chunk's end after an interrupted join, taking its release unless the
        interrupted acquire already had (a KeyboardInterrupt can come just after the
        acquire succeeds); left behind, that release would end the next split's join
        before its chunk. Further interrupts are ignored until the chunk ends."""
        while True:
            try:
                while self._counts[1] != self._counts[0]:     # not ended: bumped after release
                    spin.watch(self._counts, 1, self._counts[0] - 1, spin.ticks_for(1000))
                self._done.acquire(blocking=False)
                return
            except KeyboardInterrupt:
                continue


_pool: list[_Worker] = []
#: held by the caller whose chunks the pool runs; another caller meanwhile runs serially
_pool_busy = threading.Lock()
_worker = threading.local()


def _workers(n: int) -> list[_Worker]:
    """The pool's first n threads, started on first use (by the holder of ``_pool_busy``)."""
    while len(_pool) < n:
        _pool.append(_Worker(f"nongate_np-kernel-{len(_pool)}"))
    return _pool[:n]


def run_chunks(chunk: Callable[[int], object], n: int) -> None:
    """``chunk(k)`` for k in 0..n-1: chunk 0 on the calling thread, the others on the
    process's pool of Python threads, each running a jitted function that releases the GIL
    (``nogil=True``); returns when every chunk has. An exception of a chunk is raised here
    once all have ended (the lowest k's first), so no chunk still writes to buffers the
    caller goes on to use or free; for the same reason a Ctrl-C (KeyboardInterrupt) while
    the caller waits for a chunk is raised once that chunk has ended (``_Worker.join``).

    Chunks run serially, in order, when n is 1, when the caller is itself one of the pool's
    threads (a pool waiting on its own threads could wait for ever), or when another thread
    is using the pool (no caller waits for another's kernels).

    NOTE: Python threads, not Numba's ``prange``: a kernel is compiled once for both the
    serial and the threaded path, and a waiting thread sleeps instead of spinning on a
    core another process wants (bench/KERNEL_NOTES.md, "Threads: one pool of Python
    threads")."""
    if n <= 1 or getattr(_worker, "inside", False) or not _pool_busy.acquire(blocking=False):
        for k in range(n):
            chunk(k)
        return
    started: list[_Worker] = []
    errors: list[BaseException | None] = []
    joined = False
    try:
        workers = _workers(n - 1)
        budget = spin.budget_now(tuning.WATCH_MICROSECONDS)
        grace = spin.ticks_for(tuning.START_GRACE_MICROSECONDS) if budget else 0
        for k, w in enumerate(workers, start=1):
            started.append(w)
            w.start(chunk, k, budget, grace)
        try:
            chunk(0)
        except BaseException as e:
            errors.append(e)
        errors += [w.join() for w in started]
        joined = True
    finally:
        if not joined:      # a started worker may be out of step with its locks: new ones next
            _pool[:] = [w for w in _pool if w not in started]
        _pool_busy.release()
    for error in errors:
        if error is not None:
            raise error


def parallel_chunks(macs: int, min_macs: int) -> int:
    """How many threads share work of ``macs`` multiply-adds (1: the calling thread; always
    1 in a fork child). Every split of the backend asks here."""
    # NOTE: the threshold first: Numba's thread-count query is slow next to a small product
    # (bench/KERNEL_NOTES.md, "Threads: thread-count query")
    if macs < min_macs or forked:
        return 1
    n = num_threads()
    if n < 2 or _blas_thread_control() is None:
        return 1
    return n


def even_blocks(total: int, n: int) -> tuple[int, ...]:
    """Bounds cutting 0..total into at most n blocks as even as can be (the last may be
    shorter); a tuple of ints, cheaper than an array at every small call."""
    step = max(-(-total // n), 1)
    return tuple(range(0, total, step)) + (total,)


def batch_chunks(batch: int, macs: int) -> tuple[int, ...]:
    """Bounds (n + 1,) splitting the batch rows 0..B of a step loop of ``macs``
    multiply-adds into the n chunks that run their whole loops in parallel, each on its own
    rows; ``[0, B]`` (one chunk, on the calling thread) when a split would not pay."""
    n = min(parallel_chunks(macs, tuning.STEP_SPLIT_MIN_MACS), batch)
    return even_blocks(batch, max(n, 1))
