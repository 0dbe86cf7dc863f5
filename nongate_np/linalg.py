"""torch.linalg's vector norms, as ``nongate_np.linalg``: a thin namespace over
:func:`nongate_np.norm` (docs/math.md E25). Matrix norms, decompositions and solvers are not
here."""

from __future__ import annotations

import numbers

import numpy as np

from .ops import cast
from .ops import norm as _norm
from .ops._util import normalize_axes, tensor_arg
from .tensor import Tensor

__all__ = ["vector_norm", "norm"]


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


def norm(A, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """torch.linalg.norm where it is a vector norm: with ``ord`` None, the 2-norm of every
    element (``dim`` None) or over ``dim`` (an int, or two dims: the Frobenius norm); with
    ``ord`` a number, :func:`vector_norm` of a 1-d ``A`` or over one int ``dim``; ``ord``
    'fro' over two dims (or a 2-d ``A``) is the 2-norm over both.

    Raises ValueError for the matrix norms (a numeric ``ord`` over two dims or of a 2-d
    ``A`` without ``dim``, 'nuc'), and what :func:`vector_norm` raises."""
    x = tensor_arg(A, "linalg.norm")
    if dtype is not None:
        x = cast(x, dtype)
    dims = normalize_axes(dim, x.ndim, "linalg.norm") if dim is not None else None
    if ord is None:
        return vector_norm(x, 2, dim, keepdim)
    if ord == "fro":
        if (dims is None and x.ndim != 2) or (dims is not None and len(dims) != 2):
            raise ValueError(f"linalg.norm: ord='fro' is a matrix norm: give a 2-d A or two "
                             f"dims, got shape {x.shape} and dim={dim!r}")
        return vector_norm(x, 2, dim, keepdim)
    if isinstance(ord, str) or (dims is not None and len(dims) == 2) or \
            (dims is None and x.ndim == 2):
        raise ValueError(f"linalg.norm: ord={ord!r} over two dims (A of shape {x.shape}, "
                         f"dim={dim!r}) is a matrix norm; matrix norms are not here (only "
                         f"ord=None or 'fro'); linalg.vector_norm gives vector norms")
    if dims is None and x.ndim != 1:
        raise ValueError(f"linalg.norm: with ord={ord!r} and no dim, A must be 1-d (torch: "
                         f"1-d or 2-d), got shape {x.shape}; give dim, or use "
                         f"linalg.vector_norm")
    return vector_norm(x, ord, dim, keepdim)
