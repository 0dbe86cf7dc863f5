"""The typed kernel contract: the parameter sets a backend's kernels take and return.

Every backend's kernels take a parameter set as one NamedTuple and return its gradients in
the same NamedTuple type, so a parameter is named, not counted, at every call. A backend's
cache is its own named type, opaque to the op: only that backend's backward reads it.
kernels/README.md states the whole contract.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["ATTENTION_KINDS", "AttentionParams", "for_kind", "result_dtype"]

ATTENTION_KINDS = ("additive", "gated", "weight_gated")


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


def for_kind(params: AttentionParams, kind: str) -> AttentionParams:
    """``params`` with None for the fields ``kind`` does not read: the gate's unless
    "gated", the step gate's unless "weight_gated"."""
    gated, step = kind == "gated", kind == "weight_gated"
    return params._replace(w_gate=params.w_gate if gated else None,
                           b_gate=params.b_gate if gated else None,
                           w_step=params.w_step if step else None,
                           b_step=params.b_step if step else None)


def result_dtype(h: np.ndarray, params: AttentionParams) -> np.dtype:
    """The dtype of the outputs and gradients: that of h and every parameter given."""
    return np.result_type(h, *(a for a in params if a is not None))
