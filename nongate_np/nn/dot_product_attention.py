"""Scaled dot-product attention, as ``torch.nn.functional.scaled_dot_product_attention``:
a composition of the library's ops (matmul E10, softmax E11, where E8, dropout), so autograd
gives its gradient. Derivation: docs/math.md E41. ``nn.MultiheadAttention``
(``multihead_attention.py``) computes its heads with :func:`attend`."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import ops
from ..ops._util import tensor_arg
from ..tensor import Tensor

__all__ = ["scaled_dot_product_attention"]

_WHERE = "scaled_dot_product_attention"


def _rows_softmax(scores: Tensor) -> Tensor:
    """softmax over the last axis (E11); a row whose every score is -inf (each key masked
    out) gives zeros with zero gradient instead of NaN, as torch's ``_safe_softmax`` (E41)."""
    empty = ops.all(ops.eq(scores, -np.inf), dim=-1, keepdim=True)
    if not bool(ops.any(empty)):
        return ops.softmax(scores, -1)
    # NOTE: the empty rows' scores are set to 0 first, so softmax's backward there is finite
    # (NaN ⊙ 0 would be NaN); the second where gives them 0 and a zero gradient
    return ops.where(empty, 0.0, ops.softmax(ops.where(empty, 0.0, scores), -1))


def _causal(L: int, S: int) -> np.ndarray:
    """The causal mask of torch (top-left aligned): query i takes keys j ≤ i."""
    return np.tri(L, S, 0, dtype=np.bool_)


def attend(q: Tensor, k: Tensor, v: Tensor, scale: float, *, allowed=None, bias=None,
           is_causal: bool = False, dropout_p: float = 0.0) -> tuple[Tensor, Tensor]:
    """(P V, P) with P = dropout(softmax(s · Q Kᵀ masked)) (docs/math.md E41).

    q (..., L, E), k (..., S, E), v (..., S, Ev), the leading dims broadcast; ``allowed``
    a bool mask (True: the pair takes part), ``bias`` a float one added to the scores,
    each broadcastable to (..., L, S); ``is_causal`` masks the keys after each query
    (top-left aligned). Returns the output (..., L, Ev) and the weights P (..., L, S)."""
    scores = ops.matmul(q, ops.transpose(k, -2, -1)) * scale
    if is_causal:
        scores = ops.where(_causal(q.shape[-2], k.shape[-2]), scores, -np.inf)
    if allowed is not None:
        scores = ops.where(allowed, scores, -np.inf)
    if bias is not None:
        scores = scores + bias
    p = _rows_softmax(scores)
    if dropout_p > 0.0:
        p = ops.dropout(p, dropout_p, training=True)
    return ops.matmul(p, v), p


def _check_shapes(q: Tensor, k: Tensor, v: Tensor) -> tuple:
    """The scores' shape (..., L, S), or ValueError naming the argument that does not fit."""
    if min(q.ndim, k.ndim, v.ndim) < 2:
        raise ValueError(f"{_WHERE}: query, key and value must have at least 2 dims "
                         f"(..., L or S, E), got shapes {q.shape}, {k.shape}, {v.shape}")
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(f"{_WHERE}: key has {k.shape[-1]} features (shape {k.shape}), "
                         f"query {q.shape[-1]} (shape {q.shape}); they must be equal")
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"{_WHERE}: value has {v.shape[-2]} steps on dim -2 (shape "
                         f"{v.shape}), key {k.shape[-2]} (shape {k.shape}); they must be equal")
    try:
        lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"{_WHERE}: the leading dims of query {q.shape}, key {k.shape} and "
                         f"value {v.shape} do not broadcast together") from None
    return lead + (q.shape[-2], k.shape[-2])


