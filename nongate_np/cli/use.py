"""``nongate-np encode | predict | sample``: use a checkpoint written by ``nongate-np train``.

The checkpoint says how its input is read (``extra["data"]``: the kind, the classes, the
vocabulary, the loader's options), so INPUT is read exactly as the training data was: a
``.py``/text file or folder for a text model, a ``.ts``/``.csv``/``.npz`` file otherwise.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import os
import sys

import numpy as np

from ..dask import _existing_shards, _listing
from ..extras import install_hint
from . import CLIError, non_negative_int, one_character, positive

#: Sequences per encode call, with or without Dask: the same batches give the same bits
ENCODE_BATCH = 256


def add_parsers(sub) -> None:
    e = sub.add_parser("encode", help="turn sequences into vectors (one per sequence-level "
                                      "task) with a trained model")
    e.add_argument("checkpoint", help="model.npz written by nongate-np train")
    e.add_argument("input", help="sequences in the format the model was trained on")
    e.add_argument("--out", required=True, metavar="EMB.npy",
                   help="the .npy file to write the (N, tasks, D) float array to (.npy "
                        "is added to a name without it); with Dask, a name not ending in "
                        ".npy is a folder of .npy shards and index.json; never the "
                        "checkpoint or INPUT")
    _overwrite_option(e, "an existing .npy file, or the shards and index.json in an --out "
                         "folder")
    _input_options(e)
    dask = e.add_mutually_exclusive_group()
    dask.add_argument("--dask-scheduler", metavar="ADDRESS",
                      help="encode on this Dask cluster (tcp://host:8786; pip install "
                           "'dask[distributed]'); the same bits as one process with the "
                           "workers' kernel thread count (NUMBA_NUM_THREADS), else equal "
                           "to float rounding")
    dask.add_argument("--workers", type=positive(int), metavar="N",
                      help="encode on a local Dask cluster of N worker processes, each "
                           "with the cores / N kernel threads")
    e.set_defaults(run=encode)

    p = sub.add_parser("predict", help="per-task predictions of a trained model")
    p.add_argument("checkpoint", help="model.npz written by nongate-np train")
    p.add_argument("input", help="sequences in the format the model was trained on")
    p.add_argument("--out", metavar="PRED.csv",
                   help="write a CSV (id, then per task its prediction and, for a "
                        "classification task, <task>_probability) instead of printing "
                        "every row; with labels in INPUT, each task's metrics (accuracy, "
                        "mae) go to stderr either way; never the checkpoint or INPUT")
    _overwrite_option(p, "an existing PRED.csv")
    _input_options(p)
    p.set_defaults(run=predict)

    s = sub.add_parser("sample", help="generate text from a model trained by nongate-np "
                                      "train (text)")
    s.add_argument("checkpoint", help="model.npz of a text run")
    s.add_argument("--prompt", default="def ", help="the text to continue (default 'def ')")
    s.add_argument("--length", type=non_negative_int, default=400,
                   help="characters to generate (default 400)")
    s.add_argument("--temperature", type=positive(float), default=0.7,
                   help="> 0; lower is more conservative (default 0.7)")
    s.add_argument("--seed", type=int, default=0,
                   help="seeds the sampling (default 0)")
    s.set_defaults(run=sample)


def _overwrite_option(parser, what: str) -> None:
    parser.add_argument("--overwrite", action="store_true",
                        help=f"replace {what} (without it, an existing one is refused before "
                             f"anything is read)")


def _input_options(parser) -> None:
    parser.add_argument("--delimiter", type=one_character, metavar="CHAR",
                        help="a csv INPUT's field separator (default: the training file's)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where the model runs (default cpu; cuda needs numba-cuda and "
                             "a GPU: nongate-np info says whether one is usable)")


def _read_input(args, meta, model, *, labels: bool = True):
    """INPUT read as the model's training data was (read_as_trained), with --delimiter."""
    from ..training import read_as_trained
    from ..training.jobs import _reads
    if args.delimiter is not None and meta["kind"] != "csv":
        raise CLIError(f"--delimiter applies to csv input only; {args.checkpoint} reads "
                       f"{_reads(meta['kind'])}")
    return read_as_trained(meta, args.input, model.input_size, labels=labels,
                           delimiter=args.delimiter)


