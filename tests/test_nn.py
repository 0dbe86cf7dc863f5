"""nongate_np.nn: registration and naming (against torch), state_dict round trips, load errors,
initialisation statistics, Dropout, modes, dtype conversion and the containers."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
from scipy import stats

import nongate_np as ng
import nongate_np.nn.functional as F
from nongate_np import nn

# ---------------------------------------------------------------------------------------------
# Twin models: the same architecture built with nongate_np.nn and with torch.nn
# ---------------------------------------------------------------------------------------------

def _make_model(lib, dtype):
    """Embedding -> nested Sequential/Linear -> ModuleList head, with a buffer and a
    bias-free layer; built from ``lib`` (nongate_np.nn or torch.nn) in the same order."""
    kw = {"dtype": dtype}

    class Encoder(lib.Module):
        def __init__(self):
            super().__init__()
            self.embed = lib.Embedding(11, 4, padding_idx=0, **kw)
            self.proj = lib.Sequential(lib.Linear(4, 6, **kw), lib.Tanh(),
                                       lib.Sequential(lib.Linear(6, 5, **kw), lib.ReLU()))
            self.register_buffer("scale", _buffer(lib, np.linspace(0.5, 1.5, 5), dtype))

        def forward(self, ids):
            return self.proj(self.embed(ids)) * self.scale

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Encoder()
            self.heads = lib.ModuleList([lib.Linear(5, 3, **kw),
                                         lib.Linear(5, 2, bias=False, **kw)])
            self.out = lib.Sequential(OrderedDict([("hidden", lib.Linear(5, 5, **kw)),
                                                   ("act", lib.Sigmoid())]))

        def forward(self, ids):
            h = self.out(self.encoder(ids))
            return [head(h) for head in self.heads]

    return Net()


def _buffer(lib, values, dtype):
    if lib is nn:
        return np.asarray(values, dtype)
    import torch
    return torch.tensor(values, dtype=dtype)


def _twins():
    torch = pytest.importorskip("torch")
    ours = _make_model(nn, np.float64)
    theirs = _make_model(torch.nn, torch.float64)
    return torch, ours, theirs


@pytest.mark.torch
def test_parameter_and_state_names_match_torch():
    torch, ours, theirs = _twins()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert p.shape == tuple(tp.shape), name
    for recurse in (True, False):
        assert ([n for n, _ in ours.encoder.named_parameters(prefix="enc", recurse=recurse)]
                == [n for n, _ in theirs.encoder.named_parameters(prefix="enc",
                                                                  recurse=recurse)])


@pytest.mark.torch
def test_shared_parameter_listed_once_but_saved_under_both_names_as_torch():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.ReLU(), torch.nn.Linear(3, 3))
    ours[2].weight = ours[0].weight
    theirs[2].weight = theirs[0].weight
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())


def _ids():
    return np.array([[0, 3, 10, 7], [5, 5, 0, 1]])


@pytest.mark.torch
def test_torch_state_dict_loads_unchanged_and_gives_torch_output():
    torch, ours, theirs = _twins()
    sd = {k: v.numpy() for k, v in theirs.state_dict().items()}
    result = ours.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    got = ours(_ids())
    want = theirs(torch.tensor(_ids()))
    for k, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=f"head {k} after loading torch's state_dict")


@pytest.mark.torch
def test_our_state_dict_loads_into_torch():
    torch, ours, theirs = _twins()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    got = ours(_ids())
    want = theirs(torch.tensor(_ids()))
    for k, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=f"head {k} after loading our state_dict in torch")


@pytest.mark.torch
def test_repr_matches_torch_for_common_layers():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(3, 4), nn.ReLU(),
                         nn.Sequential(nn.Embedding(5, 2, padding_idx=1), nn.Tanh()),
                         nn.Linear(4, 1, bias=False), nn.Sigmoid())
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
                                 torch.nn.Sequential(torch.nn.Embedding(5, 2, padding_idx=1),
                                                     torch.nn.Tanh()),
                                 torch.nn.Linear(4, 1, bias=False), torch.nn.Sigmoid())
    assert repr(ours) == repr(theirs)


# ---------------------------------------------------------------------------------------------
# state_dict / load_state_dict
# ---------------------------------------------------------------------------------------------

def _mlp(dtype=np.float64):
    return nn.Sequential(nn.Linear(3, 4, dtype=dtype), nn.ReLU(), nn.Linear(4, 2, dtype=dtype))


def test_state_dict_holds_copies():
    m = _mlp()
    sd = m.state_dict()
    assert all(type(v) is np.ndarray for v in sd.values())
    before = m[0].weight.data.copy()
    sd["0.weight"][...] = 123.0
    np.testing.assert_array_equal(m[0].weight.data, before)
    m[0].weight.data[...] = -1.0
    assert not np.any(sd["0.weight"] == -1.0)


def test_load_casts_to_parameter_dtype_and_copies_in_place():
    m = _mlp(np.float32)
    w = m[0].weight
    src = _mlp(np.float64).state_dict()
    m.load_state_dict(src)
    assert m[0].weight is w, "the Parameter object must be kept (optimisers hold it)"
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w.data, src["0.weight"].astype(np.float32))
    src["0.weight"][...] = 7.0
    assert not np.any(w.data == 7.0), "load_state_dict must copy, not alias"


def _broken_state(m):
    sd = m.state_dict()
    del sd["0.bias"]                                   # missing
    sd["extra.weight"] = np.zeros(3)                   # unexpected
    sd["2.weight"] = np.zeros((2, 5))                  # wrong shape: module has (2, 4)
    return sd


def test_load_state_dict_reports_every_problem_in_one_error():
    m = _mlp()
    before = m.state_dict()
    sd = _broken_state(m)
    sd["0.weight"] = sd["0.weight"] + 1.0              # a valid entry: must not be loaded
    with pytest.raises(nn.StateDictError) as info:
        m.load_state_dict(sd)
    msg = str(info.value)
    assert "0.bias" in msg and "extra.weight" in msg and "2.weight" in msg, msg
    assert "(2, 4)" in msg and "(2, 5)" in msg, msg
    assert info.value.missing_keys == ["0.bias"]
    assert info.value.unexpected_keys == ["extra.weight"]
    assert info.value.shape_mismatches == [("2.weight", (2, 4), (2, 5))]
    assert isinstance(info.value, RuntimeError) and not isinstance(info.value, KeyError)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=f"{k} changed by a failed load")


def test_load_state_dict_non_strict_returns_keys_but_raises_on_shape():
    m = _mlp()
    with pytest.raises(nn.StateDictError) as info:
        m.load_state_dict(_broken_state(m), strict=False)
    msg = str(info.value)
    assert "2.weight" in msg and "(2, 4)" in msg and "(2, 5)" in msg, msg
    assert "0.bias" not in msg and "extra.weight" not in msg, msg

    sd = _broken_state(m)
    del sd["2.weight"]
    sd["0.weight"] = np.full((4, 3), 0.25)
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["0.bias", "2.weight"]
    assert result.unexpected_keys == ["extra.weight"]
    missing, unexpected = result                          # a namedtuple, as torch's
    assert missing == result.missing_keys and unexpected == result.unexpected_keys
    np.testing.assert_array_equal(m[0].weight.data, np.full((4, 3), 0.25))


def test_load_state_dict_round_trip_and_buffers():
    class WithBuffer(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2, dtype=np.float64)
            self.register_buffer("count", np.zeros((), np.int64))
            self.register_buffer("tmp", np.ones(2), persistent=False)

    a, b = WithBuffer(), WithBuffer()
    a.count = np.array(5)
    # own entries (parameters, then buffers) come before the children's, as in torch
    assert list(a.state_dict()) == ["count", "lin.weight", "lin.bias"]
    b.load_state_dict(a.state_dict())
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v, err_msg=k)
    assert b.count.dtype == np.int64


# ---------------------------------------------------------------------------------------------
# Initialisation
# ---------------------------------------------------------------------------------------------

def test_linear_init_is_uniform_with_torch_bound():
    ng.seed(0)
    n_in, n_out = 50, 400
    lin = nn.Linear(n_in, n_out, dtype=np.float64)
    bound = 1.0 / math.sqrt(n_in)            # torch: kaiming_uniform_(a=sqrt(5)) -> 1/sqrt(in)
    for name, p in lin.named_parameters():
        x = p.data.ravel()
        assert np.all(np.abs(x) <= bound), name
        # KS test against U(-bound, bound): fails if the law or the bound is wrong.
        assert stats.kstest(x, stats.uniform(-bound, 2 * bound).cdf).pvalue > 1e-3, name
    w = lin.weight.data.ravel()
    # The extremes of 20,000 uniform draws come within 0.1% of the bound.
    assert w.max() > bound * 0.999 and w.min() < -bound * 0.999
    assert lin.weight.dtype == np.float64 and nn.Linear(2, 2).weight.dtype == np.float32


@pytest.mark.torch
def test_linear_init_range_matches_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ng.seed(0)
    for n_in in (1, 7, 300):
        theirs = torch.nn.Linear(n_in, 2000).weight.detach().numpy()
        ours = nn.Linear(n_in, 2000).weight.data
        # Same support: the largest |w| of 2000·n_in draws agree to a few parts per thousand.
        assert abs(np.abs(ours).max() / np.abs(theirs).max() - 1) < 5e-3, n_in


def test_embedding_init_standard_normal_and_padding_row():
    ng.seed(1)
    emb = nn.Embedding(2001, 20, padding_idx=7, dtype=np.float64)
    w = emb.weight.data
    np.testing.assert_array_equal(w[7], 0.0)
    rest = np.delete(w, 7, axis=0).ravel()
    n = rest.size
    assert abs(rest.mean()) < 5 / math.sqrt(n)
    assert abs(rest.std() - 1) < 5 * math.sqrt(1 / (2 * n))     # sd of the sample std
    assert stats.kstest(rest, "norm").pvalue > 1e-3


def test_embedding_padding_row_gets_no_gradient():
    emb = nn.Embedding(6, 3, padding_idx=-1, dtype=np.float64)
    assert emb.padding_idx == 5
    ids = np.array([[5, 1, 1], [0, 5, 2]])
    y = emb(ids)
    np.testing.assert_array_equal(y.data, emb.weight.data[ids])
    (y * 2.0).sum().backward()
    counts = np.bincount(ids.ravel(), minlength=6).astype(float)
    counts[5] = 0.0
    np.testing.assert_array_equal(emb.weight.grad, 2.0 * counts[:, None] * np.ones((6, 3)))


def test_embedding_from_pretrained():
    table = np.arange(12.0).reshape(4, 3)
    emb = nn.Embedding.from_pretrained(table)
    assert emb.weight.dtype == np.float64 and not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(np.array([3, 0])).data, table[[3, 0]])
    table[0, 0] = 99.0
    assert emb.weight.data[0, 0] == 0.0, "from_pretrained must copy"


@pytest.mark.torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_embedding_max_norm_renormalises_the_rows_looked_up_as_torch(norm_type):
    """torch's embedding_renorm_: each distinct row looked up whose norm exceeds max_norm is
    scaled in place by max_norm / (norm + 1e-7) first; the others, and rows not looked
    up, unchanged; the gradient is the lookup's."""
    import torch
    w = np.random.default_rng(0).normal(size=(6, 3)) * 2
    w[4] *= 0.1                                                     # under the norm
    ours = nn.Embedding(6, 3, max_norm=1.0, norm_type=norm_type, _weight=w,
                        dtype=np.float64)
    theirs = torch.nn.Embedding(6, 3, max_norm=1.0, norm_type=norm_type,
                                _weight=torch.tensor(w))
    for ids in ([[0, 2, 2], [5, 4, 0]], [1, 2]):                    # renormed twice: a no-op
        y, ty = ours(np.array(ids)), theirs(torch.tensor(ids))
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(),
                                   rtol=1e-12)
        v = np.random.default_rng(1).normal(size=y.shape)
        y.backward(ng.tensor(v))
        ty.backward(torch.tensor(v))
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(ours.weight.numpy()[3], w[3])      # never looked up
    f = F.embedding(ng.tensor([3]), ng.tensor(w.copy()), max_norm=0.5, norm_type=norm_type)
    tf = torch.nn.functional.embedding(torch.tensor([3]), torch.tensor(w), max_norm=0.5,
                                       norm_type=norm_type)
    np.testing.assert_allclose(f.numpy(), tf.numpy(), rtol=1e-12)
    assert repr(ours) == repr(theirs)


