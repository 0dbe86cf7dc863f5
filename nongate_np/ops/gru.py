"""The fused GRU op: one autograd node for a whole sequence of one layer and direction.

Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder for Statistical
Machine Translation" (EMNLP 2014), in PyTorch's variant (docs/math.md Part R). The kernels
are the Numba CPU ones (``kernels/cpu/gru.py``) when "numba" is the active backend, else
the NumPy reference (``kernels/gru_reference.py``), ``registry.gru_kernels``; GPU tensors
are refused with a DeviceError.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..device import DeviceError
from ..kernels.contract import result_dtype
from ..kernels.gru_reference import GRUParams
from ..kernels.registry import gru_kernels
from ..tensor import Tensor
from ._util import check_lengths, xp_of
from .lstm import lstm_weight_names, shape_of, zero_grads
from .random import dropout as dropout_op
from .shape import concat, stack

__all__ = ["gru_layer", "gru_cell", "gru", "gru_weight_names"]


def _host_only(op: str, *arrays) -> None:
    """DeviceError when one of ``arrays`` is a GPU array: the GRU has CPU kernels only."""
    if xp_of(*arrays) is not xp_of():
        raise DeviceError(f"{op}: the GRU runs on the CPU only (NumPy and Numba CPU kernels, "
                          f"kernels/gru_reference.py, kernels/cpu/gru.py; no numba.cuda "
                          f"kernels yet), got "
                          f"tensors on cuda; move the module and its inputs with .to('cpu')")


def _params(w_ih, w_hh, b_ih, b_hh) -> GRUParams:
    """The kernels' parameters: zero biases where none are given (R1, R2)."""
    zeros = np.zeros(w_hh.shape[0], w_hh.dtype)
    return GRUParams(w_ih, w_hh, zeros if b_ih is None else b_ih,
                     zeros if b_hh is None else b_hh)


class GRULayer(Function):
    """One layer, one direction, the whole sequence (PyTorch layout, gates r|z|n).

    Shapes: x (T, B, I), h0 (B, H), w_ih (3H, I), w_hh (3H, H), b_ih, b_hh (3H,) or None,
    lengths (B,) or None. Returns y (T, B, H) and h_n (B, H).
    Forward  docs/math.md R1-R6: gi = x W_ihᵀ + b_ih for all steps at once, then per step
                                 gh = h_{t-1} W_hhᵀ + b_hh;  r, z = σ(gi + gh)
                                 n = tanh(gi^n + r ⊙ gh^n);  h_t = n + z ⊙ (h_{t-1} − n)
    Backward docs/math.md R7-R13 (BPTT): the step loop carries δh; dX, dW_ih, dW_hh and
    both biases are products over all T·B rows after the loop.
    Saved: activated gates (T, B, 3H) and gh^n (T, B, H), 4·B·H values per step besides
    the output y, which is shared with the caller (R14).
    The active backend's GRU kernels (``registry.gru_kernels``: Numba's on "numba", else
    NumPy's); GPU arrays are a DeviceError. An empty batch (B = 0) runs no kernel: empty
    results and zero gradients, as PyTorch.
    """

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, lengths, reverse):
        _host_only("gru_layer", x, h0, w_ih, w_hh, b_ih, b_hh)
        params = _params(w_ih, w_hh, b_ih, b_hh)
        ctx.empty = x.shape[1] == 0
        if ctx.empty:
            ctx.inputs = (x, h0, w_ih, w_hh, b_ih, b_hh)
            dtype = result_dtype(x, h0, params)
            return np.zeros((x.shape[0], 0, h0.shape[-1]), dtype), np.zeros(h0.shape, dtype)
        ctx.kernels = gru_kernels()   # NOTE: backward must use the kernels that made the cache
        y, h_n, ctx.cache = ctx.kernels.gru_forward(x, h0, params, lengths, reverse,
                                                    any(ctx.needs_grad))
        return y, h_n

    @staticmethod
    def backward(ctx, dy, dh_n):
        if ctx.empty:
            return zero_grads(ctx, ctx.inputs) + (None, None)
        dx, dh0, grads = ctx.kernels.gru_backward(ctx.cache, dy, dh_n)
        return tuple(g if n else None for g, n in zip(
            (dx, dh0, grads.w_ih, grads.w_hh, grads.b_ih, grads.b_hh, None, None),
            ctx.needs_grad))


