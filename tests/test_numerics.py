"""Issue 15, reports 3 and 4 and numerical robustness: a value a mask or a select says is
absent never takes part (no 0·inf), and sigmoid, tanh, softmax, log_softmax and every loss
are finite and warning-free for any finite input, forward and backward, on every device.

Right values: the issue's for reports 3 and 4; elsewhere PyTorch 2.13 in float64 where its
result is finite. NumPy warnings are errors here (``warnings.simplefilter("error")``)."""

import math
import warnings

import numpy as np
import pytest

import nongate_np as ng
from nongate_np import optim
from nongate_np.kernels import gpu

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not gpu.probe().usable, reason="no GPU and not on the CUDA simulator"))]


@pytest.fixture(autouse=True)
def warnings_are_errors(request):
    """Every warning is an error; only on the CUDA simulator do the kernels' own arithmetic
    warnings pass: it runs their bodies on NumPy scalars, which warn for inf - inf or an
    overflow where a GPU computes the same IEEE value silently (kernels/cuda/elementwise.py)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        on_simulator = gpu.probe().simulator
        if on_simulator and getattr(request.node, "callspec", None) is not None and \
                request.node.callspec.params.get("device") == "cuda":
            warnings.filterwarnings("ignore", category=RuntimeWarning,
                                    module=r"nongate_np\.kernels\.cuda\.")
        yield


def host(a):
    return a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)


def leaf(values, device, dtype=np.float64):
    return ng.tensor(np.asarray(values, dtype), requires_grad=True, device=device)


# -- report 3: cross_entropy selects ignored rows away -------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_cross_entropy_ignored_row_with_minus_inf_logit(device):
    """Issue 15 report 3: logits [[0, 0], [-inf, 0]], targets [0, -100] -> log 2 (the mean
    over the valid row); gradient [[-1/2, 1/2], [0, 0]] (softmax - onehot, ignored row 0)."""
    z = leaf([[0.0, 0.0], [-np.inf, 0.0]], device)
    loss = ng.cross_entropy(z, np.array([0, -100]))
    loss.backward()
    np.testing.assert_allclose(host(loss.data), math.log(2), rtol=1e-15)
    np.testing.assert_array_equal(host(z.grad), [[-0.5, 0.5], [0.0, 0.0]])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_all_ignored_is_zero(device, reduction):
    """Issue 15 report 3: logits [[-inf, 0]], targets [-100]: 0 (the documented value for an
    all-ignored batch), every reduction; a zero gradient. A row of -inf only, ignored, too."""
    for row in ([-np.inf, 0.0], [-np.inf, -np.inf]):
        z = leaf([row], device)
        loss = ng.cross_entropy(z, np.array([-100]), reduction=reduction)
        loss.sum().backward()
        np.testing.assert_array_equal(host(loss.data), np.zeros(loss.shape), err_msg=str(row))
        np.testing.assert_array_equal(host(z.grad), [[0.0, 0.0]], err_msg=str(row))


@pytest.mark.parametrize("device", DEVICES)
def test_cross_entropy_inf_upstream_gradient_on_an_ignored_row(device):
    """reduction="none": an inf upstream gradient on an ignored row gives 0 there, not NaN;
    the valid row's gradient is softmax - onehot times its upstream gradient."""
    z = leaf([[1.0, 2.0], [3.0, 4.0]], device)
    loss = ng.cross_entropy(z, np.array([-100, 1]), reduction="none")
    loss.backward(ng.tensor(np.array([np.inf, 2.0]), device=device))
    p = 1 / (1 + math.exp(1.0))                     # softmax([3, 4])[0]
    np.testing.assert_allclose(host(z.grad), [[0.0, 0.0], [2 * p, -2 * p]], rtol=1e-15)


