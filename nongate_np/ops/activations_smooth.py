"""The smooth activations of torch.nn.functional beside silu, gelu and softplus: logsigmoid,
mish, softsign, tanhshrink and glu, as torch 2.13's. Derivations: docs/math.md E6d-E6h.

Each runs on the tensor's device through its array functions (``xp``); a float32 input
stays float32, an integer, bool or complex one is refused (as ``ops/activations.py``'s).
The ``Function`` classes themselves take complex input where the function is analytic
(logsigmoid, mish, tanhshrink, glu), so complex-step checks apply to them.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import ieee, normalize_axes, xp_of
from .activations import _float_arg

__all__ = ["logsigmoid", "mish", "softsign", "tanhshrink", "glu"]


@ieee
class LogSigmoid(Function):
    """y = log σ(x) = −softplus(−x);  dx = dy ⊙ σ(−x)  (E6d; softplus as E15 evaluates it,
    σ as E6, so neither overflows nor takes log 0). Saved: x."""

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        ctx.save_for_backward(x)
        # NOTE: E15's softplus(−x) is torch's log1p(e^{−|x|}) − min(x, 0): finite for every
        # finite x, e^x-accurate far below 0 and e^{−x}-accurate far above it; 0 − s, not
        # −s, so that y = +0 where s = 0, as torch's
        return xp.subtract(0, xp.softplus(xp.negative(x)))

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        return xp.multiply(dy, xp.sigmoid(xp.negative(x)))                       # E6d


@ieee
class Mish(Function):
    """y = x tanh(softplus(x));  dx = dy ⊙ (t + x σ(x)(1 − t²)), t = tanh(softplus(x))
    saved  (E6e; torch's mish_backward). Saved: x and t."""

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        t = xp.tanh(xp.softplus(x))
        ctx.save_for_backward(x, t)
        return xp.multiply(x, t)

    @staticmethod
    def backward(ctx, dy):
        x, t = ctx.saved
        xp = xp_of(dy)
        slope = xp.add(t, xp.multiply(xp.multiply(x, xp.sigmoid(x)),
                                      xp.subtract(1, xp.multiply(t, t))))       # E6e
        return xp.multiply(dy, slope)


@ieee
class Softsign(Function):
    """y = x / (1 + |x|);  dx = dy / (1 + |x|)²  (E6f; NaN at x = ±∞, where y is
    ∞/∞ = NaN, as torch's). Saved: x."""

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        ctx.save_for_backward(x)
        return xp.divide(x, xp.add(xp.abs(x), 1))

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        ax = xp.abs(x)
        d = xp.add(ax, 1)
        # NOTE: dy / d / d, not torch's dy/d − dy x sign(x)/d², which cancels (2e-10 relative
        # error at |x| = 1e6), and not dy / d², which overflows for |x| > 1e154
        dx = xp.divide(xp.divide(dy, d), d)                                        # E6f
        return xp.where(xp.equal(ax, np.inf), np.nan, dx)


@ieee
class Tanhshrink(Function):
    """y = x − tanh x;  dx = dy ⊙ tanh² x  (E6g; t = tanh x saved). Saved: t."""

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        t = xp.tanh(x)
        ctx.save_for_backward(t)
        return xp.subtract(x, t)

    @staticmethod
    def backward(ctx, dy):
        (t,) = ctx.saved
        xp = xp_of(dy)
        # NOTE: t², not torch's 1 − (1 − t²), which keeps only ε/t² of it near 0
        return xp.multiply(dy, xp.multiply(t, t))                                  # E6g


@ieee
class Glu(Function):
    """y = a ⊙ σ(b), a and b the first and second halves of x along ``dim``;
    da = dy ⊙ σ(b), db = dy ⊙ a ⊙ σ(b)(1 − σ(b))  (E6h; σ as E6). Shapes: x (..., 2n, ...)
    -> y (..., n, ...). Saved: a and s = σ(b)."""

    @staticmethod
    def forward(ctx, x, dim):
        xp = xp_of(x)
        n = x.shape[dim] // 2
        lead = (slice(None),) * dim
        a = xp.getitem(x, lead + (slice(0, n),))
        s = xp.sigmoid(xp.getitem(x, lead + (slice(n, None),)))
        ctx.save_for_backward(a, s)
        ctx.dim = dim
        return xp.multiply(a, s)

    @staticmethod
    def backward(ctx, dy):
        a, s = ctx.saved
        xp = xp_of(dy)
        da = xp.multiply(dy, s)                                                    # E6h
        db = xp.multiply(xp.multiply(xp.multiply(xp.subtract(1, s), s), a), dy)     # E6h
        return xp.concatenate([da, db], ctx.dim), None


def logsigmoid(input) -> Tensor:
    """log σ(x) = −log(1 + e^{−x}), element-wise, as ``torch.nn.functional.logsigmoid``;
    dx = dy ⊙ σ(−x) (docs/math.md E6d).

    Stable for every x: −softplus(−x) in E15's form, so never log 0 (finite at ±1e4: −1e4
    and 0), accurate to rounding far below 0 (x − e^x) and far above it (−e^{−x}); −∞ at −∞
    (gradient dy), 0 at +∞ (gradient 0), NaN for NaN, as torch's. Shapes: x (*) -> (*),
    x's dtype. Raises TypeError for an input that is not a float tensor (torch refuses
    integers too)."""
    return LogSigmoid.apply(_float_arg(input, "logsigmoid"))


def mish(input) -> Tensor:
    """x tanh(softplus(x)), element-wise, as ``torch.nn.functional.mish`` (Misra, 2019);
    dx = dy ⊙ (t + x σ(x)(1 − t²)), t = tanh(softplus(x)), torch's formula (docs/math.md
    E6e). softplus in E15's form, which never overflows. At x = −∞ the value and the
    gradient are −∞ · 0 = NaN, at +∞ the gradient ∞ · 0 = NaN, as torch's. Shapes: x (*) ->
    (*), x's dtype. Raises TypeError for an input that is not a float tensor."""
    return Mish.apply(_float_arg(input, "mish"))


def softsign(input) -> Tensor:
    """x / (1 + |x|), element-wise, as ``torch.nn.functional.softsign``; dx = dy / (1 + |x|)²
    (docs/math.md E6f), slope 1 at 0.

    Differs from torch: torch differentiates its composition, dy/(1+|x|) − dy x sign(x)/
    (1+|x|)², whose cancellation leaves a relative error growing as |x|·ε (1e-13 at
    |x| = 1e4, 2e-10 at 1e6); this is (1 + |x|)⁻² to rounding. At x = ±∞ the value and
    the gradient are NaN (∞/∞), as torch's. Shapes: x (*) -> (*), x's dtype. Raises
    TypeError for an input that is not a float tensor (torch computes integers in
    float32)."""
    return Softsign.apply(_float_arg(input, "softsign"))


def tanhshrink(input) -> Tensor:
    """x − tanh x, element-wise, as ``torch.nn.functional.tanhshrink`` (torch's expression:
    its value near 0 keeps ε/x² of its relative precision, as torch's); dx = dy ⊙ tanh² x
    (docs/math.md E6g).

    Differs from torch: torch's gradient is 1 − (1 − tanh² x) (autograd through x − tanh x),
    whose relative error grows as ε/x² near 0 (6e-12 at x = 1e-3, 10% at 1e-8); tanh² x
    here is accurate to rounding. Shapes: x (*) -> (*), x's dtype. Raises TypeError for an
    input that is not a float tensor (torch computes integers in float32)."""
    return Tanhshrink.apply(_float_arg(input, "tanhshrink"))


def glu(input, dim: int = -1) -> Tensor:
    """The gated linear unit, as ``torch.nn.functional.glu``: x split in halves a, b along
    ``dim``, y = a ⊙ σ(b) (Dauphin et al., 2017); da = dy ⊙ σ(b), db = dy ⊙ a σ(b)(1 − σ(b))
    (docs/math.md E6h).

    Shapes: x (..., 2n, ...) with an even size along ``dim`` (0 included) -> y (..., n, ...),
    x's dtype. Raises TypeError for an input that is not a float tensor or a ``dim`` that
    is not an int; ValueError for a 0-d input, a ``dim`` out of range (torch: IndexError)
    or an odd size along it (torch: RuntimeError)."""
    x = _float_arg(input, "glu")
    if x.ndim == 0:
        raise ValueError("glu: expected a tensor with at least one dimension to split in "
                         "halves, got a 0-d tensor")
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"glu: dim must be an int, got {dim!r:.40}")
    (axis,) = normalize_axes(int(dim), x.ndim, "glu")
    if x.shape[axis] % 2:
        raise ValueError(f"glu: dimension {dim} has size {x.shape[axis]} (input shape "
                         f"{x.shape}); it must be even, to split into halves a and b of "
                         f"a ⊙ σ(b)")
    return Glu.apply(x, axis)
