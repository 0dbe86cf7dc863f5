"""Reductions: sum, mean and max over drawn axes, with and without keepdims."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch


@st.composite
def shape_and_axis(draw):
    shape = draw(nt.shapes(min_dims=1))
    axes = draw(st.lists(st.integers(0, len(shape) - 1), unique=True, max_size=len(shape)))
    axis = None if not axes else (axes[0] - len(shape) if len(axes) == 1 else tuple(axes))
    return shape, axis, draw(st.booleans())


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


@given(data=st.data(), spec=shape_and_axis())
def test_max_without_ties(data, spec):
    shape, axis, keepdims = spec
    x = data.draw(nt.distinct_arrays(shape))
    assert_gradients(lambda t: ng.max(t, axis=axis, keepdims=keepdims), [x])


@pytest.mark.torch
@given(data=st.data(), spec=shape_and_axis())
def test_max_without_ties_matches_torch_amax(data, spec):
    import torch
    shape, axis, keepdims = spec
    x = data.draw(nt.distinct_arrays(shape))
    dim = _torch_dim(shape, axis)
    assert_matches_torch(lambda t: ng.max(t, axis=axis, keepdims=keepdims),
                         lambda t: torch.amax(t, dim=dim, keepdim=keepdims), [x])


@pytest.mark.torch
def test_max_ties_share_the_gradient_like_torch_amax():
    import torch
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    assert_matches_torch(lambda t: ng.max(t, axis=1), lambda t: torch.amax(t, dim=1), [x])
    assert_matches_torch(lambda t: ng.max(t), lambda t: torch.amax(t), [x])


def test_axis_out_of_range_is_a_clear_error():
    with pytest.raises(ValueError, match="axis 2 is out of range for a tensor with 2"):
        ng.sum(ng.Tensor(np.ones((2, 3))), axis=2)
