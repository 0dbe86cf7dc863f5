"""Basic layers, as torch's: Linear, Embedding, Dropout, LayerNorm, Flatten and activation
modules (Softmax, LogSoftmax among them).

Parameters are created in the constructor's ``dtype`` (float32 by default, torch's default
dtype, or the dtype given to ``nongate_np.set_default_dtype``) and initialised as torch
initialises them by default, drawing from ``nongate_np.rng.generator()``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import ops
from ..arguments import check_count, check_flag
from ..ops.normalization import check_eps, check_normalized_shape
from ..tensor import Tensor
from . import functional as F
from . import init
from ._checks import check_features
from .module import Module, Parameter, module_dtype
from .savable import register_savable

__all__ = ["Linear", "Embedding", "Dropout", "LayerNorm", "ReLU", "Tanh", "Sigmoid", "Softmax",
           "LogSoftmax", "Flatten", "Identity", "LeakyReLU", "SiLU", "GELU", "Softplus",
           "ELU"]


@register_savable
class Linear(Module):
    """y = x Wᵀ + b, as ``torch.nn.Linear``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool, default True
    dtype : floating dtype, optional
        Default float32 (torch's), or the dtype given to ``nongate_np.set_default_dtype``.

    Attributes
    ----------
    weight : Parameter (out_features, in_features), initialised U(-k, k), k = 1/sqrt(in_features)
    bias : Parameter (out_features,) or None, initialised U(-k, k)

    Shapes: x (*, in_features) -> y (*, out_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype=None):
        super().__init__()
        self.in_features = check_count(in_features, "in_features", "Linear")
        self.out_features = check_count(out_features, "out_features", "Linear")
        bias = check_flag(bias, "bias", "Linear")
        dt = module_dtype(dtype, "Linear")
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dt))
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Torch's default: weight and bias both U(-1/sqrt(in), 1/sqrt(in)) (weight first).

        NOTE: torch writes this as kaiming_uniform_(a=sqrt(5)), whose bound simplifies to
        1/sqrt(fan_in); a layer with in_features=0 gets zeros.
        """
        k = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        init.uniform_(self.weight, -k, k)
        if self.bias is not None:
            init.uniform_(self.bias, -k, k)

    def forward(self, x) -> Tensor:
        """x (*, in_features) of the weights' dtype -> y (*, out_features). Complex x only
        with complex weights or of the weights' precision (complex128 for float64), as in a
        complex-step check (docs/math.md G2); nested lists take the weights' dtype. Raises
        ValueError for another last dimension, TypeError for another dtype (torch refuses
        float64 input to float32 weights too)."""
        checked = check_features("Linear", "input", x, self.weight.dtype, self.in_features,
                                 None, "(*, in_features)", "in_features")
        # NOTE: an array stays an array, which the product takes on the weights' device (a
        # model on the GPU is fed host arrays by predict and encode)
        return F.linear(x if isinstance(x, Tensor) else checked._data, self.weight, self.bias)

    def config(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.bias is not None, "dtype": str(self.weight.dtype)}

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


@register_savable
class Embedding(Module):
    """A lookup table: ``y[...] = weight[ids[...]]``, as ``torch.nn.Embedding``.

    Parameters
    ----------
    num_embeddings, embedding_dim : int
    padding_idx : int, optional
        That row is initialised to zeros and never receives a gradient (negative values
        count from the end, as in torch).
    max_norm : float, optional
        As torch's: at each lookup, the rows looked up whose ``norm_type``-norm exceeds it
        are first scaled in place to norm ``max_norm`` (``nn.functional.embedding``).
    norm_type : float, default 2.0
    scale_grad_by_freq, sparse : bool, default False
        torch's defaults only: True raises ValueError (not supported here).
    _weight : array, optional
        The initial table (copied), as torch's; ``_freeze`` makes it not require grad.
    device : "cpu" or "cuda", optional
    dtype : floating dtype, optional
        Default float32 (torch's), or the dtype given to ``nongate_np.set_default_dtype``.

    Attributes
    ----------
    weight : Parameter (num_embeddings, embedding_dim), initialised N(0, 1)

    Shapes: ids (*) integer -> y (*, embedding_dim).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False, _weight=None,
                 _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = check_count(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = check_count(embedding_dim, "embedding_dim", "Embedding")
        if padding_idx is not None:
            n = self.num_embeddings
            if not isinstance(padding_idx, numbers.Integral) or not -n <= padding_idx < n:
                raise ValueError(f"Embedding: padding_idx must be an int in [{-n}, {n - 1}] "
                                 f"for num_embeddings={n}, got {padding_idx!r}")
            padding_idx = int(padding_idx) % n
        self.padding_idx = padding_idx
        self.max_norm, self.norm_type = F.check_embedding_options(
            "Embedding", max_norm, norm_type, scale_grad_by_freq, sparse)
        self.scale_grad_by_freq, self.sparse = False, False
        dt = module_dtype(dtype, "Embedding")
        if _weight is None:
            self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dt))
            self.reset_parameters()
        else:
            self.weight = Parameter(np.array(_weight, dtype=dt, copy=True))
        self.weight.requires_grad = not check_flag(_freeze, "_freeze", "Embedding")
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        """Torch's default: N(0, 1), the padding row zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, sparse: bool = False,
                        dtype=None) -> "Embedding":
        """An Embedding holding a copy of the 2-D array ``embeddings`` (rows are vectors);
        ``freeze`` makes its weight not require grad. ``dtype`` defaults to the array's;
        the other arguments are the constructor's, in torch's order."""
        arr = np.asarray(embeddings.data if isinstance(embeddings, Tensor) else embeddings)
        if arr.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: expected a 2-D array "
                             f"(num_embeddings, embedding_dim), got shape {arr.shape}")
        return cls(arr.shape[0], arr.shape[1], padding_idx=padding_idx, max_norm=max_norm,
                   norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq,
                   sparse=sparse, dtype=arr.dtype if dtype is None else dtype, _weight=arr,
                   _freeze=freeze)

    def forward(self, ids) -> Tensor:
        return F.embedding(ids, self.weight, self.padding_idx, self.max_norm, self.norm_type)

    def config(self) -> dict:
        extra = {} if self.max_norm is None else {"max_norm": self.max_norm,
                                                  "norm_type": self.norm_type}
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                "padding_idx": self.padding_idx, **extra, "dtype": str(self.weight.dtype)}

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        return s


@register_savable
class Dropout(Module):
    """Inverted dropout, as ``torch.nn.Dropout``: in training mode each element is zeroed
    with probability ``p`` and the rest scaled by 1/(1-p); in eval mode the identity.

    The mask is drawn from ``nongate_np.rng.generator()``.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real) \
                or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)

    def forward(self, x) -> Tensor:
        return ops.dropout(x, self.p, training=self.training)

    def config(self) -> dict:
        return {"p": self.p}

    def extra_repr(self) -> str:
        return f"p={self.p}"


