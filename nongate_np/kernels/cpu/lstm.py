"""Numba LSTM kernels: the step loops of docs/math.md L1-L14, with the same signatures and
results as ``kernels/reference.py`` (``lstm_forward``, ``lstm_backward``).

The time-parallel products (the input projection forward; dX, dW_ih, dW_hh backward) are
large GEMMs outside the loop (``gemm.matmul``; dW_hh from the output shifted by one step,
``_dw_hh``, so neither the previous hidden nor cell states are ever stored as a sequence of
their own); inside the loop, per step, the
recurrent product (h W_hhᵀ forward, δa W_hh backward; one BLAS call per block of batch rows,
``gemm.row_blocks``, sized for OpenBLAS's faster small-matrix path) and one fused
element-wise pass over (B, H) with the vectorisable activations of ``activations.py``.

From ``tuning.STEP_SPLIT_MIN_MACS`` multiply-adds per step up, each step is split by hidden
units over Numba's threads (``threads.step_chunks``): a chunk owns its units' four gate
rows of W_hh (regrouped by ``chunk_weights``, one product each), their cell state and their
columns of every cache array, so chunks never write the same element; forward they all
read the full h_{t-1}, backward each adds its share of δa W_hh and the shares are summed in
a fixed order. Without a projection nothing runs between the chunks: the states they read
and the ones they write are two buffers swapped every step. The arrays they split start on
a cache line (``workspace.empty(..., align=True)``).
"""

from __future__ import annotations

from types import FunctionType

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from .. import reference as ref
from ..contract import LSTMParams, LSTMState, result_dtype
from . import activations, threads, workspace
from .activations import KERNEL_FLAGS
from .blas import gemm
from .gemm import matmul, row_blocks

_JIT = KERNEL_FLAGS


def sigmoid(x):  # pragma: no cover - replaced by the overload inside jitted code
    raise NotImplementedError


def tanh(x):  # pragma: no cover - replaced by the overload inside jitted code
    raise NotImplementedError


# NOTE: not inlined in Numba's IR: LLVM inlines them (bench/KERNEL_NOTES.md, "Compile time:
# activations inlined by LLVM"). Reached through their module: the dispatchers in this
# module's namespace are its own kernels (tests/test_cache.py counts them).
@overload(sigmoid)
def _sigmoid(x):
    return (lambda x: activations.sigmoid32(x)) if x == types.float32 else \
        (lambda x: activations.sigmoid64(x))


@overload(tanh)
def _tanh(x):
    return (lambda x: activations.tanh32(x)) if x == types.float32 else \
        (lambda x: activations.tanh64(x))


def _serial_and_threaded(loop):
    """``loop`` compiled twice: on the calling thread (its ``prange`` runs as ``range``) and
    with ``parallel=True``, so both paths run one source.

    The threaded one compiles a copy under a name of its own: Numba's on-disk cache tells
    functions apart by file, qualified name and first line, not by compile flags, so the
    two would otherwise share one cache entry."""
    twin = FunctionType(loop.__code__, loop.__globals__, f"{loop.__name__}_threaded",
                        loop.__defaults__, loop.__closure__)
    twin.__qualname__ = f"{loop.__qualname__}_threaded"
    return njit(**_JIT)(loop), njit(parallel=True, **_JIT)(twin)


@njit(inline="always", **_JIT)
def _gate_views(v, n, j0, j1):
    """The units j0:j1 of each gate i, f, g, o in a row ``v`` of four blocks of n units, gates
    side by side (the order of docs/math.md L1)."""
    return v[j0:j1], v[n + j0:n + j1], v[2 * n + j0:2 * n + j1], v[3 * n + j0:3 * n + j1]


@njit(inline="always", **_JIT)
def _cell_math(a_i, a_f, a_g, a_o, c_old):
    """L2-L3 and tanh(c_t) for one unit from its four pre-activations."""
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), tanh(a_g), sigmoid(a_o)      # L2
    c_new = f * c_old + i * g                                          # L3
    return i, f, g, o, c_new, tanh(c_new)


