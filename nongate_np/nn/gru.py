"""``nn.GRU`` and ``nn.GRUCell``: drop-ins for torch's on the fused, hand-derived GRU op."""

from __future__ import annotations

import numpy as np

from ..device import CPU, DeviceError
from ..device import device as as_device
from ..ops.gru import GRUCellStep, gru
from ..tensor import Tensor
from ._recurrent import _RecurrentCell, _StackedRecurrent
from .savable import register_savable

__all__ = ["GRU", "GRUCell"]


def _on_cpu(where: str, device, fix: str) -> None:
    """DeviceError for a device other than the CPU: the GRU has CPU kernels only."""
    if device is not None and as_device(device) is not CPU:
        raise DeviceError(f"{where}: runs on the CPU only (NumPy and Numba CPU kernels, "
                          f"kernels/gru_reference.py, kernels/cpu/gru.py; no numba.cuda "
                          f"kernels yet), got "
                          f"device {str(device)!r}; {fix}")


@register_savable
class GRU(_StackedRecurrent):
    """Multi-layer, optionally bidirectional GRU with PyTorch's interface and weight layout
    (Cho et al., EMNLP 2014, in torch's variant: docs/math.md Part R).

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int, default 1
    bias : bool, default True
    batch_first : bool, default False
        Input and output are (B, T, ·) instead of (T, B, ·).
    dropout : float, default 0
        Dropout on the outputs of every layer but the last, in training mode (none with one
        layer: a UserWarning says so, as torch's).
    bidirectional : bool, default False
    device : "cpu", optional
        The GRU runs on the CPU only: "cuda" is a DeviceError (where torch's runs on a GPU).
    dtype : floating dtype, optional
        Default float32 (torch's), or the dtype given to ``nongate_np.set_default_dtype``.

    Parameters are PyTorch's: ``weight_ih_l{k}`` (3H, I_k), ``weight_hh_l{k}`` (3H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (3H), with suffix ``_reverse`` for the backward
    direction; gate order r, z, n; all initialised U(-1/√H, 1/√H). ``state_dict()``
    therefore loads into ``torch.nn.GRU`` and back.

    Forward: ``gru(input, hx=None, lengths=None) -> (output, h_n)`` with input (T, B, I)
    (or (B, T, I) when batch_first, or (T, I) unbatched), hx = h0 (L·D, B, H) ((L·D, H)
    unbatched; None is zeros), output (T, B, D·H), h_n (L·D, B, H), D = 2 if bidirectional
    else 1. input and h0 have the parameters' dtype (else a TypeError); nested lists take
    it. ``lengths`` (B,) gives each sequence's length (torch has no such argument: it
    takes packed sequences): the result equals PyTorch's on a packed sequence (padded
    steps output zeros and are never read, so NaN padding is harmless; states stop at
    each sequence's end; the reverse direction starts at each sequence's last step).
    Passing the returned h_n to the next call continues the sequences exactly.

    ``input`` may be a :class:`~nongate_np.nn.utils.rnn.PackedSequence`, as torch's: the
    output is then a PackedSequence of data (N, D·H) with the input's batch_sizes and
    indices, and hx, h_n are in the original batch order (as torch's); ``lengths`` is
    refused (the packing holds them).

    Raises ValueError for a shape that does not fit or bad lengths, TypeError for a dtype
    other than the parameters', a tuple hx (a GRU has one state) or integers in hx's place
    (torch raises RuntimeError or AttributeError for these), DeviceError for tensors on the
    GPU. An empty batch (B = 0) gives empty results and zero weight gradients; an input
    with no step (T = 0) is a ValueError, as PyTorch refuses it; a length of 0 keeps h0
    (torch's packing refuses it).
    The math: docs/math.md R1-R14; each layer and direction is one fused autograd node,
    its forward and hand-derived backward the Numba CPU kernels on the "numba" backend,
    the NumPy reference kernels on the others (no CUDA kernels).
    """

    _name, _gates = "GRU", 3

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None):
        _on_cpu("GRU", device, "leave device out or pass 'cpu'")
        super().__init__()
        self._setup(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                    bidirectional, 0, dtype)

    def forward(self, input, hx=None, lengths=None):
        _on_cpu("GRU", self.device, "move the module to the CPU with .to('cpu')")
        return self._forward(input, hx, lengths)

    def _run(self, x: Tensor, states: tuple, lengths):
        """The fused op on time-major x (T, B, I): y (T, B, D·H), (h_n,)."""
        y, h_n = gru(x, states[0], self._weights(), num_layers=self.num_layers,
                     bidirectional=self.bidirectional, lengths=lengths, dropout=self.dropout,
                     training=self.training)
        return y, (h_n,)

    def _hx_out(self, states):
        return states[0]

    def _check_hx(self, hx, B: int, unbatched: bool) -> tuple:
        L, H = self.num_layers * self.num_directions, self.hidden_size
        if hx is None:
            return (np.zeros((L, B, H), self.dtype),)
        given = self._lengths_in_hx(hx)
        if given is not None:
            raise TypeError(f"GRU: hx must be the initial state h0 (num_layers·num_directions, "
                            f"B, H), got {given}; to give the sequences' lengths, pass "
                            f"lengths=...")
        if isinstance(hx, tuple) or isinstance(hx, list) and \
                any(isinstance(v, Tensor) or hasattr(v, "shape") for v in hx):
            raise TypeError(f"GRU: hx must be one array h0 (num_layers·num_directions, B, H), "
                            f"got a {type(hx).__name__} of {len(hx)}; a GRU has no cell state "
                            f"(nn.LSTM's hx is (h0, c0))")
        return (self._check_state("hx", hx, H, "H", B, unbatched),)

    def config(self) -> dict:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "bias": self.bias,
                "batch_first": self.batch_first, "dropout": self.dropout,
                "bidirectional": self.bidirectional, "dtype": str(self.dtype)}


