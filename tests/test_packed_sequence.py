"""nn.utils.rnn, torch's packed sequences: the layout (data, batch_sizes, sorted_indices,
unsorted_indices) equal to torch's, nn.LSTM on a PackedSequence equal to torch's (outputs,
h_n, c_n and every gradient, float64 and float32) and to its own ``lengths=`` path bit for
bit, the gradient through packing and padding against finite differences, and the errors."""

import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import gradcheck
from nongate_np.nn.utils import rnn
from nongate_np.nn.utils.rnn import (
    PackedSequence,
    invert_permutation,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)


def _padded(rng, lengths, T, batch_first, trailing=(2,), dtype=np.float64):
    B = len(lengths)
    return rng.standard_normal(((B, T) if batch_first else (T, B)) + trailing).astype(dtype)


# -- the layout, by hand (torch's documented examples) ------------------------------------
def test_two_sequences_pack_as_torch_documents():
    # torch's PackedSequence docstring: "abc" and "x" pack to "axbc", batch_sizes [2, 1, 1]
    abc, x = np.array([1.0, 2.0, 3.0]), np.array([9.0])
    packed = pack_sequence([abc, x])
    np.testing.assert_array_equal(packed.data.data, [1.0, 9.0, 2.0, 3.0])
    np.testing.assert_array_equal(packed.batch_sizes.data, [2, 1, 1])
    assert packed.batch_sizes.dtype == np.int64
    assert packed.sorted_indices is None and packed.unsorted_indices is None


def test_unsorted_batch_packs_and_pads_back_as_torch_documents():
    # torch's pad_packed_sequence docstring example, the values and the indices
    seq = np.array([[1, 2, 0], [3, 0, 0], [4, 5, 6]])
    packed = pack_padded_sequence(seq, [2, 1, 3], batch_first=True, enforce_sorted=False)
    np.testing.assert_array_equal(packed.data.data, [4, 1, 3, 5, 2, 6])
    np.testing.assert_array_equal(packed.batch_sizes.data, [3, 2, 1])
    np.testing.assert_array_equal(packed.sorted_indices.data, [2, 0, 1])
    np.testing.assert_array_equal(packed.unsorted_indices.data, [1, 2, 0])
    padded, lengths = pad_packed_sequence(packed, batch_first=True)
    np.testing.assert_array_equal(padded.data, seq)
    np.testing.assert_array_equal(lengths.data, [2, 1, 3])
    assert lengths.dtype == np.int64


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pad_packed_inverts_pack_padded(batch_first, enforce_sorted):
    rng = np.random.default_rng(0)
    lengths = np.array([5, 3, 3, 1]) if enforce_sorted else np.array([3, 5, 1, 3])
    x = _padded(rng, lengths, 6, batch_first, trailing=(2, 3))
    packed = pack_padded_sequence(x, lengths, batch_first, enforce_sorted)
    assert packed.data.shape == (lengths.sum(), 2, 3)
    padded, got_lengths = pad_packed_sequence(packed, batch_first, padding_value=-7.0,
                                              total_length=7)
    steps = np.arange(7)[:, None] < lengths[None, :]                    # (T, B)
    mask = (steps.T if batch_first else steps)[..., None, None]
    x7 = np.concatenate([x, np.zeros_like(x[:1] if not batch_first else x[:, :1])],
                        axis=1 if batch_first else 0)
    np.testing.assert_array_equal(padded.data, np.where(mask, x7, -7.0))
    np.testing.assert_array_equal(got_lengths.data, lengths)


