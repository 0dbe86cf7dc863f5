"""CUDA LSTM kernels: one layer and direction (docs/math.md L1-L15), with the same signatures
and results as ``kernels/reference.py`` (``lstm_forward``, ``lstm_backward``).

The time-parallel products are ``matmul.matmul`` outside the step loop: forward the input
term x W_ihᵀ of every step at once (L1; the bias is added in the step kernel); backward
dX = dA W_ih, dW_ih = dAᵀ X, dW_hh = dAᵀ H_prev and dW_hr = Σ_t ([active_t] ⊙ dh_t)ᵀ m_t
(L8, L13, L14), and db = Σ_rows dA by ``matmul.column_sums``. H_prev, the state each step
started from, is built once after the loop from y shifted by one visited step (the kernel
``previous``, the reference's ``lstm_previous``): one product over T·B rows, at the cost of
a (T, B, P) buffer, as the CPU kernels build it (``_h_prev``).

The forward recurrence runs one of two ways (``_forward_plan`` chooses; tests force either
with ``force_forward_path``):

- persistent (``_persistent_forward``): one cooperative launch of ``persistent_forward`` for
  the whole sequence, a grid-wide sync between steps in place of the launch boundary (two
  per step with a projection: m_t complete before h_t = m_t W_hrᵀ). Block q owns
  ceil(H / blocks) hidden units, stages their rows of W_hh in shared memory once
  (``PERSISTENT_SHARED_BYTES`` per block bounds them), and its threads stride over (b, j)
  of its units (``persistent_cell``), then, with a projection, over (b, k) of its share of
  the P outputs (``persistent_project``). Chosen when W_hh's slices fit and the block count
  fits the device's co-resident limit (``max_cooperative_grid_blocks`` of the compiled
  overload); T = 0 and everything else run per step. The simulator runs blocks one after
  another and its grid sync is a block barrier (numba/numba#8719), so there its limit is
  taken as 1 and a multi-block persistent forward is refused: the tests check the
  persistent path on one block only; a multi-block grid is checked on a GPU alone.
- per step (``_per_step_forward``): one launch per step, one thread per (batch row b,
  hidden unit j) (``THREADS`` per block, the grid from B·H), as the backward below.

The step kernels, one thread per (b, j) or (b, k):

- forward, ``cell_forward``: the unit's four pre-activations (its four rows of W_hh against
  h_{t-1}[b]), then ``cell_update`` (a device function the persistent kernel's cell calls
  too): L2-L4, L6, the cache, and h_t and y_t directly; with a projection it writes
  m_t instead and a second launch per step, one thread per (b, k) of the P outputs, takes
  h_t = m_t W_hrᵀ (``project_forward``, through ``project_unit``, which the persistent
  kernel's projection calls too). h is double-buffered (every thread of row b reads
  all of h_{t-1}[b], so h_t goes to the other buffer; swapped per step); c is updated in
  place (each thread reads and writes only its own element). The persistent kernel's
  device functions do the same per block.
- backward, per step in the reverse of the forward order: with a projection first
  ``adjoint_projected`` (dh_t = δh + dy_t, L7, per (b, k)); then ``cell_backward`` (L7-L12,
  L14 per (b, j): dm_t, δc and the unit's four columns of da_t); then ``carry_backward``
  (δh ← da_t W_hh per (b, k), L12): it needs every unit's da_t, hence a launch of its own.

Where this goes next: the backward as a persistent kernel too (W_hh's columns per block);
and ``cell_forward``'s neighbouring threads (units j, j + 1) read W_hh[j, k] and
W_hh[j + 1, k], P elements apart; W_hhᵀ stored once per call would make them contiguous.

Every function takes host NumPy or numba.cuda device arrays. The forward gives device
arrays back when x is one, host copies otherwise; the backward likewise after dy. Complex
input (complex-step checks) runs on the reference kernels, on the host. Float32 and
float64 as given; each kernel is compiled per element type (``_kernels``) so that its
constants have that type.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Callable, Iterator
from typing import Any, Literal, NamedTuple

import numba
import numpy as np
from numba import cuda

from .. import reference as ref
from ..contract import LSTMParams, LSTMState, result_dtype
from . import arrays, elementwise
from .matmul import column_sums, matmul
from .scalar import sigmoid_dev

__all__ = ["THREADS", "PERSISTENT_SHARED_BYTES", "LSTMCache", "lstm_forward", "lstm_backward",
           "force_forward_path", "zero_absent"]

THREADS = 64                         # threads per block of every step kernel
#: Bytes of shared memory a block of the persistent forward holds its rows of W_hh in: the
#: static shared memory a CUDA block may have without an opt-in.
PERSISTENT_SHARED_BYTES = 48 * 1024

Path = Literal["persistent", "per_step"]
# (path, blocks or None) forced by ``force_forward_path``; None: chosen by ``_forward_plan``
_FORCED: contextvars.ContextVar[tuple[Path, int | None] | None] = contextvars.ContextVar(
    "nongate_np.kernels.cuda.lstm._FORCED", default=None)


class LSTMCache(NamedTuple):
    """What ``lstm_backward`` needs (L15), all device arrays of one dtype: the input, the
    initial state and the weights as the forward used them, the output y, and per step the
    activated gates, c_t and tanh c_t (L15's 6·B·H values)."""

    x: Any                          # (T, B, I)
    h0: Any                         # (B, P)
    c0: Any                         # (B, H)
    w_ih: Any                       # (4H, I)
    w_hh: Any                       # (4H, P)
    w_hr: Any                       # (P, H), or None without a projection
    y: Any                          # (T, B, P), zero at inactive steps
    gates: Any                      # activated i|f|g|o (T, B, 4H)
    c: Any                          # cell states (T, B, H), carried at inactive steps
    tanh_c: Any                     # tanh(c) (T, B, H)
    lengths: Any                    # (B,) ints (T for every row without lengths)
    reverse: bool
    on_device: bool                 # x was a device array: the backward returns device arrays


def _kernels(dtype: Any) -> Any:
    """The step kernels for one element type (``dtype``, a numba float type): typed constants
    keep float32 arithmetic in float32."""
    one = dtype(1)
    zero = dtype(0)
    W_SLOTS = PERSISTENT_SHARED_BYTES // (dtype.bitwidth // 8)     # noqa: N806 (a shape)

    @cuda.jit(device=True)
    def cell_update(t, r, j, a_i, a_f, a_g, a_o, c_old, h_prev, lengths, out, y, project,
                    gates, cs, tcs, keep):
        """L2-L4, L6 of unit j of row r at step t from its pre-activations a (L1), for both
        forward paths: returns c_t (c_old for an inactive row); ``out`` gets h_t (y_t too)
        or, with ``project``, m_t; with ``keep`` the cache's gates, c and tanh c at t."""
        H = cs.shape[2]
        i = sigmoid_dev(a_i, one)                                      # L2
        f = sigmoid_dev(a_f, one)
        g = math.tanh(a_g)
        o = sigmoid_dev(a_o, one)
        c_new = f * c_old + i * g                                      # L3
        tc = math.tanh(c_new)
        m = o * tc                                                     # L4
        active = t < lengths[r]
        c = c_new if active else c_old                                 # L6
        if keep:
            gates[t, r, j] = i
            gates[t, r, H + j] = f
            gates[t, r, 2 * H + j] = g
            gates[t, r, 3 * H + j] = o
            cs[t, r, j] = c
            tcs[t, r, j] = tc
        if project:
            out[r, j] = m
        else:                                                          # L5: h_t = m_t
            out[r, j] = m if active else h_prev[r, j]                  # L6
            y[t, r, j] = m if active else zero
        return c

    @cuda.jit
    def cell_forward(t, xw, b, w_hh, h_prev, c_in, c_out, lengths, out, y, project, gates,
                     cs, tcs, keep):
        """L1-L4, L6 of step t, one thread per (b, j): c_out[b, j] (c_in's, kept by an
        inactive row); ``out`` (B, P) gets h_t (y_t too) or, with ``project``, m_t (B, H);
        with ``keep`` the cache's gates, c and tanh c at t."""
        n = cuda.grid(1)
        B, H = c_out.shape[0], c_out.shape[1]
        if n >= B * H:
            return
        r, j = n // H, n % H
        a_i = xw[t, r, j] + b[j]                                       # L1
        a_f = xw[t, r, H + j] + b[H + j]
        a_g = xw[t, r, 2 * H + j] + b[2 * H + j]
        a_o = xw[t, r, 3 * H + j] + b[3 * H + j]
        for k in range(h_prev.shape[1]):
            h = h_prev[r, k]
            a_i += h * w_hh[j, k]
            a_f += h * w_hh[H + j, k]
            a_g += h * w_hh[2 * H + j, k]
            a_o += h * w_hh[3 * H + j, k]
        c_out[r, j] = cell_update(t, r, j, a_i, a_f, a_g, a_o, c_in[r, j], h_prev, lengths,
                                  out, y, project, gates, cs, tcs, keep)

    @cuda.jit(device=True)
    def project_unit(t, r, k, m, w_hr, h_prev, lengths, h_next, y):
        """L5-L6 of output k of row r at step t, for both forward paths: h_t = m_t W_hrᵀ
        into h_next and y_t, or h_{t-1} and y_t = 0 for an inactive row."""
        if t < lengths[r]:
            h = m[r, 0] * w_hr[k, 0]
            for j in range(1, m.shape[1]):
                h += m[r, j] * w_hr[k, j]
            h_next[r, k] = h
            y[t, r, k] = h
        else:
            h_next[r, k] = h_prev[r, k]
            y[t, r, k] = zero

    @cuda.jit
    def project_forward(t, m, w_hr, h_prev, lengths, h_next, y):
        """L5-L6 with a projection, one thread per (b, k): h_t = m_t W_hrᵀ into h_next and
        y_t (h_{t-1} and 0 for an inactive row)."""
        n = cuda.grid(1)
        B, P = h_next.shape[0], h_next.shape[1]
        if n >= B * P:
            return
        project_unit(t, n // P, n % P, m, w_hr, h_prev, lengths, h_next, y)

    @cuda.jit
    def adjoint_projected(t, dh, dy, lengths, dh_t, dh_seq):
        """L7 with a projection, one thread per (b, k): dh_t = δh + dy_t, kept as dh_seq[t]
        (zero for an inactive row, L14) for dW_hr."""
        n = cuda.grid(1)
        B, P = dh.shape[0], dh.shape[1]
        if n >= B * P:
            return
        r, k = n // P, n % P
        v = dh[r, k] + dy[t, r, k]
        dh_t[r, k] = v
        dh_seq[t, r, k] = v if t < lengths[r] else zero

    @cuda.jit
    def cell_backward(t, t_prev, dh, dy, dh_t, w_hr, project, dc, gates, cs, tcs, c0,
                      lengths, da):
        """L7-L12, L14 of step t, one thread per (b, j): the unit's four columns of da_t
        (zero for an inactive row) and, for an active row, δc ← dc_t ⊙ f. dm_t is
        δh + dy_t (L7), or dh_t W_hr with ``project`` (L8). c_{t-1} is the cached c at
        t_prev, the step the forward visited before t, if it exists and was active, else
        c0 (L6)."""
        n = cuda.grid(1)
        B, H = dc.shape[0], dc.shape[1]
        if n >= B * H:
            return
        r, j = n // H, n % H
        if t >= lengths[r]:                                            # L14
            da[t, r, j] = zero
            da[t, r, H + j] = zero
            da[t, r, 2 * H + j] = zero
            da[t, r, 3 * H + j] = zero
            return
        if project:
            dm = dh_t[r, 0] * w_hr[0, j]                               # L8
            for k in range(1, dh_t.shape[1]):
                dm += dh_t[r, k] * w_hr[k, j]
        else:
            dm = dh[r, j] + dy[t, r, j]                                # L7
        i = gates[t, r, j]
        f = gates[t, r, H + j]
        g = gates[t, r, 2 * H + j]
        o = gates[t, r, 3 * H + j]
        tc = tcs[t, r, j]
        has_prev = t_prev >= 0 and t_prev < cs.shape[0]
        c_prev = cs[t_prev, r, j] if has_prev and t_prev < lengths[r] else c0[r, j]
        dct = dc[r, j] + dm * o * (one - tc * tc)                      # L9
        da[t, r, j] = dct * g * i * (one - i)                          # L10-L11
        da[t, r, H + j] = dct * c_prev * f * (one - f)
        da[t, r, 2 * H + j] = dct * i * (one - g * g)
        da[t, r, 3 * H + j] = dm * tc * o * (one - o)
        dc[r, j] = dct * f                                             # L12

    @cuda.jit
    def carry_backward(t, da, w_hh, lengths, dh):
        """L12, L14, one thread per (b, k): δh ← da_t W_hh for an active row."""
        n = cuda.grid(1)
        B, P = dh.shape[0], dh.shape[1]
        if n >= B * P:
            return
        r, k = n // P, n % P
        if t < lengths[r]:
            v = da[t, r, 0] * w_hh[0, k]
            for q in range(1, w_hh.shape[0]):
                v += da[t, r, q] * w_hh[q, k]
            dh[r, k] = v

    @cuda.jit
    def previous(seq, first, lengths, reverse, out):
        """L6, L13, one thread per (t, b, k): the state step t started from, seq at the
        step visited before it if that step exists and was active, else ``first``."""
        n = cuda.grid(1)
        T, B, P = seq.shape[0], seq.shape[1], seq.shape[2]
        if n >= T * B * P:
            return
        t, r, k = n // (B * P), (n // P) % B, n % P
        t_prev = t + 1 if reverse else t - 1
        if t_prev >= 0 and t_prev < T and t_prev < lengths[r]:
            out[t, r, k] = seq[t_prev, r, k]
        else:
            out[t, r, k] = first[r, k]

    @cuda.jit
    def hidden(gates, tcs, m):
        """L4 recomputed for dW_hr (L8), one thread per (t, b, j): m_t = o ⊙ tanh c_t."""
        n = cuda.grid(1)
        T, B, H = tcs.shape[0], tcs.shape[1], tcs.shape[2]
        if n >= T * B * H:
            return
        t, r, j = n // (B * H), (n // H) % B, n % H
        m[t, r, j] = gates[t, r, 3 * H + j] * tcs[t, r, j]

    @cuda.jit(device=True)
    def stage(w_hh, units, w):
        """Copy this block's rows of W_hh (gate g, unit j0 + jl, for its ``units`` units from
        j0) into the shared w, row (g·units + jl) of P; rows past H stay unwritten."""
        H, P = w_hh.shape[0] // 4, w_hh.shape[1]
        j0 = cuda.blockIdx.x * units
        n = cuda.threadIdx.x
        while n < 4 * units * P:
            row, k = n // P, n % P
            g, jl = row // units, row % units
            if j0 + jl < H:
                w[n] = w_hh[g * H + j0 + jl, k]
            n += cuda.blockDim.x

    @cuda.jit(device=True)
    def persistent_cell(t, units, w, xw, b, h_prev, c, lengths, out, y, project, gates, cs,
                        tcs, keep):
        """``cell_forward``'s L1-L4, L6 for this block's units (every row b, the block's
        threads striding over them), W_hh's rows from the shared w (``stage``); c is
        updated in place."""
        B, H = c.shape[0], c.shape[1]
        P = h_prev.shape[1]
        j0 = cuda.blockIdx.x * units
        n = cuda.threadIdx.x
        while n < B * units:
            r, jl = n // units, n % units
            j = j0 + jl
            if j < H:
                a_i = xw[t, r, j] + b[j]                               # L1
                a_f = xw[t, r, H + j] + b[H + j]
                a_g = xw[t, r, 2 * H + j] + b[2 * H + j]
                a_o = xw[t, r, 3 * H + j] + b[3 * H + j]
                for k in range(P):
                    h = h_prev[r, k]
                    a_i += h * w[jl * P + k]
                    a_f += h * w[(units + jl) * P + k]
                    a_g += h * w[(2 * units + jl) * P + k]
                    a_o += h * w[(3 * units + jl) * P + k]
                c[r, j] = cell_update(t, r, j, a_i, a_f, a_g, a_o, c[r, j], h_prev, lengths,
                                      out, y, project, gates, cs, tcs, keep)
            n += cuda.blockDim.x

    @cuda.jit(device=True)
    def persistent_project(t, m, w_hr, h_prev, lengths, h_next, y):
        """``project_forward``'s L5-L6 for this block's share of the P outputs (every row
        b): h_t = m_t W_hrᵀ, or h_{t-1} and y_t = 0 for an inactive row."""
        B, P = h_next.shape[0], h_next.shape[1]
        per = (P + cuda.gridDim.x - 1) // cuda.gridDim.x
        k0 = cuda.blockIdx.x * per
        n = cuda.threadIdx.x
        while n < B * per:
            k = k0 + n % per
            if k < P:
                project_unit(t, n // per, k, m, w_hr, h_prev, lengths, h_next, y)
            n += cuda.blockDim.x

    @cuda.jit
    def persistent_forward(units, reverse, xw, b, w_hh, w_hr, h0, c0, h_a, h_b, c, m,
                           lengths, y, project, gates, cs, tcs, keep):
        """The whole forward recurrence (L1-L6) in one cooperative launch: each block
        stages its ``units`` units' rows of W_hh in shared memory once, then per step
        ``persistent_cell`` (and, with ``project``, ``persistent_project``) with a grid
        sync after each phase in place of a launch boundary. h is double-buffered: step s
        reads h_b and writes h_a when s is even, the other way round when odd (h0 is
        copied into h_b first); c starts as a copy of c0. Without a projection ``m`` and
        ``w_hr`` are unread placeholders."""
        grid = cuda.cg.this_grid()
        w = cuda.shared.array(W_SLOTS, dtype)
        stage(w_hh, units, w)
        B, P, H = h0.shape[0], h0.shape[1], c0.shape[1]
        n = cuda.grid(1)
        while n < B * max(P, H):
            r = n // max(P, H)
            q = n % max(P, H)
            if q < P:
                h_b[r, q] = h0[r, q]
            if q < H:
                c[r, q] = c0[r, q]
            n += cuda.gridsize(1)
        grid.sync()               # W_hh staged and the initial state written, grid-wide
        T = xw.shape[0]
        for s in range(T):
            t = T - 1 - s if reverse else s
            h_prev, h_next = (h_b, h_a) if s % 2 == 0 else (h_a, h_b)
            persistent_cell(t, units, w, xw, b, h_prev, c, lengths,
                            m if project else h_next, y, project, gates, cs, tcs, keep)
            if project:
                grid.sync()       # every unit's m_t written before any h_t = m_t W_hrᵀ
                persistent_project(t, m, w_hr, h_prev, lengths, h_next, y)
            grid.sync()           # h_t complete before step s + 1 reads it

    return _StepKernels(cell_update, cell_forward, project_unit, project_forward,
                        adjoint_projected,
                        cell_backward, carry_backward, previous, hidden, stage,
                        persistent_cell, persistent_project, persistent_forward)


class _StepKernels(NamedTuple):
    cell_update: Any
    cell_forward: Any
    project_unit: Any
    project_forward: Any
    adjoint_projected: Any
    cell_backward: Any
    carry_backward: Any
    previous: Any
    hidden: Any
    stage: Any                      # device functions of the persistent forward
    persistent_cell: Any
    persistent_project: Any
    persistent_forward: Any         # the cooperative kernel


_KERNELS = {np.dtype(np.float32): _kernels(numba.float32),
            np.dtype(np.float64): _kernels(numba.float64)}


def _launch(n: int) -> tuple[int, int]:
    """(blocks, threads per block) for n threads (n ≥ 1): ``THREADS`` per block, fewer
    when n is smaller."""
    threads = min(THREADS, n)
    return (n + threads - 1) // threads, threads


def _copy(a: Any) -> Any:
    """A fresh device array equal to the device array ``a`` (device to device)."""
    out = arrays.empty(a.shape, a.dtype)
    out.copy_to_device(a)
    return out


def zero_absent(x: Any, present: Any, axis: int) -> Any:
    """``reference.zero_absent`` for a 3-D device array x: every entry of a step that
    ``present`` (booleans, host or device, of x's shape without ``axis``) marks absent set
    to 0, in a new device array; x itself when present is None or all true.

    NOTE: selected away (``elementwise.where``) before any product: a NaN or inf in padding
    times a zero weight would be NaN."""
    if present is None:
        return x
    present = np.asarray(arrays.to_host(present), np.bool_)
    if present.all():
        return x
    return elementwise.where(arrays.to_device(np.expand_dims(present, axis), np.bool_), x, 0)


def _lengths(lengths: Any, T: int, B: int) -> Any:
    """The lengths on the device as ints ((B,) filled with T when None)."""
    if lengths is None:
        return arrays.to_device(np.full(B, T, np.int64), np.int64)
    if arrays.is_device(lengths):
        return lengths
    return arrays.to_device(np.asarray(lengths), np.int64)


@contextlib.contextmanager
def force_forward_path(path: Path, blocks: int | None = None) -> Iterator[None]:
    """Inside the block every ``lstm_forward`` takes ``path``: "per_step" (a launch per
    step) or "persistent" (one cooperative launch), the latter on ``blocks`` blocks (None:
    as ``_forward_plan`` sizes it, ignoring the co-resident limit). For tests and
    benchmarks; a context variable, so it does not leak into other threads or tasks.

    Raises
    ------
    ValueError
        An unknown path, or blocks < 1 (also at the forward: a forced block count whose
        slice of W_hh does not fit ``PERSISTENT_SHARED_BYTES``, or more than one block on
        the simulator).
    """
    if path not in ("persistent", "per_step"):
        raise ValueError(f"force_forward_path: path must be 'persistent' or 'per_step', "
                         f"got {path!r}")
    if blocks is not None and blocks < 1:
        raise ValueError(f"force_forward_path: blocks must be >= 1, got {blocks}")
    token = _FORCED.set((path, blocks))
    try:
        yield
    finally:
        _FORCED.reset(token)


def _units_fit(P: int, itemsize: int) -> int:
    """The most hidden units whose four rows of W_hh (4·P elements each unit) fit in
    ``PERSISTENT_SHARED_BYTES``."""
    return PERSISTENT_SHARED_BYTES // (4 * P * itemsize)


def _coresident_blocks(kernel: Any, args: tuple[Any, ...], threads: int) -> int:
    """How many blocks of ``kernel`` with ``threads`` threads (and its static shared memory)
    the device runs at once, so that a cooperative launch of that many can sync: asked of
    the overload compiled for ``args``. 1 on the simulator, whose grid sync is a block
    barrier (it runs the blocks one after another: numba/numba#8719)."""
    if numba.config.ENABLE_CUDASIM:
        return 1
    overload = kernel.compile(tuple(kernel.typeof_pyval(a) for a in args))
    return int(overload.max_cooperative_grid_blocks(threads))


def _threads(B: int, H: int, P: int, blocks: int) -> int:
    """Threads per block of the persistent forward: one per (row, unit) of a block's slice
    and per (row, output) of its share of P, at most ``THREADS`` (they stride beyond)."""
    units, per = -(-H // blocks), -(-P // blocks)
    return max(1, min(THREADS, B * max(units, per)))


def _forward_plan(T: int, B: int, H: int, P: int, itemsize: int,
                  coresident: Callable[[], int]) -> int | None:
    """The block count of the persistent forward, or None for the per-step launches.

    The rule: blocks enough for one thread per (b, j) (B·H / ``THREADS``), but no fewer
    than W_hh's rows need to fit ``PERSISTENT_SHARED_BYTES`` per block and no more than H
    (a block owns one unit at least); persistent when that many blocks are co-resident
    (``coresident()``: how many blocks of ``THREADS`` threads, the most a block has, the
    device runs at once, ``_coresident_blocks``), else as many as are co-resident if W_hh
    still fits them, else per step. T = 0 runs no step:
    per step (which copies the state). ``force_forward_path`` overrides the choice."""
    forced = _FORCED.get()
    fit = _units_fit(P, itemsize)
    need = -(-H // fit) if fit else None
    if forced is not None:
        path, blocks = forced
        if path == "per_step" or T == 0:
            return None
        blocks = blocks if blocks is not None else max(need or 1, min(H, -(-B * H // THREADS)))
        if fit < -(-H // blocks):
            raise ValueError(f"lstm_forward: W_hh's rows of {-(-H // blocks)} units do not fit "
                             f"PERSISTENT_SHARED_BYTES ({PERSISTENT_SHARED_BYTES}) per block")
        if numba.config.ENABLE_CUDASIM and blocks > 1:
            raise ValueError("lstm_forward: the simulator runs blocks one after another, so "
                             "a persistent forward there must be one block")
        return blocks
    if T == 0 or need is None:
        return None
    want = max(need, min(H, -(-B * H // THREADS)))
    blocks = min(want, coresident())
    return blocks if blocks >= need else None


def lstm_forward(x: Any, state0: LSTMState, params: LSTMParams, lengths: Any, reverse: bool,
                 keep_cache: bool) -> tuple[Any, LSTMState, LSTMCache | ref.LSTMCache | None]:
    """Same contract as ``reference.lstm_forward`` (L1-L6), on host or device arrays.

    x (T, B, I); state0 (h0 (B, P), c0 (B, H)); params (w_ih (4H, I), w_hh (4H, P), b (4H,),
    w_hr (P, H) or None); lengths (B,) ints in 0..T or None. Returns y (T, B, P), the final
    state and, with ``keep_cache``, an :class:`LSTMCache` (a ``reference.LSTMCache`` for
    complex input), else None; device arrays if x is one, else host arrays. The recurrence
    runs as one cooperative launch or a launch per step (``_forward_plan``). Raises
    TypeError for a device array of another dtype than the result's; ValueError as
    ``force_forward_path`` says."""
    dtype = result_dtype(x, state0, params)
    if dtype.kind == "c":          # complex-step checks run on the reference kernels
        return ref.lstm_forward(x, state0, params, lengths, reverse, keep_cache)
    on_device = arrays.is_device(x)
    T, B, I = x.shape
    H = params.w_hh.shape[0] // 4
    P = state0.h.shape[1]
    x_d, h0, c0, w_ih, w_hh, b = (arrays.to_device(a, dtype) for a in
                                  (x, state0.h, state0.c, params.w_ih, params.w_hh, params.b))
    w_hr = arrays.to_device(params.w_hr, dtype)
    lens = _lengths(lengths, T, B)
    # the cache keeps the zeroed x too, for dW_ih (L13)
    x_d = zero_absent(x_d, ref.lstm_active(T, B, arrays.to_host(lengths)), 2)
    xw = arrays.empty((T, B, 4 * H), dtype)
    matmul(x_d.reshape(T * B, I), w_ih, xw.reshape(T * B, 4 * H), trans_b=True)  # L1
    y = arrays.empty((T, B, P), dtype)
    slots = (T, B) if keep_cache else (1, 1)           # not kept: placeholders, unwritten
    gates = arrays.empty((*slots, 4 * H), dtype)
    cs, tcs = arrays.empty((*slots, H), dtype), arrays.empty((*slots, H), dtype)
    steps = (xw, b, w_hh, w_hr, h0, c0, lens, bool(reverse), y, gates, cs, tcs,
             bool(keep_cache))
    k = _KERNELS[dtype]

    def coresident() -> int:     # asked only when the persistent path is possible
        args, _ = _persistent_args(k, *steps, units=1)
        return _coresident_blocks(k.persistent_forward, args, THREADS)

    blocks = _forward_plan(T, B, H, P, dtype.itemsize, coresident)
    if blocks is None:
        h_n, c_n = _per_step_forward(k, *steps)
    else:
        h_n, c_n = _persistent_forward(k, *steps, blocks=blocks)
    cache = LSTMCache(x=x_d, h0=h0, c0=c0, w_ih=w_ih, w_hh=w_hh, w_hr=w_hr, y=y, gates=gates,
                      c=cs, tanh_c=tcs, lengths=lens, reverse=bool(reverse),
                      on_device=on_device) \
        if keep_cache else None
    y, h_n, c_n = (arrays.returned(a, on_device) for a in (y, h_n, c_n))
    return y, LSTMState(h_n, c_n), cache


def lstm_forward_bidirectional(x: Any, states: tuple[LSTMState, LSTMState],
                               params: tuple[LSTMParams, LSTMParams], lengths: Any,
                               keep_cache: bool) -> tuple[tuple[Any, LSTMState, Any], ...]:
    """Same contract as ``reference.lstm_forward_bidirectional``: the two directions one
    after the other, each :func:`lstm_forward`."""
    return tuple(lstm_forward(x, states[d], params[d], lengths, bool(d), keep_cache)
                 for d in (0, 1))


def _per_step_forward(k: _StepKernels, xw: Any, b: Any, w_hh: Any, w_hr: Any, h0: Any,
                      c0: Any, lens: Any, reverse: bool, y: Any, gates: Any, cs: Any, tcs: Any,
                      keep: bool) -> tuple[Any, Any]:
    """The recurrence as a launch per step (``cell_forward``, and ``project_forward`` with a
    projection): writes y and, with ``keep``, gates, cs and tcs; returns (h_n, c_n), device
    arrays of their own."""
    T, B, H4 = xw.shape
    H, P, dtype = H4 // 4, h0.shape[1], xw.dtype
    h_pair = (arrays.empty((B, P), dtype), arrays.empty((B, P), dtype))
    c = arrays.empty((B, H), dtype)
    project = w_hr is not None
    m = arrays.empty((B, H), dtype) if project else None
    cell, proj = _launch(B * H), _launch(B * P)
    h_prev, c_prev = h0, c0
    for s in range(T):
        t = T - 1 - s if reverse else s
        h_next = h_pair[s % 2]
        k.cell_forward[cell](t, xw, b, w_hh, h_prev, c_prev, c, lens, m if project else h_next,
                             y, project, gates, cs, tcs, keep)
        if project:
            k.project_forward[proj](t, m, w_hr, h_prev, lens, h_next, y)
        h_prev, c_prev = h_next, c
    return (h_prev, c_prev) if T else (_copy(h0), _copy(c0))


def _persistent_args(k: _StepKernels, xw: Any, b: Any, w_hh: Any, w_hr: Any, h0: Any,
                     c0: Any, lens: Any, reverse: bool, y: Any, gates: Any, cs: Any, tcs: Any,
                     keep: bool, *, units: int) -> tuple[tuple[Any, ...], tuple[Any, Any, Any]]:
    """``persistent_forward``'s arguments, and the (h_a, h_b, c) buffers it writes."""
    B, H, P, dtype = h0.shape[0], c0.shape[1], h0.shape[1], xw.dtype
    h_a, h_b = arrays.empty((B, P), dtype), arrays.empty((B, P), dtype)
    c = arrays.empty((B, H), dtype)
    project = w_hr is not None
    # without a projection the kernel reads neither m nor w_hr: placeholders of the right
    # types stand in
    m = arrays.empty((B, H), dtype) if project else c
    args = (units, reverse, xw, b, w_hh, w_hr if project else w_hh, h0, c0, h_a, h_b, c, m,
            lens, y, project, gates, cs, tcs, keep)
    return args, (h_a, h_b, c)


def _persistent_forward(k: _StepKernels, xw: Any, b: Any, w_hh: Any, w_hr: Any, h0: Any,
                        c0: Any, lens: Any, reverse: bool, y: Any, gates: Any, cs: Any,
                        tcs: Any, keep: bool, *, blocks: int) -> tuple[Any, Any]:
    """The recurrence (T ≥ 1 steps) as one cooperative launch of ``persistent_forward`` on
    ``blocks`` blocks, each owning ceil(H / blocks) hidden units whose rows of W_hh it keeps
    in shared memory (they must fit ``PERSISTENT_SHARED_BYTES``; with a projection each
    block also owns a share of the P outputs). Writes what ``_per_step_forward`` writes and
    returns (h_n, c_n), device arrays of their own. On the simulator only one block gives
    the right result (its grid sync is a block barrier)."""
    T, B, H4 = xw.shape
    H, P = H4 // 4, h0.shape[1]
    args, (h_a, h_b, c) = _persistent_args(k, xw, b, w_hh, w_hr, h0, c0, lens, reverse, y,
                                           gates, cs, tcs, keep, units=-(-H // blocks))
    k.persistent_forward[blocks, _threads(B, H, P, blocks)](*args)
    return (h_a if (T - 1) % 2 == 0 else h_b), c


def lstm_backward(cache: LSTMCache | ref.LSTMCache, dy: Any, dstate: LSTMState
                  ) -> tuple[Any, LSTMState, LSTMParams]:
    """Same contract as ``reference.lstm_backward`` (L7-L14), on host or device arrays.

    cache from :func:`lstm_forward`; dy (T, B, P); dstate (dh_n (B, P), dc_n (B, H)).
    Returns dx (T, B, I), the adjoint of the initial state and the weights' gradients
    (dw_ih (4H, I), dw_hh (4H, P), db (4H,), dw_hr (P, H) or None): device arrays if the
    forward's x was one, else host arrays (as ``attention_backward``)."""
    if isinstance(cache, ref.LSTMCache):               # the reference's (complex input)
        return ref.lstm_backward(cache, dy, dstate)
    x, y, gates, cs, tcs = cache.x, cache.y, cache.gates, cache.c, cache.tanh_c
    w_ih, w_hh, w_hr, lens, reverse = (cache.w_ih, cache.w_hh, cache.w_hr, cache.lengths,
                                       cache.reverse)
    dtype = np.dtype(y.dtype)
    on_device = cache.on_device
    T, B, I = x.shape
    H = w_hh.shape[0] // 4
    P = y.shape[2]
    k = _KERNELS[dtype]
    dy_d = arrays.to_device(dy, dtype)
    # δh, δc: the kernels overwrite them, so never the caller's own device arrays
    dh, dc = (_copy(a) if arrays.is_device(a) else arrays.to_device(a, dtype) for a in dstate)
    da = arrays.empty((T, B, 4 * H), dtype)
    project = w_hr is not None
    dh_seq: Any = arrays.empty((T, B, P), dtype) if project else None
    # without a projection cell_backward reads neither dh_t nor w_hr: placeholders of the
    # right types stand in
    dh_t = arrays.empty((B, P), dtype) if project else dh
    w_hr_ = w_hr if project else w_hh
    cell, rows = _launch(B * H), _launch(B * P)
    for s in range(T):
        t = s if reverse else T - 1 - s
        t_prev = t + 1 if reverse else t - 1
        if project:
            k.adjoint_projected[rows](t, dh, dy_d, lens, dh_t, dh_seq)
        k.cell_backward[cell](t, t_prev, dh, dy_d, dh_t, w_hr_, project, dc, gates, cs, tcs,
                              cache.c0, lens, da)
        k.carry_backward[rows](t, da, w_hh, lens, dh)
    da2 = da.reshape(T * B, 4 * H)
    dx = arrays.empty((T, B, I), dtype)
    matmul(da2, w_ih, dx.reshape(T * B, I))                            # L13
    dw_ih = matmul(da2, x.reshape(T * B, I), trans_a=True)
    h_prev = arrays.empty((T, B, P), dtype)
    if T:
        k.previous[_launch(T * B * P)](y, cache.h0, lens, reverse, h_prev)
    dw_hh = matmul(da2, h_prev.reshape(T * B, P), trans_a=True)
    db = column_sums(da2)
    dw_hr = None
    if project:
        m = arrays.empty((T, B, H), dtype)
        if T:
            k.hidden[_launch(T * B * H)](gates, tcs, m)
        dw_hr = matmul(dh_seq.reshape(T * B, P), m.reshape(T * B, H), trans_a=True)  # L8
    dx, dh, dc, dw_ih, dw_hh, db, dw_hr = (arrays.returned(a, on_device) for a in
                                           (dx, dh, dc, dw_ih, dw_hh, db, dw_hr))
    return dx, LSTMState(dh, dc), LSTMParams(dw_ih, dw_hh, db, dw_hr)
