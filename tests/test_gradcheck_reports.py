"""What a newcomer checking their own gradients (``grad=``, closed forms written here) is told:
a small gradient wrong by its sign or a factor is not passed by atol (docs/math.md G2a), the
notes name the real cause (a non-finite input or analytic value, each kink among the failing
elements), and no NumPy warning escapes the checker's own arithmetic."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nongate_np.check import METHODS, gradcheck
from nongate_np.check.report import GROSS_ERROR

FINITE_DIFFERENCES = ["central", "directional"]


def _tanh_vjp(scale, factor=1.0):
    return lambda x, v: factor * scale * v * (1 - np.tanh(x) ** 2)


# ---------------------------------------------------------------------------------------------
# atol does not pass a resolved, grossly wrong small gradient (G2a)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", FINITE_DIFFERENCES)
def test_the_newcomers_sign_flipped_small_gradient_fails(method):
    """The report: 1e-9·tanh with the sign of its gradient flipped passed both finite-
    difference methods, atol = 1e-8 exceeding every element's gap."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    report = gradcheck(lambda x: 1e-9 * np.tanh(x), [x], grad=_tanh_vjp(-1e-9),
                       method=method, raise_exception=False)
    assert not report.passed, str(report)
    r = report.inputs[0]
    assert r.n_failing == x.size, str(report)
    # the verdict's own numbers: analytic = −numeric at the worst element, whose estimate
    # is the derivative (independent closed form) to central's accuracy
    idx = r.worst_index
    truth = 1e-9 * (1 - np.tanh(x[idx]) ** 2) * np.random.default_rng(0).standard_normal(
        x.shape)[idx]
    assert r.numeric == pytest.approx(truth, rel=1e-6)
    assert r.analytic == pytest.approx(-truth, rel=1e-12)
    text = str(report)
    assert re.search(r"note +atol=1e-08 alone would pass 12 element\(s\) whose analytic value "
                     r"is off by 40% or more .*analytic/numeric = -1\b", text), text
    assert "step is not the cause" in text and "step may be too" not in text, text


@settings(max_examples=30, deadline=None)
@given(exp=st.integers(-15, -9), factor=st.sampled_from([-1.0, 2.0, 0.5, -3.0]),
       method=st.sampled_from(FINITE_DIFFERENCES), seed=st.integers(0, 2**16))
def test_a_small_gradient_wrong_by_its_sign_or_a_factor_fails(exp, factor, method, seed):
    """Gradients of 1e-15 to 1e-9, all below atol, wrong by the sign or a factor of 2 or
    more at every element: the estimates are resolved, so every element fails."""
    x = np.random.default_rng(seed).uniform(-2, 2, (2, 3))
    scale = 10.0 ** exp
    report = gradcheck(lambda x: scale * np.tanh(x), [x], grad=_tanh_vjp(scale, factor),
                       method=method, raise_exception=False, seed=seed)
    assert not report.passed, str(report)
    assert report.inputs[0].max_rel_error >= GROSS_ERROR


# A correct function whose gradient is exactly or nearly zero at some elements, where the
# central difference reads truncation (c·h², moving with the step), not a derivative.
ZERO_GRADIENTS = {
    "x³ at 0": (lambda x: x ** 3, lambda x, v: 3 * x ** 2 * v, np.zeros(3)),
    "1000 x³ at and near 0": (lambda x: 1e3 * x ** 3, lambda x, v: 3e3 * x ** 2 * v,
                              np.array([0.0, 1e-3, -2e-3, 0.0])),
    "1e6 x⁴ + 1e-10 x at 0": (lambda x: 1e6 * x ** 4 + 1e-10 * x,
                              lambda x, v: (4e6 * x ** 3 + 1e-10) * v, np.zeros(3)),
    "a constant": (lambda x: 0 * x + 5, lambda x, v: 0 * v, np.array([0.3, -1.2, 2.0])),
    "relu's flat part": (lambda x: np.maximum(x, 0), lambda x, v: v * (x > 0),
                         np.array([-0.3, -1.2, -2.0])),
    "1e-9 tanh": (lambda x: 1e-9 * np.tanh(x), _tanh_vjp(1e-9), np.array([0.3, -1.2, 2.0])),
    "1e-12 sin at 100": (lambda x: 1e-12 * np.sin(x), lambda x, v: 1e-12 * v * np.cos(x),
                         np.array([100.3, -120.0, 87.5])),
    "1e-9 exp(5x)": (lambda x: 1e-9 * np.exp(5 * x), lambda x, v: 5e-9 * np.exp(5 * x) * v,
                     np.array([0.3, -1.2, 2.0])),
}


@pytest.mark.parametrize("name", sorted(ZERO_GRADIENTS))
@pytest.mark.parametrize("method", METHODS)
def test_a_correct_zero_or_tiny_gradient_still_passes(name, method):
    f, vjp, x = ZERO_GRADIENTS[name]
    report = gradcheck(f, [x], grad=vjp, method=method, raise_exception=False)
    assert report.passed, str(report)
