"""Who owns the cores while a kernel of the Numba backend runs (docs/math.md K4).

All parallelism inside the kernels is Numba's thread pool (``prange``): the LSTM step loop
is split by hidden units, the large products by rows (``gemm.py``), and every thread calls
BLAS for its own slice. So BLAS itself must run on one thread: OpenBLAS's workers keep
spinning after a call and steal the cores Numba's threads are using (bench/KERNEL_NOTES.md,
"Threads: BLAS on one thread inside a kernel"). While a kernel runs (``owns_cores``), the
BLAS that the kernels' products call (``blas.py``: the scipy-openblas32 wheel or SciPy's
OpenBLAS) is set to one thread; the count is restored when the kernel returns.

Policy, in order:

* work is split only with a threading layer that launches a region quickly (OpenMP or
  TBB; the fallback "workqueue" layer takes longer per region than a whole step at the
  sizes where splitting pays off: bench/KERNEL_NOTES.md, "Threads: threading layer");
* only when the BLAS's thread count can be set (OpenBLAS, found through
  ``blas.library()``); otherwise everything runs on the calling thread;
* only when the work is large enough to pay for the region's launch and join;
* in as many chunks as ``numba.get_num_threads()`` (``NUMBA_NUM_THREADS``), so a fixed
  thread count gives a fixed split and bit-identical results run to run;
* with GNU OpenMP's idle threads spinning for a short while only (``GOMP_SPINCOUNT``,
  ``launch_pool``): a thread that spins at a barrier on a core another process also wants
  keeps its partner, which needs that core, from arriving, and a step loop meeting twice a
  step then slows down by up to 30x (bench/KERNEL_NOTES.md, "Threads: a busy machine");
* never in a forked child (``os.fork``, ``multiprocessing``'s "fork" start method): GNU
  OpenMP, Numba's "omp" layer on Linux, aborts a child that launches a region when its
  parent had launched one ("Terminating: fork() called from a process already using GNU
  OpenMP, this is unsafe"; a Pool whose worker dies so waits for ever). TBB and
  "workqueue" survive a fork, but one rule for every layer keeps a child's results those
  of the serial paths, bit-identical to its parent's serial paths (as PyTorch, whose
  forked DataLoader workers compute on one thread). A process started by "spawn" or
  "forkserver" is not a fork child of the computing process and splits as usual.

NOTE: the BLAS thread count is per library and process-wide: another Python thread calling
the same library while a kernel runs (SciPy's BLAS, when ``blas.py`` chose it) gets one
thread too.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import numpy as np

from . import tuning

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


def _every_openblas() -> list[tuple]:
    """(get, set) for every OpenBLAS copy this process has loaded (NumPy and SciPy each
    bundle their own), found in /proc/self/maps; an empty list elsewhere."""
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
    return controls


@contextlib.contextmanager
def single_threaded_blas():
    """Every loaded OpenBLAS on one thread inside the block, each count restored after.

    For loops that alternate NumPy products (the small ops around the fused kernels) with
    the threaded kernels: OpenBLAS's workers keep spinning after each product and take
    the cores the step loop's threads are waiting for (bench/RESULTS.md, "NumPy's BLAS
    threads"). ``owns_cores`` cannot help there: the spinning starts before a kernel."""
    controls = _every_openblas()
    saved = [get() for get, _ in controls]
    for _, set_ in controls:
        set_(1)
    try:
        yield
    finally:
        for (_, set_), count in zip(controls, saved):
            set_(count)


def blas_threads() -> int | None:
    """The current thread count of the BLAS the kernels call, or None if unknown."""
    control = _blas_thread_control()
    return None if control is None else control[0]()


class _BlasOwnership:
    """Nested and concurrent kernel calls share one saved count: the first kernel to enter
    sets BLAS to one thread, the last to leave restores what it found. (Per-call save and
    restore is wrong with Python threads: two overlapping calls could leave 1 for good.)"""

    def __init__(self):
        self.lock = threading.Lock()
        self.depth = 0
        self.saved = 0          # the count found by the first to enter

    def enter(self, get: Callable[[], int], set_: Callable[[int], None]) -> None:
        with self.lock:
            if self.depth == 0:
                self.saved = get()
                set_(1)
            self.depth += 1

    def leave(self, set_: Callable[[int], None]) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth == 0:
                set_(self.saved)


_ownership = _BlasOwnership()

#: True in a process forked from the one that imported this module: kernels run serially.
forked = False


