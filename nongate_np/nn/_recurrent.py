"""What ``nn.LSTM`` and ``nn.GRU`` (and their cells) share: torch's initialisation, the
constructor's checks and parameters, the checks of the input, the lengths and the states,
and the forward around the fused op (batch_first, unbatched input, PackedSequence in and
out). Every error names the module, the argument, what was expected and what was given."""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import ops
from ..arguments import check_count, check_flag
from ..ops._util import check_lengths
from ..ops.lstm import lstm_weight_names
from ..tensor import Tensor, as_array
from . import init
from ._checks import check_features, complex_step_pair
from .module import Module, Parameter, module_dtype
from .utils.rnn import PackedSequence, _pack_like, _unpacked


class _RecurrentWeights(Module):
    """Torch's initialisation, and the dtype and device read from the first weight
    (``_first``)."""

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


class _StackedRecurrent(_RecurrentWeights):
    """The base of ``nn.LSTM`` and ``nn.GRU``: layers of ``_gates``·H stacked gate rows,
    torch's names, and ``_forward(x, hx, lengths)`` around the subclass's ``_run``.

    A subclass sets ``_name`` (the messages' prefix) and ``_gates``, calls ``_setup`` from
    its constructor, and implements ``_check_hx`` (the initial states, a tuple),
    ``_run`` (the fused op on time-major input) and ``_hx_out`` (the final states as
    ``forward`` returns them).
    """

    _first = "weight_ih_l0"
    _name: str
    _gates: int

    def _setup(self, input_size, hidden_size, num_layers, bias, batch_first, dropout,
               bidirectional, proj_size, dtype) -> None:
        """Check the constructor's arguments, store them and make the parameters, torch's
        names and shapes, initialised as torch's."""
        name = self._name
        self.input_size = check_count(input_size, "input_size", name, 1)
        self.hidden_size = check_count(hidden_size, "hidden_size", name, 1)
        self.num_layers = check_count(num_layers, "num_layers", name, 1)
        self.proj_size = check_count(proj_size, "proj_size", name, 0)
        if self.proj_size >= self.hidden_size:
            raise ValueError(f"{name}: proj_size must be smaller than hidden_size "
                             f"({self.hidden_size}), got {self.proj_size}")
        if isinstance(dropout, (bool, np.bool_)) or not isinstance(dropout, numbers.Real):
            raise TypeError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a probability in [0, 1], got "
                             f"{dropout!r}")
        self.bias = check_flag(bias, "bias", name)
        self.batch_first = check_flag(batch_first, "batch_first", name)
        self.bidirectional = check_flag(bidirectional, "bidirectional", name)
        self.dropout = float(dropout)
        if self.dropout > 0 and self.num_layers == 1:     # torch's warning, word for word
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", UserWarning,
                          stacklevel=3)
        dt = module_dtype(dtype, name)
        G, H, P = self._gates, self.hidden_size, self.proj_size or self.hidden_size
        D = self.num_directions
        shapes = {"weight_ih": lambda k: (G * H, self.input_size if k == 0 else D * P),
                  "weight_hh": lambda k: (G * H, P), "bias_ih": lambda k: (G * H,),
                  "bias_hh": lambda k: (G * H,), "weight_hr": lambda k: (P, H)}
        for k in range(self.num_layers):
            for reverse in (False, True)[:D]:
                for pname in lstm_weight_names(k, reverse, self.bias, self.proj_size > 0):
                    shape = shapes[pname.split("_l")[0]](k)
                    setattr(self, pname, Parameter(np.empty(shape, dt)))
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def flatten_parameters(self) -> None:
        """Nothing, as torch's on the CPU: torch's packs the weights into one buffer for
        cuDNN; the fused kernels here read the parameters where they are (the Numba
        backend packs them itself: docs/math.md Part K). Kept so torch code that calls it
        (after ``.to(device)``, in ``forward``) ports unchanged."""

    def _forward(self, x, hx, lengths):
        """``forward``: x (T, B, I), (B, T, I) when batch_first, (T, I) unbatched, or a
        PackedSequence; returns the output and ``_hx_out`` of the final states."""
        if isinstance(x, PackedSequence):
            return self._forward_packed(x, hx, lengths)
        x = self._check_input(x)
        unbatched = x.ndim == 2
        if unbatched:
            x = ops.reshape(x, (x.shape[0], 1, x.shape[1]))
        elif self.batch_first:
            x = ops.transpose(x, 0, 1)
        T, B = x.shape[:2]
        lengths = None if lengths is None else check_lengths(self._name, lengths, T, B)
        y, states = self._run(x, self._check_hx(hx, B, unbatched), lengths)
        if unbatched:
            return ops.reshape(y, (T, y.shape[2])), self._hx_out([s[:, 0] for s in states])
        if self.batch_first:
            y = ops.transpose(y, 0, 1)
        return y, self._hx_out(states)

    def _forward_packed(self, packed: PackedSequence, hx, lengths):
        """``forward`` on a PackedSequence: padded back in the original batch order, run
        with its lengths (the padded steps are never read), packed again as it came."""
        if lengths is not None:
            raise TypeError(f"{self._name}: lengths given with a PackedSequence input, which "
                            f"holds its lengths; pass one or the other")
        check_features(self._name, "input.data", packed.data, self.dtype, self.input_size,
                       (2,), "2-D (N, I) packed steps", device=self.device)
        x, lengths, layout = _unpacked(packed, self._name)      # (T, B, I), original order
        y, states = self._run(x, self._check_hx(hx, x.shape[1], False), lengths)
        return PackedSequence(_pack_like(y, layout), packed.batch_sizes, packed.sorted_indices,
                              packed.unsorted_indices), self._hx_out(states)

    def _check_input(self, x) -> Tensor:
        layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
        x = check_features(self._name, "input", x, self.dtype, self.input_size, (2, 3),
                           f"3-D {layout} or 2-D (T, I) unbatched", device=self.device)
        if x.shape[0 if x.ndim == 2 or not self.batch_first else 1] == 0:
            # as PyTorch: no step to run (an empty batch, B = 0, is fine: empty results)
            given = layout if x.ndim == 3 else "(T, I)"
            raise ValueError(f"{self._name}: input has shape {x.shape}, layout {given}: "
                             f"expected at least one step (T >= 1); sequences shorter than "
                             f"T are given by lengths, down to 0")
        return x

    @staticmethod
    def _lengths_in_hx(hx) -> str | None:
        """What ``hx`` is when it looks like lengths given in its place (``rnn(x, lengths)``
        as a positional call): "a 1-D ndarray", "a list of integers"; else None."""
        if getattr(hx, "ndim", None) == 1:
            return f"a 1-D {type(hx).__name__}"
        if isinstance(hx, (tuple, list)) and all(isinstance(v, (int, np.integer)) for v in hx):
            return f"a {type(hx).__name__} of integers"
        return None

    def _check_state(self, label: str, state, size: int, size_name: str, B: int,
                     unbatched: bool):
        """One initial state (``label``, e.g. "hx h0") as (L·D, B, size): its shape (L·D,
        size) when unbatched, the parameters' dtype (nested lists take it)."""
        L = self.num_layers * self.num_directions
        expected = (L, size) if unbatched else (L, B, size)
        if not isinstance(state, Tensor):
            # NOTE: nested lists have no dtype of their own: they take the parameters'
            # (as the input does), and go on as the array, not as lists
            state = as_array(state, None if hasattr(state, "dtype") else self.dtype,
                             what=f"{self._name}: {label}")
        data = state.data if isinstance(state, Tensor) else state
        if data.shape != expected:
            what = "(num_layers·num_directions, " + ("" if unbatched else "B, ") + \
                f"{size_name})"
            raise ValueError(f"{self._name}: {label} has shape {data.shape}, expected {what} "
                             f"= {expected}")
        if data.dtype != self.dtype and not complex_step_pair(data.dtype, self.dtype):
            raise TypeError(f"{self._name}: {label} is {data.dtype}, expected {self.dtype} "
                            f"like the module's parameters")
        return ops.reshape(state, (L, 1, size)) if unbatched else state

    def _weights(self) -> dict:
        return {name: p for name, p in self._parameters.items() if p is not None}

    def _check_hx(self, hx, B: int, unbatched: bool) -> tuple:
        raise NotImplementedError

    def _run(self, x: Tensor, states: tuple, lengths) -> tuple:
        raise NotImplementedError

    def _hx_out(self, states):
        raise NotImplementedError

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False), ("proj_size", 0)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s


