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
    assert np.isinf(ng.full((1,), 1e300, np.float32).numpy()).all()
    with pytest.raises(TypeError, match="full: expected a number, got str 'x'"):
        ng.full((2,), "x")
    with pytest.raises(DataError, match="padding_value.*cannot be converted to int64"):
        pad_sequences([[1, 2], [3]], padding_value=2**70)
