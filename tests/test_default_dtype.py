"""set_default_dtype / get_default_dtype: the dtype of tensors made from Python floats and of
the float factories, and of modules made without a dtype, against torch's under the same
setting (nongate_np.defaults states the rule)."""

import numpy as np
import pytest

import nongate_np as ng
from nongate_np import defaults, nn

DTYPES = [np.float32, np.float64]


@pytest.fixture(autouse=True)
def _unset():
    """Every test here starts and ends with the default never set, as the rest of the suite
    expects (tensors float64, modules float32)."""
    defaults.reset_default_dtype()
    yield
    defaults.reset_default_dtype()


@pytest.fixture
def torch_default():
    """A function setting torch's default dtype to a NumPy dtype's counterpart; torch's own
    default is restored after the test."""
    torch = pytest.importorskip("torch")
    before = torch.get_default_dtype()

    def set_(dtype):
        torch.set_default_dtype(getattr(torch, np.dtype(dtype).name))
        return torch

    try:
        yield set_
    finally:
        torch.set_default_dtype(before)


def name(dtype) -> str:
    """A NumPy or torch dtype's name: "float32", "int64", ..."""
    return str(dtype).removeprefix("torch.")


# (what, the call with nongate_np or torch as m); each made without a dtype
MADE = [
    ("zeros", lambda m: m.zeros(3)),
    ("zeros shape", lambda m: m.zeros((2, 3))),
    ("ones", lambda m: m.ones(2, 3)),
    ("full float", lambda m: m.full((2,), 1.5)),
    ("randn", lambda m: m.randn(4, 7, 3)),
    ("rand", lambda m: m.rand(2)),
    ("arange float end", lambda m: m.arange(0, 3.0)),
    ("arange float step", lambda m: m.arange(0, 3, 0.5)),
    ("arange int", lambda m: m.arange(3)),
    ("tensor float", lambda m: m.tensor(1.5)),
    ("tensor list", lambda m: m.tensor([1.0, 2.0])),
    ("tensor mixed list", lambda m: m.tensor([[1, 2.5], [3, 4]])),
    ("tensor tuple", lambda m: m.tensor((1.0, 2.0))),
    ("tensor int list", lambda m: m.tensor([1, 2])),
    ("tensor bool", lambda m: m.tensor(True)),
    ("tensor complex", lambda m: m.tensor(1 + 2j)),
    ("tensor complex list", lambda m: m.tensor([1.0, 2j])),
    ("tensor numpy float64 scalar", lambda m: m.tensor(np.float64(1.5))),
    ("tensor numpy float32 scalar", lambda m: m.tensor(np.float32(1.5))),
    # torch.Tensor is always a float; ng.Tensor is tensor()'s conversion without the copy
    ("Tensor list", lambda m: m.Tensor([1.0, 2.0]) if m is ng else m.tensor([1.0, 2.0]),),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("what, make", MADE, ids=[m[0] for m in MADE])
def test_made_without_a_dtype_as_torch(dtype, what, make, torch_default):
    ng.set_default_dtype(dtype)
    torch = torch_default(dtype)
    assert name(make(ng).dtype) == name(make(torch).dtype), what


@pytest.mark.parametrize("what, make", MADE, ids=[m[0] for m in MADE])
def test_never_set_is_numpys(what, make):
    """Until set_default_dtype, each is what NumPy makes of the same numbers."""
    numpy_made = {"zeros": np.zeros(3), "zeros shape": np.zeros((2, 3)),
                  "ones": np.ones((2, 3)), "full float": np.full((2,), 1.5),
                  "randn": np.random.default_rng(0).standard_normal((4, 7, 3)),
                  "rand": np.random.default_rng(0).random(2),
                  "arange float end": np.arange(0, 3.0), "arange float step":
                  np.arange(0, 3, 0.5), "arange int": np.arange(3, dtype=np.int64),
                  "tensor float": np.asarray(1.5), "tensor list": np.asarray([1.0, 2.0]),
                  "tensor mixed list": np.asarray([[1, 2.5], [3, 4]]),
                  "tensor tuple": np.asarray((1.0, 2.0)), "tensor int list":
                  np.asarray([1, 2], np.int64), "tensor bool": np.asarray(True),
                  "tensor complex": np.asarray(1 + 2j), "tensor complex list":
                  np.asarray([1.0, 2j]), "tensor numpy float64 scalar":
                  np.asarray(np.float64(1.5)), "tensor numpy float32 scalar":
                  np.asarray(np.float32(1.5)), "Tensor list": np.asarray([1.0, 2.0])}
    assert ng.get_default_dtype() is np.float64
    assert make(ng).dtype == numpy_made[what].dtype


def test_full_with_an_int_or_bool_value_is_the_default_float():
    """Documented difference from torch (int64, bool): full's value is cast to the dtype."""
    for dtype in DTYPES:
        ng.set_default_dtype(dtype)
        assert ng.full((2,), 3).dtype == dtype
        assert ng.full((2,), True).dtype == dtype
        assert ng.full((2,), 3, dtype=np.int64).dtype == np.int64


@pytest.mark.parametrize("dtype", DTYPES)
def test_an_explicit_dtype_wins(dtype):
    other = np.float64 if dtype == np.float32 else np.float32
    ng.set_default_dtype(dtype)
    made = [ng.zeros(2, dtype=other), ng.ones(2, dtype=other), ng.full((2,), 1.5, other),
            ng.randn(2, dtype=other), ng.rand(2, dtype=other),
            ng.arange(0.0, 2, dtype=other), ng.tensor([1.0], dtype=other),
            ng.Tensor([1.0], dtype=other), nn.Linear(2, 2, dtype=other).weight,
            nn.LSTM(2, 3, dtype=other).weight_ih_l0]
    assert [t.dtype for t in made] == [np.dtype(other)] * len(made)


@pytest.mark.parametrize("dtype", DTYPES)
def test_ndarrays_keep_their_dtype(dtype, torch_default):
    """As torch.from_numpy / torch.as_tensor and torch.tensor of an ndarray."""
    torch = torch_default(dtype)
    ng.set_default_dtype(dtype)
    for kind in (np.float16, np.float32, np.float64, np.complex64, np.int32):
        a = np.arange(3).astype(kind)
        assert ng.tensor(a).dtype == a.dtype == np.dtype(name(torch.tensor(a).dtype))
        assert ng.Tensor(a).dtype == a.dtype == np.dtype(name(torch.as_tensor(a).dtype))
        assert ng.from_numpy(a).dtype == a.dtype
        assert ng.zeros_like(a).dtype == ng.ones_like(a).dtype == a.dtype
        assert ng.zeros_like(ng.tensor(a)).dtype == a.dtype
    for kind in (np.float32, np.float64):
        assert nn.Parameter(np.ones(2, kind)).dtype == kind
        assert nn.Parameter(ng.ones(2, dtype=kind)).dtype == kind


@pytest.mark.parametrize("dtype", DTYPES)
def test_values_are_the_float64_values_rounded(dtype):
    """The default changes the dtype only: the same seed draws the same samples, rounded."""
    ng.manual_seed(3)
    want_n, want_u = ng.randn(5, dtype=np.float64), ng.rand(5, dtype=np.float64)
    ng.set_default_dtype(dtype)
    ng.manual_seed(3)
    got_n, got_u = ng.randn(5), ng.rand(5)
    np.testing.assert_array_equal(got_n.numpy(), want_n.numpy().astype(dtype))
    np.testing.assert_array_equal(got_u.numpy(), want_u.numpy().astype(dtype))
    np.testing.assert_array_equal(ng.arange(0, 1, 0.1).numpy(),
                                  np.arange(0, 1, 0.1).astype(dtype))
    np.testing.assert_array_equal(ng.tensor([0.1, 0.2]).numpy(),
                                  np.asarray([0.1, 0.2]).astype(dtype))


def test_beyond_float32_is_inf_as_torch(torch_default):
    torch = torch_default(np.float32)
    ng.set_default_dtype(np.float32)
    got = ng.tensor([1e300, -1e300, 1.0]).numpy()
    want = torch.tensor([1e300, -1e300, 1.0]).numpy()
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype == np.float32


@pytest.mark.parametrize("given, want", [(np.float32, np.float32), (np.float64, np.float64),
                                         ("float32", np.float32), ("float64", np.float64),
                                         (np.dtype("float32"), np.float32), (float, np.float64)])
def test_get_returns_the_numpy_type_set(given, want):
    ng.set_default_dtype(given)
    assert ng.get_default_dtype() is want
    assert np.zeros(1, ng.get_default_dtype()).dtype == want


@pytest.mark.parametrize("bad", [None, "hello", 3, object(), [np.float32]])
def test_a_non_dtype_is_a_type_error(bad):
    ng.set_default_dtype(np.float32)
    with pytest.raises(TypeError, match=r"set_default_dtype: expected np\.float32 or "
                                        r"np\.float64"):
        ng.set_default_dtype(bad)
    assert ng.get_default_dtype() is np.float32         # unchanged by the refused call


def test_a_torch_dtype_is_a_type_error():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"np\.float32 or np\.float64"):
        ng.set_default_dtype(torch.float32)


