"""The Numba LSTM kernels' own pieces: the step loop's split of the batch over threads
(the forward's bits the same split or not), the lean serial forward and H_prev from the
shifted output (their agreement with the reference is tests/test_backends_agree.py's)."""

from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nongate_np.kernels import reference as ref
from nongate_np.kernels.contract import LSTMParams, LSTMState

cpu = pytest.importorskip("nongate_np.kernels.cpu")
from nongate_np.kernels.cpu import lstm as cpu_lstm  # noqa: E402
from nongate_np.kernels.cpu import threads, tuning  # noqa: E402  (after the importorskip)


def test_the_step_loop_can_split():
    """The parallel path of the agreement tests tests something: here the loop does split."""
    with tuning.force_split():
        bounds = threads.batch_chunks(5, 1)
    if len(bounds) < 3:
        pytest.skip("one thread, or no BLAS thread control here")
    assert bounds[0] == 0 and bounds[-1] == 5 and np.all(np.diff(bounds) > 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("keep_cache", [False, True])
def test_forward_bits_whatever_the_split(dtype, keep_cache):
    """With the input term made in the step loop (docs/math.md K6) and chunks of at least 3
    rows, each row of every product in the forward is summed alone in k order (K5): split
    over the threads or not, the same output, final state and cache, bit for bit."""
    with tuning.force_split():
        n = len(threads.batch_chunks(1 << 20, 1)) - 1
    if n < 2:
        pytest.skip("one thread, or no BLAS thread control here")
    rng = np.random.default_rng(6)
    T, B, I, H = 5, 3 * n + 2, 9, 21
    u = lambda *shape: rng.uniform(-0.5, 0.5, shape).astype(dtype)  # noqa: E731
    x, state = u(T, B, I), LSTMState(u(B, H), u(B, H))
    params = LSTMParams(u(4 * H, I), u(4 * H, H), u(4 * H), None)
    results = []
    for split in (tuning.force_split, tuning.force_serial):
        with split(), tuning.force_projection("loop"):
            rows = np.diff(threads.batch_chunks(B, 1))
            assert (len(rows) > 1 and rows.min() >= 3) if split is tuning.force_split \
                else len(rows) == 1
            y, (h, c), cache = cpu_lstm.lstm_forward(x, state, params, None, False,
                                                     keep_cache)
        results.append([y, h, c] + ([cache.gates, cache.c, cache.tanh_c] if keep_cache
                                    else []))
    for k, (got, want) in enumerate(zip(*results)):
        np.testing.assert_array_equal(got, want, err_msg=f"output {k}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("proj, reverse, lengths", [(False, False, None),
                                                    (True, True, [5, 0, 3])])
