"""Layer normalisation over the trailing axes, as torch's ``layer_norm``: one Function for the
normalisation and the element-wise affine map, with the hand-derived backward of
docs/math.md E28."""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import ieee, tensor_arg, xp_of
from .statistics import _scale

__all__ = ["layer_norm"]


@ieee
class LayerNorm(Function):
    """y = x̂ ⊙ w + b, x̂ = (x − μ)/√(σ² + ε) over the last ``k`` axes;
    dx = ρ (g − mean g − x̂ mean(g ⊙ x̂)) with g = dy ⊙ w, ρ = 1/√(σ² + ε);
    dw = Σ dy ⊙ x̂, db = Σ dy over the leading axes  (E28).

    Shapes: x (*, *S) with S the last k axes, w and b S or None; y as x. Computed on
    u = x/m (m E24's power of two near max |x| per slice, at least 1): x̂ = d r with
    d = u − ū, r = 1/√(q + ε/m²), q = mean d², and ρ = r/m. Saved: x̂ (x's shape), ρ (the
    leading shape with k axes of length 1) and w.
    """

    @staticmethod
    def forward(ctx, x, w, b, k, eps):
        xp = xp_of(x)
        axes = tuple(range(x.ndim - k, x.ndim))
        n = math.prod(x.shape[x.ndim - k:])
        ctx.axes, ctx.lead = axes, tuple(range(x.ndim - k))
        if x.size == 0:                 # no slice, or empty ones: nothing to normalise
            xhat = x
            rho = xp.zeros(x.shape[:x.ndim - k] + (1,) * k, x.dtype)
        else:
            # NOTE: m raised to 1 (E28): below 1, ε/m² could overflow, and σ² cannot there
            m = xp.maximum(_scale(x, axes), 1.0)
            u = xp.divide(x, m)
            d = xp.subtract(u, xp.divide(xp.sum(u, axis=axes, keepdims=True), n))
            q = xp.divide(xp.sum(xp.multiply(d, d), axis=axes, keepdims=True), n)
            r = xp.divide(1.0, xp.sqrt(xp.add(q, xp.divide(xp.divide(eps, m), m))))
            xhat = xp.multiply(d, r)
            rho = xp.divide(r, m)
        ctx.save_for_backward(xhat, rho, w)
        y = xhat if w is None else xp.multiply(xhat, w)
        return y if b is None else xp.add(y, b)

    @staticmethod
    def backward(ctx, dy):
        xhat, rho, w = ctx.saved
        xp = xp_of(dy)
        axes, lead = ctx.axes, ctx.lead
        dx = dw = db = None
        if ctx.needs_grad[0]:
            n = math.prod(xhat.shape[a] for a in axes)
            g = dy if w is None else xp.multiply(dy, w)                     # E28: g = dy ⊙ w
            mean_g = xp.divide(xp.sum(g, axis=axes, keepdims=True), max(n, 1))
            mean_gx = xp.divide(xp.sum(xp.multiply(g, xhat), axis=axes, keepdims=True),
                                max(n, 1))
            # E28: ρ (g − mean g − x̂ mean(g ⊙ x̂))
            dx = xp.multiply(rho, xp.subtract(xp.subtract(g, mean_g),
                                              xp.multiply(xhat, mean_gx)))
        if ctx.needs_grad[1]:
            dw = xp.sum(xp.multiply(dy, xhat), axis=lead)                    # E28: Σ dy ⊙ x̂
        if ctx.needs_grad[2]:
            db = xp.sum(dy, axis=lead)                                       # E28: Σ dy
        return dx, dw, db, None, None


def check_normalized_shape(normalized_shape, op: str) -> tuple[int, ...]:
    """``normalized_shape`` (an int or a sequence of ints, as torch's module takes) as a
    tuple of ints >= 0 with at least one entry."""
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) \
        else normalized_shape
    try:
        shape = tuple(shape)
    except TypeError:
        shape = None
    if shape is None or not all(isinstance(s, numbers.Integral)
                                and not isinstance(s, (bool, np.bool_)) for s in shape):
        raise TypeError(f"{op}: normalized_shape must be an int or a sequence of ints (the "
                        f"input's trailing dimensions), got {normalized_shape!r:.60}")
    if any(s < 0 for s in shape):
        raise ValueError(f"{op}: normalized_shape must be an int or a sequence of ints >= 0 "
                         f"(the input's trailing dimensions), got {normalized_shape!r:.60}")
    if not shape:
        raise ValueError(f"{op}: normalized_shape must have at least one dimension (the "
                         f"input's trailing ones), got {normalized_shape!r}")
    return tuple(int(s) for s in shape)


def check_eps(eps, op: str) -> float:
    """``eps`` as a float, finite and >= 0 (ValueError naming ``op`` otherwise)."""
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, numbers.Real) \
            or not 0.0 <= float(eps) < math.inf:
        raise ValueError(f"{op}: eps must be a finite number >= 0, got {eps!r}")
    return float(eps)


def _affine(a, name: str, shape: tuple, x: Tensor):
    """``weight`` or ``bias``: None, or a tensor of the normalized shape whose floating
    precision is x's (a complex one of that precision for a complex step)."""
    if a is None:
        return None
    a = tensor_arg(a, "layer_norm")
    if a.shape != shape:
        raise ValueError(f"layer_norm: {name} has shape {a.shape}, expected normalized_shape "
                         f"{shape}")
    if a.dtype.kind not in "fc" or np.finfo(a.dtype).dtype != np.finfo(x.dtype).dtype:
        raise TypeError(f"layer_norm: input has dtype {x.dtype}, {name} {a.dtype}; give "
                        f"them one dtype (convert with .double() or .float(), as torch "
                        f"requires too)")
    return a


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the trailing ``normalized_shape`` axes, as
    ``torch.nn.functional.layer_norm``: y = (x − μ)/√(σ² + eps) ⊙ weight + bias, with the
    mean μ and the biased variance σ² of each slice (docs/math.md E28).

    Shapes: input (*, *normalized_shape), floating (float32, float64; complex for a complex
    step); weight and bias normalized_shape or None, of the input's precision; y as input.
    Computed on x / max|x| per slice (E24's scaling): finite for any finite input, also
    beyond the range where σ² overflows. A slice of equal values gives x̂ = 0 and a finite
    gradient for eps > 0 (eps = 0 gives NaN there, as torch). One op: its backward is E28's.

    Raises ValueError for a normalized_shape that is empty, has a negative entry or is not
    the input's trailing dimensions (naming both shapes), a weight or bias of another shape,
    or an eps that is negative or not finite; TypeError for a normalized_shape that is not
    an int or ints, a non-floating input, or a weight or bias of another precision.
    """
    x = tensor_arg(input, "layer_norm")
    shape = check_normalized_shape(normalized_shape, "layer_norm")
    if x.dtype.kind not in "fc":
        raise TypeError(f"layer_norm: expected a floating-point input, got dtype {x.dtype}; "
                        f"convert it first, e.g. x.double()")
    if x.shape[max(x.ndim - len(shape), 0):] != shape or x.ndim < len(shape):
        raise ValueError(f"layer_norm: normalized_shape {shape} must be the trailing "
                         f"dimensions of the input, got input of shape {x.shape} (expected "
                         f"(*, {', '.join(map(str, shape))}))")
    eps = check_eps(eps, "layer_norm")
    w, b = _affine(weight, "weight", shape, x), _affine(bias, "bias", shape, x)
    return LayerNorm.apply(x, w, b, len(shape), eps)
