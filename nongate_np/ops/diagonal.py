"""Diagonals, as torch's: ``diagonal`` (a diagonal of the matrices over two dims),
``diag_embed`` (vectors placed on a diagonal of zero matrices, its adjoint), ``diag`` (one
or the other for a vector or a matrix) and ``trace``. Derivations: docs/math.md E38.

Both directions are gathers with a fixed index, on the tensor's device: a diagonal is read
from the two dims flattened into one (position i·m + j of an (n, m) matrix), and written by
gathering from the values with a zero appended, each position of the matrix reading its
diagonal value or that zero (no scatter, so the GPU needs no kernel of its own).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import normalize_axes, tensor_arg, xp_of
from .reduce import sum as _sum

__all__ = ["diagonal", "diag_embed", "diag", "trace"]


def _positions(n: int, m: int, offset: int) -> np.ndarray:
    """The flat positions i·m + j in an (n, m) matrix of its diagonal j = i + offset, in
    order of i (E38): min(n, m − offset) of them above the main diagonal, min(n + offset,
    m) below, none where the offset leaves the matrix."""
    row, col = max(-offset, 0), max(offset, 0)
    k = np.arange(max(0, min(n - row, m - col)), dtype=np.int64)
    return (k + row) * m + (k + col)


def _read(xp, a, offset: int, axis1: int, axis2: int):
    """The diagonal ``offset`` of ``a`` over (axis1, axis2), as a last axis after the other
    axes in order (E38's gather)."""
    rest = tuple(k for k in range(a.ndim) if k not in (axis1, axis2))
    n, m = a.shape[axis1], a.shape[axis2]
    moved = xp.transpose(a, rest + (axis1, axis2))
    flat = xp.reshape(moved, tuple(moved.shape[:len(rest)]) + (n * m,))
    return xp.take(flat, _positions(n, m, offset), axis=len(rest))


def _write(xp, d, n: int, m: int, offset: int):
    """(…, n, m) matrices holding d (…, L) on the diagonal ``offset`` and 0 elsewhere: each
    position gathers its diagonal value, or the zero appended to d (E38's adjoint)."""
    lead, length = tuple(d.shape[:-1]), d.shape[-1]
    source = np.full(n * m, length, np.int64)
    source[_positions(n, m, offset)] = np.arange(length, dtype=np.int64)
    padded = xp.concatenate([d, xp.zeros(lead + (1,), d.dtype)], axis=len(lead))
    return xp.reshape(xp.take(padded, source, axis=len(lead)), lead + (n, m))


def _placed(shape: tuple, axis1: int, axis2: int) -> tuple[int, ...]:
    """The permutation that takes (other axes…, axis1, axis2) to the order of ``shape``'s
    axes, axis1 and axis2 where they are."""
    ndim = len(shape)
    others = iter(range(ndim - 2))
    return tuple(ndim - 2 if k == axis1 else ndim - 1 if k == axis2 else next(others)
                 for k in range(ndim))


class Diagonal(Function):
    """y[…, k] = x[…, i_k, …, j_k, …] over (axis1, axis2), j_k − i_k = offset;
    dx = dy on that diagonal, 0 elsewhere  (E38: a gather and its adjoint)."""

    @staticmethod
    def forward(ctx, x, offset, axis1, axis2):
        ctx.shape, ctx.args = x.shape, (offset, axis1, axis2)
        return _read(xp_of(x), x, offset, axis1, axis2)

    @staticmethod
    def backward(ctx, dy):
        offset, axis1, axis2 = ctx.args
        xp = xp_of(dy)
        written = _write(xp, dy, ctx.shape[axis1], ctx.shape[axis2], offset)
        return xp.transpose(written, _placed(ctx.shape, axis1, axis2)), None, None, None


class DiagEmbed(Function):
    """y: zeros with x's last axis on the diagonal ``offset`` over (axis1, axis2) of one
    more axis; dx = dy's diagonal there  (E38: Diagonal's adjoint)."""

    @staticmethod
    def forward(ctx, x, offset, axis1, axis2):
        ctx.args = (offset, axis1, axis2)
        xp = xp_of(x)
        n = x.shape[-1] + abs(offset)
        written = _write(xp, x, n, n, offset)
        return xp.transpose(written, _placed(tuple(written.shape), axis1, axis2))

    @staticmethod
    def backward(ctx, dy):
        offset, axis1, axis2 = ctx.args
        return _read(xp_of(dy), dy, offset, axis1, axis2), None, None, None


def _offset(offset, op: str, name: str = "offset") -> int:
    if isinstance(offset, (bool, np.bool_)) or not isinstance(offset, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an int, got {offset!r:.40}")
    return int(offset)


def _two_axes(op: str, dim1, dim2, ndim: int) -> tuple[int, int]:
    """(dim1, dim2) as two different non-negative axes of ``ndim``; TypeError, ValueError
    otherwise (torch: IndexError, RuntimeError)."""
    axes = []
    for d in (dim1, dim2):
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Integral):
            raise TypeError(f"{op}: dim1 and dim2 must be ints, got {d!r:.40}")
        axes.append(normalize_axes(int(d), ndim, op)[0])
    if axes[0] == axes[1]:
        raise ValueError(f"{op}: dim1 and dim2 name the same dim ({dim1}, {dim2} of "
                         f"{ndim}); give two different dims")
    return axes[0], axes[1]


def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal ``offset`` of the matrices over (``dim1``, ``dim2``), as
    ``torch.diagonal``: y[…, k] = x[…, i, …, i + offset, …] (0 the main diagonal, > 0 above
    it, < 0 below), the dims dim1 and dim2 removed and the diagonal appended last; empty
    where the offset leaves the matrices. dx is dy on that diagonal and 0 elsewhere (E38).

    A copy (torch's is a view: writing into it does not reach ``input`` here). Shapes: x
    with ndim ≥ 2 -> (other dims…, L), x's dtype. Raises ValueError for fewer than 2 dims,
    dims out of range or equal (torch: RuntimeError, IndexError), TypeError for an offset
    or dims that are not ints."""
    x = tensor_arg(input, "diagonal")
    offset = _offset(offset, "diagonal")
    if x.ndim < 2:
        raise ValueError(f"diagonal: expected a tensor with at least 2 dims, got shape "
                         f"{x.shape}")
    axis1, axis2 = _two_axes("diagonal", dim1, dim2, x.ndim)
    return Diagonal.apply(x, offset, axis1, axis2)


def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices with ``input``'s last dim on their diagonal ``offset``, as
    ``torch.diag_embed``: one more dim than input, the matrix over (``dim1``, ``dim2``) of
    the result (counted in the result's dims) of size L + |offset| each way, 0 off that
    diagonal; the other dims are input's leading ones, in order. dx is dy's diagonal (E38).

    Shapes: x (…, L) -> the result of x.ndim + 1 dims, x's dtype. Raises ValueError for a
    0-d input, dims out of range or equal, TypeError for an offset or dims that are not
    ints."""
    x = tensor_arg(input, "diag_embed")
    offset = _offset(offset, "diag_embed")
    if x.ndim < 1:
        raise ValueError("diag_embed: expected a tensor with at least 1 dim (the values of "
                         "the diagonal), got a 0-d tensor")
    axis1, axis2 = _two_axes("diag_embed", dim1, dim2, x.ndim + 1)
    return DiagEmbed.apply(x, offset, axis1, axis2)


def diag(input, diagonal: int = 0) -> Tensor:
    """As ``torch.diag``: of a vector (n,), the (n + |k|, n + |k|) matrix with it on the
    diagonal k = ``diagonal`` and 0 elsewhere (``diag_embed``); of a matrix, its diagonal k
    (``diagonal``, empty where k leaves it). Gradients theirs (E38). Raises ValueError for
    another number of dims (torch: RuntimeError), TypeError for a ``diagonal`` that is not
    an int."""
    x = tensor_arg(input, "diag")
    k = _offset(diagonal, "diag", "diagonal")
    if x.ndim == 1:
        return DiagEmbed.apply(x, k, 0, 1)
    if x.ndim == 2:
        return Diagonal.apply(x, k, 0, 1)
    raise ValueError(f"diag: expected a vector (1 dim) or a matrix (2 dims), got shape "
                     f"{x.shape}; for a batch use diagonal or diag_embed")


def trace(input) -> Tensor:
    """The sum of a matrix's main diagonal, as ``torch.trace`` (a 0-d tensor; a matrix need
    not be square): ``sum(diagonal(x))``, so dx is dy on the diagonal and 0 elsewhere (E38,
    E9). Integers and bools sum in int64, as ``sum`` (torch refuses bool). Raises
    ValueError for a tensor that is not 2-D (torch: RuntimeError)."""
    x = tensor_arg(input, "trace")
    if x.ndim != 2:
        raise ValueError(f"trace: expected a matrix (2 dims), got shape {x.shape}")
    return _sum(Diagonal.apply(x, 0, 0, 1))
