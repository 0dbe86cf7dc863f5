"""mypy, as configured in pyproject.toml (and run by .ci/run), catches a wrong field of the
kernel contract and a backend module whose kernel does not match the protocol."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("mypy")
ROOT = Path(__file__).resolve().parents[1]

SNIPPET = '''
from typing import Any

import numpy as np
from nongate_np.kernels.contract import (AttentionParams, Backend, LSTMParams, LSTMState,
                                         OnlinePoolState)


def lstm_forward(x: np.ndarray, state0: LSTMState, params: LSTMParams,
                 lengths: np.ndarray | None, reverse: bool, keep_cache: bool
                 ) -> tuple[np.ndarray, LSTMState, None]:
    return x, LSTMState(params.w_hx, state0.c), None      # no field w_hx


def lstm_backward(cache: None, dy: np.ndarray, dstate: LSTMParams   # should be LSTMState
                  ) -> tuple[np.ndarray, LSTMState, LSTMParams]:
    raise NotImplementedError


def attention_forward(h: np.ndarray, params: AttentionParams, kind: str,
                      mask: np.ndarray | None, keep_cache: bool
                      ) -> tuple[np.ndarray, np.ndarray, Any]:
    raise NotImplementedError


def attention_backward(cache: Any, dpooled: np.ndarray, dweights: np.ndarray
                       ) -> tuple[np.ndarray, AttentionParams]:
    raise NotImplementedError


def attention_online(state: OnlinePoolState | None, h: np.ndarray, params: AttentionParams,
                     kind: str, mask: np.ndarray | None
                     ) -> tuple[np.ndarray, OnlinePoolState]:
    raise NotImplementedError


def check(module: Backend) -> None: ...
'''


def test_mypy_catches_a_wrong_field_and_a_wrong_signature(tmp_path):
    (tmp_path / "bad_backend.py").write_text(textwrap.dedent(SNIPPET))
    (tmp_path / "use.py").write_text("import bad_backend\n\n"
                                     "bad_backend.check(bad_backend)  # not a Backend\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--no-incremental", "bad_backend.py", "use.py"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
        env={**os.environ, "MYPYPATH": str(ROOT)})     # an editable install hides the package
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert '"LSTMParams" has no attribute "w_hx"' in out, out
    assert 'expected "Backend"' in out and "lstm_backward" in out, out
    assert "attention_" not in out, out        # the other four members match
