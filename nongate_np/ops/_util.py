"""Helpers shared by the op files: the device's array functions, operand conversion,
broadcasting, axes."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..device import CUDA
from ..kernels.array_api import NUMPY, ArrayFunctions
from ..tensor import Tensor, as_array


def xp_of(*values: Any) -> ArrayFunctions:
    """The array functions of the device the arrays among ``values`` live on: the GPU's if
    one is a GPU array, else NumPy's (``Function.apply`` has checked that an op's tensors
    share one device)."""
    for v in values:
        if type(v) is not np.ndarray and hasattr(v, "copy_to_host"):
            return CUDA.xp
    return NUMPY


_IEEE = np.errstate(all="ignore")


def ieee(cls):
    """Class decorator for a Function: its forward and backward give the IEEE results
    (inf for an overflow or x/0, NaN for 0/0, inf - inf, 0·inf, log of a negative) without
    NumPy's floating-point warnings, as torch does; ``detect_anomaly`` reports such values.
    Costs about a microsecond a call (entering ``np.errstate``)."""
    for name in ("forward", "backward"):
        setattr(cls, name, staticmethod(_IEEE(cls.__dict__[name].__func__)))
    return cls


def operand(x, op: str):
    """A Tensor stays a Tensor, a Python scalar stays one and a NumPy scalar becomes one (so
    NumPy keeps the tensor's dtype, as torch does for both: ``q / np.sqrt(8)`` stays
    float32), anything else becomes a constant ndarray."""
    if type(x) is Tensor or type(x) is float or type(x) is int:     # the common cases, fast
        return x
    if isinstance(x, np.generic) and not isinstance(x, (str, bytes)):
        return x.item()
    if isinstance(x, (Tensor, numbers.Number)) and not isinstance(x, (str, bytes)):
        return x
    return as_array(x, what=f"{op}: operand")


def tensor_arg(x, op: str) -> Tensor:
    """Arguments that must be tensors (unary ops): wrap arrays and numbers as constants."""
    return x if isinstance(x, Tensor) else Tensor(as_array(x, what=f"{op}: argument"))


def numeric_arg(x, op: str) -> Tensor:
    """As :func:`tensor_arg`, refusing a bool tensor (TypeError naming ``op``): the ops that
    need numbers (a negation, an exponential) are not defined on bools, as in torch."""
    x = tensor_arg(x, op)
    if x.dtype == np.bool_:
        raise TypeError(f"{op}: not defined for a bool tensor (shape {x.shape}); convert it "
                        "first, e.g. x.astype(np.float32)")
    return x


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` over the axes broadcasting added or stretched, returning ``shape``.

    If ``y = f(broadcast(x))`` then ``dx = Σ over broadcast axes of dy`` (docs/math.md E1).
    """
    if grad.shape == shape:
        return grad
    xp = xp_of(grad)
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + k for k, n in enumerate(shape)
                                      if n == 1 and grad.shape[lead + k] != 1)
    if axes:
        grad = xp.sum(grad, axis=axes, keepdims=True)
    return xp.reshape(grad, shape)


def broadcast_error(op: str, a, b) -> ValueError:
    return ValueError(f"{op}: shapes {np.shape(a)} and {np.shape(b)} cannot be broadcast "
                      "together (aligned from the right, each dimension must be equal or 1)")


# PyTorch's type categories: an operand of a lower one never widens the dtype of a higher
CATEGORY = {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}


def result_dtype_as_torch(dtypes) -> np.dtype:
    """The dtype PyTorch gives a list of tensors joined or combined (``cat``, ``stack``,
    ``where``'s two branches): NumPy's promotion among the dtypes of the highest category
    present (and of the floating ones beside a complex one), so integers never widen a
    float (float32 with int64 stays float32; NumPy gives float64)."""
    dtypes = [np.dtype(d) for d in dtypes]
    top = max(CATEGORY.get(d.kind, 0) for d in dtypes)
    kept = [d for d in dtypes if CATEGORY.get(d.kind, 0) >= min(top, 2)] if top >= 2 \
        else dtypes
    return np.result_type(*kept)


