"""Logarithms, exponentials and powers beyond ``log``, ``exp``, ``log1p``, ``expm1`` and
``sqrt``, as torch's: ``log2``, ``log10``, ``exp2``, ``rsqrt``, ``reciprocal``, ``erfc``,
``logit`` and, of two operands, ``logaddexp``. Derivations: docs/math.md E34.

Each runs on the tensor's device through its array functions (``xp``). An integer tensor
gives float32 and a bool one is refused, as ``log1p`` does (``logaddexp`` refuses integers,
as torch's). ``erfc`` is the device's own function, accurate where erf is near 1;
``logit`` is computed as 2 artanh(2x − 1) from x = 1/4 up, where torch's log(x / (1 − x))
loses digits near 1/2 (E34).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import ieee, xp_of
from .elementwise import _binary, _float_arg, _operand_grads
from .trigonometric import _floating_operand

__all__ = ["log2", "log10", "exp2", "rsqrt", "reciprocal", "erfc", "logit", "logaddexp"]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


@ieee
class Log2(Function):
    """y = log_b x for b = 2 (or 10, ``ln_b`` the base's natural log);
    dx = dy / (x ln b)  (E34). Saved: x."""

    @staticmethod
    def forward(ctx, x, ln_b):
        ctx.save_for_backward(x)
        ctx.ln_b = ln_b
        xp = xp_of(x)
        return xp.log2(x) if ln_b == _LN2 else xp.log10(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        return xp.divide(dy, xp.multiply(x, ctx.ln_b)), None


@ieee
class Exp2(Function):
    """y = 2^x;  dx = dy ⊙ y ln 2  (E34; from the saved output, as torch's)."""

    @staticmethod
    def forward(ctx, x):
        y = xp_of(x).exp2(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        xp = xp_of(dy)
        return xp.multiply(dy, xp.multiply(y, _LN2))


@ieee
class Rsqrt(Function):
    """y = 1/√x;  dx = −½ dy ⊙ y³  (E34; from the saved output, as torch's)."""

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        y = xp.divide(1, xp.sqrt(x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        xp = xp_of(dy)
        return xp.multiply(dy, xp.multiply(xp.multiply(xp.multiply(y, y), y), -0.5))


@ieee
class Reciprocal(Function):
    """y = 1/x;  dx = −dy ⊙ y²  (E34; from the saved output, as torch's)."""

    @staticmethod
    def forward(ctx, x):
        y = xp_of(x).divide(1, x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        xp = xp_of(dy)
        return xp.negative(xp.multiply(dy, xp.multiply(y, y)))


@ieee
class Erfc(Function):
    """y = erfc x = 1 − erf x;  dx = −dy ⊙ (2/√π) e^{−x²}  (E34, E31). Saved: x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).erfc(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        density = xp.multiply(xp.exp(xp.negative(xp.multiply(x, x))), -_TWO_OVER_SQRT_PI)
        return xp.multiply(dy, density)


def _real(x):
    """What a comparison reads: x, or its real part for complex input (a complex step rides
    along on the branch x falls in)."""
    return np.real(x) if np.iscomplexobj(x) else x


def _logit(xp, z):
    """log(z / (1 − z)) for z < 1/4, 2 artanh(2z − 1) from 1/4 up, where 2z − 1 is exact and
    the quotient form loses digits near 1/2 (E34)."""
    low = xp.less(_real(z), 0.25)
    quotient = xp.log(xp.divide(z, xp.subtract(1, z)))
    doubled = xp.multiply(xp.arctanh(xp.subtract(xp.multiply(z, 2), 1)), 2)
    return xp.where(low, quotient, doubled)


@ieee
class Logit(Function):
    """y = log(z / (1 − z)), z = x clamped to [ε, 1 − ε] (x without ``eps``);
    dx = dy / (x (1 − x)) where ε ≤ x ≤ 1 − ε, else 0; without ``eps`` NaN outside [0, 1]
    (E34, as torch's). Saved: x."""

    @staticmethod
    def forward(ctx, x, eps):
        ctx.save_for_backward(x)
        ctx.eps = eps
        xp = xp_of(x)
        z = x
        if eps is not None:
            # NOTE: torch's order, x < ε first (so ε > ½ gives ε below ε, 1 − ε above it);
            # NaN compares false and stays
            r = _real(x)
            z = xp.where(xp.less(r, eps), eps, xp.where(xp.greater(r, 1 - eps), 1 - eps, x))
        return _logit(xp, z)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        eps = ctx.eps
        dx = xp.divide(dy, xp.multiply(x, xp.subtract(1, x)))            # E34
        lo, hi, outside = (0, 1, np.nan) if eps is None else (eps, 1 - eps, 0)
        off = xp.less(x, lo)
        off = xp.where(off, True, xp.greater(x, hi))
        return xp.where(off, outside, dx), None


def _logaddexp(xp, a, b):
    """log(e^a + e^b): the device's ``logaddexp``; for complex input (a complex step, CPU
    only) m + log1p(e^{o − m}), m the operand of the larger real part, o the other (E34)."""
    if not (np.iscomplexobj(a) or np.iscomplexobj(b)):
        return xp.logaddexp(a, b)
    a_first = np.greater_equal(np.real(a), np.real(b))
    m, o = np.where(a_first, a, b), np.where(a_first, b, a)
    return m + np.log1p(np.exp(o - m))


@ieee
class LogAddExp(Function):
    """y = log(e^a + e^b);  da = dy ⊙ σ(a − b), db = dy ⊙ σ(b − a)  (E34, E1; σ as E6,
    never overflowing; NaN where a = b = ±inf, as torch's). Saved: a, b."""

    @staticmethod
    def forward(ctx, a, b):
        y = _binary(ctx, "logaddexp", _logaddexp, a, b, keep=True)
        ctx.save_for_backward(*ctx.operands)
        del ctx.operands
        return y

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved
        xp = xp_of(dy)
        return _operand_grads(ctx, lambda: xp.multiply(dy, xp.sigmoid(xp.subtract(a, b))),
                              lambda: xp.multiply(dy, xp.sigmoid(xp.subtract(b, a))))


def log2(input) -> Tensor:
    """log₂ x, element by element, as ``torch.log2`` (−inf at 0, NaN below, without a
    warning); dx = dy / (x ln 2) (E34). Shapes: x (*) -> (*), x's dtype; an integer tensor
    gives float32, as torch. Raises TypeError for a bool tensor (torch computes it as
    float32)."""
    return Log2.apply(_float_arg(input, "log2"), _LN2)


def log10(input) -> Tensor:
    """log₁₀ x, element by element, as ``torch.log10``; dx = dy / (x ln 10) (E34). Dtypes
    and errors as :func:`log2`'s."""
    return Log2.apply(_float_arg(input, "log10"), _LN10)


def exp2(input) -> Tensor:
    """2^x, element by element, as ``torch.exp2`` (exact at integers; inf past the dtype's
    range, 0 at −inf, without a warning); dx = dy ⊙ y ln 2 (E34). Dtypes and errors as
    :func:`log2`'s."""
    return Exp2.apply(_float_arg(input, "exp2"))


def rsqrt(input) -> Tensor:
    """1/√x, element by element, as ``torch.rsqrt`` (inf at 0, −inf at −0, NaN below 0);
    dx = −½ dy ⊙ y³ (E34). Dtypes and errors as :func:`log2`'s."""
    return Rsqrt.apply(_float_arg(input, "rsqrt"))


def reciprocal(input) -> Tensor:
    """1/x, element by element, as ``torch.reciprocal`` (±inf at ±0); dx = −dy ⊙ y² (E34).
    Dtypes and errors as :func:`log2`'s."""
    return Reciprocal.apply(_float_arg(input, "reciprocal"))


def erfc(input) -> Tensor:
    """The complementary error function erfc x = 1 − erf x, element by element, as
    ``torch.erfc``, computed as such (scipy.special's on the CPU, complex input included;
    the device's ``erfc`` on the GPU): accurate in the tail, where 1 − erf x is 0
    (erfc(10) ≈ 2.1e-45, erfc(26) ≈ 5.7e-296 in float64; scipy's gives 0 where the value
    is subnormal, x > 26.55, torch's the subnormal). 0 at inf, 2 at −inf; dx =
    −dy ⊙ (2/√π) e^{−x²} (E34). Dtypes and errors as :func:`log2`'s."""
    return Erfc.apply(_float_arg(input, "erfc"))


def logit(input, eps: float | None = None) -> Tensor:
    """log(z / (1 − z)), element by element, as ``torch.logit``: z is x, or with ``eps`` x
    clamped to [eps, 1 − eps] (eps where x < eps, else 1 − eps where x > 1 − eps: torch's
    order, which matters for eps > 1/2), so the result is finite for any x. −inf at 0, inf at 1,
    NaN outside [0, 1] without ``eps``. dx = dy / (x (1 − x)) where eps ≤ x ≤ 1 − eps
    (both inclusive) and 0 outside; without ``eps`` NaN outside [0, 1], as torch's (E34).

    Computed as 2 artanh(2z − 1) for z ≥ 1/4, which keeps every digit near 1/2 (torch's
    log(z / (1 − z)) loses them there: logit(0.5 + 1e-10) is off by ~1e-7 relative), and
    as log(z / (1 − z)) below. Dtypes as :func:`log2`'s. Raises TypeError for a bool
    tensor or an ``eps`` that is not None or a real number."""
    x = _float_arg(input, "logit")
    if eps is not None:
        if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, numbers.Real):
            raise TypeError(f"logit: eps must be None or a real number, got {eps!r:.40}")
        eps = float(eps)
    return Logit.apply(x, eps)


def logaddexp(input, other) -> Tensor:
    """log(e^a + e^b), element by element, without overflow, as ``torch.logaddexp``
    (NumPy's: max + log1p(e^{−|a − b|}); inf for two infinities, −inf for two −infinities);
    da = dy ⊙ σ(a − b), db = dy ⊙ σ(b − a), the two weights of a softmax over (a, b) (E34;
    NaN where a = b = ±inf, as torch's).

    Operands: tensors, arrays or Python numbers, broadcast (E1) and promoted as
    :func:`nongate_np.add`'s. Raises TypeError for an integer or bool tensor (as torch's),
    ValueError for shapes that do not broadcast."""
    return LogAddExp.apply(_floating_operand(input, "logaddexp", complex_ok=True),
                           _floating_operand(other, "logaddexp", complex_ok=True))
