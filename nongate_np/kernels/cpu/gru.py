"""Numba GRU kernels: the step loops of docs/math.md R1-R13, with the same signatures and
results as ``kernels/gru_reference.py`` (``gru_forward``, ``gru_backward``), whose cache
type (``GRUCache``) they return and read.

Laid out as the LSTM's (``lstm.py``): the input term x W_ihᵀ (R1) is one product over all
T·B rows before the loop, and the backward's dX, dW_ih, dW_hh (R12) are products over all
rows after it (``gemm.matmuls``); inside the loop, per step, the recurrent product with W_hh
packed once per call (``packed.packed_gemm``, K5: h W_hhᵀ forward, dgh W_hh backward) and
one element-wise pass over each row that fuses the gates, the candidate and the state
(R3-R6) or their adjoints (R7-R10), with the vectorisable activations of
``activations.py``.

From ``tuning.STEP_SPLIT_MIN_MACS`` multiply-adds per call up, the batch rows are split
over threads (``threads.batch_chunks``, ``threads.run_chunks``): each chunk runs the whole
step loop on its own rows, as the LSTM's do; one chunk is the same compiled loop on all
rows.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import gru_reference as ref
from ..contract import result_dtype
from ..gru_reference import GRUCache, GRUParams
from ..reference import lstm_active, zero_absent
from . import threads, workspace
from .activations import KERNEL_FLAGS
from .gemm import matmul, matmuls
from .lstm import _chunk_arrays, _chunk_rows, _h_prev, sigmoid, tanh
from .packed import pack, packed_gemm, panel_width

__all__ = ["gru_forward", "gru_backward"]

_JIT = KERNEL_FLAGS


@njit(inline="always", **_JIT)
def _thirds(v, n):
    """The blocks r, z, n of a row ``v`` of three blocks of n units (docs/math.md R1), as
    views that start at 0 (so the loops over them vectorise: the LSTM's ``_gate_views``)."""
    return v[:n], v[n:2 * n], v[2 * n:3 * n]


@njit(inline="always", **_JIT)
def _cell_forward(t, b, r, slot, row, gi, b_ih, b_hh, gh, h, h_next, active, gates, gh_n, y):
    """R2-R6 of step t for batch row b, given gi[t, b] = x_t W_ihᵀ and row r of
    gh = h_{t-1} W_hhᵀ (both without their biases, added here). b indexes the batch (gi,
    active, y); r the chunk's own arrays gh, h (h_{t-1}, only read) and h_next (h_t),
    which hold its rows from row 0. The activated gates and gh^n go to gates[slot, row]
    and gh_n[slot, row] (step t's with ``keep``, else the chunk's scratch row).

    NOTE: two loops over the units, the gates r, z (and gh^n), then the candidate and the
    state, as the LSTM's gates, then cell (bench/KERNEL_NOTES.md, "Step loop: gates, then
    cell"): one loop doing both was one chain of sigmoid, tanh and update per unit; split,
    the forward took 5-8% less at S3 and M1 (float32, one thread, on a busy host).
    NOTE: inlined into the loop and no branch before the loops over units, only selects in
    them, for the reasons of the LSTM's ``_cell_forward`` and ``_cell_backward``
    (bench/KERNEL_NOTES.md, "Step loop: inlined step functions", "Step loop: no branch
    around a row's views")."""
    H = h.shape[1]
    xr, xz, xn = _thirds(gi[t, b], H)
    ir, iz, i_n = _thirds(b_ih, H)
    ar, az, an = _thirds(gh[r], H)
    hr, hz, hn = _thirds(b_hh, H)
    gr, gz, gn = _thirds(gates[slot, row], H)
    ghn, h_b, hn_b, y_b = gh_n[slot, row], h[r], h_next[r], y[t, b]
    on = active[t, b]
    zero = y.dtype.type(0)
    for u in range(H):
        gr[u] = sigmoid(xr[u] + ir[u] + (ar[u] + hr[u]))              # R3
        gz[u] = sigmoid(xz[u] + iz[u] + (az[u] + hz[u]))
        ghn[u] = an[u] + hn[u]                                        # R2, block n
    for u in range(H):
        ng = tanh(xn[u] + i_n[u] + gr[u] * ghn[u])                    # R4
        h_new = ng + gz[u] * (h_b[u] - ng)                            # R5
        hn_b[u] = h_new if on else h_b[u]                             # R6
        y_b[u] = h_new if on else zero
        gn[u] = ng


@njit(**_JIT)
def _forward_steps(gi, b_ih, b_hh, h_pair, w_p, b0, b1, active, reverse, keep, y, gates, gh_n,
                   gh):
    """R2-R6 step by step for the batch rows b0:b1 (a chunk of a split by rows, or all of
    them), the recurrent product with W_hhᵀ packed once (w_p, K5). gi (T, B, 3H) is
    x W_ihᵀ for every step (R1, without b_ih). gi, y, active (and the cache arrays with
    ``keep``) are the whole batch's, read and written at rows b0:b1; h_pair and gh are the
    chunk's own, its rows from row 0. h_pair[0] holds h_0 and the two halves of h_pair take
    turns as h_{t-1} and h_t, so h_T ends in h_pair[T % 2]; gh is scratch, as wide as w_p's
    panels. Without ``keep`` the cache arrays are the chunk's one scratch row, overwritten
    every step."""
    T = y.shape[0]
    for s in range(T):
        t = T - 1 - s if reverse else s
        h, h_next = h_pair[s % 2], h_pair[1 - s % 2]
        packed_gemm(h, w_p, gh)                                        # R2: h_{t-1} W_hhᵀ
        for r in range(b1 - b0):
            b = b0 + r
            slot, row = (t, b) if keep else (0, 0)
            _cell_forward(t, b, r, slot, row, gi, b_ih, b_hh, gh, h, h_next, active, gates,
                          gh_n, y)


@threads.owns_cores
def gru_forward(x: np.ndarray, h0: np.ndarray, params: GRUParams,
                lengths: np.ndarray | None, reverse: bool, keep_cache: bool
                ) -> tuple[np.ndarray, np.ndarray, GRUCache | None]:
    """Same contract as ``gru_reference.gru_forward`` (R1-R6): x (T, B, I), h0 (B, H),
    params w_ih (3H, I), w_hh (3H, H), b_ih, b_hh (3H,); returns y (T, B, H), h_n (B, H) and
    the cache (the reference's type) or None. float32 and float64; a complex dtype (a
    complex-step check) runs the reference kernels."""
    dtype = result_dtype(x, h0, params)
    if dtype.kind == "c":
        return ref.gru_forward(x, h0, params, lengths, reverse, keep_cache)
    w_ih, w_hh, b_ih, b_hh = params
    T, B, I = x.shape
    G, H = w_hh.shape
    active = lstm_active(T, B, lengths)
    if lengths is not None:
        x = zero_absent(x, active, 2)
    # NOTE: C-contiguous of the kernels' dtype once here; the cache keeps it for dW_ih (R12)
    x = workspace.ascontiguous(x, dtype)
    gi = matmul(x.reshape(T * B, I), np.asarray(w_ih, dtype).T).reshape(T, B, G)   # R1
    bounds = threads.batch_chunks(B, T * B * H * G)
    n_chunks = len(bounds) - 1
    align = n_chunks > 1                  # threads split the rows: rows on cache lines
    gw = panel_width(G, dtype)            # gh's rows as the packed product writes them
    per_chunk = _chunk_arrays(
        [[(2, n, H), (n, gw)] + ([] if keep_cache else [(1, 1, G), (1, 1, H)])
         for n in _chunk_rows(bounds)], dtype)
    cache_rows = [workspace.empty((T, B, k), dtype, align) for k in (G, H)] \
        if keep_cache else []
    for (h_pair, *_), b0, b1 in zip(per_chunk, bounds, bounds[1:]):
        h_pair[0] = h0[b0:b1]
    y = workspace.empty((T, B, H), dtype, align)
    w_p = pack(w_hh.T, dtype)
    bias_ih, bias_hh = (np.ascontiguousarray(b, dtype) for b in (b_ih, b_hh))

    def chunk(k: int) -> None:
        h_pair, gh, *rows = per_chunk[k]
        gates, gh_n = cache_rows or rows
        _forward_steps(gi, bias_ih, bias_hh, h_pair, w_p, int(bounds[k]), int(bounds[k + 1]),
                       active, bool(reverse), bool(keep_cache), y, gates, gh_n, gh)

    threads.run_chunks(chunk, n_chunks)
    h_parts = [h_pair[T % 2] for h_pair, *_ in per_chunk]
    h_n = h_parts[0] if len(h_parts) == 1 else np.concatenate(h_parts)
    cache = GRUCache(x=x, h0=h0, params=params, y=y, gates=cache_rows[0], gh_n=cache_rows[1],
                     active=active, reverse=bool(reverse)) if keep_cache else None
    return y, h_n, cache


@njit(inline="always", **_JIT)
def _cell_backward(t, b, r, dy, dh, gates, gh_n, h_prev, active, dgi, dgh, direct):
    """R7-R10 and R13 of step t for batch row b: its rows of dgi_t and dgh_t (zero where the
    row is inactive), and dh_t ⊙ z, the direct path of R11, in row r of ``direct``. b
    indexes the batch (dy, the cache, h_prev, active, dgi, dgh); r the chunk's own dh (the
    carry δh) and direct, which hold its rows from row 0.

    NOTE: a 1 and a 0 of the arrays' dtype: Numba types the literals as int64, which would
    run a float32 loop in float64 (the LSTM's ``_cell_backward``)."""
    H = dh.shape[1]
    gr, gz, gn = _thirds(gates[t, b], H)
    ir, iz, i_n = _thirds(dgi[t, b], H)
    hr, hz, hn = _thirds(dgh[t, b], H)
    ghn, hp, dy_b, dh_b, direct_b = gh_n[t, b], h_prev[t, b], dy[t, b], dh[r], direct[r]
    on = active[t, b]
    one, zero = dh.dtype.type(1), dh.dtype.type(0)
    for u in range(H):
        rg, zg, ng = gr[u], gz[u], gn[u]
        dh_t = dh_b[u] + dy_b[u]                                      # R7
        dn = dh_t * (one - zg)                                        # R8
        dz = dh_t * (hp[u] - ng)
        da_n = dn * (one - ng * ng)                                   # R9
        da_r = da_n * ghn[u] * rg * (one - rg)                        # R9-R10
        da_z = dz * zg * (one - zg)                                   # R10
        ir[u] = da_r if on else zero                                  # R10, R13
        iz[u] = da_z if on else zero
        i_n[u] = da_n if on else zero
        hr[u] = da_r if on else zero
        hz[u] = da_z if on else zero
        hn[u] = da_n * rg if on else zero
        direct_b[u] = dh_t * zg                                       # R11: dh_t ⊙ z


@njit(**_JIT)
def _backward_steps(dy, dh, gates, gh_n, h_prev, w_p, b0, b1, active, reverse, dgi, dgh,
                    direct, carry):
    """R7-R11 and R13 for the batch rows b0:b1 (a chunk of a split by rows, or all of
    them), visiting the steps in the reverse of the forward order; the product dgh_t W_hh
    with W_hh packed once (w_p, K5). dy, the cache arrays, h_prev (R12's H_prev), dgi and
    dgh are the whole batch's, read and written at rows b0:b1; dh, direct and carry are the
    chunk's own, its rows from row 0. dh (a copy of dh_n) ends as dh0; direct and carry
    (as wide as w_p's panels) are scratch."""
    T = gates.shape[0]
    n, H = dh.shape
    for s in range(T):
        t = s if reverse else T - 1 - s
        for r in range(n):
            _cell_backward(t, b0 + r, r, dy, dh, gates, gh_n, h_prev, active, dgi, dgh, direct)
        packed_gemm(dgh[t, b0:b1], w_p, carry)                         # R11: dgh_t W_hh
        for r in range(n):                                             # R13: active rows
            if active[t, b0 + r]:
                for k in range(H):
                    dh[r, k] = direct[r, k] + carry[r, k]             # R11


@threads.owns_cores
def gru_backward(cache: GRUCache, dy: np.ndarray, dh_n: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, GRUParams]:
    """Same contract as ``gru_reference.gru_backward`` (R7-R13): dy (T, B, H) and dh_n
    (B, H) in; dx (T, B, I), dh0 (B, H) and the weights' gradients (:class:`GRUParams`)
    out, of the cache's dtype."""
    if cache.gates.dtype.kind == "c":
        return ref.gru_backward(cache, dy, dh_n)
    x, h0, w_ih, w_hh = cache.x, cache.h0, cache.params.w_ih, cache.params.w_hh
    active = cache.active
    T, B, I = x.shape
    G, H = w_hh.shape
    dtype = cache.gates.dtype
    dy = workspace.ascontiguous(dy, dtype)
    h_prev = _h_prev(cache.y, np.ascontiguousarray(h0, dtype), active, cache.reverse)
    dgi, dgh = (workspace.empty((T, B, G), dtype, False) for _ in range(2))
    bounds = threads.batch_chunks(B, T * B * H * G)
    per_chunk = _chunk_arrays([[(n, H), (n, H), (n, panel_width(H, dtype))]
                               for n in _chunk_rows(bounds)], dtype)
    for (dh, *_), b0, b1 in zip(per_chunk, bounds, bounds[1:]):
        dh[...] = dh_n[b0:b1]
    w_p = pack(w_hh, dtype)

    def chunk(k: int) -> None:
        dh, direct, carry = per_chunk[k]
        _backward_steps(dy, dh, cache.gates, cache.gh_n, h_prev, w_p, int(bounds[k]),
                        int(bounds[k + 1]), active, bool(cache.reverse), dgi, dgh, direct,
                        carry)

    threads.run_chunks(chunk, len(bounds) - 1)
    dh_parts = [dh for dh, *_ in per_chunk]
    dh0 = dh_parts[0] if len(dh_parts) == 1 else np.concatenate(dh_parts)
    dgi2, dgh2 = dgi.reshape(T * B, G), dgh.reshape(T * B, G)
    # NOTE: one split for the three products (the LSTM's _weight_products)
    dx, dw_ih, dw_hh = matmuls((dgi2, np.asarray(w_ih, dtype)),                  # R12
                               (dgi2.T, x.reshape(T * B, I)), (dgh2.T, h_prev.reshape(T * B, H)))
    return dx.reshape(x.shape), dh0, GRUParams(dw_ih, dw_hh, dgi2.sum(axis=0),
                                               dgh2.sum(axis=0))
