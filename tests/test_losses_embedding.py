"""pairwise_distance and the losses of embeddings, rankings and likelihoods, as torch's:
TripletMarginLoss, CosineEmbeddingLoss, MarginRankingLoss, SoftMarginLoss,
MultiLabelSoftMarginLoss, GaussianNLLLoss, PoissonNLLLoss and their functional forms
(compositions of the ops in nn.functional, whose gradients autograd derives).

Against torch 2.13 in float64 (tests marked ``torch``): values and gradients of every
floating operand, for every reduction, with the broadcasting and edge cases torch allows
(a variance below eps or one per row, Stirling's term at targets 0, 1 and above, a tie of
the swapped distances, targets other than ±1, a hinge exactly at 0), dtypes, signatures,
state_dict and repr. Without torch: central-difference gradchecks of each composition,
the documented formulas at hand-computed points, and the errors, each naming what was
expected and what was given.
"""

import inspect
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
import nongate_np.nn.functional as F
from nongate_np.check import testing as nt
from tests.helpers import assert_matches_torch

REDUCTIONS = ["mean", "sum", "none"]
NAMES = ["TripletMarginLoss", "CosineEmbeddingLoss", "MarginRankingLoss", "GaussianNLLLoss",
         "PoissonNLLLoss", "SoftMarginLoss", "MultiLabelSoftMarginLoss"]
FUNCTIONS = ["pairwise_distance", "triplet_margin_loss", "cosine_embedding_loss",
             "margin_ranking_loss", "gaussian_nll_loss", "poisson_nll_loss",
             "soft_margin_loss", "multilabel_soft_margin_loss"]
RNG = np.random.default_rng(20)


def tf():
    import torch.nn.functional
    return torch.nn.functional


def as_torch(v):
    import torch
    return torch.from_numpy(v) if isinstance(v, np.ndarray) else v


# -- the names and signatures ---------------------------------------------------------------

def test_the_names_are_exported():
    for name in NAMES:
        assert issubclass(getattr(ng.nn, name), ng.nn.Module) and name in ng.nn.__all__, name
    for name in FUNCTIONS:
        assert callable(getattr(F, name)) and name in F.__all__, name


def _params(fn):
    return [(p.name, p.default, p.kind) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
def test_the_modules_take_torchs_arguments_and_operands(name):
    """Constructor and forward: names, order, defaults, kinds (GaussianNLLLoss's are
    keyword-only, PoissonNLLLoss's forward names its input log_input), so a torch call
    moves over as it is."""
    import torch
    ours, theirs = getattr(ng.nn, name), getattr(torch.nn, name)
    assert _params(ours) == _params(theirs)
    assert _params(ours.forward) == _params(theirs.forward)


@pytest.mark.torch
@pytest.mark.parametrize("name", FUNCTIONS[1:])
def test_the_functions_take_torchs_arguments(name):
    assert _params(getattr(F, name)) == _params(getattr(tf(), name))


# -- pairwise_distance ----------------------------------------------------------------------

@pytest.mark.torch
@given(shapes=nt.broadcastable_shapes(2, min_dims=0), data=st.data(),
       p=st.sampled_from([0, 1, 1.5, 2.0, 3, np.inf, -np.inf]),
       eps=st.sampled_from([1e-6, 0.0, 0.3]), keepdim=st.booleans())
def test_pairwise_distance_matches_torch(shapes, data, p, eps, keepdim):
    """‖x1 − x2 + eps‖_p over the last dimension of the broadcast shape: values and both
    gradients (p = 0 counts, with no gradient in either)."""
    x1, x2 = (data.draw(nt.arrays(s, low=-2, high=2)) for s in shapes)
    assert_matches_torch(lambda a, b: F.pairwise_distance(a, b, p, eps, keepdim),
                         lambda a, b: tf().pairwise_distance(a, b, p, eps, keepdim), [x1, x2])


@pytest.mark.torch
def test_pairwise_distance_adds_eps_to_the_difference_as_torch():
    """Equal vectors are eps·D^(1/p) apart (not 0), and with eps = 0 the distance is 0
    with a zero gradient, as torch's."""
    rng = np.random.default_rng(112)
    x = rng.normal(size=(3, 4))
    got = F.pairwise_distance(x, x.copy())
    np.testing.assert_allclose(got.numpy(), np.full(3, 2e-6), rtol=1e-12)
    np.testing.assert_allclose(F.pairwise_distance(x, x, p=1, eps=0.5).numpy(), np.full(3, 2.0),
                               rtol=1e-15)
    for eps in (0.0, 1e-6):
        assert_matches_torch(lambda a, b: F.pairwise_distance(a, b, eps=eps),
                             lambda a, b: tf().pairwise_distance(a, b, eps=eps), [x, x.copy()])


# -- TripletMarginLoss ----------------------------------------------------------------------

TRIPLET_SHAPES = {"(N, D)": ((5, 4), (5, 4), (5, 4)),
                  "negative (1, D)": ((5, 4), (5, 4), (1, 4)),
                  "(D,)": ((4,), (4,), (4,)),
                  "(B, N, D)": ((2, 3, 4), (2, 3, 4), (2, 3, 4))}


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", TRIPLET_SHAPES.values(), ids=TRIPLET_SHAPES.keys())
@pytest.mark.parametrize("kwargs", [{}, dict(swap=True), dict(margin=2.5, p=1, eps=0.1),
                                    dict(margin=0.5, p=np.inf, swap=True)],
                         ids=["default", "swap", "p1", "pinf-swap"])
def test_triplet_margin_loss_matches_torch(kwargs, shapes, reduction):
    rng = np.random.default_rng(111)
    a, pos, neg = (rng.normal(size=s) for s in shapes)
    ours, theirs = modules("TripletMarginLoss", reduction=reduction, **kwargs)
    assert_matches_torch(ours, theirs, [a, pos, neg])
    assert_matches_torch(
        lambda x, y, z: F.triplet_margin_loss(x, y, z, reduction=reduction, **kwargs),
        lambda x, y, z: tf().triplet_margin_loss(x, y, z, reduction=reduction, **kwargs),
        [a, pos, neg])


@pytest.mark.torch
def test_triplet_hinges_and_swap_tie_as_torch():
    """Some triplets active, some clamped to 0 (the clamp's gradient); with swap and the
    anchor equal to the positive, d(anchor, negative) = d(positive, negative): the
    minimum's gradient is halved between them, as torch's."""
    rng = np.random.default_rng(110)
    a = rng.normal(size=(6, 3))
    neg = a + rng.normal(size=(6, 3))
    pos = a + 0.3 * rng.normal(size=(6, 3))
    loss = F.triplet_margin_loss(a, pos, neg, reduction="none").numpy()
    assert np.any(loss == 0) and np.any(loss > 0)
    for positive in (pos, a.copy()):
        assert_matches_torch(lambda x, y, z: F.triplet_margin_loss(x, y, z, swap=True),
                             lambda x, y, z: tf().triplet_margin_loss(x, y, z, swap=True),
                             [a, positive, neg])


# -- CosineEmbeddingLoss ----------------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.5])
@pytest.mark.parametrize("case", ["pairs", "broadcast", "one pair", "other targets",
                                  "integer targets", "zero vectors", "tiny vectors"])
def test_cosine_embedding_loss_matches_torch(case, margin, reduction):
    """1 − cos for target 1, max(cos − margin, 0) for −1, 0 for any other target value (torch
    does not check them); (N, D) beside (1, D); a 0-d target with (D,) inputs; zero vectors
    (cos 0 through the ε), and vectors whose squared norms are near ε, where cos depends on
    ε being torch's float32 1e-12."""
    rng = np.random.default_rng(109)
    x1, x2 = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    y = np.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])
    if case == "broadcast":
        x2 = x2[:1]
    elif case == "one pair":
        x1, x2, y = x1[0], x2[0], np.array(-1.0)
    elif case == "other targets":
        y = np.array([1.0, 0.0, 0.5, -1.0, 2.0, -1.0])
    elif case == "integer targets":
        y = np.array([1, -1, -1, 1, -1, 1])
    elif case == "zero vectors":
        x1[:2], x2[1:3] = 0.0, 0.0
    elif case == "tiny vectors":
        x1, x2 = x1 * 1e-6, x2 * 1e-6
    ours, theirs = modules("CosineEmbeddingLoss", margin=margin, reduction=reduction)
    assert_matches_torch(lambda a, b: ours(a, b, y), lambda a, b: theirs(a, b, as_torch(y)),
                         [x1, x2])