@register_savable
class ReLU(Module):
    """max(x, 0), element-wise."""

    def forward(self, x) -> Tensor:
        return ops.relu(x)


@register_savable
class Tanh(Module):
    """tanh(x), element-wise."""

    def forward(self, x) -> Tensor:
        return ops.tanh(x)


@register_savable
class Sigmoid(Module):
    """σ(x) = 1/(1 + e^{-x}), element-wise, without overflow."""

    def forward(self, x) -> Tensor:
        return ops.sigmoid(x)


@register_savable
class LeakyReLU(Module):
    """x where x > 0, else ``negative_slope`` · x, element-wise, as ``torch.nn.LeakyReLU``
    (docs/math.md E7a). ``inplace=True`` is a ValueError."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        if isinstance(negative_slope, (bool, np.bool_)) or \
                not isinstance(negative_slope, numbers.Real):
            raise TypeError(f"LeakyReLU: negative_slope must be a real number, got "
                            f"{negative_slope!r:.40}")
        F._not_inplace("LeakyReLU", inplace)
        self.negative_slope = float(negative_slope)

    def forward(self, x) -> Tensor:
        return ops.leaky_relu(x, self.negative_slope)

    def config(self) -> dict:
        return {"negative_slope": self.negative_slope}

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


@register_savable
class SiLU(Module):
    """x σ(x), element-wise, as ``torch.nn.SiLU`` (docs/math.md E6a). ``inplace=True`` is a
    ValueError."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        F._not_inplace("SiLU", inplace)

    def forward(self, x) -> Tensor:
        return ops.silu(x)


@register_savable
class GELU(Module):
    """x Φ(x), element-wise, as ``torch.nn.GELU``: ``approximate`` 'none' (erf) or 'tanh'
    (docs/math.md E6b). ValueError for another ``approximate``."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got "
                             f"{approximate!r:.40}")
        self.approximate = approximate

    def forward(self, x) -> Tensor:
        return ops.gelu(x, self.approximate)

    def config(self) -> dict:
        return {"approximate": self.approximate}

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


def _real_number(value, name: str, where: str):
    """A real-number argument (not a bool) as given, a NumPy scalar as a Python number (a
    module's repr then reads as torch's: ``Softplus(beta=2, threshold=10)``); TypeError
    naming ``where`` otherwise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {value!r:.40}")
    return value.item() if isinstance(value, np.generic) else value


@register_savable
class Softplus(Module):
    """(1/β) log(1 + e^{βx}), element-wise, reverting to x where βx > ``threshold``, as
    ``torch.nn.Softplus`` (docs/math.md E6c; ``nongate_np.softplus``). TypeError for a
    ``beta`` or ``threshold`` that is not a real number."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = _real_number(beta, "beta", "Softplus")
        self.threshold = _real_number(threshold, "threshold", "Softplus")

    def forward(self, x) -> Tensor:
        return ops.softplus(x, self.beta, self.threshold)

    def config(self) -> dict:
        return {"beta": self.beta, "threshold": self.threshold}

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


@register_savable
class ELU(Module):
    """x where x > 0, else α(e^x − 1), element-wise, as ``torch.nn.ELU`` (docs/math.md E7b;
    ``nongate_np.elu``). ``inplace=True`` is a ValueError; TypeError for an ``alpha`` that
    is not a real number."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = _real_number(alpha, "alpha", "ELU")
        F._not_inplace("ELU", inplace)

    def forward(self, x) -> Tensor:
        return ops.elu(x, self.alpha)

    def config(self) -> dict:
        return {"alpha": self.alpha}

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


