"""Tensor factories, as torch's: zeros, ones, full, randn, rand, randint and the ``_like``
forms, arange, linspace and from_numpy.

Without a ``dtype``, ``zeros``, ``ones``, ``full``, ``randn``, ``rand`` and ``arange`` with a
float bound make ``get_default_dtype()`` (float64, NumPy's, until ``set_default_dtype``; see
``nongate_np.defaults``); ``zeros_like`` and ``ones_like`` keep their input's dtype.

A shape is given as separate ints (``zeros(2, 3)``) or one sequence (``zeros((2, 3))``);
a side that is not an int >= 0 and a dtype NumPy does not know raise TypeError or ValueError
naming the factory.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import rng
from .casting import fill_value
from .defaults import get_default_dtype
from .tensor import Tensor

__all__ = ["zeros", "ones", "full", "zeros_like", "ones_like", "randn", "rand", "randint",
           "arange", "linspace", "from_numpy"]


def _shape(shape: tuple, where: str) -> tuple:
    if len(shape) == 1 and not isinstance(shape[0], (numbers.Integral, np.integer)):
        shape = shape[0]
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise TypeError(f"{where}: expected a shape (ints or one tuple of ints), got "
                        f"{shape!r:.40}")
    sides = tuple(shape)
    for s in sides:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (numbers.Integral, np.integer)):
            raise TypeError(f"{where}: every side of a shape must be an int, got {s!r:.40} "
                            f"in {sides!r:.60}")
        if s < 0:
            raise ValueError(f"{where}: every side of a shape must be >= 0, got {sides}")
    return tuple(int(s) for s in sides)


def _dtype(dtype, where: str) -> np.dtype:
    if dtype is None:                   # NOTE: np.dtype(None) would be float64 whatever set
        return np.dtype(get_default_dtype())
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where}: unknown dtype {dtype!r:.40}") from None


def zeros(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape(shape, "zeros"), _dtype(dtype, "zeros")),
                  requires_grad=requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape(shape, "ones"), _dtype(dtype, "ones")),
                  requires_grad=requires_grad)


def full(shape, value, dtype=None, requires_grad: bool = False) -> Tensor:
    """``shape`` filled with ``value`` (see :func:`fill_value`), of ``dtype``: by default
    ``get_default_dtype()`` whatever the value (torch makes an int value int64 and a bool
    bool: pass ``dtype=np.int64`` for that)."""
    v = fill_value(value, _dtype(dtype, "full"), "full")
    return Tensor(np.full(_shape((shape,), "full"), v, v.dtype), requires_grad=requires_grad)


def zeros_like(x, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros_like(np.asarray(x)), requires_grad=requires_grad)


def ones_like(x, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones_like(np.asarray(x)), requires_grad=requires_grad)


def randn(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the library's generator (see ``seed``)."""
    data = rng.generator().standard_normal(_shape(shape, "randn"))
    return Tensor(data.astype(_dtype(dtype, "randn")), requires_grad=requires_grad)


def rand(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the library's generator (see ``seed``)."""
    data = rng.generator().random(_shape(shape, "rand"))
    return Tensor(data.astype(_dtype(dtype, "rand")), requires_grad=requires_grad)


def randint(low, high=None, size=None, *, dtype=np.int64,
            requires_grad: bool = False) -> Tensor:
    """Integers drawn uniformly from [low, high) by the library's generator (see ``seed``:
    ``manual_seed`` makes them reproducible), of shape ``size``, as ``torch.randint``:
    ``randint(high, size)`` draws from [0, high). int64 unless ``dtype`` is given.

    Raises TypeError for a bound that is not an int or a missing size, ValueError where
    low >= high.
    """
    if size is None:        # torch's randint(high, size): low is optional, first
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size), "
                        "got no size")
    for b in (low, high):
        if isinstance(b, (bool, np.bool_)) or not isinstance(b, (numbers.Integral, np.integer)):
            raise TypeError(f"randint: low and high must be ints, got {b!r:.40}")
    if low >= high:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    shape = _shape((size,), "randint")
    data = rng.generator().integers(int(low), int(high), shape, dtype=np.int64)
    return Tensor(data.astype(_dtype(dtype, "randint"), copy=False),
                  requires_grad=requires_grad)


def linspace(start, end, steps, *, dtype=None, requires_grad: bool = False) -> Tensor:
    """``steps`` values evenly spaced from ``start`` to ``end`` (both included), as
    ``torch.linspace``: ``get_default_dtype()`` (float64 until ``set_default_dtype``;
    torch's default is float32) unless ``dtype`` is given, an integer dtype truncating the
    float values toward 0 as torch's. ``steps`` 1 gives [start], 0 an empty tensor. Raises
    TypeError for a bound that is not a real number or steps that is not an int, ValueError
    for steps < 0."""
    for b in (start, end):
        if isinstance(b, (bool, np.bool_)) or not isinstance(b, numbers.Real):
            raise TypeError(f"linspace: start and end must be real numbers, got {b!r:.40}")
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (numbers.Integral,
                                                                     np.integer)):
        raise TypeError(f"linspace: steps must be an int, got {steps!r:.40}")
    if steps < 0:
        raise ValueError(f"linspace: steps must be >= 0, got {steps}")
    kind = _dtype(dtype, "linspace")
    # NOTE: torch's formula, not NumPy's: the first half stepped from start, the second back
    # from end, in the dtype (float64 for integers, whose bounds are truncated first)
    work = kind if kind.kind in "fc" else np.dtype(np.float64)
    if kind.kind not in "fc":
        start, end = int(start), int(end)
    a, b = work.type(start), work.type(end)
    step = (b - a) / work.type(max(steps - 1, 1))
    k = np.arange(steps, dtype=work)
    data = np.where(k < max(steps // 2, 1), a + step * k, b - step * (steps - 1 - k))
    return Tensor(data.astype(kind), requires_grad=requires_grad)


def arange(start, end=None, step=1, *, dtype=None, requires_grad: bool = False) -> Tensor:
    """``start, start + step, ...`` below ``end`` (``arange(n)``: 0 to n - 1), as torch's:
    int64 when every bound is an int, else ``get_default_dtype()`` (float64 until
    ``set_default_dtype``; torch's default is float32), unless ``dtype`` is given. Raises
    TypeError for a bound that is not a real number, ValueError for a step of 0."""
    if end is None:
        start, end = 0, start
    bounds = (start, end, step)
    for b in bounds:
        if isinstance(b, (bool, np.bool_)) or not isinstance(b, numbers.Real):
            raise TypeError(f"arange: start, end and step must be real numbers, got {b!r:.40}")
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    integral = all(isinstance(b, (numbers.Integral, np.integer)) for b in bounds)
    kind = np.int64 if integral else np.float64
    data = np.arange(start, end, step, dtype=kind)     # the points in float64, then cast
    if dtype is None and not integral:
        dtype = get_default_dtype()
    if dtype is not None:
        data = data.astype(_dtype(dtype, "arange"))
    return Tensor(data, requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory (a change to one shows in the other), as
    ``torch.from_numpy``. Raises TypeError for anything but an ndarray of numbers or bools."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}; "
                        f"nongate_np.tensor(...) copies any array-like")
    if array.dtype.kind not in "biufc":
        raise TypeError(f"from_numpy: expected an array of numbers or bools, got dtype "
                        f"{array.dtype}")
    return Tensor(array)