#: Each command's Python counterpart, for a checkpoint that nongate-np train did not write
_PYTHON_API = {
    "encode": "ng.load(path).model.encode(x, lengths)",
    "predict": "from nongate_np.training import predict; predict(ng.load(path).model, x, "
               "lengths)",
    "sample": "from nongate_np.training import sample_text; "
              "sample_text(ng.load(path).model, vocab, prompt)",
}


def _load(path, command: str):
    """The model of the checkpoint at ``path`` (in eval mode) and its data description; a
    CLIError where there is none, naming ``command``'s Python counterpart."""
    from ..io import load
    if os.path.isdir(path):             # the run's --out folder, most likely
        inside = os.path.join(path, "model.npz")
        hint = f"; its model is {inside}" if os.path.isfile(inside) else \
            "; give the model.npz that nongate-np train wrote"
        raise CLIError(f"{path} is a folder, not a checkpoint{hint}")
    if not os.path.isfile(path):
        raise CLIError(f"no such checkpoint: {path}")
    ckpt = load(path)
    meta = ckpt.extra.get("data")
    if ckpt.model is None or not isinstance(meta, dict) or "kind" not in meta:
        raise CLIError(f"{path} was not written by nongate-np train (it has no data "
                       f"description); use the Python API: {_PYTHON_API[command]}")
    return ckpt.model.eval(), meta


def _same_file(a, b) -> bool:
    """Whether ``a`` and ``b`` name one existing file or folder: the same path spelt
    another way, a symbolic or a hard link."""
    try:
        return os.path.samefile(a, b)
    except OSError:                     # either is missing: nothing there to lose
        return False


def _check_out(args, written: str) -> None:
    """A CLIError where ``--out`` (or ``written``, the file it becomes) is the checkpoint or
    INPUT, --overwrite or not, or an existing file without --overwrite. Called before the
    checkpoint is loaded: the work before the write can be long."""
    for path, what in ((args.checkpoint, "the checkpoint"), (args.input, "INPUT")):
        for name in dict.fromkeys((args.out, written)):
            if _same_file(name, path):
                also = "" if name == args.out else f" ({name})"
                raise CLIError(f"--out {args.out}{also} is {what} {path}; the output never "
                               f"replaces a file it reads, --overwrite or not: give another "
                               f"name")
    if os.path.isfile(written) and not args.overwrite:
        raise CLIError(f"--out {args.out}: {written} exists; give --overwrite to replace "
                       f"it, or another name")


def _check_shard_folder(args) -> None:
    """A CLIError where encode's folder of shards (``--out`` without .npy, with Dask) is a
    file, or holds shards and index.json and --overwrite is not given: what write_shards
    refuses (the files it looks for are its own, ``_existing_shards``), said before the
    model is loaded and INPUT encoded."""
    out = args.out
    try:
        found = _existing_shards(out)
    except NotADirectoryError:
        raise CLIError(f"--out {out}: a file is there; with --workers or --dask-scheduler a "
                       f"name not ending in .npy is a folder of shards (made if missing): "
                       f"give a folder, or a name ending in .npy for one file") from None
    if found and not args.overwrite:
        raise CLIError(f"--out {out} holds shards ({_listing(found)}); give --overwrite to "
                       f"replace them, or another folder")


def _folder_for(out) -> None:
    """The folder that will hold the file ``out``, made if missing (as train's --out)."""
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        with _writing(out):
            os.makedirs(folder)         # a file in the way


@contextlib.contextmanager
def _writing(out):
    """An OSError inside, making or writing ``out``, as a one-line error naming --out."""
    try:
        yield
    except OSError as err:
        raise CLIError(f"--out {out}: cannot write it: {err.strerror or err}") from None


