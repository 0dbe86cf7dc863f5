"""selu, celu, hardtanh, relu6, hardsigmoid, hardswish, softshrink, hardshrink, threshold,
prelu and rrelu (evaluation mode) (docs/math.md E7c-E7h, E7a) as torch 2.13's: values and
gradients in float64 to 1e-12 against torch at the edges (every kink and its neighbouring
floats, ±1e4, ±inf, NaN) and at random values, float32 kept; without torch, torch's
gradient at each kink by hand, the gradient checks (central differences, the directional
check, complex-step through the Functions away from the kinks) and the errors."""

import numpy as np
import pytest

import nongate_np as ng
import nongate_np.nn.functional as F
from nongate_np.ops.activations_piecewise import (
    SELU_ALPHA,
    SELU_SCALE,
    Hardtanh,
    PRelu,
    ScaledElu,
    Shrink,
    Threshold,
)
from tests.helpers import assert_gradients
from tests.ops.activation_parity import EDGES, against_torch

# name -> (ours, torch's by name and arguments); the arguments put kinks among EDGES
CASES = {
    "selu": (F.selu, "selu", ()),
    "celu": (F.celu, "celu", ()),
    "celu(0.5)": (lambda t: F.celu(t, 0.5), "celu", (0.5,)),
    "celu(3)": (lambda t: F.celu(t, 3), "celu", (3,)),
    "celu(-0.75)": (lambda t: F.celu(t, -0.75), "celu", (-0.75,)),
    "celu(0.7)": (lambda t: F.celu(t, 0.7), "celu", (0.7,)),
    "hardtanh": (F.hardtanh, "hardtanh", ()),
    "hardtanh(-3, 6)": (lambda t: F.hardtanh(t, -3, 6.0), "hardtanh", (-3.0, 6.0)),
    "hardtanh(0.5, 0.5)": (lambda t: F.hardtanh(t, 0.5, 0.5), "hardtanh", (0.5, 0.5)),
    "relu6": (F.relu6, "relu6", ()),
    "hardsigmoid": (F.hardsigmoid, "hardsigmoid", ()),
    "hardswish": (F.hardswish, "hardswish", ()),
    "softshrink": (F.softshrink, "softshrink", ()),
    "softshrink(0)": (lambda t: F.softshrink(t, 0.0), "softshrink", (0.0,)),
    "softshrink(3)": (lambda t: F.softshrink(t, 3), "softshrink", (3.0,)),
    "hardshrink": (F.hardshrink, "hardshrink", ()),
    "hardshrink(3)": (lambda t: F.hardshrink(t, 3.0), "hardshrink", (3.0,)),
    "hardshrink(-1)": (lambda t: F.hardshrink(t, -1.0), "hardshrink", (-1.0,)),
    "threshold(0.5, -2)": (lambda t: F.threshold(t, 0.5, -2.0), "threshold", (0.5, -2.0)),
    "threshold(-3, 20)": (lambda t: F.threshold(t, -3, 20), "threshold", (-3.0, 20.0)),
    "threshold(6, nan)": (lambda t: F.threshold(t, 6.0, np.nan), "threshold", (6.0, np.nan)),
    "rrelu": (F.rrelu, "rrelu", ()),
    "rrelu(0.5, 1)": (lambda t: F.rrelu(t, 0.5, 1.0), "rrelu", (0.5, 1.0)),
}


def _theirs(torch, name, args):
    fn = getattr(torch.nn.functional, name)
    return lambda t: fn(t, *args)


def _grad_rtol(case):
    """torch's float64 hardsigmoid gradient is dy times float32's 1/6 (3e-8 off), and its
    celu gradient takes 1/α of α rounded to float32 (its value does not): e^{x/α} off by
    |x/α| times float32's rounding of α, 2e-6 at x = −40 for α = 0.7. Both are checked by
    hand without torch."""
    return {"hardsigmoid": 6e-8, "celu(0.7)": 3e-6}.get(case)


