"""``fit``, ``evaluate`` and ``predict`` for a :class:`~nongate_np.nn.MultiTaskSequenceModel`
on :class:`~nongate_np.data.SequenceDataset`s: what Keras' ``Model.fit`` does, in ~200 lines.

An epoch shuffles the training set, steps through it in mini-batches (each batch cut to its
longest sequence), clips the gradient norm and steps the optimiser; then it evaluates the
validation set and calls the callbacks. Every epoch draws its batch order and dropout masks
from a generator seeded by ``(seed, epoch)``, so a run resumed at epoch k continues exactly
as the uninterrupted run would have: given the run's ``batch_size``, ``seed`` and training
set (its size and a digest of its contents), which its :class:`History` records and fit
checks. The masks' generator is the fitting
thread's own (``rng.own_generator``): other threads drawing or seeding meanwhile change
none of them, and fit leaves the library's global generator as it found it.

Early stopping watches ``monitor`` (lower is better, the validation loss by default): the
best epoch's weights are kept in memory and restored at the end (``restore_best``), and
training stops after ``patience`` epochs without improvement.

On the Numba backend the three run NumPy's BLAS on one thread: the threaded LSTM kernels
split each step over the cores, and OpenBLAS's idle workers would spin on them
(``kernels.cpu.threads.single_threaded_blas``).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .. import rng
from ..arguments import check_count
from ..autograd import no_grad
from ..data.dataset import SequenceDataset
from ..device import move
from ..kernels.registry import kernels_own_the_cores
from ..nn.module import evaluating
from ..nn.multitask import check_ids, not_finite_error
from ..ops.attention import lengths_to_mask
from ..optim import Adam, clip_grad_norm_
from ..optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from ..tensor import Tensor
from .metrics import MetricsMeter

__all__ = ["fit", "evaluate", "predict", "History", "batches"]


@dataclass
class History:
    """What :func:`fit` returns (and takes back to resume).

    ``epochs``: one dict per epoch, flat keys: ``epoch``, ``train/loss``,
    ``train/<task>/<metric>``, ``val/loss``, ``val/<task>/<metric>``, ``seconds`` (since the
    run started), ``lr`` (the learning rate the epoch trained with, the first parameter
    group's), ``best`` (this epoch is the best so far). ``best_epoch``/``best_value``:
    the epoch with the lowest ``monitor`` and its value; ``best_state``: its weights (not
    saved with the history). ``stopped_early``: patience ran out. ``scheduler_state``:
    ``{"class": name, "state": state_dict}`` of fit's learning-rate scheduler after the
    last epoch (plain data, saved with the history: MultiStepLR's milestones with str
    keys, as JSON holds them), or None without one.
    ``settings``: what decided the run's batches, recorded at its first epoch (plain data,
    saved with the history): ``{"batch_size": ..., "seed": ..., "train_items":
    len(train), "train_data": "<32 hex digits>"}``, the last a digest of the training
    set's sequences, lengths and targets in their order (BLAKE2b; same size, other
    contents: another file, split or shuffle). A resumed :func:`fit` given others raises
    ValueError before any step, as it would not continue this run; None (a history from
    before it was recorded, or set to None to change them on purpose) resumes unchecked,
    as a record without ``train_data`` (from before it was kept) resumes with its
    contents unchecked.
    """
    epochs: list = field(default_factory=list)
    best_epoch: int | None = None
    best_value: float | None = None
    best_state: dict | None = field(default=None, repr=False)
    stopped_early: bool = False
    scheduler_state: dict | None = None
    settings: dict | None = None

    @property
    def last(self) -> dict:
        return self.epochs[-1] if self.epochs else {}

    @property
    def best(self) -> dict:
        """The best epoch's record (the last one when nothing was monitored)."""
        for rec in self.epochs:
            if rec["epoch"] == self.best_epoch:
                return rec
        return self.last


def batches(data, batch_size: int, order=None):
    """``(x, lengths, targets)`` mini-batches of the rows ``order`` of ``data`` (default:
    every row, as stored), each cut to its longest sequence so that no step is spent on
    padding only. ValueError unless ``batch_size`` is an int >= 1."""
    check_count(batch_size, "batch_size", "batches", 1)
    order = np.arange(len(data)) if order is None else order
    tagging = {t["name"] for t in data.tasks if t["kind"] == "tagging"}
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        lengths = data.lengths[idx]
        T = int(lengths.max())
        targets = {name: y[idx, :T] if name in tagging else y[idx]
                   for name, y in data.targets.items()}
        yield data.x[idx, :T], lengths, targets


def _by_length(data, rows: np.ndarray) -> np.ndarray:
    """``rows`` ordered by their sequences' lengths (stable): inference batches of similar
    lengths, each cut to its longest, spend few steps on padding (for lengths spread
    evenly, about half the steps of batches in data's order)."""
    return rows[np.argsort(data.lengths[rows], kind="stable")]


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _run_settings(train, batch_size, seed, history=None) -> dict:
    """What decides a run's batches, as :attr:`History.settings` records it: an epoch's
    order is a permutation of ``len(train)`` rows drawn from ``(seed, epoch)``, cut into
    batches of ``batch_size``, and its dropout masks are drawn from ``(seed, epoch)`` too;
    the batches hold ``train``'s rows (``train_data``: :func:`_train_fingerprint`).
    Not ``epochs``, ``patience``, ``lr``, ``clip_grad_norm``, ``monitor``,
    ``restore_best``, the callbacks or the scheduler, as a resumed run may change them on
    purpose (more epochs, a longer patience, a lower rate) and none of them changes which
    rows an epoch's batches hold.

    ``train_data`` (one pass over the data) is computed only where it is used: for a new
    run (``history`` None or without epochs), which records it, and for a resumed run whose
    record holds it and the same ``train_items`` (another size already says the data
    differ); a history recorded without it (from before it was kept) resumes unchecked."""
    def plain(value):                   # np.int64 and the like: JSON-ready, as saved
        return value.item() if isinstance(value, np.generic) else value
    settings = {"batch_size": plain(batch_size), "seed": plain(seed), "train_items": len(train)}
    recorded = history.settings if history is not None and history.epochs else None
    if history is None or not history.epochs or (
            recorded and "train_data" in recorded and recorded.get("train_items") == len(train)):
        settings["train_data"] = _train_fingerprint(train)
    return settings


