"""gradcheck and numeric_gradient: correct functions pass by every method, wrong gradients
fail with a report that names the input, the element and both values, and the numbers in
that report agree with closed forms computed here independently."""

import dataclasses
import math
import re
import traceback
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.autograd import Function
from nongate_np.check import TOLERANCES, GradcheckError, gradcheck, numeric_gradient, tolerance
from nongate_np.check import testing as nt

METHODS = ["central", "complex_step", "directional"]
MAX_REL = {"central": 1e-6, "complex_step": 1e-12, "directional": 1e-6}


def _worst(message: str):
    """(input name, index, analytic, numeric) from the report's 'worst' line."""
    m = re.search(r"worst\s+(\S+)\[([\d, ]+)\]: analytic=(\S+) numeric=(\S+)", message)
    assert m, message
    return (m.group(1), tuple(int(i) for i in m.group(2).split(",")), float(m.group(3)),
            float(m.group(4)))


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ---------------------------------------------------------------------------------------------
# Correct functions pass, and the gradients compared are the right ones
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_product_passes_and_its_analytic_gradient_is_the_closed_form(method):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    rep = gradcheck(lambda x, y: (x * y).sum(), [x, y], method=method)
    assert rep.passed and rep.max_rel_error <= MAX_REL[method], str(rep)
    # L = sum(x*y) is a one-element output, so v = 1 and dL/dx = y, dL/dy = x exactly.
    np.testing.assert_array_equal(rep.inputs[0].analytic_grad, y, err_msg="dL/dx")
    np.testing.assert_array_equal(rep.inputs[1].analytic_grad, x, err_msg="dL/dy")
    if method != "directional":
        np.testing.assert_allclose(rep.inputs[0].numeric_grad, y, rtol=MAX_REL[method],
                                   err_msg="numeric dL/dx")


@pytest.mark.parametrize("method", METHODS)
def test_tanh_of_matmul_passes_against_the_closed_form_vjp(method):
    rng = np.random.default_rng(1)
    x, W = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    rep = gradcheck(lambda x, W: ng.tanh(x @ W), [x, W], names=["x", "W"], method=method)
    assert rep.passed and rep.max_rel_error <= MAX_REL[method], str(rep)
    v = np.random.default_rng(0).standard_normal((5, 4))      # gradcheck's cotangent, seed 0
    dz = v * (1 - np.tanh(x @ W) ** 2)
    np.testing.assert_allclose(rep.inputs[0].analytic_grad, dz @ W.T, rtol=1e-13,
                               err_msg="dL/dx")
    np.testing.assert_allclose(rep.inputs[1].analytic_grad, x.T @ dz, rtol=1e-13,
                               err_msg="dL/dW")


@pytest.mark.parametrize("method", METHODS)
def test_multi_output_function_with_dict_inputs_passes(method):
    rng = np.random.default_rng(2)
    inputs = {"a": rng.standard_normal((2, 3)), "b": rng.uniform(0.5, 2.0, (3,)),
              "ids": np.array([0, 2])}                        # int array: a constant

    def f(a, b, ids):
        h = ng.sigmoid(a * b)
        return h, ng.log(b).sum(), (h * h).mean(axis=1), ids

    rep = gradcheck(f, inputs, method=method, name="three_outputs")
    assert rep.passed and rep.max_rel_error <= MAX_REL[method], str(rep)
    assert [r.name for r in rep.inputs] == ["a", "b"]
    # closed form with the same cotangents: v0 (2, 3) and v2 (2,) from default_rng(0), v1 = 1
    gen = np.random.default_rng(0)
    v0, v2 = gen.standard_normal((2, 3)), gen.standard_normal(2)
    a, b = inputs["a"], inputs["b"]
    h = _sigmoid(a * b)
    dh = v0 + v2[:, None] * 2 * h / 3
    dz = dh * h * (1 - h)
    np.testing.assert_allclose(rep.inputs[0].analytic_grad, dz * b, rtol=1e-12)
    np.testing.assert_allclose(rep.inputs[1].analytic_grad, (dz * a).sum(0) + 1 / b,
                               rtol=1e-12)


def test_passing_report_prints_a_table():
    rng = np.random.default_rng(3)
    rep = gradcheck(lambda a, w: ng.tanh(a @ w), [rng.standard_normal((3, 2)),
                                                  rng.standard_normal((2, 2))],
                    names=["a", "w"], method="complex_step", name="layer")
    text = str(rep)
    assert text.splitlines()[0].startswith("gradcheck layer [complex_step")
    assert "passed" in text.splitlines()[0]
    for label in ("input 0 'a'", "input 1 'w'"):
        row = next(line for line in text.splitlines() if label in line)
        assert row.rstrip().endswith("pass") and "complex_step" in row
    assert "GradcheckError" not in text


def test_complex_inputs_use_the_holomorphic_derivative():
    rng = np.random.default_rng(4)
    z = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    for method in ("central", "directional"):
        rep = gradcheck(lambda z: ng.tanh(z * z), [z], method=method)
        assert rep.passed, str(rep)
    v = np.random.default_rng(0).standard_normal(4)
    np.testing.assert_allclose(rep.inputs[0].analytic_grad,
                               v * 2 * z / np.cosh(z * z) ** 2, rtol=1e-12)
    with pytest.raises(TypeError, match="complex-step is not applicable to a complex input"):
        gradcheck(lambda z: ng.tanh(z * z), [z], method="complex_step")


def test_a_correct_function_at_large_scale_passes_and_a_small_bug_there_still_fails():
    rng = np.random.default_rng(5)
    x, W = rng.standard_normal((8, 128)), rng.standard_normal((128, 8))
    for scale in (1e3, 1e6):
        for method in METHODS:
            rep = gradcheck(lambda x, W: ng.tanh(x @ W) * scale, [x, W], method=method,
                            raise_exception=False)
            assert rep.passed, f"scale {scale:g}, {method}\n{rep}"

    class OnePercentOff(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return 1e6 * np.tanh(x)

        @staticmethod
        def backward(ctx, dy):
            (x,) = ctx.saved
            return dy * 1e6 * (1 - np.tanh(x) ** 2) * 1.01

    for method in METHODS:
        rep = gradcheck(OnePercentOff.apply, [x[:2, :5]], method=method, raise_exception=False)
        assert not rep.passed, method


def test_central_allows_for_the_rounding_noise_of_large_outputs():
    # L = Σ v·(tanh x + 1e4): each evaluation of L rounds at ~ε·Σ|v·f| ≈ 4e-10, so the
    # central difference cannot resolve the O(1) gradient below ~1e-5; complex-step can.
    x = np.random.default_rng(16).standard_normal(200)
    rep = gradcheck(lambda t: ng.tanh(t) + 1e4, [x], method="central")
    v = np.random.default_rng(0).standard_normal(200)
    M = np.sum(np.abs(v * (np.tanh(x) + 1e4)))
    expected_noise = 4 * np.finfo(float).eps * M / np.finfo(float).eps ** (1 / 3)
    assert rep.inputs[0].noise == pytest.approx(expected_noise, rel=1e-6)
    assert rep.inputs[0].max_abs_error > 1e-7            # above atol + rtol·|n|: noise decides
    assert gradcheck(lambda t: ng.tanh(t) + 1e4, [x], method="complex_step").max_rel_error \
        <= 1e-12
    bad = gradcheck(lambda t: ng.tanh(t) * 1.01 - ng.tanh(t.detach()) * 0.01 + 1e4, [x],
                    method="central", raise_exception=False)
    assert not bad.passed and "noise=" in bad.failure_text()


def test_caller_inputs_are_left_alone_and_only_restricts_the_check():
    rng = np.random.default_rng(6)
    x = rng.standard_normal(3)
    w = ng.Tensor(rng.standard_normal(3), requires_grad=True)
    x0, w0 = x.copy(), w.data.copy()
    rep = gradcheck(lambda x, w: (x * w).sum(), [x, w], method="central", only=1)
    assert [r.index for r in rep.inputs] == [1]
    np.testing.assert_array_equal(rep.inputs[0].analytic_grad, x0)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w.data, w0)
    assert w.grad is None
    gradcheck(lambda x, w: (x * w).sum(), [x, w], method="central", only="input 0")
    assert w.grad is None                       # an unchecked Tensor is passed detached
    with pytest.raises(ValueError, match="names no input.*'x', 'w'"):
        gradcheck(lambda x, w: (x * w).sum(), [x, w], only="W")


