"""nn.AttentionPooling: parameter names and shapes per kind, initialisation, the errors bad
input gets, float32, and mask / lengths equivalence."""

import math

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.check import gradcheck
from nongate_np.ops.attention import attention_pool

KINDS = ("additive", "gated", "weight_gated")
OP_ARGUMENT = {"proj.weight": "w_proj", "proj.bias": "b_proj", "gate.weight": "w_gate",
               "gate.bias": "b_gate", "query": "query", "step_gate.weight": "w_step",
               "step_gate.bias": "b_step", "value.weight": "w_value", "value.bias": "b_value"}


def expected_parameters(kind, D, A, Q, Dv=None):
    # torch's order: the module's own parameters, then each child's in registration order
    shapes = {"query": (Q, A), "proj.weight": (A, D), "proj.bias": (A,)}
    if kind == "gated":
        shapes.update({"gate.weight": (A, D), "gate.bias": (A,)})
    if kind == "weight_gated":
        shapes.update({"step_gate.weight": (Q, D), "step_gate.bias": (Q,)})
    if Dv is not None:
        shapes.update({"value.weight": (Dv, D), "value.bias": (Dv,)})
    return shapes


@pytest.mark.parametrize("value_proj", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_parameter_names_and_shapes(kind, value_proj):
    D, A, Q = 5, 4, 3
    m = ng.nn.AttentionPooling(D, A, kind=kind, num_queries=Q, value_proj=value_proj,
                               value_size=6 if value_proj else None)
    want = expected_parameters(kind, D, A, Q, 6 if value_proj else None)
    got = {k: v.shape for k, v in m.named_parameters()}
    assert got == want
    assert list(m.state_dict()) == list(want), "state_dict keys in torch's order"
    assert m.output_size == (6 if value_proj else D)
    x = np.random.default_rng(0).standard_normal((2, 3, D)).astype(np.float32)
    pooled, weights = m(x)
    assert pooled.shape == (2, Q, m.output_size) and weights.shape == (2, Q, 3)


@pytest.mark.parametrize("kind", KINDS)
def test_every_parameter_gets_a_gradient_through_the_module(kind):
    ng.seed(0)
    m = ng.nn.AttentionPooling(3, 4, kind=kind, num_queries=2, value_proj=True,
                               dtype=np.float64)
    h = np.random.default_rng(1).standard_normal((2, 5, 3))
    pooled, weights = m(h, lengths=np.array([5, 2]))
    (pooled.sum() + (weights * weights).sum()).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape and np.any(p.grad), name

    # the module's weights by name, through the op, checked numerically
    inputs = {OP_ARGUMENT[k]: v for k, v in m.state_dict().items()}
    inputs["h"] = h

    def f(**arrays):
        return attention_pool(**arrays, kind=kind, lengths=np.array([5, 2]))
    gradcheck(f, inputs, method="complex_step", name=f"AttentionPooling[{kind}]")
    pooled_op, _ = f(**inputs)
    np.testing.assert_array_equal(pooled_op.data, pooled.data)


def test_initialisation_bounds_like_torch_linear():
    ng.seed(0)
    D, A, Q, Dv = 50, 40, 30, 20
    m = ng.nn.AttentionPooling(D, A, kind="gated", num_queries=Q, value_proj=True,
                               value_size=Dv)
    w = ng.nn.AttentionPooling(D, A, kind="weight_gated", num_queries=Q)
    bounds = {"proj.weight": 1 / math.sqrt(D), "proj.bias": 1 / math.sqrt(D),
              "gate.weight": 1 / math.sqrt(D), "gate.bias": 1 / math.sqrt(D),
              "query": 1 / math.sqrt(A), "value.weight": 1 / math.sqrt(D),
              "value.bias": 1 / math.sqrt(D)}
    params = dict(m.named_parameters())
    params.update({k: v for k, v in w.named_parameters() if k.startswith("step_gate")})
    bounds.update({"step_gate.weight": 1 / math.sqrt(D), "step_gate.bias": 1 / math.sqrt(D)})
    for name, k in bounds.items():
        data = params[name].data
        assert np.all(np.abs(data) <= k), f"{name} outside U(-{k:.3f}, {k:.3f})"
        if data.size >= 200:
            assert np.max(np.abs(data)) > 0.9 * k, f"{name} does not fill U(-k, k)"
    assert m.dtype == np.float32 and all(p.dtype == np.float32 for p in m.parameters())


def test_seeded_construction_is_reproducible_and_reset_redraws():
    ng.seed(3)
    a = ng.nn.AttentionPooling(3, 2, kind="weight_gated", num_queries=2)
    ng.seed(3)
    b = ng.nn.AttentionPooling(3, 2, kind="weight_gated", num_queries=2)
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x, y, err_msg=k)
    before = a.query.data.copy()
    a.reset_parameters()
    assert not np.array_equal(before, a.query.data)


