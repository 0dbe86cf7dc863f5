"""nn.LSTMCell: a loop of steps against torch.nn.LSTMCell (outputs and every gradient,
float64 and float32, batched and unbatched, with and without biases, both CPU backends),
against nn.LSTM on the whole sequence, by complex-step and central differences through
the module; its state_dict, saving, the empty batch and the errors bad input gets.
(The GPU: tests/cuda/test_cuda_lstm_cell.py.)"""

import inspect
import math

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.autograd import recorded_ops
from nongate_np.check import GradcheckError, gradcheck, lstm_gate_blocks
from nongate_np.ops.lstm import lstm_cell
from tests.helpers import CENTRAL_MAX_REL, COMPLEX_STEP_MAX_REL

NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
# rtol, and an absolute floor relative to the largest reference value (normwise): float64
# to 1e-12; float32 to its rounding (measured: 3e-7 of the largest value over the 20
# steps, each side rounding its products and activations its own way)
TOL = {np.float64: (1e-12, 1e-13), np.float32: (1e-5, 1e-6)}


def assert_close(got, want, dtype, what):
    rtol, floor = TOL[dtype]
    scale = float(np.max(np.abs(want))) if np.size(want) else 0.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=floor * scale, err_msg=what)


def run_loop(cell, xs, hx, vs, wc, tensor):
    """Steps of ``cell`` over xs (T, ...) from hx; the loss Σ_t ⟨v_t, h_t⟩ + ⟨wc, c_T⟩
    backpropagated. ``tensor`` makes a leaf that requires grad (ours or torch's). Returns
    the leaves (x, h0, c0), the outputs h_t stacked and c_T."""
    x = tensor(xs)
    leaves = [x] + ([tensor(a) for a in hx] if hx is not None else [])
    state = tuple(leaves[1:]) or None
    hs = []
    for t in range(xs.shape[0]):
        state = cell(x[t], state)
        hs.append(state[0])
    loss = sum((h * tensor(v, grad=False)).sum() for h, v in zip(hs, vs)) + \
        (state[1] * tensor(wc, grad=False)).sum()
    loss.backward()
    return leaves, hs, state[1]


def case(seed, T, B, I, H, dtype, with_hx):
    """Inputs (T, B, I) or unbatched (T, I) for B None, a state or None, and cotangents."""
    rng = np.random.default_rng(seed)
    lead = () if B is None else (B,)
    xs = rng.standard_normal((T, *lead, I)).astype(dtype)
    hx = tuple(rng.standard_normal((*lead, H)).astype(dtype) for _ in range(2)) \
        if with_hx else None
    vs = rng.standard_normal((T, *lead, H)).astype(dtype)
    return xs, hx, vs, rng.standard_normal((*lead, H)).astype(dtype)


def ours_tensor(a, grad=True):
    return ng.Tensor(a.copy(), requires_grad=grad)


# -- against torch ----------------------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("B, bias, with_hx", [(3, True, True), (None, True, True),
                                              (2, False, False), (1, True, False),
                                              (None, False, False)])
def test_a_20_step_loop_matches_torch_outputs_and_every_gradient(backend, dtype, B, bias,
                                                                with_hx):
    torch = pytest.importorskip("torch")
    I, H, T = 4, 5, 20
    torch.manual_seed(B or 0)
    theirs = torch.nn.LSTMCell(I, H, bias=bias).to(torch.float64 if dtype == np.float64
                                                     else torch.float32)
    ours = ng.nn.LSTMCell(I, H, bias=bias, dtype=dtype)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    xs, hx, vs, wc = case(7, T, B, I, H, dtype, with_hx)

    def torch_tensor(a, grad=True):
        return torch.tensor(a, requires_grad=grad)
    with ng.backend(backend):
        leaves, hs, c_T = run_loop(ours, xs, hx, vs, wc, ours_tensor)
    t_leaves, t_hs, t_c = run_loop(theirs, xs, hx, vs, wc, torch_tensor)

    for t, (h, th) in enumerate(zip(hs, t_hs)):
        assert h.dtype == dtype and h.shape == tuple(th.shape)
        assert_close(h.data, th.detach().numpy(), dtype, f"h_{t + 1}")
    assert_close(c_T.data, t_c.detach().numpy(), dtype, f"c_{T}")
    for name, a, b in zip(("x", "h0", "c0"), leaves, t_leaves):
        assert a.grad.dtype == dtype
        assert_close(a.grad, b.grad.numpy(), dtype, f"d{name}")
    tparams = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(tparams)
    for name, p in ours.named_parameters():
        assert p.grad.dtype == dtype
        assert_close(p.grad, tparams[name].grad.numpy(), dtype, f"d{name}")


