"""The loss modules, as torch.nn's: CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, BCELoss,
BCEWithLogitsLoss, HuberLoss, SmoothL1Loss, KLDivLoss (the last three, compositions of the
ops in nn.functional, also checked here with their functional forms and gradcheck).

Each against torch's module of the same constructor arguments in float64 (values and
gradients, every reduction, with and without weights, ignore_index, label smoothing); their
gradients equal the functional op's; ``weight`` and ``pos_weight`` are buffers under torch's
``state_dict`` keys, converted by ``.double()``; bad constructor arguments fail at
construction with the functional ops' messages, naming the class."""

import inspect
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import nongate_np as ng
import nongate_np.nn.functional as F
from nongate_np.check import testing as nt
from tests.helpers import assert_matches_torch

REDUCTIONS = ["mean", "sum", "none"]
NAMES = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss",
         "HuberLoss", "SmoothL1Loss", "KLDivLoss"]


def copies(kwargs):
    """The arguments with their arrays copied: a buffer shares its array (as torch's), and
    loading a state_dict writes into it."""
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


def modules(name, **kwargs):
    """(ours, torch's) built from the same arguments, arrays given to torch as tensors."""
    import torch
    theirs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v
              for k, v in kwargs.items()}
    return getattr(ng.nn, name)(**copies(kwargs)), getattr(torch.nn, name)(**theirs)


def test_the_modules_are_exported():
    for name in NAMES:
        cls = getattr(ng.nn, name)
        assert issubclass(cls, ng.nn.Module) and name in ng.nn.__all__, name


@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
def test_the_constructors_take_torchs_arguments(name):
    """Names, order, defaults and kinds, so a torch call moves over as it is."""
    import torch

    def params(cls):
        return [(p.name, p.default, p.kind)
                for p in inspect.signature(cls).parameters.values()]
    assert params(getattr(ng.nn, name)) == params(getattr(torch.nn, name))


@st.composite
def class_cases(draw):
    """Logits (N, C) or (N, C, d), integer targets (some maybe ignored), class weights or
    None, an ignore_index (the default, or a class) and a label smoothing."""
    n, c, extra = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(0, 2))
    shape = (n, c) + ((extra,) if extra else ())
    z = draw(nt.arrays(shape, low=-3, high=3))
    ignore_index = draw(st.sampled_from([-100, 0, c - 1]))
    t = draw(nt.index_arrays((n,) + shape[2:], c))
    if draw(st.booleans()):
        t.flat[0] = ignore_index
    weight = draw(nt.positive_arrays((c,))) if draw(st.booleans()) else None
    smoothing = draw(st.sampled_from([0.0, 0.2, 1.0]))
    return z, t, weight, ignore_index, smoothing


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=class_cases())
def test_cross_entropy_loss_matches_torch(reduction, case):
    import torch
    z, t, weight, ignore_index, smoothing = case
    # torch's mean over no counted target is NaN by design, ours 0 (tests/ops/test_loss.py)
    assume(reduction != "mean" or np.any(t != ignore_index))
    ours, theirs = modules("CrossEntropyLoss", weight=weight, ignore_index=ignore_index,
                           reduction=reduction, label_smoothing=smoothing)
    assert_matches_torch(lambda x: ours(x, t), lambda x: theirs(x, torch.from_numpy(t)), [z])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data(), shape=nt.shapes(min_dims=1, max_dims=3),
       smoothing=st.sampled_from([0.0, 0.3]), weighted=st.booleans())
def test_cross_entropy_loss_with_probabilities_matches_torch(reduction, data, shape,
                                                             smoothing, weighted):
    """Probability targets get torch's gradient too."""
    z = data.draw(nt.arrays(shape, low=-3, high=3))
    p = data.draw(nt.arrays(shape, low=0.0, high=1.0))
    classes = shape[0] if len(shape) == 1 else shape[1]
    weight = data.draw(nt.positive_arrays((classes,))) if weighted else None
    ours, theirs = modules("CrossEntropyLoss", weight=weight, reduction=reduction,
                           label_smoothing=smoothing)
    assert_matches_torch(ours, theirs, [z, p])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=class_cases())
def test_nll_loss_matches_torch(reduction, case):
    import torch
    z, t, weight, ignore_index, _ = case
    assume(reduction != "mean" or np.any(t != ignore_index))
    ours, theirs = modules("NLLLoss", weight=weight, ignore_index=ignore_index,
                           reduction=reduction)
    assert_matches_torch(lambda x: ours(x, t), lambda x: theirs(x, torch.from_numpy(t)),
                         [z - 3.0])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data(), shape=nt.shapes())
def test_mse_loss_matches_torch(reduction, data, shape):
    a, b = data.draw(nt.arrays(shape)), data.draw(nt.arrays(shape))
    ours, theirs = modules("MSELoss", reduction=reduction)
    assert_matches_torch(ours, theirs, [a, b])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data(), shape=nt.shapes())
