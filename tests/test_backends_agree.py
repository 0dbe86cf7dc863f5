"""Every fast backend agrees with the NumPy reference: outputs and every gradient.

The tests run against each registered backend that loads here (``registry``), through the
kernel contract only (``kernels.contract.Backend``); the CPU backend's step loop runs both
forced serial and forced split over threads, each with the input term made inside the step
loop (the default for inputs up to ``tuning.STEP_PROJECTION_MAX_INPUTS`` wide on chunks of
enough rows) and as one product before it (``+product``), each forced whatever the sizes."""

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nongate_np.check import testing as nt
from nongate_np.kernels import gpu, registry
from nongate_np.kernels import reference as ref
from nongate_np.kernels.contract import ATTENTION_KINDS, AttentionParams, LSTMParams, LSTMState

# every backend but the reference, which they are compared with
FAST = [name for name in registry.available_backends() if name != "numpy"]
# The CUDA backend on numba's simulator (no GPU here: tests/conftest.py) runs one OS thread
# per CUDA thread, seconds per example: the Hypothesis properties take it at tiny sizes and
# few examples (the *_on_the_simulator tests); on a GPU it runs every test as the others do.
SIMULATED = [name for name in FAST if name == "cuda" and gpu.simulator_requested()]
FULL = [name for name in FAST if name not in SIMULATED]
# (backend, path): the CPU step loop forced serial and forced split, the input term inside
# the loop or before it; others as they choose
CPU_PATHS = ("serial", "parallel", "serial+product", "parallel+product")
PATHS = [(name, path) for name in FULL
         for path in (CPU_PATHS if name == "numba" else ("default",))]
SIMULATOR_SETTINGS = settings(max_examples=4)
on_the_simulator = pytest.mark.parametrize("name", SIMULATED)

# rtol, and an absolute floor relative to the largest reference value (normwise).
TOL = {np.float64: (1e-12, 1e-13), np.float32: (1e-5, 1e-6)}


def assert_close(got, want, dtype, what):
    rtol, floor = TOL[dtype]
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=floor * scale, err_msg=what)


@contextlib.contextmanager
def kernels_on(name, path="default"):
    """The backend ``name``'s kernels; for the CPU backend, its LSTM step loop forced serial,
    or split over threads whatever the size, and the input term made inside the loop, or
    with ``+product`` as one product before it, whatever the input's width and the chunks'
    rows."""
    with contextlib.ExitStack() as stack:
        k = stack.enter_context(registry.backend(name))
        if path != "default":
            from nongate_np.kernels.cpu import tuning
            split, _, where = path.partition("+")
            stack.enter_context(tuning.force_serial() if split == "serial"
                                else tuning.force_split())
            stack.enter_context(tuning.force_projection(where or "loop"))
        yield k


@pytest.mark.parametrize("name, path", PATHS)
@given(sizes=nt.lstm_sizes(max_T=6, max_B=4, max_I=5, max_H=6), data=st.data(),
       dtype=st.sampled_from([np.float64, np.float32]), reverse=st.booleans(),
       proj=st.booleans(), with_lengths=st.booleans())
def test_lstm_kernels_agree(name, path, sizes, data, dtype, reverse, proj, with_lengths):
    with kernels_on(name, path) as fast:
        check_lstm_kernels_agree(fast, sizes, data, dtype, reverse, proj, with_lengths)


@pytest.mark.parametrize("path", CPU_PATHS)
@settings(max_examples=6)
@given(sizes=st.tuples(st.integers(1, 3), st.integers(6, 26), st.integers(1, 3),
                       st.integers(1, 20)), data=st.data(),
       dtype=st.sampled_from([np.float64, np.float32]), reverse=st.booleans(),
       proj=st.booleans(), with_lengths=st.booleans())