#: the most bytes :func:`_train_fingerprint` copies at a time (of an array it must cut)
_FINGERPRINT_CHUNK = 64 << 20


def _train_fingerprint(data) -> str:
    """What fit's batches read of the SequenceDataset ``data``, as 32 hex digits (BLAKE2b,
    128 bits): :attr:`History.settings`' ``train_data``.

    Digested in order: ``x``, ``lengths`` and each target array by task name (sorted),
    each as its name, dtype, shape and bytes (C order, rows in the dataset's order: the
    same rows shuffled differ). ``x`` and the tagging targets are cut to the longest
    sequence, as every batch is (:func:`batches`), so the same data padded to a wider T
    gives the same digest. Not read: ``tasks``' class names, ``ids``, ``vocab``,
    ``source``, which no batch holds.

    Cost: one pass over the data (BLAKE2b, one core), copying at most 64 MiB at a time
    where ``x`` is cut; at most once per :func:`fit` call, a small part of one epoch
    (bench/RESULTS.md, "The training data's digest"). A sample of the rows would cost less
    and miss what it did not read (one relabelled sequence); and building a
    SequenceDataset reads every value already (its finiteness and padding checks), so no
    dataset fit takes is lazily loaded."""
    h = hashlib.blake2b(digest_size=16)
    steps = int(data.lengths.max())
    tagging = {t["name"] for t in data.tasks if t["kind"] == "tagging"}
    arrays = [("x", data.x[:, :steps]), ("lengths", data.lengths)]
    arrays += [(f"targets[{name!r}]", y[:, :steps] if name in tagging else y)
               for name, y in sorted(data.targets.items())]
    for label, a in arrays:
        a = np.asarray(a)
        h.update(f"{label} {a.dtype.str} {a.shape};".encode())
        if a.flags.c_contiguous:
            h.update(a.reshape(-1).view(np.uint8).data)
            continue
        rows = max(1, _FINGERPRINT_CHUNK // max(1, a[:1].nbytes))
        for first in range(0, len(a), rows):
            h.update(np.ascontiguousarray(a[first:first + rows]).reshape(-1).view(np.uint8).data)
    return h.hexdigest()


def _resume_differences(history, settings: dict) -> list[tuple[str, object, object]]:
    """``(setting, the run's value, the value given)`` for each setting that ``history``
    recorded at its run's first epoch and ``settings`` (this call's, :func:`_run_settings`)
    gives otherwise; none for a new run (no epochs), a history without a record (from
    before it was kept), or a setting the record lacks (recorded later) or ``settings``
    lacks (``train_data`` where the sizes differ)."""
    recorded = history.settings if history is not None and history.epochs else None
    return [(k, recorded[k], v) for k, v in settings.items()
            if recorded and k in recorded and recorded[k] != v]


def _check_resumed(history, settings: dict) -> None:
    """ValueError naming each setting that differs from the resumed run's, with both
    values (:func:`_resume_differences`); for ``train_data``, the two digests' first 12
    hex digits."""
    differ = _resume_differences(history, settings)
    if differ:
        shown = "; ".join(_shown_difference(k, run, given) for k, run, given in differ)
        raise ValueError(
            f"fit: the history's run drew its batches with other settings ({shown}): this "
            f"call would train other batches than the run it continues. Pass the run's "
            f"values to resume it exactly (for len(train) and train_data: its training set, "
            f"the same sequences, lengths and targets in the same order), or start a new "
            f"run (fit without history= and initial_epoch=); to change them on purpose, "
            f"set history.settings = None first")


def _shown_difference(key: str, run, given) -> str:
    """"seed 3 in the run, 4 given", "train_data: the data differ from the run's (digest
    0f1e2d3c4b5a… in the run, ... given)": one setting of :func:`_check_resumed`."""
    if key == "train_data":
        return (f"train_data: the data differ from the run's (digest {str(run)[:12]}… in the "
                f"run, {str(given)[:12]}… given)")
    return f"{'len(train)' if key == 'train_items' else key} {run!r} in the run, {given!r} given"


def _check_data(where: str, name: str, data) -> None:
    """TypeError unless ``data`` is a SequenceDataset (the loop reads its targets, lengths
    and tasks, which bare arrays do not carry)."""
    if not isinstance(data, SequenceDataset):
        raise TypeError(f"{where}: {name} must be a SequenceDataset, got "
                        f"{type(data).__name__}; wrap arrays as SequenceDataset(x, lengths, "
                        f"targets, tasks) (nongate_np.data) or load a file with load_ts, "
                        f"load_csv or load_npz")


def _check_tasks(where: str, name: str, model, data) -> None:
    """ValueError unless each of the model's tasks that ``data`` has targets for is the
    same kind and size there: class ids are positions in a list of classes, so a dataset
    with another count numbers them otherwise (a test file without one of the training
    file's classes, loaded without its ``classes``), and ids past the model's would be
    read as no class at all."""
    given = {t["name"]: t for t in data.tasks if t["name"] in data.targets}
    for task in model.tasks:
        theirs = given.get(task["name"])
        if theirs is None or _kind_and_size(theirs) == _kind_and_size(task):
            continue
        hint = "; load it with the training set's classes (classes= of load_csv, load_npz, " \
            "load_ts) so that each class keeps its id" \
            if task["kind"] == theirs["kind"] != "regression" else ""
        raise ValueError(f"{where}: task {task['name']!r} is {_kind_and_size(task)} in the "
                         f"model, but {_kind_and_size(theirs)} in {name}{hint}")


def _check_inputs(where: str, name: str, model, data) -> None:
    """Before any step: ``data``'s sequences are what ``model`` reads (token ids for a model
    with a vocabulary, else features of its width; ValueError), and its ids lie in the
    vocabulary (a DataError naming the first that does not), rather than an error from
    the embedding in the middle of an epoch."""
    if not hasattr(model, "vocab_size"):        # not a MultiTaskSequenceModel
        return
    vocab_size = model.vocab_size
    if data.is_tokens != (vocab_size is not None):
        raise ValueError(f"{where}: {name} holds {'token ids' if data.is_tokens else 'features'}"
                         f" {data.x.shape}, but the model reads "
                         f"{'token ids' if vocab_size is not None else 'features'}")
    if vocab_size is not None:
        check_ids(f"{where}: {name}", data.x, data.lengths, vocab_size)
    elif data.feature_size != model.input_size:
        raise ValueError(f"{where}: {name} has {data.feature_size} features per step, but the "
                         f"model reads {model.input_size} (input_size)")


def _kind_and_size(task: dict) -> str:
    """"classification with num_classes=3", "regression with output_size=2", ..."""
    key = "output_size" if task["kind"] == "regression" else "num_classes"
    return f"{task['kind']} with {key}={task[key]}"


def _as_dataset(model, x, lengths) -> SequenceDataset:
    """Unlabelled sequences as a SequenceDataset for :func:`predict`: x as the model's
    ``_check_input`` returns it, each sequence's length given or as the model infers it,
    zero past it (the dataset's padding)."""
    n, t = x.shape[:2]
    given = lengths is not None
    lengths = model.check_values("predict", x, model._infer_lengths(x, lengths), given)
    lengths = np.full(n, t, np.int64) if lengths is None else lengths
    steps = lengths_to_mask(lengths, t)
    x = np.where(steps if x.ndim == 2 else steps[..., None], x, 0)
    return SequenceDataset(x, lengths, {}, [])


def _no_predictions(model, T: int, attention: bool) -> dict:
    """:func:`predict`'s result for no sequences: each array with 0 rows, of its shape."""
    result: dict = {}
    for task in model.tasks:
        if task["kind"] == "classification":
            result[task["name"]] = np.zeros(0, np.int64)
        elif task["kind"] == "tagging":
            result[task["name"]] = np.zeros((0, T), np.int64)
        else:
            result[task["name"]] = np.zeros((0, task["output_size"]), model.lstm.dtype)
    result["probabilities"] = {t["name"]: np.zeros((0, t["num_classes"]), model.lstm.dtype)
                               for t in model.tasks if t["kind"] == "classification"}
    if attention:
        result["attention"] = {t["name"]: np.zeros((0, T), model.lstm.dtype)
                               for t in model.tasks if t["kind"] != "tagging"}
    return result


def _meter(model, tasks) -> MetricsMeter:
    """A MetricsMeter whose regression losses are the model's training losses: of the
    standardised targets where the model has ``normalize_targets``."""
    target_std = {}
    for task in tasks:
        scale = model._target_scale(task) if hasattr(model, "_target_scale") else None
        if scale is not None:
            target_std[task["name"]] = move(scale[1], "cpu")
    return MetricsMeter(tasks, target_std=target_std)


def _check_fit_args(model, train, val, epochs, batch_size, patience, initial_epoch):
    _check_data("fit", "train", train)
    if val is not None:
        _check_data("fit", "val", val)
    for name, value, low in (("epochs", epochs, 0), ("batch_size", batch_size, 1),
                             ("initial_epoch", initial_epoch, 0)):
        check_count(value, name, "fit", low)
    if patience is not None and (isinstance(patience, bool)
                                 or not isinstance(patience, (int, np.integer)) or patience < 1):
        raise ValueError(f"fit: patience must be an int >= 1, or None never to stop early "
                         f"(the command line's --patience 0), got {patience!r}")
    if len(train) == 0:
        raise ValueError("fit: the training set is empty")
    missing = [n for n in model.task_names if n not in train.targets]
    if missing:
        raise ValueError(f"fit: the training set has no targets for the model's tasks "
                         f"{missing} (it has {sorted(train.targets)})")
    for name, data in (("train", train), ("val", val)):
        if data is not None:
            _check_inputs("fit", name, model, data)
            _check_tasks("fit", name, model, data)
    config = getattr(model, "_config", {})
    for flag, (mean, std, what) in _STATISTICS.items():
        if config.get(flag) and not np.any(move(getattr(model, mean), "cpu")) and \
                np.all(move(getattr(model, std), "cpu") == 1):
            warnings.warn(f"fit: the model standardises {what}", UserWarning, stacklevel=4)
    if not config.get("normalize_targets"):
        for task in getattr(model, "tasks", ()):
            if task["kind"] != "regression":
                continue
            y = np.asarray(train.targets[task["name"]], np.float64)
            rms = float(np.sqrt(np.mean(np.square(y)))) if y.size else 0.0
            if rms > _LARGE_TARGETS:
                others = "will swamp the other tasks' losses and " if len(model.tasks) > 1 \
                    else ""
                warnings.warn(
                    f"fit: regression task {task['name']!r} has training targets of root "
                    f"mean square {rms:.3g}; its squared error, about {rms * rms:.3g} from "
                    f"heads that start near 0, {others}will take many steps to close. "
                    f"Build the model with normalize_targets=True and "
                    f"set model.set_target_normalization({task['name']!r}, y.mean(axis=0), "
                    f"y.std(axis=0)) from the training targets y", UserWarning, stacklevel=4)


# regression targets beyond this root mean square, not standardised, are warned about: a
# squared error of 100 against a cross-entropy near log(classes)
_LARGE_TARGETS = 10.0

# a model's standardisation flag -> (its mean and std buffers, what fit warns while they
# are still mean 0 and std 1: never set)
_STATISTICS = {
    "normalize_input": (
        "input_mean", "input_std",
        "its input (normalize_input=True) but its statistics are still mean 0 and std 1, so "
        "features reach it as they are; set them first: s = Standardizer().fit(train.x, "
        "train.lengths); model.set_input_normalization(s.mean, s.std) (nongate_np.data)"),
    "normalize_targets": (
        "target_mean", "target_std",
        "its regression targets (normalize_targets=True) but their statistics are still "
        "mean 0 and std 1, so the targets are learnt in their own units; set them first, "
        "per regression task: model.set_target_normalization(name, y.mean(axis=0), "
        "y.std(axis=0))"),
}


@kernels_own_the_cores
@rng.own_generator()
def fit(model, train, val=None, *, epochs: int = 10, batch_size: int = 32, optimizer=None,
        lr: float = 1e-3, clip_grad_norm: float | None = 5.0, patience: int | None = None,
        monitor: str = "val/loss", restore_best: bool = True, seed: int = 0,
        callbacks=(), initial_epoch: int = 0, history: History | None = None,
        data_parallel=None, scheduler: LRScheduler | None = None) -> History:
    """Train ``model`` on ``train``, evaluating ``val`` after every epoch.

    Parameters
    ----------
    model : MultiTaskSequenceModel
    train, val : SequenceDataset
        ``val`` is optional; without it nothing is monitored and the last epoch is kept.
    epochs : int
        The epoch to stop after (counting the ``initial_epoch`` ones already done).
    batch_size : int
    optimizer : Optimizer, optional
        Default ``Adam(model.parameters(), lr=lr)``.
    scheduler : nongate_np.optim.lr_scheduler.LRScheduler, optional
        A learning-rate schedule on ``optimizer`` (torch's schedulers: StepLR,
        CosineAnnealingLR, ...), stepped once after every epoch's validation;
        ``ReduceLROnPlateau`` is stepped with the epoch's ``monitor`` value. Its state goes
        into the history (``History.scheduler_state``), which a
        :class:`~nongate_np.training.ModelCheckpoint` saves: resumed with that history and
        a scheduler built as before on the resumed optimiser, the schedule continues where
        it stopped, from the optimiser's resumed rates (the saved state, hyper-parameters
        included, replaces the new scheduler's, as torch's ``load_state_dict``; where
        building the scheduler changed the rates or momenta, as LinearLR, OneCycleLR or
        SequentialLR do, the ones the saved state last set come back). A history holding
        a scheduler's state resumed without one warns. OneCycleLR and CyclicLR, meant to
        be stepped per batch, are stepped per epoch here too.
    clip_grad_norm : float or None
        Clip the global gradient norm to this before every step.
    patience : int or None
        Stop after this many epochs without a new best ``monitor``; None trains all epochs.
    monitor : str
        The key of the epoch record to minimise, e.g. ``"val/loss"`` or
        ``"val/package/loss"``.
    restore_best : bool
        Load the best epoch's weights into ``model`` at the end.
    seed : int
        Seeds each epoch's batch order and dropout masks (with the epoch number), drawn
        from a generator of this call's own: ``ng.seed`` and draws on other threads do
        not change them, and ``ng.seed``'s global generator is left as it was.
    callbacks : sequence of Callback
    initial_epoch, history
        Resume: the epochs already done and their :class:`History` (its ``best_state``
        set to the best weights, if they are to be restored), as
        :func:`~nongate_np.training.resume` reads them from a
        :class:`~nongate_np.training.ModelCheckpoint`'s folder. The run goes on exactly as
        if never stopped given the settings its batches came from, which the history
        records (``History.settings``: ``batch_size``, ``seed``, ``len(train)`` and a
        digest of ``train``'s contents, one pass over them) and fit checks.
    data_parallel : nongate_np.distributed.DataParallel, optional
        Train over its MPI ranks: every rank calls ``fit`` with the same arguments and
        data; each runs forward and backward on its share of every batch, each task's loss
        divided by the whole batch's count of items (``model.loss(counts=...)``), and one
        Allreduce per step gives every rank the batch's gradient and loss, so every rank
        takes the step one process would (to rounding). The epoch's metrics are summed
        over the ranks, validation included (each rank evaluates a share). Give
        ``callbacks`` only on the rank that writes (rank 0). Before the first step (of a
        resumed run too) one allgather checks that the ranks agree: the counts of training
        and validation items, ``batch_size``, ``epochs``, ``initial_epoch``, ``seed``,
        ``clip_grad_norm``, ``patience``, ``monitor``, ``restore_best``, the history, the
        optimizer and its state, and digests of the data and the model's state (BLAKE2b
        over the training set's arrays, the digest ``History.settings`` records, and SHA-1
        over the others', once per call: a cost in proportion to the data's size).

    Returns
    -------
    History

    Warns
    -----
    UserWarning
        Before the first step: a model built with ``normalize_input`` or
        ``normalize_targets`` whose statistics were never set (still mean 0, std 1); a
        regression task's training targets of root mean square above 10 in a model without
        ``normalize_targets`` (their squared error swamps the other tasks' losses).

    Raises
    ------
    TypeError
        ``train`` or ``val`` is not a SequenceDataset; ``scheduler`` is not a scheduler.
    ValueError
        Bad arguments, an empty training set, missing targets, a task of another kind or
        size than the model's (classes counted otherwise), a scheduler on another
        optimiser than ``optimizer`` (or without ``optimizer``), a ``ReduceLROnPlateau``
        whose ``monitor`` the epochs do not record (no validation data), a history holding
        another kind of scheduler's state, or a loss that became NaN or infinite (the
        message names the epoch and step). A resumed ``history`` whose run drew its
        batches with another ``batch_size``, ``seed`` or ``len(train)``, or from a training
        set of its size with other contents (``History.settings``), before any step and
        before the model, the optimiser or the scheduler change: each that differs named
        with the run's value and the one given (``train_data``: the two digests).
        With ``data_parallel``, on every
        rank before any step: ranks that disagree (each item that differs named, with its
        value on each rank), or another rank's arguments refused (its rank and error).
    """
    if data_parallel is None:
        _check_fit_args(model, train, val, epochs, batch_size, patience, initial_epoch)
        settings = _run_settings(train, batch_size, seed, history)
        _check_resumed(history, settings)
        _check_scheduler(scheduler, optimizer, val, monitor)
        optimizer = optimizer or Adam(model.parameters(), lr=lr)
        history = history or History()
        _resume_scheduler(scheduler, history)
    else:
        optimizer, history, settings = _agree(
            model, train, val, data_parallel, optimizer, history, scheduler, epochs=epochs,
            batch_size=batch_size, lr=lr, clip_grad_norm=clip_grad_norm, patience=patience,
            monitor=monitor, restore_best=restore_best, seed=seed, initial_epoch=initial_epoch)
    callbacks = list(callbacks)
    for cb in callbacks:
        cb.on_train_begin(model, history)
    steps = math.ceil(len(train) / batch_size)
    start, waited = time.perf_counter(), 0
    if history.epochs and history.best_epoch is not None:
        waited = history.last["epoch"] - history.best_epoch
    # a resumed run that had run out of patience stopped there: no more epochs, as then
    stopped = patience is not None and history.best_epoch is not None and waited >= patience
    history.stopped_early = stopped and initial_epoch < epochs
    for epoch in range(initial_epoch + 1, initial_epoch if stopped else epochs + 1):
        rng.seed(_epoch_seed(seed, epoch))
        order = np.random.default_rng(_epoch_seed(seed + 1, epoch)).permutation(len(train))
        for cb in callbacks:
            cb.on_epoch_begin(epoch, steps)
        meter = _meter(model, model.tasks)
        model.train()
        for step, first in enumerate(range(0, len(train), batch_size), 1):
            value = _train_step(model, train, order[first:first + batch_size], optimizer,
                                meter, data_parallel)
            if not math.isfinite(value):
                raise ValueError(f"fit: the loss became {value} at epoch {epoch}, step {step}; "
                                 "lower the learning rate or check the data for extreme "
                                 "values")
            if clip_grad_norm is not None:
                clip_grad_norm_(model.parameters(), clip_grad_norm)
            optimizer.step()
            for cb in callbacks:
                cb.on_batch_end(step, value)
        if data_parallel is not None:
            meter.set_totals(data_parallel.all_reduce(meter.totals()))
        record = {"epoch": epoch, **{f"train/{k}": v for k, v in meter.result().items()}}
        if val is not None and len(val):
            # the ranks agreed on val and the model before the first step (_agree)
            record.update({f"val/{k}": v for k, v in _evaluate(
                model, val, _evaluated_tasks(model, val), data_parallel).items()})
        record["seconds"] = time.perf_counter() - start
        record["lr"] = optimizer.param_groups[0]["lr"]
        value = record.get(monitor)
        if scheduler is not None:
            _step_scheduler(scheduler, value, monitor, record)
            history.scheduler_state = _scheduler_state(scheduler)
        record["best"] = value is not None and (history.best_value is None
                                                or value < history.best_value)
        if record["best"]:
            history.best_epoch, history.best_value, waited = epoch, value, 0
            history.best_state = {k: np.array(v) for k, v in model.state_dict().items()}
        else:
            waited += 1
        if not history.epochs:          # the run's first epoch: what its batches came from
            history.settings = dict(settings)
        history.epochs.append(record)
        for cb in callbacks:
            cb.on_epoch_end(epoch, record, model, optimizer, history)
        if patience is not None and value is not None and waited >= patience:
            history.stopped_early = epoch < epochs
            break
    if restore_best and history.best_state is not None:
        model.load_state_dict(history.best_state)
    for cb in callbacks:
        cb.on_train_end(model, history)
    return history


def _check_scheduler(scheduler, optimizer, val, monitor: str) -> None:
    """fit's checks of ``scheduler``: a scheduler of fit's own optimiser (given), and a
    plateau's metric recorded."""
    if scheduler is None:
        return
    if not isinstance(scheduler, LRScheduler):
        raise TypeError(f"fit: scheduler must be a learning-rate scheduler of "
                        f"nongate_np.optim.lr_scheduler (StepLR, ReduceLROnPlateau, ...), "
                        f"got {type(scheduler).__name__}")
    if optimizer is None or scheduler.optimizer is not optimizer:
        raise ValueError("fit: the scheduler schedules another optimiser than fit's; build "
                         "the optimiser, the scheduler on it, and pass both: opt = "
                         "Adam(model.parameters()); fit(..., optimizer=opt, "
                         "scheduler=StepLR(opt, step_size=10))")
    if isinstance(scheduler, ReduceLROnPlateau) and monitor.startswith("val/") and \
            (val is None or len(val) == 0):
        raise ValueError(f"fit: ReduceLROnPlateau steps on monitor={monitor!r}, which needs "
                         "validation data; pass val, or monitor='train/loss'")


def _scheduler_state(scheduler) -> dict:
    """:attr:`History.scheduler_state`: the scheduler's class and its state, MultiStepLR's
    milestones (torch's Counter, in a SequentialLR's too) with str keys as a checkpoint's
    JSON holds them (its ``load_state_dict`` reads them), so that the history equals
    itself saved and loaded."""
    return {"class": type(scheduler).__name__, "state": _str_keyed(scheduler.state_dict())}


def _str_keyed(value):
    """``value`` with each Counter in it (nested in dicts and lists) as a dict of str keys."""
    if isinstance(value, collections.Counter):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, dict):
        return {k: _str_keyed(v) for k, v in value.items()}
    return [_str_keyed(v) for v in value] if isinstance(value, list) else value


