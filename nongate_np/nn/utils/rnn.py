"""``torch.nn.utils.rnn``: packed sequences, so torch code that packs its batches ports as it
is (``pack_padded_sequence`` → ``nn.LSTM`` or ``nn.GRU`` → ``pad_packed_sequence``).

A :class:`PackedSequence` holds B sequences of different lengths without padding, in
torch's layout: ``data`` (N, *) is every sequence's steps, step by step (time-major), the
sequences within a step in the sorted order (longest first), N = Σ lengths; ``batch_sizes``
(T,) says how many sequences have a step t (non-increasing, ``batch_sizes[0]`` = B);
``sorted_indices`` (B,) the original index of the sequence in each sorted position (None:
the batch was sorted already), ``unsorted_indices`` its inverse, the sorted position of
each original sequence. For sequences "abc" and "x": data "axbc", batch_sizes [2, 1, 1].

Packing and unpacking only move rows, so they are composed from differentiable ops:
``index_select`` (a gather; its backward is a scatter-add of the gradient to the rows read,
docs/math.md E17a), ``concat`` and ``reshape`` (E16). The gradient flows through every
function here with no backward of its own. The row indices are computed on the host, as
int64 arrays; the index tensors (``batch_sizes``, ``sorted_indices``, ``unsorted_indices``,
the lengths returned) are int64 host tensors, whatever the data's device.
"""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import numpy as np

from ...arguments import check_flag
from ...ops._util import tensor_arg, xp_of
from ...ops.shape import concat, getitem, reshape
from ...ops.tile import index_select
from ...tensor import Tensor, as_array

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


# -- index arrays (host int64) --------------------------------------------------------------
def _host_ints(values, where: str, what: str) -> np.ndarray:
    """``values`` (a list, an array, a tensor on either device, a torch tensor) as a host
    int64 vector; TypeError for anything but integers, ValueError for another shape."""
    if isinstance(values, Tensor):
        values = xp_of(values.data).to_host(values.data)
    try:
        arr = as_array(values, what=f"{where}: {what}")
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.dtype.kind not in "iu":
        given = f"{type(values).__name__}" if arr is None else f"dtype {arr.dtype}"
        raise TypeError(f"{where}: {what} must be integers (a list, an array or an int64 "
                        f"tensor), got {given}")
    if arr.ndim != 1:
        raise ValueError(f"{where}: {what} must be 1-D, got shape {arr.shape}")
    return arr.astype(np.int64, copy=False)


def _shown(arr: np.ndarray) -> str:
    """A short text of an int vector for an error message (long ones elided)."""
    return np.array2string(arr, separator=", ", threshold=12, edgeitems=4)


def _index_tensor(arr: np.ndarray) -> Tensor:
    return Tensor(np.ascontiguousarray(arr, dtype=np.int64))


def _as_index(values, what: str) -> Tensor:
    """A PackedSequence's index field: a tensor as given, else int64 on the host."""
    return values if isinstance(values, Tensor) else \
        _index_tensor(_host_ints(values, "PackedSequence", what))


def _optional_index(values, what: str) -> Tensor | None:
    return None if values is None else _as_index(values, what)


def _packed_rows(lengths_sorted: np.ndarray, order: np.ndarray, T: int,
                 batch_first: bool) -> np.ndarray:
    """For each row of the packed data, in order, the row it reads in the padded batch
    viewed as (T·B, *) ((B·T, *) when ``batch_first``): step t of the sequence in sorted
    position j is padded step t of sequence ``order[j]``."""
    B = len(order)
    # NOTE: np.nonzero walks the (step, sorted position) mask row by row: time-major, and
    # within a step in sorted order, which is the packed layout
    t, j = np.nonzero(np.arange(lengths_sorted[0])[:, None] < lengths_sorted[None, :])
    b = order[j]
    return b * T + t if batch_first else t * B + b