def _after_fork_in_child() -> None:
    """Mark the process as a fork child, and drop the parent's BLAS ownership: a kernel
    running on another thread at the fork left its lock held and BLAS on one thread, and
    that thread does not exist here."""
    global forked, _ownership
    forked = True
    if _ownership.depth:
        control = _blas_thread_control()
        if control is not None:
            control[1](_ownership.saved)
    _ownership = _BlasOwnership()


if hasattr(os, "register_at_fork"):            # not on Windows, which cannot fork
    os.register_at_fork(after_in_child=_after_fork_in_child)


def owns_cores(kernel: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``kernel`` with the kernels' BLAS on one thread; restore the count afterwards."""
    @functools.wraps(kernel)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        control = _blas_thread_control()
        if control is None:
            return kernel(*args, **kwargs)
        get, set_ = control
        _ownership.enter(get, set_)
        try:
            return kernel(*args, **kwargs)
        finally:
            _ownership.leave(set_)
    return wrapper


#: Spins of the busy-wait loop of GNU OpenMP's idle threads before they sleep, for Numba's
#: pool (bench/KERNEL_NOTES.md, "Threads: a busy machine"); GNU's default is 300 000.
GOMP_SPIN_COUNT = 1000
_WAIT_VARS = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")


@functools.lru_cache(maxsize=None)
def launch_pool() -> str:
    """Start Numba's thread pool, once; its idle threads spin ``GOMP_SPIN_COUNT`` times.

    GNU OpenMP reads its wait policy once, when the library loads, which is when Numba
    starts the pool with its "omp" threading layer: ``GOMP_SPINCOUNT`` is set in the
    environment for that moment only and then removed again (so subprocesses, and any other
    copy of libgomp loaded later, as PyTorch's, see the user's environment). The user's own
    ``GOMP_SPINCOUNT`` or ``OMP_WAIT_POLICY`` is left alone.

    Returns what decided the wait policy: ``"short spin"``, ``"user's environment"`` or
    ``"already loaded"`` (another module had loaded libgomp first: its policy stays)."""
    import numba
    policy = ("user's environment" if any(var in os.environ for var in _WAIT_VARS)
              else "already loaded" if _loaded_libraries("libgomp") else "short spin")
    if policy == "short spin":
        os.environ["GOMP_SPINCOUNT"] = str(GOMP_SPIN_COUNT)
    try:
        numba.get_num_threads()            # launches the pool: libgomp loads here
    finally:
        if policy == "short spin":
            del os.environ["GOMP_SPINCOUNT"]
    return policy


@functools.lru_cache(maxsize=None)
def _fast_threading_layer() -> bool:
    """True if Numba can use a threading layer that launches regions quickly."""
    import numba
    layer = numba.config.THREADING_LAYER
    if layer in ("omp", "tbb"):
        return True
    if layer not in ("default", "threadsafe", "forksafe"):
        return False          # "workqueue" asked for explicitly
    for module in ("omppool", "tbbpool"):
        try:
            __import__(f"numba.np.ufunc.{module}")
            return True
        except ImportError:
            continue
    return False


def parallel_chunks(macs: int, min_macs: int) -> int:
    """How many threads share work of ``macs`` multiply-adds (1: the calling thread; always
    1 in a fork child). Every split of the backend asks here."""
    # NOTE: the threshold first: Numba's thread-count query is slow next to a small product
    # (bench/KERNEL_NOTES.md, "Threads: thread-count query")
    if macs < min_macs or forked:
        return 1
    import numba
    launch_pool()
    n = numba.get_num_threads()
    if n < 2 or not _fast_threading_layer() or _blas_thread_control() is None:
        return 1
    return n


def even_blocks(total: int, n: int, multiple: int = 1) -> np.ndarray:
    """Bounds (int64) cutting 0..total into at most n blocks, as even as blocks whose size
    is a multiple of ``multiple`` allow (the last may be shorter)."""
    step = -(-total // n)
    step = -(-step // multiple) * multiple
    return np.append(np.arange(0, total, step), total).astype(np.int64)


def step_chunks(hidden: int, macs_per_step: int) -> np.ndarray:
    """Bounds (n + 1,) splitting the hidden units 0..H into the n chunks the step loop runs
    in parallel; ``[0, H]`` (one chunk, the serial loop) when parallel would not pay.

    Chunks are multiples of 16 units where H allows (one cache line of float32), so
    neighbouring threads do not write the same cache line of the state."""
    n = min(parallel_chunks(macs_per_step, tuning.STEP_SPLIT_MIN_MACS), hidden)
    if n < 2:
        return np.array([0, hidden], np.int64)
    return even_blocks(hidden, n, 16 if hidden >= 16 * n else 1)
