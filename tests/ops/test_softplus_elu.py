"""softplus (beta, threshold) and elu (alpha), functions and modules, as torch 2.13's
(docs/math.md E6c, E7b): values and gradients in float64 against torch, at ±1e3, at and
around the threshold, at elu's kink, at ±inf and NaN; gradient checks without torch
(central differences and the directional check: like their sibling activations, they
take float tensors only, so no complex step); float32; reprs, configs and errors."""

import math

import numpy as np
import pytest

import nongate_np as ng
import nongate_np.nn.functional as F
from tests.helpers import assert_gradients

SOFTPLUS_ARGS = [dict(), dict(beta=2.0), dict(beta=0.5, threshold=5.0), dict(beta=3, threshold=1),
                 dict(threshold=0.0), dict(beta=-1.0), dict(beta=1e-3)]
ELU_ALPHAS = [1.0, 0.5, 2.0, -0.3, 0.0]
EDGES = np.array([-1e3, -745.0, -700.0, -40.0, -20.0, -1.0, -1e-8, -0.0, 0.0, 1e-8, 0.5, 1.0,
                  5.0, 9.999999, 10.0, 10.000001, 19.999, 20.0, 20.001, 40.0, 1e3, np.inf,
                  -np.inf, np.nan])


def _against_torch(ours, theirs, x, what, torch):
    """Values and gradients (of a fixed cotangent) equal torch's: NaN where torch's, within
    2 ulp elsewhere, or a subnormal apart (torch's exp flushes e^{-745} = 5e-324 to 0)."""
    a, b = ng.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, z = ours(a), theirs(b)
    v = np.linspace(0.5, 2.0, x.size).reshape(x.shape)
    y.backward(v)
    z.backward(torch.tensor(v))
    assert y.dtype == x.dtype and y.shape == tuple(z.shape), what
    for got, want, part in ((y.numpy(), z.detach().numpy(), "value"),
                            (a.grad, b.grad.numpy(), "gradient")):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what} {part}")
        np.testing.assert_allclose(got, want, rtol=4e-16, atol=np.finfo(np.float64).tiny,
                                   err_msg=f"{what} {part}")


@pytest.mark.torch
@pytest.mark.parametrize("kwargs", SOFTPLUS_ARGS, ids=str)
def test_softplus_equals_torchs_at_the_edges(kwargs):
    """±1e3, the threshold and either side of it (βx = t takes the formula, as torch's
    strict >), e^x-accurate values far below 0, ±inf, NaN."""
    torch = pytest.importorskip("torch")
    _against_torch(lambda t: F.softplus(t, **kwargs),
                   lambda t: torch.nn.functional.softplus(t, **kwargs), EDGES,
                   f"softplus{kwargs}", torch)


@pytest.mark.torch
@pytest.mark.parametrize("alpha", ELU_ALPHAS)
def test_elu_equals_torchs_at_the_edges(alpha):
    """The slope α at x = 0 (torch's), α e^x from x far below 0, NaN's gradient dy."""
    torch = pytest.importorskip("torch")
    _against_torch(lambda t: F.elu(t, alpha), lambda t: torch.nn.functional.elu(t, alpha),
                   EDGES, f"elu({alpha})", torch)


@pytest.mark.torch
@pytest.mark.parametrize("shape", [(), (1,), (3, 4), (2, 0, 3), (2, 3, 5)], ids=str)
def test_random_values_equal_torchs(shape):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(len(shape)).normal(0, 8, shape)
    for kwargs in SOFTPLUS_ARGS:
        _against_torch(lambda t: F.softplus(t, **kwargs),
                       lambda t: torch.nn.functional.softplus(t, **kwargs), x,
                       f"softplus{kwargs}", torch)
    for alpha in ELU_ALPHAS:
        _against_torch(lambda t: F.elu(t, alpha), lambda t: torch.nn.functional.elu(t, alpha),
                       x, f"elu({alpha})", torch)