def _sorted_lengths(batch_sizes: np.ndarray) -> np.ndarray:
    """The length of the sequence in each sorted position: how many steps have it."""
    return (batch_sizes[:, None] > np.arange(batch_sizes[0])[None, :]).sum(0)


def _gather_rows(data: Tensor, rows: np.ndarray, padding_value, where: str) -> Tensor:
    """``data`` (N, *) read at ``rows`` (any shape, values in [0, N]; N reads a padding
    row of ``padding_value``): shape rows.shape + data.shape[1:], data's dtype. The
    gradient is scatter-added back to the rows read (E17a); the padding gets none."""
    if data.dtype.kind in "iu" and not (np.isfinite(padding_value) and np.iinfo(
            data.dtype).min <= padding_value <= np.iinfo(data.dtype).max):
        # NOTE: NumPy would store garbage there with a warning
        raise ValueError(f"{where}: padding_value {padding_value!r} cannot be stored in the "
                         f"data's dtype {data.dtype}")
    pad = xp_of(data.data).full((1,) + data.shape[1:], padding_value, data.dtype)
    table = concat([data, Tensor._wrap(pad)])      # the padding row is a constant: N
    return reshape(index_select(table, 0, rows.reshape(-1)), rows.shape + data.shape[1:])


def _check_padding_value(value, where: str):
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: padding_value must be a real number, got {value!r:.40}")
    return value


class _Layout(NamedTuple):
    """A packed sequence's layout, checked, as host int64 arrays."""

    batch_sizes: np.ndarray        # (T,) sequences with a step t, non-increasing
    order: np.ndarray              # (B,) sorted position j -> original sequence
    position: np.ndarray           # (B,) original sequence b -> sorted position


