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
    h, params, kind, _ = args
    p = cpu_attention.for_kind(params, kind)
    K = sum(w.shape[0] for w in (p.w_proj, p.w_gate, p.w_step) if w is not None)
    B, T, D = h.shape
    return cpu_attention._one_call(B * T, D, K, p.w_proj.shape[0], p.query.shape[0],
                                   p.w_value)


def _forward_and_backward(args, dpooled, dweights):
    """Every output of the forward, its cache's arrays, and every gradient."""
    pooled, weights, cache = cpu_attention.attention_forward(*args, True)
    dh, grads = cpu_attention.attention_backward(cache, dpooled, dweights)
    saved = [getattr(cache, f) for f in ("h2", "w_all", "query", "r", "s", "u", "alpha",
                                         "gamma", "weights", "v")]
    return [pooled, weights, *saved, dh, *grads]


@settings(max_examples=30, deadline=None)
@given(sizes=st.tuples(st.integers(1, 4), st.integers(1, 7), st.integers(1, 9),
                       st.integers(1, 6), st.integers(1, 3)),
       dtype=st.sampled_from([np.float32, np.float64]),
       kind=st.sampled_from(ATTENTION_KINDS), masked=st.booleans(),
       biases=st.booleans(), time_major=st.booleans(), seed=st.integers(0, 2**16))
def test_one_call_gives_the_general_paths_bits(sizes, dtype, kind, masked, biases,
                                               time_major, seed):
    """At a small size the forward and the backward each run as one compiled call
    (``_forward_one_call``, ``_backward_one_call``): the same bits as the general path's
    passes (forced by ``tuning.ATTENTION_ONE_CALL_MAX_MACS`` 0), outputs, cache and every
    gradient, for each kind, with and without a mask, biases, several queries, and h
    batch-major or the transpose of a time-major array (an LSTM's output)."""
    B, T, D, A, Q = sizes
    rng = np.random.default_rng(seed)

    def arr(*shape):
        return rng.uniform(-1, 1, shape).astype(dtype)
    mask = rng.random((B, T)) < 0.7 if masked else None
    args = attention_args(arr, B, T, D, A, Q, D, kind, mask, False, biases)
    if time_major:
        args = (np.ascontiguousarray(args[0].transpose(1, 0, 2)).transpose(1, 0, 2),
                *args[1:])
    dpooled, dweights = arr(B, Q, D), arr(B, Q, T)
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


def test_one_call_only_where_every_product_stays_unsplit_without_a_value_projection():
    """The one-call path leaves out what it does not make: a value projection (v = H W_vᵀ),
    and sizes whose products ``gemm.matmul`` would split or run on the packed kernel."""
    assert cpu_attention._one_call(64, 32, 32, 16, 1, None)
    assert not cpu_attention._one_call(64, 32, 32, 16, 1, np.zeros((8, 32)))
    assert not cpu_attention._one_call(3200, 128, 128, 64, 1, None)     # the benchmark's M1
    with tuning.override(PACKED_TRANSPOSED_MIN_MACS=0):
        assert not cpu_attention._one_call(64, 32, 32, 16, 1, None)
