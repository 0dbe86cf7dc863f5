"""The functional ops, as ``torch.nn.functional``: ``import nongate_np.nn.functional as F``.

The library's ops under torch's names and argument order. The activations, ``layer_norm``
and ``dropout`` are the ops themselves (the same functions as ``nongate_np.NAME``);
``softmax`` and ``log_softmax`` call the library's with torch's ``dim``, and without one
make torch's deprecated implicit choice, with its warning; the losses take torch's
positional order (``cross_entropy(input, target, weight)``, where
``nongate_np.cross_entropy``'s third is ``ignore_index``) and call the library's;
``embedding`` takes torch's order (ids first); ``linear`` is the product a ``Linear`` layer
computes. torch's long-deprecated ``size_average`` and ``reduce`` are refused
(``reduction=`` says the same). ``leaky_relu``, ``silu``, ``gelu``, ``softplus`` and
``elu`` are the ops of ``ops/activations.py``, ``logsigmoid``, ``mish``, ``softsign``,
``tanhshrink`` and ``glu`` those of ``ops/activations_smooth.py``, ``selu``, ``celu``,
``hardtanh``, ``relu6``, ``hardsigmoid``, ``hardswish``, ``softshrink``, ``hardshrink``,
``threshold``, ``prelu`` and ``rrelu`` (evaluation mode) those of
``ops/activations_piecewise.py`` (their ``inplace=True`` refused); ``pad``
(constant mode),
``one_hot``, ``normalize`` and ``cosine_similarity`` are compositions of the library's ops,
as are the losses ``huber_loss``, ``smooth_l1_loss`` and ``kl_div`` (their gradients are
autograd's through ``where``, ``abs``, ``log``, ``exp``: no equation of their own), and
``pairwise_distance`` with the losses of embeddings and rankings (``triplet_margin_loss``,
``cosine_embedding_loss``, ``margin_ranking_loss``, ``soft_margin_loss``,
``multilabel_soft_margin_loss``) and of likelihoods (``gaussian_nll_loss``,
``poisson_nll_loss``): torch's expressions in its order, so torch's values, with autograd's
gradients (equal to torch's to rounding). ``scaled_dot_product_attention`` is a composition
too (``dot_product_attention.py``, docs/math.md E41).
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import ops
from ..arguments import check_flag
from ..autograd import mark_changed
from ..device import CPU, copy_into, device_of
from ..ops import activations_piecewise as _piecewise_ops
from ..ops import activations_smooth as _smooth_ops
from ..ops import dropout, hardshrink, layer_norm, prelu, relu, sigmoid, softplus, tanh
from ..ops._util import broadcast_error, operand, result_dtype_as_torch
from ..ops.activations_piecewise import softshrink
from ..ops.activations_smooth import glu, logsigmoid, softsign, tanhshrink
from ..ops.loss import L1Loss, _check_reduction, _regression_operands
from ..tensor import Tensor, as_array
from ..userline import callers_stacklevel
from .dot_product_attention import scaled_dot_product_attention

__all__ = ["linear", "embedding", "relu", "sigmoid", "tanh", "softmax", "log_softmax",
           "dropout", "layer_norm", "cross_entropy", "nll_loss", "mse_loss", "l1_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "huber_loss",
           "smooth_l1_loss", "kl_div", "leaky_relu", "silu", "gelu", "softplus", "elu",
           "logsigmoid", "selu", "celu", "hardtanh", "relu6", "mish", "softsign",
           "hardsigmoid", "hardswish", "tanhshrink", "softshrink", "hardshrink", "threshold",
           "glu", "prelu", "rrelu",
           "pad", "one_hot",
           "normalize", "cosine_similarity", "pairwise_distance", "triplet_margin_loss",
           "cosine_embedding_loss", "margin_ranking_loss", "gaussian_nll_loss",
           "poisson_nll_loss", "soft_margin_loss", "multilabel_soft_margin_loss",
           "scaled_dot_product_attention"]


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


def embedding(input, weight, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (V, D) picked by the integer ids ``input``: shape input.shape + (D,),
    as ``torch.nn.functional.embedding`` (ids first; ``nongate_np.embedding`` takes the
    weight first). The ``padding_idx`` row gets no gradient (docs/math.md E17).

    ``max_norm``: as torch's, each row the ids name whose ``norm_type``-norm exceeds it is
    first scaled in place to norm ``max_norm`` (by ``max_norm / (norm + 1e-7)``, not
    recorded in the graph, marked as a change of ``weight``: a node that saved ``weight`` before
    then raises at backward, as torch's). ``scale_grad_by_freq`` and ``sparse`` are accepted
    at torch's defaults only (ValueError otherwise: see :func:`check_embedding_options`)."""
    max_norm, norm_type = check_embedding_options("embedding", max_norm, norm_type,
                                                  scale_grad_by_freq, sparse)
    if max_norm is not None:
        renorm_embedding_rows(weight, input, max_norm, norm_type)
    return ops.embedding(weight, input, padding_idx)


