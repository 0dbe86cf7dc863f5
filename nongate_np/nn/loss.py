"""The loss modules, as ``torch.nn``'s: CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, BCELoss,
BCEWithLogitsLoss, HuberLoss, SmoothL1Loss, KLDivLoss; TripletMarginLoss,
CosineEmbeddingLoss, MarginRankingLoss, SoftMarginLoss, MultiLabelSoftMarginLoss (for
embeddings, rankings and labels); GaussianNLLLoss, PoissonNLLLoss (likelihoods).

Each keeps its constructor's arguments and, called as ``loss_fn(input, target)`` (or with
the operands its functional op takes: ``(anchor, positive, negative)``, ``(input1, input2,
target)``, ``(input, target, var)``), calls the functional op of its loss with them
(``nongate_np.nn.functional``; equations docs/math.md E13-E15; HuberLoss and the losses
after it call compositions of the ops, whose gradients autograd derives). The
constructors take torch's arguments, names, order and defaults. ``weight`` and
``pos_weight`` are buffers, as torch's: in ``state_dict`` under those keys when given
(absent when None), moved by ``.to("cuda")`` and converted by ``.double()`` and
``.float()`` with the model that holds the loss; each shares the array it was given, as
torch's buffer shares its tensor. The arguments are checked at construction by
the functional ops' own checks, named by the class (``CrossEntropyLoss: reduction must be
one of ...``, ``HuberLoss: delta must be > 0``, which torch checks only at the call); what
needs the input (the weight's length, its dtype against the input's) is checked by the op
at the call. torch's deprecated ``size_average`` and ``reduce`` are refused (torch maps
them to ``reduction`` with a warning). The ``repr`` is torch's (``CrossEntropyLoss()``):
the arguments are attributes (``reduction``, ``ignore_index``, ``label_smoothing``,
``delta``, ``beta``, ``log_target``, ``margin``, ``p``, ``eps``, ``swap``, ``full``,
``log_input``) and buffers, as there.
"""

from __future__ import annotations

from .. import defaults
from ..ops.loss import _check_ignore_index, _check_label_smoothing, _check_reduction
from ..tensor import Tensor, as_array
from . import functional as F
from .functional import (
    _check_flag,
    _check_kl_reduction,
    _check_log_target,
    _check_p,
    _check_real,
    _check_threshold,
    _no_legacy,
)
from .module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss",
           "HuberLoss", "SmoothL1Loss", "KLDivLoss", "TripletMarginLoss", "CosineEmbeddingLoss",
           "MarginRankingLoss", "GaussianNLLLoss", "PoissonNLLLoss", "SoftMarginLoss",
           "MultiLabelSoftMarginLoss"]


