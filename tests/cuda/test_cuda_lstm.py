"""The CUDA LSTM kernels (kernels/cuda/lstm.py) against the NumPy reference, on the simulator
without a GPU (tests/conftest.py chooses): every output and every gradient, with each result
array NaN-poisoned before the kernels write it, so an element left unwritten fails.

Sizes are tiny (T ≤ 4, B ≤ 3, H ≤ 4): the simulator runs each CUDA thread as an OS thread,
and a case costs about a second, most of it in the tiled products."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import numba  # noqa: E402  (after the skip)

from nongate_np.kernels import reference as ref  # noqa: E402
from nongate_np.kernels.contract import LSTMParams, LSTMState  # noqa: E402
from nongate_np.kernels.cuda import arrays, lstm  # noqa: E402

# rtol, and an absolute floor relative to the largest reference value (normwise), as in
# tests/test_backends_agree.py
TOL = {np.float64: (1e-12, 1e-13), np.float32: (1e-5, 1e-6)}
NAMES = ("y", "h_n", "c_n", "dx", "dh0", "dc0") + tuple(f"d{f}" for f in LSTMParams._fields)


def assert_close(got, want, dtype, what):
    rtol, floor = TOL[dtype]
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=floor * scale, err_msg=what)


def make_case(seed, T, B, I, H, P, proj, dtype):
    """Random inputs: x, the initial state, the parameters, and the adjoints dy, dh_n, dc_n."""
    rng = np.random.default_rng(seed)

    def arr(*shape):
        return (rng.standard_normal(shape) * 0.7).astype(dtype)

    params = LSTMParams(arr(4 * H, I), arr(4 * H, P), arr(4 * H), arr(P, H) if proj else None)
    return (arr(T, B, I), LSTMState(arr(B, P), arr(B, H)), params,
            (arr(T, B, P), LSTMState(arr(B, P), arr(B, H))))


def run(k, x, state0, params, lengths, reverse, grads_in):
    """``k``'s forward and backward, flattened in the order of NAMES."""
    y, state, cache = k.lstm_forward(x, state0, params, lengths, reverse, True)
    dy, dstate = grads_in
    dx, dstate0, grads = k.lstm_backward(cache, dy, dstate)
    return (y, *state, dx, *dstate0, *grads)


def assert_agree(got, want, dtype):
    for name, g, w in zip(NAMES, got, want, strict=True):
        if w is None:
            assert g is None, name
            continue
        g = arrays.to_host(g)
        assert isinstance(g, np.ndarray) and g.dtype == dtype and g.shape == w.shape, name
        assert_close(g, w, dtype, name)


# (T, B, I, H, P or None without a projection, lengths or None, reverse, dtype): lengths
# include 0 (a row that never runs) and T; each case one seed
CASES = [
    (3, 3, 2, 3, None, [0, 3, 2], False, np.float64),
    (3, 3, 2, 3, 2, [3, 0, 1], True, np.float64),
    (4, 2, 3, 2, None, None, True, np.float64),
    (2, 3, 1, 4, 3, None, False, np.float64),
    (3, 3, 2, 3, None, [2, 3, 0], True, np.float32),
    (3, 2, 2, 3, 1, [1, 3], False, np.float32),
]


# the forward's two paths, forced: the persistent one on one block, as the simulator's grid
# sync is a block barrier
PATHS = ("per_step", "persistent")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("seed, case", list(enumerate(CASES)))
def test_lstm_matches_reference(seed, case, path):
    T, B, I, H, P, lengths, reverse, dtype = case
    x, state0, params, grads_in = make_case(seed, T, B, I, H, P or H, P is not None, dtype)
    lens = None if lengths is None else np.array(lengths)
    want = run(ref, x, state0, params, lens, reverse, grads_in)
    with arrays.poisoned(), lstm.force_forward_path(path, 1):
        got = run(lstm, x, state0, params, lens, reverse, grads_in)
    assert all(isinstance(g, np.ndarray) for g in got if g is not None)  # host in, host out
    assert_agree(got, want, dtype)