@pytest.mark.torch
def test_embedding_takes_torchs_arguments():
    import torch
    assert repr(nn.Embedding(5, 2, 1, None, 2.0, False, False)) == repr(
        torch.nn.Embedding(5, 2, 1, None, 2.0, False, False))
    frozen = nn.Embedding(3, 2, _weight=np.ones((3, 2)), _freeze=True)
    assert not frozen.weight.requires_grad and frozen.weight.dtype == np.float32
    emb = nn.Embedding.from_pretrained(np.ones((3, 2)) * 4, max_norm=2.0)
    np.testing.assert_allclose(emb(np.array([1])).numpy(), [[np.sqrt(2), np.sqrt(2)]],
                               rtol=1e-7)
    assert nn.Embedding(4, 2, max_norm=1.5).config()["max_norm"] == 1.5
    assert nn.Embedding(4, 2, device="cpu").weight.device == "cpu"


@pytest.mark.parametrize("kwargs, error, message", [
    ({"scale_grad_by_freq": True}, ValueError, "Embedding: scale_grad_by_freq=True (each "
                                               "row's gradient divided by"),
    ({"sparse": True}, ValueError, "Embedding: sparse=True (sparse gradients) is not "
                                   "supported here"),
    ({"max_norm": 0.0}, ValueError, "Embedding: max_norm must be positive, got 0.0"),
    ({"max_norm": "1"}, TypeError, "Embedding: max_norm must be a real number"),
    ({"norm_type": None}, TypeError, "Embedding: norm_type must be a real number"),
    ({"sparse": 1}, TypeError, "sparse"),
])
def test_embedding_refuses_what_is_not_here(kwargs, error, message):
    import re
    with pytest.raises(error, match=re.escape(message)):
        nn.Embedding(4, 2, **kwargs)


