"""Encoding a large corpus on Dask (extra ``dask``): ``encode`` mapped over the partitions
of a Dask array, a Dask bag or a list of files, on any Dask scheduler.

Every partition task reads the checkpoint from one shared Dask object (the file's bytes,
sent to each worker once) and each worker process builds the model once
(:func:`_model`). A partition is encoded in batches of ``batch_size`` sequences, each cut to
its longest sequence, exactly as :meth:`MultiTaskSequenceModel.encode` is called on
:func:`nongate_np.training.batches` in one process; the partitions hold whole batches, so
the result equals the single-process encoding bit for bit, in order. A worker that dies is
replaced by Dask, which runs its tasks again: the result is the same (docs/distributed.md).

    from dask.distributed import Client, LocalCluster
    from nongate_np.dask import encode
    client = Client(LocalCluster(n_workers=2, threads_per_worker=1))
    emb = encode("runs/text/model.npz", x, lengths).compute()      # x a Dask array
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pathlib
import tempfile
from collections.abc import Sequence

import numpy as np

__all__ = ["encode", "encode_bag", "encode_files", "write_shards", "worker_env"]


def _dask():
    try:
        import dask
        import dask.array
        import dask.bag
    except ImportError as err:
        raise ImportError("nongate_np.dask needs Dask: pip install 'nongate_np[dask]' "
                          "(dask[distributed])") from err
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
def _model(digest: str, blob: bytes):
    """The checkpoint's model in eval mode, built once per process for each checkpoint
    (``digest`` its SHA-256, the cache key)."""
    from .io import load
    fd, path = tempfile.mkstemp(suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        model = load(path).model
    finally:
        os.unlink(path)
    if model is None or getattr(model, "pool", None) is None:
        raise ValueError("nongate_np.dask.encode: the checkpoint holds no model with a "
                         "sequence-level task, so nothing to encode")
    return model.eval()


class _Checkpoint:
    """A checkpoint's bytes as one Dask object every task depends on."""

    def __init__(self, checkpoint):
        dask = _dask()
        path = pathlib.Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"nongate_np.dask: no checkpoint at {path}")
        blob = path.read_bytes()
        self.digest = hashlib.sha256(blob).hexdigest()
        self.blob = dask.delayed(blob, pure=True)
        model = _model(self.digest, blob)          # checked here, before any task runs
        self.shape = (model.pool.num_queries, model.pool.output_size)
        self.dtype = np.dtype(model.lstm.dtype)
        self.input_size = model.input_size

    def array(self, parts: list, rows=None):
        """The partitions' embeddings (delayed arrays, ``rows`` each if known) joined in
        order as one Dask array."""
        da = _dask().array
        rows = [np.nan] * len(parts) if rows is None else rows
        blocks = [da.from_delayed(p, shape=(r,) + self.shape, dtype=self.dtype)
                  for p, r in zip(parts, rows)]
        return da.concatenate(blocks) if blocks else \
            da.zeros((0,) + self.shape, dtype=self.dtype)


def _encode_arrays(x: np.ndarray, lengths: np.ndarray, digest: str, blob: bytes,
                   batch_size: int) -> np.ndarray:
    """One partition: rows of x (n, T[, F]) with their lengths, in batches of
    ``batch_size`` each cut to its longest sequence (as ``training.batches``)."""
    model = _model(digest, blob)
    out = []
    for start in range(0, len(x), batch_size):
        lb = np.asarray(lengths[start:start + batch_size])
        T = max(int(lb.max()), 1)
        out.append(model.encode(x[start:start + batch_size, :T], lb))
    if not out:
        return np.empty((0, model.pool.num_queries, model.pool.output_size), model.lstm.dtype)
    return np.concatenate(out)


