"""nn.LayerNorm and F.layer_norm (docs/math.md E28), nn.Softmax, nn.LogSoftmax and nn.Flatten,
as torch's: constructor signatures, repr and state_dict keys; values and gradients (input,
weight, bias) against torch in float64 over drawn shapes and eps; gradient checks three
ways; torch's state_dict loads; shape errors name both shapes; constant rows stay finite;
inputs near the float range; the CUDA simulator."""

import inspect

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
import nongate_np.nn.functional as F
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch

pytestmark = pytest.mark.filterwarnings("error")     # every warning fails the test


NAMES = ["Softmax", "LogSoftmax", "Flatten", "LayerNorm"]


def params(cls):
    """(name, default, kind) of the constructor's parameters; torch's ``device`` is left
    out and ``dtype``'s default too (ours is np.float32 as Linear's, torch's None: its
    default dtype, float32)."""
    return [(p.name, None if p.name == "dtype" else p.default, p.kind)
            for p in inspect.signature(cls).parameters.values() if p.name != "device"]


def test_the_modules_are_exported():
    for name in NAMES:
        cls = getattr(ng.nn, name)
        assert issubclass(cls, ng.nn.Module) and name in ng.nn.__all__, name
    assert "layer_norm" in F.__all__ and "layer_norm" in ng.__all__
    assert ng.layer_norm is ng.ops.layer_norm


@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
def test_the_constructors_take_torchs_arguments(name):
    import torch
    assert params(getattr(ng.nn, name)) == params(getattr(torch.nn, name))


@pytest.mark.torch
def test_layer_norm_function_takes_torchs_arguments():
    import torch
    assert params(F.layer_norm) == params(torch.nn.functional.layer_norm)


@pytest.mark.torch
@pytest.mark.parametrize("name, args, kwargs", [
    ("Softmax", (1,), {}), ("Softmax", (), {"dim": -1}), ("LogSoftmax", (0,), {}),
    ("Flatten", (), {}), ("Flatten", (0, 1), {}), ("Flatten", (), {"end_dim": -2}),
    ("LayerNorm", (4,), {}), ("LayerNorm", ((3, 4),), {"eps": 1e-3}),
    ("LayerNorm", ([3, 4],), {"elementwise_affine": False}),
    ("LayerNorm", (4,), {"bias": False}),
    ("LayerNorm", (4,), {"elementwise_affine": False, "bias": True}),
])
def test_repr_and_state_dict_keys_are_torchs(name, args, kwargs):
    import torch
    ours, theirs = getattr(ng.nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())


# -- Softmax, LogSoftmax, Flatten -----------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
@given(data=st.data(), shape=nt.shapes(min_dims=1))
def test_softmax_modules_match_torch(name, data, shape):
    import torch
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = data.draw(nt.arrays(shape))
    assert_matches_torch(getattr(ng.nn, name)(dim), getattr(torch.nn, name)(dim), [x])


@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
def test_softmax_modules_refuse_an_implicit_dim(name):
    """torch picks a dim for dim=None (0 for 0-, 1- and 3-D input, else 1) with a
    deprecation warning; a wrong guess is silent, so here it is an error at construction."""
    with pytest.raises(ValueError, match=f"{name}: pass dim"):
        getattr(ng.nn, name)()
    with pytest.raises(TypeError, match=f"{name}: dim must be an int"):
        getattr(ng.nn, name)(1.0)


@pytest.mark.torch
@given(data=st.data(), shape=nt.shapes(min_dims=1))
def test_flatten_matches_torch(data, shape):
    import torch
    n = len(shape)
    start = data.draw(st.integers(-n, n - 1))
    end = data.draw(st.integers(start % n - n, -1))
    x = data.draw(nt.arrays(shape))
    assert_matches_torch(ng.nn.Flatten(start, end), torch.nn.Flatten(start, end), [x])
    if n >= 2:
        assert_matches_torch(ng.nn.Flatten(), torch.nn.Flatten(), [x])


def test_the_modules_save_and_load(tmp_path):
    model = ng.nn.Sequential(ng.nn.Flatten(), ng.nn.LayerNorm(6, eps=0.1, dtype=np.float64),
                             ng.nn.LogSoftmax(dim=1), ng.nn.Softmax(-1),
                             ng.nn.LayerNorm([6], elementwise_affine=False, bias=False))
    ng.nn.init.normal_(model[1].weight)
    ng.nn.init.normal_(model[1].bias)
    ng.save(model, tmp_path / "m.npz")
    back = ng.load(tmp_path / "m.npz").model
    assert repr(back) == repr(model)
    x = np.random.default_rng(0).standard_normal((2, 2, 3))
    np.testing.assert_array_equal(back(x).numpy(), model(x).numpy())


# -- LayerNorm (E28) ------------------------------------------------------------------------