def test_embedding_max_norm_change_is_seen_by_a_graph_that_saved_the_weight():
    """As torch's: the renorm changes the weight in place, so a node that saved it
    before (a tied output layer) raises at backward instead of a wrong gradient."""
    emb = nn.Embedding(4, 3, max_norm=0.1, _weight=np.ones((4, 3)), dtype=np.float64)
    x = ng.tensor(np.ones((1, 3)), requires_grad=True)
    tied = ng.matmul(x, emb.weight.T)                  # saves the weight
    out = emb(np.array([0]))
    with pytest.raises(RuntimeError, match="changed in place after the forward pass"):
        (tied.sum() + out.sum()).backward()


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_flatten_parameters_is_a_no_op(cls):
    """torch's packs cuDNN's weights; ported code calls it after .to(device) or in forward."""
    ng.seed(0)
    m = cls(3, 4, dtype=np.float64)
    before = {k: v.copy() for k, v in m.state_dict().items()}
    x = np.random.default_rng(0).normal(size=(5, 2, 3))
    y0 = m(x)[0].numpy()
    assert m.flatten_parameters() is None
    np.testing.assert_array_equal(m(x)[0].numpy(), y0)
    assert all(np.array_equal(before[k], v) for k, v in m.state_dict().items())
    assert "cuDNN" in cls.flatten_parameters.__doc__


