"""Spread and size over axes: var and std (E24), vector norms (E25), as torch's ``var``,
``std`` and ``norm`` / ``linalg.vector_norm`` (``norm``'s 'nuc' from ops/svd.py, E47), and
``cdist`` (norms of differences). Each is computed on x divided by its largest |x| over the
reduced axes, so it is finite wherever its result is (torch's overflow near the float
range). Derivations: docs/math.md E24-E25."""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..arguments import check_flag
from ..autograd import Function
from ..tensor import Tensor
from ._util import ieee, normalize_axes, tensor_arg, torch_alias, xp_of
from .elementwise import sub
from .reduce import _check_nonempty, _expand, _kept
from .shape import unsqueeze
from .svd import matrix_axes, singular_value_norm

__all__ = ["var", "std", "norm", "cdist"]


def _real(x):
    """x, or its real part for complex input (a complex step, CPU only)."""
    return np.real(x) if np.iscomplexobj(x) else x


def _scale(x, axes: tuple):
    """A power of two from m to 4m, m = max |Re x| over ``axes`` (kept as length 1), 1
    where m is 0, inf or NaN (E24): x divided by it is exact (no rounding, short of
    underflow of entries negligible beside m), and at most 1 in magnitude, so a power
    |x/m|^p of any p cannot overflow (at most 2 within a factor 2 of the dtype's
    maximum)."""
    xp = xp_of(x)
    m = xp.max(xp.abs(_real(x)), axis=axes, keepdims=True)
    m = xp.where(xp.greater(m, 0), xp.where(xp.less(m, np.inf), m, 1), 1)
    # NOTE: 2^(trunc(log2 m) + 1) ≥ m whichever way the cast truncates and log2 m rounds;
    # up to 2^(maxexp + 1) (inf) for m near the dtype's maximum, hence min(e, maxexp − 1)
    e = xp.add(xp.astype(xp.divide(xp.log(m), float(np.log(2.0))), np.int64), 1)
    e = xp.negative(xp.maximum(xp.negative(e), 1 - np.finfo(m.dtype).maxexp))
    return xp.astype(xp.power(2.0, e), m.dtype)


def _drop(xp, y, shape: tuple, axes: tuple, keepdims: bool):
    """``y`` computed with the reduced ``axes`` kept, reshaped as the result is wanted."""
    if keepdims:
        return y
    return xp.reshape(y, tuple(n for k, n in enumerate(shape) if k not in axes))


@ieee
class Var(Function):
    """v = Σ (x − x̄)² / (N − c) over ``axes`` (``root``: s = √v);
    dx = dv · 2(x − x̄)/(N − c), or ds · (x − x̄)/((N − c) s), 0 where s = 0  (E24).

    Shapes: x (...) → the kept axes (length 1 in place of the reduced ones with
    ``keepdims``). Computed on u = x/m (m a power of two near max |x| per slice): s = m √q,
    v = (m q) m with d = u − ū, q = Σ d²/(N − c). Saved: m (kept shape), d (x's shape), q
    (kept shape).
    """

    @staticmethod
    def forward(ctx, x, axes, keepdims, dof, root):
        xp = xp_of(x)
        n = math.prod(x.shape[a] for a in axes)
        m = _scale(x, axes)
        u = xp.divide(x, m)
        d = xp.subtract(u, xp.divide(xp.sum(u, axis=axes, keepdims=True), n))
        q = xp.divide(xp.sum(xp.multiply(d, d), axis=axes, keepdims=True), dof)
        y = xp.multiply(m, xp.sqrt(q)) if root else xp.multiply(xp.multiply(m, q), m)
        ctx.save_for_backward(m, d, q)
        ctx.shape, ctx.axes, ctx.keepdims, ctx.dof, ctx.root = x.shape, axes, keepdims, dof, root
        return _drop(xp, y, x.shape, axes, keepdims)

    @staticmethod
    def backward(ctx, dy):
        m, d, q = ctx.saved
        xp = xp_of(dy)
        dy = _expand(dy, ctx.shape, ctx.axes, ctx.keepdims)
        if not ctx.root:                                    # E24: dv · 2 m d / (N − c)
            return xp.multiply(xp.multiply(d, xp.multiply(m, 2.0 / ctx.dof)), dy), \
                None, None, None, None
        # E24: ds · d / ((N − c) √q); NOTE: selected to 0 where q = 0 after the product, so
        # neither 0/0 nor an infinite ds there gives NaN
        dx = xp.multiply(xp.divide(d, xp.multiply(xp.sqrt(q), ctx.dof)), dy)
        return xp.where(xp.equal(_real(q), 0), 0, dx), None, None, None, None


