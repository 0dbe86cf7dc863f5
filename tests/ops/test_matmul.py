"""matmul: batched, broadcasting, 1-D operands."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch


@given(data=st.data(), shapes=nt.matmul_shapes())
def test_matmul(data, shapes):
    a, b = (data.draw(nt.arrays(s)) for s in shapes)
    assert_gradients(ng.matmul, [a, b])


@pytest.mark.torch
@given(data=st.data(), shapes=nt.matmul_shapes())
def test_matmul_matches_torch(data, shapes):
    a, b = (data.draw(nt.arrays(s)) for s in shapes)
    assert_matches_torch(ng.matmul, lambda x, y: x @ y, [a, b])


def test_matmul_with_a_constant_operand():
    w = np.arange(6.0).reshape(3, 2)
    x = ng.Tensor(np.ones((4, 3)), requires_grad=True)
    (x @ w).sum().backward()
    np.testing.assert_allclose(x.grad, np.ones((4, 2)) @ w.T)


def test_inner_dimension_mismatch_names_both_shapes():
    a, b = ng.Tensor(np.ones((2, 3))), ng.Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"a has shape \(2, 3\), b has shape \(4, 5\)"):
        a @ b
