"""sort and argsort (E27 with k the axis's length) against torch: drawn shapes, dims and
directions, values, indices and the gradient of the values in float64; ties, NaN, -0.0
against torch's stable sort; bool, integer and float32 tensors; 0-d and empty tensors; the
gradient by complex-step and central differences; the errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients

pytestmark = pytest.mark.filterwarnings("error")     # every warning fails the test


@st.composite
def sort_case(draw):
    shape = draw(nt.shapes(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return shape, dim, draw(st.booleans()), draw(st.booleans())


def _assert_sort_as_torch(x, dim, descending, stable):
    """Values, indices (torch's stable order, which is ours) and the gradient of the values
    equal torch's; argsort gives the same indices."""
    import torch
    ours = ng.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    got = ng.sort(ours, dim, descending, stable=stable)
    want = torch.sort(theirs, dim=dim, descending=descending, stable=True)
    what = f"sort(dim={dim}, descending={descending}, stable={stable}) of {x.tolist()}"
    assert got.indices.dtype == np.int64 and not got.indices.requires_grad, what
    assert got.values.dtype == x.dtype and got.values.requires_grad, what
    np.testing.assert_array_equal(got.values.numpy(), want.values.detach().numpy(),
                                  err_msg=f"values, {what}")
    np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy(),
                                  err_msg=f"indices, {what}")
    np.testing.assert_array_equal(ng.argsort(ours, dim, descending, stable=stable).numpy(),
                                  want.indices.numpy(), err_msg=f"argsort, {what}")
    v = np.random.default_rng(0).standard_normal(x.shape)
    got.values.backward(v)
    want.values.backward(torch.tensor(v))
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy(), err_msg=f"grad, {what}")


@pytest.mark.torch
@given(data=st.data(), case=sort_case())
def test_sort_matches_torch(data, case):
    shape, dim, descending, stable = case
    _assert_sort_as_torch(data.draw(nt.arrays(shape)), dim, descending, stable)


@pytest.mark.torch
@given(data=st.data(), case=sort_case())
def test_sort_with_ties_nan_inf_and_signed_zeros_as_torchs_stable_sort(data, case):
    shape, dim, descending, _ = case
    x = data.draw(nt.index_arrays(shape, 4)).astype(np.float64)
    x[x == 2] = data.draw(st.sampled_from([2.0, np.nan, np.inf, -np.inf]))
    x[x == 3] = data.draw(st.sampled_from([-0.0, 0.0, 1.0]))
    _assert_sort_as_torch(x, dim, descending, True)


@given(data=st.data(), case=sort_case())
def test_sort_gradients(data, case):
    shape, dim, descending, _ = case
    x = data.draw(nt.distinct_arrays(shape))
    assert_gradients(lambda t: ng.sort(t, dim, descending).values, [x])


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.float32, np.bool_])
def test_sort_of_integers_bools_and_float32_as_torch(dtype):
    import torch
    x = np.array([[3, 7, 9, 0, 3], [2, 8, 1, 5, 8]]).astype(dtype)
    for descending in (False, True):
        got = ng.tensor(x).sort(descending=descending)
        want = torch.tensor(x).sort(descending=descending, stable=True)
        assert got.values.dtype == dtype
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
        want = torch.tensor(x).argsort(dim=0, descending=descending, stable=True)
        np.testing.assert_array_equal(ng.tensor(x).argsort(0, descending).numpy(), want)


def test_sort_result_is_a_named_tuple_like_torch_return_types():
    x = ng.tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]))
    result = x.sort(descending=True)
    values, indices = result
    assert type(result).__name__ == "sort" and result._fields == ("values", "indices")
    assert result[0] is values and result.indices is indices
    assert values.tolist() == [[5.0, 2.0, 1.0], [7.0, 3.0, 0.0]]
    assert indices.tolist() == [[1, 2, 0], [0, 2, 1]]
    assert "sort(values=" in repr(result)
    assert x.argsort(dim=0).tolist() == [[0, 1, 0], [1, 0, 1]]


def test_sort_of_0d_and_empty_tensors():
    x = ng.tensor(np.array(2.5), requires_grad=True)
    values, indices = ng.sort(x)
    assert values.shape == indices.shape == () and values.item() == 2.5 and indices.item() == 0
    values.backward(np.array(3.0))
    assert x.grad == 3.0
    assert ng.argsort(ng.tensor(np.array(1.0))).shape == ()
    e = ng.tensor(np.ones((0, 3)), requires_grad=True)
    values, indices = ng.sort(e, 0)
    assert values.shape == indices.shape == (0, 3)
    values.backward(np.ones((0, 3)))
    assert e.grad.shape == (0, 3)
    assert ng.sort([3.0, 1.0, 2.0]).values.tolist() == [1.0, 2.0, 3.0]   # a list: a constant


@pytest.mark.parametrize("call, error, match", [
    (lambda x: ng.sort(x, 2), ValueError, r"sort: .*out of range"),
    (lambda x: ng.sort(x, 0.5), TypeError, r"sort: dim must be an int"),
    (lambda x: ng.sort(x, (0, 1)), TypeError, r"sort: dim must be an int"),
    (lambda x: ng.sort(x, descending="yes"), TypeError, r"sort: descending must be True or"),
    (lambda x: ng.argsort(x, stable=1), TypeError, r"argsort: stable must be True or False"),
    (lambda x: ng.sort(x, 0, True, True), TypeError, r"positional"),   # stable: keyword only
    (lambda x: ng.sort("ab"), TypeError, r"sort"),
])
def test_sort_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(ng.tensor(np.ones((2, 3))))