@pytest.mark.torch
def test_cosine_embedding_target_broadcasts_over_one_pair_as_torch():
    """A target (N,) beside one pair (1, D) repeats its loss (torch's where broadcasts)."""
    rng = np.random.default_rng(108)
    x1, x2, y = rng.normal(size=(1, 4)), rng.normal(size=(1, 4)), np.array([1.0, -1.0, 1.0])
    assert_matches_torch(lambda a, b: F.cosine_embedding_loss(a, b, y, 0.1, reduction="none"),
                         lambda a, b: tf().cosine_embedding_loss(a, b, as_torch(y), 0.1,
                                                                 reduction="none"), [x1, x2])


def test_cosine_embedding_loss_values_by_hand():
    """Parallel vectors: 0 for target 1 and 1 − margin for −1; orthogonal: 1 and 0."""
    x = np.array([[1.0, 2.0, 2.0], [3.0, 0.0, 0.0]])
    for y, want in ((np.array([1, 1]), [0.0, 1.0]), (np.array([-1, -1]), [0.8, 0.0])):
        got = F.cosine_embedding_loss(x, np.array([[2.0, 4.0, 4.0], [0.0, 5.0, 0.0]]), y,
                                      margin=0.2, reduction="none")
        np.testing.assert_allclose(got.numpy(), want, atol=1e-12)


# -- MarginRankingLoss ----------------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.4])
@pytest.mark.parametrize("shapes", [((7,), (7,), (7,)), ((7,), (1,), (7,)),
                                    ((2, 3), (2, 3), (1, 3)), ((), (), ())],
                         ids=["same", "input2 (1,)", "target (1, 3)", "0-d"])
def test_margin_ranking_loss_matches_torch(shapes, margin, reduction):
    """Values and the gradients of input1, input2 and the target (torch's composition
    differentiates it too)."""
    rng = np.random.default_rng(107)
    x1, x2 = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    y = np.where(rng.random(shapes[2]) < 0.5, -1.0, 1.0)
    ours, theirs = modules("MarginRankingLoss", margin=margin, reduction=reduction)
    assert_matches_torch(ours, theirs, [x1, x2, y])


@pytest.mark.torch
def test_margin_ranking_at_the_hinge_and_with_integer_targets_as_torch():
    """At −y (x1 − x2) + margin = 0 the gradient passes (torch's clamp_min); an integer
    target takes the inputs' dtype."""
    x1, x2 = np.array([1.0, 2.0, 0.5, -1.0]), np.array([1.0, 1.0, 0.5, 3.0])
    y = np.array([1, -1, -1, 1])
    assert_matches_torch(lambda a, b: F.margin_ranking_loss(a, b, y, reduction="none"),
                         lambda a, b: tf().margin_ranking_loss(a, b, as_torch(y),
                                                               reduction="none"), [x1, x2])
    assert F.margin_ranking_loss(x1.astype(np.float32), x2.astype(np.float32), y).dtype == \
        np.float32


