"""Numba attention-pooling kernels (docs/math.md A1-A17), with the same signatures and
results as ``kernels/reference.py`` (``attention_forward``, ``attention_backward``,
``attention_online``).

Every product over the B·T rows is one large GEMM through ``gemm.matmul`` (``blas.gemm``
split over the threads, never NumPy's own BLAS):

* forward: ``H [V; U; G]ᵀ`` (one GEMM for every projection that scores or gates: Z, Y
  and Y_G before their biases), ``Eᵀ = W uᵀ`` (Q, B·T, unit stride in t) and the value
  projection ``H W_vᵀ``;
* backward: the adjoints of all projections are written side by side into one matrix
  ``Γ = [dZ | dY | dY_G | dv]`` (B·T, K), so that ``dH = Γ [V; U; G; W_v]`` and
  ``d[V; U; G; W_v] = Γᵀ H`` are two GEMMs, split over the threads together
  (``gemm.matmuls``), and the biases one column sum.

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
from . import threads, workspace
from .activations import KERNEL_FLAGS, exp32, exp64
from .blas import gemm
from .gemm import matmul, matmuls
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

@njit(**_JIT)
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


@njit(**_JIT)
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


@njit(**_JIT)
def _pool(weights, v, sb, st, pooled):
    """A5: pooled_b = ω_b v_b, one (Q×T)(T×D') GEMM per sequence; v_b is the rows b·sb +
    t·st of v (B·T, D') (:func:`_rows`)."""
    T = weights.shape[2]
    for b in range(weights.shape[0]):
        gemm(weights[b], v[b * sb:b * sb + T * st:st], pooled[b])


@njit(**_JIT)
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


@njit(**_JIT)
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


@njit(**_JIT)
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


class _Scores(NamedTuple):
    """What the forward and the online pooling share: the projections of h and the scores."""

    h2: np.ndarray                  # h as (B·T, D) rows, (b, t) at row b·sb + t·st
    rows: tuple[int, int]           # (sb, st) (:func:`_rows`)
    w_all: np.ndarray               # [w_proj; w_gate; w_step] stacked (K, D)
    z: np.ndarray                   # h2 w_allᵀ (B·T, K), before the biases
    r: np.ndarray                   # tanh(Z + b_V) (B·T, A)
    s: np.ndarray | None            # σ(Y + b_U) (B·T, A), gated; None otherwise
    u: np.ndarray                   # r ⊙ s, gated; r otherwise
    e: np.ndarray                   # scores Eᵀ (Q, B·T)
    query: np.ndarray               # (Q, A)
    b_step: np.ndarray              # (Q,), weight_gated; empty otherwise
    w_value: np.ndarray | None      # (D', D)
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


def _scores(h: np.ndarray, p: AttentionParams, dtype: np.dtype) -> _Scores:
    """A1, A2, A4's projection and A5 for ``p`` (the fields of one kind, ``for_kind``)."""
    A, Q = p.w_proj.shape[0], p.query.shape[0]
    h2, rows = _rows(h, dtype)
    N = h2.shape[0]
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
    gated = w_gate is not None
    parts = [w for w in (w_proj, w_gate, w_step) if w is not None]
    w_all = parts[0] if len(parts) == 1 else np.concatenate(parts)
    z = matmul(h2, w_all.T)                                            # A1, A2, A4 (B·T, K)
    r = workspace.empty((N, A), dtype)
    s = workspace.empty((N, A), dtype) if gated else None
    u = workspace.empty((N, A), dtype) if gated else r
    _activations(z, b_proj, b_gate, r, s, u)                           # A1, A2
    e = matmul(query, u.T)                                             # A1: Eᵀ (Q, B·T)
    w_value = _cast(p.w_value, dtype)
    v = h2 if w_value is None else matmul(h2, w_value.T)               # A5: v = h, or H W_vᵀ
    if w_value is not None and p.b_value is not None:
        v += p.b_value.astype(dtype, copy=False)
    return _Scores(h2=h2, rows=rows, w_all=w_all, z=z, r=r, s=s, u=u, e=e, query=query,
                   b_step=b_step, w_value=w_value, v=v)


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
    sc = _scores(ref.zero_absent(h, mask, 2), p, dtype)   # the cache keeps h2, for dW, dh
    valid = _filled((B, T), True, np.bool_) if mask is None else \
        np.ascontiguousarray(mask, dtype=np.bool_)
    alpha = np.empty((B, Q, T), dtype)
    gamma = np.empty((B, Q, T), dtype) if step else None
    weights = np.empty((B, Q, T), dtype) if step else alpha
    _softmax_gate(sc.e, valid, sc.z, 2 * A if gated else A, sc.b_step, *sc.rows, alpha,
                  gamma, weights)                                      # A3, A4
    pooled = np.empty((B, Q, sc.v.shape[1]), dtype)
    _pool(weights, sc.v, *sc.rows, pooled)                             # A5
    cache = None
    if keep_cache:
        cache = AttentionCache(shape=(B, T, D), h2=sc.h2, rows=sc.rows,
                               mask=None if mask is None else valid,
                               w_all=sc.w_all, query=sc.query, w_value=sc.w_value, r=sc.r,
                               s=sc.s, u=sc.u, alpha=alpha, gamma=gamma, weights=weights,
                               v=sc.v)
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
    sc = _scores(workspace.ascontiguous(ref.zero_absent(h, mask, 2), dtype), p, dtype)
    e = sc.e.reshape(Q, B, T).transpose(1, 0, 2)                       # (B, Q, T)
    gamma = None
    if kind == "weight_gated":                                         # A4
        gamma = ref.sigmoid(sc.z[:, A:A + Q] + sc.b_step).reshape(B, T, Q).transpose(0, 2, 1)
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
    de = np.empty((Q, N), dtype)
    _softmax_backward(dweights, dpooled, cache.v, sb, st, cache.alpha, cache.gamma, de, grad,
                      col_step)                                        # A6-A8
    if proj_v:
        _value_backward(cache.weights, dpooled, grad, col_value, sb, st, False)   # A6
    du = matmul(de.T, cache.query)                                     # A9
    dquery = matmul(de, cache.u)
    _activations_backward(du, cache.r, cache.s, grad)                  # A10, A11
    w_all = cache.w_all if not proj_v else np.concatenate([cache.w_all, cache.w_value])
    dh2, dw_all = matmuls((grad, w_all), (grad.T, cache.h2))          # A12, A13 (one split)
    if not proj_v:                                                     # A6, A12: v = h
        _value_backward(cache.weights, dpooled, dh2, 0, sb, st, True)
    # NOTE: the column sums as a product with ones, faster than NumPy's reduction over
    # the strided axis (bench/KERNEL_NOTES.md, "Attention: bias gradients as a product
    # with ones")
    db_all = matmul(_filled((1, N), 1, dtype), grad)[0]           # A13: Σ_rows
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