@pytest.mark.torch
@pytest.mark.parametrize("case", sorted(CASES))
def test_equal_torchs_at_the_edges(case):
    """Every kink with its neighbouring floats (torch's gradient at each), ±1e4, ±inf and
    NaN (which keeps the gradient torch gives it: dy, λ dy, 0 ...)."""
    torch = pytest.importorskip("torch")
    ours, name, args = CASES[case]
    against_torch(ours, _theirs(torch, name, args), EDGES, case, torch,
                  grad_rtol=_grad_rtol(case))


@pytest.mark.torch
@pytest.mark.parametrize("shape", [(), (1,), (3, 4), (2, 0, 3), (2, 3, 5)], ids=str)
def test_random_values_equal_torchs(shape):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(len(shape)).normal(0, 4, shape)
    for case, (ours, name, args) in CASES.items():
        against_torch(ours, _theirs(torch, name, args), x, case, torch,
                      grad_rtol=_grad_rtol(case))


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted({name for _, name, _ in CASES.values()}))
def test_float32_stays_float32_and_equals_torchs(name):
    torch = pytest.importorskip("torch")
    args = {"threshold": (0.5, -2.0)}.get(name, ())
    x = np.random.default_rng(3).normal(0, 5, (4, 6)).astype(np.float32)
    x[0, :4] = [0.0, 3.0, -3.0, 0.5]
    t = ng.tensor(x, requires_grad=True)
    y = getattr(F, name)(t, *args)
    y.sum().backward()
    assert y.dtype == np.float32 and t.grad.dtype == np.float32, name
    r = torch.tensor(x, requires_grad=True)
    z = _theirs(torch, name, args)(r)
    z.sum().backward()
    np.testing.assert_allclose(y.numpy(), z.detach().numpy(), rtol=2e-6, atol=1e-7,
                               err_msg=name)
    np.testing.assert_allclose(t.grad, r.grad.numpy(), rtol=2e-6, atol=1e-7, err_msg=name)


PRELU_CASES = {                      # input shape, weight shape
    "one slope, 3-D": ((2, 3, 4), (1,)), "per channel, 3-D": ((2, 3, 4), (3,)),
    "per channel, 2-D": ((5, 3), (3,)), "per channel, 4-D": ((2, 3, 2, 2), (3,)),
    "one slope, 1-D": ((6,), (1,)), "one slope, 0-d": ((), (1,)),
    "0-d slope": ((2, 3), ()), "empty batch": ((0, 3), (3,)),
}


@pytest.mark.torch
@pytest.mark.parametrize("case", sorted(PRELU_CASES))
def test_prelu_equals_torchs_with_the_weights_gradient(case):
    torch = pytest.importorskip("torch")
    xs, ws = PRELU_CASES[case]
    rng = np.random.default_rng(5)
    x, w = rng.normal(0, 2, xs), rng.uniform(-0.5, 0.5, ws)
    if x.size >= 3:
        x.flat[:3] = [0.0, -0.0, 1e-300]                  # the kink: slope w, dw gets 0 · dy
    ours = [ng.tensor(a, requires_grad=True) for a in (x, w)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w)]
    y, z = F.prelu(*ours), torch.nn.functional.prelu(*theirs)
    assert y.shape == tuple(z.shape) and y.dtype == np.float64
    v = np.random.default_rng(6).normal(size=y.shape)
    y.backward(v)
    z.backward(torch.tensor(v))
    np.testing.assert_allclose(y.numpy(), z.detach().numpy(), rtol=1e-12, atol=0)
    for a, b, what in zip(ours, theirs, ("input", "weight")):
        assert a.grad.shape == a.shape, what
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-12, atol=1e-300,
                                   err_msg=what)


@pytest.mark.torch
def test_prelu_at_the_edges_as_torch():
    """NaN and ±inf: y NaN and w dy at NaN, the weight's gradient NaN, as torch's."""
    torch = pytest.importorskip("torch")
    w = np.array([0.3])
    against_torch(lambda t: F.prelu(t, ng.tensor(w)),
                  lambda t: torch.nn.functional.prelu(t, torch.tensor(w)), EDGES, "prelu",
                  torch)
    for x in (EDGES, EDGES[np.isfinite(EDGES)]):
        a, b = ng.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
        F.prelu(ng.tensor(x), a).sum().backward()
        torch.nn.functional.prelu(torch.tensor(x), b).sum().backward()
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-12)