# -- GaussianNLLLoss ------------------------------------------------------------------------

@st.composite
def gaussian_cases(draw):
    """Input (N, D), a target of its shape or broadcasting into it, and a variance of each
    shape torch takes: the input's, one fewer dimension, the last dimension 1, another
    dimension 1, a number; some variances below eps or 0."""
    n, d = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x = draw(nt.arrays((n, d), low=-3, high=3))
    t = draw(nt.arrays(draw(st.sampled_from([(n, d), (d,), ()])), low=-3, high=3))
    var_shape = draw(st.sampled_from([(n, d), (n,), (n, 1), (1, d), "number"]))
    if var_shape == "number":
        return x, t, draw(st.sampled_from([0.0, 1e-9, 0.7, 2.0]))
    v = draw(nt.arrays(var_shape, low=0.05, high=3))
    v.flat[0] = draw(st.sampled_from([0.0, 1e-9, v.flat[0]]))
    return x, t, v


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=gaussian_cases(), full=st.booleans(), eps=st.sampled_from([1e-6, 0.1]))
def test_gaussian_nll_loss_matches_torch(reduction, case, full, eps):
    """Values and the gradients of input, target and var, a var below eps included (its
    gradient passes there, as torch's clamp under no_grad)."""
    x, t, v = case
    ours, theirs = modules("GaussianNLLLoss", full=full, eps=eps, reduction=reduction)
    if isinstance(v, float):
        assert_matches_torch(lambda a, b: ours(a, b, v), lambda a, b: theirs(a, b, v), [x, t])
    else:
        assert_matches_torch(ours, theirs, [x, t, v])


@pytest.mark.torch
def test_gaussian_nll_loss_one_variance_for_a_vector_as_torch():
    """A 0-d var beside a 1-D input is one fewer dimension: unsqueezed, as torch's."""
    rng = np.random.default_rng(106)
    x, t, v = rng.normal(size=5), rng.normal(size=5), np.array(0.8)
    assert_matches_torch(lambda a, b, c: F.gaussian_nll_loss(a, b, c, reduction="none"),
                         lambda a, b, c: tf().gaussian_nll_loss(a, b, c, reduction="none"),
                         [x, t, v])


def test_gaussian_nll_loss_below_eps_by_hand():
    """The formula at var = 0 (clamped to eps) and var = 4, and the gradient for var below
    eps: ½ (1/eps − d²/eps²), not 0, as torch's (an ordinary clamp would give 0)."""
    eps = 0.01
    x, t = np.array([1.0, 1.0]), np.array([0.5, -1.0])
    v = ng.tensor(np.array([0.0, 4.0]), requires_grad=True)
    loss = F.gaussian_nll_loss(x, t, v, full=True, eps=eps, reduction="none")
    d2 = (x - t) ** 2
    want = 0.5 * (np.log([eps, 4.0]) + d2 / [eps, 4.0]) + 0.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(loss.numpy(), want, rtol=1e-14)
    loss.backward(np.ones(2))
    np.testing.assert_allclose(v.grad, 0.5 * (1 / np.array([eps, 4.0]) - d2 / [eps**2, 16.0]),
                               rtol=1e-12)
    assert v.grad[0] != 0


# -- PoissonNLLLoss -------------------------------------------------------------------------

POISSON_TARGETS = np.array([[0.0, 1.0, 3.0, 0.5], [7.0, 2.0, 1.0, 0.0]])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("eps", [1e-8, 0.5])
def test_poisson_nll_loss_matches_torch(full, log_input, reduction, eps):
    """Targets 0, 1, 0.5 (no Stirling term) and 2, 3, 7 (with it): values and the input's
    and target's gradients (NaN at a target 0 with full, as torch's)."""
    rng = np.random.default_rng(105)
    x = rng.uniform(-2, 2, (2, 4)) if log_input else rng.uniform(0.1, 3, (2, 4))
    ours, theirs = modules("PoissonNLLLoss", log_input=log_input, full=full, eps=eps,
                           reduction=reduction)
    assert_matches_torch(ours, theirs, [x, POISSON_TARGETS.copy()])


@pytest.mark.torch
@pytest.mark.parametrize("target_shape", [(3,), (2, 1), ()])
def test_poisson_nll_loss_broadcasts_and_takes_integer_counts_as_torch(target_shape):
    """Counts broadcasting into the input, as torch's; integer counts are the input's dtype
    (torch's promotion), so they give the loss of the same counts as floats. (torch's own
    Stirling term of integer counts is float32-rounded: the log of an int64 tensor is
    float32 there; ours is computed in the input's dtype.)"""
    rng = np.random.default_rng(104)
    x = rng.uniform(-1, 1, (2, 3))
    counts = rng.integers(0, 5, target_shape)
    assert_matches_torch(
        lambda a: F.poisson_nll_loss(a, counts, full=True, reduction="none"),
        lambda a: tf().poisson_nll_loss(a, as_torch(np.asarray(counts, np.float64)),
                                        full=True, reduction="none"), [x])
    as_float = F.poisson_nll_loss(x, counts.astype(np.float64), full=True, reduction="none")
    np.testing.assert_array_equal(
        F.poisson_nll_loss(x, counts, full=True, reduction="none").numpy(), as_float.numpy())
    assert F.poisson_nll_loss(x.astype(np.float32), counts, full=True).dtype == np.float32


