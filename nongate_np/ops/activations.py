"""The activations a sequence model reaches for beside relu, tanh and sigmoid: leaky_relu,
silu and gelu, as torch's. Derivations: docs/math.md E6a, E6b, E7a.

Each runs on the tensor's device through its array functions (``xp``), erf included (GELU's
exact form); a float32 input stays float32, an integer one is refused (torch's are not
defined for integers either).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import ieee, numeric_arg, xp_of

__all__ = ["leaky_relu", "silu", "gelu"]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_C = 0.044715                   # the cubic coefficient of torch's tanh form (E6b)
APPROXIMATE = ("none", "tanh")


@ieee
class LeakyRelu(Function):
    """y = x where x > 0, else a x;  dx = dy where x > 0, else a dy  (E7a).

    NOTE: selects, not ``x ⊙ [x > 0]``, as E7: an inf ``dy`` on the other side stays out.
    """

    @staticmethod
    def forward(ctx, x, slope):
        xp = xp_of(x)
        on = xp.greater(x, 0)
        ctx.save_for_backward(on)
        ctx.slope = slope
        return xp.where(on, x, xp.multiply(x, slope))

    @staticmethod
    def backward(ctx, dy):
        (on,) = ctx.saved
        xp = xp_of(dy)
        return xp.where(on, dy, xp.multiply(dy, ctx.slope)), None


@ieee
class Silu(Function):
    """y = x σ(x);  dx = dy ⊙ s (1 + x (1 - s)), s = σ(x) saved  (E6a)."""

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        s = xp.sigmoid(x)
        ctx.save_for_backward(x, s)
        return xp.multiply(x, s)

    @staticmethod
    def backward(ctx, dy):
        x, s = ctx.saved
        xp = xp_of(dy)
        slope = xp.multiply(s, xp.add(1, xp.multiply(x, xp.subtract(1, s))))
        return xp.multiply(dy, slope)


@ieee
class Gelu(Function):
    """y = x Φ(x), Φ(x) = (1 + erf(x/√2))/2;  dx = dy ⊙ (Φ(x) + x φ(x))  (E6b). With
    ``tanh``: y = x (1 + t)/2, t = tanh(√(2/π)(x + c x³));
    dx = dy ⊙ ((1 + t)/2 + x (1 - t²) √(2/π)(1 + 3c x²)/2)  (E6b). Saved: x."""

    @staticmethod
    def forward(ctx, x, approximate):
        xp = xp_of(x)
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        return xp.multiply(x, _cdf(xp, x, approximate))

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        if ctx.approximate == "none":
            density = xp.multiply(xp.exp(xp.multiply(xp.multiply(x, x), -0.5)), _INV_SQRT_2PI)
            slope = xp.add(_cdf(xp, x, "none"), xp.multiply(x, density))
        else:
            t = _tanh_u(xp, x)
            du = xp.multiply(xp.add(1, xp.multiply(xp.multiply(x, x), 3 * _C)),
                             _SQRT_2_OVER_PI)
            slope = xp.add(xp.multiply(xp.add(1, t), 0.5),
                           xp.multiply(xp.multiply(xp.multiply(x, 0.5),
                                                   xp.subtract(1, xp.multiply(t, t))), du))
        return xp.multiply(dy, slope), None


def _tanh_u(xp, x):
    """t = tanh(√(2/π)(x + c x³)) of torch's tanh form (E6b)."""
    cube = xp.multiply(xp.multiply(xp.multiply(x, x), x), _C)
    return xp.tanh(xp.multiply(xp.add(x, cube), _SQRT_2_OVER_PI))


def _cdf(xp, x, approximate: str):
    """Φ(x) (E6b), or its tanh form (1 + t)/2."""
    if approximate == "none":
        return xp.multiply(xp.add(1, xp.erf(xp.multiply(x, _INV_SQRT_2))), 0.5)
    return xp.multiply(xp.add(1, _tanh_u(xp, x)), 0.5)


def _float_arg(x, op: str) -> Tensor:
    x = numeric_arg(x, op)
    if x.dtype.kind not in "f":
        raise TypeError(f"{op}: expected a float tensor (float32 or float64), got dtype "
                        f"{x.dtype}; convert it first, e.g. x.double()")
    return x


def leaky_relu(input, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else ``negative_slope`` · x, element-wise, as
    ``torch.nn.functional.leaky_relu``; dx = dy where x > 0, else negative_slope · dy (the
    slope at 0 too, as torch: docs/math.md E7a). Shapes: x (*) -> (*), x's dtype.

    Raises TypeError for a slope that is not a real number or an input that is not a float
    tensor (bool, integers)."""
    if isinstance(negative_slope, (bool, np.bool_)) or \
            not isinstance(negative_slope, numbers.Real):
        raise TypeError(f"leaky_relu: negative_slope must be a real number, got "
                        f"{negative_slope!r:.40}")
    return LeakyRelu.apply(_float_arg(input, "leaky_relu"), float(negative_slope))


def silu(input) -> Tensor:
    """x σ(x), element-wise, as ``torch.nn.functional.silu`` (docs/math.md E6a; σ in E6's
    stable form). Shapes: x (*) -> (*), x's dtype. Raises TypeError for an input that is
    not a float tensor."""
    return Silu.apply(_float_arg(input, "silu"))


def gelu(input, approximate: str = "none") -> Tensor:
    """x Φ(x), Φ the standard normal CDF, element-wise, as ``torch.nn.functional.gelu``:
    ``approximate='none'`` with erf, ``'tanh'`` with torch's tanh form (docs/math.md E6b).
    Shapes: x (*) -> (*), x's dtype.

    Raises ValueError for another ``approximate``, TypeError for an input that is not a
    float tensor."""
    if approximate not in APPROXIMATE:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r:.40}")
    return Gelu.apply(_float_arg(input, "gelu"), approximate)
