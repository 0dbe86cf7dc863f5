"""What a backward under DataParallel does, checked on every rank; run under ``mpiexec -n 2``.
Exits non-zero (an AssertionError naming the rank) when something differs.

    python tests/distributed/hooks.py
"""

import sys

import numpy as np
from mpi4py import MPI

import nongate_np as ng
from nongate_np.distributed import DataParallel, abort_on_error


class CountingComm:
    """An mpi4py communicator that counts its Allreduces (DataParallel's comm=)."""

    def __init__(self, comm):
        self.comm, self.allreduces = comm, []

    def Allreduce(self, *args, **kwargs):
        self.allreduces.append(1)
        return self.comm.Allreduce(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.comm, name)


def main():
    abort_on_error()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 2))   # 3 + 2 rows
    # (loss_of reads x and y when called: they are replaced further down)
    ng.seed(1)
    model = ng.nn.Linear(4, 2, dtype=np.float64)
    comm = CountingComm(MPI.COMM_WORLD)
    dp = DataParallel(model, comm)
    params = list(model.parameters())

    def loss_of(rows):
        return ng.mse_loss(model(ng.tensor(x[rows])), ng.tensor(y[rows]))

    with dp.no_sync():                  # the whole batch on every rank, no reduction
        whole = loss_of(np.arange(5))
        whole.backward()
    expected = [p.grad.copy() for p in params]
    calls = comm.allreduces

    model.zero_grad()
    for rows in dp.shares([np.arange(5)]):
        loss_of(rows).backward()
    assert len(calls) == 1, f"rank {dp.rank}: {len(calls)} Allreduces for one backward"
    for p, g in zip(params, expected):
        np.testing.assert_allclose(p.grad, g, rtol=1e-12, err_msg=f"rank {dp.rank}")
    assert abs(dp.loss - whole.item()) <= 1e-12 * abs(whole.item()), (dp.rank, dp.loss)

    with dp.no_sync():                  # a batch of one row: rank 1 takes it with weight 0
        model.zero_grad()
        loss_of(np.arange(2, 3)).backward()
        alone = [p.grad.copy() for p in params]
    model.zero_grad()
    for rows in dp.shares([np.arange(5)[2:3]]):
        loss_of(rows).backward()
    assert len(calls) == 2, f"rank {dp.rank}: {len(calls)} Allreduces for two backwards"
    for p, g in zip(params, alone):
        np.testing.assert_allclose(p.grad, g, rtol=1e-12, err_msg=f"rank {dp.rank}")

    # two micro-batches of 4 rows accumulated in no_sync: the one-process sum of their mean
    # gradients, and dp.loss the sum of their mean losses
    x, y = rng.standard_normal((8, 4)), rng.standard_normal((8, 2))
    model.zero_grad()
    with dp.no_sync():
        first, second = loss_of(np.arange(4)), loss_of(np.arange(4, 8))
        first.backward()
        second.backward()
        expected = [p.grad.copy() for p in params]
    model.zero_grad()
    micro = dp.shares([np.arange(4), np.arange(4, 8)])
    with dp.no_sync():
        loss_of(next(micro)).backward()
    loss_of(next(micro)).backward()
    for p, g in zip(params, expected):
        np.testing.assert_allclose(p.grad, g, rtol=1e-12, err_msg=f"rank {dp.rank}")
    both = first.item() + second.item()
    assert abs(dp.loss - both) <= 1e-12 * abs(both), (dp.rank, dp.loss, both)

    model.zero_grad()                   # micro-batches of 3 and 5 rows: no one weight fits
    micro = dp.shares([np.arange(3), np.arange(3, 8)])
    with dp.no_sync():
        loss_of(next(micro)).backward()
    try:
        loss_of(next(micro)).backward()
    except RuntimeError as err:
        assert "2 rank(s) accumulated micro-batches" in str(err), str(err)
    else:
        raise AssertionError(f"rank {dp.rank}: uneven micro-batches reduced without error")

    # batches that differ between the ranks: refused on every rank, before any batch
    for batches, said in (([np.arange(4)] * (1 + dp.rank), "rank 1's 2 batches against"),
                          ([np.arange(4) + dp.rank], "rank 1's batch 0 (4 rows) differs")):
        try:
            next(dp.shares(batches))
        except ValueError as err:
            assert said in str(err) and "same seed" in str(err), str(err)
        else:
            raise AssertionError(f"rank {dp.rank}: different batches were not refused")

    other = ng.nn.Linear(4, 2, dtype=np.float64)
    fresh = DataParallel(other)         # no share taken: the error says what to do
    try:
        ng.mse_loss(other(ng.tensor(x)), ng.tensor(y)).backward()
    except RuntimeError as err:
        assert "dp.shares(batches)" in str(err), str(err)
    else:
        raise AssertionError(f"rank {fresh.rank}: no error without a share")
    return 0


if __name__ == "__main__":
    sys.exit(main())
