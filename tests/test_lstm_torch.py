"""nn.LSTM against torch.nn.LSTM with the same weights: outputs and every gradient, float64,
for drawn multi-layer, bidirectional, projected, batch-first, variable-length configurations
(torch runs a packed sequence)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import testing as nt

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

RTOL = 1e-10


@st.composite
def configs(draw):
    T, B, I, H = draw(nt.lstm_sizes(max_T=6, max_B=4, max_I=4, max_H=5))
    return dict(T=T, B=B, I=I, H=H, num_layers=draw(st.integers(1, 3)),
                bidirectional=draw(st.booleans()),
                proj_size=draw(st.integers(0, H - 1)), batch_first=draw(st.booleans()),
                bias=draw(st.booleans()), with_lengths=draw(st.booleans()),
                with_hx=draw(st.booleans()), seed=draw(st.integers(0, 2**31)))


def _pair(cfg):
    kw = {k: cfg[k] for k in ("num_layers", "bidirectional", "proj_size", "batch_first",
                              "bias")}
    theirs = torch.nn.LSTM(cfg["I"], cfg["H"], **kw).double()
    ours = ng.nn.LSTM(cfg["I"], cfg["H"], dtype=np.float64, **kw)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@given(cfg=configs())
def test_matches_torch_outputs_and_gradients(cfg):
    ours, theirs = _pair(cfg)
    rng = np.random.default_rng(cfg["seed"])
    T, B, H = cfg["T"], cfg["B"], cfg["H"]
    D, P = 1 + cfg["bidirectional"], cfg["proj_size"] or H
    x = rng.standard_normal((B, T, cfg["I"]) if cfg["batch_first"] else (T, B, cfg["I"]))
    lengths = rng.integers(1, T + 1, B) if cfg["with_lengths"] else None
    hx = (rng.standard_normal((cfg["num_layers"] * D, B, P)),
          rng.standard_normal((cfg["num_layers"] * D, B, H))) if cfg["with_hx"] else None

    xt = torch.tensor(x, requires_grad=True)
    hxt = tuple(torch.tensor(a, requires_grad=True) for a in hx) if hx else None
    inp = xt if lengths is None else torch.nn.utils.rnn.pack_padded_sequence(
        xt, torch.tensor(lengths), batch_first=cfg["batch_first"], enforce_sorted=False)
    out_t, (hn_t, cn_t) = theirs(inp, hxt)
    if lengths is not None:
        out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(
            out_t, batch_first=cfg["batch_first"], total_length=T)

    xo = ng.Tensor(x, requires_grad=True)
    hxo = tuple(ng.Tensor(a, requires_grad=True) for a in hx) if hx else None
    out_o, (hn_o, cn_o) = ours(xo, hxo, lengths=lengths)

    for name, a, b in (("output", out_o, out_t), ("h_n", hn_o, hn_t), ("c_n", cn_o, cn_t)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=RTOL, atol=1e-13,
                                   err_msg=name)
    vs = [rng.standard_normal(a.shape) for a in (out_o, hn_o, cn_o)]
    sum((o * v).sum() for o, v in zip((out_o, hn_o, cn_o), vs)).backward()
    sum((t * torch.tensor(v)).sum() for t, v in zip((out_t, hn_t, cn_t), vs)).backward()

    grads = [("x", xo.grad, xt.grad)]
    if hx:
        grads += [("h0", hxo[0].grad, hxt[0].grad), ("c0", hxo[1].grad, hxt[1].grad)]
    tparams = dict(theirs.named_parameters())
    grads += [(name, p.grad, tparams[name].grad) for name, p in ours.named_parameters()]
    for name, a, b in grads:
        np.testing.assert_allclose(a, b.numpy(), rtol=RTOL, atol=1e-13, err_msg=f"d{name}")


def test_state_dict_round_trip_both_ways():
    cfg = dict(I=3, H=4, num_layers=2, bidirectional=True, proj_size=2, batch_first=False,
               bias=True)
    ours, theirs = _pair(cfg)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ng.seed(5)
    fresh = ng.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2,
                       dtype=np.float64)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in fresh.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    want = theirs(torch.tensor(x))[0].detach().numpy()
    np.testing.assert_allclose(fresh(x)[0].data, want, rtol=RTOL)


def test_default_float32_module_matches_torch_float32():
    theirs = torch.nn.LSTM(3, 4)
    ours = ng.nn.LSTM(3, 4)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    got = ours(x)[0]
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.data, theirs(torch.tensor(x))[0].detach().numpy(),
                               rtol=1e-5, atol=1e-6)