def _float_tensor(x, name: str) -> Tensor:
    """``x`` as a tensor of floating-point (or complex, for a complex step) dtype; TypeError
    otherwise, as torch's var and norm."""
    x = tensor_arg(x, name)
    if x.dtype.kind not in "fc":
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}; "
                        f"convert it first, e.g. x.double() (as torch's {name})")
    return x


def _correction(name: str, correction, unbiased) -> float:
    """torch's ``correction`` (default 1), or its old flag ``unbiased`` (True: 1, False: 0)."""
    if unbiased is not None:
        if correction is not None:
            raise TypeError(f"{name}: give correction or unbiased (torch's old flag for "
                            "correction=1 or 0), not both")
        return 1.0 if check_flag(unbiased, "unbiased", name) else 0.0
    if correction is None:
        return 1.0
    if isinstance(correction, (bool, np.bool_)) or not isinstance(correction, numbers.Real):
        raise TypeError(f"{name}: correction must be a real number, got {correction!r:.40}")
    if not math.isfinite(correction):
        raise ValueError(f"{name}: correction must be finite, got {correction!r}")
    return float(correction)


def _spread(name: str, x, axis, keepdims, dim, keepdim, correction, unbiased) -> Tensor:
    x = _float_tensor(x, name)
    axis = torch_alias(name, "axis", axis, "dim", dim, None)
    keepdims = bool(torch_alias(name, "keepdims", keepdims, "keepdim", keepdim, False))
    axes = normalize_axes(axis, x.ndim, name)
    c = _correction(name, correction, unbiased)
    n = math.prod(x.shape[a] for a in axes)
    if n == 0 or n - c <= 0:
        shown = int(c) if c == int(c) else c
        raise ValueError(f"{name}: {n} element(s) over axis {axes} of a tensor of shape "
                         f"{x.shape} leave no degrees of freedom with correction={shown} "
                         f"(N − correction > 0 is needed; torch gives NaN or inf with a "
                         f"warning); reduce over more elements or lower the correction")
    return Var.apply(x, axes, keepdims, n - c, name == "std")


def var(x, axis=None, *, correction=None, keepdims: bool | None = None, dim=None,
        keepdim: bool | None = None, unbiased: bool | None = None) -> Tensor:
    """The variance over ``axis`` (None: all axes; an int or a tuple of ints), as
    ``torch.var``: Σ (x − x̄)² / (N − correction) over the N elements of each slice (E24).

    ``correction`` defaults to 1 (Bessel's, torch's default; NumPy's ``ddof`` defaults to
    0); ``unbiased`` is torch's old flag for correction 1 (True) or 0 (False). ``dim`` and
    ``keepdim`` are torch's names for ``axis`` and ``keepdims``; everything after the axis
    is keyword-only, so torch's old positional ``var(x, dim, unbiased)`` is refused rather
    than misread. Shapes: x (...) → the kept axes (length 1 in place of the reduced ones
    with ``keepdims``); the dtype of x (float32, float64; complex for a complex step: the
    analytic continuation Σ (x − x̄)², not torch's Σ |x − x̄|²).

    Computed on x / max|x| per slice: finite wherever the variance is. Raises TypeError for
    an integer or bool tensor (as torch) or a non-number correction, ValueError for an axis
    out of range, a non-finite correction, or N − correction <= 0 (an empty axis, or one
    element with the default correction): torch gives NaN (inf for N < correction) with a
    warning there, and finite input here gives a finite result or an error.
    """
    return _spread("var", x, axis, keepdims, dim, keepdim, correction, unbiased)


def std(x, axis=None, *, correction=None, keepdims: bool | None = None, dim=None,
        keepdim: bool | None = None, unbiased: bool | None = None) -> Tensor:
    """The standard deviation √var over ``axis``, as ``torch.std``; arguments, shapes and
    errors as :func:`var` (E24). Where a slice's elements are all equal, s = 0 and its
    gradient is 0 (a subgradient; torch's value too), also for an infinite upstream
    gradient."""
    return _spread("std", x, axis, keepdims, dim, keepdim, correction, unbiased)


# ------------------------------------------------------------------------------ norms


def _magnitude(x):
    """|x|; for complex input (a complex step) ±x by the sign of Re x (E19)."""
    xp = xp_of(x)
    if np.iscomplexobj(x):
        return np.where(np.real(x) < 0, -x, x)
    return xp.abs(x)


def _sign(x):
    """sign(Re x) in the dtype of Re x: 1, −1, and 0 at 0 (and at NaN)."""
    xp = xp_of(x)
    re = _real(x)
    return xp.subtract(xp.astype(xp.greater(re, 0), re.dtype),
                       xp.astype(xp.less(re, 0), re.dtype))


