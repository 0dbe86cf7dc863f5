"""The pool's wait (``spin.py``): a watch sees another thread's bump, gives up after its
looks, and is turned off where the machine is oversubscribed or the load cannot be read;
the pool runs every chunk whether its threads watch or sleep at once."""

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
    # NOTE: far more looks than 0.05 s holds: it returns on the bump, not on the budget
    assert spin.watch(counts, 1, 0, spin.looks_for(30_000_000))
    assert time.perf_counter() - start < 10
    other.join()


def test_watch_gives_up_after_its_looks_on_a_counter_nobody_changes():
    counts = np.zeros(1, np.int64)
    assert not spin.watch(counts, 0, 0, 1000)
    assert not spin.watch(counts, 0, 0, 0)
    assert spin.watch(counts, 0, 5, 0), "a counter already past the old value: no look needed"


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


def test_no_watch_when_the_knob_is_zero():
    spin.looks_now(10_000)                      # a load reading the next call may reuse
    assert spin.looks_now(0) == 0
    assert spin.looks_for(0) == 0
    assert spin.looks_for(1000) > 0


@pytest.mark.parametrize("watch", [0, 10_000])
def test_the_pool_runs_every_chunk_once_watching_or_not(watch):
    if threads.parallel_chunks(1, 0) < 2:
        pytest.skip("one thread, or no BLAS thread control here")
    with tuning.override(WATCH_MICROSECONDS=watch):
        for n in (2, 3):
            for _ in range(50):
                seen = []
                threads.run_chunks(seen.append, n)
                assert sorted(seen) == list(range(n))
