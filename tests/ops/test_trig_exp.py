"""tan, atan, asin, acos (docs/math.md E32), sinh, cosh, asinh, acosh, atanh (E33), log2,
log10, exp2, rsqrt, reciprocal, erfc, logit, logaddexp (E34), atan2 and hypot (E35): values
and gradients against torch at their edges (0, ±inf, NaN, the ends of each domain) in
float64 to 1e-12 and in float32, broadcasting; without torch, gradient checks (central,
complex step where the function is analytic, directional) and, with mpmath, the accuracy
of the forms that differ from torch's (E32-E35: near ±1, near 1/2, past 1e154); dtypes,
aliases, methods and errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients

INF, NAN = np.inf, np.nan
# name -> points where our value and gradient are torch's (ours differs by design elsewhere:
# see the accuracy tests below)
EDGES = {
    "tan": [0.0, -0.0, 1e-300, 0.5, -0.5, 1.0, 1.5, 1.5707963267948966, -3.0, 10.0, 1e5,
            INF, -INF, NAN],
    "atan": [0.0, -0.0, 1e-300, 0.5, -2.0, 1e10, 1e200, INF, -INF, NAN],
    "asin": [0.0, -0.0, 1e-300, 0.5, -0.5, 0.9, 1.0, -1.0, 1.5, -2.0, INF, NAN],
    "acos": [0.0, -0.0, 1e-300, 0.5, -0.5, 0.9, 1.0, -1.0, 1.5, -2.0, INF, NAN],
    "sinh": [0.0, -0.0, 1e-300, 0.5, -3.0, 30.0, 700.0, -700.0, 711.0, -711.0, INF, -INF,
             NAN],
    "cosh": [0.0, -0.0, 1e-300, 0.5, -3.0, 30.0, 700.0, -700.0, 711.0, -711.0, INF, -INF,
             NAN],
    "asinh": [0.0, -0.0, 1e-300, 0.5, -3.0, 1e10, 1e150, -1e150, INF, -INF, NAN],
    "acosh": [1.0, 1.5, 2.0, 3.5, 1e10, 1e150, INF, 0.5, 0.0, NAN],
    "atanh": [0.0, -0.0, 1e-300, 0.5, -0.9, 1.0, -1.0, 2.0, -3.0, INF, NAN],
    "log2": [1.0, 2.0, 0.5, 3.0, 1e-300, 5e-324, 1e300, 0.0, -0.0, -1.0, INF, NAN],
    "log10": [1.0, 10.0, 0.5, 3.0, 1e-300, 5e-324, 1e300, 0.0, -0.0, -1.0, INF, NAN],
    "exp2": [0.0, -0.0, 1.0, -1.0, 0.5, 10.0, -1074.0, -1080.0, 1023.0, 1024.0, INF, -INF,
             NAN],
    "rsqrt": [1.0, 4.0, 2.0, 0.5, 1e-300, 1e300, 0.0, -0.0, -1.0, INF, NAN],
    "reciprocal": [1.0, -2.0, 0.5, 3.0, 1e-300, 1e300, 0.0, -0.0, INF, -INF, NAN],
    "erfc": [0.0, -0.0, 0.5, -1.0, 3.0, 10.0, 26.0, 27.0, -6.0, INF, -INF, NAN],
    "logit": [0.0, 1.0, 0.1, 0.9, 0.25, 0.75, 0.5, 1e-300, 0.99, -0.5, 1.5, NAN],
}
UNARY = tuple(EDGES)
ALIASES = {"arctan": "atan", "arcsin": "asin", "arccos": "acos", "arcsinh": "asinh",
           "arccosh": "acosh", "arctanh": "atanh", "arctan2": "atan2"}
# pairs (a, b) where the binary ops' values and gradients are torch's
PAIRS = {
    "atan2": [(0.0, 0.0), (0.0, -0.0), (-0.0, 0.0), (-0.0, -0.0), (1.0, 0.0), (0.0, -2.0),
              (1.0, INF), (INF, INF), (-INF, -INF), (INF, 1.0), (NAN, 1.0), (3.0, NAN),
              (2.0, -3.0), (-1e-3, 5.0)],
    "hypot": [(1.0, INF), (INF, INF), (INF, 1.0), (NAN, 1.0), (3.0, NAN), (2.0, -3.0),
              (-1e-3, 5.0), (1e300, 1e300), (0.0, 4.0)],
    "logaddexp": [(0.0, 0.0), (1.0, INF), (INF, INF), (-INF, -INF), (INF, -INF), (1e308, 1e308),
                  (-1e308, 1e308), (NAN, 1.0), (3.0, NAN), (2.0, -3.0), (-800.0, 5.0),
                  (40.0, 0.0)],
}


def _compare(got, want, what, dtype):
    """Equal NaN and infinity positions, the rest within 1e-12 (float64) or 8 ε (float32)
    relative, and a tiny absolute floor for values that are 0 on one side."""
    rtol = 1e-12 if dtype == np.float64 else 8 * np.finfo(np.float32).eps
    atol = 1e-300 if dtype == np.float64 else 1e-30
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what}: NaN")
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


def _like_torch(name, args, dtype, torch, **kwargs):
    """Value and gradient of ng.<name> and torch.<name> on the same arrays."""
    arrays = [np.asarray(a, dtype) for a in args]
    ours = [ng.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, z = getattr(ng, name)(*ours, **kwargs), getattr(torch, name)(*theirs, **kwargs)
    assert y.dtype == dtype, name
    v = np.linspace(0.5, 2.0, y.size).reshape(y.shape).astype(dtype)
    y.backward(v)
    z.backward(torch.tensor(v))
    _compare(y.numpy(), z.detach().numpy(), f"{name} value", dtype)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert a.grad.dtype == dtype
        _compare(a.grad, b.grad.numpy(), f"{name} gradient {k}", dtype)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", UNARY)
def test_values_and_gradients_at_the_edges_equal_torchs(name, dtype):
    torch = pytest.importorskip("torch")
    with np.errstate(over="ignore"):          # 1e300 and the like become inf in float32
        x = np.asarray(EDGES[name]).astype(dtype)
    _like_torch(name, [x], dtype, torch)


@pytest.mark.torch
@pytest.mark.parametrize("eps", [1e-6, 0.1, 0.0, 0.7])
def test_logit_with_eps_equals_torchs(eps):
    """The clamp to [eps, 1 − eps] (both ends inclusive, 0 gradient outside; eps > 1/2 gives
    1 − eps everywhere, as torch's clamp)."""
    torch = pytest.importorskip("torch")
    x = np.array([0.0, 1.0, 1e-7, 0.05, 0.1, 0.3, 0.9, 0.95, 1.0 - 1e-7, -1.0, 2.0, NAN])
    _like_torch("logit", [x], np.float64, torch, eps=eps)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", PAIRS)
def test_binary_edges_equal_torchs(name, dtype):
    torch = pytest.importorskip("torch")
    with np.errstate(over="ignore"):
        a, b = (np.asarray(v).astype(dtype) for v in zip(*PAIRS[name]))
    _like_torch(name, [a, b], dtype, torch)


@pytest.mark.torch
@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("shapes", [((3, 1), (4,)), ((), (2, 3)), ((2, 1, 3), (1, 4, 1))],
                         ids=str)
def test_binary_ops_broadcast_as_torch(name, shapes):
    """E1: the broadcast shape, and each operand's gradient summed back to its shape."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a, b = (rng.uniform(0.2, 2.0, s) * rng.choice([-1, 1], s) for s in shapes)
    _like_torch(name, [a, b], np.float64, torch)


@pytest.mark.torch
@settings(max_examples=10)
@given(data=st.data(), shape=nt.shapes())
def test_drawn_shapes_and_values_match_torch(data, shape):
    """Every op on drawn shapes (1-element and 0-d ones too), values inside its domain."""
    torch = pytest.importorskip("torch")
    domains = {"asin": (-0.95, 0.95), "acos": (-0.95, 0.95), "atanh": (-0.95, 0.95),
               "acosh": (1.05, 4.0), "logit": (0.02, 0.98), "log2": (0.1, 4.0),
               "log10": (0.1, 4.0), "rsqrt": (0.1, 4.0), "tan": (-1.4, 1.4)}
    for name in UNARY:
        low, high = domains.get(name, (-3.0, 3.0))
        x = data.draw(nt.arrays(shape, low=low, high=high))
        _like_torch(name, [x], np.float64, torch)
    a, b = data.draw(nt.arrays(shape)), data.draw(nt.arrays(shape, away_from=(0.0,)))
    for name in PAIRS:
        _like_torch(name, [a, b], np.float64, torch)


CHECKED = {  # name -> (arrays for the three gradient checks, whether complex-analytic)
    "tan": ([np.array([-1.2, -0.3, 0.4, 1.1])], True),
    "atan": ([np.array([-3.0, -0.5, 0.2, 7.0])], True),
    "asin": ([np.array([-0.9, -0.2, 0.3, 0.8])], True),
    "acos": ([np.array([-0.9, -0.2, 0.3, 0.8])], True),
    "sinh": ([np.array([-2.0, -0.1, 0.5, 3.0])], True),
    "cosh": ([np.array([-2.0, -0.1, 0.5, 3.0])], True),
    "asinh": ([np.array([-5.0, -0.1, 0.5, 30.0])], True),
    "acosh": ([np.array([1.1, 1.5, 3.0, 40.0])], True),
    "atanh": ([np.array([-0.9, -0.2, 0.3, 0.8])], True),
    "log2": ([np.array([0.1, 0.7, 2.0, 9.0])], True),
    "log10": ([np.array([0.1, 0.7, 2.0, 9.0])], True),
    "exp2": ([np.array([-3.0, -0.5, 0.5, 4.0])], True),
    "rsqrt": ([np.array([0.2, 0.9, 2.0, 9.0])], True),
    "reciprocal": ([np.array([-3.0, -0.4, 0.5, 2.0])], True),
    "erfc": ([np.array([-2.0, -0.3, 0.6, 2.5])], True),
    "logit": ([np.array([0.05, 0.3, 0.5, 0.6, 0.97])], True),
    "logaddexp": ([np.array([[-1.0, 0.5, 3.0]]), np.array([[2.0], [-0.7]])], True),
    "atan2": ([np.array([[-1.0, 0.5, 3.0]]), np.array([[2.0], [-0.7]])], False),
    "hypot": ([np.array([[-1.0, 0.5, 3.0]]), np.array([[2.0], [-0.7]])], False),
}


@pytest.mark.parametrize("name", CHECKED)
def test_gradients_three_ways(name):
    """Central differences, the complex step (each analytic op takes complex input on the
    CPU; atan2 and hypot are not analytic) and the directional check, torch-free."""
    inputs, analytic = CHECKED[name]
    assert_gradients(getattr(ng, name), inputs, analytic=analytic)


def test_logit_with_eps_and_the_complex_step_inside():
    assert_gradients(lambda x: ng.logit(x, eps=0.01), [np.array([0.05, 0.4, 0.6, 0.9])])


# -- accuracy where the forms differ from torch's (E32-E35), against mpmath -----------------

def _mp(f, x, dps=50):
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(dps):
        return float(f(mpmath, mpmath.mpf(float(x))))


def _grad(name, x, **kwargs):
    t = ng.tensor(np.array([x]), requires_grad=True)
    getattr(ng, name)(t, **kwargs).backward(ng.tensor([1.0]))
    return float(t.grad[0])


@pytest.mark.parametrize("name, x, exact", [
    ("asin", 1 - 1e-10, lambda m, x: 1 / m.sqrt(1 - x**2)),
    ("acos", -1 + 1e-12, lambda m, x: -1 / m.sqrt(1 - x**2)),
    ("atanh", 1 - 1e-11, lambda m, x: 1 / (1 - x**2)),
    ("acosh", 1 + 1e-10, lambda m, x: 1 / m.sqrt(x**2 - 1)),
    ("acosh", 1e200, lambda m, x: 1 / m.sqrt(x**2 - 1)),
    ("asinh", 1e200, lambda m, x: 1 / m.sqrt(x**2 + 1)),
    ("asinh", -3e250, lambda m, x: 1 / m.sqrt(x**2 + 1)),
])
def test_gradients_keep_their_digits_near_the_ends_and_far_out(name, x, exact):
    """(1 − x)(1 + x), √(x − 1)√(x + 1) and hypot(x, 1) (E32, E33): within 4 ulp where
    torch's 1 − x², x² − 1 and x² + 1 lose digits (near ±1) or overflow (past 1e154)."""
    np.testing.assert_allclose(_grad(name, x), _mp(exact, x), rtol=1e-15, err_msg=name)


@pytest.mark.torch
def test_torchs_forms_lose_those_digits():
    """The reason for the forms above: torch's gradients there."""
    torch = pytest.importorskip("torch")
    x = torch.tensor([1e200], dtype=torch.float64, requires_grad=True)
    torch.asinh(x).backward()
    assert x.grad.item() == 0.0 and _grad("asinh", 1e200) == pytest.approx(1e-200, rel=1e-15)
    x = torch.tensor([1 + 1e-10], dtype=torch.float64, requires_grad=True)
    torch.acosh(x).backward()
    want = _mp(lambda m, v: 1 / m.sqrt(v**2 - 1), 1 + 1e-10)
    assert abs(x.grad.item() / want - 1) > 1e-12
    assert abs(_grad("acosh", 1 + 1e-10) / want - 1) < 1e-15


@pytest.mark.parametrize("delta", [1e-10, -3e-9, 1e-5, 0.2, -0.24, 0.3])
def test_logit_keeps_its_digits_near_one_half(delta):
    """2 artanh(2x − 1) from 1/4 up (E34): within 2 ulp of mpmath's log(x / (1 − x)) at
    x = 1/2 + δ, where the quotient form is off by ~ε/(4|δ|) relative."""
    x = 0.5 + delta
    want = _mp(lambda m, v: m.log(v / (1 - v)), x)
    got = ng.logit(ng.tensor([x])).item()
    np.testing.assert_allclose(got, want, rtol=3e-16)


@pytest.mark.parametrize("x", [1e-300, 1e-20, 0.01, 0.2, 0.249, 0.26, 0.9, 1 - 1e-12])
def test_logit_away_from_one_half(x):
    want = _mp(lambda m, v: m.log(v / (1 - v)), x)
    np.testing.assert_allclose(ng.logit(ng.tensor([x])).item(), want, rtol=5e-16)


@pytest.mark.parametrize("x", [-3.0, 0.5, 5.0, 10.0, 26.0, 26.5])
def test_erfc_is_accurate_in_the_tail(x):
    """erfc itself, not 1 − erf (E34): erfc(10) ≈ 2.1e-45 where 1 − erf(10) is 0."""
    want = _mp(lambda m, v: m.erfc(v), x)
    np.testing.assert_allclose(ng.erfc(ng.tensor([x])).item(), want, rtol=1e-13)
    np.testing.assert_allclose(_grad("erfc", x), _mp(lambda m, v: -2 / m.sqrt(m.pi) *
                                                     m.exp(-v**2), x), rtol=1e-13, atol=1e-310)
    if x >= 10:
        assert 1 - ng.erf(ng.tensor([x])).item() == 0.0


@pytest.mark.parametrize("a, b", [(1e200, 1e200), (3e-310, -2e-310), (1e-160, 1e-160),
                                  (-2.5, 1e170)])
def test_atan2_gradients_without_overflow_in_the_squares(a, b):
    """(b/h)/h and (a/h)/h, h = hypot(a, b) (E35): torch's b/(a² + b²) is 0 where the
    squares overflow and inf or NaN where they underflow."""
    ta, tb = ng.tensor([a], requires_grad=True), ng.tensor([b], requires_grad=True)
    ng.atan2(ta, tb).backward(ng.tensor([1.0]))
    want_a = _mp(lambda m, _: m.mpf(b) / (m.mpf(a)**2 + m.mpf(b)**2), 0.0)
    want_b = _mp(lambda m, _: -m.mpf(a) / (m.mpf(a)**2 + m.mpf(b)**2), 0.0)
    for got, want in ((ta.grad[0], want_a), (tb.grad[0], want_b)):
        if abs(want) > np.finfo(np.float64).max:
            assert got == np.copysign(np.inf, want)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-323)


