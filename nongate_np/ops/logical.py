"""Boolean and mask ops, as torch's: ``~``, ``&``, ``|``, ``^``, ``logical_*``, ``any``,
``all``, the comparisons ``eq``, ``ne``, ``lt``, ``le``, ``gt``, ``ge`` (the operators'
functions), ``isfinite``, ``isnan``, ``isinf``, ``masked_fill``, ``tril``, ``triu``,
``sign``.

The logical, bitwise, comparison and ``is*`` ops and ``any``/``all`` give bool (or integer)
tensors with no graph, as torch's; ``masked_fill``, ``tril`` and ``triu`` are ``where``
(docs/math.md E8, E8a) and ``sign`` has gradient 0. On the GPU the bool ops run on the
device's comparisons and selects; the bitwise ops of integer tensors, which have no device
kernel, compute on the host.
"""

from __future__ import annotations

import builtins
import numbers

import numpy as np

from ..autograd import Function
from ..casting import fill_value
from ..kernels.array_api import NUMPY
from ..tensor import Tensor, as_array
from ._util import (
    broadcast_error,
    ieee,
    normalize_axes,
    operand,
    promoted_as_torch,
    tensor_arg,
    torch_alias,
    xp_of,
)
from .elementwise import cast, where

__all__ = ["logical_not", "logical_and", "logical_or", "logical_xor", "bitwise_not",
           "bitwise_and", "bitwise_or", "bitwise_xor", "any", "all", "masked_fill", "sign",
           "eq", "ne", "lt", "le", "gt", "ge", "isfinite", "isnan", "isinf", "tril", "triu"]


def _values(op: str, *args):
    """The operands' arrays (Python scalars kept), on one device, and that device's xp."""
    vals = [a._data if isinstance(a, Tensor) else a for a in (operand(v, op) for v in args)]
    xp = xp_of(*vals)
    if xp is not NUMPY:         # a host array constant joins the tensor on its device
        vals = [xp.asarray(v) if isinstance(v, np.ndarray) else v for v in vals]
    return xp, vals


def _truth(xp, v):
    """``v != 0`` as bool (``v`` itself for a bool array, ``bool(v)`` for a scalar)."""
    if not hasattr(v, "dtype") or np.ndim(v) == 0 and not hasattr(v, "shape"):
        return bool(v)
    return v if v.dtype == np.bool_ else xp.not_equal(v, 0)


def _logical(op: str, combine, a, b) -> Tensor:
    xp, (a, b) = _values(op, a, b)
    ta, tb = _truth(xp, a), _truth(xp, b)
    try:
        out = combine(xp, ta, tb)
    except ValueError:
        raise broadcast_error(op, a, b) from None
    return Tensor._wrap(xp.asarray(out) if isinstance(out, bool) else out)


def logical_not(x) -> Tensor:
    """``x == 0``, element by element, as ``torch.logical_not``: bool, no gradient (NaN is
    true, so gives False)."""
    xp, (v,) = _values("logical_not", tensor_arg(x, "logical_not"))
    return Tensor._wrap(xp.equal(v, False) if v.dtype == np.bool_ else xp.equal(v, 0))


def logical_and(a, b) -> Tensor:
    """``a != 0 and b != 0``, broadcast, as ``torch.logical_and``: bool, no gradient.
    Raises ValueError where the shapes do not broadcast."""
    return _logical("logical_and", lambda xp, p, q: xp.where(p, q, False), a, b)


def logical_or(a, b) -> Tensor:
    """``a != 0 or b != 0``, broadcast, as ``torch.logical_or``: bool, no gradient."""
    return _logical("logical_or", lambda xp, p, q: xp.where(p, True, q), a, b)


def logical_xor(a, b) -> Tensor:
    """``(a != 0) != (b != 0)``, broadcast, as ``torch.logical_xor``: bool, no gradient."""
    return _logical("logical_xor", lambda xp, p, q: xp.not_equal(p, q), a, b)


def _integral(op: str, vals) -> None:
    for v in vals:
        kind = v.dtype.kind if hasattr(v, "dtype") else \
            "b" if isinstance(v, bool) else "i" if isinstance(v, numbers.Integral) else "f"
        if kind not in "biu":
            raise TypeError(f"{op}: only defined for bool and integer tensors (torch's "
                            f"bitwise ops), got {getattr(v, 'dtype', type(v).__name__)}")