def test_l1_loss_matches_torch(reduction, data, shape):
    a = data.draw(nt.arrays(shape, away_from=(0.0,), margin=0.5))
    b = data.draw(nt.arrays(shape, low=-0.4, high=0.4))      # no kink: |a − b| ≥ 0.1
    ours, theirs = modules("L1Loss", reduction=reduction)
    assert_matches_torch(ours, theirs, [a, b])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data(), shape=nt.shapes(), weighted=st.booleans())
def test_bce_loss_matches_torch(reduction, data, shape, weighted):
    """Probabilities away from the clamp (at 0 and 1: tests/ops/test_l1_bce.py)."""
    x = data.draw(nt.arrays(shape, low=0.05, high=0.95))
    y = data.draw(nt.arrays(shape, low=0.0, high=1.0))
    w = data.draw(nt.arrays(data.draw(st.sampled_from([shape, shape[-1:], ()])), low=-2,
                            high=2)) if weighted else None
    ours, theirs = modules("BCELoss", weight=w, reduction=reduction)
    assert_matches_torch(ours, theirs, [x, y])


@st.composite
def bce_cases(draw):
    """Logits, targets in [0, 1] of their shape, a weight broadcast to it or None, a
    positive pos_weight (one per class of the last axis) or None."""
    shape = draw(nt.shapes())
    z = draw(nt.arrays(shape, low=-4, high=4))
    y = draw(nt.arrays(shape, low=0.0, high=1.0))
    w = draw(nt.arrays(draw(st.sampled_from([shape, shape[-1:], ()])), low=-2, high=2)) \
        if draw(st.booleans()) else None
    pw = draw(nt.positive_arrays(shape[-1:])) if draw(st.booleans()) else None
    return z, y, w, pw


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=bce_cases())
def test_bce_with_logits_loss_matches_torch(reduction, case):
    z, y, w, pw = case
    ours, theirs = modules("BCEWithLogitsLoss", weight=w, reduction=reduction, pos_weight=pw)
    assert_matches_torch(ours, theirs, [z, y])


# (module name, constructor arguments, functional call with the same arguments, inputs)
RNG = np.random.default_rng(3)
Z, CLASSES = RNG.standard_normal((5, 3, 2)), np.array([[0, 2], [1, 1], [2, 0], [1, 2],
                                                        [0, 0]])
W3, PROBS = RNG.uniform(0.5, 2.0, 3), RNG.uniform(0.0, 1.0, (5, 3, 2))
Y, E = RNG.uniform(0.0, 1.0, (5, 3, 2)), RNG.uniform(-1.0, 2.0, (3, 2))
THROUGH_F = [
    ("CrossEntropyLoss", dict(weight=W3, ignore_index=1, reduction="sum",
                              label_smoothing=0.25),
     lambda x, t: F.cross_entropy(x, t, W3, None, 1, None, "sum", 0.25), [Z, CLASSES]),
    ("CrossEntropyLoss", dict(weight=W3, label_smoothing=0.1),
     lambda x, p: F.cross_entropy(x, p, weight=W3, label_smoothing=0.1), [Z, PROBS]),
    ("NLLLoss", dict(weight=W3, ignore_index=0),
     lambda x, t: F.nll_loss(x, t, W3, ignore_index=0), [Z, CLASSES]),
    ("MSELoss", dict(reduction="none"), lambda x, y: F.mse_loss(x, y, reduction="none"),
     [Z, Y]),
    ("L1Loss", dict(reduction="sum"), lambda x, y: F.l1_loss(x, y, reduction="sum"), [Z, Y]),
    ("BCELoss", dict(weight=E, reduction="none"),
     lambda x, y: F.binary_cross_entropy(x, y, E, reduction="none"), [PROBS, Y]),
    ("BCEWithLogitsLoss", dict(weight=E, reduction="sum", pos_weight=W3[:2]),
     lambda x, y: F.binary_cross_entropy_with_logits(x, y, E, reduction="sum",
                                                     pos_weight=W3[:2]), [Z, Y]),
    ("HuberLoss", dict(reduction="sum", delta=0.4),
     lambda x, y: F.huber_loss(x, y, "sum", 0.4), [Z, Y]),
    ("SmoothL1Loss", dict(beta=0.3), lambda x, y: F.smooth_l1_loss(x, y, beta=0.3), [Z, Y]),
    ("KLDivLoss", dict(reduction="batchmean"),
     lambda x, y: F.kl_div(x, y, reduction="batchmean"), [Z - 2.0, Y]),
    ("KLDivLoss", dict(reduction="none", log_target=True),
     lambda x, y: F.kl_div(x, y, None, None, "none", True), [Z - 2.0, Z]),
]


