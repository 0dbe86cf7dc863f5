"""Embeddings and nearest-neighbour retrieval with ``encode``, and the same embedding online.

What it shows, with the library's public API:

1. train a small ``nongate_np.nn.MultiTaskSequenceModel`` to classify time series (the
   UEA archive's BasicMotions by default: 6 motion-sensor channels, four activities);
2. ``model.encode(x, lengths)``: each sequence becomes one vector, the attention-pooled
   LSTM outputs the classifier reads (shape (N, 1, hidden_size) for the one task);
3. cosine nearest neighbours of each held-out (TEST) sequence among the training
   sequences: precision@k, the share of the k neighbours with the query's class, beside
   what k random training sequences would give (chance); the first query of each class
   with its neighbours;
4. ``model.stream()``: the embedding computed online, chunk by chunk, with O(1) memory per
   sequence, equals ``encode`` on the whole sequence to rounding (checked).

Run it::

    python examples/retrieval.py
    python examples/retrieval.py MY_TRAIN.ts --test MY_TEST.ts -k 10

It prints the data, the test accuracy of the classifier, precision@k against chance, a
query of each class with its k neighbours (class and cosine similarity), the largest difference
between the streamed and the whole-sequence embeddings. With the defaults it runs in a few
seconds once Numba's compiled code is cached.
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np

import nongate_np as ng
from nongate_np.data import DataError, Standardizer, load_ts
from nongate_np.nn import MultiTaskSequenceModel
from nongate_np.training import evaluate, fit

DATA = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("train", nargs="?", type=pathlib.Path,
                   default=DATA / "BasicMotions_TRAIN.ts",
                   help="the TRAIN .ts file: the model is trained on it and it is the "
                        "collection searched")
    p.add_argument("--test", type=pathlib.Path, default=None,
                   help="the TEST .ts file, the queries; when not given, TRAIN's name "
                        "with _TRAIN -> _TEST")
    p.add_argument("-k", type=int, default=5, help="neighbours per query")
    p.add_argument("--epochs", type=int, default=30, help="at most this many")
    p.add_argument("--patience", type=int, default=8,
                   help="stop after this many epochs without a lower validation loss")
    p.add_argument("--hidden-size", type=int, default=32, help="LSTM hidden size H")
    p.add_argument("--chunk", type=int, default=16, help="steps per chunk when streaming")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the weights, the split and the batch order")
    args = p.parse_args(argv)
    if args.test is None:
        if "_TRAIN" not in args.train.name:
            p.error(f"no --test given and {args.train.name} has no '_TRAIN' in its name to "
                    "find the TEST file by")
        args.test = args.train.with_name(args.train.name.replace("_TRAIN", "_TEST"))
    if args.k < 1 or args.chunk < 1:
        p.error(f"-k and --chunk must be >= 1, got -k {args.k} and --chunk {args.chunk}")
    return args


def train_classifier(train, args) -> MultiTaskSequenceModel:
    """A classifier of ``train``'s labels, early-stopped on a stratified fifth of it."""
    fit_part, val = train.split(0.2, seed=args.seed, stratify="label")
    scaler = Standardizer().fit(fit_part.x, fit_part.lengths)
    ng.seed(args.seed)
    model = MultiTaskSequenceModel(train.model_tasks(), input_size=train.feature_size,
                                   normalize_input=True, hidden_size=args.hidden_size)
    model.set_input_normalization(scaler.mean, scaler.std)
    fit(model, fit_part, val, epochs=args.epochs, batch_size=8, lr=1e-2,
        patience=args.patience, seed=args.seed)
    return model


def unit_rows(v: np.ndarray) -> np.ndarray:
    """Each row divided by its Euclidean norm (cosine similarity is then a dot product)."""
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def stream_embeddings(model, x, lengths, chunk: int) -> np.ndarray:
    """The embeddings (B, D') after feeding each sequence ``chunk`` steps at a time."""
    stream = model.stream(batch_size=len(x))
    for start in range(0, x.shape[1], chunk):
        # the steps of this chunk inside each sequence (0 once a sequence has ended)
        steps = np.clip(lengths - start, 0, chunk)
        current = stream.update(x[:, start:start + chunk], lengths=steps)
    return current[:, 0]


def main(argv=None) -> dict:
    """Run the example; return precision@k, chance and the streaming difference."""
    args = parse_args(argv)
    try:
        train = load_ts(args.train)
        classes = train.tasks[0]["classes"]
        test = load_ts(args.test, classes=classes)
    except DataError as err:                          # a missing or malformed file
        raise SystemExit(f"error: {err}") from None
    print(f"collection {train.describe()}")
    print(f"queries    {test.describe()}")

    model = train_classifier(train, args)
    model.eval()
    print(f"classifier test accuracy {evaluate(model, test)['label/accuracy']:.3f}")

    # NOTE: the loaders give float64 features and the model's parameters are float32;
    #       the LSTM, as PyTorch's, refuses another float type, so the features are cast
    x_train, x_test = train.x.astype(np.float32), test.x.astype(np.float32)
    # one vector per sequence: encode gives (N, Q, D'), Q = 1 pooled task here
    keys = unit_rows(model.encode(x_train, train.lengths)[:, 0])
    queries = unit_rows(model.encode(x_test, test.lengths)[:, 0])
    similarity = queries @ keys.T                                   # (queries, collection)
    k = min(args.k, len(train))
    neighbours = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    y_train, y_test = train.targets["label"], test.targets["label"]
    same = y_train[neighbours] == y_test[:, None]
    precision = float(same.mean())
    # k random collection items share the query's class with probability of its share
    chance = float(np.mean(np.bincount(y_train, minlength=len(classes))[y_test] / len(train)))
    print(f"precision@{k} {precision:.3f}   (chance {chance:.3f}: {k} random training "
          f"sequences)")

    print(f"the first query of each class and its {k} nearest training sequences "
          "(class, cosine similarity):")
    for c in np.unique(y_test)[:4]:
        q = int(np.flatnonzero(y_test == c)[0])
        found = ", ".join(f"{classes[y_train[j]]} {similarity[q, j]:.2f}" for j in neighbours[q])
        print(f"  test {q:3d} ({classes[c]}): {found}")

    pick = slice(0, min(8, len(test)))
    whole = model.encode(x_test[pick], test.lengths[pick])[:, 0]
    online = stream_embeddings(model, x_test[pick], test.lengths[pick], args.chunk)
    difference = float(np.max(np.abs(online - whole)))
    scale = float(np.max(np.abs(whole)))
    print(f"streaming {args.chunk} steps at a time: max |stream - encode| = {difference:.2e} "
          f"(embedding values up to {scale:.2f}, {whole.dtype})")
    # float32 embeddings: online and whole-sequence pooling differ by rounding only
    if not difference <= 1e-4 * max(scale, 1.0):
        raise AssertionError(f"the streamed embedding differs from encode by {difference}")
    return {"precision": precision, "chance": chance, "k": k,
            "stream_difference": difference}


if __name__ == "__main__":
    main()
