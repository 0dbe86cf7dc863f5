"""The Numba CPU kernels agree with the NumPy reference: outputs and every gradient."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from nongate_np import testing as nt
from nongate_np.kernels import reference as ref

cpu = pytest.importorskip("nongate_np.kernels.cpu")

# rtol, and an absolute floor relative to the largest reference value (normwise).
TOL = {np.float64: (1e-12, 1e-13), np.float32: (1e-5, 1e-6)}


def assert_close(got, want, dtype, what):
    rtol, floor = TOL[dtype]
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=floor * scale, err_msg=what)


@given(sizes=nt.lstm_sizes(max_T=6, max_B=4, max_I=5, max_H=6), data=st.data(),
       dtype=st.sampled_from([np.float64, np.float32]), reverse=st.booleans(),
       proj=st.booleans(), with_lengths=st.booleans())
def test_lstm_kernels_agree(sizes, data, dtype, reverse, proj, with_lengths):
    T, B, I, H = sizes
    P = data.draw(st.integers(1, H)) if proj else H

    def arr(*shape):
        return data.draw(nt.arrays(shape, low=-1, high=1)).astype(dtype)
    x, h0, c0 = arr(T, B, I), arr(B, P), arr(B, H)
    w_ih, w_hh, b = arr(4 * H, I), arr(4 * H, P), arr(4 * H)
    w_hr = arr(P, H) if proj else None
    lengths = np.array(data.draw(st.lists(st.integers(0, T), min_size=B, max_size=B))) \
        if with_lengths else None
    outs = [k.lstm_forward(x, h0, c0, w_ih, w_hh, b, w_hr, lengths, reverse, True)
            for k in (cpu, ref)]
    for name, got, want in zip(("y", "h_n", "c_n"), outs[0][:3], outs[1][:3]):
        assert got.dtype == dtype, name
        assert_close(got, want, dtype, name)
    dy, dh, dc = arr(T, B, P), arr(B, P), arr(B, H)
    grads = [k.lstm_backward(o[3], dy, dh, dc) for k, o in zip((cpu, ref), outs)]
    names = ("dx", "dh0", "dc0", "dw_ih", "dw_hh", "db", "dw_hr")
    for name, got, want in zip(names, *grads):
        if want is None:
            assert got is None, name
            continue
        assert got.dtype == dtype, name
        assert_close(got, want, dtype, name)


def test_complex_input_runs_on_the_reference_path():
    rng = np.random.default_rng(0)
    T, B, I, H = 3, 2, 2, 2
    args = [rng.standard_normal(s) + 0j for s in [(T, B, I), (B, H), (B, H), (4 * H, I),
                                                  (4 * H, H), (4 * H,)]]
    got = cpu.lstm_forward(*args, None, None, False, False)[0]
    want = ref.lstm_forward(*args, None, None, False, False)[0]
    np.testing.assert_array_equal(got, want)
