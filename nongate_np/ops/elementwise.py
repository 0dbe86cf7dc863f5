"""Element-wise ops with NumPy broadcasting. Derivations: docs/math.md E1-E8, E19-E22, E30,
E31.

Binary ops reduce the gradient of a broadcast operand back to its own shape (E1).
"""

from __future__ import annotations

import numbers
from functools import partial

import numpy as np

from ..autograd import Function
from ..factories import _dtype as checked_dtype
from ..kernels.array_api import NUMPY
from ..tensor import Tensor
from ._util import (
    broadcast_error,
    ieee,
    numeric_arg,
    operand,
    promoted_as_torch,
    tensor_arg,
    unbroadcast,
    xp_of,
)

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "exp", "log", "tanh", "sigmoid",
           "relu", "abs", "sqrt", "sin", "cos", "clamp", "clip", "maximum", "minimum", "where",
           "cast", "log1p", "expm1", "square", "erf", "clamp_min", "clamp_max"]

_TWO_OVER_SQRT_PI = 2.0 / np.sqrt(np.pi)


def _binary(ctx, op_name: str, forward, a, b, keep: bool = False):
    """The device's array function ``forward`` (its name, or a function ``(xp, a, b)``) on
    (a, b), with a broadcasting error that names the op and both shapes; the operands'
    shapes are kept for
    :func:`_operand_grads`; with ``keep`` the operands too, as computed with
    (``ctx.operands``: a host array constant moved to the tensor's device)."""
    ctx.shapes = (np.shape(a), np.shape(b))
    xp = xp_of(a, b)
    if xp is not NUMPY:         # a host array constant joins the tensor on its device
        a, b = (xp.asarray(v) if isinstance(v, np.ndarray) else v for v in (a, b))
    a, b = promoted_as_torch(xp, a, b)
    if keep:
        ctx.operands = (a, b)
    compute = getattr(xp, forward) if isinstance(forward, str) else partial(forward, xp)
    try:
        return compute(a, b)
    except ValueError as err:
        if "broadcast" in str(err):
            raise broadcast_error(op_name, a, b) from None
        raise ValueError(f"{op_name}: {err}") from None
    except TypeError as err:        # e.g. NumPy's bool subtract: named by the op
        raise TypeError(f"{op_name}: {err}") from None
    except OverflowError as err:    # a Python int beyond an integer tensor's dtype (NEP 50)
        raise ValueError(f"{op_name}: {err}; the tensor's dtype cannot hold it (cast the "
                         f"tensor first, e.g. .long())") from None


def _operand_grads(ctx, da, db):
    """The gradients of a binary op's operands, each summed back to its own shape (E1).
    ``da`` and ``db`` are thunks, called only for an operand that needs a gradient."""
    sa, sb = ctx.shapes
    return (unbroadcast(da(), sa) if ctx.needs_grad[0] else None,
            unbroadcast(db(), sb) if ctx.needs_grad[1] else None)


@ieee
class Add(Function):
    """y = a + b;  da = dy, db = dy  (E2)."""

    @staticmethod
    def forward(ctx, a, b):
        return _binary(ctx, "add", "add", a, b)

    @staticmethod
    def backward(ctx, dy):
        return _operand_grads(ctx, lambda: dy, lambda: dy)


@ieee
class Sub(Function):
    """y = a - b;  da = dy, db = -dy  (E2)."""

    @staticmethod
    def forward(ctx, a, b):
        return _binary(ctx, "sub", "subtract", a, b)

    @staticmethod
    def backward(ctx, dy):
        return _operand_grads(ctx, lambda: dy, lambda: xp_of(dy).negative(dy))


@ieee
class Mul(Function):
    """y = a ⊙ b;  da = dy ⊙ b, db = dy ⊙ a  (E3)."""

    @staticmethod
    def forward(ctx, a, b):
        y = _binary(ctx, "mul", "multiply", a, b, keep=True)
        a, b = ctx.operands
        del ctx.operands
        # NOTE: each operand only where the other's gradient needs it, as PyTorch saves:
        # a weight stepped before the backward of w·x with constant x is not read again
        ctx.save_for_backward(a if ctx.needs_grad[1] else None,
                              b if ctx.needs_grad[0] else None)
        return y

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved
        xp = xp_of(dy)
        return _operand_grads(ctx, lambda: xp.multiply(dy, b), lambda: xp.multiply(dy, a))


