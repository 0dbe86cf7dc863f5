"""NumPy reference kernels: the specification the fast backends must match.

Written to be read against docs/math.md, not for speed. Every function accepts float32,
float64 and complex128 arrays; the complex path exists for complex-step gradient checks, so
the formulas are analytic (no ``abs``, no ``conj``) and any branch is chosen by the real part.
"""

from __future__ import annotations

import numpy as np


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


def max_real(x: np.ndarray, axis, keepdims: bool = True) -> np.ndarray:
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
# LSTM, one layer and one direction over a whole sequence (docs/math.md L1-L14)
# ---------------------------------------------------------------------------------------------

def lstm_step_order(T: int, reverse: bool) -> range:
    """The order in which a direction visits the time steps."""
    return range(T - 1, -1, -1) if reverse else range(T)


def lstm_active(T: int, B: int, lengths) -> np.ndarray:
    """active[t, b] = t < lengths[b] (all True without lengths): (T, B) booleans (L6)."""
    if lengths is None:
        return np.ones((T, B), dtype=bool)
    return np.arange(T)[:, None] < np.asarray(lengths)[None, :]


def lstm_forward(x, h0, c0, w_ih, w_hh, b, w_hr, lengths, reverse, keep_cache):
    """Forward of one LSTM layer and direction over the whole sequence (L1-L6).

    Shapes: x (T, B, I); h0 (B, P); c0 (B, H); w_ih (4H, I); w_hh (4H, P); b (4H,) the sum
    b_ih + b_hh; w_hr (P, H) or None (then P = H); lengths (B,) ints or None.
    Gate order i, f, g, o along the 4H axis (PyTorch's).

    Returns y (T, B, P) (zero at steps past a sequence's length), h_n (B, P), c_n (B, H)
    and, when ``keep_cache``, what backward needs: the activated gates (T, B, 4H), the cell
    states c (T, B, H), tanh(c) (T, B, H) and the active mask; the output y is shared.
    """
    T, B, _ = x.shape
    H = w_hh.shape[0] // 4
    active = lstm_active(T, B, lengths)
    dtype = np.result_type(x, h0, c0, w_ih, w_hh, b, *(() if w_hr is None else (w_hr,)))

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
    cache = (x, h0, c0, w_ih, w_hh, w_hr, y, gates, cs, tcs, active, reverse) \
        if keep_cache else None
    return y, h, c, cache


def lstm_previous(seq: np.ndarray, first: np.ndarray, active: np.ndarray, reverse: bool):
    """The state each step started from (L6): ``seq`` at the step visited just before, if
    that step was active, else the initial state ``first``. (T, B, n) from (T, B, n)."""
    prev = np.empty_like(seq)
    prev_active = np.zeros_like(active)
    if reverse:
        prev[:-1], prev_active[:-1] = seq[1:], active[1:]
    else:
        prev[1:], prev_active[1:] = seq[:-1], active[:-1]
    return np.where(prev_active[:, :, None], prev, first[None])


def lstm_backward(cache, dy, dh_n, dc_n):
    """Back-propagation through time for one layer and direction (L7-L14).

    Returns dx (T, B, I), dh0 (B, P), dc0 (B, H), dw_ih (4H, I), dw_hh (4H, P), db (4H,)
    (the gradient of both b_ih and b_hh) and dw_hr (P, H) or None.
    """
    x, h0, c0, w_ih, w_hh, w_hr, y, gates, cs, tcs, active, reverse = cache
    T, B, _ = x.shape
    H = w_hh.shape[0] // 4
    c_prev = lstm_previous(cs, c0, active, reverse)                    # c_{t-1}, (T, B, H)
    da = np.zeros_like(gates)
    dh_seq = np.zeros_like(y) if w_hr is not None else None
    dh, dc = dh_n, dc_n
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
        da_t = np.concatenate([dc_t * g * i * (1 - i),                 # L10-L11
                               dc_t * c_prev[t] * f * (1 - f),
                               dc_t * i * (1 - g * g),
                               dm * tc * o * (1 - o)], axis=1)
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
    return dx, dh, dc, dw_ih, dw_hh, db, dw_hr