def test_lstm_kernels_agree_on_whole_row_blocks(path, sizes, data, dtype, reverse, proj,
                                                with_lengths):
    """Batches of 6 to 26 rows, so the step loops' packed products (docs/math.md K5) run
    whole blocks of rows (6 on AVX2, 12 on AVX-512) besides the tail's one or two, serial
    and split, and 4H up to 80 spans several panels."""
    with kernels_on("numba", path) as fast:
        check_lstm_kernels_agree(fast, sizes, data, dtype, reverse, proj, with_lengths)


numba_only = pytest.mark.skipif("numba" not in FULL, reason="the Numba backend does not load")


@numba_only
@pytest.mark.parametrize("path", ["serial+product", "parallel+product"])
@settings(max_examples=4)
@given(sizes=st.tuples(st.integers(1, 3), st.integers(6, 9), st.just(32),
                       st.sampled_from([4, 8])), data=st.data(),
       dtype=st.sampled_from([np.float64, np.float32]), reverse=st.booleans(),
       proj=st.booleans(), with_lengths=st.booleans())
def test_lstm_kernels_agree_with_products_on_the_packed_kernel(path, sizes, data, dtype,
                                                               reverse, proj, with_lengths):
    """32 inputs and 4H of 16 or 32: with ``tuning.PACKED_PRODUCT_MIN_MACS`` and
    ``PACKED_TRANSPOSED_MIN_MACS`` 0 (its parts' bound as on a Zen core), dX, the input
    term before the loop and dW_ih = δAᵀX run on the packed kernel (docs/math.md K5), as at
    M1."""
    from nongate_np.kernels.cpu import tuning
    with kernels_on("numba", path) as fast, \
            tuning.override(PACKED_PRODUCT_MIN_MACS=0, PACKED_TRANSPOSED_MIN_MACS=0,
                            PACKED_TRANSPOSED_MAX_ELEMENTS=tuning.ZEN_TRANSPOSED_MAX_ELEMENTS):
        check_lstm_kernels_agree(fast, sizes, data, dtype, reverse, proj, with_lengths)


@on_the_simulator
@SIMULATOR_SETTINGS
@given(sizes=nt.lstm_sizes(max_T=3, max_B=2, max_I=2, max_H=3), data=st.data(),
       dtype=st.sampled_from([np.float64, np.float32]), reverse=st.booleans(),
       proj=st.booleans(), with_lengths=st.booleans())
def test_lstm_kernels_agree_on_the_simulator(name, sizes, data, dtype, reverse, proj,
                                             with_lengths):
    with kernels_on(name) as fast:
        check_lstm_kernels_agree(fast, sizes, data, dtype, reverse, proj, with_lengths)


@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_both_directions_at_once_are_each_directions_own_call(name, dtype):
    """``lstm_forward_bidirectional`` gives each direction's ``lstm_forward`` result to the
    bit (however the backend runs the two), and the reference's values."""
    rng = np.random.default_rng(7)
    T, B, I, H = 3, 2, 3, 4
    u = lambda *shape: rng.uniform(-0.5, 0.5, shape).astype(dtype)  # noqa: E731
    x, lengths = u(T, B, I), np.array([3, 1])
    states = tuple(LSTMState(u(B, H), u(B, H)) for _ in range(2))
    params = tuple(LSTMParams(u(4 * H, I), u(4 * H, H), u(4 * H), None) for _ in range(2))
    with kernels_on(name) as fast:
        both = fast.lstm_forward_bidirectional(x, states, params, lengths, False)
        alone = [fast.lstm_forward(x, states[d], params[d], lengths, bool(d), False)
                 for d in (0, 1)]
    for d in (0, 1):
        for got, want in zip((both[d][0], *both[d][1]), (alone[d][0], *alone[d][1])):
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
        y_ref = ref.lstm_forward(x, states[d], params[d], lengths, bool(d), False)[0]
        assert_close(np.asarray(both[d][0]), y_ref, dtype, f"y of direction {d}")