@njit(inline="always", **_JIT)
def _cell_forward(t, k, j0, j1, xw, h, h_next, c, w_t, rows, a, active, keep, gates, cs,
                  tcs, m, y, emit):
    """L1-L4 and L6 of step t for the hidden units j0:j1 (chunk k), and with ``emit`` (no
    projection, so h_t = m_t) L5 too: their columns of h_next and y[t].

    ``w_t[k]`` (P, 4n) holds the transposed W_hh rows of these units, gates i, f, g, o
    side by side (``chunk_weights``), so the recurrent product is one BLAS call into a[k]
    per block of batch rows (``rows``, ``gemm.row_blocks``).
    Writes m, c, h_next, y and the cache (step t's with ``keep``, else a scratch row) for
    these units only: chunks never share a store. h (h_{t-1}) is only read: the loops keep
    two state buffers and swap them every step, so a chunk's h_t cannot reach a chunk still
    reading h_{t-1}.
    NOTE: every row is reached through views that start at 0, so the inner loop's index is
    known to be non-negative and it vectorises. An index j0 + u or n + u, whose sign Numba
    cannot know, gets a negative-index wrap-around per element and the loads become
    gathers (bench/KERNEL_NOTES.md, "Step loop: views that start at 0").
    NOTE: the step functions are inlined into the loops (``inline="always"``): compiled
    once inside each loop rather than alone and again inside the loop, which compiles
    faster and runs faster (bench/KERNEL_NOTES.md, "Step loop: inlined step functions")."""
    B = h.shape[0]
    H = c.shape[1]
    n = w_t.shape[2] // 4                 # the chunk width (the last chunk may use fewer)
    a_k = a[k]
    for r in range(rows.shape[0] - 1):                                 # L1 (recurrent)
        gemm(h[rows[r]:rows[r + 1]], w_t[k], a_k[rows[r]:rows[r + 1]])
    for b in range(B):
        # without ``keep`` the cache is one row, rewritten for every row: it stays in L1
        # (bench/KERNEL_NOTES.md, "Step loop: inference cache row")
        slot, row = (t, b) if keep else (0, 0)
        x_b, a_b, g_b = xw[t, b], a_k[b], gates[slot, row]
        xi, xf, xg, xo = _gate_views(x_b, H, j0, j1)
        gi, gf, gg, go = _gate_views(g_b, H, j0, j1)
        ai, af, ag, ao = _gate_views(a_b, n, 0, n)
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
        if emit:
            _emit_row(on, m_b, h[b, j0:j1], h_next[b, j0:j1], y[t, b, j0:j1])


@njit(inline="always", **_JIT)
def _emit_row(on, new, h_prev, h_next, y_t):
    """L5-L6 for one row: the new hidden state where active, else the previous one; the
    output is the new state or 0.

    NOTE: element loops, not slice assignments: each ``a[:] = b`` compiles slowly
    (bench/KERNEL_NOTES.md, "Compile time: slice assignments")."""
    for k in range(new.shape[0]):
        h_next[k] = new[k] if on else h_prev[k]
        y_t[k] = new[k] if on else 0


@njit(**_JIT)
def _emit_projected(t, m, w_hr_t, active, h, h_next, h_proj, y):
    """L5-L6 with a projection, once all chunks have written m: h_t = m_t W_hrᵀ.

    NOTE: compiled alone, not inlined like the step functions, as are the backward's
    ``_adjoint_*`` and ``_carry_backward``: one call per step, and each inlined copy (the
    threaded loops compile theirs twice) cost more compile than the call costs at run time
    (bench/KERNEL_NOTES.md, "Compile time: small step helpers compiled alone")."""
    gemm(m, w_hr_t, h_proj)                                            # L5
    for b in range(h.shape[0]):
        _emit_row(active[t, b], h_proj[b], h[b], h_next[b], y[t, b])


def _forward_steps(xw, h_pair, c, w_t, rows, bounds, w_hr_t, active, reverse, keep, y, gates,
                   cs, tcs, m):
    """L1-L6 step by step, each step's hidden units in the chunks of ``bounds`` (one chunk,
    ``[0, H]``, on the calling thread); without a projection the whole step runs in the
    chunks, with one only L5 after them. h_pair[0] holds h_0 and the two halves of h_pair
    take turns as h_{t-1} and h_t, so h_T ends in h_pair[T % 2]; c (a copy of c_0) is
    updated in place. Without ``keep`` the cache arrays hold one row, overwritten
    (``_cell_forward``)."""
    T, B, _ = xw.shape
    emit = w_hr_t.shape[0] == 0
    h_proj = np.empty(h_pair.shape[1:], xw.dtype)
    a = np.empty((w_t.shape[0], B, w_t.shape[2]), xw.dtype)
    for s in range(T):
        t = T - 1 - s if reverse else s
        h, h_next = h_pair[s % 2], h_pair[1 - s % 2]
        for k in prange(bounds.shape[0] - 1):
            _cell_forward(t, k, bounds[k], bounds[k + 1], xw, h, h_next, c, w_t, rows,
                          a, active, keep, gates, cs, tcs, m, y, emit)
        if not emit:
            _emit_projected(t, m, w_hr_t, active, h, h_next, h_proj, y)


