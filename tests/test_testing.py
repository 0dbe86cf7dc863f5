"""The public Hypothesis strategies do what their docstrings promise."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from nongate_np.check import testing as nt


@given(data=st.data(), shape=nt.shapes(min_dims=1))
def test_arrays_respect_range_and_kinks(data, shape):
    x = data.draw(nt.arrays(shape, low=-1.0, high=1.0, away_from=(0.0, 0.5), margin=0.1))
    assert x.shape == shape and x.dtype == np.float64
    assert np.all(np.abs(x) >= 0.1 - 1e-12) and np.all(np.abs(x - 0.5) >= 0.1 - 1e-12)
    assert np.all(x >= -1.1) and np.all(x <= 1.1)


@given(data=st.data(), shape=nt.shapes(min_dims=1))
def test_distinct_arrays_have_no_near_ties(data, shape):
    x = data.draw(nt.distinct_arrays(shape, low=0.0, high=1.0))
    gaps = np.diff(np.sort(x.ravel()))
    assert x.size == 1 or gaps.min() >= 1.0 / (4 * x.size) - 1e-12


@given(shapes=nt.broadcastable_shapes(3))
def test_broadcastable_shapes_broadcast(shapes):
    np.broadcast_shapes(*shapes)


@given(shapes=nt.matmul_shapes())
def test_matmul_shapes_multiply(shapes):
    a, b = (np.ones(s) for s in shapes)
    np.matmul(a, b)


@given(data=st.data(), n=st.integers(1, 5))
def test_index_arrays_in_range(data, n):
    ids = data.draw(nt.index_arrays((7,), n))
    assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < n


@given(sizes=nt.lstm_sizes())
def test_lstm_sizes_are_positive(sizes):
    assert len(sizes) == 4 and min(sizes) >= 1
