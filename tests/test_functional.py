"""``nongate_np.nn.functional``, torch's ``torch.nn.functional`` for the ops the library has:
the names exist in torch, re-export the library's ops (one implementation), take torch's
argument order (``embedding``, ``softmax(x, dim)``), and ``linear`` is torch's, values and
gradients (docs/math.md E10, E1)."""

import numpy as np
import pytest

import nongate_np as ng
import nongate_np.nn.functional as F
from tests.helpers import assert_gradients, assert_matches_torch

RE_EXPORTED = ["relu", "sigmoid", "tanh", "dropout", "layer_norm", "softplus", "hardshrink",
               "prelu"]
# ops that torch has under nn.functional only: the ops of ops/activations_smooth.py and
# ops/activations_piecewise.py themselves, not in nongate_np's namespace
FUNCTIONAL_ONLY = ["logsigmoid", "softsign", "tanhshrink", "softshrink", "glu"]
# the ops of ops/activations*.py behind torch's signatures (inplace refused; softmax's
# implicit dim), and the compositions of tests/test_functional_more.py
WRAPPED = ["leaky_relu", "silu", "gelu", "elu", "softmax", "log_softmax", "selu", "celu",
           "hardtanh", "relu6", "mish", "hardsigmoid", "hardswish", "threshold", "rrelu"]
COMPOSED = ["pad", "one_hot", "normalize", "cosine_similarity", "pairwise_distance",
            "scaled_dot_product_attention"]
LOSSES = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
          "binary_cross_entropy_with_logits", "huber_loss", "smooth_l1_loss", "kl_div",
          "triplet_margin_loss", "cosine_embedding_loss", "margin_ranking_loss",
          "gaussian_nll_loss", "poisson_nll_loss", "soft_margin_loss",
          "multilabel_soft_margin_loss"]


def test_the_namespace():
    assert sorted(F.__all__) == sorted(RE_EXPORTED + LOSSES + WRAPPED + COMPOSED
                                       + FUNCTIONAL_ONLY + ["embedding", "linear"])
    assert ng.nn.functional is F
    for name in RE_EXPORTED:              # the library's op itself, not a second version
        assert getattr(F, name) is getattr(ng, name), name
    for name in FUNCTIONAL_ONLY:
        assert getattr(F, name).__module__.startswith("nongate_np.ops."), name
        assert name not in ng.__all__, name


@pytest.mark.torch
def test_every_name_is_torchs():
    import torch.nn.functional as TF
    missing = [name for name in F.__all__ if not hasattr(TF, name)]
    assert not missing


@pytest.mark.torch
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_takes_torchs_dim(name):
    import torch
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    for call, tcall in ((lambda f, a: f(a, 1), lambda f, a: f(a, 1)),
                        (lambda f, a: f(a, dim=0), lambda f, a: f(a, dim=0))):
        assert_matches_torch(lambda a: call(getattr(F, name), a),
                             lambda a: tcall(getattr(torch.nn.functional, name), a), [x])


@pytest.mark.torch
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(4,), (2, 3), (2, 3, 4), (2, 3, 2, 2)])
def test_softmax_without_dim_is_torchs_implicit_choice_with_its_warning(name, shape):
    """F.softmax(x) took the last axis without a word; torch warns and takes dim 0 for a
    1- or 3-D input, 1 otherwise: a 3-D input gave other numbers."""
    import torch
    x = np.random.default_rng(1).standard_normal(shape)
    with pytest.warns(UserWarning, match=f"Implicit dimension choice for {name}") as ours:
        got = getattr(F, name)(x)
    assert [w.filename for w in ours] == [__file__]
    with pytest.warns(UserWarning, match=f"Implicit dimension choice for {name}"):
        want = getattr(torch.nn.functional, name)(torch.from_numpy(x))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(F.softmax(x.astype(np.float32), dim=-1, dtype=np.float64).numpy(),
                               ng.softmax(x, axis=-1).numpy(), rtol=1e-6)


@pytest.mark.torch
def test_embedding_takes_torchs_argument_order():
    """F.embedding(input, weight, padding_idx): the ids first, as torch (ng.embedding takes
    the weight first); the padding row gets no gradient."""
    import torch
    ids = np.array([[0, 2, 1], [2, 2, 3]])
    w = np.random.default_rng(1).standard_normal((4, 5))
    assert_matches_torch(lambda a: F.embedding(ids, a, padding_idx=2),
                         lambda a: torch.nn.functional.embedding(torch.tensor(ids), a,
                                                                 padding_idx=2), [w])


LINEAR_CASES = {"2-D, bias": ((4, 3), (5, 3), (5,)),
                "batched, bias": ((2, 4, 3), (5, 3), (5,)),
                "no bias": ((4, 3), (5, 3), None),
                "1-D input": ((3,), (5, 3), (5,)),
                "1-D weight": ((4, 3), (3,), None),
                "1 feature": ((4, 1), (1, 1), (1,))}


def _linear_inputs(case):
    rng = np.random.default_rng(2)
    return [rng.standard_normal(s) for s in LINEAR_CASES[case] if s is not None]


@pytest.mark.parametrize("case", list(LINEAR_CASES))
def test_linear_gradients(case):
    assert_gradients(lambda x, w, *b: F.linear(x, w, *b), _linear_inputs(case))


@pytest.mark.torch
@pytest.mark.parametrize("case", list(LINEAR_CASES))
def test_linear_matches_torch(case):
    import torch
    assert_matches_torch(lambda x, w, *b: F.linear(x, w, *b),
                         lambda x, w, *b: torch.nn.functional.linear(x, w, *b),
                         _linear_inputs(case))