@register_savable
class GRUCell(_RecurrentCell):
    """One GRU step, for loops written step by step (decoders, autoregressive generation):
    ``torch.nn.GRUCell``'s interface and weight layout.

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool, default True
    device : "cpu", optional
        The GRU runs on the CPU only: "cuda" is a DeviceError (where torch's runs on a GPU).
    dtype : floating dtype, optional
        Default float32 (torch's), or the dtype given to ``nongate_np.set_default_dtype``.

    Parameters are torch's: ``weight_ih`` (3H, I), ``weight_hh`` (3H, H), ``bias_ih``,
    ``bias_hh`` (3H,), gate order r, z, n, all initialised U(-1/√H, 1/√H) in that order;
    ``state_dict()`` loads into ``torch.nn.GRUCell`` and back, and into ``nn.GRU``'s one
    layer under the names with ``_l0``.

    Forward: ``cell(input, hx=None) -> h'`` with input (B, I) and hx (B, H), or unbatched
    input (I,) and hx (H,); hx None is zeros. input and hx have the parameters' dtype (else
    a TypeError; nested lists take it), h' too. Raises ValueError for a shape that does not
    fit (naming the argument, what was expected and what was given), DeviceError for
    tensors on the GPU.

    The math is nn.GRU's: one fused node per step (``ops.gru.GRUCellStep``), the same
    kernels and hand-derived backward on a one-step sequence (docs/math.md R1-R12), so a
    loop of steps equals ``nn.GRU`` on the sequence with the same weights. An empty batch
    (B = 0) gives an empty result and zero weight gradients.
    """

    _name, _gates = "GRUCell", 3

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        _on_cpu("GRUCell", device, "leave device out or pass 'cpu'")
        super().__init__()
        self._setup(input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        params = self._parameters
        dtype, device = params["weight_ih"].dtype, params["weight_ih"].device
        _on_cpu("GRUCell", device, "move the module to the CPU with .to('cpu')")
        x = self._check_input(input, dtype, device)
        h = np.zeros(x.shape[:-1] + (self.hidden_size,), dtype) if hx is None else \
            self._check_state("hx", hx, x.shape, dtype, device)
        return GRUCellStep.apply(x, h, params["weight_ih"], params["weight_hh"],
                                 params["bias_ih"], params["bias_hh"])
