"""A value the mask says is absent takes no part (issue 15, report 1): NaN or inf in the
padded steps of an LSTM's input (past ``lengths``) or of attention pooling's input (where
the mask or ``lengths`` say absent) changes nothing, forward or backward, on every backend.

Right values: PyTorch 2.13's in float64 with packed sequences (the issue's numbers, and
torch itself where marked), and the same call with the padding replaced by zeros, which
must give the same bits (the padding is selected away before any product)."""

import re
import warnings

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.kernels import gpu, registry
from nongate_np.kernels.contract import AttentionParams

BACKENDS = registry.available_backends()      # numpy, numba and cuda (a GPU or simulator)
FILLS = [np.nan, np.inf, -np.inf]
KINDS = ("additive", "gated", "weight_gated")
# numba's CUDA simulator runs one OS thread per CUDA thread (seconds per LSTM call): there
# the LSTM's padding-against-zero-padding check runs two of its configurations, with inf
SIMULATED = {name for name in BACKENDS if name == "cuda" and gpu.simulator_requested()}
LSTM_CASES = [(name, fill, bidirectional, proj_size) for name in BACKENDS for fill in FILLS
              for bidirectional in (False, True) for proj_size in (0, 2)
              if name not in SIMULATED or (fill == np.inf and bidirectional == bool(proj_size))]


def _grads(module):
    return {name: p.grad.copy() for name, p in module.named_parameters()}


def _assert_same_bits(got: dict, want: dict):
    assert got.keys() == want.keys()
    for name in want:
        assert np.all(np.isfinite(got[name])), f"{name} is not finite: {got[name]}"
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


# ------------------------------------------------------------------------------------------
# LSTM
# ------------------------------------------------------------------------------------------

def _half_lstm(bidirectional=False):
    """The issue's module: nn.LSTM(1, 1, float64), every parameter 0.5."""
    m = ng.nn.LSTM(1, 1, bidirectional=bidirectional, dtype=np.float64)
    m.load_state_dict({k: np.full(v.shape, 0.5) for k, v in m.state_dict().items()})
    return m


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("name", BACKENDS)
def test_issue_lstm_padding_never_reaches_the_gradients(name, fill):
    with registry.backend(name):
        m = _half_lstm()
        x = ng.Tensor(np.array([[[0.5]], [[fill]]]), requires_grad=True)
        _, (h_n, _) = m(x, lengths=[1])
        h_n.sum().backward()
    np.testing.assert_allclose(h_n.data.ravel(), [0.449236], atol=5e-7)
    np.testing.assert_allclose(m.weight_ih_l0.grad.ravel(),
                               [0.038008, 0, 0.056417, 0.050022], atol=5e-7)
    assert x.grad[1, 0, 0] == 0, "the gradient of a padded entry is exactly 0"
    for pname, g in _grads(m).items():
        assert np.all(np.isfinite(g)), pname


def _lstm_case(fill, bidirectional, proj_size):
    """A two-layer LSTM; (T, B, I) = (5, 4, 2) input whose padding (the steps past lengths;
    one sequence has none) holds ``fill``, the same input with zero padding, and the
    adjoints of y, h_n and c_n: with ``fill`` at y's padded steps, and with 0 there."""
    T, B, I, H = 5, 4, 2, 3
    D, P = 1 + bidirectional, proj_size or H
    ng.seed(1)
    m = ng.nn.LSTM(I, H, num_layers=2, bidirectional=bidirectional, proj_size=proj_size,
                   dtype=np.float64)
    rng = np.random.default_rng(0)
    lengths = np.array([5, 2, 0, 3])
    pad = np.arange(T)[:, None] >= lengths[None, :]
    x = rng.standard_normal((T, B, I))
    x[pad] = fill
    clean = np.where(pad[:, :, None], 0.0, x)
    upstream = [rng.standard_normal(s) for s in [(T, B, D * P), (2 * D, B, P), (2 * D, B, H)]]
    upstream[0][pad] = 0
    dirty = [u.copy() for u in upstream]
    dirty[0][pad] = fill               # y is 0 there whatever the input: its adjoint is unused
    return m, x, clean, lengths, pad, dirty, upstream


def _lstm_run(m, x, lengths, upstream):
    m.zero_grad()
    xt = ng.Tensor(x.copy(), requires_grad=True)
    y, (h_n, c_n) = m(xt, lengths=lengths)
    sum((o * u).sum() for o, u in zip((y, h_n, c_n), upstream)).backward()
    return (y.data, h_n.data, c_n.data), xt.grad, _grads(m)


