"""nongate_np.nn.init against torch.nn.init: the distributions' parameters (the uniform
bounds and normal stds of the Xavier and Kaiming schemes for every fan mode, nonlinearity and
gain, calculate_gain, the fans), orthogonal_'s matrix, the deterministic fills, the
arguments and the errors.

The draws differ (NumPy's, not torch's), so torch's functions are run on ours: a patch
answers torch's ``Tensor.uniform_(lo, hi)`` and ``Tensor.normal_(mean,
std)`` with the NumPy draws that ours make for the same parameters from a generator seeded
alike. Equal results mean equal parameters (and, for orthogonal_, the same matrix made from
the same normal draws)."""

from __future__ import annotations

import contextlib
import inspect
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.nn import init

NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu",
                  "leaky_relu", "selu"]
RANDOM = ["uniform_", "normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
          "kaiming_normal_", "orthogonal_"]


@contextlib.contextmanager
def _on_our_draws(seed: int):
    """torch's ``Tensor.uniform_`` and ``Tensor.normal_`` (which torch.nn.init calls) fill
    the tensor with what ``numpy.random.default_rng(seed)`` gives for the same parameters,
    as ours draw, while the context lasts."""
    import torch
    rng = np.random.default_rng(seed)

    def fill(t, values):
        with torch.no_grad():
            t.copy_(torch.from_numpy(np.asarray(values, dtype=np.float64)))
        return t

    def uniform_(t, low=0.0, high=1.0, *, generator=None):
        return fill(t, rng.uniform(low, high, size=tuple(t.shape)))

    def normal_(t, mean=0.0, std=1.0, *, generator=None):
        return fill(t, mean + std * rng.standard_normal(tuple(t.shape)))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.Tensor, "uniform_", uniform_)
        patch.setattr(torch.Tensor, "normal_", normal_)
        yield


def _both(name, shape, seed=0, **kwargs):
    """(ours, torch's on our draws) of ``init.<name>`` on a float64 tensor of ``shape``."""
    import torch
    ours = ng.nn.Parameter(np.zeros(shape))
    getattr(init, name)(ours, **kwargs, generator=np.random.default_rng(seed))
    theirs = torch.zeros(shape, dtype=torch.float64)
    with _on_our_draws(seed):
        getattr(torch.nn.init, name)(theirs, **kwargs)
    return ours.numpy(), theirs.numpy()


@pytest.mark.torch
@pytest.mark.parametrize("name", RANDOM + ["trunc_normal_", "constant_", "zeros_", "ones_",
                                          "eye_", "calculate_gain"])
def test_the_functions_take_torchs_arguments(name):
    """Names, order, defaults and kinds (``constant_``'s ``val``; ``mode``, ``nonlinearity``
    and ``generator`` were missing), so a torch call moves over as it is."""
    import torch

    def params(fn):
        return [(p.name, p.default, p.kind) for p in inspect.signature(fn).parameters.values()]
    assert params(getattr(init, name)) == params(getattr(torch.nn.init, name))


@pytest.mark.torch
@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("param", [None, 0, 0.2, 1, math.sqrt(5)])
def test_calculate_gain_is_torchs(nonlinearity, param):
    import torch
    assert init.calculate_gain(nonlinearity, param) == \
        torch.nn.init.calculate_gain(nonlinearity, param)


@pytest.mark.torch
@pytest.mark.parametrize("args, match", [(("softplus",), "Unsupported nonlinearity softplus"),
                                         (("leaky_relu", True), "negative_slope True not a "
                                                                "valid number"),
                                         (("leaky_relu", "0.1"), "negative_slope 0.1 not")])
def test_calculate_gain_refuses_as_torch(args, match):
    import torch
    for lib in (init, torch.nn.init):
        with pytest.raises(ValueError, match=match):
            lib.calculate_gain(*args)


