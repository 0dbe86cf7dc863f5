"""Singular values of a batch of matrices (E47), as ``torch.linalg.svdvals``, and the matrix
norms made of them: the nuclear norm Σ σ and the largest and smallest σ (``ord`` 'nuc', 2,
-2 of ``linalg.matrix_norm``; 'nuc' of ``norm``). Also the checks every matrix norm shares:
the two dims of the matrices, and the result's shape."""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import ieee, normalize_axes, tensor_arg, xp_of
from .reduce import amax, amin, sum
from .shape import permute, reshape

__all__ = ["svdvals"]


@ieee
class Svdvals(Function):
    """σ = the singular values of each matrix of A, descending;
    dA = U diag(dσ ⊙ [σ > 0]) Vᵀ = Σ_{σ_k > 0} dσ_k u_k v_kᵀ  (E47).

    Shapes: A (*, m, n) → σ (*, k), k = min(m, n), A's dtype (float32 or float64). NumPy's
    thin SVD (LAPACK's gesdd); on the GPU it runs on the host, from a copy, σ moved back.
    A matrix with a NaN or an infinite entry gets NaN singular values and gradient, the
    others of its batch their own. Saved (on the host): U (*, m, k), σ (*, k), Vᵀ (*, k, n).
    """

    @staticmethod
    def forward(ctx, a):
        xp = xp_of(a)
        # NOTE: no device SVD: computed on the host from a copy, moved back (as prod)
        a = xp.to_host(a)
        finite = np.all(np.isfinite(a), axis=(-2, -1), keepdims=True)
        # NOTE: LAPACK fails the whole batch for one non-finite matrix: it sees zeros there,
        # whose U, σ, Vᵀ are then set to NaN
        u, s, vh = np.linalg.svd(np.where(finite, a, 0), full_matrices=False)
        u, vh = np.where(finite, u, np.nan), np.where(finite, vh, np.nan)
        s = np.where(finite[..., 0], s, np.nan)
        ctx.save_for_backward(u, s, vh)
        return xp.asarray(s)

    @staticmethod
    def backward(ctx, ds):
        u, s, vh = ctx.saved
        xp = xp_of(ds)
        # E47: Σ dσ_k u_k v_kᵀ; NOTE: a select drops the term of a zero σ_k (0, E47's
        # subgradient), also for an infinite dσ_k
        g = np.where(np.greater(s, 0), xp.to_host(ds), 0)
        return xp.asarray(np.matmul(np.multiply(u, g[..., None, :]), vh))


def _check_real_matrices(x: Tensor, name: str) -> None:
    """TypeError unless ``x`` is float32 or float64 (LAPACK's SVD; torch refuses float16
    too), ValueError for fewer than 2 dims."""
    if x.dtype.kind == "c":
        raise TypeError(f"{name}: singular values of complex input are not here (NumPy's SVD "
                        f"gives real ones, as torch's, not the analytic continuation a "
                        f"complex step needs; check gradients with gradcheck(method="
                        f"'central')), got dtype {x.dtype}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name}: singular values need a float32 or float64 tensor, got "
                        f"dtype {x.dtype}; convert it first, e.g. x.double()")
    if x.ndim < 2:
        raise ValueError(f"{name}: A must have at least 2 dims (*, m, n), got shape {x.shape}")


def svdvals(A) -> Tensor:
    """The singular values of each matrix of ``A``, in descending order, as
    ``torch.linalg.svdvals``; the gradient is Σ_k dσ_k u_k v_kᵀ (docs/math.md E47).

    Shapes: A (*, m, n) float32 or float64 → (*, min(m, n)), A's dtype. Where a singular
    value is exactly 0 its term is dropped from the gradient (a subgradient; torch keeps
    u_k v_kᵀ of its LAPACK's basis of the null spaces); where two are equal, the gradient
    depends on which singular vectors LAPACK returned unless their dσ are equal (E47). A
    matrix with a NaN or infinite entry gives NaN (torch raises). On the GPU the SVD runs
    on the host. Raises TypeError for any other dtype (complex included: a complex step has
    no continuation through NumPy's SVD), ValueError for fewer than 2 dims."""
    x = tensor_arg(A, "linalg.svdvals")
    _check_real_matrices(x, "linalg.svdvals")
    return Svdvals.apply(x)


def matrix_axes(x: Tensor, dim, name: str) -> tuple[int, int]:
    """``dim`` as the (rows, columns) axes of the matrices of ``x``, non-negative, in the
    order given (torch's checks): ValueError for an ``x`` of fewer than 2 dims, a ``dim``
    of another length than 2, a dim out of range or one given twice; TypeError for a
    ``dim`` that is not a tuple or list of ints."""
    if x.ndim < 2:
        raise ValueError(f"{name}: a matrix norm needs A of at least 2 dims (*, m, n), got "
                         f"shape {x.shape}")
    if isinstance(dim, numbers.Integral) and not isinstance(dim, (bool, np.bool_)):
        dim = (dim,)
    if not isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}: dim must be a tuple of two ints (rows, columns), got "
                        f"{dim!r:.60}")
    if len(dim) != 2:
        raise ValueError(f"{name}: a matrix norm takes two dims (rows, columns), got "
                         f"dim={tuple(dim)!r} for a tensor of shape {x.shape}")
    (rows,), (cols,) = (normalize_axes(d, x.ndim, name) for d in dim)
    if rows == cols:
        raise ValueError(f"{name}: dim {tuple(dim)!r} names dim {rows} twice; a matrix norm "
                         f"takes two different dims")
    return rows, cols


def matrix_result(y: Tensor, shape: tuple, axes: tuple, keepdim: bool) -> Tensor:
    """``y``, one value per matrix of a tensor of ``shape``, shaped as a reduction over
    ``axes`` gives it: without them, or with them as length 1 (``keepdim``)."""
    out = tuple(1 if a in axes else n for a, n in enumerate(shape)) if keepdim else \
        tuple(n for a, n in enumerate(shape) if a not in axes)
    return y if y.shape == out else reshape(y, out)


def singular_value_norm(x: Tensor, axes: tuple, ord, keepdim: bool, name: str) -> Tensor:
    """Over the matrices of ``x`` (rows, columns = ``axes``, from :func:`matrix_axes`): the
    nuclear norm Σ σ (``ord`` 'nuc'), the largest σ (2) or the smallest (-2): E47, then E9's
    sum, max or min, the matrices moved last first (E16). Raises TypeError as
    :func:`svdvals`, ValueError as ``amax`` for ±2 of an empty matrix."""
    _check_real_matrices(x, f"{name} (ord={ord if isinstance(ord, str) else int(ord)!r})")
    rest = tuple(a for a in range(x.ndim) if a not in axes)
    s = Svdvals.apply(permute(x, rest + tuple(axes)))
    y = sum(s, -1) if ord == "nuc" else amax(s, -1) if ord == 2 else amin(s, -1)
    return matrix_result(y, x.shape, axes, keepdim)
