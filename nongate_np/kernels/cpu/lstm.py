"""Numba LSTM kernels: the step loops of docs/math.md L1-L15, with the same signatures and
results as ``kernels/reference.py`` (``lstm_forward``, ``lstm_backward``).

The time-parallel products of the backward (dX, dW_ih, dW_hh) are large GEMMs outside the
loop, in one split (``gemm.matmuls``; dW_hh against H_prev built from the output shifted
by one step, ``_h_prev``, so the cache stores no previous hidden or cell states of its
own). The forward's input projection x_t W_ihᵀ is one such GEMM before the loop for wide
inputs (more than ``tuning.STEP_PROJECTION_MAX_INPUTS``) and for chunks of few rows
(``_project_in_loop``), else made inside the loop, step by step, on each chunk's rows.
Inside the loop, per step: the products with a weight packed once per call
(``packed.packed_gemm``, K5: h W_hhᵀ forward, da W_hh backward, x_t W_ihᵀ where it is made
there, the projection's where there is one) and the element-wise passes over (B, H) with
the vectorisable activations of ``activations.py``.

From ``tuning.STEP_SPLIT_MIN_MACS`` multiply-adds per call up, the batch rows are split
over threads (``threads.batch_chunks``, ``threads.run_chunks``): each chunk runs the whole
step loop on its own rows, so the threads never wait for each other inside the time loop,
and the serial path is the same compiled loop run on all rows. Chunks never write the same
element, and the arrays they split start on a cache line (``workspace.empty(...,
align=True)``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from .. import reference as ref
from ..contract import LSTMParams, LSTMState, result_dtype
from . import activations, threads, tuning, workspace
from .activations import KERNEL_FLAGS
from .blas import gemm
from .gemm import dot, matmul, matmuls, unsplit
from .packed import pack, packed_gemm, packed_weight, panel_width

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


@njit(inline="always", **_JIT)
def _gate_views(v, n, j0, j1):
    """The units j0:j1 of each gate i, f, g, o in a row ``v`` of four blocks of n units, gates
    side by side (the order of docs/math.md L1)."""
    return v[j0:j1], v[n + j0:n + j1], v[2 * n + j0:2 * n + j1], v[3 * n + j0:3 * n + j1]


@njit(inline="always", **_JIT)
def _cell_forward(t, b, r, slot, row, xw_b, bias, h, h_next, c, a, active, gates, cs, tcs,
                  m, y, emit):
    """L1 (given a = h_{t-1} W_hhᵀ and xw_b = x_t W_ihᵀ for batch row b; adds the bias),
    L2-L4 and L6 of step t for batch row b, and with ``emit`` (no projection, so h_t = m_t)
    L5 too: y[t, b] and row r of h_next. b indexes the batch (active, y); r the chunk's own
    arrays a, c, m, h, h_next, which hold its rows from row 0. The cache entries go to
    gates[slot, row] etc. (step t's with ``keep``, else the chunk's scratch row). h
    (h_{t-1}) is only read: the loop keeps two state buffers and swaps them.

    NOTE: every row is reached through views that start at 0, so the inner loop's index is
    known to be non-negative and it vectorises. An index n + u, whose sign Numba cannot
    know, gets a negative-index wrap-around per element and the loads become gathers
    (bench/KERNEL_NOTES.md, "Step loop: views that start at 0").
    NOTE: two loops over the units, the four gates, then the cell: each body is one short
    chain of dependent operations, so the core overlaps several units' chains; one loop
    doing both ran a chain twice as long and the core waited on it (bench/KERNEL_NOTES.md,
    "Step loop: gates, then cell"). Same operations, same bits.
    NOTE: inlined into the loop (``inline="always"``): compiled once inside it rather than
    alone and again inside it, which compiles faster and runs faster (bench/KERNEL_NOTES.md,
    "Step loop: inlined step functions")."""
    H = c.shape[1]
    xi, xf, xg, xo = _gate_views(xw_b, H, 0, H)
    bi, bf, bg, bo = _gate_views(bias, H, 0, H)
    ai, af, ag, ao = _gate_views(a[r], H, 0, H)
    gi, gf, gg, go = _gate_views(gates[slot, row], H, 0, H)
    c_b, m_b, cs_b, tc_b = c[r], m[r], cs[slot, row], tcs[slot, row]
    on = active[t, b]
    for u in range(H):                                                 # L1-L2
        gi[u] = sigmoid(ai[u] + xi[u] + bi[u])
        gf[u] = sigmoid(af[u] + xf[u] + bf[u])
        gg[u] = tanh(ag[u] + xg[u] + bg[u])
        go[u] = sigmoid(ao[u] + xo[u] + bo[u])
    for u in range(H):
        c_new = gf[u] * c_b[u] + gi[u] * gg[u]                         # L3
        tc = tanh(c_new)
        m_b[u] = go[u] * tc                                            # L4
        c_b[u] = c_new if on else c_b[u]                               # L6
        cs_b[u], tc_b[u] = c_b[u], tc
    if emit:
        _emit_row(on, m_b, h[r], h_next[r], y[t, b])


@njit(inline="always", **_JIT)
def _emit_row(on, new, h_prev, h_next, y_t):
    """L5-L6 for one row: the new hidden state where active, else the previous one; the
    output is the new state or 0.

    ``new`` may be longer (a packed product's padded row): its first len(h_next) count.

    NOTE: element loops, not slice assignments: each ``a[:] = b`` compiles slowly
    (bench/KERNEL_NOTES.md, "Compile time: slice assignments")."""
    for k in range(h_next.shape[0]):
        h_next[k] = new[k] if on else h_prev[k]
        y_t[k] = new[k] if on else 0


@njit(**_JIT)
def _emit_projected(t, b0, m, w_hr_p, active, h, h_next, h_proj, y):
    """L5-L6 with a projection for a chunk's rows, batch rows b0 on: h_t = m_t W_hrᵀ (W_hrᵀ
    packed, w_hr_p, K5); m, h, h_next and h_proj are the chunk's own, from row 0.

    NOTE: compiled alone, not inlined like the step functions, as is the backward's
    ``_adjoint_projected``: one call per step, and each inlined copy cost more compile than
    the call costs at run time (bench/KERNEL_NOTES.md, "Compile time: small step helpers
    compiled alone")."""
    packed_gemm(m, w_hr_p, h_proj)                                     # L5
    for r in range(m.shape[0]):
        _emit_row(active[t, b0 + r], h_proj[r], h[r], h_next[r], y[t, b0 + r])


@njit(**_JIT)
def _forward_steps(x, w_ih, w_ih_p, project, xw, bias, h_pair, c, w_hh, w_p, own, b0, b1,
                   w_hr_p, active, reverse, keep, y, gates, cs, tcs, m, a, h_proj):
    """L1-L6 step by step for the batch rows b0:b1 (a chunk of a split by rows, or all of
    them), the recurrent product with W_hhᵀ packed once (w_p, K5). The input term
    x_t W_ihᵀ is xw[t] (made before the loop) or, with ``project``, made here into the
    chunk's scratch xw[0] from x and W_ihᵀ packed once (w_ih_p). With ``own`` the chunk packs
    W_hhᵀ and W_ihᵀ itself from w_hh and w_ih (C-contiguous, the kernels' dtype) instead of
    reading the caller's w_p and w_ih_p: the thread that reads the panels writes them, into
    its own cache (bench/KERNEL_NOTES.md, "Step loop: each thread packs its own weight").
    x, y, active (and xw without ``project``) are the whole batch's, read and written at
    rows b0:b1; h_pair, c, m, a, h_proj (and xw with ``project``) are the chunk's own, its
    b1 - b0 rows from row 0, in pages apart from the other chunks' (bench/KERNEL_NOTES.md,
    "Step loop: each chunk's rows apart"). h_pair[0] holds h_0 and the two halves of
    h_pair take turns as h_{t-1} and h_t, so h_T ends in h_pair[T % 2]; c (a copy of c_0)
    is updated in place; a and h_proj are scratch (rows as wide as w_p's panels). w_hr_p
    is W_hrᵀ packed, or None without a projection. With ``keep`` the cache arrays are the
    whole batch's (T, B, ...); without, the chunk's one scratch row, overwritten every step
    (it stays in the L1 cache: bench/KERNEL_NOTES.md, "Step loop: inference cache row").

    NOTE: ``w_hr_p is None`` is decided when Numba compiles the loop (the branches on it
    are pruned), so a model without a projection never compiles the projection's code, as
    in :func:`_backward_steps` (bench/KERNEL_NOTES.md, "Compile time: None for what a model
    does not use")."""
    T = y.shape[0]
    emit = w_hr_p is None
    if own:
        w_p = packed_weight(w_hh.T)
        if project:
            w_ih_p = packed_weight(w_ih.T)
    for s in range(T):
        t = T - 1 - s if reverse else s
        h, h_next = h_pair[s % 2], h_pair[1 - s % 2]
        t_xw = 0 if project else t
        if project:
            packed_gemm(x[t, b0:b1], w_ih_p, xw[0])                       # L1 (input)
        packed_gemm(h, w_p, a)                                         # L1 (recurrent)
        for r in range(b1 - b0):
            b = b0 + r
            slot, row = (t, b) if keep else (0, 0)
            # NOTE: the indices chosen, not the view: a view chosen by a branch keeps
            # reference counting in the loop ("Step loop: no branch around a row's views")
            _cell_forward(t, b, r, slot, row, xw[t_xw, r if project else b], bias, h, h_next,
                          c, a, active, gates, cs, tcs, m, y, emit)
        if w_hr_p is not None:
            _emit_projected(t, b0, m, w_hr_p, active, h, h_next, h_proj, y)


def _no_panels(dtype: np.dtype) -> np.ndarray:
    """The packed weight (K5) of a product the step loop does not make, or that each chunk
    packs itself: no panels."""
    return np.empty((0, 0, 1), dtype)


def _own_panels(w_hh: np.ndarray, dtype: np.dtype) -> bool:
    """Whether each chunk of a step loop packs its weights itself (``own``): W_hh up to
    ``tuning.OWN_PANELS_MAX_BYTES`` in the kernels' dtype. Above, the caller packs them
    once for all the chunks, into huge pages (``packed.pack``)."""
    return w_hh.size * dtype.itemsize <= tuning.OWN_PANELS_MAX_BYTES


def _step_weight(w: np.ndarray, dtype: np.dtype, own: bool, transpose: bool
                 ) -> tuple[np.ndarray, np.ndarray]:
    """A weight as a step loop takes it: W C-contiguous of ``dtype``, which each chunk
    packs itself with ``own``, and the caller's panels of Wᵀ (``transpose``) or W without
    (K5), else none."""
    w = np.ascontiguousarray(w, dtype)
    return w, _no_panels(dtype) if own else pack(w.T if transpose else w, dtype)


def _input_weight(w_ih: np.ndarray, dtype: np.dtype, own: bool, project: bool
                  ) -> tuple[np.ndarray, np.ndarray]:
    """W_ih as :func:`_step_weight` gives it where the step loop makes the input term
    (``project``), else no weight and no panels."""
    if project:
        return _step_weight(w_ih, dtype, own, True)
    return np.empty((0, 0), dtype), _no_panels(dtype)


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
    if _serial(x, state0, params, dtype):
        return _forward_serial(x, state0, params, lengths, reverse, dtype, keep_cache)
    active = ref.lstm_active(T, B, lengths)
    if lengths is not None:
        x = ref.zero_absent(x, active, 2)
    # NOTE: C-contiguous of the kernels' dtype once here; the cache keeps it for dW_ih (L13),
    # so the backward need not copy it again
    x = workspace.ascontiguous(x, dtype)
    P = h0.shape[1]
    bounds = threads.batch_chunks(B, T * B * P * 4 * H)
    n_chunks = len(bounds) - 1
    align = n_chunks > 1                  # threads split the rows: rows on cache lines
    project = _project_in_loop(x, min(_chunk_rows(bounds)), 4 * H)
    gw = panel_width(4 * H, dtype)           # the gates' rows as the packed products write them
    # NOTE: each chunk's state and scratch rows (and its cache row without keep_cache) in
    # pages of their own, all from one block: an allocation each took longer than the rest
    # of an S3 call's set-up (bench/KERNEL_NOTES.md, "Workspace: small arrays from one
    # block", "Step loop: each chunk's rows apart")
    per_chunk = _chunk_arrays(
        [[(2, n, P), (n, H), (n, H), (n, gw), (n, panel_width(P, dtype)),
          (1, n, gw) if project else (0, 0, 0)]      # xw: a step's row, or the product's
         + ([] if keep_cache else [(1, 1, 4 * H), (1, 1, H), (1, 1, H)])
         for n in _chunk_rows(bounds)], dtype)
    cache_rows = [workspace.empty((T, B, k), dtype, align) for k in (4 * H, H, H)] \
        if keep_cache else []
    own = _own_panels(w_hh, dtype)
    w_ih_k, w_ih_p = _input_weight(w_ih, dtype, own, project)
    xw_all = None if project else matmul(x.reshape(T * B, -1), w_ih.T.astype(
        dtype, copy=False)).reshape(T, B, 4 * H)                      # L1, all steps
    bias = np.ascontiguousarray(b, dtype=dtype)
    for (h_pair, c, *_), b0, b1 in zip(per_chunk, bounds, bounds[1:]):
        h_pair[0] = h0[b0:b1]
        c[...] = c0[b0:b1]
    y, h_prev = _output(np.asarray(h0, dtype), T, reverse, keep_cache, align)
    w_hr_p = None if w_hr is None else pack(w_hr.T, dtype)
    w_hh_k, w_p = _step_weight(w_hh, dtype, own, True)

    def chunk(k: int) -> None:
        h_pair, c, m, a, h_proj, xw, *rows = per_chunk[k]
        gates, cs, tcs = cache_rows or rows
        _forward_steps(x if project else x[:0], w_ih_k, w_ih_p, project,
                       xw if project else xw_all, bias, h_pair, c, w_hh_k, w_p, own,
                       int(bounds[k]), int(bounds[k + 1]), w_hr_p, active, bool(reverse),
                       bool(keep_cache), y, gates, cs, tcs, m, a, h_proj)

    threads.run_chunks(chunk, n_chunks)
    cache = ref.LSTMCache(x=x, state0=state0, params=params, y=y, gates=cache_rows[0],
                          c=cache_rows[1], tanh_c=cache_rows[2], active=active,
                          reverse=bool(reverse), h_prev=h_prev) if keep_cache else None
    return y, _joined([(h_pair[T % 2], c) for h_pair, c, *_ in per_chunk]), cache


def lstm_forward_bidirectional(x: np.ndarray, states: tuple[LSTMState, LSTMState],
                               params: tuple[LSTMParams, LSTMParams],
                               lengths: np.ndarray | None, keep_cache: bool
                               ) -> tuple[tuple[np.ndarray, LSTMState, ref.LSTMCache | None],
                                          ...]:
    """Same contract as ``reference.lstm_forward_bidirectional``: the two directions at
    once, each :func:`lstm_forward` (one chunk: the same bits) on a thread of its own,
    where :func:`_directions_apart` says so; else one after the other."""
    def direction(d: int) -> tuple[np.ndarray, LSTMState, ref.LSTMCache | None]:
        return lstm_forward(x, states[d], params[d], lengths, bool(d), keep_cache)
    if not _directions_apart(x, params[0]):
        return direction(0), direction(1)
    results: list = [None, None]

    def chunk(d: int) -> None:
        results[d] = direction(d)
    threads.run_chunks(chunk, 2)
    return tuple(results)


def _directions_apart(x: np.ndarray, params: LSTMParams) -> bool:
    """Whether a bidirectional layer runs its two directions on two threads at once: where
    one direction's step loop is worth splitting over the threads but has one row (a
    single sequence), which a split by rows cannot share, so one thread would idle. A
    direction split by rows would run its chunks one after the other on its thread,
    slower than unsplit (bench/KERNEL_NOTES.md, "Step loop: two directions at once")."""
    T, B, _ = x.shape
    G, P = params.w_hh.shape
    macs = T * B * P * G
    return B == 1 and threads.parallel_chunks(macs, tuning.STEP_SPLIT_MIN_MACS) >= 2


def _chunk_rows(bounds: tuple[int, ...]) -> list[int]:
    """The rows of each chunk of a split by ``bounds``; one chunk of none for B = 0, whose
    split has no chunk, so the kernel still has (empty) states to return."""
    return [b1 - b0 for b0, b1 in zip(bounds, bounds[1:])] or [0]


def _chunk_arrays(groups: list[list[tuple[int, ...]]], dtype: np.dtype
                  ) -> list[list[np.ndarray]]:
    """Each chunk's state and scratch arrays, of ``groups``' shapes: in pages apart
    (``workspace.empty_apart``) where threads split the rows; for one chunk, which has no
    other to keep apart from, as ``np.empty`` makes them (``workspace.empty_many``),
    without the block's set-up, which a small call (S1) feels."""
    if len(groups) == 1:
        return [workspace.empty_many(groups[0], dtype)]
    return workspace.empty_apart(groups, dtype)


def _joined(states: list[tuple[np.ndarray, np.ndarray]]) -> LSTMState:
    """The whole batch's state from the chunks' (h, c), in row order."""
    if len(states) == 1:
        return LSTMState(*states[0])
    return LSTMState(*(np.concatenate(part) for part in zip(*states)))


def _output(h0: np.ndarray, T: int, reverse: bool, keep_cache: bool, align: bool = False
            ) -> tuple[np.ndarray, np.ndarray | None]:
    """The forward's output y (T, B, P), uninitialised, and L13's h_{t-1} of every step for
    the backward: for a cache of the forward direction, y is the last T of T + 1 steps of
    one buffer whose first is h_0, so h_{t-1} is that buffer's first T steps, a view; else
    None (the backward builds it, :func:`_h_prev`).

    NOTE: a view, not a copy of y shifted by one step in the backward, a pass over y that
    showed from S1 to M2 (bench/KERNEL_NOTES.md, "Products: dW_hh's h_{t-1} as a view")."""
    B, P = h0.shape
    if not keep_cache or reverse:
        return workspace.empty((T, B, P), h0.dtype, align), None
    hs = workspace.empty((T + 1, B, P), h0.dtype, align)
    hs[0] = h0
    return hs[1:], hs[:-1]


def _project_in_loop(x: np.ndarray, rows: int, G: int) -> bool:
    """Whether the step loop makes the input term x_t W_ihᵀ itself, step by step (packed
    W_ihᵀ, K5; docs/math.md K6), rather than one product before the loop: for inputs up to
    ``tuning.STEP_PROJECTION_MAX_INPUTS`` wide, where the fewest ``rows`` of a chunk reuse
    each weight loaded enough (``tuning.STEP_PROJECTION_MIN_ROWS``; at that many rows,
    W_ihᵀ of G = 4H columns up to ``tuning.STEP_PROJECTION_MIN_ROWS_MAX_WEIGHTS``
    elements)."""
    I = x.shape[2]
    if I > tuning.STEP_PROJECTION_MAX_INPUTS or rows < tuning.STEP_PROJECTION_MIN_ROWS:
        return False
    return rows > tuning.STEP_PROJECTION_MIN_ROWS or \
        I * G <= tuning.STEP_PROJECTION_MIN_ROWS_MAX_WEIGHTS


def _serial(x: np.ndarray, state0: LSTMState, params: LSTMParams, dtype: np.dtype) -> bool:
    """Whether the general path would run every product and the step loop unsplit, on
    arrays already of ``dtype``: then :func:`_forward_serial` runs it with less Python."""
    T, B, I = x.shape
    w_ih, w_hh, b, w_hr = params
    G, P = w_hh.shape
    # NOTE: comparisons, not a generator over the arrays: this runs at every small call
    same = x.dtype == dtype and w_ih.dtype == dtype and w_hh.dtype == dtype \
        and b.dtype == dtype and state0.h.dtype == dtype and state0.c.dtype == dtype \
        and (w_hr is None or w_hr.dtype == dtype)
    return same and (_project_in_loop(x, B, G) or threads.parallel_chunks(
        T * B * I * G, tuning.PRODUCT_SPLIT_MIN_MACS) == 1) \
        and len(threads.batch_chunks(B, T * B * P * G)) == 2


def _forward_serial(x: np.ndarray, state0: LSTMState, params: LSTMParams,
                    lengths: np.ndarray | None, reverse: bool, dtype: np.dtype,
                    keep_cache: bool) -> tuple[np.ndarray, LSTMState, ref.LSTMCache | None]:
    """The general path's calls, unsplit, without its bookkeeping: the same compiled
    kernels (``dot``, :func:`_forward_steps`) on the same arrays, so the same bits. A small
    call (S1) spent longer in that bookkeeping than in its step loop (bench/KERNEL_NOTES.md,
    "Kernel calls: Python overhead")."""
    T, B, I = x.shape
    w_ih, w_hh, b, w_hr = params
    G, P = w_hh.shape
    H = G // 4
    active = ref.lstm_active(T, B, lengths)
    if lengths is not None:
        x = ref.zero_absent(x, active, 2)
    x = np.ascontiguousarray(x)
    project = _project_in_loop(x, B, G)
    own = _own_panels(w_hh, dtype)
    w_ih_k, w_ih_p = _input_weight(w_ih, dtype, own, project)
    if project:
        xw = np.empty((1, B, panel_width(G, dtype)), dtype)
    else:
        xw = workspace.empty((T, B, G), dtype)
        dot(x.reshape(T * B, I), False, np.ascontiguousarray(w_ih), True,
            xw.reshape(T * B, G))                                     # L1, all steps at once
    h_pair = np.empty((2, B, P), dtype)
    h_pair[0] = state0.h
    c = np.array(state0.c, dtype, copy=True)
    y, h_prev = _output(h_pair[0], T, reverse, keep_cache)
    slots, rows = (T, B) if keep_cache else (1, 1)      # without a cache: one scratch row
    gates, cs, tcs = (workspace.empty((slots, rows, n), dtype) for n in (G, H, H))
    _forward_steps(x, w_ih_k, w_ih_p, project, xw, np.ascontiguousarray(b), h_pair, c,
                   *_step_weight(w_hh, dtype, own, True), own, 0, B,
                   None if w_hr is None else pack(w_hr.T, dtype), active, bool(reverse),
                   bool(keep_cache), y, gates, cs, tcs, np.empty((B, H), dtype),
                   np.empty((B, panel_width(G, dtype)), dtype),
                   np.empty((B, panel_width(P, dtype)), dtype))
    cache = ref.LSTMCache(x=x, state0=state0, params=params, y=y, gates=gates, c=cs,
                          tanh_c=tcs, active=active, reverse=bool(reverse), h_prev=h_prev) \
        if keep_cache else None
    return y, LSTMState(h_pair[T % 2], c), cache


@njit(**_JIT)
def _adjoint_projected(t, b0, dh, dy, w_hr_p, active, dh_t, dm, dh_seq):
    """L7-L8 with a projection for a chunk's rows, batch rows b0 on: dh_t = δh + dy_t,
    dm_t = dh_t W_hr (W_hr packed, w_hr_p, K5); dh_t is kept (as dh_seq[t], zero where
    inactive) for dW_hr. dh, dh_t and dm are the chunk's own, from row 0."""
    for r in range(dh.shape[0]):
        b = b0 + r
        on = active[t, b]
        for k in range(dh.shape[1]):
            dh_t[r, k] = dh[r, k] + dy[t, b, k]                        # L7
            dh_seq[t, b, k] = dh_t[r, k] if on else 0
    packed_gemm(dh_t, w_hr_p, dm)                                      # L8


@njit(inline="always", **_JIT)
def _cell_backward(t, t_prev, b, r, dm, dc, gates, tcs, cs, c0, active, da):
    """L9-L12 of step t for batch row b: its row of da_t, and δc_{t-1} in row r of dc (L14:
    both untouched but da = 0 where the row is inactive). b indexes the batch (the cache,
    c0, active, da); r the chunk's own arrays dm and dc, which hold its rows from row 0.

    c_{t-1} (L10) is the cell state cached at t_prev, the step visited before t in the
    forward, where that step exists and was active, else c_0 (L6).

    NOTE: no branch before the loop, only selects inside it: a view made before a branch
    (a short-circuit ``and``, a view chosen by ``if``, an early return) keeps Numba's
    reference counting of every view in the row, atomic updates that cost as much as a
    narrow row's arithmetic (bench/KERNEL_NOTES.md, "Step loop: no branch around a row's
    views").
    NOTE: a 1 of the arrays' dtype: Numba types the literal 1 as int64, and float32 with
    int64 gives float64, so each ``1 - x`` ran the float32 loop in float64."""
    H, T = dc.shape[1], gates.shape[0]
    di, df, dg, do = _gate_views(da[t, b], H, 0, H)
    gi, gf, gg, go = _gate_views(gates[t, b], H, 0, H)
    tc, dm_b, dc_b = tcs[t, b], dm[r], dc[r]
    on = active[t, b]
    tp = min(max(t_prev, 0), T - 1)
    has_prev = (t_prev >= 0) & (t_prev < T) & active[tp, b]
    cs_prev, c0_b = cs[tp, b], c0[b]
    one, zero = dc.dtype.type(1), dc.dtype.type(0)
    for u in range(H):
        i, f, g, o = gi[u], gf[u], gg[u], go[u]
        cp = cs_prev[u] if has_prev else c0_b[u]
        dct = dc_b[u] + dm_b[u] * o * (one - tc[u] * tc[u])             # L9
        di[u] = dct * g * i * (one - i) if on else zero                # L10-L11, L14
        df[u] = dct * cp * f * (one - f) if on else zero
        dg[u] = dct * i * (one - g * g) if on else zero
        do[u] = dm_b[u] * tc[u] * o * (one - o) if on else zero
        dc_b[u] = dct * f if on else dc_b[u]                           # L12


@njit(**_JIT)
def _backward_steps(dy, dh, dc, gates, tcs, cs, c0, w_hh, w_p, own, b0, b1, w_hr_p, active,
                    reverse, da, dh_t, dm, carry, db_rows, dh_seq):
    """L7-L14 for the batch rows b0:b1 (a chunk of a split by rows, or all of them),
    visiting the steps in the reverse of the forward order; the product da_t W_hh with W_hh
    packed once (w_p, K5; with ``own`` packed here from w_hh, as in
    :func:`_forward_steps`); w_hr_p is W_hr packed, or None without a projection (its code
    then not compiled, as in :func:`_forward_steps`). dy, the cache, c0, active, da and
    dh_seq are the whole batch's, read and written at rows b0:b1; dh, dc, dh_t, dm, carry
    and db_rows are the chunk's own, its rows from row 0, in pages apart from the other
    chunks' (bench/KERNEL_NOTES.md, "Step loop: each chunk's rows apart"). dh, dc (copies
    of the adjoints of the final states) end as those of the initial states; dh_t, dm and
    carry are scratch. db_rows[r] ends as Σ_t da_t[b0 + r], that row's share of L13's db,
    summed while da_t is in cache (bench/KERNEL_NOTES.md, "Step loop: the bias gradient in
    the backward's loop")."""
    if own:
        w_p = packed_weight(w_hh)
    T = gates.shape[0]
    G = da.shape[2]
    n = b1 - b0
    for r in range(n):
        for u in range(G):
            db_rows[r, u] = 0
    for s in range(T):
        t = s if reverse else T - 1 - s
        t_prev = t + 1 if reverse else t - 1
        if w_hr_p is None:                                             # L7-L8: dm_t = dh_t
            for r in range(n):
                for k in range(dh.shape[1]):
                    dm[r, k] = dh[r, k] + dy[t, b0 + r, k]
        else:
            _adjoint_projected(t, b0, dh, dy, w_hr_p, active, dh_t, dm, dh_seq)
        for r in range(n):
            b = b0 + r
            _cell_backward(t, t_prev, b, r, dm, dc, gates, tcs, cs, c0, active, da)
            da_b, db_b = da[t, b], db_rows[r]
            for u in range(G):                                         # L13: db
                db_b[u] += da_b[u]
        packed_gemm(da[t, b0:b1], w_p, carry)                          # L12: da_t W_hh
        for r in range(n):                                             # L14: active rows
            if active[t, b0 + r]:
                for k in range(dh.shape[1]):
                    dh[r, k] = carry[r, k]


def _h_prev(y, h0, active, reverse):
    """L13's h_{t-1} of every step, (T, B, P): y shifted by one step in visiting order, and
    h_0 at each row's first step.

    At an active step whose predecessor (in visiting order) was active, h_{t-1} is that
    step's output y; rows are active on a prefix of their own visiting order (L6), so the
    only other active steps are each row's first, which start from h_0. Inactive steps have
    da = 0 and add nothing, paired with any finite value: every entry is written (an
    uninitialised one could hold a NaN, and 0·NaN is NaN).

    NOTE: one buffer and one product dAᵀ H_prev over all T·B rows, not a product for the
    first steps besides one for the rest: that second product wrote a whole (4H, P) result
    to add, which at the benchmark's L2 size cost more than this copy (bench/KERNEL_NOTES.md,
    "Products: dW_hh as one product")."""
    T, B, P = y.shape
    h_prev = workspace.empty((T, B, P), y.dtype)
    if reverse:
        h_prev[:-1] = y[1:]
        h_prev[-1] = h0
        h_prev[np.maximum(active.sum(axis=0) - 1, 0), np.arange(B)] = h0   # shorter rows
    else:
        h_prev[1:] = y[:-1]
        h_prev[0] = h0
    return h_prev


def _serial_backward(bounds: tuple[int, ...], w_hr: np.ndarray | None) -> bool:
    """Whether :func:`lstm_backward`'s step loop runs as one chunk (split by ``bounds``)
    without a projection: then :func:`_backward_serial` runs it with less Python."""
    return len(bounds) == 2 and w_hr is None


def _backward_serial(cache: ref.LSTMCache, dy: np.ndarray, dstate: LSTMState
                     ) -> tuple[np.ndarray, LSTMState, LSTMParams]:
    """:func:`lstm_backward`'s calls for one chunk and no projection, without the general
    path's bookkeeping (the chunks' arrays and loop, the closure run by
    ``threads.run_chunks``, the rows' sums joined): the same compiled kernels on the same
    values, so the same bits, as :func:`_forward_serial` for the forward
    (bench/KERNEL_NOTES.md, "Kernel calls: Python overhead")."""
    x, c0, w_hh = cache.x, cache.state0.c, cache.params.w_hh
    gates = cache.gates
    T, B, _ = x.shape
    G, P = w_hh.shape
    dtype = gates.dtype
    dh = np.array(dstate.h, dtype, copy=True)
    dc = np.array(dstate.c, dtype, copy=True)
    dh_t, carry, dm, db_rows = workspace.empty_many(
        ((B, P), (B, panel_width(P, dtype)), (B, panel_width(G // 4, dtype)),
         (B, panel_width(G, dtype))), dtype)
    da = workspace.empty(gates.shape, dtype)
    own = _own_panels(w_hh, dtype)
    _backward_steps(workspace.ascontiguous(dy, dtype), dh, dc, gates, cache.tanh_c, cache.c,
                    np.ascontiguousarray(c0, dtype=dtype), *_step_weight(w_hh, dtype, own, False),
                    own, 0, B, None, cache.active, bool(cache.reverse), da, dh_t, dm, carry,
                    db_rows, np.empty((0, 0, 0), dtype))
    dx, dw_ih, dw_hh = _weight_products(cache, da)
    db = db_rows[0, :G].copy() if B == 1 else db_rows[:, :G].sum(axis=0)
    return dx, LSTMState(dh, dc), LSTMParams(dw_ih, dw_hh, db, None)


def _weight_products(cache: ref.LSTMCache, da: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """L13's products over all T·B rows: dX (T, B, I), dW_ih and dW_hh (against H_prev, the
    cache's view or built from the output, :func:`_h_prev`)."""
    x, h0, w_ih = cache.x, cache.state0.h, cache.params.w_ih
    T, B, I = x.shape
    dtype = da.dtype
    G, P = da.shape[2], h0.shape[1]
    da2 = da.reshape(T * B, G)
    h_prev = _h_prev(cache.y, np.ascontiguousarray(h0, dtype=dtype), cache.active,
                     cache.reverse) if cache.h_prev is None else cache.h_prev
    w_ih = w_ih.astype(dtype, copy=False)
    x2 = workspace.ascontiguous(x, dtype).reshape(T * B, I)
    h_prev2 = h_prev.reshape(T * B, P)
    if unsplit(T * B * G * max(I, P)) and w_ih.flags.c_contiguous:
        dx, dw_ih, dw_hh = workspace.empty_many(((T * B, I), (G, I), (G, P)), dtype)
        _weight_products_one_call(da2, w_ih, x2, h_prev2, dx, dw_ih, dw_hh)
    else:
        # NOTE: one split for all the products, not one each: at small sizes (S3) a split's
        # start and end cost as much as a product (bench/KERNEL_NOTES.md, "Products: one
        # split for several")
        dx, dw_ih, dw_hh = matmuls((da2, w_ih), (da2.T, x2), (da2.T, h_prev2))
    return dx.reshape(x.shape), dw_ih, dw_hh


@njit(**_JIT)
def _weight_products_one_call(da2, w_ih, x2, h_prev2, dx, dw_ih, dw_hh):
    """L13's three products where ``gemm.matmuls`` would make each one unsplit BLAS call
    (``gemm.unsplit``): those calls in one compiled call, so the same bits, without the
    Python around each (bench/KERNEL_NOTES.md, "Kernel calls: Python overhead")."""
    gemm(da2, w_ih, dx)                                                # dX
    gemm(da2.T, x2, dw_ih)                                             # dW_ih
    gemm(da2.T, h_prev2, dw_hh)                                        # dW_hh


@threads.owns_cores
def lstm_backward(cache: ref.LSTMCache, dy: np.ndarray, dstate: LSTMState
                  ) -> tuple[np.ndarray, LSTMState, LSTMParams]:
    """Same contract as ``reference.lstm_backward``."""
    if cache.gates.dtype.kind == "c":
        return ref.lstm_backward(cache, dy, dstate)
    x, (h0, c0), (_, w_hh, _, w_hr) = cache.x, cache.state0, cache.params
    y, gates, cs, tcs = cache.y, cache.gates, cache.c, cache.tanh_c
    active, reverse = cache.active, cache.reverse
    T, B, _ = x.shape
    H = w_hh.shape[0] // 4
    P = h0.shape[1]
    dtype = gates.dtype
    bounds = threads.batch_chunks(B, T * B * P * 4 * H)
    n_chunks = len(bounds) - 1
    if _serial_backward(bounds, w_hr):
        return _backward_serial(cache, dy, dstate)
    align = n_chunks > 1                  # threads split the rows: rows on cache lines
    da = workspace.empty(gates.shape, dtype, align)
    # NOTE: each chunk's rows in pages of their own, as lstm_forward's
    per_chunk = _chunk_arrays(
        [[(n, P), (n, H), (n, P), (n, panel_width(P, dtype)), (n, panel_width(H, dtype)),
          (n, panel_width(4 * H, dtype))]
         for n in _chunk_rows(bounds)], dtype)
    for (dh, dc, *_), b0, b1 in zip(per_chunk, bounds, bounds[1:]):
        dh[...] = dstate.h[b0:b1]
        dc[...] = dstate.c[b0:b1]
    dh_seq = np.zeros_like(y) if w_hr is not None else np.empty((0, 0, 0), dtype)
    w_hr_p = None if w_hr is None else pack(w_hr, dtype)
    dy = workspace.ascontiguous(dy, dtype)
    c0_ = np.ascontiguousarray(c0, dtype=dtype)
    own = _own_panels(w_hh, dtype)
    w_hh_k, w_p = _step_weight(w_hh, dtype, own, False)

    def chunk(k: int) -> None:
        dh, dc, dh_t, carry, dm, db_rows = per_chunk[k]
        _backward_steps(dy, dh, dc, gates, tcs, cs, c0_, w_hh_k, w_p, own, int(bounds[k]),
                        int(bounds[k + 1]), w_hr_p, active, bool(reverse), da, dh_t, dm,
                        carry, db_rows, dh_seq)

    threads.run_chunks(chunk, n_chunks)
    dx, dw_ih, dw_hh = _weight_products(cache, da)                     # L13
    db_parts = [rows[5][:, :4 * H] for rows in per_chunk]      # L13: the rows' sums, in order
    db = (db_parts[0] if len(db_parts) == 1 else np.concatenate(db_parts)).sum(axis=0)
    dw_hr = None
    if w_hr is not None:
        m = gates[:, :, 3 * H:] * tcs
        dw_hr = matmul(dh_seq.reshape(T * B, -1).T, m.reshape(T * B, H))
    return dx, _joined([(dh, dc) for dh, dc, *_ in per_chunk]), LSTMParams(dw_ih, dw_hh, db,
                                                                          dw_hr)
