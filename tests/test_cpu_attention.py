"""The Numba attention kernels' own pieces: the forward and backward as one compiled call at
small sizes (their agreement with the reference is tests/test_backends_agree.py's)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nongate_np.kernels.contract import ATTENTION_KINDS

from .test_backends_agree import attention_args

cpu = pytest.importorskip("nongate_np.kernels.cpu")
from nongate_np.kernels.cpu import attention as cpu_attention  # noqa: E402
from nongate_np.kernels.cpu import tuning  # noqa: E402  (after the importorskip)


def _one_call_taken(args) -> bool:
    """Whether the forward and the backward both make their projections inside their
    compiled call."""
    h, params, kind, _ = args
    p = cpu_attention.for_kind(params, kind)
    K = sum(w.shape[0] for w in (p.w_proj, p.w_gate, p.w_step) if w is not None)
    Dv = 0 if p.w_value is None else p.w_value.shape[0]
    B, T, D = h.shape
    return cpu_attention._one_call(B * T, K, D) and cpu_attention._one_call(B * T, K + Dv, D)


def _forward_and_backward(args, dpooled, dweights):
    """Every output of the forward, its cache's arrays, and every gradient."""
    pooled, weights, cache = cpu_attention.attention_forward(*args, True)
    dh, grads = cpu_attention.attention_backward(cache, dpooled, dweights)
    saved = [getattr(cache, f) for f in ("h2", "w_all", "query", "r", "s", "u", "alpha",
                                         "gamma", "weights", "v")]
    return [pooled, weights, *saved, dh, *grads]


@settings(max_examples=30, deadline=None)
@given(sizes=st.tuples(st.integers(1, 4), st.integers(1, 7), st.integers(1, 9),
                       st.integers(1, 6), st.integers(1, 3), st.integers(1, 5)),
       dtype=st.sampled_from([np.float32, np.float64]),
       kind=st.sampled_from(ATTENTION_KINDS), masked=st.booleans(), value_proj=st.booleans(),
       biases=st.booleans(), time_major=st.booleans(), seed=st.integers(0, 2**16))
def test_one_call_gives_the_general_paths_bits(sizes, dtype, kind, masked, value_proj,
                                               biases, time_major, seed):
    """At a small size the forward and the backward make their projections' products
    inside their one compiled call each (``_forward_passes``, ``_backward_passes``): the
    same bits as the general path, which makes them between its calls (forced by
    ``tuning.ATTENTION_ONE_CALL_MAX_MACS`` 0), outputs, cache and every gradient, for each
    kind, with and without a mask, a value projection, biases, several queries, and h
    batch-major or the transpose of a time-major array (an LSTM's output)."""
    B, T, D, A, Q, Dv = sizes
    rng = np.random.default_rng(seed)

    def arr(*shape):
        return rng.uniform(-1, 1, shape).astype(dtype)
    mask = rng.random((B, T)) < 0.7 if masked else None
    Dv = Dv if value_proj else D
    args = attention_args(arr, B, T, D, A, Q, Dv, kind, mask, value_proj, biases)
    if time_major:
        args = (np.ascontiguousarray(args[0].transpose(1, 0, 2)).transpose(1, 0, 2),
                *args[1:])
    dpooled, dweights = arr(B, Q, Dv), arr(B, Q, T)
    assert _one_call_taken(args), "the one-call path is not taken"
    one_call = _forward_and_backward(args, dpooled, dweights)
    with tuning.override(ATTENTION_ONE_CALL_MAX_MACS=0):
        assert not _one_call_taken(args)
        general = _forward_and_backward(args, dpooled, dweights)
    assert len(one_call) == len(general)
    for k, (got, want) in enumerate(zip(one_call, general)):
        if want is None:
            assert got is None, f"output {k}"
            continue
        assert got.dtype == dtype, f"output {k}"
        np.testing.assert_array_equal(got, want, err_msg=f"output {k}")


def test_one_call_only_where_the_products_stay_unsplit():
    """The projections are made inside the compiled call only at sizes whose products
    ``gemm.matmul`` would neither split nor run on the packed kernel."""
    assert cpu_attention._one_call(64, 32, 32)                           # the benchmark's S1
    assert not cpu_attention._one_call(3200, 128, 128)                  # its M1
    with tuning.override(PACKED_TRANSPOSED_MIN_MACS=0):
        assert not cpu_attention._one_call(64, 32, 32)