def encode(args) -> int:
    from ..io.atomic import replacing
    from ..training import batches
    dask = bool(args.dask_scheduler or args.workers)
    # NOTE: checked before the encoding, which can take long; with Dask, an OUT without
    # .npy names a folder of shards
    shards = dask and not str(args.out).endswith(".npy")
    out = args.out if shards else _npy_file(args.out)
    _check_out(args, out)
    if shards:
        _check_shard_folder(args)
    _folder_for(args.out)
    model, meta = _load(args.checkpoint, args.command)
    model.to(args.device)
    data = _read_input(args, meta, model, labels=False)
    if model.pool is None:
        raise CLIError("the model has no sequence-level task, so nothing to encode")
    if dask:
        if args.device != "cpu":
            raise CLIError("--dask-scheduler and --workers encode on the CPU only")
        emb = _encode_on_dask(args, data)
        if emb is None:
            print(f"{args.out}: shards and index.json of {len(data)} sequences")
            return 0
    else:
        emb = np.concatenate([model.encode(x, lengths)
                              for x, lengths, _ in batches(data, ENCODE_BATCH)])
    with _writing(args.out), replacing(out, caller="encode") as f:
        np.save(f, emb)
    names = [t["name"] for t in model.tasks if t["kind"] != "tagging"]
    print(f"{out}: {emb.shape[0]} sequences x {emb.shape[1]} task(s) ({', '.join(names)})"
          f" x {emb.shape[2]} values, {emb.dtype}")
    return 0


def _npy_file(out) -> str:
    """The file ``encode --out OUT`` writes: OUT, with ``.npy`` added when it has another
    suffix, as ``np.save`` and ``np.load`` name it (the message named OUT, which was not
    written). A CLIError where OUT is a folder (``np.save`` wrote OUT.npy beside it), or
    where that file is a folder or not a regular file (a FIFO, a device: the file written
    replaces it)."""
    if os.path.isdir(out):
        raise CLIError(f"--out {out}: a folder is there; expected the name of a .npy file "
                       f"(e.g. {os.path.join(out, 'emb.npy')})")
    name = str(out) if str(out).endswith(".npy") else f"{out}.npy"
    if os.path.isdir(name):
        raise CLIError(f"--out {out}: {name} is a folder; expected the name of a .npy file")
    if os.path.exists(name) and not os.path.isfile(name):
        raise CLIError(f"--out {out}: {name} is not a regular file (a FIFO, a device); the "
                       f"embeddings are written to a new file that replaces it: give another "
                       f"name")
    return name