def test_poisson_stirling_term_by_hand():
    """full adds t log t − t + ½ log(2π t) where t > 1 only."""
    x = np.array([0.2, 0.2, 0.2, 0.2])
    t = np.array([0.0, 1.0, 2.0, 5.0])
    base = np.exp(x) - t * x
    stirling = np.where(t > 1, t * np.log(np.maximum(t, 1)) - t
                        + 0.5 * np.log(2 * np.pi * np.maximum(t, 1)), 0.0)
    np.testing.assert_allclose(F.poisson_nll_loss(x, t, reduction="none").numpy(), base,
                               rtol=1e-15)
    np.testing.assert_allclose(F.poisson_nll_loss(x, t, full=True, reduction="none").numpy(),
                               base + stirling, rtol=1e-14)
    rate = np.array([0.0, 2.0])
    np.testing.assert_allclose(
        F.poisson_nll_loss(rate, np.array([3.0, 3.0]), log_input=False, eps=0.5,
                           reduction="none").numpy(), rate - 3 * np.log(rate + 0.5),
        rtol=1e-15)


# -- SoftMarginLoss, MultiLabelSoftMarginLoss -----------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("target_shape", [(3, 4), (4,), ()], ids=["same", "(D,)", "0-d"])
def test_soft_margin_loss_matches_torch(target_shape, reduction):
    rng = np.random.default_rng(103)
    x = rng.normal(size=(3, 4)) * 3
    y = np.where(rng.random(target_shape) < 0.5, -1.0, 1.0)
    ours, theirs = modules("SoftMarginLoss", reduction=reduction)
    assert_matches_torch(lambda a: ours(a, y), lambda a: theirs(a, as_torch(y)), [x])


@st.composite
def multilabel_cases(draw):
    """Input (N, C), (C,) or (B, N, C); targets in [0, 1] of its shape or (C,); a weight
    (C,) or None."""
    shape = draw(nt.shapes(min_dims=1, max_dims=3))
    x = draw(nt.arrays(shape, low=-6, high=6))
    y = draw(nt.arrays(draw(st.sampled_from([shape, shape[-1:]])), low=0, high=1))
    if draw(st.booleans()):
        y = np.round(y)
    w = draw(nt.arrays(shape[-1:], low=0.1, high=2)) if draw(st.booleans()) else None
    return x, y, w


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=multilabel_cases())
def test_multilabel_soft_margin_loss_matches_torch(reduction, case):
    """Values and the gradients of input, target and weight (torch's composition
    differentiates all three)."""
    x, y, w = case
    if w is None:
        ours, theirs = modules("MultiLabelSoftMarginLoss", reduction=reduction)
        assert_matches_torch(ours, theirs, [x, y])
    else:
        assert_matches_torch(
            lambda a, b, c: F.multilabel_soft_margin_loss(a, b, c, reduction=reduction),
            lambda a, b, c: tf().multilabel_soft_margin_loss(a, b, c, reduction=reduction),
            [x, y, w])


@pytest.mark.torch
def test_multilabel_log_sigmoid_is_stable_as_torchs():
    """Confident, correct logits (±30 to ±40): each class's loss is ~1e-17 to 1e-13, which
    log(1 + exp(−|x|)) rounds to 0; torch's stable logsigmoid keeps them, and so does ours,
    to 1e-12 relative."""
    x = np.array([[40.0, -40.0, 35.0], [-35.0, 30.0, 38.0]])
    y = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    assert_matches_torch(lambda a, b: F.multilabel_soft_margin_loss(a, b, reduction="none"),
                         lambda a, b: tf().multilabel_soft_margin_loss(a, b,
                                                                       reduction="none"),
                         [x, y], atol=0)


INF_LOGITS = np.array([[np.inf, -np.inf, 3.0, np.inf], [np.inf, -np.inf, 0.0, -np.inf],
                       [np.inf, -np.inf, -2.0, 1.0]])
INF_TARGETS = np.array([[1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.5, 0.0], [0.25, 0.75, 0.0, 1.0]])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_at_infinite_logits_as_torchs(reduction):
    """log σ(±inf) is 0 and −inf, as torch's logsigmoid (docs/math.md E6d), where a
    composition through binary_cross_entropy_with_logits gave 0 · inf = NaN for every
    infinite logit: the loss is torch's (NaN where a target of 0 or 1 multiplies the −inf
    by 0, inf where it weighs it, finite in a row without infinity), and the input's
    gradient torch's, finite."""
    torch = pytest.importorskip("torch")
    w = np.array([1.0, 2.0, 0.5, 1.5])
    for args in ([INF_LOGITS, INF_TARGETS], [INF_LOGITS, INF_TARGETS, w]):
        a, b = ng.tensor(args[0], requires_grad=True), torch.tensor(args[0], requires_grad=True)
        rest = [ng.tensor(v) for v in args[1:]]
        y = F.multilabel_soft_margin_loss(a, *rest, reduction=reduction)
        z = tf().multilabel_soft_margin_loss(b, *map(torch.tensor, args[1:]),
                                             reduction=reduction)
        np.testing.assert_array_equal(np.isnan(y.numpy()), np.isnan(z.detach().numpy()))
        np.testing.assert_allclose(y.numpy(), z.detach().numpy(), rtol=1e-12)
        ng.sum(y).backward() if reduction == "none" else y.backward()
        (z.sum() if reduction == "none" else z).backward()
        assert np.isfinite(a.grad).all()
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-12, atol=1e-300)


def test_multilabel_at_infinite_logits_by_hand():
    """Without torch: each class's −(y log σ(x) + (1 − y) log σ(−x)) at x = ±inf has a
    −inf term (log σ(−inf)); its weight (y at −inf, 1 − y at +inf) makes the loss inf where
    it is positive and 0 · inf = NaN where it is 0, as torch's; a row of finite logits keeps
    its finite loss, and the input's gradient −(y σ(−x) − (1 − y) σ(x)) / C is finite."""
    x = np.array([[np.inf, 2.0], [-np.inf, 2.0], [np.inf, -1.0], [2.0, -1.0]])
    y = np.array([[0.0, 1.0], [0.0, 0.0], [1.0, 1.0], [0.5, 1.0]])
    t = ng.tensor(x, requires_grad=True)
    loss = F.multilabel_soft_margin_loss(t, ng.tensor(y), reduction="none")
    assert loss.numpy()[0] == np.inf and np.isnan(loss.numpy()[1:3]).all()
    want = (np.logaddexp(0, -2.0) * 0.5 + np.logaddexp(0, 2.0) * 0.5 + np.logaddexp(0, 1.0)) / 2
    np.testing.assert_allclose(loss.numpy()[3], want, rtol=1e-15)
    loss.sum().backward()
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(t.grad, -(y * (1 - s) - (1 - y) * s) / 2, rtol=1e-14)