_forward_loop, _forward_loop_threaded = _serial_and_threaded(_forward_steps)


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
def lstm_forward(x: np.ndarray, state0: LSTMState, params: LSTMParams,
                 lengths: np.ndarray | None, reverse: bool, keep_cache: bool
                 ) -> tuple[np.ndarray, LSTMState, ref.LSTMCache | None]:
    """Same contract as ``reference.lstm_forward``; the cache is the reference's type,
    whose fields both backwards read."""
    w_ih, w_hh, b, w_hr = params
    h0, c0 = state0
    T, B, _ = x.shape
    H = w_hh.shape[0] // 4
    dtype = result_dtype(x, state0, params)
    if dtype.kind == "c":          # complex-step checks run on the reference kernels
        return ref.lstm_forward(x, state0, params, lengths, reverse, keep_cache)
    active = ref.lstm_active(T, B, lengths)
    x = ref.zero_absent(x, active, 2)     # the cache keeps it too, for dW_ih (L13)
    xw = matmul(np.ascontiguousarray(x.reshape(T * B, -1), dtype=dtype),
                w_ih.T.astype(dtype, copy=False))                     # L1, all steps at once
    xw += b
    xw = xw.reshape(T, B, 4 * H)
    P = h0.shape[1]
    bounds = threads.step_chunks(H, B * P * 4 * H)
    align = len(bounds) > 2               # threads split the rows: chunks on cache lines
    h_pair = workspace.empty((2, B, P), dtype, align)
    h_pair[0] = h0
    c = workspace.empty((B, H), dtype, align)
    c[...] = c0
    m = workspace.empty((B, H), dtype, align)
    y = workspace.empty((T, B, P), dtype, align)
    slots, slot_rows = (T, B) if keep_cache else (1, 1)
    gates = workspace.empty((slots, slot_rows, 4 * H), dtype, align)
    cs = workspace.empty((slots, slot_rows, H), dtype, align)
    tcs = workspace.empty((slots, slot_rows, H), dtype, align)
    w_hr_t = np.empty((0, P), dtype) if w_hr is None else w_hr.T.astype(dtype, copy=False)
    w_t = np.ascontiguousarray(chunk_weights(w_hh.astype(dtype, copy=False), bounds)
                               .transpose(0, 2, 1))
    rows = row_blocks(B, P, w_t.shape[2])
    loop = _forward_loop_threaded if len(bounds) > 2 else _forward_loop
    loop(xw, h_pair, c, w_t, rows, bounds, w_hr_t, active, bool(reverse), bool(keep_cache), y,
         gates, cs, tcs, m)
    cache = ref.LSTMCache(x=x, state0=state0, params=params, y=y, gates=gates, c=cs,
                          tanh_c=tcs, active=active, reverse=bool(reverse)) \
        if keep_cache else None
    return y, LSTMState(h_pair[T % 2], c), cache


@njit(**_JIT)
def _adjoint_direct(t, j0, j1, dh, dy, dm):
    """L7-L8 without a projection for the units j0:j1: dm_t = dh_t = δh + dy_t."""
    for b in range(dh.shape[0]):
        dh_b, dy_b, dm_b = dh[b, j0:j1], dy[t, b, j0:j1], dm[b, j0:j1]
        for u in range(j1 - j0):
            dm_b[u] = dh_b[u] + dy_b[u]


@njit(**_JIT)
def _adjoint_projected(t, dh, dy, w_hr, active, dh_t, dm, dh_seq):
    """L7-L8 with a projection: dh_t = δh + dy_t, dm_t = dh_t W_hr; dh_t is kept (as
    dh_seq[t], zero where inactive) for dW_hr."""
    for b in range(dh.shape[0]):
        on = active[t, b]
        for k in range(dh.shape[1]):
            dh_t[b, k] = dh[b, k] + dy[t, b, k]                        # L7
            dh_seq[t, b, k] = dh_t[b, k] if on else 0
    gemm(dh_t, w_hr, dm)                                               # L8


