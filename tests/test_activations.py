"""The fast activations of the Numba backend meet their stated error bounds.

float32: every 1021st float32 bit pattern (4.2 million inputs spread over the whole range,
with both signs and all exponents) plus every 61st float32 in [-1, 1]; the
exhaustive sweep over all 4.3e9 inputs is bench/activation_errors.py, whose result is what
ERROR_BOUNDS states. float64: a dense random sweep of the ranges the LSTM uses.
"""

import math

import numpy as np
import pytest
from numba import njit

from nongate_np.kernels.cpu import activations as act


def _max_rel_error(name, stride, lo_bits=0, hi_bits=2**32):
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[1] / "bench" / "activation_errors.py"
    spec = importlib.util.spec_from_file_location("activation_errors", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    fast, ref, lo, hi = mod.FUNCTIONS[name]
    return mod.make_sweep(fast, ref, np.float32(lo), np.float32(hi))(lo_bits, hi_bits, stride)


@pytest.mark.parametrize("name", ["exp32", "sigmoid32", "tanh32"])
def test_float32_error_bound_over_the_range(name):
    err, at = _max_rel_error(name, 1021)
    assert err <= act.ERROR_BOUNDS[name], f"{name}: {err:.3e} at {at}"
    # around zero, where tanh switches formula and cancellation would show
    one = int(np.float32(1.0).view(np.uint32))
    err, at = _max_rel_error(name, 61, 0, one)                      # (0, 1]
    assert err <= act.ERROR_BOUNDS[name], f"{name}: {err:.3e} at {at}"
    err, at = _max_rel_error(name, 61, 2**31, 2**31 + one)         # [-1, -0]
    assert err <= act.ERROR_BOUNDS[name], f"{name}: {err:.3e} at {at}"


def _apply(f):
    @njit(error_model="numpy", fastmath=act.KERNEL_FLAGS["fastmath"])   # as in the kernels
    def run(x):
        out = np.empty_like(x)
        for i in range(x.size):
            out[i] = f(x[i])
        return out
    return run


@pytest.mark.parametrize("name, ref, width", [
    ("exp64", np.exp, 700.0),
    ("sigmoid64", lambda x: np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x))),
     700.0),
    ("tanh64", np.tanh, 20.0),
])
def test_float64_within_a_few_ulp(name, ref, width):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-width, width, 200_000), rng.uniform(-2, 2, 200_000),
                        rng.uniform(-0.4, 0.4, 200_000), [0.0, -0.0, 0.3, -0.3, 1e-300]])
    got = _apply(getattr(act, name))(x)
    want = ref(x)
    nz = want != 0
    err = np.max(np.abs(got[nz] - want[nz]) / np.abs(want[nz]))
    assert err <= act.ERROR_BOUNDS[name], f"{name}: {err:.3e}"
    assert np.all(got[~nz] == 0)


@pytest.mark.parametrize("name", ["exp32", "sigmoid32", "tanh32", "exp64", "sigmoid64",
                                  "tanh64"])
def test_saturation_is_finite_and_monotone_at_the_ends(name):
    dtype = np.float32 if name.endswith("32") else np.float64
    x = np.array([-1e30, -1e4, -100.0, -50.0, 0.0, 50.0, 100.0, 1e4, 1e30], dtype)
    y = _apply(getattr(act, name))(x)
    assert np.all(np.isfinite(y)), y
    assert np.all(np.diff(y) >= 0), y
    if name.startswith("tanh"):
        assert y[0] == -1 and y[-1] == 1
    if name.startswith("sigmoid"):
        assert y[-1] == 1 and 0 <= y[0] < 1e-30
    assert math.isclose(float(y[4]), {"exp": 1.0, "sigmoid": 0.5, "tanh": 0.0}[name[:-2]])