@ieee
class Norm(Function):
    """y = ‖x‖_p over ``axes``; dx = dy · sign(x) (|x|/y)^{p−1}, 0 at zero entries, for
    finite p > 0; dx = dy · sign(x) [|x| = y] / #ties for p = ±inf; 0 for p = 0  (E25).

    Shapes as :class:`Var`. Finite p is computed on w = x/m (m as in :class:`Var`):
    y = m ‖w‖_p. Saved: w and r = ‖w‖_p (finite p), or x, the mask of the selected
    entries and their count (±inf); nothing for p = 0.
    """

    @staticmethod
    def forward(ctx, x, axes, keepdims, p):
        xp = xp_of(x)
        ctx.shape, ctx.axes, ctx.keepdims, ctx.p = x.shape, axes, keepdims, p
        if p == 0:
            y = xp.sum(xp.not_equal(x, 0), axis=axes, keepdims=True)
            return _drop(xp, xp.astype(y, x.dtype), x.shape, axes, keepdims)
        a = _magnitude(x)
        if math.isinf(p):                   # E9's max (min) of |x|, then E19
            key = _real(a) if p > 0 else xp.negative(_real(a))
            top = xp.max(key, axis=axes, keepdims=True)
            mask = xp.equal(key, top)
            count = xp.astype(xp.sum(mask, axis=axes, keepdims=True), key.dtype)
            if np.iscomplexobj(x):
                # NOTE: the selected entries themselves (not the maximum): a complex step's
                # imaginary part comes with them
                y = xp.divide(xp.sum(xp.where(mask, a, 0), axis=axes, keepdims=True), count)
            else:
                y = top if p > 0 else xp.negative(top)
            ctx.save_for_backward(x, mask, count)
            return _drop(xp, y, x.shape, axes, keepdims)
        if math.prod(x.shape[k] for k in axes) == 0:         # the empty sum: 0
            ctx.save_for_backward(None, None)
            return _drop(xp, xp.zeros(_kept(x.shape, axes), x.dtype), x.shape, axes,
                         keepdims)
        m = _scale(x, axes)
        w = xp.divide(x, m)
        if p == 2:
            r = xp.sqrt(xp.sum(xp.multiply(w, w), axis=axes, keepdims=True))
        elif p == 1:
            r = xp.sum(xp.divide(a, m), axis=axes, keepdims=True)
        else:
            r = xp.power(xp.sum(xp.power(xp.divide(a, m), p), axis=axes, keepdims=True),
                         1.0 / p)
        ctx.save_for_backward(w, r)
        return _drop(xp, xp.multiply(m, r), x.shape, axes, keepdims)

    @staticmethod
    def backward(ctx, dy):
        xp = xp_of(dy)
        p = ctx.p
        if p == 0:                          # piecewise constant
            return xp.zeros(ctx.shape, dy.dtype), None, None, None
        dy = _expand(dy, ctx.shape, ctx.axes, ctx.keepdims)
        if math.isinf(p):
            x, mask, count = ctx.saved
            chosen = xp.where(mask, xp.not_equal(_real(x), 0), False)
            # NOTE: a select: an infinite dy at an entry not chosen (or at 0) gives 0
            return xp.where(chosen, xp.divide(xp.multiply(_sign(x), dy), count), 0), \
                None, None, None
        w, r = ctx.saved
        if w is None:                       # an empty slice: no element, no gradient
            return xp.zeros(ctx.shape, dy.dtype), None, None, None
        if p == 2:
            g = xp.divide(w, r)                                     # x / y
        elif p == 1:
            g = _sign(w)
        else:                               # sign(x) (|x|/y)^{p−1}, the ratio <= 1
            g = xp.multiply(_sign(w), xp.power(xp.divide(_magnitude(w), r), p - 1.0))
        # E25: 0 at zero entries (and so everywhere at x = 0, where r = 0 gives 0/0)
        return xp.where(xp.equal(_real(w), 0), 0, xp.multiply(g, dy)), None, None, None


def _order(p) -> float:
    """torch's ``p`` of a vector norm as a number: 'fro' is 2; TypeError for a non-number,
    ValueError for an order below 0 (NaN included)."""
    if isinstance(p, str) and p == "fro":
        return 2.0
    if isinstance(p, (str, bool, np.bool_)) or not isinstance(p, numbers.Real):
        raise TypeError(f"norm: p must be 'fro', 'nuc', inf, -inf or a number >= 0, got "
                        f"{p!r:.40}")
    p = float(p)
    if not (p >= 0 or p == -math.inf):
        raise ValueError(f"norm: p must be 'fro', 'nuc', inf, -inf or a number >= 0, got "
                         f"{p!r} (negative orders are not here)")
    return p