# -- dtypes, empty input --------------------------------------------------------------------

def _operands(name, dtype, other=np.float64):
    """Operands of ``name`` (functional) with the predictions in ``dtype`` and the target
    (or var) in ``other``."""
    rng = np.random.default_rng(3)
    x1, x2, x3 = (rng.normal(size=(4, 3)).astype(dtype) for _ in range(3))
    y = np.array([1.0, -1.0, 1.0, -1.0]).astype(other)
    return {"pairwise_distance": [x1, x2.astype(other)],
            "triplet_margin_loss": [x1, x2, x3.astype(other)],
            "cosine_embedding_loss": [x1, x2, y],
            "margin_ranking_loss": [x1[:, 0], x2[:, 0], y],
            "gaussian_nll_loss": [x1, x2.astype(other), np.abs(x3).astype(other)],
            "poisson_nll_loss": [x1, np.abs(x2).astype(other)],
            "soft_margin_loss": [x1, np.sign(x2).astype(other)],
            "multilabel_soft_margin_loss": [x1, (x2 > 0).astype(other)]}[name]


@pytest.mark.torch
@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("dtypes", [(np.float32, np.float32), (np.float32, np.float64),
                                    (np.float64, np.float32)], ids=["f32", "f32-f64", "f64-f32"])
def test_dtypes_as_torch(name, dtypes):
    """float32 stays float32; a float64 target (or var, or third input) promotes as
    torch's, except soft_margin_loss's, which keeps the input's dtype, as torch's. Values to
    float32's rounding."""
    import torch
    args = _operands(name, *dtypes)
    got = getattr(F, name)(*args)
    want = getattr(tf(), name)(*(torch.from_numpy(a) for a in args))
    assert got.dtype == np.dtype(str(want.dtype).removeprefix("torch.")), name
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=2e-6)


@pytest.mark.torch
@pytest.mark.parametrize("name", FUNCTIONS[1:])
def test_no_element(name):
    """"sum" and "none" over no element as torch's (0, an empty loss); "mean" is 0 where
    torch's is NaN, as the library's other losses."""
    import torch
    args = [a[:0] for a in _operands(name, np.float64)]
    if name == "multilabel_soft_margin_loss":
        args = [np.zeros((0, 3)), np.zeros((0, 3))]
    for reduction in ("sum", "none"):
        got = getattr(F, name)(*args, reduction=reduction)
        want = getattr(tf(), name)(*(torch.from_numpy(a) for a in args), reduction=reduction)
        assert got.shape == tuple(want.shape)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    got = getattr(F, name)(*args)
    assert got.item() == 0.0
    assert np.isnan(getattr(tf(), name)(*(torch.from_numpy(a) for a in args)).item())


# -- gradcheck, without torch ---------------------------------------------------------------

A, P, N = RNG.normal(size=(3, 5, 4))
Y_PM = np.array([1.0, -1.0, 1.0, -1.0, -1.0])
GRADCHECKED = {
    "pairwise_distance": (lambda a, b: F.pairwise_distance(a, b, p=3), [A, P]),
    "triplet-swap": (lambda a, b, c: F.triplet_margin_loss(a, b, c, margin=2.0, swap=True,
                                                           reduction="sum"), [A, P, N]),
    "cosine-embedding": (lambda a, b: F.cosine_embedding_loss(a, b, Y_PM, -0.2,
                                                              reduction="none"), [A, P]),
    "margin-ranking": (lambda a, b, y: F.margin_ranking_loss(a, b, y, 0.3),
                       [A[:, 0], P[:, 0], Y_PM * 1.5]),
    "gaussian-per-row": (lambda a, b, v: F.gaussian_nll_loss(a, b, v, full=True),
                         [A, P, RNG.uniform(0.5, 2, 5)]),
    "gaussian-per-element": (lambda a, b, v: F.gaussian_nll_loss(a, b, v, eps=0.05,
                                                                 reduction="sum"),
                             [A, P, RNG.uniform(0.1, 2, (5, 4))]),
    "poisson-full": (lambda a, t: F.poisson_nll_loss(a, t, full=True, reduction="none"),
                     [A, RNG.uniform(1.5, 4, (5, 4))]),
    "poisson-rate": (lambda a, t: F.poisson_nll_loss(a, t, log_input=False, reduction="sum"),
                     [np.abs(A) + 0.2, RNG.uniform(0, 4, (5, 4))]),
    "soft-margin": (lambda a, y: F.soft_margin_loss(a, y), [A, np.sign(P)]),
    "multilabel": (lambda a, y, w: F.multilabel_soft_margin_loss(a, y, w, reduction="none"),
                   [A, RNG.uniform(0, 1, (5, 4)), RNG.uniform(0.5, 2, 4)]),
}


@pytest.mark.parametrize("fn, inputs", GRADCHECKED.values(), ids=GRADCHECKED.keys())
def test_the_compositions_pass_gradcheck(fn, inputs):
    """Every floating operand's gradient against central differences, float64 (away from
    the hinges and kinks, and with variances above eps: below it the gradient is torch's,
    not the clamp's derivative, tested above)."""
    ng.gradcheck(fn, inputs, method="central")