def test_hypot_gradient_of_a_subnormal_is_exact():
    """a / hypot(a, 0) = a / |a| = 1 exactly (torch's is 1.00009 at a = 1e-320)."""
    a = ng.tensor([1e-320, -5e-324], requires_grad=True)
    ng.hypot(a, 0.0).sum().backward()
    np.testing.assert_array_equal(a.grad, [1.0, -1.0])


def test_hypot_and_atan2_at_the_origin_give_zero_gradients():
    """No derivative at a = b = 0: atan2's 0 (torch's), hypot's subgradient 0 (as norm's,
    E25; torch's is NaN)."""
    for name in ("atan2", "hypot"):
        a = ng.tensor([0.0, -0.0, 0.0], requires_grad=True)
        b = ng.tensor([0.0, 0.0, -0.0], requires_grad=True)
        getattr(ng, name)(a, b).sum().backward()
        np.testing.assert_array_equal(a.grad, [0.0, 0.0, 0.0], err_msg=name)
        np.testing.assert_array_equal(b.grad, [0.0, 0.0, 0.0], err_msg=name)


def test_logaddexp_never_overflows_and_keeps_infinities():
    a = ng.tensor([1e308, -INF, INF, 710.0, -1e308])
    b = ng.tensor([1e308, -INF, INF, 710.0, -1e308])
    got = ng.logaddexp(a, b).numpy()
    np.testing.assert_allclose(got[[0, 3, 4]], [1e308, 710 + np.log(2), -1e308], rtol=1e-15)
    assert got[1] == -INF and got[2] == INF
    # the gradients are the two softmax weights of (a, b): they sum to 1
    x, y = ng.tensor([3.0, -40.0], requires_grad=True), ng.tensor([-2.0, 5.0], requires_grad=True)
    ng.logaddexp(x, y).sum().backward()
    np.testing.assert_allclose(x.grad + y.grad, [1.0, 1.0], rtol=1e-15)
    np.testing.assert_allclose(x.grad, 1 / (1 + np.exp([-5.0, 45.0])), rtol=1e-15)