def norm(x, p="fro", dim=None, keepdim: bool | None = None, *, axis=None,
         keepdims: bool | None = None) -> Tensor:
    """The vector ``p``-norm over ``dim`` (None: all axes, as one vector; an int or a tuple
    of ints), as ``torch.norm`` and ``torch.linalg.vector_norm`` (E25):
    (Σ |x|^p)^{1/p} for p > 0 ('fro', the default, is 2, over any number of axes), max |x|
    for inf, min |x| for -inf, the count of non-zero entries for 0 (no gradient); or, for
    p = 'nuc', the nuclear norm (the sum of the singular values, E47) of the matrices along
    ``dim``, two dims (None: x must be 2-d), as ``torch.norm`` and
    ``linalg.matrix_norm(x, 'nuc', dim)``. ``axis`` and ``keepdims`` are NumPy's names for
    ``dim`` and ``keepdim``.

    Shapes: x (...) → the kept axes (length 1 in place of the reduced ones with
    ``keepdim``), x's dtype (float32, float64; complex for a complex step). The gradient at
    x = 0, and at zero entries, is 0 (torch's subgradient); ties of the inf-norm share it.
    Computed on x / max|x| per slice: finite wherever the norm is (torch's overflows for
    entries near 1e155 in float64).

    Raises TypeError for an integer or bool tensor (as torch), a ``p`` that is not a number,
    'fro' or 'nuc', or 'nuc' of another dtype than float32 or float64; ValueError for a
    negative finite ``p``, an axis out of range, p = ±inf over an empty axis (no maximum, as
    torch), or 'nuc' over other than two distinct dims; over an empty axis a finite-p norm
    (and 'nuc' of an empty matrix) is 0, as torch.
    """
    x = _float_tensor(x, "norm")
    axis = torch_alias("norm", "axis", axis, "dim", dim, None)
    keepdims = bool(torch_alias("norm", "keepdims", keepdims, "keepdim", keepdim, False))
    if isinstance(p, str) and p == "nuc":   # torch.norm's one matrix norm (E47)
        dims = tuple(range(x.ndim)) if axis is None else axis
        return singular_value_norm(x, matrix_axes(x, dims, "norm"), "nuc", keepdims, "norm")
    order = _order(p)
    axes = normalize_axes(axis, x.ndim, "norm")
    if math.isinf(order):
        _check_nonempty("norm", x, axes)
    return Norm.apply(x, axes, keepdims, order)


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


def cdist(x1, x2, p: float = 2.0, compute_mode: str = _CDIST_MODES[0]) -> Tensor:
    """The ``p``-norm distance between each row of ``x1`` and each row of ``x2``, as
    ``torch.cdist``: y[..., i, j] = ‖x1[..., i, :] − x2[..., j, :]‖_p. A composition:
    ``norm(unsqueeze(x1, -2) − unsqueeze(x2, -3), p, dim=-1)``, so the gradient is E2's
    and E25's (autograd records both; 0 where two rows are equal, as torch's), and the
    difference (..., P, R, M) is held in memory. ``compute_mode`` is accepted and checked;
    the differences are always formed directly (torch's matrix-product form for p = 2,
    its default beyond 25 rows, is faster and less accurate).

    Shapes: x1 (*, P, M), x2 (*, R, M), the batch dims broadcast → (*, P, R), the inputs'
    dtype. ``p``: a number ≥ 0 or inf (0 counts the differing entries: no gradient).
    Raises TypeError for inputs that are not floating or of two dtypes; ValueError for
    fewer than 2 dims, numbers of columns that differ, batch dims that do not broadcast, a
    negative p or an unknown compute_mode."""
    a, b = _float_tensor(x1, "cdist"), _float_tensor(x2, "cdist")
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"cdist: unknown compute_mode {compute_mode!r}; expected one of "
                         f"{', '.join(map(repr, _CDIST_MODES))}")
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"cdist: x1 and x2 must have at least 2 dims (*, rows, columns), "
                         f"got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"cdist: x1 and x2 must have the same number of columns, got "
                         f"shapes {a.shape} and {b.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"cdist: x1 is {a.dtype} and x2 {b.dtype}; convert one (torch "
                        f"refuses two dtypes too)")
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"cdist: the batch dims of x1 {a.shape} and x2 {b.shape} do not "
                         f"broadcast") from None
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
        raise TypeError(f"cdist: p must be a number >= 0 or inf, got {p!r:.40}")
    if not p >= 0:
        raise ValueError(f"cdist: p must be a number >= 0 or inf, got {p!r}")
    return norm(sub(unsqueeze(a, -2), unsqueeze(b, -3)), float(p), dim=-1)
