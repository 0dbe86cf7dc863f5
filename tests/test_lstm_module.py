"""nn.LSTM: gradients of the whole stack by complex-step and central differences, streaming,
unbatched input, and the errors bad input gets."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import gradcheck
from nongate_np.check import testing as nt
from nongate_np.ops.lstm import lstm
from tests.helpers import CENTRAL_MAX_REL, COMPLEX_STEP_MAX_REL


@st.composite
def stacks(draw):
    T, B, I, H = draw(nt.lstm_sizes(max_T=4, max_B=3, max_I=3, max_H=3))
    L, bi = draw(st.integers(1, 2)), draw(st.booleans())
    proj = draw(st.integers(0, H - 1))
    ng.seed(draw(st.integers(0, 1000)))
    module = ng.nn.LSTM(I, H, num_layers=L, bidirectional=bi, proj_size=proj,
                        dtype=np.float64)
    D, P = 1 + bi, proj or H
    arrays = {k: v for k, v in module.state_dict().items()}
    arrays["x"] = draw(nt.arrays((T, B, I)))
    arrays["h0"] = draw(nt.arrays((L * D, B, P)))
    arrays["c0"] = draw(nt.arrays((L * D, B, H)))
    lengths = draw(st.none() | st.lists(st.integers(0, T), min_size=B, max_size=B)
                   .map(np.array))
    return arrays, dict(num_layers=L, bidirectional=bi, lengths=lengths)


@given(case=stacks())
def test_every_gradient_of_the_stack_by_complex_step_and_central(case):
    arrays, kw = case

    def f(x, h0, c0, **weights):
        return lstm(x, h0, c0, weights, **kw)
    rep = gradcheck(f, arrays, method="complex_step", name="lstm")
    assert rep.max_rel_error <= COMPLEX_STEP_MAX_REL, str(rep)
    rep = gradcheck(f, arrays, method="central", name="lstm")
    assert rep.max_rel_error <= CENTRAL_MAX_REL, str(rep)


@given(T=st.integers(2, 8), data=st.data(), proj=st.booleans(), layers=st.integers(1, 2))
def test_streaming_in_chunks_equals_one_call(T, data, proj, layers):
    ng.seed(data.draw(st.integers(0, 1000)))
    m = ng.nn.LSTM(3, 4, num_layers=layers, proj_size=2 if proj else 0, dtype=np.float64)
    B = 3
    x = data.draw(nt.arrays((T, B, 3)))
    lengths = np.array(data.draw(st.lists(st.integers(0, T), min_size=B, max_size=B)))
    with ng.no_grad():
        whole, (h_whole, c_whole) = m(x, lengths=lengths)
        cuts = sorted(set(data.draw(st.lists(st.integers(1, T - 1), max_size=3))))
        for bounds in (list(zip([0] + cuts, cuts + [T])), [(t, t + 1) for t in range(T)]):
            hx, pieces = None, []
            for a, b in bounds:
                chunk_lengths = np.clip(lengths - a, 0, b - a)
                y, hx = m(x[a:b], hx, lengths=chunk_lengths)
                pieces.append(y.data)
            np.testing.assert_allclose(np.concatenate(pieces), whole.data, rtol=1e-12,
                                       atol=1e-15, err_msg=f"chunks {bounds}")
            np.testing.assert_allclose(hx[0].data, h_whole.data, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(hx[1].data, c_whole.data, rtol=1e-12, atol=1e-15)


def test_unbatched_input_equals_a_batch_of_one():
    m = ng.nn.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((5, 3))
    y, (h, c) = m(x)
    yb, (hb, cb) = m(x[:, None])
    assert y.shape == (5, 8) and h.shape == (4, 4)
    np.testing.assert_array_equal(y.data, yb.data[:, 0])
    np.testing.assert_array_equal(h.data, hb.data[:, 0])


def test_parameter_names_and_initialisation():
    m = ng.nn.LSTM(3, 16, num_layers=2, bidirectional=True, proj_size=4)
    names = [n for n, _ in m.named_parameters()]
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                         "weight_hr_l0"]
    assert "weight_ih_l1_reverse" in names and len(names) == 20
    assert m.weight_ih_l1.shape == (64, 8) and m.weight_hh_l0.shape == (64, 4)
    for n, p in m.named_parameters():
        assert np.abs(p.data).max() <= 0.25, n      # U(-1/sqrt(16), 1/sqrt(16))
        assert p.dtype == np.float32


def test_dropout_between_layers_only_in_training():
    m = ng.nn.LSTM(2, 3, num_layers=2, dropout=0.5, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((4, 2, 2))
    m.eval()
    a, b = m(x)[0].data, m(x)[0].data
    np.testing.assert_array_equal(a, b)
    m.train()
    assert not np.allclose(m(x)[0].data, a)


@pytest.fixture
def lstm64():
    return ng.nn.LSTM(3, 4, num_layers=2, dtype=np.float64)


def test_bad_input_errors_name_the_argument(lstm64):
    x = np.zeros((5, 2, 3))
    cases = [
        (np.zeros((5, 2, 7)), {}, ValueError, r"input has 7 features.*input_size=3"),
        (np.zeros((5, 2, 3, 1)), {}, ValueError, r"3-D \(T, B, I\).*\(5, 2, 3, 1\)"),
        (np.zeros((5, 2, 3), np.int64), {}, TypeError, "floating point.*int64"),
        (np.zeros((5, 2, 3), np.float32), {}, TypeError, "float32 but .* float64"),
        (np.zeros((0, 2, 3)), {}, ValueError,
         r"shape \(0, 2, 3\), layout \(T, B, I\).*at least one step"),
        (np.zeros((0, 3)), {}, ValueError, r"shape \(0, 3\), layout \(T, I\)"),
        (x, {"lengths": np.array([1, 6])}, ValueError, r"\[0, T\] = \[0, 5\], got 6"),
        (x, {"lengths": np.array([-1, 2])}, ValueError, r"got -1"),
        (x, {"lengths": np.array([1, 2, 3])}, ValueError, r"shape \(3,\), expected \(B,\)"),
        (x, {"lengths": np.array([1.0, 2.0])}, TypeError, "integers"),
        (x, {"hx": (np.zeros((2, 3, 4)), np.zeros((2, 2, 4)))}, ValueError,
         r"h0 has shape \(2, 3, 4\), expected .* = \(2, 2, 4\)"),
        (x, {"hx": (np.zeros((2, 2, 4)), np.zeros((1, 2, 4)))}, ValueError,
         r"c0 has shape \(1, 2, 4\)"),
        (x, {"hx": np.zeros((2, 2, 4))}, TypeError, r"tuple \(h0, c0\)"),
    ]
    for inp, kw, err, msg in cases:
        with pytest.raises(err, match=msg):
            lstm64(inp, **kw)


def test_one_layer_op_is_one_node_and_checks_the_states():
    m = ng.nn.LSTM(3, 4, dtype=np.float64)
    weights = dict(m.named_parameters())
    x = ng.Tensor(np.ones((5, 2, 3)), requires_grad=True)
    h0, c0 = (ng.Tensor(np.full((1, 2, 4), 0.5), requires_grad=True) for _ in range(2))
    y, h_n, c_n = lstm(x, h0, c0, weights, num_layers=1, bidirectional=False)
    assert h_n.shape == (1, 2, 4) and c_n.shape == (1, 2, 4)
    # no stack or index node: every output and both states' gradients meet at the layer
    assert y._node is h_n._node is c_n._node and y._node.name == "LSTMLayer"
    assert y._node.inputs[1] is h0 and y._node.inputs[2] is c0
    bad = (np.zeros((2, 2, 4)), np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match=r"h0 and c0 must be \(1, B, ·\).*\(2, 2, 4\)"):
        lstm(x, *bad, weights, num_layers=1, bidirectional=False)
    with pytest.raises(ValueError, match=r"c0 has shape \(2, 5\), expected \(2, 4\)"):
        lstm(x, h0, np.zeros((1, 2, 5)), weights, num_layers=1, bidirectional=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layers", [1, 2])
def test_states_as_nested_lists_take_the_parameters_dtype(dtype, layers):
    """hx given as nested lists, as the input may be: the parameters' dtype, the results of
    the same states as arrays (float32 refused the lists as 'float64'; float64 passed them
    on to the op, an AttributeError 'list' object has no attribute 'shape')."""
    m = ng.nn.LSTM(3, 4, num_layers=layers, dtype=dtype)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 2, 3)).astype(dtype)
    hx = tuple(rng.standard_normal((layers, 2, 4)).astype(dtype) for _ in range(2))
    for inp, states in ((x, hx), (x[:, 0], tuple(s[:, 0] for s in hx))):   # unbatched too
        want = m(inp, states)
        got = m(inp.tolist(), tuple(s.tolist() for s in states))
        for name, g, w in zip(("output", "h_n", "c_n"), (got[0], *got[1]), (want[0], *want[1])):
            assert g.dtype == dtype, name
            np.testing.assert_array_equal(g.data, w.data, err_msg=name)


@pytest.mark.torch
def test_dropout_on_one_layer_warns_as_torch():
    """Dropout runs between layers only, so with one layer it does nothing: torch warns at
    construction, and a porter's ``LSTM(..., num_layers=1, dropout=0.3)`` warns here too,
    with torch's words; two layers, or no dropout, do not warn."""
    torch = pytest.importorskip("torch")
    for dropout in (0.3, 1.0):
        with pytest.warns(UserWarning) as theirs:
            torch.nn.LSTM(3, 4, num_layers=1, dropout=dropout)
        with pytest.warns(UserWarning) as ours:
            ng.nn.LSTM(3, 4, num_layers=1, dropout=dropout)
        assert str(ours[0].message) == str(theirs[0].message)
        assert ours[0].filename == __file__                 # the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ng.nn.LSTM(3, 4, num_layers=2, dropout=0.3)
        ng.nn.LSTM(3, 4, num_layers=1, dropout=0.0)