_BOOL_FORMS = {"bitwise_and": logical_and, "bitwise_or": logical_or,
               "bitwise_xor": logical_xor}


def _bitwise(op: str, ufunc, a, b) -> Tensor:
    xp, vals = _values(op, a, b)
    _integral(op, vals)
    if builtins.all(isinstance(v, bool) or getattr(v, "dtype", None) == np.bool_
                    for v in vals):
        return _BOOL_FORMS[op](a, b)
    # NOTE: integer bitwise ops have no device kernel: computed on the host, moved back
    host = [xp.to_host(v) if hasattr(v, "dtype") else v for v in vals]
    host = promoted_as_torch(NUMPY, *host)  # torch's: a 0-d int64 beside int32 gives int32
    try:
        out = ufunc(*host)
    except ValueError:
        raise broadcast_error(op, *host) from None
    except OverflowError as err:    # a Python int beyond an integer tensor's dtype (NEP 50)
        raise ValueError(f"{op}: {err}; the tensor's dtype cannot hold it") from None
    return Tensor._wrap(xp.asarray(out))


def bitwise_not(x) -> Tensor:
    """``~x``, as ``torch.bitwise_not``: logical not of a bool tensor, the bits inverted of
    an integer one (``-x - 1``); no gradient. TypeError for a floating tensor, as torch."""
    x = tensor_arg(x, "bitwise_not")
    _integral("bitwise_not", [x._data])
    if x.dtype == np.bool_:
        return logical_not(x)
    xp = xp_of(x._data)
    return Tensor._wrap(xp.asarray(np.invert(xp.to_host(x._data))))


def bitwise_and(a, b) -> Tensor:
    """``a & b``, broadcast, as ``torch.bitwise_and``: bool for bools, else the integer
    dtype NumPy (and torch) promote to; no gradient. TypeError for a floating operand."""
    return _bitwise("bitwise_and", np.bitwise_and, a, b)


def bitwise_or(a, b) -> Tensor:
    """``a | b``, as :func:`bitwise_and`."""
    return _bitwise("bitwise_or", np.bitwise_or, a, b)


def bitwise_xor(a, b) -> Tensor:
    """``a ^ b``, as :func:`bitwise_and`."""
    return _bitwise("bitwise_xor", np.bitwise_xor, a, b)


def _any_all(op: str, x, axis, keepdims, dim, keepdim) -> Tensor:
    x = tensor_arg(x, op)
    axis = torch_alias(op, "axis", axis, "dim", dim, None)
    keepdims = bool(torch_alias(op, "keepdims", keepdims, "keepdim", keepdim, False))
    axes = normalize_axes(axis, x.ndim, op)
    xp = xp_of(x._data)
    # all(x) is not any(x == 0); any counts the nonzero elements
    truth = xp.equal(x._data, 0) if op == "all" else _truth(xp, x._data)
    if xp is NUMPY:
        found = np.any(truth, axis=axes, keepdims=keepdims)
    else:
        found = xp.greater(xp.sum(xp.astype(truth, np.int64), axis=axes, keepdims=keepdims), 0)
    out = xp.equal(found, False) if op == "all" else found
    # torch: uint8 input gives a uint8 result (0 or 1)
    return Tensor._wrap(xp.astype(out, np.uint8) if x.dtype == np.uint8 else xp.asarray(out))


def any(x, axis=None, keepdims: bool | None = None, *, dim=None,
        keepdim: bool | None = None) -> Tensor:
    """Whether any element is nonzero (NaN counts), over ``dim`` (None or ``()``: every
    dim; an int or a tuple), as ``torch.any``: bool (uint8 for a uint8 tensor, as torch),
    False over no element, no gradient. ``axis``/``keepdims`` are NumPy's names. Errors as
    the reductions' (ValueError for a dim out of range or repeated)."""
    return _any_all("any", x, axis, keepdims, dim, keepdim)


