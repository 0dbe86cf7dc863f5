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
    """max's gradient selects the maxima (ties share it): an inf upstream gradient reaches
    only them, 0 elsewhere (0·inf would be NaN)."""
    x = leaf([[1.0, 3.0, 3.0], [-np.inf, 0.0, -1.0]], device)
    y = ng.max(x, axis=1)
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
@pytest.mark.parametrize("dtype, m", [(np.float64, 1e300), (np.float32, 3e38)])
def test_clip_grad_norm_of_huge_finite_gradients_is_finite(dtype, m, norm_type):
    """Entries of 1e300 (float64) or 3e38 (float32): the exact norm m·‖(1, 1)‖ (torch
    overflows to inf and zeroes them); the gradients are clipped to norm 1."""
    ps = grads_of([m, -m], [1.0], dtype=dtype)
    total = optim.clip_grad_norm_(ps, 1.0, norm_type=norm_type)
    norm = np.linalg.norm([1.0, 1.0], norm_type)
    np.testing.assert_allclose(total, float(dtype(m)) * norm, rtol=1e-15)
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