def test_constructor_errors():
    with pytest.raises(ValueError, match="proj_size must be smaller than hidden_size"):
        ng.nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="dropout"):
        ng.nn.LSTM(3, 4, dropout=1.5)
    with pytest.raises(TypeError, match="dropout must be a number in \\[0, 1\\], got '0.1'"):
        ng.nn.LSTM(3, 4, dropout="0.1")
    with pytest.raises(TypeError, match="batch_first must be True or False, got 'no'"):
        ng.nn.LSTM(3, 4, batch_first="no")
    with pytest.raises(ValueError, match="hidden_size"):
        ng.nn.LSTM(3, 0)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("B", [4, 1])
def test_inference_without_a_graph_gives_the_graph_paths_bits(backend, dtype, B):
    """Under no_grad the layers' kernels run on the arrays directly (ops.lstm's path
    without autograd nodes, a bidirectional layer's two directions at once): the same
    outputs, bit for bit, as with a graph, and no graph."""
    m = ng.nn.LSTM(5, 7, num_layers=2, bidirectional=True, proj_size=3, dtype=dtype)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, B, 5)).astype(dtype)
    hx = tuple(rng.standard_normal((4, B, n)).astype(dtype) for n in (3, 7))
    lengths = np.array([6, 2, 0, 5])[:B]
    with ng.backend(backend):
        graph = m(ng.Tensor(x, requires_grad=True), hx, lengths=lengths)
        with ng.no_grad():
            plain = m(x, hx, lengths=lengths)
    for got, want in zip((plain[0], *plain[1]), (graph[0], *graph[1])):
        np.testing.assert_array_equal(got.data, want.data)
        assert not got.requires_grad and want.requires_grad
