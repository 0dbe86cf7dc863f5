"""log1p, expm1, square and erf (docs/math.md E5a, E3a, E31) at their edges: near 0, at -1
and beyond for log1p, at ±inf and NaN, in float32 and float64, against torch (values and
gradients) and without it (series, gradient checks, complex step); their dtypes, methods
and errors. The shapes drawn by Hypothesis are in tests/ops/test_elementwise.py (UNARY)."""

import math

import numpy as np
import pytest

import nongate_np as ng
from tests.helpers import assert_gradients

OPS = ("log1p", "expm1", "square", "erf")
EDGES = [0.0, -0.0, 1e-300, -1e-300, 1e-10, -1e-10, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 30.0,
         -40.0, 700.0, -700.0, 800.0, np.inf, -np.inf, np.nan]
LOG1P_EDGES = [-1.0, -1.0 + 1e-7, -1.0 - 1e-6, -2.0, -0.999, 1e-16, -1e-16, 1e30]


def _like_torch(name, x, dtype, torch):
    """Output and gradient of ng.<name> equal torch.<name>'s on x, NaN and infinities
    included, within 2 ulp (NumPy's and scipy's functions against torch's); in float32 the
    gradient within 8 ε absolute too, as expm1's y + 1 turns a 1-ulp difference in y near
    -1 into a relative one of e^{-x} ulp (E5a)."""
    x = np.asarray(x, dtype)
    a, b = ng.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, z = getattr(ng, name)(a), getattr(torch, name)(b)
    assert y.dtype == dtype, name
    v = np.linspace(0.5, 2.0, x.size).astype(dtype)
    y.backward(v)
    z.backward(torch.tensor(v))
    eps = np.finfo(dtype).eps
    for got, want, what, atol in ((y.numpy(), z.detach().numpy(), "value", 0.0),
                                  (a.grad, b.grad.numpy(), "gradient",
                                   8 * eps if dtype == np.float32 else 0.0)):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{name} {what}")
        np.testing.assert_allclose(got, want, rtol=2 * eps, atol=atol,
                                   err_msg=f"{name} {what}")


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", OPS)
def test_values_and_gradients_at_the_edges_equal_torchs(name, dtype):
    torch = pytest.importorskip("torch")
    _like_torch(name, EDGES, dtype, torch)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log1p_at_and_below_minus_one_equals_torchs(dtype):
    """-inf at -1 with an inf gradient, NaN below, as torch's."""
    torch = pytest.importorskip("torch")
    _like_torch("log1p", LOG1P_EDGES, dtype, torch)
    y = ng.log1p(ng.tensor(np.array([-1.0, -2.0], dtype)))
    assert y.numpy()[0] == -np.inf and np.isnan(y.numpy()[1])


def test_log1p_and_expm1_keep_the_digits_near_zero():
    """The reason for the two functions: log(1 + x) and e^x - 1 lose x's digits near 0."""
    x = np.array([1e-10, -1e-10, 1e-300, 3e-8])
    for name, series in (("log1p", x - x**2 / 2 + x**3 / 3), ("expm1", x + x**2 / 2 + x**3 / 6)):
        got = getattr(ng, name)(ng.tensor(x)).numpy()
        np.testing.assert_allclose(got, series, rtol=1e-15, err_msg=name)
    naive = ng.log(1 + ng.tensor(x)).numpy()
    assert abs(naive[0] - x[0]) / x[0] > 1e-9          # what log1p avoids
    assert ng.expm1(ng.tensor(-np.inf)).item() == -1.0
    assert ng.expm1(ng.tensor(800.0)).item() == np.inf


def test_special_values_without_a_warning():
    x = ng.tensor(np.array([-1.0, -2.0, 800.0, np.inf, -np.inf, np.nan]), requires_grad=True)
    with np.errstate(all="raise"):
        for name in OPS:
            y = getattr(ng, name)(x)
            y.sum().backward()
            x.grad = None
    y = ng.erf(ng.tensor(np.array([np.inf, -np.inf, 10.0])))
    np.testing.assert_array_equal(y.numpy(), [1.0, -1.0, 1.0])


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("x", [np.array([-0.9, -0.5, 1e-3, 0.7, 2.5]),
                               np.array([[1e-8, -0.75], [0.25, 1.5]])], ids=["1d", "2d"])
def test_gradients_three_ways(name, x):
    """Central differences, complex step (each op takes complex input on the CPU: NumPy's
    log1p and expm1, scipy's erf) and the directional check."""
    assert_gradients(getattr(ng, name), [x])


@pytest.mark.parametrize("x", [-1.0 + 1e-6, -0.999, 1e-12, 50.0])
def test_log1p_gradient_near_its_pole_and_large(x):
    """1/(1 + x): large near -1, checked by the complex step, which has no cancellation."""
    rep = ng.gradcheck(ng.log1p, [np.array([x])], method="complex_step")
    assert rep.max_rel_error <= 1e-12, str(rep)
    t = ng.tensor([x], requires_grad=True)
    ng.log1p(t).backward(ng.tensor([1.0]))
    np.testing.assert_allclose(t.grad, [1 / (1 + x)], rtol=1e-9)


def test_erf_derivative_is_the_gaussian_density_rescaled():
    x = np.linspace(-4, 4, 17)
    t = ng.tensor(x, requires_grad=True)
    ng.erf(t).sum().backward()
    np.testing.assert_allclose(t.grad, 2 / math.sqrt(math.pi) * np.exp(-x**2), rtol=1e-15)
    np.testing.assert_allclose(ng.erf(ng.tensor(x)).numpy(), [math.erf(v) for v in x],
                               rtol=1e-15)


@pytest.mark.torch
@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_integer_dtypes_as_torch(name, dtype):
    """log1p, expm1, erf of integers give float32 (torch's default dtype); square keeps the
    integer dtype."""
    torch = pytest.importorskip("torch")
    x = np.array([0, 1, 2, 7], dtype)
    got, want = getattr(ng, name)(x), getattr(torch, name)(torch.from_numpy(x))
    assert str(got.dtype) == str(want.dtype).removeprefix("torch."), name
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, err_msg=name)


@pytest.mark.torch
def test_square_of_bool_is_int64_as_torch():
    torch = pytest.importorskip("torch")
    got = ng.square(ng.tensor([True, False]))
    want = torch.square(torch.tensor([True, False]))
    assert got.dtype == np.int64 and want.dtype == torch.int64
    assert got.tolist() == want.tolist() == [1, 0]


def test_float32_stays_float32_with_its_gradient():
    for name in OPS:
        t = ng.tensor(np.array([0.25, -0.5], np.float32), requires_grad=True)
        y = getattr(ng, name)(t)
        y.sum().backward()
        assert y.dtype == np.float32 and t.grad.dtype == np.float32, name


def test_methods_are_the_ops_and_errors_name_the_op():
    for name in OPS:
        assert getattr(ng.Tensor, name) is getattr(ng, name), name
        assert name in ng.__all__, name
    for name in ("log1p", "expm1", "erf"):
        with pytest.raises(TypeError, match=f"^{name}: not defined for a bool tensor"):
            getattr(ng, name)(ng.tensor([True]))
        with pytest.raises(TypeError, match=f"^{name}: argument: expected numbers"):
            getattr(ng, name)("1.0")
    with pytest.raises(TypeError, match="^square: argument: expected numbers"):
        ng.square("2")
