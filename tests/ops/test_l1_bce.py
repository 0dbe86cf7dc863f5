"""l1_loss (docs/math.md E14b) and binary_cross_entropy on probabilities (E15a), as torch's:
values and gradients of input, target and l1's weight against torch in float64 for every
reduction, gradients checked three ways away from the kinks and clamps, torch's values at
the kink x = y and at the clamped x = 0 and 1, and the errors."""

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
def l1_cases(draw):
    """Input and target that broadcast, |x − y| ≥ 0.1 everywhere (no kink: x is at least
    0.5 from 0, y within 0.4 of it), and a positive weight of the input's shape or None."""
    shapes = draw(nt.broadcastable_shapes(2))
    x = draw(nt.arrays(shapes[0], away_from=(0.0,), margin=0.5))
    y = draw(nt.arrays(shapes[1], low=-0.4, high=0.4))
    w = draw(nt.positive_arrays(shapes[0])) if draw(st.booleans()) else None
    return x, y, w


def quietly(fn):
    """``fn`` without the widening target's warning (ours and torch's)."""
    def call(*args):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="l1_loss: the target has shape")
            warnings.filterwarnings("ignore", message="Using a target size")
            return fn(*args)
    return call


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=l1_cases())
def test_l1_loss_gradients(reduction, case):
    x, y, w = case
    if w is None or (reduction == "mean" and w.size == 1):
        # w Σ |x − y| / w does not depend on w: its gradient is 0 up to rounding
        assert_gradients(quietly(lambda a, b: ng.l1_loss(a, b, reduction, weight=w)), [x, y])
        return
    assert_gradients(quietly(lambda a, b, c: ng.l1_loss(a, b, reduction, weight=c)), [x, y, w])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=l1_cases())
def test_l1_loss_matches_torch(reduction, case):
    import torch.nn.functional as TF
    x, y, w = case
    inputs = [x, y] if w is None else [x, y, w]
    assert_matches_torch(
        quietly(lambda *a: F.l1_loss(*a[:2], reduction=reduction, weight=a[2] if w is not None
                                     else None)),
        quietly(lambda *a: TF.l1_loss(*a[:2], reduction=reduction, weight=a[2] if w is not None
                                      else None)),
        inputs)


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_l1_loss_at_the_kink_is_torchs(reduction):
    """x = y: the loss 0 and the gradient sign(0) = 0, as torch's (with and without a
    weight); a NaN difference gives 0 too, as torch's sign."""
    import torch
    import torch.nn.functional as TF
    x = np.array([[0.0, 1.5, -2.0], [3.0, np.nan, 0.25]])
    y = np.array([[0.0, 1.5, -1.0], [3.0, 0.0, 0.75]])
    for w in (None, np.array([[1.0, 2.0, 0.5], [3.0, 1.0, 2.0]])):
        ours = ng.tensor(x.copy(), requires_grad=True)
        theirs = torch.tensor(x, requires_grad=True)
        tw = None if w is None else torch.tensor(w)
        loss = ng.l1_loss(ours, y, reduction, weight=w)
        tloss = TF.l1_loss(theirs, torch.tensor(y), reduction=reduction, weight=tw)
        np.testing.assert_allclose(loss.numpy(), tloss.detach().numpy(), rtol=1e-15,
                                   err_msg=f"loss, weight {w is not None}")
        g = np.arange(1.0, 7.0).reshape(2, 3) if reduction == "none" else np.array(1.0)
        loss.backward(g)
        tloss.backward(torch.tensor(g))
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-15,
                                   err_msg=f"dx, weight {w is not None}")


def test_l1_loss_is_abs_of_the_difference_reduced():
    """An independent composition: |x − y| by E19's abs, weighted and reduced by hand."""
    rng = np.random.default_rng(0)
    x, y, w = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.uniform(0.5, 2, (3, 4))
    for reduction, reduce in (("mean", lambda v: v.sum() / w.sum()), ("sum", np.sum),
                              ("none", lambda v: v)):
        got = ng.l1_loss(x, y, reduction, weight=w).numpy()
        np.testing.assert_allclose(got, reduce(w * ng.abs(ng.tensor(x - y)).numpy()),
                                   rtol=1e-14, err_msg=reduction)


