"""The CUDA LSTM kernels (kernels/cuda/lstm.py) against the NumPy reference, on the simulator
without a GPU (tests/conftest.py chooses): every output and every gradient, with each result
array NaN-poisoned before the kernels write it, so an element left unwritten fails.

Sizes are tiny (T ≤ 4, B ≤ 3, H ≤ 4): the simulator runs each CUDA thread as an OS thread,
and a case costs about a second, most of it in the tiled products."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
from nongate_np.kernels import reference as ref  # noqa: E402  (after the skip)
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


@pytest.mark.parametrize("seed, case", list(enumerate(CASES)))
def test_lstm_matches_reference(seed, case):
    T, B, I, H, P, lengths, reverse, dtype = case
    x, state0, params, grads_in = make_case(seed, T, B, I, H, P or H, P is not None, dtype)
    lens = None if lengths is None else np.array(lengths)
    want = run(ref, x, state0, params, lens, reverse, grads_in)
    with arrays.poisoned():
        got = run(lstm, x, state0, params, lens, reverse, grads_in)
    assert all(isinstance(g, np.ndarray) for g in got if g is not None)  # host in, host out
    assert_agree(got, want, dtype)


def test_device_arrays_in_give_device_arrays_out_and_are_not_overwritten():
    dtype = np.float64
    T, B, I, H, P = 3, 3, 2, 3, 2
    x, state0, params, (dy, dstate) = make_case(7, T, B, I, H, P, True, dtype)
    lens = np.array([3, 0, 2])
    want = run(ref, x, state0, params, lens, True, (dy, dstate))

    def dev(a):
        return arrays.to_device(a, dtype)

    state0_d = LSTMState(*map(dev, state0))
    dstate_d = LSTMState(*map(dev, dstate))
    with arrays.poisoned():
        got = run(lstm, dev(x), state0_d, LSTMParams(*map(dev, params)),
                  arrays.to_device(lens, np.int64), True, (dev(dy), dstate_d))
    assert all(arrays.is_device(g) for g in got)
    assert_agree(got, want, dtype)
    for name, before, after in zip(("h0", "c0", "dh_n", "dc_n"), (*state0, *dstate),
                                   (*state0_d, *dstate_d), strict=True):
        np.testing.assert_array_equal(after.copy_to_host(), before, err_msg=name)


def test_forward_without_cache_gives_the_same_outputs():
    dtype = np.float32
    x, state0, params, _ = make_case(3, 3, 2, 2, 3, 3, False, dtype)
    lens = np.array([1, 3])
    y_ref, state_ref, _ = ref.lstm_forward(x, state0, params, lens, False, False)
    with arrays.poisoned():
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