def test_positional_inputs_are_named_by_fns_parameters():
    """README's tour did report["w"] after gradcheck(lambda x, w: ..., [x, w]) without
    names= and got a KeyError ("input 0, input 1"). Positional inputs now take fn's
    positional parameter names where it has one per input; the label's "input k" still
    finds them, and a failure's reproduce line names the input without repeating names=."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    report = gradcheck(lambda x, w: ng.tanh(x @ w).sum(), [x, w], method="complex_step")
    assert report["w"] is report.inputs[1] and report["input 1"] is report.inputs[1]
    assert [r.label for r in report.inputs] == ["input 0 'x'", "input 1 'w'"]
    with pytest.raises(KeyError, match="the checked inputs are input 0 'x', input 1 'w'"):
        report["W"]

    def vjp(x, w, v):
        dx, dw = _tanh_vjp(x, w, v)
        return 2 * dx, dw
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x, w: np.tanh(x @ w), [x, w], grad=vjp)
    msg = str(info.value)
    assert "d(output)/d(input 0 'x') mismatch" in msg and "worst       x[" in msg, msg
    # fn a lambda: called fn; grad by its name
    assert 'reproduce   gradcheck(fn, inputs, grad=vjp, only="x", seed=0, ' \
        'method="central")' in msg, msg
    assert not gradcheck(lambda x, w: np.tanh(x @ w), [x, w], grad=vjp, only="x",
                         raise_exception=False).passed
    with pytest.raises(ValueError, match="only='W' names no input; the inputs are 'x', 'w'"):
        gradcheck(lambda x, w: np.tanh(x @ w), [x, w], grad=_tanh_vjp, only="W")

    # no name per input where fn takes *args (alone or after named ones); names= wins
    for fn in (lambda *a: np.tanh(a[0] @ a[1]), lambda x, *rest: np.tanh(x @ rest[0])):
        rep = gradcheck(fn, [x, w], grad=_tanh_vjp)
        assert [r.label for r in rep.inputs] == ["input 0", "input 1"], rep
    rep = gradcheck(lambda x, w: np.tanh(x @ w), [x, w], grad=_tanh_vjp, names=["a", "b"])
    assert [r.name for r in rep.inputs] == ["a", "b"]


# ---------------------------------------------------------------------------------------------
# Wrong gradients fail, and the report says where and by how much
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_detached_factor_fails_with_element_and_both_values(method):
    x = np.random.default_rng(7).uniform(0.5, 2.0, (3, 4))
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: (x * x.detach()).sum(), {"x": x}, method=method, name="square")
    msg = str(info.value)
    assert msg.startswith("square: d(output)/d(input 'x') mismatch"), msg
    name, idx, analytic, numeric = _worst(msg)
    assert name == "x" and len(idx) == 2
    # true gradient 2x, the wrong analytic one x: check both against x itself
    assert analytic == pytest.approx(x[idx], rel=1e-4)
    assert numeric == pytest.approx(2 * x[idx], rel=1e-4)
    assert "failing     12 / 12 elements (100.0%)" in msg
    # the method whose verdict failed: the full central check decides after directional
    failed_by = "complex_step" if method == "complex_step" else "central"
    assert f'reproduce   gradcheck(fn, inputs, only="x", seed=0, method="{failed_by}")' in msg
    r = info.value.report.inputs[0]
    assert not info.value.report.passed
    assert r.worst_index == idx and r.analytic == pytest.approx(x[idx], rel=1e-12)
    assert r.max_rel_error == pytest.approx(0.5, rel=1e-4)    # |x - 2x| / |2x|


class HalfWrongMul(Function):
    """y = a ⊙ b with a planted bug in the gradient of b only."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved
        return dy * b, dy * a * 1.01


@pytest.mark.parametrize("method", METHODS)
def test_bug_in_one_input_names_that_input_only(method):
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    with pytest.raises(GradcheckError) as info:
        gradcheck(HalfWrongMul.apply, [a, b], names=["a", "b"], method=method)
    msg = str(info.value)
    assert msg.startswith("HalfWrongMul.apply: d(output)/d(input 1 'b')")
    assert "'a'" not in msg and "input 0" not in msg
    name, idx, analytic, numeric = _worst(msg)
    v = np.random.default_rng(0).standard_normal((2, 3))
    assert name == "b"
    assert analytic == pytest.approx(1.01 * v[idx] * a[idx], rel=1e-4)
    assert numeric == pytest.approx(v[idx] * a[idx], rel=1e-4)
    rep = gradcheck(HalfWrongMul.apply, [a, b], names=["a", "b"], method=method,
                    raise_exception=False)
    assert rep.passed is False
    assert {r.name: r.passed for r in rep.inputs} == {"a": True, "b": False}


def test_directional_failure_falls_back_to_the_full_central_check():
    x = np.random.default_rng(9).standard_normal(4)
    rep = gradcheck(lambda t: (t * t.detach()).sum(), [x], raise_exception=False)
    r = rep.inputs[0]
    assert r.fallback_ran and r.fallback_passed is False and not rep.passed
    assert r.numeric_grad is not None and r.checked_by == "directional → central"
    np.testing.assert_allclose(r.numeric_grad, 2 * x, rtol=1e-8)
    assert "directional → full central difference failed" in rep.failure_text()
    m = re.search(r"directional <u,J\^T v>=(\S+)  <Ju,v>=(\S+)  \(seed=0\)",
                  rep.failure_text())
    assert m and float(m.group(2)) == pytest.approx(2 * float(m.group(1)), rel=1e-4)