def test_special_values_without_a_warning():
    x = ng.tensor(np.array([-2.0, -1.0, 0.0, 1.0, 800.0, INF, -INF, NAN]), requires_grad=True)
    with np.errstate(all="raise"):
        for name in UNARY:
            y = getattr(ng, name)(x)
            y.sum().backward()
            x.grad = None
        for name in PAIRS:
            getattr(ng, name)(x, x[[1, 0, 2, 3, 5, 4, 7, 6]]).sum().backward()
            x.grad = None


# -- dtypes, names, errors ---------------------------------------------------------------

def test_float32_stays_float32_with_its_gradient():
    for name in UNARY + tuple(PAIRS):
        t = ng.tensor(np.array([0.25, 0.5], np.float32), requires_grad=True)
        args = (t, t) if name in PAIRS else (t,)
        y = getattr(ng, name)(*args)
        y.sum().backward()
        assert y.dtype == np.float32 and t.grad.dtype == np.float32, name
    y = ng.atan2(ng.tensor([1.0], dtype=np.float32), ng.tensor([2.0]))
    assert y.dtype == np.float64                      # float32 with float64: float64, as torch


@pytest.mark.torch
@pytest.mark.parametrize("name", UNARY + ("atan2",))
def test_integer_tensors_give_float32_as_torch(name):
    torch = pytest.importorskip("torch")
    x = np.array([1, 2, 3], np.int64)
    args = (x, x) if name == "atan2" else (x,)
    got = getattr(ng, name)(*args)
    want = getattr(torch, name)(*(torch.from_numpy(a) for a in args))
    assert str(got.dtype) == str(want.dtype).removeprefix("torch.") == "float32", name
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, err_msg=name)


