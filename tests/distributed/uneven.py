"""``DataParallel.shares`` over generators (not lists) that differ between the ranks; run
under ``mpiexec -n 2``. Each case trains on the batches a generator yields, rank 1's with
one batch fewer or one of another size than rank 0's (or the same, the last cases), and
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


def main(out):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((ROWS, 4)), rng.standard_normal((ROWS, 2))
    ng.seed(1)
    model = ng.nn.Linear(4, 2, dtype=np.float64)
    start = {n: p.data.copy() for n, p in model.named_parameters()}
    dp = DataParallel(model)
    other = dp.rank == 1
    # each case: the sizes of the batches this rank's generator yields, in turn
    cases = {
        "fewer": [4, 4] if other else [4, 4, 4],            # rank 1 runs out first
        "more": [4, 4, 4] if other else [4, 4],
        "size": [4, 3, 4] if other else [4, 4, 4],          # batch 1: 4 rows against 3
        "empty": [4, 0, 4] if other else [4, 4, 4],
        "first": [] if other else [4],                      # no batch at all on rank 1
        "same": [5, 0, 1, 6],                   # an empty batch skipped; rank 1 gets the
    }                                           # one-row batch's row with weight 0
    said = {}
    for case, sizes in cases.items():
        bounds = np.cumsum([0, *sizes])
        model.load_state_dict(start)
        try:
            weights = train(dp, model, (np.arange(a, a + n) for a, n in zip(bounds, sizes)),
                            x, y)
            said[case] = None
        except ValueError as err:
            said[case] = str(err)
    model.load_state_dict(start)
    listed = train(dp, model, [np.arange(a, a + n) for a, n in zip(bounds, sizes)], x, y)
    np.savez(pathlib.Path(out, f"rank{dp.rank}.npz"),
             **{f"generator/{n}": w for n, w in weights.items()},
             **{f"list/{n}": w for n, w in listed.items()},
             **{f"start/{n}": w for n, w in start.items()})
    pathlib.Path(out, f"rank{dp.rank}.json").write_text(json.dumps(said))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
