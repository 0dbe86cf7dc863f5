"""The fused LSTM op (one layer, one direction): BPTT against complex-step, central
differences and the same LSTM composed from primitive ops; memory; very long sequences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import gradcheck
from nongate_np.check import testing as nt
from nongate_np.ops.lstm import LSTMLayer, lstm_layer
from tests.helpers import CENTRAL_MAX_REL, COMPLEX_STEP_MAX_REL
from tests.ops.lstm_composed import composed_lstm_layer

NAMES = ["x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh", "w_hr"]


@st.composite
def lstm_case(draw, max_T=5):
    T, B, I, H = draw(nt.lstm_sizes(max_T=max_T))
    P = draw(st.integers(1, H)) if draw(st.booleans()) else None
    p = P or H
    shapes = dict(x=(T, B, I), h0=(B, p), c0=(B, H), w_ih=(4 * H, I), w_hh=(4 * H, p),
                  b_ih=(4 * H,), b_hh=(4 * H,), w_hr=(p, H))
    arrays = {k: draw(nt.arrays(s, low=-1, high=1)) for k, s in shapes.items()
              if k != "w_hr" or P}
    lengths = draw(st.none() | st.lists(st.integers(0, T), min_size=B, max_size=B)
                   .map(np.array))
    return arrays, lengths, draw(st.booleans())


def _outputs_as_tuple(fn, lengths, reverse):
    def f(**arrays):
        return fn(**arrays, lengths=lengths, reverse=reverse)
    return f


@given(case=lstm_case())
def test_bptt_matches_complex_step_and_central(case):
    arrays, lengths, reverse = case
    f = _outputs_as_tuple(lstm_layer, lengths, reverse)
    rep = gradcheck(f, arrays, method="complex_step", name="lstm_layer")
    assert rep.max_rel_error <= COMPLEX_STEP_MAX_REL, str(rep)
    rep = gradcheck(f, arrays, method="central", name="lstm_layer")
    assert rep.max_rel_error <= CENTRAL_MAX_REL, str(rep)


def _run(fn, arrays, lengths, reverse, seed=0):
    ts = {k: ng.Tensor(v.copy(), requires_grad=True) for k, v in arrays.items()}
    outs = fn(**ts, lengths=lengths, reverse=reverse)
    rng = np.random.default_rng(seed)
    loss = sum(((o * rng.standard_normal(o.shape)).sum() for o in outs), ng.tensor(0.0))
    loss.backward()
    return [o.data for o in outs], {k: t.grad for k, t in ts.items()}


@given(case=lstm_case())
def test_fused_equals_composed_from_primitive_ops(case):
    arrays, lengths, reverse = case
    outs_f, grads_f = _run(lstm_layer, arrays, lengths, reverse)
    outs_c, grads_c = _run(composed_lstm_layer, arrays, lengths, reverse)
    for name, a, b in zip(("y", "h_n", "c_n"), outs_f, outs_c):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, err_msg=name)
    for k in arrays:
        np.testing.assert_allclose(grads_f[k], grads_c[k], rtol=1e-12, atol=1e-15,
                                   err_msg=f"d{k}")


def test_saved_memory_is_six_bh_per_step():
    T, B, I, H = 7, 3, 5, 4
    rng = np.random.default_rng(0)
    args = [ng.Tensor(rng.standard_normal(s), requires_grad=True) for s in
            [(T, B, I), (B, H), (B, H), (4 * H, I), (4 * H, H), (4 * H,), (4 * H,)]]
    y, _, _ = lstm_layer(*args)
    cache = y.grad_fn.ctx.cache
    inputs = {id(a.data) for a in args}
    # views of the output (H_prev, [h0; y] in one buffer) share its memory: not counted
    saved = [a for a in cache if isinstance(a, np.ndarray) and a.dtype.kind == "f"
             and id(a) not in inputs and not np.shares_memory(a, y.data)]
    per_step = sum(a.nbytes for a in saved) / T
    assert per_step == 6 * B * H * 8, f"{per_step} bytes per step, expected 6·B·H·8 (L15)"
    assert any(a is y.data for a in cache), "the output y is shared, not copied"


def test_no_cache_is_kept_without_grad():
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(s) for s in [(3, 2, 2), (2, 2), (2, 2), (8, 2), (8, 2)]]
    w = ng.Tensor(args[3], requires_grad=True)
    with ng.no_grad():
        y, _, _ = lstm_layer(args[0], args[1], args[2], w, args[4])
    assert y.grad_fn is None


@pytest.mark.slow
def test_ten_thousand_steps_forward_and_backward_are_finite():
    T, B, I, H = 10_000, 2, 3, 4
    rng = np.random.default_rng(0)
    ts = [ng.Tensor(rng.standard_normal(s) * 0.5, requires_grad=True)
          for s in [(T, B, I), (B, H), (B, H), (4 * H, I), (4 * H, H), (4 * H,), (4 * H,)]]
    y, h, c = lstm_layer(*ts)
    (y.sum() + h.sum() + c.sum()).backward()
    for name, t in zip(NAMES, ts):
        assert np.all(np.isfinite(t.grad)), f"d{name} has non-finite values"
    assert y.grad_fn.fn is LSTMLayer, "one fused node for the whole sequence"
