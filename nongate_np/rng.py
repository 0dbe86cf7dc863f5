"""The library's one random-number generator, so that ``seed(s)`` makes runs reproducible.

Parameter initialisation, dropout masks and the tensor factories draw from it. A fixed seed
gives bit-identical weights and training runs (same library version, same backend, same
thread count, same machine: tests/test_determinism.py).

Two things it does not do, as NumPy's and PyTorch's global generators do not: a forked
child continues its parent's stream, so every worker of a fork Pool draws the same numbers
(call ``seed(base + worker_id)`` in each where they must differ); and draws from several
Python threads at once come in an order the scheduler decides.

``fit`` draws from a generator of its own thread instead (:func:`own_generator`), so its
dropout masks do not depend on what other threads draw or seed meanwhile, and it leaves
their stream alone.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import numpy as np

__all__ = ["seed", "manual_seed", "generator", "generator_arg", "own_generator"]

_generator = np.random.default_rng()
# inside own_generator: [the calling thread's generator, None until seed() is called there]
_own: contextvars.ContextVar[list | None] = contextvars.ContextVar("nongate_np_generator",
                                                                   default=None)


def seed(value: int) -> None:
    """Reseed the library's generator (``torch.manual_seed`` for this library); inside
    :func:`own_generator`, the calling thread's own."""
    global _generator
    if not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"seed: expected a non-negative int, got {value!r}")
    own = _own.get()
    if own is None:
        _generator = np.random.default_rng(int(value))
    else:
        own[0] = np.random.default_rng(int(value))


def manual_seed(value: int) -> None:
    """:func:`seed` under torch's name (``torch.manual_seed``); returns None (torch returns
    its generator)."""
    seed(value)


def generator() -> np.random.Generator:
    """The generator the library draws from (reseeded by :func:`seed`): the global one, or
    inside :func:`own_generator`, once seeded there, the calling thread's."""
    own = _own.get()
    return _generator if own is None or own[0] is None else own[0]


def generator_arg(given, where: str) -> np.random.Generator:
    """The generator a ``generator=`` argument (torch's name) asks for: None is
    :func:`generator`'s, a ``numpy.random.Generator`` itself; TypeError naming ``where``
    for anything else."""
    if given is None:
        return generator()
    if isinstance(given, np.random.Generator):
        return given
    raise TypeError(f"{where}: generator must be None (the library's generator, seeded by "
                    f"nongate_np.manual_seed) or a numpy.random.Generator, got "
                    f"{type(given).__name__}")


@contextlib.contextmanager
def own_generator() -> Iterator[None]:
    """Inside the block, in the calling thread only (a ``contextvars`` context), :func:`seed`
    seeds a generator of the block's own, and the library draws from it (dropout masks,
    initialisation, the random factories); until the first :func:`seed` inside, from the
    global one. Other threads' draws and seeds do not reach it, nor its seeds the global
    generator. Blocks nest, each with its own. ``fit`` runs inside one (and seeds it at
    every epoch)."""
    token = _own.set([None])
    try:
        yield
    finally:
        _own.reset(token)
