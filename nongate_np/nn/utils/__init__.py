"""``torch.nn.utils``: gradient clipping, where torch code reaches for it
(``nn.utils.clip_grad_norm_``): the same functions as ``nongate_np.optim``'s, and torch
2.6's two halves of ``clip_grad_norm_``, ``get_total_norm`` and ``clip_grads_with_norm_``
(one total-norm computation serves all three: ``optim/optimizer.py``); and
``nn.utils.rnn``, torch's packed sequences (``pack_padded_sequence`` and the rest)."""

from __future__ import annotations

from ...optim.optimizer import (
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from . import rnn

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_",
           "rnn"]
