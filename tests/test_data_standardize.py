"""Standardizer: statistics from the valid steps only, so the padding never changes them."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nongate_np.data import DataError, Standardizer, pad_sequences


@st.composite
def feature_sequences(draw):
    """1..5 sequences (T_i, F) with T_i in 1..6, F in 1..3, values on varied scales."""
    n, f = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    scale = rng.uniform(0.1, 100.0, f)
    return [rng.standard_normal((draw(st.integers(1, 6)), f)) * scale + 3.0 for _ in range(n)]


@given(feature_sequences(), st.sampled_from([0.0, 1e6]))
def test_statistics_ignore_the_padding(seqs, pad):
    x, lengths = pad_sequences(seqs, padding_value=pad)
    s = Standardizer().fit(x, lengths)
    steps = np.concatenate(seqs)                        # the unpadded steps, (M, F)
    np.testing.assert_allclose(s.mean, steps.mean(axis=0), rtol=1e-12, err_msg="mean")
    want_std = steps.std(axis=0)
    want_std[steps.min(axis=0) == steps.max(axis=0)] = 1.0
    np.testing.assert_allclose(s.std, want_std, rtol=1e-12, err_msg="std")
    z = s.transform(x, lengths)
    mask = np.arange(x.shape[1])[None, :] < lengths[:, None]
    assert np.all(z[~mask] == 0), "padding must stay 0"
    np.testing.assert_allclose(z[mask], (steps - s.mean) / s.std, rtol=1e-12, atol=1e-12)


def test_standardised_training_data_has_zero_mean_unit_std():
    rng = np.random.default_rng(1)
    seqs = [rng.normal(5.0, 3.0, (t, 2)) for t in (3, 9, 4, 7)]
    x, lengths = pad_sequences(seqs)
    s = Standardizer().fit(x, lengths)
    z = s.transform(x, lengths)[np.arange(x.shape[1])[None, :] < lengths[:, None]]
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1.0, rtol=1e-12)


def test_a_constant_feature_is_centred_not_scaled():
    x, lengths = pad_sequences([[[0.1, 1.0], [0.1, 2.0]], [[0.1, 4.0]]])
    s = Standardizer().fit(x, lengths)
    assert s.std[0] == 1.0 and s.mean[0] == pytest.approx(0.1)
    z = s.transform(x, lengths)
    np.testing.assert_allclose(z[:, :, 0][np.array([[1, 1], [1, 0]], bool)], 0.0, atol=1e-15)


def test_round_trip_through_json():
    rng = np.random.default_rng(2)
    x, lengths = pad_sequences([rng.standard_normal((t, 3)) for t in (2, 5)])
    s = Standardizer().fit(x, lengths)
    back = Standardizer.from_dict(json.loads(json.dumps(s.to_dict())))
    np.testing.assert_array_equal(back.transform(x, lengths), s.transform(x, lengths))


@pytest.mark.parametrize("call, match", [
    (lambda: Standardizer().transform(np.ones((1, 2, 1)), [2]), "call fit"),
    (lambda: Standardizer().fit(np.ones((2, 3), np.int64), [3, 3]),
     r"x has shape \(2, 3\) .* expected features \(N, T, F\)"),
    (lambda: Standardizer().fit(np.ones((2, 3, 1)), [3]), r"expected \(2,\) integers"),
    (lambda: Standardizer().fit(np.ones((2, 3, 1)), [3, 4]), r"lengths must lie in \[0, T=3\]"),
    (lambda: Standardizer().fit(np.full((1, 2, 1), np.nan), [1]), "NaN or infinity"),
    (lambda: Standardizer().fit(np.ones((1, 2, 1)), [2]).transform(np.ones((1, 2, 3)), [2]),
     "x has 3 features; the statistics are for 1"),
    (lambda: Standardizer.from_dict({"mean": [0.0]}), r"expected \{'mean'"),
    (lambda: Standardizer.from_dict({"mean": [0.0, 1.0], "std": [1.0]}), "same length"),
    (lambda: Standardizer.from_dict({"mean": [0.0], "std": [0.0]}), "std finite and > 0"),
])
def test_bad_input_gets_a_clear_error(call, match):
    with pytest.raises(DataError, match=match):
        call()


def test_nan_in_the_padding_is_not_read():
    x = np.array([[[1.0], [3.0], [np.nan]]])
    s = Standardizer().fit(x, [2])
    assert s.mean[0] == 2.0 and s.std[0] == 1.0
    assert s.transform(x, [2])[0, 2, 0] == 0.0