class _Loss(Module):
    """``reduction`` checked and kept; torch's deprecated arguments refused."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        name = type(self).__name__
        _no_legacy(name, size_average, reduce)
        self._check_reduction(reduction, name)
        self.reduction = reduction

    _check_reduction = staticmethod(_check_reduction)

    def _weight_buffer(self, name: str, array, class_weights: bool) -> None:
        """Register ``array`` (array_like or None) as the buffer ``name``. Class weights
        (cross-entropy, NLL) must be 1-D and floating, as the op takes them: (C,) of the
        input's floating dtype; another is refused here (ValueError, TypeError) rather than
        at every call. BCE's weights may be any numbers: the op casts them to the input's
        precision."""
        where = f"{type(self).__name__}: {name}"
        if array is not None:
            # NOTE: a list or tuple becomes the modules' default dtype (float32 unless
            # set_default_dtype), as torch.tensor([...]) (as float64 it refused every call
            # with a float32 model's input)
            array = as_array(array, None if hasattr(array, "dtype") else
                             defaults.module_dtype(), what=where)
        if class_weights and array is not None:
            if array.ndim != 1:
                raise ValueError(f"{where} must have shape (C,) (one per class), got "
                                 f"{array.shape}")
            if array.dtype.kind not in "fc":
                raise TypeError(f"{where} must be floating (the input's dtype), got "
                                f"{array.dtype}; convert it, e.g. weight.astype(np.float32)")
        self.register_buffer(name, array)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy, as ``torch.nn.CrossEntropyLoss``: ``F.cross_entropy(input,
    target, weight, ignore_index=, reduction=, label_smoothing=)`` (docs/math.md E13-E13c).

    Parameters
    ----------
    weight : array_like (C,), floating, optional
        Class weights, a buffer; of the input's dtype at the call (``.float()`` or
        ``.double()`` converts it with the model; a list is float32, as torch's, or the
        dtype given to ``nongate_np.set_default_dtype``).
    size_average, reduce : None
        torch's deprecated arguments; anything else is a ValueError.
    ignore_index : int, default -100
        Class targets equal to it count for nothing.
    reduction : {"mean", "sum", "none"}
    label_smoothing : float in [0, 1], default 0.0

    Shapes: input (N, C) or (N, C, d1, …) or (C,); target class indices (N,) or
    (N, d1, …) or (), or probabilities of the input's shape. Returns a 0-d tensor, or the
    target's (batch) shape with ``reduction="none"``. A "mean" over a batch whose every
    target is ``ignore_index`` is 0 where torch gives NaN (the gradient is zero in both; a
    deliberate difference: such a batch adds nothing to a training loss).

    Raises ValueError (an unknown reduction, ``label_smoothing`` outside [0, 1], a weight
    that is not 1-D, a deprecated argument) or TypeError (a non-int ``ignore_index``, a
    non-number ``label_smoothing``, a non-floating weight) at construction; at the call, the
    errors of ``F.cross_entropy``.
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100,
                 reduce=None, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(size_average, reduce, reduction)
        name = type(self).__name__
        _check_ignore_index(ignore_index, name, positional_hint=False)
        _check_label_smoothing(label_smoothing, name)
        self._weight_buffer("weight", weight, class_weights=True)
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)

    def forward(self, input, target) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight,
                               ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of class targets, as ``torch.nn.NLLLoss``: ``F.nll_loss(input,
    target, weight, ignore_index=, reduction=)`` (docs/math.md E13a, E13b).

    Parameters: ``weight``, ``size_average``, ``ignore_index``, ``reduce``, ``reduction``
    as :class:`CrossEntropyLoss`. Shapes: input log-probabilities (N, C) or (N, C, d1, …)
    or (C,); target class indices (N,) or (N, d1, …) or (). A "mean" with every target
    ignored is 0 (torch: NaN), as :class:`CrossEntropyLoss`'s. Raises as
    :class:`CrossEntropyLoss` at construction; at the call, the errors of ``F.nll_loss``.
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100,
                 reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        _check_ignore_index(ignore_index, type(self).__name__, positional_hint=False)
        self._weight_buffer("weight", weight, class_weights=True)
        self.ignore_index = int(ignore_index)

    def forward(self, input, target) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error (x - y)², as ``torch.nn.MSELoss``: ``F.mse_loss(input, target,
    reduction=)`` (docs/math.md E14). Shapes: input (*), target (*) of the input's shape (one
    that broadcasts it larger warns). Raises ValueError for an unknown reduction or a
    deprecated argument at construction."""

    def forward(self, input, target) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error |x - y|, as ``torch.nn.L1Loss``: ``F.l1_loss(input, target,
    reduction=)`` (docs/math.md E14b). Shapes: input (*), target (*) of the input's shape (one
    that broadcasts it larger warns). Raises ValueError for an unknown reduction or a
    deprecated argument at construction."""

    def forward(self, input, target) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities, as ``torch.nn.BCELoss``:
    ``F.binary_cross_entropy(input, target, weight, reduction=)`` (docs/math.md E15a), each
    log clamped at −100 as torch.

    Parameters
    ----------
    weight : array_like, optional
        Each element's rescaling weight, broadcast to the input's shape; a buffer, of the
        input's precision at the call.
    size_average, reduce : None
        torch's deprecated arguments; anything else is a ValueError.
    reduction : {"mean", "sum", "none"}

    Shapes: input (*) probabilities in [0, 1], target (*) in [0, 1] of the input's shape.
    Raises ValueError for an unknown reduction or a deprecated argument, TypeError for a
    weight that is not numbers, at construction; at the call, the errors of
    ``F.binary_cross_entropy`` (an input or target outside [0, 1], a weight that does not
    broadcast to the input).
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self._weight_buffer("weight", weight, class_weights=False)

    def forward(self, input, target) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross-entropy in one stable formula, as
    ``torch.nn.BCEWithLogitsLoss``: ``F.binary_cross_entropy_with_logits(input, target,
    weight, reduction=, pos_weight=)`` (docs/math.md E15).

    Parameters
    ----------
    weight : array_like, optional
        Each element's rescaling weight, broadcast to the input's shape; a buffer.
    size_average, reduce : None
        torch's deprecated arguments; anything else is a ValueError.
    reduction : {"mean", "sum", "none"}
    pos_weight : array_like, optional
        The positive term's weight, broadcast to the input's shape (e.g. one per class of
        the last axis); a buffer.

    Both weights take the input's precision at the call. Shapes: input (*), target (*) of
    the input's shape. Raises ValueError for an unknown reduction or a deprecated argument,
    TypeError for weights that are not numbers, at construction; at the call, the errors of
    ``F.binary_cross_entropy_with_logits`` (a weight that does not broadcast to the input).
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self._weight_buffer("weight", weight, class_weights=False)
        self._weight_buffer("pos_weight", pos_weight, class_weights=False)

    def forward(self, input, target) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class HuberLoss(_Loss):
    """Huber's loss, as ``torch.nn.HuberLoss``: ``F.huber_loss(input, target, reduction=,
    delta=)``, with d = input − target, ``½ d²`` where ``|d| < delta``, else
    ``delta·(|d| − ½ delta)``.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}
    delta : float, default 1.0
        Where the loss turns from quadratic to linear (> 0).

    Shapes: input (*), target (*) of the input's shape; the loss has the input's dtype.
    Raises ValueError for an unknown reduction or ``delta`` <= 0 (torch: RuntimeError at
    the call), TypeError for a ``delta`` that is not a number, at construction; at the
    call, the errors of ``F.huber_loss``.
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        _check_threshold(type(self).__name__, "delta", delta, positive=True)
        self.delta = delta

    def forward(self, input, target) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    """The smooth L1 loss, as ``torch.nn.SmoothL1Loss``: ``F.smooth_l1_loss(input, target,
    reduction=, beta=)``, with d = input − target, ``½ d² / beta`` where ``|d| < beta``,
    else ``|d| − ½ beta``; ``beta = 0`` is the L1 loss.

    Parameters
    ----------
    size_average, reduce : None
        torch's deprecated arguments; anything else is a ValueError.
    reduction : {"mean", "sum", "none"}
    beta : float, default 1.0
        Where the loss turns from quadratic to linear (>= 0).

    Shapes: input (*), target (*) of the input's shape. Raises ValueError for an unknown
    reduction, a negative ``beta`` (torch: RuntimeError at the call) or a deprecated
    argument, TypeError for a ``beta`` that is not a number, at construction; at the call,
    the errors of ``F.smooth_l1_loss``.
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        _check_threshold(type(self).__name__, "beta", beta, positive=False)
        self.beta = beta

    def forward(self, input, target) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class KLDivLoss(_Loss):
    """The Kullback-Leibler divergence, as ``torch.nn.KLDivLoss``: ``F.kl_div(input, target,
    reduction=, log_target=)``, ``p (log p − log q)`` per element for an input of
    log-probabilities log q and a target p (log p with ``log_target``).

    Parameters
    ----------
    size_average, reduce : None
        torch's deprecated arguments; anything else is a ValueError.
    reduction : {"mean", "batchmean", "sum", "none"}
        "batchmean" (the sum over the input's first dimension's size) is the divergence of
        each row's distribution, averaged; "mean" (the default, as torch's) averages over
        every element and is warned about at each call, as torch warns.
    log_target : bool, default False

    Shapes: input (*), target broadcasting with it. Raises ValueError for an unknown
    reduction or a deprecated argument, TypeError for a ``log_target`` that is not a bool,
    at construction; at the call, the errors of ``F.kl_div``.
    """

    _check_reduction = staticmethod(_check_kl_reduction)

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 log_target: bool = False):
        super().__init__(size_average, reduce, reduction)
        _check_log_target(log_target, type(self).__name__)
        self.log_target = log_target

    def forward(self, input, target) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class TripletMarginLoss(_Loss):
    """The triplet loss of metric learning, as ``torch.nn.TripletMarginLoss``:
    ``F.triplet_margin_loss(anchor, positive, negative, margin=, p=, eps=, swap=,
    reduction=)``, ``max(margin + d(anchor, positive) − d(anchor, negative), 0)`` with
    d = ``F.pairwise_distance`` (‖a − b + eps‖_p).

    Parameters
    ----------
    margin : float, default 1.0
        How much nearer the positive is to be than the negative (> 0).
    p : float, default 2.0
        The distance's norm (>= 0, or ±inf).
    eps : float, default 1e-6
        Added to each difference, as torch.
    swap : bool, default False
        Take the negative's distance to the positive where that is smaller (Balntas et al.).
    size_average, reduce : None
        torch's deprecated arguments; anything else is a ValueError.
    reduction : {"mean", "sum", "none"}

    Shapes: anchor, positive, negative (N, D) or (D,), broadcasting together; the loss
    (N,) or () with ``reduction="none"``. Raises ValueError for ``margin`` <= 0 (as torch,
    at construction), a negative finite ``p``, an unknown reduction or a deprecated
    argument, TypeError for a ``margin``, ``p`` or ``eps`` that is not a number or a
    ``swap`` that is not a bool, at construction; at the call, the errors of
    ``F.triplet_margin_loss``.
    """

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        name = type(self).__name__
        _check_threshold(name, "margin", margin, positive=True)
        _check_p(name, p)
        _check_real(name, "eps", eps)
        _check_flag(name, "swap", swap)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative) -> Tensor:
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                     eps=self.eps, swap=self.swap, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """The cosine embedding loss, as ``torch.nn.CosineEmbeddingLoss``:
    ``F.cosine_embedding_loss(input1, input2, target, margin=, reduction=)``, ``1 − cos``
    for a target 1, ``max(cos − margin, 0)`` for −1.

    Parameters
    ----------
    margin : float, default 0.0
        The cosine below which a dissimilar pair costs nothing (torch suggests 0 to 0.5).
    size_average, reduce : None
        torch's deprecated arguments; anything else is a ValueError.
    reduction : {"mean", "sum", "none"}

    Shapes: input1, input2 (N, D) with a target (N,) of ±1, or (D,) with a 0-d target; the
    loss (N,) or (). Raises ValueError for an unknown reduction or a deprecated argument,
    TypeError for a ``margin`` that is not a number, at construction; at the call, the
    errors of ``F.cosine_embedding_loss``.
    """

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        _check_real(type(self).__name__, "margin", margin)
        self.margin = margin

    def forward(self, input1, input2, target) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                       reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """The margin ranking loss, as ``torch.nn.MarginRankingLoss``:
    ``F.margin_ranking_loss(input1, input2, target, margin=, reduction=)``,
    ``max(−y (x1 − x2) + margin, 0)``.

    Parameters
    ----------
    margin : float, default 0.0
    size_average, reduce : None
        torch's deprecated arguments; anything else is a ValueError.
    reduction : {"mean", "sum", "none"}

    Shapes: input1, input2, target (±1) of one number of dimensions, broadcasting together;
    the loss of their broadcast shape. Raises ValueError for an unknown reduction or a
    deprecated argument, TypeError for a ``margin`` that is not a number, at construction;
    at the call, the errors of ``F.margin_ranking_loss``.
    """

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        _check_real(type(self).__name__, "margin", margin)
        self.margin = margin

    def forward(self, input1, input2, target) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin,
                                     reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """The Gaussian negative log-likelihood, as ``torch.nn.GaussianNLLLoss``:
    ``F.gaussian_nll_loss(input, target, var, full=, eps=, reduction=)``,
    ``½ (log v + (input − target)² / v)`` with v = max(var, eps) (the gradient passing to
    var below eps too, as torch's), ``+ ½ log 2π`` with ``full``.

    Parameters
    ----------
    full : bool, default False
        Include the constant ½ log 2π. This and the others are keyword-only, as torch's.
    eps : float, default 1e-6
        The least variance the loss uses.
    reduction : {"mean", "sum", "none"}

    Shapes: input (*), target broadcasting with it, ``var`` a number, or of the input's
    shape, its shape without the last dimension, or its shape with one dimension 1.
    Raises ValueError for an unknown reduction, TypeError for a ``full`` that is not a
    bool or an ``eps`` that is not a number, at construction; at the call, the errors of
    ``F.gaussian_nll_loss``.
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        name = type(self).__name__
        _check_flag(name, "full", full)
        _check_real(name, "eps", eps)
        self.full, self.eps = full, eps

    def forward(self, input, target, var) -> Tensor:
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps,
                                   reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """The Poisson negative log-likelihood of counts, as ``torch.nn.PoissonNLLLoss``:
    ``F.poisson_nll_loss(input, target, log_input=, full=, eps=, reduction=)``,
    ``exp(input) − target · input`` for a log-rate input, ``input − target ·
    log(input + eps)`` for a rate; ``full`` adds Stirling's term where target > 1.

    Parameters
    ----------
    log_input : bool, default True
    full : bool, default False
    size_average, reduce : None
        torch's deprecated arguments; anything else is a ValueError.
    eps : float, default 1e-8
        Keeps log(input) finite at a rate of 0 (``log_input=False``).
    reduction : {"mean", "sum", "none"}

    Shapes: input (*), target (counts) broadcasting with it. Raises ValueError for an
    unknown reduction (torch: at the call) or a deprecated argument, TypeError for a
    ``log_input`` or ``full`` that is not a bool or an ``eps`` that is not a number, at
    construction; at the call, the errors of ``F.poisson_nll_loss``.
    """

    def __init__(self, log_input: bool = True, full: bool = False, size_average=None,
                 eps: float = 1e-8, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        name = type(self).__name__
        _check_flag(name, "log_input", log_input)
        _check_flag(name, "full", full)
        _check_real(name, "eps", eps)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input, target) -> Tensor:
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full,
                                  eps=self.eps, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """The two-class logistic loss, as ``torch.nn.SoftMarginLoss``:
    ``F.soft_margin_loss(input, target, reduction=)``, ``log(1 + exp(−y x))`` for y = ±1.
    Shapes: input (*), a target broadcasting to it; the loss has the input's shape with
    ``reduction="none"``. Raises ValueError for an unknown reduction or a deprecated
    argument at construction; at the call, the errors of ``F.soft_margin_loss``."""

    def forward(self, input, target) -> Tensor:
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_Loss):
    """The multi-label one-versus-all logistic loss, as ``torch.nn.MultiLabelSoftMarginLoss``:
    ``F.multilabel_soft_margin_loss(input, target, weight, reduction=)``,
    ``−(y log σ(x) + (1 − y) log σ(−x))`` per class, times the class's weight, averaged
    over the C classes.

    Parameters
    ----------
    weight : array_like (C,), optional
        Each class's weight, a buffer (in ``state_dict``, moved and converted with the model;
        a list is float32, as the other losses' list weights).
    size_average, reduce : None
        torch's deprecated arguments; anything else is a ValueError.
    reduction : {"mean", "sum", "none"}

    Shapes: input (N, C) or (C,), target in [0, 1] of its shape; the loss (N,) or () with
    ``reduction="none"``. Raises ValueError for an unknown reduction or a deprecated
    argument, TypeError for a weight that is not numbers, at construction; at the call, the
    errors of ``F.multilabel_soft_margin_loss``.
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self._weight_buffer("weight", weight, class_weights=False)

    def forward(self, input, target) -> Tensor:
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight,
                                             reduction=self.reduction)
