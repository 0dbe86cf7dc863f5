"""torch.nn's distance modules: PairwiseDistance and CosineSimilarity, over
``nn.functional.pairwise_distance`` and ``nn.functional.cosine_similarity`` (compositions
of the library's ops, with autograd's gradients). Their attributes and reprs are torch's
(``PairwiseDistance()``: torch's repr shows no argument); arguments are checked at
construction.
"""

from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .layers import _dim, _real_number
from .module import Module
from .savable import register_savable

__all__ = ["PairwiseDistance", "CosineSimilarity"]


@register_savable
class PairwiseDistance(Module):
    """‖x1 − x2 + eps‖_p over the last dimension, as ``torch.nn.PairwiseDistance``
    (``nn.functional.pairwise_distance``: shapes, dtypes and gradients there).

    Attributes ``norm`` (p), ``eps`` and ``keepdim``, torch's names. Raises TypeError for a
    ``p`` or ``eps`` that is not a real number or a ``keepdim`` that is not a bool;
    ValueError for a negative finite ``p`` (torch computes it)."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        where = "PairwiseDistance"
        F._check_p(where, p)
        self.norm = _real_number(p, "p", where)
        self.eps = _real_number(eps, "eps", where)
        F._check_flag(where, "keepdim", keepdim)
        self.keepdim = bool(keepdim)

    def forward(self, x1, x2) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)

    def config(self) -> dict:
        return {"p": self.norm, "eps": self.eps, "keepdim": self.keepdim}


@register_savable
class CosineSimilarity(Module):
    """Σ (x1/‖x1‖)(x2/‖x2‖) over ``dim``, each norm at least ``eps``, as
    ``torch.nn.CosineSimilarity`` (``nn.functional.cosine_similarity``: shapes and the
    gradient where a norm is below eps there).

    Attributes ``dim`` and ``eps``, torch's names. Raises TypeError for a ``dim`` that is
    not an int or an ``eps`` that is not a real number."""

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim = _dim(dim, "dim", "CosineSimilarity")
        self.eps = _real_number(eps, "eps", "CosineSimilarity")

    def forward(self, x1, x2) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)

    def config(self) -> dict:
        return {"dim": self.dim, "eps": self.eps}
