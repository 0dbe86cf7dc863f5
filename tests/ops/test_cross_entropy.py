"""cross_entropy's class weights, label smoothing and probability targets, and nll_loss:
gradients three ways (docs/math.md E13, E13a-E13c) and values and gradients against torch's
``torch.nn.functional`` in float64 and float32, and the errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch
from tests.ops.test_loss import cross_entropy_cases

REDUCTIONS = ["mean", "sum", "none"]
SMOOTHING = st.sampled_from([0.0, 0.1, 1.0]) | st.floats(0.0, 1.0)


@st.composite
def class_cases(draw):
    """Logits (N, C) or (N, C, d), class targets (the first ignored or not), positive class
    weights or None, a label smoothing in [0, 1]."""
    z, t = draw(cross_entropy_cases())
    w = draw(nt.positive_arrays((z.shape[1],))) if draw(st.booleans()) else None
    return z, t, w, draw(SMOOTHING)


@st.composite
def probability_cases(draw):
    """Logits (C,), (N, C) or (N, C, d), probability targets of their shape (each
    distribution along the class axis), class weights or None, a label smoothing."""
    c = draw(st.integers(1, 4))
    shape = draw(st.sampled_from([(c,), (3, c), (2, c, 2)]))
    z = draw(nt.arrays(shape, low=-3, high=3))
    p = draw(nt.positive_arrays(shape, low=0.1, high=1.0))
    p = p / p.sum(axis=0 if len(shape) == 1 else 1, keepdims=True)
    w = draw(nt.positive_arrays((c,))) if draw(st.booleans()) else None
    return z, p, w, draw(SMOOTHING)


def _torch_weight(w):
    import torch
    return None if w is None else torch.tensor(w)


# -- class targets: weight, label_smoothing, ignore_index -----------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=class_cases())
def test_cross_entropy_weight_and_smoothing_gradients(reduction, case):
    z, t, w, eps = case
    assert_gradients(lambda x: ng.cross_entropy(x, t, weight=w, label_smoothing=eps,
                                                reduction=reduction), [z])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=class_cases())
def test_cross_entropy_weight_and_smoothing_match_torch(reduction, case):
    import torch
    z, t, w, eps = case
    if reduction == "mean" and np.all(t == -100):
        return          # torch gives NaN here by design; ours is 0 (tested below)
    assert_matches_torch(
        lambda x: ng.cross_entropy(x, t, weight=w, label_smoothing=eps, reduction=reduction),
        lambda x: torch.nn.functional.cross_entropy(
            x, torch.tensor(t), weight=_torch_weight(w), label_smoothing=eps,
            reduction=reduction), [z])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=class_cases())
def test_nll_loss_gradients(reduction, case):
    z, t, w, _ = case
    assert_gradients(lambda x: ng.nll_loss(x, t, weight=w, reduction=reduction), [z])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=class_cases())
def test_nll_loss_matches_torch(reduction, case):
    import torch
    z, t, w, _ = case
    if reduction == "mean" and np.all(t == -100):
        return
    assert_matches_torch(
        lambda x: ng.nll_loss(ng.log_softmax(x, dim=1), t, w, reduction=reduction),
        lambda x: torch.nn.functional.nll_loss(
            torch.log_softmax(x, dim=1), torch.tensor(t), _torch_weight(w),
            reduction=reduction), [z])


@pytest.mark.torch
def test_nll_loss_is_cross_entropy_without_its_log_softmax():
    """Raw inputs (not log-probabilities), with another ignore_index: −w_t x_t, the mean over
    the weights of the counted rows, as torch."""
    import torch
    rng = np.random.default_rng(3)
    x, w, t = rng.standard_normal((4, 3)), rng.uniform(0.5, 2, 3), np.array([2, 0, 1, 0])
    assert_matches_torch(lambda a: ng.nll_loss(a, t, w, ignore_index=1),
                         lambda a: torch.nn.functional.nll_loss(
                             a, torch.tensor(t), torch.tensor(w), ignore_index=1), [x])


# -- probability targets ---------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=probability_cases())
def test_cross_entropy_probability_targets_gradients(reduction, case):
    """The logits, the target probabilities and the weight get gradients (E13c), as in
    torch."""
    z, p, w, eps = case
    inputs = [z, p] + ([] if w is None else [w])
    assert_gradients(lambda x, q, *w: ng.cross_entropy(x, q, weight=w[0] if w else None,
                                                       label_smoothing=eps,
                                                       reduction=reduction), inputs)


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=probability_cases())
def test_cross_entropy_probability_targets_match_torch(reduction, case):
    import torch
    z, p, w, eps = case
    inputs = [z, p] + ([] if w is None else [w])
    assert_matches_torch(
        lambda x, q, *w: ng.cross_entropy(x, q, weight=w[0] if w else None,
                                          label_smoothing=eps, reduction=reduction),
        lambda x, q, *w: torch.nn.functional.cross_entropy(
            x, q, weight=w[0] if w else None, label_smoothing=eps, reduction=reduction),
        inputs)


# -- float32 ---------------------------------------------------------------------------------

def _float32_parity(ours, theirs, z, target):
    """Loss and logit gradient of ``ours`` and torch's ``theirs`` on float32 logits: both
    float32, equal to float32 precision."""
    import torch
    x = ng.Tensor(z, requires_grad=True)
    tx = torch.tensor(z, requires_grad=True)
    loss, tloss = ours(x, target), theirs(tx, torch.tensor(target))
    v = np.random.default_rng(1).standard_normal(loss.shape).astype(np.float32)
    loss.backward(v)
    tloss.backward(torch.tensor(v))
    assert loss.dtype == x.grad.dtype == np.float32
    np.testing.assert_allclose(loss.data, tloss.detach().numpy(), rtol=2e-6, atol=1e-6,
                               err_msg="loss")
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=2e-5, atol=1e-6,
                               err_msg="gradient of the logits")


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("eps", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [True, False], ids=["weight", "no_weight"])
def test_float32_class_targets_match_torch(reduction, eps, weighted):
    """float32 logits give a float32 loss and gradient, with class weights or without
    (without, the coefficients were float64: a float64 loss and float64 arithmetic for every
    float32 model)."""
    import torch
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    z = (3 * rng.standard_normal((6, 5, 2))).astype(np.float32)
    t = rng.integers(0, 5, (6, 2))
    t[0, 0] = t[3, 1] = -100
    w = rng.uniform(0.2, 3.0, 5).astype(np.float32) if weighted else None
    tw = torch.tensor(w) if weighted else None
    _float32_parity(lambda x, y: ng.cross_entropy(x, y, weight=w, label_smoothing=eps,
                                                  reduction=reduction),
                    lambda x, y: F.cross_entropy(x, y, weight=tw, label_smoothing=eps,
                                                 reduction=reduction),
                    z, t)
    _float32_parity(lambda x, y: ng.nll_loss(x, y, w, reduction=reduction),
                    lambda x, y: F.nll_loss(x, y, tw, reduction=reduction),
                    z, t)


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float32_probability_targets_match_torch(reduction):
    import torch
    rng = np.random.default_rng(2)
    z = (3 * rng.standard_normal((4, 3))).astype(np.float32)
    p = rng.dirichlet(np.ones(3), 4).astype(np.float32)
    w = rng.uniform(0.2, 3.0, 3).astype(np.float32)
    _float32_parity(lambda x, y: ng.cross_entropy(x, y, weight=w, label_smoothing=0.2,
                                                  reduction=reduction),
                    lambda x, y: torch.nn.functional.cross_entropy(
                        x, y, weight=torch.tensor(w), label_smoothing=0.2,
                        reduction=reduction), z, p)


# -- edge cases --------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_no_counted_weight_is_zero_not_nan(reduction):
    """Every target ignored, or every counted target of class weight 0: the "mean" divides
    by no weight, and is 0 as for an unweighted all-ignored batch (torch: NaN)."""
    z = ng.Tensor(np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -2.0]]), requires_grad=True)
    w = np.array([0.0, 2.0, 1.0])
    for t in ([-100, -100], [0, -100], [0, 0]):
        z.grad = None
        loss = ng.cross_entropy(z, np.array(t), weight=w, reduction=reduction)
        loss.sum().backward()
        np.testing.assert_array_equal(loss.data, np.zeros(loss.shape), err_msg=str(t))
        np.testing.assert_array_equal(z.grad, np.zeros((2, 3)), err_msg=str(t))


def test_an_ignored_row_of_minus_inf_with_weight_and_smoothing_has_no_nan():
    """An ignored row is selected away, so its -inf logits give neither NaN in the loss nor
    in the gradient; the counted row is torch's (weight 2 for class 0, ε = 0.1)."""
    z = ng.Tensor(np.array([[0.0, 0.0], [-np.inf, -np.inf]]), requires_grad=True)
    w = np.array([2.0, 1.0])
    loss = ng.cross_entropy(z, np.array([0, -100]), weight=w, label_smoothing=0.1)
    loss.backward()
    # row 0: q = 0.9·2·e_0 + 0.05·w = (1.9, 0.05); ℓ = Σq log 2; mean over the weight 2
    np.testing.assert_allclose(loss.item(), 1.95 * np.log(2) / 2, rtol=1e-15)
    np.testing.assert_allclose(z.grad, [[(0.5 * 1.95 - 1.9) / 2, (0.5 * 1.95 - 0.05) / 2],
                                        [0.0, 0.0]], rtol=1e-15)


