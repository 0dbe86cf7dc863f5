"""Reductions: sum, mean and max over drawn axes, with and without keepdims."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import nongate_np as ng
from nongate_np import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch


@st.composite
def shape_and_axis(draw):
    shape = draw(nt.shapes(min_dims=1))
    axes = draw(st.lists(st.integers(0, len(shape) - 1), unique=True, max_size=len(shape)))
    axis = None if not axes else (axes[0] - len(shape) if len(axes) == 1 else tuple(axes))
    return shape, axis, draw(st.booleans())


@pytest.mark.parametrize("name", ["sum", "mean"])
@given(data=st.data(), spec=shape_and_axis())
def test_sum_mean(name, data, spec):
    shape, axis, keepdims = spec
    x = data.draw(nt.arrays(shape))

    def ours(t):
        return getattr(ng, name)(t, axis=axis, keepdims=keepdims)
    assert_gradients(ours, [x])
    torch = pytest.importorskip("torch")
    dim = tuple(range(len(shape))) if axis is None else axis

    def theirs(t):
        return getattr(torch, name)(t, dim=dim, keepdim=keepdims)
    assert_matches_torch(ours, theirs, [x])


@given(data=st.data(), spec=shape_and_axis())
def test_max_without_ties(data, spec):
    shape, axis, keepdims = spec
    x = data.draw(nt.distinct_arrays(shape))

    def ours(t):
        return ng.max(t, axis=axis, keepdims=keepdims)
    assert_gradients(ours, [x])
    torch = pytest.importorskip("torch")
    dim = tuple(range(len(shape))) if axis is None else axis
    assert_matches_torch(ours, lambda t: torch.amax(t, dim=dim, keepdim=keepdims), [x])


def test_max_ties_share_the_gradient_like_torch_amax():
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    assert_matches_torch(lambda t: ng.max(t, axis=1), lambda t: torch.amax(t, dim=1), [x])
    assert_matches_torch(lambda t: ng.max(t), lambda t: torch.amax(t), [x])


def test_axis_out_of_range_is_a_clear_error():
    with pytest.raises(ValueError, match="axis 2 is out of range for a tensor with 2"):
        ng.sum(ng.Tensor(np.ones((2, 3))), axis=2)
