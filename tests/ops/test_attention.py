"""The fused attention-pooling op: hand-derived backward against central differences,
complex-step, the same pooling composed from primitive ops and the formulas written in
torch; all-masked rows, huge scores, the cache, and online (streaming) pooling."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import GradcheckError, gradcheck
from nongate_np.check import testing as nt
from nongate_np.kernels import reference as ref
from nongate_np.kernels.contract import AttentionParams
from nongate_np.ops.attention import AttentionPool, attention_pool, lengths_to_mask
from tests.helpers import CENTRAL_MAX_REL, COMPLEX_STEP_MAX_REL
from tests.ops.attention_composed import composed_attention_pool

KINDS = ("additive", "gated", "weight_gated")
MODES = ("none", "mask", "lengths")


def param_shapes(kind, D, A, Q, Dv=None):
    """The op's weight arguments for one kind: name -> shape."""
    shapes = dict(w_proj=(A, D), b_proj=(A,), query=(Q, A))
    if kind == "gated":
        shapes.update(w_gate=(A, D), b_gate=(A,))
    if kind == "weight_gated":
        shapes.update(w_step=(Q, D), b_step=(Q,))
    if Dv is not None:
        shapes.update(w_value=(Dv, D), b_value=(Dv,))
    return shapes


@st.composite
def pooling_cases(draw, kind, value_proj, mode=None):
    """(arrays, mask-or-lengths keywords): B, T, D, A in 1..4, Q in 1..3, all-masked rows
    included (a row of False, or a length 0)."""
    B, T, D, A = (draw(st.integers(1, 4)) for _ in range(4))
    Q = draw(st.integers(1, 3))
    Dv = draw(st.integers(1, 4)) if value_proj else None
    shapes = dict(h=(B, T, D), **param_shapes(kind, D, A, Q, Dv))
    arrays = {k: draw(nt.arrays(s, low=-1.5, high=1.5)) for k, s in shapes.items()}
    mode = mode or draw(st.sampled_from(MODES))
    if mode == "mask":
        rows = st.lists(st.booleans(), min_size=T, max_size=T)
        return arrays, {"mask": np.array(draw(st.lists(rows, min_size=B, max_size=B)), bool)}
    if mode == "lengths":
        lengths = draw(st.lists(st.integers(0, T), min_size=B, max_size=B))
        return arrays, {"lengths": np.array(lengths, dtype=np.int64)}
    return arrays, {}


def assert_gradients(fn, arrays, methods=("central", "complex_step", "directional")):
    """The issue's bounds, central ≤ 1e-6 and complex-step ≤ 1e-12, on the relative error of
    the whole gradient (max |analytic − numeric| over every input's entries, over the
    largest |numeric| entry), on top of gradcheck's own element-wise verdict (it raises).

    NOTE: not ``tests.helpers.assert_gradients``, which bounds gradcheck's element-wise
    ``max_rel_error``: an entry that is a sum of larger terms of both signs (dquery = Σ_t de_t
    u_t with Σ_t de_t = 0, A8-A9) carries the rounding of those terms, ~1e-16 of them, which
    can be 1e-12..1e-11 of the entry itself in any float64 backward (the pooling composed
    from primitive ops shows the same errors), and central differences carry ~1e-10
    absolute noise; Hypothesis' dev profile finds such draws for every kind.
    """
    bounds = {"central": (CENTRAL_MAX_REL, 1e-8), "complex_step": (COMPLEX_STEP_MAX_REL, 1e-15)}
    for method in methods:
        rep = gradcheck(fn, arrays, method=method)
        if method == "directional":
            continue
        bound, floor = bounds[method]
        err = max(float(np.max(np.abs(r.analytic_grad - r.numeric_grad), initial=0.0))
                  for r in rep.inputs)
        scale = max(float(np.max(np.abs(r.numeric_grad), initial=0.0)) for r in rep.inputs)
        assert err <= bound * scale + floor, \
            f"{method}: gradient off by {err:.2e}, {err / max(scale, 1e-300):.2e} of its " \
            f"largest entry {scale:.2e}\n{rep}"


