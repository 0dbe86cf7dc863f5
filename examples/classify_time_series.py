"""Classify your own time series: a UCR/UEA ``.ts`` file in, a saved classifier out.

What it shows, with the library's public API:

1. ``nongate_np.data.load_ts``: read the TRAIN file, and the TEST file with the TRAIN
   file's class labels (so class ids mean the same in both);
2. ``SequenceDataset.split``: a stratified validation split of the training file, for
   early stopping;
3. ``nongate_np.data.Standardizer``: each feature's mean and standard deviation from the
   training split only, handed to the model (``normalize_input=True``) so that the saved
   model standardises raw features itself;
4. ``nongate_np.training.fit`` with early stopping (``patience``; the best epoch's weights
   are kept), ``evaluate`` and ``predict`` on the test file;
5. the test accuracy beside the majority class, the 1-nearest-neighbour classifier with
   Euclidean distance (the archive's standard straw man, computed here for equal-length
   series) and, for GunPoint, the results the archive publishes; the confusion matrix;
6. ``nongate_np.save`` and ``nongate_np.load``: the loaded model predicts exactly what the
   trained one did (checked).

Run it::

    python examples/classify_time_series.py                  # GunPoint from tests/data
    python examples/classify_time_series.py tests/data/BasicMotions_TRAIN.ts
    python examples/classify_time_series.py MY_TRAIN.ts --test MY_TEST.ts --epochs 100

The TEST file defaults to the TRAIN file's name with ``_TRAIN`` replaced by ``_TEST``. It
prints the data, the training (best epoch), the test accuracy beside the baselines, the
confusion matrix, and where the model was saved (``--out``, default
``runs/examples/classify_time_series/model.npz``, relative to the current folder). With the
defaults it runs in a few seconds once Numba's compiled code is cached.

GunPoint (Ratanamahatana and Keogh; 50 training and 150 test series of 150 steps, two
classes) is hard for a small LSTM trained from 40 series: expect about 0.7 test accuracy,
well above the majority class and below 1-NN (0.913). BasicMotions (6 dimensions, four
activities) reaches about 0.97.
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np

import nongate_np as ng
from nongate_np.data import DataError, Standardizer, load_ts
from nongate_np.nn import MultiTaskSequenceModel
from nongate_np.training import evaluate, fit, predict

DATA = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"
DEFAULT_OUT = pathlib.Path("runs", "examples", "classify_time_series")

# Test accuracy published by the UCR archive (Dau et al., "The UCR time series archive",
# IEEE/CAA Journal of Automatica Sinica 6(6), 2019; www.timeseriesclassification.com).
PUBLISHED = {
    "GunPoint": {"1-NN Euclidean distance": 0.913, "1-NN DTW, full window": 0.907},
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("train", nargs="?", type=pathlib.Path, default=DATA / "GunPoint_TRAIN.ts",
                   help="the TRAIN .ts file")
    p.add_argument("--test", type=pathlib.Path, default=None,
                   help="the TEST .ts file; when not given, TRAIN's name with _TRAIN -> _TEST")
    p.add_argument("--val-fraction", type=float, default=0.2,
                   help="share of the TRAIN file held out for early stopping")
    p.add_argument("--epochs", type=int, default=60, help="at most this many")
    p.add_argument("--patience", type=int, default=15,
                   help="stop after this many epochs without a lower validation loss")
    p.add_argument("--batch-size", type=int, default=8, help="sequences per training step")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam's learning rate")
    p.add_argument("--hidden-size", type=int, default=32, help="LSTM hidden size H")
    p.add_argument("--attention", choices=("additive", "gated", "weight_gated"),
                   default="gated", help="the attention pooling's kind")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the weights, the split and the batch order")
    p.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT,
                   help="folder for model.npz")
    args = p.parse_args(argv)
    if args.test is None:
        if "_TRAIN" not in args.train.name:
            p.error(f"no --test given and {args.train.name} has no '_TRAIN' in its name to "
                    "find the TEST file by")
        args.test = args.train.with_name(args.train.name.replace("_TRAIN", "_TEST"))
    return args


def nearest_neighbour_accuracy(train, test) -> float | None:
    """Test accuracy of 1-NN with Euclidean distance on the raw series (None when the
    series' lengths differ, where it is not defined)."""
    lengths = np.concatenate([train.lengths, test.lengths])
    if lengths.min() != lengths.max() or train.x.shape[1:] != test.x.shape[1:]:
        return None
    a, b = train.x.reshape(len(train), -1), test.x.reshape(len(test), -1)
    d2 = (b * b).sum(1)[:, None] - 2 * b @ a.T + (a * a).sum(1)[None, :]
    nearest = train.targets["label"][d2.argmin(axis=1)]
    return float(np.mean(nearest == test.targets["label"]))


def confusion_matrix(true, predicted, num_classes: int) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class."""
    counts = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(counts, (true, predicted), 1)
    return counts


def print_confusion(counts: np.ndarray, classes: list[str]) -> None:
    width = max(8, *(len(c) for c in classes)) + 1
    print("confusion matrix (rows: true class, columns: predicted class)")
    print(" " * width + "".join(f"{c:>{width}}" for c in classes) + f"{'recall':>{width}}")
    for name, row in zip(classes, counts):
        recall = row[classes.index(name)] / max(row.sum(), 1)
        print(f"{name:>{width}}" + "".join(f"{n:>{width}d}" for n in row) +
              f"{recall:>{width}.3f}")


def main(argv=None) -> dict:
    """Run the example; return the test figures (also printed)."""
    args = parse_args(argv)

    try:
        train_file = load_ts(args.train)
        classes = train_file.tasks[0]["classes"]
        test = load_ts(args.test, classes=classes)    # the TRAIN file's label order
    except DataError as err:                          # a missing or malformed file
        raise SystemExit(f"error: {err}") from None
    train, val = train_file.split(args.val_fraction, seed=args.seed, stratify="label")
    for name, d in (("train", train), ("val", val), ("test", test)):
        print(f"{name:5s} {d.describe()}")

    scaler = Standardizer().fit(train.x, train.lengths)   # the training split's statistics
    ng.seed(args.seed)                                     # the initial weights
    model = MultiTaskSequenceModel(train.model_tasks(), input_size=train.feature_size,
                                   normalize_input=True, hidden_size=args.hidden_size,
                                   attention=args.attention)
    model.set_input_normalization(scaler.mean, scaler.std)
    history = fit(model, train, val, epochs=args.epochs, batch_size=args.batch_size,
                  lr=args.lr, patience=args.patience, seed=args.seed)
    best = history.best
    print(f"trained {len(history.epochs)} epochs"
          f"{' (stopped early)' if history.stopped_early else ''}; best epoch "
          f"{history.best_epoch}: validation loss {best['val/loss']:.4f}, accuracy "
          f"{best['val/label/accuracy']:.3f}")

    figures = {"accuracy": evaluate(model, test)["label/accuracy"],
               "majority_accuracy": float(np.mean(
                   test.targets["label"] == np.bincount(train.targets["label"]).argmax())),
               "nearest_neighbour_accuracy": nearest_neighbour_accuracy(train_file, test)}
    rows = [("test accuracy", figures["accuracy"]),
            ("  majority class", figures["majority_accuracy"])]
    if figures["nearest_neighbour_accuracy"] is not None:
        rows.append(("  1-NN Euclidean, computed here", figures["nearest_neighbour_accuracy"]))
    problem = args.train.name.split("_TRAIN")[0]
    rows += [(f"  {method}, published", accuracy)
             for method, accuracy in PUBLISHED.get(problem, {}).items()]
    width = max(len(label) for label, _ in rows) + 2
    for label, accuracy in rows:
        print(f"{label:{width}s}{accuracy:.3f}")

    predicted = predict(model, test)["label"]
    counts = confusion_matrix(test.targets["label"], predicted, len(classes))
    print_confusion(counts, classes)
    figures["confusion"] = counts

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "model.npz"
    ng.save(model, path, extra={"classes": classes, "source": args.train.name})
    loaded = ng.load(path)
    again = predict(loaded.model, test)["label"]
    if not np.array_equal(again, predicted):
        raise AssertionError(f"the model loaded from {path} predicts differently on "
                             f"{int(np.sum(again != predicted))} test series")
    print(f"saved {path}; loaded back, it predicts the same {len(again)} classes "
          f"(classes {loaded.extra['classes']})")
    figures["model_path"] = str(path)
    return figures


if __name__ == "__main__":
    main()