@pytest.mark.torch
def test_a_torch_tensor_of_another_dtype_is_told_torchs_conversion():
    """A torch tensor has no astype: the message names .float() / .to(torch.float32)."""
    import re

    import torch
    lin = nn.Linear(3, 2)
    for x, fix in ((torch.zeros(2, 3, dtype=torch.float64), "input.float() or "
                    "input.to(torch.float32)"),
                   (torch.zeros(2, 3, dtype=torch.int64), "input.float() or "
                    "input.to(torch.float32)")):
        with pytest.raises(TypeError, match=re.escape(fix)):
            lin(x)
    with pytest.raises(TypeError, match=re.escape("input.double() or input.to(torch.float64)")):
        nn.Linear(3, 2, dtype=np.float64)(torch.zeros(2, 3))
    with pytest.raises(TypeError, match=re.escape("convert input (input.astype(np.float32))")):
        lin(np.zeros((2, 3)))


def test_same_seed_same_init_different_seed_different_init():
    def build(s):
        ng.seed(s)
        return _mlp(np.float32).state_dict()
    a, b, c = build(5), build(5), build(6)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not any(np.array_equal(a[k], c[k]) for k in a)


def test_float32_and_float64_init_agree_after_the_same_seed():
    ng.seed(2)
    w32 = nn.Linear(5, 4, dtype=np.float32).weight.data
    ng.seed(2)
    w64 = nn.Linear(5, 4, dtype=np.float64).weight.data
    np.testing.assert_array_equal(w32, w64.astype(np.float32))


