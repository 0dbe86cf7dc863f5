"""The activation modules LogSigmoid, SELU, CELU, Hardtanh, ReLU6, Mish, Softsign,
Hardsigmoid, Hardswish, Tanhshrink, Softshrink, Hardshrink, Threshold, GLU and PReLU, and
the distance modules PairwiseDistance and CosineSimilarity, as torch 2.13's: reprs,
attributes, ``state_dict`` (PReLU's weight), parameters, values and gradients through the
functional ops, configs that rebuild them, a save and load, and the constructors' errors."""

import numpy as np
import pytest

import nongate_np as ng
import nongate_np.nn.functional as F

# constructor arguments -> torch's repr of the same module
REPRS = {
    "LogSigmoid()": "LogSigmoid()", "SELU()": "SELU()", "CELU()": "CELU(alpha=1.0)",
    "CELU(0.5)": "CELU(alpha=0.5)", "CELU(alpha=2)": "CELU(alpha=2)",
    "Hardtanh()": "Hardtanh(min_val=-1.0, max_val=1.0)",
    "Hardtanh(-2, 3)": "Hardtanh(min_val=-2, max_val=3)",
    "Hardtanh(min_val=-0.5, max_val=0.5)": "Hardtanh(min_val=-0.5, max_val=0.5)",
    "ReLU6()": "ReLU6()", "Mish()": "Mish()", "Softsign()": "Softsign()",
    "Hardsigmoid()": "Hardsigmoid()", "Hardswish()": "Hardswish()",
    "Tanhshrink()": "Tanhshrink()", "Softshrink()": "Softshrink(0.5)",
    "Softshrink(1)": "Softshrink(1)", "Hardshrink(0.25)": "Hardshrink(0.25)",
    "Threshold(0.1, 20)": "Threshold(threshold=0.1, value=20)",
    "Threshold(threshold=-1.0, value=0.0)": "Threshold(threshold=-1.0, value=0.0)",
    "GLU()": "GLU(dim=-1)", "GLU(0)": "GLU(dim=0)", "PReLU()": "PReLU(num_parameters=1)",
    "PReLU(3, 0.1)": "PReLU(num_parameters=3)", "PairwiseDistance()": "PairwiseDistance()",
    "PairwiseDistance(1, 1e-3, True)": "PairwiseDistance()",
    "CosineSimilarity()": "CosineSimilarity()", "CosineSimilarity(0, 1e-6)": "CosineSimilarity()",
}
# the attributes torch's modules carry, by class
ATTRIBUTES = {"CELU": ("alpha",), "Hardtanh": ("min_val", "max_val"),
              "ReLU6": ("min_val", "max_val"), "Softshrink": ("lambd",),
              "Hardshrink": ("lambd",), "Threshold": ("threshold", "value"), "GLU": ("dim",),
              "PReLU": ("num_parameters", "init"),
              "PairwiseDistance": ("norm", "eps", "keepdim"), "CosineSimilarity": ("dim", "eps")}


def _build(nn, call: str):
    return eval(f"nn.{call}", {"nn": nn})


@pytest.mark.parametrize("call", sorted(REPRS))
def test_reprs_are_torchs(call):
    """The repr torch 2.13 prints for the same constructor call (PairwiseDistance and
    CosineSimilarity show no argument, as torch's)."""
    assert repr(_build(ng.nn, call)) == REPRS[call]


@pytest.mark.torch
@pytest.mark.parametrize("call", sorted(REPRS))
def test_reprs_attributes_and_state_dicts_equal_torchs(call):
    import torch
    ours, theirs = _build(ng.nn, call), _build(torch.nn, call)
    assert repr(ours) == repr(theirs) and ours.extra_repr() == theirs.extra_repr()
    for attr in ATTRIBUTES.get(type(ours).__name__, ()):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[key], value.numpy(), err_msg=key)


ELEMENTWISE = ["LogSigmoid()", "SELU()", "CELU(0.5)", "Hardtanh(-2, 3)", "ReLU6()", "Mish()",
               "Softsign()", "Hardsigmoid()", "Hardswish()", "Tanhshrink()", "Softshrink(1)",
               "Hardshrink(0.25)", "Threshold(0.1, 20)", "GLU()", "GLU(0)", "PReLU()",
               "PReLU(3, 0.1)"]