def test_l1_loss_zero_weights_give_a_zero_mean_not_nan():
    x = ng.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    w = ng.tensor(np.zeros(3), requires_grad=True)
    loss = ng.l1_loss(x, np.zeros(3), weight=w)
    loss.backward()
    assert loss.item() == 0.0
    np.testing.assert_array_equal(x.grad, np.zeros(3))
    np.testing.assert_array_equal(w.grad, np.abs(x.numpy()))


def test_l1_loss_errors():
    x = ng.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"l1_loss: reduction must be one of"):
        ng.l1_loss(x, x, "avg")
    with pytest.raises(ValueError, match=r"l1_loss: weight must have the input's shape "
                                          r"\(2, 3\) \(as torch\), got \(3,\)"):
        ng.l1_loss(x, x, weight=np.ones(3))
    with pytest.raises(TypeError, match="l1_loss: not defined for bool input"):
        ng.l1_loss(x, np.ones((2, 3), bool))
    with pytest.raises(ValueError, match="l1_loss"):
        ng.l1_loss(x, np.zeros((4,)))
    with pytest.raises(ValueError, match="l1_loss: size_average and reduce"):
        F.l1_loss(x, x, True)


def test_l1_loss_warns_at_the_callers_line():
    x, y = ng.tensor(np.zeros(3)), np.zeros((2, 1))
    for call in (lambda: ng.l1_loss(x, y), lambda: F.l1_loss(x, y),
                 lambda: ng.nn.L1Loss()(x, y)):
        with pytest.warns(UserWarning, match="l1_loss: the target has shape") as caught:
            call()
        assert [w.filename for w in caught] == [__file__]


@st.composite
def bce_cases(draw):
    """Probabilities in [0.05, 0.95] (no clamp, no floor), targets in [0, 1] of their
    shape, a weight (any sign) broadcast to it or None."""
    shape = draw(nt.shapes())
    x = draw(nt.arrays(shape, low=0.05, high=0.95))
    y = draw(nt.arrays(shape, low=0.0, high=1.0))
    w = None
    if draw(st.booleans()):
        w = draw(nt.arrays(draw(st.sampled_from([shape, shape[-1:], (1,) * len(shape), ()])),
                           low=-2, high=2))
    return x, y, w


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=bce_cases())
def test_binary_cross_entropy_gradients(reduction, case):
    x, y, w = case
    assert_gradients(lambda a, b: ng.binary_cross_entropy(a, b, w, reduction), [x, y])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=bce_cases())
def test_binary_cross_entropy_matches_torch(reduction, case):
    import torch
    x, y, w = case
    tw = None if w is None else torch.tensor(w)
    assert_matches_torch(lambda a, b: F.binary_cross_entropy(a, b, w, reduction=reduction),
                         lambda a, b: torch.nn.functional.binary_cross_entropy(
                             a, b, tw, reduction=reduction), [x, y])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_cross_entropy_clamps_as_torch(reduction, dtype):
    """At x = 0 and 1 and where a log falls below −100 (x = 1e-50), or 1 − x rounds to 1
    (x = 1e-20): the loss is torch's (each log clamped at −100), dx torch's (x − y) /
    max(x (1 − x), 1e-12) (finite), dy torch's log(1 − x) − log x (±inf at 0 and 1)."""
    import torch
    import torch.nn.functional as TF
    x0 = np.array([0.0, 1.0, 0.0, 1.0, 1e-50, 1e-20, 1 - 1e-16, 1e-7, 0.5], dtype)
    y0 = np.array([0.0, 1.0, 1.0, 0.0, 0.5, 0.3, 0.5, 1.0, 0.25], dtype)
    w0 = np.linspace(0.5, 2.0, 9).astype(dtype)
    x, y = ng.tensor(x0.copy(), requires_grad=True), ng.tensor(y0.copy(), requires_grad=True)
    tx, ty = torch.tensor(x0, requires_grad=True), torch.tensor(y0, requires_grad=True)
    loss = ng.binary_cross_entropy(x, y, w0, reduction)
    tloss = TF.binary_cross_entropy(tx, ty, torch.tensor(w0), reduction=reduction)
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    assert loss.dtype == dtype and np.all(np.isfinite(loss.numpy()))
    np.testing.assert_allclose(loss.numpy(), tloss.detach().numpy(), rtol=rtol, err_msg="loss")
    g = np.linspace(1.0, 2.0, 9).astype(dtype) if reduction == "none" else np.array(1, dtype)
    loss.backward(g)
    tloss.backward(torch.tensor(g))
    assert np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=rtol, err_msg="dx")
    np.testing.assert_allclose(y.grad, ty.grad.numpy(), rtol=rtol, err_msg="dy")


