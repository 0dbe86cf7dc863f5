"""Element-wise ops: gradients by central differences, complex-step, directional, and torch."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch

BINARY = {
    "add": (ng.add, lambda a, b: a + b),
    "sub": (ng.sub, lambda a, b: a - b),
    "mul": (ng.mul, lambda a, b: a * b),
    "div": (ng.div, lambda a, b: a / b),
}


def _binary_operands(data, shapes, name):
    a = data.draw(nt.arrays(shapes[0]))
    # a divisor stays away from 0
    b = data.draw(nt.positive_arrays(shapes[1]) if name == "div" else nt.arrays(shapes[1]))
    return a, b


@pytest.mark.parametrize("name", BINARY)
@given(data=st.data(), shapes=nt.broadcastable_shapes(2))
def test_binary_broadcasting(name, data, shapes):
    assert_gradients(BINARY[name][0], _binary_operands(data, shapes, name))


@pytest.mark.torch
@pytest.mark.parametrize("name", BINARY)
@given(data=st.data(), shapes=nt.broadcastable_shapes(2))
def test_binary_broadcasting_matches_torch(name, data, shapes):
    ours, theirs = BINARY[name]
    assert_matches_torch(ours, theirs, _binary_operands(data, shapes, name))


def _pow_operands(data, shapes):
    return (data.draw(nt.positive_arrays(shapes[0])),
            data.draw(nt.arrays(shapes[1], low=-1.5, high=2.5)))


@given(data=st.data(), shapes=nt.broadcastable_shapes(2))
def test_pow_tensor_base_and_exponent(data, shapes):
    assert_gradients(ng.pow, _pow_operands(data, shapes))


@pytest.mark.torch
@given(data=st.data(), shapes=nt.broadcastable_shapes(2))
def test_pow_tensor_base_and_exponent_matches_torch(data, shapes):
    assert_matches_torch(ng.pow, lambda x, y: x ** y, _pow_operands(data, shapes))


@pytest.mark.parametrize("exponent", [2, 3.5, -1.0, 0.5])
@given(x=nt.positive_arrays(nt.shapes()))
def test_pow_scalar_exponent(exponent, x):
    assert_gradients(lambda t: t ** exponent, [x])


@pytest.mark.torch
@pytest.mark.parametrize("exponent", [2, 3.5, -1.0, 0.5])
@given(x=nt.positive_arrays(nt.shapes()))
def test_pow_scalar_exponent_matches_torch(exponent, x):
    assert_matches_torch(lambda t: t ** exponent, lambda t: t ** exponent, [x])


def _scalars_on_either_side(t):
    """The same expression for our Tensor and torch's: Python scalars on both sides of each op."""
    return (2.5 - t) * 3.0 / (4.0 + t * t) + 2.0 ** t


@given(x=nt.arrays(nt.shapes()))
def test_scalar_operands_on_either_side(x):
    assert_gradients(_scalars_on_either_side, [x])


@pytest.mark.torch
@given(x=nt.arrays(nt.shapes()))
def test_scalar_operands_on_either_side_match_torch(x):
    assert_matches_torch(_scalars_on_either_side, _scalars_on_either_side, [x])


UNARY = {
    "neg": (ng.neg, lambda t: -t, nt.arrays),
    "exp": (ng.exp, lambda t: t.exp(), nt.arrays),
    "log": (ng.log, lambda t: t.log(), nt.positive_arrays),
    "tanh": (ng.tanh, lambda t: t.tanh(), nt.arrays),
    "sigmoid": (ng.sigmoid, lambda t: t.sigmoid(), nt.arrays),
    "relu": (ng.relu, lambda t: t.relu(), lambda s: nt.arrays(s, away_from=(0.0,))),
    # abs is not complex-analytic at 0; complex input is signed by its real part, so the
    # complex step holds away from 0 (the kink), as central differences do
    "abs": (ng.abs, lambda t: t.abs(), lambda s: nt.arrays(s, away_from=(0.0,))),
    "sqrt": (ng.sqrt, lambda t: t.sqrt(), nt.positive_arrays),
    "sin": (ng.sin, lambda t: t.sin(), nt.arrays),
    "cos": (ng.cos, lambda t: t.cos(), nt.arrays),
    "log1p": (ng.log1p, lambda t: t.log1p(), lambda s: nt.arrays(s, low=-0.9, high=3.0)),
    "expm1": (ng.expm1, lambda t: t.expm1(), nt.arrays),
    "square": (ng.square, lambda t: t.square(), nt.arrays),
    "erf": (ng.erf, lambda t: t.erf(), nt.arrays),
    "clamp": (lambda t: ng.clamp(t, -1.0, 0.5), lambda t: t.clamp(-1.0, 0.5),
              lambda s: nt.arrays(s, away_from=(-1.0, 0.5))),
    "clamp_min": (lambda t: t.clamp(min=0.25), lambda t: t.clamp(min=0.25),
                  lambda s: nt.arrays(s, away_from=(0.25,))),
    "clip_max": (lambda t: ng.clip(t, max=-0.5), lambda t: t.clip(max=-0.5),
                 lambda s: nt.arrays(s, away_from=(-0.5,))),
}