def test_directional_false_alarm_is_dismissed_by_the_central_check():
    # One large entry makes the directional step (6e-6·max|x| = 6e-3) cross relu's kink at
    # the small entries; the per-element central steps (6e-6) do not, and they decide.
    x = np.array([1000.0, 1e-4, -1e-4, 2e-4, 0.5])
    rep = gradcheck(lambda t: ng.relu(t).sum(), [x])
    r = rep.inputs[0]
    assert rep.passed and r.fallback_ran and r.fallback_passed
    np.testing.assert_array_equal(r.analytic_grad, [1, 1, 0, 1, 1])
    assert "directional failed → full central difference passed" in str(rep)


def test_the_report_is_assembled_once_from_immutable_parts():
    x = np.random.default_rng(9).standard_normal(4)
    rep = gradcheck(lambda t: (t * t.detach()).sum(), [x], raise_exception=False)
    r = rep.inputs[0]
    # the directional check failed and the central comparison decided: both parts are kept
    assert r.directional is not None and not r.directional.passed
    assert r.comparison is not None and r.comparison.n_failing == x.size
    assert r.defect is None and (r.atol, r.rtol) == TOLERANCES[("central", "float64")]
    assert r.worst_index == r.comparison.worst_index and r.max_abs_error == pytest.approx(
        np.max(np.abs(x)), rel=1e-6)                   # |x - 2x| at the largest |x|
    assert isinstance(rep.inputs, tuple)
    for obj, attr in [(rep, "claimed"), (r, "notes"), (r.comparison, "n_failing"),
                      (r.directional, "passed"), (r.tolerance, "atol"), (r.subject, "label")]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, attr, None)
    with pytest.raises(TypeError):
        rep.options["eps"] = 1.0                       # a read-only mapping


def test_report_without_raising_and_worst_rows():
    x = np.random.default_rng(10).uniform(0.5, 2.0, (3, 4))
    rep = gradcheck(lambda t: (t * t.detach()).sum(), [x], method="central",
                    raise_exception=False)
    assert rep.passed is False
    rows = rep.worst(4)
    assert len(rows) == 4
    assert [r["violation"] for r in rows] == sorted((r["violation"] for r in rows),
                                                    reverse=True)
    assert rows[0]["index"] == rep.inputs[0].worst_index
    for row in rows:
        assert row["analytic"] == pytest.approx(x[row["index"]], rel=1e-12)
        assert row["numeric"] == pytest.approx(2 * x[row["index"]], rel=1e-8)
        assert row["abs"] == pytest.approx(x[row["index"]], rel=1e-8)
    assert len(rep.worst(100)) == x.size


def test_relative_error_is_measured_against_a_thousandth_of_the_scale():
    # gradient (3, 0): the zero entry's error is measured against 1e-3·3, not against ~0
    c = np.array([3.0, 0.0])
    x = np.array([0.7, 0.2])
    rep = gradcheck(lambda t: (t * c).sum() + 1e-9 * (t.detach() * t).sum(), [x],
                    method="central", raise_exception=False)
    r = rep.inputs[0]
    a, n = r.analytic_grad, r.numeric_grad
    expect = np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)),
                                        1e-3 * np.abs(n).max())
    assert r.max_rel_error == pytest.approx(expect.max(), rel=1e-12)
    assert expect[1] == pytest.approx(0.2e-9 / 3e-3, rel=0.05)   # n[1] = 4e-10 ± noise


def test_complex_step_catches_float32_rounding_that_central_cannot_see():
    class Float32Backward(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, dy):
            (x,) = ctx.saved
            return (2 * x * dy).astype(np.float32).astype(x.dtype)

    x = np.random.default_rng(11).standard_normal(6)
    assert gradcheck(Float32Backward.apply, [x], method="central").passed
    with pytest.raises(GradcheckError, match="complex_step"):
        gradcheck(Float32Backward.apply, [x], method="complex_step")


def test_the_printed_error_names_its_class_once():
    rng = np.random.default_rng(17)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: (a * b * a.detach() * b.detach()).sum(), [a, b],
                  method="central")
    assert len(info.value.report.inputs) == 2 and not any(
        r.passed for r in info.value.report.inputs)       # two failure blocks
    printed = "".join(traceback.format_exception_only(info.value))
    assert printed.count("GradcheckError") == 1, printed
    assert printed.startswith("nongate_np.check.gradcheck.GradcheckError: <lambda>: d(output)/d("
                              "input 0 'a') mismatch"), printed


def _reproduce_line(message: str) -> str:
    m = re.search(r"reproduce   (gradcheck\(.*\))", message)
    assert m, message
    return m.group(1)


def test_reproduce_names_the_failing_method_and_reruns_the_failure():
    class Float32Backward(Function):
        @staticmethod
        def forward(ctx, x, w):
            ctx.save_for_backward(x, w)
            return x * x * w

        @staticmethod
        def backward(ctx, dy):
            x, w = ctx.saved
            return (2 * x * w * dy).astype(np.float32).astype(x.dtype), dy * x * x

    rng = np.random.default_rng(18)
    inputs = [rng.standard_normal(6), rng.standard_normal(6)]
    fn = Float32Backward.apply
    with pytest.raises(GradcheckError) as info:
        gradcheck(fn, inputs, names=["x", "w"], method="complex_step", seed=3, rtol=1e-12)
    line = _reproduce_line(str(info.value))
    # names= repeated, so the rerun labels the elements as the first run did; rtol kept
    assert line == 'gradcheck(Float32Backward.apply, inputs, names=["x", "w"], only="x", ' \
        'seed=3, method="complex_step", rtol=1e-12)'
    with pytest.raises(GradcheckError) as again:
        eval(line, {"gradcheck": gradcheck, "Float32Backward": Float32Backward,
                    "inputs": inputs})
    assert "worst       x[" in str(again.value)
    first, second = info.value.report["x"], again.value.report[0]
    assert second.method == "complex_step" and second.worst_index == first.worst_index
    assert second.analytic == first.analytic and second.numeric == first.numeric
    # the same function passes by central differences: the method matters to reproduce
    assert gradcheck(fn, inputs, method="central").passed


def test_a_report_looks_inputs_up_by_name_or_argument_position():
    """report.inputs counts checked inputs only; report[...] takes fn's argument position or
    the name, and says which inputs it has where none matches."""
    x, ids, w = np.ones((2, 3)), np.array([0, 1]), np.full((3, 2), 0.5)
    report = gradcheck(lambda x, ids, w: np.tanh(x @ w)[ids], [x, ids, w],
                       grad=lambda x, ids, w, v: _tanh_grads(x, w, ids, v),
                       names=["x", "ids", "w"], raise_exception=False)
    assert report[2] is report["w"] is report.inputs[1]
    with pytest.raises(KeyError, match=r"no checked input 'ids'; the checked inputs are "
                                       r"input 0 'x', input 2 'w'"):
        report["ids"]


