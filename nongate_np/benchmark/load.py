"""The loaded-machine run: other processes keep the cores busy while the benchmark measures.

Issue 16 measured a two-thread step loop collapse (the M1 float32 training step + attention
from 0.82 to 0.07 of torch's speed) beside one other process running a two-thread NumPy
matrix-product loop; its goal is each ratio at least 0.7 times its idle value with that
process running. ``--load`` reproduces it:

* ``blas2``: one process, ``OPENBLAS_NUM_THREADS=2`` (and OMP/MKL), multiplying two 256 x
  256 float64 matrices in a loop, as the issue measured;
* ``spin2``: two processes, each a pure-Python busy loop (one core each, no BLAS);
* ``none``: the idle run.

:func:`background` starts the load before the first worker and stops it after the last:
terminated, then killed if it has not exited within a few seconds, and reaped (waited for)
in every case, on an error, Ctrl-C or SIGTERM (:func:`sigterm_unwinds`) as well. Each load
process also exits by itself when its parent is gone (it polls ``os.getppid()``), so a
benchmark killed outright (SIGKILL) leaves no busy process behind. Each reports how many
loop iterations it ran, the proof it ran.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

#: --load's choices: what each starts, for the report and the JSON
LOADS = {"none": "no other process (the idle run)",
         "blas2": "one process running a two-thread NumPy matrix product loop "
                  "(256x256 float64 @, OPENBLAS_NUM_THREADS=2)",
         "spin2": "two processes, each a pure-Python busy loop"}

# NOTE: every load process exits when its parent is gone (orphaned: getppid() changes) and
# on SIGTERM prints its iteration count; "ready" once its loop can start, printed inside the
# try so that a SIGTERM right after it still prints the count
_PROLOGUE = """\
import os, signal, sys, time
parent, count = os.getppid(), 0
def stop(*_):
    raise SystemExit
signal.signal(signal.SIGTERM, stop)
"""
_LOOPS = {
    "blas2": """\
import numpy as np
a = np.random.default_rng(0).standard_normal((256, 256))
b = a.copy()
start = time.perf_counter()
try:
    print("ready", flush=True)
    while os.getppid() == parent:
        for _ in range(20):
            b = a @ a
        count += 20
finally:
    print(count, time.perf_counter() - start, flush=True)
""",
    "spin2": """\
start = time.perf_counter()
try:
    print("ready", flush=True)
    while os.getppid() == parent:
        for _ in range(100000):
            pass
        count += 100000
finally:
    print(count, time.perf_counter() - start, flush=True)
"""}
_PROCESSES = {"blas2": 1, "spin2": 2}
#: the thread counts a "blas2" load sets (a "spin2" one uses no BLAS)
_LOAD_THREADS = {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}


class LoadError(RuntimeError):
    """A load process that did not start (exited before saying it was ready)."""


@contextlib.contextmanager
def background(kind: str, env: dict | None = None, ready_timeout: float = 60.0
               ) -> Iterator[dict]:
    """Run the load ``kind`` (a key of :data:`LOADS`) for the duration of the block.

    Parameters
    ----------
    kind : str
        "none" (nothing runs), "blas2" or "spin2".
    env : dict, optional
        The load processes' environment (default ``os.environ``); "blas2" sets its thread
        counts on top.
    ready_timeout : float
        Seconds each process may take to start (import numpy) before :class:`LoadError`.

    Yields
    ------
    dict
        The record the JSON keeps: ``kind``, ``what`` (the description), ``pids``; after the
        block also ``processes``: per process {``iterations``, ``seconds``, ``returncode``}.

    Raises
    ------
    ValueError
        For an unknown ``kind``.
    LoadError
        When a load process exits before it is ready (the started ones are reaped first).
    """
    if kind not in LOADS:
        raise ValueError(f"unknown load {kind!r}; expected one of {', '.join(LOADS)}")
    record: dict = {"kind": kind, "what": LOADS[kind], "pids": []}
    procs: list[subprocess.Popen] = []
    try:
        if kind != "none":
            penv = dict(os.environ if env is None else env)
            if kind == "blas2":
                penv.update(_LOAD_THREADS)
            for _ in range(_PROCESSES[kind]):
                procs.append(subprocess.Popen(
                    [sys.executable, "-c", _PROLOGUE + _LOOPS[kind]], env=penv,
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, text=True))
                record["pids"].append(procs[-1].pid)
            for p in procs:
                _wait_ready(p, ready_timeout)
        record["started"] = time.time()
        yield record
    finally:
        record["processes"] = [_stop(p) for p in procs]


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Inside the block, SIGTERM (``timeout``, ``kill``, a job scheduler) raises SystemExit,
    so the ``finally`` blocks run as on Ctrl-C: the load is stopped and reaped, and
    ``subprocess.run`` kills the worker it waits for. Python's default would end the
    process at once. Outside the main thread (no signal handlers there) it does nothing."""
    def stop(signum, frame):
        raise SystemExit(128 + signum)
    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:               # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _wait_ready(p: subprocess.Popen, timeout: float) -> None:
    # NOTE: readline blocks and select() takes no pipes on Windows: a thread reads the line
    import threading
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(p.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if line and line[0].strip() == "ready":
        return
    p.kill()
    _, err = p.communicate()
    raise LoadError(f"the load process did not start (exit {p.returncode}): "
                    f"{err.strip()[-500:] or 'no message'}")


def _stop(p: subprocess.Popen, grace: float = 5.0) -> dict:
    """Terminate ``p``, kill it if it is still running after ``grace`` s, and reap it."""
    if p.poll() is None:
        p.terminate()
    try:
        out, _ = p.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    words = (out or "").split()
    try:
        iterations, seconds = int(words[-2]), float(words[-1])
    except (IndexError, ValueError):
        iterations, seconds = None, None
    return {"pid": p.pid, "iterations": iterations, "seconds": seconds,
            "returncode": p.returncode}
