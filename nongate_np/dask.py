"""Encoding a large corpus on Dask (extra ``dask``): ``encode`` mapped over the partitions
of a Dask array, a Dask bag or a list of files, on any Dask scheduler.

Every partition task reads the checkpoint from one shared Dask object (the file's bytes,
sent to each worker once) and each worker process builds the model once
(:func:`_model`). A partition is encoded in batches of ``batch_size`` sequences, each cut to
its longest sequence, exactly as :meth:`MultiTaskSequenceModel.encode` is called on
:func:`nongate_np.training.batches` in one process; the partitions hold whole batches, so
the result equals, in order, the single-process encoding with the same kernel thread count
(``NUMBA_NUM_THREADS``) bit for bit; with another count it agrees to float rounding (up to
about 4e-7 in float32, 6e-17 in float64: the kernels split their sums by thread; on a
``dask worker``, set the count on its command: ``NUMBA_NUM_THREADS=2 dask worker ...``).
A worker that dies is replaced by Dask, which runs its tasks again: the result is the same
(docs/distributed.md).

    from dask.distributed import Client, LocalCluster
    from nongate_np.dask import encode
    client = Client(LocalCluster(n_workers=2, threads_per_worker=1))
    emb = encode("runs/text/model.npz", x, lengths).compute()      # x Dask or NumPy
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import pathlib
import re
import tempfile
from collections.abc import Sequence

import numpy as np

from .arguments import check_count
from .extras import install_hint

__all__ = ["encode", "encode_bag", "encode_files", "write_shards", "worker_env"]


def _dask():
    try:
        import dask
        import dask.array
        import dask.bag
    except ImportError as err:
        raise ImportError(f"nongate_np.dask needs Dask: {install_hint('dask')}") from err
    return dask


def worker_env(workers: int) -> dict:
    """The environment for ``workers`` Dask worker processes on one machine
    (``LocalCluster(..., env=worker_env(n))``): each one's kernels and BLAS on its share of
    the cores this process may keep busy (``cores.usable_cores``: its affinity mask, which
    the workers inherit, capped by its cgroup's CPU limit), so that they do not wait on
    each other's threads."""
    from .cores import usable_cores
    per = str(max(1, usable_cores() // max(workers, 1)))
    return {"NUMBA_NUM_THREADS": per, "OPENBLAS_NUM_THREADS": per, "OMP_NUM_THREADS": per}


# -- the model, once per worker process -------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _model(digest: str, blob: bytes, name: str):
    """The checkpoint's model in eval mode, built once per process for each checkpoint
    (``digest`` its SHA-256; ``name`` the caller's path, for errors)."""
    from .io import CheckpointError, load
    fd, path = tempfile.mkstemp(suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        try:
            model = load(path).model
        except CheckpointError as err:
            # NOTE: the file read is a temporary copy of the bytes; the user knows their path
            message = str(err).replace(path, name)
            if "unknown module class" in message and _on_worker():
                message += ("; on a Dask worker the module that registers the class must "
                            "be imported there too: start the workers with `dask worker "
                            "ADDRESS --preload MODULE` (a module name or a .py path), or "
                            "install the module where they run (docs/distributed.md)")
            raise CheckpointError(message) from None
    finally:
        os.unlink(path)
    if model is None or getattr(model, "pool", None) is None:
        raise ValueError(f"nongate_np.dask.encode: the checkpoint {name} holds no model with "
                         "a sequence-level task, so nothing to encode")
    return model.eval()


def _on_worker() -> bool:
    """Whether this runs inside a Dask distributed worker."""
    try:
        from distributed import get_worker
        get_worker()
    except (ImportError, ValueError):
        return False
    return True


class _Checkpoint:
    """A checkpoint's bytes as one Dask object every task depends on."""

    def __init__(self, checkpoint):
        dask = _dask()
        if not isinstance(checkpoint, (str, os.PathLike)):
            # NOTE: a path, not a model: each worker loads the file's bytes itself, so no
            # model object (nor its class) is pickled
            raise TypeError(f"nongate_np.dask: checkpoint must be the path of a checkpoint "
                            f"file (str or os.PathLike), got {type(checkpoint).__name__}: "
                            f"the workers build the model from the file's bytes; save a "
                            f"model first with nongate_np.save(model, 'model.npz')")
        path = pathlib.Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"nongate_np.dask: no checkpoint at {path}")
        blob = path.read_bytes()
        self.name = os.fspath(checkpoint)
        self.digest = hashlib.sha256(blob).hexdigest()
        self.blob = dask.delayed(blob, pure=True)
        model = _model(self.digest, blob, self.name)   # checked here, before any task runs
        self.shape = (model.pool.num_queries, model.pool.output_size)
        self.dtype = np.dtype(model.lstm.dtype)
        self.input_size = model.input_size
        self.vocab_size = model.vocab_size

    def array(self, parts: list, rows=None):
        """The partitions' embeddings (delayed arrays, ``rows`` each if known) joined in
        order as one Dask array."""
        da = _dask().array
        rows = [np.nan] * len(parts) if rows is None else rows
        blocks = [da.from_delayed(p, shape=(r,) + self.shape, dtype=self.dtype)
                  for p, r in zip(parts, rows)]
        return da.concatenate(blocks) if blocks else \
            da.zeros((0,) + self.shape, dtype=self.dtype)


def _encode_arrays(x: np.ndarray, lengths, digest: str, blob: bytes, name: str,
                   batch_size: int, first: int = 0, within: str = "") -> np.ndarray:
    """One partition: rows of x (n, T[, F]) with their lengths (or None: as
    ``model.encode`` without them), in batches of ``batch_size`` each cut to its longest
    sequence (as ``training.batches``). ``first`` is the partition's first row in the
    input and ``within`` names the partition where rows of the input cannot be named
    (a bag's partition, a file): errors name those rows."""
    model = _model(digest, blob, name)
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        lb = None
        if lengths is not None:
            lb = np.asarray(lengths[start:start + batch_size])
            if lb.dtype.kind in "iu" and lb.shape == (len(xb),) and len(lb):
                xb = xb[:, :max(int(lb.max()), 1)]
        try:
            out.append(model.encode(xb, lb))
        except ValueError as err:           # DataError included: name the input's rows
            raise _at_rows(err, first + start, len(xb), within) from None
    if not out:
        return np.empty((0, model.pool.num_queries, model.pool.output_size), model.lstm.dtype)
    return np.concatenate(out)


def _at_rows(err: ValueError, first: int, rows: int, within: str) -> ValueError:
    """``err`` of ``model.encode`` on the ``rows`` rows from ``first`` on, its rows
    renamed from the batch's to the input's (``x[i, ...]``, ``lengths[i]``, ``sequence
    i``), of the same class."""
    def shift(m: re.Match) -> str:
        return f"{m.group(1)}{int(m.group(2)) + first}"
    message = re.sub(r"(\bx\[|\blengths\[|\bsequence )(\d+)", shift, str(err))
    message = re.sub(r"^encode: ", "nongate_np.dask.encode: ", message)
    message = re.sub(r"the first of (\d+)",
                     rf"the first of \1 in rows {first}-{first + rows - 1}", message)
    if within:
        message += f" (rows of {within})"
    return type(err)(message)


def _partition_rows(n: int, batch_size: int, workers: int) -> int:
    """Rows per partition: whole batches, about 4 partitions per worker, so that every
    worker has work and a slow or lost one holds back little of it."""
    per = -(-n // (4 * max(workers, 1)))
    return max(batch_size, -(-per // batch_size) * batch_size)


def _workers() -> int:
    """The current Dask client's workers, else the cores of this process (the threads
    of Dask's default scheduler)."""
    try:
        from distributed import default_client
        return max(len(default_client().scheduler_info()["workers"]), 1)
    except (ImportError, ValueError):
        from .cores import usable_cores
        return usable_cores()


def _check_arrays(ckpt: _Checkpoint, x, lengths) -> None:
    """What can be checked before any task runs: the shapes and dtypes of x and lengths
    against each other and the model (token ids or features of its input size)."""
    where = "nongate_np.dask.encode"
    if x.ndim not in (2, 3) or lengths is not None and (
            lengths.ndim != 1 or x.shape[0] != lengths.shape[0]):
        raise ValueError(f"{where}: x must be (N, T) or (N, T, F) and lengths (N,), got "
                         f"shapes {x.shape} and {None if lengths is None else lengths.shape}")
    if lengths is not None and lengths.dtype.kind not in "iu":
        raise ValueError(f"{where}: lengths must be {lengths.shape[0]} integers (N,), one "
                         f"per sequence, got dtype {lengths.dtype}")
    if x.shape[1] == 0:
        raise ValueError(f"{where}: x has shape {x.shape}: expected at least one step "
                         "(T >= 1)")
    if ckpt.vocab_size is not None:
        if x.ndim != 2 or x.dtype.kind not in "iu":
            raise ValueError(f"{where}: the checkpoint {ckpt.name} takes token ids, an "
                             f"integer array (N, T), got dtype {x.dtype} and shape {x.shape}")
    elif x.ndim != 3 or x.shape[2] != ckpt.input_size or x.dtype.kind not in "iuf":
        raise ValueError(f"{where}: the checkpoint {ckpt.name} takes real features (N, T, "
                         f"{ckpt.input_size}), got dtype {x.dtype} and shape {x.shape}")


def _as_dask(x, what: str):
    """x as a Dask array; a ragged list is told to use ``encode_bag``."""
    da = _dask().array
    if isinstance(x, da.Array):
        return x
    try:
        x = np.asarray(x)
    except ValueError as err:           # NumPy's "inhomogeneous shape"
        raise ValueError(f"nongate_np.dask.encode: {what} must be one array, (N, T) or "
                         "(N, T, F) zero-padded past each length; got sequences of "
                         "different lengths: encode them with encode_bag(checkpoint, "
                         "dask.bag.from_sequence(seqs, partition_size=k * batch_size)), or "
                         f"pad them ({err})") from None
    return x


# -- inputs ------------------------------------------------------------------------------------
def encode(checkpoint, x, lengths=None, *, batch_size: int = 256):
    """The embeddings (N, tasks, D') of the sequences x as a Dask array, in order.

    Parameters
    ----------
    checkpoint : path
        ``model.npz`` written by ``nongate-np train`` or ``nongate_np.save`` (a path,
        not a model: every worker builds the model from the file's bytes).
    x : dask.array.Array or ndarray
        (N, T) integer token ids or (N, T, F) real features (F the model's input size),
        zero past each length; chunked along N only (it is rechunked to whole batches).
        An ndarray is cut into partitions of whole batches, about 4 per worker of the
        current Dask client (per core without one).
    lengths : dask.array.Array, ndarray or None
        (N,) ints in [1, T]. None, as in ``model.encode``: token ids end after their last
        non-padding token, features are read to T.
    batch_size : int
        Sequences per ``encode`` call, as in one process.

    Raises
    ------
    ImportError
        Without Dask (``pip install 'dask[distributed]'``).
    TypeError
        A checkpoint that is not a path (a model object).
    FileNotFoundError, CheckpointError, ValueError
        No checkpoint, not a checkpoint, no sequence-level task, or shapes and dtypes that
        do not match (N of x and lengths, integer lengths, token ids or features of the
        model's input size), or a ragged list: before any task runs.
    DataError
        When computed: a NaN, an infinity or a token id outside the vocabulary within a
        sequence's length, or a length outside [1, T], naming its row of x.
    """
    dask = _dask()
    da = dask.array
    ckpt = _Checkpoint(checkpoint)
    plain = not isinstance(x, da.Array)
    x = da.asarray(_as_dask(x, "x"))
    lengths = None if lengths is None else da.asarray(_as_dask(lengths, "lengths"))
    _check_arrays(ckpt, x, lengths)
    check_count(batch_size, "batch_size", "nongate_np.dask", 1)
    n = x.shape[0]
    if plain:   # NOTE: Dask's own chunks (~128 MiB) would give one worker every row
        rows = _partition_rows(n, batch_size, _workers())
    else:       # NOTE: whole batches per chunk, so each batch is the one a process forms
        rows = max(batch_size, (max(x.chunks[0], default=1) // batch_size) * batch_size)
    bounds = list(range(0, n, rows)) + [n]
    x = x.rechunk({0: tuple(np.diff(bounds)) or (0,)} | {k: -1 for k in range(1, x.ndim)})
    xs = x.to_delayed().reshape(-1)
    ls = [None] * len(xs) if lengths is None else lengths.rechunk({0: x.chunks[0]}).to_delayed()
    parts = [dask.delayed(_encode_arrays, pure=True)(xb, lb, ckpt.digest, ckpt.blob,
                                                     ckpt.name, batch_size, int(first))
             for xb, lb, first in zip(xs, ls, bounds)]
    return ckpt.array(parts, [int(c) for c in x.chunks[0]])


def encode_bag(checkpoint, sequences, *, batch_size: int = 256):
    """The embeddings of a Dask bag of sequences (each an array (T,) of token ids or
    (T, F) of features, T ≥ 1), in the bag's order, as a Dask array (its chunk sizes are
    known once computed). Each partition is padded (token ids as integers, features in
    the type of all its sequences together, as ``model.encode`` on the padded array) and
    encoded in batches of ``batch_size``: partitions of whole batches
    (``dask.bag.from_sequence(seqs, partition_size=k * batch_size)``) give exactly the
    single-process result. Errors name the partition and the row within it."""
    dask = _dask()
    ckpt = _Checkpoint(checkpoint)
    check_count(batch_size, "batch_size", "nongate_np.dask", 1)

    def part(seqs, k, digest, blob, name):
        seqs = [np.asarray(s) for s in seqs]
        if not seqs:
            return _encode_arrays(np.empty((0, 1)), np.empty(0, int), digest, blob, name,
                                  batch_size)
        T = max(len(s) for s in seqs)
        # NOTE: in the type of every sequence, not the first's: an int64 first one
        # truncated later float rows, a float32 one rounded float64 rows
        dtype = functools.reduce(np.promote_types, {s.dtype for s in seqs})
        x = np.zeros((len(seqs), T) + seqs[0].shape[1:], dtype)
        for i, s in enumerate(seqs):
            x[i, :len(s)] = s
        return _encode_arrays(x, np.array([len(s) for s in seqs]), digest, blob, name,
                              batch_size, within=f"the bag's partition {k}")

    parts = [dask.delayed(part, pure=True)(p, k, ckpt.digest, ckpt.blob, ckpt.name)
             for k, p in enumerate(sequences.to_delayed())]
    return ckpt.array(parts)


def encode_files(checkpoint, paths: Sequence, *, batch_size: int = 256):
    """The embeddings of every file in ``paths``, each read as the model's training data
    was (``nongate-np encode``'s INPUT), one partition per file, in order: a Dask array.
    Errors name the file and the row within it."""
    dask = _dask()
    ckpt = _Checkpoint(checkpoint)
    check_count(batch_size, "batch_size", "nongate_np.dask", 1)

    from .io import load
    meta = load(checkpoint).extra.get("data")
    if not isinstance(meta, dict) or "kind" not in meta:
        raise ValueError(f"nongate_np.dask.encode_files: {checkpoint} was not written by "
                         "nongate-np train, so how to read the files is unknown; read them "
                         "yourself and call encode or encode_bag")

    input_size = ckpt.input_size

    def part(path, digest, blob, name):
        from .training import read_as_trained
        data = read_as_trained(meta, path, input_size, labels=False)
        return _encode_arrays(data.x, data.lengths, digest, blob, name, batch_size,
                              within=path)

    parts = [dask.delayed(part, pure=True)(os.fspath(p), ckpt.digest, ckpt.blob, ckpt.name)
             for p in paths]
    return ckpt.array(parts)


#: the names of :func:`write_shards`' files of rows, part-00000.npy, ... (more digits past
#: part-99999.npy, as ``f"part-{k:05d}.npy"`` writes them)
SHARD_FILE = re.compile(r"part-\d{5,}\.npy")
#: the name of :func:`write_shards`' index of its shards
INDEX_FILE = "index.json"


def _existing_shards(folder) -> list[str]:
    """The names of :func:`write_shards`' files in ``folder`` (``index.json`` and the
    ``part-NNNNN.npy`` shards), sorted; none where ``folder`` does not exist. A
    NotADirectoryError naming ``folder`` where something else is there (a file, a link to
    nothing). Shared by :func:`write_shards` and ``nongate-np encode``'s check before it
    loads the model, so that both see the same files."""
    name = os.fspath(folder)
    if os.path.lexists(name) and not os.path.isdir(name):
        raise NotADirectoryError(f"nongate_np.dask.write_shards: {name} is not a folder (a "
                                 f"file is there); give the folder to write the shards and "
                                 f"{INDEX_FILE} into (made if missing)")
    if not os.path.isdir(name):
        return []
    return sorted(f for f in os.listdir(name) if f == INDEX_FILE or SHARD_FILE.fullmatch(f))


def _listing(found: list[str]) -> str:
    """The first few of ``found``'s names, for an error message."""
    return ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")


def write_shards(embeddings, folder, *, overwrite: bool = False) -> dict:
    """Compute ``embeddings`` one chunk at a time into ``.npy`` files in ``folder``, with
    an ``index.json`` that lists them.

    Parameters
    ----------
    embeddings : dask.array.Array
        (N, ...) rows chunked along N, such as :func:`encode`'s result; each chunk along
        the first axis becomes one file, written where its task runs (on a cluster,
        ``folder`` must be a path the workers can write, a shared file system).
    folder : str or os.PathLike
        The folder of the shards, made (with its parents) if missing. Files of other
        names in it are never touched.
    overwrite : bool
        Replace the shards and ``index.json`` of an earlier call in ``folder``. Without
        it such a folder is refused.

    Returns
    -------
    dict
        The index, as written to ``index.json``.

    Raises
    ------
    ImportError
        Without Dask (``pip install 'dask[distributed]'``).
    FileExistsError
        ``folder`` holds an ``index.json`` or a ``part-NNNNN.npy`` file and ``overwrite``
        is False: before anything is computed or written, naming the folder, the first
        few files and ``overwrite=True``.
    NotADirectoryError
        ``folder`` is a file (or another non-folder): before anything is computed.
    Exception
        An error in computing ``embeddings`` (:func:`encode`'s ``DataError``, say) or in
        writing a file, as raised; ``folder`` then holds no ``index.json``.

    Notes
    -----
    The files in ``folder``:

    - ``part-00000.npy``, ``part-00001.npy``, ...: the chunks in order, each an array
      (rows, ...) of the embeddings' dtype (``np.load`` reads one);
    - ``index.json``: ``{"shape": [N, ...], "dtype": "float32", "shards": [{"file":
      "part-00000.npy", "start": 0, "rows": 256}, ...]}``, each shard with its first row
      and row count, so that a reader loads any range without the rest.

    ``index.json`` is written last, through :mod:`nongate_np.io.atomic` (a crash leaves
    the whole file or none), and describes exactly the shards of this call. With
    ``overwrite`` the old ``index.json`` is removed first, so a call that fails midway
    leaves no index describing a mix of old and new shards, and the old shards the new
    index does not list (an earlier call with more chunks) are removed after it is
    written.
    """
    dask = _dask()
    found = _existing_shards(folder)          # checked before anything is computed
    if found and not overwrite:
        raise FileExistsError(f"nongate_np.dask.write_shards: {os.fspath(folder)} holds "
                              f"shards of an earlier run ({_listing(found)}); give "
                              f"overwrite=True to replace them, or another folder")
    from .io.atomic import write_text_atomically
    # NOTE: absolute: the workers write the shards, and a worker's working folder need not
    #       be this process's
    folder = pathlib.Path(folder).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    if overwrite:
        # NOTE: the old index goes first: a write that fails half way leaves no index
        #       describing a mix of old and new shards
        with contextlib.suppress(FileNotFoundError):
            (folder / INDEX_FILE).unlink()

    def save(block, name):
        np.save(folder / name, block)
        return len(block)

    blocks = embeddings.to_delayed().reshape(-1)
    names = [f"part-{k:05d}.npy" for k in range(len(blocks))]
    counts = dask.compute(*[dask.delayed(save)(b, n) for b, n in zip(blocks, names)])
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    index = {"shape": [int(starts[-1]), *embeddings.shape[1:]], "dtype": str(embeddings.dtype),
             "shards": [{"file": n, "start": int(s), "rows": int(c)}
                        for n, s, c in zip(names, starts, counts)]}
    write_text_atomically(folder / INDEX_FILE, json.dumps(index, indent=2) + "\n",
                          caller="nongate_np.dask.write_shards")
    # NOTE: only now: until the new index is in place the old shards are not in the way
    keep = set(names)
    for name in _existing_shards(folder):
        if SHARD_FILE.fullmatch(name) and name not in keep:
            (folder / name).unlink()
    return index
