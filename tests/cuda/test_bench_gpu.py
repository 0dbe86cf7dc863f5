"""bench/gpu.py, the GPU check and benchmark, runs whole on tiny sizes on numba's CUDA
simulator (in a subprocess, NUMBA_ENABLE_CUDASIM=1), so the script cannot rot between the
runs on a lent GPU."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("numba.cuda")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "bench", "gpu.py")
TASKS = ("infer", "train", "train_attn")
DTYPES = ("float32", "float64")


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    return subprocess.run([sys.executable, SCRIPT, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_tiny_run_measures_and_checks_every_config_task_and_dtype(tmp_path):
    out = tmp_path / "gpu.json"
    p = _run("--tiny", "--skip-tests", "--out", str(out))
    assert p.returncode == 0, p.stderr[-3000:] + p.stdout[-3000:]
    data = json.loads(out.read_text())
    assert data["finished"] and data["errors"] == [] and data["skipped"] == []
    rows = {(r["config"], r["task"], r["dtype"]): r for r in data["bench"]}
    assert len(rows) == len(data["bench"]) == 6
    assert set(rows) == {("TINY", task, dtype) for task in TASKS for dtype in DTYPES}
    torch_there = data["environment"]["torch"] is not None
    for row in rows.values():
        assert row["shape"] == [3, 2, 3, 4]
        assert row["ours"]["ms"] > 0 and row["ours"]["samples"] == 1
        if torch_there:          # against torch (its CPU without a CUDA device)
            assert row["ok"] is True and row["max_rel"] <= 1e-4, row
            assert row["checked_against"].startswith("torch")
    checks = data["reference_check"]
    assert [c["case"] for c in checks] == ["lstm", "lstm lengths reverse", "attention gated",
                                           "attention gated mask"]
    assert all(c["ok"] and c["max_rel"] <= 1e-12 for c in checks), checks
    table = out.with_suffix(".md").read_text()
    assert table == data["markdown"] and table in p.stdout
    assert sum(line.startswith("| TINY | 3, 2, 3, 4 |") for line in table.splitlines()) == 6
    assert "does not expose which cuDNN RNN algorithm" in table
    assert "multi-task model training step on the GPU: not timed here" in table
    if torch_there and not data["environment"]["torch_cuda_available"]:
        assert "torch: no CUDA device" in table


def test_spent_budget_skips_the_work_and_still_writes_the_results(tmp_path):
    out = tmp_path / "gpu.json"
    p = _run("--tiny", "--skip-tests", "--budget-s", "0", "--out", str(out))
    assert p.returncode == 0, p.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["finished"] and data["errors"] == [] and data["reference_check"] == []
    assert len(data["bench"]) == 6 and all(r["skipped"] == "time budget spent"
                                           for r in data["bench"])
    assert any("time budget of 0 s spent" in s for s in data["skipped"])
    assert "skipped: time budget spent" in p.stdout


def test_real_sizes_on_the_simulator_refuse_to_start(tmp_path):
    out = tmp_path / "gpu.json"
    p = _run("--skip-tests", "--out", str(out), timeout=60)
    assert p.returncode == 2
    assert "unset NUMBA_ENABLE_CUDASIM, or use --tiny" in p.stderr
    assert json.loads(out.read_text())["errors"][0]["where"] == "start"
