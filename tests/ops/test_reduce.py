"""Reductions: sum, mean, amax and amin over drawn axes, with and without keepdims; max and
min with and without a dim (values and indices, as torch); argmax and argmin."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch, shape_and_axis


def _torch_dim(shape, axis):
    """Our axis=None (every axis) written as torch's dim: the tuple of every axis."""
    return tuple(range(len(shape))) if axis is None else axis


@pytest.mark.parametrize("name", ["sum", "mean"])
@given(data=st.data(), spec=shape_and_axis())
def test_sum_mean(name, data, spec):
    shape, axis, keepdims = spec
    x = data.draw(nt.arrays(shape))
    assert_gradients(lambda t: getattr(ng, name)(t, axis=axis, keepdims=keepdims), [x])


@pytest.mark.torch
@pytest.mark.parametrize("name", ["sum", "mean"])
@given(data=st.data(), spec=shape_and_axis())
def test_sum_mean_match_torch(name, data, spec):
    import torch
    shape, axis, keepdims = spec
    x = data.draw(nt.arrays(shape))
    dim = _torch_dim(shape, axis)
    assert_matches_torch(lambda t: getattr(ng, name)(t, axis=axis, keepdims=keepdims),
                         lambda t: getattr(torch, name)(t, dim=dim, keepdim=keepdims), [x])


@pytest.mark.parametrize("name", ["amax", "amin"])
@given(data=st.data(), spec=shape_and_axis())
def test_amax_amin_without_ties(name, data, spec):
    shape, axis, keepdims = spec
    x = data.draw(nt.distinct_arrays(shape))
    # NOTE: not complex-analytic (a kink at each tie); complex input is compared by its
    # real part, so complex-step holds away from ties, as central differences do
    assert_gradients(lambda t: getattr(ng, name)(t, axis=axis, keepdims=keepdims), [x])


@pytest.mark.torch
@pytest.mark.parametrize("name", ["amax", "amin"])
@given(data=st.data(), spec=shape_and_axis())
def test_amax_amin_without_ties_match_torch(name, data, spec):
    import torch
    shape, axis, keepdims = spec
    x = data.draw(nt.distinct_arrays(shape))
    dim = _torch_dim(shape, axis)
    assert_matches_torch(lambda t: getattr(ng, name)(t, axis=axis, keepdims=keepdims),
                         lambda t: getattr(torch, name)(t, dim=dim, keepdim=keepdims), [x])


@pytest.mark.torch
@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin_ties_share_the_gradient_like_torch(name):
    import torch
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [-1.0, 5.0, -1.0]])
    ours, theirs = getattr(ng, name), getattr(torch, name)
    assert_matches_torch(lambda t: ours(t, axis=1), lambda t: theirs(t, dim=1), [x])
    assert_matches_torch(lambda t: ours(t), lambda t: theirs(t), [x])
    # NaN propagates, and its slice's gradient is NaN: no element equals the maximum
    x[0, 1] = np.nan
    assert_matches_torch(lambda t: ours(t, axis=1), lambda t: theirs(t, dim=1), [x])
    assert_matches_torch(lambda t: ours(t), lambda t: theirs(t), [x])


# -- max and min: the full reduction (E9) and the value-selecting one along a dim (E18) ----

@pytest.mark.torch
@pytest.mark.parametrize("name", ["max", "min"])
def test_full_max_min_is_0d_and_ties_share_the_gradient_like_torch(name):
    import torch
    x = np.array([[1.0, 3.0, -1.0], [3.0, -1.0, 3.0]])
    assert getattr(ng, name)(ng.Tensor(x)).shape == ()
    assert_matches_torch(getattr(ng, name), getattr(torch, name), [x])
    # NaN propagates and the NaNs share the gradient (unlike amax's NaN gradient), as torch
    x[0, 2] = x[1, 0] = np.nan
    assert_matches_torch(getattr(ng, name), getattr(torch, name), [x])


