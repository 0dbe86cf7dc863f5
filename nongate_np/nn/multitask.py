"""``MultiTaskSequenceModel``: one shared LSTM encoder, one attention query per task, one head
per task (the seed's "non-gated attention for representation and multi-task learning")."""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import ops
from ..arguments import check_count
from ..autograd import mark_changed, no_grad
from ..data.dataset import SequenceDataset
from ..data.errors import DataError
from ..data.padding import looks_zero_padded
from ..device import DeviceError, copy_into, device_of, move
from ..kernels.registry import kernels_own_the_cores
from ..ops._util import check_lengths
from ..ops.attention import lengths_to_mask
from ..tensor import Tensor, as_array
from ..userline import callers_stacklevel
from .attention import AttentionPooling
from .containers import ModuleList
from .layers import Embedding, Linear
from .lstm import LSTM
from .module import Module, Parameter, evaluating, module_dtype
from .savable import register_savable

__all__ = ["MultiTaskSequenceModel", "TASK_KINDS"]

TASK_KINDS = ("classification", "regression", "tagging")
POOLED_KINDS = ("classification", "regression")     # sequence-level: read a pooled vector


def _check_tasks(tasks) -> list[dict]:
    if not isinstance(tasks, (list, tuple)) or not tasks:
        raise ValueError("MultiTaskSequenceModel: tasks must be a non-empty list of dicts such "
                         "as {'name': 'topic', 'kind': 'classification', 'num_classes': 4}")
    checked, names = [], set()
    for k, task in enumerate(tasks):
        if not isinstance(task, dict) or "name" not in task or "kind" not in task:
            raise ValueError(f"MultiTaskSequenceModel: task {k} must be a dict with 'name' and "
                             f"'kind', got {task!r}")
        name, kind = task["name"], task["kind"]
        if kind not in TASK_KINDS:
            raise ValueError(f"MultiTaskSequenceModel: task {name!r} has kind {kind!r}; expected "
                             f"one of {TASK_KINDS}")
        if name in names:
            raise ValueError(f"MultiTaskSequenceModel: task name {name!r} appears twice")
        names.add(name)
        size_key = "output_size" if kind == "regression" else "num_classes"
        size = task.get(size_key, 1 if kind == "regression" else None)
        if not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"MultiTaskSequenceModel: task {name!r} ({kind}) needs "
                             f"{size_key} >= 1, got {size!r}")
        weight = task.get("weight", 1.0)
        # NOTE: a NaN weight made the total loss NaN and a negative one maximised the task's loss
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) \
                or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"MultiTaskSequenceModel: task {name!r} needs a weight that is a "
                             f"finite number >= 0, got {weight!r}")
        checked.append({"name": name, "kind": kind, size_key: int(size),
                        "weight": float(weight), **_classes(task, int(size))})
    return checked


def _classes(task: dict, size: int) -> dict:
    """``{"classes": [...]}`` of a task that names its classes (as text, so that the
    checkpoint's JSON keeps them as given), else ``{}``; ValueError for names that cannot
    name the ``size`` classes."""
    if "classes" not in task:
        return {}
    name, classes = task["name"], task["classes"]
    if task["kind"] == "regression":
        raise ValueError(f"MultiTaskSequenceModel: task {name!r} is a regression: it has no "
                         f"classes, got {classes!r}")
    if not isinstance(classes, (list, tuple)):
        raise ValueError(f"MultiTaskSequenceModel: task {name!r} has classes {classes!r}; "
                         f"expected a list of {size} class names")
    names = [str(c) for c in classes]
    # NOTE: not required distinct: a text model's vocabulary may show two ids alike
    if len(names) != size:
        raise ValueError(f"MultiTaskSequenceModel: task {name!r} has {len(names)} class "
                         f"name(s) {names} for num_classes={size}")
    return {"classes": names}


def _host(value) -> np.ndarray:
    """Data the model reads on the host (lengths, targets) as a host array, whichever
    device its Tensor or array is on."""
    if isinstance(value, Tensor):
        return value.numpy()
    return np.asarray(move(value, "cpu"))


def _check_statistic(where: str, name: str, arr: np.ndarray, shapes: list, expected: str
                     ) -> None:
    """ValueError naming what a normalisation statistic must hold and what ``arr`` holds
    instead: another shape than ``shapes``, or a NaN or infinity (with its index)."""
    if arr.shape in shapes and np.all(np.isfinite(arr)):
        return
    if arr.shape not in shapes:
        given = f"shape {arr.shape}"
    else:
        i = int(np.flatnonzero(~np.isfinite(arr.ravel()))[0])
        given = f"{arr.ravel()[i]} at index {i}"
    raise ValueError(f"{where}: {name} must hold {expected}, got {given}")