# ---------------------------------------------------------------------------------------------
# Linear forward/backward against NumPy
# ---------------------------------------------------------------------------------------------

def test_linear_forward_backward_against_numpy():
    lin = nn.Linear(4, 3, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((2, 5, 4))
    xt = ng.Tensor(x.copy(), requires_grad=True)
    y = lin(xt)
    W, b = lin.weight.data, lin.bias.data
    np.testing.assert_allclose(y.data, x @ W.T + b, rtol=1e-14)
    v = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(v)
    np.testing.assert_allclose(lin.weight.grad, np.einsum("bto,bti->oi", v, x), rtol=1e-12)
    np.testing.assert_allclose(lin.bias.grad, v.sum(axis=(0, 1)), rtol=1e-12)
    np.testing.assert_allclose(xt.grad, v @ W, rtol=1e-12)
    with pytest.raises(ValueError, match="in_features=4"):
        lin(np.zeros((2, 3)))
    nobias = nn.Linear(4, 3, bias=False)
    assert nobias.bias is None and list(nobias.state_dict()) == ["weight"]


# ---------------------------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------------------------

def test_dropout_train_keeps_binomial_fraction_and_scales():
    ng.seed(3)
    p, n = 0.3, 200_000
    drop = nn.Dropout(p)
    y = drop(ng.ones(n)).data
    kept = y != 0
    frac = kept.mean()
    assert abs(frac - (1 - p)) < 5 * math.sqrt(p * (1 - p) / n), frac
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-15)


def test_dropout_gradient_is_mask_over_keep_probability():
    ng.seed(4)
    p = 0.4
    x = ng.Tensor(np.random.default_rng(0).uniform(1, 2, (50, 40)), requires_grad=True)
    y = nn.Dropout(p)(x)
    mask = (y.data != 0).astype(float)
    assert 0 < mask.mean() < 1
    np.testing.assert_allclose(y.data, x.data * mask / (1 - p), rtol=1e-15)
    v = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(v)
    np.testing.assert_allclose(x.grad, v * mask / (1 - p), rtol=1e-15)


def test_dropout_eval_is_identity_and_p_validated():
    drop = nn.Dropout(0.5).eval()
    x = np.random.default_rng(0).standard_normal(100)
    np.testing.assert_array_equal(drop(ng.Tensor(x)).data, x)
    assert np.all(nn.Dropout(1.0)(ng.ones(10)).data == 0)
    np.testing.assert_array_equal(nn.Dropout(0.0)(ng.Tensor(x)).data, x)
    for bad in (-0.1, 1.5, "0.5"):
        with pytest.raises(ValueError, match="Dropout: p"):
            nn.Dropout(bad)
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"


# ---------------------------------------------------------------------------------------------
# Modes, gradients, dtypes, Parameter
# ---------------------------------------------------------------------------------------------

def test_train_eval_propagate_to_every_descendant():
    m = _make_model(nn, np.float64)
    m.eval()
    assert [mod.training for mod in m.modules()] == [False] * len(list(m.modules()))
    m.encoder.train()
    assert not m.training and all(mod.training for mod in m.encoder.modules())
    assert m.train() is m and all(mod.training for mod in m.modules())
    drop = nn.Sequential(nn.Sequential(nn.Dropout(0.9)))
    x = np.ones(1000)
    assert np.count_nonzero(drop(x).data) < 1000
    drop.eval()
    np.testing.assert_array_equal(drop(x).data, x)
    with pytest.raises(TypeError, match="bool"):
        m.train("yes")