@pytest.mark.parametrize("bad", [np.float16, np.int64, np.int32, np.complex64, np.complex128,
                                 bool, "longdouble"])
def test_another_dtype_is_a_value_error(bad):
    with pytest.raises(ValueError, match=r"expected np\.float32 or np\.float64, got "
                                         + np.dtype(bad).name):
        ng.set_default_dtype(bad)
    assert ng.get_default_dtype() is np.float64
    assert nn.Linear(1, 1).weight.dtype == np.float32       # still never set


def _ng_modules():
    return {"Linear": nn.Linear(3, 2), "Embedding": nn.Embedding(5, 2),
            "LayerNorm": nn.LayerNorm(4), "LSTM": nn.LSTM(3, 4, num_layers=2)}


def _torch_modules(torch):
    return {"Linear": torch.nn.Linear(3, 2), "Embedding": torch.nn.Embedding(5, 2),
            "LayerNorm": torch.nn.LayerNorm(4), "LSTM": torch.nn.LSTM(3, 4, num_layers=2)}


def _dtypes(params) -> set:
    return {name(p.dtype) for p in params}


def test_modules_never_set_are_float32_as_torch(torch_default):
    torch = pytest.importorskip("torch")
    want = {k: _dtypes(m.parameters()) for k, m in _torch_modules(torch).items()}
    got = {k: _dtypes(m.parameters()) for k, m in _ng_modules().items()}
    assert got == want == {k: {"float32"} for k in want}