@st.composite
def shape_and_dim(draw):
    shape = draw(nt.shapes(min_dims=1))
    return shape, draw(st.integers(-len(shape), len(shape) - 1)), draw(st.booleans())


@pytest.mark.parametrize("name", ["max", "min"])
@given(data=st.data(), spec=shape_and_dim())
def test_max_min_along_a_dim_without_ties(name, data, spec):
    shape, dim, keepdim = spec
    x = data.draw(nt.distinct_arrays(shape))
    # complex input is compared by its real part; the selected entry carries the step
    assert_gradients(lambda t: getattr(ng, name)(t, dim, keepdim).values, [x])


def _both(x, dtype, requires_grad=True):
    """``x`` as our leaf and torch's, in ``dtype``."""
    import torch
    x = np.asarray(x, dtype)
    return (ng.Tensor(x.copy(), requires_grad=requires_grad),
            torch.tensor(x, requires_grad=requires_grad))


def _assert_selects_like_torch(name, x, dim, keepdim, dtype):
    """Values, indices (int64) and the gradient of the values of ``name``(x, dim, keepdim)
    equal torch's, ties and NaN included."""
    import torch
    ours, theirs = _both(x, dtype)
    got, want = getattr(ng, name)(ours, dim, keepdim), getattr(torch, name)(theirs, dim, keepdim)
    what = f"{name}(dim={dim}, keepdim={keepdim}) of {dtype.__name__} {x.tolist()}"
    assert got.values.dtype == dtype and got.indices.dtype == np.int64, what
    np.testing.assert_array_equal(got.values.data, want.values.detach().numpy(),
                                  err_msg=f"values, {what}")
    np.testing.assert_array_equal(got.indices.data, want.indices.numpy(),
                                  err_msg=f"indices, {what}")
    assert not got.indices.requires_grad
    v = np.random.default_rng(0).standard_normal(got.values.shape).astype(dtype)
    got.values.backward(v)
    want.values.backward(torch.tensor(v))
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy(), err_msg=f"gradient, {what}")


TIES_AND_NAN = [
    np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [-1.0, 5.0, -1.0]]),
    np.array([[1.0, np.nan, 3.0], [np.nan, 2.0, np.nan], [-np.inf, -np.inf, np.inf]]),
    np.array([[0.0, -0.0, -1.0], [-0.0, 0.0, 1.0], [np.inf, np.inf, -np.inf]]),
]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("case", range(len(TIES_AND_NAN)))
def test_max_min_along_a_dim_select_like_torch_with_ties_and_nan(dtype, name, case):
    """Among ties the first index is selected and takes the whole gradient; a NaN is the
    maximum and the minimum (its first occurrence), as torch on the CPU."""
    x = TIES_AND_NAN[case]
    for dim in (0, 1, -1):
        for keepdim in (False, True):
            _assert_selects_like_torch(name, x, dim, keepdim, dtype)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["max", "min"])
@given(data=st.data(), spec=shape_and_dim())
def test_max_min_along_a_dim_match_torch(name, data, spec):
    shape, dim, keepdim = spec
    # few distinct values: many ties
    x = data.draw(nt.index_arrays(shape, 3)).astype(np.float64)
    _assert_selects_like_torch(name, x, dim, keepdim, np.float64)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_result_is_a_named_tuple_like_torch_return_types(name):
    x = ng.Tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]]), requires_grad=True)
    result = getattr(x, name)(1)
    values, indices = result                  # unpacks into two, not into rows
    assert type(result).__name__ == name and result._fields == ("values", "indices")
    assert result[0] is result.values is values and result[1] is result.indices is indices
    want = [[5.0, 7.0], [1, 0]] if name == "max" else [[1.0, 0.0], [0, 1]]
    np.testing.assert_array_equal(values.data, want[0])
    np.testing.assert_array_equal(indices.data, want[1])
    assert getattr(ng, name)(x, dim=1, keepdim=True).values.shape == (2, 1)
    assert getattr(x, name)().shape == ()                     # no dim: one 0-d tensor
    assert f"{name}(values=" in repr(result)


