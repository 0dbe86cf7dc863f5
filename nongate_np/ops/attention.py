"""The fused attention-pooling op: one autograd node pools a whole batch of sequences."""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..kernels.contract import (
    ATTENTION_KINDS,
    AttentionParams,
    Backend,
    check_kind,
    for_kind,
    result_dtype,
)
from ..kernels.registry import kernels_for
from ..tensor import Tensor, as_array
from ._util import check_lengths, xp_of
from .lstm import shape_of, zero_grads

__all__ = ["AttentionPool", "attention_pool", "lengths_to_mask", "step_mask",
           "ATTENTION_KINDS"]


class AttentionPool(Function):
    """Attention pooling over time with Q queries, masked softmax, three kinds.

    Shapes: h (B, T, D); w_proj (A, D), b_proj (A,); w_gate (A, D), b_gate (A,) (gated);
    query (Q, A); w_step (Q, D), b_step (Q,) (weight_gated); w_value (D', D), b_value (D',)
    (value projection; without it D' = D); mask (B, T) booleans or None; biases may be None.
    Returns pooled (B, Q, D') and weights ω (B, Q, T); both are differentiable.

    Forward  docs/math.md A1-A5:  u_t = tanh(V h_t + b_V) [⊙ σ(U h_t + b_U) gated];
             e_{q,t} = w_qᵀ u_t;  α = masked softmax over t (A3);
             ω = σ(g_qᵀ h_t + b_G) ⊙ α (weight_gated) or α;  pooled_q = Σ_t ω_{q,t} v_t
    Backward docs/math.md A6-A14: the masked-softmax Jacobian (A8), the tanh and gate terms
             (A10, A11), the step gate's product rule (A7); every parameter gradient and dh
             are GEMMs over all B·T rows (A13). Padded steps and all-masked rows get zero.
    Saved (A15): r = tanh(Z) (B·T·A values), s = σ(Y) (B·T·A, gated only), α (B·Q·T),
    γ (B·Q·T, weight_gated only), v (B·T·D', value projection only); h, the mask and the
    parameters are referenced, and without step gate the returned weights are α itself.
    An empty batch or sequence (B = 0 or T = 0) runs no kernel: zero (or empty) results and
    zero gradients, as for rows without a valid step.

    Inputs, in order: h, the fields of :class:`~nongate_np.kernels.contract.AttentionParams`
    in their order, mask, kind (``attention_pool`` passes them so).
    """

    @staticmethod
    def forward(ctx, h, *rest):
        *values, mask, kind = rest
        B, T, D = h.shape
        ctx.empty = B == 0 or T == 0
        if ctx.empty:
            ctx.inputs = (h, *values)
            p = AttentionParams(*values)
            xp, dtype = xp_of(h, p.w_proj), result_dtype(h, p)
            Q, Dv = p.query.shape[0], D if p.w_value is None else p.w_value.shape[0]
            return xp.zeros((B, Q, Dv), dtype), xp.zeros((B, Q, T), dtype)
        backend: Backend = kernels_for(h)
        ctx.kernels = backend       # NOTE: backward must use the backend that made the cache
        pooled, weights, ctx.cache = backend.attention_forward(
            h, AttentionParams(*values), kind, mask, any(ctx.needs_grad))
        return pooled, weights

    @staticmethod
    def backward(ctx, dpooled, dweights):
        if ctx.empty:
            return zero_grads(ctx, ctx.inputs) + (None, None)
        backend: Backend = ctx.kernels
        dh, grads = backend.attention_backward(ctx.cache, dpooled, dweights)
        return tuple(g if n else None for g, n in zip((dh, *grads, None, None),
                                                      ctx.needs_grad))


def lengths_to_mask(lengths, T: int) -> np.ndarray:
    """mask[b, t] = t < lengths[b]: (B, T) booleans from (B,) lengths."""
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


