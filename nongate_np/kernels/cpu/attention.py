"""Numba attention-pooling kernels (docs/math.md A1-A17), with the same signatures and
results as ``kernels/reference.py`` (``attention_forward``, ``attention_backward``,
``attention_online``).

Every product over the B·T rows is one GEMM through ``blas.gemm``, never NumPy's own
BLAS; the large ones through ``gemm.matmul``, split over the threads, at sizes where it
splits them:

* forward: ``H [V; U; G]ᵀ`` (one GEMM for every projection that scores or gates: Z, Y
  and Y_G before their biases), ``Eᵀ = W uᵀ`` (Q, B·T, unit stride in t) and the value
  projection ``H W_vᵀ``;
* backward: the adjoints of all projections are written side by side into one matrix
  ``Γ = [dZ | dY | dY_G | dv]`` (B·T, K), so that ``dH = Γ [V; U; G; W_v]`` and
  ``d[V; U; G; W_v] = Γᵀ H`` are two GEMMs, split over the threads together
  (``gemm.matmuls``), and the biases one column sum.

The passes between them are one compiled call per forward (:func:`_forward_passes`) and
two per backward (:func:`_backward_passes`, before and after its products); at sizes
whose projections ``gemm.matmul`` would not split, those are made inside that call too
(:func:`_one_call`), so a small call (S1) runs one compiled call each way.

The element-wise math (tanh, σ, the masked softmax, the gates and their derivatives) is
fused into ``@njit`` passes with the vectorisable activations of ``activations.py``: inner
loops with unit-stride stores and no conditional stores (selects instead of branches).
The per-sequence products ``ω_b v_b`` (A5) and ``dpooled_b v_bᵀ`` (A6) are small GEMMs
inside a Numba loop over b.

What a kind does not have (the gate's s without the gate, the step gate's γ without the
step gate) is passed to the kernels as None: Numba prunes the branches on it when it
compiles each kernel, so a model compiles its own kind's code only (bench/KERNEL_NOTES.md,
"Compile time: None for what a model does not use").

The cache is this backend's own (``AttentionCache``); complex inputs (complex-step
checks) run on the reference kernels and keep the reference's cache.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit, types
from numba.extending import overload

from .. import reference as ref
from ..contract import AttentionParams, OnlinePoolState, check_kind, for_kind, result_dtype
from . import threads, tuning, workspace
from .activations import KERNEL_FLAGS, exp32, exp64
from .blas import gemm
from .gemm import matmul, matmuls, unsplit
from .lstm import sigmoid, tanh

__all__ = ["attention_forward", "attention_backward", "attention_online"]

_JIT = KERNEL_FLAGS


def _exp(x):  # pragma: no cover - replaced by the overload inside jitted code
    raise NotImplementedError


@overload(_exp)
def _exp_impl(x):
    return (lambda x: exp32(x)) if x == types.float32 else (lambda x: exp64(x))


# --------------------------------------------------------------------------------------------
# Fused element-wise passes
# --------------------------------------------------------------------------------------------

@njit(inline="always", **_JIT)
def _activations(z, b_proj, b_gate, r, s, u):
    """A1-A2: r = tanh(Z), s = σ(Y), u = r ⊙ s, one pass over the B·T rows;
    Z = z[:, :A] + b_V, Y = z[:, A:2A] + b_U (z holds the products H Vᵀ, H Uᵀ without their
    biases). Without the gate (s None) only r is written (u is r)."""
    N, A = r.shape
    for n in range(N):
        zv = z[n, :A]
        if s is not None:
            zu = z[n, A:2 * A]
            for j in range(A):
                rj = tanh(zv[j] + b_proj[j])
                sj = sigmoid(zu[j] + b_gate[j])
                r[n, j] = rj
                s[n, j] = sj
                u[n, j] = rj * sj
        else:
            for j in range(A):
                r[n, j] = tanh(zv[j] + b_proj[j])


@njit(inline="always", **_JIT)
def _softmax_gate(e, mask, z, col, b_step, sb, st, alpha, gamma, weights):
    """A3-A4 per (b, q): α = masked softmax over t of e (Q, B·T), zero on a row without a
    valid step; with the step gate, γ = σ(z[:, col + q] + b_g) and ω = γ ⊙ α, else (gamma
    None) ω is α. (b, t) is row b·sb + t·st of e's columns and z's rows (:func:`_rows`)."""
    B, Q, T = alpha.shape
    zero = alpha.dtype.type(0)
    ninf = alpha.dtype.type(-np.inf)
    for b in range(B):
        base = b * sb
        for q in range(Q):
            m = ninf
            for t in range(T):
                x = e[q, base + t * st]
                m = max(m, x if mask[b, t] else ninf)
            shift = m if m > ninf else zero   # NOTE: an all-masked row: any shift will do
            p = alpha[b, q]
            for t in range(T):
                on = mask[b, t]
                # NOTE: masked scores are replaced before exp: a huge padded score cannot
                # overflow, and the select keeps the loop branch-free
                v = _exp(e[q, base + t * st] - shift if on else zero)
                p[t] = v if on else zero
            S = zero
            for t in range(T):
                S += p[t]
            S = S if S > zero else alpha.dtype.type(1)   # NOTE: 0 / 1 on an all-masked row
            for t in range(T):
                p[t] = p[t] / S
            if gamma is not None:
                g = gamma[b, q]
                w = weights[b, q]
                bq = b_step[q]
                for t in range(T):
                    gt = sigmoid(z[base + t * st, col + q] + bq)
                    g[t] = gt
                    w[t] = gt * p[t]


@njit(inline="always", **_JIT)
def _pool(weights, v, sb, st, pooled):
    """A5: pooled_b = ω_b v_b, one (Q×T)(T×D') GEMM per sequence; v_b is the rows b·sb +
    t·st of v (B·T, D') (:func:`_rows`)."""
    T = weights.shape[2]
    for b in range(weights.shape[0]):
        gemm(weights[b], v[b * sb:b * sb + T * st:st], pooled[b])


@njit(inline="always", **_JIT)
def _softmax_backward(dweights, dpooled, v, sb, st, alpha, gamma, de, grad, col):
    """A6-A8 per (b, q): dω = dweights + dpooled_b v_bᵀ; with the step gate, dα = dω ⊙ γ
    and dy_step = dω ⊙ α ⊙ γ(1 − γ) into grad[:, col + q], else (gamma None) dα = dω;
    de = α ⊙ (dα − Σ_t α dα) into de (Q, B·T). (b, t) is row b·sb + t·st of v (B·T, D'),
    grad and de's columns (:func:`_rows`)."""
    B, Q, T = alpha.shape
    one = alpha.dtype.type(1)
    domega = np.empty((Q, T), alpha.dtype)
    dalpha = np.empty(T, alpha.dtype)
    for b in range(B):
        base = b * sb
        gemm(dpooled[b], v[base:base + T * st:st].T, domega)           # A6
        for q in range(Q):
            dw = dweights[b, q]
            a = alpha[b, q]
            do = domega[q]
            if gamma is not None:
                g = gamma[b, q]
                for t in range(T):
                    d = dw[t] + do[t]
                    dalpha[t] = d * g[t]                               # A7
                    grad[base + t * st, col + q] = d * a[t] * g[t] * (one - g[t])
            else:
                for t in range(T):
                    dalpha[t] = dw[t] + do[t]
            dot = alpha.dtype.type(0)
            for t in range(T):
                dot += a[t] * dalpha[t]
            out = de[q]
            for t in range(T):
                out[base + t * st] = a[t] * (dalpha[t] - dot)          # A8


@njit(inline="always", **_JIT)
def _value_backward(weights, dpooled, out, col, sb, st, add):
    """A6: dv_{b,t} = Σ_q ω_{b,q,t} dpooled_{b,q} into out[b·sb + t·st, col:col + D']
    (:func:`_rows`), or with ``add`` added to what is there (A12's dh where v = h)."""
    B, Q, T = weights.shape
    Dv = dpooled.shape[2]
    zero = weights.dtype.type(0)
    for b in range(B):
        for t in range(T):
            row = out[b * sb + t * st, col:col + Dv]
            for d in range(Dv):
                row[d] = row[d] if add else zero
            for q in range(Q):
                w = weights[b, q, t]
                dp = dpooled[b, q]
                for d in range(Dv):
                    row[d] += w * dp[d]


@njit(inline="always", **_JIT)
def _activations_backward(du, r, s, grad):
    """A10-A11: dZ = du ⊙ s ⊙ (1 − r²) into grad[:, :A] and, gated, dY = du ⊙ r ⊙ s(1 − s)
    into grad[:, A:2A] (without the gate, s None: s is 1)."""
    N, A = du.shape
    one = du.dtype.type(1)
    for n in range(N):
        g = grad[n, :A]
        if s is not None:
            gu = grad[n, A:2 * A]
            for j in range(A):
                rj, sj, d = r[n, j], s[n, j], du[n, j]
                g[j] = d * sj * (one - rj * rj)
                gu[j] = d * rj * sj * (one - sj)
        else:
            for j in range(A):
                rj = r[n, j]
                g[j] = du[n, j] * (one - rj * rj)


# --------------------------------------------------------------------------------------------
# The passes of a forward and a backward, each one compiled call
# --------------------------------------------------------------------------------------------

@njit(**_JIT)
def _forward_passes(project, h2, w_all, z, b_proj, b_gate, r, s, u, query, e, valid, col,
                    b_step, sb, st, alpha, gamma, weights, v, pooled):
    """A1-A5 from z = H w_allᵀ, the scoring and gating projections before their biases:
    made here with ``project`` (:func:`_one_call`), else the caller's (``gemm.matmul``,
    split over the threads). The scores' product Eᵀ = W uᵀ (Q·A·B·T multiply-adds, far
    fewer than the projections') is one BLAS call here at every size."""
    if project:
        gemm(h2, w_all.T, z)                                           # A1, A2, A4
    _activations(z, b_proj, b_gate, r, s, u)                           # A1, A2
    gemm(query, u.T, e)                                                # A1: Eᵀ (Q, B·T)
    _softmax_gate(e, valid, z, col, b_step, sb, st, alpha, gamma, weights)   # A3, A4
    _pool(weights, v, sb, st, pooled)                                  # A5


@njit(**_JIT)
def _backward_passes(head, products, tail, dweights, dpooled, v, sb, st, alpha, gamma,
                     weights, col_step, col_value, project_v, query, u, r, s, de, grad, du,
                     dquery, w_all, h2, dh2, dw_all, ones, db_all):
    """The backward's parts (A6-A13), each where its flag says: ``head`` A6-A11 (the
    adjoints of the scores and gates into Γ = grad, and dquery), ``products`` A12-A13's
    products dH = Γ w_all and dw_all = Γᵀ H (:func:`_one_call`; else the caller makes them
    between a head call and a tail call, split over the threads), ``tail`` the values'
    share of dH where v = h (A6, A12) and the biases' Σ_rows Γ (A13)."""
    if head:
        _softmax_backward(dweights, dpooled, v, sb, st, alpha, gamma, de, grad,
                          col_step)                                    # A6-A8
        if project_v:
            _value_backward(weights, dpooled, grad, col_value, sb, st, False)   # A6: dv
        gemm(de.T, query, du)                                          # A9
        gemm(de, u, dquery)
        _activations_backward(du, r, s, grad)                          # A10, A11
    if products:
        gemm(grad, w_all, dh2)                                         # A12
        gemm(grad.T, h2, dw_all)                                       # A13
    if tail:
        if not project_v:
            _value_backward(weights, dpooled, dh2, 0, sb, st, True)   # A6, A12: v = h
        # NOTE: the column sums as a product with ones, faster than NumPy's reduction over
        # the strided axis (bench/KERNEL_NOTES.md, "Attention: bias gradients as a product
        # with ones")
        gemm(ones, grad, db_all)                                       # A13: Σ_rows


# --------------------------------------------------------------------------------------------
# The kernel contract
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass(slots=True)
class AttentionCache:
    """What this backend's backward needs (A15), in its own layout."""

    shape: tuple[int, int, int]     # (B, T, D)
    h2: np.ndarray                  # h as (B·T, D) rows, (b, t) at row b·sb + t·st
    rows: tuple[int, int]           # (sb, st): (T, 1), or (1, B) for time-major rows
    mask: np.ndarray | None         # (B, T) bool; None: every step present
    w_all: np.ndarray               # [w_proj; w_gate; w_step] stacked
    query: np.ndarray
    w_value: np.ndarray | None
    r: np.ndarray
    s: np.ndarray | None            # None without the gate
    u: np.ndarray
    alpha: np.ndarray
    gamma: np.ndarray | None        # None without the step gate
    weights: np.ndarray
    v: np.ndarray                   # values (B·T, D'), rows as h2's


def _filled(shape: tuple[int, ...], value: float, dtype: npt.DTypeLike) -> np.ndarray:
    """``np.full(shape, value, dtype)``, faster at a small call (S1)."""
    a = np.empty(shape, dtype)
    a.fill(value)
    return a


def _cast(a, dtype):
    return None if a is None else np.ascontiguousarray(a, dtype=dtype)


def _one_call(rows: int, K: int, D: int) -> bool:
    """Whether a forward or backward over ``rows`` = B·T rows of width D, with K stacked
    projections (and the value projection's D' in the backward), makes its projections'
    products inside its compiled call (:func:`_forward_passes`, :func:`_backward_passes`):
    below ``tuning.ATTENTION_ONE_CALL_MAX_MACS`` and where ``gemm.matmul`` would not split
    them either (``gemm.unsplit``). At a small call (S1) the Python around a product cost
    more than the product (bench/KERNEL_NOTES.md, "Attention: one call at small sizes")."""
    macs = rows * K * D
    return macs < tuning.ATTENTION_ONE_CALL_MAX_MACS and unsplit(macs)


class _Operands(NamedTuple):
    """What every pass over h reads, in the kernels' dtype and layout."""

    h2: np.ndarray                  # h as (B·T, D) rows, (b, t) at row b·sb + t·st
    rows: tuple[int, int]           # (sb, st) (:func:`_rows`)
    w_all: np.ndarray               # [w_proj; w_gate; w_step] stacked (K, D)
    b_proj: np.ndarray              # (A,)
    b_gate: np.ndarray              # (A,), gated; empty otherwise
    b_step: np.ndarray              # (Q,), weight_gated; empty otherwise
    query: np.ndarray               # (Q, A)
    w_value: np.ndarray | None      # (D', D)


class _Scores(NamedTuple):
    """The online pooling's projections of h and scores (:func:`_scores`)."""

    z: np.ndarray                   # h2 w_allᵀ (B·T, K), before the biases
    r: np.ndarray                   # tanh(Z + b_V) (B·T, A)
    s: np.ndarray | None            # σ(Y + b_U) (B·T, A), gated; None otherwise
    u: np.ndarray                   # r ⊙ s, gated; r otherwise
    e: np.ndarray                   # scores Eᵀ (Q, B·T)
    v: np.ndarray                   # values (B·T, D'), rows as h2's


def _rows(h: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, tuple[int, int]]:
    """h (B, T, D) as the (B·T, D) rows the kernels read, (b, t) at row b·sb + t·st, and
    (sb, st): h's own memory where it is C-contiguous (T, 1) or the transpose of a
    C-contiguous time-major array (1, B: an LSTM's output y (T, B, D) passed as
    ``y.transpose(0, 1)``), else a batch-major copy of it.

    NOTE: time-major rows taken as they are: the copy into batch-major order, and its
    gradient's copy back for the LSTM's backward, took one to two per cent of an S3 or
    M1 training step (bench/KERNEL_NOTES.md, "Attention: time-major rows")."""
    B, T, D = h.shape
    time_major = h.transpose(1, 0, 2)
    if h.dtype == dtype and not h.flags.c_contiguous and time_major.flags.c_contiguous:
        return time_major.reshape(T * B, D), (1, B)
    return workspace.ascontiguous(h, dtype).reshape(B * T, D), (T, 1)


def _operands(h: np.ndarray, p: AttentionParams, dtype: np.dtype) -> _Operands:
    """h's rows and ``p`` (the fields of one kind, ``for_kind``) as the kernels read them:
    in ``dtype``, C-contiguous, the scoring and gating weights stacked, a missing bias as
    zeros."""
    A, Q = p.w_proj.shape[0], p.query.shape[0]
    h2, rows = _rows(h, dtype)
    w_proj, query = _cast(p.w_proj, dtype), _cast(p.query, dtype)
    zeros = np.zeros(max(A, Q), dtype)

    def projection(w, b, size):
        """(weight, bias) cast to dtype, a missing bias as zeros; (None, empty) if unused."""
        if w is None:
            return None, zeros[:0]
        return _cast(w, dtype), zeros[:size] if b is None else _cast(b, dtype)
    _, b_proj = projection(w_proj, p.b_proj, A)
    w_gate, b_gate = projection(p.w_gate, p.b_gate, A)
    w_step, b_step = projection(p.w_step, p.b_step, Q)
    parts = [w for w in (w_proj, w_gate, w_step) if w is not None]
    w_all = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return _Operands(h2=h2, rows=rows, w_all=w_all, b_proj=b_proj, b_gate=b_gate,
                     b_step=b_step, query=query, w_value=_cast(p.w_value, dtype))


def _scores(op: _Operands, gated: bool, b_value: np.ndarray | None, dtype: np.dtype
            ) -> _Scores:
    """A1, A2, A4's projection and A5's values for the online pooling, each product
    through ``gemm.matmul``."""
    N, A = op.h2.shape[0], op.query.shape[1]
    z = matmul(op.h2, op.w_all.T)                                      # A1, A2, A4 (B·T, K)
    r = workspace.empty((N, A), dtype)
    s = workspace.empty((N, A), dtype) if gated else None
    u = workspace.empty((N, A), dtype) if gated else r
    _activations(z, op.b_proj, op.b_gate, r, s, u)                     # A1, A2
    e = matmul(op.query, u.T)                                          # A1: Eᵀ (Q, B·T)
    return _Scores(z=z, r=r, s=s, u=u, e=e, v=_values(op, b_value, dtype))


def _values(op: _Operands, b_value: np.ndarray | None, dtype: np.dtype) -> np.ndarray:
    """A5's values (B·T, D'), rows as h2's: h itself, or H W_vᵀ + b_v."""
    if op.w_value is None:
        return op.h2
    v = matmul(op.h2, op.w_value.T)
    if b_value is not None:
        v += b_value.astype(dtype, copy=False)
    return v


@threads.owns_cores
def attention_forward(h: np.ndarray, params: AttentionParams, kind: str,
                      mask: np.ndarray | None, keep_cache: bool
                      ) -> tuple[np.ndarray, np.ndarray,
                                 AttentionCache | ref.AttentionCache | None]:
    """Same contract as ``reference.attention_forward``; the cache is an
    :class:`AttentionCache` (the reference's for complex input)."""
    check_kind(kind, "attention_forward")
    gated, step = kind == "gated", kind == "weight_gated"
    p = for_kind(params, kind)
    dtype = result_dtype(h, p)
    if dtype not in (np.float32, np.float64):   # complex-step checks: the reference kernels
        return ref.attention_forward(h, params, kind, mask, keep_cache)
    B, T, D = h.shape
    A, Q = p.w_proj.shape[0], p.query.shape[0]
    op = _operands(ref.zero_absent(h, mask, 2), p, dtype)   # the cache keeps h2, for dW, dh
    N, K = B * T, op.w_all.shape[0]
    valid = _filled((B, T), True, np.bool_) if mask is None else \
        np.ascontiguousarray(mask, dtype=np.bool_)
    project = _one_call(N, K, D)
    z = workspace.empty((N, K), dtype) if project else matmul(op.h2, op.w_all.T)
    r, *gate = workspace.empty_many([(N, A)] + [(N, A), (N, A)] * gated, dtype)
    s, u = gate if gated else (None, r)
    v = _values(op, p.b_value, dtype)
    e, alpha = np.empty((Q, N), dtype), np.empty((B, Q, T), dtype)
    gamma = np.empty((B, Q, T), dtype) if step else None
    weights = np.empty((B, Q, T), dtype) if step else alpha
    pooled = np.empty((B, Q, v.shape[1]), dtype)
    _forward_passes(project, op.h2, op.w_all, z, op.b_proj, op.b_gate, r, s, u, op.query, e,
                    valid, 2 * A if gated else A, op.b_step, *op.rows, alpha, gamma, weights,
                    v, pooled)                                         # A1-A5
    cache = None
    if keep_cache:
        cache = AttentionCache(shape=(B, T, D), h2=op.h2, rows=op.rows,
                               mask=None if mask is None else valid,
                               w_all=op.w_all, query=op.query, w_value=op.w_value, r=r,
                               s=s, u=u, alpha=alpha, gamma=gamma, weights=weights, v=v)
    return pooled, weights, cache


@threads.owns_cores
def attention_online(state: OnlinePoolState | None, h: np.ndarray, params: AttentionParams,
                     kind: str, mask: np.ndarray | None
                     ) -> tuple[np.ndarray, OnlinePoolState]:
    """Same contract as ``reference.attention_online``: the projections and scores run
    here; the fold over the chunk's steps (A16, O(B·Q·(t + D')) work) is the reference's."""
    check_kind(kind, "attention_online")
    p = for_kind(params, kind)
    dtype = result_dtype(h, p)
    if dtype not in (np.float32, np.float64):   # complex input: the reference kernels
        return ref.attention_online(state, h, params, kind, mask)
    B, T, _ = h.shape
    A, Q = p.w_proj.shape[0], p.query.shape[0]
    # NOTE: batch-major rows whatever h's layout: the fold reads e and v per sequence
    op = _operands(workspace.ascontiguous(ref.zero_absent(h, mask, 2), dtype), p, dtype)
    sc = _scores(op, kind == "gated", p.b_value, dtype)
    e = sc.e.reshape(Q, B, T).transpose(1, 0, 2)                       # (B, Q, T)
    gamma = None
    if kind == "weight_gated":                                         # A4
        gamma = ref.sigmoid(sc.z[:, A:A + Q] + op.b_step).reshape(B, T, Q).transpose(0, 2, 1)
    state = ref.online_pool_update(state, e, sc.v.reshape(B, T, -1), mask, gamma)   # A16
    return ref.online_pool_result(state), state                        # A17


@threads.owns_cores
def attention_backward(cache: AttentionCache | ref.AttentionCache, dpooled: np.ndarray,
                       dweights: np.ndarray) -> tuple[np.ndarray, AttentionParams]:
    """Same contract as ``reference.attention_backward``."""
    if not isinstance(cache, AttentionCache):   # made by the reference path (complex)
        return ref.attention_backward(cache, dpooled, dweights)
    B, T, D = cache.shape
    N = B * T
    A, Q = cache.r.shape[1], cache.query.shape[0]
    dtype = cache.r.dtype
    gated, step, proj_v = cache.s is not None, cache.gamma is not None, \
        cache.w_value is not None
    Dv = cache.v.shape[1]
    sb, st = cache.rows
    dpooled = workspace.ascontiguous(dpooled, dtype)
    # NOTE: ω is 0 at an absent step whatever the inputs: its adjoint there takes no part
    dweights = workspace.ascontiguous(ref.zero_absent(dweights, cache.mask, 1), dtype)
    col_step = 2 * A if gated else A
    col_value = col_step + (Q if step else 0)
    K = col_value + (Dv if proj_v else 0)
    grad = workspace.empty((N, K), dtype)           # Γ = [dZ | dY | dY_G | dv]
    w_all = cache.w_all if not proj_v else np.concatenate([cache.w_all, cache.w_value])
    ones, db_all = _filled((1, N), 1, dtype), np.empty((1, K), dtype)
    de, dquery = np.empty((Q, N), dtype), np.empty((Q, A), dtype)
    du = workspace.empty((N, A), dtype)
    args = (dweights, dpooled, cache.v, sb, st, cache.alpha, cache.gamma, cache.weights,
            col_step, col_value, proj_v, cache.query, cache.u, cache.r, cache.s, de, grad, du,
            dquery, w_all, cache.h2)
    if _one_call(N, K, D):
        dh2, dw_all = workspace.empty_many(((N, D), (K, D)), dtype)
        _backward_passes(True, True, True, *args, dh2, dw_all, ones, db_all)   # A6-A13
    else:
        none = np.empty((0, 0), dtype)
        _backward_passes(True, False, False, *args, none, none, ones, db_all)  # A6-A11
        dh2, dw_all = matmuls((grad, w_all), (grad.T, cache.h2))      # A12, A13 (one split)
        _backward_passes(False, False, True, *args, dh2, dw_all, ones, db_all)  # A6, A13
    db_all = db_all[0]
    fields = dict(w_proj=dw_all[:A], b_proj=db_all[:A], query=dquery)
    if gated:
        fields.update(w_gate=dw_all[A:2 * A], b_gate=db_all[A:2 * A])
    if step:
        fields.update(w_step=dw_all[col_step:col_value], b_step=db_all[col_step:col_value])
    if proj_v:
        fields.update(w_value=dw_all[col_value:], b_value=db_all[col_value:])
    grads = AttentionParams(**fields)
    dh = dh2.reshape(B, T, D) if st == 1 else dh2.reshape(T, B, D).transpose(1, 0, 2)
    return dh, grads                                                   # rows as h's
