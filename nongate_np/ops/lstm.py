"""The fused LSTM op: one autograd node for a whole sequence of one layer and direction."""

from __future__ import annotations

import functools

import numpy as np

from .. import anomaly
from ..autograd import Function, is_grad_enabled
from ..kernels.contract import Backend, LSTMParams, LSTMState, result_dtype
from ..kernels.registry import kernels_for
from ..tensor import Tensor
from ._util import check_lengths, xp_of
from .random import dropout as dropout_op
from .shape import concat, stack

__all__ = ["lstm_layer", "lstm_cell", "lstm", "lstm_weight_names", "shape_of", "zero_grads"]


def zero_grads(ctx, inputs) -> tuple:
    """The gradients of a fused op that had nothing to compute (an empty batch): zeros of
    each input array's shape and dtype where ``ctx.needs_grad`` asks, else None."""
    xp = xp_of(*(a for a in inputs if a is not None))
    return tuple(xp.zeros(a.shape, a.dtype) if n and a is not None else None
                 for a, n in zip(inputs, ctx.needs_grad))


class LSTMLayer(Function):
    """One layer, one direction, the whole sequence (PyTorch layout, gates i|f|g|o).

    Shapes: x (T, B, I), h0 (B, P), c0 (B, H), w_ih (4H, I), w_hh (4H, P), b_ih, b_hh (4H,)
    or None, w_hr (P, H) or None (P = H without projection), lengths (B,) or None.
    Returns y (T, B, P), h_n (B, P), c_n (B, H). With ``stacked``, h0, c0, h_n and c_n
    have a leading axis of 1, as a one-layer :func:`lstm` takes and returns them.

    Forward  docs/math.md L1-L6: a_t = x_t W_ihᵀ + h_{t-1} W_hhᵀ + b;  i, f, o = σ(.), g = tanh(.)
                                 c_t = f⊙c_{t-1} + i⊙g;  m_t = o⊙tanh c_t
                                 h_t = m_t, or m_t W_hrᵀ with a projection (L4-L5)
    Backward docs/math.md L7-L14 (BPTT): the step loop carries δh and δc; dX, dW_ih, dW_hh
    and the biases are GEMMs over all T·B rows after the loop.
    Saved: activated gates (T, B, 4H), c and tanh c (T, B, H) each, and the output y, which
    is shared with the caller: 6·B·H values per step besides y (L15).
    An empty batch (B = 0) runs no kernel: empty results and zero gradients, as PyTorch.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, lengths, reverse, stacked=False):
        params = LSTMParams(w_ih, w_hh, _bias(b_ih, b_hh, w_hh), w_hr)
        ctx.empty = x.shape[1] == 0
        if ctx.empty:
            ctx.inputs = (x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)
            xp, dtype = xp_of(x, w_hh), result_dtype(x, LSTMState(h0, c0), params)
            return (xp.zeros((x.shape[0], 0, h0.shape[-1]), dtype),
                    xp.zeros(h0.shape, dtype), xp.zeros(c0.shape, dtype))
        ctx.stacked = stacked
        if stacked:
            h0, c0 = _state_axis(h0, False), _state_axis(c0, False)
        backend: Backend = kernels_for(x)
        ctx.kernels = backend       # NOTE: backward must use the backend that made the cache
        y, (h_n, c_n), ctx.cache = backend.lstm_forward(
            x, LSTMState(h0, c0), params, lengths, reverse, any(ctx.needs_grad))
        if stacked:
            return y, _state_axis(h_n, True), _state_axis(c_n, True)
        return y, h_n, c_n

    @staticmethod
    def backward(ctx, dy, dh_n, dc_n):
        if ctx.empty:
            return zero_grads(ctx, ctx.inputs) + (None,) * (len(ctx.needs_grad) - 8)
        if ctx.stacked:
            dh_n, dc_n = _state_axis(dh_n, False), _state_axis(dc_n, False)
        backend: Backend = ctx.kernels
        dx, (dh0, dc0), grads = backend.lstm_backward(ctx.cache, dy, LSTMState(dh_n, dc_n))
        if ctx.stacked:
            dh0, dc0 = _state_axis(dh0, True), _state_axis(dc0, True)
        return tuple(g if n else None for g, n in zip(
            (dx, dh0, dc0, grads.w_ih, grads.w_hh, grads.b, grads.b, grads.w_hr, None, None,
             None), ctx.needs_grad))


class LSTMCellStep(Function):
    """One step of one LSTM layer (``nn.LSTMCell``): :class:`LSTMLayer`'s kernels on a
    sequence of one step (T = 1), giving the new state only.

    Shapes: x (B, I), h, c (B, H), or unbatched x (I,), h, c (H,); w_ih (4H, I),
    w_hh (4H, H), b_ih, b_hh (4H,) or None. Returns h', c', shaped like h and c.
    Forward  docs/math.md L1-L5 with T = 1 and no projection (h' = m = o ⊙ tanh c').
    Backward docs/math.md L7-L13 with T = 1: δy = 0 and (δh', δc') as the adjoint of the
    final state, so the cell's gradients are the layer's on a one-step sequence.
    Saved: the kernels' cache of one step (L15): 6·B·H values besides h'.
    An empty batch (B = 0) runs no kernel: empty results and zero gradients.
    """

    @staticmethod
    def forward(ctx, x, h, c, w_ih, w_hh, b_ih, b_hh):
        ctx.unbatched = x.ndim == 1
        ctx.empty = x.shape[0] == 0 and not ctx.unbatched
        if ctx.empty:
            ctx.inputs = (x, h, c, w_ih, w_hh, b_ih, b_hh)
            xp, dtype = xp_of(x, w_hh), result_dtype(x, h, c, w_ih, w_hh)
            return xp.zeros(h.shape, dtype), xp.zeros(c.shape, dtype)
        backend: Backend = kernels_for(x)
        ctx.kernels = backend       # NOTE: backward must use the backend that made the cache
        # NOTE: views as the kernels take them, (1, B, I) and (B, ·), not reshape nodes:
        # each node costs a small call (B = 1) a few µs
        x = _view(x, (1, 1, x.shape[0]) if ctx.unbatched else (1,) + x.shape)
        if ctx.unbatched:
            h, c = _view(h, (1,) + h.shape), _view(c, (1,) + c.shape)
        params = LSTMParams(w_ih, w_hh, _bias(b_ih, b_hh, w_hh), None)
        _, (h_n, c_n), ctx.cache = backend.lstm_forward(
            x, LSTMState(h, c), params, None, False, any(ctx.needs_grad))
        if ctx.unbatched:
            return _view(h_n, h_n.shape[1:]), _view(c_n, c_n.shape[1:])
        return h_n, c_n

    @staticmethod
    def backward(ctx, dh, dc):
        if ctx.empty:
            return zero_grads(ctx, ctx.inputs)
        if ctx.unbatched:
            dh, dc = _view(dh, (1,) + dh.shape), _view(dc, (1,) + dc.shape)
        dy = xp_of(dh).zeros((1,) + dh.shape, dh.dtype)        # L7: h' is no output y here
        dx, (dh0, dc0), grads = ctx.kernels.lstm_backward(ctx.cache, dy, LSTMState(dh, dc))
        dx = _view(dx, dx.shape[2:] if ctx.unbatched else dx.shape[1:])
        if ctx.unbatched:
            dh0, dc0 = _view(dh0, dh0.shape[1:]), _view(dc0, dc0.shape[1:])
        return tuple(g if n else None for g, n in zip(
            (dx, dh0, dc0, grads.w_ih, grads.w_hh, grads.b, grads.b), ctx.needs_grad))


def _view(a, shape: tuple):
    """``a`` reshaped to ``shape``, a host or device array (a view where it can be)."""
    if type(a) is np.ndarray:
        return a.reshape(shape)
    return xp_of(a).reshape(a, shape)


def _state_axis(a, add: bool):
    """A state (B, ·) as (1, B, ·) (``add``), or (1, B, ·) as (B, ·): a view."""
    if type(a) is np.ndarray:       # NOTE: indexing, faster than a reshape at a small call
        return a[None] if add else a[0]
    return xp_of(a).reshape(a, (1,) + a.shape if add else a.shape[1:])


def _bias(b_ih, b_hh, w_hh):
    """b = b_ih + b_hh (L1), on w_hh's device; zeros without biases."""
    if b_ih is None and b_hh is None:
        return xp_of(w_hh).zeros((w_hh.shape[0],), w_hh.dtype)
    if b_ih is None or b_hh is None:
        return b_hh if b_ih is None else b_ih
    if type(b_ih) is np.ndarray and type(b_hh) is np.ndarray:
        return b_ih + b_hh
    return xp_of(w_hh).add(b_ih, b_hh)


