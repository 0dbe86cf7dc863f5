"""Element-wise ops with NumPy broadcasting. Derivations: docs/math.md E1-E8.

Binary ops reduce the gradient of a broadcast operand back to its own shape (E1).
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..kernels import reference as ref
from ..tensor import Tensor
from ._util import broadcast_error, operand, tensor_arg, unbroadcast

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "exp", "log", "tanh", "sigmoid",
           "relu", "where", "cast"]


def _binary(ctx, op_name: str, forward, a, b):
    """``forward(a, b)`` with a broadcasting error that names the op and both shapes; the
    operands' shapes are kept for :func:`_operand_grads`."""
    ctx.shapes = (np.shape(a), np.shape(b))
    try:
        return forward(a, b)
    except ValueError as err:
        if "broadcast" in str(err):
            raise broadcast_error(op_name, a, b) from None
        raise


def _operand_grads(ctx, da, db):
    """The gradients of a binary op's operands, each summed back to its own shape (E1).
    ``da`` and ``db`` are thunks, called only for an operand that needs a gradient."""
    sa, sb = ctx.shapes
    return (unbroadcast(da(), sa) if ctx.needs_grad[0] else None,
            unbroadcast(db(), sb) if ctx.needs_grad[1] else None)


class Add(Function):
    """y = a + b;  da = dy, db = dy  (E2)."""

    @staticmethod
    def forward(ctx, a, b):
        return _binary(ctx, "add", np.add, a, b)

    @staticmethod
    def backward(ctx, dy):
        return _operand_grads(ctx, lambda: dy, lambda: dy)


class Sub(Function):
    """y = a - b;  da = dy, db = -dy  (E2)."""

    @staticmethod
    def forward(ctx, a, b):
        return _binary(ctx, "sub", np.subtract, a, b)

    @staticmethod
    def backward(ctx, dy):
        return _operand_grads(ctx, lambda: dy, lambda: -dy)


class Mul(Function):
    """y = a ⊙ b;  da = dy ⊙ b, db = dy ⊙ a  (E3)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _binary(ctx, "mul", np.multiply, a, b)

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved
        return _operand_grads(ctx, lambda: dy * b, lambda: dy * a)


class Div(Function):
    """y = a / b;  da = dy / b, db = -dy ⊙ y / b  (E3)."""

    @staticmethod
    def forward(ctx, a, b):
        y = _binary(ctx, "div", np.true_divide, a, b)
        ctx.save_for_backward(b, y)
        return y

    @staticmethod
    def backward(ctx, dy):
        b, y = ctx.saved
        return _operand_grads(ctx, lambda: dy / b, lambda: -dy * y / b)


class Neg(Function):
    """y = -x;  dx = -dy."""

    @staticmethod
    def forward(ctx, x):
        return np.negative(x)

    @staticmethod
    def backward(ctx, dy):
        return -dy


class Pow(Function):
    """y = a^b;  da = dy ⊙ b a^{b-1},  db = dy ⊙ y log a  (E4; db taken as 0 where a = 0)."""

    @staticmethod
    def forward(ctx, a, b):
        y = _binary(ctx, "pow", np.power, a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, dy):
        a, b, y = ctx.saved

        def db():
            # NOTE: lim_{a→0+} a^b log a = 0 for b > 0; avoid 0·(-inf) = nan there.
            a_safe = np.where(a == 0, 1, a)
            return dy * np.where(a == 0, 0, y * np.log(a_safe))
        return _operand_grads(ctx, lambda: dy * b * np.power(a, b - 1), db)


class Exp(Function):
    """y = e^x;  dx = dy ⊙ y  (E5)."""

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        return dy * y


class Log(Function):
    """y = log x;  dx = dy / x  (E5)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        return dy / x


class Tanh(Function):
    """y = tanh x;  dx = dy ⊙ (1 - y²)  (E6)."""

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        return dy * (1 - y * y)


