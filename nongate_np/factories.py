"""Tensor factories, as torch's: zeros, ones, full, randn, rand and their ``_like`` forms."""

from __future__ import annotations

import numpy as np

from . import rng
from .tensor import Tensor

__all__ = ["zeros", "ones", "full", "zeros_like", "ones_like", "randn", "rand"]


def _shape(shape) -> tuple:
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def zeros(*shape, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape(shape), dtype), requires_grad=requires_grad)


def ones(*shape, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape(shape), dtype), requires_grad=requires_grad)


def full(shape, value, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    return Tensor(np.full(_shape((shape,)), value, dtype), requires_grad=requires_grad)


def zeros_like(x, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros_like(np.asarray(x)), requires_grad=requires_grad)


def ones_like(x, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones_like(np.asarray(x)), requires_grad=requires_grad)


def randn(*shape, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the library's generator (see ``seed``)."""
    data = rng.generator().standard_normal(_shape(shape)).astype(dtype)
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the library's generator (see ``seed``)."""
    data = rng.generator().random(_shape(shape)).astype(dtype)
    return Tensor(data, requires_grad=requires_grad)
