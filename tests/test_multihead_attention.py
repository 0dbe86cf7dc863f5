"""nn.functional.scaled_dot_product_attention and nn.MultiheadAttention, as torch 2.13's
(docs/math.md E41, E42): outputs, attention weights, every parameter gradient and the input
gradients against torch in float64 to 1e-12 (self- and cross-attention, kdim/vdim, both
layouts, key padding and attention masks bool and float, 2-D and 3-D, is_causal,
need_weights False, per-head weights, unbatched, add_bias_kv, add_zero_attn); torch's
state_dict both ways, the initialisation, saving, dropout, gradient checks without torch,
the errors and the repr. (The GPU: tests/cuda/test_cuda_einsum_attention.py.)"""

import numpy as np
import pytest

import nongate_np as ng
import nongate_np.nn.functional as F
from tests.helpers import assert_gradients

TOL = dict(rtol=1e-12, atol=1e-13)


def _random(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


# -- scaled_dot_product_attention --------------------------------------------------------------

def _bool_mask(shape, seed, empty_row=True):
    m = np.random.default_rng(seed).random(shape) > 0.4
    if empty_row:
        m[..., 1, :] = False                    # a query whose every key is masked out
    return m


SDPA_CASES = {
    "self": ((2, 3, 4), (2, 3, 4), (2, 3, 4), None, {}),
    "cross, Ev != E": ((2, 3, 4), (2, 5, 4), (2, 5, 6), None, {}),
    "heads": ((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 6), None, {}),
    "unbatched": ((3, 4), (5, 4), (5, 2), None, {}),
    "broadcast batch": ((2, 4, 3, 4), (1, 5, 4), (1, 5, 6), None, {}),
    "bool mask (L, S)": ((2, 3, 4), (2, 5, 4), (2, 5, 6), ("bool", (3, 5)), {}),
    "bool mask (N, L, S)": ((2, 3, 4), (2, 5, 4), (2, 5, 6), ("bool", (2, 3, 5)), {}),
    "float mask (N, 1, S)": ((2, 3, 4), (2, 5, 4), (2, 5, 6), ("float", (2, 1, 5)), {}),
    "float mask (S,)": ((2, 3, 4), (2, 5, 4), (2, 5, 6), ("float", (5,)), {}),
    "float mask, -inf row": ((2, 3, 4), (2, 5, 4), (2, 5, 6), ("-inf", (3, 5)), {}),
    "causal": ((2, 4, 4), (2, 4, 4), (2, 4, 3), None, {"is_causal": True}),
    "causal, L < S": ((2, 3, 4), (2, 5, 4), (2, 5, 3), None, {"is_causal": True}),
    "causal, L > S": ((2, 5, 4), (2, 3, 4), (2, 3, 3), None, {"is_causal": True}),
    "scale": ((2, 3, 4), (2, 5, 4), (2, 5, 6), ("bool", (3, 5)), {"scale": 0.3}),
    "gqa": ((2, 4, 3, 4), (2, 2, 5, 4), (2, 2, 5, 6), None, {"enable_gqa": True}),
}


def _sdpa_inputs(case, seed=0):
    qs, ks, vs, mask, kwargs = SDPA_CASES[case]
    arrays = [_random(s, seed + i) for i, s in enumerate((qs, ks, vs))]
    if mask is not None:
        kind, shape = mask
        m = _bool_mask(shape, seed + 3) if kind == "bool" else _random(shape, seed + 3)
        if kind == "-inf":
            m[1] = -np.inf
        arrays.append(m)
    return arrays, kwargs


@pytest.mark.torch
@pytest.mark.parametrize("case", sorted(SDPA_CASES))
def test_sdpa_equals_torchs(case):
    """Values and the gradients of query, key, value and of a float mask."""
    import torch
    arrays, kwargs = _sdpa_inputs(case)
    ours = [ng.tensor(a, requires_grad=a.dtype != np.bool_) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=a.dtype != np.bool_) for a in arrays]
    got = F.scaled_dot_product_attention(*ours, **kwargs)
    want = torch.nn.functional.scaled_dot_product_attention(*theirs, **kwargs)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), **TOL)
    v = _random(got.shape, 9)
    got.backward(v)
    want.backward(torch.tensor(v))
    for k, (a, b) in enumerate(zip(ours, theirs)):
        if b.requires_grad:
            np.testing.assert_allclose(a.grad, b.grad.numpy(), **TOL, err_msg=f"input {k}")