@pytest.mark.parametrize("name, kwargs, functional, inputs", THROUGH_F,
                         ids=[f"{case[0]}-{k}" for k, case in enumerate(THROUGH_F)])
def test_the_modules_give_the_functional_ops_values_and_gradients(name, kwargs, functional,
                                                                  inputs):
    """The module is the functional op with its constructor's arguments: the same loss and
    the same gradients, bit for bit (floating inputs all receive one)."""
    results = []
    for fn in (getattr(ng.nn, name)(**copies(kwargs)), functional):
        args = [ng.tensor(a, requires_grad=True) if a.dtype.kind == "f" else a for a in inputs]
        loss = fn(*args)
        loss.backward(np.random.default_rng(0).standard_normal(loss.shape))
        results.append([loss.numpy()] + [a.grad for a in args if isinstance(a, ng.Tensor)])
    for k, (got, want) in enumerate(zip(*results)):
        np.testing.assert_array_equal(got, want, err_msg=f"{name}: output {k}")


BUFFERS = [
    ("CrossEntropyLoss", {}),
    ("CrossEntropyLoss", dict(weight=W3, ignore_index=2, reduction="sum",
                              label_smoothing=0.1)),
    ("NLLLoss", {}),
    ("NLLLoss", dict(weight=W3)),
    ("MSELoss", dict(reduction="none")),
    ("L1Loss", {}),
    ("L1Loss", dict(reduction="none")),
    ("BCELoss", {}),
    ("BCELoss", dict(weight=E, reduction="sum")),
    ("BCEWithLogitsLoss", {}),
    ("BCEWithLogitsLoss", dict(weight=E)),
    ("BCEWithLogitsLoss", dict(pos_weight=W3)),
    ("BCEWithLogitsLoss", dict(weight=E, pos_weight=W3)),
    ("HuberLoss", dict(delta=0.5)),
    ("SmoothL1Loss", dict(reduction="sum", beta=0.0)),
    ("KLDivLoss", dict(reduction="batchmean", log_target=True)),
]


@pytest.mark.torch
@pytest.mark.parametrize("name, kwargs", BUFFERS,
                         ids=[f"{n}-{'-'.join(k) or 'default'}" for n, k in BUFFERS])
def test_state_dict_and_repr_are_torchs(name, kwargs):
    """The weights are buffers: in state_dict under torch's keys and order when given, not
    at all when None; the repr is torch's; torch's state_dict loads."""
    ours, theirs = modules(name, **kwargs)
    state = {k: v.numpy() for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state)
    assert [k for k, _ in ours.named_buffers()] == [k for k, _ in theirs.named_buffers()]
    assert list(ours.parameters()) == []
    for key, value in ours.state_dict().items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)
    assert repr(ours) == repr(theirs)
    assert ours.load_state_dict({k: 2 * v for k, v in state.items()}) is not None
    for key in state:
        np.testing.assert_array_equal(getattr(ours, key), 2 * state[key], err_msg=key)
    for attr in ("reduction", "ignore_index", "label_smoothing", "delta", "beta",
                 "log_target"):
        if hasattr(theirs, attr):
            assert getattr(ours, attr) == getattr(theirs, attr), attr


@pytest.mark.torch
def test_a_loss_inside_a_model_is_saved_and_moved_with_it():
    """A criterion assigned to a model is a child: its weight is in the model's state_dict
    as in torch (``criterion.weight``), and ``.double()`` converts it with the weights."""
    import torch

    class Net(ng.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = ng.nn.Linear(2, 3)
            self.criterion = ng.nn.CrossEntropyLoss(weight=W3.astype(np.float32))

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 3)
            self.criterion = torch.nn.CrossEntropyLoss(weight=torch.ones(3))

    net = Net()
    assert list(net.state_dict()) == list(TorchNet().state_dict())
    net.double()
    assert net.criterion.weight.dtype == np.float64 and net.linear.weight.dtype == np.float64
    x = ng.tensor(RNG.standard_normal((4, 2)))
    loss = net.criterion(net.linear(x), np.array([0, 2, 1, 1]))
    loss.backward()
    assert loss.dtype == np.float64 and net.linear.weight.grad is not None