def check_embedding_options(where: str, max_norm, norm_type, scale_grad_by_freq,
                            sparse) -> tuple[float | None, float]:
    """(max_norm, norm_type) as floats, checked; ValueError for torch's options that are
    not here: ``scale_grad_by_freq=True`` (each row's gradient divided by its count in the
    batch) and ``sparse=True`` (sparse gradients: every gradient here is dense)."""
    if check_flag(scale_grad_by_freq, "scale_grad_by_freq", where):
        raise ValueError(f"{where}: scale_grad_by_freq=True (each row's gradient divided by "
                         f"how often its id occurs in the batch) is not supported here; "
                         f"leave it False")
    if check_flag(sparse, "sparse", where):
        raise ValueError(f"{where}: sparse=True (sparse gradients) is not supported here: "
                         f"every gradient is a dense array, which any optimizer here takes; "
                         f"leave it False")
    for name, value in (("max_norm", max_norm), ("norm_type", norm_type)):
        if value is None and name == "max_norm":
            continue
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or \
                math.isnan(value):
            raise TypeError(f"{where}: {name} must be a real number, got {value!r:.40}")
    if max_norm is not None and not max_norm > 0:
        raise ValueError(f"{where}: max_norm must be positive, got {max_norm!r}")
    return (None if max_norm is None else float(max_norm)), float(norm_type)


