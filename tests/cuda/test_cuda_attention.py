"""The CUDA attention-pooling kernels (kernels/cuda/attention.py) against the NumPy
reference, on the simulator without a GPU (tests/conftest.py chooses): pooled, weights, dh
and every parameter gradient for every kind, with and without a value projection and
biases, masks with an all-masked row; huge scores; online pooling in chunks; device arrays
in, device arrays out. Sizes are tiny: every CUDA thread is an OS thread in the simulator."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
from nongate_np.kernels import reference as ref  # noqa: E402  (after the skip)
from nongate_np.kernels.contract import AttentionParams  # noqa: E402
from nongate_np.kernels.cuda import arrays  # noqa: E402
from nongate_np.kernels.cuda import attention as att  # noqa: E402

# rtol, and an absolute floor relative to the largest reference value (normwise), as in
# tests/test_backends_agree.py
TOL = {np.float64: (1e-12, 1e-13), np.float32: (1e-5, 1e-6)}
NAMES = ("pooled", "weights", "dh") + tuple(f"d{name}" for name in AttentionParams._fields)

# (B, T, D, A, Q, D'): two shapes, every size different from the others where it can be
SHAPES = [(3, 2, 4, 3, 1, 2), (2, 4, 3, 2, 2, 1)]


def assert_close(got, want, dtype, what):
    rtol, floor = TOL[dtype]
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=floor * scale, err_msg=what)


def assert_as_accurate(got, want, exact, what, factor=8):
    """float32: ``got`` is within ``factor`` times the float32 reference's own error of the
    float64 result of the same inputs (normwise), plus the floor of ``TOL``. An elementwise
    rtol of 1e-5 holds only where the kernel sums in the reference's order, as the simulator
    does; a GPU's fused multiply-adds and its reduction order round differently, and a
    gradient that cancels (dquery: terms near 1 summing to 1e-3) shows it at 1e-5."""
    own = float(np.max(np.abs(want - exact))) if want.size else 0.0
    scale = float(np.max(np.abs(exact))) if exact.size else 0.0
    error = float(np.max(np.abs(got - exact))) if got.size else 0.0
    assert error <= factor * own + TOL[np.float32][1] * scale, \
        f"{what}: error {error:.3g} against float64, the float32 reference's {own:.3g}"


def as_float64(a):
    """An array, or each array of AttentionParams, as float64 (None stays None)."""
    if isinstance(a, AttentionParams):
        return AttentionParams(*(None if p is None else p.astype(np.float64) for p in a))
    return a.astype(np.float64)


def make_args(rng, dtype, kind, shape, value_proj, biases, mask_kind):
    """(h, params, mask) drawn uniformly from [-1, 1]; mask_kind None, "random" or
    "empty_row" (random with the second sequence all masked)."""
    B, T, D, A, Q, Dv = shape

    def arr(*s):
        return rng.uniform(-1, 1, s).astype(dtype)

    def bias(n):
        return arr(n) if biases else None
    gated, step = kind == "gated", kind == "weight_gated"
    params = AttentionParams(
        w_proj=arr(A, D), b_proj=bias(A), query=arr(Q, A),
        w_gate=arr(A, D) if gated else None, b_gate=bias(A) if gated else None,
        w_step=arr(Q, D) if step else None, b_step=bias(Q) if step else None,
        w_value=arr(Dv, D) if value_proj else None, b_value=bias(Dv) if value_proj else None)
    mask = None
    if mask_kind is not None:
        mask = rng.uniform(size=(B, T)) < 0.7
        mask[:, 0] = True                   # every sequence has a valid step ...
        if mask_kind == "empty_row":
            mask[1] = False                 # ... but this one
    return arr(B, T, D), params, mask


def run_both(kernels, h, params, kind, mask, dpooled, dweights):
    """``kernels``'s forward and backward flattened: pooled, weights, dh, then each field of
    AttentionParams's gradients."""
    pooled, weights, cache = kernels.attention_forward(h, params, kind, mask, True)
    dh, grads = kernels.attention_backward(cache, dpooled, dweights)
    return (pooled, weights, dh, *grads)


