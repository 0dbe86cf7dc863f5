"""What a newcomer checking their own gradients (``grad=``, closed forms written here) is told:
a small gradient wrong by its sign or a factor is not passed by atol (docs/math.md G2a), the
notes name the real cause (a non-finite input or analytic value, each kink among the failing
elements), and no NumPy warning escapes the checker's own arithmetic."""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import METHODS, gradcheck, numeric_gradient
from nongate_np.check.report import GROSS_ERROR, format_pair

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


# ---------------------------------------------------------------------------------------------
# notes that name the real cause
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_a_non_finite_input_is_refused_naming_the_input_and_the_element(bad):
    """It was checked, and the note blamed the step ('try eps=inf', which is refused)."""
    x = np.array([[0.5, 0.2], [bad, 0.1]])
    pattern = (r"gradcheck: input 0 'x' is not finite: x\[1, 0\] is " + re.escape(str(bad)) +
               r" \(1 of 4 elements NaN or infinite\)")
    for method in METHODS:
        with pytest.raises(ValueError, match=pattern):
            gradcheck(np.tanh, [x], grad=lambda x, v: v * (1 - np.tanh(x) ** 2),
                      method=method, raise_exception=False)
    with pytest.raises(ValueError, match=r"input 0 'x' is not finite: x\[1, 0\]"):
        gradcheck(lambda x: ng.tanh(x), [ng.tensor(x, requires_grad=True)])
    with pytest.raises(ValueError, match=r"numeric_gradient: input 0 is not finite: "
                                         r"inputs\[0\]\[1, 0\]"):
        numeric_gradient(lambda *a: np.tanh(np.asarray(a[0])), [x])
    # held constant, it is fn's business: only the checked input must be finite
    w = np.array([0.3, -0.4])
    report = gradcheck(lambda w, x: np.tanh(w) * np.nan_to_num(x[0]).sum(), [w, x],
                       grad=lambda w, x, v: (v * (1 - np.tanh(w) ** 2) *
                                             np.nan_to_num(x[0]).sum(), None), only="w")
    assert report.passed, str(report)


def test_a_nan_in_the_claimed_gradient_is_named_not_blamed_on_the_step():
    """The three estimates at 10h, h, h/10 agree: the note on the step ('may be too large',
    'try eps=') is gone, and the non-finite value leads, with its element and the finite
    numerical value there."""
    x = np.array([0.5, 0.3])
    for method in ("central", "directional"):
        report = gradcheck(np.tanh, [x], grad=lambda x, v: v * (1 - np.tanh(x) ** 2) *
                           np.array([np.nan, 1.0]), method=method, raise_exception=False)
        notes = report.inputs[0].notes
        assert not report.passed and notes, str(report)
        assert re.fullmatch(r"the analytic gradient has 1 non-finite value\(s\) \(nan at "
                            r"x\[0\], where the numeric value is \+\S+: the backward \(or "
                            r"grad\) gives it, whatever the step\)", notes[0]), notes
        assert not any("step may be" in n or "try eps" in n for n in notes), notes


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_max_abs_and_rel_beside_a_non_finite_gradient_are_the_finite_elements(bad):
    """A NaN (or inf) in the claimed gradient beside one element 1.5 times too large: the
    table's max abs and rel are the finite elements' (|a - n| of that element, computed
    here), not inf; the worst line names the NaN without an abs or rel of it. The
    directional check passed an inf: its bound, from the allowances of grad, was inf too."""
    x = np.array([0.1, 0.4, 0.7, 1.0])
    wrong = np.array([1.0, bad, 1.5, 1.0])
    for method in METHODS:
        report = gradcheck(lambda x: np.sum(np.sin(x)), [x],
                           grad=lambda x, v: v * np.cos(x) * wrong, method=method,
                           raise_exception=False)
        r = report.inputs[0]
        size, rel = 0.5 * np.cos(0.7), 0.5 / 1.5
        assert r.n_failing == 2 and r.worst_index == (1,), str(report)
        assert r.max_abs_error == pytest.approx(size, rel=1e-6), str(report)
        assert r.max_rel_error == pytest.approx(rel, rel=1e-6), str(report)
        assert re.search(rf"input 0 'x' .* {size:.1e} +{rel:.1e} +FAIL", str(report)), \
            str(report)
        worst = next(line for line in str(report).splitlines() if "worst " in line)
        assert "abs=" not in worst and "not finite on one side" in worst, worst
        assert re.search(rf"the analytic gradient has 1 non-finite value\(s\) \({bad}".lower(),
                         str(report)), str(report)


