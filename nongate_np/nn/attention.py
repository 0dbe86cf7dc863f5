"""``nn.AttentionPooling``: pool a sequence of vectors with Q queries on the fused op."""

from __future__ import annotations

import math

import numpy as np

from ..arguments import check_count, check_flag
from ..kernels.contract import AttentionParams, check_kind
from ..ops.attention import AttentionPool, step_mask
from ..tensor import Tensor
from . import init
from ._checks import check_features
from .layers import Linear
from .module import Module, Parameter, module_dtype
from .savable import register_savable

__all__ = ["AttentionPooling"]


@register_savable
class AttentionPooling(Module):
    """Attention pooling over time: additive, gated (Ilse et al. 2018) or weight-gated.

    Parameters
    ----------
    input_size : int
        D, the features of each step.
    attn_size : int
        A, the size of the attention space u_t.
    kind : {"additive", "gated", "weight_gated"}, default "gated"
        additive: u_t = tanh(V h_t + b_V); gated: u_t = tanh(V h_t + b_V) ⊙ σ(U h_t + b_U);
        weight_gated scores like additive and multiplies each softmax weight by a step gate
        γ_t = σ(g_qᵀ h_t + b_G), so its weights ω_t = γ_t α_t need not sum to one
        (docs/math.md A1-A4).
    num_queries : int, default 1
        Q queries pool at once, sharing V (and U); e_{q,t} = w_qᵀ u_t.
    value_proj : bool, default False
        Pool v_t = W_v h_t + b_v instead of h_t.
    value_size : int, optional
        D', the size of v_t with a value projection (default D).
    dtype : floating dtype, optional
        Default float32 (torch's), or the dtype given to ``nongate_np.set_default_dtype``.

    Parameters (names fixed, so weights can be exchanged): ``proj.weight`` (A, D) and
    ``proj.bias`` (A) for V, b_V; ``gate.weight`` (A, D), ``gate.bias`` (A) for U, b_U
    (gated); ``query`` (Q, A); ``step_gate.weight`` (Q, D), ``step_gate.bias`` (Q)
    (weight_gated); ``value.weight`` (D', D), ``value.bias`` (D') (value_proj). The Linear
    submodules are initialised as torch's Linear, ``query`` U(-1/√A, 1/√A). Their own
    ``forward`` is not used: the fused op takes their weights.

    Forward: ``pool(h, mask=None, lengths=None) -> (pooled (B, Q, D'), weights (B, Q, T))``
    with h (B, T, D), mask (B, T) booleans (True = a real step; torch's
    ``key_padding_mask`` is the opposite, True = padding) or lengths (B,). A sequence
    without a valid step pools to zeros with zero weights and zero gradient. With one
    query, ``pooled[:, 0]`` is the (B, D) vector a hand-written torch pooling returns.

    Porting a hand-written additive pooling, ``softmax(score(tanh(proj(h))))`` over the
    real steps: ``kind="additive"``, torch's ``proj`` weight and bias to ``proj.weight``,
    ``proj.bias``, the score layer's ``Linear(A, 1, bias=False).weight`` (1, A) to
    ``query``; a bias of the score layer adds the same number to every step's score and
    cancels in the softmax, so drop it.
    The math: docs/math.md A1-A15; the whole pooling is one fused autograd node.
    """

    def __init__(self, input_size: int, attn_size: int, kind: str = "gated",
                 num_queries: int = 1, value_proj: bool = False, value_size: int | None = None,
                 dtype=None):
        super().__init__()
        where = "AttentionPooling"
        self.input_size = check_count(input_size, "input_size", where, 1)
        self.attn_size = check_count(attn_size, "attn_size", where, 1)
        self.num_queries = check_count(num_queries, "num_queries", where, 1)
        check_kind(kind, where)
        self.kind = kind
        self.value_proj = check_flag(value_proj, "value_proj", where)
        if value_size is not None:
            value_size = check_count(value_size, "value_size", where, 1)
            if not self.value_proj and value_size != self.input_size:
                raise ValueError(f"{where}: value_size={value_size} needs value_proj=True "
                                 f"(without a value projection the pooled size is "
                                 f"input_size={self.input_size})")
        self.value_size = value_size if value_size is not None else self.input_size
        dt = module_dtype(dtype, where)
        D, A, Q = self.input_size, self.attn_size, self.num_queries
        self.proj = Linear(D, A, dtype=dt)
        if kind == "gated":
            self.gate = Linear(D, A, dtype=dt)
        self.query = Parameter(np.empty((Q, A), dt))
        if kind == "weight_gated":
            self.step_gate = Linear(D, Q, dtype=dt)
        if self.value_proj:
            self.value = Linear(D, self.value_size, dtype=dt)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Linear submodules as torch's Linear (U(-1/√D, 1/√D)); query U(-1/√A, 1/√A)."""
        self.proj.reset_parameters()
        if self.kind == "gated":
            self.gate.reset_parameters()
        k = 1.0 / math.sqrt(self.attn_size)
        init.uniform_(self.query, -k, k)
        if self.kind == "weight_gated":
            self.step_gate.reset_parameters()
        if self.value_proj:
            self.value.reset_parameters()

    @property
    def dtype(self) -> np.dtype:
        """The parameters' dtype (follows ``to()``)."""
        return self._parameters["query"].dtype      # NOTE: from the registry, as kernel_params

    @property
    def output_size(self) -> int:
        """D', the size of each pooled vector."""
        return self.value_size

    def forward(self, h, mask=None, lengths=None) -> tuple[Tensor, Tensor]:
        # validated here, once: the parameters' shapes hold by construction
        h = check_features("AttentionPooling", "h", h, self.dtype, self.input_size, (3,),
                           "3-D (B, T, D)", device=self._parameters["query"].device)
        B, T, _ = h.shape
        mask = step_mask(mask, lengths, B, T, "AttentionPooling")
        return AttentionPool.apply(h, *self.kernel_params(), mask, self.kind)

    def kernel_params(self) -> AttentionParams:
        """The parameters as the kernels take them (``kernels.contract.AttentionParams`` of
        Parameters), None for the fields this kind and configuration do not have."""
        # NOTE: from the registries: attribute access to a submodule or a parameter goes
        # through a failed lookup first (Module.__getattr__), slow next to a small call
        modules = self._modules

        def linear(name: str, present: bool) -> tuple:
            params = modules[name]._parameters if present else {}
            return params.get("weight"), params.get("bias")
        return AttentionParams(*linear("proj", True), self._parameters["query"],
                               *linear("gate", self.kind == "gated"),
                               *linear("step_gate", self.kind == "weight_gated"),
                               *linear("value", self.value_proj))

    def config(self) -> dict:
        """The constructor's arguments (JSON-ready), for saving the module without pickle."""
        return {"input_size": self.input_size, "attn_size": self.attn_size, "kind": self.kind,
                "num_queries": self.num_queries, "value_proj": self.value_proj,
                "value_size": self.value_size if self.value_proj else None,
                "dtype": str(self.dtype)}

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.attn_size}, kind={self.kind!r}"
        if self.num_queries != 1:
            s += f", num_queries={self.num_queries}"
        if self.value_proj:
            s += f", value_proj=True, value_size={self.value_size}"
        return s
