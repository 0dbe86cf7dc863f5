"""torch.linalg's norms, as ``nongate_np.linalg``: vector norms (:func:`nongate_np.norm`,
docs/math.md E25), matrix norms (compositions of E25 and E9, and the singular values, E47),
``svdvals``, and ``norm``, which dispatches to them as torch's. Decompositions and solvers
are not here."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .ops import amax, amin, cast
from .ops import norm as _norm
from .ops._util import tensor_arg
from .ops.statistics import _float_tensor
from .ops.svd import matrix_axes, matrix_result, singular_value_norm, svdvals
from .tensor import Tensor

__all__ = ["vector_norm", "matrix_norm", "norm", "svdvals"]

_MATRIX_ORDS = "'fro', 'nuc', inf, -inf, 1, -1, 2 or -2"


def vector_norm(x, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The vector ``ord``-norm of ``x`` over ``dim`` (None: every element, as one vector;
    an int or a tuple of ints), as ``torch.linalg.vector_norm``: (Σ |x|^ord)^{1/ord} for
    ord > 0, max |x| for inf, min |x| for -inf, the count of non-zero entries for 0 (no
    gradient). ``dtype`` converts x first (recorded). The value and gradient are
    :func:`nongate_np.norm`'s (E25: 0 at x = 0; finite wherever the norm is).

    Shapes: x (...) → the kept dims (length 1 in place of the reduced ones with
    ``keepdim``), x's dtype. Raises TypeError for an integer or bool tensor or an ``ord``
    that is not a number, ValueError for a negative finite ``ord``, a dim out of range, or
    ±inf over an empty dim. (Complex input is the analytic continuation of a complex step,
    not torch's |z|: docs/math.md E25.)"""
    if isinstance(ord, (str, bool, np.bool_)) or not isinstance(ord, numbers.Real):
        raise TypeError(f"linalg.vector_norm: ord must be a number (inf, -inf, 0 or > 0), "
                        f"got {ord!r:.40}")
    if dtype is not None:
        x = cast(tensor_arg(x, "linalg.vector_norm"), dtype)
    return _norm(x, float(ord), dim, bool(keepdim))