def step_mask(mask, lengths, B: int, T: int, where: str) -> np.ndarray | None:
    """The (B, T) booleans of the valid steps from ``mask`` (B, T) booleans or ``lengths``
    (B,) ints in [0, T] (not both; neither: None, every step valid), checked; an error
    names ``where``, the argument, what was expected and what was given."""
    if mask is not None and lengths is not None:
        raise ValueError(f"{where}: give mask or lengths, not both")
    if lengths is not None:
        return lengths_to_mask(check_lengths(where, lengths, T, B), T)
    if mask is None:
        return None
    arr = as_array(mask.data if isinstance(mask, Tensor) else mask, what=f"{where}: mask")
    if arr.dtype != np.bool_:
        raise TypeError(f"{where}: mask must be boolean (True = a real step), got dtype "
                        f"{arr.dtype}; use e.g. mask.astype(bool) or lengths=")
    if arr.shape != (B, T):
        raise ValueError(f"{where}: mask has shape {arr.shape}, expected (B, T) = {(B, T)} "
                         f"from h")
    return arr


def _check(h, params: AttentionParams, kind: str) -> None:
    """Shape checks; every error names the argument, the expected and the given shape."""
    check_kind(kind, "attention_pool")
    hs = shape_of(h)
    if len(hs) != 3:
        raise ValueError(f"attention_pool: h must be 3-D (B, T, D), got shape {hs}")
    B, T, D = hs
    w_proj, query, w_value = params.w_proj, params.query, params.w_value
    A = shape_of(w_proj)[0] if len(shape_of(w_proj)) == 2 else -1
    Q = shape_of(query)[0] if len(shape_of(query)) == 2 else -1
    expected = {"w_proj": (A, D), "b_proj": (A,), "query": (Q, A)}
    if kind == "gated":
        if params.w_gate is None:
            raise ValueError("attention_pool: kind='gated' needs w_gate (A, D) and b_gate (A,)")
        expected.update(w_gate=(A, D), b_gate=(A,))
    if kind == "weight_gated":
        if params.w_step is None:
            raise ValueError("attention_pool: kind='weight_gated' needs w_step (Q, D) and "
                             "b_step (Q,)")
        expected.update(w_step=(Q, D), b_step=(Q,))
    if w_value is not None:
        Dv = shape_of(w_value)[0] if len(shape_of(w_value)) == 2 else -1
        expected.update(w_value=(Dv, D), b_value=(Dv,))
    for name, want in expected.items():
        got = shape_of(getattr(params, name))
        if got is not None and got != want:
            raise ValueError(f"attention_pool: {name} has shape {got}, expected {want} "
                             f"(B={B}, T={T}, D={D}, A={A}, Q={Q})")


def attention_pool(h, w_proj, b_proj, query, *, kind: str = "gated", w_gate=None,
                   b_gate=None, w_step=None, b_step=None, w_value=None, b_value=None,
                   mask=None, lengths=None) -> tuple[Tensor, Tensor]:
    """Pool (B, T, D) sequences into (B, Q, D') vectors; see :class:`AttentionPool`.

    Arguments are Tensors (or arrays, taken as constants). ``mask`` (B, T) booleans or
    ``lengths`` (B,) ints (not both) mark the valid steps. Returns (pooled, weights).
    Dtypes: float32 or float64, complex128 for a complex-step check (docs/math.md G2); the
    outputs and gradients take NumPy's promotion of every argument's dtype (the module
    ``nn.AttentionPooling`` refuses a mix). Raises ValueError (TypeError for a mask or
    lengths of the wrong dtype) naming the argument, what was expected and what was given.
    """
    params = AttentionParams(w_proj, b_proj, query, w_gate=w_gate, b_gate=b_gate,
                             w_step=w_step, b_step=b_step, w_value=w_value,
                             b_value=None if w_value is None else b_value)
    _check(h, params, kind)
    B, T, _ = shape_of(h)
    mask = step_mask(mask, lengths, B, T, "attention_pool")
    return AttentionPool.apply(h, *for_kind(params, kind), mask, kind)