@pytest.mark.torch
def test_linear_float32_matches_torch():
    import torch
    x, w, b = (a.astype(np.float32) for a in _linear_inputs("batched, bias"))
    ours = F.linear(x, w, b)
    theirs = torch.nn.functional.linear(*(torch.tensor(a) for a in (x, w, b)))
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6, atol=1e-6)


def test_linear_is_nn_linear():
    m = ng.nn.Linear(3, 2, dtype=np.float64)
    x = np.random.default_rng(3).standard_normal((4, 3))
    np.testing.assert_array_equal(F.linear(x, m.weight, m.bias).data, m(x).data)


def test_linear_errors():
    x, w = np.ones((4, 3)), np.ones((5, 3))
    with pytest.raises(ValueError, match=r"linear: weight must be \(out_features, "
                                         r"in_features\) or \(in_features,\), got shape "
                                         r"\(1, 5, 3\)"):
        F.linear(x, np.ones((1, 5, 3)))
    with pytest.raises(ValueError, match=r"linear: input has 3 features on its last axis "
                                         r"\(shape \(4, 3\)\), weight of shape \(5, 2\) "
                                         r"expects 2"):
        F.linear(x, np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"linear: input must be \(\*, in_features\), got "
                                         r"a 0-d tensor"):
        F.linear(np.float64(1.0), w)
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(5,\) "
                                         r"\(out_features\), got \(3,\)"):
        F.linear(x, w, np.ones(3))
    with pytest.raises(ValueError, match=r"linear: a 1-D weight takes no bias"):
        F.linear(x, np.ones(3), np.ones(()))


@pytest.mark.torch
def test_a_torch_training_step_reads_the_same():
    """A torch user's step, F for F: linear, relu, dropout (off), log_softmax, nll_loss and
    cross_entropy with label smoothing and class weights; the same loss and gradients."""
    import torch
    TF = torch.nn.functional
    rng = np.random.default_rng(4)
    x, t = rng.standard_normal((6, 4)), np.array([0, 2, 1, 1, -100, 2])
    w1, b1, w2, b2 = (rng.standard_normal(s) for s in ((5, 4), (5,), (3, 5), (3,)))
    cw = np.array([1.0, 2.0, 0.5])

    def step(f, x, w1, b1, w2, b2, target, cw):
        h = f.dropout(f.relu(f.linear(x, w1, b1)), p=0.5, training=False)
        z = f.linear(h, w2, b2)
        return (f.cross_entropy(z, target, weight=cw, label_smoothing=0.1)
                + f.nll_loss(f.log_softmax(z, dim=1), target, weight=cw))

    assert_matches_torch(lambda *p: step(F, x, *p, t, cw),
                         lambda *p: step(TF, torch.tensor(x), *p, torch.tensor(t),
                                         torch.tensor(cw)), [w1, b1, w2, b2])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_the_losses_take_torchs_positional_order(reduction):
    """A torch call moved over as it is: F.cross_entropy(x, t, w) and
    F.binary_cross_entropy_with_logits(x, y, w) read w as torch does (the class weight, the
    element weight), where the library's own functions read their third argument as
    ignore_index and pos_weight; values and gradients as torch's."""
    import torch
    import torch.nn.functional as TF
    rng = np.random.default_rng(1)
    z, w = rng.standard_normal((6, 4)), rng.uniform(0.2, 2.0, 4)
    t = np.array([0, 3, 1, 1, 2, 0])
    tw = torch.from_numpy(w)
    assert_matches_torch(lambda a: F.cross_entropy(a, ng.tensor(t), w, None, 1, None, reduction),
                         lambda a: TF.cross_entropy(a, torch.from_numpy(t), tw, None, 1, None,
                                                    reduction), [z])
    assert_matches_torch(lambda a: F.nll_loss(a, ng.tensor(t), w, None, 1, None, reduction),
                         lambda a: TF.nll_loss(a, torch.from_numpy(t), tw, None, 1, None,
                                               reduction), [z - 3.0])
    y, e, pos = rng.uniform(0, 1, (6, 4)), rng.uniform(0.2, 2.0, (6, 4)), rng.uniform(0.5, 3, 4)
    assert_matches_torch(
        lambda a: F.binary_cross_entropy_with_logits(a, ng.tensor(y), e, None, None, reduction,
                                                     pos),
        lambda a: TF.binary_cross_entropy_with_logits(a, torch.from_numpy(y),
                                                      torch.from_numpy(e), None, None,
                                                      reduction, torch.from_numpy(pos)), [z])
    assert_matches_torch(lambda a, b: F.mse_loss(a, b, None, None, reduction),
                         lambda a, b: TF.mse_loss(a, b, None, None, reduction),
                         [z, z[::-1].copy()])


def test_the_losses_refuse_torchs_deprecated_arguments():
    z, t = ng.tensor(np.zeros((2, 3))), ng.tensor(np.array([0, 2]))
    for call in (lambda: F.cross_entropy(z, t, size_average=False),
                 lambda: F.nll_loss(z, t, reduce=False),
                 lambda: F.mse_loss(z, z, False),
                 lambda: F.binary_cross_entropy_with_logits(z, z, None, True)):
        with pytest.raises(ValueError, match="size_average and reduce .deprecated in torch. "
                                             "are not supported; use reduction="):
            call()
    with pytest.raises(ValueError, match="mse_loss: weight must have the input's shape"):
        F.mse_loss(z, z, weight=np.ones(3))     # torch 2.13's: tests/ops/test_mse_loss.py
