"""Sequences from a NumPy ``.npz`` archive: ``X`` (N, T, F), optional ``lengths`` (N,) and
``ids`` (N,), and one ``y_<task>`` array per task."""

from __future__ import annotations

import warnings
import zipfile

import numpy as np

from .dataset import IGNORE_INDEX, TASK_KINDS, SequenceDataset
from .errors import DataError, where
from .labels import encode_labels, resolve_classes, sorted_labels
from .padding import looks_zero_padded

__all__ = ["load_npz"]

_EXAMPLE = "np.savez(path, X=X, lengths=lengths, y_label=y)"


def _open(path):
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{path}: not a readable .npz archive ({err}); expected one written "
                        f"by {_EXAMPLE}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: holds a single array {archive.shape}, not an .npz archive "
                        f"of named arrays; expected one written by {_EXAMPLE}")
    return archive


def _read(archive, path, key: str) -> np.ndarray:
    try:
        return archive[key]
    except ValueError:      # NumPy refuses an object array when allow_pickle=False
        # NOTE: not unpickled to look inside; an object X is most likely ragged sequences,
        #       which no cast can make (N, T, F)
        fix = (f"expected (N, T, F) numbers; sequences of different lengths are saved "
               f"padded, with their lengths: X, lengths = "
               f"nongate_np.data.pad_sequences(sequences), then {_EXAMPLE}"
               if key == "X" else
               f"expected a numeric or string array, e.g. {key}.astype(np.float64) or "
               f"{key}.astype(str)")
        raise DataError(f"{where(path, array=key)}: holds Python objects (a pickled object "
                        f"array); {fix}") from None
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise DataError(f"{where(path, array=key)}: cannot be read ({err})") from None


def _warn_if_padded(path, x: np.ndarray) -> None:
    """A UserWarning where X, read without lengths, looks zero-padded: a noticeable share
    of its sequences end in an all-zero step. Not an error: zeros can be real data."""
    ending = looks_zero_padded(x)
    if ending:
        warnings.warn(f"{path}: {ending} of {len(x)} sequences end in all-zero steps, read as "
                      f"data: without an array 'lengths' every sequence is T = {x.shape[1]} "
                      f"steps long; if the zeros are padding, save each sequence's length: "
                      f"{_EXAMPLE}", UserWarning, stacklevel=3)


def _class_ids(path, key: str, values: np.ndarray, classes, locate):
    """Class ids of ``values`` (any shape) and the class labels, as text; an
    UnknownLabelError for a label not in ``classes`` (predict still reads the file)."""
    unique, inverse = np.unique(values, return_inverse=True)
    text = [v.decode() if isinstance(v, bytes) else str(v) for v in unique.tolist()]
    classes = classes or sorted_labels(text)
    table = encode_labels(text, classes, lambda u: f"{where(path, array=key)}, "
                          f"{locate(np.flatnonzero(inverse.ravel() == u)[0])}")
    return table[inverse].reshape(values.shape), classes


# Each kind's targets: the dtype kinds and shapes it takes, and the words for a message.
_FITS = {"classification": ("biuUS", lambda y, n, t: y.ndim == 1),
         "regression": ("biuf", lambda y, n, t: y.ndim in (1, 2)),
         "tagging": ("biu", lambda y, n, t: y.shape == (n, t))}
_EXPECTED = {"classification": "({n},) integers, booleans or strings",
             "regression": "({n},) or ({n}, k) numbers",
             "tagging": "({n}, {t}) integers"}


def _inferred_kind(y: np.ndarray, n: int, t: int) -> str | None:
    """The kind a ``y_`` array is read as when ``task_kinds`` does not name it: floats are a
    regression, other numbers and strings classes (per step when (N, T)); None if none
    fits."""
    if y.dtype.kind == "f":
        return "regression" if y.ndim in (1, 2) else None
    for kind in ("classification", "tagging"):
        dtypes, shape_fits = _FITS[kind]
        if y.dtype.kind in dtypes and shape_fits(y, n, t):
            return kind
    return None


