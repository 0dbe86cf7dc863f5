"""nn.GRU and nn.GRUCell (docs/math.md Part R): against torch.nn.GRU and torch.nn.GRUCell
with the same weights (outputs, h_n and every gradient; float64 to 1e-12, float32 to its
rounding) for stacked, bidirectional, batch-first, bias-free, unbatched, hx-given,
variable-length (NaN in the padding) and packed input, and a 20-step GRUCell loop; without
torch, every gradient by complex-step and central differences (through the module and the
op), a planted error caught, the cell loop against the layer, the graph, saving, the
empty batch and the errors bad input gets."""

import inspect
import math
import warnings

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.autograd import recorded_ops
from nongate_np.check import GradcheckError, gradcheck
from nongate_np.device import DeviceError
from nongate_np.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from nongate_np.ops.gru import gru, gru_cell, gru_layer
from tests.helpers import CENTRAL_MAX_REL, COMPLEX_STEP_MAX_REL

# rtol, and an absolute floor relative to the largest reference value (normwise): float64
# to 1e-12; float32 to its rounding (each side rounds its products its own way)
TOL = {np.float64: (1e-12, 1e-13), np.float32: (1e-5, 1e-6)}
T, B, I, H = 6, 3, 3, 4
LENGTHS = np.array([6, 2, 4])           # torch packs lengths >= 1; 0 is checked without it


def assert_close(got, want, dtype, what):
    rtol, floor = TOL[dtype]
    scale = float(np.max(np.abs(want))) if np.size(want) else 0.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=floor * scale, err_msg=what)


def gate_blocks(names, H):
    """gradcheck's blocks= for GRU weights and biases: rows r, z, n of the 3H axis."""
    return {n: [(g, slice(k * H, (k + 1) * H)) for k, g in enumerate("rzn")] for n in names}


def _torch_pair(torch, dtype, **kw):
    theirs = torch.nn.GRU(I, H, **kw).to(torch.float64 if dtype == np.float64
                                         else torch.float32)
    ours = ng.nn.GRU(I, H, dtype=dtype, **kw)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _padding(lengths, batch_first):
    """(T, B) (or (B, T)) booleans: True at the steps past each length."""
    pad = np.arange(T)[:, None] >= lengths[None, :]
    return pad.T if batch_first else pad


# -- against torch ----------------------------------------------------------------------------

CASES = [dict(), dict(num_layers=2), dict(num_layers=2, bidirectional=True),
         dict(bidirectional=True, batch_first=True), dict(num_layers=2, bias=False),
         dict(num_layers=2, bidirectional=True, batch_first=True, dropout=0.0)]


KINDS = ["plain", "hx", "lengths", "unbatched"]


@pytest.mark.torch
@pytest.mark.parametrize("case, kind, dtype",
                         [(c, k, np.float64) for c in CASES for k in KINDS] +
                         [(c, k, np.float32) for c in CASES[2:4] for k in KINDS])
