"""Ops that draw random numbers: dropout. A composition of ``mul`` (no backward of its own)."""

from __future__ import annotations

from .. import rng
from ..tensor import Tensor
from ._util import tensor_arg
from .elementwise import mul

__all__ = ["dropout"]


def dropout(x, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (inverted
    dropout, as torch); the identity when ``training`` is false or ``p`` is 0."""
    x = tensor_arg(x, "dropout")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    xp = x.device.xp
    if p == 1.0:
        return mul(x, xp.zeros((), x.dtype))
    # NOTE: the mask is drawn on the host (one stream for every device) and moved to x's
    keep = rng.generator().random(x.shape) >= p
    return mul(x, xp.asarray((keep / (1.0 - p)).astype(x.dtype)))