@pytest.mark.parametrize("path", PATHS)
def test_device_arrays_in_give_device_arrays_out_and_are_not_overwritten(path):
    dtype = np.float64
    T, B, I, H, P = 3, 3, 2, 3, 2
    x, state0, params, (dy, dstate) = make_case(7, T, B, I, H, P, True, dtype)
    lens = np.array([3, 0, 2])
    want = run(ref, x, state0, params, lens, True, (dy, dstate))

    def dev(a):
        return arrays.to_device(a, dtype)

    state0_d = LSTMState(*map(dev, state0))
    dstate_d = LSTMState(*map(dev, dstate))
    with arrays.poisoned(), lstm.force_forward_path(path, 1):
        got = run(lstm, dev(x), state0_d, LSTMParams(*map(dev, params)),
                  arrays.to_device(lens, np.int64), True, (dev(dy), dstate_d))
    assert all(arrays.is_device(g) for g in got)
    assert_agree(got, want, dtype)
    for name, before, after in zip(("h0", "c0", "dh_n", "dc_n"), (*state0, *dstate),
                                   (*state0_d, *dstate_d), strict=True):
        np.testing.assert_array_equal(after.copy_to_host(), before, err_msg=name)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("proj", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_without_cache_gives_the_same_outputs(dtype, proj, path):
    x, state0, params, _ = make_case(3, 3, 2, 2, 3, 2 if proj else 3, proj, dtype)
    lens = np.array([1, 3])
    y_ref, state_ref, _ = ref.lstm_forward(x, state0, params, lens, False, False)
    with arrays.poisoned(), lstm.force_forward_path(path, 1):
        y, state, cache = lstm.lstm_forward(x, state0, params, lens, False, False)
    assert cache is None
    for name, g, w in zip(NAMES, (y, *state), (y_ref, *state_ref)):
        assert_close(g, w, dtype, name)


def test_complex_input_runs_on_the_reference_kernels():
    x, state0, params, (dy, dstate) = make_case(5, 2, 2, 2, 2, 2, False, np.complex128)
    want = run(ref, x, state0, params, None, False, (dy, dstate))
    got = run(lstm, x, state0, params, None, False, (dy, dstate))
    for name, g, w in zip(NAMES, got, want):
        if w is not None:
            np.testing.assert_array_equal(g, w, err_msg=name)


def test_forward_plan_rule():
    """``_forward_plan``: one thread per (b, j) in blocks of THREADS, at least as many blocks
    as W_hh's rows need to fit PERSISTENT_SHARED_BYTES each, at most H and the co-resident
    limit; per step when the fitting block count is not co-resident, or for T = 0."""
    plan, threads = lstm._forward_plan, lstm.THREADS
    assert plan(5, 2, 8, 8, 8, lambda: 1) == 1                  # tiny: one block
    assert plan(5, threads, 8, 8, 4, lambda: 100) == 8          # B·H / THREADS blocks
    assert plan(5, threads, 8, 8, 4, lambda: 3) == 3            # capped by the device
    assert plan(0, 2, 8, 8, 8, lambda: 1) is None               # no step
    fit = lstm._units_fit(256, 8)                                 # units per block, P = 256
    assert fit * 4 * 256 * 8 <= lstm.PERSISTENT_SHARED_BYTES < (fit + 1) * 4 * 256 * 8
    need = -(-1024 // fit)
    assert plan(5, 1, 1024, 256, 8, lambda: 10_000) == need
    assert plan(5, 1, 1024, 256, 8, lambda: need) == need
    assert plan(5, 1, 1024, 256, 8, lambda: need - 1) is None   # W_hh does not fit
    too_wide = lstm.PERSISTENT_SHARED_BYTES // (4 * 8) + 1        # one unit's rows too big
    assert plan(5, 1, 4, too_wide, 8, lambda: 10_000) is None


def test_forced_paths_and_their_errors():
    plan = lstm._forward_plan
    with lstm.force_forward_path("per_step"):
        assert plan(5, 2, 8, 8, 8, lambda: 1) is None
    with lstm.force_forward_path("persistent"):
        assert plan(5, 2, 8, 8, 8, lambda: 0) == 1              # the device is not asked
        assert plan(0, 2, 8, 8, 8, lambda: 1) is None
    assert plan(5, 2, 8, 8, 8, lambda: 1) == 1                  # restored on leaving
    with lstm.force_forward_path("persistent", 2):
        if numba.config.ENABLE_CUDASIM:     # the simulator runs blocks one after another
            with pytest.raises(ValueError, match="one block"):
                plan(5, 2, 8, 8, 8, lambda: 2)
        else:
            assert plan(5, 2, 8, 8, 8, lambda: 2) == 2
    too_wide = lstm.PERSISTENT_SHARED_BYTES // (4 * 8) + 1
    with lstm.force_forward_path("persistent", 1), pytest.raises(ValueError, match="fit"):
        plan(5, 2, 4, too_wide, 8, lambda: 1)
    with pytest.raises(ValueError, match="path"):
        with lstm.force_forward_path("fused"):  # type: ignore[arg-type]
            pass
    with pytest.raises(ValueError, match="blocks"):
        with lstm.force_forward_path("persistent", 0):
            pass