def test_the_weight_follows_float_and_double():
    loss_fn = ng.nn.CrossEntropyLoss(weight=W3.copy())
    z = ng.tensor(Z[:, :, 0].astype(np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="cross_entropy: weight must be float32 like the "
                                        "input, got float64"):
        loss_fn(z, CLASSES[:, 0])
    assert loss_fn.float() is loss_fn and loss_fn.weight.dtype == np.float32
    assert loss_fn(z, CLASSES[:, 0]).dtype == np.float32
    bce = ng.nn.BCEWithLogitsLoss(weight=E.astype(np.float32), pos_weight=W3[:2]).double()
    assert bce.weight.dtype == bce.pos_weight.dtype == np.float64
    probabilities = ng.nn.BCELoss(weight=E).float()
    assert probabilities.weight.dtype == np.float32
    assert probabilities(PROBS.astype(np.float32), Y.astype(np.float32)).dtype == np.float32


LEGACY = "size_average and reduce .deprecated in torch. are not supported; use reduction="
BAD = [
    ("CrossEntropyLoss", dict(reduction="avg"), ValueError,
     r"^CrossEntropyLoss: reduction must be one of \('mean', 'sum', 'none'\), got 'avg'$"),
    ("NLLLoss", dict(reduction=None), ValueError, r"^NLLLoss: reduction must be one of"),
    ("MSELoss", dict(reduction="elementwise_mean"), ValueError,
     r"^MSELoss: reduction must be one of"),
    ("L1Loss", dict(reduction="avg"), ValueError, r"^L1Loss: reduction must be one of"),
    ("BCELoss", dict(reduction="Sum"), ValueError, r"^BCELoss: reduction must be one of"),
    ("L1Loss", dict(reduce=False), ValueError, "^L1Loss: " + LEGACY),
    ("BCELoss", dict(size_average=True), ValueError, "^BCELoss: " + LEGACY),
    ("BCELoss", dict(weight="abc"), TypeError, r"BCELoss: weight"),
    ("BCEWithLogitsLoss", dict(reduction="Mean"), ValueError,
     r"^BCEWithLogitsLoss: reduction must be one of"),
    ("CrossEntropyLoss", dict(size_average=False), ValueError, "^CrossEntropyLoss: " + LEGACY),
    ("NLLLoss", dict(reduce=False), ValueError, "^NLLLoss: " + LEGACY),
    ("MSELoss", dict(size_average=True), ValueError, "^MSELoss: " + LEGACY),
    ("BCEWithLogitsLoss", dict(reduce=True), ValueError, "^BCEWithLogitsLoss: " + LEGACY),
    ("CrossEntropyLoss", dict(label_smoothing=-0.1), ValueError,
     r"^CrossEntropyLoss: label_smoothing must be in \[0, 1\], got -0.1$"),
    ("CrossEntropyLoss", dict(label_smoothing=1.5), ValueError,
     r"^CrossEntropyLoss: label_smoothing must be in \[0, 1\], got 1.5$"),
    ("CrossEntropyLoss", dict(label_smoothing=float("nan")), ValueError,
     r"^CrossEntropyLoss: label_smoothing must be in \[0, 1\], got nan$"),
    ("CrossEntropyLoss", dict(label_smoothing="0.1"), TypeError,
     r"^CrossEntropyLoss: label_smoothing must be a float in \[0, 1\], got str$"),
    ("CrossEntropyLoss", dict(ignore_index=1.0), TypeError,
     r"^CrossEntropyLoss: ignore_index must be an int, got float$"),
    ("NLLLoss", dict(ignore_index=True), TypeError,
     r"^NLLLoss: ignore_index must be an int, got bool$"),
    ("CrossEntropyLoss", dict(weight=np.ones((2, 3))), ValueError,
     r"^CrossEntropyLoss: weight must have shape \(C,\) \(one per class\), got \(2, 3\)$"),
    ("NLLLoss", dict(weight=np.array(1.0)), ValueError,
     r"^NLLLoss: weight must have shape \(C,\) \(one per class\), got \(\)$"),
    ("CrossEntropyLoss", dict(weight=np.array([1, 2, 3])), TypeError,
     r"^CrossEntropyLoss: weight must be floating \(the input's dtype\), got int64"),
    ("NLLLoss", dict(weight="abc"), TypeError, r"NLLLoss: weight"),
    ("BCEWithLogitsLoss", dict(pos_weight="abc"), TypeError, r"BCEWithLogitsLoss: pos_weight"),
    ("HuberLoss", dict(delta=0.0), ValueError, r"^HuberLoss: delta must be > 0 \(as torch\), "
                                               r"got 0.0$"),
    ("HuberLoss", dict(delta=-1), ValueError, r"^HuberLoss: delta must be > 0"),
    ("HuberLoss", dict(delta=float("nan")), ValueError, r"^HuberLoss: delta must be > 0"),
    ("HuberLoss", dict(delta="1"), TypeError, r"^HuberLoss: delta must be a real number"),
    ("HuberLoss", dict(reduction="batchmean"), ValueError, r"^HuberLoss: reduction must be"),
    ("SmoothL1Loss", dict(beta=-0.5), ValueError, r"^SmoothL1Loss: beta must be >= 0 "
                                                  r"\(as torch\), got -0.5$"),
    ("SmoothL1Loss", dict(beta=float("nan")), ValueError, r"^SmoothL1Loss: beta must be >= 0"),
    ("SmoothL1Loss", dict(beta=True), TypeError, r"^SmoothL1Loss: beta must be a real number"),
    ("SmoothL1Loss", dict(reduce=False), ValueError, "^SmoothL1Loss: " + LEGACY),
    ("KLDivLoss", dict(reduction="avg"), ValueError,
     r"^KLDivLoss: reduction must be one of \('mean', 'batchmean', 'sum', 'none'\), "
     r"got 'avg'$"),
    ("KLDivLoss", dict(log_target=1), TypeError, r"^KLDivLoss: log_target must be True or "
                                                 r"False, got 1$"),
    ("KLDivLoss", dict(size_average=True), ValueError, "^KLDivLoss: " + LEGACY),
]


@pytest.mark.parametrize("name, kwargs, error, match", BAD,
                         ids=[f"{b[0]}-{k}" for k, b in enumerate(BAD)])
def test_bad_constructor_arguments_fail_at_construction(name, kwargs, error, match):
    with pytest.raises(error, match=match):
        getattr(ng.nn, name)(**kwargs)


def test_bce_weights_of_another_shape_fail_at_the_call():
    """Their shape is checked against the logits' (known only then), by the op."""
    loss_fn = ng.nn.BCEWithLogitsLoss(pos_weight=np.ones(3))
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits: pos_weight of "
                                         r"shape \(3,\) does not broadcast"):
        loss_fn(ng.tensor(Y[:, 0, :]), Y[:, 1, :])


