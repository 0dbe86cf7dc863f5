"""floor, ceil, trunc, round (half to even, ``decimals``) and frac (docs/math.md E36), and
the running product cumprod (E37): values, signed zeros and gradients against torch
(halves, ±0, ±inf, NaN, huge values; cumprod with one zero, several zeros, an infinity),
without torch exact gradients against the definition (Hypothesis draws small integers,
zeros included, whose products are exact) and gradient checks; dtypes and errors."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nongate_np as ng
from tests.helpers import assert_gradients

INF, NAN = np.inf, np.nan
ROUNDING = ("floor", "ceil", "trunc", "round", "frac")
VALUES = [0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, -3.5, 0.49999999999999994, 2.7, -2.7, -0.2,
          1e-300, -1e-300, 4503599627370497.0, -4503599627370495.5, 1e300, INF, -INF, NAN]


def _torch_pair(name, x, torch, **kwargs):
    """(ours, torch's) values and gradients of a backward with dy = 1."""
    a, b = ng.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, z = getattr(ng, name)(a, **kwargs), getattr(torch, name)(b, **kwargs)
    y.sum().backward()
    z.sum().backward()
    return (y.numpy(), a.grad), (z.detach().numpy(), b.grad.numpy())


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ROUNDING)
def test_rounding_equals_torchs_bit_for_bit(name, dtype):
    """Values equal torch's exactly, the sign of zeros included (ceil(−0.5) = −0); the
    gradient is 0 (frac's 1), at the jumps too (E36)."""
    torch = pytest.importorskip("torch")
    with np.errstate(over="ignore"):
        x = np.array(VALUES).astype(dtype)
    (y, g), (z, h) = _torch_pair(name, x, torch)
    assert y.dtype == dtype and g.dtype == dtype
    np.testing.assert_array_equal(y, z, err_msg=name)
    np.testing.assert_array_equal(np.signbit(y[~np.isnan(y)]), np.signbit(z[~np.isnan(z)]),
                                  err_msg=f"{name}: signs of zeros")
    np.testing.assert_array_equal(g, h, err_msg=f"{name} gradient")


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("decimals", [1, 2, 3, -1, -2, 12, 400, -400])
def test_round_with_decimals_equals_torchs(decimals, dtype):
    """rint(x·10^d)/10^d and rint(x/10^−d)·10^−d, the scale in x's dtype: 1.45 → 1.4,
    0.35 → 0.4 (their binary values); past float64's range NaN, as torch's."""
    torch = pytest.importorskip("torch")
    x = np.array([0.25, 0.35, 1.45, -0.25, 2.5, 15.0, 25.0, 35.0, -15.0, 123.456, 1e30,
                  -0.0, INF, NAN], dtype)
    (y, g), (z, h) = _torch_pair("round", x, torch, decimals=decimals)
    np.testing.assert_array_equal(y, z)
    np.testing.assert_array_equal(g, np.zeros_like(x))


def test_round_is_half_to_even_and_keeps_nan_and_infinities():
    x = ng.tensor([0.5, 1.5, 2.5, -0.5, -1.5, 3.5, INF, -INF, NAN])
    np.testing.assert_array_equal(ng.round(x).numpy(), [0, 2, 2, -0.0, -2, 4, INF, -INF, NAN])
    np.testing.assert_array_equal(ng.frac(ng.tensor([2.75, -2.75, INF])).numpy(),
                                  [0.75, -0.75, NAN])


