"""The numba.cuda GPU backend: the kernel contract (``contract.Backend``) as CUDA kernels.

Each kernel takes host NumPy arrays or numba.cuda device arrays and gives its results back
in the kind it was given (kernels/README.md). The registry loads this backend only where
``kernels.gpu.probe()`` finds a usable GPU, or the CUDA simulator (NUMBA_ENABLE_CUDASIM=1,
for tests). Pieces: ``arrays`` (transfers, allocation), ``matmul`` (tiled products, column
sums), ``scalar`` (device math shared with the CPU), ``blocks`` (block-wide tree
reductions); ``elementwise``, ``reduction``, ``layout`` and ``functions`` (the array
functions of the device seam); ``optim`` (fused updates, clipping); ``lstm`` and
``attention`` (the fused ops, docs/math.md Parts L and A).
"""

from .attention import attention_backward, attention_forward, attention_online
from .lstm import lstm_backward, lstm_forward, lstm_forward_bidirectional

__all__ = ["lstm_forward", "lstm_forward_bidirectional", "lstm_backward", "attention_forward",
           "attention_backward", "attention_online"]
