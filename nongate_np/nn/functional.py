"""The functional ops, as ``torch.nn.functional``: ``import nongate_np.nn.functional as F``.

The library's ops under torch's names and argument order. The activations, ``layer_norm``
and ``dropout`` are the ops themselves (the same functions as ``nongate_np.NAME``);
``softmax`` and ``log_softmax`` call the library's with torch's ``dim``, and without one
make torch's deprecated implicit choice, with its warning; the losses take torch's
positional order (``cross_entropy(input, target, weight)``, where
``nongate_np.cross_entropy``'s third is ``ignore_index``) and call the library's;
``embedding`` takes torch's order (ids first); ``linear`` is the product a ``Linear`` layer
computes. torch's long-deprecated ``size_average`` and ``reduce`` are refused
(``reduction=`` says the same). ``leaky_relu``, ``silu`` and ``gelu`` are the ops of
``ops/activations.py`` (their ``inplace=True`` refused); ``pad`` (constant mode),
``one_hot``, ``normalize`` and ``cosine_similarity`` are compositions of the library's ops.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .. import ops
from ..ops import dropout, layer_norm, relu, sigmoid, tanh
from ..tensor import Tensor, as_array
from ..userline import callers_stacklevel

__all__ = ["linear", "embedding", "relu", "sigmoid", "tanh", "softmax", "log_softmax",
           "dropout", "layer_norm", "cross_entropy", "nll_loss", "mse_loss", "l1_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "leaky_relu", "silu",
           "gelu", "pad", "one_hot", "normalize", "cosine_similarity"]


def linear(input, weight, bias=None) -> Tensor:
    """y = input weightᵀ + bias, as ``torch.nn.functional.linear`` (docs/math.md E10, E1).

    ``input`` (*, in_features); ``weight`` (out_features, in_features), or (in_features,)
    for y (*); ``bias`` (out_features,) or None. The dtypes must agree as for ``matmul``.
    An array input stays an array, which the product takes on the weight's device.

    Raises ValueError for a 0-d input, a weight that is not 1-D or 2-D, another number of
    input features, a bias of another shape or a bias beside a 1-D weight; TypeError (from
    ``matmul``) for dtypes that differ.
    """
    x = input if isinstance(input, Tensor) else as_array(input, what="linear: input")
    w = weight if isinstance(weight, Tensor) else as_array(weight, what="linear: weight")
    if w.ndim not in (1, 2):
        raise ValueError(f"linear: weight must be (out_features, in_features) or "
                         f"(in_features,), got shape {w.shape}")
    if x.ndim == 0:
        raise ValueError("linear: input must be (*, in_features), got a 0-d tensor")
    if x.shape[-1] != w.shape[-1]:
        raise ValueError(f"linear: input has {x.shape[-1]} features on its last axis (shape "
                         f"{x.shape}), weight of shape {w.shape} expects {w.shape[-1]}")
    if w.ndim == 1:
        if bias is not None:        # torch refuses it too: its product needs a matrix
            raise ValueError("linear: a 1-D weight takes no bias; give weight as "
                             "(1, in_features) for one output feature with a bias")
        return ops.matmul(x, w)
    y = ops.matmul(x, ops.transpose(w))
    if bias is None:
        return y
    if tuple(bias.shape if hasattr(bias, "shape") else ()) != (w.shape[0],):
        raise ValueError(f"linear: bias must have shape ({w.shape[0]},) (out_features), got "
                         f"{tuple(getattr(bias, 'shape', ()))}")
    return y + bias


def embedding(input, weight, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` (V, D) picked by the integer ids ``input``: shape input.shape + (D,),
    as ``torch.nn.functional.embedding`` (ids first; ``nongate_np.embedding`` takes the
    weight first). The ``padding_idx`` row gets no gradient (docs/math.md E17)."""
    return ops.embedding(weight, input, padding_idx)


def _no_legacy(where: str, size_average, reduce) -> None:
    if size_average is not None or reduce is not None:
        raise ValueError(f"{where}: size_average and reduce (deprecated in torch) are not "
                         "supported; use reduction='mean', 'sum' or 'none'")


