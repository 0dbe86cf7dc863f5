"""The cast rules shared by ``tensor``, ``full`` and ``pad_sequences`` (nongate_np/casting.py),
and the review's cases: a value either converts as PyTorch converts it, or is refused with
an error naming the argument, never with a NumPy warning."""

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.data import DataError, pad_sequences

pytestmark = pytest.mark.filterwarnings("error")     # every warning fails the test


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_int_beyond_64_bits_converts_to_a_float_dtype(dtype):
    assert ng.tensor(2**70, dtype=dtype).numpy() == dtype(2.0**70)     # as torch.tensor
    assert ng.full((2,), 2**70, dtype).numpy().tolist() == [dtype(2.0**70)] * 2
    with pytest.raises(ValueError, match="does not fit in 64 bits"):
        ng.tensor(2**70)
    with pytest.raises(ValueError, match="beyond every float dtype"):
        ng.tensor(10**400, dtype=np.float64)


@pytest.mark.parametrize("fill", [
    lambda: ng.full((2,), 1 + 2j),
    lambda: ng.full((2,), 1 + 2j, np.float32),
    lambda: pad_sequences([[1.0, 2.0], [3.0]], padding_value=1 + 2j),
])
def test_a_complex_fill_value_for_a_real_dtype_is_refused(fill):
    with pytest.raises(TypeError, match="complex values do not convert.*take .real first"):
        fill()


def test_fill_values_keep_their_rules():
    assert ng.full((2,), 1 + 2j, np.complex128).numpy().tolist() == [1 + 2j] * 2
    assert np.isinf(ng.full((1,), np.inf, np.float32).numpy()).all()
    assert np.isnan(ng.full((1,), np.nan, np.float32).numpy()).all()
    with pytest.raises(TypeError, match="full: expected a number, got str 'x'"):
        ng.full((2,), "x")
    with pytest.raises(DataError, match="padding_value.*cannot be converted to int64"):
        pad_sequences([[1, 2], [3]], padding_value=2**70)


@pytest.mark.parametrize("fill", [
    lambda v: ng.full((2,), v, np.float32),
    lambda v: ng.zeros(2, dtype=np.float32).new_full((2,), v),
    lambda v: ng.zeros(2, dtype=np.float32).masked_fill(ng.tensor([True, False]), v),
    lambda v: ng.full((2,), v, np.float16),
], ids=["full", "new_full", "masked_fill", "full-float16"])
@pytest.mark.parametrize("value", [1e39, -1e300])
def test_a_fill_value_beyond_a_float_dtypes_range_is_refused(fill, value):
    """It was ±inf without a word; torch refuses it ("cannot be converted to type float
    without overflow"), and an array's values beyond the range stay ±inf (above)."""
    with pytest.raises(ValueError, match=r"cannot be converted to float(32|16) without "
                                         r"overflow.*holds magnitudes up to.*pass inf"):
        fill(value)


def test_the_same_fill_values_are_refused_by_torch():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="without overflow"):
        torch.full((2,), 1e39, dtype=torch.float32)
    with pytest.raises(RuntimeError, match="without overflow"):
        torch.zeros(2).masked_fill(torch.tensor([True, False]), -1e300)


def test_a_padding_value_beyond_the_dtypes_range_and_a_huge_int_are_clear_errors():
    seqs = [np.zeros((2, 1), np.float32), np.zeros((1, 1), np.float32)]
    with pytest.raises(DataError, match="padding_value: 1e.39 cannot be converted to float32"):
        pad_sequences(seqs, padding_value=1e39)
    with pytest.raises(ValueError, match="full: an integer of 1329 bits cannot be converted"):
        ng.full((1,), 10**400)
