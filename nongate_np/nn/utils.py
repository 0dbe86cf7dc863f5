"""``torch.nn.utils``'s gradient clipping, where torch code reaches for it
(``nn.utils.clip_grad_norm_``): the same functions as ``nongate_np.optim``'s."""

from __future__ import annotations

from ..optim.optimizer import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
