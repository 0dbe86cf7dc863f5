"""``nongate-np train [text | ts FILE | csv FILE | npz FILE]``: the main job (text, the
default) or the user's own sequences."""

from __future__ import annotations

import argparse
import os
import pathlib

from . import CLIError, non_negative_int, one_character, positive

KINDS = ("text", "ts", "csv", "npz")
ATTENTION = ("additive", "gated", "weight_gated")
LR_SCHEDULES = ("constant", "plateau")

EPILOG = """\
kinds:
  text          the multi-task model on the standard library's own .py files (no file):
                next-character prediction at every step and which package a chunk comes
                from; held-out bits per character and package accuracy beside baselines
  ts FILE       a UCR/UEA .ts file (univariate or multivariate, any lengths, class labels)
  csv FILE      a long table: one row per step; --id-col, --order-col, --feature-cols,
                --label-cols choose the columns (each label column is one task:
                --label-cols label,energy:regression)
  npz FILE      arrays X (N, T, F), lengths (N,), one y_<task> per task, its kind read
                from its dtype (integers and strings: classes; floats: a regression)
                unless --task-kinds names it: --task-kinds year:regression

--out DIR receives model.npz (best epoch), last.npz (for --resume), metrics.jsonl (one
JSON object per epoch), summary.json (best epoch, validation and test metrics) and, with
matplotlib, curves.png and attention_<task>.png.

data parallel over MPI (mpi4py): mpiexec -n 2 nongate-np train ...
  each rank trains on its share of every batch; the weights equal one process's (to
  rounding); only rank 0 writes files and shows progress; an error on any rank ends the job.
"""


def _columns(text):
    return [c.strip() for c in text.split(",") if c.strip()]


def _named_kinds(text, *, kinds_needed: bool) -> tuple[list[str], dict[str, str]]:
    """``NAME[:KIND],...`` as --label-cols and --task-kinds write it: the names, and the
    kinds given. ArgumentTypeError for no names, an empty name, a KIND not in TASK_KINDS
    or, with ``kinds_needed``, a name without one."""
    from ..data import TASK_KINDS
    expected, example = ("NAME:KIND for each task", "year:regression") if kinds_needed \
        else ("NAME or NAME:KIND for each label column", "label,energy:regression")
    malformed = argparse.ArgumentTypeError(f"expected {expected}, KIND one of "
                                           f"{', '.join(TASK_KINDS)} (e.g. {example}), got "
                                           f"{text!r}")
    items = _columns(text)
    if not items:
        raise malformed
    names, kinds = [], {}
    for item in items:
        name, colon, kind = item.partition(":")
        name = name.strip()
        if not name or (kinds_needed and not colon):
            raise malformed
        if colon and kind not in TASK_KINDS:
            raise argparse.ArgumentTypeError(f"{item!r}: the kind after ':' must be one of "
                                             f"{', '.join(TASK_KINDS)}")
        names.append(name)
        if colon:
            kinds[name] = kind
    return names, kinds


def _labels(text) -> tuple[list[str], dict[str, str]]:
    """--label-cols: the columns, and the kinds given as NAME:KIND."""
    return _named_kinds(text, kinds_needed=False)


def _task_kinds(text) -> dict[str, str]:
    """--task-kinds: NAME:KIND for each task named, as --label-cols writes a kind."""
    return _named_kinds(text, kinds_needed=True)[1]