def test_mask_and_lengths_give_the_same_result():
    ng.seed(1)
    m = ng.nn.AttentionPooling(3, 4, kind="gated", num_queries=2, dtype=np.float64)
    h = np.random.default_rng(2).standard_normal((3, 4, 3))
    lengths = np.array([4, 1, 0])
    mask = np.arange(4)[None, :] < lengths[:, None]
    p1, w1 = m(h, lengths=lengths)
    p2, w2 = m(h, mask=mask)
    np.testing.assert_array_equal(p1.data, p2.data)
    np.testing.assert_array_equal(w1.data, w2.data)
    assert not np.any(p1.data[2]) and not np.any(w1.data[2]), "length 0 pools to zeros"
    p3, w3 = m(h)
    np.testing.assert_array_equal(p3.data[0], p1.data[0], err_msg="full length = no mask")


def test_float32_module_matches_float64():
    ng.seed(2)
    m32 = ng.nn.AttentionPooling(3, 4, kind="weight_gated", num_queries=2, value_proj=True)
    m64 = ng.nn.AttentionPooling(3, 4, kind="weight_gated", num_queries=2, value_proj=True,
                                 dtype=np.float64)
    m64.load_state_dict({k: v.astype(np.float64) for k, v in m32.state_dict().items()})
    h = np.random.default_rng(3).standard_normal((2, 5, 3))
    p32, w32 = m32(h.astype(np.float32), lengths=np.array([5, 3]))
    p64, w64 = m64(h, lengths=np.array([5, 3]))
    assert p32.dtype == w32.dtype == np.float32
    np.testing.assert_allclose(p32.data, p64.data, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w32.data, w64.data, rtol=1e-5, atol=1e-6)
    p32.sum().backward()
    assert all(p.grad.dtype == np.float32 for p in m32.parameters())


def test_accepts_tensors_with_grad():
    m = ng.nn.AttentionPooling(2, 3, kind="additive", dtype=np.float64)
    h = ng.Tensor(np.ones((1, 2, 2)), requires_grad=True)
    pooled, _ = m(h)
    pooled.sum().backward()
    assert h.grad.shape == (1, 2, 2)


@pytest.mark.parametrize("call, error, match", [
    (lambda m: m(np.ones((4, 3), np.float32)), ValueError,
     r"h must be 3-D \(B, T, D\), got 2-D shape \(4, 3\)"),
    (lambda m: m(np.ones((2, 4, 5), np.float32)), ValueError,
     r"h has 5 features \(shape \(2, 4, 5\)\), expected input_size=3"),
    (lambda m: m(np.ones((2, 4, 3), np.float64)), TypeError,
     "h is float64 but the module's parameters are float32"),
    (lambda m: m(np.ones((2, 4, 3), np.int64)), TypeError, "h must be floating point"),
    (lambda m: m(np.ones((2, 4, 3), np.float32), mask=np.ones((2, 5), bool)), ValueError,
     r"mask has shape \(2, 5\), expected \(B, T\) = \(2, 4\)"),
    (lambda m: m(np.ones((2, 4, 3), np.float32), mask=np.ones((2, 4))), TypeError,
     "mask must be boolean .* got dtype float64"),
    (lambda m: m(np.ones((2, 4, 3), np.float32), lengths=np.array([1, 5])), ValueError,
     r"lengths must lie in \[0, T\] = \[0, 4\], got 5"),
    (lambda m: m(np.ones((2, 4, 3), np.float32), lengths=np.array([1, -1])), ValueError,
     r"lengths must lie in \[0, T\] = \[0, 4\], got -1"),
    (lambda m: m(np.ones((2, 4, 3), np.float32), lengths=np.array([1, 2, 3])), ValueError,
     r"lengths has shape \(3,\), expected \(B,\) = \(2,\)"),
    (lambda m: m(np.ones((2, 4, 3), np.float32), lengths=np.array([1.0, 2.0])), TypeError,
     "lengths must be integers, got dtype float64"),
    (lambda m: m(np.ones((2, 4, 3), np.float32), mask=np.ones((2, 4), bool),
                 lengths=np.array([1, 2])), ValueError, "give mask or lengths, not both"),
])
def test_forward_errors_name_the_argument_expected_and_given(call, error, match):
    m = ng.nn.AttentionPooling(3, 2, kind="gated")
    with pytest.raises(error, match=match):
        call(m)


def test_constructor_errors():
    with pytest.raises(ValueError, match="unknown kind 'dot'; expected one of 'additive', "
                                         "'gated', 'weight_gated'"):
        ng.nn.AttentionPooling(3, 2, kind="dot")
    with pytest.raises(ValueError, match="attn_size must be an int >= 1, got 0"):
        ng.nn.AttentionPooling(3, 0)
    with pytest.raises(ValueError, match="num_queries must be an int >= 1, got 0"):
        ng.nn.AttentionPooling(3, 2, num_queries=0)
    with pytest.raises(ValueError, match="value_size=5 needs value_proj=True"):
        ng.nn.AttentionPooling(3, 2, value_size=5)
    with pytest.raises(TypeError, match="expected a floating dtype"):
        ng.nn.AttentionPooling(3, 2, dtype=np.int32)


def test_repr_and_config():
    m = ng.nn.AttentionPooling(3, 2, kind="weight_gated", num_queries=2, value_proj=True,
                               value_size=4)
    assert "kind='weight_gated'" in repr(m) and "num_queries=2" in repr(m)
    rebuilt = ng.nn.AttentionPooling(**m.config())
    assert {k: v.shape for k, v in rebuilt.named_parameters()} == \
        {k: v.shape for k, v in m.named_parameters()}