class GRUCellStep(Function):
    """One step of one GRU layer (``nn.GRUCell``): :class:`GRULayer`'s kernels on a
    sequence of one step (T = 1), giving the new state.

    Shapes: x (B, I), h (B, H), or unbatched x (I,), h (H,); w_ih (3H, I), w_hh (3H, H),
    b_ih, b_hh (3H,) or None. Returns h', shaped like h.
    Forward  docs/math.md R1-R5 with T = 1.
    Backward docs/math.md R7-R12 with T = 1: dy = 0 and dh' as the adjoint of the final
    state, so the cell's gradients are the layer's on a one-step sequence.
    Saved: the kernels' cache of one step (R14), 4·B·H values besides h'.
    The active backend's GRU kernels, as :class:`GRULayer`'s; GPU arrays are a
    DeviceError. An empty batch (B = 0) runs no kernel: an empty result and zero
    gradients.
    """

    @staticmethod
    def forward(ctx, x, h, w_ih, w_hh, b_ih, b_hh):
        _host_only("gru_cell", x, h, w_ih, w_hh, b_ih, b_hh)
        ctx.unbatched = x.ndim == 1
        ctx.empty = x.shape[0] == 0 and not ctx.unbatched
        params = _params(w_ih, w_hh, b_ih, b_hh)
        if ctx.empty:
            ctx.inputs = (x, h, w_ih, w_hh, b_ih, b_hh)
            return np.zeros(h.shape, result_dtype(x, h, params))
        x = x.reshape((1, 1, -1) if ctx.unbatched else (1,) + x.shape)
        ctx.kernels = gru_kernels()   # NOTE: backward must use the kernels that made the cache
        _, h_n, ctx.cache = ctx.kernels.gru_forward(x, h.reshape(-1, h.shape[-1]), params,
                                                    None, False, any(ctx.needs_grad))
        return h_n.reshape(h.shape)

    @staticmethod
    def backward(ctx, dh):
        if ctx.empty:
            return zero_grads(ctx, ctx.inputs)
        dh_n = dh.reshape(-1, dh.shape[-1])
        dy = np.zeros((1,) + dh_n.shape, dh.dtype)                      # R7: h' is no output y
        dx, dh0, grads = ctx.kernels.gru_backward(ctx.cache, dy, dh_n)
        dx = dx.reshape(dx.shape[2:] if ctx.unbatched else dx.shape[1:])
        return tuple(g if n else None for g, n in zip(
            (dx, dh0.reshape(dh.shape), grads.w_ih, grads.w_hh, grads.b_ih, grads.b_hh),
            ctx.needs_grad))


def _check_shapes(op: str, x, h0, w_ih, w_hh, b_ih, b_hh, batched: bool = True):
    """The shapes of a GRU layer's (``batched``) or cell's arrays, each checked against
    w_ih's (3H, I); ValueError naming the argument, the expected and the given shape."""
    if w_ih is None or len(w_ih) != 2 or w_ih[0] % 3 or w_ih[0] == 0:
        raise ValueError(f"{op}: w_ih must be 2-D (3H, I) with H >= 1, got shape {w_ih}")
    H, I = w_ih[0] // 3, w_ih[1]
    if batched:
        if x is None or len(x) != 3 or x[2] != I:
            raise ValueError(f"{op}: x must be 3-D (T, B, I) with I = {I} (from w_ih's shape "
                             f"{w_ih}), got shape {x}")
        if x[0] == 0:
            raise ValueError(f"{op}: x has shape {x}, layout (T, B, I): expected at least one "
                             f"step (T >= 1), as PyTorch; sequences shorter than T are given "
                             f"by lengths, down to 0")
        state = (x[1], H)
    else:
        if x is None or len(x) not in (1, 2) or x[-1] != I:
            raise ValueError(f"{op}: x must be (B, I) or unbatched (I,) with I = {I} (from "
                             f"w_ih's shape {w_ih}), got shape {x}")
        state = x[:-1] + (H,)
    for name, want, got in (("h0" if batched else "h", state, h0), ("w_hh", (3 * H, H), w_hh),
                            ("b_ih", (3 * H,), b_ih), ("b_hh", (3 * H,), b_hh)):
        if got != want and not (got is None and name.startswith("b")):
            raise ValueError(f"{op}: {name} has shape {got}, expected {want} "
                             f"(x {x}, H = {H} from w_ih's 3H rows)")


