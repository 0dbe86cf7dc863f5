"""bench/cpu_limit.py: its options refuse bad values in one line, its report's ratios are
torch's default time over ours, and (with root, a CPU cgroup controller and torch) a short
run end to end leaves no group behind."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nongate_np.benchmark.cgroup import cpu_hierarchy

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "cpu_limit.py"


def _load():
    spec = importlib.util.spec_from_file_location("cpu_limit", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("args, message", [
    (["--cpus", "0"], "argument --cpus: expected a positive number; got '0'"),
    (["--cpus", "nan"], "argument --cpus: expected a positive number; got 'nan'"),
    (["--configs", "XX"], "argument --configs: expected a comma-separated list of S1, S3"),
    (["--threads", "1,-2"], "argument --threads: expected comma-separated thread counts"),
    (["--rounds", "0"], "argument --rounds: expected a positive integer; got '0'"),
])
def test_bad_options_are_refused_in_one_line(args, message):
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_the_report_gives_torch_default_over_ours_per_round():
    cell = "M1 infer"
    res = {"machine": {"cpu": "X", "cpu_llvm_name": "y", "isa": "AVX2", "cpus": 2},
           "cpus": 1.0, "dtype": "float32",
           "rounds": [{"ours default": {"threads": 1, cell: 2.0},
                       "torch default": {"threads": 2, cell: 5.0}},
                      {"ours default": {"threads": 1, cell: 4.0},
                       "torch default": {"threads": 2, cell: 3.0}}]}
    text = _load().report(res)
    row = next(line for line in text.splitlines() if line.startswith(f"| {cell} |"))
    assert row == f"| {cell} | 2.00 / 4.00 | 5.00 / 3.00 | 2.50 / 0.75 |"
    assert "| ours, default (1 thread) | torch, default (2 threads) |" in text
    assert "cgroup limit 1 CPU," in text


@pytest.mark.skipif(cpu_hierarchy() is None,
                    reason="no CPU cgroup controller this process may create groups in")
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_a_short_run_under_a_limit(tmp_path):
    out = tmp_path / "r.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--configs", "S3", "--seconds", "0.2", "--rounds", "1",
         "--threads", "0", "--out", str(out)], capture_output=True, text=True, timeout=600,
        env={k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"})
    assert done.returncode == 0, done.stderr[-2000:]
    res = json.loads(out.read_text())
    ours, torch = res["rounds"][0]["ours default"], res["rounds"][0]["torch default"]
    assert ours["threads"] == 1            # the kernels' default counts the one-CPU limit
    assert all(ours[c] > 0 and torch[c] > 0 for c in ("S3 infer", "S3 train_attn"))
    assert "| S3 infer |" in done.stdout
    root = cpu_hierarchy()[0]
    assert not [n for n in os.listdir(root) if n.startswith("nongate_np_")]