def lstm_outputs_and_grads(k, args, lengths, reverse, grads_in):
    """``k``'s LSTM forward and backward flattened: y, h_n, c_n, dx, dh0, dc0, then each
    field of LSTMParams's gradients."""
    x, h0, c0, *weights = args
    y, state, cache = k.lstm_forward(x, LSTMState(h0, c0), LSTMParams(*weights), lengths,
                                     reverse, True)
    dy, dh, dc = grads_in
    dx, dstate, grads = k.lstm_backward(cache, dy, LSTMState(dh, dc))
    return (y, *state, dx, *dstate, *grads)


LSTM_NAMES = ("y", "h_n", "c_n", "dx", "dh0", "dc0") + tuple(f"d{name}"
                                                          for name in LSTMParams._fields)


def check_lstm_kernels_agree(fast, sizes, data, dtype, reverse, proj, with_lengths):
    T, B, I, H = sizes
    P = data.draw(st.integers(1, H)) if proj else H

    def arr(*shape):
        return data.draw(nt.arrays(shape, low=-1, high=1)).astype(dtype)
    x, h0, c0 = arr(T, B, I), arr(B, P), arr(B, H)
    w_ih, w_hh, b = arr(4 * H, I), arr(4 * H, P), arr(4 * H)
    w_hr = arr(P, H) if proj else None
    lengths = np.array(data.draw(st.lists(st.integers(0, T), min_size=B, max_size=B))) \
        if with_lengths else None
    args = (x, h0, c0, w_ih, w_hh, b, w_hr)
    dy, dh, dc = arr(T, B, P), arr(B, P), arr(B, H)
    got_all, want_all = (lstm_outputs_and_grads(k, args, lengths, reverse, (dy, dh, dc))
                         for k in (fast, ref))
    # the reference in a wider dtype on the same inputs: where the two agree less than
    # rtol, the kernel must be as near to this as the reference is (both round), or within
    # what a few roundings of the inputs and activations move it by (cancellation)
    grads_in = (dy, dh, dc)
    truth = lstm_wide(args, grads_in, lengths, reverse, dtype)
    spread, rng = [0.0] * len(truth), np.random.default_rng(0)
    for _ in range(2):
        moved = lstm_wide(args, grads_in, lengths, reverse, dtype, rng)
        spread = [0.0 if t is None else max(sp, float(np.max(np.abs(m - t))))
                  for sp, m, t in zip(spread, moved, truth)]
    for what, got, want, exact, sp in zip(LSTM_NAMES, got_all, want_all, truth, spread):
        if want is None:
            assert got is None, what
            continue
        assert got.dtype == dtype, what
        assert_close_or_as_accurate(got, want, exact, sp, dtype, what)


def lstm_wide(args, grads_in, lengths, reverse, dtype, rng=None):
    """The reference LSTM in a wider dtype (float64 for float32, long double for float64) on
    the same inputs. With ``rng``: every input multiplied by 1 + δ, |δ| ≤ u (the unit
    roundoff of ``dtype``), and the saved y, gates, c and tanh c by 1 + δ, |δ| ≤ 8u (a few
    roundings: the error of a ``dtype`` forward). Returns the outputs and every gradient."""
    wide = np.float64 if dtype == np.float32 else np.longdouble
    u = np.finfo(dtype).eps / 2

    def up(a, k=1):
        if a is None:
            return None
        a = a.astype(wide)
        if rng is not None:
            a = a * (1 + rng.uniform(-1, 1, a.shape).astype(wide) * wide(k * u))
        return a
    x, h0, c0, *weights = map(up, args)
    y, state, cache = ref.lstm_forward(x, LSTMState(h0, c0), LSTMParams(*weights), lengths,
                                       reverse, True)
    if rng is not None:     # the saved activations of the reference's cache (L15)
        cache = cache._replace(y=up(cache.y, 8), gates=up(cache.gates, 8), c=up(cache.c, 8),
                               tanh_c=up(cache.tanh_c, 8))
    dy, dh, dc = map(up, grads_in)
    dx, dstate, grads = ref.lstm_backward(cache, dy, LSTMState(dh, dc))
    return (y, *state, dx, *dstate, *grads)


