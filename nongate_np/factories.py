"""Tensor factories, as torch's: zeros, ones, full, empty, eye, randn, rand, randint,
randperm and the ``_like`` forms (``zeros_like``, ``ones_like``, ``full_like``,
``empty_like``, ``randn_like``, ``rand_like``), arange, linspace, from_numpy and as_tensor.

Without a ``dtype``, ``zeros``, ``ones``, ``full``, ``randn``, ``rand`` and ``arange`` with a
float bound make ``get_default_dtype()`` (float64, NumPy's, until ``set_default_dtype``; see
``nongate_np.defaults``); the ``_like`` forms keep their input's dtype (and ``full_like``,
``randn_like``, ``rand_like`` its device) unless given a ``dtype``.

A shape is given as separate ints (``zeros(2, 3)``) or one sequence (``zeros((2, 3))``);
a side that is not an int >= 0 and a dtype NumPy does not know raise TypeError or ValueError
naming the factory.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import casting, rng
from .casting import fill_value
from .defaults import get_default_dtype
from .device import CPU, device_of, move
from .device import device as device_named
from .tensor import Tensor, as_array

__all__ = ["zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "randn_like",
           "rand_like", "randn", "rand", "randint", "arange", "linspace", "from_numpy",
           "as_tensor", "empty", "empty_like", "eye", "randperm"]


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


def zeros(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``shape`` (separate ints or one tuple), as ``torch.zeros``: ``dtype``
    ``get_default_dtype()`` when None, ``device`` "cpu" (None) or "cuda" (every factory
    here takes torch's ``device=``; DeviceError where "cuda" is not usable)."""
    return Tensor(np.zeros(_shape(shape, "zeros"), _dtype(dtype, "zeros")),
                  requires_grad=requires_grad, device=device)