@ieee
class Div(Function):
    """y = a / b;  da = dy / b, db = -dy ⊙ (a / b) / b  (E3)."""

    @staticmethod
    def forward(ctx, a, b):
        y = _binary(ctx, "div", "divide", a, b, keep=True)
        a, b = ctx.operands
        del ctx.operands
        # NOTE: the operands, not y, as PyTorch: y is the caller's to change in place
        # (h = a / b; h += 1 under no_grad), and a is read only for db
        ctx.save_for_backward(a if ctx.needs_grad[1] else None, b)
        return y

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved
        xp = xp_of(dy)
        return _operand_grads(ctx, lambda: xp.divide(dy, b),
                              lambda: xp.divide(xp.multiply(xp.negative(dy),
                                                            xp.divide(a, b)), b))


@ieee
class Neg(Function):
    """y = -x;  dx = -dy  (E2)."""

    @staticmethod
    def forward(ctx, x):
        return xp_of(x).negative(x)

    @staticmethod
    def backward(ctx, dy):
        return xp_of(dy).negative(dy)


@ieee
class Pow(Function):
    """y = a^b;  da = dy ⊙ b a^{b-1},  db = dy ⊙ y log a  (E4; da taken as 0 where b = 0, db
    as 0 where a = 0 and b ≥ 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, a, b):
        y = _binary(ctx, "pow", "power", a, b, keep=True)
        ctx.save_for_backward(*ctx.operands, y)
        return y

    @staticmethod
    def backward(ctx, dy):
        a, b, y = ctx.saved
        xp = xp_of(dy)

        def da():
            # NOTE: a Python-number exponent stays one, so NumPy keeps a's dtype (NEP 50)
            if isinstance(b, (int, float, complex)):
                if b == 0:                      # a^0 = 1 is constant, even at a = 0
                    return xp.zeros(dy.shape, dy.dtype)
                return xp.multiply(xp.multiply(dy, b), xp.power(a, b - 1))
            # NOTE: where b = 0, b a^{b-1} is 0·inf = NaN at a = 0; the derivative is 0
            grad = xp.multiply(xp.multiply(dy, b), xp.power(a, xp.subtract(b, 1)))
            return xp.where(xp.equal(b, 0), 0, grad)

        def db():
            # NOTE: at a = 0, 0 for b > 0 (the limit of a^b log a) and for b = 0 (no
            # derivative there: torch's convention), not 0·(-inf) = nan; for b < 0
            # y log a = inf·(-inf) = -inf, as torch (E4).
            # (A complex b, CPU only, by its real part.)
            real_b = np.real(b) if np.iscomplexobj(b) else b
            non_negative = bool(real_b >= 0) if np.ndim(real_b) == 0 and \
                not hasattr(real_b, "copy_to_host") else xp.greater_equal(real_b, 0)
            zero = xp.where(xp.equal(a, 0), non_negative, False)
            a_safe = xp.where(zero, 1, a)
            return xp.multiply(dy, xp.where(zero, 0, xp.multiply(y, xp.log(a_safe))))
        return _operand_grads(ctx, da, db)


@ieee
class Exp(Function):
    """y = e^x;  dx = dy ⊙ y  (E5)."""

    @staticmethod
    def forward(ctx, x):
        y = xp_of(x).exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        return xp_of(dy).multiply(dy, y)


@ieee
class Log(Function):
    """y = log x;  dx = dy / x  (E5)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).log(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        return xp_of(dy).divide(dy, x)


@ieee
class Log1p(Function):
    """y = log(1 + x);  dx = dy / (1 + x)  (E5a)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).log1p(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        return xp.divide(dy, xp.add(x, 1))


@ieee
class Expm1(Function):
    """y = e^x − 1;  dx = dy ⊙ (y + 1)  (E5a; torch's, from the saved output)."""

    @staticmethod
    def forward(ctx, x):
        y = xp_of(x).expm1(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        xp = xp_of(dy)
        return xp.multiply(dy, xp.add(y, 1))


@ieee
class Square(Function):
    """y = x ⊙ x;  dx = 2 dy ⊙ x  (E3a)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).multiply(x, x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        return xp.multiply(xp.multiply(dy, x), 2)


@ieee
class Erf(Function):
    """y = erf x;  dx = dy ⊙ (2/√π) e^{−x²}  (E31). Saved: x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).erf(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        density = xp.multiply(xp.exp(xp.negative(xp.multiply(x, x))), _TWO_OVER_SQRT_PI)
        return xp.multiply(dy, density)


@ieee
class Tanh(Function):
    """y = tanh x;  dx = dy ⊙ (1 - y²)  (E6)."""

    @staticmethod
    def forward(ctx, x):
        y = xp_of(x).tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        xp = xp_of(dy)
        return xp.multiply(dy, xp.subtract(1, xp.multiply(y, y)))


@ieee
class Sigmoid(Function):
    """y = σ(x);  dx = dy ⊙ y (1 - y)  (E6)."""

    @staticmethod
    def forward(ctx, x):
        y = xp_of(x).sigmoid(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        xp = xp_of(dy)
        # NOTE: σ' from the saved output, not from x (stable)
        return xp.multiply(xp.multiply(dy, y), xp.subtract(1, y))


@ieee
class Relu(Function):
    """y = max(x, 0);  dx = dy where x > 0, else 0  (E7; the subgradient at 0 is 0, as in
    torch; NaN passes through, as torch's).

    NOTE: a select, not ``x ⊙ [x > 0]``: -inf · 0 and an inf ``dy`` · 0 would give NaN.
    """

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        off = xp.less_equal(np.real(x) if x.dtype.kind == "c" else x, 0)
        ctx.save_for_backward(off)
        return xp.where(off, 0, x)

    @staticmethod
    def backward(ctx, dy):
        (off,) = ctx.saved
        return xp_of(dy).where(off, 0, dy)


def _real(x):
    """What the piecewise ops compare: x, or its real part for complex input (a complex step
    rides along on the piece x falls in)."""
    return np.real(x) if np.iscomplexobj(x) else x


@ieee
class Abs(Function):
    """y = |x|;  dx = dy where x > 0, -dy where x < 0, 0 at ±0 and at NaN  (E19; torch's
    sign(x), as a select). Complex input: ±x by the sign of its real part."""

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        ctx.save_for_backward(x)
        if np.iscomplexobj(x):
            return xp.where(xp.less(np.real(x), 0), xp.negative(x), x)
        return xp.abs(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        real = _real(x)
        # NOTE: selects, not dy ⊙ sign(x): an inf dy at x = 0 gives 0, not NaN (E7's reason)
        return xp.where(xp.greater(real, 0), dy, xp.where(xp.less(real, 0), xp.negative(dy), 0))


@ieee
class Sqrt(Function):
    """y = √x;  dx = dy / (2y)  (E20; inf at x = 0 and NaN for x < 0, as torch)."""

    @staticmethod
    def forward(ctx, x):
        y = xp_of(x).sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        xp = xp_of(dy)
        return xp.divide(dy, xp.multiply(y, 2))


@ieee
class Sin(Function):
    """y = sin x;  dx = dy ⊙ cos x  (E30)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).sin(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        return xp.multiply(dy, xp.cos(x))


@ieee
class Cos(Function):
    """y = cos x;  dx = −dy ⊙ sin x  (E30)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).cos(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        return xp.negative(xp.multiply(dy, xp.sin(x)))


def _beyond(xp, v, bound, compare):
    """Where ``v`` lies beyond the scalar ``bound`` (``compare``: ``xp.less`` for a lower,
    ``xp.greater`` for an upper one); everywhere for a NaN bound, which torch then gives."""
    if bound != bound:
        return xp.full(v.shape, True, np.bool_)
    return compare(v, bound)


@ieee
class Clamp(Function):
    """y = min(max(x, lo), hi);  dx = dy where lo ≤ x ≤ hi, else 0  (E21; both bounds
    inclusive, as torch). ``lo``, ``hi``: Python numbers or None (no bound). Saved: the mask
    where the gradient passes (bool, x's shape)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        xp = xp_of(x)
        passes = xp.full(x.shape, True, np.bool_)
        y = x
        if lo is not None:
            y = xp.where(_beyond(xp, _real(y), lo, xp.less), lo, y)
            passes = xp.greater_equal(_real(x), lo)
        if hi is not None:
            # NOTE: applied after lo, so lo > hi gives hi everywhere, as torch
            y = xp.where(_beyond(xp, _real(y), hi, xp.greater), hi, y)
            passes = xp.where(passes, xp.less_equal(_real(x), hi), False)
        ctx.save_for_backward(passes)
        return xp.copy(y) if y is x else y

    @staticmethod
    def backward(ctx, dy):
        (passes,) = ctx.saved
        return xp_of(dy).where(passes, dy, 0), None, None


def _compare_and_select(xp, a, b, smallest: bool):
    """max(a, b) (min with ``smallest``), broadcast, and the masks E22's gradient reads:
    (y, where a wins, where b wins, where they tie). NaN in either operand is y; at a tie y
    is a (±0: torch's sign of zero varies). Complex input is compared by its real part."""
    ra, rb = _real(a), _real(b)
    beats = xp.less if smallest else xp.greater
    a_wins, b_wins = beats(ra, rb), beats(rb, ra)
    y = xp.where(b_wins, b, xp.where(xp.not_equal(rb, rb), b, a))
    return y, a_wins, b_wins, xp.equal(ra, rb)


@ieee
class Maximum(Function):
    """y = max(a, b) element-wise (min(a, b) with ``smallest``);  da = dy where a wins,
    db = dy where b wins, dy/2 to each at a tie, dy to both where either is NaN  (E22, as
    torch). Saved: the three masks (bool, the broadcast shape)."""

    @staticmethod
    def forward(ctx, a, b, smallest):
        name = "minimum" if smallest else "maximum"
        y, a_wins, b_wins, ties = _binary(ctx, name, partial(_compare_and_select,
                                                             smallest=smallest), a, b)
        ctx.save_for_backward(a_wins, b_wins, ties)
        return y

    @staticmethod
    def backward(ctx, dy):
        a_wins, b_wins, ties = ctx.saved
        xp = xp_of(dy)
        share = xp.where(ties, xp.divide(dy, 2), dy)                # E22: ½ each at a tie
        # NOTE: selects, as E7: an inf dy gives the losing operand 0, not NaN
        return (*_operand_grads(ctx, lambda: xp.where(b_wins, 0, share),
                                lambda: xp.where(a_wins, 0, share)), None)


@ieee
class Where(Function):
    """y = cond ? a : b;  da = dy where cond, else 0; db = dy where not cond, else 0  (E8)."""

    @staticmethod
    def forward(ctx, cond, a, b):
        xp = xp_of(a, b)
        ctx.cond = cond = xp.asarray(cond)
        ctx.shapes = (np.shape(a), np.shape(b))
        # torch's dtype: where(mask, scores, ng.tensor(-1e9)) stays float32
        a, b = promoted_as_torch(xp, a, b)
        try:
            return xp.where(cond, a, b)
        except ValueError:
            raise ValueError(f"where: shapes of cond {np.shape(cond)}, a {np.shape(a)} and b "
                             f"{np.shape(b)} cannot be broadcast together") from None

    @staticmethod
    def backward(ctx, dy):
        sa, sb = ctx.shapes
        xp = xp_of(dy)
        return (None,
                unbroadcast(xp.where(ctx.cond, dy, 0), sa) if ctx.needs_grad[1] else None,
                unbroadcast(xp.where(ctx.cond, 0, dy), sb) if ctx.needs_grad[2] else None)


@ieee
class Cast(Function):
    """y = x as another dtype;  dx = dy as x's dtype  (E1a).

    NOTE: complex input cast to a real dtype stays complex at that precision, so a
    complex-step check can pass through ``.double()`` / ``.float()``.
    """

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        if np.iscomplexobj(x) and dtype.kind == "f":
            dtype = np.result_type(dtype, np.complex64)
        xp = xp_of(x)
        y = xp.astype(x, dtype)
        return xp.copy(y) if y is x else y       # a new array, as ndarray.astype gives

    @staticmethod
    def backward(ctx, dy):
        if np.iscomplexobj(dy) and ctx.dtype.kind != "c":
            dy = dy.real
        xp = xp_of(dy)
        dx = xp.astype(dy, ctx.dtype)
        return (xp.copy(dx) if dx is dy else dx), None


def add(a, b) -> Tensor:
    """a + b; da = dy, db = dy, each summed back to its operand's shape (E2, E1).

    Operands: tensors, arrays or numbers, broadcast by NumPy's rules (the result has the
    broadcast shape) and promoted by NumPy's (a Python or NumPy scalar keeps a tensor's
    dtype, as torch). The same for ``sub``, ``mul``, ``div`` and ``pow``. Raises ValueError
    for shapes that do not broadcast, TypeError for an operand that is not numbers."""
    return Add.apply(operand(a, "add"), operand(b, "add"))


def sub(a, b) -> Tensor:
    """a - b; da = dy, db = -dy (E2, E1). Operands and errors as :func:`add`'s."""
    return Sub.apply(operand(a, "sub"), operand(b, "sub"))


def mul(a, b) -> Tensor:
    """a ⊙ b, element by element; da = dy ⊙ b, db = dy ⊙ a (E3, E1). Operands and errors as
    :func:`add`'s."""
    return Mul.apply(operand(a, "mul"), operand(b, "mul"))


def div(a, b) -> Tensor:
    """a / b, true division (integers give float64, as NumPy; torch: float32); da = dy / b,
    db = -dy ⊙ y / b (E3, E1). Operands and errors as :func:`add`'s."""
    return Div.apply(operand(a, "div"), operand(b, "div"))


def neg(x) -> Tensor:
    """-x, element by element; dx = -dy (E2). TypeError for a bool tensor, as torch."""
    return Neg.apply(numeric_arg(x, "neg"))


def pow(a, b) -> Tensor:
    """a ** b, either a tensor; da = dy ⊙ b a^{b-1}, db = dy ⊙ y log a, with torch's values
    where a = 0 (0 where b = 0; see E4). Operands and errors as :func:`add`'s."""
    return Pow.apply(operand(a, "pow"), operand(b, "pow"))


def exp(x) -> Tensor:
    """e^x, element by element (inf beyond the dtype's range, without a warning); dx = dy·y
    (E5)."""
    return Exp.apply(numeric_arg(x, "exp"))


def log(x) -> Tensor:
    """Natural logarithm (NaN for negative real input, -inf at 0, without a warning, as
    torch); dx = dy / x (E5)."""
    return Log.apply(numeric_arg(x, "log"))


def tanh(x) -> Tensor:
    """tanh x, element by element; dx = dy·(1 − y²) from the saved output (E6)."""
    return Tanh.apply(numeric_arg(x, "tanh"))


def sigmoid(x) -> Tensor:
    """σ(x) = 1/(1+e^{-x}), element by element, computed without overflow for any finite x;
    dx = dy ⊙ y(1 − y) from the saved output (E6). TypeError for a bool tensor."""
    return Sigmoid.apply(numeric_arg(x, "sigmoid"))


def relu(x) -> Tensor:
    """max(x, 0), element by element; dx = dy where x > 0, else 0 (0 at x = 0, as torch:
    E7)."""
    return Relu.apply(numeric_arg(x, "relu"))


def abs(x) -> Tensor:
    """|x|, element by element, as ``torch.abs``; dx = dy·sign(x), 0 at x = 0 and at NaN
    (E19). Complex input (complex-step checks) is signed by its real part: the gradient
    holds away from 0. TypeError for a bool tensor, as torch."""
    return Abs.apply(numeric_arg(x, "abs"))


def _float_arg(x, op: str) -> Tensor:
    """``x`` as :func:`numeric_arg` takes it, an integer tensor cast to float32: torch's
    result dtype for the functions defined on the reals (sqrt, sin, cos)."""
    x = numeric_arg(x, op)
    return cast(x, np.float32) if x.dtype.kind in "iu" else x


def sqrt(x) -> Tensor:
    """√x, element by element, as ``torch.sqrt`` (NaN for x < 0, without a warning); dx =
    dy / (2√x), inf at x = 0 (E20). An integer tensor gives float32, as torch. TypeError for
    a bool tensor."""
    return Sqrt.apply(_float_arg(x, "sqrt"))


def sin(x) -> Tensor:
    """sin x (x in radians), element by element, as ``torch.sin`` (NaN at ±inf, without a
    warning); dx = dy·cos x (E30). An integer tensor gives float32, as torch. TypeError for
    a bool tensor."""
    return Sin.apply(_float_arg(x, "sin"))


def cos(x) -> Tensor:
    """cos x (x in radians), element by element, as ``torch.cos`` (NaN at ±inf, without a
    warning); dx = −dy·sin x (E30). An integer tensor gives float32, as torch. TypeError for
    a bool tensor."""
    return Cos.apply(_float_arg(x, "cos"))


def log1p(x) -> Tensor:
    """log(1 + x), element by element, as ``torch.log1p``: accurate where x is near 0 (where
    ``log(1 + x)`` loses x's digits to the rounding of 1 + x); −inf at −1, NaN below it,
    without a warning; dx = dy / (1 + x) (E5a). An integer tensor gives float32, as torch.
    TypeError for a bool tensor."""
    return Log1p.apply(_float_arg(x, "log1p"))


def expm1(x) -> Tensor:
    """e^x − 1, element by element, as ``torch.expm1``: accurate where x is near 0; −1 at
    −inf, inf beyond the dtype's range, without a warning; dx = dy ⊙ (y + 1), from the saved
    output as torch's (E5a). An integer tensor gives float32, as torch. TypeError for a bool
    tensor."""
    return Expm1.apply(_float_arg(x, "expm1"))


def square(x) -> Tensor:
    """x ⊙ x, element by element, as ``torch.square``; dx = 2 dy ⊙ x (E3a). The dtype is x's
    (an integer tensor stays integer, wrapping around as NumPy's products do; torch's
    too); a bool tensor gives int64, as torch."""
    x = tensor_arg(x, "square")
    if x.dtype == np.bool_:
        x = cast(x, np.int64)
    return Square.apply(x)


def erf(x) -> Tensor:
    """The error function erf x = (2/√π) ∫_0^x e^{−t²} dt, element by element, as
    ``torch.erf`` (scipy.special's on the CPU, complex input included; the GPU's ``math.erf``
    on the device); dx = dy ⊙ (2/√π) e^{−x²} (E31). ±1 at ±inf, NaN at NaN. An integer tensor
    gives float32, as torch. TypeError for a bool tensor."""
    return Erf.apply(_float_arg(x, "erf"))


def _bound(value, which: str, op: str):
    """A clamp bound: None, or a real Python number (a NumPy scalar becomes one, so the
    tensor keeps its dtype); TypeError for anything else."""
    if value is None:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        return value.item() if isinstance(value, np.generic) else value
    raise TypeError(f"{op}: {which} must be a real number (int or float) or None, got "
                    f"{type(value).__name__}; tensor bounds are not supported (use "
                    f"where(x < lo, lo, x) for a tensor lo)")


def clamp(x, min=None, max=None) -> Tensor:
    """x limited to [min, max], element by element, as ``torch.clamp`` (alias ``clip``):
    y = min(max(x, min), max), so min > max gives max everywhere; dx = dy where
    min ≤ x ≤ max (both bounds inclusive), 0 elsewhere (E21).

    ``min``, ``max``: Python (or NumPy) real numbers or None, at least one given; tensor
    bounds are not supported. NaN in x, or a NaN bound, gives NaN, as torch. The dtype is
    x's; an integer tensor with a float bound gives float32, as torch. Raises TypeError when
    both bounds are None, for a bound that is not a real number, and for a bool tensor.
    """
    return _clamp("clamp", x, min, max)


def _clamp(op: str, x, lo, hi) -> Tensor:
    x = numeric_arg(x, op)
    lo, hi = _bound(lo, "min", op), _bound(hi, "max", op)
    if lo is None and hi is None:
        raise TypeError(f"{op}: at least one of min or max must be given (not None)")
    if x.dtype.kind in "iu" and any(isinstance(b, float) for b in (lo, hi)):
        x = cast(x, np.float32)     # torch's default dtype, not NumPy's float64
    return Clamp.apply(x, lo, hi)


def clip(x, min=None, max=None) -> Tensor:
    """``clamp``, under NumPy's and torch's other name (errors name ``clip``)."""
    return _clamp("clip", x, min, max)


def clamp_min(input, min) -> Tensor:
    """``clamp(input, min=min)``, as ``torch.clamp_min``: x limited from below; dx = dy
    where x ≥ min (E21). ``min``: a real number (torch's may also be a tensor; not here).
    Raises TypeError for a bound that is None or not a real number, and for a bool tensor."""
    if min is None:
        raise TypeError("clamp_min: min must be a real number, got None")
    return _clamp("clamp_min", input, min, None)


def clamp_max(input, max) -> Tensor:
    """``clamp(input, max=max)``, as ``torch.clamp_max``: x limited from above; dx = dy
    where x ≤ max (E21). As :func:`clamp_min`."""
    if max is None:
        raise TypeError("clamp_max: max must be a real number, got None")
    return _clamp("clamp_max", input, None, max)


def maximum(a, b) -> Tensor:
    """The element-wise maximum of ``a`` and ``b``, broadcast, as ``torch.maximum`` (and
    ``max(a, b)``): NaN where either is NaN; the dtype torch promotes to. The gradient goes
    to the larger operand, half to each at a tie, the whole to both at a NaN (E22, torch's).
    Raises ValueError where the shapes do not broadcast."""
    return Maximum.apply(tensor_arg(a, "maximum"), tensor_arg(b, "maximum"), False)


def minimum(a, b) -> Tensor:
    """The element-wise minimum of ``a`` and ``b``, as ``torch.minimum`` (and ``min(a, b)``);
    as :func:`maximum`, the gradient to the smaller operand (E22)."""
    return Maximum.apply(tensor_arg(a, "minimum"), tensor_arg(b, "minimum"), True)


def where(cond, a, b) -> Tensor:
    """Element-wise choice: ``a`` where ``cond`` is true, else ``b``; da = dy where cond,
    db = dy elsewhere, 0 on the side not taken (selects, so an infinite dy gives no NaN;
    docs/math.md E8, then E1).

    ``cond`` a bool array or tensor (it gets no gradient); the three broadcast by NumPy's
    rules to the result's shape, ``a`` and ``b`` promoted as :func:`add`'s operands. Raises
    TypeError for a ``cond`` that is not bool, ValueError for shapes that do not
    broadcast."""
    cond = cond._data if isinstance(cond, Tensor) else cond
    cond = cond if hasattr(cond, "dtype") and not np.isscalar(cond) else np.asarray(cond)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: cond must be a boolean array, got dtype {cond.dtype}")
    return Where.apply(cond, operand(a, "where"), operand(b, "where"))


def cast(x, dtype) -> Tensor:
    """``x`` converted to ``dtype``; the gradient is converted back (to an integer or bool
    dtype: a constant, with no gradient, as in torch).

    A float beyond a floating dtype's range becomes ±inf (as torch). Complex input cast to
    a real floating dtype stays complex at that precision (so a complex-step check passes
    through ``.float()`` / ``.double()``). Raises TypeError for an unknown dtype or complex
    values cast to an integer dtype, ValueError for a float an integer dtype cannot hold
    (NaN, inf, out of range; NumPy would give an arbitrary integer)."""
    x = tensor_arg(x, "cast")
    dt = checked_dtype(dtype, "cast")
    if dt.kind in "iu" and x.dtype.kind in "fc":
        if x.dtype.kind == "c":
            raise TypeError(f"cast: complex values cannot be cast to {dt}; take the real part "
                            "first")
        values = xp_of(x.data).to_host(x.data)
        info = np.iinfo(dt)
        # NOTE: info.max + 1 is a power of 2, exact in float64, unlike info.max
        bad = ~np.isfinite(values) | (values < info.min) | (values >= float(info.max) + 1)
        if bad.any():
            raise ValueError(f"cast: {values[bad].flat[0]} cannot be represented in {dt} "
                             f"(range {info.min}..{info.max})")
    return Cast.apply(x, dt)
