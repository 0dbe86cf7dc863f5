"""numba.cuda attention-pooling kernels (docs/math.md A1-A17), with the same signatures and
results as ``kernels/reference.py`` (``attention_forward``, ``attention_backward``,
``attention_online``).

The decomposition is the CPU backend's (kernels/cpu/attention.py): every product over the
R = B·T rows is one GEMM through ``matmul.matmul``:

* forward: ``Z = H [V; U; G; W_v]ᵀ`` (R, K), one GEMM for every projection (scores, gate,
  step gate, values), and ``E = u Wᵀ`` (R, Q);
* backward: the adjoints of all projections side by side in one matrix
  ``Γ = [dZ | dY | dY_G | dv]`` (R, K), so ``dH = Γ [V; U; G; W_v]`` and
  ``d[V; U; G; W_v] = Γᵀ H`` are two GEMMs and the biases one ``matmul.column_sums``.

The element-wise passes are kernels with one thread per element (the activations, their
derivatives, the value bias, the pooling product) or per (b, q) row (the masked softmax with
the step gate, its Jacobian, the online fold), which loop over the T steps. Each is
compiled per element type (``_kernels``), so that its constants have that type and float32
arithmetic stays float32.

Where this goes next on a GPU: the per-(b, q) kernels run only B·Q threads, each over all
T steps; for long sequences one block per (b, q) with a shared-memory reduction over t (the
max, the sum, Σ α dα) would keep the GPU busy. Not written yet: no GPU here to measure it.

Each contract function takes host NumPy arrays or numba.cuda device arrays: when ``h`` is
a device array every array returned is one (the online state and, through the cache, the
backward's gradients too), else they are host copies. Device inputs must be C-contiguous
and of the result dtype (``arrays.to_device`` casts host arrays only). complex input
(complex-step checks) runs on the reference kernels and keeps the reference's cache.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np
from numba import cuda

from .. import reference as ref
from ..contract import AttentionParams, OnlinePoolState, check_kind, for_kind, result_dtype
from . import arrays
from .lstm import zero_absent
from .matmul import column_sums, matmul
from .scalar import sigmoid_dev

__all__ = ["AttentionCache", "attention_forward", "attention_backward", "attention_online"]

THREADS = 64                # threads per block, at most (fewer when there is less work)


def _launch(kernel: Any, n: int) -> Any:
    """``kernel`` configured for ``n`` threads, one per work item (a no-op for n = 0)."""
    if n == 0:
        return lambda *args: None
    threads = min(THREADS, n)
    return kernel[(n + threads - 1) // threads, threads]


@cuda.jit
def _copy_block(src, out, row0):
    """out[row0 + i, j] = src[i, j]: one parameter into the stacked weights, one thread per
    element."""
    i = cuda.grid(1)
    rows, cols = src.shape
    if i < rows * cols:
        out[row0 + i // cols, i % cols] = src[i // cols, i % cols]


class _Kernels(NamedTuple):
    """The element-wise kernels of one element type."""

    activations: Any
    values: Any
    softmax_gate: Any
    pool: Any
    softmax_backward: Any
    value_backward: Any
    activations_backward: Any
    online_fold: Any


def _kernels(dtype: Any) -> _Kernels:
    """The attention kernels for one element type (``dtype``, a numba float type): typed
    constants keep float32 arithmetic in float32."""
    zero = dtype(0)
    one = dtype(1)
    neg_inf = dtype(-math.inf)      # the running max before any valid step (A3, A16)

    # ----------------------------------------------------------------------------------------
    # Forward
    # ----------------------------------------------------------------------------------------

    @cuda.jit
    def activations(z, b_all, gated, r, s, u):
        """A1-A2: r = tanh(Z), s = σ(Y), u = r ⊙ s, one thread per (row, j);
        Z = z[:, :A] + b_V, Y = z[:, A:2A] + b_U (z holds H Vᵀ, H Uᵀ without their biases).
        Without the gate only r is written (u is r)."""
        i = cuda.grid(1)
        N, A = r.shape
        if i >= N * A:
            return
        n, j = i // A, i % A
        rj = math.tanh(z[n, j] + b_all[j])
        r[n, j] = rj
        if gated:
            sj = sigmoid_dev(z[n, A + j] + b_all[A + j], one)
            s[n, j] = sj
            u[n, j] = rj * sj

    @cuda.jit
    def values(z, b_all, col, v):
        """A5: v = H W_vᵀ + b_v from Z's value columns col:col + D', one thread per
        element."""
        i = cuda.grid(1)
        N, Dv = v.shape
        if i < N * Dv:
            n, k = i // Dv, i % Dv
            v[n, k] = z[n, col + k] + b_all[col + k]

    @cuda.jit
    def softmax_gate(e, mask, z, b_all, col, step, alpha, gamma, weights):
        """A3-A4 per (b, q): α = masked softmax over t of e[b·T + t, q], zero on a row
        without a valid step; with the step gate γ = σ(z[:, col + q] + b_G), ω = γ ⊙ α
        (else ω is α)."""
        i = cuda.grid(1)
        B, Q, T = alpha.shape
        if i >= B * Q:
            return
        b, q = i // Q, i % Q
        base = b * T
        m = neg_inf
        for t in range(T):
            if mask[b, t] and e[base + t, q] > m:
                m = e[base + t, q]
        shift = m if m > neg_inf else zero    # NOTE: an all-masked row has no max; any will do
        total = zero
        for t in range(T):
            # NOTE: exp only at valid steps, where e − M ≤ 0: a padded score never reaches it
            p = math.exp(e[base + t, q] - shift) if mask[b, t] else zero
            alpha[b, q, t] = p
            total += p
        if total == zero:
            total = one                       # NOTE: S ≥ 1 with a valid step; 0 / 1 without
        for t in range(T):
            a = alpha[b, q, t] / total
            alpha[b, q, t] = a
            if step:
                g = sigmoid_dev(z[base + t, col + q] + b_all[col + q], one)
                gamma[b, q, t] = g
                weights[b, q, t] = g * a

    @cuda.jit
    def pool(weights, v, pooled):
        """A5: pooled_{b,q,k} = Σ_t ω_{b,q,t} v_{b·T+t,k}, one thread per (b, q, k)."""
        i = cuda.grid(1)
        B, Q, Dv = pooled.shape
        T = weights.shape[2]
        if i >= B * Q * Dv:
            return
        b, q, k = i // (Q * Dv), (i // Dv) % Q, i % Dv
        acc = zero
        for t in range(T):
            acc += weights[b, q, t] * v[b * T + t, k]
        pooled[b, q, k] = acc

    # ----------------------------------------------------------------------------------------
    # Backward
    # ----------------------------------------------------------------------------------------

    @cuda.jit
    def softmax_backward(dweights, dpooled, v, alpha, gamma, step, col, de, grad):
        """A6-A8 per (b, q): dω = dweights + dpooled_{b,q} · v_t; with the step gate
        dα = dω ⊙ γ and dY_G = dω ⊙ α ⊙ γ(1 − γ) into grad[:, col + q] (else dα = dω);
        de = α ⊙ (dα − Σ_t α dα) into de[b·T + t, q]."""
        i = cuda.grid(1)
        B, Q, T = alpha.shape
        Dv = dpooled.shape[2]
        if i >= B * Q:
            return
        b, q = i // Q, i % Q
        base = b * T
        dot = zero
        for t in range(T):
            n = base + t
            d = dweights[b, q, t]
            for k in range(Dv):
                d += dpooled[b, q, k] * v[n, k]                        # A6
            if step:
                g = gamma[b, q, t]
                grad[n, col + q] = d * alpha[b, q, t] * g * (one - g)  # A7 (σ' from γ, E6)
                d = d * g
            de[n, q] = d                      # dα, until the sum over t is known
            dot += alpha[b, q, t] * d
        for t in range(T):
            n = base + t
            de[n, q] = alpha[b, q, t] * (de[n, q] - dot)               # A8

    @cuda.jit
    def value_backward(weights, dpooled, col, out):
        """A6: dv_{b,t,k} = Σ_q ω_{b,q,t} dpooled_{b,q,k} into out[b·T + t, col + k], one
        thread per (b·T + t, k)."""
        i = cuda.grid(1)
        B, Q, T = weights.shape
        Dv = dpooled.shape[2]
        if i >= B * T * Dv:
            return
        n, k = i // Dv, i % Dv
        b, t = n // T, n % T
        acc = zero
        for q in range(Q):
            acc += weights[b, q, t] * dpooled[b, q, k]
        out[n, col + k] = acc

    @cuda.jit
    def activations_backward(du, r, s, gated, grad):
        """A10-A11: dZ = du ⊙ s ⊙ (1 − r²) into grad[:, :A] and, gated,
        dY = du ⊙ r ⊙ s(1 − s) into grad[:, A:2A] (without the gate s is 1), one thread per
        (row, j); tanh' and σ' from the saved outputs (E6)."""
        i = cuda.grid(1)
        N, A = du.shape
        if i >= N * A:
            return
        n, j = i // A, i % A
        d, rj = du[n, j], r[n, j]
        if gated:
            sj = s[n, j]
            grad[n, j] = d * sj * (one - rj * rj)                      # A11
            grad[n, A + j] = d * rj * sj * (one - sj)
        else:
            grad[n, j] = d * (one - rj * rj)                           # A10

    # ----------------------------------------------------------------------------------------
    # Online pooling (A16-A17)
    # ----------------------------------------------------------------------------------------

    @cuda.jit
    def online_fold(e, mask, z, b_all, col, step, v, run_max, run_sum, run_vec,
                    new_max, new_sum, new_vec, pooled):
        """A16-A17 per (b, q): fold the chunk's steps into (μ, l, n) with the running-max
        rescaling c = e^{μ − μ'} into (new_max, new_sum, new_vec); pooled = n' / l', or 0
        while no valid step has been seen. A NaN score makes μ NaN for good, so the
        pooling stays NaN, as the batch softmax gives (A3)."""
        i = cuda.grid(1)
        B, Q, Dv = pooled.shape
        T = mask.shape[1]
        if i >= B * Q:
            return
        b, q = i // Q, i % Q
        base = b * T
        mu = run_max[b, q]
        m = mu
        for t in range(T):
            # NOTE: "not <=" takes a NaN score too, and a NaN μ' is never replaced
            if mask[b, t] and m == m and not e[base + t, q] <= m:
                m = e[base + t, q]                                     # A16: μ'
        shift = m if m > neg_inf else zero
        # NOTE: c = 0 while μ = −∞ (nothing seen), never e^{∞ − ∞}; NaN once μ is
        c = math.exp(mu - shift) if mu > neg_inf or mu != mu else zero
        total = c * run_sum[b, q]
        for k in range(Dv):
            new_vec[b, q, k] = c * run_vec[b, q, k]
        for t in range(T):
            if mask[b, t]:         # NOTE: exp only at valid steps, where e − μ' ≤ 0
                p = math.exp(e[base + t, q] - shift)
                total += p                                             # A16: l'
                w = p
                if step:
                    w = p * sigmoid_dev(z[base + t, col + q] + b_all[col + q], one)
                for k in range(Dv):
                    new_vec[b, q, k] += w * v[base + t, k]             # A16: n'
        new_max[b, q] = m
        new_sum[b, q] = total
        for k in range(Dv):
            pooled[b, q, k] = new_vec[b, q, k] / total if m > neg_inf or m != m \
                else zero                                              # A17

    return _Kernels(activations, values, softmax_gate, pool, softmax_backward, value_backward,
                    activations_backward, online_fold)


_KERNELS = {np.dtype(np.float32): _kernels(numba.float32),
            np.dtype(np.float64): _kernels(numba.float64)}


# --------------------------------------------------------------------------------------------
# The kernel contract
# --------------------------------------------------------------------------------------------

class _Layout(NamedTuple):
    """Where each projection sits in the stacked weights [V; U; G; W_v] (K, D), that is in
    the columns of Z and Γ: V at 0:A, U at A:2A (gated), G at col_step:col_step + Q
    (weight-gated), W_v at col_value:K (value projection)."""

    A: int
    Q: int
    Dv: int
    gated: bool
    step: bool
    proj_v: bool
    col_step: int
    col_value: int
    K: int


def _layout(p: AttentionParams, D: int) -> _Layout:
    """The layout for ``p`` (the fields of one kind, ``for_kind``) and inputs of size D."""
    A, Q = p.w_proj.shape[0], p.query.shape[0]
    gated, step, proj_v = p.w_gate is not None, p.w_step is not None, p.w_value is not None
    Dv = p.w_value.shape[0] if p.w_value is not None else D
    col_step = 2 * A if gated else A
    col_value = col_step + (Q if step else 0)
    return _Layout(A=A, Q=Q, Dv=Dv, gated=gated, step=step, proj_v=proj_v,
                   col_step=col_step, col_value=col_value,
                   K=col_value + (Dv if proj_v else 0))


def _stacked(blocks: list[tuple[Any, int]], shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """One device array of ``shape`` (rows first) with each (array, first row) of
    ``blocks`` at its rows, zero elsewhere (a missing bias); an array may be None.
    Stacked on the host (one transfer) unless one of them is a device array."""
    present = [(a, row) for a, row in blocks if a is not None]
    if not any(arrays.is_device(a) for a, _ in present):
        host = np.zeros(shape, dtype)
        for a, row in present:
            host[row:row + a.shape[0]] = a
        return arrays.to_device(host, dtype)
    out = arrays.zeros(shape, dtype)
    as_rows = out.reshape(shape[0], int(np.prod(shape[1:])))      # a bias as a column
    for a, row in present:
        src = arrays.to_device(a, dtype)
        _launch(_copy_block, src.size)(src.reshape(src.shape[0], src.size // src.shape[0]),
                                       as_rows, row)
    return out


def _valid(mask: Any, B: int, T: int) -> Any:
    """The mask (B, T) as a device array of bools; None: every step valid."""
    return arrays.to_device(np.ones((B, T), np.bool_) if mask is None else mask, np.bool_)


class _Scores(NamedTuple):
    """What the forward and the online pooling share: the projections of h and the scores
    (device arrays)."""

    layout: _Layout
    h2: Any                         # h as (R, D)
    w_all: Any                      # [V; U; G; W_v] (K, D)
    b_all: Any                      # [b_V; b_U; b_G; b_v] (K,), zero for a missing bias
    z: Any                          # H w_allᵀ (R, K), before the biases
    r: Any                          # tanh(Z + b_V) (R, A)
    s: Any                          # σ(Y + b_U) (R, A), gated; None otherwise
    u: Any                          # r ⊙ s, gated; r otherwise
    e: Any                          # the scores E (R, Q)
    query: Any                      # W (Q, A)
    v: Any                          # the values (R, D'): h2 itself without a projection


def _scores(h: Any, mask: Any, p: AttentionParams, dtype: np.dtype) -> _Scores:
    """A1, A2, A4's and A5's projections and the scores for ``p`` (one kind's fields), from
    h zeroed at the steps ``mask`` marks absent (``zero_absent``; the cache keeps it)."""
    B, T, D = h.shape
    N = B * T
    lay = _layout(p, D)
    k = _KERNELS[dtype]
    h2 = zero_absent(arrays.to_device(h, dtype), mask, 2).reshape(N, D)
    rows = [0, lay.A, lay.col_step, lay.col_value]
    w_all = _stacked(list(zip((p.w_proj, p.w_gate, p.w_step, p.w_value), rows)),
                     (lay.K, D), dtype)
    b_all = _stacked(list(zip((p.b_proj, p.b_gate, p.b_step, p.b_value), rows)),
                     (lay.K,), dtype)
    z = matmul(h2, w_all, trans_b=True)                     # A1, A2, A4, A5: H [V; U; G; W_v]ᵀ
    r = arrays.empty((N, lay.A), dtype)
    s = arrays.empty((N, lay.A), dtype) if lay.gated else None
    u = arrays.empty((N, lay.A), dtype) if lay.gated else r
    _launch(k.activations, N * lay.A)(z, b_all, lay.gated, r, r if s is None else s,
                                      u)                               # A1, A2
    query = arrays.to_device(p.query, dtype)
    e = matmul(u, query, trans_b=True)                      # A1: E = u Wᵀ
    v = h2                                                  # A5: v = h
    if lay.proj_v:
        v = arrays.empty((N, lay.Dv), dtype)
        _launch(k.values, N * lay.Dv)(z, b_all, lay.col_value, v)      # A5: H W_vᵀ + b_v
    return _Scores(layout=lay, h2=h2, w_all=w_all, b_all=b_all, z=z, r=r, s=s, u=u, e=e,
                   query=query, v=v)


class AttentionCache(NamedTuple):
    """What this backend's backward needs (A15), as device arrays: the input's rows, the
    stacked weights, the activations and the weights of the forward. ``on_device``: the
    forward's h was a device array (the backward returns its results in the same kind)."""

    layout: _Layout
    shape: tuple[int, int, int]     # (B, T, D)
    h2: Any                         # (R, D)
    w_all: Any                      # [V; U; G; W_v] (K, D)
    query: Any                      # (Q, A)
    r: Any                          # (R, A)
    s: Any                          # (R, A), gated; None otherwise
    u: Any                          # r ⊙ s (R, A), gated; r otherwise
    alpha: Any                      # (B, Q, T)
    gamma: Any                      # (B, Q, T), weight-gated; None otherwise
    weights: Any                    # ω (B, Q, T): α itself without the step gate
    v: Any                          # (R, D')
    mask: Any                       # (B, T) bools as given (host or device), or None
    on_device: bool


def attention_forward(h: Any, params: AttentionParams, kind: str, mask: Any,
                      keep_cache: bool) -> tuple[Any, Any, AttentionCache | ref.AttentionCache
                                                 | None]:
    """Same contract as ``reference.attention_forward`` (A1-A5): h (B, T, D), mask (B, T)
    bools or None; returns pooled (B, Q, D'), the weights ω (B, Q, T) and, with
    ``keep_cache``, an :class:`AttentionCache` (the reference's for complex input).
    Raises ValueError for an unknown kind."""
    check_kind(kind, "attention_forward")
    p = for_kind(params, kind)
    dtype = result_dtype(h, p)
    if dtype not in (np.float32, np.float64):   # complex-step checks: the reference kernels
        return ref.attention_forward(h, params, kind, mask, keep_cache)
    on_device = arrays.is_device(h)
    B, T, _ = h.shape
    sc = _scores(h, mask, p, dtype)
    lay, k = sc.layout, _KERNELS[dtype]
    alpha = arrays.empty((B, lay.Q, T), dtype)
    gamma = arrays.empty((B, lay.Q, T), dtype) if lay.step else None
    weights = arrays.empty((B, lay.Q, T), dtype) if lay.step else alpha
    _launch(k.softmax_gate, B * lay.Q)(sc.e, _valid(mask, B, T), sc.z, sc.b_all, lay.col_step,
                                       lay.step, alpha, alpha if gamma is None else gamma,
                                       weights)                        # A3, A4
    pooled = arrays.empty((B, lay.Q, lay.Dv), dtype)
    _launch(k.pool, B * lay.Q * lay.Dv)(weights, sc.v, pooled)        # A5
    cache = None
    if keep_cache:
        cache = AttentionCache(layout=lay, shape=h.shape, h2=sc.h2, w_all=sc.w_all,
                               query=sc.query, r=sc.r, s=sc.s, u=sc.u, alpha=alpha,
                               gamma=gamma, weights=weights, v=sc.v, mask=mask,
                               on_device=on_device)
    return arrays.returned(pooled, on_device), arrays.returned(weights, on_device), cache


def attention_backward(cache: AttentionCache | ref.AttentionCache, dpooled: Any,
                       dweights: Any) -> tuple[Any, AttentionParams]:
    """Same contract as ``reference.attention_backward`` (A6-A14): dpooled (B, Q, D'),
    dweights (B, Q, T); returns dh (B, T, D) and the gradients as an ``AttentionParams``
    (None for what the kind does not have), on the device if the forward's h was."""
    if not isinstance(cache, AttentionCache):   # made by the reference path (complex)
        return ref.attention_backward(cache, dpooled, dweights)
    lay = cache.layout
    B, T, D = cache.shape
    N = B * T
    dtype = cache.alpha.dtype
    k = _KERNELS[dtype]
    dpooled = arrays.to_device(dpooled, dtype)
    # NOTE: ω is 0 at an absent step whatever the inputs: its adjoint there takes no part
    dweights = zero_absent(arrays.to_device(dweights, dtype), cache.mask, 1)
    grad = arrays.empty((N, lay.K), dtype)      # Γ = [dZ | dY | dY_G | dv]
    de = arrays.empty((N, lay.Q), dtype)
    gamma = cache.alpha if cache.gamma is None else cache.gamma
    _launch(k.softmax_backward, B * lay.Q)(dweights, dpooled, cache.v, cache.alpha, gamma,
                                           lay.step, lay.col_step, de, grad)  # A6-A8
    # NOTE: without a value projection dv is dH's first term (v = h), not a column of Γ
    dv, col = (grad, lay.col_value) if lay.proj_v else (arrays.empty((N, D), dtype), 0)
    _launch(k.value_backward, N * lay.Dv)(cache.weights, dpooled, col, dv)  # A6
    du = matmul(de, cache.query)                                       # A9: du = dE W
    dquery = matmul(de, cache.u, trans_a=True)                         # A9: dW = dEᵀ u
    s = cache.r if cache.s is None else cache.s
    _launch(k.activations_backward, N * lay.A)(du, cache.r, s, lay.gated, grad)  # A10, A11
    if lay.proj_v:
        dh2 = matmul(grad, cache.w_all)                                # A12, A13
    else:
        dh2 = matmul(grad, cache.w_all, out=dv, accumulate=True)       # A12 (v = h), A13
    on = cache.on_device
    dw_all = arrays.returned(matmul(grad, cache.h2, trans_a=True), on)  # A12, A13: Γᵀ H
    db_all = arrays.returned(column_sums(grad), on)
    A, cs, cv = lay.A, lay.col_step, lay.col_value
    grads = AttentionParams(w_proj=dw_all[:A], b_proj=db_all[:A],
                            query=arrays.returned(dquery, on))
    if lay.gated:
        grads = grads._replace(w_gate=dw_all[A:2 * A], b_gate=db_all[A:2 * A])
    if lay.step:
        grads = grads._replace(w_step=dw_all[cs:cv], b_step=db_all[cs:cv])
    if lay.proj_v:
        grads = grads._replace(w_value=dw_all[cv:], b_value=db_all[cv:])
    return arrays.returned(dh2.reshape(B, T, D), on), grads


def attention_online(state: OnlinePoolState | None, h: Any, params: AttentionParams,
                     kind: str, mask: Any) -> tuple[Any, OnlinePoolState]:
    """Same contract as ``reference.attention_online`` (A16-A17): fold the steps h (B, t, D)
    (mask (B, t) or None) into ``state`` (None: nothing seen yet); returns the pooling of
    every step seen so far (B, Q, D') and the new state, on the device if h is. The state
    given is not changed. Raises ValueError for an unknown kind."""
    check_kind(kind, "attention_online")
    p = for_kind(params, kind)
    dtype = result_dtype(h, p) if state is None else result_dtype(h, p, state)
    if dtype not in (np.float32, np.float64):   # complex input: the reference kernels
        return ref.attention_online(state, h, params, kind, mask)
    on_device = arrays.is_device(h)
    B, T, _ = h.shape
    sc = _scores(h, mask, p, dtype)
    lay, k = sc.layout, _KERNELS[dtype]
    Q, Dv = lay.Q, lay.Dv
    if state is None:                                                  # A16: μ = −∞, l = n = 0
        state = OnlinePoolState(np.full((B, Q), -np.inf, dtype), np.zeros((B, Q), dtype),
                                np.zeros((B, Q, Dv), dtype))
    old = [arrays.to_device(a, dtype) for a in state]
    new = OnlinePoolState(arrays.empty((B, Q), dtype), arrays.empty((B, Q), dtype),
                          arrays.empty((B, Q, Dv), dtype))
    pooled = arrays.empty((B, Q, Dv), dtype)
    _launch(k.online_fold, B * Q)(sc.e, _valid(mask, B, T), sc.z, sc.b_all, lay.col_step,
                                  lay.step, sc.v, *old, *new, pooled)  # A16, A17
    return (arrays.returned(pooled, on_device),
            OnlinePoolState(*(arrays.returned(a, on_device) for a in new)))
