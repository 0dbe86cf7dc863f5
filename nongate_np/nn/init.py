"""In-place parameter initialisation, as ``torch.nn.init`` (the functions ending in ``_``).

Every random draw comes from ``nongate_np.rng.generator()``, so ``nongate_np.seed(s)`` fixes
it, unless a ``numpy.random.Generator`` is passed as ``generator`` (torch's argument; a
``torch.Generator`` cannot draw here and is a TypeError). Samples are drawn in float64 and
then cast to the tensor's dtype, so a float32 and a float64 model built after the same seed
hold the same values up to float32 rounding. These functions write into ``tensor.data``
(on its device), record nothing in the autograd graph, and return ``tensor``.

The distributions' parameters are torch's, computed as torch computes them: the gain of a
nonlinearity (:func:`calculate_gain`), the fans of a weight of shape (out, in, *kernel)
(:func:`calculate_fan_in_and_fan_out`), and from them the uniform bound or normal std of the
Xavier (Glorot) and Kaiming (He) schemes. The draws themselves are NumPy's, not torch's.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import rng
from ..autograd import mark_changed
from ..device import copy_into
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_",
           "ones_", "eye_", "orthogonal_", "calculate_fan_in_and_fan_out", "xavier_uniform_",
           "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid")


def _fill(tensor: Tensor, values) -> Tensor:
    copy_into(tensor.data, values, casting="unsafe")    # as ``data[...] = values`` casts
    mark_changed(tensor.data)
    return tensor


def _checked(tensor, where: str) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{where}: expected a Tensor or Parameter, got "
                        f"{type(tensor).__name__}")
    return tensor


def _generator(generator, where: str) -> np.random.Generator:
    return rng.generator_arg(generator, where)


def _real(value, name: str, where: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {value!r}")
    return float(value)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``: 1 for
    ``"linear"``, the ``"conv*"`` and ``"conv_transpose*"`` names and ``"sigmoid"``; 5/3 for
    ``"tanh"``; sqrt(2) for ``"relu"``; sqrt(2 / (1 + slope²)) for ``"leaky_relu"`` (slope
    ``param``, 0.01 when None); 3/4 for ``"selu"``.

    Raises
    ------
    ValueError
        An unknown nonlinearity, or a ``param`` that is not an int or float (torch's
        messages).
    """
    if nonlinearity in _LINEAR:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill ``tensor`` (any shape, floating) with samples of U(a, b).

    Raises TypeError for a non-Tensor, non-numeric bounds or another ``generator``;
    ValueError unless a <= b."""
    where = "uniform_"
    _checked(tensor, where)
    a, b = _real(a, "a", where), _real(b, "b", where)
    if not a <= b:
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    return _fill(tensor, _generator(generator, where).uniform(a, b, size=tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill ``tensor`` (any shape, floating) with samples of N(mean, std²).

    Raises TypeError for a non-Tensor, non-numeric parameters or another ``generator``;
    ValueError unless std >= 0."""
    where = "normal_"
    _checked(tensor, where)
    mean, std = _real(mean, "mean", where), _real(std, "std", where)
    if not std >= 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    return _fill(tensor, mean + std * _generator(generator, where).standard_normal(
        tensor.shape))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None) -> Tensor:
    """Fill ``tensor`` (any shape, floating) with samples of N(mean, std²) truncated to
    [a, b] (absolute bounds, as torch's), drawn by ``scipy.stats.truncnorm``, exact in the
    tails. Warns, as torch, when ``mean`` is more than 2 std outside [a, b].

    Raises TypeError for a non-Tensor, non-numeric parameters or another ``generator``;
    ValueError unless std > 0 and a < b (torch divides by std, and its draws for a >= b
    are not from any truncated normal)."""
    where = "trunc_normal_"
    _checked(tensor, where)
    mean, std = _real(mean, "mean", where), _real(std, "std", where)
    a, b = _real(a, "a", where), _real(b, "b", where)
    if not std > 0:
        raise ValueError(f"trunc_normal_: std must be > 0, got {std}")
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    from scipy.stats import truncnorm
    draws = truncnorm.rvs((a - mean) / std, (b - mean) / std, loc=mean, scale=std,
                          size=tensor.shape, random_state=_generator(generator, where))
    return _fill(tensor, np.clip(draws, a, b))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` with ``val`` (torch's argument name)."""
    return _fill(_checked(tensor, "constant_"), val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with 0."""
    return _fill(_checked(tensor, "zeros_"), 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with 1."""
    return _fill(_checked(tensor, "ones_"), 1)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D ``tensor`` with the identity (ones on the diagonal of a rectangle too).

    Raises ValueError for another number of dimensions (torch's message)."""
    if _checked(tensor, "eye_").ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill(tensor, np.eye(*tensor.shape))


def orthogonal_(tensor: Tensor, gain: float = 1, generator=None) -> Tensor:
    """Fill ``tensor`` (2 or more dimensions, seen as (shape[0], the rest)) with a
    (semi-)orthogonal matrix times ``gain``, as torch (Saxe et al. 2013): the Q of the QR
    factorisation of a standard normal matrix (of its transpose when it is wide), its
    columns' signs fixed by R's diagonal so Q is uniformly (Haar) distributed. Its rows
    (wide) or columns (tall) are orthonormal before the gain. A tensor without elements is
    left as it is.

    Raises ValueError for fewer than 2 dimensions (torch's message), TypeError for a
    non-numeric gain or another ``generator``."""
    where = "orthogonal_"
    if _checked(tensor, where).ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    gain = _real(gain, "gain", where)
    if tensor.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.size // rows
    flat = _generator(generator, where).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (q * gain).reshape(tensor.shape))


def calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel), as torch computes them:
    (in·k, out·k) with k the product of the kernel's sizes.

    Raises ValueError for fewer than 2 dimensions."""
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got "
                         f"shape {tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


#: torch's private name, which layers ported from torch call in ``reset_parameters``
_calculate_fan_in_and_fan_out = calculate_fan_in_and_fan_out


def _fan(tensor: Tensor, mode: str, where: str) -> int:
    if not isinstance(mode, str) or mode.lower() not in ("fan_in", "fan_out"):
        raise ValueError(f"{where}: Mode {mode} not supported, please use one of "
                         "['fan_in', 'fan_out']")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode.lower() == "fan_in" else fan_out


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """U(-a, a) with a = sqrt(3)·gain·sqrt(2 / (fan_in + fan_out)) (Glorot & Bengio 2010).

    Raises ValueError for fewer than 2 dimensions, TypeError as :func:`uniform_`."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(_checked(tensor, "xavier_uniform_"))
    std = _real(gain, "gain", "xavier_uniform_") * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, _generator(generator, "xavier_uniform_"))


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """N(0, std²) with std = gain·sqrt(2 / (fan_in + fan_out)).

    Raises ValueError for fewer than 2 dimensions, TypeError as :func:`normal_`."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(_checked(tensor, "xavier_normal_"))
    std = _real(gain, "gain", "xavier_normal_") * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, _generator(generator, "xavier_normal_"))


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str,
                 where: str) -> float | None:
    """gain / sqrt(fan), or None (and torch's warning) for a tensor without elements."""
    if 0 in _checked(tensor, where).shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _fan(tensor, mode, where)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """U(-b, b) with b = sqrt(3)·gain / sqrt(fan) (He et al. 2015), as torch's: ``gain =
    calculate_gain(nonlinearity, a)`` (``a``: the leaky ReLU's negative slope, used only by
    ``"leaky_relu"``), ``fan`` the fan_in or fan_out (``mode``). The defaults give
    b = sqrt(6 / fan_in); ``a = sqrt(5)`` gives torch's ``Linear`` default, 1/sqrt(fan_in).
    A tensor without elements is left as it is, with torch's warning.

    Raises ValueError for fewer than 2 dimensions, an unknown ``mode`` or nonlinearity;
    TypeError as :func:`uniform_`."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, _generator(generator, "kaiming_uniform_"))


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """N(0, std²) with std = gain / sqrt(fan), the arguments as :func:`kaiming_uniform_`.

    Raises as :func:`kaiming_uniform_`."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, _generator(generator, "kaiming_normal_"))