def test_rounding_gradients_are_zero_even_for_infinite_dy():
    x = ng.tensor([0.3, 1.7, -2.2], requires_grad=True)
    for name in ("floor", "ceil", "trunc", "round"):
        getattr(ng, name)(x).backward(ng.tensor([INF, NAN, 1.0]))
        np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0], err_msg=name)
        x.grad = None
    ng.frac(x).backward(ng.tensor([INF, 2.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [INF, 2.0, -1.0])


@pytest.mark.parametrize("name", ROUNDING)
def test_rounding_gradient_checks_between_the_jumps(name):
    """Central differences and the directional check (not analytic: no complex step)."""
    x = np.array([[0.3, -1.2, 2.6], [-0.7, 4.4, 7.1]])
    assert_gradients(getattr(ng, name), [x], analytic=False)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_integers_are_their_own_rounding_as_torch(dtype):
    torch = pytest.importorskip("torch")
    x = np.array([0, 3, 7, 200], dtype)
    for name in ("floor", "ceil", "trunc", "round"):
        got, want = getattr(ng, name)(x), getattr(torch, name)(torch.from_numpy(x))
        assert got.dtype == dtype and str(want.dtype).removeprefix("torch.") == str(got.dtype)
        np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=name)
    t = ng.tensor(x)
    assert ng.floor(t).data is not t.data                   # a copy, as torch's


def test_rounding_names_and_errors():
    for name in ROUNDING + ("fix",):
        assert getattr(ng.Tensor, name) is getattr(ng, name) and name in ng.__all__, name
    assert ng.fix is ng.trunc
    t = ng.tensor([1.26, -1.26])
    np.testing.assert_array_equal(t.round(decimals=1).numpy(), [1.3, -1.3])
    for name in ROUNDING:
        with pytest.raises(TypeError, match=f"^{name}: not defined for a bool tensor"):
            getattr(ng, name)(ng.tensor([True]))
        with pytest.raises(TypeError, match=f"^{name}: not defined for complex|^{name}: "
                                            "expected a floating"):
            getattr(ng, name)(np.array([1j]))
    with pytest.raises(TypeError, match=r"^frac: expected a floating-point tensor .*got int64"):
        ng.frac(np.array([1, 2]))
    with pytest.raises(TypeError, match=r"^round: decimals=2 needs a floating-point tensor, "
                                        r"got int64"):
        ng.round(np.array([1, 2]), decimals=2)
    with pytest.raises(TypeError, match="^round: decimals must be an int, got 1.5"):
        ng.round(t, decimals=1.5)


# -- cumprod (E37) -------------------------------------------------------------------------

def _cumprod_grad_by_definition(x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """dx_k = Σ_{i≥k} dy_i Π_{j≤i, j≠k} x_j along the last axis, term by term."""
    dx = np.zeros_like(x)
    n = x.shape[-1]
    for idx in itertools.product(*(range(s) for s in x.shape[:-1])):
        for k in range(n):
            dx[idx + (k,)] = sum(dy[idx + (i,)] * np.prod(np.delete(x[idx][:i + 1], k))
                                 for i in range(k, n))
    return dx


@given(x=hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 6)),
                    elements=st.sampled_from([0.0, 0.0, 1.0, -1.0, 2.0, -2.0, 3.0])),
       seed=st.integers(0, 2**16))
def test_cumprod_gradient_is_exact_with_any_zeros(x, seed):
    """Small integers (zeros often, one or several per row): every product and sum is
    exact, so E37's p_k S_k equals the definition exactly."""
    dy = np.random.default_rng(seed).integers(-3, 4, x.shape).astype(np.float64)
    t = ng.tensor(x, requires_grad=True)
    y = ng.cumprod(t, -1)
    np.testing.assert_array_equal(y.numpy(), np.cumprod(x, -1))
    y.backward(dy)
    np.testing.assert_array_equal(t.grad, _cumprod_grad_by_definition(x, dy))


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", ["random", "one zero", "zeros", "zero first", "zero last"])
def test_cumprod_equals_torchs_along_every_dim(case, dtype):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(5).uniform(0.5, 1.5, (3, 4, 5)) * np.array([1, -1, 1, -1, 1])
    if case == "one zero":
        x[1, 2, 3] = 0.0
    elif case == "zeros":
        x[:, 1, :] = 0.0
        x[0, 3, 1] = x[2, 0, 3] = 0.0
    elif case == "zero first":
        x[..., 0] = 0.0
    elif case == "zero last":
        x[..., -1] = 0.0
    x = x.astype(dtype)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for dim in (0, 1, 2, -1):
        dy = np.random.default_rng(dim + 7).standard_normal(x.shape).astype(dtype)
        a, b = ng.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, z = ng.cumprod(a, dim), torch.cumprod(b, dim)
        y.backward(dy)
        z.backward(torch.tensor(dy))
        assert y.dtype == dtype and a.grad.dtype == dtype
        np.testing.assert_allclose(y.numpy(), z.detach().numpy(), rtol=rtol, atol=1e-30)
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=rtol, atol=1e-7 * rtol,
                                   err_msg=f"{case}, dim {dim}")