@pytest.mark.parametrize("name", UNARY)
@given(data=st.data(), shape=nt.shapes())
def test_unary(name, data, shape):
    ours, _, values = UNARY[name]
    assert_gradients(ours, [data.draw(values(shape))])


@pytest.mark.torch
@pytest.mark.parametrize("name", UNARY)
@given(data=st.data(), shape=nt.shapes())
def test_unary_matches_torch(name, data, shape):
    ours, theirs, values = UNARY[name]
    assert_matches_torch(ours, theirs, [data.draw(values(shape))])


def _where_operands(data, shapes):
    cond = data.draw(nt.index_arrays(shapes[0], 2)).astype(bool)
    return cond, data.draw(nt.arrays(shapes[1])), data.draw(nt.arrays(shapes[2]))


@given(data=st.data(), shapes=nt.broadcastable_shapes(3))
def test_where(data, shapes):
    cond, a, b = _where_operands(data, shapes)
    assert_gradients(lambda x, y: ng.where(cond, x, y), [a, b])


@pytest.mark.torch
@given(data=st.data(), shapes=nt.broadcastable_shapes(3))
def test_where_matches_torch(data, shapes):
    import torch
    cond, a, b = _where_operands(data, shapes)
    assert_matches_torch(lambda x, y: ng.where(cond, x, y),
                         lambda x, y: torch.where(torch.tensor(cond), x, y), [a, b])


def test_sigmoid_and_exp_saturate_without_overflow():
    x = ng.Tensor(np.array([-1e4, -800.0, 0.0, 800.0, 1e4]), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = ng.sigmoid(x)
        y.sum().backward()
    np.testing.assert_array_equal(y.data, [0.0, 0.0, 0.5, 1.0, 1.0])
    assert np.all(np.isfinite(x.grad))


@pytest.mark.torch
def test_relu_subgradient_at_zero_is_zero_like_torch():
    import torch
    x = np.array([-1.0, 0.0, 2.0])
    assert_matches_torch(ng.relu, torch.relu, [x])


def test_cast_gradient_returns_in_the_input_dtype():
    x = ng.Tensor(np.array([1.5, -2.0]), requires_grad=True)
    y = x.astype(np.float32)
    assert y.dtype == np.float32
    (y * 3).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_python_scalars_keep_the_tensor_dtype():
    x = ng.Tensor(np.ones(3, np.float32), requires_grad=True)
    y = (x * 2.0 + 1.0) / 3.0 - 0.5
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_broadcast_error_names_both_shapes():
    a, b = ng.Tensor(np.ones((2, 3))), ng.Tensor(np.ones((4,)))
    for op in (ng.add, ng.sub, ng.mul, ng.div):
        with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\)"):
            op(a, b)


# -- abs, sqrt, clamp at their kinks and edges, against torch (E18-E20) -------------------