def _pool_fn(kind, keywords, fn=attention_pool):
    def pool(**arrays):
        return fn(**arrays, kind=kind, **keywords)
    pool.__name__ = f"attention_pool[{kind}]"
    return pool


def _run(fn, arrays, seed=0):
    """Outputs and every gradient, backpropagating random cotangents into both outputs."""
    ts = {k: ng.Tensor(v.copy(), requires_grad=True) for k, v in arrays.items()}
    pooled, weights = fn(**ts)
    rng = np.random.default_rng(seed)
    loss = (pooled * rng.standard_normal(pooled.shape)).sum() + \
        (weights * rng.standard_normal(weights.shape)).sum()
    loss.backward()
    return pooled.data, weights.data, {k: t.grad for k, t in ts.items()}


# ---------------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value_proj", [False, True], ids=["h", "value_proj"])
@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_backward_matches_central_and_complex_step(kind, value_proj, data):
    arrays, keywords = data.draw(pooling_cases(kind, value_proj))
    assert_gradients(_pool_fn(kind, keywords), arrays)


@pytest.mark.parametrize("value_proj", [False, True], ids=["h", "value_proj"])
@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_fused_equals_composed_from_primitive_ops(kind, value_proj, data):
    arrays, keywords = data.draw(pooling_cases(kind, value_proj))
    pf, wf, gf = _run(_pool_fn(kind, keywords), arrays)
    pc, wc, gc = _run(_pool_fn(kind, keywords, composed_attention_pool), arrays)
    np.testing.assert_allclose(pf, pc, rtol=1e-12, atol=1e-15, err_msg="pooled")
    np.testing.assert_allclose(wf, wc, rtol=1e-12, atol=1e-15, err_msg="weights")
    for k in arrays:
        np.testing.assert_allclose(gf[k], gc[k], rtol=1e-12, atol=1e-15, err_msg=f"d{k}")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("value_proj", [False, True], ids=["h", "value_proj"])