def all(x, axis=None, keepdims: bool | None = None, *, dim=None,
        keepdim: bool | None = None) -> Tensor:
    """Whether every element is nonzero, as ``torch.all``; True over no element; as
    :func:`any` otherwise."""
    return _any_all("all", x, axis, keepdims, dim, keepdim)


def _comparison(op: str, ufunc: str, x, other) -> Tensor:
    """``x (ufunc) other`` as the operator computes it (``Tensor._compare``), TypeError
    naming ``op`` for an ``other`` that is not a tensor, an array or a number."""
    out = tensor_arg(x, op)._compare(other, ufunc)
    if out is NotImplemented:
        raise TypeError(f"{op}: other must be a tensor, an array or a number, got "
                        f"{type(other).__name__}")
    return out


def eq(input, other) -> Tensor:
    """``input == other``, broadcast, as ``torch.eq``: bool, no gradient (NaN equals
    nothing). ``other`` a tensor, an array or a number. Raises ValueError for shapes that
    do not broadcast, TypeError for another kind of ``other``."""
    return _comparison("eq", "equal", input, other)


def ne(input, other) -> Tensor:
    """``input != other``, as ``torch.ne`` (NaN differs from everything); as :func:`eq`."""
    return _comparison("ne", "not_equal", input, other)


def lt(input, other) -> Tensor:
    """``input < other``, as ``torch.lt`` (False beside NaN); as :func:`eq`, and TypeError
    for complex operands (no order, as torch)."""
    return _comparison("lt", "less", input, other)


def le(input, other) -> Tensor:
    """``input <= other``, as ``torch.le``; as :func:`lt`."""
    return _comparison("le", "less_equal", input, other)


def gt(input, other) -> Tensor:
    """``input > other``, as ``torch.gt``; as :func:`lt`."""
    return _comparison("gt", "greater", input, other)


def ge(input, other) -> Tensor:
    """``input >= other``, as ``torch.ge``; as :func:`lt`."""
    return _comparison("ge", "greater_equal", input, other)


def _classify(op: str, x, integers: bool) -> Tensor:
    """isfinite, isnan or isinf of x: bool, x's shape and device; ``integers`` for a bool
    or integer x, which holds no NaN or inf."""
    x = tensor_arg(x, op)
    v = x._data
    xp = xp_of(v)
    if v.dtype.kind in "biu":
        return Tensor._wrap(xp.full(v.shape, integers, np.bool_))
    if xp is NUMPY:     # complex too (a complex step): NaN or inf in either part, as torch
        return Tensor._wrap(getattr(np, op)(v))
    # NOTE: the device namespace has comparisons, not these ufuncs: NaN is the one value
    # unequal to itself, and |v| < inf is false at ±inf and at NaN (so inf: neither)
    if op == "isnan":
        return Tensor._wrap(xp.not_equal(v, v))
    finite = xp.less(xp.abs(v), np.inf)
    return Tensor._wrap(finite if op == "isfinite" else xp.where(finite, False,
                                                                 xp.equal(v, v)))


def isfinite(input) -> Tensor:
    """Whether each element is finite (neither ±inf nor NaN), as ``torch.isfinite``: bool,
    input's shape and device, no gradient; True everywhere for bool and integer input,
    and for complex input where both parts are finite."""
    return _classify("isfinite", input, True)


def isnan(input) -> Tensor:
    """Whether each element is NaN (for complex input, either part), as ``torch.isnan``:
    bool, no gradient; False everywhere for bool and integer input."""
    return _classify("isnan", input, False)


def isinf(input) -> Tensor:
    """Whether each element is +inf or -inf (for complex input, either part), as
    ``torch.isinf``: bool, no gradient; False everywhere for bool and integer input."""
    return _classify("isinf", input, False)