# (kind, dtype, value projection, biases, mask): every kind sees each mask, with and without
# biases and a value projection, in both dtypes
CASES = [
    ("additive", np.float64, False, True, None),
    ("additive", np.float64, True, False, "random"),
    ("additive", np.float32, False, False, "empty_row"),
    ("additive", np.float32, True, True, "empty_row"),
    ("gated", np.float64, False, False, "empty_row"),
    ("gated", np.float64, True, True, "random"),
    ("gated", np.float32, False, True, "random"),
    ("gated", np.float32, True, False, None),
    ("weight_gated", np.float64, False, True, "random"),
    ("weight_gated", np.float64, True, False, "empty_row"),
    ("weight_gated", np.float32, False, False, None),
    ("weight_gated", np.float32, True, True, "empty_row"),
]


@pytest.mark.parametrize("index", range(len(CASES)))
def test_forward_and_backward_match_the_reference(index):
    kind, dtype, value_proj, biases, mask_kind = CASES[index]
    shape = SHAPES[index % len(SHAPES)]
    rng = np.random.default_rng(index)
    h, params, mask = make_args(rng, dtype, kind, shape, value_proj, biases, mask_kind)
    B, T, _, _, Q, Dv = shape
    Dv = Dv if value_proj else h.shape[2]
    dpooled = rng.uniform(-1, 1, (B, Q, Dv)).astype(dtype)
    dweights = rng.uniform(-1, 1, (B, Q, T)).astype(dtype)
    with arrays.poisoned():                 # an element a kernel fails to write is NaN
        got = run_both(att, h, params, kind, mask, dpooled, dweights)
    want = run_both(ref, h, params, kind, mask, dpooled, dweights)
    exact = want if dtype == np.float64 else run_both(
        ref, *(as_float64(a) for a in (h, params)), kind, mask,
        *(as_float64(a) for a in (dpooled, dweights)))
    for what, g, w, e in zip(NAMES, got, want, exact):
        if w is None:
            assert g is None, what
            continue
        assert isinstance(g, np.ndarray) and g.dtype == dtype and g.shape == w.shape, what
        if dtype == np.float32:
            assert_as_accurate(g, w, e, what)
        else:
            assert_close(g, w, dtype, what)
    if mask_kind == "empty_row":            # A14: pools to zero, with zero gradient
        for what, g in zip(NAMES[:3], got[:3]):
            np.testing.assert_array_equal(g[1], 0, err_msg=what)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["additive", "gated", "weight_gated"])
def test_huge_scores_stay_finite(kind, dtype):
    """Scores of 1e4 (A3: the max shift): exp never overflows (the simulator's math.exp
    would raise), padded steps included."""
    rng = np.random.default_rng(7)
    h, params, mask = make_args(rng, dtype, kind, SHAPES[1], True, True, "empty_row")
    mask[0, 1] = False                      # a padded step whose score is huge too
    params = params._replace(query=(params.query * 1e4).astype(dtype))
    B, T, _, _, Q, Dv = SHAPES[1]
    with np.errstate(all="raise"):
        got = run_both(att, h, params, kind, mask, rng.uniform(-1, 1, (B, Q, Dv)),
                       rng.uniform(-1, 1, (B, Q, T)))
    want = ref.attention_forward(h, params, kind, mask, False)
    assert np.max(np.abs(ref.attention_scores(h, params.w_proj, params.b_proj, params.w_gate,
                                              params.b_gate, params.query)[0])) > 1e3
    for g, w, what in zip(got[:2], want[:2], NAMES):
        assert_close(g, w, dtype, what)
    assert all(np.all(np.isfinite(g)) for g in got if g is not None)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind, value_proj", [("additive", True), ("gated", False),
                                              ("weight_gated", True)])