class Sigmoid(Function):
    """y = σ(x);  dx = dy ⊙ y (1 - y)  (E6)."""

    @staticmethod
    def forward(ctx, x):
        y = ref.sigmoid(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        return dy * y * (1 - y)     # NOTE: σ' from the saved output, not from x (stable)


class Relu(Function):
    """y = max(x, 0);  dx = dy ⊙ [x > 0]  (E7; the subgradient at 0 is 0, as in torch)."""

    @staticmethod
    def forward(ctx, x):
        mask = np.real(x) > 0
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, dy):
        (mask,) = ctx.saved
        return dy * mask


class Where(Function):
    """y = cond ? a : b;  da = dy ⊙ cond, db = dy ⊙ ¬cond  (E8)."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        ctx.shapes = (np.shape(a), np.shape(b))
        try:
            return np.where(cond, a, b)
        except ValueError:
            raise ValueError(f"where: shapes of cond {np.shape(cond)}, a {np.shape(a)} and b "
                             f"{np.shape(b)} cannot be broadcast together") from None

    @staticmethod
    def backward(ctx, dy):
        sa, sb = ctx.shapes
        return (None,
                unbroadcast(np.where(ctx.cond, dy, 0), sa) if ctx.needs_grad[1] else None,
                unbroadcast(np.where(ctx.cond, 0, dy), sb) if ctx.needs_grad[2] else None)


class Cast(Function):
    """y = x as another dtype;  dx = dy as x's dtype.

    NOTE: complex input cast to a real dtype stays complex at that precision, so a
    complex-step check can pass through ``.double()`` / ``.float()``.
    """

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        if np.iscomplexobj(x) and dtype.kind == "f":
            dtype = np.result_type(dtype, np.complex64)
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, dy):
        if np.iscomplexobj(dy) and ctx.dtype.kind != "c":
            dy = dy.real
        return dy.astype(ctx.dtype), None


def add(a, b) -> Tensor:
    """a + b with broadcasting."""
    return Add.apply(operand(a, "add"), operand(b, "add"))


def sub(a, b) -> Tensor:
    """a - b with broadcasting."""
    return Sub.apply(operand(a, "sub"), operand(b, "sub"))


def mul(a, b) -> Tensor:
    """a * b (element-wise) with broadcasting."""
    return Mul.apply(operand(a, "mul"), operand(b, "mul"))


def div(a, b) -> Tensor:
    """a / b (true division) with broadcasting."""
    return Div.apply(operand(a, "div"), operand(b, "div"))


def neg(x) -> Tensor:
    return Neg.apply(tensor_arg(x, "neg"))


def pow(a, b) -> Tensor:
    """a ** b with broadcasting; either may be a tensor."""
    return Pow.apply(operand(a, "pow"), operand(b, "pow"))


def exp(x) -> Tensor:
    return Exp.apply(tensor_arg(x, "exp"))


def log(x) -> Tensor:
    """Natural logarithm (NaN for negative real input, as NumPy)."""
    return Log.apply(tensor_arg(x, "log"))


def tanh(x) -> Tensor:
    return Tanh.apply(tensor_arg(x, "tanh"))


def sigmoid(x) -> Tensor:
    """σ(x) = 1/(1+e^{-x}), computed without overflow for any finite x."""
    return Sigmoid.apply(tensor_arg(x, "sigmoid"))


def relu(x) -> Tensor:
    return Relu.apply(tensor_arg(x, "relu"))


def where(cond, a, b) -> Tensor:
    """Element-wise choice: ``a`` where ``cond`` is true, else ``b`` (broadcasting)."""
    cond = np.asarray(cond._data if isinstance(cond, Tensor) else cond)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: cond must be a boolean array, got dtype {cond.dtype}")
    return Where.apply(cond, operand(a, "where"), operand(b, "where"))


def cast(x, dtype) -> Tensor:
    """``x`` converted to ``dtype``; the gradient is converted back."""
    return Cast.apply(tensor_arg(x, "cast"), np.dtype(dtype))