def add_parser(sub) -> None:
    from ..training.jobs import FILE_DEFAULTS, TEXT_DEFAULTS
    t = sub.add_parser("train", help="train a model (default: the main job on the standard "
                                     "library's text)",
                       description="Train the multi-task attention model.", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("kind", nargs="?", choices=KINDS, default="text", help="what to train on")
    t.add_argument("file", nargs="?", help="the training file (ts, csv, npz)")
    t.add_argument("--test", metavar="FILE", help="a test file in the same format: its "
                                                  "metrics go into summary.json")
    common = t.add_argument_group("every kind")
    common.add_argument("--out", metavar="DIR",
                        help="output folder (default runs/text, or runs/<the training file's "
                             "name without suffix>)")
    common.add_argument("--epochs", type=non_negative_int,
                        help=f"epochs (default {TEXT_DEFAULTS['epochs']} for text, "
                             f"{FILE_DEFAULTS['epochs']} for files; early stopping may end "
                             "sooner; 0 trains nothing: the initial weights are evaluated "
                             "and saved, a baseline)")
    common.add_argument("--seed", type=non_negative_int, default=0,
                        help="seeds the initial weights, the validation split and the "
                             "batches' order (default 0)")
    common.add_argument("--hidden-size", type=positive(int),
                        help=f"LSTM units (default {TEXT_DEFAULTS['hidden_size']} for text, "
                             f"{FILE_DEFAULTS['hidden_size']} for files)")
    common.add_argument("--attention", choices=ATTENTION, default="gated",
                        help="attention pooling kind (default gated)")
    common.add_argument("--batch-size", type=positive(int),
                        help=f"sequences per step (default {TEXT_DEFAULTS['batch_size']} for "
                             f"text, {FILE_DEFAULTS['batch_size']} for files)")
    common.add_argument("--lr", type=positive(float), help="Adam's learning rate "
                                                            "(default 3e-3)")
    common.add_argument("--lr-schedule", choices=LR_SCHEDULES, default="constant",
                        help="constant (default), or plateau: halve the learning rate after "
                             "half of --patience epochs (at least 1; 5 with --patience 0) "
                             "without a better validation loss")
    common.add_argument("--patience", type=non_negative_int,
                        help="stop after this many epochs without a better validation loss "
                             "(0: never stop early)")
    common.add_argument("--resume", action="store_true",
                        help="continue the run in --out (weights, optimizer state, history) "
                             "up to --epochs, with the same options; a new --lr applies from "
                             "there on")
    common.add_argument("--overwrite", action="store_true",
                        help="replace the earlier run in --out (without it, or --resume, a "
                             "folder holding a run is refused)")
    common.add_argument("--quiet", action="store_true", help="no progress bar")
    common.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="the model's floating-point type (default float32)")
    common.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where the model trains (default cpu; cuda needs numba-cuda "
                             "and a GPU: nongate-np info says whether one is usable)")
    text = t.add_argument_group("text")
    text.add_argument("--chunk-len", type=positive(int),
                      help="characters per chunk (default 128)")
    text.add_argument("--packages", type=_columns, help="comma-separated standard-library "
                                                        "packages (default: eight)")
    text.add_argument("--max-chunks", type=positive(int),
                      help="at most this many chunks per package and split (default 600)")
    table = t.add_argument_group("csv")
    table.add_argument("--id-col", help="sequence-id column (default id)")
    table.add_argument("--order-col", help="column to order the steps by (default: file "
                                           "order)")
    table.add_argument("--feature-cols", type=_columns,
                       help="comma-separated (default: every other numeric column; one that "
                            "looks like a step index or a per-sequence target gets a note)")
    table.add_argument("--delimiter", type=one_character, metavar="CHAR",
                       help="field separator, one character (default ,; \\t: a tab)")
    table.add_argument("--label-cols", type=_labels,
                       help="comma-separated; each is one task, a classification unless "
                            "written NAME:regression or NAME:tagging (default: a column "
                            "named label)")
    arrays = t.add_argument_group("npz")
    arrays.add_argument("--task-kinds", type=_task_kinds, metavar="NAME:KIND,...",
                        help="the kind of each y_<NAME> array named, where its dtype would "
                             "read it otherwise: integers are classes unless written "
                             "NAME:regression (a count, a year); floats are a regression")
    t.set_defaults(run=run, on_interrupt=_resume_hint)


def _options(args):
    from ..training.jobs import FILE_DEFAULTS, TEXT_DEFAULTS, TrainOptions
    defaults = TEXT_DEFAULTS if args.kind == "text" else FILE_DEFAULTS
    out = args.out or os.path.join("runs", args.kind if args.kind == "text"
                                   else pathlib.Path(args.file).stem)
    pick = {k: getattr(args, k) if getattr(args, k) is not None else defaults[k]
            for k in ("epochs", "hidden_size", "batch_size", "lr", "patience")}
    if args.resume and args.lr is None:
        pick["lr"] = None               # the run's own, from its optimizer state
    pick["patience"] = pick["patience"] or None
    return TrainOptions(out=out, seed=args.seed, attention=args.attention,
                        resume=args.resume, overwrite=args.overwrite, quiet=args.quiet,
                        device=args.device,
                        dtype=args.dtype, lr_schedule=args.lr_schedule, **pick)


def _check(args) -> None:
    if args.resume and args.overwrite:
        raise CLIError("--resume continues the run in --out and --overwrite replaces it: "
                       "give one")
    csv_only = [o for o in ("id_col", "order_col", "feature_cols", "label_cols", "delimiter")
                if getattr(args, o) is not None]
    if args.kind != "csv" and csv_only:
        raise CLIError(f"--{csv_only[0].replace('_', '-')} applies to train csv only")
    if args.kind != "npz" and args.task_kinds is not None:
        hint = "; csv: --label-cols NAME:KIND" if args.kind == "csv" else ""
        raise CLIError(f"--task-kinds applies to train npz only{hint}")
    if args.kind == "text":
        if args.file or args.test:
            raise CLIError("train text takes no file (it reads the standard library); for "
                           "your own data use train ts|csv|npz FILE")
        return
    text_only = [o for o in ("chunk_len", "packages", "max_chunks")
                 if getattr(args, o) is not None]
    if text_only:
        raise CLIError(f"--{text_only[0].replace('_', '-')} applies to train text only")
    if not args.file:
        raise CLIError(f"train {args.kind} needs a FILE (nongate-np train {args.kind} "
                       "TRAIN_FILE [--test TEST_FILE])")
    for path in filter(None, (args.file, args.test)):
        if not os.path.isfile(path):
            raise CLIError(f"no such file: {path}")
        suffix = pathlib.Path(path).suffix.lower()
        if suffix != "." + args.kind:
            hint = (f"for that file use train {suffix[1:]}" if suffix[1:] in KINDS[1:] else
                    "the files train reads are .ts, .csv and .npz")
            raise CLIError(f"train {args.kind} reads .{args.kind} files, got {path} "
                           f"({suffix or 'no suffix'}); {hint}")