def renorm_embedding_rows(weight: Tensor, ids, max_norm: float, norm_type: float) -> None:
    """torch's ``embedding_renorm_``: each distinct row of ``weight`` that ``ids`` names
    (ids out of range are left to the lookup to refuse) whose ``norm_type``-norm exceeds
    ``max_norm`` multiplied in place by ``max_norm / (norm + 1e-7)``, not recorded (torch's
    ``no_grad``); the change marked (``autograd.mark_changed``). On the GPU the table is
    changed on the host and copied back."""
    data = weight.data if isinstance(weight, Tensor) else None
    if data is None or data.ndim != 2:
        return                                  # the lookup says what is wrong
    raw = ids.data if isinstance(ids, Tensor) else ids
    host_ids = device_of(raw).xp.to_host(raw) if device_of(raw) is not CPU else np.asarray(raw)
    if host_ids.dtype.kind not in "iu":
        return
    n = data.shape[0]
    rows = np.unique(host_ids[(host_ids >= 0) & (host_ids < n)])
    on_host = device_of(data) is CPU
    table = data if on_host else device_of(data).xp.to_host(data)
    with np.errstate(all="ignore"):             # NOTE: a negative order's 0^p is inf, as torch
        norms = np.linalg.norm(table[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    if not big.any():
        return
    # NOTE: the arrays themselves are written (nothing recorded, torch's no_grad), the
    # scale in float64 and applied in the table's dtype, as torch's row *= scale
    scale = max_norm / (norms[big].astype(np.float64) + 1e-7)
    table[rows[big]] *= scale.astype(table.dtype)[:, None]
    if not on_host:
        copy_into(data, table)
    mark_changed(data)


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


def _check_real(where: str, name: str, value) -> None:
    """TypeError unless ``value`` is a real number (a bool is not)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {value!r:.40}")


def _check_threshold(where: str, name: str, value, positive: bool) -> None:
    """huber_loss's ``delta`` (``positive``: > 0) or smooth_l1_loss's ``beta`` (>= 0): a
    TypeError unless a real number, a ValueError (torch: RuntimeError) outside the range,
    NaN included, as torch refuses it."""
    _check_real(where, name, value)
    if not (value > 0 if positive else value >= 0):
        raise ValueError(f"{where}: {name} must be {'> 0' if positive else '>= 0'} (as torch), "
                         f"got {value!r}")


def _real_operands(op: str, x, y, floating_input: bool):
    """(x, y) of huber_loss and smooth_l1_loss as torch's kernels take them, broadcast
    first: x a Tensor, both of the dtype torch promotes the two to (a 0-d target counts as
    its broadcast shape; a Python number is weak); TypeError where that is not a real
    floating dtype, or (``floating_input``, huber_loss) the input's is not; ValueError for
    shapes that do not broadcast."""
    x = x if isinstance(x, Tensor) else Tensor(as_array(x, what=f"{op}: input"))
    number = isinstance(y, numbers.Number)
    dtype = x.dtype if number else result_dtype_as_torch([x.dtype, y.dtype])
    if dtype.kind != "f" or (floating_input and x.dtype.kind != "f"):
        raise TypeError(f"{op}: expected a real floating input (float32 or float64), got "
                        f"{x.dtype}{'' if number else f' and a target of {y.dtype}'}; "
                        f"convert it, e.g. x.astype(np.float32)")
    if not number:
        try:
            np.broadcast_shapes(x.shape, y.shape)
        except ValueError:
            raise broadcast_error(op, x, y) from None
        if y.dtype != dtype:
            y = ops.cast(y, dtype) if isinstance(y, Tensor) else y.astype(dtype)
    return (ops.cast(x, dtype) if x.dtype != dtype else x), y


def _reduced(loss: Tensor, reduction: str) -> Tensor:
    """``loss`` as ``reduction`` asks; a "mean" of no element is 0, as the library's other
    losses (torch: NaN)."""
    if reduction == "none":
        return loss
    if reduction == "sum" or int(np.prod(loss.shape)) == 0:
        return ops.sum(loss)
    return ops.mean(loss)


def _piecewise(d: Tensor, bound: float, far, near) -> Tensor:
    """``far(|d|)`` where |d| >= bound, else ``near(d)``: torch's blend of its two branches
    on ``|d| >= bound``, so a NaN d takes ``near`` and its gradient is NaN, as torch's.
    Each branch sees 0 where it is not taken, and ``where`` selects its gradient there, so
    neither sends a NaN back through the other (an infinite d, or an infinite bound)."""
    z = ops.abs(d)
    beyond = z >= bound
    return ops.where(beyond, far(ops.where(beyond, z, 0.0)),
                     near(ops.where(beyond, 0.0, d)))


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0,
               weight=None) -> Tensor:
    """Huber's loss, as ``torch.nn.functional.huber_loss`` (torch 2.13's arguments, ``weight``
    included): with d = input − target,
    ``ℓ = ½ d²`` where ``|d| < delta``, else ``delta·(|d| − ½ delta)``,
    torch's expressions in its order (the same values). The gradient is autograd's through
    ``where`` and ``abs``: d, or ±delta beyond delta (NaN at a NaN d, as torch).

    The result has the input's dtype (as torch: a float64 target is promoted, then the loss
    rounded to the input's float32). ``weight``, of the input's shape, multiplies each loss
    before the reduction ("mean" is then a plain mean, as torch's); it promotes, and gets a
    gradient if it requires one. A target that broadcasts the input to a larger shape warns
    at the caller's line, as :func:`mse_loss` (torch warns for any other shape). A "mean"
    over no element is 0 (torch: NaN), as the library's other losses.

    Raises ValueError for an unknown reduction, ``delta`` <= 0 or NaN (torch: RuntimeError),
    shapes that do not broadcast or a weight of another shape than the input's; TypeError
    for a ``delta`` that is not a number, or an input that is not real floating.
    """
    _check_reduction(reduction, "huber_loss")
    _check_threshold("huber_loss", "delta", delta, positive=True)
    x, y, w = _regression_operands(input, target, weight, "huber_loss")
    dtype = getattr(x, "dtype", None)
    x, y = _real_operands("huber_loss", x, y, floating_input=True)
    loss = _piecewise(x - y, delta, lambda z: delta * (z - 0.5 * delta),
                      lambda q: 0.5 * q * q)
    if loss.dtype != dtype:             # torch's kernel writes into a tensor like the input
        loss = ops.cast(loss, dtype)
    return _reduced(loss if w is None else loss * w, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """The smooth L1 loss, as ``torch.nn.functional.smooth_l1_loss``: with d = input −
    target, ``ℓ = ½ d² / beta`` where ``|d| < beta``, else ``|d| − ½ beta`` (Huber's loss
    divided by beta), torch's expressions in its order; ``beta = 0`` is :func:`l1_loss`, as
    torch dispatches it. The gradient is autograd's: d / beta, or ±1 beyond beta (NaN at a
    NaN d, as torch).

    dtypes promote as torch's (float32 with a float64 target gives float64; an integer
    input beside a floating target takes its dtype). Broadcasting, its warning and an
    empty "mean" as :func:`huber_loss`; torch's deprecated ``size_average`` and ``reduce``
    are refused.

    Raises ValueError for an unknown reduction, a negative or NaN ``beta`` (torch:
    RuntimeError) or shapes that do not broadcast; TypeError for a ``beta`` that is not a
    number, or operands with no real floating dtype between them.
    """
    _no_legacy("smooth_l1_loss", size_average, reduce)
    _check_reduction(reduction, "smooth_l1_loss")
    _check_threshold("smooth_l1_loss", "beta", beta, positive=False)
    x, y, _ = _regression_operands(input, target, None, "smooth_l1_loss")
    x, y = _real_operands("smooth_l1_loss", x, y, floating_input=False)
    if beta == 0:
        return L1Loss.apply(x, y, None, reduction)      # torch's l1_loss: sign(d) (E14b)
    loss = _piecewise(x - y, beta, lambda z: z - 0.5 * beta, lambda q: 0.5 * q * q / beta)
    return _reduced(loss, reduction)


_KL_REDUCTIONS = ("mean", "batchmean", "sum", "none")


def _check_kl_reduction(reduction, where: str) -> None:
    if reduction not in _KL_REDUCTIONS:
        raise ValueError(f"{where}: reduction must be one of {_KL_REDUCTIONS}, got "
                         f"{reduction!r}")


def _check_log_target(log_target, where: str) -> None:
    if not isinstance(log_target, (bool, np.bool_)):
        raise TypeError(f"{where}: log_target must be True or False, got {log_target!r:.40}")


def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """The pointwise Kullback-Leibler divergence, as ``torch.nn.functional.kl_div``: the
    input holds log-probabilities log q; with ``log_target`` the target holds log p, else
    p. ``ℓ = p (log p − log q)``: computed as torch's, ``xlogy(p, p) − p·input`` (0 where
    p = 0) or ``exp(target)·(target − input)``. The gradient is autograd's: −p for the
    input; the target's, where it requires one, is torch's too (NaN at p = 0, as torch's
    xlogy).

    ``reduction``: "batchmean" (the sum divided by the input's first dimension: the KL
    divergence of each row's distribution, averaged), "sum", "none", or "mean" (over every
    element: warned about, as torch warns). The two broadcast, without a warning, as
    torch's; dtypes promote as torch's. A "mean" or "batchmean" over no element is 0
    (torch: NaN), as the library's other losses. torch's deprecated ``size_average`` and
    ``reduce`` are refused.

    Raises ValueError for an unknown reduction or shapes that do not broadcast;
    TypeError for an input or target that is not real floating (torch: RuntimeError), or
    a ``log_target`` that is not a bool.
    """
    _no_legacy("kl_div", size_average, reduce)
    _check_kl_reduction(reduction, "kl_div")
    _check_log_target(log_target, "kl_div")
    x = input if isinstance(input, Tensor) else Tensor(as_array(input, what="kl_div: input"))
    t = operand(target, "kl_div")
    t = t if isinstance(t, Tensor) else Tensor(as_array(t, what="kl_div: target"))
    if x.dtype.kind != "f" or t.dtype.kind != "f":
        raise TypeError(f"kl_div: the input and target must be real floating (float32 or "
                        f"float64), got {x.dtype} and {t.dtype}")
    try:
        np.broadcast_shapes(x.shape, t.shape)
    except ValueError:
        raise broadcast_error("kl_div", x, t) from None
    if reduction == "mean":
        warnings.warn("kl_div: reduction: 'mean' divides the total loss by both the batch "
                      "size and the support size.'batchmean' divides only by the batch "
                      "size, and aligns with the KL div math definition.'mean' will be "
                      "changed to behave the same as 'batchmean' in the next major release "
                      "(torch's warning)", UserWarning, stacklevel=callers_stacklevel())
    if log_target:
        loss = ops.exp(t) * (t - x)
    else:
        loss = ops.where(t == 0, 0.0, t * ops.log(t)) - t * x
    if reduction != "batchmean":
        return _reduced(loss, reduction)
    total = ops.sum(loss)
    return total / x.shape[0] if x.ndim and x.shape[0] else total


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


def elu(input, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``nongate_np.elu``, x where x > 0, else α(e^x − 1) (docs/math.md E7b), as torch's;
    ``inplace=True`` is a ValueError."""
    _not_inplace("elu", inplace)
    return ops.elu(input, alpha)