@pytest.mark.torch
@pytest.mark.parametrize("call", ELEMENTWISE)
def test_forward_and_backward_equal_torchs(call):
    """Through each module, values, the input's gradient and PReLU's weight gradient, in
    float64 (the modules' weights converted with .double(), as torch's)."""
    import torch
    ours, theirs = _build(ng.nn, call).double(), _build(torch.nn, call).double()
    x = np.random.default_rng(0).normal(0, 3, (4, 3, 6))
    x[0, 0, :4] = [0.0, 3.0, -3.0, 0.25]
    a, b = ng.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, z = ours(a), theirs(b)
    v = np.random.default_rng(1).normal(size=y.shape)
    y.backward(v)
    z.backward(torch.tensor(v))
    np.testing.assert_allclose(y.numpy(), z.detach().numpy(), rtol=1e-12, atol=1e-300)
    # NOTE: Hardsigmoid's float64 gradient in torch is dy times float32's 1/6 (3e-8 off)
    rtol = 6e-8 if call == "Hardsigmoid()" else 1e-12
    np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=rtol, atol=1e-300)
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12, err_msg=name)


def test_modules_are_the_functional_ops():
    x = ng.tensor(np.random.default_rng(2).normal(0, 3, (2, 4)))
    pairs = [(ng.nn.LogSigmoid(), F.logsigmoid), (ng.nn.SELU(), F.selu),
             (ng.nn.CELU(0.5), lambda t: F.celu(t, 0.5)),
             (ng.nn.Hardtanh(-2, 3), lambda t: F.hardtanh(t, -2, 3)), (ng.nn.ReLU6(), F.relu6),
             (ng.nn.Mish(), F.mish), (ng.nn.Softsign(), F.softsign),
             (ng.nn.Hardsigmoid(), F.hardsigmoid), (ng.nn.Hardswish(), F.hardswish),
             (ng.nn.Tanhshrink(), F.tanhshrink),
             (ng.nn.Softshrink(1), lambda t: F.softshrink(t, 1)),
             (ng.nn.Hardshrink(0.25), lambda t: F.hardshrink(t, 0.25)),
             (ng.nn.Threshold(0.1, 20), lambda t: F.threshold(t, 0.1, 20)),
             (ng.nn.GLU(), F.glu), (ng.nn.GLU(0), lambda t: F.glu(t, 0)),
             (ng.nn.PReLU(dtype=np.float64), lambda t: F.prelu(t, ng.tensor([0.25])))]
    for module, fn in pairs:
        np.testing.assert_array_equal(module(x).numpy(), fn(x).numpy(), err_msg=repr(module))
    assert isinstance(ng.nn.ReLU6(), ng.nn.Hardtanh)                     # as torch's
    assert (ng.nn.ReLU6().min_val, ng.nn.ReLU6().max_val) == (0.0, 6.0)


def test_prelu_parameters_state_dict_and_dtype():
    m = ng.nn.PReLU(3, 0.1)
    assert [name for name, _ in m.named_parameters()] == ["weight"]
    assert m.weight.shape == (3,) and m.weight.dtype == np.float32
    np.testing.assert_array_equal(m.state_dict()["weight"], np.full(3, 0.1, np.float32))
    m.load_state_dict({"weight": np.array([0.5, -1.0, 2.0], np.float32)})
    x = ng.tensor(-np.ones((2, 3, 2), np.float32))
    y = m(x)
    np.testing.assert_array_equal(y.numpy()[0, :, 0], [-0.5, 1.0, -2.0])
    y.sum().backward()
    np.testing.assert_array_equal(m.weight.grad, [-4.0, -4.0, -4.0])
    m.reset_parameters()
    np.testing.assert_array_equal(m.weight.numpy(), np.full(3, 0.1, np.float32))
    assert ng.nn.PReLU(dtype=np.float64).weight.dtype == np.float64
    assert ng.nn.PReLU(0).weight.shape == (0,)                          # as torch
    with pytest.raises(TypeError, match=r"^prelu: weight has dtype float32 and input "
                                        r"float64; .*module.double\(\)"):
        m(ng.tensor(np.ones((2, 3))))
    np.testing.assert_array_equal(m.double()(ng.tensor(-np.ones((1, 3)))).numpy(),
                                  -np.full((1, 3), np.float32(0.1), np.float64))


