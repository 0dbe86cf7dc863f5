"""The training jobs behind ``nongate-np train``: build a model for a data set, fit it with
early stopping, and write what a run leaves in its output folder.

``--out DIR`` receives

==================  ========================================================================
file                holds
==================  ========================================================================
``model.npz``       the best epoch's model (``nongate_np.load``), with what the data needs
                    to be read again: ``extra["data"]`` (kind, classes, vocabulary, options)
``last.npz``        the last epoch's model, optimiser state and history: ``--resume``
``metrics.jsonl``   one JSON object per epoch (keys as :class:`~nongate_np.training.History`)
``summary.json``    best epoch, its validation metrics, ``"test"``: each task's metrics on the
                    test set (when one is given), the baselines, timings, the data
``*.png``           with matplotlib: ``curves.png`` and ``attention_<task>.png``
==================  ========================================================================
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from .. import rng
from ..data import IGNORE_INDEX, DataError, Standardizer, load_sequences, text
from ..data.errors import UnknownLabelError
from ..io import load, save
from ..io.atomic import write_text_atomically
from ..nn.multitask import MultiTaskSequenceModel
from ..optim import Adam
from ..optim.lr_scheduler import ReduceLROnPlateau
from .callbacks import JSONLines, ProgressBar
from .checkpoints import ModelCheckpoint, resume_from
from .loop import History, _data_digest, _resume_differences, _run_settings, evaluate, fit, predict

__all__ = ["TrainOptions", "TEXT_DEFAULTS", "FILE_DEFAULTS", "train_text", "train_file",
           "read_as_trained", "build_model", "run", "ResumeError"]


class ResumeError(ValueError):
    """``--resume`` found no run to continue, or one made with other data or options."""


@dataclass
class TrainOptions:
    """The options every ``train`` subcommand shares (``nongate-np train --help``)."""
    out: str = "runs/train"
    epochs: int = 10
    seed: int = 0
    batch_size: int = 32
    lr: float | None = 3e-3             # None with resume: the run's own
    hidden_size: int = 64
    embed_size: int = 32
    attn_size: int = 32
    attention: str = "gated"
    patience: int | None = 5
    resume: bool = False
    overwrite: bool = False             # replace an earlier run in ``out`` (else refused)
    quiet: bool = False
    device: str = "cpu"
    dtype: str = "float32"
    lr_schedule: str = "constant"       # or "plateau" (_scheduler)


def build_model(train, opts: TrainOptions, *, normalize_input: bool,
                normalize_targets: bool = False) -> MultiTaskSequenceModel:
    """A MultiTaskSequenceModel sized for ``train`` (tokens or features) and ``opts``; with
    ``normalize_targets`` (and a regression task), the regression targets' statistics set
    from ``train``'s."""
    rng.seed(opts.seed)
    inputs = ({"vocab_size": len(train.vocab)} if train.is_tokens
              else {"input_size": train.feature_size, "normalize_input": normalize_input})
    regression = [t["name"] for t in train.tasks if t["kind"] == "regression"]
    model = MultiTaskSequenceModel(train.model_tasks(), embed_size=opts.embed_size,
                                   hidden_size=opts.hidden_size, attn_size=opts.attn_size,
                                   attention=opts.attention, dtype=np.dtype(opts.dtype),
                                   normalize_targets=normalize_targets and bool(regression),
                                   **inputs)
    if normalize_targets:
        for name in regression:
            y = train.targets[name]                 # (N, k): as N sequences of one step
            # NOTE: the features' statistics: a constant column gets std 1, not its computed
            # std's rounding residue (1e-17 for 0.1s), which scaled its loss by 1e34
            scaler = Standardizer().fit(y[:, None, :], np.ones(len(y), np.int64))
            model.set_target_normalization(name, scaler.mean, scaler.std)
    return model


def _last_run(opts: TrainOptions):
    """The ``last.npz`` of the run that ``--resume`` continues, loaded; None without
    ``--resume``. ResumeError where there is none."""
    if not opts.resume:
        return None
    out = pathlib.Path(opts.out)
    if not (out / "last.npz").exists():
        raise ResumeError(f"--resume: no earlier run in {out} (no last.npz); drop --resume "
                          "to start one")
    return load(out / "last.npz")


#: keys of a data description that earlier versions did not record (the text job's
#: --max-chunks): a run without them is not refused for it
_RECORDED_LATER = ("max_chunks",)


#: how a ResumeError names a setting of History.settings
_SETTING_SHOWN = {"train_items": "sequences in the training split", "seed": "--seed",
                  "batch_size": "--batch-size",
                  "train_data": "digest of the training split's sequences, lengths and targets"}


