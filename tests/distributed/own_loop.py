"""A training loop of one's own made data parallel with nongate_np.distributed, as the
module docstring shows; run alone or under ``mpiexec -n N``. Writes the final weights of
rank 0 to the .npz given.

    python tests/distributed/own_loop.py OUT.npz [--explicit] [--raise-on-rank R]

By default the loop is the two-line form (``DataParallel(model)``, ``dp.shares(...)``, the
reduction inside ``backward``); ``--explicit`` takes each share and reduces itself.
"""

import argparse
import hashlib
import sys

import numpy as np

import nongate_np as ng
from nongate_np.data import SequenceDataset
from nongate_np.distributed import DataParallel, abort_on_error
from nongate_np.nn import MultiTaskSequenceModel
from nongate_np.optim import Adam, clip_grad_norm_
from nongate_np.training.loop import batches

TASKS = [{"name": "c", "kind": "classification", "num_classes": 3},
         {"name": "r", "kind": "regression", "output_size": 2}]


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--explicit", action="store_true")
    parser.add_argument("--raise-on-rank", type=int, default=None)
    args = parser.parse_args(argv)
    abort_on_error()
    rng = np.random.default_rng(0)
    n, T = 17, 9                                 # batches of 8, 8, 1: on 2 ranks, rank 1
                                                 # has no row of the last one
    lengths = rng.integers(1, T + 1, n)
    x = rng.standard_normal((n, T, 3))
    x[np.arange(T)[None, :] >= lengths[:, None]] = 0.0
    data = SequenceDataset(x=x, lengths=lengths, tasks=[dict(t) for t in TASKS],
                           targets={"c": rng.integers(0, 3, n), "r": rng.normal(size=(n, 2))})
    ng.seed(1)
    model = MultiTaskSequenceModel(TASKS, input_size=3, hidden_size=6, attn_size=4,
                                   dropout=0.0, dtype=np.float64)
    dp = DataParallel(model)
    optimizer = Adam(model.parameters(), lr=0.01)
    step = 0
    for epoch in range(3):
        order = np.random.default_rng(epoch).permutation(n)
        global_batches = [order[start:start + 8] for start in range(0, n, 8)]
        if args.explicit:
            explicit(dp, model, data, optimizer, global_batches)
            continue
        for mine in dp.shares(global_batches):
            (xb, lb, tb), = batches(data, len(mine), mine)
            loss, _ = model.loss(model(xb, lengths=lb), tb)
            optimizer.zero_grad()
            loss.backward()
            step += 1
            if args.raise_on_rank == dp.rank and step == 4:
                raise ValueError(f"a deliberate failure at step {step}")
            clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
    # every rank took the same steps: the same weights, bit for bit
    mine = hashlib.sha256(b"".join(v.tobytes() for v in model.state_dict().values()))
    digests = dp.comm.allgather(mine.hexdigest())
    if len(set(digests)) != 1:
        raise AssertionError(f"the ranks' weights differ: {digests}")
    if dp.is_root:
        np.savez(args.out, **model.state_dict())
    return 0


def explicit(dp, model, data, optimizer, global_batches):
    """One epoch with the reduction called by hand: a share may be empty here."""
    for idx in global_batches:
        mine = dp.share(idx)
        optimizer.zero_grad()
        if len(mine):
            (xb, lb, tb), = batches(data, len(mine), mine)
            loss, _ = model.loss(model(xb, lengths=lb), tb)
            with dp.no_sync():
                loss.backward()
        dp.all_reduce_gradients()
        clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()


if __name__ == "__main__":
    sys.exit(main())