def test_bce_loss_refuses_what_is_not_a_probability_at_the_call():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: every element of the input "
                                         r"must be a probability in \[0, 1\]"):
        ng.nn.BCELoss()(ng.tensor(Z), Y)


def test_the_mse_broadcast_warning_names_the_callers_line():
    """A target that widens the input warns at the line that called the module, not at its
    forward inside nongate_np (the functional calls: tests/ops/test_mse_loss.py)."""
    with pytest.warns(UserWarning, match="mse_loss: the target has shape") as caught:
        ng.nn.MSELoss()(ng.tensor(np.zeros(3)), np.zeros((2, 1)))
    assert [w.filename for w in caught] == [__file__]


@pytest.mark.parametrize("make", [
    lambda: ng.nn.CrossEntropyLoss(weight=[1.0, 2.0, 0.5]),
    lambda: ng.nn.NLLLoss(weight=(1, 2, 3)),
    lambda: ng.nn.BCEWithLogitsLoss(weight=[1.0, 2.0, 0.5], pos_weight=[2, 1, 1]),
])
def test_a_list_weight_is_float32_and_serves_a_float32_model(make):
    """As torch.tensor([...]): float32, the modules' default dtype (as float64 it refused
    every call with a float32 input); an array keeps its dtype."""
    loss_fn = make()
    for _, buf in loss_fn.named_buffers():
        assert buf.dtype == np.float32
    z = ng.tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32),
                  requires_grad=True)
    target = np.array([0, 2, 1, 1]) if not isinstance(loss_fn, ng.nn.BCEWithLogitsLoss) \
        else np.full((4, 3), 0.5, np.float32)
    x = ng.log_softmax(z, -1) if isinstance(loss_fn, ng.nn.NLLLoss) else z
    loss = loss_fn(x, target)
    loss.backward()
    assert loss.dtype == np.float32 and z.grad.dtype == np.float32
    assert ng.nn.CrossEntropyLoss(weight=np.ones(3)).weight.dtype == np.float64


@pytest.mark.torch
@pytest.mark.parametrize("name, kwargs", [
    ("CrossEntropyLoss", {}), ("CrossEntropyLoss", dict(weight=W3, label_smoothing=0.2)),
    ("NLLLoss", dict(weight=W3)), ("NLLLoss", dict(ignore_index=1))])
def test_a_batch_whose_every_target_is_ignored(name, kwargs):
    """"sum" and "none" are torch's (zeros); "mean" is 0 where torch's is NaN (the gradient
    is zero in both): the documented, deliberate difference (a batch of ignored targets
    adds nothing to a training loss instead of making it NaN)."""
    import torch
    ignored = np.full((5, 2), kwargs.get("ignore_index", -100))
    for reduction in ("sum", "none"):
        ours, theirs = modules(name, reduction=reduction, **kwargs)
        assert_matches_torch(lambda x: ours(x, ignored),
                             lambda x: theirs(x, torch.from_numpy(ignored)), [Z])
    ours, theirs = modules(name, **kwargs)
    z, tz = ng.tensor(Z, requires_grad=True), torch.tensor(Z, requires_grad=True)
    loss, tloss = ours(z, ignored), theirs(tz, torch.from_numpy(ignored))
    loss.backward()
    tloss.backward()
    assert loss.item() == 0.0 and np.all(z.grad == 0)
    assert np.isnan(tloss.item()) and np.all(tz.grad.numpy() == 0)