def _resume_scheduler(scheduler, history: History) -> None:
    """A resumed run's schedule where it stopped: the history's scheduler state into
    ``scheduler``. The optimiser's rates stay as resumed (or as the caller then set them),
    as torch's order of loading leaves them, except where building the scheduler on the
    resumed optimiser changed them (LambdaLR, LinearLR, ConstantLR,
    CosineAnnealingWarmRestarts, CyclicLR and OneCycleLR, with their momenta,
    SequentialLR, ChainedScheduler): there the rates the saved state last set come back
    (``LRScheduler._restore_rates``)."""
    saved = history.scheduler_state
    if saved is not None and scheduler is None:
        warnings.warn(f"fit: the history holds a {saved.get('class')} scheduler's state and no "
                      "scheduler is given, so the learning rate stays as it is; pass "
                      "scheduler= built as in the run to go on with its schedule",
                      UserWarning, stacklevel=4)
    if scheduler is None or saved is None:
        return
    if saved.get("class") != type(scheduler).__name__:
        raise ValueError(f"fit: the history holds the state of a {saved.get('class')} "
                         f"scheduler, and the scheduler given is a "
                         f"{type(scheduler).__name__}; resume with the run's own kind of "
                         "scheduler")
    scheduler.load_state_dict(saved["state"])
    scheduler._restore_rates()


