"""What the Numba kernels compile to, read from their LLVM IR: properties no agreement
test sees, because the results stay right while the code slows down (both found in the
LSTM backward's cell step: bench/KERNEL_NOTES.md, "Step loop: no branch around a row's
views").

* float32 kernels do their arithmetic in float32 (a literal ``1`` in ``1 - x`` is int64
  to Numba, and float32 with int64 gives float64).
* The step functions that run once per batch row and step (``_cell_forward``,
  ``_cell_backward``, the LSTM's and the GRU's) hold no reference counting (a view made
  before a branch keeps Numba's atomic count updates in every row).

The first check compiles every kernel a float32 model meets in a subprocess with a fresh
cache folder (Numba cannot show the IR of code loaded from its cache); the second compiles
small uncached callers of the step functions here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("numba")
from numba import njit  # noqa: E402  (after the importorskip)
from numba.core import config  # noqa: E402

from nongate_np.kernels.cpu import gru as cpu_gru  # noqa: E402
from nongate_np.kernels.cpu import lstm  # noqa: E402
from nongate_np.kernels.cpu.activations import KERNEL_FLAGS  # noqa: E402

#: the kernels' own compile flags, without the cache (Numba shows no IR of cached code)
_UNCACHED = {**KERNEL_FLAGS, "cache": False}

#: float64 arithmetic in LLVM IR: a scalar or vector fadd/fsub/fmul/fdiv, or an FMA
_DOUBLE_OP = r"= (?:fadd|fsub|fmul|fdiv)\b[^=\n]*\bdouble\b|@llvm\.fmuladd\.(?:v\d+)?f64|" \
             r"@llvm\.fma\.(?:v\d+)?f64"

#: Every path of the LSTM (projection, lengths, both directions, two layers, the serial
#: inference of a small batch), every attention kind and the GRU's (lengths, both
#: directions, two layers, inference), float32, forward and backward;
#: then, per compiled float32 kernel, how many float64 operations its IR holds.
SCAN_SCRIPT = textwrap.dedent("""
    import importlib, json, pkgutil, re, sys, warnings
    import numpy as np
    import nongate_np as ng
    import nongate_np.kernels.cpu as cpu
    from numba.core.registry import CPUDispatcher

    rng = np.random.default_rng(0)
    with ng.backend("numba"):
        for kw in ({}, {"proj_size": 3}, {"num_layers": 2, "bidirectional": True}):
            model = ng.nn.LSTM(5, 8, dtype=np.float32, **kw)
            x = ng.Tensor(rng.standard_normal((7, 4, 5)).astype(np.float32),
                          requires_grad=True)
            y, _ = model(x, lengths=np.array([7, 5, 3, 7]))
            (y * y).sum().backward()
            with ng.no_grad():
                model(x[:, :1])
        for kind in ("additive", "gated", "weight_gated"):
            pool = ng.nn.AttentionPooling(8, 4, kind=kind, dtype=np.float32)
            h = ng.Tensor(rng.standard_normal((4, 7, 8)).astype(np.float32),
                          requires_grad=True)
            pooled, _ = pool(h, lengths=np.array([7, 5, 3, 7]))
            pooled.sum().backward()
        gru = ng.nn.GRU(5, 8, num_layers=2, bidirectional=True, dtype=np.float32)
        y, _ = gru(x, lengths=np.array([7, 5, 3, 7]))
        (y * y).sum().backward()
        with ng.no_grad():
            gru(x[:, :1])

    found = {}
    for info in pkgutil.iter_modules(cpu.__path__):
        module = importlib.import_module("nongate_np.kernels.cpu." + info.name)
        for name, fn in vars(module).items():
            if not isinstance(fn, CPUDispatcher):
                continue
            for sig in fn.signatures:
                if not any("float32" in str(arg) for arg in sig):
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # a cached kernel would hide its IR
                    ir = fn.inspect_llvm(sig)
                key = f"{info.name}.{name}"
                found[key] = found.get(key, 0) + len(re.findall(sys.argv[1], ir))
    print(json.dumps(found))
