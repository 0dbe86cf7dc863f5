"""``torch.nn.utils``'s gradient clipping, where torch code reaches for it
(``nn.utils.clip_grad_norm_``): the same functions as ``nongate_np.optim``'s, and torch
2.6's two halves of ``clip_grad_norm_``, ``get_total_norm`` and ``clip_grads_with_norm_``
(one total-norm computation serves all three: ``optim/optimizer.py``)."""

from __future__ import annotations

from ...optim.optimizer import (
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]
