"""The checker itself (issue 15): gradcheck never accuses a correct backward, at any
magnitude and scale, by any method, and it catches and names a backward wrong in one element
by a relative 1e-3, saying whether the step could be the cause.

Inputs come from ``nongate_np.check.testing.scaled_arrays``: |x_i| = m·10^e with e in
[-8, 8], one scale per array or scales mixed in one array, float64; outputs are scaled by
10^[-8, 8] too. The functions are smooth where they are evaluated (no element is 0, so the
poles of 1/x and log and the kink of a power stay out of reach) and their backward computes
each element without cancellation. The expected gradients are closed forms written here."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np import Function
from nongate_np.check import METHODS, GradcheckError, gradcheck
from nongate_np.check import testing as nt

SHAPES = nt.shapes(min_dims=1, max_dims=2, max_side=4)

# name -> (f, whether inputs may be negative)
CORRECT = {
    "cube": (lambda x: x * x * x, True),
    "reciprocal": (lambda x: ng.div(1.0, x), True),
    "log": (lambda x: ng.log(x), False),
    "sqrt": (lambda x: ng.pow(x, 0.5), False),
    "power 3.7": (lambda x: ng.pow(x, 3.7), False),
    "x log x": (lambda x: x * ng.log(x), False),
    "square of the sum": (lambda x: ng.sum(x) * ng.sum(x), False),
}


@given(data=st.data(), name=st.sampled_from(sorted(CORRECT)), method=st.sampled_from(METHODS),
       out_exp=st.integers(-8, 8))
def test_a_correct_function_passes_at_any_magnitude_and_scale(data, name, method, out_exp):
    f, signed = CORRECT[name]
    x = data.draw(nt.scaled_arrays(SHAPES, signed=signed), label="x")
    scale = 10.0 ** out_exp
    report = gradcheck(lambda t: f(t) * scale, [x], method=method, raise_exception=False)
    assert report.passed, str(report)


@given(data=st.data(), method=st.sampled_from(METHODS), out_exp=st.integers(-8, 8))
def test_two_inputs_of_unrelated_scales_pass(data, method, out_exp):
    """y = a ⊙ b ⊙ b, each input at its own magnitude (or mixed ones)."""
    shape = data.draw(SHAPES, label="shape")
    a = data.draw(nt.scaled_arrays(shape), label="a")
    b = data.draw(nt.scaled_arrays(shape), label="b")
    scale = 10.0 ** out_exp
    report = gradcheck(lambda a, b: a * b * b * scale, [a, b], method=method,
                       raise_exception=False)
    assert report.passed, str(report)


def test_the_step_rule_that_used_to_accuse_log_near_zero_now_passes():
    """The regression: h = ε^(1/3)·max(1, |x|) is 6e-6 at x = 1e-4, 6 % of x, so log's central
    difference was off by 1e-3 relative and a correct log was accused. Now the step ladder
    converges on it; an explicit eps is kept as given and the report blames the step."""
    x = np.array([1e-4, 3e-6, 2e-8, 5.0])
    for method in METHODS:
        gradcheck(ng.log, [x], method=method)
    report = gradcheck(ng.log, [x], method="central", eps=1e-5, raise_exception=False)
    assert not report.passed
    note = next(n for n in report.inputs[0].notes if "step" in n)
    assert re.search(r"the finite-difference step may be too large for values of magnitude "
                     r"\d\.\de-0[4-8] at x\[\d\]: its central difference moves "
                     r"with the step .*; try eps=\S+ or method='complex_step'", note), note


def test_a_function_of_scale_one_at_magnitude_1e8_passes():
    """tanh(x - 1e8) varies on scale 1 where |x| = 1e8: the relative step (600) is far too
    large, the ladder goes down to the absolute one."""
    x = np.array([1e8 + 0.3, 1e8 - 0.7, 1e8 + 1.1])
    for method in METHODS:
        gradcheck(lambda t: ng.tanh(t - 1e8), [x], method=method)


# ---------------------------------------------------------------------------------------------
# planted one-element bugs
# ---------------------------------------------------------------------------------------------

class PlantedCube(Function):
    """y = c·x³, its backward 3c·x²·dy except at one element, multiplied by ``factor``."""

    @staticmethod
    def forward(ctx, x, c, where, factor):
        ctx.save_for_backward(x)
        ctx.c, ctx.where, ctx.factor = c, where, factor
        return c * x * x * x

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        g = 3 * ctx.c * x * x * dy
        g[ctx.where] *= ctx.factor
        return g, None, None, None


class PlantedReciprocal(Function):
    """y = c/x, its backward −c·dy/x² except at one element."""

    @staticmethod
    def forward(ctx, x, c, where, factor):
        ctx.save_for_backward(x)
        ctx.c, ctx.where, ctx.factor = c, where, factor
        return c / x

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        g = -ctx.c * dy / (x * x)
        g[ctx.where] *= ctx.factor
        return g, None, None, None


PLANTED = {"cube": (PlantedCube, lambda x: 3 * x * x),
           "reciprocal": (PlantedReciprocal, lambda x: -1 / (x * x))}


def _cotangent(shape, seed=0):
    """The v gradcheck draws: standard normal from default_rng(seed), 1 for one element."""
    size = int(np.prod(shape))
    return np.ones(shape) if size == 1 else np.random.default_rng(seed).standard_normal(shape)


@given(data=st.data(), name=st.sampled_from(sorted(PLANTED)), method=st.sampled_from(METHODS),
       grad_exp=st.integers(-2, 6), sign=st.sampled_from([-1.0, 1.0]))
def test_a_planted_one_element_bug_is_caught_and_named(data, name, method, grad_exp, sign):
    """A backward wrong by a relative 1e-3 at the element with the largest gradient (so the
    bug is not hidden under the 1e-3·max|g| floor), the gradient scaled to 10^grad_exp: the
    check fails there and names the input, the index and both values."""
    op, derivative = PLANTED[name]
    x = data.draw(nt.scaled_arrays(SHAPES), label="x")
    v = _cotangent(x.shape)
    unscaled = derivative(x) * v
    where = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(unscaled)), x.shape))
    c = 10.0 ** grad_exp / abs(unscaled[where])
    expected = c * unscaled[where]
    factor = 1 + sign * 1e-3
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: op.apply(x, c, where, factor), {"x": x}, method=method)
    r = info.value.report.inputs[0]
    assert r.worst_index == where, str(info.value)
    assert r.analytic == pytest.approx(factor * expected, rel=1e-12)
    assert r.numeric == pytest.approx(expected, rel=1e-5 if method != "complex_step" else 1e-11)
    msg = str(info.value)
    assert "d(output)/d(input 'x') mismatch" in msg
    element = f"x[{', '.join(map(str, where))}]"
    assert re.search(rf"worst +{re.escape(element)}: analytic=\S+ numeric=\S+", msg), msg
    if method != "complex_step":
        assert f"note        the step is not the cause: the central difference at {element}" \
            in msg, msg
    else:
        assert "its step (1e-20·max(1,|x_i|)) is not the cause" in msg


def test_a_bug_below_the_step_note_is_told_apart_from_a_step_problem():
    """The same element, once with a planted bug (the step is not the cause), once correct
    but with a step far too large for it (the step may be the cause)."""
    x = np.array([2e-5, 3.0])
    where = (0,)
    with pytest.raises(GradcheckError, match=r"the step is not the cause: the central "
                       r"difference at t\[0\] is \S+ with the step h = \S+( "
                       r"\(the check stepped down to it from \S+\))?, \S+ with 10h, \S+ "
                       r"with h/10; its truncation error at h, about 1/99 of the change "
                       r"from 10h \(\S+\), cannot explain the gap \(\S+\) to the "
                       r"analytic value"):
        gradcheck(lambda t: PlantedReciprocal.apply(t, 1.0, where, 1.001), [x],
                  method="central")
    with pytest.raises(GradcheckError, match=r"step may be too large for values of magnitude "
                       r"2\.0e-05 at t\[0\].*try eps=1\.2e-10"):
        gradcheck(lambda t: PlantedReciprocal.apply(t, 1.0, where, 1.0), [x],
                  method="central", eps=1e-6)


class CancellingQuotient(Function):
    """y = x²/(x + x²/2), its backward by the quotient rule: two terms of about 4/x that
    cancel to about 4/x², so float64 rounding leaves ~1e-11 relative error at x ~ 1e5; at
    one element the result is multiplied by ``factor``."""

    @staticmethod
    def forward(ctx, x, where, factor):
        ctx.save_for_backward(x)
        ctx.where, ctx.factor = where, factor
        return x * x / (x + 0.5 * x * x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        den = x + 0.5 * x * x
        g = dy * (2 * x / den - x * x * (1 + x) / (den * den))
        g[ctx.where] *= ctx.factor
        return g, None, None


def test_a_complex_step_mismatch_of_rounding_size_is_explained():
    """The limit of complex-step's rtol 1e-11 (~5e4 ulps): this correct backward subtracts
    two terms ~2e-6 apart to get ~4e-12, so rounding leaves errors of ~1e-10 relative (in
    the complex evaluation too) and complex-step flags it; the report says the step is not
    the cause and the mismatch has the size of rounding in cancellation, and central
    differences (rtol 1e-6) pass it. A real 1e-3 bug is caught by both."""
    x = np.array([560639.46223023, 955417.32669334, 229743.65144767, 953784.50242352,
                  380648.30680944, 480993.80407532])
    v = _cotangent(x.shape)
    c = 1 / np.max(np.abs(v / (1 + 0.5 * x) ** 2))     # the largest gradient is 1
    report = gradcheck(lambda t: CancellingQuotient.apply(t, (0,), 1.0) * c, [x],
                       method="complex_step", raise_exception=False)
    assert not report.passed and report.max_rel_error < 1e-8, str(report)
    notes = " ".join(report.inputs[0].notes)
    assert "its step (1e-20·max(1,|x_i|)) is not the cause" in notes
    assert "the size float64 rounding reaches when the backward subtracts nearly equal " \
        "terms" in notes, notes
    gradcheck(lambda t: CancellingQuotient.apply(t, (0,), 1.0) * c, [x], method="central")
    where = (int(np.argmax(np.abs(v / (1 + 0.5 * x) ** 2))),)
    for method in ("central", "complex_step"):
        with pytest.raises(GradcheckError) as info:
            gradcheck(lambda t: CancellingQuotient.apply(t, where, 1.001) * c, [x],
                      method=method)
        assert info.value.report.inputs[0].worst_index == where
        if method == "central":
            assert "the step is not the cause" in str(info.value), str(info.value)


class PlantedExp(Function):
    """y = exp(x/s): a function of scale s, not |x|; its backward exp(x/s)/s·dy, multiplied
    by ``factor`` at one element."""

    @staticmethod
    def forward(ctx, x, s, where, factor):
        y = np.exp(x / s)
        ctx.save_for_backward(y)
        ctx.s, ctx.where, ctx.factor = s, where, factor
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        g = y / ctx.s * dy
        g[ctx.where] *= ctx.factor
        return g, None, None, None


def test_estimates_far_off_neither_accuse_nor_hide():
    """exp(x/1e-8) at x ~ 1e-8: the default step (6e-6) moves x/s by 600, so its central
    differences reach 1e261 and, as the largest |n|, once set the 1e-3·max floor so high
    that they passed themselves. The floor now comes from min(|a|, |n|) and the step
    ladder resolves them: the correct backward passes by every method, and a 1e-3 bug at
    one element (whose gradient is above the floor: here 1e-3 of 2e12) is caught there
    with the true derivative as the expected value."""
    x = np.array([-9.55524909e-08, 1.14176424e-08, -7.25671160e-08, -8.89587391e-08,
                  -5.25121592e-08, 8.72902995e-08, -9.97952263e-08, 9.94019067e-08,
                  -8.33457984e-08]).reshape(3, 3)
    s = 1e-8
    for method in METHODS:
        gradcheck(lambda x: PlantedExp.apply(x, s, (0, 0), 1.0), {"x": x}, method=method)
    expected = np.exp(x / s) / s * _cotangent(x.shape)
    for where in [(2, 1), (1, 2), (0, 1)]:           # gradients 2e12, 2e11, -4e7
        for method in METHODS:
            with pytest.raises(GradcheckError) as info:
                gradcheck(lambda x: PlantedExp.apply(x, s, where, 1.001), {"x": x},
                          method=method)
            r = info.value.report.inputs[0]
            assert r.worst_index == where and r.n_failing == 1, str(info.value)
            assert r.numeric == pytest.approx(expected[where],
                                              rel=1e-5 if method != "complex_step" else 1e-12)


@pytest.mark.parametrize("option, value, error, message", [
    ("rtol", np.nan, ValueError, "rtol must be a finite number >= 0, got nan"),
    ("atol", -1.0, ValueError, "atol must be a finite number >= 0, got -1.0"),
    ("eps", -1.0, ValueError, "eps must be a finite number > 0, got -1.0"),
    ("eps", 0.0, ValueError, "eps must be a finite number > 0, got 0.0"),
    ("eps", np.inf, ValueError, "eps must be a finite number > 0, got inf"),
    ("eps", "x", TypeError, "eps must be a real number, got 'x' \\(str\\)"),
    ("atol", "x", TypeError, "atol must be a real number, got 'x' \\(str\\)"),
    ("rtol", True, TypeError, "rtol must be a real number, got True \\(bool\\)"),
])
def test_bad_steps_and_tolerances_are_refused_not_blamed_on_the_backward(option, value, error,
                                                                        message):
    """FINDINGS F17: a NaN rtol or a negative eps made a correct sigmoid fail; eps=0 divided
    by zero. Each is now refused naming the argument, by every method and numeric_gradient."""
    x = np.array([[-0.0625, 1.3933]])
    for method in METHODS:
        with pytest.raises(error, match=f"gradcheck: {message}"):
            gradcheck(ng.sigmoid, [x], method=method, **{option: value})
    if option == "eps":
        with pytest.raises(error, match=f"numeric_gradient: {message}"):
            ng.numeric_gradient(ng.sigmoid, [x], eps=value)
    gradcheck(ng.sigmoid, [x], method="central", **{option: 1e-5 if option == "eps" else 0})