@pytest.mark.parametrize("dtype", DTYPES)
def test_modules_follow_the_set_dtype_as_torch(dtype, torch_default):
    torch = torch_default(dtype)
    ng.set_default_dtype(dtype)
    want = {k: _dtypes(m.parameters()) for k, m in _torch_modules(torch).items()}
    got = {k: _dtypes(m.parameters()) for k, m in _ng_modules().items()}
    assert got == want == {k: {np.dtype(dtype).name} for k in want}
    others = [nn.AttentionPooling(4, 3),
              nn.MultiTaskSequenceModel([{"name": "y", "kind": "classification",
                                          "num_classes": 2}], input_size=3, embed_size=4,
                                         hidden_size=4, attn_size=3)]
    assert all(_dtypes(m.parameters()) == {np.dtype(dtype).name} for m in others)
    assert nn.Parameter([0.5, 1.0]).dtype == dtype
    weights = nn.CrossEntropyLoss(weight=[1.0, 2.0]).weight
    assert name(weights.dtype) == name(torch.nn.CrossEntropyLoss(
        weight=torch.tensor([1.0, 2.0])).weight.dtype)


def test_a_saved_module_loads_in_its_own_dtype(tmp_path):
    """A module's config records its dtype, so the default at load time does not change it."""
    model = nn.Linear(3, 2)
    ng.save(model, tmp_path / "m.npz")
    ng.set_default_dtype(np.float64)
    loaded = ng.load(tmp_path / "m.npz").model
    assert loaded.weight.dtype == np.float32
    np.testing.assert_array_equal(loaded.weight.numpy(), model.weight.numpy())


def test_a_float32_training_step_just_works(torch_default):
    """The porting case: ng.randn inputs and nn.Parameter(ng.ones(...)) beside float32 modules
    (a TypeError at the first op while tensors were float64), checked against torch in
    float64 from the same float32 values."""
    torch = torch_default(np.float64)
    ng.set_default_dtype(np.float32)
    ng.manual_seed(0)
    H = 3
    lin = nn.Linear(4, 2 * H)
    scale = nn.Parameter(ng.ones(2 * H))
    x, target = ng.randn(5, 4), ng.zeros(5, 2 * H)
    opt = ng.optim.SGD([*lin.parameters(), scale], lr=0.1)
    w0, b0 = lin.weight.numpy().copy(), lin.bias.numpy().copy()

    loss = ng.mse_loss(ng.tanh(lin(x)) * scale, target)
    loss.backward()
    assert loss.dtype == np.float32
    assert {p.grad.dtype for p in [*lin.parameters(), scale]} == {np.dtype(np.float32)}
    opt.step()

    tw = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b0, dtype=torch.float64, requires_grad=True)
    ts = torch.ones(2 * H, dtype=torch.float64, requires_grad=True)
    tloss = torch.nn.functional.mse_loss(
        torch.tanh(torch.tensor(x.numpy(), dtype=torch.float64) @ tw.T + tb) * ts,
        torch.zeros(5, 2 * H, dtype=torch.float64))
    tloss.backward()
    np.testing.assert_allclose(float(loss), tloss.item(), rtol=1e-5)
    for p, t, before in ((lin.weight, tw, w0), (lin.bias, tb, b0), (scale, ts, None)):
        assert p.dtype == np.float32
        start = np.ones(2 * H) if before is None else before
        np.testing.assert_allclose(p.numpy(), start - 0.1 * t.grad.numpy(), rtol=1e-5,
                                   atol=1e-6)