def shape_of(x):
    """The shape of a Tensor, host or device array (None for None)."""
    if x is None:
        return None
    shape = getattr(x, "shape", None)       # NOTE: np.shape is slow next to a small call
    return tuple(np.shape(x) if shape is None else shape)


def _check(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr):
    """Shape checks of :func:`lstm_layer`'s arrays; every error names the argument, the
    expected and the given shape."""
    return _check_shapes(*map(shape_of, (x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)))


def _check_shapes(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr):
    """:func:`_check` on the arrays' shapes (None for an array not given)."""
    if x is None or len(x) != 3:
        raise ValueError(f"lstm_layer: x must be 3-D (T, B, I), got shape {x}")
    if w_ih is None or len(w_ih) != 2 or w_ih[0] % 4 or w_ih[0] == 0:
        raise ValueError(f"lstm_layer: w_ih must be 2-D (4H, I) with H >= 1, got shape {w_ih}")
    T, B, I = x
    if T == 0:
        raise ValueError(f"lstm_layer: x has shape {x}, layout (T, B, I): expected at least "
                         f"one step (T >= 1), as nn.LSTM and PyTorch; sequences shorter than "
                         f"T are given by lengths, down to 0")
    H = w_ih[0] // 4
    P = H if w_hr is None else (w_hr + (-1,))[0]
    # NOTE: comparisons of tuples before the loop that names the culprit: this runs at
    # every call, and a small call (S1) feels its microseconds
    if (w_ih, w_hh, h0, c0) == ((4 * H, I), (4 * H, P), (B, P), (B, H)) and \
            b_ih in (None, (4 * H,)) and b_hh in (None, (4 * H,)) and w_hr in (None, (P, H)):
        return T, B
    expected = ((4 * H, I), (P, H), (4 * H, P), (4 * H,), (4 * H,), (B, P), (B, H))
    given = (w_ih, w_hr, w_hh, b_ih, b_hh, h0, c0)
    for name, want, got in zip(("w_ih", "w_hr", "w_hh", "b_ih", "b_hh", "h0", "c0"),
                               expected, given):
        if got is None and name in ("w_hh", "h0", "c0"):
            raise ValueError(f"lstm_layer: {name} is required, shape {want}")
        if got is not None and got != want:
            raise ValueError(f"lstm_layer: {name} has shape {got}, expected {want} "
                             f"(T={T}, B={B}, I={I}, H={H}, P={P}; H from w_ih's 4H rows)")
    return T, B