@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_and_unpad_round_trip(padding_side):
    rng = np.random.default_rng(1)
    seqs = [rng.standard_normal((n, 3)) for n in (2, 0, 4)]
    padded = pad_sequence(seqs, batch_first=True, padding_value=0.5,
                          padding_side=padding_side)
    assert padded.shape == (3, 4, 3)
    for b, s in enumerate(seqs):
        row = padded.data[b]
        steps = row[:len(s)] if padding_side == "right" else row[4 - len(s):]
        pads = row[len(s):] if padding_side == "right" else row[:4 - len(s)]
        np.testing.assert_array_equal(steps, s, err_msg=f"sequence {b}")
        np.testing.assert_array_equal(pads, 0.5, err_msg=f"padding of sequence {b}")
    time_major = pad_sequence(seqs)                     # (T, B, 3), padded with 0 on the right
    want = np.zeros((4, 3, 3))
    for b, s in enumerate(seqs):
        want[:len(s), b] = s
    np.testing.assert_array_equal(time_major.data, want)
    back = unpad_sequence(time_major, [2, 0, 4])
    assert [u.shape for u in back] == [(2, 3), (0, 3), (4, 3)]
    for b, (u, s) in enumerate(zip(back, seqs)):
        np.testing.assert_array_equal(u.data, s, err_msg=f"sequence {b}")


def test_pack_and_unpack_sequence_round_trip_in_the_original_order():
    rng = np.random.default_rng(2)
    seqs = [rng.standard_normal((n, 2)) for n in (2, 4, 1, 4)]
    packed = pack_sequence(seqs, enforce_sorted=False)
    np.testing.assert_array_equal(packed.sorted_indices.data, [1, 3, 0, 2])   # stable
    back = unpack_sequence(packed)
    for b, (u, s) in enumerate(zip(back, seqs)):
        np.testing.assert_array_equal(u.data, s, err_msg=f"sequence {b}")


# -- PackedSequence itself --------------------------------------------------------------
def test_packed_sequence_is_torchs_named_tuple():
    packed = PackedSequence(np.ones((3, 2)), [2, 1], [1, 0])
    data, batch_sizes, sorted_indices, unsorted_indices = packed      # unpacks as four
    assert isinstance(data, ng.Tensor) and packed._fields == (
        "data", "batch_sizes", "sorted_indices", "unsorted_indices")
    np.testing.assert_array_equal(unsorted_indices.data, [1, 0])   # computed from sorted
    assert batch_sizes.dtype == sorted_indices.dtype == np.int64
    older = PackedSequence((np.ones((3, 2)), [2, 1]), sorted_indices=[1, 0])
    np.testing.assert_array_equal(older.batch_sizes.data, [2, 1])
    np.testing.assert_array_equal(older.unsorted_indices.data, [1, 0])
    assert repr(packed).startswith("PackedSequence(data=tensor(")
    again = pickle.loads(pickle.dumps(packed))
    np.testing.assert_array_equal(again.unsorted_indices.data, [1, 0])


def test_to_float_double_keep_the_indices_and_return_self_when_nothing_changes():
    packed = pack_sequence([np.ones(2), np.ones(1)])
    assert packed.to(np.float64) is packed and packed.double() is packed
    assert packed.to("cpu") is packed and packed.cpu() is packed
    single = packed.float()
    assert single.data.dtype == np.float32 and single.batch_sizes is packed.batch_sizes
    assert not packed.is_cuda


def test_invert_permutation():
    np.testing.assert_array_equal(invert_permutation([2, 0, 1]).data, [1, 2, 0])
    assert invert_permutation(None) is None
    with pytest.raises(ValueError, match=r"permutation of 0\.\.2, got \[0, 0, 1\]"):
        invert_permutation([0, 0, 1])


# -- gradients ------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_first", [False, True])
def test_gradient_through_pack_and_pad_matches_central_differences(batch_first):
    rng = np.random.default_rng(3)
    lengths = [2, 4, 1]
    x = _padded(rng, lengths, 4, batch_first)
    w = rng.standard_normal((4, 3, 2))        # weights every padded position differently

    def packed_then_padded(x):
        packed = pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False)
        data = packed.data * packed.data      # a nonlinearity on the packed rows
        padded, _ = pad_packed_sequence(packed._replace(data=data), batch_first,
                                        padding_value=3.0, total_length=4)
        return padded * (w.transpose(1, 0, 2) if batch_first else w)

    gradcheck(packed_then_padded, [x], method="central")


def test_gradient_through_pad_sequence_and_unpad_sequence_matches_central_differences():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal((1, 2))

    def padded_then_unpadded(a, b):
        padded = pad_sequence([a, b], padding_side="left") ** 2
        first, second = unpad_sequence(padded, [3, 2])   # b's step and one padding step
        return ng.concat([first, second]) * 1.5

    gradcheck(padded_then_unpadded, [a, b], method="central")


