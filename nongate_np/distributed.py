"""Data-parallel training over MPI, as PyTorch's DistributedDataParallel (extra ``mpi``:
mpi4py and an MPI from PyPI).

Every rank holds the whole model and draws the same global batches in the same order (same
seed); each takes its share of every batch, runs forward and backward on it, and at the end
of the backward one Allreduce of a flat, preallocated buffer gives every rank the gradient
of the whole batch. The optimizer then takes the same step on every rank, so the weights
stay identical without being sent again. A loop of one's own adopts it in two lines
(``batches``: index arrays, or anything that slices, the same on every rank; the model is
still called as itself, ``dp.model``)::

    abort_on_error()                                # an error on one rank ends them all
    dp = DataParallel(model)                        # 1: rank 0's parameters to every rank
    for idx in dp.shares(batches):                  # 2: this rank's rows of each batch
        loss = loss_fn(model(x[idx]), y[idx])       # a mean over those rows
        optimizer.zero_grad()
        loss.backward()                             # ends with the whole batch's gradient
        clip_grad_norm_(model.parameters(), 5.0)    # on the global norm: same on every rank
        optimizer.step()

Start it with ``mpiexec -n N`` before the usual command line. The shares of a batch
differ by at most one row and are weighted by their sizes, so an uneven last batch gives
the gradient of its mean over all its rows, as one process would (docs/distributed.md).
Every rank must run the same number of backwards, on the same batches: ``shares``
checks a list of batches before the first, and any other iterable (a generator) batch by
batch, and raises on every rank where they differ rather than leave one waiting in its
Allreduce. There is no ``join`` as DDP has for uneven inputs: drop an uneven last batch or
pad it.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import sys
import time
import traceback
import warnings
import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from . import autograd
from .device import CPU, DeviceError
from .extras import install_hint

__all__ = ["DataParallel", "abort_on_error", "launched_by_mpi", "split_bounds"]

#: Environment variables an MPI launcher sets in every process it starts (MPICH's Hydra
#: and others through PMI, Open MPI, PMIx launchers such as srun)
_LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")


def launched_by_mpi() -> bool:
    """Whether this process was started by an MPI launcher (``mpiexec``, ``srun``), read from
    the environment without importing mpi4py (which would initialise MPI)."""
    return any(v in os.environ for v in _LAUNCHER_VARS)


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise ImportError("nongate_np.distributed needs mpi4py and an MPI library: "
                          f"{install_hint('mpi')}") from err
    return MPI


#: how long a failing rank waits, its error written, before it aborts the job
_ABORT_GRACE_SECONDS = 0.5


def abort_on_error(comm=None) -> None:
    """Make an uncaught exception on any rank end the whole job: the rank and its error are
    printed to stderr (once), then ``MPI_Abort`` stops every rank, instead of the others
    waiting forever in their next collective. A job of one rank prints the usual traceback."""
    MPI = _mpi()
    comm = comm or MPI.COMM_WORLD
    previous = sys.excepthook

    def hook(kind, value, tb):
        if comm.Get_size() == 1:            # nothing to abort: the usual traceback
            previous(kind, value, tb)
            return
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(f"nongate_np.distributed: rank {comm.Get_rank()} of "
                         f"{comm.Get_size()} failed, aborting the job:\n{text}")
        sys.stderr.flush()
        # the launcher forwards a rank's stderr through a pipe, and MPI_Abort could end
        # the job before it had, losing the message
        time.sleep(_ABORT_GRACE_SECONDS)
        # not the previous hook after it: MPICH's MPI_Abort returns in the calling rank,
        # and the traceback would be printed a second time
        comm.Abort(1)

    hook.aborts_the_job = True                  # type: ignore[attr-defined]
    sys.excepthook = hook


class DataParallel:
    """Data parallelism for ``model`` over the ranks of ``comm`` (default MPI's COMM_WORLD).

    On construction every rank checks that it holds the same parameters and buffers (names,
    shapes, dtypes) and receives rank ``root``'s values of both, so all start from the same
    weights and the same statistics (a model's ``input_mean``, ``target_std``), as
    DistributedDataParallel broadcasts the module's buffers. From
    then on every backward that reaches the model's parameters ends with
    :meth:`all_reduce_gradients` (a hook on each parameter queues it once per backward, as
    DistributedDataParallel's do), unless it runs inside :meth:`no_sync`; the batch's loss
    over all the ranks is then in :attr:`loss`.

    Parameters
    ----------
    model : Module
        Its parameters, in ``named_parameters()`` order, are the ones synchronised.
    comm : mpi4py communicator, optional
    root : int
        The rank whose parameters every rank starts from.
    share_cores : bool
        With several ranks on one machine, give each rank's kernels its share of the cores
        (``numba.set_num_threads(cores // ranks on this machine)``, a cgroup CPU limit
        counted, never more than the rank's affinity mask), as torchrun gives each
        process one OpenMP thread: threads beyond the cores make every rank wait on the
        others' (bench/RESULTS.md, "Data parallel over MPI"). Not done when
        ``NUMBA_NUM_THREADS`` is set: that count is kept.

    Raises
    ------
    ImportError
        Without mpi4py (``pip install mpi4py mpich``).
    DeviceError
        The model's parameters are on the GPU: DataParallel reduces host arrays.
    ValueError
        The ranks' models differ (the message names the first rank that differs and how).

    Warns
    -----
    UserWarning
        With several ranks and no :func:`abort_on_error` (nor ``python -m mpi4py``): an
        uncaught error on one rank would leave the others waiting forever.
    """

    def __init__(self, model, comm=None, *, root: int = 0, share_cores: bool = True):
        MPI = _mpi()
        self.comm = comm or MPI.COMM_WORLD
        self.rank, self.world_size = self.comm.Get_rank(), self.comm.Get_size()
        if self.world_size > 1 and not getattr(sys.excepthook, "aborts_the_job", False) \
                and "mpi4py.run" not in sys.modules:
            warnings.warn("DataParallel: an uncaught error on one rank would leave the others "
                          "waiting forever in their next Allreduce; call nongate_np."
                          "distributed.abort_on_error() first (nongate-np train does), or run "
                          "the script with python -m mpi4py", UserWarning, stacklevel=2)
        if share_cores and "NUMBA_NUM_THREADS" not in os.environ:
            _share_cores(self.comm.Split_type(MPI.COMM_TYPE_SHARED))
        self.model = model
        named = list(model.named_parameters())
        gpu = next(((n, p) for n, p in named if p.device is not CPU), None)
        if gpu is not None:         # the reduction packs the gradients in a host buffer
            raise DeviceError(f"DataParallel: runs on the CPU only, and the model's parameter "
                              f"{gpu[0]} is on {gpu[1].device}: call model.cpu() first")
        self._params = [p for _, p in named]
        self._buffers = [b for _, b in model.named_buffers()]
        for what, members in (("parameter", named), ("buffer", model.named_buffers())):
            signature = [(n, tuple(a.shape), str(a.dtype)) for n, a in members]
            differ = _first_difference(self.comm.allgather(signature))
            if differ is not None:
                r, k, sig, first = differ
                why = f"{len(sig)} {what}s against rank 0's {len(first)}" if k is None \
                    else f"{what} {k} is {sig[k]} against rank 0's {first[k]}"
                raise ValueError(f"DataParallel: the ranks hold different models: rank {r}'s "
                                 f"{why} (this is rank {self.rank}); build the same model on "
                                 "every rank")
        self.dtype = np.result_type(*(p.dtype for p in self._params)) if self._params \
            else np.dtype(np.float64)
        sizes = [int(np.prod(p.shape)) for p in self._params]
        self._offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        # one buffer for every parameter and two numbers (a flag, the batch's loss),
        # allocated once: the Allreduce of each step and the broadcast at the start send it
        # whole
        self._buffer = np.zeros(int(self._offsets[-1]) + 2, self.dtype)
        self._share = (0, 0)            # (rows of this rank, rows of the batch)
        self._sync = True
        self._held: list[float] = []    # the weights of the backwards run in no_sync ...
        self._held_value = 0.0          # ... and their weighted losses, since the last reduce
        self._held_grad: tuple[int, Any] | None = None   # (k, weakref to param k's .grad)
        #: the loss of the batch (of every micro-batch since the last reduction, under
        #: no_sync) over all the ranks, set by each reduction in a backward; else None
        self.loss: float | None = None
        self.broadcast_parameters(root)
        for p in self._params:
            p.register_post_accumulate_grad_hook(self._on_gradient)

    # -- the model's weights --------------------------------------------------------------
    def broadcast_parameters(self, root: int = 0) -> None:
        """Every rank's parameters and buffers set to rank ``root``'s (in place)."""
        if self.rank == root:
            self._pack(p.data for p in self._params)
        self.comm.Bcast(self._buffer, root=root)
        for p, view in zip(self._params, self._views()):
            np.copyto(p.data, view.reshape(p.shape))
            autograd.mark_changed(p.data)
        for b in self._buffers:
            sent = np.ascontiguousarray(b)      # Bcast needs one block of memory
            self.comm.Bcast(sent, root=root)
            if sent is not b:
                np.copyto(b, sent)
            autograd.mark_changed(b)

    # -- the batches ----------------------------------------------------------------------
    def share(self, batch: Sequence | np.ndarray) -> Any:
        """This rank's part of a global ``batch`` (an index array, a list, anything that
        slices): the rows [start, stop) of a split into ``world_size`` contiguous parts
        whose sizes differ by at most one (the first ``len % world_size`` ranks take one
        more). Remembers both sizes, which weigh this rank's gradient in
        :meth:`all_reduce_gradients`."""
        n = len(batch)
        start, stop = split_bounds(n, self.world_size)[self.rank:self.rank + 2]
        self._share = (stop - start, n)
        return batch[start:stop]

    def shares(self, batches: Iterable) -> Iterator[Any]:
        """This rank's share (:meth:`share`) of each of ``batches``, for the loop's ``for``.

        Every rank runs the loop's body for every batch, as the collective in its backward
        needs: a rank whose share of a batch would be empty (the batch has fewer rows than
        there are ranks) gets the batch's last row with weight 0, which adds nothing to the
        gradient or to :attr:`loss`. Empty batches are skipped.

        A list or tuple (of index arrays or lists of integers) is compared between the
        ranks once, before the first batch: their counts, sizes and a digest of their
        indices. Any other iterable (a generator, a data loader) is compared batch by
        batch, as it is drawn: before each batch one Allgather of two integers per rank,
        its batch's row count (or that it has none left) and a digest of its indices, so
        that ranks that run out at different batches, or draw batches of different sizes
        or rows, raise together rather than wait in an Allreduce the others never reach or
        train on the wrong rows; the loop ends when every rank has run out. Rows that are
        not integer indices are compared by size only.

        Raises
        ------
        ValueError
            On every rank, when the ranks' batches differ: a list's before the first batch
            (a rank with fewer batches would leave the others waiting, and different batches,
            shuffled with different seeds, would train on the wrong rows without an error);
            an iterable's at the first batch whose row counts or indices differ (the
            message names the batch, counted from 0, and each rank's rows or "no batch
            left", or the first rank whose rows differ from rank 0's)."""
        if isinstance(batches, (list, tuple)):
            differ = _first_difference(self.comm.allgather(_fingerprint(batches)))
            if differ is not None:
                r, k, sig, first = differ
                why = f"{len(sig)} batches against rank 0's {len(first)}" if k is None else \
                    f"batch {k} ({sig[k][0]} rows) differs from rank 0's ({first[k][0]} rows)"
                raise ValueError(f"DataParallel: the ranks hold different batches: rank "
                                 f"{r}'s {why} (this is rank {self.rank}); draw them with "
                                 "the same seed on every rank")
        elif self.world_size > 1:
            batches = self._agreed(batches)
        for batch in batches:
            n = len(batch)
            if n == 0:
                continue
            mine = self.share(batch)
            if len(mine) == 0:
                mine = batch[n - 1:n]               # weight 0: share() left (0, n)
            yield mine

    def _agreed(self, batches: Iterable) -> Iterator[Any]:
        """``batches`` one by one, each after every rank has said its row count (-1: none
        left) and a digest of its indices (0 for rows that are not integers) in one
        Allgather, until every rank has run out; ValueError on every rank at the first
        batch whose counts or indices differ."""
        said = np.empty(2, np.int64)
        heard = np.empty((self.world_size, 2), np.int64)
        drawn = iter(batches)
        for k in itertools.count():
            batch: Any = next(drawn, _NO_BATCH)
            if batch is _NO_BATCH:
                said[:] = -1, 0
            else:
                n, digest = _batch_fingerprint(batch)
                said[:] = n, 0 if digest is None else int(digest[:15], 16)   # 60 bits
            self.comm.Allgather(said, heard)
            differ = _batches_differ(heard)
            if differ is not None:
                raise ValueError(f"DataParallel: the ranks drew different batches: batch {k}: "
                                 f"{differ} (this is rank {self.rank}); draw the same batches "
                                 "on every rank (the same seed), and for an uneven end drop "
                                 "the last batch or pad it")
            if heard[0, 0] < 0:
                return
            yield batch

    def check_agreement(self, where: str, items: dict, *, hint: str,
                        error: Exception | None = None) -> None:
        """Raise ValueError on every rank unless every rank gave the same ``items``: one
        allgather, which every rank must reach at the same point (before the first step),
        so that ranks asked for different work fail together rather than wait in each
        other's collectives or train different models.

        ``items`` maps what must agree (``"epochs"``, ``"train data"``) to a value compared
        with ``==`` and shown with ``repr`` (a number, a string, a digest of arrays from
        hashlib). ``error``: this rank's own error in checking its arguments,
        if any; it rides in the same allgather, so that a rank whose arguments were refused
        does not leave the others waiting: this rank raises ``error`` itself, the others a
        ValueError naming the rank and its message. ``where`` starts every message (``fit``),
        and ``hint`` ends the one about disagreeing items (what to do about it).

        Raises
        ------
        ValueError
            Some items differ between the ranks: each is named, with its value on every
            rank (ranks that agree grouped), and this rank's number. Or another rank's
            ``error``.
        """
        said = None if error is None else f"{type(error).__name__}: {error}"
        gathered = self.comm.allgather((said, list(items.items())))
        if error is not None:
            raise error
        refused = next(((r, text) for r, (text, _) in enumerate(gathered) if text), None)
        if refused is not None:
            raise ValueError(f"{where}: rank {refused[0]} refused its arguments, so every "
                             f"rank stops: {refused[1]} (this is rank {self.rank})")
        if _first_difference([pairs for _, pairs in gathered]) is None:
            return
        per_rank = [dict(pairs) for _, pairs in gathered]
        names = list(dict.fromkeys(name for values in per_rank for name in values))
        missing = object()
        parts = []
        for name in names:
            values = [values.get(name, missing) for values in per_rank]
            if any(v != values[0] for v in values[1:]):
                parts.append(f"{name} ({_per_rank(values, missing)})")
        raise ValueError(f"{where}: the ranks disagree on {'; '.join(parts)} (this is rank "
                         f"{self.rank}); {hint}")

    @contextlib.contextmanager
    def no_sync(self):
        """Backwards inside this block leave each rank's gradient its own (no Allreduce), as
        DistributedDataParallel's ``no_sync``: for accumulating several micro-batches, or
        for a loop that calls :meth:`all_reduce_gradients` itself (``fit`` does). The next
        backward outside it reduces what was accumulated (exact for micro-batches of one
        size; an error on every rank otherwise, see :meth:`all_reduce_gradients`), and its
        :attr:`loss` is the sum of the micro-batches' losses."""
        previous, self._sync = self._sync, False
        try:
            yield self
        finally:
            self._sync = previous

    def _on_gradient(self, _param) -> None:
        autograd.queue_callback(self._after_backward if self._sync else self._after_held)

    def _after_backward(self, root) -> None:
        total = self.all_reduce_gradients(value=_value(root))
        self.loss = total if root.size == 1 else None

    def _after_held(self, root) -> None:
        """A backward in no_sync: its weight noted (the reduction checks that every held
        backward had the same), and its weighted loss added to the next :attr:`loss`."""
        weight = self._share_weight() or 0.0
        if not self._still_held():
            self._held, self._held_value = [], 0.0
        self._held.append(weight)
        self._held_value += weight * _value(root)
        k = next((k for k, p in enumerate(self._params) if p.grad is not None), None)
        self._held_grad = None if k is None else (k, weakref.ref(self._params[k].grad))

    def _share_weight(self) -> float | None:
        """This rank's rows over the batch's, from the last :meth:`share`; None before one."""
        rows, total = self._share
        return rows / total if total else None

    def _still_held(self) -> bool:
        """Whether the gradients the held backwards accumulated are still there: the same
        array, not one a ``zero_grad`` let a later backward replace."""
        if self._held_grad is None:
            return False
        k, ref = self._held_grad
        return ref() is self._params[k].grad

    # -- the gradients --------------------------------------------------------------------
    def all_reduce_gradients(self, weight: float | None = None, value: float = 0.0) -> float:
        """Every parameter's ``grad`` replaced by Σ_r w_r g_r over the ranks r, the same on
        every rank: one Allreduce of the flat buffer. ``w_r`` is ``weight``, by default this
        rank's rows over the batch's (from the last :meth:`share`), so that per-rank means
        over their rows add up to the mean over the whole batch. A parameter without a
        gradient on a rank (an empty share, an unused parameter) adds zeros. ``value`` (a
        number, e.g. this rank's part of the loss) rides in the same Allreduce: the sum
        over the ranks of ``w_r · value_r`` is returned.

        Every backward outside :meth:`no_sync` calls it; calling it again afterwards is
        harmless (the gradients are then the same on every rank, the weights add up to 1).
        Gradients accumulated by backwards in :meth:`no_sync` are reduced with this weight
        too, which is exact when each of those backwards had the same weight as this one
        (micro-batches of one size); with the default weight, their losses are added in.

        Raises RuntimeError when no :meth:`share` was taken and no ``weight`` given, and on
        every rank, after reducing, when with the default weight some rank accumulated
        micro-batches whose shares had different weights (the sum is then not the whole
        batch's gradient: make the micro-batches one size, or weigh each micro-batch's loss
        yourself and pass ``weight=1.0``, as ``fit`` does)."""
        held, held_value = (self._held, self._held_value) if self._still_held() else ([], 0.0)
        self._held, self._held_value, self._held_grad = [], 0.0, None
        uneven = False
        if weight is None:
            weight = self._share_weight()
            if weight is None:
                raise RuntimeError("DataParallel: this rank has taken no share of a batch, "
                                   "so its gradient has no weight: loop over "
                                   "dp.shares(batches) (or take dp.share(batch)), or run "
                                   "the backward inside dp.no_sync()")
            uneven = any(w != weight for w in held)
            value = weight * value + held_value
        else:
            value = weight * value
        self._pack((p.grad for p in self._params), scale=weight)
        self._buffer[-2:] = uneven, value
        self._sum(self._buffer)
        for p, view in zip(self._params, self._views()):
            if p.grad is None or p.grad.shape != p.shape or p.grad.dtype != p.dtype:
                p.grad = view.reshape(p.shape).astype(p.dtype, copy=True)
            else:
                np.copyto(p.grad, view.reshape(p.shape))
        if self._buffer[-2]:
            raise RuntimeError(
                f"DataParallel: {int(self._buffer[-2])} rank(s) accumulated micro-batches in "
                "no_sync whose shares had different weights (micro-batches of different "
                "sizes), so the reduced gradient is not the whole batch's: use micro-batches "
                "of one size, or weigh each micro-batch's loss yourself and reduce with "
                "all_reduce_gradients(weight=1.0)")
        return float(self._buffer[-1])

    def all_reduce(self, values: np.ndarray) -> np.ndarray:
        """The sum over the ranks of ``values`` (a float64 array of the same shape on every
        rank: counts, running sums of metrics), a new array."""
        out = np.array(values, np.float64)
        self._sum(out)
        return out

    def _sum(self, buffer: np.ndarray) -> None:
        if self.world_size > 1:
            MPI = _mpi()
            self.comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)

    # -- helpers --------------------------------------------------------------------------
    def _views(self) -> list[np.ndarray]:
        o = self._offsets
        return [self._buffer[o[k]:o[k + 1]] for k in range(len(self._params))]

    def _pack(self, arrays: Iterable, scale: float = 1.0) -> None:
        for a, view in zip(arrays, self._views()):
            if a is None:
                view[...] = 0
            else:
                np.multiply(np.asarray(a).reshape(-1), scale, out=view, casting="unsafe")

    @property
    def is_root(self) -> bool:
        """Whether this is rank 0, the one that writes files and prints."""
        return self.rank == 0


def _value(root) -> float:
    """The number a backward started from (its loss), or 0 for a non-scalar one."""
    return float(np.real(root.item())) if root.size == 1 else 0.0


def _share_cores(node) -> None:
    """This rank's kernels on its share of the machine's cores, at least one: the cores
    the ranks on this machine (``node``, their communicator) may keep busy together (the
    union of their affinity masks, capped by the cgroup's CPU limit) divided among them,
    and never more than this rank's own mask (a launcher that binds ranks to cores has
    narrowed it already)."""
    local_ranks = node.Get_size()
    if local_ranks > 1:
        import numba

        from .cores import affinity, cores_within, cpu_limit
        own = affinity()
        together = set().union(*node.allgather(own))
        share = cores_within(len(together), cpu_limit()) // local_ranks
        numba.set_num_threads(max(1, min(share, len(own), numba.config.NUMBA_NUM_THREADS)))


def split_bounds(n: int, parts: int) -> list[int]:
    """Bounds (parts + 1) of ``n`` rows split into ``parts`` contiguous shares whose sizes
    differ by at most one, the larger first."""
    base, extra = divmod(n, parts)
    bounds = [0]
    for r in range(parts):
        bounds.append(bounds[-1] + base + (r < extra))
    return bounds


def _batches_differ(heard: np.ndarray) -> str | None:
    """How the ranks' batches differ, from each rank's (row count, digest of its indices)
    (rows of ``heard``; -1 rows: none left): their counts, or the first rank whose indices
    differ from rank 0's; None where they agree."""
    rows, digests = heard[:, 0], heard[:, 1]
    if (rows != rows[0]).any():
        return _per_rank(rows.tolist(), show=lambda n: "no batch left" if n < 0
                         else f"{n} row{'s' if n != 1 else ''}")
    if (digests != digests[0]).any():
        other = int(np.flatnonzero(digests != digests[0])[0])
        return (f"{rows[0]} row{'s' if rows[0] != 1 else ''} on every rank, other rows on "
                f"rank {other} than on rank 0")
    return None


def _fingerprint(batches: Sequence) -> list:
    """:func:`_batch_fingerprint` of each batch: what :meth:`DataParallel.shares` compares
    between the ranks for a list of batches."""
    return [_batch_fingerprint(batch) for batch in batches]


def _batch_fingerprint(batch: Any) -> tuple[int, str | None]:
    """A batch's size and a hex digest of its rows when they are integers (indices), else
    None."""
    rows = np.asarray(batch) if isinstance(batch, (list, tuple, np.ndarray)) else None
    digest = None
    if rows is not None and rows.dtype.kind in "iub":
        digest = hashlib.sha1(np.ascontiguousarray(rows, np.int64).tobytes()).hexdigest()
    return len(batch), digest


def _digest(*arrays) -> str:
    """A short digest (12 hex digits of SHA-1) of ``arrays``: their dtypes, shapes and
    bytes, for :meth:`DataParallel.check_agreement` to compare data the ranks must hold
    alike (``None`` among them counts as itself)."""
    h = hashlib.sha1()
    for a in arrays:
        if a is None:
            h.update(b"None;")
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(a.reshape(-1).view(np.uint8).data)
    return h.hexdigest()[:12]


#: what an iterable of batches gives :meth:`DataParallel._agreed` once it has run out
_NO_BATCH = object()


def _per_rank(values: list, missing: object = None, show=repr) -> str:
    """"3 on rank 0, 2 on ranks 1, 2": each value once, shown by ``show``, with the ranks
    that gave it; ``missing`` (check_agreement's mark for an item a rank lacks) shows as
    "missing"."""
    groups: list[tuple[Any, list[int]]] = []
    for r, value in enumerate(values):
        for seen, ranks in groups:
            if seen == value and (seen is missing) == (value is missing):
                ranks.append(r)
                break
        else:
            groups.append((value, [r]))
    return ", ".join(f"{'missing' if value is missing else show(value)} on rank"
                     f"{'s' if len(ranks) > 1 else ''} {', '.join(map(str, ranks))}"
                     for value, ranks in groups)


def _first_difference(signatures: list) -> tuple | None:
    """(rank, index, its list, rank 0's) for the first rank whose list differs from rank
    0's (index None when their lengths differ), or None when all agree: every rank gets the
    same answer from the same allgather, so all raise together."""
    first = signatures[0]
    for r, sig in enumerate(signatures[1:], 1):
        if sig != first:
            k = None if len(sig) != len(first) else \
                next(k for k, (a, b) in enumerate(zip(sig, first)) if a != b)
            return r, k, sig, first
    return None