def _assert_unary_like_torch(ours, theirs, x, dtype, what, ulps=0):
    """Output and gradient (of a random cotangent) of ``ours`` equal torch's, exactly where
    torch's value is 0, an infinity or NaN, and within ``ulps`` units in the last place
    elsewhere (0: exactly), in ``dtype``; returns ours' output."""
    import torch
    x = np.asarray(x, dtype)
    a, b = ng.Tensor(x.copy(), requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(a), theirs(b)
    assert y.dtype == dtype, what
    _assert_within_ulps(y.data, ty.detach().numpy(), ulps, f"{what}: output")
    v = np.random.default_rng(0).uniform(0.5, 2.0, y.shape).astype(dtype)
    y.backward(v)
    ty.backward(torch.tensor(v))
    _assert_within_ulps(a.grad, b.grad.numpy(), 2 * ulps, f"{what}: gradient")
    return y.data


def _assert_within_ulps(got, want, ulps, msg):
    """got equals want where want is 0, ±inf or NaN, and elsewhere within ``ulps`` units in
    the last place of it."""
    special = ~np.isfinite(want) | (want == 0)
    np.testing.assert_array_equal(got[special], want[special], err_msg=msg)
    np.testing.assert_array_max_ulp(got[~special], want[~special], maxulp=ulps,
                                    dtype=want.dtype)


EDGES = [0.0, -0.0, 1.0, 2.0, -1.5, 3.0, np.inf, -np.inf, np.nan]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_abs_and_sqrt_at_zero_infinities_and_nan_like_torch(dtype):
    """abs: gradient sign(x), 0 at ±0 and at NaN; sqrt: gradient inf at 0, NaN below, its
    output the correctly rounded root."""
    import torch
    _assert_unary_like_torch(ng.abs, torch.abs, EDGES, dtype, "abs")
    # torch's float64 sqrt was one unit in the last place low at 2.0 on an Intel Xeon
    # (AVX-512), so the output is held exactly to the correctly rounded root instead
    y = _assert_unary_like_torch(ng.sqrt, torch.sqrt, EDGES, dtype, "sqrt", ulps=1)
    exact = [math.sqrt(v) if v >= 0 else math.nan for v in np.asarray(EDGES, dtype).tolist()]
    np.testing.assert_array_equal(y, np.asarray(exact).astype(dtype))


CLAMPS = [dict(min=1.0, max=2.0), dict(min=1.0), dict(max=2.0), dict(min=2.0, max=1.0),
          dict(min=1, max=1), dict(min=-np.inf, max=np.inf), dict(min=np.nan),
          dict(max=np.nan)]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bounds", CLAMPS, ids=str)
def test_clamp_at_its_bounds_and_nan_like_torch(dtype, bounds):
    """The gradient passes where min <= x <= max (both bounds inclusive); NaN propagates;
    min > max gives max everywhere, as torch's min(max(x, min), max)."""
    import torch
    _assert_unary_like_torch(lambda t: ng.clamp(t, **bounds),
                             lambda t: torch.clamp(t, **bounds), EDGES, dtype, f"clamp{bounds}")
    _assert_unary_like_torch(lambda t: t.clip(**bounds), lambda t: t.clip(**bounds), EDGES,
                             dtype, f"clip{bounds}")


@pytest.mark.torch
@given(x=nt.arrays(nt.shapes()))
def test_clamp_positional_bounds_match_torch(x):
    import torch
    assert_matches_torch(lambda t: ng.clamp(t, -0.5, 1.0), lambda t: torch.clamp(t, -0.5, 1.0),
                         [x])


@pytest.mark.torch
def test_clamp_of_integers_like_torch():
    """An integer tensor stays integer with integer bounds and becomes float32 with a
    float bound (torch's default dtype)."""
    import torch
    x = np.array([-3, 0, 2, 9])
    for bounds in (dict(min=0), dict(min=0, max=4), dict(min=0.5), dict(max=2.5)):
        got, want = ng.clamp(x, **bounds), torch.clamp(torch.tensor(x), **bounds)
        assert str(got.dtype) == str(want.dtype).removeprefix("torch."), bounds
        np.testing.assert_array_equal(got.data, want.numpy(), err_msg=str(bounds))


def test_clamp_errors_name_what_was_expected():
    x = ng.Tensor(np.ones(3))
    with pytest.raises(TypeError, match="clamp: at least one of min or max must be given"):
        ng.clamp(x)
    with pytest.raises(TypeError, match="clip: at least one of min or max must be given"):
        x.clip(None, None)
    with pytest.raises(TypeError, match=r"clamp: min must be a real number \(int or float\)"
                                        r" or None, got ndarray"):
        ng.clamp(x, np.zeros(3))
    with pytest.raises(TypeError, match=r"clamp: max must be a real number .* got Tensor"):
        ng.clamp(x, max=x)
    with pytest.raises(TypeError, match="clamp: not defined for a bool tensor"):
        ng.clamp(np.array([True]), 0)
    for op in (ng.abs, ng.sqrt):
        with pytest.raises(TypeError, match=f"{op.__name__}: not defined for a bool tensor"):
            op(np.array([True]))


def test_tensor_methods_are_the_ops():
    for name in ("abs", "sqrt", "clamp", "clip"):
        assert getattr(ng.Tensor, name) is getattr(ng, name)


# -- maximum and minimum of two tensors (E22) ---------------------------------------------

PAIRWISE = {"maximum": ("maximum", "max"), "minimum": ("minimum", "min")}


@pytest.mark.parametrize("name", PAIRWISE)
@given(data=st.data(), shapes=nt.broadcastable_shapes(2))
def test_maximum_minimum_gradients_away_from_ties(name, data, shapes):
    # on grids offset by 1/2 from each other: every pair differs by at least 1/2
    a = np.asarray(np.round(data.draw(nt.arrays(shapes[0]))) + 0.25)
    b = np.asarray(np.round(data.draw(nt.arrays(shapes[1]))) + 0.75)
    assert_gradients(getattr(ng, name), [a, b])


PAIRS_WITH_TIES_AND_NAN = (
    np.array([1.0, 3.0, 2.0, np.nan, 1.0, np.nan, 0.0, -0.0, np.inf, -np.inf]),
    np.array([2.0, 1.0, 2.0, 1.0, np.nan, np.nan, -0.0, 0.0, np.inf, 5.0]),
)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", PAIRWISE)
def test_maximum_minimum_with_ties_and_nan_like_torch(name, dtype):
    """Values, dtype and gradients are torch's (the sign of a zero at a ±0 tie is not: torch's
    depends on the length, vectorized or not): all to the
    larger (smaller), halves at ties, the whole to both where one is NaN; the same through
    max(a, b) (min(a, b)) and the Tensor methods, a broadcast operand's summed back (E1)."""
    import torch
    a, b = (x.astype(dtype) for x in PAIRS_WITH_TIES_AND_NAN)
    b_rows = np.stack([b, b[::-1]])                         # (2, n) against a's (n,)
    v = np.arange(1.0, 1 + b_rows.size, dtype=dtype).reshape(b_rows.shape)
    op, reduction = PAIRWISE[name]
    calls = {f"{name}(a, b)": lambda lib, a, b: getattr(lib, name)(a, b),
             f"{reduction}(a, b)": lambda lib, a, b: getattr(lib, reduction)(a, b),
             f"a.{name}(b)": lambda lib, a, b: getattr(a, name)(b),
             f"a.{reduction}(b)": lambda lib, a, b: getattr(a, reduction)(b)}
    for what, call in calls.items():
        ours = [ng.Tensor(x, requires_grad=True) for x in (a, b_rows)]
        theirs = [torch.tensor(x, requires_grad=True) for x in (a, b_rows)]
        got, want = call(ng, *ours), call(torch, *theirs)
        assert got.dtype == dtype, f"{what}: dtype {got.dtype}"
        np.testing.assert_array_equal(got.data, want.detach().numpy(), err_msg=what)
        got.backward(v)
        want.backward(torch.tensor(v))
        for k, (x, t) in enumerate(zip(ours, theirs)):
            np.testing.assert_array_equal(x.grad, t.grad.numpy(),
                                          err_msg=f"{what}: gradient of operand {k}")


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int64, np.bool_])
@pytest.mark.parametrize("name", PAIRWISE)
def test_maximum_minimum_of_integers_and_bools_like_torch(name, dtype):
    import torch
    if dtype is np.bool_:
        a, b = np.array([True, False, True, False]), np.array([True, True, False, False])
    else:
        i = np.iinfo(dtype)
        a, b = np.array([i.min, i.max, 0, 5], dtype), np.array([i.max, i.min, 1, 5], dtype)
    got, want = getattr(ng, name)(a, ng.Tensor(b)), getattr(torch, name)(torch.tensor(a),
                                                                          torch.tensor(b))
    assert got.dtype == dtype
    np.testing.assert_array_equal(got.data, want.numpy(), err_msg=name)


@pytest.mark.parametrize("name", PAIRWISE)
def test_max_min_with_an_array_second_and_their_errors(name):
    op, reduction = PAIRWISE[name]
    a, b = ng.Tensor([1.0, 4.0]), np.array([2.0, 3.0])
    np.testing.assert_array_equal(getattr(ng, reduction)(a, b).data,
                                  getattr(np, name)(a.data, b), err_msg=f"{reduction}(a, b)")
    with pytest.raises(TypeError, match=rf"{reduction}: keepdim .*{name}\(a, b\)"):
        getattr(ng, reduction)(a, b, keepdim=True)
    with pytest.raises(ValueError, match=rf"{name}: .*\(2,\).*\(3,\)"):
        getattr(ng, name)(a, np.ones(3))
