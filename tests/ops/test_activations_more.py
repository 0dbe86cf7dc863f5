"""leaky_relu, silu, gelu (both forms) and logsumexp against torch in float64: values,
gradients, dtypes, gradchecks (docs/math.md E6a, E6b, E7a, E11a), errors, Hypothesis
shapes, their modules' reprs, and the CUDA simulator."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nongate_np as ng
import nongate_np.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

ACTIVATIONS = {
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    "leaky_relu_default": (F.leaky_relu, TF.leaky_relu),
    "silu": (F.silu, TF.silu),
    "gelu": (F.gelu, TF.gelu),
    "gelu_tanh": (lambda x: F.gelu(x, "tanh"), lambda x: TF.gelu(x, approximate="tanh")),
}


def _values(shape, seed=0):
    x = np.random.default_rng(seed).normal(0, 3, shape)
    x.flat[: min(x.size, 3)] = [0.0, -0.0, 1e-3][: min(x.size, 3)]   # the kink at 0
    return x


def _against_torch(ours, theirs, x, what):
    t = ng.tensor(x, requires_grad=True)
    r = torch.tensor(x, requires_grad=True)
    y, z = ours(t), theirs(r)
    g = np.random.default_rng(1).normal(size=z.shape)
    y.backward(ng.tensor(g))
    z.backward(torch.tensor(g))
    assert y.dtype == np.float64 and y.shape == tuple(z.shape), what
    np.testing.assert_allclose(y.numpy(), z.detach().numpy(), rtol=1e-12, atol=1e-15,
                               err_msg=f"{what} values")
    np.testing.assert_allclose(t.grad, r.grad.numpy(), rtol=1e-12, atol=1e-15,
                               err_msg=f"{what} gradient")


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_match_torch(name):
    ours, theirs = ACTIVATIONS[name]
    _against_torch(ours, theirs, _values((4, 5, 3)), name)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_at_large_and_special_arguments(name):
    ours, theirs = ACTIVATIONS[name]
    x = np.array([-1e300, -800.0, -40.0, 40.0, 800.0, 1e300, np.inf, np.nan])
    y, z = ours(ng.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy()
    np.testing.assert_allclose(y, z, rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_keep_float32(name):
    ours, theirs = ACTIVATIONS[name]
    x = _values((6,)).astype(np.float32)
    t = ng.tensor(x, requires_grad=True)
    y = ours(t)
    y.sum().backward()
    assert y.dtype == np.float32 and t.grad.dtype == np.float32, name
    np.testing.assert_allclose(y.numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-6,
                               atol=1e-7, err_msg=name)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_gradcheck(name):
    ours, _ = ACTIVATIONS[name]
    x = _values((3, 4), seed=2)
    x[np.abs(x) < 0.05] = 0.5           # away from leaky_relu's kink
    ng.gradcheck(ours, [ng.tensor(x, requires_grad=True)])
    ng.gradcheck(ours, [ng.tensor(x, requires_grad=True)], method="central")


@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(0, 4), min_size=0, max_size=3), seed=st.integers(0, 99))
def test_activations_over_shapes(shape, seed):
    for name, (ours, theirs) in ACTIVATIONS.items():
        _against_torch(ours, theirs, _values(tuple(shape), seed), name)


def test_activation_errors():
    for f in (F.silu, F.gelu, F.leaky_relu):
        with pytest.raises(TypeError, match="expected a float tensor"):
            f(ng.tensor([1, 2]))
        with pytest.raises(TypeError):
            f(ng.tensor([True]))
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        F.gelu(ng.tensor([1.0]), "erf")
    with pytest.raises(TypeError, match="negative_slope must be a real number"):
        F.leaky_relu(ng.tensor([1.0]), "0.1")
    with pytest.raises(ValueError, match="inplace=True is not supported"):
        F.silu(ng.tensor([1.0]), True)
    with pytest.raises(ValueError, match="inplace=True is not supported"):
        F.leaky_relu(ng.tensor([1.0]), 0.1, True)
    with pytest.raises(ValueError, match="GELU: approximate"):
        ng.nn.GELU("fast")
    with pytest.raises(ValueError, match="inplace=True"):
        ng.nn.SiLU(inplace=True)


def test_modules_as_torch():
    pairs = [(ng.nn.LeakyReLU(), torch.nn.LeakyReLU()),
             (ng.nn.LeakyReLU(0.3), torch.nn.LeakyReLU(0.3)),
             (ng.nn.SiLU(), torch.nn.SiLU()), (ng.nn.GELU(), torch.nn.GELU()),
             (ng.nn.GELU("tanh"), torch.nn.GELU("tanh"))]
    x = _values((2, 7))
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(ng.tensor(x)).numpy(),
                                   theirs(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-15,
                                   err_msg=repr(ours))


# ---- logsumexp (E11a)

@pytest.mark.parametrize("dim, keepdim", [(0, False), (-1, True), ((0, 2), False),
                                          ((1, 2), True), ((0, 1, 2), False)])
def test_logsumexp_matches_torch(dim, keepdim):
    _against_torch(lambda t: ng.logsumexp(t, dim, keepdim),
                   lambda r: torch.logsumexp(r, dim, keepdim), _values((3, 4, 5)) * 100,
                   f"logsumexp dim={dim}")


def test_logsumexp_is_stable_and_takes_torchs_limits():
    x = np.array([[1e308, 1e308], [-np.inf, -np.inf], [np.inf, 1.0], [-1e308, 0.0],
                  [np.nan, 1.0], [-800.0, -801.0]])
    np.testing.assert_allclose(ng.logsumexp(ng.tensor(x), 1).numpy(),
                               torch.logsumexp(torch.tensor(x), 1).numpy(), rtol=1e-15)
    empty = np.zeros((2, 0))
    np.testing.assert_array_equal(ng.logsumexp(ng.tensor(empty), 1).numpy(),
                                  torch.logsumexp(torch.tensor(empty), 1).numpy())


def test_logsumexp_dtypes_and_gradcheck():
    x = _values((3, 4)).astype(np.float32)
    assert ng.logsumexp(ng.tensor(x), 1).dtype == np.float32
    ints = ng.logsumexp(ng.tensor(np.arange(6).reshape(2, 3)), 1)
    assert ints.dtype == np.float64         # the library's default float (torch: float32)
    np.testing.assert_allclose(ints.numpy(), torch.logsumexp(
        torch.arange(6.0, dtype=torch.float64).reshape(2, 3), 1).numpy(), rtol=1e-15)
    t = ng.tensor(_values((3, 4)), requires_grad=True)
    ng.gradcheck(lambda a: ng.logsumexp(a, (0, 1)), [t])
    ng.gradcheck(lambda a: ng.logsumexp(a, 1, True), [t], method="central")


def test_logsumexp_errors():
    x = ng.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="logsumexp: axis 2 is out of range"):
        ng.logsumexp(x, 2)
    with pytest.raises(ValueError, match="dim must name at least one axis"):
        ng.logsumexp(x, ())
    with pytest.raises(TypeError, match="logsumexp: dim must be an int"):
        ng.logsumexp(x, None)
    with pytest.raises(TypeError):
        ng.logsumexp(ng.tensor([True]), 0)


@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), seed=st.integers(0, 99),
       keepdim=st.booleans())
def test_logsumexp_over_shapes(shape, seed, keepdim):
    x = _values(tuple(shape), seed)
    dim = seed % len(shape)
    _against_torch(lambda t: ng.logsumexp(t, dim, keepdim),
                   lambda r: torch.logsumexp(r, dim, keepdim), x, f"logsumexp {shape}")