@st.composite
def init_calls(draw):
    """One of the random initialisers, a weight shape of 2 to 4 dimensions, and arguments:
    a fan mode, a nonlinearity and slope, a gain, bounds, a mean and std."""
    name = draw(st.sampled_from(RANDOM))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=2, max_size=4)))
    kwargs: dict = {}
    if name.startswith("kaiming"):
        kwargs = dict(mode=draw(st.sampled_from(["fan_in", "fan_out", "FAN_OUT"])),
                      nonlinearity=draw(st.sampled_from(NONLINEARITIES)),
                      a=draw(st.sampled_from([0, 0.01, 0.2, math.sqrt(5)])))
    elif name.startswith("xavier") or name == "orthogonal_":
        kwargs = dict(gain=draw(st.sampled_from([1.0, 0.5, 5.0 / 3, math.sqrt(2.0)])))
    elif name == "uniform_":
        low = draw(st.floats(-3, 3))
        kwargs = dict(a=low, b=low + draw(st.floats(0, 2)))
    else:
        kwargs = dict(mean=draw(st.floats(-3, 3)), std=draw(st.floats(0, 2)))
    return name, shape, kwargs, draw(st.integers(0, 2 ** 32 - 1))


@pytest.mark.torch
@given(call=init_calls())
def test_the_distributions_are_torchs(call):
    """torch's function, drawing what ours draws, fills the same values: its bounds and
    stds (Xavier, Kaiming in either mode, for every nonlinearity, slope and gain) are ours,
    and orthogonal_ makes the same matrix from the same normal draws."""
    name, shape, kwargs, seed = call
    ours, theirs = _both(name, shape, seed, **kwargs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-13 if name == "orthogonal_" else 1e-15,
                               atol=1e-14 if name == "orthogonal_" else 0,
                               err_msg=f"{name}{shape} {kwargs}")


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4), (2, 3, 4), (6, 2, 1)])
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_orthogonal_rows_or_columns_are_orthonormal(shape, gain):
    w = ng.nn.Parameter(np.zeros(shape, np.float32))
    init.orthogonal_(w, gain=gain)
    flat = w.numpy().astype(np.float64).reshape(shape[0], -1) / gain
    gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(gram, np.eye(len(gram)), atol=1e-6)
    assert w.dtype == np.float32


@pytest.mark.torch
@pytest.mark.parametrize("shape", [(4, 3), (5, 2, 3), (2, 3, 2, 2), (1, 7)])
def test_fans_and_fills_are_torchs(shape):
    import torch
    w = ng.nn.Parameter(np.zeros(shape))
    t = torch.zeros(shape, dtype=torch.float64)
    assert init.calculate_fan_in_and_fan_out(w) == \
        init._calculate_fan_in_and_fan_out(w) == \
        torch.nn.init._calculate_fan_in_and_fan_out(t)
    for name, args in (("constant_", (0.25,)), ("zeros_", ()), ("ones_", ()),
                       ("eye_", ())):
        if name == "eye_" and len(shape) != 2:
            continue
        getattr(init, name)(w, *args)
        getattr(torch.nn.init, name)(t, *args)
        np.testing.assert_array_equal(w.numpy(), t.numpy(), err_msg=name)
    init.constant_(w, val=-1.5)
    assert np.all(w.numpy() == -1.5)


@pytest.mark.torch
@pytest.mark.parametrize("call, error, match", [
    (lambda lib, w: lib.kaiming_uniform_(w, mode="fan_avg"), ValueError,
     r"Mode fan_avg not supported, please use one of \['fan_in', 'fan_out'\]"),
    (lambda lib, w: lib.kaiming_normal_(w, nonlinearity="softplus"), ValueError,
     "Unsupported nonlinearity softplus"),
    (lambda lib, w: lib.kaiming_uniform_(w[0]), ValueError, "(?i)fan in and fan out"),
    (lambda lib, w: lib.xavier_normal_(w[0]), ValueError, "(?i)fan in and fan out"),
    (lambda lib, w: lib.orthogonal_(w[0]), ValueError,
     "Only tensors with 2 or more dimensions are supported"),
    (lambda lib, w: lib.eye_(w[None]), ValueError,
     "Only tensors with 2 dimensions are supported"),
])
def test_bad_arguments_raise_as_torch(call, error, match):
    import torch
    for lib, w in ((init, ng.nn.Parameter(np.zeros((3, 4)))), (torch.nn.init,
                                                                torch.zeros(3, 4))):
        with pytest.raises(error, match=match):
            with torch.no_grad():
                call(lib, w)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