def _tanh_grads(x, w, ids, v):
    full = np.zeros((x.shape[0], w.shape[1]))
    np.add.at(full, ids, v)
    dx, dw = _tanh_vjp(x, w, full)
    return dx, None, dw


def test_reproduce_keeps_an_explicit_step():
    x = np.random.default_rng(19).uniform(0.5, 2.0, 4)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: (x * x.detach()).sum(), {"x": x}, method="central", eps=1e-4)
    assert _reproduce_line(str(info.value)) == \
        'gradcheck(fn, inputs, only="x", seed=0, method="central", eps=0.0001)'


def test_unrecorded_path_is_explained():
    x = np.random.default_rng(12).standard_normal(3)
    with pytest.raises(GradcheckError, match="no gradient \\(None, counted as zeros\\)"):
        gradcheck(lambda t: ng.Tensor(t.data * 2).sum(), [x], method="central")


# ---------------------------------------------------------------------------------------------
# Structural failures: reentrancy, gradient shapes, complex-step applicability, blocks, dtype
# ---------------------------------------------------------------------------------------------

def test_nondeterministic_backward_is_reported_as_not_reentrant():
    class Noisy(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, dy):
            return dy * 2 + np.random.default_rng().standard_normal(dy.shape) * 1e-3

    with pytest.raises(GradcheckError) as info:
        gradcheck(Noisy.apply, [np.ones(3)], names=["a"])
    msg = str(info.value)
    assert msg.startswith("Noisy.apply: d(output)/d(input 0 'a') is not "
                          "reentrant: two backward passes differ")
    assert "3 / 3 elements" in msg
    rep = gradcheck(Noisy.apply, [np.ones(3)], raise_exception=False, name="noisy")
    assert not rep.passed and rep.method == "reentrancy"


def _tanh_vjp(x, w, v):
    y = np.tanh(x @ w)
    dz = v * (1 - y * y)
    return dz @ w.T, x.T @ dz