@pytest.mark.parametrize("name, fill, bidirectional, proj_size", LSTM_CASES)
def test_lstm_with_padding_equals_lstm_with_zero_padding(name, fill, bidirectional,
                                                         proj_size):
    m, x, clean, lengths, pad, dirty, upstream = _lstm_case(fill, bidirectional, proj_size)
    with registry.backend(name):
        want_out, want_dx, want = _lstm_run(m, clean, lengths, upstream)
        got_out, got_dx, got = _lstm_run(m, x, lengths, dirty)
    for what, a, b in zip(("y", "h_n", "c_n"), got_out, want_out):
        np.testing.assert_array_equal(a, b, err_msg=what)
    assert np.all(got_dx[pad] == 0), "d(padding) is exactly 0"
    np.testing.assert_array_equal(got_dx, want_dx)
    _assert_same_bits(got, want)


@pytest.mark.torch
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("fill", [np.nan, np.inf])
@pytest.mark.parametrize("name", BACKENDS)
def test_issue_lstm_matches_torch_packed(name, fill, bidirectional):
    torch = pytest.importorskip("torch")
    x = np.array([[[0.5]], [[fill]]])
    theirs = torch.nn.LSTM(1, 1, bidirectional=bidirectional).double()
    with torch.no_grad():
        for p in theirs.parameters():
            p.fill_(0.5)
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), torch.tensor([1]))
    _, (hn_t, _) = theirs(packed)
    hn_t.sum().backward()
    with registry.backend(name):
        m = _half_lstm(bidirectional)
        _, (h_n, _) = m(x, lengths=[1])
        h_n.sum().backward()
    np.testing.assert_allclose(h_n.data, hn_t.detach().numpy(), rtol=1e-12)
    for pname, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(m, pname).grad, p.grad.numpy(), rtol=1e-12,
                                   atol=1e-15, err_msg=pname)


# ------------------------------------------------------------------------------------------
# Attention pooling
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("name", BACKENDS)
def test_issue_attention_pools_past_a_nan(name, fill, kind):
    ng.seed(0)
    with registry.backend(name):
        m = ng.nn.AttentionPooling(1, 1, kind=kind, dtype=np.float64)
        for how in (dict(lengths=[1]), dict(mask=np.array([[True, False]]))):
            m.zero_grad()
            h = ng.Tensor(np.array([[[0.3], [fill]]]), requires_grad=True)
            pooled, weights = m(h, **how)
            (pooled.sum() + weights.sum()).backward()
            want = 0.3 if kind != "weight_gated" else 0.3 * m.step_gate(
                ng.Tensor(np.array([[0.3]]))).sigmoid().data.item()
            np.testing.assert_allclose(pooled.data.ravel(), [want], rtol=1e-15, err_msg=how)
            assert weights.data[0, 0, 1] == 0
            assert h.grad[0, 1, 0] == 0, "the gradient of a padded entry is exactly 0"
            for pname, g in _grads(m).items():
                assert np.all(np.isfinite(g)), (pname, how)


def _attention_run(m, h, mask, dpooled, dweights):
    m.zero_grad()
    ht = ng.Tensor(h.copy(), requires_grad=True)
    pooled, weights = m(ht, mask=mask)
    ((pooled * dpooled).sum() + (weights * dweights).sum()).backward()
    return (pooled.data, weights.data), ht.grad, _grads(m)


@pytest.mark.parametrize("value_proj", [False, True])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("name", BACKENDS)
def test_attention_with_padding_equals_attention_with_zero_padding(name, fill, kind,
                                                                   value_proj):
    B, T, D, A, Q = 3, 4, 3, 2, 2
    rng = np.random.default_rng(0)
    # a gap inside a sequence, a trailing gap and a row without a valid step
    mask = np.array([[True, False, True, True], [True, True, False, False], [False] * 4])
    h = rng.standard_normal((B, T, D))
    h[~mask] = fill
    clean = np.where(mask[:, :, None], h, 0.0)
    Dv = 2 if value_proj else D
    dpooled, dweights = rng.standard_normal((B, Q, Dv)), rng.standard_normal((B, Q, T))
    absent = np.broadcast_to(~mask[:, None, :], dweights.shape)
    dweights[absent] = 0
    dirty = dweights.copy()
    dirty[absent] = fill             # ω is 0 there whatever the input: its adjoint is unused
    ng.seed(2)
    m = ng.nn.AttentionPooling(D, A, kind=kind, num_queries=Q, value_proj=value_proj,
                               value_size=Dv if value_proj else None, dtype=np.float64)
    with registry.backend(name):
        want_out, want_dh, want = _attention_run(m, clean, mask, dpooled, dweights)
        got_out, got_dh, got = _attention_run(m, h, mask, dpooled, dirty)
    for what, a, b in zip(("pooled", "weights"), got_out, want_out):
        np.testing.assert_array_equal(a, b, err_msg=what)
    assert np.all(got_dh[~mask] == 0), "d(padding) is exactly 0"
    np.testing.assert_array_equal(got_dh, want_dh)
    _assert_same_bits(got, want)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("name", BACKENDS)
