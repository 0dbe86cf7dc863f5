"""gather (E26) and topk (E27) against torch in float64 and by gradient checks: drawn
shapes, dims and indices (repeats summing in the backward), topk's order among ties and
NaN, empty tensors, and the errors for bad indices, dims and k."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch

pytestmark = pytest.mark.filterwarnings("error")     # every warning fails the test


# -- gather (E26) ---------------------------------------------------------------------------

@st.composite
def gather_case(draw):
    """x's shape, a dim (negative too), and an index no longer than x off the dim, of any
    length along it (0 included), values in range with repeats."""
    shape = draw(nt.shapes(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    d = dim % len(shape)
    index_shape = tuple(draw(st.integers(0, 5)) if k == d else draw(st.integers(1, n))
                        for k, n in enumerate(shape))
    index = draw(nt.index_arrays(index_shape, shape[d]))
    return shape, dim, index


@pytest.mark.torch
@given(data=st.data(), case=gather_case())
def test_gather_matches_torch(data, case):
    import torch
    shape, dim, index = case
    x = data.draw(nt.arrays(shape))
    assert_matches_torch(lambda t: ng.gather(t, dim, index),
                         lambda t: torch.gather(t, dim, torch.tensor(index)), [x])


@given(data=st.data(), case=gather_case())
def test_gather_gradients(data, case):
    shape, dim, index = case
    x = data.draw(nt.arrays(shape))
    assert_gradients(lambda t: ng.gather(t, dim, index), [x])


@pytest.mark.torch
def test_gather_index_kinds_and_the_method():
    """An int64 tensor, an int32 array, a list; Tensor.gather(dim, index); a 0-d x."""
    import torch
    x = np.arange(12.0).reshape(3, 4)
    index = np.array([[3, 0], [1, 1], [2, 0]])
    want = torch.gather(torch.tensor(x), 1, torch.tensor(index)).numpy()
    t = ng.tensor(x)
    for idx in (ng.tensor(index), index.astype(np.int32), index.tolist()):
        np.testing.assert_array_equal(ng.gather(t, 1, idx).numpy(), want)
    np.testing.assert_array_equal(t.gather(1, index).numpy(), want)
    np.testing.assert_array_equal(t.gather(dim=1, index=index).numpy(), want)
    got = ng.gather(ng.tensor(np.array(3.5)), 0, np.array(0))
    assert got.shape == () and got.item() == 3.5
    assert ng.gather(t, 1, index).dtype == np.float64
    ints = ng.gather(ng.tensor(np.arange(6).reshape(2, 3)), 0, np.array([[1, 0, 1]]))
    assert ints.dtype == np.int64 and ints.tolist() == [[3, 1, 5]]


def test_gather_of_empty_tensors():
    x = ng.tensor(np.ones((2, 3)), requires_grad=True)
    y = ng.gather(x, 1, np.zeros((2, 0), np.int64))
    assert y.shape == (2, 0)
    y.backward(np.ones((2, 0)))
    np.testing.assert_array_equal(x.grad, np.zeros((2, 3)))
    e = ng.tensor(np.ones((0, 3)), requires_grad=True)
    y = ng.gather(e, 1, np.zeros((0, 2), np.int64))
    assert y.shape == (0, 2)
    y.backward(np.ones((0, 2)))
    assert e.grad.shape == (0, 3)


def test_gather_errors():
    x = ng.tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"gather: index must be an integer array, got dtype "
                                        r"float64"):
        ng.gather(x, 1, np.zeros((2, 1)))
    with pytest.raises(TypeError, match=r"gather: index must be an integer array, got dtype "
                                        r"bool"):
        ng.gather(x, 1, np.zeros((2, 1), bool))
    with pytest.raises(ValueError, match=r"gather: index has 1 dimension\(s\), x has 2"):
        ng.gather(x, 1, np.zeros(2, np.int64))
    with pytest.raises(ValueError, match=r"gather: index of shape \(3, 1\) is longer than x "
                                         r"of shape \(2, 3\) along axis 0"):
        ng.gather(x, 1, np.zeros((3, 1), np.int64))
    for bad in (3, -1):
        with pytest.raises(IndexError, match=rf"gather: index {bad} is out of range for axis 1 "
                                             r"of size 3; expected indices in \[0, 2\]"):
            ng.gather(x, 1, np.array([[0], [bad]]))
    with pytest.raises(IndexError, match=r"gather: index 0 is out of range for axis 1 of size 0"):
        ng.gather(ng.tensor(np.ones((2, 0))), 1, np.zeros((2, 1), np.int64))
    with pytest.raises(ValueError, match=r"gather: axis 2 is out of range"):
        ng.gather(x, 2, np.zeros((2, 1), np.int64))
    with pytest.raises(TypeError, match=r"gather: dim must be an int"):
        ng.gather(x, (0, 1), np.zeros((2, 1), np.int64))
    with pytest.raises(TypeError, match=r"gather: index must be an integer array"):
        ng.gather(x, 1, "a")


# -- topk (E27) -----------------------------------------------------------------------------

@st.composite
def topk_case(draw):
    shape = draw(nt.shapes(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    k = draw(st.integers(0, shape[dim]))
    return shape, dim, k, draw(st.booleans()), draw(st.booleans())


def _assert_topk_as_torch(x, k, dim, largest, sorted_, *, indices_too=True):
    """Values (and indices, where torch's are defined: no ties) equal torch's; the gradient
    of the values reaches exactly the selected elements."""
    import torch
    ours = ng.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    got = ng.topk(ours, k, dim, largest, sorted_)
    want = torch.topk(theirs, k, dim, largest, sorted_)
    what = f"topk(k={k}, dim={dim}, largest={largest}, sorted={sorted_}) of {x.tolist()}"
    if not sorted_:         # torch's order is then unspecified: compare sorted by index
        order = np.argsort(want.indices.numpy(), axis=dim)
        want_values = np.take_along_axis(want.values.detach().numpy(), order, dim)
        want_indices = np.take_along_axis(want.indices.numpy(), order, dim)
        mine = np.argsort(got.indices.numpy(), axis=dim)
        got_values = np.take_along_axis(got.values.numpy(), mine, dim)
        got_indices = np.take_along_axis(got.indices.numpy(), mine, dim)
    else:
        want_values, want_indices = want.values.detach().numpy(), want.indices.numpy()
        got_values, got_indices = got.values.numpy(), got.indices.numpy()
    assert got.indices.dtype == np.int64 and not got.indices.requires_grad, what
    np.testing.assert_array_equal(got_values, want_values, err_msg=f"values, {what}")
    if indices_too:
        np.testing.assert_array_equal(got_indices, want_indices, err_msg=f"indices, {what}")
    if indices_too:
        # NOTE: each side's cotangent a function of the value it selected (distinct values):
        # the same upstream gradient per element, in whatever order each side returns them
        got.values.backward(np.cos(3.0 * got.values.numpy()))
        want.values.backward(torch.tensor(np.cos(3.0 * want.values.detach().numpy())))
        np.testing.assert_array_equal(ours.grad, theirs.grad.numpy(), err_msg=f"grad, {what}")
    return got


@pytest.mark.torch
@given(data=st.data(), case=topk_case())
def test_topk_matches_torch(data, case):
    shape, dim, k, largest, sorted_ = case
    _assert_topk_as_torch(data.draw(nt.distinct_arrays(shape)), k, dim, largest, sorted_)


@given(data=st.data(), case=topk_case())
def test_topk_gradients(data, case):
    shape, dim, k, largest, sorted_ = case
    x = data.draw(nt.distinct_arrays(shape))
    # complex input is ordered by its real part, as max's; the selected entries carry the step
    assert_gradients(lambda t: ng.topk(t, k, dim, largest, sorted_).values, [x])


def _stable_reference(x, k, dim, largest):
    """The order E27 defines, by NumPy: a stable sort (lower index first among ties), NaN
    larger than every number, by descending value for ``largest``."""
    if largest:
        # NOTE: two stable sorts: by value descending (NaN last, as -NaN sorts last), then
        # NaN first
        order = np.argsort(-x, axis=dim, kind="stable")
        nan_first = np.argsort(~np.isnan(np.take_along_axis(x, order, dim)), axis=dim,
                               kind="stable")
        order = np.take_along_axis(order, nan_first, dim)
    else:
        order = np.argsort(x, axis=dim, kind="stable")
    return np.take(order, np.arange(k), axis=dim)


@pytest.mark.torch
@given(data=st.data(), case=topk_case())
def test_topk_with_ties_and_nan(data, case):
    """torch's values; among ties the lower index first (torch leaves that order undefined),
    each selected element given its own gradient."""
    shape, dim, k, largest, _ = case
    x = data.draw(nt.index_arrays(shape, 3)).astype(np.float64)
    x[x == 2] = data.draw(st.sampled_from([2.0, np.nan, np.inf, -0.0]))
    got = _assert_topk_as_torch(x, k, dim, largest, True, indices_too=False)
    want = _stable_reference(x, k, dim, largest)
    np.testing.assert_array_equal(got.indices.numpy(), want)
    grad = np.zeros_like(x)
    v = np.random.default_rng(0).standard_normal(got.values.shape)
    np.put_along_axis(grad, want, v, dim)
    t = ng.tensor(x, requires_grad=True)
    ng.topk(t, k, dim, largest).values.backward(v)
    np.testing.assert_array_equal(t.grad, grad)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float32])
def test_topk_of_integers_and_float32_as_torch(dtype):
    import torch
    x = np.array([[3, -7, 9, 0], [2, 8, -1, 5]], dtype)
    for largest in (True, False):
        got = ng.topk(ng.tensor(x), 2, largest=largest)
        want = torch.topk(torch.tensor(x), 2, largest=largest)
        assert got.values.dtype == dtype
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())


def test_topk_result_is_a_named_tuple_like_torch_return_types():
    x = ng.tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]))
    result = x.topk(2)
    values, indices = result
    assert type(result).__name__ == "topk" and result._fields == ("values", "indices")
    assert result[0] is values and result.indices is indices
    assert values.tolist() == [[5.0, 2.0], [7.0, 3.0]] and indices.tolist() == [[1, 2], [0, 2]]
    assert "topk(values=" in repr(result)
    assert x.topk(1, dim=0, largest=False).indices.tolist() == [[0, 1, 0]]
    zero_d = ng.topk(ng.tensor(np.array(2.5)), 1)
    assert zero_d.values.shape == () and zero_d.values.item() == 2.5
    assert zero_d.indices.item() == 0


def test_topk_of_empty_tensors():
    x = ng.tensor(np.ones((0, 3)), requires_grad=True)
    values, indices = ng.topk(x, 2)
    assert values.shape == indices.shape == (0, 2)
    values.backward(np.ones((0, 2)))
    assert x.grad.shape == (0, 3)
    values, indices = ng.topk(ng.tensor(np.ones((2, 0))), 0)
    assert values.shape == indices.shape == (2, 0)
    values, _ = ng.topk(ng.tensor(np.ones((2, 3))), 0)
    assert values.shape == (2, 0)


def test_topk_errors():
    x = ng.tensor(np.ones((2, 3)))
    for k in (4, -1):
        with pytest.raises(ValueError, match=rf"topk: k={k} is out of range for axis 1 of size "
                                             r"3; expected 0 <= k <= 3"):
            ng.topk(x, k)
    for k in (1.0, True, "2", None):
        with pytest.raises(TypeError, match=r"topk: k must be an int"):
            ng.topk(x, k)
    with pytest.raises(TypeError, match=r"topk: dim must be an int"):
        ng.topk(x, 1, (0, 1))
    with pytest.raises(ValueError, match=r"topk: axis 2 is out of range"):
        ng.topk(x, 1, 2)
    with pytest.raises(TypeError, match=r"topk: largest must be True or False"):
        ng.topk(x, 1, largest="no")
    with pytest.raises(TypeError, match=r"topk: sorted must be True or False"):
        ng.topk(x, 1, sorted=1)
    with pytest.raises(TypeError, match=r"topk: not defined for a bool tensor"):
        ng.topk(ng.tensor(np.ones(3, bool)), 1)
    with pytest.raises(ValueError, match=r"topk: k=0 of a 0-d tensor"):
        ng.topk(ng.tensor(np.array(1.0)), 0)