@pytest.mark.parametrize("claimed", [False, True])
def test_a_nondeterministic_fn_is_named_not_blamed_on_the_step(claimed):
    """Every numerical derivative of a noisy fn measures the noise: the report must say fn
    is not deterministic (where its two outputs differ), not suggest another step."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    noise = np.random.default_rng(1)
    if claimed:
        fn, kw = (lambda a, b: np.tanh(a @ b) * (1 + 1e-3 * noise.random())), {"grad": _tanh_vjp}
    else:
        fn, kw = (lambda a, b: ng.tanh(a @ b) + float(noise.random())), {}
    with pytest.raises(GradcheckError) as info:
        gradcheck(fn, [x, w], **kw)
    msg = str(info.value)
    assert "d(output)/d(input 0 'a') cannot be checked: fn is not deterministic" in msg
    assert re.search(r"two calls at the same inputs gave output 0\[\d, \d\]: first=\S+ "
                     r"second=\S+ abs=\S+ \(8 / 8 elements differ\)", msg), msg
    assert "step" not in msg
    assert "ng.rng.seed(0) for nongate_np, torch.manual_seed(0), a fixed jax.random key" \
        in msg                          # the advice fits torch and JAX code too


@pytest.mark.parametrize("outputs, which", [(lambda t: t.numpy(), ""),
                                            (lambda t: (t, np.ones(3)), " as output 1")])
def test_an_ndarray_output_without_grad_is_a_type_error_pointing_to_grad(outputs, which):
    x, w = np.ones((4, 3)), np.ones((3, 2))
    with pytest.raises(TypeError, match=re.escape(
            f"gradcheck: f returned an ndarray{which}; expected Tensors made by nongate_np "
            "ops, which backward can reach. To check a function on NumPy arrays, pass its "
            "vector-Jacobian product: gradcheck(fn, inputs, grad=vjp)")):
        gradcheck(lambda a, b: outputs(ng.tanh(a @ b)), [x, w], name="f")


def test_wrongly_shaped_gradient_names_the_input():
    class WrongShape(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, dy):
            return dy, dy.sum(axis=0)          # b's gradient lost its first axis

    with pytest.raises(GradcheckError) as info:
        gradcheck(WrongShape.apply, [np.ones((2, 3)), np.ones((2, 3))], names=["a", "b"],
                  name="scale")
    msg = str(info.value)
    assert msg.startswith("scale: d(output)/d(input 1 'b') has shape (3,), "
                          "expected the input's shape (2, 3)"), msg
    assert "WrongShape.backward" in msg and "'a'" not in msg


def test_complex_step_refuses_functions_that_drop_the_imaginary_part():
    def real_part(t):
        return ng.Tensor(np.real(t.data)) * 2.0

    with pytest.raises(TypeError, match="real_part: complex-step is not applicable: every "
                                        "output is real"):
        gradcheck(real_part, [np.ones(3)], method="complex_step")


def test_complex_step_goes_through_the_engine_casts():
    # cast() keeps a complex value complex at the target precision (E-ops, Cast)
    rep = gradcheck(lambda t: (t.double() * t).sum(), [np.arange(1.0, 4.0)],
                    method="complex_step")
    assert rep.passed and rep.max_rel_error <= 1e-12


def test_complex_step_refuses_a_numpy_cast_to_a_real_dtype():
    def f(t):
        return ng.Tensor(t.data.astype(np.float64)) * 2.0

    with pytest.raises(TypeError, match="casts a complex value to a real dtype"):
        gradcheck(f, [np.ones(3)], method="complex_step")


def test_complex_step_refusing_an_in_place_op_says_to_write_it_out_of_place():
    """A newcomer's fn wrote input s into y = 2x in place: complex-stepping s made the
    value complex and y, from the real x, refused it; the error listed Numba kernels and
    scipy as the causes. It now names the in-place op, and the out-of-place form passes."""
    rng = np.random.default_rng(3)
    x, s, j = rng.standard_normal((4, 3)), rng.standard_normal((3, 3)), np.array([1, 3, 1])

    def in_place(x, s):
        y = x * 2
        y.index_copy_(0, j, s)
        return y.sin().sum()

    with pytest.raises(TypeError, match=r"index_copy_: the result's dtype complex128 cannot "
                                        r"be cast .* an in-place op wrote a complex value "
                                        r"into a real tensor.* write that op out of place"):
        gradcheck(in_place, [x, s], method="complex_step")
    rep = gradcheck(lambda x, s: (x * 2).index_copy(0, j, s).sin().sum(), [x, s],
                    method="complex_step")
    assert rep.passed and rep.max_rel_error <= 1e-12


@pytest.mark.parametrize("kernel", ["numba", "scipy"])
def test_complex_step_through_a_forward_that_cannot_take_complex_says_so(kernel):
    """A Function whose forward calls a Numba kernel compiled for float64 (or a scipy.special
    function with no complex loop) raised Numba's 20-line TypingError (scipy's TypeError)
    from deep inside the kernel; as with grad=, the error now says complex-step is not
    applicable, what fn raised and what to use, and the same op passes by central."""
    import numba
    from scipy import special

    @numba.njit
    def nb_tanh(x):
        out = np.empty_like(x)
        for i in range(x.size):
            out.flat[i] = math.tanh(x.flat[i])      # math.tanh has no complex version
        return out

    forward = nb_tanh if kernel == "numba" else (lambda x: 2 * special.expit(2 * x) - 1)

    class KernelTanh(Function):
        @staticmethod
        def forward(ctx, x):
            y = forward(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, dy):
            (y,) = ctx.saved
            return dy * (1 - y * y)

    x = np.random.default_rng(3).standard_normal((2, 3))
    assert gradcheck(KernelTanh.apply, [x], method="central").passed
    expected = "TypingError" if kernel == "numba" else "TypeError"
    with pytest.raises(TypeError, match=rf"KernelTanh.apply: complex-step is not applicable: "
                                        rf"fn raised {expected} \(.*\) on a complex128 input.*"
                                        r"use method='central' or 'directional'") as info:
        gradcheck(KernelTanh.apply, [x], method="complex_step")
    assert "\n" not in str(info.value)


def test_block_of_a_planted_bug_is_named():
    H, I = 3, 2
    rng = np.random.default_rng(13)

    class GateLayer(Function):
        """y = tanh(x Wᵀ) with a planted bug in rows 2H:3H (gate g) of dW."""

        @staticmethod
        def forward(ctx, x, W):
            y = np.tanh(x @ W.T)
            ctx.save_for_backward(x, W, y)
            return y

        @staticmethod
        def backward(ctx, dy):
            x, W, y = ctx.saved
            dz = dy * (1 - y * y)
            dW = dz.T @ x
            dW[2 * H:3 * H] *= 1.5
            return dz @ W, dW

    blocks = {"W": [(gate, np.s_[j * H:(j + 1) * H]) for j, gate in enumerate("ifgo")]}
    inputs = {"x": rng.standard_normal((5, I)), "W": rng.standard_normal((4 * H, I))}
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x, W: GateLayer.apply(x, W), inputs, method="central",
                  blocks=blocks, name="gate_layer")
    msg = str(info.value)
    assert "all in block 'g' (W[6:9])" in msg, msg
    name, idx, _, _ = _worst(msg)
    assert name == "W" and 2 * H <= idx[0] < 3 * H
    assert all(row["block"] == "g" for row in info.value.report.worst(3))
    with pytest.raises(ValueError, match="not inputs"):
        gradcheck(lambda x, W: GateLayer.apply(x, W), inputs, blocks={"V": blocks["W"]})


def test_float32_inputs_warn_naming_the_input():
    with pytest.warns(UserWarning, match="input 1 'w' is float32; use float64"):
        rep = gradcheck(lambda a, w: (a * w * w).sum(), [np.ones(3), np.ones(3, np.float32)],
                        names=["a", "w"], method="central")
    assert rep.passed
    assert (rep.inputs[1].atol, rep.inputs[1].rtol) == TOLERANCES[("central", "float32")]
    assert tolerance("complex_step", np.complex128) == TOLERANCES[("complex_step", "float64")]
    # several float32 inputs: one warning naming them all (a newcomer saw three alike)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        gradcheck(lambda a, w, b: (a * w * b).sum(), [np.ones(3, np.float32)] * 3,
                  names=["a", "w", "b"], method="central")
    texts = [str(w.message) for w in seen if "use float64" in str(w.message)]
    assert texts == ["gradcheck: input 0 'a', input 1 'w', input 2 'b' are float32; use "
                     "float64 (float32 tolerances apply: atol=0.001, rtol=0.01)"], texts
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradcheck(lambda a: (a * a).sum(), [np.ones(3)])          # float64: no warning


def test_the_report_names_the_inputs_it_did_not_check():
    """An integer array is passed through as a constant: a pass must not hide that its
    gradient was never compared (with grad= as without)."""
    w = np.random.default_rng(0).standard_normal((3, 2))

    def vjp(x, w, v):
        d = v * (1 - np.tanh(x @ w) ** 2)
        return [d @ w.T, x.T @ d]

    with pytest.warns(UserWarning, match=r"grad returned a gradient for input 0 'x', an int64 "
                                         r"array, which is held constant"):
        rep = gradcheck(lambda x, w: np.tanh(x @ w), [np.ones((4, 3), np.int64), w],
                        grad=vjp, method="central")
    assert [r.label for r in rep.inputs] == ["input 1 'w'"]
    assert rep.constants == ("input 0 'x' (int64 (4, 3), not floating point)",)
    assert str(rep).endswith("not checked (constants): input 0 'x' (int64 (4, 3), not floating "
                             "point)")
    rep = gradcheck(lambda x, n: (x * x).sum() * n, [np.ones(3), 2], names=["x", "n"])
    assert rep.constants == ("input 1 'n' (int)",)
    assert "not checked" not in str(gradcheck(lambda a: (a * a).sum(), [np.ones(3)]))


# ---------------------------------------------------------------------------------------------
# numeric_gradient, the part users compare against their own framework
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, rtol", [("central", 1e-8), ("complex_step", 1e-14)])
def test_numeric_gradient_matches_the_closed_form(method, rtol):
    rng = np.random.default_rng(14)
    x, W = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    v = rng.standard_normal((4, 2))
    dx, dW = numeric_gradient(lambda x, W: ng.tanh(x @ W), [x, W], method=method,
                              cotangents=[v])
    dz = v * (1 - np.tanh(x @ W) ** 2)
    np.testing.assert_allclose(dx, dz @ W.T, rtol=rtol, atol=rtol, err_msg="dx")
    np.testing.assert_allclose(dW, x.T @ dz, rtol=rtol, atol=rtol, err_msg="dW")
    grads = numeric_gradient(lambda x, W: ng.tanh(x @ W), {"x": x, "W": W}, method=method,
                             only="W", cotangents=[v])
    assert grads["x"] is None
    np.testing.assert_allclose(grads["W"], x.T @ dz, rtol=rtol, atol=rtol)


@pytest.mark.torch
def test_numeric_gradient_checks_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(15)
    x, W = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    v = rng.standard_normal((4, 2))

    def f(x, W):                                  # plain NumPy in, plain NumPy out
        x, W = np.asarray(x), np.asarray(W)
        dt = np.result_type(x, W)                 # complex128 while complex-stepping
        return torch.sigmoid(torch.from_numpy(x.astype(dt)) @
                             torch.from_numpy(W.astype(dt))).numpy()

    dx, dW = numeric_gradient(f, [x, W], method="complex_step", cotangents=[v])
    xt = torch.tensor(x, requires_grad=True)
    Wt = torch.tensor(W, requires_grad=True)
    torch.sigmoid(xt @ Wt).backward(torch.from_numpy(v))
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dW, Wt.grad.numpy(), rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# Property: over drawn shapes, correct passes and the planted bug fails
# ---------------------------------------------------------------------------------------------

@given(shape=nt.shapes(min_dims=1, max_dims=2), seed=st.integers(0, 2**16),
       method=st.sampled_from(METHODS))
def test_verdicts_hold_over_drawn_shapes(shape, seed, method):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, shape) * rng.choice([-1, 1], shape)
    rep = gradcheck(lambda t: ng.tanh(t * t), [x], method=method, seed=seed)
    assert rep.max_rel_error <= MAX_REL[method], str(rep)
    bad = gradcheck(lambda t: ng.tanh(t * t.detach()), [x], method=method, seed=seed,
                    raise_exception=False)
    assert not bad.passed


def test_a_directional_pass_on_a_large_input_says_what_it_cannot_see():
    """One element 1 % wrong in a 64 x 64 weight fails (the directional bound is the root of
    the summed squares of the elements' allowances, not their sum, which let it pass); on a
    1024 x 1024 weight one element's error must be about two thousandths of it to show,
    and a pass says so; a sharp pass prints no such note."""
    def check(n, bug):
        rng = np.random.default_rng(0)
        x, w = rng.standard_normal((8, n)), rng.standard_normal((n, n)) / np.sqrt(n)

        def vjp(x, w, v):
            dx, dw = _tanh_vjp(x, w, v)
            dw[1, 0] *= bug
            return dx, dw
        return gradcheck(lambda x, w: np.tanh(x @ w), [x, w], grad=vjp, names=["x", "w"],
                         raise_exception=False)

    caught = check(64, 1.01)
    assert not caught.passed and caught.inputs[1].fallback_ran
    assert caught.inputs[1].worst_index == (1, 0)
    big = check(1024, 1.0)
    d = big.inputs[1].directional
    assert big.passed and d is not None and 1e-3 < d.sensitivity < 0.1
    row = next(line for line in str(big).splitlines() if line.startswith("  input 1 'w'"))
    assert row.endswith(f"pass (sees ≥ {d.sensitivity:.1e})"), str(big)
    sharp = check(64, 1.0)
    assert sharp.passed and sharp.inputs[1].directional.sensitivity < 1e-3


def test_a_directional_pass_table_says_what_it_bounded():
    """A weight's gradient 1e-5 too large in one block (a GRU's reset gate) passes the
    directional check: its max rel (the projection's error) exceeds rtol=1e-6 in the table
    while a failure prints rtol=1e-6 per element. The table now says that a directional row
    bounds one projection, not each element, and each row the relative error one element of
    median size needs to fail; central differences catch the error."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3)), rng.standard_normal((3, 12)) / np.sqrt(3)

    def vjp(x, w, v):
        dx, dw = _tanh_vjp(x, w, v)
        dw[:, :4] *= 1 + 1e-5
        return dx, dw

    report = gradcheck(lambda x, w: np.tanh(x @ w), [x, w], grad=vjp, names=["x", "w"])
    assert report.passed and report["w"].checked_by == "directional"
    assert report["w"].max_rel_error > report["w"].rtol
    lines = str(report).splitlines()
    for r in report.inputs:
        row = next(line for line in lines if line.startswith(f"  {r.label} "))
        assert row.endswith(f"pass (sees ≥ {r.directional.sensitivity:.1e})"), row
    assert report["w"].directional.sensitivity > 1e-5
    assert lines[-1] == ('  directional rows bound one projection <g,u> per input (u random), '
                         'not each element: max abs/rel are the projection\'s; "sees ≥ r": one '
                         'element of median size wrong by less than a relative r can pass. '
                         'method="central" or "complex_step" compares each element'), lines
    assert not gradcheck(lambda x, w: np.tanh(x @ w), [x, w], grad=vjp, names=["x", "w"],
                         method="central", raise_exception=False).passed
    assert "projection" not in str(gradcheck(lambda x, w: np.tanh(x @ w), [x, w], grad=vjp,
                                             method="complex_step", raise_exception=False))


def test_an_element_wise_pass_names_the_elements_it_cannot_resolve():
    """A float32 central check allows atol and float32's rounding noise: an element of
    small size 10 % wrong passes it. The report must name such elements (how many, their
    sizes, what allows it) and that float64 resolves them; the same error in float64 must
    fail, and a float64 pass prints no such line."""
    rng = np.random.default_rng(0)
    x64, w64 = rng.standard_normal((8, 16)), rng.standard_normal((16, 32))

    def check(dtype, bug, target=(0, 0)):
        def vjp(x, w, v):
            dx, dw = _tanh_vjp(x, w, v)
            dw[target] *= bug
            return dx, dw
        with warnings.catch_warnings():             # "input 0 'x' is float32; use float64"
            warnings.simplefilter("ignore")
            return gradcheck(lambda x, w: np.tanh(x @ w), [x64.astype(dtype),
                                                            w64.astype(dtype)],
                             grad=vjp, names=["x", "w"], method="central",
                             raise_exception=False)

    size = np.abs(check(np.float64, 1.0).inputs[1].numeric_grad)
    target = np.unravel_index(np.argmin(np.where(size > 0.02, size, np.inf)), size.shape)
    blind = check(np.float32, 1.1, target)
    c = blind.inputs[1].comparison
    assert blind.passed and c.n_blind > 0
    assert c.blind_sizes[0] <= abs(c.numeric_grad[target]) <= c.blind_sizes[1]
    first = [tuple(i) for i in np.argwhere(c.blind)[:3]]
    assert c.blind[target] and c.n_blind == np.count_nonzero(c.blind)
    assert f"to {c.blind_sizes[1]:.1e}: " + ", ".join(f"w[{i}, {j}]" for i, j in first) in \
        str(blind), str(blind)
    assert re.search(r"input 1 'w': \d+ of 512 elements \(\|n\| from \S+ to \S+: w\[.*\]"
                     r"(, \.\.\.)?\) could be "
                     r"10% wrong and pass: atol=0.001 and the rounding noise of L over the step "
                     r"\(up to \S+\) allow that much; a float64 check resolves them, as "
                     r'does method="complex_step" where fn computes in complex arithmetic',
                     str(blind)), str(blind)
    caught = check(np.float64, 1.1, target)
    assert not caught.passed and caught.inputs[1].worst_index == target
    sharp = check(np.float64, 1.0)
    assert sharp.passed and sharp.inputs[1].comparison.n_blind == 0
    assert "could be" not in str(sharp)


def test_a_smaller_step_never_passes_what_the_default_step_resolves():
    """Large outputs that do not depend on x make the rounding noise ν large; a smaller
    step's ν is 10 times larger again. An element 30 % wrong fails at the default step,
    where truncation (sin: h²/6) is far below the gap: stepping down must not pass it
    within the finer step's noise (it did), and the report keeps the default step's
    estimate and noise. The correct backward passes."""
    x = np.random.default_rng(0).standard_normal(5)

    def f(x):
        return np.concatenate([np.full(50, 1e5), np.sin(x)])

    def check(bug):
        def vjp(x, v):
            g = v[50:] * np.cos(x)
            g[2] *= bug
            return g
        return gradcheck(f, [x], grad=vjp, method="central", raise_exception=False)

    assert check(1.0).passed
    for bug in (1.3, 2.0):
        caught = check(bug)
        r = caught.inputs[0]
        assert not caught.passed and r.worst_index == (2,), str(caught)
        assert r.noise == check(1.0).inputs[0].noise            # the default step's ν
        assert "the step is not the cause" in caught.failure_text(), caught.failure_text()


@pytest.mark.parametrize("method", ["central", "complex_step"])
def test_outputs_not_finite_at_x_are_named_not_blamed_on_the_step(method):
    """log at a negative input: fn(x) holds NaN, so L and every numerical derivative are
    meaningless. The report must say so, not suggest another step or blame the backward."""
    x = np.array([0.5, -1.0, 2.0])

    def f(x):
        with np.errstate(invalid="ignore"):
            return np.log(x) * 2.0

    with pytest.raises(GradcheckError) as info:
        gradcheck(f, [x], grad=lambda x, v: 2.0 * v / x, method=method)
    text = str(info.value)
    assert "fn's output 0 is not finite at these inputs (1 of 3 values NaN or infinite, " \
        "the first at [1]), nor is L" in text, text
    assert "step may be too large" not in text and "is not the cause" not in text, text


def test_a_claimed_product_that_ignores_v_is_named_in_the_failure():
    """A vector-Jacobian product written with a cotangent of ones is wrong for the random v
    gradcheck draws; the note must say so, and a merely wrong product gets no such note."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))

    def ignores_v(x, w, v):
        return _tanh_vjp(x, w, np.ones_like(v))

    def doubled(x, w, v):
        dx, dw = _tanh_vjp(x, w, v)
        return dx, 2 * dw

    rep = gradcheck(lambda x, w: np.tanh(x @ w), [x, w], grad=ignores_v, raise_exception=False)
    assert not rep.passed
    for r in rep.inputs:
        assert not r.passed and any("so it ignores the cotangent v" in n for n in r.notes)
    rep = gradcheck(lambda x, w: np.tanh(x @ w), [x, w], grad=doubled, raise_exception=False)
    assert [r.passed for r in rep.inputs] == [True, False]
    assert not any("ignores the cotangent" in n for n in rep.inputs[1].notes)


@pytest.mark.parametrize("method", ["central", "directional", "complex_step"])
def test_an_input_the_output_does_not_depend_on_is_named_in_a_passing_report(method):
    """A model's weights passed to gradcheck but never read (the model's own Parameters
    used instead): both gradients are zero, the check passes, and the report says so for
    that input alone (complex-step raised ComplexStepNotApplicable for the whole call)."""
    rng = np.random.default_rng(0)
    x, w, unused = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    report = ng.gradcheck(lambda x, w, b: ng.tanh(x @ w).sum(), [x, w, unused],
                          names=["x", "w", "b"], method=method)
    assert report.passed and report["b"].unused
    assert not report["w"].unused and not report["x"].unused
    lines = [line for line in str(report).splitlines() if "exactly zero" in line]
    assert len(lines) == 1 and lines[0].startswith("  input 2 'b': the gradient is exactly "
                                                   "zero at every element")


def test_complex_step_of_an_input_read_through_its_real_part_is_still_refused():
    """An input that is read, but only its real part, keeps the output real as an unread
    one does: it is not taken as unread (its analytic gradient is not zero)."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))

    def real_of_w(x, w):
        return ng.tanh(x @ ng.tensor(np.real(w.data))).sum()
    with pytest.raises(TypeError, match="complex-step is not applicable: every output is real"):
        ng.gradcheck(real_of_w, [x, w], method="complex_step")


