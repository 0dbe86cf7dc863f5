"""kernels/cuda/optim.py against nongate_np.optim's own NumPy code, on host copies.

The updates must be bit-identical to optim.py's (every parameter and state element, after
every step, float32 and float64); the norms agree to rounding (the sums run in another
order), the clipping factor and value clipping exactly. The update functions work in
place, so their arrays are not poisoned; the reductions' results are (``poisoned()``).
Gradients span six orders of magnitude so that a rounding done differently shows."""

import math

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
from numba import cuda  # noqa: E402  (after the skip)

from nongate_np import optim  # noqa: E402
from nongate_np.kernels.cuda import arrays  # noqa: E402
from nongate_np.kernels.cuda import optim as gpu  # noqa: E402
from nongate_np.tensor import Tensor  # noqa: E402

DTYPES = [np.float32, np.float64]
GRID = gpu.THREADS * gpu.MAX_BLOCKS     # elements past this take the grid-stride loop
TREE = gpu.TREE_THREADS * gpu.REDUCE_BLOCKS   # likewise for a reduction's blocks
STEPS = 3


def gradient(rng, shape, dtype):
    """An array (0-d too, not a NumPy scalar) of entries from 1e-3 to 1e3 in size."""
    return np.asarray(rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 3, shape), dtype)


def assert_same(got, want, what):
    """Bit-identical: equal values (NaN where NaN) and equal signs of zeros."""
    got = got.copy_to_host()
    np.testing.assert_array_equal(got, want, err_msg=what, strict=True)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want), err_msg=what)


# ---------------------------------------------------------------------------------------------
# Adam / AdamW
# ---------------------------------------------------------------------------------------------

def check_adam(dtype, shape, *, lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
               decoupled=False, maximize=False, amsgrad=False, grads=None, seed=0):
    """STEPS steps of optim.Adam on a host tensor and of adam_update on device copies; the
    parameter and every state array equal after each step."""
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(shape).astype(dtype)
    p = Tensor(p0.copy(), requires_grad=True)
    opt = optim.Adam([p], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                     amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=decoupled)
    param = cuda.to_device(p0)
    m, v, v_max = (cuda.to_device(np.zeros(shape, dtype)) for _ in range(3))
    for step in range(1, STEPS + 1):
        g = gradient(rng, shape, dtype) if grads is None else grads[step - 1]
        p.grad = g.copy()
        opt.step()
        grad = cuda.to_device(g)
        gpu.adam_update(param, grad, m, v, v_max if amsgrad else None, lr=lr, beta1=betas[0],
                        beta2=betas[1], eps=eps, weight_decay=weight_decay,
                        decoupled=decoupled, maximize=maximize, amsgrad=amsgrad, step=step)
        state = opt.state[p]
        assert state["step"] == step
        assert_same(param, p.data, f"param, step {step}")
        assert_same(m, state["exp_avg"], f"exp_avg, step {step}")
        assert_same(v, state["exp_avg_sq"], f"exp_avg_sq, step {step}")
        if amsgrad:
            assert_same(v_max, state["max_exp_avg_sq"], f"max_exp_avg_sq, step {step}")
        assert_same(grad, g, "the gradient is read only")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("weight_decay,decoupled", [(0.0, False), (0.1, False), (0.1, True)])
@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.3, 0.6)])   # lerp weight < and >= 0.5
def test_adam_matches_numpy_bit_for_bit(dtype, amsgrad, weight_decay, decoupled, maximize,
                                        betas):
    check_adam(dtype, (3, 5), betas=betas, weight_decay=weight_decay, decoupled=decoupled,
               maximize=maximize, amsgrad=amsgrad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (1,), (GRID + 7,), (2, 0)])