def test_outputs_h_n_and_every_gradient_match_torch(case, kind, dtype):
    """Training mode (the default, as torch's): dropout=0 between layers changes nothing.
    With lengths, torch runs the packed sequence, and ours has NaN in the padding: its
    outputs there are 0 and its gradient exactly 0."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(len(case))
    ours, theirs = _torch_pair(torch, dtype, **case)
    assert ours.training and theirs.training
    rng = np.random.default_rng(1)
    bf, L = ours.batch_first, ours.num_layers * ours.num_directions
    shape = (T, I) if kind == "unbatched" else (B, T, I) if bf else (T, B, I)
    x = rng.standard_normal(shape).astype(dtype)
    hx = None if kind == "plain" else \
        rng.standard_normal((L, H) if kind == "unbatched" else (L, B, H)).astype(dtype)
    lengths = LENGTHS if kind == "lengths" else None
    x_ours = x.copy()
    if lengths is not None:
        x_ours[_padding(lengths, bf)] = np.nan

    xo, xt = ng.Tensor(x_ours, requires_grad=True), torch.tensor(x, requires_grad=True)
    hxo = None if hx is None else ng.Tensor(hx, requires_grad=True)
    hxt = None if hx is None else torch.tensor(hx, requires_grad=True)
    out_o, hn_o = ours(xo, hxo, lengths=lengths)
    if lengths is None:
        out_t, hn_t = theirs(xt, hxt)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.tensor(lengths), batch_first=bf, enforce_sorted=False)
        out_t, hn_t = theirs(packed, hxt)
        out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_t, batch_first=bf,
                                                          total_length=T)
    for name, a, b in (("output", out_o, out_t), ("h_n", hn_o, hn_t)):
        assert a.dtype == dtype and a.shape == tuple(b.shape), name
        assert_close(a.data, b.detach().numpy(), dtype, name)
    vs = [rng.standard_normal(a.shape).astype(dtype) for a in (out_o, hn_o)]
    ((out_o * ng.Tensor(vs[0])).sum() + (hn_o * ng.Tensor(vs[1])).sum()).backward()
    ((out_t * torch.tensor(vs[0])).sum() + (hn_t * torch.tensor(vs[1])).sum()).backward()

    grads = [("x", xo.grad, xt.grad)] + ([("h0", hxo.grad, hxt.grad)] if hx is not None else [])
    tparams = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(tparams)
    grads += [(n, p.grad, tparams[n].grad) for n, p in ours.named_parameters()]
    for name, a, b in grads:
        assert a.dtype == dtype, name
        assert_close(a, b.numpy(), dtype, f"d{name}")
    if lengths is not None:
        pad = _padding(lengths, bf)
        assert np.all(out_o.data[pad] == 0), "outputs in the padding"
        assert np.all(xo.grad[pad] == 0), "gradient in the NaN padding"


@pytest.mark.torch
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_a_packed_sequence_in_and_out_matches_torch(enforce_sorted):
    torch = pytest.importorskip("torch")
    torch.manual_seed(3)
    ours, theirs = _torch_pair(torch, np.float64, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(2)
    lengths = np.array([6, 4, 1]) if enforce_sorted else LENGTHS
    x = rng.standard_normal((T, B, I))
    hx = rng.standard_normal((4, B, H))
    xo, xt = ng.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    hxo, hxt = ng.Tensor(hx, requires_grad=True), torch.tensor(hx, requires_grad=True)
    out_o, hn_o = ours(pack_padded_sequence(xo, lengths, enforce_sorted=enforce_sorted), hxo)
    out_t, hn_t = theirs(torch.nn.utils.rnn.pack_padded_sequence(
        xt, torch.tensor(lengths), enforce_sorted=enforce_sorted), hxt)
    assert isinstance(out_o, ng.nn.utils.rnn.PackedSequence)
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        a, b = getattr(out_o, field), getattr(out_t, field)
        assert (a is None) == (b is None), field
        if a is not None:
            np.testing.assert_array_equal(a.data, b.numpy(), err_msg=field)
    assert_close(out_o.data.data, out_t.data.detach().numpy(), np.float64, "packed output")
    assert_close(hn_o.data, hn_t.detach().numpy(), np.float64, "h_n")
    v = rng.standard_normal(out_o.data.shape)
    ((out_o.data * ng.Tensor(v)).sum() + hn_o.sum()).backward()
    ((out_t.data * torch.tensor(v)).sum() + hn_t.sum()).backward()
    assert_close(xo.grad, xt.grad.numpy(), np.float64, "dx")
    assert_close(hxo.grad, hxt.grad.numpy(), np.float64, "dh0")
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, tparams[name].grad.numpy(), np.float64, f"d{name}")


def _cell_loop(cell, xs, h0, vs, tensor):
    """A loop of ``cell`` over xs (T, ...) from h0 (or None); the loss Σ_t ⟨v_t, h_t⟩
    backpropagated. Returns the leaves (x, h0 or None) and the states h_t."""
    x = tensor(xs)
    h = state0 = None if h0 is None else tensor(h0)
    hs = []
    for t in range(xs.shape[0]):
        h = cell(x[t], h)
        hs.append(h)
    sum((h * tensor(v, grad=False)).sum() for h, v in zip(hs, vs)).backward()
    return x, state0, hs


def _ours(a, grad=True):
    return ng.Tensor(a.copy(), requires_grad=grad)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch, bias, with_hx", [(3, True, True), (None, True, True),
                                                  (2, False, False)])
def test_a_20_step_cell_loop_matches_torch(dtype, batch, bias, with_hx):
    torch = pytest.importorskip("torch")
    torch.manual_seed(batch or 0)
    theirs = torch.nn.GRUCell(I, H, bias=bias).to(torch.float64 if dtype == np.float64
                                                  else torch.float32)
    ours = ng.nn.GRUCell(I, H, bias=bias, dtype=dtype)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(7)
    lead = () if batch is None else (batch,)
    xs = rng.standard_normal((20, *lead, I)).astype(dtype)
    h0 = rng.standard_normal((*lead, H)).astype(dtype) if with_hx else None
    vs = rng.standard_normal((20, *lead, H)).astype(dtype)

    def torch_tensor(a, grad=True):
        return torch.tensor(a, requires_grad=grad)
    x, h, hs = _cell_loop(ours, xs, h0, vs, _ours)
    xt, ht, hts = _cell_loop(theirs, xs, h0, vs, torch_tensor)
    for t, (a, b) in enumerate(zip(hs, hts)):
        assert a.dtype == dtype and a.shape == tuple(b.shape)
        assert_close(a.data, b.detach().numpy(), dtype, f"h_{t + 1}")
    assert_close(x.grad, xt.grad.numpy(), dtype, "dx")
    if with_hx:
        assert_close(h.grad, ht.grad.numpy(), dtype, "dh0")
    tparams = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(tparams)
    for name, p in ours.named_parameters():
        assert p.grad.dtype == dtype
        assert_close(p.grad, tparams[name].grad.numpy(), dtype, f"d{name}")


@pytest.mark.torch
def test_signatures_names_shapes_init_and_repr_as_torch():
    torch = pytest.importorskip("torch")

    def params(f):
        return [(p.name, p.default) for p in inspect.signature(f).parameters.values()]
    assert params(ng.nn.GRUCell) == params(torch.nn.GRUCell)
    assert params(ng.nn.GRUCell.forward) == params(torch.nn.GRUCell.forward)
    assert params(ng.nn.GRU.forward) == params(torch.nn.GRU.forward) + [("lengths", None)]
    # torch's GRU.__init__ is (*args, **kwargs); its documented arguments, in order
    assert params(ng.nn.GRU) == [
        ("input_size", inspect.Parameter.empty), ("hidden_size", inspect.Parameter.empty),
        ("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0.0),
        ("bidirectional", False), ("device", None), ("dtype", None)]
    for make_t, make_o in ((lambda: torch.nn.GRU(3, 16, num_layers=2, bidirectional=True),
                            lambda: ng.nn.GRU(3, 16, num_layers=2, bidirectional=True)),
                           (lambda: torch.nn.GRU(3, 16, bias=False, batch_first=True),
                            lambda: ng.nn.GRU(3, 16, bias=False, batch_first=True)),
                           (lambda: torch.nn.GRUCell(3, 16, bias=False),
                            lambda: ng.nn.GRUCell(3, 16, bias=False))):
        theirs, ours = make_t(), make_o()
        want = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
        assert {k: v.shape for k, v in ours.state_dict().items()} == want
        assert list(ours.state_dict()) == list(want), "torch's order"
        for name, v in ours.state_dict().items():
            k = 1 / math.sqrt(16)
            assert v.dtype == np.float32 and v.min() >= -k and v.max() <= k, name
            assert v.max() - v.min() > 1.5 * k, f"{name}: U(-k, k) fills its range"
        assert repr(ours) == repr(theirs)
        # ours loads into torch as it is, and computes what torch computes
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
        x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
        got, want_out = ours(x), theirs(torch.from_numpy(x))
        got, want_out = (got[0], want_out[0]) if isinstance(got, tuple) else (got, want_out)
        np.testing.assert_allclose(got.data, want_out.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.torch
def test_dropout_on_one_layer_warns_as_torch():
    torch = pytest.importorskip("torch")
    with pytest.warns(UserWarning) as theirs:
        torch.nn.GRU(3, 4, num_layers=1, dropout=0.3)
    with pytest.warns(UserWarning) as ours:
        ng.nn.GRU(3, 4, num_layers=1, dropout=0.3)
    assert str(ours[0].message) == str(theirs[0].message)
    assert ours[0].filename == __file__                 # the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ng.nn.GRU(3, 4, num_layers=2, dropout=0.3)


# -- gradients numerically, without torch -----------------------------------------------------

@pytest.mark.parametrize("kw, lengths", [
    (dict(num_layers=2, bidirectional=True), np.array([3, 0, 1])),
    (dict(bias=False, batch_first=True), None)])
def test_every_gradient_through_the_module_by_complex_step_and_central(kw, lengths):
    ng.seed(4)
    m = ng.nn.GRU(2, 2, dtype=np.float64, **kw)
    rng = np.random.default_rng(0)
    L = m.num_layers * m.num_directions
    inputs = {"x": rng.standard_normal((3, 3, 2)), "h0": rng.standard_normal((L, 3, 2)),
              **m.state_dict()}

    def f(x, h0, **weights):
        return ng.nn.functional_call(m, weights, (x, h0), {"lengths": lengths})
    blocks = gate_blocks([n for n in inputs if n.startswith(("weight", "bias"))], 2)
    rep = gradcheck(f, inputs, method="complex_step", name="GRU", blocks=blocks)
    assert rep.max_rel_error <= COMPLEX_STEP_MAX_REL, str(rep)
    rep = gradcheck(f, inputs, method="central", name="GRU", blocks=blocks)
    assert rep.max_rel_error <= CENTRAL_MAX_REL, str(rep)


@pytest.mark.parametrize("batch", [2, None])
def test_every_gradient_of_a_cell_loop_by_complex_step_and_central(batch):
    ng.seed(5)
    cell = ng.nn.GRUCell(3, 2, dtype=np.float64)
    rng = np.random.default_rng(9)
    lead = () if batch is None else (batch,)
    inputs = {"x": rng.standard_normal((4, *lead, 3)), "h0": rng.standard_normal((*lead, 2)),
              **cell.state_dict()}

    def f(x, h0, **weights):
        h, hs = h0, []
        for t in range(4):
            h = ng.nn.functional_call(cell, weights, (x[t], h))
            hs.append(h)
        return ng.stack(hs)
    rep = gradcheck(f, inputs, method="complex_step", name="GRUCell")
    assert rep.max_rel_error <= COMPLEX_STEP_MAX_REL, str(rep)
    rep = gradcheck(f, inputs, method="central", name="GRUCell")
    assert rep.max_rel_error <= CENTRAL_MAX_REL, str(rep)


NAMES = ["x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"]


def _layer_args(rng, Tn=4, Bn=2, In=3, Hn=2):
    return [rng.standard_normal(s) for s in ((Tn, Bn, In), (Bn, Hn), (3 * Hn, In),
                                             (3 * Hn, Hn), (3 * Hn,), (3 * Hn,))]


@pytest.mark.parametrize("reverse", [False, True])
def test_the_layer_op_by_complex_step_with_lengths_both_directions(reverse):
    args = _layer_args(np.random.default_rng(3))

    def f(*a):
        return gru_layer(*a, lengths=np.array([4, 2]), reverse=reverse)
    rep = gradcheck(f, args, method="complex_step", name="gru_layer", names=NAMES)
    assert rep.max_rel_error <= COMPLEX_STEP_MAX_REL, str(rep)


def test_a_wrong_bias_gradient_is_caught_and_named():
    """The GRU's trap: b_hn sits inside r ⊙ (…) (R4), so db_hh ≠ db_ih in the n block.
    Giving db_hh's n block db_ih's value (as if the biases were summed, as the LSTM's) must
    fail, naming b_hh and the block; the right gradient passes the same check."""
    rng = np.random.default_rng(6)
    args = _layer_args(rng)
    Hn = 2

    def f(*a):
        y, h_n = gru_layer(*a)
        return np.concatenate([y.numpy().ravel(), h_n.numpy().ravel()])

    def vjp(*a, wrong):
        ts, v = [ng.Tensor(w, requires_grad=True) for w in a[:-1]], a[-1]
        y, h_n = gru_layer(*ts)
        n = y.data.size
        ((y * ng.Tensor(v[:n].reshape(y.shape))).sum() +
         (h_n * ng.Tensor(v[n:].reshape(h_n.shape))).sum()).backward()
        grads = [t.grad for t in ts]
        if wrong:
            grads[5][2 * Hn:] = grads[4][2 * Hn:]
        return grads
    blocks = gate_blocks(["b_hh"], Hn)
    gradcheck(f, args, grad=lambda *a: vjp(*a, wrong=False), method="central", names=NAMES)
    with pytest.raises(GradcheckError, match=r"d\(output\)/d\(input 5 'b_hh'\) mismatch") as e:
        gradcheck(f, args, grad=lambda *a: vjp(*a, wrong=True), method="central",
                  names=NAMES, blocks=blocks)
    assert "all in block 'n'" in str(e.value), str(e.value)


# -- the cell against the layer, the graph, padding, streaming --------------------------------

@pytest.mark.parametrize("batch", [1, 3])
def test_a_cell_loop_equals_the_layer_on_the_sequence(batch):
    """Same weights and kernels: equal to rounding (the layer's weight gradients are one
    product over all T·B rows, the loop's a sum of T products made by the graph)."""
    ng.seed(3)
    cell = ng.nn.GRUCell(I, H, dtype=np.float64)
    layer = ng.nn.GRU(I, H, dtype=np.float64)
    layer.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    rng = np.random.default_rng(5)
    xs, h0 = rng.standard_normal((9, batch, I)), rng.standard_normal((batch, H))
    vs = rng.standard_normal((9, batch, H))
    x, h, hs = _cell_loop(cell, xs, h0, vs, _ours)
    x2, h2 = _ours(xs), _ours(h0[None])
    y, _ = layer(x2, h2)
    (y * ng.Tensor(vs)).sum().backward()
    assert_close(np.stack([a.data for a in hs]), y.data, np.float64, "h_1..h_T")
    assert_close(x.grad, x2.grad, np.float64, "dx")
    assert_close(h.grad, h2.grad[0], np.float64, "dh0")
    for name, p in cell.named_parameters():
        assert_close(p.grad, layer._parameters[f"{name}_l0"].grad, np.float64, f"d{name}")


def test_each_layer_and_direction_is_one_fused_node():
    """The graph holds the fused op (and the stacking around it), no products or
    activations; under no_grad nothing is recorded."""
    m = ng.nn.GRU(3, 4, num_layers=2, bidirectional=True, dtype=np.float64)
    x = ng.Tensor(np.ones((5, 2, 3)), requires_grad=True)
    y, h_n = m(x)
    names = {n for n, _ in recorded_ops(y) | recorded_ops(h_n)}
    assert "GRULayer" in names and not names & {"MatMul", "Tanh", "Sigmoid", "Mul", "Add"}, \
        names
    cell = ng.nn.GRUCell(3, 4, dtype=np.float64)
    x0 = ng.Tensor(np.ones((2, 3)), requires_grad=True)
    assert recorded_ops(cell(x0)) == {("GRUCellStep", "cpu")}
    with ng.no_grad():
        assert not m(x)[0].requires_grad and not cell(x0).requires_grad


def test_nan_padding_zero_lengths_and_reverse_without_torch():
    """A length of 0 keeps h0 and outputs zeros; NaN or inf in the padding changes nothing
    (the same bits as zero padding) and gets a zero gradient."""
    ng.seed(1)
    m = ng.nn.GRU(I, H, bidirectional=True, dtype=np.float64)
    rng = np.random.default_rng(0)
    lengths = np.array([6, 0, 3])
    x, h0 = rng.standard_normal((T, B, I)), rng.standard_normal((2, B, H))
    pad = _padding(lengths, False)
    x[pad] = 0.0
    x_nan = x.copy()
    x_nan[pad] = np.nan
    x_nan[-1, 2] = np.inf
    results = []
    for inp in (x, x_nan):
        xt = ng.Tensor(inp, requires_grad=True)
        y, h_n = m(xt, h0, lengths=lengths)
        (y.sum() + h_n.sum()).backward()
        results.append((y.data, h_n.data, xt.grad))
    for name, a, b in zip(("output", "h_n", "dx"), *results):
        np.testing.assert_array_equal(a, b, err_msg=name)
    y, h_n, dx = results[1]
    assert np.all(y[pad] == 0) and np.all(dx[pad] == 0)
    np.testing.assert_array_equal(h_n[:, 1], h0[:, 1], err_msg="length 0 keeps h0")


def test_streaming_in_chunks_equals_one_call():
    ng.seed(2)
    m = ng.nn.GRU(I, H, num_layers=2, dtype=np.float64)
    rng = np.random.default_rng(1)
    x, lengths = rng.standard_normal((7, B, I)), np.array([7, 3, 5])
    with ng.no_grad():
        whole, h_whole = m(x, lengths=lengths)
        hx, pieces = None, []
        for a, b in ((0, 2), (2, 3), (3, 7)):
            y, hx = m(x[a:b], hx, lengths=np.clip(lengths - a, 0, b - a))
            pieces.append(y.data)
    np.testing.assert_allclose(np.concatenate(pieces), whole.data, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(hx.data, h_whole.data, rtol=1e-12, atol=1e-15)


def test_packed_input_equals_the_lengths_path_bit_for_bit():
    ng.seed(6)
    m = ng.nn.GRU(I, H, num_layers=2, bidirectional=True, batch_first=True,
                  dtype=np.float64)
    x = np.random.default_rng(2).standard_normal((B, T, I))
    y, h_n = m(x, lengths=LENGTHS)
    out, h_p = m(pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False))
    padded, got_lengths = pad_packed_sequence(out, batch_first=True, total_length=T)
    np.testing.assert_array_equal(padded.data, y.data)
    np.testing.assert_array_equal(h_p.data, h_n.data)
    np.testing.assert_array_equal(got_lengths.data, LENGTHS)


def test_unbatched_input_equals_a_batch_of_one_and_dropout_runs_in_training_only():
    m = ng.nn.GRU(3, 4, num_layers=2, bidirectional=True, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((5, 3))
    y, h = m(x)
    yb, hb = m(x[:, None])
    assert y.shape == (5, 8) and h.shape == (4, 4)
    np.testing.assert_array_equal(y.data, yb.data[:, 0])
    np.testing.assert_array_equal(h.data, hb.data[:, 0])
    d = ng.nn.GRU(2, 3, num_layers=2, dropout=0.5, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((4, 2, 2))
    d.eval()
    np.testing.assert_array_equal(d(x)[0].data, d(x)[0].data)
    a = d(x)[0].data
    d.train()
    assert not np.allclose(d(x)[0].data, a)


# -- dtypes, saving, the empty batch ----------------------------------------------------------

def test_dtypes_nested_lists_and_hx_none_as_zeros():
    m = ng.nn.GRU(2, 3)
    assert m.dtype == np.float32 and m.device == "cpu"
    y, h = m([[0.5, -1.0]])                 # unbatched nested lists take the dtype
    assert y.dtype == h.dtype == np.float32 and y.shape == (1, 3) and h.shape == (1, 3)
    m64 = ng.nn.GRU(2, 3, dtype=np.float64, device="cpu")
    x = np.random.default_rng(0).standard_normal((4, 2, 2))
    for a, b in zip(m64(x), m64(x, np.zeros((1, 2, 3)))):
        np.testing.assert_array_equal(a.data, b.data, err_msg="hx=None vs zeros")
    np.testing.assert_array_equal(m64(x, np.zeros((1, 2, 3)).tolist())[1].data, m64(x)[1].data)
    cell = ng.nn.GRUCell(2, 3)
    assert cell(np.zeros(2, np.float32)).shape == (3,) and cell.dtype == np.float32


@pytest.mark.parametrize("make, x", [
    (lambda: ng.nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True,
                       dtype=np.float64), np.random.default_rng(0).standard_normal((2, 5, 3))),
    (lambda: ng.nn.GRUCell(3, 4, bias=False, dtype=np.float64),
     np.random.default_rng(0).standard_normal((2, 3)))])
def test_save_and_load_round_trip_is_bit_identical(tmp_path, make, x):
    ng.seed(0)
    m = make()
    before = m(x)
    ng.save(m, tmp_path / "m.npz")
    ng.seed(99)
    loaded = ng.load(tmp_path / "m.npz").model
    assert type(loaded) is type(m) and loaded.config() == m.config()
    assert list(loaded.state_dict()) == list(m.state_dict())
    after = loaded(x)
    for a, b in zip(*((r,) if not isinstance(r, tuple) else r for r in (after, before))):
        np.testing.assert_array_equal(a.data, b.data)


def test_an_empty_batch_gives_empty_results_and_zero_weight_gradients():
    m = ng.nn.GRU(3, 4, num_layers=2, dtype=np.float64)
    cell = ng.nn.GRUCell(3, 4, dtype=np.float64)
    x = ng.Tensor(np.zeros((5, 0, 3)), requires_grad=True)
    y, h_n = m(x)
    h = cell(x[0])
    assert y.shape == (5, 0, 4) and h_n.shape == (2, 0, 4) and h.shape == (0, 4)
    (y.sum() + h_n.sum() + h.sum()).backward()
    assert x.grad.shape == (5, 0, 3)
    for name, p in [*m.named_parameters(), *cell.named_parameters()]:
        np.testing.assert_array_equal(p.grad, np.zeros(p.shape), err_msg=name)


# -- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("make, error, match", [
    (lambda: ng.nn.GRU(0, 3), ValueError, r"GRU: input_size must be an int >= 1, got 0"),
    (lambda: ng.nn.GRU(3, 0), ValueError, r"GRU: hidden_size must be an int >= 1"),
    (lambda: ng.nn.GRU(3, 4, num_layers=0), ValueError, r"GRU: num_layers must be an int"),
    (lambda: ng.nn.GRU(3, 4, dropout=1.5), ValueError, r"GRU: dropout must be a probability"),
    (lambda: ng.nn.GRU(3, 4, dropout="0.1"), TypeError, r"GRU: dropout must be a number"),
    (lambda: ng.nn.GRU(3, 4, batch_first="no"), TypeError,
     r"GRU: batch_first must be True or False, got 'no'"),
    (lambda: ng.nn.GRU(3, 4, dtype=np.int32), TypeError, r"GRU"),
    (lambda: ng.nn.GRU(3, 4, device="cuda"), DeviceError,
     r"GRU: runs on the CPU only \(NumPy and Numba CPU kernels.*got device 'cuda'; "
     r"leave device out"),
    (lambda: ng.nn.GRUCell(3, 4, device="cuda"), DeviceError, r"GRUCell: runs on the CPU"),
    (lambda: ng.nn.GRUCell(2, 2.5), ValueError, r"GRUCell: hidden_size must be an int >= 1"),
    (lambda: ng.nn.GRUCell(2, 3, bias="no"), TypeError, r"GRUCell: bias must be True or"),
])
def test_constructor_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("args, kw, error, match", [
    ((np.zeros((5, 2, 7)),), {}, ValueError,
     r"GRU: input has 7 features \(shape \(5, 2, 7\)\), expected input_size=3"),
    ((np.zeros((5, 2, 3, 1)),), {}, ValueError, r"GRU: input must be 3-D \(T, B, I\)"),
    ((np.zeros((5, 2, 3), np.float32),), {}, TypeError,
     r"GRU: input is float32 but the module's parameters are float64"),
    ((np.zeros((5, 2, 3), np.int64),), {}, TypeError, r"GRU: input must be floating point"),
    ((np.zeros((0, 2, 3)),), {}, ValueError,
     r"GRU: input has shape \(0, 2, 3\), layout \(T, B, I\): expected at least one step"),
    ((np.zeros((5, 2, 3)), np.zeros((2, 3, 4))), {}, ValueError,
     r"GRU: hx has shape \(2, 3, 4\), expected \(num_layers·num_directions, B, H\) = "
     r"\(2, 2, 4\)"),
    ((np.zeros((5, 3)), np.zeros((2, 1, 4))), {}, ValueError,
     r"GRU: hx has shape \(2, 1, 4\), expected \(num_layers·num_directions, H\) = \(2, 4\)"),
    ((np.zeros((5, 2, 3)), np.zeros((2, 2, 4), np.float32)), {}, TypeError,
     r"GRU: hx is float32, expected float64 like the module's parameters"),
    ((np.zeros((5, 2, 3)), (np.zeros((2, 2, 4)), np.zeros((2, 2, 4)))), {}, TypeError,
     r"GRU: hx must be one array h0 .*got a tuple of 2; a GRU has no cell state"),
    ((np.zeros((5, 2, 3)), np.array([5, 3])), {}, TypeError,
     r"GRU: hx must be the initial state h0 .*got a 1-D ndarray; to give the sequences' "
     r"lengths, pass lengths=\.\.\."),
    ((np.zeros((5, 2, 3)),), {"lengths": np.array([1, 6])}, ValueError,
     r"GRU: lengths must lie in \[0, T\] = \[0, 5\], got 6"),
    ((np.zeros((5, 2, 3)),), {"lengths": np.array([-1, 2])}, ValueError, r"got -1"),
    ((np.zeros((5, 2, 3)),), {"lengths": np.array([1, 2, 3])}, ValueError,
     r"GRU: lengths has shape \(3,\), expected \(B,\) = \(2,\)"),
    ((np.zeros((5, 2, 3)),), {"lengths": np.array([1.0, 2.0])}, TypeError,
     r"GRU: lengths must be integers"),
    ((pack_padded_sequence(np.zeros((5, 2, 3)), [5, 3]),), {"lengths": [5, 3]}, TypeError,
     r"GRU: lengths given with a PackedSequence input"),
])
def test_forward_errors_name_the_argument(args, kw, error, match):
    m = ng.nn.GRU(3, 4, num_layers=2, dtype=np.float64)
    with pytest.raises(error, match=match):
        m(*args, **kw)


@pytest.mark.parametrize("args, error, match", [
    ((np.zeros((2, 5)),), ValueError,
     r"GRUCell: input has 5 features \(shape \(2, 5\)\), expected input_size=3"),
    ((np.zeros((2, 3), np.float32),), TypeError,
     r"GRUCell: input is float32 but the module's parameters are float64"),
    ((np.zeros((2, 3)), np.zeros((3, 4))), ValueError,
     r"GRUCell: hx has shape \(3, 4\), expected \(B, H\) = \(2, 4\) from input \(2, 3\)"),
    ((np.zeros(3), np.zeros((1, 4))), ValueError,
     r"GRUCell: hx must be \(H,\) for unbatched input = \(4,\), got 2-D shape"),
    ((np.zeros((2, 3)), np.zeros((2, 4), np.float32)), TypeError,
     r"GRUCell: hx is float32 but the module's parameters are float64"),
])
def test_cell_forward_errors_name_the_argument(args, error, match):
    with pytest.raises(error, match=match):
        ng.nn.GRUCell(3, 4, dtype=np.float64)(*args)


@pytest.mark.parametrize("op, shapes, match", [
    (gru_layer, ((5, 2, 3), (2, 4), (11, 3), (12, 4)), r"gru_layer: w_ih must be 2-D \(3H, I\)"),
    (gru_layer, ((5, 2, 2), (2, 4), (12, 3), (12, 4)),
     r"gru_layer: x must be 3-D \(T, B, I\) with I = 3"),
    (gru_layer, ((5, 2, 3), (3, 4), (12, 3), (12, 4)),
     r"gru_layer: h0 has shape \(3, 4\), expected \(2, 4\)"),
    (gru_layer, ((5, 2, 3), (2, 4), (12, 3), (12, 5)),
     r"gru_layer: w_hh has shape \(12, 5\), expected \(12, 4\)"),
    (gru_layer, ((5, 2, 3), (2, 4), (12, 3), (12, 4), (11,)),
     r"gru_layer: b_ih has shape \(11,\), expected \(12,\)"),
    (gru_cell, ((2, 3), (1, 4), (12, 3), (12, 4)),
     r"gru_cell: h has shape \(1, 4\), expected \(2, 4\)"),
    (gru_cell, ((3,), (3, 4), (12, 3), (12, 4)),
     r"gru_cell: h has shape \(3, 4\), expected \(4,\)"),
])
def test_op_errors_name_the_argument(op, shapes, match):
    with pytest.raises(ValueError, match=match):
        op(*(np.zeros(s) for s in shapes))


def test_the_stack_op_checks_h0():
    with pytest.raises(ValueError, match=r"gru: h0 must be \(num_layers·num_directions, B, H\)"
                                         r" = \(4, B, H\), got shape \(2, 2, 4\)"):
        gru(np.zeros((5, 2, 3)), np.zeros((2, 2, 4)), {}, num_layers=2, bidirectional=True)