# -- report 4: relu and max select, never multiply by a mask ------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_of_infinities_and_nan(device, dtype):
    """Issue 15 report 4: relu([-inf, inf, nan]) = [0, inf, nan]; an inf upstream gradient
    gives 0 at the inactive unit (torch: [0, inf, inf], NaN passes the gradient through)."""
    x = leaf([-np.inf, np.inf, np.nan, -1.0, 0.0, 2.0], device, dtype)
    y = ng.relu(x)
    y.backward(ng.tensor(np.full(6, np.inf, dtype), device=device))
    assert y.dtype == dtype
    np.testing.assert_array_equal(host(y.data), [0, np.inf, np.nan, 0, 0, 2])
    np.testing.assert_array_equal(host(x.grad), [0, np.inf, np.inf, 0, 0, np.inf])


@pytest.mark.parametrize("device", DEVICES)
def test_max_inf_upstream_gradient_at_a_non_maximum(device):
    """amax's gradient selects the maxima (ties share it): an inf upstream gradient reaches
    only them, 0 elsewhere (0·inf would be NaN)."""
    x = leaf([[1.0, 3.0, 3.0], [-np.inf, 0.0, -1.0]], device)
    y = ng.amax(x, axis=1)
    y.backward(ng.tensor(np.array([np.inf, 4.0]), device=device))
    np.testing.assert_array_equal(host(y.data), [3.0, 0.0])
    np.testing.assert_array_equal(host(x.grad), [[0, np.inf, np.inf], [0, 4.0, 0]])


# -- finite and warning-free for any finite input ------------------------------------------

# (dtype, magnitude): ±1e4 logits, the largest finite values, subnormals
MAGNITUDES = [(np.float64, 1e4), (np.float64, 1e300), (np.float64, 1.7e308),
              (np.float64, 5e-324), (np.float32, 1e4), (np.float32, 3e38), (np.float32, 1e-45)]


def extreme(dtype, m):
    """Rows with +m, -m and small values, every row's maximum somewhere else."""
    return np.array([[m, -m, 0.0], [-m, m, 1.0], [m, m, -m]], dtype)


def ours(fn, x0, device):
    x = ng.tensor(x0.copy(), requires_grad=True, device=device)
    y = fn(x)
    y.sum().backward()
    return host(y.data).astype(np.float64), host(x.grad).astype(np.float64)


def torch_fns():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    t = np.array([1, 0, 2])
    tt = torch.tensor(t)
    half = 0.3
    return torch, {
        "sigmoid": (ng.sigmoid, torch.sigmoid),
        "tanh": (ng.tanh, torch.tanh),
        "softmax": (lambda x: ng.softmax(x, -1), lambda x: torch.softmax(x, -1)),
        "log_softmax": (lambda x: ng.log_softmax(x, -1), lambda x: torch.log_softmax(x, -1)),
        "cross_entropy": (lambda x: ng.cross_entropy(x, t), lambda x: F.cross_entropy(x, tt)),
        "cross_entropy_sum_ignore": (
            lambda x: ng.cross_entropy(x, np.array([1, -100, 2]), reduction="sum"),
            lambda x: F.cross_entropy(x, torch.tensor([1, -100, 2]), reduction="sum")),
        "bce_with_logits": (
            lambda x: ng.binary_cross_entropy_with_logits(x, np.full(x.shape, half, x.dtype)),
            lambda x: F.binary_cross_entropy_with_logits(x, torch.full(x.shape, half,
                                                                       dtype=x.dtype))),
        "bce_pos_weight": (
            lambda x: ng.binary_cross_entropy_with_logits(
                x, np.ones(x.shape, x.dtype), pos_weight=np.full(3, 0.5, x.dtype)),
            lambda x: F.binary_cross_entropy_with_logits(
                x, torch.ones(x.shape, dtype=x.dtype),
                pos_weight=torch.full((3,), 0.5, dtype=x.dtype))),
        "mse": (lambda x: ng.mse_loss(x, np.zeros(x.shape, x.dtype)),
                lambda x: F.mse_loss(x, torch.zeros(x.shape, dtype=x.dtype))),
    }


