"""The Numba GRU kernels (``kernels/cpu/gru.py``, docs/math.md R1-R13) against the NumPy
reference kernels (``kernels/gru_reference.py``): outputs, final state, the cache and every
gradient (float64 to 1e-12, float32 to its rounding), with and without lengths (NaN in the
padding, lengths 0 and T), both directions, the step loop serial and split over threads;
through ``nn.GRU`` (stacked, bidirectional, h0 given or not) and ``nn.GRUCell`` on the
"numba" backend against the "numpy" one; the same bits from two runs; and which kernels the
op runs on each backend."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.kernels import gru_reference as ref
from nongate_np.kernels import registry
from nongate_np.kernels.gru_reference import GRUParams

cpu_gru = pytest.importorskip("nongate_np.kernels.cpu.gru")
from nongate_np.kernels.cpu import threads, tuning  # noqa: E402  (after the importorskip)

# rtol, and an absolute floor relative to the largest reference value (normwise)
TOL = {np.float64: (1e-12, 1e-13), np.float32: (1e-5, 1e-6)}
SPLITS = {"serial": tuning.force_serial, "split": tuning.force_split}


def assert_close(got, want, dtype, what):
    rtol, floor = TOL[dtype]
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    assert got.dtype == dtype, what
    np.testing.assert_allclose(got, want, rtol=rtol, atol=floor * scale, err_msg=what)


def _problem(rng, dtype, T, B, I, H, lengths):
    """Inputs (NaN at the steps past each length), h0, parameters and the outputs'
    adjoints of one layer, uniform in [-1, 1) (weights in [-0.5, 0.5))."""
    u = lambda *shape, s=1.0: (s * rng.uniform(-1, 1, shape)).astype(dtype)  # noqa: E731
    x = u(T, B, I)
    if lengths is not None:
        x[np.arange(T)[:, None] >= np.asarray(lengths)[None, :]] = np.nan
    params = GRUParams(u(3 * H, I, s=0.5), u(3 * H, H, s=0.5), u(3 * H), u(3 * H))
    return x, u(B, H), params, u(T, B, H), u(B, H)


def _run(kernels, x, h0, params, lengths, reverse, dy, dh_n):
    """Forward (inference and training) and backward of one layer on ``kernels``: every
    result, named."""
    y_infer, h_infer, none = kernels.gru_forward(x, h0, params, lengths, reverse, False)
    assert none is None
    y, h_n, cache = kernels.gru_forward(x, h0, params, lengths, reverse, True)
    dx, dh0, grads = kernels.gru_backward(cache, dy, dh_n)
    return {"y": y, "h_n": h_n, "y (inference)": y_infer, "h_n (inference)": h_infer,
            "gates": cache.gates, "gh_n": cache.gh_n, "dx": dx, "dh0": dh0,
            **{"d" + name: g for name, g in zip(GRUParams._fields, grads)}}


def check_agree(split, dtype, T, B, I, H, lengths, reverse, seed):
    x, h0, params, dy, dh_n = _problem(np.random.default_rng(seed), dtype, T, B, I, H, lengths)
    want = _run(ref, x, h0, params, lengths, reverse, dy, dh_n)
    with SPLITS[split]():
        got = _run(cpu_gru, x, h0, params, lengths, reverse, dy, dh_n)
    assert got.keys() == want.keys()
    active = np.arange(T)[:, None] < np.asarray(lengths if lengths is not None else [T] * B)
    for name in want:
        g, w = got[name], want[name]
        if name in ("gates", "gh_n"):          # R14: never read at an inactive step
            g, w = g[active], w[active]
        assert_close(g, w, dtype, name)
    assert np.all(got["y"][~active] == 0) and np.all(got["dx"][~active] == 0)


@pytest.mark.parametrize("split", SPLITS)
@settings(max_examples=30, deadline=None)
@given(T=st.integers(1, 6), B=st.integers(1, 14), I=st.integers(1, 5), H=st.integers(1, 20),
       dtype=st.sampled_from([np.float64, np.float32]), reverse=st.booleans(),
       with_lengths=st.booleans(), data=st.data())
def test_the_kernels_agree_with_the_reference(split, T, B, I, H, dtype, reverse, with_lengths,
                                              data):
    """Batches up to 14 rows (whole and partial blocks of the packed product's rows) and 3H
    up to 60 columns (several panels, and a partial one); lengths from 0 to T."""
    lengths = data.draw(st.lists(st.integers(0, T), min_size=B, max_size=B)) \
        if with_lengths else None
    check_agree(split, dtype, T, B, I, H, lengths, reverse, data.draw(st.integers(0, 2**32 - 1)))


def test_the_step_loop_can_split():
    """The split path of the agreement test tests something: here the loop does split."""
    with tuning.force_split():
        bounds = threads.batch_chunks(5, 1)
    if len(bounds) < 3:
        pytest.skip("one thread, or no BLAS thread control here")
    assert bounds[0] == 0 and bounds[-1] == 5


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_adjoint_of_h_n_in_another_dtype_and_a_fortran_weight(dtype):
    """Arrays not as the kernels take them (dh_n in the other float dtype, W_hh and W_ih in
    Fortran order) are converted, not misread."""
    rng = np.random.default_rng(3)
    x, h0, params, dy, dh_n = _problem(rng, dtype, 4, 3, 2, 5, None)
    params = params._replace(w_hh=np.asfortranarray(params.w_hh),
                             w_ih=np.asfortranarray(params.w_ih))
    other = np.float32 if dtype == np.float64 else np.float64
    dh_n = dh_n.astype(other)
    got = _run(cpu_gru, x, h0, params, None, False, dy, dh_n)
    want = _run(ref, x, h0, params, None, False, dy, dh_n.astype(dtype))
    for name in want:
        assert_close(got[name], want[name], dtype, name)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_two_runs_give_the_same_bits(split, dtype):
    x, h0, params, dy, dh_n = _problem(np.random.default_rng(4), dtype, 7, 9, 5, 13,
                                       [7, 0, 3, 2, 7, 1, 5, 6, 4])
    with SPLITS[split]():
        first = _run(cpu_gru, x, h0, params, [7, 0, 3, 2, 7, 1, 5, 6, 4], True, dy, dh_n)
        second = _run(cpu_gru, x, h0, params, [7, 0, 3, 2, 7, 1, 5, 6, 4], True, dy, dh_n)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


def test_a_complex_step_runs_the_reference():
    """complex128 (a complex-step check) runs the reference kernels: the same numbers."""
    x, h0, params, dy, dh_n = _problem(np.random.default_rng(5), np.float64, 3, 2, 2, 3, None)
    x = x + 1e-20j
    y, h_n, cache = cpu_gru.gru_forward(x, h0, params, None, False, True)
    y_ref, h_ref, _ = ref.gru_forward(x, h0, params, None, False, True)
    assert y.dtype == np.complex128
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(cpu_gru.gru_backward(cache, dy, dh_n)[0],
                                  ref.gru_backward(cache, dy, dh_n)[0])


def test_the_op_runs_the_active_backends_kernels():
    """"numba": the Numba kernels; "numpy": the reference; and the backward those of the
    forward, whatever backend is active when it runs."""
    with registry.backend("numba"):
        assert registry.gru_kernels() is cpu_gru
    with registry.backend("numpy"):
        assert registry.gru_kernels() is ref
    rng = np.random.default_rng(6)
    gru = ng.nn.GRU(2, 3, dtype=np.float64)
    x = ng.Tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    grads = {}
    for name, other in (("numba", "numpy"), ("numpy", "numba")):
        with registry.backend(name):
            y, _ = gru(x)
        with registry.backend(other):
            (y * y).sum().backward()
        grads[name] = x.grad.copy()
        x.grad = None
    assert_close(grads["numba"], grads["numpy"], np.float64, "dx")


def _module_run(backend, make, dtype, x, h0, lengths, seed):
    """Outputs and every gradient (input, h0, parameters) of a module on ``backend``."""
    ng.seed(seed)
    module = make(dtype)
    rng = np.random.default_rng(seed)
    xt = ng.Tensor(x, requires_grad=True)
    ht = None if h0 is None else ng.Tensor(h0, requires_grad=True)
    with registry.backend(backend):
        if isinstance(module, ng.nn.GRUCell):
            out = module(xt[0], ht)
            for t in range(1, x.shape[0]):
                out = module(xt[t], out)
            outs = [out]
        else:
            outs = list(module(xt, ht, lengths=lengths))
        loss = sum((o * ng.Tensor(rng.standard_normal(o.shape).astype(dtype))).sum()
                   for o in outs)
        loss.backward()
    return {**{f"out{k}": o.data for k, o in enumerate(outs)}, "dx": xt.grad,
            **({} if ht is None else {"dh0": ht.grad}),
            **{n: p.grad for n, p in module.named_parameters()}}


MODULES = {"one layer": lambda d: ng.nn.GRU(3, 5, dtype=d),
           "stacked": lambda d: ng.nn.GRU(3, 5, num_layers=2, dtype=d),
           "bidirectional": lambda d: ng.nn.GRU(3, 5, bidirectional=True, dtype=d),
           "stacked bidirectional, no bias": lambda d: ng.nn.GRU(
               3, 5, num_layers=2, bidirectional=True, bias=False, dtype=d),
           "cell": lambda d: ng.nn.GRUCell(3, 5, dtype=d)}


@pytest.mark.parametrize("kind, with_h0, with_lengths", [
    (kind, with_h0, with_lengths) for kind in MODULES for with_h0 in (False, True)
    for with_lengths in (False, True) if not (kind == "cell" and with_lengths)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_modules_on_numba_agree_with_numpy(kind, with_h0, with_lengths, dtype):
    """A cell is run over the 6 steps from h0 (a cell takes no lengths)."""
    rng = np.random.default_rng(7)
    T, B = 6, 4
    lengths = np.array([6, 0, 2, 5]) if with_lengths else None
    x = rng.standard_normal((T, B, 3)).astype(dtype)
    if lengths is not None:
        x[np.arange(T)[:, None] >= lengths[None, :]] = np.nan
    states = 1 if kind == "cell" else (2 if "stacked" in kind else 1) * \
        (2 if "bidirectional" in kind else 1)
    h0 = None if not with_h0 else rng.standard_normal(
        (B, 5) if kind == "cell" else (states, B, 5)).astype(dtype)
    got = _module_run("numba", MODULES[kind], dtype, x, h0, lengths, 8)
    want = _module_run("numpy", MODULES[kind], dtype, x, h0, lengths, 8)
    assert got.keys() == want.keys()
    for name in want:
        assert_close(got[name], want[name], dtype, name)