def test_sdpa_a_query_with_every_key_masked_gets_zeros_and_no_nan():
    (q, k, v, m), _ = _sdpa_inputs("bool mask (L, S)")
    tq = ng.tensor(q, requires_grad=True)
    out = F.scaled_dot_product_attention(tq, k, v, attn_mask=m)
    np.testing.assert_array_equal(out.numpy()[:, 1], 0.0)
    out.sum().backward()
    assert np.isfinite(tq.grad).all()
    np.testing.assert_array_equal(tq.grad[:, 1], 0.0)


def test_sdpa_is_the_composition_of_e41():
    """softmax(c Q Kᵀ + M) V, with the causal mask and a bool mask written out."""
    q, k, v = _random((2, 3, 4), 0), _random((2, 3, 4), 1), _random((2, 3, 5), 2)
    scores = q @ k.transpose(0, 2, 1) / 2.0
    scores = np.where(np.tri(3, 3, dtype=bool), scores, -np.inf)
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v, is_causal=True).numpy(),
                               p @ v, rtol=1e-14)
    np.testing.assert_allclose(F.scaled_dot_product_attention(
        q, k, v, attn_mask=np.tri(3, 3, dtype=bool)).numpy(), p @ v, rtol=1e-14)


@pytest.mark.parametrize("case", ["cross, Ev != E", "float mask (N, 1, S)", "causal, L < S",
                                  "bool mask (L, S)"])
def test_sdpa_gradients_by_central_differences_and_complex_step(case):
    arrays, kwargs = _sdpa_inputs(case, seed=5)
    mask = arrays[3] if len(arrays) == 4 and arrays[3].dtype == np.bool_ else None
    inputs = arrays if mask is None else arrays[:3]
    assert_gradients(lambda *xs: F.scaled_dot_product_attention(
        *xs, **({"attn_mask": mask} if mask is not None else {}), **kwargs), inputs)


def test_sdpa_dropout_is_the_librarys_dropout_on_the_weights():
    q, k, v = _random((2, 3, 4), 0), _random((2, 5, 4), 1), _random((2, 5, 6), 2)
    ng.manual_seed(7)
    got = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4).numpy()
    ng.manual_seed(7)
    weights = ng.softmax(ng.tensor(q) @ ng.tensor(k.transpose(0, 2, 1)) * 0.5, -1)
    want = (ng.dropout(weights, 0.4) @ ng.tensor(v)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-14)
    assert not np.allclose(got, F.scaled_dot_product_attention(q, k, v).numpy())
    np.testing.assert_array_equal(
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy(), 0.0)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(query=np.ones(4)), ValueError, "at least 2 dims"),
    (dict(key=np.ones((2, 5, 3))), ValueError, "key has 3 features"),
    (dict(value=np.ones((2, 4, 6))), ValueError, "value has 4 steps"),
    (dict(key=np.ones((3, 5, 4)), value=np.ones((3, 5, 6))), ValueError, "do not broadcast"),
    (dict(attn_mask=np.ones((4, 5), bool)), ValueError, r"attn_mask of shape \(4, 5\)"),
    (dict(attn_mask=np.ones((3, 5), bool), is_causal=True), ValueError, "not both"),
    (dict(attn_mask=np.ones((3, 5), np.int64)), TypeError, "bool .* or float"),
    (dict(key=np.ones((2, 5, 4), np.float32)), TypeError, "one float dtype"),
    (dict(query=np.ones((2, 3, 4), np.int64)), TypeError, "one float dtype"),
    (dict(dropout_p=1.5), ValueError, r"dropout_p must be a probability in \[0, 1\]"),
    (dict(scale="x"), ValueError, "scale must be a real number"),
    (dict(query=np.ones((2, 3, 3, 4)), key=np.ones((2, 2, 5, 4)), value=np.ones((2, 2, 5, 6)),
          enable_gqa=True), ValueError, "must divide"),
])
def test_sdpa_errors(kwargs, error, message):
    args = dict(query=np.ones((2, 3, 4)), key=np.ones((2, 5, 4)), value=np.ones((2, 5, 6)))
    args.update(kwargs)
    with pytest.raises(error, match=message):
        F.scaled_dot_product_attention(**args)


# -- MultiheadAttention ------------------------------------------------------------------------

E, H, L, S, N = 4, 2, 3, 5, 2
KPM = np.array([[False, False, False, True, False], [False, True, True, False, False]])
CAUSAL = np.triu(np.ones((L, L), bool), 1)