def test_online_pooling_skips_padding(name, fill, kind):
    """attention_online over two chunks with NaN/inf at the masked steps: the result of the
    zero-padded input, and attention_forward's on the whole sequences."""
    B, T, D, A, Q = 2, 5, 3, 2, 2
    rng = np.random.default_rng(3)
    mask = np.array([[True, True, False, True, False], [False, True, True, False, False]])
    h = rng.standard_normal((B, T, D))
    h[~mask] = fill
    clean = np.where(mask[:, :, None], h, 0.0)
    p = AttentionParams(rng.standard_normal((A, D)), rng.standard_normal(A),
                        rng.standard_normal((Q, A)), w_gate=rng.standard_normal((A, D)),
                        b_gate=rng.standard_normal(A), w_step=rng.standard_normal((Q, D)),
                        b_step=rng.standard_normal(Q))
    with registry.backend(name) as k:
        results = []
        for hh in (h, clean):
            state = None
            for a, b in ((0, 2), (2, T)):
                pooled, state = k.attention_online(state, hh[:, a:b], p, kind, mask[:, a:b])
            results.append(np.asarray(pooled))
        whole, _, _ = k.attention_forward(clean, p, kind, mask, False)
    assert np.all(np.isfinite(results[0]))
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_allclose(results[0], np.asarray(whole), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", BACKENDS)
def test_online_pooling_of_a_non_finite_valid_step_stays_nan_as_the_batch_pooling(name, bad,
                                                                                 kind):
    """A NaN or ±inf at a valid step of row 0, in the first chunk or as the row's first
    step: every later result of that row is NaN, as attention_forward's on the steps seen,
    never a finite vector (it was 0 once the running max went non-finite); row 1 is
    untouched."""
    B, T, D, A, Q = 2, 5, 3, 2, 2
    rng = np.random.default_rng(3)
    mask = np.ones((B, T), bool)
    p = AttentionParams(rng.standard_normal((A, D)), rng.standard_normal(A),
                        rng.standard_normal((Q, A)), w_gate=rng.standard_normal((A, D)),
                        b_gate=rng.standard_normal(A), w_step=rng.standard_normal((Q, D)),
                        b_step=rng.standard_normal(Q))
    for first in (0, 1):
        h = rng.standard_normal((B, T, D))
        h[0, first, :] = bad
        with registry.backend(name) as k, warnings.catch_warnings():
            # the simulator evaluates the kernels' float operations in NumPy, which warns
            warnings.simplefilter("ignore" if name in SIMULATED else "error")
            state = None
            for a, b in ((0, 2), (2, 3), (3, T)):
                pooled, state = k.attention_online(state, h[:, a:b], p, kind, mask[:, a:b])
                whole, _, _ = k.attention_forward(h[:, :b], p, kind, mask[:, :b], False)
                pooled, whole = np.asarray(pooled), np.asarray(whole)
                assert np.all(np.isnan(pooled[0])) and np.all(np.isnan(whole[0])), (a, b)
                np.testing.assert_allclose(pooled[1], whole[1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("fill", FILLS)
def test_streaming_encoder_ignores_padded_features(fill):
    from nongate_np.nn.multitask import MultiTaskSequenceModel
    tasks = [{"name": "y", "kind": "classification", "num_classes": 2}]
    ng.seed(0)
    m = MultiTaskSequenceModel(tasks, input_size=2, hidden_size=3, embed_size=3,
                               attn_size=2, dtype=np.float64)
    rng = np.random.default_rng(4)
    B, T = 3, 6
    lengths = np.array([6, 2, 4])
    x = rng.standard_normal((B, T, 2))
    clean = x.copy()
    clean[np.arange(T)[None, :] >= lengths[:, None]] = 0
    x[np.arange(T)[None, :] >= lengths[:, None]] = fill
    stream = m.stream(B)
    for a, b in ((0, 3), (3, T)):
        out = stream.update(x[:, a:b], np.clip(lengths - a, 0, b - a))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, m.encode(clean, lengths), rtol=1e-12, atol=1e-14)


def test_lstm_layer_checks_lengths_and_shapes():
    """FINDINGS F7, F13: the public fused op read lengths past the array (a short lengths) and
    took lengths > T; now every bad argument is an error naming it (no kernel runs)."""
    from nongate_np.ops.lstm import lstm_layer
    T, B, I, H = 2, 2, 1, 2
    rng = np.random.default_rng(0)
    args = dict(x=(T, B, I), h0=(B, H), c0=(B, H), w_ih=(4 * H, I), w_hh=(4 * H, H),
                b_ih=(4 * H,), b_hh=(4 * H,))
    good = {k: rng.standard_normal(s) for k, s in args.items()}
    y, _, _ = lstm_layer(**good, lengths=np.array([1, 2]))
    assert np.all(y.data[1, 0] == 0) and np.all(y.data[1, 1] != 0)
    for lengths, match in (([1], r"lengths has shape \(1,\), expected \(B,\) = \(2,\)"),
                           ([5, 1], r"lengths must lie in \[0, T\] = \[0, 2\], got 5"),
                           ([-1, 1], r"got -1")):
        with pytest.raises(ValueError, match=match):
            lstm_layer(**good, lengths=np.array(lengths))
    with pytest.raises(TypeError, match="lengths must be integers"):
        lstm_layer(**good, lengths=np.array([1.0, 2.0]))
    for name, shape in (("w_ih", (4 * H, I + 1)), ("w_hh", (4 * H, H + 1)), ("h0", (B, H + 1)),
                        ("c0", (B + 1, H)), ("b_ih", (4 * H - 1,)), ("b_hh", (H,))):
        bad = {**good, name: rng.standard_normal(shape)}
        with pytest.raises(ValueError, match=re.escape(f"lstm_layer: {name} has shape "
                                                       f"{shape}, expected")):
            lstm_layer(**bad)
    with pytest.raises(ValueError, match=r"w_ih must be 2-D \(4H, I\) with H >= 1"):
        lstm_layer(**{**good, "w_ih": rng.standard_normal((7, I))})
    with pytest.raises(ValueError, match=r"x has shape \(0, 2, 1\).*at least one step"):
        lstm_layer(**{**good, "x": np.zeros((0, B, I))})            # FINDINGS F13
    with pytest.raises(ValueError, match=r"x must be 3-D \(T, B, I\)"):
        lstm_layer(**{**good, "x": rng.standard_normal((T, I))})
    with pytest.raises(ValueError, match=r"w_hr has shape \(3, 1\), expected \(3, 2\)"):
        lstm_layer(**{**good, "w_hr": rng.standard_normal((3, 1))})


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", BACKENDS)
def test_attention_over_zero_steps_pools_to_zero(name, kind):
    """T = 0 (B > 0): every row has no valid step, so it pools to zeros with zero
    gradients, as a fully masked row does (and the same on every backend)."""
    ng.seed(0)
    with registry.backend(name):
        m = ng.nn.AttentionPooling(3, 2, kind=kind, num_queries=2, dtype=np.float64)
        h = ng.Tensor(np.zeros((2, 0, 3)), requires_grad=True)
        pooled, weights = m(h)
        (pooled.sum() + weights.sum()).backward()
    np.testing.assert_array_equal(pooled.data, np.zeros((2, 2, 3)))
    assert weights.shape == (2, 2, 0) and h.grad.shape == (2, 0, 3)
    for pname, g in _grads(m).items():
        np.testing.assert_array_equal(g, np.zeros_like(g), err_msg=pname)


@pytest.mark.parametrize("kind", KINDS)
def test_non_finite_valid_steps_give_ieee_results_without_warnings(kind):
    """FINDINGS F12: ±inf in a valid step (or W h overflowing float32) gives IEEE results
    (NaN, ±inf) on the reference kernels without a NumPy warning, as on the Numba backend."""
    h = np.array([[[-np.inf, -3.4e38], [8.96e37, -9.7e20], [1.5e38, -0.0]]], np.float32)
    x = np.array([[[np.inf]], [[1.0]]], np.float32)
    results = {}
    for name in ("numpy", "numba"):
        ng.seed(0)
        lstm = ng.nn.LSTM(1, 2)
        pool = ng.nn.AttentionPooling(2, 1, kind=kind, value_proj=True)
        with registry.backend(name), warnings.catch_warnings():
            warnings.simplefilter("error")
            y, (h_n, c_n) = lstm(x)
            (y.sum() + h_n.sum() + c_n.sum()).backward()
            pooled, weights = pool(h, mask=np.array([[True, True, False]]))
            (pooled.sum() + weights.sum()).backward()
        results[name] = [y.data, h_n.data, pooled.data, weights.data,
                         *(p.grad for p in (*lstm.parameters(), *pool.parameters()))]
    # NOTE: which non-finite value (NaN or ±inf) a sum of them gives depends on its order,
    # which differs between the backends' products: the finite values are compared
    for a, b in zip(results["numpy"], results["numba"]):
        both = np.isfinite(a) & np.isfinite(b)
        np.testing.assert_allclose(a[both], b[both], rtol=1e-5, atol=1e-6)