@pytest.mark.parametrize("name", FAST)
def test_complex_input_runs_on_the_reference_path(name):
    rng = np.random.default_rng(0)
    T, B, I, H = 3, 2, 2, 2
    x, h0, c0, *weights = [rng.standard_normal(s) + 0j for s in [
        (T, B, I), (B, H), (B, H), (4 * H, I), (4 * H, H), (4 * H,)]]
    args = (x, LSTMState(h0, c0), LSTMParams(*weights), None, False, False)
    with kernels_on(name) as fast:
        got = fast.lstm_forward(*args)[0]
    np.testing.assert_array_equal(got, ref.lstm_forward(*args)[0])


# ---------------------------------------------------------------------------------------------
# Attention pooling
# ---------------------------------------------------------------------------------------------

def assert_close_or_as_accurate(got, want, truth, spread, dtype, what):
    """``assert_close`` to the reference; where that fails, the kernel must be as accurate
    as the dtype allows, normwise against the reference run in a wider dtype on the same
    inputs (``truth``): within 4x the reference's own error, or 8x ``spread`` (how far the
    wide results move when the inputs and activations move by a few roundings).

    NOTE: a bias gradient is a sum of terms that cancel (each softmax Jacobian row sums to
    zero), so there two correct results can differ by far more than rtol, and which one is
    nearer the truth is chance: their difference is rounding, not a bug."""
    try:
        assert_close(got, want, dtype, what)
    except AssertionError:
        rtol, _ = TOL[dtype]
        err, ref_err = np.max(np.abs(got - truth)), np.max(np.abs(want - truth))
        bound = max(4 * ref_err, 8 * spread, rtol * np.max(np.abs(truth)))
        assert err <= bound, f"{what}: error {err:.3g} vs the wide reference, the " \
                             f"reference's {ref_err:.3g}, input-rounding spread {spread:.3g}"


def attention_wide(args, dpooled, dweights, dtype, rng=None):
    """The reference in a wider dtype (float64 for float32, long double for float64) on
    the same inputs. With ``rng``: every float input multiplied by 1 + δ, |δ| ≤ u (the unit
    roundoff of ``dtype``), and the saved activations r, s, α, γ by 1 + δ, |δ| ≤ 8u (a few
    roundings: the error of a float ``dtype`` forward). Returns the outputs and every
    gradient, as the kernels do."""
    wide = np.float64 if dtype == np.float32 else np.longdouble
    u = np.finfo(dtype).eps / 2

    def up(a, k=1):
        if not (isinstance(a, np.ndarray) and a.dtype in (dtype, wide)):
            return a
        a = a.astype(wide)
        if rng is not None:
            a = a * (1 + rng.uniform(-1, 1, a.shape).astype(wide) * wide(k * u))
        return a
    h, params, kind, mask = args
    pooled, weights, cache = ref.attention_forward(
        up(h), AttentionParams(*map(up, params)), kind, mask, True)
    if rng is not None:     # the saved activations of the reference's cache (A15)
        cache = cache._replace(r=up(cache.r, 8), s=up(cache.s, 8), alpha=up(cache.alpha, 8),
                               gamma=up(cache.gamma, 8))
    return (pooled, weights) + outputs_and_grads(ref, cache, up(dpooled), up(dweights))


def outputs_and_grads(k, cache, dpooled, dweights):
    """``k.attention_backward`` flattened: (dh, then each field of AttentionParams)."""
    dh, grads = k.attention_backward(cache, dpooled, dweights)
    return (dh, *grads)


ATTN_GRADS = ("dh",) + tuple(f"d{name}" for name in AttentionParams._fields)


