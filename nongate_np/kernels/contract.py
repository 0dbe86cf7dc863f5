"""The typed kernel contract: what a backend implements, and the parameter sets its kernels
take and return.

A backend is a module that implements :class:`Backend`. Its kernels take a parameter set as
one NamedTuple and return its gradients in the same NamedTuple type, so a parameter is
named, not counted, at every call. A backend's cache is its own named type, opaque to the
op: only that backend's backward reads it. kernels/README.md states the whole contract.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

__all__ = ["ATTENTION_KINDS", "AttentionParams", "Backend", "LSTMParams", "LSTMState",
           "OnlinePoolState", "backend_members", "check_kind", "for_kind", "result_dtype"]

ATTENTION_KINDS = ("additive", "gated", "weight_gated")


class LSTMParams(NamedTuple):
    """The weights of one LSTM layer and direction (docs/math.md L1-L5), or their gradients.

    Shapes: w_ih (4H, I); w_hh (4H, P); b (4H,), the sum b_ih + b_hh (its gradient is that
    of each); w_hr (P, H), or None without a projection (then P = H). The gates are stacked
    i, f, g, o along the 4H axis (PyTorch's order).
    """

    w_ih: np.ndarray
    w_hh: np.ndarray
    b: np.ndarray
    w_hr: np.ndarray | None = None


class LSTMState(NamedTuple):
    """The recurrent state of one LSTM layer and direction, or its adjoint: h (B, P) and
    c (B, H)."""

    h: np.ndarray
    c: np.ndarray


class AttentionParams(NamedTuple):
    """The parameters of attention pooling (docs/math.md A1-A5), or their gradients.

    Shapes: w_proj (A, D), b_proj (A,); query (Q, A); w_gate (A, D), b_gate (A,) (kind
    "gated"); w_step (Q, D), b_step (Q,) (kind "weight_gated"); w_value (D', D),
    b_value (D',) (value projection; without it v = h and D' = D). A bias may be None
    (no bias); a parameter the kind does not have is None, and so is its gradient.
    """

    w_proj: np.ndarray
    b_proj: np.ndarray | None
    query: np.ndarray
    w_gate: np.ndarray | None = None
    b_gate: np.ndarray | None = None
    w_step: np.ndarray | None = None
    b_step: np.ndarray | None = None
    w_value: np.ndarray | None = None
    b_value: np.ndarray | None = None


class OnlinePoolState(NamedTuple):
    """Attention pooling folded over the steps seen so far (docs/math.md A16), per sequence
    and query: the running max μ of the scores (B, Q), −∞ before any valid step; the running
    denominator l = Σ_t m_t e^{e_t − μ} (B, Q); the running numerator
    n = Σ_t m_t γ_t e^{e_t − μ} v_t (B, Q, D'), γ_t = 1 without step gate."""

    run_max: np.ndarray
    run_sum: np.ndarray
    run_vec: np.ndarray


@runtime_checkable
class Backend(Protocol):
    """The kernels a backend module implements (module-level functions of these names and
    signatures); ``registry`` loads a backend only if it has them all.

    Arrays are float32 or float64 (complex128 on the reference kernels, for complex-step
    checks), already validated by the op: the shapes agree, ``lengths`` (B,) ints in 0..T or
    None (all T steps), ``mask`` (B, T) bools or None (every step valid), ``kind`` one of
    :data:`ATTENTION_KINDS`. Caches are the backend's own types (``Any`` here): only the
    same backend's backward reads them.
    """

    def lstm_forward(self, x: np.ndarray, state0: LSTMState, params: LSTMParams,
                     lengths: np.ndarray | None, reverse: bool, keep_cache: bool
                     ) -> tuple[np.ndarray, LSTMState, Any]:
        """One layer and direction over x (T, B, I) from state0 (L1-L6): returns y
        (T, B, P), the final state and, with ``keep_cache``, the cache (else None)."""
        ...

    def lstm_forward_bidirectional(self, x: np.ndarray, states: tuple[LSTMState, LSTMState],
                                   params: tuple[LSTMParams, LSTMParams],
                                   lengths: np.ndarray | None, keep_cache: bool
                                   ) -> tuple[tuple[np.ndarray, LSTMState, Any], ...]:
        """Both directions of one layer over x: (the forward direction's result, the
        reverse one's), each as :meth:`lstm_forward` gives it from ``states[d]`` and
        ``params[d]``, to the bit; a backend may run the two at once."""
        ...

    def lstm_backward(self, cache: Any, dy: np.ndarray, dstate: LSTMState
                      ) -> tuple[np.ndarray, LSTMState, LSTMParams]:
        """BPTT (L7-L14) from the adjoints of y and of the final state: returns dx, the
        adjoint of the initial state and the weights' gradients."""
        ...

    def attention_forward(self, h: np.ndarray, params: AttentionParams, kind: str,
                          mask: np.ndarray | None, keep_cache: bool
                          ) -> tuple[np.ndarray, np.ndarray, Any]:
        """Attention pooling of h (B, T, D) (A1-A5): returns pooled (B, Q, D'), the
        weights ω (B, Q, T) and, with ``keep_cache``, the cache (else None)."""
        ...

    def attention_backward(self, cache: Any, dpooled: np.ndarray, dweights: np.ndarray
                           ) -> tuple[np.ndarray, AttentionParams]:
        """The adjoints of pooled and ω back to dh (B, T, D) and the parameters'
        gradients (A6-A14)."""
        ...

    def attention_online(self, state: OnlinePoolState | None, h: np.ndarray,
                         params: AttentionParams, kind: str, mask: np.ndarray | None
                         ) -> tuple[np.ndarray, OnlinePoolState]:
        """Fold the next steps h (B, t, D) into ``state`` (None: nothing seen yet) (A16):
        returns the pooling of every step seen so far (B, Q, D') (A17) and the new state.
        Forward only."""
        ...


def backend_members() -> tuple[str, ...]:
    """The names a backend module must define: the methods of :class:`Backend`."""
    return tuple(name for name, value in vars(Backend).items()
                 if callable(value) and not name.startswith("_"))


def check_kind(kind: str, caller: str) -> None:
    """Raise ValueError naming ``caller`` unless ``kind`` is one of :data:`ATTENTION_KINDS`
    (a kernel would otherwise choose a branch for it silently)."""
    if kind not in ATTENTION_KINDS:
        raise ValueError(f"{caller}: unknown kind {kind!r}; expected one of "
                         f"{', '.join(repr(k) for k in ATTENTION_KINDS)}")


def for_kind(params: AttentionParams, kind: str) -> AttentionParams:
    """``params`` with None for the fields ``kind`` does not read: the gate's unless
    "gated", the step gate's unless "weight_gated"."""
    gated, step = kind == "gated", kind == "weight_gated"
    if (gated or params.w_gate is None and params.b_gate is None) and \
            (step or params.w_step is None and params.b_step is None):
        return params       # NOTE: the usual case, without namedtuple's slow _replace
    return params._replace(w_gate=params.w_gate if gated else None,
                           b_gate=params.b_gate if gated else None,
                           w_step=params.w_step if step else None,
                           b_step=params.b_step if step else None)


def result_dtype(*values: np.ndarray | tuple[np.ndarray | None, ...]) -> np.dtype:
    """The dtype of a kernel's outputs and gradients: that of every array given (host or
    device: read from each array's dtype), the fields of a parameter set or state included
    (None fields skipped)."""
    dtypes = set()
    for v in values:
        for a in v if isinstance(v, tuple) else (v,):
            if a is not None:
                dtypes.add(a.dtype)
    # NOTE: one dtype (the usual case) needs no promotion: this runs at every kernel call
    return np.dtype(dtypes.pop()) if len(dtypes) == 1 else \
        np.result_type(*(np.dtype(d) for d in dtypes))
