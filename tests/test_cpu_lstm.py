"""The Numba LSTM kernels' own pieces: the step loop's split of the batch over threads and
dW_hh from the shifted output (their agreement with the reference is
tests/test_backends_agree.py's)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nongate_np.kernels import reference as ref

cpu = pytest.importorskip("nongate_np.kernels.cpu")
from nongate_np.kernels.cpu import threads, tuning  # noqa: E402  (after the importorskip)


def test_the_step_loop_can_split():
    """The parallel path of the agreement tests tests something: here the loop does split."""
    with tuning.force_split():
        bounds = threads.batch_chunks(5, 1)
    if len(bounds) < 3:
        pytest.skip("one thread, or no BLAS thread control here")
    assert bounds[0] == 0 and bounds[-1] == 5 and np.all(np.diff(bounds) > 0)


@given(T=st.integers(1, 6), B=st.integers(1, 5), P=st.integers(1, 4),
       reverse=st.booleans(), data=st.data())
def test_dw_hh_from_the_shifted_output_equals_the_product_with_h_prev(T, B, P, reverse, data):
    """docs/math.md L13: dW_hh from y shifted by one step and h0 at each row's first step is
    δAᵀ H_prev with H_prev rebuilt as the reference does, for any lengths (0 and T too).
    y is zero at inactive steps and δa is zero there, as the forward and L14 make them."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))
    lengths = np.array(data.draw(st.lists(st.integers(0, T), min_size=B, max_size=B)))
    active = ref.lstm_active(T, B, lengths)
    da = rng.standard_normal((T, B, 8)) * active[:, :, None]
    y = rng.standard_normal((T, B, P)) * active[:, :, None]
    h0 = rng.standard_normal((B, P))
    h_prev = ref.lstm_previous(y, h0, active, reverse)
    want = da.reshape(T * B, -1).T @ h_prev.reshape(T * B, P)
    np.testing.assert_allclose(cpu.lstm._dw_hh(da, y, h0, active, reverse), want,
                               rtol=1e-13, atol=1e-13)
