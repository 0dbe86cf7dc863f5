"""The ``nongate-np`` command (also ``python -m nongate_np``): a thin layer over the public
Python API (:mod:`nongate_np.training`, :mod:`nongate_np.data`, :func:`nongate_np.load`).

Bad options and bad files end with a one-line error on stderr and exit status 2, never a
traceback (set ``NONGATE_NP_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings

from .. import __version__

__all__ = ["main", "build_parser", "CLIError"]


class CLIError(Exception):
    """A user error the command reports in one line (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line: ``nongate-np train: error: ... (see --help)``."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive(kind):
    """An argparse type: ``kind`` (int or float) above zero, and finite."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            article = "an" if kind.__name__[0] in "aeiou" else "a"
            raise argparse.ArgumentTypeError(
                f"expected {article} {kind.__name__}, got {text!r}") from None
        if not math.isfinite(value) or value <= 0:      # NaN compares False with 0
            what = "an integer" if kind is int else "a finite number"
            raise argparse.ArgumentTypeError(f"expected {what} > 0, got {text}")
        return value
    return parse


def non_negative_int(text):
    """An argparse type: an int at or above zero."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an int >= 0, got {text}")
    return value


def one_character(text):
    """An argparse type: a field separator, one character; ``\\t`` (as typed) is a tab."""
    if text == "\\t":
        return "\t"
    if len(text) != 1:
        raise argparse.ArgumentTypeError(f"expected one character (\\t: a tab), got "
                                         f"{text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    from . import tools, train, use
    parser = _Parser(prog="nongate-np", description="A sequence-learning engine in NumPy and "
                     "Numba: train, encode, predict, sample, check gradients, benchmark.")
    parser.add_argument("--version", action="version", version=f"nongate_np {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    train.add_parser(sub)
    use.add_parsers(sub)
    tools.add_parsers(sub)
    parser.set_defaults(commands=sub.choices)       # each command's parser, for its errors
    return parser


def _parse(argv) -> argparse.Namespace:
    """The arguments; an unknown option is reported by its command's parser, which names
    the command and its --help (argparse leaves it to the top-level parser)."""
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:
        args.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def _user_errors() -> tuple:
    from ..data import DataError
    from ..device import DeviceError
    from ..io import CheckpointError
    from ..nn.module import StateDictError
    return (CLIError, DataError, CheckpointError, StateDictError, DeviceError, ValueError,
            OSError)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as the command's notes are shown: one line on stderr, without the file,
    line and source line of the library that raised it."""
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr)


def main(argv=None) -> int:
    args = _parse(argv)
    # NOTE: restored on return: main() called from Python leaves the caller's display alone
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        return _run(args)


def _run(args) -> int:
    try:
        return args.run(args)
    except KeyboardInterrupt:
        hint = args.on_interrupt(args) if hasattr(args, "on_interrupt") else ""
        print(f"nongate-np {args.command}: interrupted{hint}", file=sys.stderr)
        _abort_other_ranks(130)
        return 130
    except BrokenPipeError:
        # NOTE: the reader of stdout (head, less) stopped early: end quietly with SIGPIPE's
        #       status, as Unix tools do; stdout goes to devnull so that the interpreter's
        #       last flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except _user_errors() as exc:
        if os.environ.get("NONGATE_NP_DEBUG"):
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"nongate-np {args.command}: error{_rank()}: {message}", file=sys.stderr)
        _abort_other_ranks(2)
        return 2


def _rank() -> str:
    """" (rank k of n)" in a job of several MPI ranks, else nothing."""
    comm = _mpi_world()
    return "" if comm is None else f" (rank {comm.Get_rank()} of {comm.Get_size()})"


def _mpi_world():
    """MPI's COMM_WORLD when this command runs as one of several MPI ranks (mpi4py already
    imported by the command), else None."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None or mpi.COMM_WORLD.Get_size() < 2:
        return None
    return mpi.COMM_WORLD


def _abort_other_ranks(status: int) -> None:
    """End every rank of the job: the others would wait for this one in their next
    collective forever."""
    comm = _mpi_world()
    if comm is not None:
        sys.stderr.flush()
        # NOTE: a moment for the launcher to pass the message on: an abort can end the job
        # before mpiexec forwards what a rank wrote last (a test saw an empty stderr)
        time.sleep(0.5)
        comm.Abort(status)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