def test_functions_methods_and_aliases():
    for name in UNARY + tuple(PAIRS):
        assert getattr(ng.Tensor, name) is getattr(ng, name), name
        assert name in ng.__all__, name
    for alias, name in ALIASES.items():
        assert getattr(ng, alias) is getattr(ng, name) is getattr(ng.Tensor, alias), alias
    t = ng.tensor([0.5, 0.25])
    np.testing.assert_array_equal(t.logit(eps=0.3).numpy(), ng.logit(t, 0.3).numpy())
    np.testing.assert_array_equal(t.atan2(t + 1).numpy(), ng.atan2(t, t + 1).numpy())


def test_errors_name_the_op_and_what_was_given():
    for name in UNARY:
        with pytest.raises(TypeError, match=f"^{name}: not defined for a bool tensor"):
            getattr(ng, name)(ng.tensor([True]))
        with pytest.raises(TypeError, match=f"^{name}: argument: expected numbers"):
            getattr(ng, name)("1.0")
    with pytest.raises(TypeError, match="^atan2: not defined for a bool tensor"):
        ng.atan2(ng.tensor([True]), 1.0)
    for name in ("hypot", "logaddexp"):
        with pytest.raises(TypeError, match=rf"^{name}: expected floating-point tensors .*got "
                                            r"int64 \(shape \(2,\)\)"):
            getattr(ng, name)(ng.tensor([1.0, 2.0]), np.array([1, 2]))
    with pytest.raises(TypeError, match=r"^hypot: expected floating-point .*got complex128"):
        ng.hypot(np.array([1j]), 1.0)
    for name in PAIRS:
        with pytest.raises(ValueError, match=rf"^{name}: shapes \(2,\) and \(3,\) cannot be "
                                             r"broadcast"):
            getattr(ng, name)(np.ones(2), np.ones(3))
    with pytest.raises(TypeError, match="^logit: eps must be None or a real number, got 'a'"):
        ng.logit(ng.tensor([0.5]), eps="a")