def attention_args(arr, B, T, D, A, Q, Dv, kind, mask, value_proj, biases=True):
    """(h, params, kind, mask): the leading arguments of ``attention_forward``."""
    def bias(n):
        return arr(n) if biases else None
    gated, step = kind == "gated", kind == "weight_gated"
    # NOTE: drawn in the kernels' former argument order, so seeded tests keep their inputs
    h, w_proj, b_proj = arr(B, T, D), arr(A, D), bias(A)
    w_gate, b_gate = (arr(A, D), bias(A)) if gated else (None, None)
    query = arr(Q, A)
    w_step, b_step = (arr(Q, D), bias(Q)) if step else (None, None)
    w_value, b_value = (arr(Dv, D), bias(Dv)) if value_proj else (None, None)
    params = AttentionParams(w_proj, b_proj, query, w_gate=w_gate, b_gate=b_gate,
                             w_step=w_step, b_step=b_step, w_value=w_value, b_value=b_value)
    return h, params, kind, mask


@given(sizes=st.tuples(*(st.integers(1, 4) for _ in range(5))), data=st.data(),
       dtype=st.sampled_from([np.float64, np.float32]),
       kind=st.sampled_from(ATTENTION_KINDS), with_mask=st.booleans(),
       value_proj=st.booleans(), biases=st.booleans(), time_major=st.booleans())
@pytest.mark.parametrize("name", FULL)
def test_attention_kernels_agree(name, sizes, data, dtype, kind, with_mask, value_proj,
                                 biases, time_major):
    """``time_major``: h (B, T, D) is the transpose of a C-contiguous (T, B, D) array, as an
    LSTM's output passed as ``y.transpose(0, 1)``."""
    check_attention_kernels_agree(name, sizes, data, dtype, kind, with_mask, value_proj,
                                  biases, time_major)


@numba_only
@settings(max_examples=8)
@given(sizes=st.tuples(st.integers(1, 4), st.integers(1, 6), st.just(32), st.just(16),
                       st.integers(1, 3)), data=st.data(),
       dtype=st.sampled_from([np.float64, np.float32]),
       kind=st.sampled_from(ATTENTION_KINDS), with_mask=st.booleans(),
       value_proj=st.booleans(), biases=st.booleans(), time_major=st.booleans())
def test_attention_kernels_agree_with_products_on_the_packed_kernel(
        sizes, data, dtype, kind, with_mask, value_proj, biases, time_major):
    """D = 32 and A = 16: with ``tuning.PACKED_PRODUCT_MIN_MACS`` and
    ``PACKED_TRANSPOSED_MIN_MACS`` 0 (its parts' bound as on a Zen core), the projections'
    product (where 2A or A is whole panel groups), dh and the weights' gradient ΓᵀH run on
    the packed kernel (K5)."""
    from nongate_np.kernels.cpu import tuning
    with tuning.override(PACKED_PRODUCT_MIN_MACS=0, PACKED_TRANSPOSED_MIN_MACS=0,
                         PACKED_TRANSPOSED_MAX_ELEMENTS=tuning.ZEN_TRANSPOSED_MAX_ELEMENTS):
        check_attention_kernels_agree("numba", sizes, data, dtype, kind, with_mask,
                                      value_proj, biases, time_major)


@numba_only
@settings(max_examples=20)
@given(sizes=st.tuples(*(st.integers(1, 4) for _ in range(5))), data=st.data(),
       dtype=st.sampled_from([np.float64, np.float32]),
       kind=st.sampled_from(ATTENTION_KINDS), with_mask=st.booleans(),
       biases=st.booleans(), time_major=st.booleans())
def test_attention_kernels_agree_with_the_products_between_calls(sizes, data, dtype, kind,
                                                          with_mask, biases, time_major):
    """At these sizes the Numba kernels make their projections inside their compiled call;
    with ``tuning.ATTENTION_ONE_CALL_MAX_MACS`` 0 through ``gemm.matmul`` between calls,
    as larger inputs do."""
    from nongate_np.kernels.cpu import tuning
    with tuning.override(ATTENTION_ONE_CALL_MAX_MACS=0):
        check_attention_kernels_agree("numba", sizes, data, dtype, kind, with_mask, False,
                                      biases, time_major)