def test_zero_grad_sets_none():
    m = _mlp()
    m(np.ones((2, 3))).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_to_dtype_converts_parameters_and_float_buffers_in_place():
    m = _make_model(nn, np.float32)
    m.encoder.register_buffer("steps", np.zeros(3, np.int32))
    params = list(m.parameters())
    ref = {k: v.astype(np.float64) for k, v in m.state_dict().items()}
    out3, out2 = m(_ids())
    (out3.sum() + out2.sum()).backward()
    assert m.to(np.float64) is m
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in m.parameters())
    assert m.encoder.scale.dtype == np.float64 and m.encoder.steps.dtype == np.int32
    for k, v in m.state_dict().items():
        if k != "encoder.steps":
            np.testing.assert_array_equal(v, ref[k], err_msg=k)
    assert m(_ids())[0].dtype == np.float64
    assert all(p.dtype == np.float32 for p in m.float().parameters())
    assert all(p.dtype == np.float64 for p in m.double().parameters())
    with pytest.raises(TypeError, match="floating dtype"):
        m.to(np.int64)


def test_parameter_requires_floating_data():
    p = nn.Parameter(np.zeros(3, np.float32))
    assert p.requires_grad and p.dtype == np.float32 and isinstance(p, ng.Tensor)
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad
    for bad in (np.arange(3), np.array([True, False]), np.zeros(2, complex)):
        with pytest.raises(TypeError, match="floating"):
            nn.Parameter(bad)
    assert repr(p).startswith("Parameter containing:")


def test_registration_rules():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.b = nn.Parameter(np.zeros(1))
            self.a = nn.Parameter(np.zeros(2))
            self.child = nn.Linear(1, 1)
            self.plain = ng.Tensor(np.zeros(1))          # a plain tensor is no parameter

    m = M()
    assert [n for n, _ in m.named_parameters()] == ["b", "a", "child.weight", "child.bias"]
    m.b = nn.Parameter(np.ones(1))                          # re-assignment keeps the position
    assert [n for n, _ in m.named_parameters()][:2] == ["b", "a"]
    with pytest.raises(TypeError, match="expected a Parameter or None"):
        m.a = ng.Tensor(np.zeros(2))
    # a module on a parameter's name too, as torch (it replaced the parameter silently)
    with pytest.raises(TypeError, match="cannot assign Linear as parameter 'a' of M: "
                                        "expected a Parameter or None"):
        m.a = nn.Linear(1, 1)
    assert [n for n, _ in m.named_parameters()][:2] == ["b", "a"]
    m.a = None
    assert [n for n, _ in m.named_parameters()] == ["b", "child.weight", "child.bias"]
    del m.child
    assert [n for n, _ in m.named_parameters()] == ["b"]
    with pytest.raises(AttributeError, match="has no attribute 'child'"):
        _ = m.child
    with pytest.raises(ValueError, match="contain '.'"):
        m.register_buffer("x.y", np.zeros(1))

    class Forgot(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(1))

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Forgot()
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_deepcopy_gives_independent_parameters():
    import copy
    m = _mlp()
    c = copy.deepcopy(m)
    assert all(a is not b for a, b in zip(m.parameters(), c.parameters()))
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in c.parameters())
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(c.state_dict()[k], v, err_msg=k)
    c[0].weight.data[...] = 0.0
    assert np.any(m[0].weight.data != 0.0)


def test_deepcopy_leaves_the_parameters_hooks_behind():
    """A hook's owner (a DataParallel, holding an MPI communicator) is not copied with a
    model: the copy has no hooks, the original keeps them."""
    import copy
    import threading
    m = _mlp()
    lock = threading.Lock()                          # cannot be copied
    seen = []
    hook = lambda p: seen.append(lock.locked())     # noqa: E731
    for p in m.parameters():
        p.register_post_accumulate_grad_hook(hook)
    p.grad = np.ones(p.shape, p.dtype)
    c = copy.deepcopy(m)
    cp = list(c.parameters())[-1]
    assert cp.grad is not p.grad
    np.testing.assert_array_equal(cp.grad, p.grad)
    cp.sum().backward()
    p.sum().backward()
    assert seen == [False]


def test_apply_visits_children_first():
    m = nn.Sequential(nn.Linear(1, 1), nn.Sequential(nn.ReLU()))
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]


# ---------------------------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------------------------