def _step_scheduler(scheduler, value, monitor: str, record: dict) -> None:
    if not isinstance(scheduler, ReduceLROnPlateau):
        scheduler.step()
    elif value is None:
        raise ValueError(f"fit: ReduceLROnPlateau steps on monitor={monitor!r}, which epoch "
                         f"{record['epoch']}'s record lacks; it has "
                         f"{sorted(k for k in record if '/' in k)}")
    else:
        scheduler.step(value)


def _agree(model, train, val, dp, optimizer, history, scheduler, **options):
    """fit's checks under DataParallel ``dp``, and then that every rank asks for the same
    run, in one allgather before any step (``dp.check_agreement``): ranks with other epoch
    counts or step counts would wait in each other's collectives (or fail in one with
    MPI's "Message truncated"), and other data, seeds or options would train a model
    that is no one's, without an error. (optimizer, history, settings), as fit starts from
    them (``settings``: :func:`_run_settings`, whose ``train_data`` digest, where computed,
    is also the ranks' digest of the training data: the data is read once for both)."""
    error = None
    items: dict = {}
    settings: dict = {}
    try:
        _check_fit_args(model, train, val, options["epochs"], options["batch_size"],
                        options["patience"], options["initial_epoch"])
        settings = _run_settings(train, options["batch_size"], options["seed"], history)
        _check_resumed(history, settings)
        _check_scheduler(scheduler, optimizer, val, options["monitor"])
        optimizer = optimizer or Adam(model.parameters(), lr=options["lr"])
        history = history or History()
        _resume_scheduler(scheduler, history)
        if dp.world_size > 1:
            from ..distributed import _digest
            items = {"train items": len(train), "val items": 0 if val is None else len(val),
                     **{k: options[k] for k in ("batch_size", "epochs", "initial_epoch",
                                                "seed", "clip_grad_norm", "patience",
                                                "monitor", "restore_best")},
                     "train data (x, lengths, targets)": settings.get("train_data")
                     or _train_fingerprint(train),
                     "val data (x, lengths, targets)": _data_digest(_digest, val),
                     "history (epochs, best epoch, best value)": (
                         len(history.epochs), history.best_epoch, history.best_value),
                     "optimizer": _describe_optimizer(optimizer),
                     "optimizer state": _digest(*_state_arrays(
                         optimizer.state_dict()["state"])),
                     "scheduler and its state": None if scheduler is None else
                     json.dumps(_scheduler_state(scheduler), sort_keys=True, default=repr),
                     "model state (weights, buffers)": _model_digest(_digest, model)}
    except Exception as err:            # any error: the other ranks must hear of it
        error = err                     # told to the other ranks, then raised here
    dp.check_agreement("fit", items, error=error,
                       hint="every rank must call fit with the same arguments and the "
                            "whole dataset: DataParallel gives each rank its share of "
                            "every batch, so do not split the data between the ranks")
    return optimizer, history, settings