def gelu(input, approximate: str = "none") -> Tensor:
    """``nongate_np.gelu``, x Φ(x) (docs/math.md E6b; ``approximate='tanh'`` torch's tanh
    form), as torch's."""
    return ops.gelu(input, approximate)


def selu(input, inplace: bool = False) -> Tensor:
    """``nongate_np.selu``, λx where x > 0, else λα(e^x − 1) (docs/math.md E7c), as torch's;
    ``inplace=True`` is a ValueError."""
    _not_inplace("selu", inplace)
    return ops.selu(input)


def celu(input, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``nongate_np.celu``, x where x > 0, else α(e^{x/α} − 1) (docs/math.md E7c), as
    torch's; ``inplace=True`` is a ValueError."""
    _not_inplace("celu", inplace)
    return ops.celu(input, alpha)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val] (docs/math.md E7d; the gradient 0 at both ends), as
    torch's (``ops/activations_piecewise.py: hardtanh``); ``inplace=True`` is a
    ValueError."""
    _not_inplace("hardtanh", inplace)
    return _piecewise_ops.hardtanh(input, min_val, max_val)


def relu6(input, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6), torch's hardtanh(x, 0, 6) (docs/math.md E7d; the gradient 0 at 0
    and 6), as torch's; ``inplace=True`` is a ValueError."""
    _not_inplace("relu6", inplace)
    return _piecewise_ops.relu6(input)


def mish(input, inplace: bool = False) -> Tensor:
    """x tanh(softplus(x)) (docs/math.md E6e), as torch's
    (``ops/activations_smooth.py: mish``); ``inplace=True`` is a ValueError."""
    _not_inplace("mish", inplace)
    return _smooth_ops.mish(input)


def hardsigmoid(input, inplace: bool = False) -> Tensor:
    """min(max(x + 3, 0), 6) / 6 (docs/math.md E7e), as torch's
    (``ops/activations_piecewise.py: hardsigmoid``, whose docstring says where its float64
    gradient differs); ``inplace=True`` is a ValueError."""
    _not_inplace("hardsigmoid", inplace)
    return _piecewise_ops.hardsigmoid(input)


def hardswish(input, inplace: bool = False) -> Tensor:
    """x · min(max(x + 3, 0), 6) / 6 (docs/math.md E7e), as torch's
    (``ops/activations_piecewise.py: hardswish``); ``inplace=True`` is a ValueError."""
    _not_inplace("hardswish", inplace)
    return _piecewise_ops.hardswish(input)