def _resume(out: pathlib.Path, ckpt, model, data_meta: dict, opts: TrainOptions, train):
    """(optimizer, history, initial_epoch, note, lr) of the run in ``out``, whose
    ``last.npz`` is ``ckpt``, trained on ``train`` from here on; ``note`` says what changes
    from it (a new learning rate), or is empty; ``lr`` is the run's ``--lr`` from here on
    (its rate before any schedule)."""
    saved_data = ckpt.extra.get("data")
    if saved_data is not None:      # a run from before a key was recorded resumes as it was
        data_meta = {k: v for k, v in data_meta.items()
                     if k in saved_data or k not in _RECORDED_LATER}
    if saved_data != data_meta:
        changes = _data_changes(saved_data or {}, data_meta)
        raise ResumeError(f"--resume: the run in {out} was trained on other data or data "
                          f"options{f' ({changes})' if changes else ''}; use another --out, "
                          "or drop --resume")
    saved = ckpt.extra.get("options", {})
    # NOTE: --seed and --batch-size from the saved options, not the history's record that
    #       fit checks (History.settings): before the weights are loaded, and for runs saved
    #       before the history recorded them (the options always held them)
    for key in ("hidden_size", "embed_size", "attn_size", "attention", "seed", "batch_size",
                "dtype"):
        if saved.get(key) != getattr(opts, key):
            raise ResumeError(f"--resume: the run in {out} used --{key.replace('_', '-')} "
                              f"{saved.get(key)}, not {getattr(opts, key)}; resume with the "
                              f"run's --{key.replace('_', '-')}, or use another --out for "
                              f"a new run")
    schedule = saved.get("lr_schedule", "constant")     # not recorded before it existed
    if schedule != opts.lr_schedule:
        raise ResumeError(f"--resume: the run in {out} used --lr-schedule {schedule}, not "
                          f"{opts.lr_schedule}; resume with the same schedule")
    if schedule == "plateau" and saved.get("patience") != opts.patience:
        # the plateau's wait follows --patience, and its saved state keeps the run's
        raise ResumeError(f"--resume: the run in {out} used --patience "
                          f"{saved.get('patience') or 0} with --lr-schedule plateau, whose "
                          f"wait follows it; resume with --patience {saved.get('patience') or 0}")
    optimizer, history, initial = resume_from(ckpt, out, model)
    # what else fit would refuse (_check_resumed), named as the command line gives it: the
    # training split's size or contents, of a file changed under the same name and options
    # NOTE: fit digests the split again (_train_fingerprint: one pass, ~1 GB/s), a cost
    #       small beside reading the file
    differ = _resume_differences(history, _run_settings(train, opts.batch_size, opts.seed,
                                                        history))
    if differ:
        shown = "; ".join(f"{_SETTING_SHOWN.get(k, k)}: {_shown_setting(k, run)} at the start, "
                          f"{_shown_setting(k, now)} now" for k, run, now in differ)
        raise ResumeError(f"--resume: the run in {out} drew its batches from other data or "
                          f"options ({shown}); use another --out, or drop --resume")
    note = ""
    current = optimizer.param_groups[0]["lr"]
    # NOTE: against the run's --lr, not its current rate, which a schedule may have lowered
    lr = saved.get("lr", current)
    if opts.lr is not None and opts.lr != lr:
        # the one option a resumed run may change: to fine-tune at a lower rate
        note = f"learning rate {current} -> {opts.lr} from here on"
        lr = opts.lr
        for group in optimizer.param_groups:
            group["lr"] = lr
    if opts.epochs <= initial:
        raise ResumeError(f"--resume: the run in {out} has already trained {initial} "
                          f"epoch(s); give --epochs above {initial} to continue it")
    return optimizer, history, initial, note, lr


def _shown_setting(key: str, value) -> str:
    """A History.settings value as a ResumeError shows it: ``train_data``'s digest by its
    first 12 hex digits ("0f1e2d3c4b5a…"), the others as they are."""
    return f"{str(value)[:12]}…" if key == "train_data" else str(value)


def _data_changes(saved: dict, now: dict) -> str:
    """What differs between the data description a run started with (``saved``, from its
    ``last.npz``) and this command's (``now``): "--task-kinds: 'year:regression' at the
    start, none now" for each item, joined by "; "."""
    before, after = _as_given(saved), _as_given(now)
    return "; ".join(f"{item}: {before.get(item, 'none')} at the start, "
                     f"{after.get(item, 'none')} now"
                     for item in dict.fromkeys([*before, *after])
                     if before.get(item) != after.get(item))


