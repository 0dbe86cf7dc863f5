"""The Numba CPU backend: the kernel contract (``contract.Backend``) compiled with
``@njit`` (imported, and compiled, only when first used). The compiled code is cached in
``NUMBA_CACHE_DIR`` or the per-user cache folder, never in the package's folder, or not at
all when neither is writable (``cache.py``). The GRU's kernels (``gru.py``) are outside the
protocol: ``registry.gru_kernels`` imports them when a GRU runs on this backend."""

from .attention import attention_backward, attention_forward, attention_online
from .lstm import lstm_backward, lstm_forward, lstm_forward_bidirectional

__all__ = ["lstm_forward", "lstm_forward_bidirectional", "lstm_backward", "attention_forward",
           "attention_backward", "attention_online"]
