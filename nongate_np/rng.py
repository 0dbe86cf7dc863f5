"""The library's one random-number generator, so that ``seed(s)`` makes runs reproducible.

Parameter initialisation, dropout masks and the tensor factories draw from it. A fixed seed
gives bit-identical weights and training runs (same library version, same backend, same
thread count, same machine: tests/test_determinism.py).

Two things it does not do, as NumPy's and PyTorch's global generators do not: a forked
child continues its parent's stream, so every worker of a fork Pool draws the same numbers
(call ``seed(base + worker_id)`` in each where they must differ); and draws from several
Python threads at once come in an order the scheduler decides.
"""

from __future__ import annotations

import numpy as np

__all__ = ["seed", "manual_seed", "generator"]

_generator = np.random.default_rng()


def seed(value: int) -> None:
    """Reseed the library's generator (``torch.manual_seed`` for this library)."""
    global _generator
    if not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"seed: expected a non-negative int, got {value!r}")
    _generator = np.random.default_rng(int(value))


def manual_seed(value: int) -> None:
    """:func:`seed` under torch's name (``torch.manual_seed``); returns None (torch returns
    its generator)."""
    seed(value)


def generator() -> np.random.Generator:
    """The generator the library draws from (reseeded by :func:`seed`)."""
    return _generator