def test_softplus_far_below_zero_is_exp_accurate_and_never_overflows():
    """Torch-free: e^{βx}/β to full relative precision where e^{βx} is tiny (log(1 + e^x)
    would give 0 there), 0 beyond the float range, x at +1e3 (above the threshold), and
    the finite value where a large threshold leaves βx beyond e^{βx}'s range (torch's
    log1p(exp(βx)) gives inf there)."""
    x = np.array([-1e3, -745.0, -700.0, -50.0, -36.0])
    y = ng.softplus(ng.tensor(x)).numpy()
    np.testing.assert_allclose(y[2:], np.exp(x[2:]), rtol=1e-15)
    assert y[0] == 0.0 and 0 <= y[1] < 1e-320
    np.testing.assert_allclose(ng.softplus(ng.tensor(x), beta=2.0).numpy()[2:],
                               np.exp(2 * x[2:]) / 2, rtol=1e-15)
    assert ng.softplus(ng.tensor(1e3)).item() == 1e3
    t = ng.tensor([800.0, 30.0], requires_grad=True)
    with np.errstate(all="raise"):
        y = ng.softplus(t, threshold=1e4)
        y.sum().backward()
    np.testing.assert_allclose(y.numpy(), [800.0, 30.0 + math.log1p(math.exp(-30.0))],
                               rtol=1e-15)
    np.testing.assert_allclose(t.grad, [1.0, 1 / (1 + math.exp(-30.0))], rtol=1e-15)


def test_softplus_threshold_switches_to_x_and_its_gradient_to_one():
    x = np.array([np.nextafter(10.0, 0.0), 10.0, np.nextafter(10.0, 20.0)])
    t = ng.tensor(x, requires_grad=True)
    y = ng.softplus(t, beta=2.0, threshold=20.0)
    y.sum().backward()
    sigma = 1 / (1 + math.exp(-20.0))
    np.testing.assert_allclose(y.numpy()[:2], [math.log1p(math.exp(2 * v)) / 2 for v in x[:2]],
                               rtol=1e-15)
    assert y.numpy()[2] == x[2]
    np.testing.assert_allclose(t.grad, [sigma, sigma, 1.0], rtol=1e-15)


def test_elu_at_its_kink_and_far_below():
    t = ng.tensor([0.0, -0.0, -800.0, -np.inf, 1e-300, np.nan], requires_grad=True)
    with np.errstate(all="raise"):
        y = ng.elu(t, alpha=0.5)
        y.backward(ng.tensor(np.ones(6)))
    np.testing.assert_array_equal(y.numpy()[:5], [0.0, 0.0, -0.5, -0.5, 1e-300])
    np.testing.assert_array_equal(t.grad, [0.5, 0.5, 0.0, 0.0, 1.0, 1.0])   # α at 0; NaN: dy
    s = ng.tensor([-30.0], requires_grad=True)
    ng.elu(s).sum().backward()
    np.testing.assert_allclose(s.grad, [math.exp(-30.0)], rtol=1e-15)   # not y + α


@pytest.mark.parametrize("kwargs", SOFTPLUS_ARGS[:4], ids=str)
def test_softplus_gradients_three_ways(kwargs):
    """Central differences and the directional check, away from the threshold (a kink)."""
    beta, threshold = kwargs.get("beta", 1.0), kwargs.get("threshold", 20.0)
    x = np.array([-30.0, -2.0, -0.3, 0.0, 0.7, 3.0])
    x = x[np.abs(beta * x - threshold) > 0.1]
    assert_gradients(lambda t: F.softplus(t, **kwargs), [x], analytic=False)
    above = (threshold + np.array([0.5, 30.0])) / beta      # y = x there, gradient 1
    assert_gradients(lambda t: F.softplus(t, **kwargs), [above], analytic=False)


@pytest.mark.parametrize("alpha", ELU_ALPHAS[:4])
def test_elu_gradients_three_ways(alpha):
    x = np.array([[-30.0, -2.0, -0.3], [0.2, 0.7, 3.0]])
    assert_gradients(lambda t: F.elu(t, alpha), [x], analytic=False)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["softplus", "elu"])