def _matrix_order(ord):
    """``ord`` as 'fro', 'nuc' or one of the numbers ±1, ±2, ±inf (a float); TypeError for
    neither a string nor a number, ValueError for another order."""
    if isinstance(ord, str):
        if ord in ("fro", "nuc"):
            return ord
        raise ValueError(f"linalg.matrix_norm: unknown ord {ord!r:.40}; expected "
                         f"{_MATRIX_ORDS}")
    if isinstance(ord, (bool, np.bool_)) or not isinstance(ord, numbers.Real):
        raise TypeError(f"linalg.matrix_norm: ord must be {_MATRIX_ORDS}, got {ord!r:.40}")
    if float(ord) not in (1.0, -1.0, 2.0, -2.0, math.inf, -math.inf):
        raise ValueError(f"linalg.matrix_norm: ord must be {_MATRIX_ORDS}, got {ord!r}; "
                         f"other orders are vector norms (linalg.vector_norm)")
    return float(ord)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:
    """The matrix ``ord``-norm of each matrix of ``A`` (rows and columns the two dims of
    ``dim``, in that order), as ``torch.linalg.matrix_norm`` (docs/math.md E47):

    - 'fro': √(Σ |a_ij|²), E25's 2-norm over both dims;
    - 1 (-1): the largest (smallest) column sum max_j Σ_i |a_ij|, E25's 1-norm over the
      row index i, then E9's max (min) over the columns; inf (-inf): the same for the row
      sums;
    - 2 (-2): the largest (smallest) singular value, 'nuc': their sum (E47, then E9).

    ``dtype`` converts A first (recorded). Shapes: A (*, m, n) (the matrices along ``dim``,
    any other dims a batch) → the batch dims (with ``keepdim``, A's shape with 1 at both
    dims), A's dtype. Ties share the gradient (E9, as torch's); a zero entry or singular
    value gives 0 (E19, E47: at A = 0 every gradient is 0; torch's 'nuc' there is its
    LAPACK's U Vᵀ, its ±2 that split among the k tied zero singular values, U Vᵀ / k).
    The norms of an empty matrix are 0 ('fro', 'nuc', 1, 2, inf, as torch). 'nuc' and ±2
    take float32 or float64 and compute NumPy's SVD (on the host on the GPU);
    the others take complex input as the analytic continuation of a complex step (E19, E25),
    not torch's |z|.

    Raises TypeError for an integer or bool tensor, an ``ord`` that is neither a string nor
    a number, ``dim`` not a tuple of ints, and for 'nuc' or ±2 of another dtype than
    float32 or float64; ValueError for an unknown ``ord``, fewer than 2 dims, a ``dim`` not
    of two dims, out of range or repeated, and for -1, -inf, -2 where the minimum is over
    an empty dim (as torch)."""
    x = tensor_arg(A, "linalg.matrix_norm")
    x = _float_tensor(x if dtype is None else cast(x, dtype), "linalg.matrix_norm")
    order = _matrix_order(ord)
    axes = matrix_axes(x, dim, "linalg.matrix_norm")
    keepdim = bool(keepdim)
    if order == "fro":
        return _norm(x, 2.0, axes, keepdim)
    rows, cols = x.shape[axes[0]], x.shape[axes[1]]
    if rows * cols == 0:
        # NOTE: the min over none of the columns (-1), rows (-inf), singular values (-2);
        # the norm of an empty matrix is 0, where E9's max of nothing would fail
        among = {-1.0: cols, -math.inf: rows, -2.0: min(rows, cols)}.get(order)
        if among == 0:
            raise ValueError(f"linalg.matrix_norm: ord={ord!r} of an empty matrix (dims "
                             f"{axes} of a tensor of shape {x.shape}) is a minimum over "
                             f"nothing (torch raises too)")
        if among is None:
            return _norm(x, 2.0, axes, keepdim)
    if order in ("nuc", 2.0, -2.0):
        return singular_value_norm(x, axes, order, keepdim, "linalg.matrix_norm")
    summed, over = axes if abs(order) == 1 else axes[::-1]
    sums = _norm(x, 1.0, summed, True)                          # E25: Σ |a| along `summed`
    y = amax(sums, over, keepdims=True) if order > 0 else amin(sums, over, keepdims=True)
    return matrix_result(y, x.shape, axes, keepdim)


def norm(A, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """``torch.linalg.norm``: a matrix norm (:func:`matrix_norm`) where ``ord`` is a string,
    or a number over two dims (``dim`` a 2-tuple, or a 2-d ``A`` without ``dim``); else a
    vector norm (:func:`vector_norm`, ``ord`` None the 2-norm): of every element with
    neither ``ord`` nor ``dim``, of a 1-d ``A`` with ``ord`` and no ``dim``, or over ``dim``
    (one int; with ``ord`` None two dims too, the 2-norm over both, the Frobenius norm).

    Raises ValueError for ``dim`` of more than two dims, a numeric or string ``ord`` without
    ``dim`` for an ``A`` that is not 1-d or 2-d (torch's rule), and what :func:`vector_norm`
    and :func:`matrix_norm` raise."""
    x = tensor_arg(A, "linalg.norm")
    if dtype is not None:
        x = cast(x, dtype)
    if dim is not None:
        dims = (dim,) if isinstance(dim, numbers.Integral) else dim
        if isinstance(dims, (tuple, list)) and len(dims) not in (1, 2):
            raise ValueError(f"linalg.norm: dim must be one dim or two (a vector or a matrix "
                             f"norm), got dim={dim!r}; linalg.vector_norm reduces more")
        matrix = isinstance(dims, (tuple, list)) and len(dims) == 2
    else:
        if ord is not None and x.ndim not in (1, 2):
            raise ValueError(f"linalg.norm: with ord={ord!r} and no dim, A must be 1-d or 2-d "
                             f"(torch's rule), got shape {x.shape}; give dim, or use "
                             f"linalg.vector_norm or linalg.matrix_norm")
        dims, matrix = (-2, -1), x.ndim == 2
    if ord is not None and (matrix or isinstance(ord, str)):
        return matrix_norm(x, ord, dims, keepdim)
    return vector_norm(x, 2 if ord is None else ord, dim, keepdim)