def lstm_layer(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None, lengths=None,
               reverse=False) -> tuple[Tensor, Tensor, Tensor]:
    """Run one LSTM layer and direction over a (T, B, I) sequence; see :class:`LSTMLayer`.

    Arguments are Tensors (or arrays, taken as constants); lengths (B,) ints in [0, T] or
    None. Dtypes: float32 or float64, complex128 for a complex-step check (docs/math.md G2);
    the outputs and gradients take NumPy's promotion of every argument's dtype, so a float32
    x with float64 weights runs in float64 (``nn.LSTM`` refuses the mix, as torch). Raises
    ValueError (TypeError for lengths that are not integers) naming the argument, what was
    expected and what was given.
    """
    T, B = _check(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)
    if lengths is not None:
        lengths = check_lengths("lstm_layer", lengths, T, B)
    return LSTMLayer.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, lengths, bool(reverse))


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[Tensor, Tensor]:
    """One LSTM step from the state (h, c); see :class:`LSTMCellStep` (``nn.LSTMCell``'s
    op; torch's ``torch.lstm_cell`` with the state as two arguments).

    x (B, I), h, c (B, H) and the returned (h', c') (B, H); or unbatched x (I,), h, c and
    (h', c') (H,). w_ih (4H, I), w_hh (4H, H), b_ih, b_hh (4H,) or None. Arguments are
    Tensors (or arrays, taken as constants); dtypes as :func:`lstm_layer`'s. Raises
    ValueError naming the argument whose shape does not fit, what was expected and given.
    """
    sx, sh, sc, s_ih, s_hh, sb_ih, sb_hh = map(shape_of, (x, h, c, w_ih, w_hh, b_ih, b_hh))
    if s_ih is None or len(s_ih) != 2 or s_ih[0] % 4 or s_ih[0] == 0:
        raise ValueError(f"lstm_cell: w_ih must be 2-D (4H, I) with H >= 1, got shape {s_ih}")
    H, I = s_ih[0] // 4, s_ih[1]
    if sx is None or len(sx) not in (1, 2) or sx[-1] != I:
        raise ValueError(f"lstm_cell: x must be (B, I) or unbatched (I,) with I = {I} (from "
                         f"w_ih's shape {s_ih}), got shape {sx}")
    state = sx[:-1] + (H,)
    for name, want, got in (("h", state, sh), ("c", state, sc), ("w_hh", (4 * H, H), s_hh),
                            ("b_ih", (4 * H,), sb_ih), ("b_hh", (4 * H,), sb_hh)):
        if got != want and not (got is None and name.startswith("b")):
            raise ValueError(f"lstm_cell: {name} has shape {got}, expected {want} "
                             f"(x {sx}, H = {H} from w_ih's 4H rows)")
    return LSTMCellStep.apply(x, h, c, w_ih, w_hh, b_ih, b_hh)