@st.composite
def layer_norm_cases(draw):
    """x of shape lead + normalized (lead 0-2 axes, normalized 1-3, sides 1-4), weight and
    bias of the normalized shape (or None each), eps."""
    lead = draw(nt.shapes(min_dims=0, max_dims=2))
    normalized = draw(nt.shapes(min_dims=1, max_dims=3))
    x = draw(nt.arrays(lead + normalized, low=-3, high=3))
    weight = draw(nt.arrays(normalized)) if draw(st.booleans()) else None
    bias = draw(nt.arrays(normalized)) if draw(st.booleans()) else None
    eps = draw(st.sampled_from([1e-5, 1e-3, 0.5, 0.0]))
    if eps == 0.0 and min(normalized) == 1 and np.prod(normalized) == 1:
        eps = 1e-5                  # one element: σ = 0, so eps = 0 is 0/0 (NaN in torch too)
    return x, normalized, weight, bias, eps


def _given(*arrays):
    return [a for a in arrays if a is not None]


def _call(fn, normalized, weight, bias, eps):
    """fn(x, *given) with the absent weight or bias as None."""
    def call(x, *rest):
        rest = list(rest)
        w = rest.pop(0) if weight is not None else None
        b = rest.pop(0) if bias is not None else None
        return fn(x, normalized, w, b, eps=eps)
    return call


@pytest.mark.torch
@given(case=layer_norm_cases())
def test_layer_norm_matches_torch(case):
    import torch
    x, normalized, weight, bias, eps = case
    assert_matches_torch(_call(F.layer_norm, normalized, weight, bias, eps),
                         _call(torch.nn.functional.layer_norm, list(normalized), weight,
                               bias, eps),
                         [x] + _given(weight, bias), rtol=1e-10, atol=1e-12)


@given(case=layer_norm_cases())
def test_layer_norm_gradients(case):
    x, normalized, weight, bias, eps = case
    # NOTE: E28's dx cancels by (σ² + ε)/ε along x̂: a slice of 2 elements has only that
    # component (x̂ = ±1 saturated), so its eps is raised to keep within complex-step's
    # bound; tiny eps elsewhere makes central steps coarse beside σ. Small eps is compared
    # with torch above.
    eps = max(eps, 0.1 if np.prod(normalized) == 2 else 1e-3)
    assert_gradients(_call(ng.layer_norm, normalized, weight, bias, eps),
                     [x] + _given(weight, bias))


@pytest.mark.torch
@pytest.mark.parametrize("kwargs", [{}, {"bias": False}, {"elementwise_affine": False},
                                    {"eps": 0.25}])
def test_layer_norm_module_loads_torchs_state_dict(kwargs):
    import torch
    torch.manual_seed(0)
    theirs = torch.nn.LayerNorm((3, 4), dtype=torch.float64, **kwargs)
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_()
    ours = ng.nn.LayerNorm((3, 4), dtype=np.float64, **kwargs)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((2, 5, 3, 4))
    t, tx = ng.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = ours(t), theirs(tx)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-13)
    v = np.random.default_rng(2).standard_normal(out.shape)
    out.backward(v)
    tout.backward(torch.tensor(v))
    np.testing.assert_allclose(t.grad, tx.grad.numpy(), rtol=1e-11, atol=1e-12, err_msg="dx")
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-11, atol=1e-12,
                                   err_msg=f"gradient of {name}")


def test_layer_norm_module_parameters_and_dtype():
    m = ng.nn.LayerNorm(4)
    assert m.normalized_shape == (4,) and m.eps == 1e-5 and m.elementwise_affine
    assert m.weight.dtype == np.float32 and m.bias.dtype == np.float32
    np.testing.assert_array_equal(m.weight.numpy(), np.ones(4, np.float32))
    np.testing.assert_array_equal(m.bias.numpy(), np.zeros(4, np.float32))
    x = np.random.default_rng(0).standard_normal((3, 4))
    assert m(x.astype(np.float32)).dtype == np.float32
    with pytest.raises(TypeError, match="layer_norm: input has dtype float64, weight float32"):
        m(ng.tensor(x))
    assert m.double()(x).dtype == np.float64
    assert ng.nn.LayerNorm(4, elementwise_affine=False).weight is None
    assert ng.nn.LayerNorm(4, bias=False).bias is None
    with pytest.raises(TypeError, match="LayerNorm: expected a floating dtype"):
        ng.nn.LayerNorm(4, dtype=np.int64)