def _check_finite(where: str, x, lengths, dtype: np.dtype) -> np.ndarray:
    """DataError naming the first feature within a sequence's length that is not finite
    in the model's dtype: a NaN in one step makes the whole sequence's vector NaN. Returns
    x on the host (a GPU tensor's copy), as read."""
    host = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    data = host if lengths is None else \
        np.where(lengths_to_mask(lengths, host.shape[1])[..., None], host, 0)
    bad = ~np.isfinite(data)
    if bad.any():
        n, t, f = (int(i) for i in np.argwhere(bad)[0])
        value = data[n, t, f]
        what = "" if np.isnan(value) else \
            f" (or beyond {dtype}'s range, ±{np.finfo(dtype).max:.2g})"
        raise DataError(f"{where}: features must be finite within each sequence's length: "
                        f"x[{n}, {t}, {f}] is {value}{what}, the first of {int(bad.sum())}"
                        + ("; if it is padding, pass lengths" if lengths is None else ""))
    return host


def _regression_target(task: dict, target: np.ndarray, shape: tuple) -> np.ndarray:
    """A regression task's targets as its outputs' ``shape`` (B, k): (B, k), or (B,) when
    k is 1. ValueError for another shape (one that NumPy could reshape, (1, B) say, was read
    in the wrong order) or for a value that is not finite (the loss was NaN)."""
    B, k = shape
    if target.shape != (B, k) and not (k == 1 and target.shape == (B,)):
        raise ValueError(f"MultiTaskSequenceModel.loss: task {task['name']!r} has targets "
                         f"of shape {target.shape}; expected ({B}, {k})"
                         + (f" or ({B},)" if k == 1 else "")
                         + f": one row of output_size={k} values per sequence")
    if target.dtype.kind not in "biufc":
        raise ValueError(f"MultiTaskSequenceModel.loss: task {task['name']!r} has targets of "
                         f"dtype {target.dtype}; expected numbers (regression)")
    bad = ~np.isfinite(target.reshape(B, k)).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"MultiTaskSequenceModel.loss: task {task['name']!r} has a target "
                         f"that is not finite in row {row} ({target[row]}), the first of "
                         f"{int(bad.sum())}; expected finite values (the loss would be NaN)")
    return target.reshape(B, k)


def check_ids(where: str, x: np.ndarray, lengths, vocab_size: int,
              lengths_given: bool = True) -> None:
    """DataError naming the first token id within a sequence's length (``lengths`` (B,) or
    None: every step) outside [0, vocab_size), and how many there are: the embedding has
    no row for it. Without ``lengths_given`` a negative id is said to be padding perhaps."""
    inside = np.ones(x.shape, bool) if lengths is None else lengths_to_mask(lengths,
                                                                             x.shape[1])
    bad = inside & ((x < 0) | (x >= vocab_size))
    if bad.any():
        n, t = (int(i) for i in np.argwhere(bad)[0])
        hint = "; if it is padding, pass lengths or pad with the padding id" \
            if not lengths_given and x[n, t] < 0 else ""
        raise DataError(f"{where}: token ids must lie in [0, {vocab_size}) (vocab_size) within "
                        f"each sequence's length: x[{n}, {t}] is {x[n, t]}, the first of "
                        f"{int(bad.sum())}{hint}")


def not_finite_error(where: str, model, bad: np.ndarray, task: dict | None = None
                     ) -> ValueError:
    """The error where finite inputs (checked before) gave outputs that are not finite for
    the (N,) rows ``bad``: the model's parameters hold NaN or inf (named, with their counts),
    or a product overflowed. ``task``: the task whose outputs they are (None: the pooled
    vectors of ``encode``); a NaN class would have read as class 0."""
    broken = [f"{k} ({np.count_nonzero(~np.isfinite(v))} of {v.size})"
              for k, v in model.state_dict().items()
              if np.asarray(v).dtype.kind in "fc" and not np.isfinite(v).all()]
    cause = ("its parameters hold non-finite values: " + ", ".join(broken[:4])
             + (", ..." if len(broken) > 4 else "")) if broken else \
        "its parameters are finite, so a product overflowed the model's dtype"
    what = "the pooled vectors" if task is None else \
        f"task {task['name']!r}: the model's outputs"
    result = "no vectors are returned" if task is None else \
        "nothing is predicted" + ("" if task["kind"] == "regression" else
                                  " (a NaN would read as class 0)")
    return ValueError(f"{where}: {what} are not finite for {int(bad.sum())} of {len(bad)} "
                      f"sequence(s) (the first: {int(np.argmax(bad))}); {cause}; {result}")


