"""The loss modules on the GPU (the simulator without one): a weighted CrossEntropyLoss held
by a model moves with it (``.to("cuda")`` moves its weight buffer), and a training step gives
the CPU's loss and gradients, float64, to 1e-12; so do BCEWithLogitsLoss's two weights and
mse_loss's weight (docs/math.md E13b, E14a, E15)."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)


def host(a):
    return a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)


class Classifier(ng.nn.Module):
    """A linear layer and its criterion, as a torch model often keeps them."""

    def __init__(self, criterion):
        super().__init__()
        self.linear = ng.nn.Linear(4, 3, dtype=np.float64)
        self.criterion = criterion

    def forward(self, x, target):
        return self.criterion(self.linear(x), target)


def classifier_step(device, criterion, target):
    """(loss, {gradient name: host array}) of one step of a Classifier moved to ``device``."""
    ng.seed(0)
    model = Classifier(criterion).to(device)
    rng = np.random.default_rng(2)
    loss = model(ng.tensor(rng.standard_normal((5, 4)), device=device), target)
    assert loss.device == device
    loss.backward(ng.tensor(rng.standard_normal(loss.shape), device=device))
    return host(loss.data), {name: host(p.grad) for name, p in model.named_parameters()}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_a_weighted_cross_entropy_loss_moves_with_the_model(reduction):
    weight, target = np.array([0.5, 2.0, 1.5]), np.array([0, 2, 1, 1, 2])

    def criterion():
        return ng.nn.CrossEntropyLoss(weight=weight.copy(), ignore_index=1,
                                      reduction=reduction, label_smoothing=0.1)

    moved = Classifier(criterion()).to("cuda")
    assert hasattr(moved.criterion.weight, "copy_to_host")      # the buffer is on the GPU
    np.testing.assert_array_equal(moved.state_dict()["criterion.weight"], weight)
    want_loss, want = classifier_step("cpu", criterion(), target)
    got_loss, got = classifier_step("cuda", criterion(), target)
    np.testing.assert_allclose(got_loss, want_loss, rtol=0, atol=1e-12, err_msg="loss")
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-12, err_msg=name)
    back = moved.cpu().criterion.weight
    assert type(back) is np.ndarray and back.dtype == np.float64


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_loss_weights_move_with_it(reduction):
    rng = np.random.default_rng(3)
    z0, y0 = rng.standard_normal((5, 3)), rng.random((5, 3))
    seed = rng.standard_normal(() if reduction != "none" else (5, 3))
    results = []
    for device in ("cpu", "cuda"):
        loss_fn = ng.nn.BCEWithLogitsLoss(weight=np.array([[0.5], [2.0], [1.0], [3.0], [1.0]]),
                                          reduction=reduction,
                                          pos_weight=np.array([1.0, 2.5, 0.5])).to(device)
        assert all(hasattr(b, "copy_to_host") == (device == "cuda")
                   for b in loss_fn.buffers())
        z = ng.tensor(z0, requires_grad=True, device=device)
        loss = loss_fn(z, ng.tensor(y0, device=device))
        loss.backward(ng.tensor(seed, device=device))
        results.append((host(loss.data), host(z.grad)))
    for name, g, w in zip(["loss", "dz"], *results[::-1]):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weights", ["positive", "zero"])
def test_weighted_mse_loss_on_the_gpu_equals_the_cpu(reduction, weights):
    """Including Σ w = 0, whose "mean" divides by 1 on the device (E14a)."""
    rng = np.random.default_rng(4)
    x0, y0 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    w0 = rng.uniform(0.5, 2.0, (4, 3)) if weights == "positive" else np.zeros((4, 3))
    seed = rng.standard_normal(() if reduction != "none" else (4, 3))
    results = []
    for device in ("cpu", "cuda"):
        x, y, w = (ng.tensor(a, requires_grad=True, device=device) for a in (x0, y0, w0))
        loss = ng.nn.functional.mse_loss(x, y, reduction=reduction, weight=w)
        loss.backward(ng.tensor(seed, device=device))
        results.append([host(loss.data)] + [host(t.grad) for t in (x, y, w)])
    for name, g, v in zip(["loss", "dx", "dy", "dw"], *results[::-1]):
        np.testing.assert_allclose(g, v, rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("make, target", [
    (lambda: ng.nn.HuberLoss(delta=0.5), "real"),
    (lambda: ng.nn.SmoothL1Loss(reduction="none", beta=0.7), "real"),
    (lambda: ng.nn.SmoothL1Loss(reduction="sum", beta=0.0), "real"),
    (lambda: ng.nn.KLDivLoss(reduction="batchmean"), "probabilities"),
    (lambda: ng.nn.KLDivLoss(reduction="sum", log_target=True), "real"),
], ids=["huber", "smooth-l1", "smooth-l1-beta-0", "kl", "kl-log-target"])
def test_the_composed_losses_give_the_cpus_values_and_gradients(make, target):
    """HuberLoss, SmoothL1Loss and KLDivLoss, compositions of the ops, on the GPU: the
    CPU's loss and gradients, the target on the device too."""
    rng = np.random.default_rng(4)
    y = rng.uniform(0.05, 1.0, (5, 3)) if target == "probabilities" else \
        rng.standard_normal((5, 3))
    results = []
    for device in ("cpu", "cuda"):
        results.append(classifier_step(device, make(), ng.tensor(y, device=device)))
    (want_loss, want), (got_loss, got) = results
    np.testing.assert_allclose(got_loss, want_loss, rtol=0, atol=1e-12, err_msg="loss")
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-12, err_msg=name)