def _data_digest(digest, data) -> str | None:
    """A digest of a dataset's sequences, lengths and targets (by task name), or None."""
    if data is None:
        return None
    names = sorted(data.targets)
    return digest(data.x, data.lengths, np.array(names, dtype=str),
                  *(data.targets[n] for n in names))


def _model_digest(digest, model) -> str:
    """A digest of the model's state: its weights and buffers."""
    return digest(*(np.asarray(move(v, "cpu")) for v in model.state_dict().values()))


def _describe_optimizer(optimizer) -> str:
    """"Adam [{'lr': 0.001, ...} on 9 parameters]": its class and hyper-parameters."""
    groups = []
    for group in optimizer.param_groups:
        settings = {k: v for k, v in group.items() if k != "params"}
        groups.append(f"{settings} on {len(group['params'])} parameters")
    return f"{type(optimizer).__name__} [{'; '.join(groups)}]"


def _state_arrays(state: dict):
    """The optimizer's state (its step counts, moments), in a fixed order."""
    for index in sorted(state):
        for name in sorted(state[index]):
            value = state[index][name]
            yield np.asarray(value) if not isinstance(value, np.ndarray) else value


def _train_step(model, data, idx, optimizer, meter, dp) -> float:
    """Forward and backward on the batch ``idx`` (this rank's share of it with a
    DataParallel ``dp``), the gradient left in the parameters; the batch's loss."""
    mine = idx if dp is None else dp.share(idx)
    optimizer.zero_grad()
    value = 0.0
    if len(mine):
        (x, lengths, targets), = batches(data, len(mine), mine)
        out = model(x, lengths=lengths)
        if dp is None:
            loss, _ = model.loss(out, targets)
        else:
            # the whole batch's counts need its targets and lengths, not its inputs
            all_targets = {name: y[idx] for name, y in data.targets.items()}
            loss, _ = model.loss(out, targets, counts=model.loss_counts(all_targets,
                                                                        data.lengths[idx]),
                                 share=len(mine) / len(idx))
        value = loss.item()
        if math.isfinite(value):
            # the loss is already weighted (counts=, share=): reduced below with weight 1
            with contextlib.nullcontext() if dp is None else dp.no_sync():
                loss.backward()
        meter.update(out, targets)
    if dp is not None:
        value = dp.all_reduce_gradients(weight=1.0, value=value)
    return value


