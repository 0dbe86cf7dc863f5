"""In-place parameter initialisation, as ``torch.nn.init`` (the functions ending in ``_``).

Every random draw comes from ``nongate_np.rng.generator()``, so ``nongate_np.seed(s)`` fixes
it. Samples are drawn in float64 and then cast to the tensor's dtype, so a float32 and a
float64 model built after the same seed hold the same values up to float32 rounding.
These functions write into ``tensor.data`` and record nothing in the autograd graph.
"""

from __future__ import annotations

import math

import numpy as np

from .. import rng
from ..autograd import mark_changed
from ..device import copy_into
from ..tensor import Tensor

__all__ = ["uniform_", "normal_", "constant_", "zeros_", "ones_", "calculate_fan_in_and_fan_out",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_"]


def _fill(tensor: Tensor, values) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init: expected a Tensor or Parameter, got {type(tensor).__name__}")
    copy_into(tensor.data, values, casting="unsafe")    # as ``data[...] = values`` casts
    mark_changed(tensor.data)
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples of U(a, b)."""
    if not a <= b:
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    return _fill(tensor, rng.generator().uniform(a, b, size=tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples of N(mean, std²)."""
    if not std >= 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    return _fill(tensor, mean + std * rng.generator().standard_normal(tensor.shape))


def constant_(tensor: Tensor, value: float) -> Tensor:
    return _fill(tensor, value)


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1)


def calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel), as torch computes them."""
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got "
                         f"shape {tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a) with a = gain·sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std²) with std = gain·sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor: Tensor, a: float = 0.0) -> Tensor:
    """U(-b, b) with b = sqrt(6 / ((1 + a²) fan_in)) (He et al. 2015, leaky-ReLU gain, fan_in
    mode). ``a = sqrt(5)`` gives torch's ``Linear`` default, b = 1/sqrt(fan_in)."""
    fan_in, _ = calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(6.0 / ((1.0 + a * a) * fan_in)) if fan_in > 0 else 0.0
    return uniform_(tensor, -bound, bound)