def _layout(sequence, where: str) -> _Layout:
    """The layout of ``sequence``, or an error naming ``where``: a PackedSequence whose
    batch_sizes are positive and non-increasing, whose data has Σ batch_sizes rows, and
    whose indices (if any) are permutations of the B sequences."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{where}: expected a PackedSequence (from pack_padded_sequence or "
                        f"pack_sequence), got {type(sequence).__name__}")
    bs = _host_ints(sequence.batch_sizes, where, "batch_sizes")
    if bs.size == 0 or bs.min() < 1 or np.any(np.diff(bs) > 0):
        raise ValueError(f"{where}: batch_sizes must be positive and non-increasing, one "
                         f"entry per step, as pack_padded_sequence makes them; got "
                         f"{_shown(bs)}")
    n = sequence.data.shape[0] if sequence.data.ndim else None
    if n != bs.sum():
        raise ValueError(f"{where}: data has shape {sequence.data.shape}, expected "
                         f"sum(batch_sizes) = {bs.sum()} rows (one per step of every "
                         f"sequence)")
    B = int(bs[0])
    perms = {}
    for what in ("sorted_indices", "unsorted_indices"):
        given = getattr(sequence, what)
        if given is None:
            continue
        perm = perms[what] = _host_ints(given, where, what)
        if not np.array_equal(np.sort(perm), np.arange(B)):
            raise ValueError(f"{where}: {what} must be a permutation of the {B} sequences "
                             f"(batch_sizes[0] = {B}), got {_shown(perm)}")
    order = perms.get("sorted_indices", np.arange(B))
    position = perms.get("unsorted_indices", np.argsort(order))
    if not np.array_equal(order[position], np.arange(B)):
        raise ValueError(f"{where}: unsorted_indices {_shown(position)} must be the inverse "
                         f"of sorted_indices {_shown(order)}")
    return _Layout(bs, order, position)


# -- PackedSequence -------------------------------------------------------------------------
class _PackedSequenceFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedSequenceFields):
    """A batch of variable-length sequences without padding, as
    ``torch.nn.utils.rnn.PackedSequence`` (a named tuple of four fields, unpacking as one).

    Fields
    ------
    data : Tensor (N, *)
        Every sequence's steps, time-major, the sequences of a step in sorted order
        (longest first); N = Σ lengths. Carries the gradient back to what was packed.
    batch_sizes : int64 Tensor (T,)
        How many sequences have a step t: positive, non-increasing, ``batch_sizes[0]`` = B.
    sorted_indices : int64 Tensor (B,) or None
        The original index of the sequence in each sorted position; None when the batch
        came sorted (``enforce_sorted=True``).
    unsorted_indices : int64 Tensor (B,) or None
        Its inverse: each original sequence's sorted position. Computed from
        ``sorted_indices`` when not given.

    Made by :func:`pack_padded_sequence` and :func:`pack_sequence` (torch's advice: never
    by hand); ``nn.LSTM`` and ``nn.GRU`` take one and return one. Index arguments may be
    lists or arrays (kept as int64 host tensors); data may be an array (a constant). As
    torch's, the older form ``PackedSequence((data, batch_sizes), sorted_indices=...)`` is
    accepted. Raises TypeError for index fields that are not integers or 1-D, ValueError
    for ``sorted_indices`` that are not a permutation; the rest is checked where the fields
    are used (``pad_packed_sequence``, ``nn.LSTM``, ``nn.GRU``: the data's rows, the batch
    sizes).
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:
            if not (isinstance(data, (tuple, list)) and len(data) == 2):
                raise TypeError("PackedSequence: expected data and batch_sizes, or one pair "
                                f"(data, batch_sizes); got {type(data).__name__} alone")
            data, batch_sizes = data
        sorted_indices = _optional_index(sorted_indices, "sorted_indices")
        unsorted_indices = _optional_index(unsorted_indices, "unsorted_indices")
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, tensor_arg(data, "PackedSequence"),
                               _as_index(batch_sizes, "batch_sizes"),
                               sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """``data.to(...)`` (a device and/or a dtype, torch's forms), the indices kept on
        the host; ``self`` itself where data is there already, as torch's."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self) -> PackedSequence:
        """``self.to("cpu")``."""
        return self.to("cpu")

    def cuda(self) -> PackedSequence:
        """``self.to("cuda")``."""
        return self.to("cuda")

    def double(self) -> PackedSequence:
        """``self.to(np.float64)``."""
        return self.to(np.float64)

    def float(self) -> PackedSequence:
        """``self.to(np.float32)``."""
        return self.to(np.float32)

    @property
    def is_cuda(self) -> bool:
        """Whether ``data`` is on the GPU."""
        return self.data.device.type == "cuda"


def invert_permutation(permutation) -> Tensor | None:
    """The inverse of ``permutation`` (B,) as an int64 tensor, None for None, as
    ``torch.nn.utils.rnn.invert_permutation``: ``out[permutation[k]] = k``. Raises
    TypeError for non-integers, ValueError for anything but a permutation of range(B)."""
    if permutation is None:
        return None
    perm = _host_ints(permutation, "invert_permutation", "permutation")
    if not np.array_equal(np.sort(perm), np.arange(perm.size)):
        raise ValueError(f"invert_permutation: expected a permutation of 0..{perm.size - 1}, "
                         f"got {_shown(perm)}")
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(perm.size)
    return _index_tensor(inverse)


# -- packing and unpacking a padded batch ----------------------------------------------------
def pack_padded_sequence(input, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch of sequences, as ``torch.nn.utils.rnn.pack_padded_sequence``.

    Parameters
    ----------
    input : Tensor (T, B, *), or (B, T, *) when ``batch_first``
        Any dtype; the steps of sequence b past ``lengths[b]`` are not read (and get a zero
        gradient). An array is taken as a constant.
    lengths : ints (B,)
        A list, an array or an integer tensor; each in [1, T].
    enforce_sorted : bool, default True
        The lengths must be non-increasing (``sorted_indices`` is None). With False any
        order: the sequences are sorted longest first (among equal lengths in their original
        order: a stable sort, which torch's CPU sort also gives up to 16 sequences), and
        the result's ``sorted_indices`` and ``unsorted_indices`` record the permutation.

    Returns
    -------
    PackedSequence, ``data`` (Σ lengths, *) with input's dtype and the gradient.

    Raises
    ------
    TypeError
        For non-integer lengths (torch truncates floats) or a flag that is not a bool.
    ValueError (torch: RuntimeError)
        For an input with fewer than 2 dims or no sequence or step, a number of lengths
        other than B, a length below 1 or above T (torch reads past the input), or lengths
        not sorted under ``enforce_sorted=True``.
    """
    where = "pack_padded_sequence"
    x = tensor_arg(input, where)
    batch_first = check_flag(batch_first, "batch_first", where)
    enforce_sorted = check_flag(enforce_sorted, "enforce_sorted", where)
    layout = "(B, T, *)" if batch_first else "(T, B, *)"
    if x.ndim < 2:
        raise ValueError(f"{where}: input must be {layout} padded sequences "
                         f"(batch_first={batch_first}), got shape {x.shape}")
    B, T = (x.shape[0], x.shape[1]) if batch_first else (x.shape[1], x.shape[0])
    if B == 0 or T == 0:
        raise ValueError(f"{where}: cannot pack an empty batch: input has shape {x.shape} "
                         f"{layout}, expected at least one sequence and one step")
    lengths = _host_ints(lengths, where, "lengths")
    if lengths.shape != (B,):
        raise ValueError(f"{where}: expected len(lengths) equal to the batch size B = {B} of "
                         f"input {x.shape} {layout}, got {lengths.size} lengths")
    for bad, rule in ((lengths < 1, "at least 1 (drop empty sequences from the batch)"),
                      (lengths > T, f"at most T = {T}, the input's steps ({layout} "
                                    f"{x.shape}; is batch_first={batch_first} right?)")):
        if bad.any():
            b = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{where}: every length must be {rule}; got lengths[{b}] = "
                             f"{lengths[b]}")
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise ValueError(f"{where}: lengths must be sorted in decreasing order when "
                             f"enforce_sorted=True, got {_shown(lengths)}; pass "
                             f"enforce_sorted=False to sort them here")
        order = np.arange(B)
    else:
        order = np.argsort(-lengths, kind="stable")
    lengths_sorted = lengths[order]
    rows = _packed_rows(lengths_sorted, order, T, batch_first)
    data = index_select(reshape(x, (B * T,) + x.shape[2:]), 0, rows)    # E17a
    batch_sizes = (lengths_sorted[None, :] > np.arange(T)[:lengths_sorted[0], None]).sum(1)
    return PackedSequence(data, _index_tensor(batch_sizes),
                          None if enforce_sorted else _index_tensor(order))


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value=0.0, total_length: int | None = None
                        ) -> tuple[Tensor, Tensor]:
    """Pad a packed batch back, as ``torch.nn.utils.rnn.pad_packed_sequence``: the inverse
    of :func:`pack_padded_sequence`, in the original batch order.

    Parameters
    ----------
    sequence : PackedSequence, data (N, *)
    padding_value : number, default 0.0
        The value past each sequence's end, in data's dtype (cast as NumPy casts).
    total_length : int, optional
        Steps in the result (default the longest sequence's, T = len(batch_sizes)).

    Returns
    -------
    padded : Tensor (T, B, *), or (B, T, *) when ``batch_first``; data's dtype and device;
        the gradient goes back to ``sequence.data`` (none to the padding).
    lengths : int64 Tensor (B,), each sequence's length, in the original order.

    Raises
    ------
    TypeError
        For anything but a PackedSequence, a non-integer ``total_length`` or a
        ``padding_value`` that is not a number.
    ValueError
        For ``total_length`` below the longest sequence (as torch), a padding value the
        dtype cannot hold (NaN for integers), or a malformed PackedSequence (batch_sizes
        not positive and non-increasing, data rows other than Σ batch_sizes, indices that
        are not a permutation).
    """
    where = "pad_packed_sequence"
    layout = _layout(sequence, where)
    batch_first = check_flag(batch_first, "batch_first", where)
    padding_value = _check_padding_value(padding_value, where)
    T = len(layout.batch_sizes)
    if total_length is not None:
        if isinstance(total_length, (bool, np.bool_)) or \
                not isinstance(total_length, numbers.Integral):
            raise TypeError(f"{where}: total_length must be an int or None, got "
                            f"{total_length!r:.40}")
        if total_length < T:
            raise ValueError(f"{where}: expected total_length to be at least the length of "
                             f"the longest sequence in input, but got "
                             f"total_length={total_length} and max sequence length being {T}")
        T = int(total_length)
    padded = _padded(sequence.data, layout, T, batch_first, padding_value, where)
    return padded, _index_tensor(_sorted_lengths(layout.batch_sizes)[layout.position])


