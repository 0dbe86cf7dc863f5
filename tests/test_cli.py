"""The ``nongate-np`` command: the gradcheck table passes, and fails loudly on a wrong op."""

import subprocess
import sys

import numpy as np

from nongate_np import cli
from nongate_np.autograd import Function
from nongate_np.check import catalog, gradcheck
from nongate_np.cli import tools


def test_gradcheck_command_checks_every_op_by_every_method(capsys):
    assert cli.main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    width = max(len(c.name) for c in catalog.CASES)
    rows = {(line[:width].rstrip(), line.split()[-4]): line.split()[-1]
            for line in out.splitlines() if line.endswith(("pass", "FAIL"))}
    for case in catalog.CASES:
        for method in tools.METHODS:
            assert rows.get((case.name, method)) == "pass", f"{case.name} {method}"
    n = len(catalog.CASES) * 3
    assert f"{n}/{n} checks passed" in out


class WrongSquare(Function):
    """y = x², with the backward of x³ planted as a bug."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        return dy * 3 * x * x


def test_gradcheck_command_fails_on_a_wrong_backward(capsys):
    bad = catalog.Case("wrong_square", WrongSquare.apply,
                       lambda rng: [rng.standard_normal((2, 3))])
    args = cli.build_parser().parse_args(["gradcheck", "--verbose"])
    assert args.run(args, cases=[bad]) == 1
    out = capsys.readouterr().out
    assert out.count("FAIL") >= 3
    assert "0/3 checks passed" in out
    assert "worst" in out            # the verbose report names the worst element
    # the columns in the order of gradcheck's own table (max abs, then max rel): the row's
    # numbers are the report's, whose abs error (x³ against x²'s backward) is not its rel
    rep = gradcheck(bad.fn, bad.inputs(np.random.default_rng(0)), method="central",
                    raise_exception=False)
    header = out.splitlines()[0].split()
    assert header[2:] == ["max", "abs", "err", "max", "rel", "err", "result"], header
    row = next(line for line in out.splitlines() if line.startswith("wrong_square") and
               " central " in line).split()
    assert row[2:4] == [f"{rep.max_abs_error:.1e}", f"{rep.max_rel_error:.1e}"], row


def test_module_entry_point_runs_a_filtered_check():
    proc = subprocess.run([sys.executable, "-m", "nongate_np", "gradcheck", "--op", "tanh",
                           "--method", "complex_step"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "1/1 checks passed" in proc.stdout


def test_unknown_op_filter_is_reported():
    assert cli.main(["gradcheck", "--op", "no_such_op"]) == 2
