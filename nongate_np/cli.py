"""The ``nongate-np`` command (also ``python -m nongate_np``)."""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np

from . import __version__

METHODS = ("central", "complex_step", "directional")


def _gradcheck(args) -> int:
    from .catalog import CASES
    from .gradcheck import gradcheck

    cases = [c for c in CASES if not args.op or any(s in c.name for s in args.op)]
    if not cases:
        print(f"no op matches {args.op}; ops: {', '.join(c.name for c in CASES)}",
              file=sys.stderr)
        return 2
    methods = args.method or list(METHODS)
    width = max(len(c.name) for c in cases)
    header = f"{'op':<{width}} {'method':<13} {'max rel err':>11} {'max abs err':>11}  result"
    print(header)
    print("-" * len(header))
    failures, start = 0, time.perf_counter()
    for case in cases:
        for method in methods:
            if method == "complex_step" and not case.analytic:
                continue
            inputs = case.inputs(np.random.default_rng(args.seed))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                rep = gradcheck(case.fn, inputs, method=method, seed=args.seed,
                                raise_exception=False, name=case.name)
            failures += not rep.passed
            print(f"{case.name:<{width}} {method:<13} {rep.max_rel_error:>11.1e} "
                  f"{rep.max_abs_error:>11.1e}  {'pass' if rep.passed else 'FAIL'}")
            if not rep.passed and args.verbose:
                print(rep)
    total = sum(1 for c in cases for m in methods if m != "complex_step" or c.analytic)
    print(f"\n{total - failures}/{total} checks passed in "
          f"{time.perf_counter() - start:.1f} s (float64, seed {args.seed})")
    return 1 if failures else 0


def _train(args) -> int:
    from .train import TrainConfig, summary, train_multitask

    cfg = TrainConfig(epochs=args.epochs, seed=args.seed, n_train=args.n_train,
                      n_val=args.n_val, attention=args.attention,
                      loss_weighting=args.loss_weighting, hidden_size=args.hidden_size)
    metrics = train_multitask(cfg, args.out, quiet=args.quiet)
    print(summary(metrics))
    print(f"metrics: {args.out}/metrics.jsonl  checkpoint: {args.out}/model.npz")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nongate-np", description=__doc__)
    parser.add_argument("--version", action="version", version=f"nongate_np {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gradcheck", help="check every op's backward against numerical "
                                         "derivatives and print a table")
    g.add_argument("--op", action="append", help="only ops whose name contains this "
                                                 "(repeatable)")
    g.add_argument("--method", action="append", choices=METHODS,
                   help="only this method (repeatable; default: all three)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("-v", "--verbose", action="store_true", help="print the full report of "
                                                                 "each failure")
    g.set_defaults(run=_gradcheck)

    t = sub.add_parser("train", help="train a model on a synthetic problem")
    t.add_argument("problem", choices=["multitask"],
                   help="multitask: two classification tasks whose answers sit at different "
                        "time steps, one attention query per task")
    t.add_argument("--epochs", type=int, default=6)
    t.add_argument("--out", default="runs/multitask", help="directory for metrics.jsonl and "
                                                           "model.npz")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--n-train", type=int, default=1500)
    t.add_argument("--n-val", type=int, default=300)
    t.add_argument("--hidden-size", type=int, default=32)
    t.add_argument("--attention", choices=["additive", "gated", "weight_gated"],
                   default="gated")
    t.add_argument("--loss-weighting", choices=["fixed", "uncertainty"], default="fixed")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(run=_train)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