def test_adam_any_shape(dtype, shape):
    """0-d, one element, more elements than one grid's threads (the grid-stride loop),
    none."""
    check_adam(dtype, shape, weight_decay=0.01, decoupled=True, amsgrad=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_integer_and_extreme_hyperparameters(dtype):
    """Python ints as optim.py accepts them (beta1 = 0: lerp weight 1, the two-sided
    formula's exact end; lr = 1) and a large weight decay and eps."""
    check_adam(dtype, (2, 3), lr=1, betas=(0, 0.5), eps=1e-3, weight_decay=3,
               amsgrad=True)
    check_adam(dtype, (2, 3), lr=1e-4, betas=(0.99, 0.9999), eps=0, weight_decay=1e-4,
               decoupled=True, seed=1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_nan_gradient_propagates_as_numpy(dtype):
    """A NaN gradient element makes its m, v, v̂ and θ NaN, as np.maximum propagates it."""
    rng = np.random.default_rng(2)
    grads = [gradient(rng, (2, 4), dtype) for _ in range(STEPS)]
    grads[1][0, 1] = np.nan
    grads[2][1, 2] = np.nan
    check_adam(dtype, (2, 4), amsgrad=True, grads=grads)
    check_adam(dtype, (2, 4), amsgrad=False, grads=grads)


# ---------------------------------------------------------------------------------------------
# SGD
# ---------------------------------------------------------------------------------------------

def check_sgd(dtype, shape, *, lr=0.05, momentum=0.0, dampening=0.0, weight_decay=0.0,
              nesterov=False, maximize=False, seed=0):
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(shape).astype(dtype)
    p = Tensor(p0.copy(), requires_grad=True)
    opt = optim.SGD([p], lr=lr, momentum=momentum, dampening=dampening,
                    weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
    param = cuda.to_device(p0)
    # NaN: the first step must write the buffer without reading it
    buf = cuda.to_device(np.full(shape, np.nan, dtype)) if momentum != 0 else None
    for step in range(1, STEPS + 1):
        g = gradient(rng, shape, dtype)
        p.grad = g.copy()
        opt.step()
        grad = cuda.to_device(g)
        gpu.sgd_update(param, grad, buf, lr=lr, momentum=momentum, dampening=dampening,
                       weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                       first=step == 1)
        assert_same(param, p.data, f"param, step {step}")
        if momentum != 0:
            assert_same(buf, opt.state[p]["momentum_buffer"], f"momentum_buffer, step {step}")
        assert_same(grad, g, "the gradient is read only")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum,dampening,nesterov",
                         [(0.0, 0.0, False), (0.9, 0.0, False), (0.9, 0.25, False),
                          (0.9, 0.0, True)])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("maximize", [False, True])
def test_sgd_matches_numpy_bit_for_bit(dtype, momentum, dampening, nesterov, weight_decay,
                                       maximize):
    check_sgd(dtype, (3, 5), momentum=momentum, dampening=dampening, nesterov=nesterov,
              weight_decay=weight_decay, maximize=maximize)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (GRID + 7,), (0,)])
def test_sgd_any_shape(dtype, shape):
    check_sgd(dtype, shape, momentum=0.5, dampening=0.1, weight_decay=0.01)
    check_sgd(dtype, shape, lr=1, momentum=1, weight_decay=2, nesterov=True, seed=1)


# ---------------------------------------------------------------------------------------------
# Norms and clipping
# ---------------------------------------------------------------------------------------------

def grad_set(dtype, seed=0):
    """Gradients of several shapes: more elements than a reduction's blocks cover (the
    grid-stride loop), fewer than one block, 0-d, empty."""
    rng = np.random.default_rng(seed)
    return [gradient(rng, shape, dtype) for shape in [(TREE + 9,), (2, 3), (), (0, 4), (5,)]]


def host_tensors(grads):
    ts = [Tensor(np.zeros(g.shape, g.dtype), requires_grad=True) for g in grads]
    for t, g in zip(ts, grads):
        t.grad = g.copy()
    return ts


@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_of_squares_and_max_abs(dtype):
    grads = grad_set(dtype)
    device = [cuda.to_device(g) for g in grads]
    want = sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads)
    with arrays.poisoned():
        got = gpu.sum_of_squares(device)
        assert got.shape == (1,) and got.dtype == np.float64
        np.testing.assert_allclose(got.copy_to_host()[0], want, rtol=1e-12)
        got = gpu.max_abs(device)
        assert got.copy_to_host()[0] == max(float(np.max(np.abs(g))) for g in grads if g.size)
        out = cuda.to_device(np.array(np.nan))                  # a 0-d out is filled too
        gpu.sum_of_squares(device[1:2], out=out)
        np.testing.assert_allclose(out.copy_to_host(), np.sum(grads[1].astype(float) ** 2),
                                   rtol=1e-12)
        assert gpu.sum_of_squares([]).copy_to_host()[0] == 0.0
        assert gpu.max_abs([device[3]]).copy_to_host()[0] == 0.0
    grads[0][5] = np.nan
    assert np.isnan(gpu.max_abs([cuda.to_device(g) for g in grads]).copy_to_host()[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf])
def test_total_norm_matches_clip_grad_norm(dtype, norm_type):
    """The total optim.clip_grad_norm_ returns, to rounding (1e-12 relative: both sum in
    float64, in different orders); the inf norm exactly. (The host total of float64 copies
    of the gradients: clip_grad_norm_ rounds it to their dtype, total_norm does not.)"""
    grads = grad_set(dtype, seed=3)
    wide = host_tensors([g.astype(np.float64) for g in grads])
    want = optim.clip_grad_norm_(wide, max_norm=1e30, norm_type=norm_type).item()
    with arrays.poisoned():
        got = gpu.total_norm([cuda.to_device(g) for g in grads], norm_type).copy_to_host()
    rtol = 0 if math.isinf(norm_type) else 1e-12
    np.testing.assert_allclose(got[0], want, rtol=rtol)


