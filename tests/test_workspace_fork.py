"""A fork child gets a usable workspace pool even when another thread of the parent held
the pool's lock at the fork (issue 15: a library process is safe to fork)."""

import multiprocessing
import os
import sys
import threading

import numpy as np
import pytest

from nongate_np.kernels.cpu import workspace

pytestmark = pytest.mark.skipif(sys.platform == "win32" or not hasattr(os, "fork"),
                                reason="needs fork")


def _child_allocates(conn) -> None:
    a = workspace.empty((1 << 18,), np.float32)         # pooled size: takes the lock
    a[:] = 1.0
    conn.send(float(a.sum()))


def test_fork_while_another_thread_holds_the_pool_lock():
    held, release = threading.Event(), threading.Event()

    def hold():
        with workspace._lock:
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    try:
        ctx = multiprocessing.get_context("fork")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_child_allocates, args=(child,))
        proc.start()
        got = parent.recv() if parent.poll(30) else None
        proc.join(5)
        if proc.is_alive():
            proc.kill()
    finally:
        release.set()
        thread.join()
    assert got == float(1 << 18), "the child deadlocked on the lock it inherited held"