def test_progress_shows_a_bar_over_the_evaluations_when_asked(capsys):
    """progress=True: a bar on stderr counting fn's evaluations (2 per element by central
    differences, 1 by complex-step), ending at the total; None (stderr not a terminal
    here) and False: nothing."""
    x = np.linspace(-1.0, 1.0, 40)
    for method, total in (("central", 80), ("complex_step", 40)):
        gradcheck(ng.tanh, [ng.tensor(x, requires_grad=True)], method=method, progress=True)
        err = capsys.readouterr().err
        name = method.replace("_", "-")
        assert f"gradcheck input 0 'x': {name} [" in err, err
        assert err.splitlines()[-1].startswith(f"gradcheck input 0 'x': {name} [{'#' * 24}] "
                                               f"{total}/{total}"), err
    for progress in (None, False):
        gradcheck(ng.tanh, [ng.tensor(x, requires_grad=True)], method="central",
                  progress=progress)
        assert capsys.readouterr().err == ""
    with pytest.raises(TypeError, match=r"progress must be True, False or None, got 'yes'"):
        gradcheck(ng.tanh, [ng.tensor(x, requires_grad=True)], progress="yes")
    numeric_gradient(ng.tanh, [x], method="complex_step", progress=True)
    assert capsys.readouterr().err.splitlines()[-1].startswith(
        f"numeric_gradient input 0 'x': complex-step [{'#' * 24}] 40/40")