# -- without torch -------------------------------------------------------------------------

def _grad(fn, x, dy=None):
    t = ng.tensor(np.asarray(x, float), requires_grad=True)
    y = fn(t)
    y.backward(np.ones(y.shape) if dy is None else dy)
    return y.numpy(), t.grad


def test_torchs_gradient_at_each_kink():
    """The side torch takes at every kink, as docs/math.md E7c-E7h state it."""
    at = [-3.0, 0.0, 3.0, 6.0]
    _, g = _grad(F.selu, [0.0, -0.0, 1.0, np.nan])
    np.testing.assert_allclose(g, [SELU_ALPHA * SELU_SCALE] * 2 + [SELU_SCALE] * 2,
                               rtol=1e-15)
    np.testing.assert_allclose(_grad(lambda t: F.celu(t, 0.3), [0.0])[1], [1.0], rtol=1e-15)
    np.testing.assert_array_equal(_grad(F.hardtanh, [-1.0, 1.0, 0.99, np.nan])[1],
                                  [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(_grad(F.relu6, at + [np.nan])[1], [0, 0, 1, 0, 1])
    np.testing.assert_array_equal(_grad(F.hardsigmoid, at + [np.nan])[1],
                                  [0, 1 / 6, 0, 0, 0])        # dy/6, not float32's 1/6
    np.testing.assert_array_equal(_grad(F.hardswish, at + [np.nan])[1], [0, 0.5, 1, 1, 1])
    np.testing.assert_array_equal(_grad(F.softshrink, [-0.5, 0.5, 0.0, 0.6, np.nan])[1],
                                  [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(_grad(F.hardshrink, [-0.5, 0.5, -0.6, np.nan])[1],
                                  [0, 0, 1, 1])
    np.testing.assert_array_equal(_grad(lambda t: F.threshold(t, 1.0, 5.0),
                                        [1.0, 1.5, np.nan])[1], [0, 1, 1])
    np.testing.assert_array_equal(_grad(lambda t: F.rrelu(t, 0.1, 0.3), [0.0, 1.0])[1],
                                  [0.2, 1.0])
    w = ng.tensor([0.25], requires_grad=True)
    x = ng.tensor([0.0, -2.0, 3.0], requires_grad=True)
    F.prelu(x, w).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.25, 0.25, 1.0])
    np.testing.assert_array_equal(w.grad, [-2.0])


def test_celu_gradient_is_exact_for_any_alpha():
    """e^{x/α} with 1/α in float64, as the value takes it (torch's backward rounds α to
    float32 first: 2e-6 off at x = −40 for α = 0.7)."""
    x = np.array([-40.0, -20.0, -1.0, -1e-3])
    _, g = _grad(lambda t: F.celu(t, 0.7), x)
    np.testing.assert_allclose(g, np.exp(x / 0.7), rtol=1e-14)


def test_values_by_hand():
    x = np.array([-4.0, -3.0, -1.5, 0.0, 1.5, 3.0, 7.0])
    np.testing.assert_array_equal(F.hardsigmoid(ng.tensor(x)).numpy(),
                                  [0, 0, 0.25, 0.5, 0.75, 1, 1])
    np.testing.assert_array_equal(F.hardswish(ng.tensor(x)).numpy(),
                                  [0, 0, -0.375, 0, 1.125, 3, 7])
    np.testing.assert_array_equal(F.relu6(ng.tensor(x)).numpy(), [0, 0, 0, 0, 1.5, 3, 6])
    np.testing.assert_array_equal(F.softshrink(ng.tensor(x), 1.5).numpy(),
                                  [-2.5, -1.5, 0, 0, 0, 1.5, 5.5])
    np.testing.assert_array_equal(F.hardshrink(ng.tensor(x), 1.5).numpy(),
                                  [-4, -3, 0, 0, 0, 3, 7])
    np.testing.assert_array_equal(F.threshold(ng.tensor(x), 0.0, -9.0).numpy(),
                                  [-9, -9, -9, -9, 1.5, 3, 7])
    np.testing.assert_allclose(F.selu(ng.tensor(x)).numpy(),
                               np.where(x > 0, SELU_SCALE * x,
                                        SELU_SCALE * SELU_ALPHA * np.expm1(x)), rtol=1e-15)
    np.testing.assert_allclose(F.celu(ng.tensor(x), 2.0).numpy(),
                               np.where(x > 0, x, 2.0 * np.expm1(x / 2)), rtol=1e-15)
    assert F.hardtanh(ng.tensor(-0.0)).numpy().tobytes() == np.float64(-0.0).tobytes()


def test_no_overflow_where_torchs_formula_has_one():
    """hardswish is x · (clamp/6): finite at the float range's end (torch's (x · clamp)/6
    is inf beyond a sixth of it); the gradients away from x = 0 need no exponential."""
    big = np.array([1.7e308, -1.7e308, 3e38], np.float64)
    with np.errstate(all="raise"):
        y, g = _grad(F.hardswish, big)
    np.testing.assert_array_equal(y, [1.7e308, 0.0, 3e38])
    np.testing.assert_array_equal(g, [1.0, 0.0, 1.0])
    y32 = F.hardswish(ng.tensor(np.array([3e38], np.float32))).numpy()
    assert y32.dtype == np.float32 and np.isfinite(y32).all()
    with np.errstate(all="raise"):
        y, g = _grad(F.selu, [-800.0, 1e300])
    np.testing.assert_allclose(y, [-SELU_ALPHA * SELU_SCALE, SELU_SCALE * 1e300], rtol=1e-15)
    np.testing.assert_array_equal(g, [0.0, SELU_SCALE])


def test_an_infinite_cotangent_on_a_flat_piece_gives_zero():
    """Selects, not products with a mask (E7): dy = inf where the slope is 0 gives 0."""
    dy = np.array([np.inf, np.inf])
    for fn, x in ((F.hardtanh, [5.0, 0.0]), (F.relu6, [-1.0, 1.0]), (F.softshrink, [0.1, 2.0]),
                  (F.hardsigmoid, [5.0, 0.0]), (lambda t: F.threshold(t, 0.0, 1.0), [-1, 1])):
        g = _grad(fn, x, dy)[1]
        assert g[0] == 0.0 and np.isposinf(g[1]), fn


FUNCTIONS = {   # the Functions themselves, which take complex input: complex-step applies
    "selu": lambda t: ScaledElu.apply(t, SELU_ALPHA, SELU_SCALE, 1.0),
    "celu(0.5)": lambda t: ScaledElu.apply(t, 0.5, 1.0, 2.0),
    "hardtanh": lambda t: Hardtanh.apply(t, -1.0, 1.0),
    "softshrink": lambda t: Shrink.apply(t, 0.5, True),
    "hardshrink": lambda t: Shrink.apply(t, 0.5, False),
    "threshold": lambda t: Threshold.apply(t, 0.5, -2.0),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradients_three_ways(name):
    """Central differences, complex-step and the directional check, away from the kinks
    (each piece is analytic; the pieces are chosen by the real part)."""
    x = np.array([[-30.0, -2.0, -0.7, -0.2], [0.2, 0.7, 1.6, 30.0]])
    assert_gradients(FUNCTIONS[name], [x])


@pytest.mark.parametrize("name", ["hardsigmoid", "hardswish", "relu6", "rrelu"])
def test_public_gradients_two_ways(name):
    x = np.array([[-30.0, -2.0, -0.7, -0.2], [0.2, 0.7, 1.6, 30.0]])
    assert_gradients(getattr(F, name), [x], analytic=False)


@pytest.mark.parametrize("case", sorted(PRELU_CASES)[:6])
def test_prelu_gradients_three_ways(case):
    xs, ws = PRELU_CASES[case]
    rng = np.random.default_rng(8)
    x, w = rng.normal(0, 2, xs), rng.uniform(-0.5, 0.5, ws)
    x[np.abs(x) < 0.1] = 0.5
    assert_gradients(F.prelu, [x, w], analytic=False, names=["x", "w"])
    shape = () if w.size == 1 else (w.size,) + (1,) * (x.ndim - 2)
    assert_gradients(lambda a, b: PRelu.apply(a, b, shape), [x, w], names=["x", "w"])


def test_prelu_weight_gradient_sums_each_channel():
    x = np.array([[[-1.0, 2.0], [-3.0, -4.0]], [[-5.0, 0.0], [6.0, -7.0]]])  # (N=2, C=2, 2)
    w = ng.tensor([0.1, 0.2], requires_grad=True)
    t = ng.tensor(x, requires_grad=True)
    y = F.prelu(t, w)
    y.sum().backward()
    np.testing.assert_allclose(y.numpy(), np.where(x > 0, x, x * np.array([0.1, 0.2])[:, None]))
    np.testing.assert_array_equal(w.grad, [-1.0 - 5.0, -3.0 - 4.0 - 7.0])
    assert F.prelu(ng.tensor(-2.0), ng.tensor([0.5])).shape == ()


def test_float32_stays_float32():
    x = ng.tensor(np.linspace(-5, 5, 8, dtype=np.float32), requires_grad=True)
    for name, fn in [("selu", F.selu), ("celu", F.celu), ("hardtanh", F.hardtanh),
                     ("relu6", F.relu6), ("hardsigmoid", F.hardsigmoid),
                     ("hardswish", F.hardswish), ("softshrink", F.softshrink),
                     ("hardshrink", F.hardshrink), ("rrelu", F.rrelu),
                     ("threshold", lambda t: F.threshold(t, 0.1, 2.0)),
                     ("prelu", lambda t: F.prelu(t, ng.tensor(np.float32([0.2]))))]:
        x.grad = None
        y = fn(x)
        y.sum().backward()
        assert y.dtype == np.float32 and x.grad.dtype == np.float32, name


def test_top_level_names_are_torchs():
    """selu, celu, hardshrink, threshold, prelu and rrelu are torch.X too; F's are the same
    functions where torch's take the same arguments."""
    assert F.hardshrink is ng.hardshrink and F.prelu is ng.prelu
    x = ng.tensor([-2.0, 0.25, 3.0])
    for a, b in ((ng.selu(x), F.selu(x)), (ng.celu(x, 0.5), F.celu(x, 0.5)),
                 (ng.threshold(x, 0.3, 1.0), F.threshold(x, 0.3, 1.0)),
                 (ng.rrelu(x), F.rrelu(x))):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


ERRORS = {
    "hardtanh bounds": (lambda x: F.hardtanh(x, 2.0, 1.0), ValueError,
                        r"^hardtanh: min_val must be <= max_val, got min_val=2.0 and "
                        r"max_val=1.0"),
    "hardtanh bound type": (lambda x: F.hardtanh(x, "0"), TypeError,
                            r"^hardtanh: min_val must be a real number, got '0'"),
    "celu 0": (lambda x: F.celu(x, 0.0), ValueError, r"^celu: alpha must not be 0"),
    "celu alpha type": (lambda x: F.celu(x, None), TypeError,
                        r"^celu: alpha must be a real number, got None"),
    "softshrink negative": (lambda x: F.softshrink(x, -1.0), ValueError,
                            r"^softshrink: lambd must be >= 0 .*got -1.0"),
    "softshrink nan": (lambda x: F.softshrink(x, np.nan), ValueError,
                       r"^softshrink: lambd must be >= 0"),
    "hardshrink type": (lambda x: F.hardshrink(x, True), TypeError,
                        r"^hardshrink: lambd must be a real number, got True"),
    "threshold value": (lambda x: F.threshold(x, 0.5, "a"), TypeError,
                        r"^threshold: value must be a real number"),
    "rrelu training": (lambda x: F.rrelu(x, training=True), ValueError,
                       r"^rrelu: training=True \(a random slope per element\) is not "
                       r"implemented; use training=False"),
    "rrelu bounds": (lambda x: F.rrelu(x, 0.5, 0.1), ValueError,
                     r"^rrelu: lower must be <= upper, got lower=0.5 and upper=0.1"),
    "rrelu flag": (lambda x: F.rrelu(x, training="no"), TypeError,
                   r"^rrelu: training must be True or False"),
    "prelu 2-D weight": (lambda x: F.prelu(x, ng.tensor(np.ones((3, 1)))), ValueError,
                         r"^prelu: weight must be 0-d or 1-D .*got shape \(3, 1\)"),
    "prelu channels": (lambda x: F.prelu(x, ng.tensor(np.ones(2))), ValueError,
                       r"^prelu: weight has 2 slopes, expected 1 or the number of channels, "
                       r"input.shape\[1\] = 3 \(input shape \(2, 3\)"),
    "prelu 1-D input": (lambda x: F.prelu(x[0], ng.tensor(np.ones(3))), ValueError,
                        r"^prelu: weight has 3 slopes, expected 1 or the number of channels, "
                        r"input.shape\[1\] = 1 \(input shape \(3,\); a 0-d or 1-D input has "
                        r"one channel\)"),
    "prelu dtypes": (lambda x: F.prelu(x, ng.tensor(np.ones(3, np.float32))), TypeError,
                     r"^prelu: weight has dtype float32 and input float64; they must be the "
                     r"same float dtype"),
    "prelu int input": (lambda x: F.prelu(ng.tensor([1, 2]), ng.tensor([0.5])), TypeError,
                        r"^prelu: expected a float tensor"),
}
for _name in ("selu", "celu", "hardtanh", "relu6", "hardsigmoid", "hardswish", "threshold",
              "rrelu"):
    ERRORS[f"{_name} inplace"] = (
        (lambda n: lambda x: getattr(F, n)(x, *([0.0, 1.0] if n == "threshold" else []),
                                           inplace=True))(_name),
        ValueError, rf"^{_name}: inplace=True is not supported")
for _name in ("selu", "celu", "hardtanh", "relu6", "hardsigmoid", "hardswish", "softshrink",
              "hardshrink", "rrelu"):
    ERRORS[f"{_name} int"] = ((lambda n: lambda x: getattr(F, n)(ng.tensor([1, 2])))(_name),
                              TypeError, rf"^{_name}: expected a float tensor .*int64")


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_name_what_was_expected(case):
    call, error, match = ERRORS[case]
    with pytest.raises(error, match=match):
        call(ng.tensor(np.zeros((2, 3))))


@pytest.mark.torch
@pytest.mark.parametrize("case", ["hardtanh bounds", "celu 0", "softshrink negative",
                                  "rrelu bounds", "prelu 2-D weight", "prelu channels",
                                  "prelu 1-D input", "prelu dtypes"])
def test_torch_refuses_them_too(case):
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    x = torch.zeros(2, 3, dtype=torch.float64)
    call = {"hardtanh bounds": lambda: TF.hardtanh(x, 2.0, 1.0),
            "celu 0": lambda: TF.celu(x, 0.0),
            "softshrink negative": lambda: TF.softshrink(x, -1.0),
            "rrelu bounds": lambda: TF.rrelu(x, 0.5, 0.1),
            "prelu 2-D weight": lambda: TF.prelu(x, torch.ones(3, 1, dtype=torch.float64)),
            "prelu channels": lambda: TF.prelu(x, torch.ones(2, dtype=torch.float64)),
            "prelu 1-D input": lambda: TF.prelu(x[0], torch.ones(3, dtype=torch.float64)),
            "prelu dtypes": lambda: TF.prelu(x, torch.ones(3))}[case]
    with pytest.raises((RuntimeError, ValueError)):
        call()
