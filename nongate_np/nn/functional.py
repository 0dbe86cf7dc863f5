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
``one_hot``, ``normalize`` and ``cosine_similarity`` are compositions of the library's ops,
as are the losses ``huber_loss``, ``smooth_l1_loss`` and ``kl_div`` (their gradients are
autograd's through ``where``, ``abs``, ``log``, ``exp``: no equation of their own).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .. import ops
from ..ops import dropout, layer_norm, relu, sigmoid, tanh
from ..ops._util import broadcast_error, operand, result_dtype_as_torch
from ..ops.loss import L1Loss, _check_reduction, _regression_operands
from ..tensor import Tensor, as_array
from ..userline import callers_stacklevel

__all__ = ["linear", "embedding", "relu", "sigmoid", "tanh", "softmax", "log_softmax",
           "dropout", "layer_norm", "cross_entropy", "nll_loss", "mse_loss", "l1_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "huber_loss",
           "smooth_l1_loss", "kl_div", "leaky_relu", "silu", "gelu", "pad", "one_hot",
           "normalize", "cosine_similarity"]


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


def _check_threshold(where: str, name: str, value, positive: bool) -> None:
    """huber_loss's ``delta`` (``positive``: > 0) or smooth_l1_loss's ``beta`` (>= 0): a
    TypeError unless a real number, a ValueError (torch: RuntimeError) outside the range,
    NaN included, as torch refuses it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {value!r:.40}")
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
