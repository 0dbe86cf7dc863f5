"""Numba LSTM kernels: the step loops of docs/math.md L1-L14, with the same signatures and
results as ``kernels/reference.py`` (``lstm_forward``, ``lstm_backward``).

The time-parallel products (the input projection forward; dX, dW_ih, dW_hh backward) are
single large GEMMs outside the loop (``gemm.matmul``); inside the loop, per step, the
recurrent product (h W_hhᵀ forward, δa W_hh backward; one BLAS call per block of batch rows,
``gemm.row_blocks``, sized for OpenBLAS's faster small-matrix path) and one fused
element-wise pass over (B, H) with the vectorisable activations of ``activations.py``.

From ``threads.PARALLEL_MIN_MACS`` per step up, each step is split by hidden units over
Numba's threads (``threads.step_chunks``): a chunk owns its units' four gate rows of W_hh
(regrouped by ``chunk_weights``, one product each), their cell state and their columns of
every cache array, so chunks never write the same element; forward they all read the full
h_{t-1}, backward each adds its share of δa W_hh and the shares are summed in a fixed order.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from .. import reference as ref
from . import threads, workspace
from .gemm import matmul, row_blocks
from .activations import KERNEL_FLAGS, sigmoid32, sigmoid64, tanh32, tanh64

_JIT = KERNEL_FLAGS


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


@njit(inline="always", **_JIT)
def _cell_math(a_i, a_f, a_g, a_o, c_old):
    """L2-L3 and tanh(c_t) for one unit from its four pre-activations."""
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), tanh(a_g), sigmoid(a_o)      # L2
    c_new = f * c_old + i * g                                          # L3
    return i, f, g, o, c_new, tanh(c_new)


@njit(inline="always", **_JIT)
def _cell_forward(t, k, j0, j1, xw, h, c, w_t, rows, a, active, keep, gates, cs, tcs, m):
    """L1-L4 and L6 of step t for the hidden units j0:j1 (chunk k).

    ``w_t[k]`` (P, 4n) holds the transposed W_hh rows of these units, gates i, f, g, o
    side by side (``chunk_weights``), so the recurrent product is one BLAS call into a[k]
    per block of batch rows (``rows``, ``gemm.row_blocks``).
    Writes m, c and the cache (step t's with ``keep``, else a scratch row) for these units
    only: chunks never share a store.
    NOTE: every row is reached through views that start at 0, so the inner loop's index is
    known to be non-negative and it vectorises. An index j0 + u or n + u, whose sign Numba
    cannot know, gets a negative-index wrap-around per element and the loads become gathers
    (j0 + u: 10x slower; n + u on the products' row: 6.4 -> 4.9 ns per unit).
    NOTE: the step functions are inlined into the loops (``inline="always"``): compiled
    once inside each loop rather than alone and again inside the loop (measured: forward
    compile 5.8 s -> 4.5 s, and S1's serial loop 42 µs -> 29 µs per call)."""
    B = h.shape[0]
    H = c.shape[1]
    n = w_t.shape[2] // 4                 # the chunk width (the last chunk may use fewer)
    a_k = a[k]
    for r in range(rows.shape[0] - 1):                                 # L1 (recurrent)
        np.dot(h[rows[r]:rows[r + 1]], w_t[k], a_k[rows[r]:rows[r + 1]])
    for b in range(B):
        # without ``keep`` the cache is one row, rewritten for every row: it stays in L1
        # (measured: writing a (B, 4H) slot per step instead cost 12 % of M1 inference)
        slot, row = (t, b) if keep else (0, 0)
        x_b, a_b, g_b = xw[t, b], a_k[b], gates[slot, row]
        xi, xf, xg, xo = (x_b[j0:j1], x_b[H + j0:H + j1], x_b[2 * H + j0:2 * H + j1],
                          x_b[3 * H + j0:3 * H + j1])
        gi, gf, gg, go = (g_b[j0:j1], g_b[H + j0:H + j1], g_b[2 * H + j0:2 * H + j1],
                          g_b[3 * H + j0:3 * H + j1])
        ai, af, ag, ao = a_b[:n], a_b[n:2 * n], a_b[2 * n:3 * n], a_b[3 * n:]
        c_b, m_b = c[b, j0:j1], m[b, j0:j1]
        cs_b, tc_b = cs[slot, row, j0:j1], tcs[slot, row, j0:j1]
        on = active[t, b]
        for u in range(j1 - j0):
            i, f, g, o, c_new, tc = _cell_math(ai[u] + xi[u], af[u] + xf[u], ag[u] + xg[u],
                                               ao[u] + xo[u], c_b[u])
            m_b[u] = o * tc                                            # L4
            c_b[u] = c_new if on else c_b[u]                           # L6
            gi[u], gf[u], gg[u], go[u] = i, f, g, o
            cs_b[u], tc_b[u] = c_b[u], tc


@njit(inline="always", **_JIT)
def _emit_forward(t, m, w_hr_t, active, h, h_new, y):
    """L5-L6: the new hidden state from m (projected if w_hr_t has rows), kept where active.

    NOTE: element loops, not slice assignments: each ``a[:] = b`` costs seconds of compile."""
    new = m
    if w_hr_t.shape[0] > 0:
        np.dot(m, w_hr_t, h_new)                                       # L5
        new = h_new
    for b in range(h.shape[0]):
        on = active[t, b]
        for k in range(h.shape[1]):
            h[b, k] = new[b, k] if on else h[b, k]
            y[t, b, k] = new[b, k] if on else 0


@njit(**_JIT)
def _forward_loop(xw, h, c, w_t, rows, w_hr_t, active, reverse, keep, y, gates, cs, tcs):
    """L1-L6 step by step on one thread; h, c (copies of the initial states) are updated
    in place. Without ``keep`` the cache arrays hold one row, overwritten (``_cell_forward``)."""
    T, B, G = xw.shape
    H = G // 4
    m = np.empty((B, H), xw.dtype)
    h_new = np.empty((B, h.shape[1]), xw.dtype)
    a = np.empty((1, B, w_t.shape[2]), xw.dtype)
    for s in range(T):
        t = T - 1 - s if reverse else s
        _cell_forward(t, 0, 0, H, xw, h, c, w_t, rows, a, active, keep, gates, cs, tcs, m)
        _emit_forward(t, m, w_hr_t, active, h, h_new, y)


@njit(parallel=True, **_JIT)
def _forward_loop_parallel(xw, h, c, w_t, rows, bounds, w_hr_t, active, reverse, keep, y,
                           gates, cs, tcs):
    """``_forward_loop`` with each step's hidden units split over threads by ``bounds``."""
    T, B, G = xw.shape
    H = G // 4
    m = np.empty((B, H), xw.dtype)
    h_new = np.empty((B, h.shape[1]), xw.dtype)
    a = np.empty((w_t.shape[0], B, w_t.shape[2]), xw.dtype)
    for s in range(T):
        t = T - 1 - s if reverse else s
        for k in prange(bounds.shape[0] - 1):
            _cell_forward(t, k, bounds[k], bounds[k + 1], xw, h, c, w_t, rows, a, active,
                          keep, gates, cs, tcs, m)
        _emit_forward(t, m, w_hr_t, active, h, h_new, y)


def chunk_weights(w_hh, bounds):
    """W_hh's rows regrouped by chunk, (n_chunks, 4 n, P) for chunks of n units: chunk k's
    i, f, g, o rows in turn, zero rows where the last chunk has fewer than n units."""
    if len(bounds) == 2:                  # one chunk: W_hh as it is (no copy)
        return np.ascontiguousarray(w_hh)[None]
    H = w_hh.shape[0] // 4
    widths = np.diff(bounds)
    n = int(widths.max())
    out = np.zeros((len(widths), 4 * n, w_hh.shape[1]), w_hh.dtype)
    for k, (j0, width) in enumerate(zip(bounds[:-1], widths)):
        for g in range(4):
            out[k, g * n:g * n + width] = w_hh[g * H + j0:g * H + j0 + width]
    return out


@threads.owns_cores
def lstm_forward(x, h0, c0, w_ih, w_hh, b, w_hr, lengths, reverse, keep_cache):
    """Same contract as ``reference.lstm_forward``."""
    T, B, _ = x.shape
    H = w_hh.shape[0] // 4
    dtype = np.result_type(x, h0, c0, w_ih, w_hh, b, *(() if w_hr is None else (w_hr,)))
    if dtype.kind == "c":          # complex-step checks run on the reference kernels
        return ref.lstm_forward(x, h0, c0, w_ih, w_hh, b, w_hr, lengths, reverse, keep_cache)
    active = ref.lstm_active(T, B, lengths)
    xw = matmul(np.ascontiguousarray(x.reshape(T * B, -1), dtype=dtype),
                 w_ih.T.astype(dtype, copy=False))                     # L1, all steps at once
    xw += b
    xw = xw.reshape(T, B, 4 * H)
    P = h0.shape[1]
    h, c = h0.astype(dtype), c0.astype(dtype)
    y = workspace.empty((T, B, P), dtype)
    slots, slot_rows = (T, B) if keep_cache else (1, 1)
    gates = workspace.empty((slots, slot_rows, 4 * H), dtype)
    cs = workspace.empty((slots, slot_rows, H), dtype)
    tcs = workspace.empty((slots, slot_rows, H), dtype)
    w_hr_t = np.empty((0, P), dtype) if w_hr is None else w_hr.T.astype(dtype, copy=False)
    bounds = threads.step_chunks(H, B * P * 4 * H)
    w_t = np.ascontiguousarray(chunk_weights(w_hh.astype(dtype, copy=False), bounds)
                               .transpose(0, 2, 1))
    rows = row_blocks(B, P, w_t.shape[2])
    if len(bounds) > 2:
        _forward_loop_parallel(xw, h, c, w_t, rows, bounds, w_hr_t, active, bool(reverse),
                               bool(keep_cache), y, gates, cs, tcs)
    else:
        _forward_loop(xw, h, c, w_t, rows, w_hr_t, active, bool(reverse), bool(keep_cache), y,
                      gates, cs, tcs)
    cache = (x, h0, c0, w_ih, w_hh, w_hr, y, gates, cs, tcs, active, reverse) \
        if keep_cache else None
    return y, h, c, cache


@njit(inline="always", **_JIT)
def _adjoint_m(t, dh, dy, w_hr, active, dh_t, dm, dh_seq):
    """L7-L8: the adjoint reaching step t's output, and through the projection that of m."""
    B, P = dh.shape
    proj = w_hr.shape[0] > 0
    for b in range(B):
        for k in range(P):
            dh_t[b, k] = dh[b, k] + dy[t, b, k]                        # L7
    if proj:
        np.dot(dh_t, w_hr, dm)                                         # L8
    for b in range(B):
        for k in range(P):
            if proj:
                dh_seq[t, b, k] = dh_t[b, k] if active[t, b] else 0
            else:
                dm[b, k] = dh_t[b, k]


@njit(inline="always", **_JIT)
def _cell_backward(t, k, j0, j1, dm, dc, gates, tcs, c_prev, w_k, rows, active, da, da_buf,
                   dh_part):
    """L9-L12 and L14 of step t for the hidden units j0:j1 (chunk k): their columns of da
    and dc, and this chunk's share dh_part[k] = da[:, chunk] W_hh[chunk] of dh_{t-1}
    (``w_k[k]``, ``chunk_weights``; da_buf's columns of the zero rows stay zero)."""
    B = dm.shape[0]
    H = dc.shape[1]
    n = w_k.shape[1] // 4
    da_k = da_buf[k]                                                   # in w_k[k]'s row order
    for b in range(B):
        g_b, da_b, dk = gates[t, b], da[t, b], da_k[b]
        gi, gf, gg, go = (g_b[j0:j1], g_b[H + j0:H + j1], g_b[2 * H + j0:2 * H + j1],
                          g_b[3 * H + j0:3 * H + j1])
        di, df, dg, do = (da_b[j0:j1], da_b[H + j0:H + j1], da_b[2 * H + j0:2 * H + j1],
                          da_b[3 * H + j0:3 * H + j1])
        tc, cp, dm_b, dc_b = tcs[t, b, j0:j1], c_prev[t, b, j0:j1], dm[b, j0:j1], dc[b, j0:j1]
        ki, kf, kg, ko = dk[:n], dk[n:2 * n], dk[2 * n:3 * n], dk[3 * n:]
        if not active[t, b]:                                           # L14
            for u in range(n):
                ki[u], kf[u], kg[u], ko[u] = 0, 0, 0, 0
            for u in range(j1 - j0):
                di[u], df[u], dg[u], do[u] = 0, 0, 0, 0
            continue
        # NOTE: the branch is per row, so the loop over u has none and vectorises
        for u in range(j1 - j0):
            i, f, g, o = gi[u], gf[u], gg[u], go[u]
            dct = dc_b[u] + dm_b[u] * o * (1 - tc[u] * tc[u])           # L9
            di[u] = dct * g * i * (1 - i)                              # L10-L11
            df[u] = dct * cp[u] * f * (1 - f)
            dg[u] = dct * i * (1 - g * g)
            do[u] = dm_b[u] * tc[u] * o * (1 - o)
            ki[u], kf[u], kg[u], ko[u] = di[u], df[u], dg[u], do[u]
            dc_b[u] = dct * f                                          # L12
    for r in range(rows.shape[0] - 1):                                 # L12, this chunk's share
        np.dot(da_k[rows[r]:rows[r + 1]], w_k[k], dh_part[k, rows[r]:rows[r + 1]])


@njit(inline="always", **_JIT)
def _carry_backward(t, dh_part, active, dh):
    """L12 summed over the chunks in a fixed order (so a fixed thread count gives the same
    bits every run), kept only for the active rows (L14)."""
    for b in range(dh.shape[0]):
        if active[t, b]:
            for j in range(dh.shape[1]):
                total = dh_part[0, b, j]
                for k in range(1, dh_part.shape[0]):
                    total += dh_part[k, b, j]
                dh[b, j] = total


@njit(**_JIT)
def _backward_loop(dy, dh, dc, gates, tcs, c_prev, w_k, rows, w_hr, active, reverse, da,
                   dh_seq):
    """L7-L12 and L14 on one thread, visiting the steps in the reverse of the forward order;
    dh, dc (copies of the adjoints of the final states) end as those of the initial states."""
    T, B, G = gates.shape
    H = G // 4
    dh_t, dm = np.empty_like(dh), np.empty((B, H), gates.dtype)
    da_buf = np.zeros((1, B, w_k.shape[1]), gates.dtype)
    dh_part = np.empty((1,) + dh.shape, gates.dtype)
    for s in range(T):
        t = s if reverse else T - 1 - s
        _adjoint_m(t, dh, dy, w_hr, active, dh_t, dm, dh_seq)
        _cell_backward(t, 0, 0, H, dm, dc, gates, tcs, c_prev, w_k, rows, active, da, da_buf,
                       dh_part)
        _carry_backward(t, dh_part, active, dh)


@njit(parallel=True, **_JIT)
def _backward_loop_parallel(dy, dh, dc, gates, tcs, c_prev, w_k, rows, bounds, w_hr, active,
                            reverse, da, dh_seq):
    """``_backward_loop`` with each step's hidden units split over threads by ``bounds``."""
    T, B, G = gates.shape
    H = G // 4
    n_chunks = bounds.shape[0] - 1
    dh_t, dm = np.empty_like(dh), np.empty((B, H), gates.dtype)
    da_buf = np.zeros((n_chunks, B, w_k.shape[1]), gates.dtype)
    dh_part = np.empty((n_chunks,) + dh.shape, gates.dtype)
    for s in range(T):
        t = s if reverse else T - 1 - s
        _adjoint_m(t, dh, dy, w_hr, active, dh_t, dm, dh_seq)
        for k in prange(n_chunks):
            _cell_backward(t, k, bounds[k], bounds[k + 1], dm, dc, gates, tcs, c_prev, w_k,
                           rows, active, da, da_buf, dh_part)
        _carry_backward(t, dh_part, active, dh)


@threads.owns_cores
def lstm_backward(cache, dy, dh_n, dc_n):
    """Same contract as ``reference.lstm_backward``."""
    x, h0, c0, w_ih, w_hh, w_hr, y, gates, cs, tcs, active, reverse = cache
    if gates.dtype.kind == "c":
        return ref.lstm_backward(cache, dy, dh_n, dc_n)
    T, B, _ = x.shape
    H = w_hh.shape[0] // 4
    P = h0.shape[1]
    dtype = gates.dtype
    c_prev = ref.lstm_previous(cs, c0.astype(dtype), active, reverse)
    da = workspace.empty(gates.shape, dtype)
    dh_seq = np.zeros_like(y) if w_hr is not None else np.empty((0, 0, 0), dtype)
    dh = np.array(dh_n, dtype=dtype)
    dc = np.array(dc_n, dtype=dtype)
    w_hr_ = np.empty((0, H), dtype) if w_hr is None else w_hr.astype(dtype, copy=False)
    dy = np.ascontiguousarray(dy, dtype=dtype)
    bounds = threads.step_chunks(H, B * P * 4 * H)
    w_k = chunk_weights(w_hh.astype(dtype, copy=False), bounds)
    rows = row_blocks(B, w_k.shape[1], P)
    if len(bounds) > 2:
        _backward_loop_parallel(dy, dh, dc, gates, tcs, c_prev, w_k, rows, bounds, w_hr_,
                                active, bool(reverse), da, dh_seq)
    else:
        _backward_loop(dy, dh, dc, gates, tcs, c_prev, w_k, rows, w_hr_, active,
                       bool(reverse), da, dh_seq)
    h_prev = ref.lstm_previous(y, h0.astype(dtype), active, reverse)   # L13
    da2 = da.reshape(T * B, 4 * H)
    dx = matmul(da2, w_ih.astype(dtype, copy=False)).reshape(x.shape)
    dw_ih = matmul(da2.T, np.ascontiguousarray(x.reshape(T * B, -1), dtype=dtype))
    dw_hh = matmul(da2.T, h_prev.reshape(T * B, -1))
    db = da2.sum(axis=0)
    dw_hr = None
    if w_hr is not None:
        m = gates[:, :, 3 * H:] * tcs
        dw_hr = matmul(dh_seq.reshape(T * B, -1).T, m.reshape(T * B, H))
    return dx, dh, dc, dw_ih, dw_hh, db, dw_hr