@pytest.mark.torch
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype, m", MAGNITUDES)
def test_activations_softmax_and_losses_at_extreme_finite_inputs(device, dtype, m):
    """Forward and backward: no warning, no NaN; equal to PyTorch float64 (rounded to the
    dtype) wherever that value is finite in the dtype; inf only where it is not (a loss whose
    exact value exceeds the dtype's maximum)."""
    torch, fns = torch_fns()
    x0 = extreme(dtype, m)
    big = np.finfo(dtype).max
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    # a gradient that cancels to 0 (log_softmax's 1 - 3·(1/3)) keeps the dtype's rounding
    atol = 4 * np.finfo(dtype).eps
    for name, (fn, tfn) in fns.items():
        tx = torch.tensor(x0.astype(np.float64), requires_grad=True)
        ty = tfn(tx)
        ty.sum().backward()
        for what, got, want in zip(("forward", "gradient"), ours(fn, x0, device),
                                   (ty.detach().numpy(), tx.grad.numpy())):
            msg = f"{name} {what} {np.dtype(dtype)} ±{m}"
            want = np.broadcast_to(want, got.shape)
            assert not np.isnan(got).any(), msg
            representable = np.abs(want) <= big
            np.testing.assert_allclose(got[representable], want[representable], rtol=rtol,
                                       atol=atol, err_msg=msg)
            assert np.isinf(got[~representable]).all(), msg


@pytest.mark.parametrize("device", DEVICES)
def test_softmax_of_a_row_beyond_the_float32_range(device):
    """x - max x overflows for ±3e38 in float32: e^{-inf} = 0 is the right limit, so softmax
    is one-hot and log_softmax -inf there (-6e38 is beyond float32), without a warning."""
    x = ng.tensor(np.array([3e38, -3e38], np.float32), device=device)
    np.testing.assert_array_equal(host(ng.softmax(x).data), [1.0, 0.0])
    np.testing.assert_array_equal(host(ng.log_softmax(x).data), [0.0, -np.inf])


@pytest.mark.parametrize("device", DEVICES)
def test_mean_loss_of_float32_losses_near_the_maximum_is_finite(device):
    """Logits -2e38, targets 1: each loss softplus(2e38) = 2e38, their mean too (summed in
    float64: a float32 sum overflows); the gradient -σ(2e38)/4 = -1/4."""
    z = ng.tensor(np.full(4, -2e38, np.float32), requires_grad=True, device=device)
    loss = ng.binary_cross_entropy_with_logits(z, np.ones(4, np.float32))
    loss.backward()
    np.testing.assert_allclose(host(loss.data), 2e38, rtol=1e-6)
    assert host(loss.data).dtype == np.float32
    np.testing.assert_allclose(host(z.grad), -0.25, rtol=1e-6)


# -- clip_grad_norm_: zero and non-finite norms --------------------------------------------

def grads_of(*values, dtype=np.float64):
    ps = []
    for v in values:
        p = ng.nn.Parameter(np.zeros(len(v), dtype))
        p.grad = np.array(v, dtype)
        ps.append(p)
    return ps


def test_clip_grad_norm_zero_norm_leaves_the_gradients():
    ps = grads_of([0.0, 0.0], [0.0])
    assert optim.clip_grad_norm_(ps, 1.0) == 0.0
    assert optim.clip_grad_norm_(ps, 0.0) == 0.0
    for p in ps:
        np.testing.assert_array_equal(p.grad, 0.0)