@register_savable
class MultiTaskSequenceModel(Module):
    """Shared encoder, per-task attention pooling and heads, and the multi-task loss.

    Parameters
    ----------
    tasks : list of dict
        ``{"name", "kind", "num_classes" | "output_size", "weight", "classes"}``; kind is
        "classification" (one class per sequence), "regression" (``output_size`` values per
        sequence) or "tagging" (one class per step, read from the LSTM outputs directly).
        ``weight`` is the fixed loss weight, a finite number >= 0 (default 1); with
        ``loss_weighting="uncertainty"`` it is not used (a weight other than 1 warns).
        ``classes``, optional, names a classification or tagging task's classes in id order
        (``SequenceDataset.model_tasks()`` gives them): kept in ``tasks`` and the
        checkpoint, so that a predicted id maps back to its name,
        ``model.tasks[k]["classes"][id]``.
    vocab_size : int, optional
        Token-id input (B, T) through an ``Embedding`` (id ``padding_idx`` is padding).
    input_size : int, optional
        Feature input (B, T, input_size) through a ``Linear``. Give exactly one of the two.
    embed_size, hidden_size, num_layers, bidirectional, dropout
        The input layer's width and the LSTM's settings (batch-first).
    attn_size, attention, value_proj
        The attention pooling: one query per sequence-level task, sharing V (and U);
        ``attention`` is "additive" (non-gated), "gated" or "weight_gated".
    loss_weighting : "fixed" or "uncertainty"
        "uncertainty" learns one log-variance s_k per task (Kendall, Gal, Cipolla 2018):
        L = Σ_k c_k exp(-s_k) L_k + s_k / 2, with c_k = 1 for classification and tagging
        and 1/2 for regression.
    padding_idx : int or None
        Token input: the id of padding (default 0). Padding is never attended to: it is
        masked out of the pooling, and when ``lengths`` is not given each sequence ends
        after its last non-padding token (so trailing padding is not read by the LSTM).
    normalize_input : bool
        Feature input: standardise every feature as x' = (x − mean) / std before the input
        layer, with ``input_mean`` and ``input_std`` (F,) buffers set by
        :meth:`set_input_normalization` from the training data and saved with the weights,
        so ``encode`` and prediction apply the training statistics to raw features.
    normalize_targets : bool
        Regression tasks: each head predicts the standardised target, z = (y − mean) / std,
        and the model returns y = mean + std·z, in the targets' own units, with
        ``target_mean`` and ``target_std`` (R,) buffers (R: the regression tasks' outputs,
        in task order) set by :meth:`set_target_normalization` from the training targets
        and saved with the weights. A regression task's loss is then the mean squared
        error of z, ((y − target) / std)², so a target in the thousands trains as one near 1
        does, beside the other tasks' losses (its raw squared error in the millions swamped
        them, and the head's initial outputs near 0 were far from it).

    Raises
    ------
    ValueError
        A task that is not a dict with a known ``kind``, a name given twice, a size < 1, a
        ``weight`` that is not a finite number >= 0, ``classes`` that are not ``num_classes``
        names (or any for a regression); both or neither of ``vocab_size`` and
        ``input_size``; an unknown ``loss_weighting``.
    """

    def __init__(self, tasks, *, vocab_size: int | None = None, input_size: int | None = None,
                 embed_size: int = 32, hidden_size: int = 64, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, attn_size: int = 32,
                 attention: str = "gated", value_proj: bool = False,
                 loss_weighting: str = "fixed", padding_idx: int | None = 0,
                 normalize_input: bool = False, normalize_targets: bool = False,
                 dtype=None):
        super().__init__()
        self.tasks = _check_tasks(tasks)
        if (vocab_size is None) == (input_size is None):
            raise ValueError("MultiTaskSequenceModel: give exactly one of vocab_size (token-id "
                             "input) and input_size (feature input)")
        if loss_weighting not in ("fixed", "uncertainty"):
            raise ValueError(f"MultiTaskSequenceModel: loss_weighting must be 'fixed' or "
                             f"'uncertainty', got {loss_weighting!r}")
        weighted = [t["name"] for t in self.tasks if t["weight"] != 1.0]
        if loss_weighting == "uncertainty" and weighted:
            # NOTE: a warning, not an error: a checkpoint saved with such weights still loads
            warnings.warn(f"MultiTaskSequenceModel: loss_weighting='uncertainty' learns each "
                          f"task's weight (docs/math.md M3), so the fixed weights of tasks "
                          f"{weighted} are not used; drop them or use loss_weighting='fixed'",
                          UserWarning, stacklevel=2)
        dt = module_dtype(dtype, "MultiTaskSequenceModel")
        self._config = dict(tasks=self.tasks, vocab_size=vocab_size, input_size=input_size,
                            embed_size=embed_size, hidden_size=hidden_size,
                            num_layers=num_layers, bidirectional=bidirectional,
                            dropout=dropout, attn_size=attn_size, attention=attention,
                            value_proj=value_proj, loss_weighting=loss_weighting,
                            padding_idx=padding_idx, normalize_input=normalize_input,
                            normalize_targets=normalize_targets)
        if normalize_input and input_size is None:
            raise ValueError("MultiTaskSequenceModel: normalize_input applies to feature input "
                             "(input_size); token ids are not standardised")
        self.vocab_size, self.input_size = vocab_size, input_size
        self.padding_idx = padding_idx if vocab_size is not None else None
        self.loss_weighting = loss_weighting
        if vocab_size is not None:
            self.embed = Embedding(vocab_size, embed_size, padding_idx=padding_idx, dtype=dt)
            self.padding_idx = self.embed.padding_idx
        else:
            self.embed = Linear(input_size, embed_size, dtype=dt)
        if normalize_input:
            self.register_buffer("input_mean", np.zeros(input_size, dt))
            self.register_buffer("input_std", np.ones(input_size, dt))
        # each regression task's columns of target_mean and target_std
        self._target_columns, start = {}, 0
        for task in self.tasks:
            if task["kind"] == "regression":
                self._target_columns[task["name"]] = slice(start, start + task["output_size"])
                start += task["output_size"]
        if normalize_targets:
            if not start:
                raise ValueError("MultiTaskSequenceModel: normalize_targets applies to "
                                 "regression tasks; the model has none")
            self.register_buffer("target_mean", np.zeros(start, dt))
            self.register_buffer("target_std", np.ones(start, dt))
        self.lstm = LSTM(embed_size, hidden_size, num_layers=num_layers, batch_first=True,
                         dropout=dropout, bidirectional=bidirectional, dtype=dt)
        width = hidden_size * (2 if bidirectional else 1)
        pooled = [t for t in self.tasks if t["kind"] in POOLED_KINDS]
        self.pool = AttentionPooling(width, attn_size, kind=attention,
                                     num_queries=len(pooled), value_proj=value_proj,
                                     dtype=dt) if pooled else None
        pooled_width = self.pool.output_size if pooled else width
        self.heads = ModuleList([
            Linear(pooled_width if t["kind"] in POOLED_KINDS else width,
                   t.get("num_classes", t.get("output_size")), dtype=dt)
            for t in self.tasks])
        if loss_weighting == "uncertainty":
            self.log_vars = Parameter(np.zeros(len(self.tasks), dt))
        else:
            self.register_parameter("log_vars", None)

    def config(self) -> dict:
        """The constructor arguments (for ``nongate_np.save``)."""
        return {**self._config, "dtype": str(self.lstm.dtype)}

    @property
    def task_names(self) -> list[str]:
        return [t["name"] for t in self.tasks]

    def set_input_normalization(self, mean, std) -> None:
        """Set the (F,) feature statistics used by ``normalize_input`` (std > 0)."""
        if not self._config["normalize_input"]:
            raise ValueError("set_input_normalization: the model was built without "
                             "normalize_input=True")
        mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
        for name, arr in (("mean", mean), ("std", std)):
            _check_statistic("set_input_normalization", name, arr, [(self.input_size,)],
                             f"{self.input_size} finite values (one per feature)")
        if np.any(std <= 0):
            raise ValueError(f"set_input_normalization: std must be > 0, got min {std.min()}")
        copy_into(self.input_mean, mean)
        copy_into(self.input_std, std)
        mark_changed(self.input_mean)
        mark_changed(self.input_std)

    def set_target_normalization(self, task: str, mean, std) -> None:
        """Set regression task ``task``'s target statistics (output_size,) used by
        ``normalize_targets`` (finite; std > 0), e.g. the training targets' mean and
        standard deviation per column. ValueError for a model built without
        ``normalize_targets``, a task that is not a regression, or other statistics."""
        if not self._config["normalize_targets"]:
            raise ValueError("set_target_normalization: the model was built without "
                             "normalize_targets=True")
        if task not in self._target_columns:
            raise ValueError(f"set_target_normalization: {task!r} is not a regression task "
                             f"of the model; its regression tasks are "
                             f"{list(self._target_columns)}")
        cols = self._target_columns[task]
        size = cols.stop - cols.start
        mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
        for name, arr in (("mean", mean), ("std", std)):
            _check_statistic("set_target_normalization", f"{name} of {task!r}", arr,
                             [(size,), (1, size)] + ([()] if size == 1 else []),
                             f"{size} finite value(s) (output_size)")
        if np.any(std <= 0):
            raise ValueError(f"set_target_normalization: std of {task!r} must be > 0, got "
                             f"min {std.min()}")
        copy_into(self.target_mean[cols], mean.reshape(size))
        copy_into(self.target_std[cols], std.reshape(size))
        mark_changed(self.target_mean)
        mark_changed(self.target_std)

    def _target_scale(self, task: dict):
        """(mean, std) of a regression task's targets with ``normalize_targets``, else
        None."""
        if not self._config["normalize_targets"] or task["kind"] != "regression":
            return None
        cols = self._target_columns[task["name"]]
        return self.target_mean[cols], self.target_std[cols]

    def _infer_lengths(self, x, lengths, allow_empty: bool = False):
        """Token input without ``lengths``: each sequence ends after its last non-padding
        token, so trailing padding is never read (a stream's ended sequence may be empty)."""
        if lengths is not None:
            return _host(lengths)
        if self.padding_idx is None:
            return None
        real = x != self.padding_idx
        lengths = np.where(real.any(axis=1), x.shape[1] - np.argmax(real[:, ::-1], axis=1), 0)
        empty = np.flatnonzero(lengths == 0)
        if empty.size and not allow_empty:
            raise ValueError(f"MultiTaskSequenceModel: sequence {int(empty[0])} holds only "
                             f"padding (id {self.padding_idx}); every sequence needs a real "
                             "token")
        return lengths

    def check_values(self, where: str, x, lengths, lengths_given: bool = True):
        """What ``encode`` and ``predict`` check before running: ``lengths`` (B,) integers
        in [1, T] (an empty sequence has nothing to encode), and within each length finite
        features or token ids in [0, vocab_size). DataError naming ``where`` and the first
        value that is not, ValueError or TypeError for lengths of another count or dtype;
        a UserWarning (at the user's call) where features without lengths look
        zero-padded.
        ``x`` as ``_check_input`` returns it; returns the lengths as an int64 array (or
        None)."""
        B, T = x.shape[:2]
        if lengths is not None:
            lengths = as_array(_host(lengths) if isinstance(lengths, Tensor) else lengths,
                               what=f"{where}: lengths")
            lengths = move(lengths, "cpu")
            if lengths.shape != (B,) or lengths.dtype.kind not in "iu":
                hint = ""
                if lengths.shape == (T,) and T != B:
                    hint = (f"; x of shape {tuple(x.shape)} is read batch-first (B, T, ...): "
                            f"if it is time-major, (T, B, ...), pass x.swapaxes(0, 1)")
                raise ValueError(f"{where}: lengths must be {B} integers (B,), one per "
                                 f"sequence, got shape {lengths.shape} and dtype "
                                 f"{lengths.dtype}{hint}")
            outside = np.flatnonzero((lengths < 1) | (lengths > T))
            if outside.size:
                k = int(outside[0])
                raise DataError(f"{where}: lengths must lie in [1, T={T}] (an empty sequence "
                                f"has nothing to encode): lengths[{k}] is {lengths[k]}, the "
                                f"first of {outside.size} outside")
            lengths = lengths.astype(np.int64, copy=False)
        if self.vocab_size is not None:
            check_ids(where, np.asarray(x), lengths, self.vocab_size, lengths_given)
        else:
            host = _check_finite(where, x, lengths, self.lstm.dtype)
            ending = 0 if lengths_given else looks_zero_padded(host)
            if ending:
                warnings.warn(f"{where}: {ending} of {B} sequences end in all-zero steps, read "
                              f"as data: without lengths every sequence is T = {T} steps "
                              f"long; if the zeros are padding, pass lengths= (x, lengths = "
                              f"nongate_np.data.pad_sequences(sequences) gives them)",
                              UserWarning, stacklevel=callers_stacklevel())
        return lengths

    def pooling_mask(self, x, lengths) -> np.ndarray | None:
        """The (B, T) steps the attention may read: within ``lengths``, and never a padding
        token."""
        mask = None if lengths is None else lengths_to_mask(lengths, x.shape[1])
        if self.padding_idx is not None:
            real = x != self.padding_idx
            mask = real if mask is None else mask & real
        return mask

    def _encode_steps(self, x, lengths, check: str | None = None):
        """Input layer and LSTM: the (B, T, width) outputs, the lengths (an array or None)
        and the pooling mask. With ``check`` (the caller's name), :meth:`check_values`
        first."""
        x = self._check_input(x)
        given = lengths is not None
        lengths = self._infer_lengths(x, lengths)
        if check:
            lengths = self.check_values(check, x, lengths, given)
        h, _ = self.lstm(self.input_layer(x, lengths), lengths=lengths)
        return h, lengths, self.pooling_mask(x, lengths)

    def input_layer(self, x, lengths=None):
        """The LSTM's input: the embedding of token ids, or the linear map of the features
        (standardised first with ``normalize_input``). x as checked by ``_check_input``;
        ``lengths`` (B,) ints in [0, T] or None (checked: ValueError/TypeError naming them).

        NOTE: steps at or past a sequence's length are replaced first, features by 0 and
        token ids by the padding id: padding may hold anything (NaN, inf, ids outside the
        vocabulary, such as -1), the input layer's weight gradient xᵀ dx would multiply a
        non-finite value by a zero gradient (0·inf = NaN), and an id outside the vocabulary
        has no row to look up; the LSTM never reads those steps.
        """
        if lengths is not None:
            B, T = x.shape[:2]
            steps = lengths_to_mask(check_lengths("MultiTaskSequenceModel", lengths, T, B), T)
            if self.vocab_size is not None:
                x = np.where(steps, x, self.padding_idx or 0)
            else:
                x = ops.where(steps[..., None], x, 0) if isinstance(x, Tensor) else \
                    np.where(steps[..., None], x, x.dtype.type(0))
        if self._config["normalize_input"]:
            # NOTE: host input moves to the statistics' device first: NumPy would copy the
            # buffers from the GPU at every batch to subtract them on the host
            if not isinstance(x, Tensor):
                x = Tensor(move(x, device_of(self.input_mean)))
            x = (x - self.input_mean) / self.input_std
        return self.embed(x)

    def forward(self, x, lengths=None) -> dict:
        """Per-task outputs: logits (B, C) for classification, values (B, output_size) for
        regression (in the targets' units with ``normalize_targets``), per-step logits
        (B, T, C) for tagging. Also ``"attention"``: a dict of
        each sequence-level task's attention weights (B, T)."""
        h, lengths, mask = self._encode_steps(x, lengths)
        outputs, attention = {}, {}
        if self.pool is not None:
            pooled, weights = self.pool(h, mask=mask)
        q = 0
        for task, head in zip(self.tasks, self.heads):
            if task["kind"] in POOLED_KINDS:
                outputs[task["name"]] = head(pooled[:, q])
                scale = self._target_scale(task)
                if scale is not None:           # z in the targets' units: mean + std·z
                    outputs[task["name"]] = outputs[task["name"]] * scale[1] + scale[0]
                attention[task["name"]] = weights[:, q]
                q += 1
            else:
                outputs[task["name"]] = head(h)
        outputs["attention"] = attention
        outputs["lengths"] = lengths
        return outputs

    def loss(self, outputs: dict, targets: dict, *, counts: dict | None = None,
             share: float = 1.0):
        """Weighted sum of the task losses: (total Tensor, {task: float loss}).

        Targets: class ids (B,) for classification, values (B, output_size) or (B,) for
        regression, class ids (B, T) for tagging (steps past a sequence's length are ignored);
        arrays, or Tensors on either device (read as host values).
        The losses and their weighting: docs/math.md M1-M3.

        Raises KeyError for a task without targets, ValueError for regression targets of
        another shape or holding NaN or infinity (naming the task and the first such row;
        the loss was NaN), IndexError for a class id out of range.

        Each task's loss is the mean of its items (rows, regression values, valid tagging
        steps, as :meth:`loss_counts` counts them). Data-parallel training
        (``nongate_np.distributed``) passes ``counts``, each task's items in the whole global
        batch, and ``share``, this rank's fraction of the batch's rows: each loss is then the
        sum over these outputs' items divided by the batch's count, and the term of the
        uncertainty weighting that does not depend on the data is taken ``share`` times, so
        the ranks' losses, and gradients, add up to the whole batch's.
        """
        missing = [n for n in self.task_names if n not in targets]
        if missing:
            raise KeyError(f"MultiTaskSequenceModel.loss: no targets for tasks {missing}")
        reduction = "mean" if counts is None else "sum"
        total, parts = None, {}
        for k, task in enumerate(self.tasks):
            out, target = outputs[task["name"]], self._loss_target(task, outputs, targets)
            if task["kind"] == "classification":
                loss = ops.cross_entropy(out, target, reduction=reduction)
            elif task["kind"] == "regression":
                target = _regression_target(task, target, out.shape).astype(out.dtype)
                scale = self._target_scale(task)
                if scale is not None:           # M1: the error of z, ((y - target) / std)^2
                    # NOTE: divided where std lives: moving it to the host copied it from
                    # the GPU at every step
                    target = Tensor(move(target, device_of(scale[1]))) / scale[1]
                    out = out / scale[1]
                loss = ops.mse_loss(out, target, reduction=reduction)
            else:
                loss = ops.cross_entropy(ops.reshape(out, (-1, out.shape[-1])),
                                         target.reshape(-1), reduction=reduction)
            if counts is not None:                  # M1: the ranks' sums add up
                loss = loss / max(counts[task["name"]], 1)
            # the real part: a complex-step check (docs/math.md G2) runs the loss in complex
            parts[task["name"]] = float(loss.item().real)
            if self.log_vars is None:
                term = loss * task["weight"]        # M2
            else:                                   # M3: Kendall, Gal, Cipolla (2018)
                s = self.log_vars[k]
                scale = 0.5 if task["kind"] == "regression" else 1.0
                term = ops.exp(-s) * loss * scale + s * (0.5 * share)
            total = term if total is None else total + term
        return total, parts

    def loss_counts(self, targets: dict, lengths=None) -> dict:
        """The number of items each task's loss averages over, for these targets: values
        (regression), targets other than -100 (classification rows; tagging steps within
        ``lengths``)."""
        counts = {}
        for task in self.tasks:
            target = self._loss_target(task, {"lengths": lengths}, targets)
            counts[task["name"]] = int(target.size if task["kind"] == "regression"
                                       else np.count_nonzero(target != -100))
        return counts

    @staticmethod
    def _loss_target(task: dict, outputs: dict, targets: dict) -> np.ndarray:
        """A task's targets as its loss takes them: tagging steps past a length set to -100."""
        target = _host(targets[task["name"]])
        if task["kind"] == "tagging" and outputs.get("lengths") is not None:
            target = target.copy()
            target[~lengths_to_mask(outputs["lengths"], target.shape[1])] = -100
        return target

    @kernels_own_the_cores
    def encode(self, x, lengths=None, *, batch_size: int = 256) -> np.ndarray:
        """The pooled representation of each sequence for each sequence-level task, as an
        ndarray (B, Q, D') in task order (a host array whatever the model's device); no graph
        is built. Padding tokens are never attended to (see ``padding_idx``); features
        have no padding value, so pass ``lengths`` for padded ones (without it every step
        of x is read). Features (an array, or a tensor that does not require grad) are cast
        to the model's dtype and
        standardised with the saved statistics when the model was built with
        ``normalize_input``. It runs in eval mode (dropout off), as ``predict``, whatever
        mode the model is in (after ``fit``, or loaded from a checkpoint saved then, it is
        in training mode), without changing it: two calls on the same input give the same
        vectors, and another thread may train the model meanwhile. Many threads may call it
        on one model at once, each getting the bits of its call made alone (README, "From
        many threads"); NumPy's BLAS runs on one thread meanwhile, as in ``predict``.

        Arrays run in batches of ``batch_size`` sequences of similar lengths (sorted by
        length), each cut to its longest; the result is in x's order. ``x`` may be a
        :class:`~nongate_np.data.SequenceDataset` (``read_as_trained`` gives one), which
        holds its lengths: its ``x`` and ``lengths`` are encoded (TypeError for ``lengths``
        given beside it).

        Raises DataError (``nongate_np.data``) for a NaN or an infinity within a sequence's
        length, or a value beyond the model's dtype (1e39 for float32), a token id outside
        the vocabulary there, or a length of 0, naming the first (not a NaN or zero
        vector); ValueError or TypeError for another shape or kind of input; ValueError for
        vectors that are not finite from arrays (weights holding NaN or inf: the message
        names them)."""
        if self.pool is None:
            raise ValueError("encode: the model has no sequence-level task, so no pooling")
        check_count(batch_size, "batch_size", "encode", 1)
        if isinstance(x, SequenceDataset):
            if lengths is not None:
                raise TypeError("encode: lengths is given by the SequenceDataset; pass lengths "
                                "only with an array x")
            x, lengths = x.x, x.lengths
        with evaluating(), no_grad():
            if isinstance(x, Tensor):           # on its device, as it is: one call
                return self._pooled(*self._encode_steps(x, lengths, check="encode"))
            if isinstance(x, (list, tuple)) and len(x) == 0:    # no sequences, as predict
                x = np.zeros((0, 1), np.int64) if self.vocab_size is not None else \
                    np.zeros((0, 1, self.input_size), self.lstm.dtype)
            x = self._check_input(x)
            given = lengths is not None
            lengths = self.check_values("encode", x, self._infer_lengths(x, lengths), given)
            if len(x) == 0:                     # no sequences: empty, of the right shape
                return self._pooled(*self._encode_steps(x, lengths))
            if lengths is None:
                lengths = np.full(len(x), x.shape[1], np.int64)
            order = np.argsort(lengths, kind="stable")
            pieces = []
            for start in range(0, len(x), batch_size):
                rows = order[start:start + batch_size]
                T = int(lengths[rows].max())
                pieces.append(self._pooled(*self._encode_steps(x[rows, :T], lengths[rows])))
        result = np.concatenate(pieces)[np.argsort(order)]
        bad = ~np.isfinite(result).reshape(len(result), -1).all(axis=1)
        if bad.any():
            raise not_finite_error("encode", self, bad)
        return result

    def _pooled(self, h, lengths, mask) -> np.ndarray:
        pooled, _ = self.pool(h, mask=mask)
        return pooled.numpy()

    def stream(self, batch_size: int = 1):
        """A :class:`~nongate_np.nn.streaming.StreamingEncoder` over ``batch_size``
        sequences: feed chunks, read the current embedding (equal to ``encode`` on the
        steps seen so far, in eval mode: see ``encode``). The stream holds its sequences'
        state: give each thread its own (the model itself may be shared)."""
        from .streaming import StreamingEncoder
        return StreamingEncoder(self, batch_size)

    def _check_input(self, x):
        if isinstance(x, Tensor) and x.device != self.lstm.device:
            raise DeviceError(f"MultiTaskSequenceModel: input is on {x.device}, the model on "
                              f"{self.lstm.device}; move it with input.to('{self.lstm.device}') "
                              f"(an ndarray is moved for you)")
        data = x.data if isinstance(x, Tensor) else as_array(x, what="input")
        if data.ndim >= 2 and data.shape[1] == 0:      # as the LSTM (and torch): no step
            raise ValueError(f"MultiTaskSequenceModel: input has shape {data.shape}, layout "
                             f"(B, T{', F' if self.vocab_size is None else ''}): expected at "
                             "least one step (T >= 1); an empty batch (B = 0) is fine")
        if self.vocab_size is not None:
            if data.dtype.kind not in "iu":
                raise TypeError(f"MultiTaskSequenceModel: expected token ids, an integer array "
                                f"(B, T), got dtype {data.dtype} and shape {data.shape}")
            if data.ndim != 2:
                hint = " (one sequence: add a batch axis, tokens[None])" if data.ndim == 1 \
                    else ""
                raise ValueError(f"MultiTaskSequenceModel: expected token ids of shape (B, T), "
                                 f"got shape {data.shape}{hint}")
            return data
        if data.ndim != 3 or data.shape[-1] != self.input_size:
            hint = ""
            if data.ndim == 2 and self.input_size == 1:
                hint = " (series of one feature per step: add the feature axis, x[..., None])"
            elif data.ndim == 2 and data.shape[-1] == self.input_size:
                hint = " (one sequence: add a batch axis, x[None])"
            raise ValueError(f"MultiTaskSequenceModel: expected features (B, T, "
                             f"{self.input_size}), got shape {data.shape}{hint}")
        if isinstance(x, Tensor) and (x.requires_grad or data.dtype.kind == "c"):
            return x        # a graph input keeps its dtype (the LSTM checks it, as torch's)
        if data.dtype.kind not in "iuf":
            raise TypeError(f"MultiTaskSequenceModel: expected real features, got dtype "
                            f"{data.dtype}")
        # NOTE: arrays and tensors without a graph are cast to the parameters' dtype (the
        # loaders give float64); a value beyond its range becomes inf without a warning, as
        # ng.tensor(1e39, float32)
        if isinstance(x, Tensor):       # data without a graph, cast on its own device
            return x if data.dtype == self.lstm.dtype else ops.cast(x, self.lstm.dtype)
        with np.errstate(over="ignore"):
            return data.astype(self.lstm.dtype, copy=False)
