"""torch.cuda's questions a porter's code asks, as ``nongate_np.cuda``: ``is_available()``
and ``device_count()``, answered by the library's own GPU probe (``kernels/gpu.py``: the
CUDA driver asked through ctypes, numba-cuda installed, or the CUDA simulator), so
``device = ng.device("cuda" if ng.cuda.is_available() else "cpu")`` ports as it is."""

from __future__ import annotations

from .kernels import gpu

__all__ = ["is_available", "device_count"]


def is_available() -> bool:
    """Whether tensors can go to ``"cuda"`` here: a GPU with its driver and numba-cuda,
    or the CUDA simulator (NUMBA_ENABLE_CUDASIM=1). ``nongate-np info`` says why not."""
    return gpu.probe().usable


def device_count() -> int:
    """The GPUs this library can use: 1 where one is usable (it uses one, the current
    one), else 0. (torch's counts every GPU the driver reports.)"""
    return 1 if gpu.probe().usable else 0
