"""Attention pooling written with the engine's primitive ops (matmul, tanh, sigmoid, exp,
where, sum, softmax, transpose): an independent derivation, by the autograd of those ops, to
compare the fused op's hand-derived backward against."""

import numpy as np

import nongate_np as ng


def _affine(h, w, b):
    y = ng.matmul(h, ng.transpose(w, 0, 1))          # (B, T, D) @ (D, n) -> (B, T, n)
    return y if b is None else y + b


def composed_attention_pool(h, w_proj, b_proj, query, *, kind, w_gate=None, b_gate=None,
                            w_step=None, b_step=None, w_value=None, b_value=None, mask=None,
                            lengths=None):
    T = h.shape[1]
    if lengths is not None:
        mask = np.arange(T)[None, :] < np.asarray(lengths)[:, None]
    u = ng.tanh(_affine(h, w_proj, b_proj))
    if kind == "gated":
        u = u * ng.sigmoid(_affine(h, w_gate, b_gate))
    e = ng.transpose(ng.matmul(u, ng.transpose(query, 0, 1)), 1, 2)   # (B, Q, T)
    if mask is None:
        alpha = ng.softmax(e, axis=-1)
    else:
        valid = mask[:, None, :]
        any_valid = valid.any(axis=-1, keepdims=True)
        # The shift is a constant (softmax does not depend on it), so it is not differentiated.
        shift = np.max(np.where(valid, e.data.real, -np.inf), axis=-1, keepdims=True)
        shift = np.where(any_valid, shift, 0.0)
        p = ng.where(valid, ng.exp(ng.where(valid, e - shift, 0.0)), 0.0)
        alpha = p / ng.where(any_valid, ng.sum(p, axis=-1, keepdims=True), 1.0)
    weights = alpha
    if kind == "weight_gated":
        weights = ng.sigmoid(ng.transpose(_affine(h, w_step, b_step), 1, 2)) * alpha
    v = h if w_value is None else _affine(h, w_value, b_value)
    return ng.matmul(weights, v), weights
