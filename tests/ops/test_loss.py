"""Losses: cross-entropy (ignore_index, reductions, extra dims), MSE, BCE with logits
(pos_weight, weight). Weights and smoothing of cross_entropy: test_cross_entropy.py."""

import re
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch

REDUCTIONS = ["mean", "sum", "none"]


@st.composite
def cross_entropy_cases(draw):
    """Logits (N, C) or (N, C, d) and targets, the first target ignored (-100) or not."""
    n, c, extra = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(0, 2))
    shape = (n, c) + ((extra,) if extra else ())
    z = draw(nt.arrays(shape, low=-3, high=3))
    t = draw(nt.index_arrays((n,) + shape[2:], c))
    if draw(st.booleans()):
        t.flat[0] = -100
    return z, t


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=cross_entropy_cases())
def test_cross_entropy(reduction, case):
    z, t = case
    assert_gradients(lambda x: ng.cross_entropy(x, t, reduction=reduction), [z])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=cross_entropy_cases())
def test_cross_entropy_matches_torch(reduction, case):
    import torch
    z, t = case
    if reduction == "mean" and np.all(t == -100):
        return          # torch gives NaN here by design; ours is 0 (tested below)
    assert_matches_torch(lambda x: ng.cross_entropy(x, t, reduction=reduction),
                         lambda x: torch.nn.functional.cross_entropy(
                             x, torch.tensor(t), reduction=reduction), [z])


def test_cross_entropy_all_ignored_is_zero_not_nan():
    z = ng.Tensor(np.ones((2, 3)), requires_grad=True)
    loss = ng.cross_entropy(z, np.array([-100, -100]))
    loss.backward()
    assert loss.item() == 0.0 and np.all(z.grad == 0)


def test_cross_entropy_bad_targets():
    z = ng.Tensor(np.ones((2, 3)))
    with pytest.raises(IndexError, match="target 3 is out of range for 3 classes"):
        ng.cross_entropy(z, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"target has shape \(3,\), expected \(2,\)"):
        ng.cross_entropy(z, np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="integer class indices"):
        ng.cross_entropy(z, np.array([0.0, 1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data(), shapes=nt.broadcastable_shapes(2))
def test_mse_loss_both_sides(reduction, data, shapes):
    a, b = data.draw(nt.arrays(shapes[0])), data.draw(nt.arrays(shapes[1]))
    with warnings.catch_warnings():     # a widening target warns: asserted in the torch test
        warnings.filterwarnings("ignore", message="mse_loss: the target has shape")
        assert_gradients(lambda x, y: ng.mse_loss(x, y, reduction=reduction), [a, b])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data(), shapes=nt.broadcastable_shapes(2))
def test_mse_loss_matches_torch(reduction, data, shapes):
    import torch
    a, b = data.draw(nt.arrays(shapes[0])), data.draw(nt.arrays(shapes[1]))
    bshape = np.broadcast_shapes(a.shape, b.shape)
    with warnings.catch_warnings(record=True) as caught:     # torch warns on these too
        warnings.simplefilter("always")
        assert_matches_torch(lambda x, y: ng.mse_loss(x, y, reduction=reduction),
                             lambda x, y: torch.nn.functional.mse_loss(
                                 x.expand(bshape), y.expand(bshape), reduction=reduction),
                             [a, b])
    ours = [w for w in caught if str(w.message).startswith("mse_loss: the target has shape")]
    assert bool(ours) == (bshape != a.shape), [str(w.message) for w in caught]


@st.composite
def bce_cases(draw):
    """Logits, targets in [0, 1] of the same shape, a positive pos_weight or None, and a
    rescaling weight (any sign, broadcast to the logits' shape) or None."""
    shape = draw(nt.shapes())
    z = draw(nt.arrays(shape, low=-4, high=4))
    y = draw(nt.arrays(shape, low=0.0, high=1.0))
    pw = draw(nt.positive_arrays(shape[-1:] if shape else ())) if draw(st.booleans()) else None
    w = None
    if draw(st.booleans()):
        w_shape = draw(st.sampled_from([shape, shape[-1:], (1,) * len(shape), ()]))
        w = draw(nt.arrays(w_shape, low=-2, high=2))
    return z, y, pw, w


def _bce(pos_weight, weight, reduction):
    return lambda x, t: ng.binary_cross_entropy_with_logits(
        x, t, pos_weight=pos_weight, weight=weight, reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=bce_cases())
def test_bce_with_logits(reduction, case):
    z, y, pw, w = case
    assert_gradients(_bce(pw, w, reduction), [z, y])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=bce_cases())