def promoted_as_torch(xp, a, b):
    """(a, b) cast to PyTorch's result dtype where NumPy's differs: a bool or integer
    array beside a floating or complex one takes that one's dtype (float32 with int64 stays
    float32; NumPy gives float64), and a 0-d array beside a dimensioned one of its category
    takes the dimensioned one's (float32 with a 0-d float64 stays float32), a 0-d complex
    beside a floating one the complex type of its precision (complex64 for float32).
    Elsewhere, and for Python scalars (weak in NumPy as in torch), NumPy's promotion is
    torch's."""
    da, db = getattr(a, "dtype", None), getattr(b, "dtype", None)
    if da is db or da is None or db is None or da == db:
        return a, b
    ca, cb = CATEGORY.get(da.kind), CATEGORY.get(db.kind)
    if ca is None or cb is None:
        return a, b
    a0, b0 = len(a.shape) == 0, len(b.shape) == 0
    target = None
    if min(ca, cb) <= 1 < max(ca, cb):
        target = da if ca > cb else db
    elif a0 != b0:
        zero_cat, dim_cat, dim_dtype = (ca, cb, db) if a0 else (cb, ca, da)
        if zero_cat <= dim_cat:
            target = dim_dtype
        elif zero_cat == 3 and dim_cat == 2:
            target = np.result_type(dim_dtype, np.complex64)
    if target is None:
        return a, b
    return (a if da == target else xp.astype(a, target),
            b if db == target else xp.astype(b, target))


def torch_alias(op: str, name: str, value, alias: str, alias_value, default):
    """``value``, or ``alias_value`` where only torch's name for the argument was given
    (``dim`` for ``axis``, ``keepdim`` for ``keepdims``); TypeError naming both when both
    were. Where the default is None (every axis: the reductions), an empty ``dim`` is
    torch's, every axis too, where NumPy's ``axis=()`` is none."""
    if alias_value is None:
        return default if value is None else value
    if value is not None:
        raise TypeError(f"{op}: give {name} or {alias} (torch's name for it), not both")
    if default is None and isinstance(alias_value, (tuple, list)) and not alias_value:
        return None
    return alias_value


def normalize_axes(axis, ndim: int, op: str) -> tuple[int, ...]:
    """``axis`` (None, int or tuple) as a sorted tuple of non-negative axes, validated:
    TypeError for a non-int, ValueError for an axis out of range or repeated. A 0-d tensor
    accepts axis 0 or -1, as torch, and has no axis to return (``()``)."""
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int and -ndim <= axis < ndim:      # the common case, fast
        return (axis % ndim,)

    def is_int(a) -> bool:
        return isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_))

    axes = (axis,) if is_int(axis) else tuple(axis) if isinstance(axis, (tuple, list)) else None
    if axes is None or not all(is_int(a) for a in axes):
        raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r:.60}")
    n = max(ndim, 1)
    out = []
    for a in axes:
        if not -n <= a < n:
            raise ValueError(f"{op}: axis {a!r} is out of range for a tensor with {ndim} "
                             f"dimension(s); expected an int in [{-n}, {n - 1}]")
        out.append(int(a) % n)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: axis {axis!r} repeats an axis")
    return tuple(sorted(out)) if ndim else ()


def check_lengths(where: str, lengths, T: int, B: int) -> np.ndarray:
    """``lengths`` as an int64 array (B,) with values in [0, T], or an error naming
    ``where`` and what was given."""
    arr = as_array(lengths.data if isinstance(lengths, Tensor) else lengths,
                   what=f"{where}: lengths")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{where}: lengths must be integers, got dtype {arr.dtype}")
    if arr.shape != (B,):
        raise ValueError(f"{where}: lengths has shape {arr.shape}, expected (B,) = ({B},), "
                         "one length per sequence in the batch")
    if arr.size and (arr.min() < 0 or arr.max() > T):
        bad = arr[(arr < 0) | (arr > T)][0]
        raise ValueError(f"{where}: lengths must lie in [0, T] = [0, {T}], got {bad}")
    return arr.astype(np.int64)