def _as_given(meta: dict) -> dict[str, str]:
    """A data description (``extra["data"]``: train_file's or train_text's) as the data
    and options that give it, each value shown as the command line writes it."""
    options = dict(meta.get("options", {}))
    kinds = dict(options.pop("task_kinds", None) or {})
    if options.get("label_cols"):       # csv: the kinds are --label-cols NAME:KIND
        options["label_cols"] = [f"{c}:{kinds.pop(c)}" if c in kinds else c
                                 for c in options["label_cols"]]
    if kinds:
        options["task_kinds"] = [f"{name}:{kind}" for name, kind in kinds.items()]
    options.update({key: meta[key] for key in ("chunk_len", "packages", "max_chunks")
                    if key in meta})
    given = {"data kind": meta.get("kind"), "training file": meta.get("source"),
             **{f"--{key.replace('_', '-')}": value for key, value in options.items()}}
    shown = {item: _shown_value(value) for item, value in given.items()}
    if "chars" in meta:
        shown["vocabulary"] = f"{len(meta['chars'])} characters"
    if meta.get("tasks"):
        shown["tasks"] = ", ".join(map(_shown_task, meta["tasks"]))
    return shown


def _shown_value(value) -> str:
    """A value as the command line writes it: 'a,b' for a list, 'x' for a name, 128; none
    for an option not given."""
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    return repr(value) if isinstance(value, str) else str(value)


def _shown_task(task: dict) -> str:
    """'year (regression, 1 output)', 'kind (classification, 2 classes: cat, dog)'."""
    if task["kind"] == "regression":
        size = task.get("output_size", 1)
        return f"{task['name']} (regression, {size} output{'s' if size != 1 else ''})"
    classes = list(map(str, task.get("classes", [])))
    n = len(classes)
    return (f"{task['name']} ({task['kind']}, {n} class{'es' if n != 1 else ''}: "
            f"{', '.join(classes[:6])}{', ...' if n > 6 else ''})")