def test_online_pooling_in_chunks_equals_the_batch_forward(kind, value_proj, dtype):
    """A16-A17: each chunk's result and state equal the reference's online pooling, and
    after the last chunk the batch forward; a sequence of length 0 pools to zero."""
    rng = np.random.default_rng(3)
    shape = SHAPES[1]
    h, params, _ = make_args(rng, dtype, kind, shape, value_proj, True, None)
    B, T = shape[:2]
    lengths = np.array([3, 0])
    mask = np.arange(T)[None, :] < lengths[:, None]
    state = want_state = None
    for a, b in [(0, 1), (1, 3), (3, T)]:
        with arrays.poisoned():
            got, state = att.attention_online(state, h[:, a:b], params, kind, mask[:, a:b])
        want, want_state = ref.attention_online(want_state, h[:, a:b], params, kind,
                                                mask[:, a:b])
        assert got.dtype == dtype and all(s.dtype == dtype for s in state)
        assert_close(got, want, dtype, f"online pooling, steps {a}:{b}")
        # the running max is -inf until a valid step; compared where it is finite
        seen = np.isfinite(want_state.run_max)
        np.testing.assert_array_equal(np.isfinite(state.run_max), seen)
        for what, s, w in zip(("run_max", "run_sum", "run_vec"), state, want_state):
            assert_close(s[seen], w[seen], dtype, f"{what}, steps {a}:{b}")
            if what != "run_max":
                np.testing.assert_array_equal(s[~seen], 0, err_msg=what)
    batch = ref.attention_forward(h, params, kind, mask, False)[0]
    assert_close(got, batch, dtype, "online pooling after the last chunk")
    np.testing.assert_array_equal(got[1], 0, err_msg="a sequence without a valid step")


def test_device_arrays_in_give_device_arrays_out():
    """h, the parameters, the mask and the adjoints as device arrays: every result is a
    device array, equal to what host arrays in give (the same kernels)."""
    rng = np.random.default_rng(11)
    dtype, kind, shape = np.float64, "weight_gated", SHAPES[0]
    h, params, mask = make_args(rng, dtype, kind, shape, True, True, "empty_row")
    B, T, _, _, Q, Dv = shape
    dpooled, dweights = rng.uniform(-1, 1, (B, Q, Dv)), rng.uniform(-1, 1, (B, Q, T))
    host = run_both(att, h, params, kind, mask, dpooled, dweights)

    def dev(a):
        return None if a is None else arrays.to_device(a, a.dtype)
    device = run_both(att, dev(h), AttentionParams(*map(dev, params)), kind, dev(mask),
                      dev(dpooled), dev(dweights))
    for what, d, g in zip(NAMES, device, host):
        if g is None:
            assert d is None, what
            continue
        assert arrays.is_device(d), what
        np.testing.assert_array_equal(d.copy_to_host(), g, err_msg=what)
    # online: a device chunk gives a device state; a host chunk folded into it host arrays
    want = att.attention_online(att.attention_online(None, h[:, :1], params, kind,
                                                     mask[:, :1])[1],
                                h[:, 1:], params, kind, mask[:, 1:])
    pooled, state = att.attention_online(None, dev(h[:, :1]), params, kind, mask[:, :1])
    assert arrays.is_device(pooled) and all(arrays.is_device(s) for s in state)
    got = att.attention_online(state, h[:, 1:], params, kind, mask[:, 1:])
    assert isinstance(got[0], np.ndarray) and all(isinstance(s, np.ndarray) for s in got[1])
    for what, g, w in zip(("pooled", "run_max", "run_sum", "run_vec"), (got[0], *got[1]),
                          (want[0], *want[1])):
        np.testing.assert_array_equal(g, w, err_msg=what)


def test_complex_input_runs_on_the_reference_path():
    rng = np.random.default_rng(0)
    h, params, mask = make_args(rng, np.float64, "gated", SHAPES[0], True, True, "random")
    params = params._replace(query=params.query + 1e-20j)   # a complex step
    got = att.attention_forward(h, params, "gated", mask, True)
    want = ref.attention_forward(h, params, "gated", mask, True)
    assert isinstance(got[2], ref.AttentionCache)
    for g, w in zip(got[:2], want[:2]):
        np.testing.assert_array_equal(g, w)
    dp, dw = np.ones(got[0].shape), np.ones(got[1].shape)
    np.testing.assert_array_equal(att.attention_backward(got[2], dp, dw)[0],
                                  ref.attention_backward(want[2], dp, dw)[0])
    online = att.attention_online(None, h, params, "gated", mask)[0]
    np.testing.assert_array_equal(online, ref.attention_online(None, h, params, "gated",
                                                               mask)[0])


def test_unknown_kind_is_refused():
    h, params, _ = make_args(np.random.default_rng(0), np.float64, "additive", SHAPES[0],
                             False, True, None)
    for call in (lambda: att.attention_forward(h, params, "dot", None, False),
                 lambda: att.attention_online(None, h, params, "dot", None)):
        with pytest.raises(ValueError, match="unknown kind 'dot'"):
            call()
