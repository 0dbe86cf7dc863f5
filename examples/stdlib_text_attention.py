"""Multi-task attention on the standard library's own text, through the Python API.

What it shows: the main job of ``nongate-np train``, written out with the library's public
API instead of the command line, so each step can be read and changed:

1. ``nongate_np.data.text.stdlib_corpus``: the ``.py`` files of a few standard-library
   packages, split into train / validation / test *by file*, cut into chunks of characters;
2. a ``nongate_np.nn.MultiTaskSequenceModel`` with two tasks on one LSTM encoder:
   ``next_char`` (the next character at every step) and ``package`` (which package the
   chunk comes from, through an attention pooling);
3. ``nongate_np.training.fit`` with two callbacks (a progress bar and ``metrics.jsonl``),
   early stopping on the validation loss;
4. ``nongate_np.training.evaluate`` on the test files, beside two baselines: the unigram
   character model (bits per character) and the majority package (accuracy);
5. ``nongate_np.training.sample_text``: a few characters written by the model;
6. ``nongate_np.training.plot``: the training curves and where the ``package`` task's attention
   looks in a few test chunks, each character on a background coloured by its weight.

Run it::

    python examples/stdlib_text_attention.py                 # small defaults
    python examples/stdlib_text_attention.py --epochs 8 --hidden-size 128 --chunks 400

It prints the data, one line per epoch, then the test figures beside their baselines, a
sample, and the files written into ``--out`` (default ``runs/examples/stdlib_text_attention``,
relative to the current folder): ``metrics.jsonl``, ``curves.png`` and
``attention_package.png`` (the pictures need matplotlib: ``pip install matplotlib``;
without it they are skipped with that hint). With the defaults it runs in well under a minute
on 2 cores once Numba's compiled code is cached (the first run of the library on a machine
compiles the kernels first, which adds a few seconds and is cached).

The defaults are small so that the example is quick; the model still beats both baselines
clearly. ``nongate-np train`` runs the same job at full size.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

import nongate_np as ng
from nongate_np.data import DataError, text
from nongate_np.nn import MultiTaskSequenceModel
from nongate_np.training import JSONLines, ProgressBar, evaluate, fit, plot, sample_text

DEFAULT_OUT = pathlib.Path("runs", "examples", "stdlib_text_attention")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--packages", nargs="+", default=list(text.DEFAULT_PACKAGES),
                   help="standard-library packages, one class each")
    p.add_argument("--chunk-len", type=int, default=64, help="characters per chunk")
    p.add_argument("--chunks", type=int, default=200,
                   help="at most this many chunks per package in each split")
    p.add_argument("--epochs", type=int, default=3, help="at most this many")
    p.add_argument("--patience", type=int, default=2,
                   help="stop after this many epochs without a lower validation loss")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-2)
    p.add_argument("--package-weight", type=float, default=3.0,
                   help="the package task's weight in the loss (next_char's is 1)")
    p.add_argument("--hidden-size", type=int, default=64)
    p.add_argument("--attention", choices=("additive", "gated", "weight_gated"),
                   default="gated")
    p.add_argument("--sample-length", type=int, default=160,
                   help="characters to generate after the prompt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT,
                   help="folder for metrics.jsonl and the pictures")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def chars_of(data, i: int, vocab) -> list[str]:
    """Sequence i of a text dataset as its characters (the tokens of the picture)."""
    table = vocab.tokens()
    return [table[t] for t in data.x[i, :data.lengths[i]]]


def draw_attention(model, data, vocab, packages, path, rows: int = 4):
    """Where the ``package`` task looks in ``rows`` test chunks taken across the packages."""
    pick = np.linspace(0, len(data) - 1, rows).round().astype(int)
    x, lengths = data.x[pick], data.lengths[pick]
    model.eval()
    with ng.no_grad():
        out = model(x, lengths=lengths)
    weights = out["attention"]["package"].data                       # (rows, T)
    predicted = out["package"].data.argmax(axis=1)
    truth = data.targets["package"][pick]
    titles = [f"true {packages[t]}, predicted {packages[p]}" for t, p in zip(truth, predicted)]
    return plot.plot_attention(weights, path, lengths=lengths, task="package", titles=titles,
                               tokens=[chars_of(data, i, vocab) for i in pick])


def main(argv=None) -> dict:
    """Run the example; return the test figures and their baselines (also printed)."""
    args = parse_args(argv)
    try:
        corpus = text.stdlib_corpus(args.packages, chunk_len=args.chunk_len,
                                    max_chunks_per_package=args.chunks, seed=args.seed)
    except DataError as err:                          # e.g. a package that is not there
        raise SystemExit(f"error: {err}") from None
    for name in ("train", "val", "test"):
        split = getattr(corpus, name)
        print(f"{name:5s} {len(split):4d} chunks from {len(corpus.files[name]):3d} files")
    print(f"vocabulary: {corpus.vocab.size} ids (padding, unknown and "
          f"{len(corpus.vocab.chars)} characters)")

    tasks = corpus.train.model_tasks()        # [next_char (tagging), package (classification)]
    for task in tasks:
        # NOTE: a small model learns the next character first; weighting the package
        #       task up makes it learn both within the few epochs of the defaults
        if task["name"] == "package":
            task["weight"] = args.package_weight
    ng.seed(args.seed)                                  # the initial weights
    model = MultiTaskSequenceModel(tasks, vocab_size=corpus.vocab.size,
                                   hidden_size=args.hidden_size, attention=args.attention)
    args.out.mkdir(parents=True, exist_ok=True)
    callbacks = [JSONLines(args.out / "metrics.jsonl")]
    if not args.quiet:
        callbacks.append(ProgressBar(args.epochs, stream=sys.stdout,
                                     show=("val/next_char/bits_per_token",
                                           "val/package/accuracy")))
    history = fit(model, corpus.train, corpus.val, epochs=args.epochs,
                  batch_size=args.batch_size, lr=args.lr, patience=args.patience, seed=args.seed,
                  callbacks=callbacks)
    print(f"best epoch {history.best_epoch} of {len(history.epochs)} "
          f"(validation loss {history.best_value:.4f}, the tasks' weighted sum)")

    test = evaluate(model, corpus.test)
    figures = {
        "bits_per_char": test["next_char/bits_per_token"],
        "unigram_bits_per_char": text.unigram_bits_per_char(corpus.train, corpus.test),
        "package_accuracy": test["package/accuracy"],
        "majority_accuracy": text.majority_accuracy(corpus.train, corpus.test),
    }
    print(f"test bits per character  {figures['bits_per_char']:.3f}   "
          f"(unigram baseline {figures['unigram_bits_per_char']:.3f})")
    print(f"test package accuracy    {figures['package_accuracy']:.3f}   "
          f"(majority-class baseline {figures['majority_accuracy']:.3f}, "
          f"{len(corpus.packages)} packages)")

    prompt, temperature = "def ", 0.6
    sample = sample_text(model, corpus.vocab, prompt, length=args.sample_length,
                         temperature=temperature, seed=args.seed)
    print(f"sample (temperature {temperature}):\n{prompt}{sample}\n" + "-" * 40)
    figures["sample"] = prompt + sample

    if plot.matplotlib_available():
        files = [plot.plot_history(history.epochs, args.out / "curves.png",
                                   title="stdlib text: next character + package"),
                 draw_attention(model, corpus.test, corpus.vocab, corpus.packages,
                                args.out / "attention_package.png")]
    else:
        files = []
        print(f"no pictures: matplotlib is not installed ({plot.INSTALL_HINT})")
    files.insert(0, args.out / "metrics.jsonl")
    print("wrote " + ", ".join(str(f) for f in files))
    figures["files"] = [str(f) for f in files]
    return figures


if __name__ == "__main__":
    main()