def test_every_kink_among_the_failing_elements_is_named_whichever_is_the_worst():
    """relu at x = [-1, 0, 2, 0.5] with the gradient at x[3] doubled: the worst element is
    x[3], and x[1] (relu's kink) was failing without a word. Now both are named, with
    a 2x or a 1 % error alike, by central differences and by complex-step (G2b: central
    decides there)."""
    x = np.array([-1.0, 0.0, 2.0, 0.5])
    for factor in (2.0, 1.01):
        def relu_vjp(x, v, factor=factor):
            g = v * (x > 0)
            g[3] *= factor
            return g
        for method, fn in (("central", lambda x: np.maximum(x, 0.0)),
                           ("complex_step", lambda x: np.where(x.real > 0, x, 0))):
            report = gradcheck(fn, [x], grad=relu_vjp, method=method, raise_exception=False)
            r = report.inputs[0]
            assert np.array_equal(np.flatnonzero(r.violation > 1), [1, 3]), str(report)
            text = str(report)
            assert re.search(r"note +fn is not differentiable at x\[1\]: its slope left of "
                             r"it is \+0\.0000e\+00 and right of it", text), text
            assert re.search(r"note +beside the kink, x\[3\] fails too, where fn is "
                             r"differentiable", text), text


def test_several_kinks_are_all_named():
    x = np.array([0.0, 1.0, 0.0, -2.0])
    report = gradcheck(lambda x: np.maximum(x, 0.0), [x], grad=lambda x, v: v * (x > 0),
                       method="central", raise_exception=False)
    text = str(report)
    assert re.search(r"fn is not differentiable at x\[[02]\]: .*; fn is not differentiable at "
                     r"x\[[02]\] either \(their one-sided slopes differ likewise\)", text), text
    assert "beside the kink" not in text, text


# ---------------------------------------------------------------------------------------------
# no NumPy warning from the checker's own arithmetic
# ---------------------------------------------------------------------------------------------

def _library_warnings(record) -> list:
    return [f"{w.filename}:{w.lineno}: {w.message}" for w in record
            if f"{os.sep}nongate_np{os.sep}" in w.filename]


@pytest.mark.parametrize("method", METHODS)
def test_no_numpy_warning_leaks_from_the_checker(method):
    """fn's own overflow (x² at 1e200) is fn's warning; the checker's subtractions of its
    infinities, and the squares of the allowances of a gradient of 1e165 in the directional
    bound, warned about 95 times from numdiff.py and gradcheck.py (and that bound, inf,
    passed a sign-flipped gradient of 1e165)."""
    x = np.random.default_rng(0).standard_normal(4)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        gradcheck(lambda x: x ** 2, [x * 1e200], grad=lambda x, v: 2 * x * v, method=method,
                  raise_exception=False)
        gradcheck(np.exp, [np.array([700.0, 709.0, 1.0])], grad=lambda x, v: np.exp(x) * v,
                  method=method, raise_exception=False)
        right = gradcheck(lambda x: x * 1e165, [x], grad=lambda x, v: v * 1e165,
                          method=method, raise_exception=False)
        wrong = gradcheck(lambda x: x * 1e165, [x], grad=lambda x, v: -v * 1e165,
                          method=method, raise_exception=False)
        numeric_gradient(lambda x: np.asarray(x) ** 2, [np.array([1.0, 1e300])])
    assert _library_warnings(record) == []
    assert right.passed, str(right)
    assert not wrong.passed, str(wrong)


# ---------------------------------------------------------------------------------------------
# a gradient for an input held constant
# ---------------------------------------------------------------------------------------------

def _scaled_tanh(x, a):
    return (np.tanh(x) * a).sum()