def test_bce_with_logits_matches_torch(reduction, case):
    import torch
    z, y, pw, w = case
    pos_weight = None if pw is None else torch.tensor(pw)
    weight = None if w is None else torch.tensor(w)
    assert_matches_torch(_bce(pw, w, reduction),
                         lambda x, t: torch.nn.functional.binary_cross_entropy_with_logits(
                             x, t, weight=weight, pos_weight=pos_weight,
                             reduction=reduction), [z, y])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_weights_float32_matches_torch(reduction):
    """float32 logits with float64 weights: a float32 loss, as torch."""
    import torch
    rng = np.random.default_rng(5)
    z = (3 * rng.standard_normal((4, 3))).astype(np.float32)
    y = rng.random((4, 3)).astype(np.float32)
    w, pw = rng.uniform(0, 2, 3), rng.uniform(0.5, 2, 3)    # float64: float32 losses still
    x, tx = ng.Tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
    loss = ng.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=pw,
                                               reduction=reduction)
    tloss = torch.nn.functional.binary_cross_entropy_with_logits(
        tx, torch.tensor(y), weight=torch.tensor(w), pos_weight=torch.tensor(pw),
        reduction=reduction)
    loss.sum().backward()
    tloss.sum().backward()
    assert loss.dtype == x.grad.dtype == np.float32
    np.testing.assert_allclose(loss.data, tloss.detach().numpy(), rtol=2e-6, err_msg="loss")
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=2e-6, atol=1e-7,
                               err_msg="gradient of the logits")


def test_bce_with_logits_weight_errors():
    z = ng.Tensor(np.zeros((2, 3)))
    y = np.full((2, 3), 0.5)
    with pytest.raises(ValueError, match=r"weight of shape \(4, 2, 3\) does not broadcast "
                                         r"to the logits' shape \(2, 3\)"):
        ng.binary_cross_entropy_with_logits(z, y, weight=np.ones((4, 2, 3)))
    with pytest.raises(ValueError, match=r"weight of shape \(2,\) does not broadcast"):
        ng.binary_cross_entropy_with_logits(z, y, weight=np.ones(2))


@pytest.mark.parametrize("name", ["weight", "pos_weight"])
def test_bce_with_logits_weight_requiring_grad_is_refused(name):
    """As torch: neither weight is differentiable, so one that requires a gradient is an
    error, not dropped from the graph without a word."""
    z = ng.Tensor(np.zeros((2, 3)), requires_grad=True)
    w = ng.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=f"binary_cross_entropy_with_logits: not "
                                         f"differentiable with respect to {name}"):
        ng.binary_cross_entropy_with_logits(z, np.full((2, 3), 0.5), **{name: w})
    ng.binary_cross_entropy_with_logits(z, np.full((2, 3), 0.5), **{name: w.detach()})


@pytest.mark.parametrize("shape", [(2,), (4, 2, 3), (2, 2)])
def test_bce_with_logits_pos_weight_of_a_wrong_shape_is_named(shape):
    """It raised NumPy's "operands could not be broadcast together" from inside the op."""
    z, y = ng.Tensor(np.zeros((2, 3))), np.full((2, 3), 0.5)
    with pytest.raises(ValueError, match=rf"binary_cross_entropy_with_logits: pos_weight of "
                                         rf"shape {re.escape(str(shape))} does not broadcast to "
                                         rf"the logits' shape \(2, 3\) \(aligned from the right"):
        ng.binary_cross_entropy_with_logits(z, y, pos_weight=np.ones(shape))


def test_bce_with_extreme_logits_is_finite():
    z = ng.Tensor(np.array([-1e4, -50.0, 50.0, 1e4]), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = ng.binary_cross_entropy_with_logits(z, np.array([1.0, 0.0, 1.0, 0.0]))
        loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(z.grad))