@kernels_own_the_cores
def evaluate(model, data, *, batch_size: int = 256, data_parallel=None) -> dict:
    """The model's metrics on ``data`` (eval mode, no graph): ``"loss"`` and
    ``"<task>/<metric>"`` for every task that has targets in ``data`` (see
    :mod:`~nongate_np.training.metrics`). The sequences run in batches of similar lengths
    (sorted by length).

    With ``data_parallel`` (see :func:`fit`) every rank calls it with the same model and
    the whole ``data``; each evaluates its share of the rows and the sums are added up over
    the ranks. First, one allgather checks that the ranks agree, as fit's does: the count
    of items, the tasks evaluated, and digests of the data (``x``, ``lengths``, targets)
    and of the model's state (SHA-1 over every array's bytes: a cost in proportion to the
    data's size). ``batch_size`` may differ between the ranks.

    Raises TypeError when ``data`` is not a SequenceDataset, ValueError when one of its
    tasks differs in kind or size from the model's or ``batch_size`` is not an int >= 1;
    warns (UserWarning) when some of the model's tasks have no targets in ``data`` while it
    has targets of other names (a task renamed: ``"loss"`` then sums fewer tasks). With
    ``data_parallel``, on every rank before evaluating: ValueError when the ranks disagree
    (each item that differs named, with its value on each rank), or naming another rank
    whose arguments were refused and its error, rather than a rank waiting forever in the
    others' Allreduce or metrics added up over other data or weights."""
    dp = data_parallel
    if dp is None or dp.world_size == 1:
        check_count(batch_size, "batch_size", "evaluate", 1)
        return _evaluate(model, data, _evaluated_tasks(model, data), dp, batch_size)
    error, items, tasks = None, {}, []
    try:
        check_count(batch_size, "batch_size", "evaluate", 1)
        tasks = _evaluated_tasks(model, data)
        from ..distributed import _digest
        items = {"items": len(data), "tasks evaluated": [t["name"] for t in tasks],
                 "data (x, lengths, targets)": _data_digest(_digest, data),
                 "model state (weights, buffers)": _model_digest(_digest, model)}
    except Exception as err:            # any error: the other ranks must hear of it
        error = err                     # told to the other ranks, then raised here
    dp.check_agreement("evaluate", items, error=error,
                       hint="every rank must call evaluate with the same model and the "
                            "whole dataset: DataParallel gives each rank its share of "
                            "the rows, so do not split the data between the ranks")
    return _evaluate(model, data, tasks, dp, batch_size)


