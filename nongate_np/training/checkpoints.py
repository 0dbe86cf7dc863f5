"""A training run's files, to keep its best weights and to continue it later: the
:class:`ModelCheckpoint` callback writes them during :func:`~nongate_np.training.fit`, and
:func:`resume` reads them back (Keras' ``ModelCheckpoint`` and ``BackupAndRestore``).

In the run's folder, ``model.npz`` holds the best epoch's model, ``last.npz`` the last
epoch's model with its optimiser state and the run's :class:`~nongate_np.training.History`;
both are ``nongate_np.save`` checkpoints (no pickle). A run continued from them goes on
exactly as one never stopped: :func:`fit` draws each epoch's batches from ``(seed,
epoch)``, and refuses a resumed run given another ``batch_size``, ``seed`` or training set
than the history records (``History.settings``)::

    fit(model, train, val, epochs=10, callbacks=[ModelCheckpoint("runs/a")])
    ...                                       # stopped: Ctrl-C, a crash, a new process
    optimizer, history, done = resume("runs/a", model)
    fit(model, train, val, epochs=20, optimizer=optimizer, history=history,
        initial_epoch=done, callbacks=[ModelCheckpoint("runs/a")])

A learning-rate scheduler given to ``fit`` is saved with the history; to resume it, build it
again on the resumed optimiser and pass it too (``fit(..., scheduler=StepLR(optimizer,
10))``): it goes on from the saved state.
"""

from __future__ import annotations

import contextlib
import pathlib
import signal
import threading

from ..io import load, save
from ..io.checkpoint import _rebuild_optimizer
from ..nn.module import StateDictError
from .callbacks import Callback
from .loop import History

__all__ = ["ModelCheckpoint", "resume"]

#: what a ModelCheckpoint writes into its folder
_FILES = ("model.npz", "last.npz")


class ModelCheckpoint(Callback):
    """After every epoch, ``last.npz`` in ``folder`` (the model, its optimiser's state and the
    history: what :func:`resume` reads); at every new best epoch (``record["best"]``: the
    lowest validation loss so far, or every epoch without validation data) first
    ``model.npz``. The two are written as one: a Ctrl-C meanwhile is taken once both
    are (a ``model.npz`` without its ``last.npz`` would pair the history with another
    epoch's best weights).

    Parameters
    ----------
    folder : str or path-like
        Made if missing.
    extra : dict, optional
        JSON-ready entries stored in both files' ``extra`` beside the run's own (``epoch``
        and ``metrics`` in ``model.npz``; ``history``, ``best_epoch``, ``best_value``,
        ``fit_settings`` (``History.settings``) and, where fit has a learning-rate
        scheduler, ``scheduler`` in ``last.npz``): how the data was read, the options of
        the run.
    overwrite : bool, default False
        A new run (``fit`` without a resumed ``history``) into a folder that holds an
        earlier run's ``model.npz`` or ``last.npz`` replaces them only with
        ``overwrite=True``, which removes both before the first epoch, so that none of
        the earlier run is left beside the new one's; without it ``fit`` raises
        FileExistsError before its first step, as ``nongate-np train`` refuses without
        ``--overwrite``. A run resumed from the folder (:func:`resume`) goes on into it.
    """

    def __init__(self, folder, extra: dict | None = None, *, overwrite: bool = False):
        self.folder = pathlib.Path(folder)
        self.extra = dict(extra or {})
        self.overwrite = bool(overwrite)

    def on_train_begin(self, model, history) -> None:
        earlier = [name for name in _FILES if (self.folder / name).is_file()]
        if earlier and not history.epochs:          # a new run, not the folder's own resumed
            if not self.overwrite:
                raise FileExistsError(
                    f"ModelCheckpoint: {self.folder} holds an earlier run "
                    f"({', '.join(earlier)}); a new run would replace it. Continue it with "
                    f"resume({str(self.folder)!r}, model) and fit(..., optimizer=optimizer, "
                    f"history=history, initial_epoch=done), replace it with "
                    f"ModelCheckpoint(..., overwrite=True), or give another folder")
            for name in earlier:
                (self.folder / name).unlink()
        self.folder.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(self, epoch, record, model, optimizer, history) -> None:
        with _interrupt_deferred():
            # NOTE: nothing monitored (no validation data): no epoch is best, keep the last
            if record["best"] or history.best_epoch is None:
                save(model, self.folder / "model.npz",
                     extra={**self.extra, "epoch": epoch, "metrics": record})
            run = {"history": history.epochs, "best_epoch": history.best_epoch,
                   "best_value": history.best_value}
            if history.scheduler_state is not None:
                run["scheduler"] = history.scheduler_state
            if history.settings is not None:
                run["fit_settings"] = history.settings
            save(model, self.folder / "last.npz", optimizer=optimizer,
                 extra={**self.extra, **run})