def test_binary_cross_entropy_is_the_formula_on_the_open_interval():
    """An independent computation away from the clamp: −w [y log x + (1 − y) log1p(−x)]."""
    rng = np.random.default_rng(1)
    x, y, w = rng.uniform(1e-9, 1, (4, 3)), rng.uniform(0, 1, (4, 3)), rng.uniform(0, 2, 3)
    want = -w * (y * np.log(x) + (1 - y) * np.log1p(-x))
    np.testing.assert_allclose(ng.binary_cross_entropy(x, y, w, "none").numpy(), want,
                               rtol=1e-14)
    np.testing.assert_allclose(ng.binary_cross_entropy(x, y, w).numpy(), want.mean(),
                               rtol=1e-14)


def test_binary_cross_entropy_takes_integer_labels_in_the_inputs_dtype():
    x = ng.tensor(np.array([0.25, 0.75], np.float32))
    assert ng.binary_cross_entropy(x, np.array([0, 1])).dtype == np.float32
    assert ng.binary_cross_entropy(x, np.array([0, 1]), np.ones(2)).dtype == np.float32


@pytest.mark.parametrize("bad", [1.5, -0.1, np.nan, 1 + 1e-15])
def test_binary_cross_entropy_refuses_what_is_not_a_probability(bad):
    """torch: RuntimeError 'all elements of input should be between 0 and 1'."""
    ok = np.array([0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match=r"binary_cross_entropy: every element of the input "
                                         r"must be a probability in \[0, 1\] \(as torch\), "
                                         r"got 1 outside it or NaN"):
        ng.binary_cross_entropy(np.append(ok, bad), np.append(ok, 0.5))
    with pytest.raises(ValueError, match="every element of the target must be a probability"):
        ng.binary_cross_entropy(np.append(ok, 0.5), np.append(ok, bad))


def test_binary_cross_entropy_errors():
    x = ng.tensor(np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match="binary_cross_entropy: reduction must be one of"):
        ng.binary_cross_entropy(x, x, None, "avg")
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target has shape \(3,\), "
                                         r"expected the input's shape \(2, 3\)"):
        ng.binary_cross_entropy(x, np.full(3, 0.5))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: weight of shape \(2,\) does "
                                         r"not broadcast to the input's shape \(2, 3\)"):
        ng.binary_cross_entropy(x, x, np.ones(2))
    with pytest.raises(ValueError, match="not differentiable with respect to weight"):
        ng.binary_cross_entropy(x, x, ng.tensor(np.ones(3), requires_grad=True))
    with pytest.raises(TypeError, match="binary_cross_entropy: not defined for a bool"):
        ng.binary_cross_entropy(np.ones(3, bool), np.ones(3))
    with pytest.raises(ValueError, match="binary_cross_entropy: size_average and reduce"):
        F.binary_cross_entropy(x, x, None, True)


def test_empty_means_are_zero():
    """torch gives NaN; the library's mean over nothing is 0."""
    assert ng.binary_cross_entropy(np.zeros(0), np.zeros(0)).item() == 0.0
    assert ng.l1_loss(np.zeros(0), np.zeros(0)).item() == 0.0
