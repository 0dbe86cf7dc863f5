"""Losses: cross-entropy (ignore_index, reductions, extra dims), MSE, BCE with logits."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import nongate_np as ng
from nongate_np import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch

REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data(), n=st.integers(1, 5), c=st.integers(1, 4), extra=st.integers(0, 2))
def test_cross_entropy(reduction, data, n, c, extra):
    shape = (n, c) + ((extra,) if extra else ())
    z = data.draw(nt.arrays(shape, low=-3, high=3))
    t = data.draw(nt.index_arrays((n,) + shape[2:], c))
    ignore = data.draw(st.booleans())
    if ignore:
        t.flat[0] = -100
    def f(x):
        return ng.cross_entropy(x, t, reduction=reduction)
    assert_gradients(f, [z])
    if reduction == "mean" and np.all(t == -100):
        return          # torch gives NaN here by design; ours is 0 (tested below)
    torch = pytest.importorskip("torch")
    assert_matches_torch(f, lambda x: torch.nn.functional.cross_entropy(
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

    def f(x, y):
        return ng.mse_loss(x, y, reduction=reduction)
    assert_gradients(f, [a, b])
    torch = pytest.importorskip("torch")
    bshape = np.broadcast_shapes(a.shape, b.shape)
    assert_matches_torch(f, lambda x, y: torch.nn.functional.mse_loss(
        x.expand(bshape), y.expand(bshape), reduction=reduction), [a, b])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data(), shape=nt.shapes(), weighted=st.booleans())
def test_bce_with_logits(reduction, data, shape, weighted):
    z = data.draw(nt.arrays(shape, low=-4, high=4))
    y = data.draw(nt.arrays(shape, low=0.0, high=1.0))
    pw = data.draw(nt.positive_arrays(shape[-1:] if shape else ())) if weighted else None

    def f(x, t):
        return ng.binary_cross_entropy_with_logits(x, t, pos_weight=pw, reduction=reduction)
    assert_gradients(f, [z, y])
    torch = pytest.importorskip("torch")
    assert_matches_torch(f, lambda x, t: torch.nn.functional.binary_cross_entropy_with_logits(
        x, t, pos_weight=None if pw is None else torch.tensor(pw), reduction=reduction), [z, y])


def test_bce_with_extreme_logits_is_finite():
    z = ng.Tensor(np.array([-1e4, -50.0, 50.0, 1e4]), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = ng.binary_cross_entropy_with_logits(z, np.array([1.0, 0.0, 1.0, 0.0]))
        loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(z.grad))
