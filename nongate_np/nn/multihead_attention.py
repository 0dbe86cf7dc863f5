"""``nn.MultiheadAttention``, torch's: its parameters, initialisation, signature and
results, composed of the library's ops (projections E10, the heads' attention E41), so
autograd gives every gradient. Derivation: docs/math.md E42."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import ops
from ..arguments import check_count, check_flag
from ..device import move
from ..tensor import Tensor, as_array
from . import functional as F
from . import init
from ._checks import check_features
from .dot_product_attention import attend
from .layers import Linear
from .module import Module, Parameter, module_dtype
from .savable import register_savable

__all__ = ["MultiheadAttention"]

_WHERE = "MultiheadAttention"


def _padded(mask: Tensor | None) -> Tensor | None:
    """An additive mask with a column of zeros appended (one more key that no mask hides:
    ``bias_k``'s, or the zero attention's), as torch's ``pad(mask, (0, 1))``."""
    if mask is None:
        return None
    zeros = mask.device.xp.zeros(mask.shape[:-1] + (1,), mask.dtype)
    return ops.cat([mask, Tensor._wrap(zeros)], dim=-1)


@register_savable
class MultiheadAttention(Module):
    """Multi-head attention, as ``torch.nn.MultiheadAttention`` (docs/math.md E42).

    Parameters
    ----------
    embed_dim : int
        E, the features of the query and of the output.
    num_heads : int
        H; each head attends with E/H features (E must be divisible by H).
    dropout : float, default 0.0
        Dropout on the attention weights, in training mode (nongate_np's generator, so the
        dropped weights differ from torch's).
    bias : bool, default True
        Biases of the input and output projections.
    add_bias_kv : bool, default False
        Learned ``bias_k``, ``bias_v`` (1, 1, E) appended to the keys and values as one more
        step (the masks get a column that hides nothing).
    add_zero_attn : bool, default False
        One more step of zeros appended to each head's keys and values.
    kdim, vdim : int, optional
        The key's and value's features (default E); where either differs from E the input
        projection is three weights, ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim),
        ``v_proj_weight`` (E, vdim), instead of ``in_proj_weight``.
    batch_first : bool, default False
        Batched inputs and output (N, L, ·) instead of (L, N, ·).
    device : "cpu" or "cuda", optional
        Where the parameters live (made on the host, then moved). Not in ``config()``.
    dtype : floating dtype, optional
        Default float32 (torch's), or the dtype given to ``nongate_np.set_default_dtype``.

    Parameters are torch's, in its order: ``in_proj_weight`` (3E, E) (rows q | k | v) or
    ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight``; ``in_proj_bias`` (3E,);
    ``bias_k``, ``bias_v`` (1, 1, E); ``out_proj.weight`` (E, E), ``out_proj.bias`` (E,).
    Initialised as torch's: the input weights xavier_uniform_, the biases 0, ``out_proj``
    a Linear's (its bias then 0), ``bias_k`` and ``bias_v`` xavier_normal_. A torch
    ``state_dict`` loads unchanged, and ours into torch.

    Forward: ``mha(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False) -> (attn_output,
    attn_weights)`` with query (L, N, E), key (S, N, kdim), value (S, N, vdim) (batch
    first: (N, L, E), ...; unbatched: (L, E), (S, kdim), (S, vdim)) in the parameters'
    dtype. ``key_padding_mask`` (N, S) or (S,): bool, True = a padding key that takes no
    part (the opposite of ``scaled_dot_product_attention``'s mask), or float, added to the
    scores. ``attn_mask`` (L, S) or (N·H, L, S): bool, True = the pair takes no part, or
    float, added. ``is_causal`` is torch's hint that ``attn_mask`` is the causal mask (it
    needs one); without a key padding mask and with ``need_weights=False`` the causal mask
    is used in its place, as torch. attn_output (L, N, E) (batch first (N, L, E),
    unbatched (L, E)); attn_weights, with ``need_weights``, the weights after dropout
    averaged over the heads, (N, L, S) (unbatched (L, S)), or per head with
    ``average_attn_weights=False``, (N, H, L, S); else None. With ``add_bias_kv`` or
    ``add_zero_attn`` S counts the steps they add.

    Differences from torch: a query whose every key is masked out gets zeros and zero
    gradients with ``need_weights=True`` too (torch's NaN there; its ``need_weights=False``
    path gives zeros); ``out_proj`` is a ``Linear`` (torch's NonDynamicallyQuantizableLinear,
    a Linear under another name; so the repr says Linear); errors are ValueError and
    TypeError where torch raises AssertionError or RuntimeError; torch's inference fast
    path does not exist (the results are the same).

    Raises ValueError for embed_dim or num_heads below 1, embed_dim not divisible by
    num_heads, a dropout outside [0, 1], inputs of the wrong number of dims or features,
    sizes that do not match (the batch, key and value steps), masks of the wrong shape,
    ``is_causal`` without ``attn_mask``; TypeError for inputs of another dtype, masks
    neither bool nor float, and flags that are not bools.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 device=None, dtype=None):
        super().__init__()
        self.embed_dim = E = check_count(embed_dim, "embed_dim", _WHERE, 1)
        self.num_heads = H = check_count(num_heads, "num_heads", _WHERE, 1)
        self.kdim = E if kdim is None else check_count(kdim, "kdim", _WHERE, 1)
        self.vdim = E if vdim is None else check_count(vdim, "vdim", _WHERE, 1)
        self._qkv_same_embed_dim = self.kdim == E and self.vdim == E
        if isinstance(dropout, (bool, np.bool_)) or not isinstance(dropout, numbers.Real) \
                or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{_WHERE}: dropout must be a probability in [0, 1], got "
                             f"{dropout!r}")
        self.dropout = float(dropout)
        self.batch_first = check_flag(batch_first, "batch_first", _WHERE)
        self.head_dim = E // H
        if self.head_dim * H != E:
            raise ValueError(f"{_WHERE}: embed_dim must be divisible by num_heads, got "
                             f"embed_dim={E} and num_heads={H}")
        bias = check_flag(bias, "bias", _WHERE)
        dt = module_dtype(dtype, _WHERE)
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(np.empty((E, E), dt))
            self.k_proj_weight = Parameter(np.empty((E, self.kdim), dt))
            self.v_proj_weight = Parameter(np.empty((E, self.vdim), dt))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(np.empty((3 * E, E), dt))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * E, dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, dtype=dt)
        if check_flag(add_bias_kv, "add_bias_kv", _WHERE):
            self.bias_k = Parameter(np.empty((1, 1, E), dt))
            self.bias_v = Parameter(np.empty((1, 1, E), dt))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = check_flag(add_zero_attn, "add_zero_attn", _WHERE)
        self._reset_parameters()
        if device is not None:
            self.to(device)

    def _reset_parameters(self) -> None:
        """torch's: xavier_uniform_ on the input weights, the biases 0, xavier_normal_ on
        bias_k and bias_v (``out_proj.weight`` keeps its Linear initialisation)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    # -- forward ------------------------------------------------------------------------------
    def _inputs(self, query, key, value) -> tuple[Tensor, Tensor, Tensor, bool]:
        """query, key, value checked and in torch's inner layout (L or S, N, features), and
        whether they were batched."""
        w = self.out_proj.weight
        dtype, device = w.dtype, w.device
        q = check_features(_WHERE, "query", query, dtype, self.embed_dim, (2, 3),
                           "(L, N, E), (N, L, E) with batch_first, or (L, E) unbatched",
                           "embed_dim", device=device)
        batched = q.ndim == 3
        ndims = (q.ndim,)
        layout = "3-D, as the query" if batched else "2-D (unbatched), as the query"
        k = check_features(_WHERE, "key", key, dtype, self.kdim, ndims, layout, "kdim",
                           device=device)
        v = check_features(_WHERE, "value", value, dtype, self.vdim, ndims, layout, "vdim",
                           device=device)
        if batched and self.batch_first:
            q, k, v = (ops.transpose(x, 0, 1) for x in (q, k, v))
        elif not batched:
            q, k, v = (ops.unsqueeze(x, 1) for x in (q, k, v))
        if k.shape[:2] != v.shape[:2]:
            raise ValueError(f"{_WHERE}: key and value must have the same steps and batch, "
                             f"got (S, N) = {k.shape[:2]} and {v.shape[:2]}")
        if k.shape[1] != q.shape[1]:
            raise ValueError(f"{_WHERE}: query has a batch of {q.shape[1]} and key of "
                             f"{k.shape[1]}; they must be equal")
        return q, k, v, batched

    def _mask(self, mask, name: str, shapes: dict, dtype) -> Tensor | None:
        """A mask as an additive float tensor of ``dtype`` (bool: -inf where True, as
        torch's ``_canonical_mask``), its shape one of ``shapes`` (a dict: shape -> its
        description) or a ValueError."""
        if mask is None:
            return None
        device = self.out_proj.weight.device
        m = mask if isinstance(mask, Tensor) else \
            Tensor._wrap(move(as_array(mask, what=f"{_WHERE}: {name}"), device))
        if m.dtype.kind not in "bf":
            raise TypeError(f"{_WHERE}: {name} must be bool (True: takes no part) or float "
                            f"(added to the scores), got dtype {m.dtype}")
        if m.shape not in shapes:
            expected = " or ".join(f"{d} = {s}" for s, d in shapes.items())
            raise ValueError(f"{_WHERE}: {name} has shape {m.shape}, expected {expected}")
        if m.dtype == np.bool_:
            xp = m.device.xp
            return Tensor._wrap(xp.where(m._data, xp.full((), -np.inf, dtype),
                                         xp.zeros((), dtype)))
        return m if m.dtype == dtype else ops.cast(m, dtype)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """See the class docstring; the steps are torch's ``multi_head_attention_forward``
        (docs/math.md E42)."""
        need_weights = check_flag(need_weights, "need_weights", _WHERE)
        average = check_flag(average_attn_weights, "average_attn_weights", _WHERE)
        is_causal = check_flag(is_causal, "is_causal", _WHERE)
        q_in, k_in, v_in, batched = self._inputs(query, key, value)
        L, N, E = q_in.shape
        S, H, d = k_in.shape[0], self.num_heads, self.head_dim
        dtype = q_in.dtype
        kpm = self._mask(key_padding_mask, "key_padding_mask",
                         {(N, S) if batched else (S,): "(N, S)" if batched else "(S,)"}, dtype)
        if kpm is not None and not batched:
            kpm = ops.unsqueeze(kpm, 0)
        if is_causal and attn_mask is None:
            raise ValueError(f"{_WHERE}: is_causal=True is a hint that attn_mask is the "
                             f"causal mask and needs it; give attn_mask as well (torch "
                             f"refuses it too)")
        causal = is_causal and kpm is None and not need_weights
        mask = None if causal else self._mask(
            attn_mask, "attn_mask", {(L, S): "(L, S)", (N * H, L, S): "(N·num_heads, L, S)"},
            dtype)
        # the input projections (E10): rows q | k | v of in_proj_weight, or three weights
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            w_q, w_k, w_v = w[:E], w[E:2 * E], w[2 * E:]
        else:
            w_q, w_k, w_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        b = self.in_proj_bias
        b_q, b_k, b_v = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        q, k, v = F.linear(q_in, w_q, b_q), F.linear(k_in, w_k, b_k), F.linear(v_in, w_v, b_v)
        if mask is not None and mask.ndim == 2:
            mask = ops.unsqueeze(mask, 0)                           # (1, L, S)
        if self.bias_k is not None:                                  # one more step
            k = ops.cat([k, ops.expand(self.bias_k, 1, N, E)])
            v = ops.cat([v, ops.expand(self.bias_v, 1, N, E)])
            mask, kpm = _padded(mask), _padded(kpm)
        # the heads: (steps, N, E) -> (N·H, steps, d)
        q, k, v = (ops.transpose(ops.reshape(x, (x.shape[0], N * H, d)), 0, 1)
                   for x in (q, k, v))
        if self.add_zero_attn:
            zeros = Tensor._wrap(q.device.xp.zeros((N * H, 1, d), dtype))
            k, v = ops.cat([k, zeros], dim=1), ops.cat([v, zeros], dim=1)
            mask, kpm = _padded(mask), _padded(kpm)
        S2 = k.shape[1]
        if kpm is not None:                                          # (N, S) -> (N·H, 1, S)
            kpm = ops.reshape(ops.expand(ops.reshape(kpm, (N, 1, 1, S2)), N, H, 1, S2),
                              (N * H, 1, S2))
            mask = kpm if mask is None else mask + kpm
        p_drop = self.dropout if self.training else 0.0
        out, weights = attend(q, k, v, 1.0 / math.sqrt(d), bias=mask, is_causal=causal,
                              dropout_p=p_drop)                     # E41, every head at once
        out = ops.reshape(ops.transpose(out, 0, 1), (L, N, E))      # the heads side by side
        out = self.out_proj(out)
        if batched and self.batch_first:
            out = ops.transpose(out, 0, 1)
        elif not batched:
            out = ops.squeeze(out, 1)
        if not need_weights:
            return out, None
        weights = ops.reshape(weights, (N, H, L, S2))
        if average:
            weights = ops.mean(weights, dim=1)
        return out, weights if batched else ops.squeeze(weights, 0)

    def config(self) -> dict:
        return {"embed_dim": self.embed_dim, "num_heads": self.num_heads,
                "dropout": self.dropout, "bias": self.in_proj_bias is not None,
                "add_bias_kv": self.bias_k is not None, "add_zero_attn": self.add_zero_attn,
                "kdim": self.kdim, "vdim": self.vdim, "batch_first": self.batch_first,
                "dtype": str(self.out_proj.weight.dtype)}