def test_complex_step_says_it_checked_the_reference_kernels():
    """Complex input runs the fused kernels' NumPy reference path on every backend, so a
    complex-step pass under the numba (or cuda) backend does not check that backend's
    kernels; the report says so, and which methods do."""
    lstm = ng.nn.LSTM(3, 2).to(np.float64)
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    line = ('the fused LSTM and attention kernels take complex input on the NumPy reference '
            'path, whatever the backend: method="central" or "directional" checks the numba '
            "backend's")
    with ng.backend("numba"):
        assert line in str(gradcheck(lambda x: lstm(x)[0], [x], method="complex_step"))
        assert "reference path" not in str(gradcheck(lambda x: lstm(x)[0], [x],
                                                     method="central"))
    with ng.backend("numpy"):
        assert "reference path" not in str(gradcheck(lambda x: lstm(x)[0], [x],
                                                     method="complex_step"))
    # a function of element-wise ops only runs no fused kernel: nothing to say
    with ng.backend("numba"):
        assert "reference path" not in str(gradcheck(lambda x: ng.tanh(x).sum(), [x],
                                                     method="complex_step"))


def _weights_fn_and_vjp(module, seed: int, flipped):
    """A recurrent module's weight_ih_l0, weight_hh_l0 and bias_hh_l0 as gradcheck inputs
    through functional_call on a fixed input: (its state dict, the names, fn, and a vjp
    claiming d weight_hh_l0 with the sign of its rows ``flipped`` wrong)."""
    x = np.random.default_rng(seed).standard_normal((4, 2, 2))
    state = {k: v.copy() for k, v in module.state_dict().items()}
    names = ["weight_ih_l0", "weight_hh_l0", "bias_hh_l0"]

    def fn(*weights):
        return ng.nn.functional_call(module, {**state, **dict(zip(names, weights))},
                                     (x,))[0].numpy()

    def vjp(*weights_and_v):
        *weights, v = weights_and_v
        ws = [ng.Tensor(w, requires_grad=True) for w in weights]
        ng.nn.functional_call(module, {**state, **dict(zip(names, ws))}, (x,))[0].backward(v)
        grads = [np.array(w.grad) for w in ws]
        grads[1][flipped] *= -1
        return grads
    return state, names, fn, vjp