def _task(path, key: str, y: np.ndarray, n: int, t: int, mask, classes, kind: str):
    """The task dict and target array for the array ``key`` = ``y_<name>`` read as
    ``kind``."""
    name = key[2:]
    if kind == "classification":
        ids, classes = _class_ids(path, key, y, classes, lambda i: f"sequence {i}")
        return {"name": name, "kind": kind, "num_classes": len(classes),
                "classes": classes}, ids
    if kind == "tagging":
        read = mask & (y != IGNORE_INDEX)
        ids, classes = _class_ids(path, key, y[read], classes,
                                  lambda k: "sequence {}, step {}".format(
                                      *np.argwhere(read)[k]))
        out = np.full((n, t), IGNORE_INDEX, np.int64)
        out[read] = ids
        return {"name": name, "kind": kind, "num_classes": len(classes),
                "classes": classes}, out
    y = y.reshape(n, -1).astype(np.float64)
    if not np.all(np.isfinite(y)):
        i = int(np.flatnonzero(~np.isfinite(y).all(axis=1))[0])
        raise DataError(f"{where(path, array=key)}: sequence {i} has a non-finite "
                        f"target; expected finite numbers")
    return {"name": name, "kind": kind, "output_size": y.shape[1]}, y


def _kind(path, key: str, y: np.ndarray, n: int, t: int, declared: str | None) -> str:
    """The kind of the array ``key``: ``declared`` (from ``task_kinds``) if its dtype and
    shape fit it, else the one they imply; a DataError where neither fits."""
    if y.ndim == 0 or y.shape[0] != n:
        raise DataError(f"{where(path, array=key)}: has shape {y.shape}; expected {n} rows, "
                        f"one per sequence of X")
    if declared is None:
        kind = _inferred_kind(y, n, t)
        if kind is None:
            raise DataError(f"{where(path, array=key)}: has shape {y.shape} and dtype "
                            f"{y.dtype}; expected ({n},) integers or strings "
                            f"(classification), ({n},) or ({n}, k) floats (regression), or "
                            f"({n}, {t}) integers (tagging), or a kind named in task_kinds "
                            f"(--task-kinds)")
        return kind
    dtypes, shape_fits = _FITS[declared]
    if y.dtype.kind not in dtypes or not shape_fits(y, n, t):
        hint = "; class labels that are floats: y.astype(int)" if (
            declared != "regression" and y.dtype.kind == "f") else ""
        raise DataError(f"{where(path, array=key)}: declared {declared} (task_kinds, "
                        f"--task-kinds), but has shape {y.shape} and dtype {y.dtype}; a "
                        f"{declared} target is {_EXPECTED[declared].format(n=n, t=t)}{hint}")
    return declared