def resume(folder, model):
    """What :func:`~nongate_np.training.fit` needs to continue the run that a
    :class:`ModelCheckpoint` wrote into ``folder``: ``(optimizer, history, initial_epoch)``.

    ``model`` (built as the run's was, and on the device it is to train on) gets the last
    epoch's weights; ``optimizer`` is the run's class with its state (learning rate
    included: set ``param_groups[k]["lr"]`` to change it) on ``model``'s parameters;
    ``history`` holds the run's epochs and, where ``model.npz`` is the best epoch's, its
    weights, which ``fit`` restores at the end, and the settings the run's batches came
    from (``History.settings``, which ``fit`` checks; None in a checkpoint written before
    they were recorded: it resumes unchecked); ``initial_epoch`` is the last epoch done.

    Raises
    ------
    FileNotFoundError
        No ``last.npz`` in ``folder``.
    CheckpointError
        ``last.npz`` is not a run's checkpoint (no optimiser state or history), or is
        damaged (a ``fit_settings`` that is not a dict, for one).
    StateDictError
        Its weights do not fit ``model`` (another architecture or size).
    """
    path = pathlib.Path(folder) / "last.npz"
    if not path.is_file():
        raise FileNotFoundError(f"resume: no run to continue in {folder} (no last.npz); a "
                                "ModelCheckpoint callback writes it")
    return resume_from(load(path), folder, model)


def resume_from(ckpt, folder, model):
    """:func:`resume` from ``last.npz`` loaded already (``ckpt``, what ``nongate_np.load``
    gives), for a caller that read it first (the command line checks its options)."""
    from ..io import CheckpointError
    path = pathlib.Path(folder) / "last.npz"
    if ckpt.optimizer_state is None or "history" not in ckpt.extra:
        raise CheckpointError(f"{path}: not a run's last epoch (no optimiser state or "
                              "history); ModelCheckpoint writes one")
    settings = ckpt.extra.get("fit_settings")       # absent: written before it was kept
    if settings is not None and not isinstance(settings, dict):
        raise CheckpointError(f"{path}: fit_settings must be a dict of the run's settings, "
                              f"got {type(settings).__name__}")
    try:
        model.load_state_dict(ckpt.state_dict)
    except StateDictError as err:
        raise StateDictError(f"resume: {err}{_differences(ckpt.config.get('model'), model)}",
                             err.missing_keys, err.unexpected_keys,
                             err.shape_mismatches) from None
    optimizer = _rebuild_optimizer(str(path), ckpt.config["optimizer"], ckpt.optimizer_state,
                                   model)
    history = History(epochs=ckpt.extra["history"], best_epoch=ckpt.extra["best_epoch"],
                      best_value=ckpt.extra["best_value"],
                      scheduler_state=ckpt.extra.get("scheduler"), settings=settings)
    # NOTE: with no best epoch (no validation set) model.npz holds the last epoch, not
    #       weights to restore at the end; one of another epoch than the history's best
    #       (a run killed between the two saves) is not that epoch's either
    best = pathlib.Path(folder) / "model.npz"
    if history.best_epoch is not None and best.is_file():
        kept = load(best)
        if kept.extra.get("epoch") == history.best_epoch:
            history.best_state = kept.state_dict
    return optimizer, history, history.last["epoch"] if history.epochs else 0


def _differences(saved: dict | None, model) -> str:
    """"the run's model has hidden_size=32 where this one has 64", a line: the options of the
    saved model's config that differ from ``model``'s (empty if there is nothing to
    compare)."""
    theirs = (saved or {}).get("config") if isinstance(saved, dict) else None
    ours = model.config() if hasattr(model, "config") else None
    if not isinstance(theirs, dict) or not isinstance(ours, dict):
        return ""
    differ = [f"{k}={theirs[k]!r} where this one has {ours[k]!r}" for k in theirs
              if k in ours and theirs[k] != ours[k]]
    return "\nthe run's model has " + ", ".join(differ) if differ else ""


@contextlib.contextmanager
def _interrupt_deferred():
    """Hold a Ctrl-C (SIGINT) back until the block ends, then raise it. Only the main
    thread receives signals; elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught and callable(previous):
        previous(signal.SIGINT, None)        # Python's default raises KeyboardInterrupt