def _resume_hint(args) -> str:
    """What an interrupted train leaves: where the finished epochs are, and how to go on."""
    try:
        out = _options(args).out
    except Exception:           # noqa: BLE001 - the hint must not hide the interrupt
        return ""
    if not os.path.isfile(os.path.join(out, "last.npz")):
        return ""
    return (f"; the finished epochs are in {out} (last.npz): run the same command with "
            f"--resume to go on from there")


def run(args) -> int:
    from ..distributed import abort_on_error, launched_by_mpi
    from ..training import jobs
    if launched_by_mpi():        # an error on any rank ends them all (the others would wait)
        try:
            abort_on_error()
        except ImportError as err:
            raise CLIError(f"started by an MPI launcher, so training data parallel: {err}") \
                from None
    _check(args)
    opts = _options(args)
    if os.path.exists(opts.out) and not os.path.isdir(opts.out):
        raise CLIError(f"--out {opts.out}: a file is there; expected a folder (created if "
                       "missing)")
    if args.kind == "text":
        summary = jobs.train_text(opts, packages=args.packages,
                                  chunk_len=args.chunk_len or 128,
                                  max_chunks_per_package=args.max_chunks or 600)
    else:
        loader_options = {}
        if args.kind == "csv":
            label_cols, kinds = args.label_cols or (None, {})
            loader_options = {"id_col": args.id_col or "id", "order_col": args.order_col,
                              "feature_cols": args.feature_cols, "label_cols": label_cols,
                              **({"task_kinds": kinds} if kinds else {}),
                              **({"delimiter": args.delimiter} if args.delimiter else {})}
        elif args.task_kinds:
            loader_options = {"task_kinds": args.task_kinds}
        summary = jobs.train_file(args.kind, args.file, opts, test_path=args.test,
                                  loader_options=loader_options)
    if summary.get("rank", 0) == 0:
        print(report(summary, opts.out))
    return 0


def report(summary: dict, out) -> str:
    """The lines printed at the end of a run."""
    best, initial, total = summary["best_epoch"], summary.get("initial_epoch", 0), \
        summary["epochs_run"]
    # NOTE: after --resume, the epochs of this run, which the time covers
    done = f"epochs {initial + 1}-{total}" if initial and total > initial else \
        f"{total - initial} epoch(s)"
    lines = [f"trained {done} in {summary['train_seconds']:.1f} s"
             + (f" (resumed after epoch {initial})" if initial else "")
             + (f"; best epoch {best}" if best is not None else "")
             + (" (stopped early)" if summary["stopped_early"] else "")]
    base = summary.get("baselines", {})
    for split in ("val", "test"):
        for task, metrics in summary.get(split, {}).items():
            if not isinstance(metrics, dict):
                continue
            parts = []
            for name, value in metrics.items():
                if name == "loss":
                    continue
                text = f"{name} {value:.4f}"
                ref = base.get(task, {}).get(name) if split == "test" else None
                if ref is not None:
                    text += f" (baseline {ref:.4f})"
                parts.append(text)
            lines.append(f"{split:>4} {task}: " + ", ".join(parts))
    if "val" not in summary.get("data", {}):
        lines.append(f"no validation split ({summary['data'].get('train', 0)} training "
                     f"sequence(s); 4 or more hold some out): no early stopping, and "
                     f"model.npz holds the last epoch")
    features = summary.get("data", {}).get("features")
    if features:
        lines.append(f"features per step: {', '.join(features)} (--feature-cols names "
                     f"them; --order-col orders the steps)")
    lines.append(f"files: {out}/model.npz, last.npz, metrics.jsonl, summary.json"
                 + ("".join(f", {os.path.basename(p)}" for p in summary["pictures"])))
    if not summary["pictures"]:
        from ..extras import install_hint
        lines.append(f"pictures: {install_hint('plot')} for training curves and attention "
                     "heatmaps")
    return "\n".join(lines)

