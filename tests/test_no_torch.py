"""Without torch, every Hypothesis property not marked ``torch`` runs all its examples: the
property files run in a subprocess under tests/no_torch_plugin.py (torch hidden, examples
counted), and the plugin reports a property a torch skip cuts short."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The property files, less the two whose LSTM and model compiles take the time of all the
# others together (tests/test_lstm_module.py, tests/test_multitask.py) and those of the
# threaded kernels (tests/test_threads.py, tests/test_backends_agree.py).
PROPERTY_FILES = ["tests/ops", "tests/test_data.py",
                  "tests/test_data_dataset.py", "tests/test_data_padding.py",
                  "tests/test_data_standardize.py", "tests/test_gradcheck.py",
                  "tests/test_testing.py"]


def _run_without_torch(tmp_path, *args):
    report = tmp_path / "examples.json"
    env = dict(os.environ, HYPOTHESIS_PROFILE="ci")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.no_torch_plugin", "-p", "no:cacheprovider",
         f"--examples-json={report}", "-q", *args],
        check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return proc, json.loads(report.read_text())


@pytest.mark.slow
def test_properties_run_every_example_without_torch(tmp_path):
    proc, runs = _run_without_torch(tmp_path, *PROPERTY_FILES)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    properties = {k: r for k, r in runs.items() if r["examples"] is not None and not r["torch"]}
    assert len(properties) > 50, sorted(runs)
    for nodeid, run in properties.items():
        assert run["outcome"] == "passed", (nodeid, run)
        assert run["examples"] == run["max_examples"] == 25, (nodeid, run)
    torch_tests = {k: r for k, r in runs.items() if r["torch"]}
    assert torch_tests, "no test marked torch in the files: nothing shows torch was hidden"
    assert all(r["outcome"] == "skipped" for r in torch_tests.values()), torch_tests


PLANTED = '''
import pytest
from hypothesis import given, settings, strategies as st


@settings(max_examples=5, database=None)
@given(x=st.integers())
def test_checks_then_skips_for_torch(x):
    assert x == x
    pytest.importorskip("torch")


@settings(max_examples=5, database=None)
@given(x=st.integers())
def test_without_torch(x):
    assert x == x


@pytest.mark.torch
@settings(max_examples=5, database=None)
@given(x=st.integers())
def test_compares_with_torch(x):
    pytest.importorskip("torch")
'''


def test_a_property_cut_short_by_a_torch_skip_is_reported(tmp_path):
    (tmp_path / "planted").mkdir()
    (tmp_path / "planted" / "test_planted.py").write_text(PLANTED)
    proc, runs = _run_without_torch(tmp_path, "--rootdir", str(tmp_path / "planted"),
                                    "-o", "markers=torch", str(tmp_path / "planted"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    by_name = {nodeid.rsplit("::", 1)[1]: run for nodeid, run in runs.items()}
    assert by_name["test_checks_then_skips_for_torch"]["outcome"] == "skipped"
    assert by_name["test_checks_then_skips_for_torch"]["examples"] == 0
    assert by_name["test_without_torch"] == {"examples": 5, "max_examples": 5,
                                             "outcome": "passed", "torch": False}
    assert by_name["test_compares_with_torch"]["outcome"] == "skipped"
    summary = proc.stdout.split("properties cut short without torch", 1)[1]
    assert "test_checks_then_skips_for_torch: skipped, 0 of 5 examples ran" in summary
    assert "test_without_torch" not in summary and "test_compares_with_torch" not in summary