@pytest.mark.torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_clip_grad_norm_non_finite_as_torch(bad, norm_type):
    """error_if_nonfinite=False (the default): the total and the scaled gradients are
    torch's (inf: NaN at the inf entry, 0 elsewhere; NaN: all NaN), without a warning;
    True: a RuntimeError naming the total, gradients untouched."""
    torch = pytest.importorskip("torch")
    values = ([bad, 1.0], [3.0, 4.0])
    ps = grads_of(*values)
    tps = [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64)) for _ in values]
    for tp, v in zip(tps, values):
        tp.grad = torch.tensor(v, dtype=torch.float64)
    total = optim.clip_grad_norm_(ps, 1.0, norm_type=norm_type)
    want = torch.nn.utils.clip_grad_norm_(tps, 1.0, norm_type=norm_type)
    np.testing.assert_array_equal(total, want.item())
    for p, tp in zip(ps, tps):
        np.testing.assert_array_equal(p.grad, tp.grad.numpy())
    ps = grads_of(*values)
    with pytest.raises(RuntimeError, match=f"total norm of order {norm_type} .* is "
                                           f"{abs(bad)}"):
        optim.clip_grad_norm_(ps, 1.0, norm_type=norm_type, error_if_nonfinite=True)
    np.testing.assert_array_equal(ps[1].grad, [3.0, 4.0])


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("dtype, m", [(np.float64, 1e300), (np.float32, 1e38)])
def test_clip_grad_norm_of_huge_finite_gradients_is_finite(dtype, m, norm_type):
    """Entries of 1e300 (float64) or 1e38 (float32): the exact norm m·‖(1, 1)‖ rounded to
    their dtype (torch's squares overflow to inf and zero them); the gradients are clipped
    to norm 1."""
    ps = grads_of([m, -m], [1.0], dtype=dtype)
    total = optim.clip_grad_norm_(ps, 1.0, norm_type=norm_type)
    norm = np.linalg.norm([1.0, 1.0], norm_type)
    assert total.dtype == dtype
    np.testing.assert_allclose(total, dtype(float(dtype(m)) * norm), rtol=1e-15)
    np.testing.assert_allclose(ps[0].grad, np.array([1, -1]) / norm, rtol=1e-6)


# -- padded feature steps never reach the multi-task model's input layer --------------------

@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_multitask_padded_features_do_not_reach_the_input_layer(bad):
    """Feature input with lengths: a NaN or inf at a padded step changes nothing, forward or
    backward (the input layer's dW = xᵀ dx would give 0·inf = NaN): equal to the same batch
    with zeros there."""
    from nongate_np.nn.multitask import MultiTaskSequenceModel
    grads, outs = [], []
    for pad in (0.0, bad):
        ng.seed(0)
        m = MultiTaskSequenceModel([{"name": "y", "kind": "classification", "num_classes": 2}],
                                   input_size=2, hidden_size=3, embed_size=3, attn_size=2,
                                   dtype=np.float64)
        x0 = np.linspace(-1, 1, 12).reshape(2, 3, 2)
        x0[1, 2] = pad
        x = ng.tensor(x0, requires_grad=True)
        out = m(x, np.array([3, 2]))
        total, _ = m.loss(out, {"y": np.array([0, 1])})
        total.backward()
        outs.append(out["y"].numpy())
        grads.append([m.embed.weight.grad, x.grad])
    np.testing.assert_array_equal(outs[1], outs[0])
    for got, want in zip(grads[1], grads[0]):
        assert np.isfinite(got).all()
        np.testing.assert_array_equal(got, want)


# -- IEEE results without NumPy's warnings; bad arguments named (FINDINGS F1-F5) -----------