def _evaluated_tasks(model, data) -> list[dict]:
    """evaluate's checks of ``data``, and the model's tasks it has targets for."""
    _check_data("evaluate", "data", data)
    _check_inputs("evaluate", "data", model, data)
    _check_tasks("evaluate", "data", model, data)
    tasks = [t for t in model.tasks if t["name"] in data.targets]
    missing = [t["name"] for t in model.tasks if t["name"] not in data.targets]
    extra = sorted(set(data.targets) - {t["name"] for t in model.tasks})
    if missing and extra:       # a task renamed or misspelt, rather than labels left out
        warnings.warn(f"evaluate: data has no targets for the model's tasks {missing} but has "
                      f"{extra}, which the model does not have; \"loss\" sums only "
                      f"{[t['name'] for t in tasks]}", UserWarning, stacklevel=4)
    return tasks


def _evaluate(model, data, tasks, dp, batch_size: int = 256) -> dict:
    """evaluate's metrics of ``tasks`` on checked ``data``, over the ranks of ``dp`` (if
    any) without checking that they agree."""
    meter = _meter(model, tasks)
    rows = np.arange(len(data)) if dp is None else dp.share(np.arange(len(data)))
    rows = _by_length(data, rows)
    # NOTE: evaluating(), not model.eval(): the mode stays this thread's, so a thread
    # training the same model keeps its dropout
    with evaluating(), no_grad():
        for x, lengths, targets in batches(data, batch_size, rows):
            meter.update(model(x, lengths=lengths), targets)
    if dp is not None:
        meter.set_totals(dp.all_reduce(meter.totals()))
    return meter.result()