def threshold(input, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``nongate_np.threshold``, ``value`` where x ≤ ``threshold``, else x (docs/math.md
    E7g), as torch's; ``inplace=True`` is a ValueError."""
    _not_inplace("threshold", inplace)
    return ops.threshold(input, threshold, value)


def rrelu(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """``nongate_np.rrelu``: evaluation mode only, a leaky relu with the slope
    (lower + upper)/2 (docs/math.md E7a), as torch's; ``training=True`` and
    ``inplace=True`` are ValueErrors."""
    _not_inplace("rrelu", inplace)
    return ops.rrelu(input, lower, upper, training)


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


# -- pairwise_distance and the losses of embeddings, rankings and likelihoods ---------------

def _floating_tensor(op: str, name: str, x) -> Tensor:
    """``x`` (the argument ``name``) as a Tensor, an array as a constant; TypeError unless it
    is real floating: these losses' inputs are predictions, computed in their dtype (torch
    computes some of them for integer input too, in float32)."""
    t = x if isinstance(x, Tensor) else Tensor(as_array(x, what=f"{op}: {name}"))
    if t.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must be real floating (float32 or float64), got "
                        f"{t.dtype}; convert it, e.g. x.astype(np.float32)")
    return t


def _target_tensor(op: str, name: str, y, like: Tensor) -> Tensor:
    """``y`` as a Tensor; integer or bool values take ``like``'s floating dtype, as torch
    promotes them beside it (a floating target promotes with it in the ops, as torch's);
    TypeError for complex values."""
    t = y if isinstance(y, Tensor) else Tensor(as_array(y, what=f"{op}: {name}"))
    if t.dtype.kind in "biu":
        return ops.cast(t, like.dtype)
    if t.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must hold real numbers, got {t.dtype}")
    return t


def _broadcast(op: str, **shapes: tuple) -> tuple:
    """The shape the arguments' ``shapes`` (by name) broadcast to; ValueError naming each
    where they do not."""
    try:
        return np.broadcast_shapes(*shapes.values())
    except ValueError:
        named = [f"{name} {shape}" for name, shape in shapes.items()]
        raise ValueError(f"{op}: {', '.join(named[:-1])} and {named[-1]} cannot be "
                         f"broadcast together (aligned from the right, each dimension must be "
                         f"equal or 1)") from None


def _check_flag(where: str, name: str, value) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: {name} must be True or False, got {value!r:.40}")


def _check_p(where: str, p) -> None:
    """The order of the distance's norm: a real number >= 0, or ±inf."""
    _check_real(where, "p", p)
    if not (p >= 0 or p == -math.inf):
        raise ValueError(f"{where}: p must be >= 0 or -inf (the norm of x1 - x2), got {p!r}; "
                         f"torch also takes a negative p, whose (Σ |d|^p)^(1/p) is no "
                         f"distance")


def _distance(x1: Tensor, x2: Tensor, p, eps, keepdim: bool) -> Tensor:
    """‖x1 − x2 + eps‖_p over the last dimension of their broadcast shape, as torch's
    pairwise_distance computes it (docs/math.md E25's norm: its gradient 0 where the
    norm is 0, as torch's)."""
    return ops.norm(x1 - x2 + eps, p, -1, keepdim=keepdim)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """The p-norm distance of each pair of vectors on the last dimension, as
    ``torch.nn.functional.pairwise_distance``: ``‖x1 − x2 + eps‖_p`` (torch adds ``eps`` to
    each difference, so equal vectors are ``eps · D^(1/p)`` apart, and the gradient is
    defined there).

    Shapes: x1 (*, D) and x2 broadcasting with it (e.g. (N, D) and (D,)); the result has
    their broadcast shape without its last dimension (kept as 1 with ``keepdim``); 0-d
    inputs give a 0-d result. The dtype promotes as torch's. ``p``: any real >= 0 (0
    counts the non-zero differences, without a gradient), inf (the largest difference),
    -inf (the smallest). The gradient is autograd's through the norm (0 where the distance
    is 0, as torch's).

    Raises TypeError for an input that is not real floating (torch computes integer input
    in float32), a ``p`` or ``eps`` that is not a number or a ``keepdim`` that is not a
    bool; ValueError for shapes that do not broadcast (torch: RuntimeError) or a negative
    finite ``p`` (torch computes it).
    """
    op = "pairwise_distance"
    a, b = _floating_tensor(op, "x1", x1), _floating_tensor(op, "x2", x2)
    _check_p(op, p)
    _check_real(op, "eps", eps)
    _check_flag(op, "keepdim", keepdim)
    _broadcast(op, x1=a.shape, x2=b.shape)
    return _distance(a, b, p, eps, keepdim)


def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """The triplet loss of metric learning, as ``torch.nn.functional.triplet_margin_loss``:
    with d(a, b) = :func:`pairwise_distance` (a, b, p, eps),
    ``ℓ = max(margin + d(anchor, positive) − d(anchor, negative), 0)``: the anchor is to be
    nearer its positive than its negative by ``margin``. With ``swap`` (Balntas et al.,
    2016), the negative's distance is the smaller of d(anchor, negative) and
    d(positive, negative).

    Shapes: anchor, positive, negative (N, D) or (D,), of one number of dimensions,
    broadcasting together (as torch); ℓ (N,) or () before the reduction; the dtype promotes
    as torch's. The gradient is autograd's: through the norms, the clamp (passing at
    ℓ = 0, as torch's ``clamp_min``) and, with ``swap``, the minimum (halved between the two
    at a tie, as torch's). A "mean" over no triplet is 0 (torch: NaN), as the library's
    other losses; torch's deprecated ``size_average`` and ``reduce`` are refused.

    Raises ValueError for an unknown reduction, ``margin`` <= 0 (as torch), a negative
    finite ``p``, inputs with different numbers of dimensions (torch: RuntimeError) or
    shapes that do not broadcast; TypeError for inputs that are not real floating, a
    ``margin``, ``p`` or ``eps`` that is not a number, or a ``swap`` that is not a bool.
    """
    op = "triplet_margin_loss"
    _no_legacy(op, size_average, reduce)
    _check_reduction(reduction, op)
    _check_threshold(op, "margin", margin, positive=True)
    _check_p(op, p)
    _check_real(op, "eps", eps)
    _check_flag(op, "swap", swap)
    a, pos, neg = (_floating_tensor(op, name, v) for name, v in
                   (("anchor", anchor), ("positive", positive), ("negative", negative)))
    if not a.ndim == pos.ndim == neg.ndim:
        raise ValueError(f"{op}: anchor, positive and negative must have the same number of "
                         f"dimensions (as torch), got shapes {a.shape}, {pos.shape} and "
                         f"{neg.shape}")
    _broadcast(op, anchor=a.shape, positive=pos.shape, negative=neg.shape)
    d_pos = _distance(a, pos, p, eps, False)
    d_neg = _distance(a, neg, p, eps, False)
    if swap:
        d_neg = ops.minimum(d_neg, _distance(pos, neg, p, eps, False))
    return _reduced(ops.clamp(margin + d_pos - d_neg, min=0), reduction)


# NOTE: torch's cosine_embedding_loss adds its EPSILON, a C++ float: 1e-12 rounded to
# float32 (9.99999996e-13), in float64 too
_COSINE_EPS = float(np.float32(1e-12))


def cosine_embedding_loss(input1, input2, target, margin: float = 0, size_average=None,
                          reduce=None, reduction: str = "mean") -> Tensor:
    """The cosine embedding loss, as ``torch.nn.functional.cosine_embedding_loss``: with
    cos = Σ x1·x2 / sqrt((Σ x1² + ε)(Σ x2² + ε)) over the last dimension (ε = 1e-12 as a
    float32, torch's), ``ℓ = 1 − cos`` where the target is 1 (a similar pair),
    ``max(cos − margin, 0)`` where it is −1 (a dissimilar one), and 0 for any other target
    value (as torch, which does not check them).

    Shapes: input1, input2 (N, D) with a target (N,), or (D,) with a 0-d target; the
    inputs broadcast together ((N, D) with (1, D)) and the target with their N (as
    torch's); ℓ (N,) or () before the reduction, of the inputs' (promoted) dtype. The
    target (±1, integer or floating) gets no gradient; the inputs' is autograd's (the
    clamp passes it at cos = margin, as torch's ``clamp_min``). A "mean" over no pair is
    0 (torch: NaN); torch's deprecated ``size_average`` and ``reduce`` are refused.

    Raises ValueError for an unknown reduction, a target that is not 0-D or 1-D, inputs
    that are not (D,) beside a 0-d target or (N, D) beside a 1-D one, or shapes that do not
    broadcast (torch: RuntimeError for these three); TypeError for inputs that are not real
    floating or a ``margin`` that is not a number.
    """
    op = "cosine_embedding_loss"
    _no_legacy(op, size_average, reduce)
    _check_reduction(reduction, op)
    _check_real(op, "margin", margin)
    x1, x2 = _floating_tensor(op, "input1", input1), _floating_tensor(op, "input2", input2)
    y = _target_tensor(op, "target", target, x1)
    if y.ndim not in (0, 1):
        raise ValueError(f"{op}: target must be 0-D or 1-D (one ±1 per pair; torch supports "
                         f"no multi-target), got shape {y.shape}")
    if x1.ndim != y.ndim + 1 or x2.ndim != y.ndim + 1:
        expected = "(N, D)" if y.ndim else "(D,)"
        raise ValueError(f"{op}: a {y.ndim}-D target expects {y.ndim + 1}-D inputs "
                         f"{expected}, got shapes {x1.shape} and {x2.shape}")
    pairs = _broadcast(op, input1=x1.shape, input2=x2.shape)[:-1]
    try:
        np.broadcast_shapes(pairs, y.shape)
    except ValueError:
        raise ValueError(f"{op}: target of shape {y.shape} does not match the {pairs[0]} "
                         f"pairs of input1 {x1.shape} and input2 {x2.shape}") from None
    dim = y.ndim                                # the last dimension, as torch's targ_dim
    prod_sum = ops.sum(x1 * x2, dim)
    mag_square1 = ops.sum(x1 * x1, dim) + _COSINE_EPS
    mag_square2 = ops.sum(x2 * x2, dim) + _COSINE_EPS
    cos = prod_sum / ops.sqrt(mag_square1 * mag_square2)
    loss = ops.where(y == 1, 1 - cos, 0.0) + ops.where(y == -1,
                                                        ops.clamp(cos - margin, min=0), 0.0)
    return _reduced(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin: float = 0, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """The margin ranking loss, as ``torch.nn.functional.margin_ranking_loss``:
    ``ℓ = max(−y (x1 − x2) + margin, 0)``, for a target y = 1 where x1 should rank above
    x2 (by ``margin``), −1 where below.

    Shapes: input1, input2 and target of one number of dimensions (as torch), broadcasting
    together; ℓ of their broadcast shape before the reduction, the dtype promoted as
    torch's (an integer target takes the inputs'). Every floating operand gets autograd's
    gradient, the target's too (−(x1 − x2) where ℓ > 0), as torch's composition; the clamp
    passes it at ℓ = 0, as torch's ``clamp_min``. A "mean" over no element is 0 (torch:
    NaN); torch's deprecated ``size_average`` and ``reduce`` are refused.

    Raises ValueError for an unknown reduction, operands with different numbers of
    dimensions (torch: RuntimeError) or shapes that do not broadcast; TypeError for inputs
    that are not real floating or a ``margin`` that is not a number.
    """
    op = "margin_ranking_loss"
    _no_legacy(op, size_average, reduce)
    _check_reduction(reduction, op)
    _check_real(op, "margin", margin)
    x1, x2 = _floating_tensor(op, "input1", input1), _floating_tensor(op, "input2", input2)
    y = _target_tensor(op, "target", target, x1)
    if not x1.ndim == x2.ndim == y.ndim:
        raise ValueError(f"{op}: input1, input2 and target must have the same number of "
                         f"dimensions (as torch), got shapes {x1.shape}, {x2.shape} and "
                         f"{y.shape}")
    _broadcast(op, input1=x1.shape, input2=x2.shape, target=y.shape)
    return _reduced(ops.clamp(-y * (x1 - x2) + margin, min=0), reduction)


def _variance(op: str, var, x: Tensor) -> Tensor:
    """gaussian_nll_loss's ``var`` as torch takes it: a number becomes one of the input's
    shape and dtype; a tensor of the input's shape stays, one of the input's shape without
    its last dimension gets that dimension back as 1, and one of the input's number of
    dimensions whose shape differs in one dimension, of size 1 there, is kept (torch's
    test: the sizes of var's mismatched dimensions sum to 1). ValueError for a negative
    entry or another shape, TypeError for a var that is not real floating."""
    if isinstance(var, numbers.Real) and not isinstance(var, (bool, np.bool_)):
        if var < 0:
            raise ValueError(f"{op}: var must be >= 0 (a variance), got {var!r}")
        return Tensor(x.device.xp.full(x.shape, var, x.dtype))
    v = var if isinstance(var, Tensor) else Tensor(as_array(var, what=f"{op}: var"))
    if v.dtype.kind != "f":
        raise TypeError(f"{op}: var must be a number or real floating (float32 or "
                        f"float64), got {v.dtype}")
    if ops.any(v < 0).item():
        raise ValueError(f"{op}: var must be >= 0 everywhere (variances), got an entry of "
                         f"{ops.amin(v).item()!r}")
    if v.shape == x.shape:
        return v
    if v.shape == x.shape[:-1]:
        return ops.unsqueeze(v, -1)
    if v.ndim == x.ndim and sum(m for n, m in zip(x.shape, v.shape) if n != m) == 1:
        return v
    raise ValueError(f"{op}: var of shape {v.shape} does not fit the input's {x.shape}: give "
                     f"one variance per element {x.shape}, one per row {x.shape[:-1]}, or "
                     f"the input's shape with one dimension 1 (as torch)")


def _at_least_keeping_gradient(v: Tensor, eps) -> Tensor:
    """max(v, eps) whose gradient reaches v everywhere: torch's gaussian_nll_loss clamps a
    clone of var in place under no_grad, so the loss sees the clamped value and its
    gradient for that value passes to var unmasked (no zero below eps).

    NOTE: where v < eps, (v − v.detach()) + eps: exactly eps (v − v = 0), with derivative 1
    from v; NaN stays NaN there (NaN >= eps is false, NaN − NaN is NaN), as torch's clamp.
    """
    return ops.where(v >= eps, v, (v - v.detach()) + eps)


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """The Gaussian negative log-likelihood, as ``torch.nn.functional.gaussian_nll_loss``:
    for a predicted mean ``input`` and variance ``var`` of each ``target``,
    ``ℓ = ½ (log v + (input − target)² / v)``, ``+ ½ log 2π`` with ``full``, where
    v = max(var, eps), clamped as torch's: the gradient for v passes to var also where
    var < eps (torch clamps without recording it), so a variance below eps still learns.

    Shapes: input (*); target broadcasting with it; ``var`` a number >= 0 (one variance for
    all), or a tensor of the input's shape (one per element), of the input's shape without
    its last dimension (one per row: (N,) for input (N, D)), or of its number of dimensions
    with one dimension 1 where the input's is not ((N, 1) for (N, D); torch's test). ℓ has
    the broadcast shape before the reduction, the dtype promoted as torch's. Every floating
    operand gets autograd's gradient (input, target, var). A "mean" over no element is 0
    (torch: NaN). torch's signature: no ``size_average`` or ``reduce`` here.

    Raises ValueError for an unknown reduction, a negative var (a number, or any entry, as
    torch; NaN passes, as there, and gives NaN), a var of another shape, or shapes that do
    not broadcast; TypeError for an input or var that is not real floating (a number var may
    be an int, which torch refuses), a ``full`` that is not a bool or an ``eps`` that is not
    a number.
    """
    op = "gaussian_nll_loss"
    _check_reduction(reduction, op)
    _check_flag(op, "full", full)
    _check_real(op, "eps", eps)
    x = _floating_tensor(op, "input", input)
    t = _target_tensor(op, "target", target, x)
    v = _variance(op, var, x)
    _broadcast(op, input=x.shape, target=t.shape, var=v.shape)
    v = _at_least_keeping_gradient(v, eps)
    d = x - t
    loss = 0.5 * (ops.log(v) + d * d / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduced(loss, reduction)


def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """The Poisson negative log-likelihood of counts, as
    ``torch.nn.functional.poisson_nll_loss``: with ``log_input`` the input is the log-rate,
    ``ℓ = exp(input) − target · input``; without, it is the rate λ,
    ``ℓ = input − target · log(input + eps)``. ``full`` adds Stirling's approximation of
    log(target!), ``target log target − target + ½ log(2π target)``, where target > 1 (0
    elsewhere, as torch's ``masked_fill``).

    Shapes: input (*), target (counts: integer or floating) broadcasting with it, as
    torch's; ℓ of their broadcast shape before the reduction, the dtype promoted as
    torch's (integer counts take the input's). Every floating operand gets autograd's
    gradient, the target's too, as torch's composition (NaN at a target of 0 with
    ``full``, as torch's: the masked term's log). A "mean" over no element is 0 (torch:
    NaN); torch's deprecated ``size_average`` and ``reduce`` are refused.

    Raises ValueError for an unknown reduction or shapes that do not broadcast (torch:
    RuntimeError); TypeError for an input that is not real floating, a ``log_input`` or
    ``full`` that is not a bool, or an ``eps`` that is not a number.
    """
    op = "poisson_nll_loss"
    _no_legacy(op, size_average, reduce)
    _check_reduction(reduction, op)
    _check_flag(op, "log_input", log_input)
    _check_flag(op, "full", full)
    _check_real(op, "eps", eps)
    x = _floating_tensor(op, "input", input)
    t = _target_tensor(op, "target", target, x)
    _broadcast(op, input=x.shape, target=t.shape)
    if log_input:
        loss = ops.exp(x) - t * x
    else:
        loss = x - t * ops.log(x + eps)
    if full:
        stirling = t * ops.log(t) - t + 0.5 * ops.log(2 * math.pi * t)
        loss = loss + ops.where(t <= 1, 0.0, stirling)
    return _reduced(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """The two-class logistic loss, as ``torch.nn.functional.soft_margin_loss``:
    ``ℓ = log(1 + exp(−y x))`` for targets y = ±1, torch's expression (so an exponent
    above ~709 in float64, 88 in float32, gives inf with a NaN gradient, as torch's).

    Shapes: input (*), a target broadcasting to the input's shape (not beyond it: torch
    writes the loss into a tensor like the input); ℓ has the input's shape and dtype (a
    float64 target's product is rounded to a float32 input's dtype, as torch's). The
    input's gradient is autograd's (torch's −y σ(−y x) to rounding); a target that requires
    a gradient gets its own here, where torch refuses it. A "mean" over no element is 0
    (torch: NaN); torch's deprecated ``size_average`` and ``reduce`` are refused.

    Raises ValueError for an unknown reduction or a target that does not broadcast to the
    input's shape (torch: RuntimeError); TypeError for an input that is not real floating.
    """
    op = "soft_margin_loss"
    _no_legacy(op, size_average, reduce)
    _check_reduction(reduction, op)
    x = _floating_tensor(op, "input", input)
    y = _target_tensor(op, "target", target, x)
    if _broadcast(op, input=x.shape, target=y.shape) != x.shape:
        raise ValueError(f"{op}: target of shape {y.shape} must broadcast to the input's "
                         f"shape {x.shape} (as torch), not widen it")
    z = -x * y
    if z.dtype != x.dtype:          # torch multiplies into a tensor like the input
        z = ops.cast(z, x.dtype)
    return _reduced(ops.log(1 + ops.exp(z)), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    """The multi-label one-versus-all logistic loss, as
    ``torch.nn.functional.multilabel_soft_margin_loss``: for each of C classes on the
    input's last dimension, ``−(y log σ(x) + (1 − y) log σ(−x))``, times ``weight`` where
    given, averaged over the C classes: one loss per sample.

    Shapes: input (N, C) or (C,), or (*, C); target in [0, 1] (each class present or
    not) broadcasting with it; ``weight`` (C,) (or anything broadcasting with the loss, as
    torch); ℓ (N,) or () before the reduction, summed over the input's last dimension (its
    index, as torch's) and divided by C; the dtype promoted as torch's (a float64 weight
    widens a float32 input's loss, as torch's). log σ is :func:`logsigmoid` (docs/math.md
    E6d), torch's stable formula: at x = ±∞ it is 0 and −∞, so the loss is torch's there
    too (∞ where the target gives the −∞ a weight, NaN where it gives it 0, 0 · ∞, as
    torch's; the input's gradient finite, as torch's); every floating operand gets
    autograd's gradient (input, target, weight). A "mean" over no sample is 0 (torch:
    NaN); torch's deprecated ``size_average`` and ``reduce`` are refused.

    Raises ValueError for an unknown reduction, a 0-d input (torch: IndexError) or shapes
    that do not broadcast; TypeError for an input or weight that is not real floating.
    """
    op = "multilabel_soft_margin_loss"
    _no_legacy(op, size_average, reduce)
    _check_reduction(reduction, op)
    x = _floating_tensor(op, "input", input)
    if x.ndim == 0:
        raise ValueError(f"{op}: input must be (N, C) or (C,), the classes last, got a 0-d "
                         f"tensor")
    y = _target_tensor(op, "target", target, x)
    shapes = dict(input=x.shape, target=y.shape)
    if weight is not None:
        weight = _floating_tensor(op, "weight", weight)
        shapes["weight"] = weight.shape
    _broadcast(op, **shapes)
    loss = -(y * logsigmoid(x) + (1 - y) * logsigmoid(-x))
    if weight is not None:
        loss = loss * weight
    classes = x.ndim - 1                # the input's last dimension, as torch's class_dim
    return _reduced(ops.sum(loss, classes) / x.shape[classes], reduction)
