"""The gradient-check catalog: one seeded, fixed-shape case per differentiable op.

``nongate-np gradcheck`` runs every case by every method. Later fused ops (LSTM, attention
pooling) add their cases here. Shapes are small so the whole catalog checks in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import ops
from ..ops.attention import attention_pool
from ..ops.lstm import lstm, lstm_layer

__all__ = ["Case", "CASES"]


@dataclass(frozen=True)
class Case:
    """One op to check: ``fn(*inputs(rng))``; ``analytic`` allows complex-step."""
    name: str
    fn: Callable
    inputs: Callable[[np.random.Generator], list]
    analytic: bool = True


def _normal(*shape):
    return lambda rng: [rng.standard_normal(shape)]


def _positive(*shape):
    return lambda rng: [rng.uniform(0.5, 2.0, shape)]


def _pair(a_shape, b_shape, positive_b=False):
    def make(rng):
        b = rng.uniform(0.5, 2.0, b_shape) if positive_b else rng.standard_normal(b_shape)
        return [rng.standard_normal(a_shape), b]
    return make


def _away_from_zero(*shape):
    def make(rng):
        x = rng.standard_normal(shape)
        return [np.where(np.abs(x) < 0.1, 0.1 * np.sign(x) + 0.1 * (x == 0), x)]
    return make


def _distinct(*shape):
    return lambda rng: [rng.permutation(int(np.prod(shape))).reshape(shape) * 0.3
                        + rng.uniform(-0.05, 0.05, shape)]


_COND = np.array([[True, False, True], [False, False, True]])
_IDS = np.array([[0, 2, 2], [4, 1, 0]])
_TARGETS = np.array([0, 2, -100, 1])
_LENGTHS = np.array([4, 1, 3])


def _lstm_layer_inputs(T=4, B=3, I=2, H=3, P=None):
    p = P or H
    shapes = [(T, B, I), (B, p), (B, H), (4 * H, I), (4 * H, p), (4 * H,), (4 * H,)]
    if P:
        shapes.append((P, H))
    return lambda rng: [rng.uniform(-1, 1, s) for s in shapes]


_STACK_NAMES = [f"{w}_l{k}{d}" for k in range(2) for d in ("", "_reverse")
                for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def _lstm_stack_inputs(rng, T=4, B=3, I=2, H=3):
    arrays = [rng.uniform(-1, 1, s) for s in [(T, B, I), (4, B, H), (4, B, H)]]
    for name in _STACK_NAMES:
        rows = 4 * H
        cols = I if name.startswith("weight_ih_l0") else (2 * H if "ih" in name else H)
        arrays.append(rng.uniform(-1, 1, (rows, cols) if name.startswith("weight") else rows))
    return arrays


def _lstm_stack(x, h0, c0, *weights):
    return lstm(x, h0, c0, dict(zip(_STACK_NAMES, weights)), num_layers=2,
                bidirectional=True, lengths=_LENGTHS)

_MASK = np.array([[True, True, False, True], [False, False, False, False],
                  [True, False, True, False]])
_ATTENTION_ARGS = {"additive": (), "gated": ("w_gate", "b_gate"),
                   "weight_gated": ("w_step", "b_step")}


def _attention_inputs(kind, Q, value_proj, B=3, T=4, D=3, A=2, Dv=2):
    shapes = {"h": (B, T, D), "w_proj": (A, D), "b_proj": (A,), "query": (Q, A),
              "w_gate": (A, D), "b_gate": (A,), "w_step": (Q, D), "b_step": (Q,),
              "w_value": (Dv, D), "b_value": (Dv,)}
    names = ["h", "w_proj", "b_proj", "query", *_ATTENTION_ARGS[kind]]
    if value_proj:
        names += ["w_value", "b_value"]
    return lambda rng: [rng.uniform(-1.5, 1.5, shapes[n]) for n in names]


def _attention(kind, value_proj):
    names = list(_ATTENTION_ARGS[kind]) + (["w_value", "b_value"] if value_proj else [])

    def pool(h, w_proj, b_proj, query, *rest):
        return attention_pool(h, w_proj, b_proj, query, kind=kind, mask=_MASK,
                              **dict(zip(names, rest)))
    return pool


CASES: list[Case] = [
    Case("add", ops.add, _pair((2, 3), (3,))),
    Case("sub", ops.sub, _pair((2, 1), (1, 3))),
    Case("mul", ops.mul, _pair((2, 3), (2, 1))),
    Case("div", ops.div, _pair((2, 3), (3,), positive_b=True)),
    Case("neg", ops.neg, _normal(2, 3)),
    Case("pow", ops.pow, lambda rng: [rng.uniform(0.5, 2, (2, 3)), rng.standard_normal(3)]),
    Case("exp", ops.exp, _normal(2, 3)),
    Case("log", ops.log, _positive(2, 3)),
    Case("tanh", ops.tanh, _normal(2, 3)),
    Case("sigmoid", ops.sigmoid, _normal(2, 3)),
    Case("relu", ops.relu, _away_from_zero(2, 3)),
    Case("where", lambda a, b: ops.where(_COND, a, b), _pair((2, 3), (3,))),
    Case("matmul", ops.matmul, _pair((2, 3, 4), (4, 2))),
    Case("sum", lambda x: ops.sum(x, axis=1), _normal(2, 3, 2)),
    Case("mean", lambda x: ops.mean(x, axis=(0, 2), keepdims=True), _normal(2, 3, 2)),
    Case("amax", lambda x: ops.amax(x, axis=0), _distinct(3, 4)),
    Case("max", lambda x: ops.max(x, 1).values, _distinct(3, 4)),
    Case("min", lambda x: ops.min(x, -1, keepdim=True).values, _distinct(3, 4)),
    Case("abs", ops.abs, _away_from_zero(2, 3)),
    Case("sqrt", ops.sqrt, _positive(2, 3)),
    Case("reshape", lambda x: ops.reshape(x, (3, 2)) * np.arange(6.0).reshape(3, 2),
         _normal(2, 3)),
    Case("transpose", lambda x: ops.transpose(x, 0, 2), _normal(2, 3, 4)),
    Case("permute", lambda x: ops.permute(x, (2, 0, 1)), _normal(2, 3, 4)),
    Case("concat", lambda a, b: ops.concat([a, b], axis=1), _pair((2, 3), (2, 2))),
    Case("stack", lambda a, b: ops.stack([a, b], axis=1), _pair((2, 3), (2, 3))),
    Case("getitem", lambda x: x[np.array([0, 2, 2]), 1:], _normal(3, 4)),
    Case("embedding", lambda w: ops.embedding(w, _IDS), _normal(5, 3)),
    Case("softmax", lambda x: ops.softmax(x, axis=0), _normal(3, 4)),
    Case("log_softmax", lambda x: ops.log_softmax(x, axis=1), _normal(3, 4)),
    Case("cross_entropy", lambda z: ops.cross_entropy(z, _TARGETS), _normal(4, 3)),
    Case("mse_loss", ops.mse_loss, _pair((2, 3), (2, 3))),
    Case("binary_cross_entropy_with_logits",
         ops.binary_cross_entropy_with_logits,
         lambda rng: [rng.standard_normal((2, 3)), rng.uniform(0, 1, (2, 3))]),
    Case("lstm_layer", lstm_layer, _lstm_layer_inputs()),
    Case("lstm_layer (reverse, lengths)",
         lambda x, h0, c0, w_ih, w_hh, b_ih, b_hh: lstm_layer(
             x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths=_LENGTHS, reverse=True),
         _lstm_layer_inputs()),
    Case("lstm_layer (proj_size=2)", lstm_layer, _lstm_layer_inputs(P=2)),
    # an inactive step's dh is the carried one: dW_hr masks it (docs/math.md L8, L14)
    Case("lstm_layer (proj_size=2, lengths)",
         lambda x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr: lstm_layer(
             x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, lengths=_LENGTHS),
         _lstm_layer_inputs(P=2)),
    Case("lstm (2 layers, bidirectional, lengths)", _lstm_stack, _lstm_stack_inputs),
    Case("attention_pool (additive, mask, Q=2)", _attention("additive", False),
         _attention_inputs("additive", 2, False)),
    Case("attention_pool (gated, mask, Q=3, value_proj)", _attention("gated", True),
         _attention_inputs("gated", 3, True)),
    Case("attention_pool (weight_gated, mask, Q=2, value_proj)",
         _attention("weight_gated", True), _attention_inputs("weight_gated", 2, True)),
]