def test_gradient_of_pack_is_a_scatter_back_to_the_steps_read():
    rng = np.random.default_rng(5)
    x = ng.Tensor(_padded(rng, [3, 1], 3, False), requires_grad=True)
    packed = pack_padded_sequence(x, [3, 1])
    assert packed.data.requires_grad
    v = rng.standard_normal(packed.data.shape)
    (packed.data * v).sum().backward()
    want = np.zeros(x.shape)
    want[[0, 0, 1, 2], [0, 1, 0, 0]] = v          # packed rows: (t, b) = (0,0) (0,1) (1,0) (2,0)
    np.testing.assert_array_equal(x.grad, want)


# -- nn.LSTM on a PackedSequence equals its own lengths= path -----------------------------
LSTM_CASES = [dict(num_layers=1, bidirectional=False), dict(num_layers=2, bidirectional=True),
              dict(num_layers=2, bidirectional=False, proj_size=2)]


def _lstm_inputs(rng, batch_first, dtype=np.float64, lengths=(3, 5, 1, 5), T=5):
    lengths = np.array(lengths)
    x = _padded(rng, lengths, T, batch_first, trailing=(3,), dtype=dtype)
    # NaN past each end: neither path may read the padding
    steps = np.arange(T)[:, None] < lengths[None, :]
    x[~(steps.T if batch_first else steps)] = np.nan
    return x, lengths


