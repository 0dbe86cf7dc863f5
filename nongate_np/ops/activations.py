"""The activations a sequence model reaches for beside relu, tanh and sigmoid: leaky_relu,
silu, gelu, softplus and elu, as torch's. Derivations: docs/math.md E6a, E6b, E6c, E7a, E7b.

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

__all__ = ["leaky_relu", "silu", "gelu", "softplus", "elu"]

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


def _real(x):
    """What the piecewise ops compare: x, or its real part for complex input (a complex step
    rides along on the piece x falls in)."""
    return np.real(x) if np.iscomplexobj(x) else x


@ieee
class Softplus(Function):
    """y = softplus(βx)/β where βx ≤ threshold, else x;  dx = dy ⊙ σ(βx) there, else dy
    (E6c; softplus as E15 evaluates it, σ as E6). Saved: βx and the mask above the
    threshold."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        xp = xp_of(x)
        u = xp.multiply(x, beta)
        above = xp.greater(_real(u), threshold)
        ctx.save_for_backward(u, above)
        # NOTE: E15's softplus, not log1p(e^u): no overflow where a large threshold leaves u
        # beyond e^u's range, and e^u-accurate for large negative u (log1p(e^u) there)
        return xp.where(above, x, xp.divide(xp.softplus(u), beta))

    @staticmethod
    def backward(ctx, dy):
        u, above = ctx.saved
        xp = xp_of(dy)
        # NOTE: a select, as E7: an inf dy where σ(u) underflows to 0 gives 0, not NaN
        return xp.where(above, dy, xp.multiply(dy, xp.sigmoid(u))), None, None


@ieee
class Elu(Function):
    """y = x where x > 0, else α(e^x − 1);  dx = dy where x > 0, else dy ⊙ α e^x  (E7b; the
    slope α e^0 = α at x = 0, as torch). Saved: x and the mask x ≤ 0."""

    @staticmethod
    def forward(ctx, x, alpha):
        xp = xp_of(x)
        off = xp.less_equal(_real(x), 0)
        ctx.save_for_backward(x, off)
        ctx.alpha = alpha
        return xp.where(off, xp.multiply(xp.expm1(x), alpha), x)

    @staticmethod
    def backward(ctx, dy):
        x, off = ctx.saved
        xp = xp_of(dy)
        # NOTE: α e^x from the saved x, as torch's elu_backward: y + α loses e^x's digits
        # where e^x is small; selects, as E7, so an inf dy on the other side stays out
        slope = xp.multiply(xp.exp(xp.where(off, x, 0)), ctx.alpha)
        return xp.where(off, xp.multiply(dy, slope), dy), None


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


def _real_number(value, name: str, op: str) -> float:
    """A real-number argument (not a bool), as a Python float; TypeError naming ``op``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {value!r:.40}")
    return float(value)


def softplus(input, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """(1/β) log(1 + e^{βx}), element-wise, reverting to x where βx > ``threshold``, as
    ``torch.nn.functional.softplus``: a smooth relu, positive everywhere (a variance for
    ``gaussian_nll_loss``), e^{βx}/β-accurate for large negative x; dx = dy ⊙ σ(βx), and dy
    above the threshold, as torch (docs/math.md E6c).

    Computed as E15's softplus, which never overflows: where torch's log1p(e^{βx}) gives
    inf (a threshold beyond e^{βx}'s range, x > 709/β in float64), this gives the finite
    value. Shapes: x (*) -> (*), x's dtype. Raises TypeError for a ``beta`` or ``threshold``
    that is not a real number, or an input that is not a float tensor."""
    b = _real_number(beta, "beta", "softplus")
    t = _real_number(threshold, "threshold", "softplus")
    return Softplus.apply(_float_arg(input, "softplus"), b, t)


def elu(input, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else α(e^x − 1), element-wise, as ``torch.nn.functional.elu`` (e^x − 1
    as ``expm1``); dx = dy where x > 0, else dy ⊙ α e^x (α at x = 0, as torch: docs/math.md
    E7b). NaN passes through with the gradient dy, as torch's. Shapes: x (*) -> (*), x's
    dtype. Raises TypeError for an ``alpha`` that is not a real number or an input that is
    not a float tensor."""
    a = _real_number(alpha, "alpha", "elu")
    return Elu.apply(_float_arg(input, "elu"), a)
