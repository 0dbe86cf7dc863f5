"""Matrix product with NumPy's batching and broadcasting rules. Derivation: docs/math.md E10."""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import ieee, operand, unbroadcast, xp_of

__all__ = ["matmul", "bmm"]


def _mT(x: np.ndarray) -> np.ndarray:
    """x with its last two axes swapped."""
    axes = tuple(range(x.ndim))
    return xp_of(x).transpose(x, axes[:-2] + (axes[-1], axes[-2]))


@ieee
class MatMul(Function):
    """C = A B over the last two axes, batch axes broadcast;  dA = dC Bᵀ, dB = Aᵀ dC  (E10).

    A 1-D operand is promoted to a row (A) or column (B) and the added axis removed, as in
    NumPy; batch axes that were broadcast are summed out of the gradient (E1).
    """

    @staticmethod
    def forward(ctx, a, b):
        xp = xp_of(a, b)
        a, b = xp.asarray(a), xp.asarray(b)
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes "
                             f"{a.shape} and {b.shape}; use mul for scalars")
        k_a = a.shape[-1]
        k_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if k_a != k_b:
            raise ValueError(f"matmul: inner dimensions differ: a has shape {a.shape}, b has "
                             f"shape {b.shape}; a.shape[-1]={k_a} must equal "
                             f"b.shape[{-2 if b.ndim > 1 else 0}]={k_b}")
        try:
            c = xp.matmul(a, b)
        except ValueError:
            raise ValueError(f"matmul: batch dimensions of a {a.shape[:-2]} and b "
                             f"{b.shape[:-2]} cannot be broadcast together") from None
        # NOTE: each operand only where the other's gradient needs it, as PyTorch saves
        ctx.shapes = (a.shape, b.shape)
        ctx.save_for_backward(a if ctx.needs_grad[1] else None,
                              b if ctx.needs_grad[0] else None)
        return c

    @staticmethod
    def backward(ctx, dc):
        a, b = ctx.saved
        sa, sb = ctx.shapes
        xp = xp_of(dc)
        a2 = (1,) + sa if len(sa) == 1 else sa                               # (…, M, K)
        b2 = sb + (1,) if len(sb) == 1 else sb                               # (…, K, N)
        dc2 = xp.reshape(dc, dc.shape + (1,)) if len(sb) == 1 else dc
        dc2 = xp.reshape(dc2, dc2.shape[:-1] + (1, dc2.shape[-1])) if len(sa) == 1 else dc2
        da = db = None
        if ctx.needs_grad[0]:
            b_2 = b if len(sb) > 1 else xp.reshape(b, b2)
            da = xp.reshape(unbroadcast(xp.matmul(dc2, _mT(b_2)), a2), sa)
        if ctx.needs_grad[1]:
            a_2 = a if len(sa) > 1 else xp.reshape(a, a2)
            db = xp.reshape(unbroadcast(xp.matmul(_mT(a_2), dc2), b2), sb)
        return da, db


def matmul(a, b) -> Tensor:
    """Matrix product ``a @ b``; da = dy bᵀ, db = aᵀ dy, summed over broadcast leading axes
    (docs/math.md E10, E1).

    Shapes as NumPy's ``matmul``: (…, n, k) @ (…, k, m) -> (…, n, m), the leading axes
    broadcast, a 1-D operand promoted to a row (a) or column (b) and its axis removed from
    the result. Both of one dtype, as torch requires (TypeError otherwise: float32 @ float64
    silently gave float64), or complex and real of one precision (a complex-step check).
    Raises ValueError for inner dimensions that differ or leading axes that do not
    broadcast."""
    a, b = operand(a, "matmul"), operand(b, "matmul")
    da, db = getattr(a, "dtype", None), getattr(b, "dtype", None)
    if da is not db and da is not None and db is not None and da != db and not (
            {da.kind, db.kind} == {"c", "f"} and np.finfo(da).dtype == np.finfo(db).dtype):
        raise TypeError(f"matmul: a is {da} and b is {db}; convert one to the other's dtype "
                        f"(.astype(np.{da})), as torch, which refuses mixed dtypes too")
    return MatMul.apply(a, b)


def bmm(input, mat2) -> Tensor:
    """Batched matrix product of two 3-D tensors, as ``torch.bmm``: input (B, N, M) @ mat2
    (B, M, P) -> (B, N, P), no broadcasting (``matmul``, whose backward is docs/math.md
    E10). Raises ValueError for an operand that is not 3-D or a batch or inner size that
    differs; TypeError (from ``matmul``) for dtypes that differ."""
    a, b = operand(input, "bmm"), operand(mat2, "bmm")
    for name, x in (("input", a), ("mat2", b)):
        if np.ndim(x) != 3:
            raise ValueError(f"bmm: {name} must be a 3-D tensor (B, N, M), got shape "
                             f"{np.shape(x)}")
    sa, sb = np.shape(a), np.shape(b)
    if sb[:2] != (sa[0], sa[2]):
        raise ValueError(f"bmm: mat2 must have shape ({sa[0]}, {sa[2]}, P) for input of shape "
                         f"{sa}, got {sb}")
    return matmul(a, b)
