"""``nn.LSTM`` and ``nn.LSTMCell``: drop-ins for torch's on the fused, hand-derived LSTM op."""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import ops
from ..arguments import check_count, check_flag
from ..ops._util import check_lengths, xp_of
from ..ops.lstm import LSTMCellStep, lstm, lstm_weight_names
from ..tensor import Tensor, as_array
from . import init
from ._checks import check_features, complex_step_pair
from .module import Module, Parameter, module_dtype
from .savable import register_savable
from .utils.rnn import PackedSequence, _pack_like, _unpacked

__all__ = ["LSTM", "LSTMCell"]


class _LSTMWeights(Module):
    """What ``LSTM`` and ``LSTMCell`` share: torch's initialisation, and the dtype and
    device read from their first weight (``_first``)."""

    _first: str

    def reset_parameters(self) -> None:
        """Every parameter U(-1/√H, 1/√H), in registration order (torch's default)."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    @property
    def dtype(self) -> np.dtype:
        """The parameters' dtype (follows ``to()``)."""
        # NOTE: from the registry: attribute access to a parameter goes through a failed
        # lookup first (Module.__getattr__), slow next to a small call
        return self._parameters[self._first].dtype

    @property
    def device(self):
        """Where the parameters are (follows ``to()``)."""
        return self._parameters[self._first].device


@register_savable
class LSTM(_LSTMWeights):
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

    _first = "weight_ih_l0"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, dtype=None):
        super().__init__()
        self.input_size = check_count(input_size, "input_size", "LSTM", 1)
        self.hidden_size = check_count(hidden_size, "hidden_size", "LSTM", 1)
        self.num_layers = check_count(num_layers, "num_layers", "LSTM", 1)
        self.proj_size = check_count(proj_size, "proj_size", "LSTM", 0)
        if self.proj_size >= self.hidden_size:
            raise ValueError(f"LSTM: proj_size must be smaller than hidden_size "
                             f"({self.hidden_size}), got {self.proj_size}")
        if isinstance(dropout, (bool, np.bool_)) or not isinstance(dropout, numbers.Real):
            raise TypeError(f"LSTM: dropout must be a number in [0, 1], got {dropout!r}")
        if not 0 <= dropout <= 1:
            raise ValueError(f"LSTM: dropout must be a probability in [0, 1], got {dropout!r}")
        self.bias = check_flag(bias, "bias", "LSTM")
        self.batch_first = check_flag(batch_first, "batch_first", "LSTM")
        self.bidirectional = check_flag(bidirectional, "bidirectional", "LSTM")
        self.dropout = float(dropout)
        if self.dropout > 0 and self.num_layers == 1:     # torch's warning, word for word
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", UserWarning,
                          stacklevel=2)
        dt = module_dtype(dtype, "LSTM")
        H, P = self.hidden_size, self.proj_size or self.hidden_size
        D = 2 if bidirectional else 1
        shapes = {"weight_ih": lambda k: (4 * H, input_size if k == 0 else D * P),
                  "weight_hh": lambda k: (4 * H, P), "bias_ih": lambda k: (4 * H,),
                  "bias_hh": lambda k: (4 * H,), "weight_hr": lambda k: (P, H)}
        for k in range(self.num_layers):
            for reverse in (False, True)[:D]:
                for name in lstm_weight_names(k, reverse, self.bias, self.proj_size > 0):
                    shape = shapes[name.split("_l")[0]](k)
                    setattr(self, name, Parameter(np.empty(shape, dt)))
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def forward(self, x, hx=None, lengths=None):
        if isinstance(x, PackedSequence):
            return self._forward_packed(x, hx, lengths)
        x = self._check_input(x)
        unbatched = x.ndim == 2
        if unbatched:
            x = ops.reshape(x, (x.shape[0], 1, x.shape[1]))
        elif self.batch_first:
            x = ops.transpose(x, 0, 1)
        T, B = x.shape[:2]
        lengths = self._check_lengths(lengths, T, B)
        h0, c0 = self._check_hx(hx, B, unbatched)
        y, h_n, c_n = self._run(x, h0, c0, lengths)
        if unbatched:
            return ops.reshape(y, (T, y.shape[2])), (h_n[:, 0], c_n[:, 0])
        if self.batch_first:
            y = ops.transpose(y, 0, 1)
        return y, (h_n, c_n)

    def _forward_packed(self, packed: PackedSequence, hx, lengths):
        """``forward`` on a PackedSequence: padded back in the original batch order, run
        with its lengths (the padded steps are never read), packed again as it came."""
        if lengths is not None:
            raise TypeError("LSTM: lengths given with a PackedSequence input, which holds "
                            "its lengths; pass one or the other")
        check_features("LSTM", "input.data", packed.data, self.dtype, self.input_size, (2,),
                       "2-D (N, I) packed steps", device=self.device)
        x, lengths, layout = _unpacked(packed, "LSTM")      # (T, B, I), original order
        h0, c0 = self._check_hx(hx, x.shape[1], False)
        y, h_n, c_n = self._run(x, h0, c0, lengths)
        return PackedSequence(_pack_like(y, layout), packed.batch_sizes, packed.sorted_indices,
                              packed.unsorted_indices), (h_n, c_n)

    def _run(self, x: Tensor, h0, c0, lengths):
        """The fused op on time-major x (T, B, I): y (T, B, D·P), h_n, c_n."""
        weights = {name: p for name, p in self._parameters.items() if p is not None}
        return lstm(x, h0, c0, weights, num_layers=self.num_layers,
                    bidirectional=self.bidirectional, lengths=lengths, dropout=self.dropout,
                    training=self.training)

    # -- validation: every error names the argument, what was expected and what was given ----
    def _check_input(self, x) -> Tensor:
        layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
        x = check_features("LSTM", "input", x, self.dtype, self.input_size, (2, 3),
                           f"3-D {layout} or 2-D (T, I) unbatched",
                           device=self.device)
        if x.shape[0 if x.ndim == 2 or not self.batch_first else 1] == 0:
            # as PyTorch: no step to run (an empty batch, B = 0, is fine: empty results)
            given = layout if x.ndim == 3 else "(T, I)"
            raise ValueError(f"LSTM: input has shape {x.shape}, layout {given}: expected at "
                             f"least one step (T >= 1); sequences shorter than T are given "
                             f"by lengths, down to 0")
        return x

    def _check_lengths(self, lengths, T: int, B: int):
        return None if lengths is None else check_lengths("LSTM", lengths, T, B)

    def _check_hx(self, hx, B: int, unbatched: bool):
        L = self.num_layers * self.num_directions
        H, P = self.hidden_size, self.proj_size or self.hidden_size
        if hx is None:                  # zeros on the parameters' device
            w = self._parameters["weight_ih_l0"].data
            xp = xp_of(w)
            return xp.zeros((L, B, P), w.dtype), xp.zeros((L, B, H), w.dtype)
        if getattr(hx, "ndim", None) == 1 or isinstance(hx, (tuple, list)) and all(
                isinstance(v, (int, np.integer)) for v in hx):
            # NOTE: lstm(x, lengths) puts the lengths in hx's place
            given = f"a 1-D {type(hx).__name__}" if getattr(hx, "ndim", None) == 1 else \
                f"a {type(hx).__name__} of integers"
            raise TypeError(f"LSTM: hx must be a tuple (h0, c0) of states, got {given}; to "
                            f"give the sequences' lengths, pass lengths=...")
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"LSTM: hx must be a tuple (h0, c0), got {type(hx).__name__}")
        checked = []
        for name, state, size in (("h0", hx[0], P), ("c0", hx[1], H)):
            expected = (L, size) if unbatched else (L, B, size)
            if not isinstance(state, Tensor):
                # NOTE: nested lists have no dtype of their own: they take the parameters'
                # (as the input does), and go on as the array, not as lists
                state = as_array(state, None if hasattr(state, "dtype") else self.dtype,
                                 what=f"LSTM: hx {name}")
            data = state.data if isinstance(state, Tensor) else state
            if data.shape != expected:
                what = "(num_layers·num_directions, " + ("" if unbatched else "B, ") + \
                    ("P)" if name == "h0" else "H)")
                raise ValueError(f"LSTM: hx {name} has shape {data.shape}, expected {what} = "
                                 f"{expected}")
            if data.dtype != self.dtype and not complex_step_pair(data.dtype, self.dtype):
                raise TypeError(f"LSTM: hx {name} is {data.dtype}, expected {self.dtype} like "
                                f"the module's parameters")
            if unbatched:
                state = ops.reshape(state, (L, 1, size))
            checked.append(state)
        return checked

    def config(self) -> dict:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "bias": self.bias,
                "batch_first": self.batch_first, "dropout": self.dropout,
                "bidirectional": self.bidirectional, "proj_size": self.proj_size,
                "dtype": str(self.dtype)}

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False), ("proj_size", 0)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s