@pytest.mark.parametrize("device", DEVICES)
def test_ieee_results_without_warnings(device):
    """What torch gives, silently: log 0 = -inf, log(-1) = NaN, e^{1e4} = inf, 0/0 = NaN,
    1/0 = inf, inf·0 = NaN, float32 overflow of a sum or product = inf; and the gradient
    of log at a subnormal float32 (1/x overflows) = inf."""
    def t(v, dtype=np.float64):
        return ng.tensor(np.asarray(v, dtype), device=device)
    cases = [(ng.log(t([0.0, -1.0])), [-np.inf, np.nan]), (ng.exp(t([1e4])), [np.inf]),
             (ng.div(t([0.0, 1.0]), t([0.0, 0.0])), [np.nan, np.inf]),
             (ng.mul(t([-np.inf]), t([0.0])), [np.nan]),
             (ng.add(t([3e38], np.float32), t([3e38], np.float32)), [np.inf]),
             (ng.sum(t([3e38, 3e38], np.float32)), np.inf),
             (ng.matmul(t([[3e38, 3e38]], np.float32), t([[2.0], [2.0]], np.float32)),
              [[np.inf]])]
    for k, (got, want) in enumerate(cases):
        np.testing.assert_array_equal(host(got.data), want, err_msg=f"case {k}")
    x = ng.tensor(np.array([1e-45], np.float32), requires_grad=True, device=device)
    ng.log(x).backward()
    np.testing.assert_array_equal(host(x.grad), [np.inf])


def test_mean_of_an_empty_integer_tensor_is_a_float_nan():
    y = ng.mean(np.zeros((1, 0, 3), np.int64))
    assert y.dtype == np.float64 and np.isnan(y.item())


def test_cast_refuses_what_the_target_cannot_hold():
    """A float beyond float32's range is inf (as torch); NaN, inf or out-of-range floats to
    an integer dtype, complex to an integer dtype and an unknown dtype are errors naming
    cast (NumPy would give an arbitrary integer and a warning)."""
    np.testing.assert_array_equal(ng.cast(np.array([1.79e308]), np.float32).numpy(), [np.inf])
    np.testing.assert_array_equal(ng.cast(np.array([2.0**31 - 1, -2.9]), np.int32).numpy(),
                                  [2**31 - 1, -2])
    for value, dtype in ((np.nan, np.int64), (-1.2e78, np.int64), (2.0**31, np.int32),
                         (np.inf, np.int64)):
        with pytest.raises(ValueError, match=rf"cast: .* cannot be represented in "
                                             rf"{np.dtype(dtype)}"):
            ng.cast(np.array([value]), dtype)
    with pytest.raises(TypeError, match="cast: complex values cannot be cast to int64"):
        ng.cast(np.array([1 + 2j]), np.int64)
    with pytest.raises(TypeError, match="cast: unknown dtype 'foo'"):
        ng.cast(np.ones(2), "foo")


def test_bad_arguments_are_named():
    """Bool tensors where numbers are needed, non-int axes and shapes, 0-d concat, integers
    to negative powers: TypeError/ValueError naming the op (not NumPy's bare message)."""
    b = np.array([True, False])
    for call, err, op in [
            (lambda: ng.neg(b), TypeError, "neg"), (lambda: ng.sigmoid(b), TypeError, "sigmoid"),
            (lambda: ng.sub(b, b), TypeError, "sub"), (lambda: ng.softmax(b), TypeError,
                                                       "softmax"),
            (lambda: ng.log_softmax(b), TypeError, "log_softmax"),
            (lambda: ng.mse_loss(b, b), TypeError, "mse_loss"),
            (lambda: ng.binary_cross_entropy_with_logits(b, np.zeros(2)), TypeError,
             "binary_cross_entropy_with_logits"),
            (lambda: ng.sum(np.ones(1), axis=1.5), TypeError, "sum"),
            (lambda: ng.mean(np.ones((2, 2)), axis=(0, True)), TypeError, "mean"),
            (lambda: ng.max(np.ones(1), axis=1), ValueError, "max"),
            (lambda: ng.amin(np.ones(1), axis=1), ValueError, "amin"),
            (lambda: ng.argmax(np.ones(1), axis=(0,)), TypeError, "argmax"),
            (lambda: ng.clamp(np.ones(1)), TypeError, "clamp"),
            (lambda: ng.concat([np.array(0.0), np.array(0.0)]), ValueError, "concat"),
            (lambda: ng.reshape(np.ones(2), "x"), TypeError, "reshape"),
            (lambda: ng.pow(np.array(-3), np.array([-3])), ValueError, "pow")]:
        with pytest.raises(err, match=rf"^{op}: "):
            call()


