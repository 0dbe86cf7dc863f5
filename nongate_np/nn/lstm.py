"""``nn.LSTM`` and ``nn.LSTMCell``: drop-ins for torch's on the fused, hand-derived LSTM op."""

from __future__ import annotations

import numpy as np

from ..ops._util import xp_of
from ..ops.lstm import LSTMCellStep, lstm
from ..tensor import Tensor
from ._recurrent import _RecurrentCell, _StackedRecurrent
from .savable import register_savable

__all__ = ["LSTM", "LSTMCell"]


@register_savable
class LSTM(_StackedRecurrent):
    """Multi-layer, optionally bidirectional LSTM with PyTorch's interface and weight layout.

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
    proj_size : int, default 0
        If > 0, h_t = W_hr (o ⊙ tanh c_t) has proj_size features (0 < proj_size < hidden_size).
    dtype : floating dtype, optional
        Default float32 (torch's), or the dtype given to ``nongate_np.set_default_dtype``.

    Parameters are PyTorch's: ``weight_ih_l{k}`` (4H, I_k), ``weight_hh_l{k}`` (4H, P),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (4H), ``weight_hr_l{k}`` (P, H), with suffix
    ``_reverse`` for the backward direction; gate order i, f, g, o; all initialised
    U(-1/√H, 1/√H). ``state_dict()`` therefore loads into ``torch.nn.LSTM`` and back.

    Forward: ``lstm(x, hx=None, lengths=None) -> (output, (h_n, c_n))`` with x (T, B, I)
    (or (B, T, I) when batch_first, or (T, I) unbatched), hx = (h0 (L·D, B, P),
    c0 (L·D, B, H)), output (T, B, D·P), h_n (L·D, B, P), c_n (L·D, B, H), D = 2 if
    bidirectional else 1. x, h0 and c0 have the parameters' dtype (else a TypeError);
    nested lists take it. ``lengths`` (B,) gives each sequence's length: the result equals
    PyTorch's on a packed sequence (padded steps output zeros, states stop at each
    sequence's end, the reverse direction starts at each sequence's last step). Passing
    the returned (h_n, c_n) to the next call continues the sequences exactly.

    ``x`` may be a :class:`~nongate_np.nn.utils.rnn.PackedSequence` (data (N, I), from
    ``nn.utils.rnn.pack_padded_sequence``), as torch's: the output is then a
    PackedSequence of data (N, D·P) with x's batch_sizes and indices, and hx, h_n, c_n
    are in the original batch order (torch permutes hx by ``sorted_indices`` and h_n, c_n
    by ``unsorted_indices``; this runs the batch in its original order, which is the same);
    ``batch_first`` does not apply and ``lengths`` is refused (the packing holds them).

    An empty batch (B = 0) gives empty results and zero weight gradients, as PyTorch; an input with
    no step (T = 0) is a ValueError naming its shape, as PyTorch refuses it too.
    The math: docs/math.md L1-L15; each layer and direction is one fused autograd node.
    """

    _name, _gates = "LSTM", 4

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, dtype=None):
        super().__init__()
        self._setup(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                    bidirectional, proj_size, dtype)

    def forward(self, x, hx=None, lengths=None):
        return self._forward(x, hx, lengths)

    def _run(self, x: Tensor, states: tuple, lengths):
        """The fused op on time-major x (T, B, I): y (T, B, D·P), (h_n, c_n)."""
        y, h_n, c_n = lstm(x, states[0], states[1], self._weights(),
                           num_layers=self.num_layers, bidirectional=self.bidirectional,
                           lengths=lengths, dropout=self.dropout, training=self.training)
        return y, (h_n, c_n)

    def _hx_out(self, states):
        return tuple(states)

    def _check_hx(self, hx, B: int, unbatched: bool) -> tuple:
        L = self.num_layers * self.num_directions
        H, P = self.hidden_size, self.proj_size or self.hidden_size
        if hx is None:                  # zeros on the parameters' device
            w = self._parameters["weight_ih_l0"].data
            xp = xp_of(w)
            return xp.zeros((L, B, P), w.dtype), xp.zeros((L, B, H), w.dtype)
        given = self._lengths_in_hx(hx)
        if given is not None:
            raise TypeError(f"LSTM: hx must be a tuple (h0, c0) of states, got {given}; to "
                            f"give the sequences' lengths, pass lengths=...")
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"LSTM: hx must be a tuple (h0, c0), got {type(hx).__name__}")
        return (self._check_state("hx h0", hx[0], P, "P", B, unbatched),
                self._check_state("hx c0", hx[1], H, "H", B, unbatched))

    def config(self) -> dict:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "bias": self.bias,
                "batch_first": self.batch_first, "dropout": self.dropout,
                "bidirectional": self.bidirectional, "proj_size": self.proj_size,
                "dtype": str(self.dtype)}


@register_savable
class LSTMCell(_RecurrentCell):
    """One LSTM step, for loops written step by step (decoders, autoregressive generation):
    ``torch.nn.LSTMCell``'s interface and weight layout.

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool, default True
    device : "cpu" or "cuda", optional
        Where the parameters live (made on the host, so a seed gives the same weights on
        either, then moved). Not in ``config()``: a checkpoint loads on the host.
    dtype : floating dtype, optional
        Default float32 (torch's), or the dtype given to ``nongate_np.set_default_dtype``.

    Parameters are torch's: ``weight_ih`` (4H, I), ``weight_hh`` (4H, H), ``bias_ih``,
    ``bias_hh`` (4H,), gate order i, f, g, o, all initialised U(-1/√H, 1/√H) in that
    order; ``state_dict()`` loads into ``torch.nn.LSTMCell`` and back, and into
    ``nn.LSTM``'s one layer under the names with ``_l0``.

    Forward: ``cell(input, hx=None) -> (h', c')`` with input (B, I) and hx = (h, c) each
    (B, H), or unbatched input (I,) and h, c (H,); hx None is zeros. input, h and c have the
    parameters' dtype (else a TypeError; nested lists take it), h' and c' too.
    Raises ValueError for a shape that does not fit (naming the argument, what was
    expected and what was given), TypeError for hx that is not a pair, DeviceError for a
    tensor on another device than the parameters.

    The math is nn.LSTM's: one fused node per step (``ops.lstm.LSTMCellStep``), the same
    kernels and hand-derived backward on a one-step sequence (docs/math.md L1-L13), so a
    loop of steps equals ``nn.LSTM`` on the sequence with the same weights. An empty batch
    (B = 0) gives empty results and zero weight gradients.
    """

    _name, _gates = "LSTMCell", 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self._setup(input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        params = self._parameters
        dtype, device = params["weight_ih"].dtype, params["weight_ih"].device
        x = self._check_input(input, dtype, device)
        h, c = self._check_hx(hx, x.shape, dtype, device)
        return LSTMCellStep.apply(x, h, c, params["weight_ih"], params["weight_hh"],
                                  params["bias_ih"], params["bias_hh"])

    def _check_hx(self, hx, shape: tuple, dtype: np.dtype, device):
        """(h, c) for input of ``shape``: zeros on the parameters' device for None, else
        each checked for its shape, dtype and device."""
        if hx is None:
            zeros = xp_of(self._parameters["weight_ih"].data).zeros
            expected = shape[:-1] + (self.hidden_size,)
            return zeros(expected, dtype), zeros(expected, dtype)
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"LSTMCell: hx must be a tuple (h, c), got {type(hx).__name__}")
        return [self._check_state(name, state, shape, dtype, device)
                for name, state in (("hx[0]", hx[0]), ("hx[1]", hx[1]))]
