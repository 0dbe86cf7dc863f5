"""fit(data_parallel=dp) on ranks asked for different runs; run under ``mpiexec -n 2``. Each
case gives rank 1 something else than rank 0 (or both the same, the last case) and records
what fit raised on each rank, or None; rank r writes ``OUT/rank<r>.json``: {case: message}.

    python tests/distributed/disagree.py OUT

No abort_on_error: a case that leaves a rank waiting hangs the job (the test's timeout),
and one that meets another rank's collective of another size ends it with MPI's error.
"""

import json
import pathlib
import sys

import numpy as np

import nongate_np as ng
from nongate_np.data import SequenceDataset
from nongate_np.distributed import DataParallel
from nongate_np.nn import MultiTaskSequenceModel
from nongate_np.optim.lr_scheduler import StepLR
from nongate_np.training import fit

TASKS = [{"name": "c", "kind": "classification", "num_classes": 2}]


def dataset(n=30, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 7, n)
    x = rng.standard_normal((n, 6, 2))
    x[np.arange(6)[None, :] >= lengths[:, None]] = 0.0
    return SequenceDataset(x=x, lengths=lengths, tasks=[dict(t) for t in TASKS],
                           targets={"c": (x[:, 0, 0] > 0).astype(np.int64)})


def main(out):
    ng.seed(0)
    model = MultiTaskSequenceModel(TASKS, input_size=2, hidden_size=4, attn_size=4,
                                   dtype=np.float64)
    dp = DataParallel(model)
    data = dataset()
    train, val = data.subset(np.arange(24)), data.subset(np.arange(24, 30))
    other = dp.rank == 1
    half = data.subset(np.arange(12) if dp.rank == 0 else np.arange(12, 24))
    # each case: fit's keyword arguments on this rank
    cases = {
        "epochs": dict(epochs=3 if other else 2),
        "initial_epoch": dict(initial_epoch=1 if other else 0),
        "rows": dict(train=train.subset(np.arange(20)) if other else train),
        "batch_size": dict(batch_size=5 if other else 7),
        "seed": dict(seed=dp.rank),
        "shard": dict(train=half, val=None),
        "clip": dict(clip_grad_norm=1.0 if other else 5.0),
        "refused": dict(batch_size=0 if other else 7),
        "scheduler": dict(scheduler=2 if other else 1),
        "same": dict(),
    }
    said = {}
    for case, kwargs in cases.items():
        kwargs = {"train": train, "val": val, "epochs": 2, "batch_size": 7, **kwargs}
        if "scheduler" in kwargs:             # a StepLR of this step size on fit's optimiser
            kwargs["optimizer"] = ng.optim.Adam(model.parameters())
            kwargs["scheduler"] = StepLR(kwargs["optimizer"], step_size=kwargs["scheduler"])
        try:
            fit(model, kwargs.pop("train"), kwargs.pop("val"), data_parallel=dp, **kwargs)
            said[case] = None
        except ValueError as err:
            said[case] = str(err)
    pathlib.Path(out, f"rank{dp.rank}.json").write_text(json.dumps(said))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