@pytest.mark.torch
def test_the_constructor_takes_torchs_arguments():
    torch = pytest.importorskip("torch")

    def params(cls):
        return [(p.name, p.default, p.kind) for p in inspect.signature(cls).parameters.values()]
    assert params(ng.nn.LSTMCell) == params(torch.nn.LSTMCell)
    assert params(ng.nn.LSTMCell.forward) == params(torch.nn.LSTMCell.forward)


@pytest.mark.torch
@pytest.mark.parametrize("bias", [True, False])
def test_state_dict_names_shapes_and_init_as_torch(bias):
    torch = pytest.importorskip("torch")
    I, H = 3, 50
    theirs = torch.nn.LSTMCell(I, H, bias=bias)
    ng.seed(0)
    ours = ng.nn.LSTMCell(I, H, bias=bias)
    want = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == want
    assert list(ours.state_dict()) == list(want), "torch's order"
    k = 1 / math.sqrt(H)
    for name, v in ours.state_dict().items():
        assert v.dtype == np.float32 and v.min() >= -k and v.max() <= k, name
        assert v.max() - v.min() > 1.5 * k, f"{name}: U(-k, k) fills its range"
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, I)).astype(np.float32)
    h, c = ours(x)
    th, tc = theirs(torch.from_numpy(x))
    np.testing.assert_allclose(h.data, th.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c.data, tc.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert repr(ours) == repr(theirs)


# -- against nn.LSTM on the sequence ----------------------------------------------------------

@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("B", [1, 3])
def test_a_loop_of_steps_equals_lstm_on_the_sequence(backend, dtype, B):
    """Same weights (weight_ih <-> weight_ih_l0, ...), the same kernels: equal to rounding,
    not promised bit for bit. Each step's products have B rows where the sequence's input
    product has T·B (at B = 1 a vector-matrix product, summed in another order), and each
    weight's gradient is the sum of T per-step products accumulated by the graph, where
    nn.LSTM forms it as one product over all T·B rows (docs/math.md L13)."""
    I, H, T = 4, 6, 9
    ng.seed(3)
    cell = ng.nn.LSTMCell(I, H, dtype=dtype)
    lstm = ng.nn.LSTM(I, H, dtype=dtype)
    lstm.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    xs, hx, vs, wc = case(5, T, B, I, H, dtype, True)
    with ng.backend(backend):
        (x, h0, c0), hs, c_T = run_loop(cell, xs, hx, vs, wc, ours_tensor)
        x2, h2, c2 = (ours_tensor(a) for a in (xs, hx[0][None], hx[1][None]))
        y, (_, c_n) = lstm(x2, (h2, c2))
        ((y * ng.Tensor(vs)).sum() + (c_n[0] * ng.Tensor(wc)).sum()).backward()
    assert_close(np.stack([h.data for h in hs]), y.data, dtype, "outputs h_1..h_T")
    assert_close(c_T.data, c_n.data[0], dtype, "c_T")
    for name, a, b in (("x", x.grad, x2.grad), ("h0", h0.grad, h2.grad[0]),
                       ("c0", c0.grad, c2.grad[0])):
        assert_close(a, b, dtype, f"d{name}")
    for name in NAMES:
        assert_close(cell._parameters[name].grad, lstm._parameters[f"{name}_l0"].grad, dtype,
                     f"d{name}")


def test_each_step_is_one_fused_node():
    """The step records the fused op (the LSTM's kernels and hand-derived backward), not a
    graph of products and activations."""
    ng.seed(0)
    cell = ng.nn.LSTMCell(3, 4, dtype=np.float64)
    x = ng.Tensor(np.ones((2, 3)), requires_grad=True)
    h, c = cell(x)
    assert recorded_ops(h) == recorded_ops(c) == {("LSTMCellStep", "cpu")}
    assert h.requires_grad and c.requires_grad
    with ng.no_grad():
        h, c = cell(x)
    assert not h.requires_grad and not c.requires_grad and recorded_ops(h) == set()


def test_hx_none_is_zeros_and_unbatched_is_a_batch_of_one():
    ng.seed(1)
    cell = ng.nn.LSTMCell(3, 4, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((2, 3))
    zeros = np.zeros((2, 4))
    for a, b in zip(cell(x), cell(x, (zeros, zeros))):
        np.testing.assert_array_equal(a.data, b.data, err_msg="hx=None vs zeros")
    h, c = cell(x[1])
    assert h.shape == c.shape == (4,)
    for a, b in zip((h, c), cell(x[1:])):
        np.testing.assert_array_equal(a.data, b.data[0], err_msg="unbatched vs B = 1")


# -- gradients numerically --------------------------------------------------------------------

@pytest.mark.parametrize("B", [2, None])
def test_every_gradient_of_a_loop_by_complex_step_and_central(B):
    """A 4-step loop through the module (functional_call), every input and parameter."""
    I, H, T = 3, 2, 4
    ng.seed(4)
    cell = ng.nn.LSTMCell(I, H, dtype=np.float64)
    xs, hx, _, _ = case(9, T, B, I, H, np.float64, True)
    inputs = {"x": xs, "h0": hx[0], "c0": hx[1], **cell.state_dict()}

    def f(x, h0, c0, **weights):
        state, hs = (h0, c0), []
        for t in range(T):
            state = ng.nn.functional_call(cell, weights, (x[t], state))
            hs.append(state[0])
        return ng.stack(hs), state[1]
    blocks = lstm_gate_blocks(list(NAMES), H)
    rep = gradcheck(f, inputs, method="complex_step", name="LSTMCell", blocks=blocks)
    assert rep.max_rel_error <= COMPLEX_STEP_MAX_REL, str(rep)
    rep = gradcheck(f, inputs, method="central", name="LSTMCell", blocks=blocks)
    assert rep.max_rel_error <= CENTRAL_MAX_REL, str(rep)


def test_the_op_by_complex_step_and_a_wrong_gradient_is_caught():
    """``ops.lstm.lstm_cell`` checked alone; the same check, given its gradient off by 1 %
    in one gate, names that input and gate (so the checks here can fail)."""
    rng = np.random.default_rng(2)
    B, I, H = 2, 3, 2
    names = ["x", "h", "c", "w_ih", "w_hh", "b_ih", "b_hh"]
    args = [rng.standard_normal(s) for s in ((B, I), (B, H), (B, H), (4 * H, I), (4 * H, H),
                                             (4 * H,), (4 * H,))]
    rep = gradcheck(lstm_cell, args, method="complex_step", name="lstm_cell", names=names)
    assert rep.max_rel_error <= COMPLEX_STEP_MAX_REL, str(rep)

    def f(*a):
        h, c = lstm_cell(*a)
        return np.concatenate([h.numpy(), c.numpy()])

    def vjp(*a, wrong):
        ts, v = [ng.Tensor(w, requires_grad=True) for w in a[:-1]], a[-1]
        h, c = lstm_cell(*ts)
        ((h * ng.Tensor(v[:B])).sum() + (c * ng.Tensor(v[B:])).sum()).backward()
        grads = [t.grad for t in ts]
        if wrong:
            grads[4][H:2 * H] *= 1.01                           # gate f of d w_hh
        return grads
    blocks = {"w_hh": lstm_gate_blocks(["weight_hh"], H)["weight_hh"]}
    gradcheck(f, args, grad=lambda *a: vjp(*a, wrong=False), method="central", names=names)
    with pytest.raises(GradcheckError, match=r"d\(output\)/d\(input 4 'w_hh'\) mismatch") as info:
        gradcheck(f, args, grad=lambda *a: vjp(*a, wrong=True), method="central",
                  names=names, blocks=blocks)
    assert "all in block 'f'" in str(info.value), str(info.value)


# -- dtypes, saving, the empty batch ----------------------------------------------------------

def test_dtype_default_float32_and_float64_as_given():
    cell = ng.nn.LSTMCell(2, 3)
    assert cell.dtype == np.float32 and cell.device == "cpu"
    h, c = cell([[0.5, -1.0]])              # nested lists take the parameters' dtype
    assert h.dtype == c.dtype == np.float32 and h.shape == (1, 3)
    cell64 = ng.nn.LSTMCell(2, 3, dtype=np.float64, device="cpu")
    assert {p.dtype for p in cell64.parameters()} == {np.dtype(np.float64)}
    assert cell.double().dtype == np.float64


def test_save_and_load_round_trip_is_bit_identical(tmp_path):
    ng.seed(0)
    cell = ng.nn.LSTMCell(3, 4, bias=False, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((2, 3))
    h, c = cell(x)
    ng.save(cell, tmp_path / "cell.npz")
    ng.seed(99)
    loaded = ng.load(tmp_path / "cell.npz").model
    assert type(loaded) is ng.nn.LSTMCell and loaded.config() == cell.config()
    assert loaded.config() == {"input_size": 3, "hidden_size": 4, "bias": False,
                               "dtype": "float64"}
    assert list(loaded.state_dict()) == ["weight_ih", "weight_hh"]
    h2, c2 = loaded(x)
    np.testing.assert_array_equal(h2.data, h.data, err_msg="h' after load")
    np.testing.assert_array_equal(c2.data, c.data, err_msg="c' after load")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_an_empty_batch_gives_empty_results_and_zero_weight_gradients(backend):
    cell = ng.nn.LSTMCell(3, 4, dtype=np.float64)
    x = ng.Tensor(np.zeros((0, 3)), requires_grad=True)
    with ng.backend(backend):
        h, c = cell(x)
        assert h.shape == c.shape == (0, 4)
        (h.sum() + c.sum()).backward()
    assert x.grad.shape == (0, 3)
    for name, p in cell.named_parameters():
        np.testing.assert_array_equal(p.grad, np.zeros(p.shape), err_msg=name)


# -- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("make, error, match", [
    (lambda: ng.nn.LSTMCell(0, 3), ValueError, r"LSTMCell: input_size must be an int >= 1"),
    (lambda: ng.nn.LSTMCell(2, 2.5), ValueError, r"LSTMCell: hidden_size must be an int >= 1"),
    (lambda: ng.nn.LSTMCell(2, 3, bias="no"), TypeError, r"LSTMCell: bias must be True or"),
    (lambda: ng.nn.LSTMCell(2, 3, dtype=np.int32), TypeError, r"LSTMCell"),
    (lambda: ng.nn.LSTMCell(2, 3, device="tpu"), ValueError, r"tpu"),
])
def test_constructor_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def _cell():
    ng.seed(0)
    return ng.nn.LSTMCell(3, 4, dtype=np.float64)


@pytest.mark.parametrize("args, error, match", [
    ((np.zeros((2, 2, 3)),), ValueError,
     r"LSTMCell: input must be 2-D \(B, I\) or 1-D \(I,\) unbatched, got 3-D shape \(2, 2, 3\)"),
    ((np.zeros((2, 5)),), ValueError,
     r"LSTMCell: input has 5 features \(shape \(2, 5\)\), expected input_size=3"),
    ((np.zeros((2, 3), np.float32),), TypeError,
     r"LSTMCell: input is float32 but the module's parameters are float64"),
    ((None,), TypeError, r"LSTMCell: input must be an array of float64 features, got None"),
    ((np.zeros((2, 3)), np.zeros((2, 4))), TypeError,
     r"LSTMCell: hx must be a tuple \(h, c\), got ndarray"),
    ((np.zeros((2, 3)), (np.zeros((2, 4)),)), TypeError, r"LSTMCell: hx must be a tuple"),
    ((np.zeros((2, 3)), (np.zeros((3, 4)), np.zeros((2, 4)))), ValueError,
     r"LSTMCell: hx\[0\] has shape \(3, 4\), expected \(B, H\) = \(2, 4\) from input \(2, 3\)"),
    ((np.zeros((2, 3)), (np.zeros((2, 4)), np.zeros((2, 5)))), ValueError,
     r"LSTMCell: hx\[1\] has 5 features \(shape \(2, 5\)\), expected hidden_size=4"),
    ((np.zeros(3), (np.zeros((1, 4)), np.zeros((1, 4)))), ValueError,
     r"LSTMCell: hx\[0\] must be \(H,\) for unbatched input = \(4,\), got 2-D shape"),
    ((np.zeros((1, 3)), (np.zeros(4), np.zeros(4))), ValueError,
     r"LSTMCell: hx\[0\] must be \(B, H\) = \(1, 4\), got 1-D shape \(4,\)"),
    ((np.zeros((2, 3)), (np.zeros((2, 4)), np.zeros((2, 4), np.float32))), TypeError,
     r"LSTMCell: hx\[1\] is float32 but the module's parameters are float64"),
    ((np.zeros((2, 3), int),), TypeError, r"LSTMCell: input must be floating point"),
])
def test_forward_errors_name_the_argument(args, error, match):
    with pytest.raises(error, match=match):
        _cell()(*args)


@pytest.mark.parametrize("shapes, match", [
    (((2, 3), (2, 4), (2, 4), (15, 3), (16, 4)), r"lstm_cell: w_ih must be 2-D \(4H, I\)"),
    (((2, 2), (2, 4), (2, 4), (16, 3), (16, 4)), r"lstm_cell: x must be \(B, I\) or unbatched"),
    (((2, 3), (1, 4), (2, 4), (16, 3), (16, 4)),
     r"lstm_cell: h has shape \(1, 4\), expected \(2, 4\)"),
    (((3,), (3, 4), (4,), (16, 3), (16, 4)), r"lstm_cell: h has shape \(3, 4\), expected \(4,\)"),
    (((2, 3), (2, 4), (2, 4), (16, 3), (16, 5)),
     r"lstm_cell: w_hh has shape \(16, 5\), expected \(16, 4\)"),
    (((2, 3), (2, 4), (2, 4), (16, 3), (16, 4), (15,)),
     r"lstm_cell: b_ih has shape \(15,\), expected \(16,\)"),
])
def test_op_errors_name_the_argument(shapes, match):
    with pytest.raises(ValueError, match=match):
        lstm_cell(*(np.zeros(s) for s in shapes))
