"""softmax and log_softmax along a drawn axis."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch


@st.composite
def logits_and_axis(draw):
    shape = draw(nt.shapes(min_dims=1))
    return draw(nt.arrays(shape, low=-3, high=3)), draw(st.integers(-len(shape), len(shape) - 1))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(case=logits_and_axis())
def test_softmax_family(name, case):
    x, axis = case
    assert_gradients(lambda t: getattr(ng, name)(t, axis=axis), [x])


@pytest.mark.torch
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(case=logits_and_axis())
def test_softmax_family_matches_torch(name, case):
    import torch
    x, axis = case
    assert_matches_torch(lambda t: getattr(ng, name)(t, axis=axis),
                         lambda t: getattr(torch, name)(t, dim=axis), [x])


def test_huge_logits_stay_finite():
    x = ng.Tensor(np.array([[1e4, -1e4, 0.0], [5e3, 5e3, -5e3]]), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = ng.log_softmax(x, axis=1)
        (y * np.arange(3.0)).sum().backward()
        p = ng.softmax(x, axis=1)
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(p.data.sum(axis=1), 1.0)