def test_smoothing_without_weight_equals_its_formula():
    """(1-ε)·NLL + ε·mean over classes of -log p, row by row (torch's documented formula)."""
    rng = np.random.default_rng(4)
    z, t, eps = rng.standard_normal((3, 4)), np.array([1, 3, 0]), 0.25
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    want = (1 - eps) * -logp[np.arange(3), t] + eps * -logp.mean(1)
    got = ng.cross_entropy(z, t, label_smoothing=eps, reduction="none").data
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_unbatched_class_and_probability_targets():
    z = np.array([0.5, -1.0, 2.0])
    p = np.array([0.2, 0.3, 0.5])
    logp = z - np.log(np.exp(z).sum())
    assert ng.cross_entropy(z, np.int64(2), weight=np.array([1.0, 1.0, 3.0])).shape == ()
    np.testing.assert_allclose(ng.cross_entropy(z, p).item(), -(p * logp).sum(), rtol=1e-15)
    np.testing.assert_allclose(ng.nll_loss(logp, np.array(1)).item(), -logp[1], rtol=1e-15)


def test_probability_targets_promote_as_torch():
    """float32 logits with float64 probabilities give a float64 loss (torch promotes); the
    gradients keep their inputs' dtypes."""
    z = ng.Tensor(np.zeros((2, 3), np.float32), requires_grad=True)
    p = ng.Tensor(np.full((2, 3), 1 / 3), requires_grad=True)
    loss = ng.cross_entropy(z, p)
    loss.backward()
    assert loss.dtype == np.float64 and z.grad.dtype == np.float32
    assert p.grad.dtype == np.float64
    np.testing.assert_allclose(loss.item(), np.log(3), rtol=1e-7)