def _padded(data: Tensor, layout: _Layout, T: int, batch_first: bool, padding_value,
            where: str) -> Tensor:
    """The packed ``data`` (N, *) padded to (T, B, *) ((B, T, *) when ``batch_first``),
    the batch in the original order."""
    bs, j = layout.batch_sizes, layout.position
    # rows[t, b]: the packed row of step t of original sequence b (sorted position j[b]),
    # or N (the padding row) past its end; packed step t starts at row Σ_{s<t} batch_sizes
    starts = np.cumsum(bs) - bs
    rows = np.full((T, int(bs[0])), int(bs.sum()), np.int64)
    valid = j[None, :] < bs[:, None]
    rows[:len(bs)][valid] = (starts[:, None] + j[None, :])[valid]
    return _gather_rows(data, rows.T if batch_first else rows, padding_value, where)


def _unpacked(sequence: PackedSequence, where: str) -> tuple[Tensor, np.ndarray, _Layout]:
    """An RNN's view of packed input: (T, B, *) in the original batch order with zeros
    past each end, the lengths (B,), and the layout to pack its output with."""
    layout = _layout(sequence, where)
    padded = _padded(sequence.data, layout, len(layout.batch_sizes), False, 0, where)
    return padded, _sorted_lengths(layout.batch_sizes)[layout.position], layout