@pytest.mark.torch
def test_cumprod_where_torchs_division_is_wrong():
    """y underflows (E37): dx_0 = 1 + 1e-200 + 1 = 2 and dx_1 = 1e-200 + 1 ≈ 1, torch's
    quotient Σ dy y / x gives 1 and 0; at an infinity the products of the others, where
    torch's inf / inf is NaN."""
    torch = pytest.importorskip("torch")
    x = np.array([1e-200, 1e-200, 1e200])
    t, u = ng.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ng.cumprod(t, 0).sum().backward()
    torch.cumprod(u, 0).sum().backward()
    np.testing.assert_allclose(t.grad, [2.0, 1.0, 0.0], rtol=1e-15)
    np.testing.assert_array_equal(u.grad.numpy(), [1.0, 0.0, 0.0])
    t = ng.tensor([2.0, INF, 3.0, 4.0, 5.0], requires_grad=True)
    ng.cumprod(t, 0).backward(ng.tensor([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert t.grad[1] == 2 * 2 + 3 * 2 * 3 + 4 * 2 * 3 * 4 + 5 * 2 * 3 * 4 * 5     # 718
    assert np.isinf(t.grad[[0, 2, 3, 4]]).all()


def test_cumprod_gradient_checks():
    """Central differences, the complex step (cumprod is analytic: NumPy's takes complex
    input) and the directional check, zeros included."""
    x = np.array([[0.5, -1.5, 0.0, 2.0], [1.25, 0.0, 0.0, -0.75], [0.9, 1.1, -1.3, 0.7]])
    assert_gradients(lambda t: ng.cumprod(t, 1), [x])
    assert_gradients(lambda t: ng.cumprod(t, 0), [x])


@pytest.mark.torch
def test_cumprod_dtypes_and_shapes_as_torch():
    torch = pytest.importorskip("torch")
    for x in (np.array([1, 2, 3], np.int32), np.array([True, False, True]),
              np.array([[2, 3], [4, 5]], np.uint8)):
        got, want = ng.cumprod(x, 0), torch.cumprod(torch.from_numpy(x), 0)
        assert got.dtype == np.int64 and want.dtype == torch.int64
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    got = ng.cumprod(np.array([1, 2, 3]), 0, dtype=np.float32)
    assert got.dtype == np.float32 and got.tolist() == [1.0, 2.0, 6.0]
    t = ng.tensor(3.0, requires_grad=True)
    y = ng.cumprod(t, 0)
    y.backward()
    assert y.shape == () and y.item() == 3.0 and t.grad == 1.0
    e = ng.tensor(np.zeros((2, 0)), requires_grad=True)
    ng.cumprod(e, 1).sum().backward()
    assert e.grad.shape == (2, 0)
    assert ng.Tensor.cumprod is ng.cumprod and "cumprod" in ng.__all__


def test_cumprod_errors_name_the_dim():
    x = ng.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"^cumprod: axis 2 is out of range for a tensor with 2 "
                                         r"dimension\(s\); expected an int in \[-2, 1\]"):
        ng.cumprod(x, 2)
    with pytest.raises(TypeError, match=r"^cumprod: dim must be an int .*got \(0, 1\)"):
        ng.cumprod(x, (0, 1))
    with pytest.raises(TypeError, match="^cumprod: dim must be an int"):
        ng.cumprod(x, None)