# -- errors ----------------------------------------------------------------------------------

def test_weight_errors():
    z = ng.Tensor(np.ones((2, 3)))
    t = np.array([0, 1])
    for bad in (np.ones(2), np.ones((1, 3)), np.ones(4)):
        with pytest.raises(ValueError, match=r"cross_entropy: weight must have shape \(3,\) "
                                             r"\(one per class\), got " + str(bad.shape)
                                             .replace("(", r"\(").replace(")", r"\)")):
            ng.cross_entropy(z, t, weight=bad)
    with pytest.raises(TypeError, match="nll_loss: weight must be float64 like the input, "
                                        "got int64"):
        ng.nll_loss(z, t, weight=np.ones(3, np.int64))
    with pytest.raises(TypeError, match="cross_entropy: weight must be float64 like the "
                                        "input, got float32"):
        ng.cross_entropy(z, t, weight=np.ones(3, np.float32))
    with pytest.raises(ValueError, match="not differentiable with respect to weight"):
        ng.cross_entropy(z, t, weight=ng.Tensor(np.ones(3), requires_grad=True))
    # negative weights are allowed, as in torch; a list takes the logits' dtype
    assert ng.cross_entropy(z, t, weight=[-1.0, 2.0, 1.0]).dtype == np.float64


@pytest.mark.parametrize("eps", [-0.1, 1.5, float("nan")])
def test_label_smoothing_outside_0_1(eps):
    z = ng.Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got "):
        ng.cross_entropy(z, np.array([0, 1]), label_smoothing=eps)


def test_target_errors():
    z = ng.Tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match="integer class indices of shape \\(2,\\) or "
                                        "probabilities of the logits' shape"):
        ng.cross_entropy(z, np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="class probabilities must be floating, got int64"):
        ng.cross_entropy(z, np.ones((2, 3), np.int64))
    with pytest.raises(ValueError, match="ignore_index is not supported for probability"):
        ng.cross_entropy(z, np.full((2, 3), 1 / 3), ignore_index=0)
    with pytest.raises(TypeError, match="ignore_index must be an int, got ndarray; torch's "
                                        "third positional argument is weight"):
        ng.cross_entropy(z, np.array([0, 1]), np.ones(3))
    with pytest.raises(TypeError, match="nll_loss: target must hold integer class indices"):
        ng.nll_loss(z, np.full((2, 3), 1 / 3))
    with pytest.raises(IndexError, match="nll_loss: target 3 is out of range for 3 classes"):
        ng.nll_loss(z, np.array([0, 3]))
    with pytest.raises(ValueError, match="nll_loss: reduction must be one of"):
        ng.nll_loss(z, np.array([0, 1]), reduction="avg")