""")


def test_float32_kernels_compute_in_float32(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_LOCATOR_CLASSES"}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba")
    proc = subprocess.run([sys.executable, "-c", SCAN_SCRIPT, _DOUBLE_OP], env=env,
                          text=True, capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.splitlines()[-1])
    # the scan saw the kernels that matter, so an empty result cannot pass it
    assert {"lstm._forward_steps", "lstm._backward_steps", "lstm._emit_projected",
            "lstm._adjoint_projected", "attention._forward_passes",
            "attention._backward_passes", "gru._forward_steps",
            "gru._backward_steps"} <= set(found), sorted(found)
    assert {k: n for k, n in found.items() if n} == {}


def test_double_op_pattern_finds_float64_arithmetic():
    """The scan's pattern matches what a float32 loop promoted by a literal compiles to."""
    promoted = njit(**_UNCACHED)(_one_minus_int_literal)
    a = np.linspace(0, 1, 16, dtype=np.float32)
    promoted(a, np.empty_like(a))
    ir = promoted.inspect_llvm(promoted.signatures[0])
    assert re.search(_DOUBLE_OP, ir)


def _one_minus_int_literal(a, out):
    for u in range(a.shape[0]):
        out[u] = a[u] * (1 - a[u])


def _cell_backward_rows(T, dm, dc, gates, tcs, cs, c0, active, da):
    for t in range(T):
        for b in range(dc.shape[0]):
            lstm._cell_backward(t, t - 1, b, b, dm, dc, gates, tcs, cs, c0, active, da)


def _cell_forward_rows(T, xw, bias, h, h_next, c, a, active, gates, cs, tcs, m, y):
    for t in range(T):
        for b in range(c.shape[0]):
            lstm._cell_forward(t, b, b, t, b, xw[t, b], bias, h, h_next, c, a, active, gates, cs,
                               tcs, m, y, True)


def _gru_cell_backward_rows(T, dy, dh, gates, gh_n, h_prev, active, dgi, dgh, direct):
    for t in range(T):
        for b in range(dh.shape[0]):
            cpu_gru._cell_backward(t, b, b, dy, dh, gates, gh_n, h_prev, active, dgi, dgh,
                                   direct)


def _gru_cell_forward_rows(T, gi, b_ih, b_hh, gh, h, h_next, active, gates, gh_n, y):
    for t in range(T):
        for b in range(h.shape[0]):
            cpu_gru._cell_forward(t, b, b, t, b, gi, b_ih, b_hh, gh, h, h_next, active, gates,
                                  gh_n, y)


def _increfs(fn, *args) -> int:
    compiled = njit(**_UNCACHED)(fn)
    compiled(*args)
    ir = compiled.inspect_llvm(compiled.signatures[0])
    return len(re.findall(r"call void @NRT_incref", ir))


@pytest.mark.skipif(not config.LLVM_REFPRUNE_PASS,
                    reason="NUMBA_LLVM_REFPRUNE_PASS=0 keeps every reference count")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_step_functions_hold_no_reference_counting(dtype):
    T, B, H = 3, 2, 16
    z = lambda *shape: np.zeros(shape, dtype)  # noqa: E731
    active = np.ones((T, B), np.bool_)
    assert _increfs(_cell_backward_rows, T, z(B, H), z(B, H), z(T, B, 4 * H), z(T, B, H),
                    z(T, B, H), z(B, H), active, z(T, B, 4 * H)) == 0
    assert _increfs(_cell_forward_rows, T, z(T, B, 4 * H), z(4 * H), z(B, H), z(B, H),
                    z(B, H), z(B, 4 * H), active, z(T, B, 4 * H), z(T, B, H), z(T, B, H),
                    z(B, H), z(T, B, H)) == 0
    assert _increfs(_gru_cell_backward_rows, T, z(T, B, H), z(B, H), z(T, B, 3 * H),
                    z(T, B, H), z(T, B, H), active, z(T, B, 3 * H), z(T, B, 3 * H),
                    z(B, H)) == 0
    assert _increfs(_gru_cell_forward_rows, T, z(T, B, 3 * H), z(3 * H), z(3 * H),
                    z(B, 3 * H), z(B, H), z(B, H), active, z(T, B, 3 * H), z(T, B, H),
                    z(T, B, H)) == 0