@pytest.mark.torch
def test_prelu_loads_torchs_state_dict():
    import torch
    theirs = torch.nn.PReLU(4, 0.3)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor([0.1, -0.2, 0.3, 0.4]))
    ours = ng.nn.PReLU(4)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(3).normal(size=(2, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(ng.tensor(x)).numpy(),
                               theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-6)


CONFIGURED = ["CELU(alpha=2)", "Hardtanh(-2, 3)", "ReLU6()", "Softshrink(1)",
              "Hardshrink(0.25)", "Threshold(0.1, 20)", "GLU(0)", "PReLU(3, 0.1)",
              "PairwiseDistance(1, 1e-3, True)", "CosineSimilarity(0, 1e-6)", "Mish()"]


@pytest.mark.parametrize("call", CONFIGURED)
def test_configs_rebuild_the_module(call, tmp_path):
    module = _build(ng.nn, call)
    rebuilt = type(module).from_config(module.config())
    assert repr(rebuilt) == repr(module) and rebuilt.config() == module.config()
    for attr in ATTRIBUTES.get(type(module).__name__, ()):
        assert getattr(rebuilt, attr) == getattr(module, attr), attr
    path = tmp_path / "m.npz"
    ng.save(module, path)
    loaded = ng.load(path).model
    assert type(loaded) is type(module) and loaded.config() == module.config()
    x = np.random.default_rng(4).normal(size=(2, 3, 4)).astype(np.float32)
    args = (x, x[::-1].copy()) if "Distance" in call or "Cosine" in call else (x,)
    np.testing.assert_array_equal(loaded(*args).numpy(), module(*args).numpy())


@pytest.mark.torch
@pytest.mark.parametrize("call", ["PairwiseDistance()", "PairwiseDistance(1, 1e-3, True)",
                                  "PairwiseDistance(float('inf'))", "CosineSimilarity()",
                                  "CosineSimilarity(0, 1e-6)", "CosineSimilarity(dim=-1)"])
def test_distance_modules_equal_torchs(call):
    import torch
    ours, theirs = _build(ng.nn, call), _build(torch.nn, call)
    rng = np.random.default_rng(5)
    x1, x2 = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    a = [ng.tensor(v, requires_grad=True) for v in (x1, x2)]
    b = [torch.tensor(v, requires_grad=True) for v in (x1, x2)]
    y, z = ours(*a), theirs(*b)
    assert y.shape == tuple(z.shape)
    np.testing.assert_allclose(y.numpy(), z.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    z.sum().backward()
    for p, q in zip(a, b):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_distance_modules_are_the_functional_ops():
    rng = np.random.default_rng(6)
    x1, x2 = ng.tensor(rng.normal(size=(3, 4))), ng.tensor(rng.normal(size=(4,)))
    np.testing.assert_array_equal(ng.nn.PairwiseDistance(3, 1e-4, True)(x1, x2).numpy(),
                                  F.pairwise_distance(x1, x2, 3, 1e-4, True).numpy())
    np.testing.assert_array_equal(ng.nn.CosineSimilarity(-1, 1e-3)(x1, x2).numpy(),
                                  F.cosine_similarity(x1, x2, -1, 1e-3).numpy())
    m = ng.nn.PairwiseDistance()
    assert (m.norm, m.eps, m.keepdim) == (2.0, 1e-6, False)
    c = ng.nn.CosineSimilarity()
    assert (c.dim, c.eps) == (1, 1e-8)


def test_the_names_are_exported_and_torchs():
    names = ["LogSigmoid", "SELU", "CELU", "Hardtanh", "ReLU6", "Mish", "Softsign",
             "Hardsigmoid", "Hardswish", "Tanhshrink", "Softshrink", "Hardshrink", "Threshold",
             "GLU", "PReLU", "PairwiseDistance", "CosineSimilarity"]
    for name in names:
        assert name in ng.nn.__all__ and issubclass(getattr(ng.nn, name), ng.nn.Module), name


@pytest.mark.torch
def test_every_nn_name_is_torchs():
    import torch
    assert [n for n in ng.nn.__all__ if n[0].isupper() and not hasattr(torch.nn, n)
            and n not in ("AttentionPooling", "MultiTaskSequenceModel", "StateDictError",
                          "IncompatibleKeys")] == []


CONSTRUCTOR_ERRORS = [
    ("Hardtanh(2.0, 1.0)", ValueError,
     r"^Hardtanh: min_val must be <= max_val, got min_val=2.0 and max_val=1.0"),
    ("Hardtanh(min_value=-2.0)", ValueError,
     r"^Hardtanh: min_value and max_value \(deprecated in torch\) are not supported; use "
     r"min_val and max_val"),
    ("Hardtanh(-1, '1')", TypeError, r"^Hardtanh: max_val must be a real number, got '1'"),
    ("CELU(0)", ValueError, r"^CELU: alpha must not be 0"),
    ("CELU(None)", TypeError, r"^CELU: alpha must be a real number, got None"),
    ("Softshrink(-0.5)", ValueError, r"^Softshrink: lambd must be >= 0 .*got -0.5"),
    ("Hardshrink('a')", TypeError, r"^Hardshrink: lambd must be a real number"),
    ("Threshold(0.5, None)", TypeError, r"^Threshold: value must be a real number, got None"),
    ("GLU(1.5)", TypeError, r"^GLU: dim must be an int, got 1.5"),
    ("PReLU(-1)", ValueError, r"^PReLU: num_parameters must be an int >= 0, got -1"),
    ("PReLU(2.5)", ValueError, r"^PReLU: num_parameters must be an int >= 0, got 2.5"),
    ("PReLU(1, 'x')", TypeError, r"^PReLU: init must be a real number, got 'x'"),
    ("PReLU(1, 0.25, 'int64')", TypeError, r"PReLU"),
    ("PairwiseDistance(-1.0)", ValueError, r"^PairwiseDistance: p must be >= 0 or -inf"),
    ("PairwiseDistance(2, 'a')", TypeError, r"^PairwiseDistance: eps must be a real number"),
    ("PairwiseDistance(2, 1e-6, 1)", TypeError,
     r"^PairwiseDistance: keepdim must be True or False, got 1"),
    ("CosineSimilarity(1.0)", TypeError, r"^CosineSimilarity: dim must be an int, got 1.0"),
    ("CosineSimilarity(1, None)", TypeError, r"^CosineSimilarity: eps must be a real number"),
    *[(f"{name}(inplace=True)", ValueError, rf"^{name}: inplace=True is not supported")
      for name in ("SELU", "CELU", "Hardtanh", "ReLU6", "Mish", "Hardsigmoid", "Hardswish")],
    ("Threshold(0.0, 1.0, True)", ValueError, r"^Threshold: inplace=True is not supported"),
]


@pytest.mark.parametrize("call, error, match", CONSTRUCTOR_ERRORS,
                         ids=[c[0] for c in CONSTRUCTOR_ERRORS])
def test_bad_constructor_arguments_fail_at_construction(call, error, match):
    with pytest.raises(error, match=match):
        _build(ng.nn, call)


def test_threshold_needs_both_arguments_as_torchs():
    with pytest.raises(TypeError, match="missing 2 required positional arguments"):
        ng.nn.Threshold()


def test_forward_errors_are_the_functional_ops():
    x = ng.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"^glu: dimension 1 has size 3"):
        ng.nn.GLU(1)(x)
    with pytest.raises(TypeError, match=r"^mish: expected a float tensor"):
        ng.nn.Mish()(ng.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"^prelu: weight has 2 slopes"):
        ng.nn.PReLU(2, dtype=np.float64)(x)
