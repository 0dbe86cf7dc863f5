"""Optimisers, as ``torch.optim``: SGD, Adam, AdamW and gradient clipping
(``optimizer.py``; their update formulas are torch's)."""

from .optimizer import SGD, Adam, AdamW, Optimizer, clip_grad_norm_, clip_grad_value_, required

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "clip_grad_norm_", "clip_grad_value_",
           "required"]