def _heads(x: Tensor, groups: int) -> Tensor:
    """x (..., H, S, E) with each head repeated ``groups`` times in place (torch's
    ``repeat_interleave`` along dim -3): H·groups heads."""
    index = np.repeat(np.arange(x.shape[-3]), groups)
    return ops.index_select(x, x.ndim - 3, index)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(Q Kᵀ · scale + mask) V over the keys, as torch's (docs/math.md E41).

    Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev), the leading dims
    broadcast together; the result (..., L, Ev) in their dtype (one float dtype for all
    three: TypeError otherwise). ``scale`` defaults to 1/√E.

    ``attn_mask``: a bool mask, True where the query-key pair takes part (torch's, the
    opposite of ``nn.MultiheadAttention``'s), or a float mask added to the scores (cast to
    the query's dtype; it gets a gradient where it requires one); either broadcastable to
    (..., L, S). ``is_causal``: query i takes keys j ≤ i (top-left aligned where L ≠ S);
    not with ``attn_mask``. A query whose every key is masked out gets zeros (and zero
    gradients), as torch's. ``dropout_p`` > 0 drops weights with nongate_np's generator
    (``nongate_np.manual_seed``; always, as torch: pass 0.0 in evaluation), so the
    dropped elements differ from torch's. ``enable_gqa``: key and value may have fewer
    heads (dim -3) than query, a divisor of its number, each repeated in place.

    The gradient is autograd's through matmul (E10), softmax (E11) and where (E8).
    Raises ValueError for fewer than 2 dims, features or steps that differ, leading dims or
    a mask that do not broadcast, ``attn_mask`` with ``is_causal``, ``dropout_p`` outside
    [0, 1], a ``scale`` that is not a real number, heads that do not divide; TypeError for
    dtypes that differ, integer tensors, or a mask neither bool nor float.
    """
    q, k, v = (tensor_arg(x, _WHERE) for x in (query, key, value))
    for name, x in (("query", q), ("key", k), ("value", v)):
        # NOTE: complex and real of one precision pass, for a complex-step check (as matmul)
        if x.dtype.kind not in "fc" or np.finfo(x.dtype).dtype != np.finfo(q.dtype).dtype \
                or (x.dtype != q.dtype and "f" not in (x.dtype.kind, q.dtype.kind)):
            raise TypeError(f"{_WHERE}: query, key and value must have one float dtype, got "
                            f"{q.dtype}, {k.dtype} and {v.dtype} ({name})")
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, numbers.Real) \
            or not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{_WHERE}: dropout_p must be a probability in [0, 1], got "
                         f"{dropout_p!r}")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, numbers.Real)):
        raise ValueError(f"{_WHERE}: scale must be a real number or None, got {scale!r}")
    if enable_gqa and min(q.ndim, k.ndim, v.ndim) >= 3:
        hq = q.shape[-3]
        for name, x in (("key", k), ("value", v)):
            if x.shape[-3] == 0 or hq % x.shape[-3]:
                raise ValueError(f"{_WHERE}: with enable_gqa the heads of {name} (dim -3 of "
                                 f"{x.shape}) must divide those of query ({hq}, shape "
                                 f"{q.shape})")
        k, v = _heads(k, hq // k.shape[-3]), _heads(v, hq // v.shape[-3])
    shape = _check_shapes(q, k, v)
    allowed = bias = None
    if attn_mask is not None:
        if is_causal:
            raise ValueError(f"{_WHERE}: give attn_mask or is_causal=True, not both (torch "
                             f"refuses both too)")
        mask = tensor_arg(attn_mask, _WHERE)
        if mask.dtype.kind not in "bfc":
            raise TypeError(f"{_WHERE}: attn_mask must be bool (True: take part) or float "
                            f"(added to the scores), got dtype {mask.dtype}")
        try:
            fits = np.broadcast_shapes(mask.shape, shape) == shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{_WHERE}: attn_mask of shape {mask.shape} does not broadcast "
                             f"to the scores' shape (..., L, S) = {shape}")
        if mask.dtype == np.bool_:
            allowed = mask
        else:
            bias = mask if mask.dtype.kind == "c" or mask.dtype == q.dtype else \
                ops.cast(mask, q.dtype)
    s = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    out, _ = attend(q, k, v, s, allowed=allowed, bias=bias, is_causal=bool(is_causal),
                    dropout_p=float(dropout_p))
    return out