def _encode_on_dask(args, data):
    """INPUT encoded on a Dask cluster in chunks of whole batches, a few per worker: the
    array (for --out OUT.npy), or None when --out is a folder of shards, written here."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise CLIError(f"--dask-scheduler and --workers need Dask: "
                       f"{install_hint('dask')}") from None
    from ..dask import encode, worker_env, write_shards
    cluster = None
    try:
        if args.workers:
            cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                   processes=True, dashboard_address=":0",
                                   env=worker_env(args.workers))
        with Client(cluster or args.dask_scheduler, timeout="10s"):
            # an ndarray: encode cuts it into whole batches, about 4 per worker of this client
            emb = encode(args.checkpoint, data.x, data.lengths, batch_size=ENCODE_BATCH)
            if not str(args.out).endswith(".npy"):
                # NOTE: write_shards refuses a folder of shards without --overwrite (said
                #       earlier, by _check_shard_folder) and replaces them whole with it
                try:
                    write_shards(emb, args.out, overwrite=args.overwrite)
                except (FileExistsError, NotADirectoryError, PermissionError) as err:
                    # the folder's (filled since the early check, not writable), not the
                    # cluster's, which the OSError below names
                    raise CLIError(f"--out {args.out}: {err}") from None
                return None
            emb = emb.compute()
    except OSError as err:               # no scheduler at that address, no cluster started
        where = f"--dask-scheduler {args.dask_scheduler}" if args.dask_scheduler else \
            f"--workers {args.workers}"
        raise CLIError(f"{where}: {err}") from None
    finally:
        if cluster is not None:
            cluster.close()
    return emb


def predict(args) -> int:
    from ..training import evaluate
    from ..training import predict as predict_all
    if args.out:
        # NOTE: checked before the prediction, which can take long
        if os.path.isdir(args.out):
            raise CLIError(f"--out {args.out}: a folder is there; expected the name of a "
                           f"CSV file (e.g. {os.path.join(args.out, 'pred.csv')})")
        _check_out(args, args.out)
        _folder_for(args.out)
    model, meta = _load(args.checkpoint, args.command)
    model.to(args.device)
    from ..data.errors import UnknownLabelError
    scored = True
    try:
        data = _read_input(args, meta, model)
    except UnknownLabelError as err:    # the sequences can still be predicted, not scored
        data = _read_input(args, meta, model, labels=False)
        scored = False
        print(f"note: {err}; predicted without scoring the labels", file=sys.stderr)
    trained = [t["name"] for t in model.tasks]
    other = [t["name"] for t in data.tasks if t["name"] not in trained]
    if other:                            # a renamed y_ array, say: evaluate would warn
        one = len(other) == 1
        print(f"note: {args.input}: task{'' if one else 's'} {', '.join(map(repr, other))} "
              f"{'is' if one else 'are'} not one of the model's tasks {trained}; predicted "
              f"without scoring {'it' if one else 'them'}", file=sys.stderr)
        data = dataclasses.replace(
            data, tasks=[t for t in data.tasks if t["name"] in trained],
            targets={k: v for k, v in data.targets.items() if k in trained})
    preds = predict_all(model, data)
    tasks = [t for t in model.tasks if t["kind"] != "tagging"]
    classes = {t["name"]: t.get("classes") for t in meta.get("tasks", [])}
    if meta["kind"] == "text":
        classes["package"] = meta["packages"]
    ids = data.ids if data.ids is not None else np.arange(len(data))
    header = ["id"]
    for t in tasks:
        header += [t["name"]] + ([f"{t['name']}_probability"]
                                 if t["kind"] == "classification" else [])
    rows = []
    for i in range(len(data)):
        row = [str(ids[i])]
        for t in tasks:
            value = preds[t["name"]][i]
            if t["kind"] == "classification":
                names = classes.get(t["name"]) or []
                k = int(value)
                row += [names[k] if k < len(names) else str(k),
                        f"{preds['probabilities'][t['name']][i, k]:.6g}"]
            else:
                row.append(" ".join(f"{v:.6g}" for v in np.ravel(value)))
        rows.append(row)
    if args.out:
        table = io.StringIO(newline="")
        writer = csv.writer(table)
        writer.writerow(header)
        writer.writerows(rows)
        _write_table(args.out, table.getvalue())
        print(f"{args.out}: {len(rows)} predictions")
    else:
        writer = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    metrics = evaluate(model, data) if scored else {}
    for t in tasks:
        # every metric but the loss, as train's summary: accuracy, mae for a regression
        prefix = t["name"] + "/"
        scores = [f"{key[len(prefix):]} {value:.4f}" for key, value in metrics.items()
                  if key.startswith(prefix) and key != prefix + "loss"]
        if scores:
            print(f"{t['name']}: {', '.join(scores)} on {len(data)} labelled sequences",
                  file=sys.stderr)
    return 0


def _write_table(out, text: str) -> None:
    """``text`` as the file ``out``, replaced whole (a crash leaves the old file or the new
    one); a FIFO or a device (/dev/stdout) is written into, as replacing it would remove
    it."""
    from ..io.atomic import replacing
    with _writing(out):
        if os.path.exists(out) and not os.path.isfile(out):
            with open(out, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        else:
            with replacing(out, caller="predict") as f:
                f.write(text.encode("utf-8"))


def sample(args) -> int:
    from ..data.text import CharVocab
    from ..training import sample_text
    model, meta = _load(args.checkpoint, args.command)
    if meta["kind"] != "text":
        raise CLIError(f"{args.checkpoint} was trained on {meta['kind']} data, not text; "
                       "sample needs a model from nongate-np train (text)")
    vocab = CharVocab(tuple(meta["chars"]))
    unknown = sorted(set(args.prompt) - set(meta["chars"]))
    if unknown:
        print(f"note: the prompt's {', '.join(map(repr, unknown))} "
              f"{'is' if len(unknown) == 1 else 'are'} not in the model's vocabulary: read "
              f"as the unknown character, as rare characters were in training",
              file=sys.stderr)
    text = sample_text(model, vocab, args.prompt, length=args.length,
                       temperature=args.temperature, seed=args.seed)
    print(args.prompt + text)
    return 0