def test_a_zero_dimensional_tensor_takes_axis_0_or_minus_1_as_torch():
    """torch.sum(torch.tensor(2.), 0) = 2, also mean and amax; transpose(x, 0, 0) = x."""
    x = np.array(2.0)
    for fn in (ng.sum, ng.mean, ng.amax, ng.amin):
        for axis in (0, -1):
            assert fn(x, axis).item() == 2.0
    assert ng.transpose(x, 0, -1).item() == 2.0
    with pytest.raises(ValueError, match=r"axis 1 is out of range .* 0 dimension"):
        ng.sum(x, 1)


# -- any finite input: a Hypothesis property, torch float64 as the reference ---------------

def _finite_arrays(dtype):
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
    width = 32 if dtype == np.float32 else 64
    elements = st.floats(allow_nan=False, allow_infinity=False, width=width)
    return hnp.arrays(dtype, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1,
                                              max_side=4), elements=elements)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_any_finite_input_gives_torchs_value_or_an_honest_inf(dtype):
    """For arrays of any finite values (subnormals to the largest float, mixed): sigmoid,
    tanh, softmax, log_softmax, cross_entropy (mean and sum), bce_with_logits and mse_loss
    give, forward and backward, no warning, no NaN, and torch float64's value rounded to the
    dtype; inf only where an exact value exceeds the dtype's maximum (a loss element or the
    result itself: the same float32 overflow torch has)."""
    from hypothesis import given
    from hypothesis import strategies as st

    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    big = float(np.finfo(dtype).max)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    atol = 4 * float(np.finfo(dtype).eps)

    def losses(n, C, data):
        t = np.asarray(data.draw(st.lists(st.integers(0, C - 1), min_size=n, max_size=n)))
        y = data.draw(st.floats(0, 1))
        return {
            "cross_entropy": (lambda x, r: ng.cross_entropy(x, t, reduction=r),
                              lambda x, r: F.cross_entropy(x, torch.tensor(t), reduction=r)),
            "bce": (lambda x, r: ng.binary_cross_entropy_with_logits(
                        x, np.full(x.shape, y, x.dtype), reduction=r),
                    lambda x, r: F.binary_cross_entropy_with_logits(
                        x, torch.full(x.shape, y, dtype=x.dtype), reduction=r)),
            "mse": (lambda x, r: ng.mse_loss(x, np.zeros(x.shape, x.dtype), reduction=r),
                    lambda x, r: F.mse_loss(x, torch.zeros(x.shape, dtype=x.dtype),
                                            reduction=r)),
        }

    def compare(name, fn, tfn, x0, overflow_ok, cancels=True):
        scale = max(1.0, float(np.max(np.abs(x0.astype(np.float64))))) if cancels else 1.0
        x = ng.tensor(x0.copy(), requires_grad=True)
        y = fn(x)
        y.sum().backward()
        tx = torch.tensor(x0.astype(np.float64), requires_grad=True)
        ty = tfn(tx)
        ty.sum().backward()
        for what, got, want, tol in (("forward", y.numpy(), ty.detach().numpy(), atol * scale),
                                     ("gradient", x.grad, tx.grad.numpy(), atol)):
            got, want = np.asarray(got, np.float64), np.broadcast_to(want, np.shape(got))
            msg = f"{name} {what} of {x0!r}"
            assert not np.isnan(got).any(), msg
            fits = (np.abs(want) <= big) & ~(overflow_ok & np.isinf(got))
            np.testing.assert_allclose(got[fits], want[fits], rtol=rtol, atol=tol, err_msg=msg)
            assert (np.isinf(got) <= ((np.abs(want) > big) | overflow_ok)).all(), msg

    @given(x0=_finite_arrays(dtype), data=st.data())
    def check(x0, data):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for name, fn, tfn in (("sigmoid", ng.sigmoid, torch.sigmoid),
                                  ("tanh", ng.tanh, torch.tanh),
                                  ("softmax", ng.softmax, lambda v: torch.softmax(v, -1)),
                                  ("log_softmax", ng.log_softmax,
                                   lambda v: torch.log_softmax(v, -1))):
                compare(name, fn, tfn, x0, False, cancels=name == "log_softmax")
            for name, (fn, tfn) in losses(*x0.shape, data).items():
                tx = torch.tensor(x0.astype(np.float64))
                element_overflows = bool((tfn(tx, "none").abs() > big).any())
                for r in ("mean", "sum"):
                    compare(f"{name} ({r})", lambda v, f=fn, r=r: f(v, r),
                            lambda v, f=tfn, r=r: f(v, r), x0, element_overflows)

    check()


