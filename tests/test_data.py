"""The two-trigger problem is what its docstring says, and the progress bar reports."""

import io

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from nongate_np.data import make_two_trigger, minibatches
from nongate_np.training.progress import ProgressBar


@given(n=st.integers(1, 50), seed=st.integers(0, 1000), lo=st.integers(2, 6),
       extra=st.integers(0, 6))
def test_two_trigger_layout(n, seed, lo, extra):
    d = make_two_trigger(n, min_len=lo, max_len=lo + extra, num_classes=3, seed=seed)
    rows = np.arange(n)
    assert d.tokens.shape == (n, lo + extra)
    assert np.all((d.lengths >= lo) & (d.lengths <= lo + extra))
    pad = np.arange(d.tokens.shape[1])[None, :] >= d.lengths[:, None]
    assert np.all(d.tokens[pad] == 0) and np.all(d.tokens[~pad] > 0)
    pa, pb = d.positions
    assert np.all(pa != pb) and np.all(pa < d.lengths) and np.all(pb < d.lengths)
    first_a = d.vocab_size - 2 * 3
    np.testing.assert_array_equal(d.tokens[rows, pa], first_a + d.labels[0])
    np.testing.assert_array_equal(d.tokens[rows, pb], first_a + 3 + d.labels[1])
    # each trigger token appears exactly once per sequence
    triggers = d.tokens >= first_a
    np.testing.assert_array_equal(triggers.sum(axis=1), 2)


def test_minibatches_cover_every_index_once():
    got = np.concatenate(list(minibatches(23, 5, np.random.default_rng(0))))
    np.testing.assert_array_equal(np.sort(got), np.arange(23))


def test_progress_bar_reports_steps_values_and_eta():
    stream = io.StringIO()
    bar = ProgressBar(8, "epoch 1/2", stream=stream)
    for k in range(8):
        bar.update(loss=1.0 / (k + 1))
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith("epoch 1/2 [" + "#" * 24 + "] 8/8 loss 0.125 ETA 0:00")
    assert 2 <= len(lines) <= 5       # a log, not one line per step


def test_progress_bar_eta_leaves_out_a_slow_first_step():
    """The first step may compile the kernels (tens of seconds): the ETA uses the rate of
    the steps after it."""
    now = [0.0]
    bar = ProgressBar(10, stream=io.StringIO(), clock=lambda: now[0])
    for t in (30.0, 31.0):                          # steps end at 30 and 31 s
        now[0] = t
        bar.update()
    assert bar.line().endswith("ETA 0:08")          # 8 steps left at 1 s each, not 2:04


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_with_a_delay_stays_silent_for_a_short_task():
    """delay=2: nothing before 2 s, not even on close; a task that outlives it is drawn."""
    now = [0.0]
    stream = _Terminal()
    bar = ProgressBar(10, "short", stream=stream, clock=lambda: now[0], delay=2.0)
    for t in (0.5, 1.0, 1.5):
        now[0] = t
        bar.update()
    bar.close()
    assert stream.getvalue() == ""
    now[0] = 0.0
    bar = ProgressBar(10, "long", stream=stream, clock=lambda: now[0], delay=2.0)
    for t in (1.0, 2.5):
        now[0] = t
        bar.update()
    bar.close()
    drawn = stream.getvalue().split("\r")
    assert drawn[0] == "" and all(d.startswith("long [") for d in drawn[1:]), drawn
    assert "2/10" in drawn[-1] and drawn[-1].endswith("\n"), drawn
