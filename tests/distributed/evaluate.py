"""evaluate(data_parallel=dp) on ranks asked for different evaluations; run under ``mpiexec
-n 2``. Each case gives rank 1 something else than rank 0 (or both the same: the "same"
and "batch_size" cases) and records what evaluate raised on each rank, or None and its
metrics; rank r writes ``OUT/rank<r>.json``: {case: message or metrics}, with "alone":
the metrics of one process on the whole data.

    python tests/distributed/evaluate.py OUT

No abort_on_error: a case that leaves a rank waiting hangs the job (the test's timeout),
and one that meets another rank's collective of another size ends it with MPI's error.
"""

import json
import pathlib
import sys
import warnings

import numpy as np

import nongate_np as ng
from nongate_np.data import SequenceDataset
from nongate_np.distributed import DataParallel
from nongate_np.nn import MultiTaskSequenceModel
from nongate_np.training import evaluate

TASKS = [{"name": "c", "kind": "classification", "num_classes": 2},
         {"name": "r", "kind": "regression", "output_size": 1}]


def dataset(n=30, seed=0, tasks=("c", "r")):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 7, n)
    x = rng.standard_normal((n, 6, 2))
    x[np.arange(6)[None, :] >= lengths[:, None]] = 0.0
    targets = {"c": (x[:, 0, 0] > 0).astype(np.int64), "r": x[:, :1, 1].copy()}
    return SequenceDataset(x=x, lengths=lengths, tasks=[dict(t) for t in TASKS
                                                        if t["name"] in tasks],
                           targets={name: targets[name] for name in tasks})


def main(out):
    warnings.simplefilter("ignore")     # DataParallel's advice to call abort_on_error
    ng.seed(0)
    model = MultiTaskSequenceModel(TASKS, input_size=2, hidden_size=4, attn_size=4,
                                   dtype=np.float64)
    dp = DataParallel(model)
    data = dataset()
    weights = {k: np.array(v) for k, v in model.state_dict().items()}
    other = dp.rank == 1
    # each case: (evaluate's data and keyword arguments on this rank, whether this rank's
    # model has other weights); the cases that hung come last
    cases = {
        "same": (data, {}, False),
        "batch_size": (data, {"batch_size": 4 if other else 256}, False),   # each its own
        "rows": (data.subset(np.arange(20)) if other else data, {}, False),
        "data": (dataset(seed=1) if other else data, {}, False),
        "weights": (data, {}, other),
        "tasks": (dataset(tasks=("c",)) if other else data, {}, False),
        "refused": (data, {"batch_size": 0 if other else 256}, False),
        "none": (None if other else data, {}, False),
    }
    said = {"alone": evaluate(model, data)}
    for case, (mine, kwargs, changed) in cases.items():
        if changed:
            model.load_state_dict({k: v * 1.5 for k, v in weights.items()})
        try:
            said[case] = evaluate(model, mine, data_parallel=dp, **kwargs)
        except (TypeError, ValueError) as err:
            said[case] = str(err)
        model.load_state_dict(weights)
    pathlib.Path(out, f"rank{dp.rank}.json").write_text(json.dumps(said))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