# -- inputs ------------------------------------------------------------------------------------
def encode(checkpoint, x, lengths, *, batch_size: int = 256):
    """The embeddings (N, tasks, D') of the sequences x as a Dask array, in order.

    Parameters
    ----------
    checkpoint : path
        ``model.npz`` written by ``nongate-np train`` or ``nongate_np.save``.
    x : dask.array.Array or ndarray
        (N, T) token ids or (N, T, F) features, zero past each length; chunked along N
        only (it is rechunked to whole batches).
    lengths : dask.array.Array or ndarray
        (N,) ints in [1, T].
    batch_size : int
        Sequences per ``encode`` call, as in one process.

    Raises
    ------
    ImportError
        Without Dask (``pip install 'nongate_np[dask]'``).
    FileNotFoundError, CheckpointError, ValueError
        No checkpoint, not a checkpoint, no sequence-level task, or shapes that do not
        match (N of x and lengths).
    """
    dask = _dask()
    da = dask.array
    ckpt = _Checkpoint(checkpoint)
    x, lengths = da.asarray(x), da.asarray(lengths)
    if lengths.ndim != 1 or x.ndim not in (2, 3) or x.shape[0] != lengths.shape[0]:
        raise ValueError(f"nongate_np.dask.encode: x must be (N, T) or (N, T, F) and lengths "
                         f"(N,), got shapes {x.shape} and {lengths.shape}")
    _check_batch_size(batch_size)
    n = x.shape[0]
    # NOTE: whole batches per chunk, so each batch is the one a single process would form
    rows = max(batch_size, (max(x.chunks[0], default=1) // batch_size) * batch_size)
    bounds = list(range(0, n, rows)) + [n]
    x = x.rechunk({0: tuple(np.diff(bounds)) or (0,)} | {k: -1 for k in range(1, x.ndim)})
    lengths = lengths.rechunk({0: x.chunks[0]})
    parts = [dask.delayed(_encode_arrays, pure=True)(xb, lb, ckpt.digest, ckpt.blob,
                                                     batch_size)
             for xb, lb in zip(x.to_delayed().reshape(-1), lengths.to_delayed())]
    return ckpt.array(parts, [int(c) for c in x.chunks[0]])


def encode_bag(checkpoint, sequences, *, batch_size: int = 256):
    """The embeddings of a Dask bag of sequences (each an array (T,) of token ids or
    (T, F) of features, T ≥ 1), in the bag's order, as a Dask array (its chunk sizes are
    known once computed). Each partition is padded and encoded in batches of
    ``batch_size``: partitions of whole batches (``dask.bag.from_sequence(seqs,
    partition_size=k * batch_size)``) give exactly the single-process result."""
    dask = _dask()
    ckpt = _Checkpoint(checkpoint)
    _check_batch_size(batch_size)

    def part(seqs, digest, blob):
        seqs = [np.asarray(s) for s in seqs]
        if not seqs:
            return _encode_arrays(np.empty((0, 1)), np.empty(0, int), digest, blob,
                                  batch_size)
        T = max(len(s) for s in seqs)
        x = np.zeros((len(seqs), T) + seqs[0].shape[1:], seqs[0].dtype)
        for i, s in enumerate(seqs):
            x[i, :len(s)] = s
        return _encode_arrays(x, np.array([len(s) for s in seqs]), digest, blob, batch_size)

    parts = [dask.delayed(part, pure=True)(p, ckpt.digest, ckpt.blob)
             for p in sequences.to_delayed()]
    return ckpt.array(parts)


def encode_files(checkpoint, paths: Sequence, *, batch_size: int = 256):
    """The embeddings of every file in ``paths``, each read as the model's training data
    was (``nongate-np encode``'s INPUT), one partition per file, in order: a Dask array."""
    dask = _dask()
    ckpt = _Checkpoint(checkpoint)
    _check_batch_size(batch_size)

    from .io import load
    meta = load(checkpoint).extra.get("data")
    if not isinstance(meta, dict) or "kind" not in meta:
        raise ValueError(f"nongate_np.dask.encode_files: {checkpoint} was not written by "
                         "nongate-np train, so how to read the files is unknown; read them "
                         "yourself and call encode or encode_bag")

    input_size = ckpt.input_size

    def part(path, digest, blob):
        from .training import read_as_trained
        data = read_as_trained(meta, path, input_size, labels=False)
        return _encode_arrays(data.x, data.lengths, digest, blob, batch_size)

    parts = [dask.delayed(part, pure=True)(os.fspath(p), ckpt.digest, ckpt.blob)
             for p in paths]
    return ckpt.array(parts)


def write_shards(embeddings, folder) -> dict:
    """Compute ``embeddings`` (a Dask array) one chunk per ``.npy`` file in ``folder``
    (``part-00000.npy``, ...) and write ``index.json``: the shards in order with their
    first row and row count, the total shape and dtype. Returns the index."""
    dask = _dask()
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def save(block, name):
        np.save(folder / name, block)
        return len(block)

    names = [f"part-{k:05d}.npy" for k in range(len(embeddings.to_delayed().reshape(-1)))]
    counts = dask.compute(*[dask.delayed(save)(b, n) for b, n in
                            zip(embeddings.to_delayed().reshape(-1), names)])
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    index = {"shape": [int(starts[-1]), *embeddings.shape[1:]], "dtype": str(embeddings.dtype),
             "shards": [{"file": n, "start": int(s), "rows": int(c)}
                        for n, s, c in zip(names, starts, counts)]}
    (folder / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    return index


def _check_batch_size(batch_size) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"nongate_np.dask: batch_size must be an int >= 1, got "
                         f"{batch_size!r}")