@kernels_own_the_cores
def predict(model, data, lengths=None, *, batch_size: int = 256,
            attention: bool = False) -> dict:
    """Per-task predictions for every sequence of ``data`` (eval mode, no graph).

    ``data`` is a SequenceDataset (its targets, if any, are not read), or the sequences
    themselves: features (N, T, F) or token ids (N, T), an array, nested lists or a
    Tensor on the model's device (DeviceError on another), with
    ``lengths`` (N,) ints in [1, T] (default: every step of a feature sequence; a token
    sequence up to its last non-padding token, as the model reads it). Arrays pass the
    dataset's checks: a NaN or infinity within a sequence's length is a DataError, not a
    NaN prediction; what lies past a length is not read. The sequences run in batches of
    similar lengths (sorted by length); the results are in ``data``'s order. No sequences
    (an empty array or list) give results with 0 rows. Many threads may call it on one
    model at once, each getting the bits of its call made alone, and another thread may
    train the model meanwhile (README, "From many threads"); on the Numba backend NumPy's
    BLAS runs on one thread while it runs (process-wide).

    Returns ``{task: array}``: class ids (N,) for classification, class ids (N, T) for
    tagging (-1 past each length), values (N, k) for regression; ``"probabilities"``:
    ``{task: (N, C) softmax}`` for classification tasks; with ``attention=True`` also
    ``"attention"``: ``{task: (N, T) weights}`` for each pooled task (0 past each length and
    on padding; docs/math.md A3-A4).

    Raises ValueError or TypeError (naming the expected layout) for arrays of another
    shape or dtype than the model reads, DataError for lengths outside [1, T] or values
    that are not finite, TypeError for ``lengths`` given with a SequenceDataset, and
    ValueError for probabilities or values that are not finite (weights holding NaN or
    inf: the message names them), not a NaN read as class 0.
    """
    if isinstance(data, SequenceDataset):
        if lengths is not None:
            raise TypeError("predict: lengths is given by the SequenceDataset; pass lengths "
                            "only with arrays")
    elif isinstance(data, (list, tuple)) and len(data) == 0:
        return _no_predictions(model, 0, attention)        # no sequences: empty results
    else:
        # NOTE: a tensor on the model's device (the GPU's too) is read as host data: the
        # dataset below, its padding and its batches are host arrays
        x = model._check_input(data)
        x = x.numpy() if isinstance(x, Tensor) else move(x, "cpu")
        if len(x) == 0:
            return _no_predictions(model, x.shape[1], attention)
        data = _as_dataset(model, x, lengths)
    parts: dict[str, list] = {t["name"]: [] for t in model.tasks}
    probs: dict[str, list] = {t["name"]: [] for t in model.tasks
                              if t["kind"] == "classification"}
    weights: dict[str, list] = {t["name"]: [] for t in model.tasks if t["kind"] != "tagging"}
    nonfinite: dict[str, list] = {t["name"]: [] for t in model.tasks}    # rows, per batch
    T = data.x.shape[1]
    order = _by_length(data, np.arange(len(data)))
    with evaluating(), no_grad():
        for x, lengths, _ in batches(data, batch_size, order):
            out = model(x, lengths=lengths)
            for name, w in out["attention"].items():
                padded = np.zeros((len(x), T), w.dtype)
                padded[:, :w.shape[1]] = w.numpy()
                weights[name].append(padded)
            for task in model.tasks:
                name, value = task["name"], out[task["name"]].numpy()
                finite = np.isfinite(value)
                if task["kind"] == "tagging":       # the steps past a length are not read
                    finite |= (np.arange(value.shape[1])[None, :] >= lengths[:, None])[..., None]
                nonfinite[name].append(~finite.reshape(len(x), -1).all(axis=1))
                if task["kind"] == "classification":
                    # NOTE: inf - inf where a weight is not finite: refused after the loop
                    with np.errstate(invalid="ignore"):
                        z = np.exp(value - value.max(axis=1, keepdims=True))
                        probs[name].append(z / z.sum(axis=1, keepdims=True))
                    parts[name].append(value.argmax(axis=1))
                elif task["kind"] == "tagging":
                    ids = np.full((len(x), T), -1, np.int64)
                    ids[:, :value.shape[1]] = value.argmax(axis=2)
                    ids[np.arange(T)[None, :] >= lengths[:, None]] = -1
                    parts[name].append(ids)
                else:
                    parts[name].append(value)
    back = np.argsort(order)                    # the batches' rows back in data's order

    def joined(pieces: list) -> np.ndarray:
        return np.concatenate(pieces)[back]
    for task in model.tasks:
        bad = joined(nonfinite[task["name"]])
        if bad.any():
            raise not_finite_error("predict", model, bad, task)
    result = {name: joined(p) for name, p in parts.items()}
    result["probabilities"] = {name: joined(p) for name, p in probs.items()}
    if attention:
        result["attention"] = {name: joined(w) for name, w in weights.items() if w}
    return result