def test_a_gradient_returned_for_a_scalar_held_constant_is_warned_about():
    """A np.float64 scalar is held constant; grad's 123.0 for it was ignored without a word
    unless names= was given. The warning names it from fn's parameters, once."""
    x = np.random.default_rng(0).standard_normal(3)

    def vjp(x, a, v):
        return v * a * (1 - np.tanh(x) ** 2), 123.0 * v
    for scalar in (np.float64(2.0), 2.0):
        with pytest.warns(UserWarning, match=r"grad returned a gradient for input 1 'a', the "
                                             r"scalar (float64|float) 2\.0, which is held "
                                             r"constant and not checked: that gradient is "
                                             r"ignored; pass np\.array\(2\.0\) to check it") \
                as record:
            report = gradcheck(_scaled_tanh, [x, scalar], grad=vjp)
        assert report.passed and [r.name for r in report.inputs] == ["x"], str(report)
        assert len([w for w in record if "held constant" in str(w.message)]) == 1
        assert record[0].filename == __file__              # points at the caller's line
    # as an array it is checked, and the wrong 123 fails
    bad = gradcheck(_scaled_tanh, [x, np.array(2.0)], grad=vjp, raise_exception=False)
    assert not bad["a"].passed, str(bad)


def test_no_warning_where_grad_gives_a_constant_no_gradient():
    """None, or zeros (how frameworks say 'none' for an integer input), is no gradient."""
    x = np.random.default_rng(0).standard_normal(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradcheck(_scaled_tanh, [x, np.float64(2.0)],
                  grad=lambda x, a, v: (v * a * (1 - np.tanh(x) ** 2), None))
        gradcheck(_scaled_tanh, [x, np.arange(3)],
                  grad=lambda x, a, v: (v * a * (1 - np.tanh(x) ** 2), np.zeros(3)))
        # a float array left out by only= is constant on purpose
        gradcheck(_scaled_tanh, [x, np.full(3, 2.0)], only="x",
                  grad=lambda x, a, v: (v * a * (1 - np.tanh(x) ** 2), np.tanh(x) * v))


# ---------------------------------------------------------------------------------------------
# the report's wording
# ---------------------------------------------------------------------------------------------

def test_an_inconclusive_failure_says_so_not_mismatch():
    """L + 1e10: no element is beyond its allowance, the noise allows half of every one; the
    header said 'mismatch' over 'failing 0 / 12', and the step note read the noise."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3))
    report = gradcheck(lambda x: (np.tanh(x) ** 2).sum() + 1e10, [x],
                       grad=lambda x, v: v * 2 * np.tanh(x) * (1 - np.tanh(x) ** 2),
                       method="central", raise_exception=False)
    text = str(report)
    assert report.inputs[0].n_failing == 0 and not report.passed, text
    assert "d(input 0 'x') inconclusive" in text and " mismatch" not in text, text
    assert re.search(r"FAIL \(inconclusive\)", text), text
    assert "failing     0 / 12 elements (0.0%); the differences cannot judge any" in text, text
    assert "step is not the cause" not in text and "step may be" not in text, text


def test_a_scalar_outputs_non_finite_value_is_not_located_at_brackets():
    with np.errstate(invalid="ignore"):         # fn's own log(-1), at x: fn's warning
        report = gradcheck(lambda x: np.log(x).sum(), [np.array([-1.0, 2.0])],
                           grad=lambda x, v: v / x, method="central", raise_exception=False)
    text = str(report)
    assert "fn's output 0 is not finite at these inputs (the scalar output, nan)" in text, text
    assert "the first at []" not in text, text


def test_the_worst_line_says_what_worst_means():
    """The worst element is the largest |a − n| over its allowance, not the largest rel:
    x[0]'s gradient (1e-5, judged against the floor of a thousandth of x[1]'s) has the larger
    rel, x[1] (0.1 % off) is the further beyond its allowance and is the worst; the line says
    so."""
    scale = np.array([1e-5, 1.0])
    report = gradcheck(lambda x: x * scale, [np.array([0.3, -1.2])],
                       grad=lambda x, v: v * scale * [1.5, 1.001], method="central",
                       raise_exception=False)
    r = report.inputs[0]
    worst_rel = abs(r.analytic - r.numeric) / abs(r.numeric)
    assert r.worst_index == (1,) and r.max_rel_error > 4 * worst_rel, str(report)
    ratio = r.violation[r.worst_index]
    assert re.search(r"worst +x\[1\]: .* \(" + re.escape(f"{ratio:.1e}") + r"x its allowance; "
                     r"worst = largest \|a-n\|/allowance, not largest rel\)", str(report)), \
        str(report)


def test_complex_step_on_a_non_analytic_fn_is_as_the_readme_says():
    """README: abs inside fn, on a complex value that stays complex, makes complex-step's
    estimate disagree with central differences, which decide (G2b); np.abs as the output
    comes back real, so there is no estimate: ComplexStepNotApplicable (a TypeError),
    raise_exception=False or not."""
    x = np.array([0.5, -1.2, 2.0])
    report = gradcheck(lambda x: np.abs(x) * (x / x), [x], grad=lambda x, v: v * np.sign(x),
                       method="complex_step", raise_exception=False)
    assert report.passed and report.inputs[0].checked_by == "complex_step → central", report
    wrong = gradcheck(lambda x: np.abs(x) * (x / x), [x], grad=lambda x, v: v * x,
                      method="complex_step", raise_exception=False)
    assert not wrong.passed, wrong
    with pytest.raises(TypeError, match=r"complex-step is not applicable: every output is "
                                        r"real .*use method='central'"):
        gradcheck(np.abs, [x], grad=lambda x, v: v * np.sign(x), method="complex_step",
                  raise_exception=False)


# ---------------------------------------------------------------------------------------------
# hints for a hand-written backward's common bugs
# ---------------------------------------------------------------------------------------------

def _tanh_xw(x, w):
    return np.tanh(x @ w)


def _tanh_xw_vjp(x, w, v, factor=1.0, planted=None):
    dz = v * (1 - np.tanh(x @ w) ** 2)
    dx = factor * (dz @ w.T)
    if planted is not None:
        dx[planted] *= 1.3
    return dx, x.T @ dz


@pytest.mark.parametrize("factor, said", [(2.0, r"2\.0 × numeric at every element of x "
                                                r"\(within the tolerance\): a constant factor"),
                                          (-1.0, r"-1\.0 × numeric at every element of x "
                                                 r"\(within the tolerance\): the sign is wrong"),
                                          (0.5, r"0\.5 × numeric"), (1.001, r"1\.001 × numeric")])
def test_a_constant_factor_in_the_backward_is_named(factor, said):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    for method in ("central", "directional"):
        report = gradcheck(_tanh_xw, [x, w], grad=lambda x, w, v: _tanh_xw_vjp(x, w, v, factor),
                           method=method, raise_exception=False)
        assert re.search(r"note +analytic = " + said, str(report)), str(report)
        assert report["w"].passed and not report["x"].passed


def test_no_factor_is_claimed_where_one_element_is_wrong():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    report = gradcheck(_tanh_xw, [x, w], grad=lambda x, w, v: _tanh_xw_vjp(x, w, v,
                                                                           planted=(1, 2)),
                       method="central", raise_exception=False)
    assert not report.passed and "× numeric" not in str(report), str(report)


def test_a_transposed_gradient_of_a_square_input_is_named():
    rng = np.random.default_rng(1)
    a, m = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))

    def vjp(a, v):
        return ((v * (1 - np.tanh(a @ m) ** 2)) @ m.T).T
    report = gradcheck(lambda a: np.tanh(a @ m), [a], grad=vjp, method="central",
                       raise_exception=False)
    assert re.search(r"note +analytic = numeric transposed at every element of a", str(report)), \
        str(report)


def test_a_wrongly_shaped_gradient_says_what_it_likely_is_without_zeros_or_a_backend():
    """The row showed '0.0e+00 0.0e+00 FAIL' for values never compared, and the title the
    active backend for grad= code that ran none of its kernels."""
    x = np.random.default_rng(0).standard_normal((3, 2))
    report = gradcheck(np.tanh, [x], grad=lambda x, v: (v * (1 - np.tanh(x) ** 2)).T,
                       raise_exception=False)
    text = str(report)
    assert "has shape (2, 3), expected the input's shape (3, 2): (2, 3) is the transpose of " \
        "(3, 2)" in text, text
    row = next(line for line in text.splitlines() if line.startswith("  input 0"))
    assert row.split()[-3:] == ["-", "-", "FAIL"], row
    assert "backend=" not in text, text
    b = np.ones(3)
    report = gradcheck(lambda x, b: np.tanh(x + b), [np.ones((5, 3)), b],
                       grad=lambda x, b, v: (v * (1 - np.tanh(x + b) ** 2),) * 2,
                       raise_exception=False)
    assert "has shape (5, 3), expected the input's shape (3,): (5, 3) for (3,), not summed " \
        "over the leading axis" in str(report), str(report)


def test_a_passing_report_names_its_largest_relative_error_above_rtol():
    """float32's atol passed a d w[2, 1] 5 % wrong (rel 4.8e-2 in the table) without naming
    the element; a correct check, and a zero gradient read through truncation (x³ at 0,
    whose estimate is below atol), get no such line."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    w = rng.standard_normal((4, 2)).astype(np.float32)

    def vjp(x, w, v, wrong=1.05):
        d = v * (1 - np.tanh(x @ w) ** 2)
        dw = x.T @ d
        dw[2, 1] *= wrong
        return d @ w.T, dw
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                  # float32 inputs warn
        rep = gradcheck(lambda x, w: np.tanh(x @ w), [x, w], grad=vjp, method="central")
    assert rep.passed
    line = [s for s in str(rep).splitlines() if "largest relative error" in s]
    assert len(line) == 1 and line[0].startswith("  input 1 'w': the largest relative error")
    assert "at w[2, 1]" in line[0] and "above rtol=0.01: atol=0.001" in line[0], line
    assert line[0].endswith("a float64 check resolves it")
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    for fn, inputs, grad in (
            (lambda x, w: np.tanh(x @ w), [x64, w64], lambda x, w, v: vjp(x, w, v, 1.0)),
            (lambda x: x ** 3, [np.zeros(4)], lambda x, v: 3 * x ** 2 * v)):
        rep = gradcheck(fn, inputs, grad=grad, method="central")
        assert rep.passed and "largest relative error" not in str(rep), str(rep)