def test_changing_the_indices_in_place_leaves_the_gradient():
    x = ng.Tensor(np.array([[1.0, 5.0, 2.0]]), requires_grad=True)
    values, indices = ng.max(x, 1)
    indices.data[...] = 0
    values.backward(np.ones(1))
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0, 0.0]])


@pytest.mark.parametrize("name", ["max", "min", "argmax", "argmin"])
def test_a_zero_dimensional_tensor_along_dim_0(name):
    x = ng.Tensor(np.array(2.5))
    for dim in (0, -1):
        r = getattr(ng, name)(x, dim)
        if name in ("max", "min"):
            assert r.values.shape == () and r.values.item() == 2.5
            r = r.indices
        assert r.shape == () and r.item() == 0 and r.dtype == np.int64


@pytest.mark.parametrize("name", ["max", "min", "argmax", "argmin"])
def test_dim_errors_name_what_was_expected(name):
    x = ng.Tensor(np.ones((2, 3)))
    op = getattr(ng, name)
    with pytest.raises(ValueError, match=rf"{name}: axis 2 is out of range .* 2 dimension"):
        op(x, 2)
    with pytest.raises(TypeError, match=rf"{name}: dim must be an int .* got \(0, 1\)"):
        op(x, (0, 1))
    with pytest.raises(TypeError, match=rf"{name}: dim must be an int .* got 1.0"):
        op(x, 1.0)
    with pytest.raises(ValueError, match=rf"{name}: cannot reduce over axis 0 of size 0"):
        op(ng.Tensor(np.ones((0, 3))), 0)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_errors(name):
    x = ng.Tensor(np.ones((2, 3)))
    op = getattr(ng, name)
    with pytest.raises(TypeError, match=rf"{name}: keepdim needs a dim"):
        op(x, keepdim=True)
    with pytest.raises(ValueError, match=rf"{name}: cannot reduce over axis 0 of size 0"):
        op(ng.Tensor(np.ones((0, 3))))


# -- argmax and argmin: indices only, no gradient -----------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("case", range(len(TIES_AND_NAN)))
def test_argmax_argmin_match_torch(dtype, name, case):
    """Flattened where dim is None (keepdim: every axis of length 1), the first of ties, a
    NaN first; int64 and no gradient, as torch."""
    import torch
    ours, theirs = _both(TIES_AND_NAN[case], dtype)
    for dim in (None, 0, 1, -1):
        for keepdim in (False, True):
            got = getattr(ng, name)(ours, dim=dim, keepdim=keepdim)
            want = getattr(torch, name)(theirs, dim=dim, keepdim=keepdim).numpy()
            assert got.dtype == np.int64 and got.shape == want.shape
            assert not got.requires_grad
            np.testing.assert_array_equal(got.data, want, err_msg=f"{name}, dim={dim}")
    assert getattr(ours, name)(1).tolist() == getattr(theirs, name)(1).tolist()


def test_axis_out_of_range_is_a_clear_error():
    with pytest.raises(ValueError, match="axis 2 is out of range for a tensor with 2"):
        ng.sum(ng.Tensor(np.ones((2, 3))), axis=2)


# -- integers and bools: min is not -max(-x) there ----------------------------------------

def _integer_extremes(dtype):
    """Rows holding the dtype's smallest and largest values (0 for unsigned), with ties."""
    i = np.iinfo(dtype)
    return np.array([[1, i.max, 5, i.min, i.min], [i.max, i.max, 0, i.max, 1],
                     [i.min, 0, i.max, 0, i.min]], dtype)


BOOLS = np.array([[True, False, True, False], [True, True, True, True],
                  [False, False, False, False]])


def _assert_same(got, want, what):
    """``got`` (ours) equals torch's ``want`` exactly, dtype included."""
    want = want.numpy()
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, torch {want.dtype}"
    np.testing.assert_array_equal(got.data, want, err_msg=what)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.int64, np.bool_])
