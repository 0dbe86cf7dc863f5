"""Trigonometric and hyperbolic functions beyond ``sin``, ``cos`` and ``tanh``, as torch's:
``tan``, ``atan``, ``asin``, ``acos`` (docs/math.md E32), ``sinh``, ``cosh``, ``asinh``,
``acosh``, ``atanh`` (E33), and of two operands ``atan2`` and ``hypot`` (E35), with torch's
``arc*`` aliases (NumPy's names).

Each runs on the tensor's device through its array functions (``xp``). An integer tensor
gives float32 and a bool one is refused, as ``sin`` and ``cos`` do (torch's integers give
float32 too). The derivatives are computed in forms that neither cancel nor overflow where
torch's do: 1 − x² as (1 − x)(1 + x), √(x² + 1) as hypot(x, 1), √(x² − 1) as
√(x − 1) √(x + 1), and atan2's a² + b² through hypot(a, b) (E32, E33, E35).
"""

from __future__ import annotations

import numbers

from ..autograd import Function
from ..tensor import Tensor
from ._util import ieee, operand, xp_of
from .elementwise import _binary, _float_arg, _operand_grads

__all__ = ["tan", "atan", "asin", "acos", "sinh", "cosh", "asinh", "acosh", "atanh", "atan2",
           "hypot", "arctan", "arcsin", "arccos", "arcsinh", "arccosh", "arctanh", "arctan2"]


def _one_minus_square(xp, x):
    """1 − x² as (1 − x)(1 + x): 1 − x is exact near ±1, where 1 − x·x cancels (E32)."""
    return xp.multiply(xp.subtract(1, x), xp.add(x, 1))


