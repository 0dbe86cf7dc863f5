"""The pool's wait (``spin.py``): a watch sees another thread's bump, gives up when its
time is up (also on a core another process shares), and is turned off where the machine
is oversubscribed or the load cannot be read; the pool waits for every chunk whether its
threads watch or sleep at once."""

import os
import threading
import time

import numpy as np
import pytest

pytest.importorskip("numba")
from nongate_np.kernels.cpu import spin, threads, tuning  # noqa: E402  (after the importorskip)


def test_watch_sees_a_bump_made_by_another_thread_while_it_looks():
    counts = np.zeros(2, np.int64)

    def bump():
        time.sleep(0.05)
        counts[1] += 1

    other = threading.Thread(target=bump)
    other.start()
    start = time.perf_counter()
    # NOTE: a budget of 60 s: it returns on the bump, not at the end of the budget
    assert spin.watch(counts, 1, 0, spin.ticks_for(60_000_000))
    assert time.perf_counter() - start < 30
    other.join()


def test_end_then_watch_bumps_the_end_count_first_and_waits_for_the_next_chunk():
    """A pool thread's end of a chunk: the caller sees chunks ended = handed over while that
    thread still watches (without the GIL: this thread reads the count meanwhile), and the
    next chunk handed over ends its watch."""
    counts = np.array([1, 0], np.int64)      # one chunk handed over, none ended
    result: list[bool] = []
    other = threading.Thread(
        target=lambda: result.append(
            spin.end_then_watch(counts, spin.ticks_for(60_000_000), 0)))
    other.start()
    assert spin.watch(counts, 1, 0, spin.ticks_for(10_000_000)), "the end was not bumped"
    assert counts[1] == 1 and other.is_alive(), "stopped watching before the next chunk"
    counts[0] += 1                            # the next chunk
    other.join(30)
    assert result == [True]
    assert not spin.end_then_watch(counts, 0, spin.ticks_for(60_000_000)) \
        and counts[1] == 2, "no budget: bumps and returns at once, without a grace"


def test_end_then_watch_waits_its_grace_once_the_next_chunk_has_come():
    counts = np.array([1, 0], np.int64)
    times: list[float] = []

    def pool_thread():
        spin.end_then_watch(counts, spin.ticks_for(60_000_000), spin.ticks_for(50_000))
        times.append(time.perf_counter())

    other = threading.Thread(target=pool_thread)
    other.start()
    assert spin.watch(counts, 1, 0, spin.ticks_for(10_000_000)), "the end was not bumped"
    handed_over = time.perf_counter()
    counts[0] += 1
    other.join(30)
    assert times and times[0] - handed_over >= 0.05, "returned before its 50 ms grace"


def test_watch_gives_up_when_its_time_is_up_on_a_counter_nobody_changes():
    counts = np.zeros(1, np.int64)
    start = time.perf_counter()
    assert not spin.watch(counts, 0, 0, spin.ticks_for(20_000))
    assert time.perf_counter() - start >= 0.02, "gave up before its budget"
    assert not spin.watch(counts, 0, 0, 0)
    assert spin.watch(counts, 0, 5, 0), "a counter already past the old value: no look needed"


def test_the_budget_is_a_time_whatever_another_process_does_with_the_core():
    """Yielding to another process's time slice must not stretch the budget (a count of
    looks did: 10 ms became about a minute on a shared core)."""
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no sched_setaffinity here")
    import subprocess
    import sys
    core = sorted(os.sched_getaffinity(0))[0]
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    saved = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(busy.pid, {core})
        os.sched_setaffinity(0, {core})        # this thread now shares its core
        start = time.perf_counter()
        assert not spin.watch(np.zeros(1, np.int64), 0, 0, spin.ticks_for(20_000))
        elapsed = time.perf_counter() - start
    finally:
        os.sched_setaffinity(0, saved)
        busy.kill()
        busy.wait()
    assert 0.02 <= elapsed < 5


@pytest.mark.parametrize("text, busy", [
    ("0.10 0.20 0.30 1/100 4321\n", False),
    ("9.00 9.00 9.00 {many}/900 4321\n", True),
    ("0.10 0.20\n", True),                       # fields missing
    ("a b c d/e f\n", True),                     # not numbers
])
def test_oversubscribed_reads_the_running_count_and_is_cautious_otherwise(tmp_path, text,
                                                                          busy):
    path = tmp_path / "loadavg"
    path.write_text(text.format(many=(os.cpu_count() or 1) + 1))
    assert spin.oversubscribed(str(path)) is busy
    assert spin.oversubscribed(str(tmp_path / "missing")) is True


def test_the_budget_follows_the_knob_and_the_load(tmp_path):
    """The knob is read at every split (fcc9d27: it was cached with the load for 50 ms) and
    the load decides between watching and sleeping at once."""
    idle, busy = tmp_path / "idle", tmp_path / "busy"
    idle.write_text("0.10 0.20 0.30 1/100 4321\n")
    busy.write_text(f"9.00 9.00 9.00 {(os.cpu_count() or 1) + 1}/900 4321\n")
    assert spin.budget_now(10_000, str(idle)) == spin.ticks_for(10_000) > 0
    assert spin.budget_now(0, str(idle)) == 0
    assert spin.budget_now(10_000, str(idle)) > 0
    with tuning.override(WATCH_MICROSECONDS=0):
        assert spin.budget_now(tuning.WATCH_MICROSECONDS, str(idle)) == 0
    assert spin.budget_now(10_000, str(busy)) == 0, "watched on an oversubscribed machine"
    assert spin.ticks_for(0) == 0 and spin.ticks_for(10 ** 30) == 1 << 62


@pytest.mark.parametrize("watch", [0, 10_000])
def test_a_worker_waits_for_its_chunk_watching_or_not(watch):
    """One of the pool's threads, given a watch budget or none: join returns only once the
    chunk has ended, quick chunks and slow ones."""
    worker = threads._Worker("test-worker")
    for seconds in (0.0, 0.0, 0.05, 0.0, 0.05):
        seen = []

        def chunk(k):
            time.sleep(seconds)
            seen.append(k)

        worker.start(chunk, 1, spin.ticks_for(watch))
        assert worker.join() is None
        assert seen == [1]


@pytest.mark.parametrize("watch", [0, 10_000])
def test_the_pool_runs_every_chunk_once_whatever_the_knob(watch):
    with tuning.override(WATCH_MICROSECONDS=watch):
        for n in (2, 3):
            for _ in range(50):
                seen = []
                threads.run_chunks(seen.append, n)
                assert sorted(seen) == list(range(n))
