"""Ragged lists of sequences to one zero-padded array and their lengths, and back."""

from __future__ import annotations

import numpy as np

from ..casting import fill_value
from .errors import DataError

__all__ = ["pad_sequences", "unpad_sequences", "ragged_error", "looks_zero_padded"]

#: the share of sequences ending in an all-zero step from which features read without
#: lengths are likely zero-padded
PADDED_SHARE = 0.1


def looks_zero_padded(x: np.ndarray) -> int:
    """The number of (N, T, F) feature sequences ending in an all-zero step where they are
    a noticeable share (``PADDED_SHARE``) of them, else 0: read without lengths, x is then
    likely zero-padded (zeros can be real data, so callers warn, never refuse)."""
    if x.ndim != 3 or not len(x):
        return 0
    ending = int(np.count_nonzero(np.all(x[:, -1] == 0, axis=-1)))
    return ending if ending >= PADDED_SHARE * len(x) else 0


def ragged_error(data, what: str) -> ValueError | None:
    """The error for ``data`` (named ``what``) where it is nested lists or tuples of
    sequences of different lengths, naming two items of different shapes and the remedy,
    :func:`pad_sequences`; None where it is not (NumPy's own error then stands)."""
    where = _ragged_items(data)
    if where is None:
        return None
    return ValueError(f"{what}: {where}; sequences of different lengths must be padded to "
                      f"one length first: nongate_np.data.pad_sequences(sequences) gives the "
                      f"padded array and the lengths")


def _ragged_items(data, where: str = "") -> str | None:
    """"item [0] has shape (5, 1) and item [1] (3, 1)": the first two items of different
    shapes in nested lists or tuples (``where``: the path to ``data``), else None."""
    if not isinstance(data, (list, tuple)):
        return None
    shapes: list[tuple] = []
    for k, item in enumerate(data):
        try:
            shapes.append(np.shape(item))
        except ValueError:                  # the item itself is ragged
            return _ragged_items(item, f"{where}[{k}]")
        if shapes[k] != shapes[0]:
            return f"item {where}[0] has shape {shapes[0]} and item {where}[{k}] {shapes[k]}"
    return None


def _as_sequence(k: int, seq) -> np.ndarray:
    try:
        a = np.asarray(seq)
    except ValueError as err:         # ragged steps: [[1, 2], [3]]
        raise DataError(f"pad_sequences: sequence {k} is ragged inside ({err}); expected "
                        f"(T,) or (T, F) numbers") from None
    if a.dtype.kind not in "biuf":
        raise DataError(f"pad_sequences: sequence {k} holds {a.dtype} values; expected "
                        f"numbers (int, float or bool)")
    if a.ndim not in (1, 2):
        raise DataError(f"pad_sequences: sequence {k} has shape {a.shape}; expected (T,) "
                        f"or (T, F)")
    if a.shape[0] == 0:
        raise DataError(f"pad_sequences: sequence {k} is empty; every sequence needs at "
                        f"least one step")
    if a.dtype.kind == "f":
        steps = a.reshape(len(a), -1)
        bad = ~np.isfinite(steps).all(axis=1)
        if bad.any():
            step = int(np.flatnonzero(bad)[0])
            value = steps[step][~np.isfinite(steps[step])][0]
            raise DataError(f"pad_sequences: sequence {k} has a non-finite value ({value}) "
                            f"at step {step}; expected finite numbers")
    return a


def pad_sequences(sequences, *, dtype=None, padding_value=0) -> tuple[np.ndarray, np.ndarray]:
    """Stack sequences of different lengths into one padded array, batch first.

    What ``torch.nn.utils.rnn.pad_sequence(batch_first=True)`` does, with the lengths
    returned beside the array and every bad input named.

    Parameters
    ----------
    sequences : sequence of array_like
        N >= 1 sequences, each (T_i,) (token ids, or one value per step) or (T_i, F)
        (F features per step, the same F for all), with T_i >= 1; lists work too.
    dtype : dtype, optional
        Of the result. Default: int64 when every sequence holds integers or booleans
        (token ids), else the float sequences' common dtype (float32 arrays stay float32,
        as torch's ``pad_sequence`` keeps its tensors' dtype; Python floats are float64).
    padding_value : scalar
        Written past each sequence's length (default 0, what the models expect).

    Returns
    -------
    x : ndarray (N, T_max) or (N, T_max, F)
        ``x[i, :lengths[i]]`` is sequence i; the rest is ``padding_value``.
    lengths : ndarray (N,) int64

    Raises
    ------
    DataError
        No sequences; a sequence that is empty, not numeric, of the wrong rank, ragged
        inside, or holding NaN or infinity; sequences with different ranks or F; float
        values that an integer ``dtype`` would truncate; a ``padding_value`` the dtype
        cannot hold. The message names the sequence's index.
    """
    if isinstance(sequences, np.ndarray) and sequences.ndim == 0:
        raise DataError("pad_sequences: expected a list of sequences, got a scalar array")
    arrays = [_as_sequence(k, seq) for k, seq in enumerate(sequences)]
    if not arrays:
        raise DataError("pad_sequences: no sequences given; expected a non-empty list of "
                        "(T,) or (T, F) arrays")
    first = arrays[0]
    for k, a in enumerate(arrays):
        if a.ndim != first.ndim or a.shape[1:] != first.shape[1:]:
            want = "(T,)" if first.ndim == 1 else f"(T, {first.shape[1]})"
            raise DataError(f"pad_sequences: sequence {k} has shape {a.shape} but sequence "
                            f"0 has {first.shape}; every sequence must be {want}")
    if dtype is None:
        floats = [a.dtype for a in arrays if a.dtype.kind == "f"]
        dtype = np.result_type(*floats) if floats else np.int64
    pad = fill_value(padding_value, dtype, "pad_sequences: padding_value", DataError)
    dtype = pad.dtype
    lengths = np.array([len(a) for a in arrays], np.int64)
    x = np.full((len(arrays), int(lengths.max()), *first.shape[1:]), pad, dtype)
    for k, a in enumerate(arrays):
        if dtype.kind in "biu" and a.dtype.kind == "f" and np.any(a != np.trunc(a)):
            raise DataError(f"pad_sequences: sequence {k} has fractional values but dtype "
                            f"is {dtype}; pass a float dtype")
        x[k, :len(a)] = a
    return x, lengths


def unpad_sequences(x, lengths) -> list[np.ndarray]:
    """The inverse of :func:`pad_sequences`: a list of N arrays ``x[i, :lengths[i]]``.

    Parameters
    ----------
    x : ndarray (N, T) or (N, T, F)
    lengths : array_like (N,) of int in [0, T]

    Raises
    ------
    DataError
        ``lengths`` does not have one entry per sequence, is not integers, or an entry is
        out of range.
    """
    x, lengths = np.asarray(x), np.asarray(lengths)
    if x.ndim < 2 or lengths.shape != (x.shape[0],) or lengths.dtype.kind not in "iu":
        raise DataError(f"unpad_sequences: expected x (N, T[, F]) and lengths (N,) integers, "
                        f"got x {x.shape} and lengths {lengths.shape} of dtype {lengths.dtype}")
    if lengths.size and (lengths.min() < 0 or lengths.max() > x.shape[1]):
        raise DataError(f"unpad_sequences: lengths must lie in [0, T={x.shape[1]}], got "
                        f"{lengths.min()}..{lengths.max()}")
    return [x[i, :int(n)].copy() for i, n in enumerate(lengths)]
