"""The piecewise activations of torch.nn.functional beside relu, leaky_relu and elu: selu,
celu, hardtanh, relu6, hardsigmoid, hardswish, softshrink, hardshrink, threshold, prelu
(with its learnable slopes) and rrelu (its evaluation form), as torch 2.13's. Derivations:
docs/math.md E7c-E7h (rrelu is E7a's leaky relu).

At every kink the gradient is torch's (each Function's docstring says which side). The
pieces are selects on the real part (E7, E8): an infinite ``dy`` on a piece with slope 0
gives 0, not NaN, and a NaN input takes the piece whose comparisons are all false, as in
torch's kernels. Each runs on the tensor's device (``xp``); a float32 input stays float32,
an integer, bool or complex one is refused (torch computes hardtanh, relu6 and threshold
on integers).
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import ieee, numeric_arg, unbroadcast, xp_of
from .activations import LeakyRelu, _float_arg, _real, _real_number

__all__ = ["selu", "celu", "hardtanh", "relu6", "hardsigmoid", "hardswish", "softshrink",
           "hardshrink", "threshold", "prelu", "rrelu"]

# torch's SELU constants (Klambauer et al., 2017), as ATen's SELU_ALPHA and SELU_SCALE
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@ieee
class ScaledElu(Function):
    """torch's elu(x, α, λ, κ): y = λx where x > 0, else αλ(e^{κx} − 1);
    dx = λ dy where x > 0, else κ αλ e^{κx} dy  (E7c; selu: α, λ the SELU constants, κ = 1;
    celu: λ = 1, κ = 1/α; the x ≤ 0 side at x = 0, as torch). Saved: x and the mask x ≤ 0."""

    @staticmethod
    def forward(ctx, x, alpha, scale, input_scale):
        xp = xp_of(x)
        off = xp.less_equal(_real(x), 0)
        negcoef = alpha * scale                        # torch's negcoef, poscoef, negiptcoef
        ctx.save_for_backward(x, off)
        ctx.coefs = (negcoef, scale, input_scale)
        return xp.where(off, xp.multiply(xp.expm1(xp.multiply(x, input_scale)), negcoef),
                        xp.multiply(x, scale))

    @staticmethod
    def backward(ctx, dy):
        x, off = ctx.saved
        negcoef, scale, kappa = ctx.coefs
        xp = xp_of(dy)
        # NOTE: e^{κx} from the saved x, as torch's elu_backward (E7b); x on the other side
        # replaced by 0 so that its exponential cannot overflow
        e = xp.exp(xp.multiply(xp.where(off, x, 0), kappa))
        neg = xp.multiply(xp.multiply(xp.multiply(dy, kappa), negcoef), e)       # E7c
        return xp.where(off, neg, xp.multiply(dy, scale)), None, None, None


@ieee
class Hardtanh(Function):
    """y = lo where x < lo, hi where x > hi, else x;  dx = dy where lo < x < hi, else 0
    (E7d; 0 at x = lo and x = hi, as torch's hardtanh_backward; NaN: y NaN, dx = dy).
    Saved: x."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        xp = xp_of(x)
        r = _real(x)
        ctx.save_for_backward(x)
        ctx.bounds = (lo, hi)
        return xp.where(xp.less(r, lo), lo, xp.where(xp.greater(r, hi), hi, x))

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        lo, hi = ctx.bounds
        xp = xp_of(dy)
        r = _real(x)
        return xp.where(xp.less_equal(r, lo), 0,
                        xp.where(xp.greater_equal(r, hi), 0, dy)), None, None       # E7d


def _hard_sigmoid(xp, x):
    """min(max(x + 3, 0), 6) / 6 (E7e), torch's order of operations; NaN stays NaN."""
    u = xp.add(x, 3)
    r = _real(u)
    return xp.divide(xp.where(xp.less(r, 0), 0, xp.where(xp.greater(r, 6), 6, u)), 6)


@ieee
class Hardsigmoid(Function):
    """y = min(max(x + 3, 0), 6) / 6;  dx = dy / 6 where −3 < x < 3, else 0  (E7e; 0 at
    x = ±3 and for NaN, as torch's hardsigmoid_backward). Saved: x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _hard_sigmoid(xp_of(x), x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        r = _real(x)
        # NOTE: dy / 6 in the input's precision; torch's float64 kernel multiplies by
        # float32's 1/6 (0.16666667163...), 3e-8 off
        return xp.where(xp.greater(r, -3), xp.where(xp.less(r, 3), xp.divide(dy, 6), 0),
                        0)                                                          # E7e


@ieee
class Hardswish(Function):
    """y = x · hardsigmoid(x);  dx = 0 where x ≤ −3, dy (x/3 + 1/2) where −3 < x < 3, dy
    where x ≥ 3  (E7e; 0 at −3 and dy at 3, as torch's hardswish_backward; NaN: dx = dy).
    Saved: x."""

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        ctx.save_for_backward(x)
        # NOTE: x · (clamp / 6), where torch's (x · clamp) / 6 overflows for |x| > max/6
        return xp.multiply(x, _hard_sigmoid(xp, x))

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        xp = xp_of(dy)
        r = _real(x)
        middle = xp.multiply(dy, xp.add(xp.divide(x, 3), 0.5))                   # E7e
        return xp.where(xp.less_equal(r, -3), 0, xp.where(xp.less(r, 3), middle, dy))


@ieee
class Shrink(Function):
    """softshrink: y = x − λ where x > λ, x + λ where x < −λ, else 0; hardshrink: y = x
    where |x| > λ, else 0;  dx = dy where |x| > λ, else 0  (E7f; 0 at x = ±λ, as torch;
    NaN: y NaN, dx = dy). Saved: the mask |x| ≤ λ."""

    @staticmethod
    def forward(ctx, x, lambd, soft):
        xp = xp_of(x)
        r = _real(x)
        inside = xp.less_equal(xp.abs(r), lambd)
        ctx.save_for_backward(inside)
        if soft:
            x = xp.where(xp.greater(r, lambd), xp.subtract(x, lambd), xp.add(x, lambd))
        return xp.where(inside, 0, x)

    @staticmethod
    def backward(ctx, dy):
        (inside,) = ctx.saved
        xp = xp_of(dy)
        return xp.where(inside, 0, dy), None, None                                 # E7f


@ieee
class Threshold(Function):
    """y = v where x ≤ t, else x;  dx = 0 where x ≤ t, else dy  (E7g; 0 at x = t, as torch;
    NaN: y NaN, dx = dy). Saved: the mask x ≤ t."""

    @staticmethod
    def forward(ctx, x, threshold, value):
        xp = xp_of(x)
        below = xp.less_equal(_real(x), threshold)
        ctx.save_for_backward(below)
        return xp.where(below, value, x)

    @staticmethod
    def backward(ctx, dy):
        (below,) = ctx.saved
        xp = xp_of(dy)
        return xp.where(below, 0, dy), None, None                                  # E7g


@ieee
class PRelu(Function):
    """y = x where x > 0, else w x, the slopes w broadcast along the channel dimension (its
    shape ``shape``);  dx = dy where x > 0, else w dy;  dw = Σ where(x > 0, 0, x dy) over
    every dimension but the channels'  (E7h; the slope w at x = 0 and 0 · dy into dw, as
    torch's _prelu_kernel_backward). Saved: x, w and the mask x > 0."""

    @staticmethod
    def forward(ctx, x, w, shape):
        xp = xp_of(x)
        wb = xp.reshape(w, shape)
        on = xp.greater(_real(x), 0)
        ctx.save_for_backward(x, wb, on)
        ctx.w_shape = w.shape
        return xp.where(on, x, xp.multiply(wb, x))

    @staticmethod
    def backward(ctx, dy):
        x, wb, on = ctx.saved
        xp = xp_of(dy)
        dx = dw = None
        if ctx.needs_grad[0]:
            dx = xp.where(on, dy, xp.multiply(wb, dy))                              # E7h
        if ctx.needs_grad[1]:
            full = xp.where(on, 0, xp.multiply(x, dy))                              # E7h
            dw = xp.reshape(unbroadcast(full, wb.shape), ctx.w_shape)
        return dx, dw, None


def selu(input) -> Tensor:
    """λx where x > 0, else λα(e^x − 1), element-wise, with torch's constants α =
    1.6732632423543772, λ = 1.0507009873554805, as ``torch.selu`` (Klambauer et al., 2017);
    dx = λ dy where x > 0, else λα e^x dy (λα at x = 0, as torch: docs/math.md E7c). NaN
    passes through with the gradient λ dy, as torch's. Shapes: x (*) -> (*), x's dtype.
    Raises TypeError for an input that is not a float tensor."""
    return ScaledElu.apply(_float_arg(input, "selu"), SELU_ALPHA, SELU_SCALE, 1.0)


def celu(input, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else α(e^{x/α} − 1), element-wise, as ``torch.celu`` (Barron, 2017):
    computed as torch's, α · expm1(x · (1/α)); dx = dy where x > 0, else (1/α) α e^{x/α} dy
    (about 1 at x = 0, as torch: docs/math.md E7c).

    Differs from torch: torch's gradient takes 1/α of α rounded to float32 (its value does
    not), so for an α that is no float32 number it is off by |x/α| times that rounding
    (2e-6 relative at x = −40 for α = 0.7); here the gradient's 1/α is the value's.
    Shapes: x (*) -> (*), x's dtype. Raises TypeError for an ``alpha`` that is not a real
    number or an input that is not a float tensor; ValueError for alpha = 0 (torch:
    RuntimeError)."""
    a = _real_number(alpha, "alpha", "celu")
    if a == 0:
        raise ValueError("celu: alpha must not be 0 (x is scaled by 1/alpha where x <= 0)")
    return ScaledElu.apply(_float_arg(input, "celu"), a, 1.0, 1.0 / a)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clamped to [min_val, max_val], element-wise, as ``torch.nn.functional.hardtanh``;
    dx = dy where min_val < x < max_val, else 0, so 0 at both ends, as torch's
    (docs/math.md E7d). NaN passes through with the gradient dy, as torch's. Shapes: x (*)
    -> (*), x's dtype (the bounds rounded to it, as torch).

    Raises TypeError for a bound that is not a real number or an input that is not a float
    tensor (torch also clamps integer tensors); ValueError for min_val > max_val
    (min_val == max_val is allowed: y is that value, with gradient 0)."""
    lo = _real_number(min_val, "min_val", "hardtanh")
    hi = _real_number(max_val, "max_val", "hardtanh")
    if not lo <= hi:
        raise ValueError(f"hardtanh: min_val must be <= max_val, got min_val={lo!r} and "
                         f"max_val={hi!r}")
    return Hardtanh.apply(_float_arg(input, "hardtanh"), lo, hi)


def relu6(input) -> Tensor:
    """min(max(x, 0), 6), element-wise, as ``torch.nn.functional.relu6``: hardtanh(x, 0, 6),
    as torch computes it, so dx = dy where 0 < x < 6, else 0 (0 at x = 0 and x = 6, as
    torch's: docs/math.md E7d). Shapes: x (*) -> (*), x's dtype. Raises TypeError for an
    input that is not a float tensor (torch also takes integers)."""
    return Hardtanh.apply(_float_arg(input, "relu6"), 0.0, 6.0)


def hardsigmoid(input) -> Tensor:
    """min(max(x + 3, 0), 6) / 6, element-wise, as ``torch.nn.functional.hardsigmoid``;
    dx = dy / 6 where −3 < x < 3, else 0 (0 at ±3 and for NaN, as torch's: docs/math.md E7e).

    Differs from torch: torch's float64 gradient is dy times float32's 1/6
    (0.1666666716337204, 3e-8 off); here it is dy / 6 in the input's precision. Shapes:
    x (*) -> (*), x's dtype. Raises TypeError for an input that is not a float tensor."""
    return Hardsigmoid.apply(_float_arg(input, "hardsigmoid"))


def hardswish(input) -> Tensor:
    """x · min(max(x + 3, 0), 6) / 6, element-wise, as ``torch.nn.functional.hardswish``
    (Howard et al., 2019); dx = 0 where x ≤ −3, dy (x/3 + 1/2) where −3 < x < 3, dy where
    x ≥ 3: 0 at −3 and dy at 3, torch's choices (docs/math.md E7e).

    Computed as x · (clamp / 6), where torch's (x · clamp) / 6 overflows for |x| above a
    sixth of the float range (equal to rounding elsewhere). At x = −∞ the value is
    −∞ · 0 = NaN (gradient 0), as torch's. Shapes: x (*) -> (*), x's dtype. Raises
    TypeError for an input that is not a float tensor."""
    return Hardswish.apply(_float_arg(input, "hardswish"))


def softshrink(input, lambd: float = 0.5) -> Tensor:
    """x − λ where x > λ, x + λ where x < −λ, else 0, element-wise, as
    ``torch.nn.functional.softshrink``; dx = dy where |x| > λ, else 0 (0 at ±λ, as torch's:
    docs/math.md E7f). NaN passes through with the gradient dy, as torch's. Shapes: x (*)
    -> (*), x's dtype. Raises TypeError for a ``lambd`` that is not a real number or an
    input that is not a float tensor; ValueError for a negative or NaN ``lambd`` (torch:
    RuntimeError)."""
    lam = _real_number(lambd, "lambd", "softshrink")
    if not lam >= 0:
        raise ValueError(f"softshrink: lambd must be >= 0 (the half-width of the band set to "
                         f"0), got {lam!r}")
    return Shrink.apply(_float_arg(input, "softshrink"), lam, True)


def hardshrink(input, lambd: float = 0.5) -> Tensor:
    """x where |x| > λ, else 0, element-wise, as ``torch.hardshrink``; dx = dy where |x| > λ,
    else 0 (0 at ±λ, as torch's: docs/math.md E7f). A negative λ leaves x unchanged, as
    torch's. NaN passes through with the gradient dy. Shapes: x (*) -> (*), x's dtype.
    Raises TypeError for a ``lambd`` that is not a real number or an input that is not a
    float tensor."""
    lam = _real_number(lambd, "lambd", "hardshrink")
    return Shrink.apply(_float_arg(input, "hardshrink"), lam, False)


def threshold(input, threshold: float, value: float) -> Tensor:
    """``value`` where x ≤ ``threshold``, else x, element-wise, as ``torch.threshold``;
    dx = 0 where x ≤ threshold (at it too), else dy, as torch's (docs/math.md E7g). NaN
    passes through with the gradient dy. Shapes: x (*) -> (*), x's dtype (``value``
    rounded to it). Raises TypeError for a ``threshold`` or ``value`` that is not a real
    number or an input that is not a float tensor (torch also takes integers)."""
    t = _real_number(threshold, "threshold", "threshold")
    v = _real_number(value, "value", "threshold")
    return Threshold.apply(_float_arg(input, "threshold"), t, v)


def prelu(input, weight) -> Tensor:
    """x where x > 0, else w x, element-wise, with learnable slopes ``weight``, as
    ``torch.prelu``; dx = dy where x > 0, else w dy (w at x = 0); dw = Σ x dy over the
    elements with x ≤ 0 of each channel (docs/math.md E7h).

    Shapes: ``weight`` (1,) or () (one slope for every element), or (C,) with C =
    input.shape[1], the channels (N, C, *) -> one slope per channel; y has the input's
    shape and dtype, which the weight's must equal (as torch). A 1-D input has one channel
    (torch's rule), a 0-d input takes one slope.

    Raises TypeError for an input or weight that is not a float tensor, or dtypes that
    differ; ValueError for a weight of more than one dimension, or whose size is neither 1
    nor the channel count (torch: RuntimeError)."""
    x = _float_arg(input, "prelu")
    w = numeric_arg(weight, "prelu")
    if w.dtype != x.dtype:
        raise TypeError(f"prelu: weight has dtype {w.dtype} and input {x.dtype}; they must "
                        f"be the same float dtype (as torch), e.g. module.double() or "
                        f"x.float()")
    if w.ndim > 1:
        raise ValueError(f"prelu: weight must be 0-d or 1-D (one slope, or one per "
                         f"channel), got shape {w.shape}")
    if w.size == 1:
        shape: tuple[int, ...] = ()
    else:
        channels = x.shape[1] if x.ndim >= 2 else 1
        if w.size != channels:
            raise ValueError(f"prelu: weight has {w.size} slopes, expected 1 or the number "
                             f"of channels, input.shape[1] = {channels} (input shape "
                             f"{x.shape}; a 0-d or 1-D input has one channel)")
        shape = (w.size,) + (1,) * (x.ndim - 2)
    return PRelu.apply(x, w, shape)


def rrelu(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False) -> Tensor:
    """The randomized leaky relu in evaluation mode, as ``torch.rrelu(..., training=False)``:
    x where x > 0, else x (lower + upper)/2, a leaky relu with the mean slope, so the
    gradient is that slope at x = 0 too (docs/math.md E7a), as torch's.

    Not implemented: ``training=True`` (torch draws a slope in [lower, upper] for each
    element). Shapes: x (*) -> (*), x's dtype. Raises TypeError for a bound that is not a
    real number, a ``training`` that is not a bool or an input that is not a float tensor;
    ValueError for lower > upper (torch: RuntimeError) or training=True."""
    lo = _real_number(lower, "lower", "rrelu")
    hi = _real_number(upper, "upper", "rrelu")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"rrelu: training must be True or False, got {training!r:.40}")
    if not lo <= hi:
        raise ValueError(f"rrelu: lower must be <= upper, got lower={lo!r} and upper={hi!r}")
    if training:
        raise ValueError("rrelu: training=True (a random slope per element) is not "
                         "implemented; use training=False (the mean slope (lower + upper)/2) "
                         "or leaky_relu")
    return LeakyRelu.apply(_float_arg(input, "rrelu"), (lo + hi) / 2)
