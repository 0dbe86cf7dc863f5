"""``nongate-np gradcheck | info | bench``: the checking and measuring tools."""

from __future__ import annotations

import time
import warnings

import numpy as np

from . import CLIError

METHODS = ("central", "complex_step", "directional")


def _gradcheck(args, cases=None) -> int:
    """Check each case by each method and print the table; 1 if any check fails, else 0.

    ``cases`` is the list of ``catalog.Case`` to choose from with ``--op`` (default
    ``catalog.CASES``); a caller with ops of its own checks them through the same table.
    """
    from ..check import gradcheck
    from ..check.catalog import CASES

    every = CASES if cases is None else cases
    cases = [c for c in every if not args.op or any(s in c.name for s in args.op)]
    if not cases:
        raise CLIError(f"no op matches {args.op}; ops: {', '.join(c.name for c in every)}")
    methods = args.method or list(METHODS)
    width = max(len(c.name) for c in cases)
    # NOTE: abs before rel, as gradcheck's own report orders them
    header = f"{'op':<{width}} {'method':<13} {'max abs err':>11} {'max rel err':>11}  result"
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
            print(f"{case.name:<{width}} {method:<13} {rep.max_abs_error:>11.1e} "
                  f"{rep.max_rel_error:>11.1e}  {'pass' if rep.passed else 'FAIL'}")
            if not rep.passed and args.verbose:
                print(rep)
    total = sum(1 for c in cases for m in methods if m != "complex_step" or c.analytic)
    print(f"\n{total - failures}/{total} checks passed in "
          f"{time.perf_counter() - start:.1f} s (float64, seed {args.seed})")
    return 1 if failures else 0


def _info(args) -> int:
    from .sysinfo import format_info, info
    print(format_info(info()))
    return 0


def _bench(args) -> int:
    from .. import benchmark
    return benchmark.run(args)


def add_parsers(sub) -> None:
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

    i = sub.add_parser("info", help="versions, backends, CPU and threads, the Numba cache, "
                                    "whether a GPU is usable")
    i.set_defaults(run=_info)

    from ..benchmark import add_arguments
    b = sub.add_parser("bench", help="benchmark against PyTorch (--quick: about 20 s)",
                       description="Time nongate_np's LSTM against PyTorch CPU (and ONNX "
                                   "Runtime) on the same model, weights and data, each "
                                   "contender in its own process.")
    # NOTE: the benchmark's own options, not a pass-through: argparse's REMAINDER refused
    #       an option in first place (bench --quick, bench --help)
    add_arguments(b)
    b.set_defaults(run=_bench)