def _pack_like(padded: Tensor, layout: _Layout) -> Tensor:
    """The packed data of ``padded`` (T, B, *), batch in the original order, laid out as
    ``layout`` (an RNN's output on the packed input :func:`_unpacked` read)."""
    rows = _packed_rows(_sorted_lengths(layout.batch_sizes), layout.order, padded.shape[0],
                        batch_first=False)
    return index_select(reshape(padded, (-1,) + padded.shape[2:]), 0, rows)     # E17a


# -- lists of sequences ---------------------------------------------------------------------
def _sequence_list(sequences, where: str) -> list[Tensor]:
    """``sequences`` as a non-empty list of tensors of one dtype and trailing shape."""
    if isinstance(sequences, PackedSequence) or not hasattr(sequences, "__iter__"):
        raise TypeError(f"{where}: expected a list of (L_i, *) tensors, got "
                        f"{type(sequences).__name__}")
    xs = [tensor_arg(s, where) for s in sequences]
    if not xs:
        raise ValueError(f"{where}: received an empty list of sequences")
    for k, s in enumerate(xs):
        if s.ndim == 0:
            raise ValueError(f"{where}: sequence {k} is 0-d; expected (L, *) with L steps")
        if s.shape[1:] != xs[0].shape[1:]:
            raise ValueError(f"{where}: sequence {k} has shape {s.shape}, sequence 0 "
                             f"{xs[0].shape}; all must share the shape after the first dim")
        if s.dtype != xs[0].dtype:
            raise TypeError(f"{where}: sequence {k} is {s.dtype}, sequence 0 {xs[0].dtype}; "
                            f"convert them to one dtype")
    return xs


