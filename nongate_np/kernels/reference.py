"""NumPy reference kernels: the specification the fast backends must match.

Written to be read against docs/math.md, not for speed. Every function accepts float32,
float64 and complex128 arrays; the complex path exists for complex-step gradient checks, so
the formulas are analytic (no ``abs``, no ``conj``) and any branch is chosen by the real part.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from .contract import (
    AttentionParams,
    LSTMParams,
    LSTMState,
    OnlinePoolState,
    check_kind,
    for_kind,
    result_dtype,
)

#: Decorator of the kernel functions: IEEE results (inf, NaN) for non-finite input or an
#: overflow, without NumPy's floating-point warnings, as the Numba and CUDA kernels give them
_IEEE = np.errstate(all="ignore")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e^{-x}) without overflow for any finite x (docs/math.md E6).

    NOTE: for Re x ≥ 0 use 1 / (1 + e^{-x}), otherwise e^{x} / (1 + e^{x}); the exponent
    never has a positive real part, and both branches are the same analytic function.
    """
    x = np.asarray(x)
    pos = x.real >= 0
    z = np.exp(np.where(pos, -x, x))
    return np.where(pos, 1.0 / (1.0 + z), z / (1.0 + z))


def softplus(x: np.ndarray) -> np.ndarray:
    """softplus(x) = log(1 + e^{x}) without overflow (docs/math.md E15).

    NOTE: for Re x ≥ 0 it equals x + log1p(e^{-x}); otherwise log1p(e^{x}).
    """
    x = np.asarray(x)
    pos = x.real >= 0
    return np.where(pos, x, 0) + np.log1p(np.exp(np.where(pos, -x, x)))


def zero_absent(x: np.ndarray, present: np.ndarray | None, axis: int) -> np.ndarray:
    """x (3-D) with every entry of an absent step replaced by 0: present, booleans of x's
    shape without ``axis`` (e.g. x (T, B, I), present (T, B), axis 2), or None when every
    step is present. Returns x itself when every step is present, else a new array of x's
    dtype.

    NOTE: a value the mask says is absent must not take part: selected away here, once,
    before any product, since multiplying it by a zero weight gives NaN for a NaN or inf
    (0·∞) and padding may hold anything (PyTorch's packed sequences never read it).
    """
    if present is None or present.all():
        return x
    return np.where(np.expand_dims(present, axis), x, x.dtype.type(0))