@pytest.mark.parametrize("where", ["loop", "product"])
def test_lean_serial_forward_gives_the_general_paths_bits(dtype, proj, reverse, lengths,
                                                          where):
    """Unsplit, the forward skips the general path's bookkeeping (``_forward_serial``): the
    same bits as the general path, outputs and (for training) the cache the backward reads,
    with the input term made inside the step loop and as a product before it."""
    rng = np.random.default_rng(1)
    T, B, I, H = 5, 3, 4, 6
    P = 2 if proj else H
    u = lambda *shape: rng.uniform(-0.5, 0.5, shape).astype(dtype)  # noqa: E731
    x, state = u(T, B, I), LSTMState(u(B, P), u(B, H))
    params = LSTMParams(u(4 * H, I), u(4 * H, P), u(4 * H), u(P, H) if proj else None)

    def both_calls():
        return [cpu_lstm.lstm_forward(x, state, params, lengths, reverse, keep)
                for keep in (False, True)]
    with tuning.force_projection(where):
        assert cpu_lstm._project_in_loop(x, B, 4 * H) == (where == "loop")
        assert cpu_lstm._serial(x, state, params, np.dtype(dtype)), "the lean path is not taken"
        lean = both_calls()
        with mock.patch.object(cpu_lstm, "_serial", return_value=False):
            general = both_calls()
    for (y, (h, c), cache), (y_g, (h_g, c_g), cache_g) in zip(lean, general):
        assert (cache is None) == (cache_g is None)
        for got, want in ((y, y_g), (h, h_g), (c, c_g)):
            assert got.dtype == dtype
            np.testing.assert_array_equal(got, want)
    cache, cache_g = lean[1][2], general[1][2]
    for field in ("x", "y", "gates", "c", "tanh_c", "active"):
        np.testing.assert_array_equal(getattr(cache, field), getattr(cache_g, field), field)
    assert cache.reverse == cache_g.reverse
    ref_y, _, _ = ref.lstm_forward(x, state, params, lengths, reverse, False)
    np.testing.assert_allclose(lean[0][0], ref_y, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("proj, reverse, lengths", [(False, False, None),
                                                    (True, True, [5, 0, 3, 2, 4, 1, 5])])
@pytest.mark.parametrize("where", ["loop", "product"])
def test_weights_packed_by_each_chunk_give_the_callers_panels_bits(dtype, split, proj, reverse,
                                                                  lengths, where):
    """Each chunk packing W_hh (and W_ihᵀ) itself (``own``, small weights) and the caller
    packing them once for every chunk (``OWN_PANELS_MAX_BYTES`` 0): the same bits, forward
    (outputs, cache) and backward (every gradient), serial and split over threads, with the
    input term inside the step loop and before it. A weight that is not C-contiguous (W_hh
    here in Fortran order) is packed the same."""
    rng = np.random.default_rng(3)
    T, B, I, H = 5, 7, 4, 6
    P = 2 if proj else H
    u = lambda *shape: rng.uniform(-0.5, 0.5, shape).astype(dtype)  # noqa: E731
    x, state = u(T, B, I), LSTMState(u(B, P), u(B, H))
    params = LSTMParams(u(4 * H, I), np.asfortranarray(u(4 * H, P)),
                        u(4 * H), u(P, H) if proj else None)
    assert not params.w_hh.flags.c_contiguous
    dy, dstate = u(T, B, P), LSTMState(u(B, P), u(B, H))

    def forward_and_backward():
        y, (h, c), cache = cpu_lstm.lstm_forward(x, state, params, lengths, reverse, True)
        y_infer, _, _ = cpu_lstm.lstm_forward(x, state, params, lengths, reverse, False)
        dx, (dh0, dc0), grads = cpu_lstm.lstm_backward(cache, dy, dstate)
        return (y, h, c, cache.gates, cache.c, cache.tanh_c, y_infer, dx, dh0, dc0,
                *(g for g in grads if g is not None))
    with tuning.force_split() if split else tuning.force_serial(), \
            tuning.force_projection(where):
        assert cpu_lstm._own_panels(params.w_hh, np.dtype(dtype))
        own = forward_and_backward()
        with tuning.override(OWN_PANELS_MAX_BYTES=0):
            assert not cpu_lstm._own_panels(params.w_hh, np.dtype(dtype))
            shared = forward_and_backward()
    assert len(own) == len(shared) == 13 + proj
    for k, (got, want) in enumerate(zip(own, shared)):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want, err_msg=f"output {k}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse, lengths, state_dtype", [(False, None, None),
                                                           (True, [5, 0, 3], np.float64)])