# -- HuberLoss, SmoothL1Loss, KLDivLoss: compositions of the ops ----------------------------

def _quiet(fn):
    """``fn`` with the broadcast and KL "mean" warnings silenced (checked on their own)."""
    def call(*args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return fn(*args)
    return call


@st.composite
def regression_cases(draw):
    """Input and target of one shape (or a target broadcasting into it), differences on
    both sides of the threshold, and the threshold."""
    shape = draw(nt.shapes())
    x = draw(nt.arrays(shape, low=-3, high=3))
    y = draw(nt.arrays(draw(st.sampled_from([shape, shape[-1:], ()])), low=-3, high=3))
    return x, y, draw(st.sampled_from([0.25, 1.0, 2.5]))


@pytest.mark.torch
@pytest.mark.parametrize("name", ["HuberLoss", "SmoothL1Loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=regression_cases())
def test_huber_and_smooth_l1_match_torch(name, reduction, case):
    """Values and gradients of input and target, float64, to 1e-12 relative (torch's
    expressions in its order give its values; its hand-written backward and autograd's
    round the gradient differently, by an ulp or two)."""
    x, y, threshold = case
    key = "delta" if name == "HuberLoss" else "beta"
    ours, theirs = modules(name, reduction=reduction, **{key: threshold})
    assert_matches_torch(_quiet(ours), _quiet(theirs), [x, y])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@given(data=st.data(), shape=nt.shapes(), log_target=st.booleans())
def test_kl_div_matches_torch(reduction, data, shape, log_target):
    """Values and gradients of input and target; the target holds zeros (probabilities)
    where torch's value is 0 and its gradient for the target NaN, as ours."""
    x = data.draw(nt.arrays(shape, low=-4, high=0))
    if log_target:
        t = data.draw(nt.arrays(data.draw(st.sampled_from([shape, shape[-1:]])), low=-4,
                                high=1))
    else:
        t = data.draw(nt.arrays(data.draw(st.sampled_from([shape, shape[-1:]])), low=0,
                                high=1))
        t.flat[0] = 0.0
    ours, theirs = modules("KLDivLoss", reduction=reduction, log_target=log_target)
    assert_matches_torch(_quiet(ours), _quiet(theirs), [x, t])


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, kwargs", [
    ("huber_loss", dict(delta=0.6)), ("huber_loss", dict(delta=2.0, reduction="sum")),
    ("smooth_l1_loss", dict(beta=0.6, reduction="none")), ("smooth_l1_loss", dict(beta=0.0)),
    ("kl_div", dict(reduction="batchmean")),
    ("kl_div", dict(reduction="sum", log_target=True))])
def test_the_functional_losses_in_float32_and_float64_as_torch(name, kwargs, dtype):
    """float32 to float32's rounding (sums in another order), float64 to 1e-12."""
    import torch
    rng = np.random.default_rng(5)
    x = rng.uniform(-3, 3, (6, 4)).astype(dtype)
    y = rng.uniform(0, 3, (6, 4)).astype(dtype)
    if name == "kl_div":
        x = x - 3
    ours, theirs = ng.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    loss = getattr(F, name)(ours, y, **kwargs)
    tloss = getattr(torch.nn.functional, name)(theirs, torch.tensor(y), **kwargs)
    assert loss.dtype == dtype and tloss.dtype == getattr(torch, np.dtype(dtype).name)
    v = rng.standard_normal(loss.shape).astype(dtype)
    loss.backward(v)
    tloss.backward(torch.tensor(v))
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss.numpy(), tloss.detach().numpy(), rtol=rtol, atol=0)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=rtol, atol=1e-7 * rtol)


@pytest.mark.torch
@pytest.mark.parametrize("x_dtype, y_dtype", [(np.float32, np.float64),
                                              (np.float64, np.float32),
                                              (np.float32, np.int64)])
@pytest.mark.parametrize("name", ["huber_loss", "smooth_l1_loss", "kl_div"])
def test_mixed_dtypes_give_torchs_dtype(name, x_dtype, y_dtype):
    """huber_loss has the input's dtype (torch's kernel writes into a tensor like it),
    smooth_l1_loss and kl_div the promoted one; kl_div refuses an integer target, as torch
    (a TypeError here, a RuntimeError there)."""
    import torch
    x, y = np.linspace(-2, 2, 6).astype(x_dtype) - 2.5, np.arange(6).astype(y_dtype) / 5
    if y_dtype == np.int64:
        y = np.arange(6)
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y)
    if name == "kl_div" and y_dtype == np.int64:
        with pytest.raises(RuntimeError, match="Integral inputs not supported"):
            torch.nn.functional.kl_div(tx, ty, reduction="sum")
        with pytest.raises(TypeError, match="kl_div: the input and target must be real "
                                            "floating .*got float32 and int64"):
            F.kl_div(x, y, reduction="sum")
        return
    kw = dict(reduction="sum")
    want = getattr(torch.nn.functional, name)(tx, ty, **kw)
    got = getattr(F, name)(ng.tensor(x, requires_grad=True), y, **kw)
    assert got.dtype == np.dtype(str(want.dtype).removeprefix("torch."))
    np.testing.assert_allclose(got.item(), want.item(), rtol=1e-6)