# -- the modules ----------------------------------------------------------------------------

def copies(kwargs):
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


def modules(name, **kwargs):
    """(ours, torch's) built from the same arguments, arrays given to torch as tensors."""
    import torch
    theirs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v
              for k, v in kwargs.items()}
    return getattr(ng.nn, name)(**copies(kwargs)), getattr(torch.nn, name)(**theirs)


W3 = RNG.uniform(0.5, 2, 4)
THROUGH_F = [
    ("TripletMarginLoss", dict(margin=0.7, p=1.0, eps=0.0, swap=True, reduction="sum"),
     lambda a, p, n: F.triplet_margin_loss(a, p, n, 0.7, 1.0, 0.0, True, None, None, "sum"),
     [A, P, N]),
    ("CosineEmbeddingLoss", dict(margin=0.1, reduction="none"),
     lambda a, b, y: F.cosine_embedding_loss(a, b, y, 0.1, None, None, "none"), [A, P, Y_PM]),
    ("MarginRankingLoss", dict(margin=0.2),
     lambda a, b, y: F.margin_ranking_loss(a, b, y, 0.2), [A[:, 0], P[:, 0], Y_PM]),
    ("GaussianNLLLoss", dict(full=True, eps=0.3, reduction="sum"),
     lambda a, b, v: F.gaussian_nll_loss(a, b, v, True, 0.3, "sum"),
     [A, P, np.abs(N)]),
    ("PoissonNLLLoss", dict(log_input=False, full=True, eps=0.1, reduction="none"),
     lambda a, t: F.poisson_nll_loss(a, t, False, True, None, 0.1, None, "none"),
     [np.abs(A), np.abs(P) * 3]),
    ("SoftMarginLoss", dict(reduction="sum"),
     lambda a, y: F.soft_margin_loss(a, y, None, None, "sum"), [A, np.sign(P)]),
    ("MultiLabelSoftMarginLoss", dict(weight=W3),
     lambda a, y: F.multilabel_soft_margin_loss(a, y, W3), [A, (P > 0) * 1.0]),
]


@pytest.mark.parametrize("name, kwargs, functional, inputs", THROUGH_F,
                         ids=[case[0] for case in THROUGH_F])
def test_the_modules_give_the_functional_ops_values_and_gradients(name, kwargs, functional,
                                                                  inputs):
    """The module is its functional op (in torch's positional order) with its constructor's
    arguments: the same loss and gradients, bit for bit."""
    results = []
    for fn in (getattr(ng.nn, name)(**copies(kwargs)), functional):
        args = [ng.tensor(a, requires_grad=True) for a in inputs]
        loss = fn(*args)
        loss.backward(np.random.default_rng(0).standard_normal(loss.shape))
        results.append([loss.numpy()] + [a.grad for a in args])
    for k, (got, want) in enumerate(zip(*results)):
        np.testing.assert_array_equal(got, want, err_msg=f"{name}: output {k}")


@pytest.mark.torch
@pytest.mark.parametrize("name, kwargs", [(case[0], case[1]) for case in THROUGH_F]
                         + [("MultiLabelSoftMarginLoss", {}),
                            ("GaussianNLLLoss", {}), ("TripletMarginLoss", {})],
                         ids=[case[0] for case in THROUGH_F] + ["multilabel-default",
                                                                "gaussian-default",
                                                                "triplet-default"])
def test_state_dict_attributes_and_repr_are_torchs(name, kwargs):
    """MultiLabelSoftMarginLoss's weight is a buffer under torch's key (absent when None);
    the others hold none; the arguments are torch's attributes; the repr is torch's."""
    ours, theirs = modules(name, **kwargs)
    state = {k: v.numpy() for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state)
    for key, value in ours.state_dict().items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)
    assert list(ours.parameters()) == []
    assert repr(ours) == repr(theirs)
    for attr in ("reduction", "margin", "p", "eps", "swap", "full", "log_input"):
        if hasattr(theirs, attr):
            assert getattr(ours, attr) == getattr(theirs, attr), attr


def test_the_multilabel_weight_follows_the_model():
    """A list weight is float32 (the modules' default dtype); .double() converts it; a
    float32 input with it gives a float32 loss and gradient."""
    rng = np.random.default_rng(101)
    loss_fn = ng.nn.MultiLabelSoftMarginLoss(weight=[1.0, 2.0, 0.5])
    assert loss_fn.weight.dtype == np.float32
    x = ng.tensor(rng.normal(size=(4, 3)).astype(np.float32), requires_grad=True)
    loss = loss_fn(x, np.ones((4, 3), np.float32))
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32
    assert loss_fn.double().weight.dtype == np.float64


# -- errors ---------------------------------------------------------------------------------