def load_npz(path, *, classes=None, task_kinds=None) -> SequenceDataset:
    """Read sequences saved with ``np.savez``.

    Arrays (any other name is an error, so a misspelt one is not silently ignored):

    ``X`` (N, T, F) numbers
        The features; values past each length are ignored (the padding).
    ``lengths`` (N,) integers in [1, T], optional
        Default: every sequence has T steps.
    ``ids`` (N,), optional
        Sequence ids.
    ``y_<task>``, one per task, its kind read from its shape and dtype unless
        ``task_kinds`` names it
        (N,) integers, booleans or strings: classification; (N,) or (N, k) floats:
        regression; (N, T) integers: tagging (one class per step; -100 marks a step no
        loss reads, as PyTorch's ``ignore_index``).

    Class labels are the values found, as text, in numeric order (or text order for
    strings); ``classes`` gives them instead, e.g. the training file's.

    Parameters
    ----------
    path : str or path-like
    classes : dict of str to list of str, optional
        Task name (without ``y_``) to its class labels (a plain list when there is one
        classification or tagging task); tasks the file does not have are ignored.
    task_kinds : dict of str to str, optional
        Task name (without ``y_``) to its kind, "classification", "regression" or
        "tagging", where the dtype would read it otherwise: integer targets (counts, a
        year) are classes unless given as ``{"year": "regression"}``. A regression target
        may be (N,) or (N, k) integers or floats; tasks the file does not have are ignored
        (as for ``classes``).

    Returns
    -------
    SequenceDataset
        x (N, T, F) float64, zero past each length.

    Warns
    -----
    UserWarning
        No ``lengths`` while a tenth or more of the sequences end in an all-zero step: X
        is likely zero-padded, and its padding is read as data (zeros can be real data, so
        it loads).

    Raises
    ------
    DataError
        Not an .npz archive; a pickled object array (the file is read with
        ``allow_pickle=False``); ``X`` missing or not (N, T, F) numbers; ``lengths`` of
        the wrong shape or out of [1, T]; NaN or infinity in a valid step; a ``y_`` array
        of the wrong shape or kind, or with a label not in ``classes``; an unknown array;
        a kind in ``task_kinds`` that is not one of the three, or that the array's dtype
        and shape cannot be (floats as classes, (N,) values as tagging).
    """
    task_kinds = dict(task_kinds or {})
    for name, kind in task_kinds.items():
        if kind not in TASK_KINDS:
            raise DataError(f"{path}: task_kinds has {name!r}: {kind!r}; expected one of "
                            f"{TASK_KINDS}")
    with _open(path) as archive:
        keys = list(archive.files)
        unknown = [k for k in keys if k not in ("X", "lengths", "ids") and
                   not (k.startswith("y_") and len(k) > 2)]
        if unknown:
            raise DataError(f"{path}: unknown arrays {unknown}; expected 'X', optional "
                            f"'lengths' and 'ids', and one 'y_<task>' per task")
        if "X" not in keys:
            raise DataError(f"{path}: no array 'X'; the archive holds {keys}; expected "
                            f"X (N, T, F) written by {_EXAMPLE}")
        arrays = {k: _read(archive, path, k) for k in keys}
    x = arrays["X"]
    if x.ndim != 3 or x.dtype.kind not in "biuf" or 0 in x.shape:
        hint = "" if x.ndim != 2 else (
            "; token ids (N, T) are not read from .npz files (a model with a vocabulary "
            "takes them as a SequenceDataset, nongate_np.data, in Python); one number per "
            "step: X[..., None]" if x.dtype.kind in "iu" else
            " (one feature per step: X[..., None])")
        raise DataError(f"{where(path, array='X')}: has shape {x.shape} and dtype {x.dtype}; "
                        f"expected (N, T, F) numbers with N, T, F >= 1{hint}")
    n, t = x.shape[:2]
    if "lengths" not in arrays:
        _warn_if_padded(path, x)
    lengths = arrays.get("lengths", np.full(n, t, np.int64))
    if lengths.shape != (n,) or lengths.dtype.kind not in "iu":
        raise DataError(f"{where(path, array='lengths')}: has shape {lengths.shape} and dtype "
                        f"{lengths.dtype}; expected ({n},) integers, one per sequence of X")
    if lengths.min() < 1 or lengths.max() > t:
        i = int(np.flatnonzero((lengths < 1) | (lengths > t))[0])
        raise DataError(f"{where(path, array='lengths')}: sequence {i} has length "
                        f"{lengths[i]}; expected 1 <= length <= T = {t}")
    mask = np.arange(t)[None, :] < lengths[:, None]
    finite = np.isfinite(x).all(axis=2) | ~mask
    if not finite.all():
        i, step = np.argwhere(~finite)[0]
        bad = ~np.isfinite(x) & mask[:, :, None]
        rows = np.flatnonzero(bad.any(axis=(1, 2)))
        shown = ", ".join(str(r) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
        raise DataError(f"{where(path, array='X')}: sequence {i}, step {step} holds "
                        f"{x[i, step][~np.isfinite(x[i, step])][0]}; expected finite numbers "
                        f"within each length (the first of {int(bad.sum())} such values, in "
                        f"{len(rows)} sequence{'s' if len(rows) != 1 else ''}: {shown})")
    x = np.where(mask[:, :, None], x, 0).astype(np.float64)
    names = [k[2:] for k in keys if k.startswith("y_")]
    kinds = {name: _kind(path, "y_" + name, arrays["y_" + name], n, t, task_kinds.get(name))
             for name in names}
    given = resolve_classes(classes, [name for name in names if kinds[name] != "regression"],
                            path)
    tasks, targets = [], {}
    for name in names:
        task, targets[name] = _task(path, "y_" + name, arrays["y_" + name], n, t, mask,
                                    given.get(name), kinds[name])
        tasks.append(task)
    return SequenceDataset(x, lengths.astype(np.int64), targets, tasks,
                           ids=arrays.get("ids"), source=str(path))