@ieee
class Tan(Function):
    """y = tan x;  dx = dy ⊙ (1 + y²)  (E32; torch's, from the saved output)."""

    @staticmethod
    def forward(ctx, x):
        y = xp_of(x).tan(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        xp = xp_of(dy)
        return xp.multiply(dy, xp.add(xp.multiply(y, y), 1))


@ieee
class Atan(Function):
    """y = arctan x;  dx = dy / (1 + x²)  (E32). Saved: x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).arctan(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        return xp.divide(dy, xp.add(xp.multiply(x, x), 1))


@ieee
class Asin(Function):
    """y = arcsin x (arccos x with ``negate``);  dx = ±dy / √((1 − x)(1 + x))  (E32: inf at
    ±1, NaN outside [−1, 1]). Saved: x."""

    @staticmethod
    def forward(ctx, x, negate):
        ctx.save_for_backward(x)
        ctx.negate = negate
        xp = xp_of(x)
        return xp.arccos(x) if negate else xp.arcsin(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        dx = xp.divide(dy, xp.sqrt(_one_minus_square(xp, x)))            # E32
        return (xp.negative(dx) if ctx.negate else dx), None


@ieee
class Sinh(Function):
    """y = sinh x;  dx = dy ⊙ cosh x  (E33). Saved: x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).sinh(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        return xp.multiply(dy, xp.cosh(x))


@ieee
class Cosh(Function):
    """y = cosh x;  dx = dy ⊙ sinh x  (E33). Saved: x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).cosh(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        return xp.multiply(dy, xp.sinh(x))


@ieee
class Asinh(Function):
    """y = arcsinh x;  dx = dy / hypot(x, 1) = dy / √(x² + 1)  (E33; no overflow in x² for
    |x| > 1e154, where torch's gradient is 0). Saved: x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).arcsinh(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        return xp.divide(dy, xp.hypot(x, 1))                              # E33


@ieee
class Acosh(Function):
    """y = arccosh x;  dx = dy / (√(x − 1) √(x + 1))  (E33: inf at 1, NaN below; no
    cancellation near 1 and no overflow for large x, as torch's √(x² − 1) has). Saved: x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).arccosh(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        root = xp.multiply(xp.sqrt(xp.subtract(x, 1)), xp.sqrt(xp.add(x, 1)))
        return xp.divide(dy, root)                                        # E33


@ieee
class Atanh(Function):
    """y = arctanh x;  dx = dy / ((1 − x)(1 + x))  (E33: inf at ±1). Saved: x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).arctanh(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        return xp.divide(dy, _one_minus_square(xp, x))                    # E33


def _over_hypot(xp, v, h):
    """v / h², as (v / h) / h (E35: h² over- or underflows where the quotient does not),
    and 0 where h = 0 (the gradient at the origin, where both operands are 0)."""
    q = xp.divide(xp.divide(v, h), h)
    return xp.where(xp.equal(h, 0), 0, q)


@ieee
class Atan2(Function):
    """y = atan2(a, b), the angle of the point (b, a);  with h = hypot(a, b),
    da = dy ⊙ b / h², db = −dy ⊙ a / h², each 0 at a = b = 0  (E35, E1). Saved: a, b."""

    @staticmethod
    def forward(ctx, a, b):
        y = _binary(ctx, "atan2", "arctan2", a, b, keep=True)
        ctx.save_for_backward(*ctx.operands)
        del ctx.operands
        return y

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved
        xp = xp_of(dy)
        h = xp.hypot(a, b)
        return _operand_grads(ctx, lambda: xp.multiply(dy, _over_hypot(xp, b, h)),
                              lambda: xp.negative(xp.multiply(dy, _over_hypot(xp, a, h))))


@ieee
class Hypot(Function):
    """y = hypot(a, b) = √(a² + b²);  da = dy ⊙ a / y, db = dy ⊙ b / y, each 0 where y = 0
    (E35, E1; torch's is NaN there). Saved: a, b, y."""

    @staticmethod
    def forward(ctx, a, b):
        y = _binary(ctx, "hypot", "hypot", a, b, keep=True)
        ctx.save_for_backward(*ctx.operands, y)
        del ctx.operands
        return y

    @staticmethod
    def backward(ctx, dy):
        a, b, y = ctx.saved
        xp = xp_of(dy)
        zero = xp.equal(y, 0)

        def grad(v):
            # NOTE: a select, not v / y at y = 0 (0/0): the subgradient 0, as norm's (E25)
            return xp.where(zero, 0, xp.multiply(dy, xp.divide(v, y)))
        return _operand_grads(ctx, lambda: grad(a), lambda: grad(b))


def _float_operand(x, op: str):
    """A binary op's operand: a Python number as it is, anything else as a tensor with
    :func:`_float_arg`'s rule (integers to float32, bool refused)."""
    x = operand(x, op)
    return x if isinstance(x, numbers.Number) else _float_arg(x, op)


def _floating_operand(x, op: str, complex_ok: bool = False):
    """As :func:`_float_operand`, refusing an integer or bool tensor (TypeError), as torch's
    ``hypot`` and ``logaddexp`` do, and a complex one unless ``complex_ok``."""
    x = operand(x, op)
    if isinstance(x, numbers.Number):
        return x
    t = x if isinstance(x, Tensor) else Tensor(x)
    if t.dtype.kind not in ("fc" if complex_ok else "f"):
        why = ("it is not complex-analytic" if t.dtype.kind == "c" else
               f"torch's {op} refuses integers too: cast first, e.g. x.double()")
        raise TypeError(f"{op}: expected floating-point tensors (float32 or float64), got "
                        f"{t.dtype} (shape {t.shape}); {why}")
    return t


def tan(input) -> Tensor:
    """tan x (x in radians), element by element, as ``torch.tan`` (NaN at ±inf, ±inf or a
    large value near the poles π/2 + kπ, without a warning); dx = dy ⊙ (1 + y²), from the
    saved output as torch's (E32). Shapes: x (*) -> (*), x's dtype; an integer tensor gives
    float32, as torch. Raises TypeError for a bool tensor (torch computes it as float32)."""
    return Tan.apply(_float_arg(input, "tan"))


def atan(input) -> Tensor:
    """arctan x in (−π/2, π/2) (±π/2 at ±inf), element by element, as ``torch.atan``;
    dx = dy / (1 + x²) (E32). Dtypes and errors as :func:`tan`'s."""
    return Atan.apply(_float_arg(input, "atan"))


def asin(input) -> Tensor:
    """arcsin x in [−π/2, π/2], element by element, as ``torch.asin`` (NaN outside [−1, 1],
    without a warning); dx = dy / √((1 − x)(1 + x)): inf at ±1, NaN outside (E32; torch's
    √(1 − x²) loses digits near ±1). Dtypes and errors as :func:`tan`'s."""
    return Asin.apply(_float_arg(input, "asin"), False)


def acos(input) -> Tensor:
    """arccos x in [0, π], element by element, as ``torch.acos`` (NaN outside [−1, 1]);
    dx = −dy / √((1 − x)(1 + x)) (E32). Dtypes and errors as :func:`tan`'s."""
    return Asin.apply(_float_arg(input, "acos"), True)


def sinh(input) -> Tensor:
    """sinh x, element by element, as ``torch.sinh`` (±inf past the dtype's range, without
    a warning); dx = dy ⊙ cosh x (E33). Dtypes and errors as :func:`tan`'s."""
    return Sinh.apply(_float_arg(input, "sinh"))


def cosh(input) -> Tensor:
    """cosh x, element by element, as ``torch.cosh``; dx = dy ⊙ sinh x (E33). Dtypes and
    errors as :func:`tan`'s."""
    return Cosh.apply(_float_arg(input, "cosh"))


def asinh(input) -> Tensor:
    """arcsinh x, element by element, as ``torch.asinh``; dx = dy / √(x² + 1), computed as
    dy / hypot(x, 1) (E33): accurate for |x| > 1e154, where torch's x² overflows and its
    gradient is 0. Dtypes and errors as :func:`tan`'s."""
    return Asinh.apply(_float_arg(input, "asinh"))


def acosh(input) -> Tensor:
    """arccosh x ≥ 0, element by element, as ``torch.acosh`` (NaN below 1); dx = dy /
    (√(x − 1) √(x + 1)) (E33): inf at 1 and NaN below it, where the value is NaN (torch's
    (x² − 1)^{−1/2} gives a number for x < −1, inf at −1, and loses digits near 1).
    Dtypes and errors as :func:`tan`'s."""
    return Acosh.apply(_float_arg(input, "acosh"))


def atanh(input) -> Tensor:
    """arctanh x, element by element, as ``torch.atanh`` (±inf at ±1, NaN beyond); dx =
    dy / ((1 − x)(1 + x)): inf at ±1 (E33; outside [−1, 1] the formula's number, as
    torch's). Dtypes and errors as :func:`tan`'s."""
    return Atanh.apply(_float_arg(input, "atanh"))


def atan2(input, other) -> Tensor:
    """The angle in [−π, π] of the point (other, input), element by element, as
    ``torch.atan2``: y = atan2(a, b) (the signs of zeros and the infinities as C's atan2);
    with h = hypot(a, b), da = dy ⊙ b / h², db = −dy ⊙ a / h², 0 at a = b = 0 as torch's
    (E35; computed as (b / h) / h, which torch's b / (a² + b²) loses where the squares
    over- or underflow).

    Operands: tensors, arrays or Python numbers, broadcast (E1) and promoted as
    :func:`nongate_np.add`'s (float32 with float64 gives float64); integer tensors give
    float32, as torch. Raises TypeError for a bool tensor or a complex one, ValueError for
    shapes that do not broadcast."""
    return Atan2.apply(_float_operand(input, "atan2"), _float_operand(other, "atan2"))


def hypot(input, other) -> Tensor:
    """√(a² + b²) without overflow or underflow in the squares, element by element, as
    ``torch.hypot`` (inf where either is ±inf); da = dy ⊙ a / y, db = dy ⊙ b / y, and 0 at
    a = b = 0, the subgradient ``norm`` gives there (E35; torch's is NaN there).

    Operands as :func:`atan2`'s, broadcast; raises TypeError for an integer, bool or complex
    tensor (torch's refuses integers too), ValueError for shapes that do not broadcast."""
    return Hypot.apply(_floating_operand(input, "hypot"), _floating_operand(other, "hypot"))


# NumPy's names, which torch has as aliases
arctan, arcsin, arccos = atan, asin, acos
arcsinh, arccosh, arctanh, arctan2 = asinh, acosh, atanh, atan2