def test_sequential_indexing_and_forward():
    a, b, c = nn.Linear(3, 4, dtype=np.float64), nn.Tanh(), nn.Linear(4, 2, dtype=np.float64)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and [n for n, _ in sub.named_children()] == ["1", "2"]
    x = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_allclose(seq(x).data, c(b(a(x))).data, rtol=0)
    named = nn.Sequential(OrderedDict([("first", a), ("second", c)]))
    assert [n for n, _ in named.named_parameters()] == ["first.weight", "first.bias",
                                                        "second.weight", "second.bias"]
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    with pytest.raises(TypeError, match="expected a Module"):
        nn.Sequential(a, np.zeros(3))
    seq.append(nn.ReLU())
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    layers.append(nn.Linear(2, 3))
    layers.extend([nn.ReLU()])
    assert len(layers) == 4 and isinstance(layers[-1], nn.ReLU)
    assert [n for n, _ in layers.named_parameters()] == ["0.weight", "0.bias", "1.weight",
                                                         "1.bias", "2.weight", "2.bias"]
    new = nn.Linear(2, 2)
    layers[1] = new
    assert layers[1] is new and [n for n, _ in layers.named_children()] == ["0", "1", "2", "3"]
    assert len(layers[:2]) == 2
    # a single module where an iterable of them is expected: Python's "'Linear' object is
    # not iterable" before, torch names what extend expects
    for make in (lambda m: nn.ModuleList(m), lambda m: layers.extend(m)):
        with pytest.raises(TypeError, match="ModuleList.extend: expected an iterable of "
                                            "Modules, got Linear; wrap a single module"):
            make(nn.Linear(2, 2))
    assert len(layers) == 4


@pytest.mark.torch
def test_torch_parameters_load_as_torch_loads_them():
    """``dict(model.named_parameters())``: torch tensors that require grad, whose NumPy
    view torch refuses; loaded by value, as torch's load_state_dict takes them (torch's
    "Can't call numpy() on Tensor that requires grad" came through)."""
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Linear(3, 2).double()
    ours = nn.Linear(3, 2, dtype=np.float64)
    result = ours.load_state_dict(dict(theirs.named_parameters()))
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(ours.weight.data, theirs.weight.detach().numpy())
    np.testing.assert_array_equal(ours.bias.data, theirs.bias.detach().numpy())
    copied = ng.tensor(theirs.weight)
    assert not copied.requires_grad and copied.grad_fn is None
    np.testing.assert_array_equal(copied.data, theirs.weight.detach().numpy())


def _module_dict_story(lib, dtype):
    """A model holding a ModuleDict, then the same dict operations applied to it in ``lib``
    (nongate_np.nn or torch.nn): construction from a dict, update from pairs, overwriting a
    key (which keeps its position), a new key, del, pop. Returns (model, popped)."""
    kw = {"dtype": dtype}

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.stem = lib.Linear(3, 4, **kw)
            self.heads = lib.ModuleDict({"b": lib.Linear(4, 2, **kw), "a": lib.Tanh()})
            self.tail = lib.Linear(4, 1, bias=False, **kw)

    net = Net()
    heads = net.heads
    heads.update([("z", lib.Linear(4, 5, **kw)), ["c", lib.Linear(4, 3, bias=False, **kw)]])
    heads["b"] = lib.Sequential(lib.Linear(4, 6, **kw), lib.ReLU())
    heads["d"] = lib.ModuleDict({"deep": lib.Linear(2, 2, **kw)})
    del heads["a"]
    popped = heads.pop("c")
    return net, popped


@pytest.mark.torch
def test_module_dict_matches_torch():
    torch = pytest.importorskip("torch")
    ours, our_popped = _module_dict_story(nn, np.float64)
    theirs, their_popped = _module_dict_story(torch.nn, torch.float64)
    assert list(ours.heads.keys()) == list(theirs.heads.keys())
    assert list(ours.heads) == list(theirs.heads), "iteration gives the keys, as torch"
    assert [type(m).__name__ for m in ours.heads.values()] == \
        [type(m).__name__ for m in theirs.heads.values()]
    assert [k for k, _ in ours.heads.items()] == [k for k, _ in theirs.heads.items()]
    assert len(ours.heads) == len(theirs.heads)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in our_popped.named_parameters()] == \
        [n for n, _ in their_popped.named_parameters()]
    for key in ("b", "z", "d", "a", "c", 3):
        assert (key in ours.heads) == (key in theirs.heads), key
    # torch's weights load under the same keys and give the same outputs
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 4))
    for key in ("b", "z"):
        np.testing.assert_allclose(ours.heads[key](x).data,
                                   theirs.heads[key](torch.from_numpy(x)).detach().numpy(),
                                   rtol=1e-12, atol=0, err_msg=f"heads[{key!r}]")
    ours.heads.clear()
    theirs.heads.clear()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(ours.heads) == 0