def test_linear_refuses_another_dtype():
    """FINDINGS F15: complex input to real weights (its backward warned, casting a complex
    gradient), integer and bool input (a silent float64 result) are a TypeError naming the
    dtypes, as torch refuses them; so is a float of another width (it computed in float64
    where the LSTM and the attention refuse it, as torch does), with the conversion to make.
    Nested lists take the weights' dtype."""
    lin = ng.nn.Linear(3, 1)
    for x in (np.ones(3, complex), np.ones(3, np.int64), np.ones(3, bool), np.ones(3)):
        with pytest.raises(TypeError, match=rf"^Linear: input (?=.*{x.dtype})(?=.*float32)"):
            lin(x)
    with pytest.raises(TypeError, match=r"convert input \(input.astype\(np.float32\)\) "
                                        r"or the module \(.to\(np.float64\)\)"):
        lin(np.ones(3))
    assert ng.nn.Linear(3, 1, dtype=np.float64)(np.ones(3)).dtype == np.float64
    assert lin(np.ones(3, np.float32)).dtype == lin([1.0, 2.0, 3.0]).dtype == np.float32


@pytest.mark.parametrize("call", [lambda b: ng.relu(b), lambda b: ng.mse_loss(b, b)])
def test_relu_and_mse_refuse_bool_input_naming_the_op(call):
    """As torch (relu and mse_loss are not defined for Bool); was int64 / NumPy's message."""
    with pytest.raises(TypeError, match=r"^(relu|mse_loss): not defined for (a )?bool"):
        call(ng.tensor(np.array([True, False])))


@pytest.mark.parametrize("device", DEVICES)
def test_power_at_zero_base_and_zero_exponent_as_torch(device):
    """d(a^b)/da is 0 where b = 0, also at a = 0 (it was 0·inf = NaN, so the polynomial
    Σ c_k x^k had a NaN gradient at 0); d(a^b)/db at a = 0 is 0 for b ≥ 0 and −inf for
    b < 0. Values: PyTorch 2.13 (torch.pow's backward), written out."""
    a = leaf([0.0, 0.0, 0.0, 0.0, 2.0], device)
    b = leaf([-1.0, 0.0, 0.5, 2.0, 0.0], device)
    (a ** b).sum().backward()
    np.testing.assert_array_equal(host(a.grad), [-np.inf, 0.0, np.inf, 0.0, 0.0])
    np.testing.assert_array_equal(host(b.grad), [-np.inf, 0.0, 0.0, 0.0, np.log(2.0)])
    x = leaf(0.0, device)
    coefficients = ng.tensor([1.0, 2.0, 3.0], device=device)
    (x ** ng.tensor([0.0, 1.0, 2.0], device=device) * coefficients).sum().backward()
    assert host(x.grad) == 2.0
    x = leaf([0.0, 3.0], device)
    (x ** 0).sum().backward()                   # a Python exponent of 0
    np.testing.assert_array_equal(host(x.grad), [0.0, 0.0])