LEGACY = "size_average and reduce .deprecated in torch. are not supported; use reduction="
BAD_CONSTRUCTION = [
    ("TripletMarginLoss", dict(margin=0.0), ValueError,
     r"^TripletMarginLoss: margin must be > 0 \(as torch\), got 0.0$"),
    ("TripletMarginLoss", dict(margin=-1), ValueError, r"^TripletMarginLoss: margin must be > 0"),
    ("TripletMarginLoss", dict(p=-1.0), ValueError,
     r"^TripletMarginLoss: p must be >= 0 or -inf \(the norm of x1 - x2\), got -1.0"),
    ("TripletMarginLoss", dict(p="2"), TypeError,
     r"^TripletMarginLoss: p must be a real number, got '2'$"),
    ("TripletMarginLoss", dict(swap=1), TypeError,
     r"^TripletMarginLoss: swap must be True or False, got 1$"),
    ("TripletMarginLoss", dict(reduce=False), ValueError, "^TripletMarginLoss: " + LEGACY),
    ("CosineEmbeddingLoss", dict(margin="0.5"), TypeError,
     r"^CosineEmbeddingLoss: margin must be a real number"),
    ("CosineEmbeddingLoss", dict(reduction="avg"), ValueError,
     r"^CosineEmbeddingLoss: reduction must be one of \('mean', 'sum', 'none'\), got 'avg'$"),
    ("MarginRankingLoss", dict(size_average=True), ValueError,
     "^MarginRankingLoss: " + LEGACY),
    ("MarginRankingLoss", dict(margin=None), TypeError,
     r"^MarginRankingLoss: margin must be a real number, got None$"),
    ("GaussianNLLLoss", dict(full=1), TypeError,
     r"^GaussianNLLLoss: full must be True or False, got 1$"),
    ("GaussianNLLLoss", dict(eps="1e-6"), TypeError,
     r"^GaussianNLLLoss: eps must be a real number"),
    ("GaussianNLLLoss", dict(reduction="batchmean"), ValueError,
     r"^GaussianNLLLoss: reduction must be one of"),
    ("PoissonNLLLoss", dict(log_input="yes"), TypeError,
     r"^PoissonNLLLoss: log_input must be True or False, got 'yes'$"),
    ("PoissonNLLLoss", dict(reduction="x"), ValueError, r"^PoissonNLLLoss: reduction must be"),
    ("PoissonNLLLoss", dict(reduce=True), ValueError, "^PoissonNLLLoss: " + LEGACY),
    ("SoftMarginLoss", dict(reduction="Mean"), ValueError,
     r"^SoftMarginLoss: reduction must be one of"),
    ("MultiLabelSoftMarginLoss", dict(weight="abc"), TypeError,
     r"MultiLabelSoftMarginLoss: weight"),
    ("MultiLabelSoftMarginLoss", dict(size_average=False), ValueError,
     "^MultiLabelSoftMarginLoss: " + LEGACY),
]


@pytest.mark.parametrize("name, kwargs, error, match", BAD_CONSTRUCTION,
                         ids=[f"{b[0]}-{k}" for k, b in enumerate(BAD_CONSTRUCTION)])
def test_bad_constructor_arguments_fail_at_construction(name, kwargs, error, match):
    with pytest.raises(error, match=match):
        getattr(ng.nn, name)(**kwargs)