@register_savable
class LSTMCell(_LSTMWeights):
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

    _first = "weight_ih"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self.input_size = check_count(input_size, "input_size", "LSTMCell", 1)
        self.hidden_size = check_count(hidden_size, "hidden_size", "LSTMCell", 1)
        self.bias = check_flag(bias, "bias", "LSTMCell")
        dt = module_dtype(dtype, "LSTMCell")
        H = self.hidden_size
        self.weight_ih = Parameter(np.empty((4 * H, self.input_size), dt))
        self.weight_hh = Parameter(np.empty((4 * H, H), dt))
        if self.bias:
            self.bias_ih = Parameter(np.empty(4 * H, dt))
            self.bias_hh = Parameter(np.empty(4 * H, dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def forward(self, input, hx=None):
        params = self._parameters
        dtype, device = params["weight_ih"].dtype, params["weight_ih"].device
        x = check_features("LSTMCell", "input", input, dtype, self.input_size, (1, 2),
                           "2-D (B, I) or 1-D (I,) unbatched", device=device)
        h, c = self._check_hx(hx, x.shape, dtype, device)
        return LSTMCellStep.apply(x, h, c, params["weight_ih"], params["weight_hh"],
                                  params["bias_ih"], params["bias_hh"])

    def _check_hx(self, hx, shape: tuple, dtype: np.dtype, device):
        """(h, c) for input of ``shape``: zeros on the parameters' device for None, else
        each checked for its shape, dtype and device."""
        H = self.hidden_size
        expected = shape[:-1] + (H,)
        if hx is None:
            zeros = xp_of(self._parameters["weight_ih"].data).zeros
            return zeros(expected, dtype), zeros(expected, dtype)
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"LSTMCell: hx must be a tuple (h, c), got {type(hx).__name__}")
        layout = "(H,) for unbatched input" if len(shape) == 1 else "(B, H)"
        states = []
        for name, state in (("hx[0]", hx[0]), ("hx[1]", hx[1])):
            state = check_features("LSTMCell", name, state, dtype, H, (len(shape),),
                                   f"{layout} = {expected}", "hidden_size", device=device)
            if state.shape != expected:
                raise ValueError(f"LSTMCell: {name} has shape {state.shape}, expected "
                                 f"{layout} = {expected} from input {shape}")
            states.append(state)
        return states

    def config(self) -> dict:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size,
                "bias": self.bias, "dtype": str(self.dtype)}

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")
