"""NumPy kernels of the GRU, one layer and one direction over a whole sequence
(docs/math.md R1-R14): the specification, written to be read against the math.

The reference for the Numba kernels (``cpu/gru.py``, the same pair of functions with the
same arguments, results and cache), and the kernels ``ops/gru.py`` runs on every backend
but "numba" (``registry.gru_kernels``; they are not part of ``contract.Backend``). Like
``reference.py``'s, they accept float32, float64 and complex128 arrays (the complex path
for complex-step gradient checks: the formulas are analytic), on the host only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .contract import result_dtype
from .reference import lstm_active, lstm_previous, lstm_step_order, sigmoid, zero_absent

__all__ = ["GRUParams", "GRUCache", "gru_forward", "gru_backward"]

#: IEEE results (inf, NaN) for non-finite input or an overflow, without NumPy's warnings
_IEEE = np.errstate(all="ignore")


class GRUParams(NamedTuple):
    """The weights of one GRU layer and direction (docs/math.md R1-R4), or their gradients.

    Shapes: w_ih (3H, I); w_hh (3H, H); b_ih, b_hh (3H,) (zeros for a GRU without biases).
    The gates are stacked r, z, n along the 3H axis (PyTorch's order). The biases stay
    two arrays: b_hn is scaled by the reset gate and b_in is not (R4), so their gradients
    differ (R12).
    """

    w_ih: np.ndarray
    w_hh: np.ndarray
    b_ih: np.ndarray
    b_hh: np.ndarray


class GRUCache(NamedTuple):
    """What the GRU backward needs (R14). The input, the initial state and the weights are
    referenced, not copied (the input is a copy when it had inactive steps, zeroed there);
    y is the output returned to the caller."""

    x: np.ndarray                   # (T, B, I), zero at inactive steps
    h0: np.ndarray                  # (B, H)
    params: GRUParams
    y: np.ndarray                   # (T, B, H), zero at inactive steps
    gates: np.ndarray               # activated r|z|n (T, B, 3H)
    gh_n: np.ndarray                # the recurrent term of n, h_{t-1} W_hnᵀ + b_hn (T, B, H)
    active: np.ndarray              # (T, B) bool (R6)
    reverse: bool


@_IEEE
def gru_forward(x: np.ndarray, h0: np.ndarray, params: GRUParams,
                lengths: np.ndarray | None, reverse: bool, keep_cache: bool
                ) -> tuple[np.ndarray, np.ndarray, GRUCache | None]:
    """Forward of one GRU layer and direction over the whole sequence (R1-R6).

    x (T, B, I); h0 (B, H); params (:class:`GRUParams`: w_ih (3H, I), w_hh (3H, H),
    b_ih, b_hh (3H,)); lengths (B,) ints in [0, T] or None (all T steps); ``reverse`` the
    direction. Gate order r, z, n along the 3H axis (PyTorch's). x at steps past a
    sequence's length is never read: a NaN or inf there changes nothing, forward or
    backward.

    Returns y (T, B, H) (zero at steps past a sequence's length), the final state h_n
    (B, H) and, when ``keep_cache``, a :class:`GRUCache`, else None. Their dtype is NumPy's
    promotion of every argument's.
    """
    w_ih, w_hh, b_ih, b_hh = params
    T, B, _ = x.shape
    H = w_hh.shape[0] // 3
    active = lstm_active(T, B, lengths)
    dtype = result_dtype(x, h0, params)
    x = zero_absent(x, active, 2)          # the cache keeps it too, for dW_ih (R12)

    gi = (x.reshape(T * B, -1) @ w_ih.T + b_ih).reshape(T, B, 3 * H)   # R1, all steps at once
    y = np.zeros((T, B, H), dtype)
    if keep_cache:
        gates = np.empty((T, B, 3 * H), dtype)
        gh_ns = np.empty((T, B, H), dtype)
    h = h0.astype(dtype)
    for t in lstm_step_order(T, reverse):
        gh = h @ w_hh.T + b_hh                                          # R2
        r = sigmoid(gi[t, :, :H] + gh[:, :H])                           # R3
        z = sigmoid(gi[t, :, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gi[t, :, 2 * H:] + r * gh[:, 2 * H:])               # R4
        h_new = n + z * (h - n)                                         # R5
        act = active[t][:, None]
        h = np.where(act, h_new, h)                                     # R6: finished rows
        y[t] = np.where(act, h_new, 0)                                  #     keep their state
        if keep_cache:
            gates[t] = np.concatenate([r, z, n], axis=1)
            gh_ns[t] = gh[:, 2 * H:]
    cache = GRUCache(x=x, h0=h0, params=params, y=y, gates=gates, gh_n=gh_ns, active=active,
                     reverse=reverse) if keep_cache else None
    return y, h, cache


@_IEEE
def gru_backward(cache: GRUCache, dy: np.ndarray, dh_n: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, GRUParams]:
    """Back-propagation through time for one GRU layer and direction (R7-R13).

    dy (T, B, H) and dh_n (B, H): the adjoints of the outputs. Returns dx (T, B, I), dh0
    (B, H) and the weights' gradients as a :class:`GRUParams`: dw_ih (3H, I), dw_hh (3H, H),
    db_ih, db_hh (3H,).
    """
    x, h0, (w_ih, w_hh, _, _) = cache.x, cache.h0, cache.params
    y, gates, gh_ns, active, reverse = cache.y, cache.gates, cache.gh_n, cache.active, \
        cache.reverse
    T, B, _ = x.shape
    H = w_hh.shape[0] // 3
    # NOTE: y is 0 at an inactive step whatever the inputs: its adjoint there takes no part
    dy = zero_absent(dy, active, 2)
    h_prev = lstm_previous(y, h0, active, reverse)                      # h_{t-1} (R6, R12)
    dgi = np.zeros_like(gates)
    dgh = np.zeros_like(gates)
    dh = dh_n                                                           # the carry δh
    for t in reversed(lstm_step_order(T, reverse)):
        act = active[t][:, None]
        r, z, n = (gates[t, :, k * H:(k + 1) * H] for k in range(3))
        dh_t = dh + dy[t]                                               # R7
        dn = dh_t * (1 - z)                                             # R8
        dz = dh_t * (h_prev[t] - n)
        da_n = dn * (1 - n * n)                                         # R9
        dr = da_n * gh_ns[t]
        da_r, da_z = dr * r * (1 - r), dz * z * (1 - z)                 # R10
        dgi[t] = np.where(act, np.concatenate([da_r, da_z, da_n], axis=1), 0)      # R10, R13
        dgh[t] = np.where(act, np.concatenate([da_r, da_z, da_n * r], axis=1), 0)
        dh = np.where(act, dh_t * z + dgh[t] @ w_hh, dh)                # R11, R13

    dgi2, dgh2 = dgi.reshape(T * B, 3 * H), dgh.reshape(T * B, 3 * H)
    dx = (dgi2 @ w_ih).reshape(x.shape)                                 # R12
    dw_ih = dgi2.T @ x.reshape(T * B, -1)
    dw_hh = dgh2.T @ h_prev.reshape(T * B, H)
    return dx, dh, GRUParams(dw_ih, dw_hh, dgi2.sum(axis=0), dgh2.sum(axis=0))