class _RecurrentCell(_RecurrentWeights):
    """The base of ``nn.LSTMCell`` and ``nn.GRUCell``: torch's ``weight_ih``
    (``_gates``·H, I), ``weight_hh`` (``_gates``·H, H), ``bias_ih``, ``bias_hh``, the
    checks of the input and of each state. A subclass sets ``_name`` and ``_gates`` and
    calls ``_setup`` from its constructor."""

    _first = "weight_ih"
    _name: str
    _gates: int

    def _setup(self, input_size, hidden_size, bias, device, dtype) -> None:
        """Check the constructor's arguments, make the parameters (torch's names, order
        and initialisation) on the host, then move them to ``device``."""
        name = self._name
        self.input_size = check_count(input_size, "input_size", name, 1)
        self.hidden_size = check_count(hidden_size, "hidden_size", name, 1)
        self.bias = check_flag(bias, "bias", name)
        dt = module_dtype(dtype, name)
        G, H = self._gates, self.hidden_size
        self.weight_ih = Parameter(np.empty((G * H, self.input_size), dt))
        self.weight_hh = Parameter(np.empty((G * H, H), dt))
        if self.bias:
            self.bias_ih = Parameter(np.empty(G * H, dt))
            self.bias_hh = Parameter(np.empty(G * H, dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def _check_input(self, input, dtype: np.dtype, device) -> Tensor:
        return check_features(self._name, "input", input, dtype, self.input_size, (1, 2),
                              "2-D (B, I) or 1-D (I,) unbatched", device=device)

    def _check_state(self, name: str, state, shape: tuple, dtype: np.dtype, device) -> Tensor:
        """The state ``name`` for input of ``shape`` ((B, I) or unbatched (I,)): shape
        ``shape[:-1] + (H,)``, the parameters' dtype and device."""
        expected = shape[:-1] + (self.hidden_size,)
        layout = "(H,) for unbatched input" if len(shape) == 1 else "(B, H)"
        state = check_features(self._name, name, state, dtype, self.hidden_size,
                               (len(shape),), f"{layout} = {expected}", "hidden_size",
                               device=device)
        if state.shape != expected:
            raise ValueError(f"{self._name}: {name} has shape {state.shape}, expected "
                             f"{layout} = {expected} from input {shape}")
        return state

    def config(self) -> dict:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size,
                "bias": self.bias, "dtype": str(self.dtype)}

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")