Z43 = RNG.normal(size=(4, 3))
# (call, the error we raise and its message, torch's call or None where torch accepts it
# and computes something else; what torch raises there)
BAD_CALLS = {
    "distance shapes": (lambda F: F.pairwise_distance(Z43, Z43[:, :2]), ValueError,
                        r"^pairwise_distance: x1 \(4, 3\) and x2 \(4, 2\) cannot be broadcast "
                        r"together", RuntimeError),
    "distance negative p": (lambda F: F.pairwise_distance(Z43, Z43, p=-2), ValueError,
                            r"^pairwise_distance: p must be >= 0 or -inf", None),
    "distance integers": (lambda F: F.pairwise_distance(np.arange(3), np.zeros(3)), TypeError,
                          r"^pairwise_distance: x1 must be real floating \(float32 or "
                          r"float64\), got int64", None),
    "triplet dims": (lambda F: F.triplet_margin_loss(Z43, Z43, Z43[0]), ValueError,
                     r"^triplet_margin_loss: anchor, positive and negative must have the same "
                     r"number of dimensions \(as torch\), got shapes \(4, 3\), \(4, 3\) and "
                     r"\(3,\)$", RuntimeError),
    "triplet shapes": (lambda F: F.triplet_margin_loss(Z43, Z43[:2], Z43), ValueError,
                       r"^triplet_margin_loss: anchor \(4, 3\), positive \(2, 3\) and "
                       r"negative \(4, 3\) cannot be broadcast", RuntimeError),
    "triplet margin": (lambda F: F.triplet_margin_loss(Z43, Z43, Z43, margin=0), ValueError,
                       r"^triplet_margin_loss: margin must be > 0 \(as torch\), got 0$",
                       ValueError),
    "triplet reduction": (lambda F: F.triplet_margin_loss(Z43, Z43, Z43, reduction="avg"),
                          ValueError, r"^triplet_margin_loss: reduction must be one of "
                          r"\('mean', 'sum', 'none'\), got 'avg'$", ValueError),
    "cosine 2-d target": (lambda F: F.cosine_embedding_loss(Z43, Z43, np.ones((4, 1))),
                          ValueError, r"^cosine_embedding_loss: target must be 0-D or 1-D "
                          r".*got shape \(4, 1\)$", RuntimeError),
    "cosine input dims": (lambda F: F.cosine_embedding_loss(Z43, Z43[0], np.ones(4)),
                          ValueError, r"^cosine_embedding_loss: a 1-D target expects 2-D "
                          r"inputs \(N, D\), got shapes \(4, 3\) and \(3,\)$", RuntimeError),
    "cosine 0-d target": (lambda F: F.cosine_embedding_loss(Z43, Z43, np.array(1.0)),
                          ValueError, r"^cosine_embedding_loss: a 0-D target expects 1-D "
                          r"inputs \(D,\), got shapes \(4, 3\) and \(4, 3\)$", RuntimeError),
    "cosine target length": (lambda F: F.cosine_embedding_loss(Z43, Z43, np.ones(2)),
                             ValueError, r"^cosine_embedding_loss: target of shape \(2,\) "
                             r"does not match the 4 pairs of input1 \(4, 3\) and input2 "
                             r"\(4, 3\)$", RuntimeError),
    "ranking dims": (lambda F: F.margin_ranking_loss(Z43[:, 0], Z43[:, 1], np.ones((4, 1))),
                     ValueError, r"^margin_ranking_loss: input1, input2 and target must have "
                     r"the same number of dimensions \(as torch\), got shapes \(4,\), \(4,\) "
                     r"and \(4, 1\)$", RuntimeError),
    "ranking shapes": (lambda F: F.margin_ranking_loss(Z43[:, 0], Z43[:3, 1], np.ones(4)),
                       ValueError, r"^margin_ranking_loss: input1 \(4,\), input2 \(3,\) and "
                       r"target \(4,\) cannot be broadcast", RuntimeError),
    "gaussian negative var": (lambda F: F.gaussian_nll_loss(Z43, Z43, Z43), ValueError,
                              r"^gaussian_nll_loss: var must be >= 0 everywhere \(variances\), "
                              r"got an entry of -", ValueError),
    "gaussian negative number": (lambda F: F.gaussian_nll_loss(Z43, Z43, -1.0), ValueError,
                                 r"^gaussian_nll_loss: var must be >= 0 \(a variance\), got "
                                 r"-1.0$", ValueError),
    "gaussian var (1, 1)": (lambda F: F.gaussian_nll_loss(Z43, Z43, np.ones((1, 1))),
                            ValueError, r"^gaussian_nll_loss: var of shape \(1, 1\) does not "
                            r"fit the input's \(4, 3\): give one variance per element "
                            r"\(4, 3\), one per row \(4,\), or the input's shape with one "
                            r"dimension 1 \(as torch\)$", ValueError),
    "gaussian var (3,)": (lambda F: F.gaussian_nll_loss(Z43, Z43, np.ones(3)), ValueError,
                          r"^gaussian_nll_loss: var of shape \(3,\) does not fit", ValueError),
    "gaussian target": (lambda F: F.gaussian_nll_loss(Z43, Z43[:2], np.ones(4)), ValueError,
                        r"^gaussian_nll_loss: input \(4, 3\), target \(2, 3\) and var "
                        r"\(4, 1\) cannot be broadcast", RuntimeError),
    "gaussian reduction": (lambda F: F.gaussian_nll_loss(Z43, Z43, 1.0, reduction="avg"),
                           ValueError, r"^gaussian_nll_loss: reduction must be one of",
                           ValueError),
    "gaussian integer var": (lambda F: F.gaussian_nll_loss(Z43, Z43, np.ones((4, 3), int)),
                             TypeError, r"^gaussian_nll_loss: var must be a number or real "
                             r"floating \(float32 or float64\), got int64$", RuntimeError),
    "poisson shapes": (lambda F: F.poisson_nll_loss(Z43, np.ones(4)), ValueError,
                       r"^poisson_nll_loss: input \(4, 3\) and target \(4,\) cannot be "
                       r"broadcast", RuntimeError),
    "poisson reduction": (lambda F: F.poisson_nll_loss(Z43, Z43, reduction="batchmean"),
                          ValueError, r"^poisson_nll_loss: reduction must be one of",
                          ValueError),
    "soft margin widening": (lambda F: F.soft_margin_loss(Z43[0], np.ones((4, 3))), ValueError,
                             r"^soft_margin_loss: target of shape \(4, 3\) must broadcast to "
                             r"the input's shape \(3,\) \(as torch\), not widen it$",
                             RuntimeError),
    "soft margin integer input": (lambda F: F.soft_margin_loss(np.arange(3), np.ones(3)),
                                  TypeError, r"^soft_margin_loss: input must be real floating",
                                  RuntimeError),
    "multilabel 0-d": (lambda F: F.multilabel_soft_margin_loss(np.array(1.0), np.array(1.0)),
                       ValueError, r"^multilabel_soft_margin_loss: input must be \(N, C\) or "
                       r"\(C,\), the classes last, got a 0-d tensor$", IndexError),
    "multilabel shapes": (lambda F: F.multilabel_soft_margin_loss(Z43, np.ones(4)), ValueError,
                          r"^multilabel_soft_margin_loss: input \(4, 3\) and target \(4,\) "
                          r"cannot be broadcast", RuntimeError),
    "multilabel weight": (lambda F: F.multilabel_soft_margin_loss(Z43, Z43, np.ones(2)),
                          ValueError, r"^multilabel_soft_margin_loss: input \(4, 3\), target "
                          r"\(4, 3\) and weight \(2,\) cannot be broadcast", RuntimeError),
    "legacy": (lambda F: F.soft_margin_loss(Z43, Z43, size_average=True), ValueError,
               "^soft_margin_loss: " + LEGACY, None),
}


@pytest.mark.parametrize("call, error, match, torch_error", BAD_CALLS.values(),
                         ids=BAD_CALLS.keys())
def test_bad_calls_raise_naming_what_was_expected(call, error, match, torch_error):
    with pytest.raises(error, match=match):
        call(F)


@pytest.mark.torch
@pytest.mark.parametrize("call, torch_error", [(c[0], c[3]) for c in BAD_CALLS.values()],
                         ids=BAD_CALLS.keys())
def test_torch_refuses_them_too(call, torch_error):
    """Each call refused above is refused by torch (a RuntimeError where ours is a
    ValueError or TypeError), except the documented differences (None): a negative p
    (torch computes it), integer inputs (torch computes them in float32) and the deprecated
    arguments (torch maps them to a reduction)."""
    import torch

    class Torch:                # torch.nn.functional, taking the same NumPy arrays
        def __getattr__(self, name):
            fn = getattr(tf(), name)
            return lambda *a, **k: fn(*(torch.from_numpy(np.asarray(v)) if isinstance(
                v, np.ndarray) else v for v in a), **k)
    if torch_error is None:
        with warnings.catch_warnings():     # torch's for its deprecated arguments
            warnings.simplefilter("ignore", UserWarning)
            call(Torch())
    else:
        with pytest.raises(torch_error):
            call(Torch())