def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100,
                  reduce=None, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """``nongate_np.cross_entropy`` in torch's argument order (docs/math.md E13-E13c)."""
    _no_legacy("cross_entropy", size_average, reduce)
    return ops.cross_entropy(input, target, ignore_index, reduction, weight=weight,
                             label_smoothing=label_smoothing)


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean") -> Tensor:
    """``nongate_np.nll_loss`` in torch's argument order (docs/math.md E13a)."""
    _no_legacy("nll_loss", size_average, reduce)
    return ops.nll_loss(input, target, weight, ignore_index, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
             weight=None) -> Tensor:
    """``nongate_np.mse_loss`` in torch's argument order, with torch 2.13's ``weight`` (of
    the input's shape; "mean" divides by its sum: docs/math.md E14, E14a)."""
    _no_legacy("mse_loss", size_average, reduce)
    return ops.mse_loss(input, target, reduction, weight=weight)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
            weight=None) -> Tensor:
    """``nongate_np.l1_loss`` in torch's argument order, with torch 2.13's ``weight`` (of
    the input's shape; "mean" divides by its sum: docs/math.md E14b, E14a)."""
    _no_legacy("l1_loss", size_average, reduce)
    return ops.l1_loss(input, target, reduction, weight=weight)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """``nongate_np.binary_cross_entropy`` in torch's argument order (the same as ours, with
    the deprecated two refused; docs/math.md E15a)."""
    _no_legacy("binary_cross_entropy", size_average, reduce)
    return ops.binary_cross_entropy(input, target, weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """``nongate_np.binary_cross_entropy_with_logits`` in torch's argument order (its third
    is ``weight``, ours ``pos_weight``; docs/math.md E15)."""
    _no_legacy("binary_cross_entropy_with_logits", size_average, reduce)
    return ops.binary_cross_entropy_with_logits(input, target, pos_weight, reduction,
                                                weight=weight)


def _not_inplace(where: str, inplace) -> None:
    if inplace:
        raise ValueError(f"{where}: inplace=True is not supported; use the result "
                         f"(inplace=False, the default)")


def _softmax_dim(name: str, x, dim) -> int:
    """``dim``, or where it is None torch's deprecated implicit one, with torch's warning:
    0 for a 0-, 1- or 3-D input, else 1 (``nongate_np.softmax`` takes the last axis)."""
    if dim is not None:
        return dim
    ndim = np.ndim(x.data if isinstance(x, Tensor) else x)
    implicit = 0 if ndim in (0, 1, 3) else 1
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the "
                  f"call to include dim=X as an argument (here, as torch: dim={implicit})",
                  UserWarning, stacklevel=callers_stacklevel())
    return implicit