@njit(inline="always", **_JIT)
def _cell_backward(t, t_prev, k, j0, j1, dm, dc, gates, tcs, cs, c0, w_k, rows, active, da,
                   da_buf, parts):
    """L9-L12 and L14 of step t for the hidden units j0:j1 (chunk k): their columns of da
    and dc, and this chunk's share parts[k] = da[:, chunk] W_hh[chunk] of δh
    (``w_k[k]``, ``chunk_weights``; da_buf's columns of the zero rows stay zero).

    c_{t-1} (L10) is the cell state cached at t_prev, the step visited before t in the
    forward, where that step exists and was active, else c_0 (L6)."""
    B = dm.shape[0]
    H = dc.shape[1]
    n = w_k.shape[1] // 4
    da_k = da_buf[k]                                                   # in w_k[k]'s row order
    has_prev = 0 <= t_prev < gates.shape[0]
    for b in range(B):
        g_b, da_b, dk = gates[t, b], da[t, b], da_k[b]
        gi, gf, gg, go = _gate_views(g_b, H, j0, j1)
        di, df, dg, do = _gate_views(da_b, H, j0, j1)
        tc, dm_b, dc_b = tcs[t, b, j0:j1], dm[b, j0:j1], dc[b, j0:j1]
        cp = cs[t_prev, b, j0:j1] if has_prev and active[t_prev, b] else c0[b, j0:j1]
        ki, kf, kg, ko = _gate_views(dk, n, 0, n)
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
        gemm(da_k[rows[r]:rows[r + 1]], w_k[k], parts[k, rows[r]:rows[r + 1]])


@njit(**_JIT)
def _carry_backward(t, parts, active, dh, j0, j1):
    """L12 for the columns j0:j1 of δh: the chunks' shares of step t summed in a fixed
    order (so a fixed thread count gives the same bits every run), kept only for the rows
    active at t (L14)."""
    for b in range(dh.shape[0]):
        if active[t, b]:
            dh_b, first = dh[b, j0:j1], parts[0, b, j0:j1]
            for u in range(j1 - j0):
                dh_b[u] = first[u]
            for k in range(1, parts.shape[0]):
                part = parts[k, b, j0:j1]
                for u in range(j1 - j0):
                    dh_b[u] += part[u]


def _backward_steps(dy, dh, dc, gates, tcs, cs, c0, w_k, rows, bounds, w_hr, active, reverse,
                    da, da_buf, dh_seq):
    """L7-L14, visiting the steps in the reverse of the forward order, each step's hidden
    units in the chunks of ``bounds`` (one chunk, ``[0, H]``, on the calling thread);
    dh, dc (copies of the adjoints of the final states) end as those of the initial states.
    The shares of δh a step's chunks produce (``parts``) are added in at the start of the
    next step: without a projection the whole step runs in the chunks, each adding up the
    previous step's shares for its own columns (two ``parts`` buffers, swapped every step,
    so no chunk writes the shares another is still reading)."""
    T, B, G = gates.shape
    H = G // 4
    P = dh.shape[1]
    direct = w_hr.shape[0] == 0
    n_chunks = bounds.shape[0] - 1
    dh_t, dm = np.empty_like(dh), np.empty((B, H), gates.dtype)
    parts = np.empty((2, n_chunks, B, P), gates.dtype)
    col0 = np.int64(0)  # NOTE: a literal 0 is a type of its own: one more compile of the callee
    for s in range(T):
        t = s if reverse else T - 1 - s
        t_prev, t_next = (t + 1, t - 1) if reverse else (t - 1, t + 1)
        if not direct:
            if s > 0:
                _carry_backward(t_next, parts[(s - 1) % 2], active, dh, col0, P)
            _adjoint_projected(t, dh, dy, w_hr, active, dh_t, dm, dh_seq)
        for k in prange(n_chunks):
            j0, j1 = bounds[k], bounds[k + 1]
            if direct:
                if s > 0:
                    _carry_backward(t_next, parts[(s - 1) % 2], active, dh, j0, j1)
                _adjoint_direct(t, j0, j1, dh, dy, dm)
            _cell_backward(t, t_prev, k, j0, j1, dm, dc, gates, tcs, cs, c0, w_k, rows, active,
                           da, da_buf, parts[s % 2])
    _carry_backward(T - 1 if reverse else 0, parts[(T - 1) % 2], active, dh, col0, P)