def read_as_trained(checkpoint, path, input_size: int | None = None, *, labels: bool = True,
                    delimiter: str | None = None):
    """The sequences in ``path`` read as a ``nongate-np train`` run read its training data,
    for its model: the same loader, loader options (columns, delimiter, task kinds) and
    class labels, or for a text model its vocabulary. A SequenceDataset for ``predict``,
    ``evaluate`` or ``encode``.

    ``checkpoint`` is the run's ``model.npz`` (a path or what ``nongate_np.load`` gives), or
    its ``extra["data"]``; ``input_size``, the features per step the model reads (taken from
    the checkpoint's model when not given). Without ``labels`` a file's labels are its own,
    not mapped to the model's classes: one the model never saw is no error; a table's label
    columns are not read, so a table without them (an application's input) is read too.
    ``delimiter`` is a csv table's field separator (default None: the training file's).

    Raises DataError (``nongate_np.data``) for a missing file, a folder (but for a text
    model, which reads one), a file of another kind than the training data's, or another
    count of features; UnknownLabelError (a DataError) with ``labels`` for a label the
    model's classes lack or a table without its label columns, saying ``labels=False``;
    ValueError for a checkpoint that ``nongate-np train`` did not write, or a ``delimiter``
    for a model that reads no csv tables.
    """
    meta = checkpoint
    if not isinstance(checkpoint, dict):
        ckpt = load(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
        meta = ckpt.extra.get("data")
        if input_size is None and ckpt.model is not None:
            input_size = getattr(ckpt.model, "input_size", None)
    if not isinstance(meta, dict) or "kind" not in meta:
        # NOTE: its loader options (columns, order, kinds) are nowhere: a guess could read
        #       another table than the training file's without a word
        what = os.fspath(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else \
            "the checkpoint"
        raise ValueError(f"read_as_trained: {what} was not written by nongate-np train (it has "
                         f"no data description, extra['data']); read the file as the training "
                         f"file was, with the model's classes: load_sequences(path, "
                         f"**the_loader_options, classes={{t['name']: t['classes'] for t in "
                         f"model.tasks if 'classes' in t}})")
    if delimiter is not None and meta["kind"] != "csv":
        raise ValueError(f"read_as_trained: delimiter={delimiter!r} applies to csv input "
                         f"only; the model reads {_reads(meta['kind'])}")
    path = os.fspath(path)
    if meta["kind"] == "text":
        suffix = os.path.splitext(path)[1].lower()
        if suffix in (".ts", ".csv", ".npz"):
            raise DataError(f"{path}: the model was trained on text (Python source), not on "
                            f"{suffix} sequences; give it a text file or folder")
        return text.text_files([path], text.CharVocab(tuple(meta["chars"])),
                               chunk_len=meta["chunk_len"])
    if os.path.isdir(path):
        raise DataError(f"{path} is a folder; the model reads one .{meta['kind']} file")
    if not os.path.isfile(path):
        raise DataError(f"no such file: {path}")
    suffix = os.path.splitext(path)[1].lower()
    if suffix != "." + meta["kind"]:
        raise DataError(f"{path}: the model reads .{meta['kind']} files (it was trained by "
                        f"nongate-np train {meta['kind']}), got {suffix or 'no suffix'!r}")
    classes = {t["name"]: t["classes"] for t in meta["tasks"] if t.get("classes")}
    options = dict(meta.get("options", {}))
    if delimiter is not None:
        options["delimiter"] = delimiter
    if not labels and meta["kind"] == "csv":
        options.update(label_cols=[], task_kinds=None)
    try:
        data = load_sequences(path, classes=classes if labels else None, **options)
    except UnknownLabelError as err:     # most often an application's input: no labels
        raise UnknownLabelError(f"{err}; to read the sequences without scoring labels (for "
                                f"predict or encode), pass labels=False") from None
    if input_size is not None and data.feature_size != input_size:
        raise DataError(f"{path}: {data.feature_size} feature(s) per step, but the model was "
                        f"trained on {input_size}")
    return data


def _reads(kind: str) -> str:
    """What a model trained on data of ``kind`` reads: "text", ".ts files"."""
    return "text" if kind == "text" else f".{kind} files"


def _nested(flat: dict) -> dict:
    """``{"package/accuracy": 0.9, "loss": 1.2}`` -> ``{"package": {"accuracy": 0.9},
    "loss": 1.2}``."""
    out: dict = {}
    for key, value in flat.items():
        if "/" in key:
            task, metric = key.split("/", 1)
            out.setdefault(task, {})[metric] = value
        else:
            out[key] = value
    return out


def run(model, train, val, test, opts: TrainOptions, data_meta: dict, *,
        baselines: dict | None = None, data_info: dict | None = None, token_text=None,
        stream=None, intro: str = "", notes: str = "", last=None) -> dict:
    """Fit ``model`` and write the run's files into ``opts.out``; return the summary.

    ``token_text(dataset, i)`` gives the per-step labels of sequence i for the attention
    pictures (characters for text); ``baselines`` go into the summary as given, and
    ``data_info`` beside the split sizes under ``"data"``; ``intro`` is shown before the
    first epoch (what the data was read as), unless ``opts.quiet``; ``notes`` after it, a
    line each (what the data holds that the user should know), ``opts.quiet`` too. With
    ``opts.resume``
    the run in ``opts.out`` goes on from its ``last.npz``: ``last``, where the caller loaded
    it already (:func:`train_file`, whose model depends on it), else read here.

    Started by an MPI launcher (``mpiexec -n N``) with more than one rank, it trains data
    parallel (``nongate_np.distributed``): every rank runs this with the same data and
    options, and only rank 0 writes files and shows progress; the others return the same
    summary with ``"pictures"`` empty.
    """
    model.to(opts.device)               # before the optimizer: its state follows anyway
    out = pathlib.Path(opts.out)
    note = ""
    if opts.resume:
        optimizer, history, initial, note, lr = _resume(
            out, _last_run(opts) if last is None else last, model, data_meta, opts, train)
    else:
        optimizer, history, initial = Adam(model.parameters(), lr=opts.lr), None, 0
        lr = optimizer.param_groups[0]["lr"]
    opts = replace(opts, lr=lr)                 # as last.npz records it
    if opts.lr_schedule == "plateau" and (val is None or not len(val)):
        raise ValueError("--lr-schedule plateau follows the validation loss, and this data "
                         "gives no validation split; use --lr-schedule constant")
    dp = _data_parallel(model, opts)
    clash = _earlier_run(out, opts) if dp is None or dp.is_root else None   # root writes
    if dp is not None:
        _agree_on_test(dp, test, clash)
    elif clash is not None:
        raise clash
    if dp is not None and not dp.is_root:
        return _follow(model, train, val, test, opts, optimizer, history, initial, dp)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:              # the user named the folder: say which option
        raise type(err)(err.errno, f"--out {out}: cannot make the run's folder "
                                   f"({err.strerror})") from None
    stream = sys.stderr if stream is None else stream
    if intro and not opts.quiet:
        stream.write(intro)
    stream.write(notes)
    if note:                             # --quiet too: it changes what the run does
        stream.write(f"--resume: {note}\n")
    callbacks = [JSONLines(out / "metrics.jsonl",
                           records=history.epochs if history is not None else None),
                 ModelCheckpoint(out, extra={"data": data_meta, "options": asdict(opts)})]
    if not opts.quiet:
        show = ["val/loss", *(f"val/{t['name']}/bits_per_token" for t in model.tasks
                              if t["kind"] == "tagging"),
                *(f"val/{t['name']}/accuracy" for t in model.tasks
                  if t["kind"] == "classification"),
                *(f"val/{t['name']}/mae" for t in model.tasks if t["kind"] == "regression")]
        callbacks.insert(0, ProgressBar(opts.epochs, stream=stream, show=show))
    start = time.perf_counter()
    history = _fit(model, train, val, opts, optimizer, history, initial, dp, callbacks)
    if history.best_epoch is None:       # nothing trained or nothing monitored: keep as is
        save(model, out / "model.npz", extra={"data": data_meta, "epoch": initial,
                                              "metrics": history.last})
    summary = {"best_epoch": history.best_epoch, "epochs_run": len(history.epochs),
               "stopped_early": history.stopped_early,
               "train_seconds": time.perf_counter() - start, "device": opts.device,
               "val": _nested({k[4:]: v for k, v in history.best.items()
                               if k.startswith("val/")}),
               "baselines": baselines or {},
               "data": {**_describe(train, val, test), **(data_info or {})}}
    if test is not None and len(test):
        summary["test"] = _nested(evaluate(model, test, data_parallel=dp))
    write_text_atomically(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    summary["pictures"] = _pictures(out, model, history, test if test is not None else val,
                                    token_text)
    summary["initial_epoch"] = initial          # not in summary.json: as if run at once
    return summary


def _fit(model, train, val, opts, optimizer, history, initial, dp, callbacks=()) -> History:
    return fit(model, train, val, epochs=opts.epochs, batch_size=opts.batch_size,
               optimizer=optimizer, patience=opts.patience, seed=opts.seed,
               callbacks=callbacks, initial_epoch=initial, history=history,
               data_parallel=dp, scheduler=_scheduler(optimizer, opts))


def _scheduler(optimizer, opts: TrainOptions):
    """The schedule of ``--lr-schedule`` on ``optimizer``: None for "constant"; for
    "plateau" the rate halved at the end of every run of half the early-stopping patience
    (at least 1 epoch; 5 without early stopping) epochs without a better validation loss.
    A resumed run's goes on from its saved state (``fit``)."""
    if opts.lr_schedule == "constant":
        return None
    if opts.lr_schedule != "plateau":
        raise ValueError(f"TrainOptions.lr_schedule must be 'constant' or 'plateau', got "
                         f"{opts.lr_schedule!r}")
    waits = max(1, opts.patience // 2) if opts.patience else 5
    # torch's patience counts the epochs without a better value that it lets pass
    return ReduceLROnPlateau(optimizer, factor=0.5, patience=waits - 1)


def _data_parallel(model, opts: TrainOptions):
    """A DataParallel over MPI's ranks when an MPI launcher started more than one, else
    None."""
    from ..distributed import DataParallel, launched_by_mpi
    if not launched_by_mpi():
        return None
    dp = DataParallel(model) if opts.device == "cpu" else None
    if dp is None:
        raise ValueError(f"train under MPI runs on the CPU only, got --device {opts.device}")
    return dp if dp.world_size > 1 else None


def _agree_on_test(dp, test, error: Exception | None = None) -> None:
    """ValueError on every rank unless every rank holds the same test split, checked before
    training (fit checks the others): its evaluation at the end is collective, so a rank
    without one would leave the others waiting forever, and one with other data would fail
    them all after the training. ``error``: this rank's own refusal (the root's
    :func:`_earlier_run`), raised on every rank."""
    from ..distributed import _digest
    dp.check_agreement("train", {"test items": 0 if test is None else len(test),
                                 "test data (x, lengths, targets)": _data_digest(_digest, test)},
                       hint="every rank must run the same command line, with the same "
                            "--test file", error=error)


#: the files a run writes into its folder (the attention pictures: attention_<task>.png)
_RUN_FILES = ("model.npz", "last.npz", "metrics.jsonl", "summary.json", "curves.png")


def _earlier_run(out: pathlib.Path, opts: TrainOptions) -> Exception | None:
    """A FileExistsError where ``out`` holds an earlier run and ``opts`` neither resumes
    nor overwrites it (a new run would replace its files without a word); with
    ``overwrite``, the earlier run's files removed, so that none is left beside the new
    run's. None where the run may go on."""
    found = [f for f in _RUN_FILES if (out / f).is_file()] + sorted(
        p.name for p in out.glob("attention_*.png"))           # none where out is missing
    if not found or opts.resume:
        return None
    if not opts.overwrite:
        epochs = ""
        if (out / "metrics.jsonl").is_file():
            epochs = f", {len((out / 'metrics.jsonl').read_text().splitlines())} epoch(s)"
        return FileExistsError(f"--out {out} holds an earlier run ({', '.join(found[:3])}"
                               f"{', ...' if len(found) > 3 else ''}{epochs}); --resume "
                               "continues it, --overwrite replaces it, or give another --out")
    for name in found:
        (out / name).unlink()
    return None


def _follow(model, train, val, test, opts, optimizer, history, initial, dp) -> dict:
    """A rank other than 0 under MPI: the same training and collectives as rank 0, no
    files."""
    history = _fit(model, train, val, opts, optimizer, history, initial, dp)
    summary = {"best_epoch": history.best_epoch, "epochs_run": len(history.epochs),
               "stopped_early": history.stopped_early, "pictures": [], "rank": dp.rank,
               "initial_epoch": initial}
    if test is not None and len(test):
        summary["test"] = _nested(evaluate(model, test, data_parallel=dp))
    return summary


def _describe(*splits) -> dict:
    names = ("train", "val", "test")
    return {name: len(d) for name, d in zip(names, splits) if d is not None}


def _pictures(out: pathlib.Path, model, history, data, token_text) -> list[str]:
    """Training curves, and each pooled task's attention over four held-out sequences taken
    across the split (so across the classes, which are stored in order); an empty list
    without matplotlib (the CLI prints how to get it)."""
    from . import plot
    if not plot.matplotlib_available():
        return []
    written = []
    if history.epochs:
        written.append(plot.plot_history(history.epochs, out / "curves.png"))
    if data is not None and len(data) and model.pool is not None:
        rows = np.unique(np.linspace(0, len(data) - 1, min(4, len(data))).astype(int))
        sub = data.subset(rows)
        pred = predict(model, sub, attention=True)
        tokens = None if token_text is None else [token_text(sub, i) for i in range(len(sub))]
        for task in model.tasks:
            name = task["name"]
            if name not in pred["attention"]:
                continue
            written.append(plot.plot_attention(
                pred["attention"][name], out / f"attention_{name}.png", lengths=sub.lengths,
                tokens=tokens, task=name,
                titles=_titles(task, pred[name], sub) if task["kind"] == "classification"
                else None))
    return [os.fspath(p) for p in written]


def _titles(task: dict, predicted: np.ndarray, data) -> list[str]:
    """"true X, predicted Y" per sequence of a classification task."""
    names = next((t.get("classes") for t in data.tasks if t["name"] == task["name"]), None)
    names = names or [str(k) for k in range(task["num_classes"])]
    true = data.targets.get(task["name"])
    return [(f"true {names[true[i]]}, " if true is not None else "")
            + f"predicted {names[predicted[i]]}" for i in range(len(predicted))]


# -- the jobs --------------------------------------------------------------------------------
TEXT_DEFAULTS = dict(epochs=4, hidden_size=128, batch_size=32, lr=3e-3, patience=3)
FILE_DEFAULTS = dict(epochs=150, hidden_size=64, batch_size=8, lr=3e-3, patience=30)


def train_text(opts: TrainOptions, *, packages=None, chunk_len: int = 128,
               max_chunks_per_package: int | None = 600, val_chunks: int = 120,
               stream=None) -> dict:
    """The main job: the multi-task model on the standard library's own source text.

    Tasks ``next_char`` (tagging) and ``package`` (classification) over chunks of
    ``chunk_len`` characters (:func:`nongate_np.data.text.stdlib_corpus`); the summary holds
    the held-out bits per character and package accuracy beside the unigram and
    majority-class baselines.
    """
    corpus = text.stdlib_corpus(packages or text.DEFAULT_PACKAGES, chunk_len=chunk_len,
                                max_chunks_per_package=max_chunks_per_package,
                                seed=opts.seed)
    val = corpus.val.subset(np.random.default_rng(opts.seed).permutation(
        len(corpus.val))[:val_chunks * len(corpus.packages)]) if val_chunks else corpus.val
    meta = {"kind": "text", "chunk_len": chunk_len, "chars": list(corpus.vocab.chars),
            "packages": list(corpus.packages), "max_chunks": max_chunks_per_package}
    baselines = {"next_char": {"bits_per_token": text.unigram_bits_per_char(corpus.train,
                                                                            corpus.test),
                               "model": "unigram character frequencies of the training files"},
                 "package": {"accuracy": text.majority_accuracy(corpus.train, corpus.test),
                             "model": "the training set's most frequent package"}}
    model = build_model(corpus.train, opts, normalize_input=False)
    tokens = corpus.vocab.tokens()
    return run(model, corpus.train, val, corpus.test, opts, meta, baselines=baselines,
               data_info={"packages": list(corpus.packages), "root": corpus.root,
                          "files": corpus.files},
               token_text=lambda d, i: [tokens[t] for t in d.x[i, :d.lengths[i]]],
               stream=stream)


_LABEL_HINT = {"ts": "class labels (a '@classLabel true ...' header and a label after each "
                     "series)",
               "csv": "a label column (--label-cols NAME, default: a column named 'label')",
               "npz": "at least one y_<task> array"}


def _check_test(path, data, test_path, test) -> None:
    """DataError, before any epoch, when the model of the training file ``path`` could not
    be scored on the test file: another count of features per step, a task the training
    file does not have (a renamed ``y_`` array), a task of the same name but another kind
    (an ``.npz`` target of integers where the training file's were floats), or a
    regression of another output_size (an ``.npz`` target (N, 2) where the training file's
    was (N,)). Found after the run, it lost the run's test metrics."""
    if test.feature_size != data.feature_size:
        raise DataError(f"{test_path}: {test.feature_size} feature(s) per step, but the "
                        f"training file {path} has {data.feature_size}; --test needs a file "
                        f"with the training file's features")
    trained = {t["name"]: t for t in data.tasks}
    for task in test.tasks:
        if task["name"] not in trained:     # a renamed array: its targets never scored
            raise DataError(f"{test_path}: task {task['name']!r} is not one of the training "
                            f"file's tasks {list(trained)} ({path}); --test needs the "
                            f"training file's task names")
        kind = trained[task["name"]]["kind"]
        if kind != task["kind"]:
            hint = f" (.npz: --task-kinds {task['name']}:{kind} reads both so)" if (
                str(test_path).lower().endswith(".npz")) else ""
            raise DataError(f"{test_path}: task {task['name']!r} is read as {task['kind']}, "
                            f"but the training file {path} has it as {kind}; --test needs "
                            f"its targets of the same kind{hint}")
        size = trained[task["name"]].get("output_size")
        if kind == "regression" and size != task.get("output_size"):
            raise DataError(f"{test_path}: task {task['name']!r} has "
                            f"{task.get('output_size')} value(s) per sequence, but the "
                            f"training file {path} has {size}; --test needs its targets of "
                            f"the same width")


def _normalizes_targets(last) -> bool:
    """Whether the run standardises its regression targets: a new one (``last`` None)
    does; one resumed from a version that did not, goes on without (its ``last.npz``,
    ``last``, has no statistics)."""
    if last is None:
        return True
    return bool(getattr(last.model, "_config", {}).get("normalize_targets", True))


def train_file(kind: str, path, opts: TrainOptions, *, test_path=None, val_fraction=0.2,
               loader_options: dict | None = None, stream=None) -> dict:
    """Train on the user's own sequences: ``kind`` "ts", "csv" or "npz" (see
    :mod:`nongate_np.data`). Features, and regression targets, are standardised with the
    training split's statistics (kept in the model: predictions are in the targets'
    units); a stratified ``val_fraction`` of the training file is held out for early
    stopping; ``test_path`` (same format) gives the summary's test metrics. A
    test file with another count of features, or a task of another kind, is a DataError
    before the first epoch, as is a ``loader_options["task_kinds"]`` entry for a task the
    training file does not have (``--task-kinds``)."""
    loader_options = dict(loader_options or {})
    data = load_sequences(path, **loader_options)
    notes = _column_notes(path, data, loader_options) if kind == "csv" else ""
    # the columns read: a test file, predict and encode then read them by name
    if data.feature_names is not None:
        loader_options["feature_cols"] = data.feature_names
    if not data.tasks:
        raise DataError(f"{path}: no labels to learn; a training file needs "
                        f"{_LABEL_HINT[kind]}")
    # NOTE: a loader ignores a kind for a task its file lacks (an unlabelled file read as
    #       the training one was); the training file lacking it is a misspelt name
    named = sorted(set(loader_options.get("task_kinds") or {}) - {t["name"] for t in data.tasks})
    if named:
        raise DataError(f"{path}: task_kinds (--task-kinds) names {named}, but the file's "
                        f"tasks are {[t['name'] for t in data.tasks]}")
    classes = {t["name"]: t["classes"] for t in data.tasks if "classes" in t}
    test = load_sequences(test_path, classes=classes, **loader_options) \
        if test_path is not None else None
    if test is not None:
        _check_test(path, data, test_path, test)
    stratify = next((t["name"] for t in data.tasks if t["kind"] == "classification"), None)
    train, val = data.split(val_fraction, seed=opts.seed, stratify=stratify) \
        if len(data) >= 4 and val_fraction > 0 else (data, None)
    last = _last_run(opts)              # read once: it decides the model, then resumes it
    model = build_model(train, opts, normalize_input=not train.is_tokens,
                        normalize_targets=_normalizes_targets(last))
    if not train.is_tokens:
        scaler = Standardizer().fit(train.x, train.lengths)
        model.set_input_normalization(scaler.mean, scaler.std)
    meta = {"kind": kind, "source": os.path.basename(os.fspath(path)),
            "tasks": data.tasks, "options": loader_options}
    info = {} if data.feature_names is None else {"features": data.feature_names}
    # NOTE: before the first epoch, so that a column read as a feature or a task of the
    # wrong kind shows at once, not after the run
    intro = "".join(f"{split}: {d.describe()}\n" for split, d in (("train", data),
                                                                  ("test", test)) if d)
    return run(model, train, val, test, opts, meta, data_info=info, stream=stream,
               intro=intro, notes=notes + _one_class_notes(path, data), last=last)


def _column_notes(path, data, options: dict) -> str:
    """A note for each feature column of a csv file that the loader chose itself (no
    ``feature_cols``) and that looks like something else: a step index (no ``order_col``),
    or a per-sequence target. Not an error: the run trains on it (it said nothing)."""
    if options.get("feature_cols") is not None or data.feature_names is None:
        return ""
    lengths = np.asarray(data.lengths)
    # NOTE: a pattern shows only in sequences of several steps, and only in several of them
    if np.count_nonzero(lengths >= 2) < 2 or lengths.max() < 3:
        return ""
    x = np.asarray(data.x, dtype=np.float64)
    inside = (np.arange(x.shape[1]) < lengths[:, None])[..., None]      # (N, T, 1)
    notes = ""
    if options.get("order_col") is None:
        index, first, step = _step_index(x, inside)
        for k in np.flatnonzero(index):
            name = data.feature_names[k]
            steps = ", ".join(f"{first[k] + i * step[k]:g}" for i in range(3))
            ordered = np.all((np.diff(x[:, :, k], axis=1) > 0) | ~inside[:, 1:, 0])
            notes += (f"note: {path}: column {name!r} counts {steps}, ... within each "
                      f"sequence{'' if ordered else ' (the rows not in its order)'}: it "
                      f"looks like a step index, read here as a feature; --order-col "
                      f"{name} orders the steps by it instead\n")
    for k in np.flatnonzero(_per_sequence(x, inside)):
        name = data.feature_names[k]
        labels = ",".join([t["name"] + ("" if t["kind"] == "classification" else
                                        f":{t['kind']}") for t in data.tasks]
                          + [f"{name}:regression"])
        notes += (f"note: {path}: column {name!r} is constant within each sequence and "
                  f"varies across them: a per-sequence target? read here as a feature; "
                  f"--label-cols {labels} learns it as a task instead\n")
    return notes


def _step_index(x, inside) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(F,) bool: the feature's values in every sequence, sorted, are first, first + d,
    first + 2d, ... with the same first and the same d > 0 in all: a step counter, or a
    time from a common start; and (F,) each feature's first and d."""
    ordered = np.sort(np.where(inside, x, np.inf), axis=1)       # padding sorts last
    first = ordered[:, :1, :]                                    # (N, 1, F)
    step = ordered[:, 1, :] - first[:, 0, :]                     # inf where one step only
    d0 = np.where(np.isfinite(step), step, 0.0).max(axis=0)      # (F,); sorted: >= 0
    t = np.arange(x.shape[1])[None, :, None]
    want = first[:1] + t * d0                                    # sequence 0's start for all
    same = np.isclose(ordered, want, rtol=1e-9, atol=1e-9 * np.abs(d0)) | ~inside
    return (d0 > 0) & same.all(axis=(0, 1)), first[0, 0], d0


def _per_sequence(x, inside) -> np.ndarray:
    """(F,) bool: the feature is one value throughout each sequence, not the same one in
    all, and not a whole number in some (integers: perhaps a class or an id)."""
    first = x[:, :1, :]
    constant = ((x == first) | ~inside).all(axis=(0, 1))
    varies = np.ptp(first[:, 0, :], axis=0) > 0
    fractional = (first[:, 0, :] != np.round(first[:, 0, :])).any(axis=0)
    return constant & varies & fractional


def _one_class_notes(path, data) -> str:
    """A note for each task of classes that holds one class only in the training file
    ``path`` (``data``): not an error, as ``classes=`` may add others later, but it trains
    to predict that class always and scores an accuracy of 1 (it said nothing)."""
    notes = ""
    for task in data.tasks:
        if task["kind"] == "regression":
            continue
        y = data.targets[task["name"]]
        present = np.unique(y[y != IGNORE_INDEX])
        if len(present) == 1:
            notes += (f"note: {path}: task {task['name']!r} has one class only, "
                      f"{task['classes'][present[0]]!r}: the model learns to predict it "
                      f"always, and its accuracy of 1 says nothing\n")
    return notes