def test_a_tensor_without_elements_warns_as_torch(name):
    import torch
    for lib, w in ((init, ng.nn.Parameter(np.zeros((0, 3)))), (torch.nn.init,
                                                                torch.zeros(0, 3))):
        with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
            assert getattr(lib, name)(w) is w
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init.orthogonal_(ng.nn.Parameter(np.zeros((0, 3))))     # silently, as torch


def test_a_torch_generator_is_refused_a_numpy_one_draws():
    w = ng.nn.Parameter(np.zeros((3, 4)))

    class TorchLikeGenerator:
        pass
    with pytest.raises(TypeError, match="kaiming_uniform_: generator must be None .* or a "
                                        "numpy.random.Generator, got TorchLikeGenerator"):
        init.kaiming_uniform_(w, generator=TorchLikeGenerator())
    a = init.normal_(ng.nn.Parameter(np.zeros(5)), generator=np.random.default_rng(3)).numpy()
    b = init.normal_(ng.nn.Parameter(np.zeros(5)), generator=np.random.default_rng(3)).numpy()
    np.testing.assert_array_equal(a, b)
    ng.seed(11)
    c = init.normal_(ng.nn.Parameter(np.zeros(5))).numpy()
    ng.seed(11)
    np.testing.assert_array_equal(init.normal_(ng.nn.Parameter(np.zeros(5))).numpy(), c)


@pytest.mark.torch
@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04),
                                             (1.0, 2.0, 0.5, 8.0), (0.0, 1.0, 3.0, 4.0)])
def test_trunc_normal_is_the_truncated_normal_torch_draws(mean, std, a, b):
    """Every value in [a, b], and the sample's mean and std those of N(mean, std²)
    truncated there (scipy's formulas), as torch's sample's; torch's warning for a mean
    more than 2 std outside [a, b] (the last case: the tail, drawn exactly here)."""
    import torch
    from scipy.stats import truncnorm
    dist = truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    n = 200_000
    ours = ng.nn.Parameter(np.zeros(n))
    theirs = torch.zeros(n, dtype=torch.float64)
    torch.manual_seed(0)
    far = mean < a - 2 * std or mean > b + 2 * std
    for call in (lambda: init.trunc_normal_(ours, mean, std, a, b,
                                            generator=np.random.default_rng(0)),
                 lambda: torch.nn.init.trunc_normal_(theirs, mean, std, a, b)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert [str(w.message) for w in caught] == (
            ["mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
             "distribution of values may be incorrect."] if far else [])
    for label, x in (("ours", ours.numpy()), ("torch's", theirs.numpy())):
        assert x.min() >= a and x.max() <= b, label
        assert abs(x.mean() - dist.mean()) < 5 * dist.std() / math.sqrt(n), label
        assert abs(x.std() - dist.std()) < 0.01 * dist.std(), label


@pytest.mark.parametrize("kwargs, match", [(dict(std=0.0), "std must be > 0, got 0.0"),
                                           (dict(a=1.0, b=1.0), "expected a < b")])
def test_trunc_normal_refuses_a_degenerate_distribution(kwargs, match):
    with pytest.raises(ValueError, match=f"trunc_normal_: {match}"):
        init.trunc_normal_(ng.nn.Parameter(np.zeros(3)), **kwargs)