def softmax(input, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``nongate_np.softmax`` along ``dim`` (docs/math.md E11), as torch's: ``dtype`` casts
    the input first; without ``dim``, torch's deprecated implicit choice, warned about as
    torch does (dim 0 for a 0-, 1- or 3-D input, else 1, where ``nongate_np.softmax``
    takes the last axis). Errors as ``nongate_np.softmax``'s."""
    x = input if dtype is None else ops.cast(input, dtype)
    return ops.softmax(x, dim=_softmax_dim("softmax", x, dim))


def log_softmax(input, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``nongate_np.log_softmax`` along ``dim`` (docs/math.md E12), as torch's; ``dtype``
    and a missing ``dim`` as :func:`softmax`'s."""
    x = input if dtype is None else ops.cast(input, dtype)
    return ops.log_softmax(x, dim=_softmax_dim("log_softmax", x, dim))


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``nongate_np.leaky_relu`` (docs/math.md E7a), as torch's; ``inplace=True`` is a
    ValueError."""
    _not_inplace("leaky_relu", inplace)
    return ops.leaky_relu(input, negative_slope)


def silu(input, inplace: bool = False) -> Tensor:
    """``nongate_np.silu``, x σ(x) (docs/math.md E6a), as torch's; ``inplace=True`` is a
    ValueError."""
    _not_inplace("silu", inplace)
    return ops.silu(input)


def gelu(input, approximate: str = "none") -> Tensor:
    """``nongate_np.gelu``, x Φ(x) (docs/math.md E6b; ``approximate='tanh'`` torch's tanh
    form), as torch's."""
    return ops.gelu(input, approximate)


def pad(input, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """``input`` padded with ``value`` (0 for None), as ``torch.nn.functional.pad`` in
    constant mode: ``pad`` = (left, right) for the last axis, then (left, right) for the
    one before, ...; a negative amount crops that side. Gradients by slicing and
    concatenation (docs/math.md E16, E17). The dtype is the input's (a float value
    truncated for an integer tensor, as torch).

    Raises ValueError for another ``mode`` (reflect, replicate and circular are not
    implemented), a ``pad`` of odd length or longer than 2 · input.ndim, or a crop that
    leaves a negative size; TypeError for amounts that are not ints.
    """
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got mode={mode!r:.40} "
                         f"(reflect, replicate and circular are not implemented)")
    x = input if isinstance(input, Tensor) else Tensor(as_array(input, what="pad: input"))
    amounts = tuple(pad)
    if any(isinstance(a, (bool, np.bool_)) or not isinstance(a, numbers.Integral)
           for a in amounts):
        raise TypeError(f"pad: pad must be a sequence of ints, got {pad!r:.60}")
    if len(amounts) % 2:
        raise ValueError(f"pad: pad must have an even length (left, right per axis), got "
                         f"{len(amounts)}")
    if len(amounts) > 2 * x.ndim:
        raise ValueError(f"pad: pad of length {len(amounts)} covers more axes than the "
                         f"input's {x.ndim} (at most {2 * x.ndim})")
    fill = 0 if value is None else value
    for k in range(len(amounts) // 2):
        axis, left, right = x.ndim - 1 - k, int(amounts[2 * k]), int(amounts[2 * k + 1])
        n = x.shape[axis]
        if n + left + right < 0 or n + min(left, 0) + min(right, 0) < 0:
            raise ValueError(f"pad: ({left}, {right}) on axis {axis} of size {n} leaves a "
                             f"negative size")
        if left < 0 or right < 0:           # a crop: a slice (E17)
            index = [slice(None)] * x.ndim
            index[axis] = slice(max(-left, 0), n - max(-right, 0))
            x = x[tuple(index)]
        parts = []
        for amount in (left, right):
            side = list(x.shape)
            side[axis] = max(amount, 0)
            parts.append(Tensor(x.device.xp.full(tuple(side), fill, x.dtype)))
        if left > 0 or right > 0:           # constant blocks joined on (E16)
            x = ops.concat([parts[0], x, parts[1]], axis)
    return x


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """The int64 one-hot encoding of the class ids ``tensor`` (int64): shape tensor.shape +
    (num_classes,), 1 at each id, as ``torch.nn.functional.one_hot``; ``num_classes`` -1
    takes max id + 1. No gradient (an integer result).

    Raises TypeError for ids that are not int64 (torch's rule); ValueError for a negative
    id, an id >= num_classes, or num_classes -1 with no ids.
    """
    ids = tensor if isinstance(tensor, Tensor) else Tensor(as_array(tensor,
                                                                    what="one_hot: tensor"))
    if ids.dtype != np.int64:
        raise TypeError(f"one_hot: expected int64 class ids, got dtype {ids.dtype}; "
                        f"convert them with .long()")
    xp, data = ids.device.xp, ids._data
    host = xp.to_host(data)
    if host.size and host.min() < 0:
        raise ValueError("one_hot: class values must be non-negative")
    if num_classes == -1:
        if host.size == 0:
            raise ValueError("one_hot: cannot infer the number of classes from an empty "
                             "tensor; pass num_classes")
        num_classes = int(host.max()) + 1
    elif host.size and host.max() >= num_classes:
        raise ValueError(f"one_hot: class values must be smaller than num_classes="
                         f"{num_classes}, got {int(host.max())}")
    classes = xp.asarray(np.arange(num_classes, dtype=np.int64))
    hit = xp.equal(xp.reshape(data, tuple(ids.shape) + (1,)), classes)
    return Tensor(xp.astype(hit, np.int64))


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """input / max(‖input‖_p, eps) over ``dim``, as ``torch.nn.functional.normalize`` (the
    norm of docs/math.md E25 and the clamp of E21, the gradient through both, as torch's).
    Shapes: x (...) -> (...), x's dtype."""
    x = input if isinstance(input, Tensor) else Tensor(as_array(input, what="normalize"))
    n = ops.norm(x, p, dim, keepdim=True)
    return x / ops.clamp(n, min=eps)


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Σ (x1/‖x1‖)(x2/‖x2‖) over ``dim``, each norm at least ``eps``, as
    ``torch.nn.functional.cosine_similarity``: x1 and x2 broadcast together first, the
    result has their shape without ``dim``. A composition of E25's norm, E21's clamp, E3
    and E9.

    NOTE: torch clamps the norms in place without recording it, so where a norm is below
    eps its gradient still treats the norm as unclamped; this composition's clamp gives 0
    there (the same values, a different gradient only for vectors shorter than eps).
    """
    a = x1 if isinstance(x1, Tensor) else Tensor(as_array(x1, what="cosine_similarity: x1"))
    b = x2 if isinstance(x2, Tensor) else Tensor(as_array(x2, what="cosine_similarity: x2"))
    if a.shape != b.shape:      # broadcast first: the norms are over the common shape
        try:
            shape = np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(f"cosine_similarity: x1 of shape {a.shape} and x2 of shape "
                             f"{b.shape} do not broadcast") from None
        zero = Tensor(a.device.xp.zeros(shape, a.dtype))
        a, b = a + zero, b + zero
    na = ops.clamp(ops.norm(a, 2, dim, keepdim=True), min=eps)
    nb = ops.clamp(ops.norm(b, 2, dim, keepdim=True), min=eps)
    return ops.sum((a / na) * (b / nb), dim)