def gru_layer(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, lengths=None,
              reverse=False) -> tuple[Tensor, Tensor]:
    """Run one GRU layer and direction over a (T, B, I) sequence; see :class:`GRULayer`.

    Arguments are Tensors (or arrays, taken as constants); lengths (B,) ints in [0, T] or
    None. Dtypes: float32 or float64, complex128 for a complex-step check (docs/math.md
    G2); the outputs and gradients take NumPy's promotion of every argument's dtype
    (``nn.GRU`` refuses a mix, as torch). Returns y (T, B, H) and h_n (B, H). Raises
    ValueError (TypeError for lengths that are not integers) naming the argument, what was
    expected and what was given; DeviceError for GPU tensors.
    """
    sx, sh, s_ih, s_hh, sb_ih, sb_hh = map(shape_of, (x, h0, w_ih, w_hh, b_ih, b_hh))
    _check_shapes("gru_layer", sx, sh, s_ih, s_hh, sb_ih, sb_hh)
    if lengths is not None:
        lengths = check_lengths("gru_layer", lengths, sx[0], sx[1])
    return GRULayer.apply(x, h0, w_ih, w_hh, b_ih, b_hh, lengths, bool(reverse))


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One GRU step from the state h; see :class:`GRUCellStep` (``nn.GRUCell``'s op; torch's
    ``torch.gru_cell``).

    x (B, I), h (B, H) and the returned h' (B, H); or unbatched x (I,), h and h' (H,).
    w_ih (3H, I), w_hh (3H, H), b_ih, b_hh (3H,) or None. Arguments are Tensors (or arrays,
    taken as constants); dtypes as :func:`gru_layer`'s. Raises ValueError naming the
    argument whose shape does not fit, what was expected and given; DeviceError for GPU
    tensors.
    """
    sx, sh, s_ih, s_hh, sb_ih, sb_hh = map(shape_of, (x, h, w_ih, w_hh, b_ih, b_hh))
    _check_shapes("gru_cell", sx, sh, s_ih, s_hh, sb_ih, sb_hh, batched=False)
    return GRUCellStep.apply(x, h, w_ih, w_hh, b_ih, b_hh)


def gru_weight_names(layer: int, reverse: bool, bias: bool) -> list[str]:
    """PyTorch's parameter names for one GRU layer and direction, in PyTorch's order (the
    LSTM's without a projection)."""
    return lstm_weight_names(layer, reverse, bias, False)


def gru(x, h0, weights: dict, *, num_layers: int, bidirectional: bool, lengths=None,
        dropout: float = 0.0, training: bool = False) -> tuple[Tensor, Tensor]:
    """A stacked (and optionally bidirectional) GRU on (T, B, I) input: each layer and
    direction is one fused :class:`GRULayer` node.

    ``weights`` maps PyTorch's names (``weight_ih_l0``, ``bias_hh_l1_reverse``, …) to
    tensors (no biases: names absent); h0 (L·D, B, H), L = num_layers, D = 2 if
    bidirectional else 1. Layer k > 0 reads the concatenated outputs of layer k − 1's
    directions, with dropout between layers when ``training``. Returns y (T, B, D·H) and
    h_n (L·D, B, H). Raises as :func:`gru_layer`.
    """
    directions = (False, True) if bidirectional else (False,)
    states = shape_of(h0)
    if states is None or len(states) != 3 or states[0] != num_layers * len(directions):
        raise ValueError(f"gru: h0 must be (num_layers·num_directions, B, H) = "
                         f"({num_layers * len(directions)}, B, H), got shape {states}")
    layer_input, h_n = x, []
    for k in range(num_layers):
        outputs = []
        for d, reverse in enumerate(directions):
            w_ih, w_hh, b_ih, b_hh = gru_weight_names(k, reverse, True)
            y, h = gru_layer(layer_input, h0[k * len(directions) + d], weights[w_ih],
                             weights[w_hh], weights.get(b_ih), weights.get(b_hh), lengths,
                             reverse)
            outputs.append(y)
            h_n.append(h)
        layer_input = outputs[0] if len(outputs) == 1 else concat(outputs, axis=2)
        if dropout and training and k < num_layers - 1:
            layer_input = dropout_op(layer_input, dropout, training=True)
    return layer_input, stack(h_n)