def test_layer_norm_shape_errors_name_both_shapes():
    x = ng.tensor(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"normalized_shape \(3,\).*\(2, 3, 4\)"):
        F.layer_norm(x, (3,))
    with pytest.raises(ValueError, match=r"normalized_shape \(2, 2, 3, 4\).*\(2, 3, 4\)"):
        F.layer_norm(x, (2, 2, 3, 4))
    with pytest.raises(ValueError, match=r"normalized_shape \(5,\).*\(2, 3, 4\)"):
        ng.nn.LayerNorm(5, dtype=np.float64)(x)
    with pytest.raises(ValueError, match=r"weight has shape \(3,\), expected normalized_shape"):
        F.layer_norm(x, (4,), weight=np.ones(3))
    with pytest.raises(ValueError, match=r"bias has shape \(4, 1\), expected normalized_shape"):
        F.layer_norm(x, (4,), bias=np.ones((4, 1)))
    with pytest.raises(ValueError, match="at least one dimension"):
        F.layer_norm(x, ())
    with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        F.layer_norm(x, (4,), eps=-1.0)
    with pytest.raises(TypeError, match="normalized_shape must be an int or a sequence"):
        F.layer_norm(x, (4.0,))
    with pytest.raises(ValueError, match="normalized_shape must be an int or a sequence"):
        ng.nn.LayerNorm((4, -1))


@pytest.mark.torch
@pytest.mark.parametrize("affine", [True, False])
def test_constant_rows_give_finite_output_and_gradient(affine):
    """σ = 0: x̂ = 0 and dx = (g − mean g)/√eps (E28), as torch's."""
    import torch
    x = np.array([[2.5, 2.5, 2.5, 2.5], [0.0, 0.0, 0.0, 0.0], [1.0, -1.0, 3.0, 0.5]])
    w, b = np.array([1.0, -2.0, 0.5, 3.0]), np.array([0.1, 0.2, -0.3, 0.0])
    inputs = [x, w, b] if affine else [x]

    def ours(t, *wb):
        return ng.layer_norm(t, (4,), *wb)

    def theirs(t, *wb):
        return torch.nn.functional.layer_norm(t, [4], *wb)
    assert_matches_torch(ours, theirs, inputs, rtol=1e-10, atol=1e-12)
    t = ng.tensor(x, requires_grad=True)
    out = ng.layer_norm(t, (4,), *([ng.tensor(w), ng.tensor(b)] if affine else []))
    out.backward(np.arange(12.0).reshape(3, 4))
    assert np.all(np.isfinite(out.numpy())) and np.all(np.isfinite(t.grad))


@pytest.mark.torch
def test_inputs_near_the_float_range_stay_finite():
    """LN(c x, eps) = LN(x, eps/c²), dx scaled by 1/c: torch overflows (NaN) at c = 2^500."""
    import torch
    x = np.random.default_rng(3).standard_normal((3, 5))
    c = 2.0 ** 500
    t = ng.tensor(x * c, requires_grad=True)
    out = ng.layer_norm(t, (5,), eps=1e-5)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.functional.layer_norm(tx, [5], eps=1e-5 / c / c)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-13)
    v = np.random.default_rng(4).standard_normal(x.shape)
    out.backward(v)
    tout.backward(torch.tensor(v))
    np.testing.assert_allclose(t.grad * c, tx.grad.numpy(), rtol=1e-11, atol=1e-12,
                               err_msg="dx")


@pytest.mark.torch
def test_empty_input_as_torch():
    import torch
    for shape, ns in (((0, 4), (4,)), ((2, 0), (0,))):
        ours = ng.layer_norm(np.zeros(shape), ns)
        theirs = torch.nn.functional.layer_norm(torch.zeros(shape, dtype=torch.float64),
                                                list(ns))
        assert ours.shape == tuple(theirs.shape)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [slice(None), 0])
def test_layer_norm_on_the_gpu_equals_the_cpus(dtype, rows):
    """(3, 4) and (4,) inputs; a constant row, and one whose σ² overflows the dtype."""
    pytest.importorskip("numba.cuda")
    from nongate_np.kernels import gpu
    if not gpu.probe().usable:
        pytest.skip("no GPU and not on the CUDA simulator")
    big = 1e30 if dtype == np.float32 else 1e200
    x = np.array([[big, -big, 0.0, 1.0], [2.0, 2.0, 2.0, 2.0], [1.5, -2.0, 0.25, 3.0]],
                 dtype)[rows]
    w, b = np.array([1.0, -2.0, 0.5, 3.0], dtype), np.array([0.1, 0.2, -0.3, 0.0], dtype)
    results = []
    for device in ("cpu", "cuda"):
        m = ng.nn.LayerNorm(4, dtype=dtype).to(device)
        m.load_state_dict({"weight": w, "bias": b})
        t = ng.tensor(x, device=device, requires_grad=True)
        out = m(t)
        out.backward(ng.tensor(np.arange(x.size, dtype=dtype).reshape(x.shape), device=device))
        assert out.device == device and out.dtype == dtype
        results.append([out.numpy()] + [a if isinstance(a, np.ndarray) else a.copy_to_host()
                                        for a in (t.grad, m.weight.grad, m.bias.grad)])
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    for name, want, got in zip(("y", "dx", "dweight", "dbias"), *results):
        assert np.all(np.isfinite(got)), name
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 1e-2, err_msg=name)
