"""The gradient-checking examples run as a user runs them (a subprocess, default options) and
print what they promise: examples/custom_op.py's reports and the planted bug's numbers,
examples/torch_lstm_gradients.py's element-by-element comparison and its verdicts."""

import importlib.util
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _run(script: str, *args: str, prelude: str = "") -> subprocess.CompletedProcess:
    """Run an example the way a user does; ``prelude`` runs first in the same interpreter."""
    path = str(EXAMPLES / script)
    if prelude:
        cmd = [sys.executable, "-c", f"{prelude}\nimport runpy, sys\nsys.argv = "
               f"{[path, *args]!r}\nrunpy.run_path({path!r}, run_name='__main__')"]
    else:
        cmd = [sys.executable, path, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)


def _load(script: str):
    spec = importlib.util.spec_from_file_location(script.removesuffix(".py"),
                                                  EXAMPLES / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------
# examples/custom_op.py
# ---------------------------------------------------------------------------------------------

def test_custom_op_example_passes_three_checks_and_reports_the_planted_bug():
    proc = _run("custom_op.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for method in ("central", "complex_step", "directional"):
        assert re.search(rf"gradcheck softplus \[{method}, backend=\w+, seed=0\]: passed", out)
    rows = re.findall(r"input \d '(\w+)'\s+\S+\s+float64\s+complex_step\s+\S+\s+(\S+)  pass",
                      out)
    assert [name for name, _ in rows] == ["x", "beta"]
    assert all(float(rel) <= 1e-12 for _, rel in rows), rows

    # The buggy report's numbers against the closed form, with the example's inputs and
    # gradcheck's seed-0 cotangent v: numeric ∂L/∂β = Σ v (x σ(βx) − y) / β, analytic the
    # buggy Σ v x σ(βx) / β.
    assert "softplus_buggy: d(output)/d(input 1 'beta') mismatch" in out
    assert "d(input 0 'x') mismatch" not in out
    m = re.search(r"worst       beta: analytic=(\S+) numeric=(\S+)", out)
    assert m, out
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(10) * 3, [-60.0, -0.5, 0.0, 0.5, 60.0]])
    beta = 1.5
    v = np.random.default_rng(0).standard_normal(x.shape)
    s = 1 / (1 + np.exp(-beta * x))
    y = np.logaddexp(0, beta * x) / beta
    assert float(m.group(2)) == pytest.approx(np.sum(v * (x * s - y)) / beta, rel=1e-4)
    assert float(m.group(1)) == pytest.approx(np.sum(v * x * s) / beta, rel=1e-4)
    assert "planted bug caught in beta only: yes" in out


def test_custom_op_example_exits_nonzero_when_the_correct_op_is_wrong(monkeypatch, capsys):
    mod = _load("custom_op.py")
    correct = mod.Softplus.backward

    def backward(ctx, dy):                     # dx off by 1 %: must fail the checks
        dx, dbeta = correct(ctx, dy)
        return dx * 1.01, dbeta

    monkeypatch.setattr(mod.Softplus, "backward", staticmethod(backward))
    assert mod.main([]) == 1
    assert "correct op passes all three checks: NO" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# examples/torch_lstm_gradients.py
# ---------------------------------------------------------------------------------------------

# a row of compare_arrays' table: name, shape, dtype, max abs, max rel, worst element (and its
# block), the two values there, failing/total, result
ROW = re.compile(r"^  (\w+)\s+\(([\d, ]+)\)\s+float64\s+(\S+)\s+(\S+)\s+(.+?)\s+"
                 r"([+-]\S+)\s+([+-]\S+)\s+(\d+)/(\d+) (pass|FAIL)$", re.M)


def _printed_ulp(text: str) -> float:
    """One unit in the last printed digit of a value printed as +d.ddde±xx."""
    mantissa, exponent = text.lstrip("+-").split("e")
    return 10.0 ** (int(exponent) - len(mantissa.split(".")[1]))


