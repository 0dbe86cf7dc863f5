"""Rounding to integers, as torch's: ``floor``, ``ceil``, ``trunc``, ``round`` (half to even,
with ``decimals``) and the fractional part ``frac``. Derivations: docs/math.md E36.

The rounded values are piecewise constant: their gradient is 0 (torch's, at the jumps too,
where the derivative does not exist), and ``frac`` = x − trunc(x) has gradient 1. They run
on the tensor's device (the device's ``floor``, ``ceil``, ``trunc``, ``rint``). NaN and ±inf
are their own rounding (``frac`` gives NaN there, as torch's); a float32 input stays
float32. An integer tensor is its own floor, ceil, trunc and round (a copy, no graph, as
torch's); a bool one is refused, as torch refuses it.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import ieee, numeric_arg, xp_of

__all__ = ["floor", "ceil", "trunc", "round", "frac", "fix"]

def _rounded(xp, x, kind: str, decimals: int):
    """x rounded by the device's ``kind`` (``rint``: half to even); with ``decimals`` d, at
    10^−d: rint(x · 10^d) / 10^d for d > 0, rint(x / 10^−d) · 10^−d for d < 0, the scale
    in x's dtype, as torch's (E36)."""
    if decimals == 0:
        return getattr(xp, kind)(x)
    # NOTE: 10^|d| as a Python float, rounded to x's dtype by the operation (as torch's
    # static_cast); beyond float64's range it is inf, as torch's std::pow gives
    scale = 10.0 ** abs(decimals) if abs(decimals) <= 308 else math.inf
    if decimals > 0:
        return xp.divide(xp.rint(xp.multiply(x, scale)), scale)
    return xp.multiply(xp.rint(xp.divide(x, scale)), scale)


@ieee
class Rounding(Function):
    """y = floor x, ceil x, trunc x or round(x, d) (``kind``: the device's function);
    dx = 0  (E36: piecewise constant, 0 at the jumps too, as torch's)."""

    @staticmethod
    def forward(ctx, x, kind, decimals):
        return _rounded(xp_of(x), x, kind, decimals)

    @staticmethod
    def backward(ctx, dy):
        return xp_of(dy).zeros(dy.shape, dy.dtype), None, None


@ieee
class Frac(Function):
    """y = x − trunc x;  dx = dy  (E36: trunc is piecewise constant)."""

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        return xp.subtract(x, xp.trunc(x))

    @staticmethod
    def backward(ctx, dy):
        return dy


def _apply(op: str, input, kind: str, decimals: int = 0) -> Tensor:
    x = numeric_arg(input, op)
    if x.dtype.kind in "iu":
        if decimals != 0:
            raise TypeError(f"{op}: decimals={decimals} needs a floating-point tensor, got "
                            f"{x.dtype} (as torch's); cast first, e.g. x.double()")
        # NOTE: an integer is its own rounding: a copy with no graph (integers take none)
        return Tensor._wrap(xp_of(x.data).copy(x.data))
    if x.dtype.kind == "c":
        raise TypeError(f"{op}: not defined for complex tensors (got {x.dtype}), as torch's")
    return Rounding.apply(x, kind, decimals)


def floor(input) -> Tensor:
    """The largest integer ≤ x, element by element, as ``torch.floor`` (−0 for −0; NaN and
    ±inf as they are); gradient 0 (E36). Shapes: x (*) -> (*), x's dtype; an integer tensor
    as it is (a copy). Raises TypeError for a bool or complex tensor (torch's refuses them
    too)."""
    return _apply("floor", input, "floor")


def ceil(input) -> Tensor:
    """The smallest integer ≥ x, element by element, as ``torch.ceil`` (−0 for −1 < x ≤ 0);
    gradient 0 (E36). Dtypes and errors as :func:`floor`'s."""
    return _apply("ceil", input, "ceil")


def trunc(input) -> Tensor:
    """x rounded toward 0, element by element, as ``torch.trunc`` (and ``fix``, its alias);
    gradient 0 (E36). Dtypes and errors as :func:`floor`'s."""
    return _apply("trunc", input, "trunc")


def round(input, *, decimals: int = 0) -> Tensor:
    """x rounded to the nearest integer, a half to the even one (0.5 → 0, 1.5 → 2, −2.5 →
    −2), element by element, as ``torch.round``; with ``decimals`` d, to the nearest
    multiple of 10^−d, as torch's: rint(x · 10^d) / 10^d for d > 0 and rint(x / 10^−d) ·
    10^−d for d < 0, in x's dtype (so 1.45 with d = 1 gives 1.4: 14.499999999999998 is
    below the half). Gradient 0 (E36).

    Dtypes as :func:`floor`'s. Raises TypeError for a ``decimals`` that is not an int, for
    ``decimals`` ≠ 0 with an integer tensor (as torch), and for a bool or complex tensor."""
    if isinstance(decimals, (bool, np.bool_)) or not isinstance(decimals, numbers.Integral):
        raise TypeError(f"round: decimals must be an int, got {decimals!r:.40}")
    return _apply("round", input, "rint", int(decimals))


def frac(input) -> Tensor:
    """The fractional part x − trunc(x), element by element, as ``torch.frac`` (the sign of
    x; NaN at ±inf and NaN); dx = dy (E36). Shapes: x (*) -> (*), x's dtype. Raises
    TypeError for an integer, bool or complex tensor (torch's refuses integers too)."""
    x = numeric_arg(input, "frac")
    if x.dtype.kind != "f":
        raise TypeError(f"frac: expected a floating-point tensor (float32 or float64), got "
                        f"{x.dtype} (torch's frac refuses integers too)")
    return Frac.apply(x)


# torch's alias of trunc
fix = trunc