@pytest.mark.parametrize("name", ["min", "max"])
def test_min_max_of_integers_and_bools_match_torch(name, dtype):
    """min was -max(-x): -1 wrapped for unsigned ints, -iinfo.min overflowed, and bools
    came back int8; values, indices and dtypes are torch's at iinfo.min and iinfo.max."""
    import torch
    x = BOOLS if dtype is np.bool_ else _integer_extremes(dtype)
    ours, theirs = ng.Tensor(x), torch.tensor(x)
    _assert_same(getattr(ng, name)(ours), getattr(torch, name)(theirs), f"{name}(x)")
    for dims in (0, 1, (0, 1)):
        _assert_same(getattr(ng, f"a{name}")(ours, dims), getattr(torch, f"a{name}")(theirs, dims),
                     f"a{name}(x, {dims})")
    for dim in (0, 1):
        got, want = getattr(ng, name)(ours, dim), getattr(torch, name)(theirs, dim)
        _assert_same(got.values, want.values, f"{name}(x, {dim}).values")
        _assert_same(got.indices, want.indices, f"{name}(x, {dim}).indices")
        # torch's argmin and argmax refuse bools: the indices of min(x, dim) instead
        _assert_same(getattr(ng, f"arg{name}")(ours, dim), want.indices, f"arg{name}(x, {dim})")
    flat = getattr(torch, name)(theirs.flatten(), 0).indices
    _assert_same(getattr(ng, f"arg{name}")(ours), flat, f"arg{name}(x)")


@pytest.mark.parametrize("dtype", [np.uint16, np.uint32, np.uint64])
@pytest.mark.parametrize("name", ["min", "max"])
def test_min_max_of_wide_unsigned_integers_match_numpy(name, dtype):
    """torch 2.13 has no min or max of these dtypes; NumPy's are the reference."""
    x = _integer_extremes(dtype)
    ours = ng.Tensor(x)
    want_values, want_indices = getattr(np, name)(x, 1), getattr(np, f"arg{name}")(x, 1)
    got = getattr(ng, name)(ours, 1)
    assert got.values.dtype == dtype
    np.testing.assert_array_equal(got.values.data, want_values, err_msg=f"{name}(x, 1).values")
    np.testing.assert_array_equal(got.indices.data, want_indices, err_msg=f"{name}(x, 1).indices")
    assert getattr(ng, name)(ours).item() == getattr(np, name)(x)
    np.testing.assert_array_equal(getattr(ng, f"a{name}")(ours, 0).data, getattr(np, name)(x, 0),
                                  err_msg=f"a{name}(x, 0)")
    assert getattr(ng, f"arg{name}")(ours).item() == getattr(np, f"arg{name}")(x)


@pytest.mark.torch
@pytest.mark.parametrize("empty", [(), []])
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "norm", "var", "std"])
def test_an_empty_dim_reduces_every_axis_as_torch_and_axis_keeps_numpys_none(op, empty):
    """torch's ``dim=()`` (or ``[]``) reduces over every dim; NumPy's ``axis=()`` over none
    (it reduced over none, or refused var, for torch's spelling). The gradient is torch's
    of the whole reduction (torch's var and std with ``dim=()`` give inf there)."""
    import torch
    values = np.random.default_rng(3).standard_normal((2, 3))
    x = ng.tensor(values, requires_grad=True)
    t = torch.tensor(values, requires_grad=True)
    ours, theirs = getattr(x, op)(dim=empty), getattr(t, op)()
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(ours.numpy(), getattr(t, op)(dim=empty).detach().numpy(),
                               rtol=1e-14)
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-13, atol=1e-15)
    if op not in ("var", "std"):           # one element per "slice": no degrees of freedom
        np.testing.assert_array_equal(getattr(ng, op)(values, axis=()).numpy(),
                                      np.abs(values) if op == "norm" else values)