@on_the_simulator
@SIMULATOR_SETTINGS
@given(sizes=st.tuples(*(st.integers(1, 2) for _ in range(5))), data=st.data(),
       dtype=st.sampled_from([np.float64, np.float32]),
       kind=st.sampled_from(ATTENTION_KINDS), with_mask=st.booleans(),
       value_proj=st.booleans(), biases=st.booleans())
def test_attention_kernels_agree_on_the_simulator(name, sizes, data, dtype, kind, with_mask,
                                                  value_proj, biases):
    check_attention_kernels_agree(name, sizes, data, dtype, kind, with_mask, value_proj,
                                  biases)


def check_attention_kernels_agree(name, sizes, data, dtype, kind, with_mask, value_proj,
                                  biases, time_major=False):
    B, T, D, A, Q = sizes
    Dv = data.draw(st.integers(1, 5)) if value_proj else D

    def arr(*shape):
        return data.draw(nt.arrays(shape, low=-1, high=1)).astype(dtype)
    mask = None
    if with_mask:
        mask = np.array(data.draw(st.lists(st.lists(st.booleans(), min_size=T, max_size=T),
                                           min_size=B, max_size=B)))
        if data.draw(st.booleans()):
            mask[data.draw(st.integers(0, B - 1))] = False    # an all-masked row
    args = attention_args(arr, B, T, D, A, Q, Dv, kind, mask, value_proj, biases)
    if time_major:
        args = (np.ascontiguousarray(args[0].transpose(1, 0, 2)).transpose(1, 0, 2),
                *args[1:])
    dpooled, dweights = arr(B, Q, Dv), arr(B, Q, T)
    with kernels_on(name) as fast:
        outs = [k.attention_forward(*args, True) for k in (fast, ref)]
        grads = [outputs_and_grads(k, o[2], dpooled, dweights)
                 for k, o in zip((fast, ref), outs)]
    got_all = outs[0][:2] + grads[0]
    want_all = outs[1][:2] + grads[1]
    truth = attention_wide(args, dpooled, dweights, dtype)
    spread, rng = [0.0] * len(truth), np.random.default_rng(0)
    for _ in range(2):
        moved = attention_wide(args, dpooled, dweights, dtype, rng)
        spread = [0.0 if t is None else max(sp, float(np.max(np.abs(m - t))))
                  for sp, m, t in zip(spread, moved, truth)]
    names = ("pooled", "weights") + ATTN_GRADS
    for what, got, want, t, sp in zip(names, got_all, want_all, truth, spread):
        if want is None:
            assert got is None, what
            continue
        assert got.dtype == dtype and got.shape == want.shape, what
        assert_close_or_as_accurate(got, want, t, sp, dtype, what)
    if mask is not None:
        empty = ~mask.any(axis=1)
        assert not np.any(got_all[0][empty]) and not np.any(got_all[1][empty])
        assert not np.any(got_all[2][empty])           # dh of an all-masked sequence


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
@pytest.mark.parametrize("value_proj", [False, True])
def test_time_major_input_is_read_in_place(kind, value_proj):
    """The Numba kernels read an LSTM's time-major output (h = y.transpose(0, 1), y (T, B,
    D) C-contiguous) where it lies, and give dh in the same layout, so the LSTM's backward
    reads it without a copy; the results are those of h copied into batch-major order."""
    if "numba" not in FULL:
        pytest.skip("the Numba backend does not load here")
    rng = np.random.default_rng(4)
    B, T, D, A, Q = 3, 5, 4, 3, 2

    def arr(*shape):
        return rng.uniform(-1, 1, shape).astype(np.float32)
    h, params, kind, _ = attention_args(arr, B, T, D, A, Q, 2 if value_proj else D, kind,
                                        None, value_proj)
    y = np.ascontiguousarray(h.transpose(1, 0, 2))
    dpooled, dweights = arr(B, Q, 2 if value_proj else D), arr(B, Q, T)
    with kernels_on("numba") as fast:
        results = []
        for given in (y.transpose(1, 0, 2), np.ascontiguousarray(h)):
            pooled, weights, cache = fast.attention_forward(given, params, kind, None, True)
            results.append((pooled, weights, cache,
                            outputs_and_grads(fast, cache, dpooled, dweights)))
    (*in_place, cache, grads), (*copied, _, grads_c) = results
    assert np.shares_memory(cache.h2, y)
    assert grads[0].transpose(1, 0, 2).flags.c_contiguous            # dh, time-major
    for got, want in zip((*in_place, *grads), (*copied, *grads_c)):
        if want is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_attention_huge_scores_stay_finite(name, kind, dtype):
    rng = np.random.default_rng(0)
    B, T, D, A, Q = 3, 5, 4, 3, 2

    def arr(*shape):
        return rng.uniform(-1, 1, shape).astype(dtype)
    mask = np.array([[1, 1, 0, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], bool)
    h, params, kind, _ = attention_args(arr, B, T, D, A, Q, D, kind, mask, True)
    params = params._replace(query=(params.query * 1e4).astype(dtype))  # scores of 1e4
    for m in (mask, None):
        args = (h, params, kind, m)
        with np.errstate(all="raise"), kernels_on(name) as fast:
            pooled, weights, cache = fast.attention_forward(*args, True)
            grads = outputs_and_grads(fast, cache, arr(B, Q, D), arr(B, Q, T))
        want = ref.attention_forward(*args, False)
        # the softmax turns an absolute error δ of a score into a relative error δ of its
        # weight, and each score (|score| <= Σ_a |q_a|, as |tanh|, σ <= 1) carries a few
        # roundings of its own size: one ulp of a 1e4 score is 1e-3 in float32
        rtol, floor = TOL[dtype]
        rtol += 8 * np.finfo(dtype).eps * float(np.abs(params.query).sum(axis=1).max())
        for got, w in zip((pooled, weights), want[:2]):
            assert np.all(np.isfinite(got))
            np.testing.assert_allclose(got, w, rtol=rtol, atol=floor * float(np.max(np.abs(w))),
                                       err_msg="1e4 scores")
        assert all(np.all(np.isfinite(g)) for g in grads if g is not None)


@pytest.mark.parametrize("name", FAST)
def test_attention_complex_input_runs_on_the_reference_path(name):
    rng = np.random.default_rng(0)

    def arr(*shape):
        return rng.standard_normal(shape) + 0j
    args = attention_args(arr, 2, 3, 2, 2, 2, 2, "gated", None, True)
    dp, dw = arr(2, 2, 2), arr(2, 2, 3)
    with kernels_on(name) as fast:
        got = fast.attention_forward(*args, True)
        got_grads = outputs_and_grads(fast, got[2], dp, dw)
    want = ref.attention_forward(*args, True)
    for g, w in zip(got[:2], want[:2]):
        np.testing.assert_array_equal(g, w)
    for g, w in zip(got_grads, outputs_and_grads(ref, want[2], dp, dw)):
        if w is None:
            assert g is None
        else:
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize("value_proj", [False, True])
@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_attention_module_same_on_every_backend(name, kind, value_proj):
    import nongate_np as ng
    ng.seed(0)
    m = ng.nn.AttentionPooling(4, 3, kind=kind, num_queries=2, value_proj=value_proj,
                               value_size=5 if value_proj else None, dtype=np.float64)
    h = np.random.default_rng(1).standard_normal((3, 6, 4))
    lengths = np.array([6, 2, 0])
    results = []
    for backend in (name, "numpy"):
        with registry.backend(backend):
            x = ng.tensor(h, requires_grad=True)
            pooled, weights = m(x, lengths=lengths)
            m.zero_grad()
            ((pooled * pooled).sum() + (weights * weights).sum()).backward()
            results.append((pooled.data, weights.data, x.grad,
                            {k: p.grad.copy() for k, p in m.named_parameters()}))
    (p1, w1, g1, pg1), (p2, w2, g2, pg2) = results
    assert_close(p1, p2, np.float64, "pooled")
    assert_close(w1, w2, np.float64, "weights")
    assert_close(g1, g2, np.float64, "dh")
    for k in pg2:
        assert_close(pg1[k], pg2[k], np.float64, k)


@pytest.mark.parametrize("name", FULL)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_attention_kernels_agree_at_vector_widths(name, kind, dtype):
    """Sizes past the SIMD widths, so the vectorised loop bodies and their remainders run."""
    rng = np.random.default_rng(1)
    B, T, D, A, Q, Dv = 3, 37, 33, 19, 3, 21

    def arr(*shape):
        return rng.uniform(-1, 1, shape).astype(dtype)
    mask = np.arange(T)[None, :] < np.array([37, 5, 0])[:, None]
    for value_proj in (False, True):
        args = attention_args(arr, B, T, D, A, Q, Dv if value_proj else D, kind, mask,
                              value_proj)
        dpooled, dweights = arr(B, Q, Dv if value_proj else D), arr(B, Q, T)
        with kernels_on(name) as fast:
            outs = [k.attention_forward(*args, True) for k in (fast, ref)]
            grads = [outputs_and_grads(k, o[2], dpooled, dweights)
                     for k, o in zip((fast, ref), outs)]
        truth = attention_wide(args, dpooled, dweights, dtype)
        names = ("pooled", "weights") + ATTN_GRADS
        for what, got, want, t in zip(names, outs[0][:2] + grads[0], outs[1][:2] + grads[1],
                                      truth):
            if want is None:
                assert got is None, what
                continue
            assert_close_or_as_accurate(got, want, t, 0.0, dtype, what)


@pytest.mark.parametrize("name", FULL)
@given(sizes=st.tuples(*(st.integers(1, 4) for _ in range(5))), data=st.data(),
       dtype=st.sampled_from([np.float64, np.float32]),
       kind=st.sampled_from(ATTENTION_KINDS), value_proj=st.booleans())
def test_online_pooling_agrees(name, sizes, data, dtype, kind, value_proj):
    check_online_pooling_agrees(name, sizes, data, dtype, kind, value_proj)


@on_the_simulator
@SIMULATOR_SETTINGS
@given(sizes=st.tuples(*(st.integers(1, 2) for _ in range(5))), data=st.data(),
       dtype=st.sampled_from([np.float64, np.float32]),
       kind=st.sampled_from(ATTENTION_KINDS), value_proj=st.booleans())
def test_online_pooling_agrees_on_the_simulator(name, sizes, data, dtype, kind, value_proj):
    check_online_pooling_agrees(name, sizes, data, dtype, kind, value_proj)


def check_online_pooling_agrees(name, sizes, data, dtype, kind, value_proj):
    """attention_online over chunks (A16-A17): each chunk's result equals the reference's
    online pooling, and after the last chunk the batch forward on the whole sequences."""
    B, T, D, A, Q = sizes
    Dv = data.draw(st.integers(1, 5)) if value_proj else D

    def arr(*shape):
        return data.draw(nt.arrays(shape, low=-1, high=1)).astype(dtype)
    lengths = np.array(data.draw(st.lists(st.integers(0, T), min_size=B, max_size=B)))
    mask = np.arange(T)[None, :] < lengths[:, None]
    h, params, _, _ = attention_args(arr, B, T, D, A, Q, Dv, kind, mask, value_proj)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, T), max_size=3))) | {T})
    state = want_state = None
    with kernels_on(name) as fast:
        for a, b in zip([0] + cuts, cuts):
            got, state = fast.attention_online(state, h[:, a:b], params, kind, mask[:, a:b])
            want, want_state = ref.attention_online(want_state, h[:, a:b], params, kind,
                                                    mask[:, a:b])
            assert got.dtype == want.dtype == dtype
            assert_close(got, want, dtype, f"online pooling, steps {a}:{b}")
    batch = ref.attention_forward(h, params, kind, mask, False)[0]
    assert_close(got, batch, dtype, "online pooling after the last chunk")
