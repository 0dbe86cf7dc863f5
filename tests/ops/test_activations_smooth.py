"""logsigmoid, mish, softsign, tanhshrink and glu (docs/math.md E6d-E6h) as torch 2.13's:
values and gradients in float64 to 1e-12 against torch at the edges (0, ±1e4, ±inf, NaN)
and at random values, float32 kept; without torch, the gradient checks (central
differences, the directional check, and complex-step on the Functions, which are analytic
but for softsign), values by hand where torch's own formula loses digits (softsign's and
tanhshrink's gradients), and the errors."""

import math

import numpy as np
import pytest

import nongate_np as ng
import nongate_np.nn.functional as F
from nongate_np.ops.activations_smooth import Glu, LogSigmoid, Mish, Tanhshrink
from tests.helpers import assert_gradients
from tests.ops.activation_parity import EDGES, against_torch

UNARY = ["logsigmoid", "mish", "softsign", "tanhshrink"]


def _tf(torch, name):
    return getattr(torch.nn.functional, name)


def _grad_where(name, x):
    """Where torch's gradient is accurate: tanhshrink's 1 − (1 − t²) keeps ε/t² near 0."""
    if name == "tanhshrink":
        return ~((np.abs(x) < 0.1) & (x != 0) & (np.abs(x) > 1e-150))
    return None


@pytest.mark.torch
@pytest.mark.parametrize("name", UNARY)
def test_equal_torchs_at_the_edges(name):
    """±1e4 (logsigmoid: −1e4 and 0, finite), the signed zeros, ±inf (mish: NaN at −inf,
    a NaN gradient at +inf; softsign: NaN at ±inf, as torch's), NaN."""
    torch = pytest.importorskip("torch")
    against_torch(getattr(F, name), _tf(torch, name), EDGES, name, torch,
                  grad_where=_grad_where(name, EDGES))


@pytest.mark.torch
@pytest.mark.parametrize("shape", [(), (1,), (3, 4), (2, 0, 3), (2, 3, 5)], ids=str)
def test_random_values_equal_torchs(shape):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(len(shape)).normal(0, 4, shape)
    for name in UNARY:
        against_torch(getattr(F, name), _tf(torch, name), x, name, torch,
                      grad_where=_grad_where(name, x))
    if x.ndim:
        for dim in range(-x.ndim, x.ndim):
            if x.shape[dim] % 2 == 0:
                against_torch(lambda t: F.glu(t, dim), lambda t: torch.nn.functional.glu(t, dim),
                              x, f"glu(dim={dim})", torch)


@pytest.mark.torch
def test_glu_at_the_edges_as_torch():
    """a and b over the edge values, each against each: σ(b) at ±inf, inf · 0 = NaN. Not
    b = −745: σ(−745) is the subnormal 5e-324 here and 0 in torch's 1/(1 + e^745), so
    a = inf gives inf here and inf · 0 = NaN in torch."""
    torch = pytest.importorskip("torch")
    edges = EDGES[EDGES != -745.0]
    a, b = np.meshgrid(edges, edges)
    x = np.stack([a, b], 0)
    against_torch(lambda t: F.glu(t, 0), lambda t: torch.nn.functional.glu(t, 0), x, "glu",
                  torch)


@pytest.mark.torch
@pytest.mark.parametrize("name", UNARY + ["glu"])
def test_float32_stays_float32_and_equals_torchs(name):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).normal(0, 5, (4, 6)).astype(np.float32)
    t = ng.tensor(x, requires_grad=True)
    y = getattr(F, name)(t)
    y.sum().backward()
    assert y.dtype == np.float32 and t.grad.dtype == np.float32, name
    r = torch.tensor(x, requires_grad=True)
    z = _tf(torch, name)(r)
    z.sum().backward()
    np.testing.assert_allclose(y.numpy(), z.detach().numpy(), rtol=2e-6, atol=1e-7,
                               err_msg=name)
    np.testing.assert_allclose(t.grad, r.grad.numpy(), rtol=2e-6, atol=1e-7, err_msg=name)


# -- without torch -------------------------------------------------------------------------

