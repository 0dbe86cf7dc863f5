"""pad_sequences packs a ragged list the way torch's pad_sequence(batch_first=True) does,
unpad_sequences gives it back, and bad sequences are named by their index."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nongate_np.data import DataError, pad_sequences, unpad_sequences


@st.composite
def ragged(draw, integers=False):
    """A list of 1..5 sequences, each (T_i,) or each (T_i, F), with T_i in 1..6."""
    n = draw(st.integers(1, 5))
    feature_axis = draw(st.booleans())
    f = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    out = []
    for _ in range(n):
        shape = (draw(st.integers(1, 6)),) + ((f,) if feature_axis else ())
        out.append(rng.integers(1, 50, shape) if integers else rng.standard_normal(shape))
    return out


@given(ragged(), st.sampled_from([0, -1.5]))
def test_pad_then_unpad_is_the_identity(seqs, pad):
    x, lengths = pad_sequences(seqs, padding_value=pad)
    assert x.dtype == np.float64 and lengths.dtype == np.int64
    assert x.shape == (len(seqs), max(len(s) for s in seqs), *seqs[0].shape[1:])
    np.testing.assert_array_equal(lengths, [len(s) for s in seqs])
    for got, want in zip(unpad_sequences(x, lengths), seqs):
        np.testing.assert_array_equal(got, want, err_msg="unpadded sequence")
    past = np.arange(x.shape[1])[None, :] >= lengths[:, None]
    assert np.all(x[past] == pad), "padding value past the lengths"


@given(ragged(integers=True))
def test_integer_sequences_stay_int64_token_ids(seqs):
    x, lengths = pad_sequences(seqs)
    assert x.dtype == np.int64
    for got, want in zip(unpad_sequences(x, lengths), seqs):
        np.testing.assert_array_equal(got, want)


def test_lists_and_a_given_dtype():
    x, lengths = pad_sequences([[1, 2, 3], [4]], dtype=np.float32)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, [[1, 2, 3], [4, 0, 0]])
    np.testing.assert_array_equal(lengths, [3, 1])
    x, _ = pad_sequences([[1, 2], [0.5]])                # one float sequence: float64
    assert x.dtype == np.float64


def test_float32_sequences_stay_float32_as_in_torch():
    seqs = [np.ones((3, 2), np.float32), np.zeros((1, 2), np.float32)]
    assert pad_sequences(seqs)[0].dtype == np.float32
    assert pad_sequences(seqs + [np.ones((2, 2))])[0].dtype == np.float64    # one float64
    assert pad_sequences(seqs + [np.ones((2, 2), np.int64)])[0].dtype == np.float32


@pytest.mark.torch
def test_matches_torch_pad_sequence():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((t, 3)) for t in (4, 1, 6, 2)]
    want = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs],
                                           batch_first=True).numpy()
    np.testing.assert_array_equal(pad_sequences(seqs)[0], want)


@pytest.mark.parametrize("seqs, kw, match", [
    ([], {}, "no sequences given"),
    ([[1.0, 2.0], []], {}, "sequence 1 is empty"),
    ([np.ones((2, 3)), np.ones((4, 2))], {}, r"sequence 1 has shape \(4, 2\) but sequence 0 "
                                             r"has \(2, 3\); every sequence must be \(T, 3\)"),
    ([np.ones(3), np.ones((3, 1))], {}, "sequence 1 has shape"),
    ([[1.0, 2.0], [3.0, np.nan, 4.0]], {}, r"sequence 1 has a non-finite value \(nan\) at "
                                          r"step 1"),
    ([np.ones((2, 2)), [[1.0, 2.0], [np.inf, 0.0]]], {}, r"sequence 1 .* \(inf\) at step 1"),
    ([["a", "b"]], {}, "sequence 0 holds <U1 values; expected numbers"),
    ([[[1, 2], [3]]], {}, "sequence 0 is ragged inside"),
    ([np.ones((2, 2, 2))], {}, r"sequence 0 has shape \(2, 2, 2\); expected \(T,\) or "
                               r"\(T, F\)"),
    ([[1.5, 2.0]], {"dtype": np.int64}, "sequence 0 has fractional values"),
])
def test_bad_sequences_are_named(seqs, kw, match):
    with pytest.raises(DataError, match=match):
        pad_sequences(seqs, **kw)


def test_unpad_checks_lengths():
    with pytest.raises(DataError, match=r"lengths \(3,\)"):
        unpad_sequences(np.zeros((2, 4)), [1, 2, 3])
    with pytest.raises(DataError, match=r"lengths must lie in \[0, T=4\], got 1..5"):
        unpad_sequences(np.zeros((2, 4)), [1, 5])
