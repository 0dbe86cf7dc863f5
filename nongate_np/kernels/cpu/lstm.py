"""Numba LSTM kernels: the step loops of docs/math.md L1-L14, with the same signatures and
results as ``kernels/reference.py`` (``lstm_forward``, ``lstm_backward``).

The time-parallel products (the input projection forward; dX, dW_ih, dW_hh backward) are
single large GEMMs done by NumPy outside the loop; inside the loop one BLAS call per step
(h W_hhᵀ forward, δa W_hh backward) and one fused element-wise pass over (B, H) with the
vectorisable activations of ``activations.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from .. import reference as ref
from .activations import sigmoid32, sigmoid64, tanh32, tanh64

_JIT = dict(cache=True, error_model="numpy", nogil=True)


def sigmoid(x):  # pragma: no cover - replaced by the overload inside jitted code
    raise NotImplementedError


def tanh(x):  # pragma: no cover - replaced by the overload inside jitted code
    raise NotImplementedError


@overload(sigmoid, inline="always")
def _sigmoid(x):
    return (lambda x: sigmoid32(x)) if x == types.float32 else (lambda x: sigmoid64(x))


@overload(tanh, inline="always")
def _tanh(x):
    return (lambda x: tanh32(x)) if x == types.float32 else (lambda x: tanh64(x))


@njit(**_JIT)
def _matmul(a, b):
    """a @ b through the BLAS that Numba links (SciPy's OpenBLAS).

    NOTE: every product of this backend goes through here, never through NumPy's own
    OpenBLAS: two busy-waiting BLAS thread pools in one process steal each other's cores.
    """
    return np.dot(a, b)


@njit(**_JIT)
def _forward_loop(xw, h, c, w_hh_t, w_hr_t, active, reverse, keep, y, gates, cs, tcs):
    """L1-L6 step by step; h, c (the initial states, copies) are updated in place."""
    T, B, G = xw.shape
    H = G // 4
    a = np.empty((B, G), xw.dtype)
    acts = np.empty((4, B, H), xw.dtype)          # i, f, g, o of this step
    tc_step = np.empty((B, H), xw.dtype)
    m = np.empty((B, H), xw.dtype)
    h_new = np.empty((B, h.shape[1]), xw.dtype)
    for s in range(T):
        t = T - 1 - s if reverse else s
        np.dot(h, w_hh_t, a)                                           # L1 (recurrent)
        # NOTE: one branch-free pass per row with unit-stride stores, so the loop vectorises;
        # the cache is copied out afterwards (strided stores here cost 5x: measured).
        for b in range(B):
            on = active[t, b]
            for j in range(H):
                i = sigmoid(a[b, j] + xw[t, b, j])                     # L2
                f = sigmoid(a[b, H + j] + xw[t, b, H + j])
                g = tanh(a[b, 2 * H + j] + xw[t, b, 2 * H + j])
                o = sigmoid(a[b, 3 * H + j] + xw[t, b, 3 * H + j])
                c_new = f * c[b, j] + i * g                            # L3
                tc = tanh(c_new)
                m[b, j] = o * tc                                       # L4
                c[b, j] = c_new if on else c[b, j]                     # L6
                acts[0, b, j], acts[1, b, j], acts[2, b, j], acts[3, b, j] = i, f, g, o
                tc_step[b, j] = tc
        if keep:
            for k in range(4):
                gates[t, :, k * H:(k + 1) * H] = acts[k]
            cs[t] = c
            tcs[t] = tc_step
        if w_hr_t.shape[0] > 0:
            np.dot(m, w_hr_t, h_new)                                   # L5
        else:
            h_new[:] = m
        for b in range(B):
            if active[t, b]:
                h[b] = h_new[b]
                y[t, b] = h_new[b]
            else:
                y[t, b] = 0


def lstm_forward(x, h0, c0, w_ih, w_hh, b, w_hr, lengths, reverse, keep_cache):
    """Same contract as ``reference.lstm_forward``."""
    T, B, _ = x.shape
    H = w_hh.shape[0] // 4
    dtype = np.result_type(x, h0, c0, w_ih, w_hh, b, *(() if w_hr is None else (w_hr,)))
    if dtype.kind == "c":          # complex-step checks run on the reference kernels
        return ref.lstm_forward(x, h0, c0, w_ih, w_hh, b, w_hr, lengths, reverse, keep_cache)
    active = ref.lstm_active(T, B, lengths)
    xw = _matmul(np.ascontiguousarray(x.reshape(T * B, -1), dtype=dtype),
                 w_ih.T.astype(dtype, copy=False))                     # L1, all steps at once
    xw += b
    xw = xw.reshape(T, B, 4 * H)
    P = h0.shape[1]
    h, c = h0.astype(dtype), c0.astype(dtype)
    y = np.empty((T, B, P), dtype)
    shape = (T, B, 4 * H) if keep_cache else (0, 0, 0)
    gates = np.empty(shape, dtype)
    cs = np.empty(shape[:2] + (H,) if keep_cache else shape, dtype)
    tcs = np.empty_like(cs)
    w_hr_t = np.empty((0, P), dtype) if w_hr is None else w_hr.T.astype(dtype, copy=False)
    _forward_loop(xw, h, c, w_hh.T.astype(dtype, copy=False), w_hr_t, active, bool(reverse),
                  bool(keep_cache), y, gates, cs, tcs)
    cache = (x, h0, c0, w_ih, w_hh, w_hr, y, gates, cs, tcs, active, reverse) \
        if keep_cache else None
    return y, h, c, cache


@njit(**_JIT)
def _backward_loop(dy, dh, dc, gates, tcs, c_prev, w_hh, w_hr, active, reverse, da, dh_seq):
    """L7-L12 and L14, visiting the steps in the reverse of the forward order; dh, dc (the
    adjoints of the final states, copies) end as those of the initial states."""
    T, B, G = gates.shape
    H = G // 4
    proj = w_hr.shape[0] > 0
    dh_t = np.empty_like(dh)
    dm = np.empty((B, H), gates.dtype)
    dh_prev = np.empty_like(dh)
    for s in range(T):
        t = s if reverse else T - 1 - s
        for b in range(B):
            for k in range(dh.shape[1]):
                dh_t[b, k] = dh[b, k] + dy[t, b, k]                     # L7
        if proj:
            np.dot(dh_t, w_hr, dm)                                     # L8
            for b in range(B):
                for k in range(dh.shape[1]):
                    dh_seq[t, b, k] = dh_t[b, k] if active[t, b] else 0
        else:
            dm[:] = dh_t
        for b in range(B):
            if not active[t, b]:
                da[t, b] = 0                                           # L14
                continue
            # NOTE: the branch is per row, so the loop over j has none and vectorises
            for j in range(H):
                i, f = gates[t, b, j], gates[t, b, H + j]
                g, o = gates[t, b, 2 * H + j], gates[t, b, 3 * H + j]
                tc = tcs[t, b, j]
                dct = dc[b, j] + dm[b, j] * o * (1 - tc * tc)          # L9
                da[t, b, j] = dct * g * i * (1 - i)                    # L10-L11
                da[t, b, H + j] = dct * c_prev[t, b, j] * f * (1 - f)
                da[t, b, 2 * H + j] = dct * i * (1 - g * g)
                da[t, b, 3 * H + j] = dm[b, j] * tc * o * (1 - o)
                dc[b, j] = dct * f                                     # L12
        np.dot(da[t], w_hh, dh_prev)                                   # L12
        for b in range(B):
            if active[t, b]:
                dh[b] = dh_prev[b]


def lstm_backward(cache, dy, dh_n, dc_n):
    """Same contract as ``reference.lstm_backward``."""
    x, h0, c0, w_ih, w_hh, w_hr, y, gates, cs, tcs, active, reverse = cache
    if gates.dtype.kind == "c":
        return ref.lstm_backward(cache, dy, dh_n, dc_n)
    T, B, _ = x.shape
    H = w_hh.shape[0] // 4
    dtype = gates.dtype
    c_prev = ref.lstm_previous(cs, c0.astype(dtype), active, reverse)
    da = np.empty_like(gates)
    dh_seq = np.zeros_like(y) if w_hr is not None else np.empty((0, 0, 0), dtype)
    dh = np.array(dh_n, dtype=dtype)
    dc = np.array(dc_n, dtype=dtype)
    w_hr_ = np.empty((0, H), dtype) if w_hr is None else w_hr.astype(dtype, copy=False)
    _backward_loop(np.ascontiguousarray(dy, dtype=dtype), dh, dc, gates, tcs, c_prev,
                   w_hh.astype(dtype, copy=False), w_hr_, active, bool(reverse), da, dh_seq)
    h_prev = ref.lstm_previous(y, h0.astype(dtype), active, reverse)   # L13
    da2 = da.reshape(T * B, 4 * H)
    dx = _matmul(da2, w_ih.astype(dtype, copy=False)).reshape(x.shape)
    dw_ih = _matmul(da2.T, np.ascontiguousarray(x.reshape(T * B, -1), dtype=dtype))
    dw_hh = _matmul(da2.T, h_prev.reshape(T * B, -1))
    db = da2.sum(axis=0)
    dw_hr = None
    if w_hr is not None:
        m = gates[:, :, 3 * H:] * tcs
        dw_hr = _matmul(dh_seq.reshape(T * B, -1).T, m.reshape(T * B, H))
    return dx, dh, dc, dw_ih, dw_hh, db, dw_hr