def test_a_small_error_shows_in_the_printed_values_not_only_in_rel():
    """A newcomer's 1e-7 error read ``analytic=-1.3396e-02 numeric=-1.3396e-02``: the two
    values are printed with the digits that tell them apart (and parse back to within a
    unit of their last digit), a negative zero as +0."""
    x = np.random.default_rng(3).standard_normal((2, 3))

    def vjp(x, v):
        d = v * (1 - np.tanh(x) ** 2)
        d[1, 2] *= 1 + 1e-7
        return d
    report = gradcheck(np.tanh, [x], grad=vjp, method="complex_step", raise_exception=False)
    assert not report.passed, str(report)
    r = report.inputs[0]
    worst = re.search(r"worst +x\[1, 2\]: analytic=(\S+) numeric=(\S+) ", str(report))
    assert worst is not None, str(report)
    shown_a, shown_n = worst.groups()
    assert shown_a != shown_n, worst.group(0)
    digits = len(shown_a.split("e")[0].split(".")[1])
    assert digits > 4 and len(shown_n.split("e")[0].split(".")[1]) == digits
    for shown, value in ((shown_a, r.analytic), (shown_n, r.numeric)):
        assert abs(float(shown) - value) <= 10.0 ** -digits * abs(value)
    assert format_pair(-0.0, 0.0) == ("+0.0000e+00", "+0.0000e+00")
    assert format_pair(1.5, 2.5) == ("+1.5000e+00", "+2.5000e+00")