def pad_sequence(sequences, batch_first: bool = False, padding_value=0.0,
                 padding_side: str = "right") -> Tensor:
    """Pad a list of sequences to the longest, as ``torch.nn.utils.rnn.pad_sequence``.

    ``sequences``: tensors (L_i, *) (arrays are constants), one dtype and trailing shape;
    L_i = 0 allowed. Returns (T, B, *), or (B, T, *) when ``batch_first``, T = max L_i,
    their dtype, ``padding_value`` elsewhere; ``padding_side="left"`` puts the padding
    before each sequence. The gradient goes back to each sequence's steps (E17a).

    Raises TypeError for something not a list of tensors, mixed dtypes (torch casts to the
    first's) or a non-number padding value; ValueError for an empty list, a 0-d sequence,
    different trailing shapes or a padding_side other than "left" and "right".
    """
    where = "pad_sequence"
    batch_first = check_flag(batch_first, "batch_first", where)
    padding_value = _check_padding_value(padding_value, where)
    if padding_side not in ("left", "right"):
        raise ValueError(f"{where}: expected padding_side to be one of 'left' or 'right', got "
                         f"{padding_side!r:.40}")
    xs = _sequence_list(sequences, where)
    lens = np.array([s.shape[0] for s in xs], np.int64)
    N, T = int(lens.sum()), int(lens.max())
    # rows[b, t]: the row of the joined sequences that padded step t of sequence b reads
    rows = np.full((len(xs), T), N, np.int64)
    for b, (start, n) in enumerate(zip(np.cumsum(lens) - lens, lens)):
        first = 0 if padding_side == "right" else T - n
        rows[b, first:first + n] = np.arange(start, start + n)
    table = xs[0] if len(xs) == 1 else concat(xs)
    return _gather_rows(table, rows if batch_first else rows.T, padding_value, where)


def unpad_sequence(padded_sequences, lengths, batch_first: bool = False) -> list[Tensor]:
    """The list of sequences a padded batch holds, as ``torch.nn.utils.rnn.unpad_sequence``:
    sequence b is ``padded[:lengths[b], b]`` (``padded[b, :lengths[b]]`` when
    ``batch_first``), shape (lengths[b], *), with the gradient. Unlike torch's, the input
    is not transposed in place.

    Raises TypeError for non-integer lengths, ValueError for an input with fewer than 2
    dims, a number of lengths other than B, or a length outside [0, T] (torch takes T
    steps for a longer one).
    """
    where = "unpad_sequence"
    x = tensor_arg(padded_sequences, where)
    batch_first = check_flag(batch_first, "batch_first", where)
    if x.ndim < 2:
        raise ValueError(f"{where}: padded_sequences must be (T, B, *) or (B, T, *) with "
                         f"batch_first, got shape {x.shape}")
    B, T = (x.shape[0], x.shape[1]) if batch_first else (x.shape[1], x.shape[0])
    lengths = _host_ints(lengths, where, "lengths")
    if lengths.shape != (B,):
        raise ValueError(f"{where}: expected {B} lengths, one per sequence of "
                         f"padded_sequences {x.shape} (batch_first={batch_first}), got "
                         f"{lengths.size}")
    if lengths.size and (lengths.min() < 0 or lengths.max() > T):
        b = int(np.flatnonzero((lengths < 0) | (lengths > T))[0])
        raise ValueError(f"{where}: lengths must lie in [0, T] = [0, {T}], got lengths[{b}] "
                         f"= {lengths[b]}")
    return [getitem(x, (b, slice(0, n)) if batch_first else (slice(0, n), b))
            for b, n in enumerate(lengths.tolist())]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences (L_i, *), as ``torch.nn.utils.rnn.pack_sequence``:
    :func:`pad_sequence` then :func:`pack_padded_sequence` (with ``enforce_sorted``:
    the sequences longest first), whose errors it raises; every L_i must be at least 1."""
    xs = _sequence_list(sequences, "pack_sequence")
    return pack_padded_sequence(pad_sequence(xs), [s.shape[0] for s in xs],
                                enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences (L_b, *) a PackedSequence holds, in the original order, as
    ``torch.nn.utils.rnn.unpack_sequence``: :func:`pad_packed_sequence` then
    :func:`unpad_sequence`, whose errors it raises."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
