"""gradcheck must fail on wrong gradients, and say where and by how much."""

import re
import warnings

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.autograd import Function
from nongate_np.gradcheck import GradcheckError, gradcheck

METHODS = ["central", "complex_step", "directional"]


def _worst(message: str):
    """(index tuple, analytic, numeric) parsed from the report's 'worst' line."""
    m = re.search(r"worst\s+\S+\[([\d, ]+)\]: analytic=(\S+) numeric=(\S+)", message)
    assert m, message
    return tuple(int(i) for i in m.group(1).split(",")), float(m.group(2)), float(m.group(3))


@pytest.mark.parametrize("method", METHODS)
def test_detached_factor_is_caught_with_element_and_values(method):
    x = np.random.default_rng(0).uniform(0.5, 2.0, (3, 4))
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: (x * x.detach()).sum(), {"x": x}, method=method)
    msg = str(info.value)
    assert "input 'x'" in msg
    idx, analytic, numeric = _worst(msg)
    # the true gradient is 2x, the wrong analytic one x: check both against x itself
    assert analytic == pytest.approx(x[idx], rel=1e-4)
    assert numeric == pytest.approx(2 * x[idx], rel=1e-4)
    assert info.value.report.passed is False


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


def test_planted_bug_names_the_wrong_input_only():
    rng = np.random.default_rng(1)
    rep = gradcheck(HalfWrongMul.apply, [rng.standard_normal(5), rng.standard_normal(5)],
                    names=["a", "b"], method="central", raise_exception=False)
    assert not rep.passed
    verdicts = {r.name: r.passed for r in rep.inputs}
    assert verdicts == {"a": True, "b": False}
    text = rep.failure_text()
    assert "input 1 'b'" in text and "'a'" not in text.split("reproduce")[0]


def test_gate_block_of_a_planted_bug_is_named():
    H, I = 3, 2
    rng = np.random.default_rng(2)

    class WrongGateG(Function):
        @staticmethod
        def forward(ctx, W):
            ctx.save_for_backward(W)
            return (W * W).sum()

        @staticmethod
        def backward(ctx, dy):
            (W,) = ctx.saved
            g = 2 * W * dy
            g[2 * H:3 * H] *= 1.5                   # the bug sits in block g only
            return g

    blocks = {"W": [(k, np.s_[j * H:(j + 1) * H]) for j, k in enumerate("ifgo")]}
    rep = gradcheck(lambda W: WrongGateG.apply(W), {"W": rng.uniform(0.5, 1, (4 * H, I))},
                    method="central", blocks=blocks, raise_exception=False)
    assert "all in block 'g'" in rep.failure_text()


def test_directional_failure_falls_back_to_the_full_check():
    x = np.random.default_rng(3).standard_normal(4)
    rep = gradcheck(lambda t: (t * t.detach()).sum(), [x], raise_exception=False)
    assert "directional → full central difference failed" in rep.failure_text()
    assert rep.inputs[0].numeric is not None


def test_nondeterministic_backward_is_reported():
    class Noisy(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, dy):
            return dy * 2 + np.random.default_rng().standard_normal(dy.shape) * 1e-3

    with pytest.raises(GradcheckError, match="two backward passes differ"):
        gradcheck(Noisy.apply, [np.ones(3)], name="noisy")


def test_complex_step_refuses_functions_that_drop_the_imaginary_part():
    def real_part(t):
        return ng.Tensor(np.real(t.data)) * 2.0

    with pytest.raises(TypeError, match="complex-step is not applicable"):
        gradcheck(real_part, [np.ones(3)], method="complex_step")


def test_passing_report_and_worst_rows():
    rng = np.random.default_rng(4)
    a, w = rng.standard_normal((3, 2)), rng.standard_normal((2, 2))
    rep = gradcheck(lambda a, w: ng.tanh(a @ w), [a, w], method="complex_step")
    assert rep.passed and rep.max_rel_error <= 1e-12
    assert "pass" in str(rep)
    rows = rep.worst(3)
    assert len(rows) == 3 and rows[0]["violation"] >= rows[1]["violation"] >= \
        rows[2]["violation"]


def test_float32_inputs_warn():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gradcheck(lambda t: (t * t).sum(), [np.ones(3, np.float32)], method="central")
    assert any("is float32; use float64" in str(w.message) for w in caught)
