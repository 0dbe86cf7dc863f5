"""binary_cross_entropy_with_logits on the GPU (the simulator without one) gives the CPU's
loss and gradients (logits and target, with and without pos_weight and weight, every
reduction), float64, to 1e-12: the op runs on the device's array functions, its softplus and
sigmoid on the element-wise kernels (docs/math.md E15). So do cross_entropy and nll_loss with
class weights, label smoothing, ignored targets and probability targets (E13a-E13c)."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.device import DeviceError  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)

SHAPE = (3, 4)


def host(a):
    return a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)


def bce_step(device, pos_weight, reduction, target_on_host=False, weight=None):
    """(loss, dz, dy) on ``device`` as host arrays; dy None when the target is a host array.
    The logits reach ±40 so that softplus takes both branches far from 0."""
    rng = np.random.default_rng(0)
    z0 = rng.standard_normal(SHAPE) * 3
    z0[0, :2] = [40.0, -40.0]
    y0 = rng.random(SHAPE)
    z = ng.tensor(z0, requires_grad=True, device=device)
    y = y0 if target_on_host else ng.tensor(y0, requires_grad=True, device=device)
    loss = ng.binary_cross_entropy_with_logits(z, y, pos_weight=pos_weight, reduction=reduction,
                                               weight=weight)
    assert loss.device == device
    seed = rng.standard_normal(loss.shape)                 # a non-uniform upstream gradient
    loss.backward(ng.tensor(seed, device=device))
    assert z.grad is not None and hasattr(z.grad, "copy_to_host") == (device == "cuda")
    return (host(loss.data), host(z.grad),
            None if target_on_host else host(y.grad))


POS_WEIGHTS = {"none": None, "per class": np.array([0.5, 1.0, 2.0, 3.5]), "scalar": 2.5}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("pos_weight", list(POS_WEIGHTS), ids=str)
def test_bce_with_logits_on_the_gpu_equals_the_cpu(pos_weight, reduction):
    want = bce_step("cpu", POS_WEIGHTS[pos_weight], reduction)
    got = bce_step("cuda", POS_WEIGHTS[pos_weight], reduction)
    for name, g, w in zip(["loss", "dz", "dy"], got, want):
        assert g.shape == w.shape and g.dtype == w.dtype == np.float64, name
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_weight_on_the_gpu_equals_the_cpu(reduction):
    """A rescaling weight (E15's ω), from the host and from the GPU, beside a pos_weight."""
    weight = np.array([[0.5], [2.0], [-1.0]])
    for w in (weight, ng.tensor(weight, device="cuda")):
        want = bce_step("cpu", POS_WEIGHTS["per class"], reduction, weight=weight)
        got = bce_step("cuda", POS_WEIGHTS["per class"], reduction, weight=w)
        for name, g, v in zip(["loss", "dz", "dy"], got, want):
            np.testing.assert_allclose(g, v, rtol=0, atol=1e-12, err_msg=name)


def test_a_host_target_is_copied_to_the_logits_device():
    want = bce_step("cpu", POS_WEIGHTS["per class"], "mean", target_on_host=True)
    got = bce_step("cuda", POS_WEIGHTS["per class"], "mean", target_on_host=True)
    for name, g, w in zip(["loss", "dz"], got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-12, err_msg=name)


def test_a_gpu_pos_weight_with_cpu_logits_is_refused():
    pos_weight = ng.tensor([2.0, 1.0], device="cuda")
    with pytest.raises(DeviceError, match="pos_weight is on cuda and the logits on cpu"):
        ng.binary_cross_entropy_with_logits(ng.tensor([0.5, -1.0]), np.array([1.0, 0.0]),
                                            pos_weight=pos_weight)


def ce_step(device, fn, target_requires_grad):
    """(loss, dz, dtarget or None) of ``fn(z, target)`` on ``device``, as host arrays."""
    rng = np.random.default_rng(1)
    z = ng.tensor(rng.standard_normal((3, 4, 2)), requires_grad=True, device=device)
    p = rng.dirichlet(np.ones(4), (3, 2)).transpose(0, 2, 1)
    target = (ng.tensor(p, requires_grad=True, device=device) if target_requires_grad
              else np.array([[0, 3], [-100, 1], [2, 2]]))
    loss = fn(z, target)
    loss.backward(ng.tensor(rng.standard_normal(loss.shape), device=device))
    return (host(loss.data), host(z.grad),
            host(target.grad) if target_requires_grad else None)


WEIGHT = np.array([0.5, 1.0, 2.0, 3.5])
CE_CASES = {
    "weight, smoothing": (lambda r: lambda z, t: ng.cross_entropy(
        z, t, weight=WEIGHT, label_smoothing=0.2, reduction=r), False),
    "nll_loss": (lambda r: lambda z, t: ng.nll_loss(z, t, WEIGHT, reduction=r), False),
    "probabilities": (lambda r: lambda z, t: ng.cross_entropy(
        z, t, weight=WEIGHT, label_smoothing=0.2, reduction=r), True),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", list(CE_CASES))
def test_cross_entropy_on_the_gpu_equals_the_cpu(case, reduction):
    make, probabilities = CE_CASES[case]
    want = ce_step("cpu", make(reduction), probabilities)
    got = ce_step("cuda", make(reduction), probabilities)
    for name, g, w in zip(["loss", "dz", "dtarget"], got, want):
        if w is not None:
            np.testing.assert_allclose(g, w, rtol=0, atol=1e-12, err_msg=name)