MHA_CASES = {   # name: (constructor kwargs, forward kwargs, masks, batched, S)
    "self": ({}, {}, {}, True, L),
    "cross": ({}, {}, {}, True, S),
    "batch_first": ({"batch_first": True}, {}, {}, True, S),
    "kdim vdim": ({"kdim": 3, "vdim": 5}, {}, {}, True, S),
    "kdim vdim batch_first": ({"kdim": 3, "vdim": 5, "batch_first": True}, {}, {}, True, S),
    "no bias": ({"bias": False}, {}, {}, True, S),
    "add_bias_kv": ({"add_bias_kv": True}, {}, {}, True, S),
    "add_zero_attn": ({"add_zero_attn": True}, {}, {}, True, S),
    "bias_kv, zero_attn, masks": ({"add_bias_kv": True, "add_zero_attn": True}, {},
                                  {"key_padding_mask": KPM, "attn_mask": "bool2"}, True, S),
    "unbatched": ({}, {}, {}, False, S),
    "unbatched, masks": ({}, {}, {"key_padding_mask": KPM[1], "attn_mask": "float3"}, False, S),
    "need_weights=False": ({}, {"need_weights": False}, {}, True, S),
    "per head": ({}, {"average_attn_weights": False}, {}, True, S),
    "key_padding_mask bool": ({}, {}, {"key_padding_mask": KPM}, True, S),
    "key_padding_mask float": ({}, {}, {"key_padding_mask": np.where(KPM, -np.inf, 0.3)},
                               True, S),
    "attn_mask bool 2-D": ({}, {}, {"attn_mask": "bool2"}, True, S),
    "attn_mask float 3-D": ({}, {}, {"attn_mask": "float3"}, True, S),
    "both masks, need_weights=False": ({}, {"need_weights": False},
                                       {"key_padding_mask": KPM, "attn_mask": "float2"}, True,
                                       S),
    "is_causal": ({}, {"is_causal": True}, {"attn_mask": CAUSAL}, True, L),
    "is_causal, need_weights=False": ({}, {"is_causal": True, "need_weights": False},
                                      {"attn_mask": CAUSAL}, True, L),
    "is_causal with bias_kv": ({"add_bias_kv": True},
                               {"is_causal": True, "need_weights": False},
                               {"attn_mask": CAUSAL}, True, L),
}


def _masks(masks, steps, batched):
    out = {}
    for name, m in masks.items():
        if isinstance(m, str):              # drawn here: their shapes depend on the case
            kind, dims = m[:-1], m[-1]
            shape = (L, steps) if dims == "2" else ((N if batched else 1) * H, L, steps)
            m = _bool_mask(shape, 3, empty_row=False) if kind == "bool" else _random(shape, 3)
        elif name == "key_padding_mask":
            m = m[..., :steps]
        out[name] = m
    return out


def _mha_pair(torch, kwargs, seed=0):
    torch.manual_seed(seed)
    theirs = torch.nn.MultiheadAttention(E, H, **kwargs).double()
    ours = ng.nn.MultiheadAttention(E, H, dtype=np.float64, **kwargs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    if kwargs.get("add_bias_kv") or not kwargs.get("bias", True):
        return ours, theirs
    with torch.no_grad():                   # torch's biases start at 0: give them values
        for name, p in theirs.named_parameters():
            if "bias" in name:
                p.copy_(torch.tensor(_random(tuple(p.shape), len(name))))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _mha_inputs(ctor, batched, steps, seed=1):
    kd, vd = ctor.get("kdim", E), ctor.get("vdim", E)

    def shape(T, features):
        if not batched:
            return (T, features)
        return (N, T, features) if ctor.get("batch_first") else (T, N, features)
    return [_random(shape(L, E), seed), _random(shape(steps, kd), seed + 1),
            _random(shape(steps, vd), seed + 2)]


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@pytest.mark.parametrize("case", list(MHA_CASES))
def test_mha_equals_torchs(case):
    """attn_output, attn_weights, every parameter's gradient and the inputs' gradients."""
    import torch
    ctor, fwd, masks, batched, steps = MHA_CASES[case]
    ours, theirs = _mha_pair(torch, ctor)
    arrays = _mha_inputs(ctor, batched, steps)
    if case == "self":
        arrays = [arrays[0]] * 3                # one tensor as query, key and value
    mine = [ng.tensor(a, requires_grad=True) for a in arrays[:1 if case == "self" else 3]]
    tors = [torch.tensor(a, requires_grad=True) for a in arrays[:1 if case == "self" else 3]]
    mine, tors = (mine * 3, tors * 3) if case == "self" else (mine, tors)
    m = _masks(masks, steps, batched)
    got, got_w = ours(*mine, **fwd, **m)
    with np.errstate(all="ignore"):
        want, want_w = theirs(*tors, **fwd, **{k: torch.tensor(v) for k, v in m.items()})
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), **TOL, err_msg="output")
    v = _random(got.shape, 7)
    loss, tloss = (got * v).sum(), (want * torch.tensor(v)).sum()
    if fwd.get("need_weights", True):
        assert got_w.shape == tuple(want_w.shape)
        np.testing.assert_allclose(got_w.numpy(), want_w.detach().numpy(), **TOL,
                                   err_msg="weights")
        w = _random(got_w.shape, 8)
        loss, tloss = loss + (got_w * w).sum(), tloss + (want_w * torch.tensor(w)).sum()
    else:
        assert got_w is None and want_w is None
    loss.backward()
    tloss.backward()
    params = dict(ours.named_parameters())
    assert list(params) == [name for name, _ in theirs.named_parameters()]
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(params[name].grad, p.grad.numpy(), **TOL, err_msg=name)
    for k, (a, b) in enumerate(zip(mine[:len(set(map(id, mine)))], tors)):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), **TOL, err_msg=f"input {k}")