def test_logsigmoid_never_takes_log_zero():
    """Finite at ±1e4 and beyond (log(σ(x)) is log 0 = −inf at −1e4 and rounds to 0 above
    37); e^{−x}-accurate far above 0, x − e^x far below it; the limits at ±inf."""
    x = np.array([-1e4, -800.0, -40.0, 40.0, 700.0, 1e4, -np.inf, np.inf])
    t = ng.tensor(x, requires_grad=True)
    with np.errstate(all="raise"):
        y = F.logsigmoid(t)
        y.backward(ng.tensor(np.ones(8)))
    want = [-1e4, -800.0, -40.0 - math.exp(-40.0), -math.exp(-40.0), -math.exp(-700.0), 0.0,
            -np.inf, 0.0]
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-15, atol=0)
    assert y.numpy()[5] == 0.0 and not np.signbit(y.numpy()[5])        # +0, as torch
    np.testing.assert_allclose(t.grad, [1.0, 1.0, 1.0, math.exp(-40.0), math.exp(-700.0),
                                        0.0, 1.0, 0.0], rtol=1e-15, atol=0)
    assert np.isnan(F.logsigmoid(ng.tensor([np.nan])).item())


def test_logsigmoid_equals_numpys_logaddexp():
    """−log(1 + e^{−x}) in NumPy's logaddexp, accurate to rounding."""
    x = np.linspace(-50, 50, 201)
    np.testing.assert_allclose(F.logsigmoid(ng.tensor(x)).numpy(), -np.logaddexp(0, -x),
                               rtol=1e-15)


def test_softsign_gradient_is_accurate_where_torchs_cancels():
    """dy/(1+|x|)², not torch's dy/(1+|x|) − dy|x|/(1+|x|)², at large |x| (torch: 2e-10
    relative at 1e6) and beyond 1e154, where (1+|x|)² overflows."""
    x = np.array([1e6, -1e6, 1e9, 1e160, -1e160, 0.0, -0.0])
    t = ng.tensor(x, requires_grad=True)
    with np.errstate(all="raise"):
        F.softsign(t).sum().backward()
    d = 1 + np.abs(x.astype(np.longdouble))
    np.testing.assert_allclose(t.grad[:3], (1 / (d * d))[:3].astype(np.float64), rtol=1e-15)
    np.testing.assert_allclose(t.grad[3:5], 1e-320, rtol=0.05)         # subnormal, not 0
    np.testing.assert_array_equal(t.grad[5:], [1.0, 1.0])
    s = ng.tensor([np.inf, -np.inf], requires_grad=True)
    y = F.softsign(s)
    y.sum().backward()
    assert np.isnan(y.numpy()).all() and np.isnan(s.grad).all()       # ∞/∞, as torch's


