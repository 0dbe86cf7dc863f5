"""The functional ops, as ``torch.nn.functional``: ``import nongate_np.nn.functional as F``.

The library's ops under torch's names and argument order. The activations, ``softmax``,
``log_softmax``, ``layer_norm`` and ``dropout`` are the ops themselves (the same functions as
``nongate_np.NAME``); the losses take torch's positional order (``cross_entropy(input,
target, weight)``, where ``nongate_np.cross_entropy``'s third is ``ignore_index``) and call
the library's; ``embedding`` takes torch's order (ids first); ``linear`` is the product a
``Linear`` layer computes. torch's long-deprecated ``size_average`` and ``reduce`` are
refused (``reduction=`` says the same).
"""

from __future__ import annotations

from .. import ops
from ..ops import dropout, layer_norm, log_softmax, relu, sigmoid, softmax, tanh
from ..tensor import Tensor, as_array

__all__ = ["linear", "embedding", "relu", "sigmoid", "tanh", "softmax", "log_softmax",
           "dropout", "layer_norm", "cross_entropy", "nll_loss", "mse_loss", "l1_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits"]


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