@pytest.mark.parametrize("B", [1, 3])
def test_lean_serial_backward_gives_the_general_paths_bits(dtype, reverse, lengths,
                                                           state_dtype, B):
    """Unsplit and without a projection, the backward skips the general path's bookkeeping
    (``_backward_serial``): every gradient the same bits as the general path's, for one row
    (whose bias gradient is that row's sum, not a sum over rows) and several, with lengths,
    reversed, and with adjoints of the final states in another dtype; and the reference's
    values."""
    rng = np.random.default_rng(4)
    T, I, H = 5, 4, 6
    lengths = None if lengths is None else lengths[:B]
    u = lambda *shape, d=dtype: rng.uniform(-0.5, 0.5, shape).astype(d)  # noqa: E731
    x, state = u(T, B, I), LSTMState(u(B, H), u(B, H))
    params = LSTMParams(u(4 * H, I), u(4 * H, H), u(4 * H), None)
    _, _, cache = cpu_lstm.lstm_forward(x, state, params, lengths, reverse, True)
    dy = u(T, B, H)
    dstate = LSTMState(u(B, H, d=state_dtype or dtype), u(B, H, d=state_dtype or dtype))
    with tuning.force_serial():
        assert cpu_lstm._serial_backward(threads.batch_chunks(B, 1), None)
        with mock.patch.object(cpu_lstm, "_backward_serial",
                               wraps=cpu_lstm._backward_serial) as lean_path:
            dx, (dh0, dc0), grads = cpu_lstm.lstm_backward(cache, dy, dstate)
        assert lean_path.call_count == 1, "the lean path is not taken"
        with mock.patch.object(cpu_lstm, "_serial_backward", return_value=False):
            dx_g, (dh0_g, dc0_g), grads_g = cpu_lstm.lstm_backward(cache, dy, dstate)
    assert grads.w_hr is None and grads_g.w_hr is None
    for k, (got, want) in enumerate(zip((dx, dh0, dc0, *grads[:3]),
                                        (dx_g, dh0_g, dc0_g, *grads_g[:3]))):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want, err_msg=f"gradient {k}")
    _, _, ref_cache = ref.lstm_forward(x, state, params, lengths, reverse, True)
    ref_dx, _, ref_grads = ref.lstm_backward(ref_cache, dy, dstate)
    tol = dict(rtol=1e-4, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-13)
    for got, want in ((dx, ref_dx), (grads.w_hh, ref_grads.w_hh), (grads.b, ref_grads.b)):
        np.testing.assert_allclose(got, want, **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse, T, B", [(False, 5, 3), (True, 4, 2), (False, 1, 1)])
def test_weight_products_in_one_call_give_gemm_matmuls_bits(dtype, reverse, T, B):
    """At sizes ``gemm.matmuls`` makes as one unsplit BLAS call each, the backward's three
    products (dX, dW_ih, dW_hh, L13) run in one compiled call: the same bits as
    ``gemm.matmuls`` on the same operands, one step and one row (vectors) included."""
    from nongate_np.kernels.cpu import gemm
    rng = np.random.default_rng(5)
    I, H = 4, 6
    u = lambda *shape: rng.uniform(-0.5, 0.5, shape).astype(dtype)  # noqa: E731
    x, state = u(T, B, I), LSTMState(u(B, H), u(B, H))
    params = LSTMParams(u(4 * H, I), u(4 * H, H), u(4 * H), None)
    _, _, cache = cpu_lstm.lstm_forward(x, state, params, None, reverse, True)
    da = u(T, B, 4 * H)
    assert gemm.unsplit(T * B * 4 * H * max(I, H)), "the one-call path is not taken"
    got = cpu_lstm._weight_products(cache, da)
    da2 = da.reshape(T * B, 4 * H)
    h_prev = cache.h_prev if cache.h_prev is not None else cpu_lstm._h_prev(
        cache.y, state.h, cache.active, reverse)
    want = gemm.matmuls((da2, params.w_ih), (da2.T, x.reshape(T * B, I)),
                        (da2.T, h_prev.reshape(T * B, H)))
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == dtype
        np.testing.assert_array_equal(g.reshape(w.shape), w, err_msg=f"product {k}")


def test_the_input_term_is_made_in_the_loop_on_chunks_of_enough_rows():
    """bench/KERNEL_NOTES.md, "Step loop: input term on few rows": one row per chunk, or
    inputs wider than STEP_PROJECTION_MAX_INPUTS, get one product before the loop; two rows
    only for a small W_ihᵀ; three rows and more always."""
    x = lambda I: np.empty((2, 1, I), np.float32)  # noqa: E731
    small = tuning.STEP_PROJECTION_MIN_ROWS_MAX_WEIGHTS // (4 * 64)
    assert not cpu_lstm._project_in_loop(x(16), 1, 4 * 32)
    assert cpu_lstm._project_in_loop(x(small), 2, 4 * 64)
    assert not cpu_lstm._project_in_loop(x(small + 1), 2, 4 * 64)
    assert cpu_lstm._project_in_loop(x(tuning.STEP_PROJECTION_MAX_INPUTS), 3, 4 * 1024)
    assert not cpu_lstm._project_in_loop(x(tuning.STEP_PROJECTION_MAX_INPUTS + 1), 64, 4 * 8)
    with tuning.force_projection("loop"):
        assert cpu_lstm._project_in_loop(x(4096), 1, 4 * 1024)
    with tuning.force_projection("product"):
        assert not cpu_lstm._project_in_loop(x(1), 64, 4)
    with pytest.raises(ValueError, match="'loop' or 'product', got 'inside'"):
        tuning.force_projection("inside")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("B, lengths", [(1, None), (1, [2]), (5, [4, 0, 1, 4, 2])])
@pytest.mark.parametrize("keep_cache", [False, True])
def test_two_directions_at_once_give_each_directions_own_bits(dtype, B, lengths, keep_cache):
    """A bidirectional layer's directions on two threads at once (``lstm_forward_bidirectional``,
    for one sequence worth a split) or one after the other (several, or not worth a
    split): each direction's outputs (and cache) the bits of its own ``lstm_forward``; and
    so on one thread (``threads.num_threads`` 1)."""
    rng = np.random.default_rng(5)
    T, I, H = 4, 3, 5
    u = lambda *shape: rng.uniform(-0.5, 0.5, shape).astype(dtype)  # noqa: E731
    x = u(T, B, I)
    states = tuple(LSTMState(u(B, H), u(B, H)) for _ in range(2))
    params = tuple(LSTMParams(u(4 * H, I), u(4 * H, H), u(4 * H), None) for _ in range(2))

    def fields(result):
        y, (h, c), cache = result
        return [y, h, c] + ([] if cache is None else [cache.gates, cache.c, cache.tanh_c])
    for split in (tuning.force_split, tuning.force_serial):
        with split():
            assert cpu_lstm._directions_apart(x, params[0]) == (
                split is tuning.force_split and B == 1 and threads.num_threads() > 1)
            alone = [cpu_lstm.lstm_forward(x, states[d], params[d], lengths, bool(d),
                                           keep_cache) for d in (0, 1)]
            both = cpu_lstm.lstm_forward_bidirectional(x, states, params, lengths, keep_cache)
            with mock.patch.object(threads, "num_threads", return_value=1):
                one_thread = cpu_lstm.lstm_forward_bidirectional(x, states, params, lengths,
                                                                 keep_cache)
                alone_one_thread = [cpu_lstm.lstm_forward(x, states[d], params[d], lengths,
                                                          bool(d), keep_cache) for d in (0, 1)]
        for d in (0, 1):
            for got, want in zip(fields(both[d]) + fields(one_thread[d]),
                                 fields(alone[d]) + fields(alone_one_thread[d])):
                np.testing.assert_array_equal(got, want)
    ref_y, _, _ = ref.lstm_forward(x, states[1], params[1], lengths, True, False)
    np.testing.assert_allclose(both[1][0], ref_y, rtol=1e-5, atol=1e-6)


def test_inference_split_over_threads_takes_the_general_path():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    state = LSTMState(np.zeros((4, 3), np.float32), np.zeros((4, 3), np.float32))
    params = LSTMParams(*(rng.standard_normal(s).astype(np.float32)
                          for s in ((12, 2), (12, 3), (12,))), None)
    with tuning.force_split():
        if len(threads.batch_chunks(4, 1)) < 3:
            pytest.skip("one thread, or no BLAS thread control here")
        assert not cpu_lstm._serial(x, state, params, np.dtype(np.float32))
        y, _, _ = cpu_lstm.lstm_forward(x, state, params, None, False, False)
    np.testing.assert_allclose(y, ref.lstm_forward(x, state, params, None, False, False)[0],
                               rtol=1e-5, atol=1e-6)


@given(T=st.integers(1, 6), B=st.integers(1, 5), P=st.integers(1, 4),
       reverse=st.booleans(), data=st.data())
def test_h_prev_from_the_shifted_output_is_the_references_at_active_steps(T, B, P, reverse,
                                                                         data):
    """docs/math.md L13: y shifted by one step and h0 at each row's first step is H_prev as
    the reference rebuilds it at every active step, for any lengths (0 and T too), so that
    dW_hh = δAᵀ H_prev: y is zero at inactive steps and δa is zero there, as the forward and
    L14 make them."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))
    lengths = np.array(data.draw(st.lists(st.integers(0, T), min_size=B, max_size=B)))
    active = ref.lstm_active(T, B, lengths)
    da = rng.standard_normal((T, B, 8)) * active[:, :, None]
    y = rng.standard_normal((T, B, P)) * active[:, :, None]
    h0 = rng.standard_normal((B, P))
    want = ref.lstm_previous(y, h0, active, reverse)
    with mock.patch.object(cpu.lstm.workspace, "empty",          # its buffer starts as NaN
                           lambda shape, dtype, align=False: np.full(shape, np.nan, dtype)):
        got = cpu.lstm._h_prev(y, h0, active, reverse)
    assert np.all(np.isfinite(got)), "an entry of H_prev was left unwritten"
    np.testing.assert_array_equal(got[active], want[active])
    np.testing.assert_allclose(da.reshape(T * B, -1).T @ got.reshape(T * B, P),
                               da.reshape(T * B, -1).T @ want.reshape(T * B, P),
                               rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("reverse, lengths", [(False, None), (False, [5, 0, 3, 2]),
                                              (True, [5, 0, 3, 2])])
def test_h_prev_kept_by_the_forward_is_the_shifted_output(dtype, split, reverse, lengths):
    """The forward direction's cache holds L13's H_prev as a view ([h_0; y] in one buffer),
    equal to what ``_h_prev`` builds from y at every step, inactive ones too; the reverse
    direction's holds none. The backward gives the same bits reading the view as building
    H_prev itself."""
    rng = np.random.default_rng(4)
    T, B, I, H = 5, 4, 3, 6
    u = lambda *shape: rng.uniform(-0.5, 0.5, shape).astype(dtype)  # noqa: E731
    x, state = u(T, B, I), LSTMState(u(B, H), u(B, H))
    params = LSTMParams(u(4 * H, I), u(4 * H, H), u(4 * H), None)
    dy, dstate = u(T, B, H), LSTMState(u(B, H), u(B, H))
    with tuning.force_split() if split else tuning.force_serial():
        y, _, cache = cpu_lstm.lstm_forward(x, state, params, lengths, reverse, True)
        if reverse:
            assert cache.h_prev is None
            return
        assert np.shares_memory(cache.h_prev, y)
        built = cpu_lstm._h_prev(y, state.h, cache.active, reverse)
        np.testing.assert_array_equal(cache.h_prev, built)
        kept = cpu_lstm.lstm_backward(cache, dy, dstate)
        rebuilt = cpu_lstm.lstm_backward(cache._replace(h_prev=None), dy, dstate)
    for got, want in zip((kept[0], *kept[1], *kept[2][:3]),
                         (rebuilt[0], *rebuilt[1], *rebuilt[2][:3])):
        np.testing.assert_array_equal(got, want)
