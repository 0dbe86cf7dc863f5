"""``DataParallel.shares`` over generators (not lists) that differ between the ranks; run
under ``mpiexec -n 2``. Each case trains on the batches a generator yields, rank 1's with
one batch fewer, one of another size or of other rows than rank 0's (or the same, the last
case), and
records what the loop raised on each rank, or None; rank r writes ``OUT/rank<r>.json``:
{case: message}, and ``OUT/rank<r>.npz``: the weights after the "same" case and after the
same batches given as a list, and before training.

    python tests/distributed/uneven.py OUT

No abort_on_error: a case that leaves a rank waiting hangs the job (the test's timeout),
and one that meets another rank's collective of another size ends it with MPI's error.
"""

import json
import pathlib
import sys

import numpy as np

import nongate_np as ng
from nongate_np.distributed import DataParallel
from nongate_np.optim import Adam

ROWS = 12


def train(dp, model, batches, x, y):
    """Three Adam steps of a loop of one's own over ``dp.shares(batches)``; the weights."""
    optimizer = Adam(model.parameters(), lr=0.05)
    for rows in dp.shares(batches):
        loss = ng.mse_loss(model(ng.tensor(x[rows])), ng.tensor(y[rows]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {n: p.data.copy() for n, p in model.named_parameters()}


def runs(sizes):
    """Batches of consecutive rows of these sizes, from row 0."""
    bounds = np.cumsum([0, *sizes])
    return [np.arange(a, a + n) for a, n in zip(bounds, sizes)]


def main(out):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((ROWS, 4)), rng.standard_normal((ROWS, 2))
    ng.seed(1)
    model = ng.nn.Linear(4, 2, dtype=np.float64)
    start = {n: p.data.copy() for n, p in model.named_parameters()}
    dp = DataParallel(model)
    other = dp.rank == 1
    # each case: the batches this rank's generator yields, in turn, as runs of rows
    cases = {
        "fewer": runs([4, 4] if other else [4, 4, 4]),      # rank 1 runs out first
        "more": runs([4, 4, 4] if other else [4, 4]),
        "size": runs([4, 3, 4] if other else [4, 4, 4]),    # batch 1: 4 rows against 3
        "empty": runs([4, 0, 4] if other else [4, 4, 4]),
        "first": runs([] if other else [4]),                # no batch at all on rank 1
        # batch 1 of the same size, other rows (shuffled with another seed)
        "rows": [np.arange(0, 4), np.arange(5, 9) if other else np.arange(4, 8)],
        "same": runs([5, 0, 1, 6]),             # an empty batch skipped; rank 1 gets the
    }                                           # one-row batch's row with weight 0
    said = {}
    for case, batches in cases.items():
        model.load_state_dict(start)
        try:
            weights = train(dp, model, iter(batches), x, y)
            said[case] = None
        except ValueError as err:
            said[case] = str(err)
    model.load_state_dict(start)
    listed = train(dp, model, cases["same"], x, y)
    np.savez(pathlib.Path(out, f"rank{dp.rank}.npz"),
             **{f"generator/{n}": w for n, w in weights.items()},
             **{f"list/{n}": w for n, w in listed.items()},
             **{f"start/{n}": w for n, w in start.items()})
    pathlib.Path(out, f"rank{dp.rank}.json").write_text(json.dumps(said))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