def ones(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Ones, as :func:`zeros` (``torch.ones``)."""
    return Tensor(np.ones(_shape(shape, "ones"), _dtype(dtype, "ones")),
                  requires_grad=requires_grad, device=device)


def full(shape, value, dtype=None, requires_grad: bool = False, *, device=None) -> Tensor:
    """``shape`` filled with ``value`` (see :func:`fill_value`), of ``dtype``: by default
    ``get_default_dtype()`` whatever the value (torch makes an int value int64 and a bool
    bool: pass ``dtype=np.int64`` for that); on ``device``."""
    v = fill_value(value, _dtype(dtype, "full"), "full")
    return Tensor(np.full(_shape((shape,), "full"), v, v.dtype), requires_grad=requires_grad,
                  device=device)


def _count(value, name: str, where: str) -> int:
    """A count (an int >= 0): TypeError for anything but an int, ValueError below 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int, got {value!r:.40}")
    if value < 0:
        raise ValueError(f"{where}: {name} must be >= 0, got {value}")
    return int(value)


def _placed(data: np.ndarray, device, requires_grad: bool) -> Tensor:
    """A new host array as a leaf tensor on ``device`` (None: the CPU)."""
    return Tensor(data, requires_grad=requires_grad, device=device)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` (separate ints or one tuple), as ``torch.empty``, but filled with
    zeros: torch leaves the values uninitialised (whatever the memory held), so no code may
    read them before writing, and zeros here make a mistake reproducible. ``dtype`` as
    :func:`zeros` (``get_default_dtype()`` when None), ``device`` "cpu" (None) or "cuda".
    Raises as :func:`zeros` does, and for an unknown device."""
    data = np.zeros(_shape(size, "empty"), _dtype(dtype, "empty"))
    return _placed(data, device, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """The (n, m) matrix with ones on its main diagonal and zeros elsewhere (m = n when
    None), as ``torch.eye``, of ``dtype`` (``get_default_dtype()`` when None: float64 until
    ``set_default_dtype``; torch's default is float32) on ``device``. Raises TypeError for
    n or m that is not an int, ValueError for a negative one."""
    rows = _count(n, "n", "eye")
    cols = rows if m is None else _count(m, "m", "eye")
    return _placed(np.eye(rows, cols, dtype=_dtype(dtype, "eye")), device, requires_grad)


def randperm(n, *, generator=None, dtype=np.int64, device=None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of 0, …, n − 1, as ``torch.randperm``: int64 unless ``dtype``
    is given, drawn by the library's generator (see ``seed``; ``manual_seed`` makes it
    reproducible), or by ``generator``, a ``numpy.random.Generator`` (torch's argument,
    as :func:`randn_like`'s). The numbers are NumPy's ``Generator.permutation``, not
    torch's for the same seed. Raises TypeError for an n that is not an int or a
    ``generator`` that is not None or a Generator, ValueError for a negative n."""
    count = _count(n, "n", "randperm")
    gen = rng.generator_arg(generator, "randperm")
    data = gen.permutation(count).astype(_dtype(dtype, "randperm"), copy=False)
    return _placed(data, device, requires_grad)


def _like(x, where: str):
    """``x``'s array (a Tensor's, host or device; an array or nested list as NumPy reads
    it), refusing strings and objects (TypeError naming ``where``)."""
    return x._data if isinstance(x, Tensor) else as_array(x, what=f"{where}: input")


def _made(data: np.ndarray, like, requires_grad: bool, device=None) -> Tensor:
    """A host array as a tensor on ``device``, or (None) the device of ``like`` (an
    array)."""
    device = device_of(like) if device is None else device_named(device)
    out = Tensor._wrap(data if device is CPU else move(data, device))
    if requires_grad:
        out.requires_grad = True
    return out


def full_like(input, fill_value, *, dtype=None, device=None,
              requires_grad: bool = False) -> Tensor:
    """A tensor of ``input``'s shape filled with ``fill_value``, in input's dtype (or
    ``dtype``) and on its device (or ``device``), as ``torch.full_like``: the value
    converted to the dtype as :func:`full` does (3.7 in an int64 tensor is 3, as torch). No
    graph: a new leaf.

    Raises TypeError for a value that is not a number, an unknown dtype or an input that
    is not numeric; ValueError for a value the dtype cannot hold (NaN in an integer dtype,
    a finite float beyond a float dtype's range), as torch's "without overflow"."""
    like = _like(input, "full_like")
    dt = like.dtype if dtype is None else _dtype(dtype, "full_like")
    v = casting.fill_value(fill_value, dt, "full_like")   # NOTE: torch's argument name hides it
    return _made(np.full(like.shape, v, v.dtype), like, requires_grad, device)


def zeros_like(input, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``input``'s shape, in its dtype (or ``dtype``) and on its device (or
    ``device``), as ``torch.zeros_like``: :func:`full_like` with 0. Raises as
    :func:`full_like` does."""
    return full_like(input, 0, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``input``'s shape, in its dtype (or ``dtype``) and on its device (or
    ``device``), as ``torch.empty_like``, but filled with zeros (torch's values are
    uninitialised: see :func:`empty`). Raises as :func:`zeros_like` does."""
    return full_like(input, 0, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Ones of ``input``'s shape, as :func:`zeros_like` otherwise (``torch.ones_like``)."""
    return full_like(input, 1, dtype=dtype, device=device, requires_grad=requires_grad)


def _random_like(draw: str, input, generator, dtype, device, requires_grad: bool) -> Tensor:
    where = f"{draw}_like"
    like = _like(input, where)
    dt = like.dtype if dtype is None else _dtype(dtype, where)
    if dt.kind != "f":
        raise TypeError(f"{where}: samples need a floating dtype (float32 or float64), got "
                        f"{dt}; pass dtype=np.float64 for an input of another dtype (torch "
                        f"refuses integer dtypes too)")
    gen = rng.generator_arg(generator, where)
    data = gen.standard_normal(like.shape) if draw == "randn" else gen.random(like.shape)
    return _made(data.astype(dt), like, requires_grad, device)


def randn_like(input, *, generator=None, dtype=None, device=None,
               requires_grad: bool = False) -> Tensor:
    """Standard normal samples of ``input``'s shape, in its dtype (or ``dtype``) and on its
    device (or ``device``), as ``torch.randn_like``: :func:`randn`'s draw (the same numbers
    after the same ``seed``) from the library's generator, or from ``generator``, a
    ``numpy.random.Generator`` (torch's argument; nn.init takes one too). No graph.

    Raises TypeError for a dtype that is not floating (an integer input needs ``dtype=``,
    as torch refuses it too) or a ``generator`` that is not None or a Generator."""
    return _random_like("randn", input, generator, dtype, device, requires_grad)


def rand_like(input, *, generator=None, dtype=None, device=None,
              requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) of ``input``'s shape, as :func:`randn_like` otherwise
    (``torch.rand_like``; :func:`rand`'s draw)."""
    return _random_like("rand", input, generator, dtype, device, requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the library's generator (see ``seed``), drawn on the
    host, on ``device``."""
    data = rng.generator().standard_normal(_shape(shape, "randn"))
    return Tensor(data.astype(_dtype(dtype, "randn")), requires_grad=requires_grad,
                  device=device)


def rand(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the library's generator (see ``seed``), drawn on the
    host, on ``device``."""
    data = rng.generator().random(_shape(shape, "rand"))
    return Tensor(data.astype(_dtype(dtype, "rand")), requires_grad=requires_grad,
                  device=device)


def randint(low, high=None, size=None, *, dtype=np.int64, device=None,
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
                  requires_grad=requires_grad, device=device)


def linspace(start, end, steps, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
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
    return Tensor(data.astype(kind), requires_grad=requires_grad, device=device)


def arange(start, end=None, step=1, *, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
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
    return Tensor(data, requires_grad=requires_grad, device=device)


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


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, sharing its memory where it can, as ``torch.as_tensor``.

    - a Tensor: itself where it has the ``dtype`` and ``device`` asked for (or none is
      asked), its graph kept; else ``data.to(device, dtype)``, recorded (the gradient goes
      back to ``data``, as torch's);
    - an ndarray (or a GPU array) of the ``dtype`` asked for, or with none asked: a tensor
      sharing its memory (a change to one shows in the other), as :func:`from_numpy`; of
      another dtype, a converted copy;
    - anything else (numbers, nested lists): a new tensor, Python floats in
      ``get_default_dtype()`` as :func:`nongate_np.tensor` makes them.

    A ``device`` other than the data's moves it (a copy). The three ways in: ``tensor``
    always copies (a new leaf, as ``torch.tensor``); ``from_numpy`` shares and takes only an
    ndarray; ``as_tensor`` shares where it can and takes anything. Raises TypeError for
    strings, objects or an unknown ``dtype``, ValueError for an unknown ``device`` and for
    values an integer ``dtype`` cannot hold (as ``tensor``)."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    kind = None if dtype is None else _dtype(dtype, "as_tensor")
    array = as_array(data, kind, what="as_tensor", python_default=True)
    return Tensor(array, device=device)