def max_real(x: np.ndarray, axis: int | tuple[int, ...] | None,
             keepdims: bool = True) -> np.ndarray:
    """The maximum of the real part: a shift constant for softmax-like formulas."""
    return np.max(x.real, axis=axis, keepdims=keepdims)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax(x) = x - m - log Σ e^{x - m}, m = max Re x (docs/math.md E12)."""
    shifted = x - max_real(x, axis)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """softmax(x) = e^{x - m} / Σ e^{x - m}, m = max Re x (docs/math.md E11)."""
    e = np.exp(x - max_real(x, axis))
    return e / np.sum(e, axis=axis, keepdims=True)


# ---------------------------------------------------------------------------------------------
# LSTM, one layer and one direction over a whole sequence (docs/math.md L1-L15)
# ---------------------------------------------------------------------------------------------

def lstm_step_order(T: int, reverse: bool) -> range:
    """The order in which a direction visits the time steps."""
    return range(T - 1, -1, -1) if reverse else range(T)


def lstm_active(T: int, B: int, lengths: npt.ArrayLike | None) -> np.ndarray:
    """active[t, b] = t < lengths[b] (all True without lengths): (T, B) booleans (L6)."""
    if lengths is None:
        active = np.empty((T, B), bool)
        active.fill(True)                   # NOTE: faster than np.ones at a small call
        return active
    return np.arange(T)[:, None] < np.asarray(lengths)[None, :]


class LSTMCache(NamedTuple):
    """What the LSTM backward needs (L15). The input, the initial state and the weights are
    referenced, not copied (the input is a copy when it had inactive steps, zeroed there:
    ``zero_absent``); y is the output returned to the caller."""

    x: np.ndarray                   # (T, B, I), zero at inactive steps
    state0: LSTMState               # h0 (B, P), c0 (B, H)
    params: LSTMParams
    y: np.ndarray                   # (T, B, P), zero at inactive steps
    gates: np.ndarray               # activated i|f|g|o (T, B, 4H)
    c: np.ndarray                   # cell states (T, B, H)
    # tanh(c_t) (T, B, H) at active steps; at an inactive one, whose row the backward
    # masks (L14), tanh of the step's candidate c_t while c keeps the carried state (L6)
    tanh_c: np.ndarray
    active: np.ndarray              # (T, B) bool (L6)
    reverse: bool
    # L13's h_{t-1} of every step (T, B, P) where the forward kept y right after h_0 in one
    # buffer (a view of it: no copy in the backward), else None
    h_prev: np.ndarray | None = None


@_IEEE
def lstm_forward(x: np.ndarray, state0: LSTMState, params: LSTMParams,
                 lengths: np.ndarray | None, reverse: bool, keep_cache: bool
                 ) -> tuple[np.ndarray, LSTMState, LSTMCache | None]:
    """Forward of one LSTM layer and direction over the whole sequence (L1-L6).

    x (T, B, I); state0 (h0 (B, P), c0 (B, H)); params
    (:class:`~nongate_np.kernels.contract.LSTMParams`: w_ih (4H, I), w_hh (4H, P), b (4H,)
    the sum b_ih + b_hh, w_hr (P, H) or None); lengths (B,) ints or None (all T steps).
    Gate order i, f, g, o along the 4H axis (PyTorch's). x at steps past a sequence's
    length is never read: a NaN or inf there changes nothing, forward or backward.

    Returns y (T, B, P) (zero at steps past a sequence's length), the final state
    (h_n (B, P), c_n (B, H)) and, when ``keep_cache``, an :class:`LSTMCache`, else None.
    """
    w_ih, w_hh, b, w_hr = params
    h0, c0 = state0
    T, B, _ = x.shape
    H = w_hh.shape[0] // 4
    active = lstm_active(T, B, lengths)
    dtype = result_dtype(x, state0, params)
    x = zero_absent(x, active, 2)          # the cache keeps it too, for dW_ih (L13)

    xw = (x.reshape(T * B, -1) @ w_ih.T + b).reshape(T, B, 4 * H)    # L1, all steps at once
    y = np.zeros((T, B, h0.shape[1]), dtype)
    if keep_cache:
        gates = np.empty((T, B, 4 * H), dtype)
        cs = np.empty((T, B, H), dtype)
        tcs = np.empty((T, B, H), dtype)
    h, c = h0.astype(dtype), c0.astype(dtype)
    for t in lstm_step_order(T, reverse):
        a = xw[t] + h @ w_hh.T                                         # L1
        i = sigmoid(a[:, :H])                                          # L2
        f = sigmoid(a[:, H:2 * H])
        g = np.tanh(a[:, 2 * H:3 * H])
        o = sigmoid(a[:, 3 * H:])
        c_new = f * c + i * g                                          # L3
        tc = np.tanh(c_new)
        m = o * tc                                                     # L4
        h_new = m if w_hr is None else m @ w_hr.T                      # L5
        act = active[t][:, None]
        c = np.where(act, c_new, c)                                    # L6: finished rows
        h = np.where(act, h_new, h)                                    #     keep their state
        y[t] = np.where(act, h_new, 0)
        if keep_cache:
            gates[t] = np.concatenate([i, f, g, o], axis=1)
            cs[t], tcs[t] = c, tc
    cache = LSTMCache(x=x, state0=state0, params=params, y=y, gates=gates, c=cs, tanh_c=tcs,
                      active=active, reverse=reverse) if keep_cache else None
    return y, LSTMState(h, c), cache


def lstm_previous(seq: np.ndarray, first: np.ndarray, active: np.ndarray,
                  reverse: bool) -> np.ndarray:
    """The state each step started from (L6): ``seq`` at the step visited just before, if
    that step was active, else the initial state ``first``. (T, B, n) from (T, B, n)."""
    prev = np.empty_like(seq)
    prev_active = np.zeros_like(active)
    if reverse:
        prev[:-1], prev_active[:-1] = seq[1:], active[1:]
    else:
        prev[1:], prev_active[1:] = seq[:-1], active[:-1]
    return np.where(prev_active[:, :, None], prev, first[None])


def lstm_forward_bidirectional(x: np.ndarray, states: tuple[LSTMState, LSTMState],
                               params: tuple[LSTMParams, LSTMParams],
                               lengths: np.ndarray | None, keep_cache: bool
                               ) -> tuple[tuple[np.ndarray, LSTMState, LSTMCache | None], ...]:
    """Both directions of one layer: :func:`lstm_forward` from ``states[0]`` with
    ``params[0]`` forward, then from ``states[1]`` with ``params[1]`` reversed."""
    return tuple(lstm_forward(x, states[d], params[d], lengths, bool(d), keep_cache)
                 for d in (0, 1))


@_IEEE
def lstm_backward(cache: LSTMCache, dy: np.ndarray, dstate: LSTMState
                  ) -> tuple[np.ndarray, LSTMState, LSTMParams]:
    """Back-propagation through time for one layer and direction (L7-L14).

    dy (T, B, P) and dstate (dh_n (B, P), dc_n (B, H)): the adjoints of the outputs.
    Returns dx (T, B, I), the adjoint of the initial state (dh0, dc0) and the weights'
    gradients as an :class:`~nongate_np.kernels.contract.LSTMParams`: dw_ih (4H, I),
    dw_hh (4H, P), db (4H,) (that of both b_ih and b_hh) and dw_hr (P, H) or None.
    """
    x, (h0, c0), (w_ih, w_hh, _, w_hr) = cache.x, cache.state0, cache.params
    y, gates, cs, tcs = cache.y, cache.gates, cache.c, cache.tanh_c
    active, reverse = cache.active, cache.reverse
    T, B, _ = x.shape
    H = w_hh.shape[0] // 4
    # NOTE: y is 0 at an inactive step whatever the inputs: its adjoint there takes no part
    dy = zero_absent(dy, active, 2)
    c_prev = lstm_previous(cs, c0, active, reverse)                    # c_{t-1}, (T, B, H)
    da = np.zeros_like(gates)
    dh_seq = np.zeros_like(y)              # [active_t] ⊙ dh_t for dw_hr (L8, L14)
    dh, dc = dstate                        # the carries δh and δc (L7-L14)
    for t in reversed(lstm_step_order(T, reverse)):
        act = active[t][:, None]
        i, f, g, o = (gates[t, :, k * H:(k + 1) * H] for k in range(4))
        tc = tcs[t]
        dh_t = dh + dy[t]                                              # L7
        if w_hr is None:
            dm = dh_t
        else:
            dm = dh_t @ w_hr                                           # L8
            dh_seq[t] = np.where(act, dh_t, 0)
        dc_t = dc + dm * o * (1 - tc * tc)                             # L9
        di, df, dg, d_o = dc_t * g, dc_t * c_prev[t], dc_t * i, dm * tc  # L10
        da_t = np.concatenate([di * i * (1 - i), df * f * (1 - f),     # L11, i|f|g|o
                               dg * (1 - g * g), d_o * o * (1 - o)], axis=1)
        da[t] = np.where(act, da_t, 0)                                 # L14
        dh = np.where(act, da[t] @ w_hh, dh)                           # L12, L14
        dc = np.where(act, dc_t * f, dc)

    h_prev = lstm_previous(y, h0, active, reverse)                     # h_{t-1}, (T, B, P)
    da2 = da.reshape(T * B, 4 * H)
    dx = (da2 @ w_ih).reshape(x.shape)                                 # L13
    dw_ih = da2.T @ x.reshape(T * B, -1)
    dw_hh = da2.T @ h_prev.reshape(T * B, -1)
    db = da2.sum(axis=0)
    dw_hr = None
    if w_hr is not None:
        m = gates[:, :, 3 * H:] * tcs                                  # m_t = o ⊙ tanh c_t (L4)
        dw_hr = dh_seq.reshape(T * B, -1).T @ m.reshape(T * B, H)      # L8
    return dx, LSTMState(dh, dc), LSTMParams(dw_ih, dw_hh, db, dw_hr)


# ---------------------------------------------------------------------------------------------
# Attention pooling over time (docs/math.md A1-A17)
# ---------------------------------------------------------------------------------------------

class AttentionCache(NamedTuple):
    """What the reference attention backward needs (A15); the input, mask and parameters
    are referenced, not copied (the input is a copy when the mask has absent steps, zeroed
    there: ``zero_absent``)."""

    h: np.ndarray                   # (B, T, D), zero at absent steps
    mask: np.ndarray | None         # (B, T) bool, None: every step valid
    params: AttentionParams
    r: np.ndarray                   # tanh(h Vᵀ + b_V) (B·T, A)
    s: np.ndarray | None            # σ(h Uᵀ + b_U) (B·T, A), gated only
    alpha: np.ndarray               # (B, Q, T)
    gamma: np.ndarray | None        # (B, Q, T), weight_gated only
    v: np.ndarray                   # (B, T, D')


def _affine(x2: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """x2 wᵀ + b for all rows of x2 at once (b may be None)."""
    y = x2 @ w.T
    return y if b is None else y + b


def _rows_to_bqt(x2: np.ndarray, B: int, T: int) -> np.ndarray:
    """(B·T, Q) row-major per (b, t) -> (B, Q, T), the layout of scores and weights."""
    return x2.reshape(B, T, -1).transpose(0, 2, 1)


def _bqt_to_rows(x: np.ndarray) -> np.ndarray:
    """(B, Q, T) -> (B·T, Q), the inverse of ``_rows_to_bqt``."""
    B, Q, T = x.shape
    return x.transpose(0, 2, 1).reshape(B * T, Q)


def attention_scores(h, w_proj, b_proj, w_gate, b_gate, query):
    """Scores e (B, Q, T) of every step for every query (A1, A2).

    Shapes: h (B, T, D); w_proj, w_gate (A, D); b_proj, b_gate (A,) or None; query (Q, A).
    ``w_gate`` None is the additive kind (A1), otherwise the gated kind (A2).
    Returns e and the activations the backward needs: r = tanh(h Vᵀ + b_V) (B·T, A) and
    s = σ(h Uᵀ + b_U) (B·T, A) or None.
    """
    B, T, D = h.shape
    h2 = h.reshape(B * T, D)
    r = np.tanh(_affine(h2, w_proj, b_proj))                           # A1
    s = None if w_gate is None else sigmoid(_affine(h2, w_gate, b_gate))  # A2
    u = r if s is None else r * s
    e = _rows_to_bqt(u @ query.T, B, T)                                # A1: e = w_qᵀ u_t
    return e, r, s


def _step_gate(h2: np.ndarray, p: AttentionParams, B: int, T: int) -> np.ndarray | None:
    """γ = σ(h Gᵀ + b_G) (B, Q, T), the step gate of the weight-gated kind (A4: G is
    w_step); None for the other kinds (``p`` without w_step)."""
    if p.w_step is None:
        return None
    return _rows_to_bqt(sigmoid(_affine(h2, p.w_step, p.b_step)), B, T)


def _values(h: np.ndarray, h2: np.ndarray, p: AttentionParams) -> np.ndarray:
    """The pooled values v (B, T, D'): h itself, or h W_vᵀ + b_v with a value projection
    (A5). h2 is h as (B·T, D)."""
    if p.w_value is None:
        return h
    return _affine(h2, p.w_value, p.b_value).reshape(h.shape[0], h.shape[1], -1)


def masked_softmax(e: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """α = m e^{e − M} / Σ_t m e^{e − M} over the last axis; zero on a row without a valid
    step (A3). e (B, Q, T); mask (B, T) booleans or None (every step valid)."""
    if mask is None:
        return softmax(e, axis=-1)
    valid = mask[:, None, :]                                           # (B, 1, T)
    any_valid = np.any(valid, axis=-1, keepdims=True)
    M = np.max(np.where(valid, e.real, -np.inf), axis=-1, keepdims=True, initial=-np.inf)
    M = np.where(any_valid, M, 0)          # NOTE: an all-masked row has no max; any shift will do
    # NOTE: masked scores are replaced before exp, so a huge padded score cannot overflow
    p = np.where(valid, np.exp(np.where(valid, e - M, 0)), 0)
    S = np.sum(p, axis=-1, keepdims=True)
    return p / np.where(any_valid, S, 1)   # NOTE: S ≥ 1 on rows with a valid step; 0/1 else


@_IEEE
def attention_forward(h: np.ndarray, params: AttentionParams, kind: str,
                      mask: np.ndarray | None, keep_cache: bool
                      ) -> tuple[np.ndarray, np.ndarray, AttentionCache | None]:
    """Forward of attention pooling over time, all kinds (A1-A5).

    h (B, T, D); params (:class:`~nongate_np.kernels.contract.AttentionParams`): only the
    fields of ``kind`` are read (w_gate, b_gate for "gated"; w_step, b_step for
    "weight_gated"); mask (B, T) booleans or None (every step valid). h at an invalid step
    is never read: a NaN or inf there changes nothing, forward or backward.

    Returns pooled (B, Q, D'), the weights ω (B, Q, T) and, when ``keep_cache``, an
    :class:`AttentionCache` (A15), else None.
    """
    check_kind(kind, "attention_forward")
    B, T, D = h.shape
    h = zero_absent(h, mask, 2)            # the cache keeps it too, for dW and dh
    h2 = h.reshape(B * T, D)
    p = for_kind(params, kind)
    e, r, s = attention_scores(h, p.w_proj, p.b_proj, p.w_gate, p.b_gate, p.query)
    alpha = masked_softmax(e, mask)                                    # A3
    gamma = _step_gate(h2, p, B, T)                                    # A4
    weights = alpha if gamma is None else gamma * alpha
    v = _values(h, h2, p)                                              # A5
    pooled = weights @ v                                               # A5: (Q×T)(T×D') per b
    # NOTE: both outputs take the dtype of all inputs, even one that does not depend on
    # them (the weights on w_value): a complex step in any input gives complex outputs
    dtype = result_dtype(h, p)
    pooled, weights = pooled.astype(dtype, copy=False), weights.astype(dtype, copy=False)
    cache = None
    if keep_cache:
        cache = AttentionCache(h=h, mask=mask, params=p, r=r, s=s, alpha=alpha, gamma=gamma,
                               v=v)
    return pooled, weights, cache


@_IEEE
def attention_backward(cache: AttentionCache, dpooled: np.ndarray, dweights: np.ndarray
                       ) -> tuple[np.ndarray, AttentionParams]:
    """Backward of attention pooling (A6-A14), given the adjoints of both outputs.

    dpooled (B, Q, D'), dweights (B, Q, T). Returns dh (B, T, D) and the gradients as an
    :class:`~nongate_np.kernels.contract.AttentionParams` of the parameters' shapes; None
    for what the kind does not have.
    """
    h, p, r, s, alpha, gamma, v = (cache.h, cache.params, cache.r, cache.s, cache.alpha,
                                   cache.gamma, cache.v)
    # NOTE: ω is 0 at an absent step whatever the inputs: its adjoint there takes no part
    dweights = zero_absent(dweights, cache.mask, 1)
    B, T, D = h.shape
    h2 = h.reshape(B * T, D)
    weights = alpha if gamma is None else gamma * alpha
    domega = dweights + dpooled @ v.transpose(0, 2, 1)                 # A6: dω
    dv = weights.transpose(0, 2, 1) @ dpooled                          # A6: (B, T, D')
    if gamma is None:
        dalpha = domega
    else:
        dalpha = domega * gamma                                        # A7
        dy_step = _bqt_to_rows(domega * alpha * gamma * (1 - gamma))   # A7: dY_G (B·T, Q)
    de = alpha * (dalpha - np.sum(alpha * dalpha, axis=-1, keepdims=True))  # A8
    dE = _bqt_to_rows(de)                                              # A9: dE (B·T, Q)
    u = r if s is None else r * s
    du = dE @ p.query                                                  # A9
    dquery = dE.T @ u                                                  # A9: dW
    if s is None:
        dz = du * (1 - r * r)                                          # A10: dZ
    else:
        dz = du * s * (1 - r * r)                                      # A11: dZ
        dy_gate = du * r * s * (1 - s)                                 # A11: dY
    # A13: each parameter's gradient over the R = B·T rows, and dH summed over the terms
    dh2 = dz @ p.w_proj                                                # A13: dZ V
    grads = AttentionParams(w_proj=dz.T @ h2, b_proj=dz.sum(axis=0),  # A13: dV, db_V
                            query=dquery)
    if s is not None and p.w_gate is not None:     # both set by forward for "gated" alone
        dh2 = dh2 + dy_gate @ p.w_gate                                 # A13: + dY U
        grads = grads._replace(w_gate=dy_gate.T @ h2,                  # A13: dU, db_U
                               b_gate=dy_gate.sum(axis=0))
    if gamma is not None and p.w_step is not None:  # both set for "weight_gated" alone
        dh2 = dh2 + dy_step @ p.w_step                                 # A13: + dY_G G
        grads = grads._replace(w_step=dy_step.T @ h2,                  # A13: dG, db_G
                               b_step=dy_step.sum(axis=0))
    dv2 = dv.reshape(B * T, -1)        # A12's term last, in A13's order of dH's terms
    if p.w_value is None:
        dh2 = dh2 + dv2                                                # A12: v = h
    else:
        dh2 = dh2 + dv2 @ p.w_value                                    # A12
        grads = grads._replace(w_value=dv2.T @ h2, b_value=dv2.sum(axis=0))
    return dh2.reshape(B, T, D), grads


def online_pool_init(B: int, Q: int, Dv: int, dtype: npt.DTypeLike = np.float64
                     ) -> OnlinePoolState:
    """The empty online-pooling state (A16): running max μ = −∞ (B, Q), running denominator
    l = 0 (B, Q) and running numerator n = 0 (B, Q, D')."""
    real = np.finfo(dtype).dtype        # the max is of the real part (complex-step checks)
    return OnlinePoolState(np.full((B, Q), -np.inf, real), np.zeros((B, Q), dtype),
                           np.zeros((B, Q, Dv), dtype))


@_IEEE
def online_pool_update(state: OnlinePoolState | None, scores: np.ndarray, values: np.ndarray,
                       mask: np.ndarray | None, gate: np.ndarray | None = None
                       ) -> OnlinePoolState:
    """Fold a chunk of steps into the online-pooling state (A16); forward only, no grad.

    state from ``online_pool_init`` or a previous update (None: start empty); scores
    (B, Q, t); values v (B, t, D'); mask (B, t) booleans or None; gate γ (B, Q, t), the
    step gate of the weight-gated kind, or None. Returns the new state (μ, l, n).
    """
    B, Q, _ = scores.shape
    if state is None:
        dtype = np.result_type(scores, values, *(() if gate is None else (gate,)))
        state = online_pool_init(B, Q, values.shape[-1], dtype)
    run_max, run_sum, run_vec = state                                  # μ, l, n (A16)
    valid = np.ones(scores.shape, bool) if mask is None else \
        np.broadcast_to(mask[:, None, :], scores.shape)
    chunk_max = np.max(np.where(valid, scores.real, -np.inf), axis=-1, initial=-np.inf)
    new_max = np.maximum(run_max, chunk_max)                           # A16: μ'
    shift = np.where(np.isfinite(new_max), new_max, 0)
    # NOTE: c = e^{μ − μ'}; μ = −∞ (nothing seen) gives e^{−∞} = 0, never ∞ − ∞. A NaN or
    # +∞ μ (a non-finite score seen) stays in the state, as in the batch softmax (A3)
    c = np.exp(np.where(run_max == -np.inf, -np.inf, run_max - shift))
    p = np.where(valid, np.exp(np.where(valid, scores - shift[..., None], 0)), 0)
    weighted = p if gate is None else gate * p
    return OnlinePoolState(new_max, c * run_sum + p.sum(axis=-1),      # A16: l'
                           c[..., None] * run_vec + weighted @ values)  # A16: n'


@_IEEE
def online_pool_result(state: OnlinePoolState) -> np.ndarray:
    """The pooled vectors (B, Q, D') from an online-pooling state: n / l, or 0 for a
    sequence without a valid step so far (A17)."""
    run_max, run_sum, run_vec = state
    seen = run_max != -np.inf                   # NaN too: a non-finite score gives NaN
    return np.where(seen[..., None], run_vec / np.where(seen, run_sum, 1)[..., None], 0)


@_IEEE
def attention_online(state: OnlinePoolState | None, h: np.ndarray, params: AttentionParams,
                     kind: str, mask: np.ndarray | None
                     ) -> tuple[np.ndarray, OnlinePoolState]:
    """Attention pooling folded online (A16-A17): the next steps h (B, t, D) of B sequences
    into ``state`` (None: nothing seen yet); params and mask as for
    :func:`attention_forward`. Returns the pooling of every step seen so far (B, Q, D') and
    the new state. After the last chunk the result equals ``attention_forward`` on the
    whole sequences, to rounding. Forward only."""
    check_kind(kind, "attention_online")
    B, T, D = h.shape
    h = zero_absent(h, mask, 2)
    h2 = h.reshape(B * T, D)
    p = for_kind(params, kind)
    e, _, _ = attention_scores(h, p.w_proj, p.b_proj, p.w_gate, p.b_gate, p.query)  # A1, A2
    state = online_pool_update(state, e, _values(h, h2, p), mask, _step_gate(h2, p, B, T))
    return online_pool_result(state), state
