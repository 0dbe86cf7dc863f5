"""mse_loss's ``weight=`` (torch 2.13's): ℓ = w (x − y)², "mean" dividing by Σ w
(docs/math.md E14a); gradients to the input, the target and the weight, checked three ways
and against torch (unweighted: test_loss.py). The warning for a target that widens the
input names the caller's line."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
import nongate_np.nn.functional as F
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch

REDUCTIONS = ["mean", "sum", "none"]


@st.composite
def weighted_cases(draw):
    """Input, target (broadcastable against each other) and a positive weight of the input's
    shape, as torch requires."""
    shapes = draw(nt.broadcastable_shapes(2))
    x, y = draw(nt.arrays(shapes[0])), draw(nt.arrays(shapes[1]))
    return x, y, draw(nt.positive_arrays(shapes[0]))


def quietly(fn):
    """``fn`` without the widening target's warning (asserted in tests/ops/test_loss.py)."""
    def call(*args):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="mse_loss: the target has shape")
            warnings.filterwarnings("ignore", message="Using a target size")    # torch's
            return fn(*args)
    return call


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=weighted_cases())
def test_weighted_mse_loss_gradients(reduction, case):
    x, y, w = case
    if reduction == "mean" and w.size == 1:
        # w Σ (x − y)² / w does not depend on w: its gradient is 0 up to rounding, which no
        # relative bound can check; x's and y's are checked with w held
        assert_gradients(quietly(lambda a, b: ng.mse_loss(a, b, reduction, weight=w)), [x, y])
        return
    assert_gradients(quietly(lambda a, b, c: ng.mse_loss(a, b, reduction, weight=c)), [x, y, w])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=weighted_cases())
def test_weighted_mse_loss_matches_torch(reduction, case):
    import torch.nn.functional as TF
    assert_matches_torch(
        quietly(lambda x, y, w: F.mse_loss(x, y, reduction=reduction, weight=w)),
        quietly(lambda x, y, w: TF.mse_loss(x, y, reduction=reduction, weight=w)),
        list(case))


@pytest.mark.torch
@pytest.mark.parametrize("dtypes", [(np.float32, np.float64), (np.float32, np.int64),
                                    (np.float64, np.float32), (np.float32, np.bool_)])
def test_the_weights_dtype_promotes_as_torch(dtypes):
    """float32 input with a float64 weight gives a float64 loss, as torch; an integer
    weight leaves float32 as float32; a bool weight is a mask ("mean" over its True)."""
    import torch
    import torch.nn.functional as TF
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(4).astype(dtypes[0]), rng.integers(0, 3, 4).astype(dtypes[1])
    w[0] = 1
    for reduction in REDUCTIONS:
        ours = F.mse_loss(ng.tensor(x), np.zeros(4, dtypes[0]), reduction=reduction, weight=w)
        theirs = TF.mse_loss(torch.tensor(x), torch.zeros(4, dtype=torch.from_numpy(x).dtype),
                             reduction=reduction, weight=torch.tensor(w))
        assert ours.dtype == theirs.numpy().dtype, reduction
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, err_msg=reduction)


def test_zero_weights_give_a_zero_mean_not_nan():
    """Σ w = 0: the "mean" divides by 1 (the library's mean over nothing is 0; torch: NaN),
    and the weight's gradient is the sum's, (x − y)²."""
    x = ng.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    w = ng.tensor(np.zeros(3), requires_grad=True)
    loss = ng.mse_loss(x, np.zeros(3), weight=w)
    loss.backward()
    assert loss.item() == 0.0
    np.testing.assert_array_equal(x.grad, np.zeros(3))
    np.testing.assert_array_equal(w.grad, x.numpy() ** 2)


def test_a_weight_of_another_shape_than_the_input_is_refused():
    x = ng.tensor(np.zeros((2, 3)))
    for weight in (np.ones(3), np.ones((2, 1)), 2.0, np.ones((1, 2, 3))):
        with pytest.raises(ValueError, match=r"mse_loss: weight must have the input's shape "
                                              r"\(2, 3\) \(as torch\), got "):
            ng.mse_loss(x, x, weight=weight)


def test_the_broadcast_warning_names_the_callers_line():
    """Called directly or through nn.functional, the warning points at the line that called
    the loss, not at one inside nongate_np (the module: tests/test_nn_loss.py)."""
    x, y = ng.tensor(np.zeros(3)), np.zeros((2, 1))
    for call in (lambda: ng.mse_loss(x, y), lambda: F.mse_loss(x, y),
                 lambda: F.mse_loss(x, y, weight=np.ones(3))):
        with pytest.warns(UserWarning, match="mse_loss: the target has shape") as caught:
            call()
        assert [w.filename for w in caught] == [__file__]
