"""LSTM gradients over T = 10,000 steps (issue 15, numerical robustness): finite in float32
and float64, on the NumPy reference and the Numba backend, for a bidirectional layer with
variable lengths whose gates saturate; float32 agrees with float64, and Numba with the
reference. (The CUDA simulator runs one OS thread per CUDA thread: too slow for 10,000
steps; tests/test_backends_agree.py checks it against the reference at small T.)"""

import functools

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.kernels import registry

pytestmark = pytest.mark.slow

T, B, I, H = 10_000, 2, 2, 3
LENGTHS = np.array([T, T // 2 + 1])


@functools.cache
def _state_dict(weight_scale: float) -> dict:
    ng.seed(0)
    m = ng.nn.LSTM(I, H, bidirectional=True, dtype=np.float64)
    return {k: v * weight_scale for k, v in m.state_dict().items()}


@functools.cache
def _grads(name: str, dtype: type, x_scale: float, weight_scale: float) -> dict:
    """Every gradient (the input's as "x") of y.sum() + h_n.sum() + c_n.sum()."""
    m = ng.nn.LSTM(I, H, bidirectional=True, dtype=dtype)
    m.load_state_dict({k: v.astype(dtype) for k, v in _state_dict(weight_scale).items()})
    x = np.random.default_rng(0).standard_normal((T, B, I)) * x_scale
    with registry.backend(name):
        xt = ng.Tensor(x.astype(dtype), requires_grad=True)
        y, (h_n, c_n) = m(xt, lengths=LENGTHS)
        (y.sum() + h_n.sum() + c_n.sum()).backward()
    grads = {k: p.grad for k, p in m.named_parameters()}
    grads["x"] = xt.grad
    for k, g in grads.items():
        assert g.dtype == dtype, k
        assert np.all(np.isfinite(g)), f"{name} {dtype.__name__}: d{k} is not finite"
    return grads


def _assert_normwise(got: dict, want: dict, rtol: float, what: str):
    for k in want:
        err = np.max(np.abs(got[k].astype(np.float64) - want[k])) / np.max(np.abs(want[k]))
        assert err <= rtol, f"{what}: d{k} differs by {err:.2e} (normwise), over {rtol:.0e}"


@pytest.mark.parametrize("name", ["numpy", "numba"])
def test_ten_thousand_steps_give_finite_gradients_that_agree(name):
    """Gates driven into saturation (weights and input × 3), a sequence ending midway."""
    want = _grads("numpy", np.float64, 3.0, 3.0)
    got64 = _grads(name, np.float64, 3.0, 3.0)
    _assert_normwise(got64, want, 1e-12, f"{name} float64 against the reference")
    # NOTE: float32 rounding over 10^4 steps and sums of 2·10^4 rows: about 1e-5 seen
    _assert_normwise(_grads(name, np.float32, 3.0, 3.0), want, 1e-4, f"{name} float32")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["numpy", "numba"])
def test_ten_thousand_fully_saturated_steps_stay_finite(name, dtype):
    """Input × 10^4: every σ and tanh at its limit (e^{±10^4} would overflow), warning-free
    (RuntimeWarnings from nongate_np are errors here, pyproject's filterwarnings)."""
    _grads(name, dtype, 1e4, 1.0)