def test_clip_coefficient_is_optims_formula():
    for norm, max_norm in [(10.0, 1.0), (3.0, 7.5), (0.0, 0.0), (0.0, 2.0), (1e-7, 1e-7),
                           (math.inf, 1.0), (math.nan, 1.0), (2.5, 2.5)]:
        with arrays.poisoned():
            got = gpu.clip_coefficient(cuda.to_device(np.array([norm])), max_norm)
        c = max_norm / (norm + 1e-6)
        want = c if not c >= 1.0 else 1.0
        np.testing.assert_array_equal(got.copy_to_host(), [want], err_msg=f"{norm, max_norm}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("max_norm", [1e-3, 1e30])
@pytest.mark.parametrize("norm_type", [2.0, math.inf])
def test_clip_grad_norm_on_the_device(dtype, max_norm, norm_type):
    """total_norm, clip_coefficient and scale_ in a row as clip_grad_norm_: the gradients
    scaled as optim.py scales them (a float32 factor may round differently when the totals
    differ in their last bits: 1e-6); unchanged, bit for bit, when no clipping is needed."""
    grads = grad_set(dtype, seed=4)
    ts = host_tensors(grads)
    optim.clip_grad_norm_(ts, max_norm=max_norm, norm_type=norm_type)
    device = [cuda.to_device(g) for g in grads]
    gpu.scale_(device, gpu.clip_coefficient(gpu.total_norm(device, norm_type), max_norm))
    for d, t, g in zip(device, ts, grads):
        if max_norm > 1:
            assert_same(d, g, "not clipped")
        rtol = 1e-6 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(d.copy_to_host(), t.grad, rtol=rtol, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_grad_norm_of_nan_gradients_is_nan(dtype):
    grads = grad_set(dtype, seed=5)
    grads[1][0, 2] = np.nan
    ts = host_tensors(grads)
    optim.clip_grad_norm_(ts, max_norm=1.0)
    device = [cuda.to_device(g) for g in grads]
    gpu.scale_(device, gpu.clip_coefficient(gpu.total_norm(device), 1.0))
    for d, t in zip(device, ts):
        assert np.isnan(t.grad).all()
        assert_same(d, t.grad, "NaN")


EXTREME = {  # (float64 entries, float32 entries) of the first gradient: issue 15
    "huge finite": ([1e300, -1e300, 3.0], [3e38, -3e38, 3.0]),
    "zero": ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
    "inf": ([np.inf, 1.0, 3.0], [np.inf, 1.0, 3.0]),
    "nan": ([np.nan, 1.0, 3.0], [np.nan, 1.0, 3.0]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_type", [2.0, 3.0, math.inf])
@pytest.mark.parametrize("case", list(EXTREME))
def test_clip_grad_norm_of_extreme_gradients_agrees_on_the_device(case, dtype, norm_type):
    """clip_grad_norm_ on GPU tensors returns optim.py's host total, as a 0-d tensor of the
    gradients' dtype on the GPU, and scales as it does: the norm of huge finite entries
    (scaled by the largest entry) exact to their dtype, untouched for a zero norm, torch's
    scaling for inf (NaN there, 0 elsewhere) and NaN; no warning."""
    first = np.array(EXTREME[case][dtype == np.float32], dtype)
    grads = [first, np.array([[2.0, -1.0]], dtype) * (case != "zero")]
    host, device = host_tensors(grads), host_tensors(grads)
    for t in device:
        t.grad = cuda.to_device(t.grad)
    want = optim.clip_grad_norm_(host, max_norm=1.0, norm_type=norm_type)
    got = optim.clip_grad_norm_(device, max_norm=1.0, norm_type=norm_type)
    assert got.device == "cuda" and got.shape == () and got.dtype == dtype == want.dtype
    want, got = want.numpy(), got.numpy()
    if case == "huge finite":
        big = float(np.max(np.abs(first)))
        exact = big * np.linalg.norm([1, 1, 0, 0, 0], norm_type)   # the small ones vanish
        with np.errstate(over="ignore"):        # float32: inf beyond its range
            np.testing.assert_allclose(want, dtype(exact), rtol=1e-7)
    if case == "zero":
        assert want == got == 0.0
    np.testing.assert_allclose(got, want, rtol=1e-12)
    for d, h in zip(device, host):
        rtol = 1e-6 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(d.grad.copy_to_host(), h.grad, rtol=rtol, atol=0,
                                   err_msg=case)
    assert np.isnan(host[0].grad[0]) == (case in ("inf", "nan")), case
    if case == "inf":       # torch's: the factor is 0, so inf · 0 = NaN and finite · 0 = 0
        np.testing.assert_array_equal(host[0].grad[1:], 0.0)
        np.testing.assert_array_equal(host[1].grad, 0.0)
    if case == "nan":
        assert np.isnan(host[1].grad).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_scale_casts_the_factor_as_numpy(dtype):
    """x · f with the float64 factor cast to the array's dtype, as ``g *= python_float``."""
    rng = np.random.default_rng(6)
    for f in [0.1, 1 / 3, 1.0, 1 - 1e-12, -2.0, 1e-30]:
        g = gradient(rng, (GRID + 3,), dtype)
        g[:3] = [np.nan, -0.0, np.inf]
        d = cuda.to_device(g)
        g *= f
        gpu.scale_([d], cuda.to_device(np.array([f])))
        assert_same(d, g, f"factor {f}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("clip_value", [0.0, 0.25, 1e-40, math.inf])
def test_clip_value_matches_clip_grad_value(dtype, clip_value):
    rng = np.random.default_rng(7)
    special = np.array([-0.5, 0.5, -0.0, 0.0, np.nan, np.inf, -np.inf, 1e-45, -1e-45], dtype)
    grads = [np.concatenate([special, gradient(rng, (GRID,), dtype)]),
             gradient(rng, (2, 3), dtype), np.array(-3.0, dtype), np.zeros((0,), dtype)]
    ts = host_tensors(grads)
    optim.clip_grad_value_(ts, clip_value)
    device = [cuda.to_device(g) for g in grads]
    gpu.clip_value_(device, clip_value)
    for d, t in zip(device, ts):
        assert_same(d, t.grad, f"clip_value {clip_value}")


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

def test_errors():
    f64 = cuda.to_device(np.zeros((2, 3)))
    f32 = cuda.to_device(np.zeros((2, 3), np.float32))
    hp = dict(lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.0, decoupled=False,
              maximize=False, amsgrad=False, step=1)
    z = lambda: cuda.to_device(np.zeros((2, 3)))                     # noqa: E731
    with pytest.raises(TypeError, match="grad must be a numba.cuda device array"):
        gpu.adam_update(z(), np.zeros((2, 3)), z(), z(), None, **hp)
    with pytest.raises(TypeError, match="exp_avg has dtype float32, param float64"):
        gpu.adam_update(f64, z(), f32, z(), None, **hp)
    with pytest.raises(ValueError, match=r"exp_avg_sq has shape \(3, 2\)"):
        gpu.adam_update(f64, z(), z(), cuda.to_device(np.zeros((3, 2))), None, **hp)
    with pytest.raises(ValueError, match="amsgrad needs max_exp_avg_sq"):
        gpu.adam_update(f64, z(), z(), z(), None, **{**hp, "amsgrad": True})
    with pytest.raises(ValueError, match="step must be >= 1"):
        gpu.adam_update(f64, z(), z(), z(), None, **{**hp, "step": 0})
    with pytest.raises(TypeError, match="float32 or float64"):
        gpu.sgd_update(cuda.to_device(np.zeros(3, np.float16)), cuda.to_device(
            np.zeros(3, np.float16)), None, lr=0.1, momentum=0.0, dampening=0.0,
            weight_decay=0.0, nesterov=False, maximize=False, first=True)
    with pytest.raises(ValueError, match="momentum 0.9 needs a momentum_buffer"):
        gpu.sgd_update(f64, z(), None, lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0,
                       nesterov=False, maximize=False, first=True)
    wide = cuda.to_device(np.zeros((2, 6)))
    with pytest.raises(ValueError, match="array 1 must be C-contiguous"):
        gpu.clip_value_([f64, wide[:, ::2]], 1.0)
    with pytest.raises(ValueError, match="norm_type must be > 0"):
        gpu.total_norm([f64], 0.0)
    with pytest.raises(TypeError, match="out must be a float64 device array"):
        gpu.sum_of_squares([f64], out=cuda.to_device(np.zeros(1, np.float32)))
    with pytest.raises(TypeError, match="factor must be a float device array"):
        gpu.scale_([f64], 0.5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_get_total_norm_and_clip_grads_with_norm_on_the_device(dtype):
    """nn.utils' halves of clip_grad_norm_ on GPU gradients: the total on the GPU, the
    host's to rounding; clipping by it scales as the host does by the host's total."""
    from nongate_np import nn
    grads = grad_set(dtype, seed=6)
    host, device = host_tensors(grads), host_tensors(grads)
    for t in device:
        t.grad = cuda.to_device(t.grad)
    want = nn.utils.get_total_norm([t.grad for t in host])
    got = nn.utils.get_total_norm([t.grad for t in device])
    assert got.device == "cuda" and got.shape == () and got.dtype == dtype
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    nn.utils.clip_grads_with_norm_(host, 1e-3, want)
    nn.utils.clip_grads_with_norm_(device, 1e-3, got)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    for d, h in zip(device, host):
        np.testing.assert_allclose(d.grad.copy_to_host(), h.grad, rtol=rtol, atol=0)