def lstm_weight_names(layer: int, reverse: bool, bias: bool, proj: bool) -> list[str]:
    """PyTorch's parameter names for one layer and direction, in PyTorch's order."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    names = [f"weight_ih{suffix}", f"weight_hh{suffix}"]
    if bias:
        names += [f"bias_ih{suffix}", f"bias_hh{suffix}"]
    if proj:
        names.append(f"weight_hr{suffix}")
    return names


@functools.lru_cache(maxsize=None)
def _names(layer: int, reverse: bool) -> tuple[str, ...]:
    """:func:`lstm_weight_names` with biases and projection, made once per layer and
    direction: the f-strings cost a small call (S1) a few µs each time."""
    return tuple(lstm_weight_names(layer, reverse, True, True))


def lstm(x, h0, c0, weights: dict, *, num_layers: int, bidirectional: bool,
         lengths=None, dropout: float = 0.0, training: bool = False):
    """A stacked (and optionally bidirectional) LSTM on (T, B, I) input: each layer and
    direction is one fused :class:`LSTMLayer` node.

    ``weights`` maps PyTorch's names (``weight_ih_l0``, ``bias_hh_l1_reverse``, …) to
    tensors; h0 (L·D, B, P) and c0 (L·D, B, H). Layer k > 0 reads the concatenated outputs of
    layer k - 1's directions, with dropout between layers when ``training``.
    Returns y (T, B, D·P), h_n (L·D, B, P), c_n (L·D, B, H).
    """
    directions = (False, True) if bidirectional else (False,)
    if _constant(x, h0, c0, weights) and not (dropout and training and num_layers > 1):
        return _lstm_constant(x, h0, c0, weights, num_layers, directions, lengths)
    if num_layers == 1 and not bidirectional:
        return _lstm_one_layer(x, h0, c0, weights, lengths)
    layer_input, h_n, c_n = x, [], []
    for k in range(num_layers):
        outputs = []
        for d, reverse in enumerate(directions):
            w_ih, w_hh, b_ih, b_hh, w_hr = _names(k, reverse)
            y, h, c = lstm_layer(
                layer_input, h0[k * len(directions) + d], c0[k * len(directions) + d],
                weights[w_ih], weights[w_hh], weights.get(b_ih), weights.get(b_hh),
                weights.get(w_hr), lengths, reverse)
            outputs.append(y)
            h_n.append(h)
            c_n.append(c)
        layer_input = outputs[0] if len(outputs) == 1 else concat(outputs, axis=2)
        if dropout and training and k < num_layers - 1:
            layer_input = dropout_op(layer_input, dropout, training=True)
    return layer_input, stack(h_n), stack(c_n)


def _lstm_one_layer(x, h0, c0, weights: dict, lengths):
    """:func:`lstm` of one layer and direction: one :class:`LSTMLayer` node taking and
    giving the states with their (1, B, ·) axis, without the index and stack nodes around
    the layer (each a few µs: bench/KERNEL_NOTES.md, "Kernel calls: Python overhead")."""
    w_ih, w_hh, b_ih, b_hh, w_hr = [weights.get(name) for name in _names(0, False)]
    states = shape_of(h0), shape_of(c0)
    if any(s is None or len(s) != 3 or s[0] != 1 for s in states):
        raise ValueError(f"lstm: h0 and c0 must be (1, B, ·) for one layer and direction, got "
                         f"shapes {states[0]} and {states[1]}")
    T, B = _check_shapes(shape_of(x), states[0][1:], states[1][1:],
                         *map(shape_of, (w_ih, w_hh, b_ih, b_hh, w_hr)))
    if lengths is not None:
        lengths = check_lengths("lstm_layer", lengths, T, B)
    return LSTMLayer.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, lengths, False, True)


def _constant(x, h0, c0, weights: dict) -> bool:
    """Whether :func:`lstm` records no graph: grad mode off or no Tensor requiring grad
    among its arguments, host arrays with a batch (B ≥ 1), no anomaly checks."""
    if anomaly.is_anomaly_enabled():
        return False
    values = (x, h0, c0, *weights.values())
    grad = is_grad_enabled()
    for v in values:
        if isinstance(v, Tensor):
            if grad and v.requires_grad:
                return False
            v = v.data
        if v is not None and type(v) is not np.ndarray:
            return False
    shape = shape_of(x)
    return len(shape) == 3 and shape[1] > 0


def _data(v):
    return v.data if isinstance(v, Tensor) else v


def _lstm_constant(x, h0, c0, weights: dict, num_layers: int, directions: tuple, lengths):
    """:func:`lstm` without a graph: each layer's kernel called on the arrays directly, with
    the op's checks, so the results are :class:`LSTMLayer`'s to the bit. Inference at small
    sizes (S1) spends as long in the nodes as in the kernels (bench/KERNEL_NOTES.md,
    "Kernel calls: Python overhead")."""
    layer_input, h_n, c_n = _data(x), [], []
    for k in range(num_layers):
        states, params = [], []
        for d, reverse in enumerate(directions):
            w_ih, w_hh, b_ih, b_hh, w_hr = [_data(weights.get(name))
                                            for name in _names(k, reverse)]
            states.append(LSTMState(_data(h0)[k * len(directions) + d],
                                    _data(c0)[k * len(directions) + d]))
            T, B = _check(layer_input, *states[-1], w_ih, w_hh, b_ih, b_hh, w_hr)
            if lengths is not None:
                lengths = check_lengths("lstm_layer", lengths, T, B)
            params.append(LSTMParams(w_ih, w_hh, _bias(b_ih, b_hh, w_hh), w_hr))
        backend = kernels_for(layer_input)
        results = backend.lstm_forward_bidirectional(
            layer_input, (states[0], states[-1]), (params[0], params[-1]), lengths, False) \
            if len(directions) == 2 else \
            [backend.lstm_forward(layer_input, states[0], params[0], lengths, False, False)]
        for _, (h, c), _ in results:
            h_n.append(h)
            c_n.append(c)
        layer_input = results[0][0] if len(results) == 1 else \
            np.concatenate([y for y, _, _ in results], axis=2)
    # NOTE: one state needs no np.stack, which is slow next to a small call
    h_all, c_all = (s[0][None] if len(s) == 1 else np.stack(s) for s in (h_n, c_n))
    return Tensor._wrap(layer_input), Tensor._wrap(h_all), Tensor._wrap(c_all)