@pytest.mark.parametrize("case", LSTM_CASES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_hx", [False, True])
def test_packed_lstm_equals_the_lengths_path_bit_for_bit(case, batch_first, with_hx):
    rng = np.random.default_rng(6)
    lstm = ng.nn.LSTM(3, 4, batch_first=batch_first, dtype=np.float64, **case)
    x, lengths = _lstm_inputs(rng, batch_first)
    L, P = lstm.num_layers * lstm.num_directions, lstm.proj_size or 4
    hx = (rng.standard_normal((L, 4, P)), rng.standard_normal((L, 4, 4))) if with_hx else None

    def run(packed: bool):
        lstm.zero_grad()
        xt = ng.Tensor(x, requires_grad=True)
        hxt = tuple(ng.Tensor(a, requires_grad=True) for a in hx) if hx else None
        if packed:
            out, (h_n, c_n) = lstm(pack_padded_sequence(xt, lengths, batch_first, False), hxt)
            assert isinstance(out, PackedSequence)
            y, _ = pad_packed_sequence(out, batch_first)
        else:
            y, (h_n, c_n) = lstm(xt, hxt, lengths=lengths)
        v = np.random.default_rng(7)
        loss = sum((t * v.standard_normal(t.shape)).sum() for t in (y, h_n, c_n))
        loss.backward()
        grads = {"dx": np.nan_to_num(xt.grad, nan=0.0)}     # the lengths path: 0 there too
        if hx:
            grads.update(dh0=hxt[0].grad, dc0=hxt[1].grad)
        grads.update({f"d{n}": p.grad.copy() for n, p in lstm.named_parameters()})
        return {"output": y.data, "h_n": h_n.data, "c_n": c_n.data, **grads}

    packed, padded = run(True), run(False)
    assert packed.keys() == padded.keys()
    for name in packed:
        np.testing.assert_array_equal(packed[name], padded[name], err_msg=name)


def test_lstm_refuses_lengths_with_a_packed_input_and_checks_hx_against_the_batch():
    lstm = ng.nn.LSTM(2, 3, dtype=np.float64)
    packed = pack_sequence([np.ones((3, 2)), np.ones((2, 2))])
    with pytest.raises(TypeError, match="PackedSequence input, which holds its lengths"):
        lstm(packed, lengths=[3, 2])
    with pytest.raises(ValueError, match=r"hx h0 has shape \(1, 3, 3\), expected .* = "
                                         r"\(1, 2, 3\)"):
        lstm(packed, (np.zeros((1, 3, 3)), np.zeros((1, 3, 3))))
    with pytest.raises(ValueError, match=r"input.data has 1 features .* expected "
                                         r"input_size=2"):
        ng.nn.LSTM(2, 3, dtype=np.float64)(pack_sequence([np.ones((3, 1))]))
    with pytest.raises(TypeError, match="input.data is float32 but the module's parameters "
                                        "are float64"):
        lstm(pack_sequence([np.ones((3, 2), np.float32)]))


# -- errors ---------------------------------------------------------------------------------
X = np.zeros((4, 3, 2))           # T = 4, B = 3


@pytest.mark.parametrize("call, error, message", [
    (lambda: pack_padded_sequence(X, [1, 3, 2]), ValueError,
     r"sorted in decreasing order when enforce_sorted=True, got \[1, 3, 2\]; pass "
     r"enforce_sorted=False"),
    (lambda: pack_padded_sequence(X, [3, 0, 2], enforce_sorted=False), ValueError,
     r"every length must be at least 1 .*; got lengths\[1\] = 0"),
    (lambda: pack_padded_sequence(X, [5, 3, 2]), ValueError,
     r"every length must be at most T = 4, the input's steps \(\(T, B, \*\) \(4, 3, 2\); "
     r"is batch_first=False right\?\); got lengths\[0\] = 5"),
    (lambda: pack_padded_sequence(X, [3, 2]), ValueError,
     r"expected len\(lengths\) equal to the batch size B = 3 of input \(4, 3, 2\) "
     r"\(T, B, \*\), got 2 lengths"),
    (lambda: pack_padded_sequence(X, [3.0, 2.0, 1.0]), TypeError,
     "lengths must be integers .*, got dtype float64"),
    (lambda: pack_padded_sequence(X, [[3, 2, 1]]), ValueError,
     r"lengths must be 1-D, got shape \(1, 3\)"),
    (lambda: pack_padded_sequence(np.zeros(3), [3]), ValueError,
     r"input must be \(T, B, \*\) padded sequences \(batch_first=False\), got shape \(3,\)"),
    (lambda: pack_padded_sequence(np.zeros((4, 0, 2)), []), ValueError,
     r"cannot pack an empty batch: input has shape \(4, 0, 2\)"),
    (lambda: pad_packed_sequence(pack_padded_sequence(X, [3, 2, 1]), total_length=2),
     ValueError, "expected total_length to be at least the length of the longest sequence "
     "in input, but got total_length=2 and max sequence length being 3"),
    (lambda: pad_packed_sequence(pack_padded_sequence(X, [3, 2, 1]), total_length=3.0),
     TypeError, "total_length must be an int or None, got 3.0"),
    (lambda: pad_packed_sequence(pack_padded_sequence(X.astype(np.int64), [3, 2, 1]),
                                 padding_value=np.nan), ValueError,
     "padding_value nan cannot be stored in the data's dtype int64"),
    (lambda: pad_packed_sequence(X), TypeError,
     "expected a PackedSequence .*, got ndarray"),
    (lambda: pad_packed_sequence(PackedSequence(np.zeros((4, 2)), [2, 3])), ValueError,
     r"batch_sizes must be positive and non-increasing.*got \[2, 3\]"),
    (lambda: pad_packed_sequence(PackedSequence(np.zeros((4, 2)), [2, 1])), ValueError,
     r"data has shape \(4, 2\), expected sum\(batch_sizes\) = 3 rows"),
    (lambda: pad_packed_sequence(PackedSequence(np.zeros((3, 2)), [2, 1], [0, 1], [0, 2])),
     ValueError, r"unsorted_indices must be a permutation of the 2 sequences \(batch_sizes"
                 r"\[0\] = 2\), got \[0, 2\]"),
    (lambda: pad_packed_sequence(PackedSequence(np.zeros((3, 2)), [2, 1], [1, 0], [0, 1])),
     ValueError, r"unsorted_indices \[0, 1\] must be the inverse of sorted_indices \[1, 0\]"),
    (lambda: PackedSequence(np.zeros((3, 2)), [2, 1], [0, 2]), ValueError,
     r"invert_permutation: expected a permutation of 0\.\.1, got \[0, 2\]"),
    (lambda: pad_sequence([]), ValueError, "received an empty list of sequences"),
    (lambda: pad_sequence([np.zeros((2, 2)), np.zeros((3, 3))]), ValueError,
     r"sequence 1 has shape \(3, 3\), sequence 0 \(2, 2\)"),
    (lambda: pad_sequence([np.zeros(2, np.float32), np.zeros(3)]), TypeError,
     "sequence 1 is float64, sequence 0 float32"),
    (lambda: pad_sequence([np.zeros(2)], padding_side="up"), ValueError,
     "expected padding_side to be one of 'left' or 'right', got 'up'"),
    (lambda: pad_sequence([np.zeros(2)], padding_value="0"), TypeError,
     "padding_value must be a real number"),
    (lambda: pack_sequence([np.zeros((2, 1)), np.zeros((0, 1))]), ValueError,
     r"at least 1 .*; got lengths\[1\] = 0"),
    (lambda: unpad_sequence(X, [4, 5, 1]), ValueError,
     r"lengths must lie in \[0, T\] = \[0, 4\], got lengths\[1\] = 5"),
    (lambda: pack_padded_sequence(X, [3, 2, 1], batch_first=1), TypeError,
     "batch_first must be True or False, got 1"),
])
def test_errors_name_what_was_expected_and_what_was_given(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- against torch --------------------------------------------------------------------------
@st.composite
def batches(draw, max_B=8):
    # B <= 16: torch's CPU sort keeps equal lengths in their order there (a stable sort,
    # which is what this library does for any B)
    B = draw(st.integers(1, max_B))
    T = draw(st.integers(1, 6))
    lengths = draw(st.lists(st.integers(1, T), min_size=B, max_size=B))
    enforce_sorted = draw(st.booleans())
    if enforce_sorted:
        lengths = sorted(lengths, reverse=True)
    return dict(lengths=np.array(lengths), T=T + draw(st.integers(0, 2)),
                batch_first=draw(st.booleans()), enforce_sorted=enforce_sorted,
                trailing=draw(st.sampled_from([(), (1,), (2, 3)])),
                seed=draw(st.integers(0, 2**31)))


@pytest.mark.torch
@given(cfg=batches())
def test_layout_equals_torchs(cfg):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(cfg["seed"])
    x = _padded(rng, cfg["lengths"], cfg["T"], cfg["batch_first"], cfg["trailing"])
    args = (cfg["batch_first"], cfg["enforce_sorted"])
    ours = pack_padded_sequence(x, cfg["lengths"], *args)
    theirs = torch.nn.utils.rnn.pack_padded_sequence(
        torch.tensor(x), torch.tensor(cfg["lengths"]), *args)
    for name in PackedSequence._fields:
        a, b = getattr(ours, name), getattr(theirs, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert a.dtype == b.numpy().dtype, name
            np.testing.assert_array_equal(a.data, b.numpy(), err_msg=name)
    total = cfg["T"] + 1
    got, got_lengths = pad_packed_sequence(ours, cfg["batch_first"], -1.0, total)
    want, want_lengths = torch.nn.utils.rnn.pad_packed_sequence(
        theirs, cfg["batch_first"], -1.0, total)
    np.testing.assert_array_equal(got.data, want.numpy(), err_msg="padded")
    np.testing.assert_array_equal(got_lengths.data, want_lengths.numpy(), err_msg="lengths")
    seqs = [rng.standard_normal((n,) + cfg["trailing"]) for n in cfg["lengths"]]
    for side in ("left", "right"):
        np.testing.assert_array_equal(
            pad_sequence(seqs, cfg["batch_first"], 0.5, side).data,
            torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs],
                                            cfg["batch_first"], 0.5, side).numpy(),
            err_msg=f"pad_sequence, padding_side={side}")


def _torch_pair(torch, case, batch_first, dtype):
    theirs = torch.nn.LSTM(3, 4, batch_first=batch_first, **case).to(
        torch.float64 if dtype == np.float64 else torch.float32)
    ours = ng.nn.LSTM(3, 4, batch_first=batch_first, dtype=dtype, **case)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.torch
@pytest.mark.parametrize("dtype, rtol, atol", [(np.float64, 1e-12, 1e-14),
                                               (np.float32, 2e-5, 2e-6)])
@pytest.mark.parametrize("case", LSTM_CASES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pack_lstm_pad_equals_torch_with_every_gradient(dtype, rtol, atol, case, batch_first,
                                                        enforce_sorted):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    ours, theirs = _torch_pair(torch, case, batch_first, dtype)
    x, lengths = _lstm_inputs(rng, batch_first, dtype,
                              (5, 5, 3, 1) if enforce_sorted else (3, 5, 1, 5), T=6)
    x = np.nan_to_num(x)                  # torch's pack reads no padding either; 0 there
    L, P = ours.num_layers * ours.num_directions, ours.proj_size or 4
    hx = (rng.standard_normal((L, 4, P)).astype(dtype),
          rng.standard_normal((L, 4, 4)).astype(dtype))

    xo, xt = ng.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    hxo = tuple(ng.Tensor(a, requires_grad=True) for a in hx)
    hxt = tuple(torch.tensor(a, requires_grad=True) for a in hx)
    out_o, (hn_o, cn_o) = ours(pack_padded_sequence(xo, lengths, batch_first, enforce_sorted),
                               hxo)
    out_t, (hn_t, cn_t) = theirs(torch.nn.utils.rnn.pack_padded_sequence(
        xt, torch.tensor(lengths), batch_first, enforce_sorted), hxt)
    y_o, _ = pad_packed_sequence(out_o, batch_first, total_length=6)
    y_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_t, batch_first, total_length=6)

    def close(a, b, name):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=name)

    close(out_o.data.data, out_t.data.detach().numpy(), "packed output data")
    np.testing.assert_array_equal(out_o.batch_sizes.data, out_t.batch_sizes.numpy())
    for name, a, b in (("output", y_o, y_t), ("h_n", hn_o, hn_t), ("c_n", cn_o, cn_t)):
        assert a.dtype == dtype, name
        close(a.data, b.detach().numpy(), name)
    vs = [rng.standard_normal(a.shape).astype(dtype) for a in (y_o, hn_o, cn_o)]
    sum((o * v).sum() for o, v in zip((y_o, hn_o, cn_o), vs)).backward()
    sum((t * torch.tensor(v)).sum() for t, v in zip((y_t, hn_t, cn_t), vs)).backward()
    close(xo.grad, xt.grad.numpy(), "dx")
    close(hxo[0].grad, hxt[0].grad.numpy(), "dh0")
    close(hxo[1].grad, hxt[1].grad.numpy(), "dc0")
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, tparams[name].grad.numpy(), f"d{name}")


