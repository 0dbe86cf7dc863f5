"""Helpers of the command-line tests (test_cli_train, test_cli_use, test_cli_errors): run
``nongate-np`` in this process or as a real process, and read what a run leaves."""

from __future__ import annotations

import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout

from nongate_np import cli

DATA = pathlib.Path(__file__).parent / "data"
GUNPOINT_TRAIN = DATA / "GunPoint_TRAIN.ts"
GUNPOINT_TEST = DATA / "GunPoint_TEST.ts"
BASIC_MOTIONS_TEST = DATA / "BasicMotions_TEST.ts"
TINY_TS = DATA / "tiny_univariate.ts"          # three labelled series: too few for a val split

# The main job on the smallest settings that still train both tasks (a few seconds).
TINY_TEXT = ["--packages", "json,email", "--chunk-len", "32", "--max-chunks", "30",
             "--hidden-size", "16", "--quiet"]


def run_cli(*args) -> tuple[int, str, str]:
    """``nongate-np ARGS`` in this process: (exit status, stdout, stderr). argparse's
    errors end in SystemExit; its code is the exit status."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def command(*args, console_script: bool = True) -> list[str]:
    """The command line of ``nongate-np ARGS``: the installed console script (next to this
    interpreter, else on PATH), or ``python -m nongate_np``."""
    if console_script:
        script = pathlib.Path(sys.executable).with_name("nongate-np")
        script = str(script) if script.exists() else shutil.which("nongate-np")
        assert script, "the nongate-np console script is not installed"
        head = [script]
    else:
        head = [sys.executable, "-m", "nongate_np"]
    return head + [str(a) for a in args]


def process_env() -> dict:
    """This environment without NONGATE_NP_DEBUG (which turns one-line errors into
    tracebacks)."""
    return {k: v for k, v in os.environ.items() if k != "NONGATE_NP_DEBUG"}


def run_process(*args, console_script: bool = True) -> subprocess.CompletedProcess:
    """``nongate-np ARGS`` run to its end as a new process (see :func:`command`)."""
    return subprocess.run(command(*args, console_script=console_script),
                          capture_output=True, text=True, timeout=180, env=process_env())


def train(out, *args) -> str:
    """``nongate-np train ARGS --out OUT``, which must succeed; its stdout."""
    code, stdout, stderr = run_cli("train", *args, "--out", out)
    assert code == 0, stderr
    return stdout


def read_json(path) -> dict:
    return json.loads(pathlib.Path(path).read_text())


def read_metrics(out) -> list[dict]:
    """The rows of OUT/metrics.jsonl."""
    lines = (pathlib.Path(out) / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]