def test_lstm_gate_blocks_name_the_gate_of_a_wrong_gradient():
    """An LSTM's weights checked through functional_call, one gate's rows of d weight_hh
    wrong in the claimed vjp: the blocks lstm_gate_blocks gives name that gate (they were
    typed by hand)."""
    from nongate_np.check import lstm_gate_blocks
    H = 3
    ng.seed(0)
    state, names, fn, vjp = _weights_fn_and_vjp(ng.nn.LSTM(2, H, dtype=np.float64), 5,
                                                np.s_[H:2 * H])      # gate f of d weight_hh

    blocks = lstm_gate_blocks({n: state[n] for n in names}, H)
    assert list(blocks) == names and [g for g, _ in blocks["bias_hh_l0"]] == list("ifgo")
    with pytest.raises(GradcheckError) as info:
        gradcheck(fn, [state[n] for n in names], grad=vjp, names=names, blocks=blocks,
                  method="central")
    failed = [r for r in info.value.report.inputs if not r.passed]
    assert [r.name for r in failed] == ["weight_hh_l0"]
    assert f"all in block 'f' (weight_hh_l0[{H}:{2 * H}])" in str(info.value), str(info.value)
    assert f"analytic = -1.0 × numeric at every element of block 'f' (weight_hh_l0[{H}:" \
           f"{2 * H}]; within the tolerance), and the rest agrees: the sign is wrong in " \
           f"that block" in str(info.value)

    def one_row_wrong(*weights_and_v):
        grads = vjp(*weights_and_v)
        grads[1][H + 1:2 * H] *= -1                  # back: only row H of gate f flipped
        return grads
    report = gradcheck(fn, [state[n] for n in names], grad=one_row_wrong, names=names,
                       blocks=blocks, method="central", raise_exception=False)
    assert not report.passed and "× numeric" not in str(report), str(report)
    assert lstm_gate_blocks(["lstm.weight_ih_l1_reverse", "lstm.weight_hr_l0"], 2) == \
        {"lstm.weight_ih_l1_reverse": [("i", slice(0, 2)), ("f", slice(2, 4)),
                                       ("g", slice(4, 6)), ("o", slice(6, 8))]}
    with pytest.raises(ValueError, match=r"weight_hh_l0 has shape \(12, 3\); with "
                                         r"hidden_size=4 .* 4H = 16 rows"):
        lstm_gate_blocks({"weight_hh_l0": state["weight_hh_l0"]}, 4)
    with pytest.raises(ValueError, match="none of .* is an LSTM weight or bias"):
        lstm_gate_blocks(["proj.weight"], 3)


def test_gru_gate_blocks_name_the_gate_of_a_wrong_gradient():
    """A GRU's weights checked through functional_call, its candidate block n of d
    weight_hh with the wrong sign in the claimed vjp: gru_gate_blocks names block 'n'
    (rows 2H..3H, docs/math.md R1); an LSTM's blocks on a GRU's weights are refused,
    naming gru_gate_blocks."""
    from nongate_np.check import gru_gate_blocks, lstm_gate_blocks
    H = 3
    ng.seed(1)
    state, names, fn, vjp = _weights_fn_and_vjp(ng.nn.GRU(2, H, dtype=np.float64), 6,
                                                np.s_[2 * H:])       # gate n of d weight_hh

    blocks = gru_gate_blocks({n: state[n] for n in names}, H)
    assert [g for g, _ in blocks["weight_hh_l0"]] == list("rzn")
    with pytest.raises(GradcheckError) as info:
        gradcheck(fn, [state[n] for n in names], grad=vjp, names=names, blocks=blocks,
                  method="central")
    assert [r.name for r in info.value.report.inputs if not r.passed] == ["weight_hh_l0"]
    assert f"all in block 'n' (weight_hh_l0[{2 * H}:{3 * H}])" in str(info.value)
    assert "= -1.0 × numeric at every element of block 'n'" in str(info.value)
    with pytest.raises(ValueError, match=r"4H = 12 rows; 3H rows are a GRU's: use "
                                         r"gru_gate_blocks"):
        lstm_gate_blocks({"weight_hh_l0": state["weight_hh_l0"]}, H)
    with pytest.raises(ValueError, match=r"made by lstm_gate_blocks\(..., hidden_size=3\) "
                                         r".* 4H = 12 rows; 3H rows are a GRU's"):
        gradcheck(fn, [state[n] for n in names], grad=vjp, names=names,
                  blocks=lstm_gate_blocks(names, H), method="central")
    with pytest.raises(ValueError, match="none of .* is a GRU weight or bias"):
        gru_gate_blocks(["proj.weight"], 3)


@pytest.mark.parametrize("wrong_h", [2, 4])
def test_lstm_gate_blocks_of_the_wrong_hidden_size_are_refused(wrong_h):
    """A newcomer's lstm_gate_blocks(names, H) with H one off was taken: with H + 1 the
    blocks ran past the rows (the last gate shorter), with H - 1 a phantom part of no gate
    was left, and the swapped-gate bug was labelled with the wrong gates. gradcheck now
    refuses both before running, naming the hidden size that fits; a hand-written block
    past the end is refused too."""
    from nongate_np.check import lstm_gate_blocks
    H, rng = 3, np.random.default_rng(2)
    w = rng.standard_normal((4 * H, 2))
    x = rng.standard_normal((5, 2))
    fn = lambda w: np.tanh(x @ w.T)                                    # noqa: E731
    vjp = lambda w, v: (v * (1 - np.tanh(x @ w.T) ** 2)).T @ x         # noqa: E731
    assert gradcheck(fn, [w], grad=vjp, names=["weight_hh_l0"],
                     blocks=lstm_gate_blocks(["weight_hh_l0"], H), method="central").passed
    with pytest.raises(ValueError, match=rf"hidden_size={wrong_h}\) for input 0 "
                                         rf"'weight_hh_l0' of shape \(12, 2\): .* 4H = "
                                         rf"{4 * wrong_h} rows; hidden_size=3 fits it"):
        gradcheck(fn, [w], grad=vjp, names=["weight_hh_l0"],
                  blocks=lstm_gate_blocks(["weight_hh_l0"], wrong_h), method="central")
    for index in (np.s_[9:13], np.s_[12], np.s_[:, 2], np.s_[[0, 12]]):
        with pytest.raises(ValueError, match=r"block 'o' of input 0 'w' \(shape \(12, 2\)\) "
                                             r"reaches past the end of axis"):
            gradcheck(fn, [w], grad=vjp, names=["w"], blocks={"w": [("o", index)]})
    assert gradcheck(fn, [w], grad=vjp, names=["w"],
                     blocks={"w": [("o", np.s_[9:12]), ("last", np.s_[-1, ...])]}).passed