def test_tanhshrink_gradient_is_tanh_squared_near_zero():
    """tanh² x to rounding where torch's 1 − (1 − tanh² x) keeps ε/x² of it (10% at 1e-8)."""
    x = np.array([1e-8, -1e-4, 1e-3, 0.01, 1e-200])
    t = ng.tensor(x, requires_grad=True)
    y = F.tanhshrink(t)
    y.sum().backward()
    np.testing.assert_allclose(t.grad, np.tanh(x) ** 2, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(y.numpy(), x - np.tanh(x))           # torch's expression


def test_mish_values_by_hand_and_its_limits():
    x = np.array([-30.0, -1.0, 0.0, 2.0, 30.0, 1e4, -1e4])
    y = F.mish(ng.tensor(x)).numpy()
    want = [v * math.tanh(math.log1p(math.exp(v))) for v in x[:5]]
    np.testing.assert_allclose(y[:5], want, rtol=1e-14)
    assert y[5] == 1e4 and y[6] == 0.0
    t = ng.tensor([-np.inf, np.inf], requires_grad=True)
    z = F.mish(t)
    z.sum().backward()
    assert np.isnan(z.numpy()[0]) and z.numpy()[1] == np.inf            # −∞ · 0, as torch's
    assert np.isnan(t.grad).all()


def test_glu_is_a_times_sigmoid_b():
    x = np.random.default_rng(0).normal(size=(3, 4, 2))
    for dim in (0, -1, 1, -2):
        if x.shape[dim] % 2:
            continue
        a, b = np.split(x, 2, axis=dim)
        np.testing.assert_allclose(F.glu(ng.tensor(x), dim).numpy(), a / (1 + np.exp(-b)),
                                   rtol=1e-15, err_msg=f"dim={dim}")
    assert F.glu(ng.tensor(np.zeros((0, 2)))).shape == (0, 1)
    assert F.glu(ng.tensor(np.zeros((3, 0))), 1).shape == (3, 0)


ANALYTIC = {"logsigmoid": LogSigmoid.apply, "mish": Mish.apply, "tanhshrink": Tanhshrink.apply,
            "glu(0)": lambda t: Glu.apply(t, 0), "glu(1)": lambda t: Glu.apply(t, 1)}


@pytest.mark.parametrize("name", sorted(ANALYTIC))
def test_gradients_three_ways(name):
    """Central differences, complex-step (through the Function: the public functions take
    float tensors only) and the directional check."""
    x = np.random.default_rng(7).normal(0, 2, (4, 6))
    x[0, :3] = [-30.0, 25.0, 1e-3]
    assert_gradients(ANALYTIC[name], [x])


def test_softsign_gradients_without_complex_step():
    """|x| is not analytic: central differences and the directional check, off 0."""
    x = np.array([[-50.0, -2.0, -0.3], [0.2, 1.5, 80.0]])
    assert_gradients(F.softsign, [x], analytic=False)


def test_public_functions_take_float_tensors():
    for name in UNARY + ["glu"]:
        fn = getattr(F, name)
        x = np.random.default_rng(1).normal(size=(2, 4))
        ours = fn(ng.tensor(x))
        np.testing.assert_array_equal(fn(x).numpy(), ours.numpy(), err_msg=name)   # an array
        assert fn(ng.tensor(x.astype(np.float32))).dtype == np.float32, name


def test_errors_name_what_was_expected():
    for name in UNARY + ["glu"]:
        with pytest.raises(TypeError, match=rf"^{name}: expected a float tensor .*got dtype "
                                            r"int64"):
            getattr(F, name)(ng.tensor([1, 2]))
        with pytest.raises(TypeError, match=rf"^{name}: not defined for a bool tensor"):
            getattr(F, name)(ng.tensor([True, False]))
        with pytest.raises(TypeError, match=rf"^{name}: expected a float tensor .*complex128"):
            getattr(F, name)(ng.tensor(np.array([1j, 2.0])))
    with pytest.raises(ValueError, match=r"^mish: inplace=True is not supported"):
        F.mish(ng.tensor([1.0]), True)
    x = ng.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"^glu: dimension -1 has size 3 \(input shape "
                                         r"\(2, 3\)\); it must be even"):
        F.glu(x)
    with pytest.raises(ValueError, match=r"^glu: dimension 1 has size 3"):
        F.glu(x, 1)
    with pytest.raises(ValueError, match=r"^glu: expected a tensor with at least one "
                                         r"dimension .*got a 0-d tensor"):
        F.glu(ng.tensor(1.0))
    with pytest.raises(ValueError, match=r"^glu: axis 2 is out of range for a tensor with 2 "
                                         r"dimension"):
        F.glu(x, 2)
    with pytest.raises(TypeError, match=r"^glu: dim must be an int, got 1.0"):
        F.glu(x, 1.0)


@pytest.mark.torch
def test_torch_refuses_the_same_calls():
    """Each refusal above is torch's too (torch computes softsign and tanhshrink of
    integers in float32; those are refused here, as the library's other activations)."""
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    for call in (lambda: TF.glu(torch.zeros(2, 3)), lambda: TF.glu(torch.tensor(1.0)),
                 lambda: TF.glu(torch.zeros(2, 3), 2), lambda: TF.logsigmoid(torch.tensor([1])),
                 lambda: TF.mish(torch.tensor([1]))):
        with pytest.raises((RuntimeError, IndexError, NotImplementedError)):
            call()