# ---------------------------------------------------------------------------------------------
# a gross failure resolved by the default step does not climb the step ladder
# ---------------------------------------------------------------------------------------------

def _weighted_tanh(c):
    """L(x, w) = Σ c ⊙ tanh(x w), a scalar (so the checker's cotangent is 1), and its claimed
    gradient with respect to w, columns ``flipped`` of it with the sign wrong."""
    def f(x, w):
        return np.sum(c * np.tanh(x @ w))

    def vjp(x, w, v, flipped=slice(0, 0)):
        dz = v * c * (1 - np.tanh(x @ w) ** 2)
        dw = x.T @ dz
        dw[:, flipped] *= -1
        return dz @ w.T, dw
    return f, vjp


def _central_by_hand(f, x, w):
    """(L(w + h e_i) − L(w − h e_i)) / 2h with the documented step h = ε^(1/3)·max(1, |w_i|)."""
    n = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        h = np.finfo(np.float64).eps ** (1 / 3) * max(1.0, abs(w[i]))
        up, down = w.copy(), w.copy()
        up[i] += h
        down[i] -= h
        n[i] = (f(x, up) - f(x, down)) / (up[i] - down[i])
    return n


def test_a_sign_flipped_block_is_reported_at_the_default_steps_estimates():
    """A block of w with the wrong sign: every failing element, the worst one and its values,
    max abs and rel are those of the central difference at the default step computed here
    by hand, which is what the step ladder keeps where the steps 10h and h agree (the fast
    exit for a resolved gross mismatch must not change a reported number)."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((6, 5)), rng.uniform(-0.9, 0.9, (5, 8))
    c = rng.standard_normal((6, 8))
    f, vjp = _weighted_tanh(c)
    report = gradcheck(f, [x, w], grad=lambda x, w, v: vjp(x, w, v, slice(2, 5)),
                       names=["x", "w"], method="central", raise_exception=False)["w"]
    numeric = _central_by_hand(f, x, w)
    analytic = vjp(x, w, 1.0, slice(2, 5))[1]
    assert np.min(np.abs(numeric[:, 2:5])) > 1e3 * report.atol      # every flip is gross
    np.testing.assert_allclose(report.numeric_grad, numeric, rtol=1e-9, atol=1e-12,
                               err_msg="the report's estimates of dw")
    failing = np.abs(analytic - numeric) > report.atol + report.rtol * np.abs(numeric) + \
        report.noise
    assert failing[:, 2:5].all() and not failing[:, [0, 1, 5, 6, 7]].any()
    assert report.n_failing == np.count_nonzero(failing), str(report)
    violation = np.abs(analytic - numeric) / (report.atol + report.rtol * np.abs(numeric)
                                              + report.noise)
    worst = np.unravel_index(np.argmax(violation), w.shape)
    assert report.worst_index == worst, str(report)
    assert report.analytic == pytest.approx(analytic[worst], rel=1e-12)
    assert report.numeric == pytest.approx(numeric[worst], rel=1e-9)
    assert report.max_abs_error == pytest.approx(np.max(np.abs(analytic - numeric)), rel=1e-9)
    assert report.max_rel_error == pytest.approx(2.0, rel=1e-9)     # the sign: |2n| / |n|


def test_a_gross_failure_costs_one_more_step_per_failing_element_not_the_ladder():
    """The step ladder tried 3 or more smaller steps (2 evaluations each) after the one at
    10h for every failing element; a sign-flipped block, which 10h and h resolve alike,
    now costs that one step: under 3 more evaluations per failing element than the passing
    check of the same function, the notes on the worst elements (about 60) included."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((6, 10)), rng.uniform(-0.9, 0.9, (10, 12))
    f, vjp = _weighted_tanh(rng.standard_normal((6, 12)))
    calls = [0]

    def counted(x, w):
        calls[0] += 1
        return f(x, w)
    for flipped in (slice(0, 0), slice(0, 12)):
        calls[0] = 0
        report = gradcheck(counted, [x, w], grad=lambda x, w, v: vjp(x, w, v, flipped),
                           names=["x", "w"], method="central", raise_exception=False)
        if flipped.stop == 0:
            assert report.passed, str(report)
            passing = calls[0]
    assert report["w"].n_failing == w.size, str(report)
    assert calls[0] - passing < 3 * w.size, (calls[0], passing)