@pytest.mark.torch
def test_module_exports_torchs_names():
    torch = pytest.importorskip("torch")
    assert sorted(rnn.__all__) == sorted(torch.nn.utils.rnn.__all__)


@pytest.mark.parametrize("call", [
    lambda p: ng.nn.Linear(4, 3)(p), lambda p: ng.nn.LSTMCell(4, 3)(p), lambda p: ng.tensor(p),
    lambda p: ng.relu(p), lambda p: ng.nn.GRUCell(4, 3)(p)])
def test_a_packed_sequence_where_a_tensor_goes_says_what_to_use(call):
    """Read as an array, a PackedSequence was a ragged list of its fields, and the error
    said to pad sequences: it names the PackedSequence and the two ways on instead."""
    x = ng.tensor(np.ones((2, 5, 4), np.float32))
    packed = pack_padded_sequence(x, [5, 3], batch_first=True)
    with pytest.raises(TypeError, match=r"got a PackedSequence; only nn.LSTM and nn.GRU take "
                                        r"one\. Use its \.data .*pad_packed_sequence"):
        call(packed)


@pytest.mark.parametrize("lengths", [np.array([5, 3]), [5, 3], (5, 3), np.array([5.0, 3.0])])
def test_lengths_given_in_hxs_place_are_named(lengths):
    """lstm(x, lengths) as a positional call puts the lengths where hx goes."""
    lstm = ng.nn.LSTM(4, 3)
    with pytest.raises(TypeError, match=r"LSTM: hx must be a tuple \(h0, c0\) of states, "
                                        r"got a .*; to give the sequences' lengths, pass "
                                        r"lengths=\.\.\."):
        lstm(np.zeros((5, 2, 4), np.float32), lengths)