def test_torch_example_says_how_to_install_torch_when_it_is_missing():
    proc = _run("torch_lstm_gradients.py", prelude="sys_modules = __import__('sys').modules\n"
                                                   "sys_modules['torch'] = None")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "pip install torch==2.13.0" in proc.stderr and proc.stdout == ""


def test_torch_example_rejects_a_bad_size():
    proc = _run("torch_lstm_gradients.py", "--hidden-size", "0")
    assert proc.returncode == 2
    assert "--hidden-size must be at least 1, got 0" in proc.stderr


@pytest.mark.torch
def test_torch_example_compares_every_array_and_checks_torch_numerically():
    pytest.importorskip("torch")
    proc = _run("torch_lstm_gradients.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = ROW.findall(proc.stdout)
    names = [r[0] for r in rows]
    # the three outputs; then the input and 2 layers × 2 directions × 4 weights
    assert names[:4] == ["output", "h_n", "c_n", "input"] and len(rows) == 20, proc.stdout
    assert "weight_hh_l1_reverse" in names
    for name, _shape, max_abs, max_rel, worst, ours, theirs, failing, _n, verdict in rows:
        assert verdict == "pass" and failing == "0", name
        assert float(max_rel) <= 1e-10, name
        assert worst.startswith(f"{name}["), name
        if name.startswith(("weight_ih", "weight_hh", "bias")):
            assert re.search(r" \(block '[ifgo]'\)$", worst), (name, worst)
        # the worst element's two printed values differ by at most the array's max abs
        # error and their rounding to the digits printed
        bound = float(max_abs) * (1 + 1e-6) + _printed_ulp(ours) + _printed_ulp(theirs)
        assert abs(float(ours) - float(theirs)) <= bound, name
    for method in ("central", "complex_step", "directional"):
        assert re.search(rf"gradcheck torch.nn.LSTM \[{method}, seed=0\]: passed",
                         proc.stdout), method
    assert proc.stdout.rstrip().endswith("every value agrees")


@pytest.mark.torch
def test_torch_example_catches_a_one_in_a_million_error_in_torchs_gradient():
    pytest.importorskip("torch")
    proc = _run("torch_lstm_gradients.py", "--plant-bug", "--num-layers", "1",
                "--no-bidirectional")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failing = [r for r in ROW.findall(proc.stdout) if r[-1] == "FAIL"]
    assert len(failing) == 1, proc.stdout
    name, _, _, max_rel, worst, ours, theirs, n_failing, n_total, _ = failing[0]
    H = 6                                           # the example's default hidden size
    assert name == "weight_hh_l0" and worst == f"weight_hh_l0[{H + 1}, 0] (block 'f')"
    assert (n_failing, n_total) == ("1", str(4 * H * H))
    # the two values are printed with the digits that show their ratio, 1 + 1e-6
    assert float(theirs) != float(ours)
    assert abs(float(theirs) - float(ours) * (1 + 1e-6)) <= \
        _printed_ulp(ours) + _printed_ulp(theirs), (ours, theirs)
    assert float(max_rel) == pytest.approx(1e-6, rel=1e-2)
    assert f"all in block 'f' (weight_hh_l0[{H}:{2 * H}])" in proc.stdout
    assert "MISMATCH" in proc.stdout
    # part 2: torch's own autograd passes, a claimed vjp with gate f's sign flipped fails
    for method in ("central", "complex_step", "directional"):
        assert f"gradcheck torch.nn.LSTM [{method}, seed=0]: passed" in proc.stdout, method
    planted = proc.stdout[proc.stdout.index("gradcheck torch.nn.LSTM, planted"):]
    assert "FAILED" in planted.splitlines()[0], planted
    assert "all in block 'f' (weight_hh_l0[3:6])" in planted, planted
    assert "analytic = -1.0 × numeric at every element of block 'f'" in planted, planted