@pytest.mark.torch
@pytest.mark.parametrize("bad, error", [
    (lambda d, lib: d.__setitem__(1, lib.ReLU()), TypeError),       # key not a str
    (lambda d, lib: d.__setitem__("x", np.zeros(2)), TypeError),    # value not a Module
    (lambda d, lib: d.update({("x",): lib.ReLU()}), TypeError),
    (lambda d, lib: d.update(3), TypeError),                        # not iterable
    (lambda d, lib: d.update([3]), TypeError),                      # a pair not iterable
    (lambda d, lib: d.update([("x", lib.ReLU(), 1)]), ValueError),  # not a pair
    (lambda d, lib: d["missing"], KeyError),
    (lambda d, lib: d.pop("missing"), KeyError),
    (lambda d, lib: d.__delitem__("missing"), KeyError),
])
def test_module_dict_errors_as_torch(bad, error):
    torch = pytest.importorskip("torch")
    for lib in (nn, torch.nn):
        d = lib.ModuleDict({"a": lib.ReLU()})
        with pytest.raises(error):
            bad(d, lib)
        assert list(d.keys()) == ["a"], f"{lib.__name__}: a refused entry changed the dict"


def test_module_dict_error_messages():
    d = nn.ModuleDict({"a": nn.ReLU()})
    with pytest.raises(TypeError, match="module name should be a str, got int"):
        d[1] = nn.ReLU()
    with pytest.raises(TypeError, match="cannot assign ndarray as child module 'x': expected "
                                        "a Module or None"):
        d["x"] = np.zeros(2)
    with pytest.raises(KeyError, match=r"ModuleDict has no key 'b'; its keys are \['a'\]"):
        d["b"]
    with pytest.raises(TypeError, match="ModuleDict.update should be called with an iterable "
                                        "of key/value pairs, but got int"):
        nn.ModuleDict(3)
    with pytest.raises(ValueError, match="element #1 has length 1; 2 is required"):
        d.update([("y", nn.ReLU()), ("z",)])
    with pytest.raises(ValueError, match="would hide the attribute ModuleDict.keys"):
        d["keys"] = nn.ReLU()


@pytest.mark.parametrize("name", ["_modules", "_parameters", "_buffers", "_non_persistent"])
def test_registry_names_are_refused(name):
    # they dropped the Module's registry itself: every later call was an AttributeError
    d = nn.ModuleDict({"a": nn.Linear(1, 1)})
    for register in (lambda: d.__setitem__(name, nn.ReLU()),
                     lambda: d.register_parameter(name, nn.Parameter(np.zeros(1))),
                     lambda: d.register_buffer(name, np.zeros(1))):
        with pytest.raises(ValueError, match=f"name '{name}' would overwrite Module's own "
                                             "registry"):
            register()
    assert list(d.keys()) == ["a"] and [n for n, _ in d.named_parameters()] == ["a.weight",
                                                                               "a.bias"]


def test_module_dict_save_load_round_trip(tmp_path):
    model = nn.ModuleDict({"enc": nn.Linear(3, 4, dtype=np.float64),
                           "heads": nn.ModuleDict([("y", nn.Linear(4, 2, dtype=np.float64)),
                                                   ("act", nn.Tanh())])})
    for p in model.parameters():
        p.data[...] = np.random.default_rng(1).normal(size=p.shape)
    ng.save(model, tmp_path / "md.npz")
    loaded = ng.load(tmp_path / "md.npz").model
    assert type(loaded) is nn.ModuleDict and list(loaded.keys()) == ["enc", "heads"]
    assert list(loaded.heads.keys()) == ["y", "act"]
    for (k, v), (k2, v2) in zip(loaded.state_dict().items(), model.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(v, v2, err_msg=k)
