"""Synthetic data for the multi-task demo, and mini-batching.

The two-trigger problem: each sequence holds random filler tokens, one "A" trigger token at a
random step and one "B" trigger token at another. Task A's class is which A token appears,
task B's class is which B token appears. The answers depend on different time steps, so a
model that solves both must look at different places for each task: attention pooling with
one query per task should put its mass on each task's own trigger.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arguments import check_count

__all__ = ["TwoTriggerData", "make_two_trigger", "minibatches"]


@dataclass
class TwoTriggerData:
    """tokens (N, T) int64, zero-padded past ``lengths`` (N,); labels and trigger steps per
    task: ``labels[k]`` (N,) and ``positions[k]`` (N,) for task k in (0 = A, 1 = B)."""
    tokens: np.ndarray
    lengths: np.ndarray
    labels: tuple[np.ndarray, np.ndarray]
    positions: tuple[np.ndarray, np.ndarray]
    vocab_size: int
    num_classes: int

    def __len__(self) -> int:
        return len(self.tokens)

    def subset(self, idx) -> "TwoTriggerData":
        return TwoTriggerData(self.tokens[idx], self.lengths[idx],
                              tuple(a[idx] for a in self.labels),
                              tuple(p[idx] for p in self.positions),
                              self.vocab_size, self.num_classes)


def _check_counts(where: str, **counts) -> None:
    """ValueError unless every ``name=(value, least)`` is an int >= least."""
    for name, (value, least) in counts.items():
        check_count(value, name, where, least)


def make_two_trigger(n: int, *, min_len: int = 8, max_len: int = 16, num_classes: int = 3,
                     num_filler: int = 6, seed: int = 0) -> TwoTriggerData:
    """Draw ``n`` sequences of the two-trigger problem.

    Token ids: 0 is padding, 1..num_filler are filler, then num_classes "A" triggers, then
    num_classes "B" triggers. Lengths are uniform in [min_len, max_len].
    """
    _check_counts("make_two_trigger", n=(n, 0), num_classes=(num_classes, 1),
                  num_filler=(num_filler, 1))
    if not 2 <= min_len <= max_len:
        raise ValueError(f"make_two_trigger: need 2 <= min_len <= max_len, got {min_len}, "
                         f"{max_len}")
    rng = np.random.default_rng(seed)
    first_a, first_b = 1 + num_filler, 1 + num_filler + num_classes
    lengths = rng.integers(min_len, max_len + 1, n)
    tokens = rng.integers(1, 1 + num_filler, (n, max_len))
    tokens[np.arange(max_len)[None, :] >= lengths[:, None]] = 0
    labels = (rng.integers(0, num_classes, n), rng.integers(0, num_classes, n))
    # Two distinct trigger steps inside each sequence.
    pos_a = (rng.random(n) * lengths).astype(np.int64)
    offset = 1 + (rng.random(n) * (lengths - 1)).astype(np.int64)
    pos_b = (pos_a + offset) % lengths
    rows = np.arange(n)
    tokens[rows, pos_a] = first_a + labels[0]
    tokens[rows, pos_b] = first_b + labels[1]
    return TwoTriggerData(tokens, lengths, labels, (pos_a, pos_b),
                          vocab_size=first_b + num_classes, num_classes=num_classes)


def minibatches(n: int, batch_size: int, rng: np.random.Generator, shuffle: bool = True):
    """Index arrays covering range(n) in batches (the last one may be smaller); n an int
    >= 0 and batch_size an int >= 1, else ValueError."""
    _check_counts("minibatches", n=(n, 0), batch_size=(batch_size, 1))
    order = rng.permutation(n) if shuffle else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]