_backward_loop, _backward_loop_threaded = _serial_and_threaded(_backward_steps)


def _dw_hh(da, y, h0, active, reverse):
    """L13's dW_hh = Σ_t δa_tᵀ h_{t-1} without building the (T, B, P) array of h_{t-1}.

    At an active step whose predecessor (in visiting order) was active, h_{t-1} is that
    step's output y; rows are active on a prefix of their own visiting order (L6), so the
    only other active steps are each row's first, which start from h_0. Inactive steps have
    δa = 0 and add nothing, whatever they are paired with."""
    T, B, G = da.shape
    first = np.maximum(active.sum(axis=0) - 1, 0) if reverse else np.zeros(B, np.int64)
    dw = matmul(da[first, np.arange(B)].T, h0)
    if T > 1:
        later, earlier = (da[:-1], y[1:]) if reverse else (da[1:], y[:-1])
        dw += matmul(later.reshape(-1, G).T, earlier.reshape(-1, y.shape[2]))
    return dw


@threads.owns_cores
def lstm_backward(cache: ref.LSTMCache, dy: np.ndarray, dstate: LSTMState
                  ) -> tuple[np.ndarray, LSTMState, LSTMParams]:
    """Same contract as ``reference.lstm_backward``."""
    if cache.gates.dtype.kind == "c":
        return ref.lstm_backward(cache, dy, dstate)
    x, (h0, c0), (w_ih, w_hh, _, w_hr) = cache.x, cache.state0, cache.params
    y, gates, cs, tcs = cache.y, cache.gates, cache.c, cache.tanh_c
    active, reverse = cache.active, cache.reverse
    T, B, _ = x.shape
    H = w_hh.shape[0] // 4
    P = h0.shape[1]
    dtype = gates.dtype
    bounds = threads.step_chunks(H, B * P * 4 * H)
    align = len(bounds) > 2               # threads split the rows: chunks on cache lines
    da = workspace.empty(gates.shape, dtype, align)
    dh = workspace.empty((B, P), dtype, align)
    dh[...] = dstate.h
    dc = workspace.empty((B, H), dtype, align)
    dc[...] = dstate.c
    dh_seq = np.zeros_like(y) if w_hr is not None else np.empty((0, 0, 0), dtype)
    w_hr_ = np.empty((0, H), dtype) if w_hr is None else w_hr.astype(dtype, copy=False)
    dy = np.ascontiguousarray(dy, dtype=dtype)
    h0_, c0_ = (np.ascontiguousarray(v, dtype=dtype) for v in (h0, c0))
    w_k = chunk_weights(w_hh.astype(dtype, copy=False), bounds)
    rows = row_blocks(B, w_k.shape[1], P)
    # each chunk's δa in w_k's row order; the columns of the padding rows stay zero.
    # NOTE: allocated here: np.zeros inside a parallel function becomes a parallel loop of
    # its own, compiled too (bench/KERNEL_NOTES.md, "Compile time: zeroed buffers outside
    # parallel functions")
    da_buf = np.zeros((len(bounds) - 1, B, w_k.shape[1]), dtype)
    loop = _backward_loop_threaded if len(bounds) > 2 else _backward_loop
    loop(dy, dh, dc, gates, tcs, cs, c0_, w_k, rows, bounds, w_hr_, active, bool(reverse), da,
         da_buf, dh_seq)
    da2 = da.reshape(T * B, 4 * H)
    dx = matmul(da2, w_ih.astype(dtype, copy=False)).reshape(x.shape)
    dw_ih = matmul(da2.T, np.ascontiguousarray(x.reshape(T * B, -1), dtype=dtype))
    dw_hh = _dw_hh(da, y, h0_, active, reverse)                        # L13
    db = da2.sum(axis=0)
    dw_hr = None
    if w_hr is not None:
        m = gates[:, :, 3 * H:] * tcs
        dw_hr = matmul(dh_seq.reshape(T * B, -1).T, m.reshape(T * B, H))
    return dx, LSTMState(dh, dc), LSTMParams(dw_ih, dw_hh, db, dw_hr)