@pytest.mark.parametrize("Q", [1, 2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_every_combination_by_complex_step(kind, Q, value_proj, mode):
    """Each kind × Q × value projection × masking, at one fixed shape with an all-masked
    row (the Hypothesis tests draw these at random)."""
    rng = np.random.default_rng([KINDS.index(kind), Q, value_proj, MODES.index(mode)])
    B, T, D, A = 3, 4, 3, 2
    shapes = dict(h=(B, T, D), **param_shapes(kind, D, A, Q, 2 if value_proj else None))
    arrays = {k: rng.uniform(-1.5, 1.5, s) for k, s in shapes.items()}
    keywords = {"none": {}, "mask": {"mask": np.array([[1, 0, 1, 1], [0, 0, 0, 0],
                                                        [0, 1, 0, 0]], bool)},
                "lengths": {"lengths": np.array([4, 0, 2])}}[mode]
    assert_gradients(_pool_fn(kind, keywords), arrays, methods=("complex_step",))


def _torch_pool(torch, kind, t, mask):
    """docs/math.md A1-A5 written in torch (float64); an all-masked row pools to 0 (A14)."""
    u = torch.tanh(t["h"] @ t["w_proj"].T + t["b_proj"])
    if kind == "gated":
        u = u * torch.sigmoid(t["h"] @ t["w_gate"].T + t["b_gate"])
    e = (u @ t["query"].T).transpose(1, 2)                              # (B, Q, T)
    if mask is None:
        alpha = torch.softmax(e, dim=-1)
    else:
        m = torch.from_numpy(mask)[:, None, :]
        keep = m.any(dim=-1, keepdim=True)           # an all-masked row: uniform, then × 0
        alpha = torch.softmax(e.masked_fill(~m & keep, float("-inf")), dim=-1) * m
    weights = alpha
    if kind == "weight_gated":
        weights = torch.sigmoid(t["h"] @ t["w_step"].T + t["b_step"]).transpose(1, 2) * alpha
    v = t["h"] if "w_value" not in t else t["h"] @ t["w_value"].T + t["b_value"]
    return weights @ v, weights


@pytest.mark.torch
@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_kinds_agree_with_the_formulas_in_torch(kind, data):
    torch = pytest.importorskip("torch")
    arrays, keywords = data.draw(pooling_cases(kind, data.draw(st.booleans())))
    pooled, weights, grads = _run(_pool_fn(kind, keywords), arrays)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
    T = arrays["h"].shape[1]
    mask = keywords.get("mask")
    if "lengths" in keywords:
        mask = lengths_to_mask(keywords["lengths"], T)
    tp, tw = _torch_pool(torch, kind, t, mask)
    rng = np.random.default_rng(0)
    vp, vw = rng.standard_normal(pooled.shape), rng.standard_normal(weights.shape)
    ((tp * torch.from_numpy(vp)).sum() + (tw * torch.from_numpy(vw)).sum()).backward()
    np.testing.assert_allclose(pooled, tp.detach().numpy(), rtol=1e-10, atol=1e-12,
                               err_msg="pooled")
    np.testing.assert_allclose(weights, tw.detach().numpy(), rtol=1e-10, atol=1e-12,
                               err_msg="weights")
    for k in arrays:
        np.testing.assert_allclose(grads[k], t[k].grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=f"d{k} ({kind})")


class _AlphaSquaredBackward(AttentionPool):
    """The pooling op with a planted bug: its backward uses α² for α in A8."""

    @staticmethod
    def backward(ctx, dpooled, dweights):
        ctx.cache = ctx.cache._replace(alpha=ctx.cache.alpha * ctx.cache.alpha)
        return AttentionPool.backward(ctx, dpooled, dweights)


def _broken_additive_pool(h, w_proj, b_proj, query, kind):
    return _AlphaSquaredBackward.apply(h, *AttentionParams(w_proj, b_proj, query), None,
                                       kind)


def test_a_planted_backward_bug_is_caught():
    """The checks above can fail: a backward that uses α² for α in A8 is reported (planted
    on the reference kernels' cache, so run on them)."""
    rng = np.random.default_rng(3)
    arrays = {k: rng.uniform(-1, 1, s) for k, s in
              dict(h=(2, 3, 2), **param_shapes("additive", 2, 2, 2)).items()}
    with ng.backend("numpy"):
        gradcheck(_pool_fn("additive", {}), arrays, method="complex_step")
        with pytest.raises(GradcheckError, match="query"):
            gradcheck(_pool_fn("additive", {}, fn=_broken_additive_pool), arrays,
                      method="complex_step")


# ---------------------------------------------------------------------------------------------
# Edge cases: all-masked rows, huge scores
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value_proj", [False, True], ids=["h", "value_proj"])
@pytest.mark.parametrize("kind", KINDS)
def test_all_masked_row_pools_to_zero_with_zero_gradient_and_no_warning(kind, value_proj):
    rng = np.random.default_rng(1)
    B, T, D, A, Q = 3, 5, 3, 4, 2
    arrays = {k: rng.standard_normal(s) for k, s in
              dict(h=(B, T, D), **param_shapes(kind, D, A, Q, 4 if value_proj else None))
              .items()}
    lengths = np.array([5, 0, 2])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        pooled, weights, grads = _run(_pool_fn(kind, {"lengths": lengths}), arrays)
        masked = _run(_pool_fn(kind, {"mask": np.zeros((B, T), bool)}), arrays)
    np.testing.assert_array_equal(pooled[1], 0, err_msg="pooled of the all-masked row")
    np.testing.assert_array_equal(weights[1], 0, err_msg="weights of the all-masked row")
    np.testing.assert_array_equal(grads["h"][1], 0, err_msg="dh of the all-masked row")
    np.testing.assert_array_equal(grads["h"][2, 2:], 0, err_msg="dh of padded steps")
    np.testing.assert_array_equal(weights[2, :, 2:], 0, err_msg="weights of padded steps")
    assert np.all(np.isfinite(pooled)) and all(np.all(np.isfinite(g)) for g in grads.values())
    p0, w0, g0 = masked                                     # every row masked
    assert not np.any(p0) and not np.any(w0), "everything masked: zeros"
    for k, g in g0.items():
        np.testing.assert_array_equal(g, 0, err_msg=f"d{k} with every row masked")


@pytest.mark.parametrize("kind", KINDS)
def test_scores_of_magnitude_1e4_are_finite(kind):
    rng = np.random.default_rng(2)
    B, T, D, A, Q = 2, 6, 3, 4, 3
    arrays = {k: rng.standard_normal(s) for k, s in
              dict(h=(B, T, D), **param_shapes(kind, D, A, Q, 2)).items()}
    arrays["query"] *= 1e4
    arrays["w_proj"] *= 10                          # tanh saturates: |e| ≈ 1e4
    mask = np.array([[1, 1, 0, 1, 0, 1], [0, 1, 1, 1, 1, 0]], bool)
    # NOTE: e^{e - M} underflows to 0 for the losing steps, correctly: only underflow is let be
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        e = ref.attention_scores(arrays["h"], arrays["w_proj"], arrays["b_proj"],
                                 arrays.get("w_gate"), arrays.get("b_gate"),
                                 arrays["query"])[0]
        assert np.max(np.abs(e)) > 5e3, "the scores are not large"
        pooled, weights, grads = _run(_pool_fn(kind, {"mask": mask}), arrays)
    assert np.all(np.isfinite(pooled)) and np.all(np.isfinite(weights))
    for k, g in grads.items():
        assert np.all(np.isfinite(g)), f"d{k} is not finite"
    if kind != "weight_gated":
        np.testing.assert_allclose(weights.sum(-1), 1, rtol=1e-12, err_msg="Σ_t α")
    pc, wc, gc = _run(_pool_fn(kind, {"mask": mask}, composed_attention_pool), arrays)
    np.testing.assert_allclose(pooled, pc, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads["h"], gc["h"], rtol=1e-8, atol=1e-8)


def test_lengths_equal_the_mask_they_describe():
    rng = np.random.default_rng(4)
    arrays = {k: rng.standard_normal(s) for k, s in
              dict(h=(3, 4, 2), **param_shapes("gated", 2, 3, 2, 3)).items()}
    lengths = np.array([2, 4, 0])
    a = _run(_pool_fn("gated", {"lengths": lengths}), arrays)
    b = _run(_pool_fn("gated", {"mask": lengths_to_mask(lengths, 4)}), arrays)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    for k in arrays:
        np.testing.assert_array_equal(a[2][k], b[2][k], err_msg=f"d{k}")


def test_float32_in_float32_out():
    rng = np.random.default_rng(5)
    arrays = {k: rng.standard_normal(s).astype(np.float32) for k, s in
              dict(h=(2, 3, 2), **param_shapes("weight_gated", 2, 3, 2, 3)).items()}
    pooled, weights, grads = _run(_pool_fn("weight_gated", {"lengths": np.array([3, 1])}),
                                  arrays)
    assert pooled.dtype == weights.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    p64, _, g64 = _run(_pool_fn("weight_gated", {"lengths": np.array([3, 1])}),
                       {k: v.astype(np.float64) for k, v in arrays.items()})
    np.testing.assert_allclose(pooled, p64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grads["h"], g64["h"], rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# The node and its cache (A15)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, value_proj, per_row", [
    ("additive", False, "A"), ("gated", False, "2A"), ("weight_gated", True, "A+Dv")])
def test_saved_memory_is_what_the_docstring_says(kind, value_proj, per_row):
    """A15 for the reference kernels (their cache holds what the docstring describes)."""
    B, T, D, A, Q, Dv = 3, 5, 4, 6, 2, 7
    rng = np.random.default_rng(6)
    shapes = dict(h=(B, T, D), **param_shapes(kind, D, A, Q, Dv if value_proj else None))
    ts = {k: ng.Tensor(rng.standard_normal(s), requires_grad=True) for k, s in shapes.items()}
    with ng.backend("numpy"):
        pooled, weights = attention_pool(**ts, kind=kind, mask=np.ones((B, T), bool))
    assert pooled.grad_fn is weights.grad_fn and pooled.grad_fn.fn is AttentionPool, \
        "one fused node for both outputs"
    cache = pooled.grad_fn.ctx.cache
    inputs = {id(t.data) for t in ts.values()}
    saved = [a for a in cache if isinstance(a, np.ndarray) and a.dtype.kind == "f"
             and id(a) not in inputs and a is not weights.data]
    n_rows = B * T
    want = {"A": n_rows * A, "2A": 2 * n_rows * A,            # + α, which is the output
            "A+Dv": n_rows * (A + Dv) + 2 * B * Q * T}[per_row]    # + α and γ
    assert sum(a.size for a in saved) == want, "saved values differ from A15"
    if kind != "weight_gated":
        assert any(a is weights.data for a in cache), "α is the returned weights, not a copy"


def test_no_cache_is_kept_without_grad():
    rng = np.random.default_rng(7)
    arrays = {k: rng.standard_normal(s) for k, s in
              dict(h=(2, 3, 2), **param_shapes("gated", 2, 2, 1)).items()}
    w = ng.Tensor(arrays.pop("w_proj"), requires_grad=True)
    with ng.no_grad():
        pooled, _ = attention_pool(w_proj=w, **arrays, kind="gated")
    assert pooled.grad_fn is None


def test_op_errors_name_the_argument():
    rng = np.random.default_rng(8)
    arrays = {k: rng.standard_normal(s) for k, s in
              dict(h=(2, 3, 2), **param_shapes("additive", 2, 2, 1)).items()}
    with pytest.raises(ValueError, match="unknown kind 'dot'; expected one of 'additive', "
                                         "'gated', 'weight_gated'"):
        attention_pool(**arrays, kind="dot")
    with pytest.raises(ValueError, match=r"query has shape \(1, 3\), expected \(1, 2\)"):
        attention_pool(**dict(arrays, query=np.ones((1, 3))), kind="additive")
    with pytest.raises(ValueError, match="needs w_gate"):
        attention_pool(**arrays, kind="gated")
    with pytest.raises(ValueError, match=r"attention_pool: mask has shape \(2, 2\), "
                                         r"expected \(B, T\) = \(2, 3\)"):
        attention_pool(**arrays, kind="additive", mask=np.ones((2, 2), bool))


# ---------------------------------------------------------------------------------------------
# Online pooling (A16-A17)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_online_pooling_equals_the_batch_forward(kind, data):
    value_proj = data.draw(st.booleans())
    arrays, keywords = data.draw(pooling_cases(kind, value_proj, mode="lengths"))
    arrays["query"] = arrays["query"] * data.draw(st.sampled_from([1.0, 30.0]))
    h = arrays["h"]
    B, T, _ = h.shape
    mask = lengths_to_mask(keywords["lengths"], T)
    params = AttentionParams(**{k: a for k, a in arrays.items() if k != "h"})
    batch, _, _ = ref.attention_forward(h, params, kind, mask, False)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(T - 1, 1)), max_size=3))))
    for bounds in ([(t, t + 1) for t in range(T)], list(zip([0] + cuts, cuts + [T]))):
        state = None
        for a, b in bounds:
            if a >= b:
                continue
            online, state = ref.attention_online(state, h[:, a:b], params, kind, mask[:, a:b])
        np.testing.assert_allclose(online, batch, rtol=1e-12, atol=1e-14,
                                   err_msg=f"online pooling in chunks {bounds}")


def test_online_pooling_without_any_valid_step_is_zero_and_quiet():
    state = ref.online_pool_init(2, 1, 3)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        state = ref.online_pool_update(state, np.full((2, 1, 2), 1e4), np.ones((2, 2, 3)),
                                       np.array([[False, False], [False, True]]))
        result = ref.online_pool_result(state)
    np.testing.assert_array_equal(result[0], 0)
    np.testing.assert_allclose(result[1], 1.0)
