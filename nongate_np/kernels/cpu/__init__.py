"""The Numba CPU backend: the kernel contract of ``registry.REQUIRED`` compiled with
``@njit(cache=True)`` (imported, and compiled, only when first used)."""

from .attention import attention_backward, attention_forward
from .lstm import lstm_backward, lstm_forward

__all__ = ["lstm_forward", "lstm_backward", "attention_forward", "attention_backward"]