@pytest.mark.torch
@pytest.mark.parametrize("name, kwargs", [("huber_loss", dict(delta=1.0)),
                                          ("smooth_l1_loss", dict(beta=1.0)),
                                          ("smooth_l1_loss", dict(beta=0.0))])
def test_infinite_and_nan_differences_as_torch(name, kwargs):
    """±inf: torch's inf loss and its finite gradient (no NaN from the branch not taken);
    NaN: NaN, with a NaN gradient (beta 0: l1_loss's 0, as torch's)."""
    import torch
    x, y = np.array([np.inf, -np.inf, 0.3, np.nan, 2.0]), np.zeros(5)
    assert_matches_torch(lambda a: getattr(F, name)(a, y, reduction="none", **kwargs),
                         lambda a: getattr(torch.nn.functional, name)(
                             a, torch.tensor(y), reduction="none", **kwargs), [x])


@pytest.mark.torch
@pytest.mark.parametrize("name, kwargs", [("huber_loss", {}), ("smooth_l1_loss", {}),
                                          ("smooth_l1_loss", dict(beta=0.0)),
                                          ("kl_div", dict(reduction="batchmean")),
                                          ("kl_div", {})])
def test_no_element(name, kwargs):
    """"sum" and "none" as torch's (0, an empty loss); a "mean" (and kl_div's "batchmean")
    over no element is 0 where torch's is NaN, as the library's other losses."""
    import torch
    x = np.zeros((0, 3))
    fn, tfn = getattr(F, name), getattr(torch.nn.functional, name)
    for reduction in ("sum", "none"):
        assert_matches_torch(_quiet(lambda a, b: fn(a, b, reduction=reduction)),
                             _quiet(lambda a, b: tfn(a, b, reduction=reduction)), [x, x])
    got = _quiet(lambda: fn(ng.tensor(x, requires_grad=True), x, **kwargs))()
    want = _quiet(lambda: tfn(torch.tensor(x), torch.tensor(x), **kwargs))()
    assert got.item() == 0.0 and got.shape == () and np.isnan(want.item())
    got.backward()


@pytest.mark.torch
def test_kl_div_batchmean_divides_by_the_inputs_first_dimension_as_torch():
    """A 0-d input: the sum; a target broadcasting the input larger: still the input's
    first dimension, as torch's."""
    import torch
    for x, t in ((np.array(-1.0), np.array(0.5)),
                 (np.log(np.full(3, 1 / 3)), np.full((2, 3), 0.25))):
        assert_matches_torch(lambda a, b: F.kl_div(a, b, reduction="batchmean"),
                             lambda a, b: torch.nn.functional.kl_div(
                                 a, b, reduction="batchmean"), [x, t])


@pytest.mark.torch
def test_huber_weight_as_torchs():
    """torch 2.13's weight: of the input's shape, each loss multiplied, "mean" a plain
    mean; the weight gets its gradient; another shape is a ValueError, as torch."""
    import torch
    rng = np.random.default_rng(7)
    x, y, w = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.uniform(0, 2, (4, 3))
    for reduction in REDUCTIONS:
        assert_matches_torch(
            lambda a, b, c: F.huber_loss(a, b, reduction, 0.5, c),
            lambda a, b, c: torch.nn.functional.huber_loss(a, b, reduction, 0.5, c), [x, y, w])
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        torch.nn.functional.huber_loss(torch.tensor(x), torch.tensor(y),
                                       weight=torch.tensor(w[0]))
    with pytest.raises(ValueError, match=r"huber_loss: weight must have the input's shape "
                                         r"\(4, 3\) \(as torch\), got \(3,\)"):
        F.huber_loss(x, y, weight=w[0])