def masked_fill(x, mask, value) -> Tensor:
    """``x`` with ``value`` where ``mask`` is True, as ``torch.masked_fill``: ``where(mask,
    value, x)``, so the gradient is ``dy`` where the mask is False and 0 where it is True,
    and a 0-d tensor ``value`` gets the sum of ``dy`` where the mask is True (E8, then E1).

    Shapes: ``mask`` (bool) broadcast with x, the result the broadcast shape (torch's
    out-of-place rule); x's dtype, ``value`` converted to it (1.5 in an int64 tensor is 1,
    as torch). ``value``: a number or a 0-d tensor. Raises TypeError for a mask that is not
    bool (torch: RuntimeError) or a value that is not a number or a tensor, ValueError for a
    value tensor with dimensions, a value x's dtype cannot hold (NaN in an integer dtype, a
    finite float beyond a float dtype's range: torch's "without overflow"), or shapes that
    do not broadcast."""
    x = tensor_arg(x, "masked_fill")
    m = mask._data if isinstance(mask, Tensor) else as_array(mask, what="masked_fill: mask")
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype} "
                        f"(compare first, e.g. mask != 0)")
    if isinstance(value, Tensor):
        if value.ndim:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got a "
                             f"tensor of shape {value.shape}")
        if value.dtype != x.dtype and value.dtype.kind != "c":   # complex: cast's rules
            fill_value(value.item(), x.dtype, "masked_fill")    # refused as a number is
        v = value if value.dtype == x.dtype else cast(value, x.dtype)
    else:
        v = fill_value(value, x.dtype, "masked_fill").item()
    try:
        return where(m, v, x)
    except ValueError:
        raise ValueError(f"masked_fill: mask of shape {m.shape} and x of shape {x.shape} "
                         "cannot be broadcast together") from None


def _triangle(op: str, x, diagonal, upper: bool) -> Tensor:
    """``x`` with 0 outside the triangle of its last two dims (E8a): ``where`` with the
    triangle (made on the host, moved to x's device by ``where``) as the condition."""
    x = tensor_arg(x, op)
    if isinstance(diagonal, (bool, np.bool_)) or not isinstance(diagonal, numbers.Integral):
        raise TypeError(f"{op}: diagonal must be an int, got {diagonal!r:.40}")
    if x.ndim < 2:
        raise ValueError(f"{op}: input must have at least 2 dimensions (a matrix or a batch "
                         f"of them), got shape {x.shape}")
    n, m = x.shape[-2:]
    k = int(diagonal)
    # NOTE: np.tri(n, m, k) is True where j ≤ i + k: tril's; triu keeps j ≥ i + k, its
    # complement one diagonal down
    keep = ~np.tri(n, m, k - 1, dtype=np.bool_) if upper else np.tri(n, m, k, dtype=np.bool_)
    return where(keep, x, fill_value(0, x.dtype, op).item())


def tril(input, diagonal: int = 0) -> Tensor:
    """The lower triangle of the matrices in ``input``'s last two dims, as ``torch.tril``:
    y[..., i, j] = x[..., i, j] where j ≤ i + ``diagonal``, else 0; the gradient is dy masked
    the same way (``where``, docs/math.md E8a). ``diagonal`` 0 is the main diagonal, > 0
    above it, < 0 below. Shapes: x (*, n, m) -> (*, n, m), x's dtype (bool and integers
    too). Raises ValueError for fewer than 2 dims (torch: RuntimeError), TypeError for a
    ``diagonal`` that is not an int."""
    return _triangle("tril", input, diagonal, upper=False)


def triu(input, diagonal: int = 0) -> Tensor:
    """The upper triangle, as ``torch.triu``: x[..., i, j] where j ≥ i + ``diagonal``, else
    0; as :func:`tril` (E8a)."""
    return _triangle("triu", input, diagonal, upper=True)


@ieee
class Sign(Function):
    """y = sign(x) ∈ {-1, 0, 1} (0 at NaN, as torch);  dx = 0 (piecewise constant, as
    torch's; E8). Complex input (a complex step) by its real part."""

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        if x.dtype == np.bool_:
            return xp.copy(x)
        real = np.real(x) if np.iscomplexobj(x) else x
        return xp.subtract(xp.astype(xp.greater(real, 0), x.dtype),
                           xp.astype(xp.less(real, 0), x.dtype))

    @staticmethod
    def backward(ctx, dy):
        return xp_of(dy).zeros(dy.shape, dy.dtype)


def sign(x) -> Tensor:
    """The sign of each element, as ``torch.sign``: -1, 0 or 1 in x's dtype (0 at NaN; a
    bool tensor as it is); the gradient is 0 everywhere."""
    return Sign.apply(tensor_arg(x, "sign"))