def test_float32_stays_float32(name):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).normal(0, 5, (4, 3)).astype(np.float32)
    t = ng.tensor(x, requires_grad=True)
    y = getattr(F, name)(t)
    y.sum().backward()
    assert y.dtype == np.float32 and t.grad.dtype == np.float32, name
    np.testing.assert_allclose(y.numpy(), getattr(torch.nn.functional, name)(
        torch.from_numpy(x)).numpy(), rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.torch
def test_a_softplus_variance_in_gaussian_nll_loss_as_torch():
    """What softplus is reached for: keeping a predicted variance positive."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    mean, raw, target = rng.normal(size=(3, 8, 2))
    raw[0, 0] = -800.0                           # a variance e^{-800}: clamped at eps
    ours = [ng.tensor(a, requires_grad=True) for a in (mean, raw)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (mean, raw)]
    loss = ng.nn.GaussianNLLLoss()(ours[0], ng.tensor(target), F.softplus(ours[1]))
    tloss = torch.nn.GaussianNLLLoss()(theirs[0], torch.tensor(target),
                                       torch.nn.functional.softplus(theirs[1]))
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-13)
    for a, b, what in zip(ours, theirs, ("mean", "raw variance")):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-12, atol=1e-300,
                                   err_msg=what)


@pytest.mark.torch
def test_modules_as_torchs():
    torch = pytest.importorskip("torch")
    pairs = [(ng.nn.Softplus(), torch.nn.Softplus()),
             (ng.nn.Softplus(2, 10), torch.nn.Softplus(2, 10)),
             (ng.nn.Softplus(beta=0.5, threshold=3.5), torch.nn.Softplus(0.5, 3.5)),
             (ng.nn.ELU(), torch.nn.ELU()), (ng.nn.ELU(0.5), torch.nn.ELU(0.5)),
             (ng.nn.ELU(alpha=2), torch.nn.ELU(alpha=2))]
    x = np.random.default_rng(5).normal(0, 6, (3, 5))
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(ng.tensor(x)).numpy(),
                                   theirs(torch.tensor(x)).numpy(), rtol=4e-16, atol=0,
                                   err_msg=repr(ours))


def test_modules_rebuild_from_their_config():
    for module in (ng.nn.Softplus(2, 10), ng.nn.ELU(0.25)):
        rebuilt = type(module).from_config(module.config())
        assert repr(rebuilt) == repr(module)
        x = ng.tensor(np.linspace(-3, 6, 7))
        np.testing.assert_array_equal(rebuilt(x).numpy(), module(x).numpy())
    assert ng.nn.Softplus(np.float64(2.0)).config() == {"beta": 2.0, "threshold": 20.0}


def test_functions_modules_and_names():
    assert F.softplus is ng.softplus
    assert "softplus" in F.__all__ and "elu" in F.__all__
    assert {"Softplus", "ELU"} <= set(ng.nn.__all__)
    assert {"softplus", "elu"} <= set(ng.__all__)
    x = ng.tensor([-1.0, 2.0])
    np.testing.assert_array_equal(F.elu(x, 0.5).numpy(), ng.elu(x, alpha=0.5).numpy())


def test_errors_name_what_was_expected():
    x = ng.tensor([1.0, -1.0])
    for call in (lambda: F.softplus(ng.tensor([1, 2])), lambda: F.elu(ng.tensor([1, 2])),
                 lambda: ng.nn.ELU()(ng.tensor([3]))):
        with pytest.raises(TypeError, match=r"(softplus|elu): expected a float tensor .*got "
                                            r"dtype int64"):
            call()
    with pytest.raises(TypeError, match="softplus: not defined for a bool tensor"):
        F.softplus(ng.tensor([True]))
    with pytest.raises(TypeError, match=r"^softplus: beta must be a real number, got '2'"):
        F.softplus(x, "2")
    with pytest.raises(TypeError, match=r"^softplus: threshold must be a real number, got "
                                        r"True"):
        F.softplus(x, 1.0, True)
    with pytest.raises(TypeError, match=r"^elu: alpha must be a real number, got None"):
        F.elu(x, None)
    with pytest.raises(ValueError, match=r"^elu: inplace=True is not supported"):
        F.elu(x, 1.0, True)
    with pytest.raises(ValueError, match=r"^ELU: inplace=True is not supported"):
        ng.nn.ELU(inplace=True)
    with pytest.raises(TypeError, match=r"^Softplus: beta must be a real number"):
        ng.nn.Softplus(beta=[1.0])
    with pytest.raises(TypeError, match=r"^ELU: alpha must be a real number"):
        ng.nn.ELU("1")