@pytest.mark.parametrize("fn, inputs", [
    (lambda x, y: F.huber_loss(x, y, "sum", 0.7), "xy"),
    (lambda x, y, w: F.huber_loss(x, y, "mean", 1.3, w), "xyw"),
    (lambda x, y: F.smooth_l1_loss(x, y, reduction="none", beta=0.7), "xy"),
    (lambda x, y: F.smooth_l1_loss(x, y, beta=2.0), "xy"),
    (lambda x, p: F.kl_div(x, p, reduction="batchmean"), "xp"),
    (lambda x, t: F.kl_div(x, t, reduction="none", log_target=True), "xy"),
], ids=["huber", "huber-weight", "smooth-l1", "smooth-l1-mean", "kl", "kl-log-target"])
def test_the_compositions_pass_gradcheck(fn, inputs):
    """Every new composition's gradient, for every input, against central differences in
    float64 (differences away from the thresholds, where the second derivative jumps)."""
    rng = np.random.default_rng(11)
    x = rng.uniform(-3, 3, (3, 4))
    y = x + rng.choice([-1, 1], (3, 4)) * rng.choice([0.2, 0.4, 1.0, 1.6, 3.0], (3, 4))
    arrays = {"x": x, "y": y, "w": rng.uniform(0.5, 2, (3, 4)),
              "p": rng.uniform(0.1, 1.0, (3, 4))}
    if inputs.startswith("xp"):
        arrays["x"] = x - 3
    ng.gradcheck(fn, [arrays[k] for k in inputs], method="central")


def test_the_broadcast_warnings_and_errors():
    """A target that widens the input warns at the caller's line, as mse_loss (torch warns
    for any other shape); kl_div does not (as torch); shapes that do not broadcast are a
    ValueError naming the op; integer or bool input is a TypeError."""
    x = ng.tensor(np.zeros(3))
    for name in ("huber_loss", "smooth_l1_loss"):
        with pytest.warns(UserWarning, match=f"{name}: the target has shape") as caught:
            getattr(F, name)(x, np.zeros((2, 1)))
        assert [w.filename for w in caught] == [__file__]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            getattr(F, name)(x, 0.5)
            getattr(F, name)(x, np.zeros(1))
        with pytest.raises(ValueError, match=rf"{name}: shapes \(3,\) and \(2,\) cannot be "
                                             r"broadcast"):
            getattr(F, name)(x, np.zeros(2))
        with pytest.raises(TypeError, match=f"{name}: not defined for bool input"):
            getattr(F, name)(np.zeros(3, bool), np.zeros(3))
    with pytest.raises(TypeError, match="huber_loss: expected a real floating input"):
        F.huber_loss(np.arange(3), np.zeros(3))
    with pytest.raises(TypeError, match="smooth_l1_loss: expected a real floating input"):
        F.smooth_l1_loss(np.arange(3), np.arange(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kl_div(x, np.full((2, 3), 0.5), reduction="sum")
    with pytest.raises(ValueError, match=r"kl_div: shapes \(3,\) and \(2,\) cannot be"):
        F.kl_div(x, np.zeros(2), reduction="sum")


def test_kl_div_mean_warns_as_torch():
    """torch's warning that "mean" is not the KL divergence, at the caller's line, from the
    module too; "batchmean" is silent."""
    with pytest.warns(UserWarning, match="kl_div: reduction: 'mean' divides the total loss "
                                         "by both the batch size and the support size") as w:
        ng.nn.KLDivLoss()(ng.tensor(np.zeros((2, 3))), np.full((2, 3), 1 / 3))
    assert [x.filename for x in w] == [__file__]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ng.nn.KLDivLoss(reduction="batchmean")(ng.tensor(np.zeros((2, 3))), np.ones((2, 3)))


@pytest.mark.torch
def test_huber_delta_and_smooth_l1_beta_bounds_as_torch():
    """torch refuses delta <= 0 and beta < 0 (NaN too) at the call with a RuntimeError;
    ours at the call with a ValueError (and the modules at construction); beta 0 is l1_loss
    in both, delta and beta inf are allowed in both."""
    import torch
    x, y = np.array([0.5, -2.0, 4.0]), np.array([0.0, 1.0, 1.0])
    for delta in (0.0, -1.0, float("nan")):
        with pytest.raises(RuntimeError, match="non-positive values for delta"):
            torch.nn.functional.huber_loss(torch.tensor(x), torch.tensor(y), delta=delta)
        with pytest.raises(ValueError, match="huber_loss: delta must be > 0"):
            F.huber_loss(x, y, delta=delta)
    for beta in (-0.1, float("nan")):
        with pytest.raises(RuntimeError, match="negative values for beta"):
            torch.nn.functional.smooth_l1_loss(torch.tensor(x), torch.tensor(y), beta=beta)
        with pytest.raises(ValueError, match="smooth_l1_loss: beta must be >= 0"):
            F.smooth_l1_loss(x, y, beta=beta)
    for name, kw in (("smooth_l1_loss", dict(beta=0.0)), ("smooth_l1_loss", dict(beta=np.inf)),
                     ("huber_loss", dict(delta=np.inf)), ("huber_loss", dict(delta=1))):
        assert_matches_torch(lambda a: getattr(F, name)(a, y, reduction="none", **kw),
                             lambda a: getattr(torch.nn.functional, name)(
                                 a, torch.tensor(y), reduction="none", **kw), [x])
