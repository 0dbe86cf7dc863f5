"""l1_loss and binary_cross_entropy on the GPU (the simulator without one) give the CPU's
loss and gradients, float64, to 1e-12, every reduction, with and without their weights,
binary_cross_entropy at its clamped x = 0 and 1 too (docs/math.md E14b, E15a); the range
check reads the GPU's input."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)

RNG = np.random.default_rng(0)
X = RNG.uniform(0.05, 0.95, (3, 4))
X[0, :3] = [0.0, 1.0, 1e-50]
Y = RNG.uniform(0.0, 1.0, (3, 4))
W = RNG.uniform(0.5, 2.0, (3, 4))


def host(a):
    return a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)


def step(device, fn, x0, y0, w0):
    """(loss, dx, dy) of ``fn(x, y, w)`` on ``device`` as host arrays; w a host array."""
    x = ng.tensor(x0, requires_grad=True, device=device)
    y = ng.tensor(y0, requires_grad=True, device=device)
    loss = fn(x, y, w0)
    assert loss.device == device
    loss.backward(ng.tensor(np.random.default_rng(1).standard_normal(loss.shape),
                            device=device))
    return host(loss.data), host(x.grad), host(y.grad)


CASES = {
    "l1": (lambda r: lambda x, y, w: ng.l1_loss(x, y, r), None),
    "l1 weighted": (lambda r: lambda x, y, w: ng.l1_loss(x, y, r, weight=w), W),
    "bce": (lambda r: lambda x, y, w: ng.binary_cross_entropy(x, y, None, r), None),
    "bce weighted": (lambda r: lambda x, y, w: ng.binary_cross_entropy(x, y, w, r), W[0]),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", list(CASES))
def test_on_the_gpu_equals_the_cpu(case, reduction):
    make, w = CASES[case]
    y = Y.copy()
    if case.startswith("l1"):
        y[0, 3] = X[0, 3]                       # the kink x = y: gradient 0 on both
    want = step("cpu", make(reduction), X, y, w)
    got = step("cuda", make(reduction), X, y, w)
    for name, g, v in zip(["loss", "dx", "dy"], got, want):
        assert g.shape == v.shape and g.dtype == v.dtype == np.float64, name
        np.testing.assert_allclose(g, v, rtol=1e-12, atol=1e-12, err_msg=name)


def test_a_probability_outside_the_unit_interval_on_the_gpu_is_refused():
    x = X.copy()
    x[2, 2] = np.nan
    with pytest.raises(ValueError, match="got 1 outside it or NaN"):
        ng.binary_cross_entropy(ng.tensor(x, device="cuda"), ng.tensor(Y, device="cuda"))