@register_savable
class Identity(Module):
    """Returns its input unchanged (a placeholder, as ``torch.nn.Identity``)."""

    def forward(self, x):
        return x


def _dim(value, name: str, where: str) -> int:
    """An axis argument: an int (not a bool), TypeError naming ``where`` otherwise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int, got {value!r:.60}")
    return int(value)


class _SoftmaxBase(Module):
    """Softmax or log-softmax along ``dim``, which must be given (see :class:`Softmax`)."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        where = type(self).__name__
        if dim is None:
            # NOTE: torch picks dim 0 for 0-, 1- and 3-D input and 1 otherwise, warning that
            # the choice is deprecated; a wrong guess (a batch of images) would pass silently
            raise ValueError(f"{where}: pass dim, the axis to normalise over (e.g. "
                             f"{where}(dim=-1)); torch's implicit choice for dim=None "
                             f"(deprecated there) is not supported")
        self.dim = _dim(dim, "dim", where)

    def config(self) -> dict:
        return {"dim": self.dim}

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


@register_savable
class Softmax(_SoftmaxBase):
    """y = e^{x} / Σ e^{x} along ``dim`` (max-shifted, docs/math.md E11), as
    ``torch.nn.Softmax``. Shapes: x (*) -> y (*), x's dtype.

    ``dim`` has torch's default None in the signature, but must be given: ``Softmax()``
    raises ValueError (torch picks a dim from the input's number of dimensions with a
    deprecation warning). TypeError for a dim that is not an int; ValueError on the call for
    a dim out of range.
    """

    def forward(self, x) -> Tensor:
        return ops.softmax(x, self.dim)


@register_savable
class LogSoftmax(_SoftmaxBase):
    """y = log softmax(x) along ``dim``, without forming softmax (docs/math.md E12), as
    ``torch.nn.LogSoftmax``. Shapes, ``dim`` and errors as :class:`Softmax`."""

    def forward(self, x) -> Tensor:
        return ops.log_softmax(x, self.dim)


@register_savable
class Flatten(Module):
    """The axes ``start_dim`` to ``end_dim`` (both included) merged into one, as
    ``torch.nn.Flatten`` (a reshape, docs/math.md E16): x (N, C, H, W) -> (N, C·H·W) with
    the defaults. TypeError for a dim that is not an int; ValueError on the call for a dim
    out of range or ``start_dim`` after ``end_dim``.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = _dim(start_dim, "start_dim", "Flatten")
        self.end_dim = _dim(end_dim, "end_dim", "Flatten")

    def forward(self, x) -> Tensor:
        return ops.flatten(x, self.start_dim, self.end_dim)

    def config(self) -> dict:
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


@register_savable
class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` axes, as
    ``torch.nn.LayerNorm``: y = (x − μ)/√(σ² + eps) ⊙ weight + bias (docs/math.md E28).

    Parameters
    ----------
    normalized_shape : int or sequence of ints
        The input's trailing dimensions, normalised together (stored as a tuple).
    eps : float, default 1e-5
        Added to the variance; finite and >= 0.
    elementwise_affine : bool, default True
        Whether to learn ``weight`` (and ``bias``, unless ``bias=False``).
    bias : bool, default True
    dtype : floating dtype, optional
        Default float32 (torch's), or the dtype given to ``nongate_np.set_default_dtype``.

    Attributes
    ----------
    weight : Parameter normalized_shape, initialised to ones, or None
    bias : Parameter normalized_shape, initialised to zeros, or None (also without
        ``elementwise_affine``, as torch)

    Shapes: x (*, *normalized_shape) of the parameters' dtype -> y of x's shape. Raises
    ValueError for a normalized_shape that is empty or has a negative entry, or a bad eps,
    at construction; on the call, ValueError for an input whose trailing dimensions are not
    normalized_shape (naming both) and TypeError for an input of another dtype than the
    parameters (torch refuses it too).
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype=None):
        super().__init__()
        self.normalized_shape = check_normalized_shape(normalized_shape, "LayerNorm")
        self.eps = check_eps(eps, "LayerNorm")
        self.elementwise_affine = check_flag(elementwise_affine, "elementwise_affine",
                                             "LayerNorm")
        bias = check_flag(bias, "bias", "LayerNorm")
        self._dtype = module_dtype(dtype, "LayerNorm")
        if self.elementwise_affine:
            self.weight = Parameter(np.empty(self.normalized_shape, self._dtype))
            if bias:
                self.bias = Parameter(np.empty(self.normalized_shape, self._dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Torch's default: weight ones, bias zeros."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def config(self) -> dict:
        dtype = self._dtype if self.weight is None else self.weight.dtype
        return {"normalized_shape": list(self.normalized_shape), "eps": self.eps,
                "elementwise_affine": self.elementwise_affine,
                "bias": self.bias is not None, "dtype": str(dtype)}

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")