@pytest.mark.torch
@pytest.mark.parametrize("kwargs", [{}, {"kdim": 3, "vdim": 5, "bias": False},
                                    {"add_bias_kv": True}], ids=str)
def test_mha_state_dict_both_ways_and_float32(kwargs):
    import torch
    torch.manual_seed(3)
    theirs = torch.nn.MultiheadAttention(E, H, **kwargs)
    ours = ng.nn.MultiheadAttention(E, H, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    back = torch.nn.MultiheadAttention(E, H, **kwargs)
    back.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = [_random((L, N, d), i).astype(np.float32) for i, d in
         enumerate((E, kwargs.get("kdim", E), kwargs.get("vdim", E)))]
    got = ours(*x)
    with torch.no_grad():
        for want in (theirs(*map(torch.tensor, x)), back(*map(torch.tensor, x))):
            for a, b in zip(got, want):
                assert a.dtype == np.float32
                np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.torch
def test_mha_repr_is_torchs_with_a_linear():
    import torch
    for kwargs in ({}, {"bias": False, "kdim": 3}):
        want = repr(torch.nn.MultiheadAttention(E, H, **kwargs))
        assert repr(ng.nn.MultiheadAttention(E, H, **kwargs)) == want.replace(
            "NonDynamicallyQuantizableLinear", "Linear")


def test_mha_initialisation_is_torchs():
    """xavier_uniform_ on the input weights (bound √(6/(fan_in + fan_out))), zero biases,
    out_proj.weight a Linear's U(-1/√E, 1/√E), bias_k and bias_v xavier_normal_."""
    ng.manual_seed(0)
    m = ng.nn.MultiheadAttention(16, 4, add_bias_kv=True)
    bound = np.sqrt(6 / (16 + 48))
    w = m.in_proj_weight.numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    np.testing.assert_array_equal(m.in_proj_bias.numpy(), 0.0)
    np.testing.assert_array_equal(m.out_proj.bias.numpy(), 0.0)
    assert 0.2 < np.abs(m.out_proj.weight.numpy()).max() <= 0.25
    assert m.bias_k.shape == (1, 1, 16) and np.std(m.bias_k.numpy()) > 0.1
    s = ng.nn.MultiheadAttention(6, 2, kdim=4, vdim=8, bias=False)
    assert (s.in_proj_weight, s.in_proj_bias, s.out_proj.bias) == (None, None, None)
    assert s.q_proj_weight.shape == (6, 6) and s.k_proj_weight.shape == (6, 4)
    assert np.abs(s.v_proj_weight.numpy()).max() <= np.sqrt(6 / 14)
    assert s.bias_k is None and s.bias_v is None
    assert [n for n, _ in s.named_parameters()] == ["q_proj_weight", "k_proj_weight",
                                                    "v_proj_weight", "out_proj.weight"]


def test_mha_gradients_by_central_differences_and_complex_step():
    ng.manual_seed(1)
    m = ng.nn.MultiheadAttention(E, H, dtype=np.float64, kdim=3, add_bias_kv=True)
    q, k, v = _random((L, N, E), 0), _random((S, N, 3), 1), _random((S, N, E), 2)
    mask = np.where(KPM, -np.inf, 0.0)
    assert_gradients(lambda a, b, c: m(a, b, c, key_padding_mask=mask)[0], [q, k, v])
    assert_gradients(lambda a: m(a, k, v, need_weights=True)[1], [q])


def test_mha_dropout_in_training_only_and_saving(tmp_path):
    ng.manual_seed(2)
    m = ng.nn.MultiheadAttention(E, H, dropout=0.5, batch_first=True, dtype=np.float64)
    x = _random((N, L, E), 0)
    m.eval()
    out, w = m(x, x, x)
    np.testing.assert_allclose(w.numpy().sum(-1), 1.0, rtol=1e-14)
    m.train()
    dropped, _ = m(x, x, x)
    assert not np.allclose(dropped.numpy(), out.numpy())
    ng.save(m, tmp_path / "mha.npz")
    back = ng.load(tmp_path / "mha.npz").model
    assert isinstance(back, ng.nn.MultiheadAttention) and back.config() == m.config()
    back.eval()
    np.testing.assert_array_equal(back(x, x, x)[0].numpy(), out.numpy())


def test_mha_a_padded_query_row_gets_zeros_not_nan():
    """Every key padded for one batch element: zeros (torch's need_weights=True path gives
    NaN there; its need_weights=False path zeros)."""
    m = ng.nn.MultiheadAttention(E, H, dtype=np.float64, bias=False)
    x = ng.tensor(_random((L, N, E), 0), requires_grad=True)
    kpm = np.array([[True] * L, [False] * L])
    for need in (True, False):
        out, w = m(x, x, x, key_padding_mask=kpm, need_weights=need)
        np.testing.assert_array_equal(out.numpy()[:, 0], 0.0)
        out.sum().backward()
        assert np.isfinite(x.grad).all()
        if need:
            np.testing.assert_array_equal(w.numpy()[0], 0.0)


@pytest.mark.parametrize("ctor, error, message", [
    (dict(embed_dim=5, num_heads=2), ValueError,
     "embed_dim must be divisible by num_heads, got embed_dim=5 and num_heads=2"),
    (dict(embed_dim=0, num_heads=1), ValueError, "embed_dim must be an int >= 1"),
    (dict(embed_dim=4, num_heads=0), ValueError, "num_heads must be an int >= 1"),
    (dict(embed_dim=4, num_heads=2, dropout=2.0), ValueError, "dropout must be a probability"),
    (dict(embed_dim=4, num_heads=2, batch_first=1), TypeError, "batch_first must be True"),
])
def test_mha_constructor_errors(ctor, error, message):
    with pytest.raises(error, match=message):
        ng.nn.MultiheadAttention(**ctor)


@pytest.mark.parametrize("inputs, kwargs, error, message", [
    ([(L, N, E), (S, N, E), (S, N, E)], dict(attn_mask=np.ones((L, L), bool)), ValueError,
     r"attn_mask has shape \(3, 3\), expected \(L, S\) = \(3, 5\) or "
     r"\(N·num_heads, L, S\) = \(4, 3, 5\)"),
    ([(L, N, E), (S, N, E), (S, N, E)], dict(key_padding_mask=np.ones((S, N), bool)),
     ValueError, r"key_padding_mask has shape \(5, 2\), expected \(N, S\) = \(2, 5\)"),
    ([(L, N, E), (S, N, E), (S, N, E)], dict(key_padding_mask=np.ones((N, S), np.int64)),
     TypeError, "key_padding_mask must be bool"),
    ([(L, N, E), (S, N, E), (S, N, E)], dict(is_causal=True), ValueError,
     "is_causal=True is a hint .* needs it"),
    ([(L, N, 3), (S, N, E), (S, N, E)], {}, ValueError, "query has 3 features"),
    ([(L, N, E), (S, N, 3), (S, N, E)], {}, ValueError, "key has 3 features"),
    ([(L, N, E), (S, N, E), (S, N)], {}, ValueError, "value must be 3-D, as the query"),
    ([(E,), (S, E), (S, E)], {}, ValueError, "query must be .*got 1-D"),
    ([(L, N, E), (S, N, E), (S - 1, N, E)], {}, ValueError, "key and value must have the same"),
    ([(L, N, E), (S, 1, E), (S, 1, E)], {}, ValueError, "query has a batch of 2 and key of 1"),
])
def test_mha_forward_errors(inputs, kwargs, error, message):
    m = ng.nn.MultiheadAttention(E, H, dtype=np.float64)
    with pytest.raises(error, match=message):
        m(*[np.ones(s) for s in inputs], **kwargs)
    with pytest.raises(TypeError, match="float32 but the module's parameters are float64"):
        m(np.ones((L, N, E), np.float32), np.ones((S, N, E)), np.ones((S, N, E)))


def test_the_names_are_here():
    assert "MultiheadAttention" in ng.nn.__all__
    assert "scaled_dot_product_attention" in F.__all__
