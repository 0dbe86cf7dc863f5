"""Small torch Tensor API a porter meets, against torch: ``x.mT``; ``eq``, ``ne``, ``lt``,
``le``, ``gt``, ``ge`` (functions and methods); ``isfinite``, ``isnan``, ``isinf``;
``full_like``, ``randn_like``, ``rand_like``; ``x.type(dtype)`` and ``x.type()``. (sort and
argsort: tests/ops/test_sort.py.)"""

import numpy as np
import pytest

import nongate_np as ng

pytestmark = pytest.mark.filterwarnings("error")     # every warning fails the test

COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")
CLASSIFIERS = ("isfinite", "isnan", "isinf")
SPECIAL = np.array([[0.0, -0.0, 1.5, np.nan], [np.inf, -np.inf, -2.0, 3e38]])   # 3e38: float32 too


# -- mT -----------------------------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("shape", [(2, 3), (4, 2, 3), (2, 1, 3, 5)])
def test_mT_swaps_the_last_two_axes_with_the_gradient_as_torch(shape):
    import torch
    x = np.random.default_rng(0).standard_normal(shape)
    ours, theirs = ng.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours.mT, theirs.mT
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    v = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(v)
    ty.backward(torch.tensor(v))
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())


@pytest.mark.parametrize("shape", [(), (3,)])
def test_mT_of_fewer_than_two_axes_is_an_error(shape):
    with pytest.raises(ValueError, match=rf"mT: only defined for matrices or batches of "
                                         rf"matrices, got a {len(shape)}-D tensor"):
        _ = ng.zeros(shape).mT


# -- comparisons --------------------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("name", COMPARISONS)
@pytest.mark.parametrize("other", ["tensor", "broadcast", "number", "nan"])
def test_comparison_methods_and_functions_as_torch(name, other):
    import torch
    x = SPECIAL
    y = {"tensor": SPECIAL[::-1].copy(), "broadcast": np.array([1.5, 0.0, -2.0, np.nan]),
         "number": 1.5, "nan": np.nan}[other]
    want = getattr(torch, name)(torch.tensor(x), torch.tensor(y) if other in ("tensor",
                                                                               "broadcast")
                                else y).numpy()
    t = ng.tensor(x, requires_grad=True)
    for got in (getattr(t, name)(ng.tensor(y) if isinstance(y, np.ndarray) else y),
                getattr(ng, name)(t, y)):
        assert got.dtype == np.bool_ and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), want, err_msg=f"{name} against {other}")
    operator = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__",
                "ge": "__ge__"}[name]
    np.testing.assert_array_equal(getattr(t, operator)(y).numpy(), want,
                                  err_msg=f"the operator of {name}")


@pytest.mark.parametrize("name", COMPARISONS)
def test_comparison_errors(name):
    t = ng.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=rf"{name}: other must be a tensor, an array or a "
                                        rf"number, got str"):
        getattr(t, name)("a")
    with pytest.raises(ValueError, match=r"shapes \(2,\) and \(3,\) cannot be broadcast"):
        getattr(ng, name)(t, np.zeros(3))


def test_order_comparisons_refuse_complex_and_equality_takes_it():
    z = ng.tensor(np.array([1 + 1j, 2 + 0j]))
    assert ng.eq(z, 2 + 0j).tolist() == [False, True]
    with pytest.raises(TypeError, match="complex numbers have no order"):
        z.lt(1.0)


# -- isfinite, isnan, isinf ---------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("name", CLASSIFIERS)
@pytest.mark.parametrize("values", [
    SPECIAL, SPECIAL.astype(np.float32), np.array([3, -1, 0], np.int64),
    np.array([True, False]), np.array([1 + 1j, complex(np.nan, 0), complex(0, np.inf),
                                       complex(np.inf, np.nan)]),
    np.zeros((0, 2))], ids=["float64", "float32", "int64", "bool", "complex", "empty"])
def test_isfinite_isnan_isinf_as_torch(name, values):
    import torch
    want = getattr(torch, name)(torch.tensor(values)).numpy()
    t = ng.tensor(values, requires_grad=values.dtype.kind in "fc")
    for got in (getattr(ng, name)(t), getattr(t, name)()):
        assert got.dtype == np.bool_ and got.shape == values.shape and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), want, err_msg=f"{name}({values.dtype})")
    np.testing.assert_array_equal(getattr(ng, name)(values).numpy(), want,
                                  err_msg=f"{name} of an ndarray")


# -- full_like, randn_like, rand_like -----------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("dtype, value, given", [
    (np.float32, 2.5, None), (np.float64, -1e300, None), (np.int64, 3.7, None),
    (np.int32, 7, None), (np.float32, 3, np.int64), (np.int64, 0.5, np.float64),
    (np.bool_, 1, None)])
def test_full_like_as_torch(dtype, value, given):
    import torch
    x = np.zeros((2, 3), dtype)
    tdtype = None if given is None else torch.from_numpy(np.zeros(0, given)).dtype
    want = torch.full_like(torch.from_numpy(x), value, dtype=tdtype).numpy()
    got = ng.full_like(ng.tensor(x), value, dtype=given)
    assert got.dtype == want.dtype and got.shape == want.shape and not got.requires_grad
    np.testing.assert_array_equal(got.numpy(), want)
    assert ng.full_like(x, value, dtype=given).dtype == want.dtype      # an ndarray too
    assert ng.full_like(ng.tensor(x), 1.0, dtype=np.float64, requires_grad=True).requires_grad


@pytest.mark.torch
@pytest.mark.parametrize("name, value", [("zeros_like", 0), ("ones_like", 1)])
@pytest.mark.parametrize("dtype, given", [(np.float32, None), (np.int64, None),
                                          (np.bool_, None), (np.float32, np.float64)])
def test_zeros_and_ones_like_as_torch(name, value, dtype, given):
    import inspect

    import torch
    x = np.full((2, 3), 7, dtype)
    tdtype = None if given is None else torch.from_numpy(np.zeros(0, given)).dtype
    want = getattr(torch, name)(torch.from_numpy(x), dtype=tdtype).numpy()
    got = getattr(ng, name)(ng.tensor(x), dtype=given)
    assert got.dtype == want.dtype and got.shape == want.shape and not got.requires_grad
    np.testing.assert_array_equal(got.numpy(), want)
    assert (got.numpy() == value).all()
    assert getattr(ng, name)(x.tolist(), requires_grad=False).shape == (2, 3)  # a list too
    ours = inspect.signature(getattr(ng, name)).parameters
    assert list(ours) == ["input", "dtype", "device", "requires_grad"]
    assert all(ours[k].kind is inspect.Parameter.KEYWORD_ONLY for k in ("dtype", "device",
                                                                        "requires_grad"))


def test_full_like_errors():
    x = ng.zeros(2, dtype=np.int32)
    with pytest.raises(ValueError, match=r"full_like: .*nan.*int32"):
        ng.full_like(x, np.nan)
    with pytest.raises(TypeError, match=r"full_like: expected a number, got str"):
        ng.full_like(x, "1")
    with pytest.raises(TypeError, match=r"full_like: unknown dtype"):
        ng.full_like(x, 1, dtype="nope")


@pytest.mark.parametrize("name, draw", [("randn_like", "randn"), ("rand_like", "rand")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_like_draws_what_randn_and_rand_draw(name, draw, dtype):
    x = ng.zeros((3, 4), dtype=dtype)
    ng.seed(5)
    got = getattr(ng, name)(x)
    ng.seed(5)
    want = getattr(ng, draw)(3, 4, dtype=dtype)
    assert got.dtype == dtype and got.shape == (3, 4) and not got.requires_grad
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert np.unique(got.numpy()).size == 12
    if draw == "rand":
        assert got.numpy().min() >= 0 and got.numpy().max() < 1
    a = getattr(ng, name)(x, generator=np.random.default_rng(9))
    b = getattr(ng, name)(x, generator=np.random.default_rng(9))
    np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg="generator= reproduces")
    assert not np.array_equal(a.numpy(), got.numpy())
    other = getattr(ng, name)(np.zeros(2, np.int64), dtype=np.float32, requires_grad=True)
    assert other.dtype == np.float32 and other.requires_grad


@pytest.mark.torch
@pytest.mark.parametrize("name", ["randn_like", "rand_like"])
def test_random_like_takes_torchs_arguments_and_refuses_integers_as_torch(name):
    import inspect

    import torch
    ours = inspect.signature(getattr(ng, name)).parameters
    assert list(ours) == ["input", "generator", "dtype", "device", "requires_grad"]
    assert all(ours[k].kind is inspect.Parameter.KEYWORD_ONLY for k in list(ours)[1:])
    with pytest.raises(RuntimeError):
        getattr(torch, name)(torch.zeros(2, dtype=torch.int64))
    with pytest.raises(TypeError, match=rf"{name}: samples need a floating dtype"):
        getattr(ng, name)(ng.zeros(2, dtype=np.int64))
    with pytest.raises(TypeError, match=rf"{name}: generator must be None"):
        getattr(ng, name)(ng.zeros(2), generator=0)


# -- type ---------------------------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.uint8, np.int8,
                                   np.int16, np.int32, np.int64, np.bool_, np.complex64,
                                   np.complex128])
def test_type_names_as_torch(dtype):
    import torch
    x = np.zeros(2, dtype)
    assert ng.tensor(x).type() == torch.from_numpy(x).type()


@pytest.mark.torch
def test_type_casts_with_the_gradient_as_torch():
    import torch
    x = np.array([1.25, -2.5])
    ours, theirs = ng.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    assert ours.type(np.float64) is ours and theirs.type(torch.float64) is theirs
    for target, ttarget in ((np.float32, torch.float32), ("torch.FloatTensor",
                                                          "torch.FloatTensor")):
        y, ty = ours.type(target), theirs.type(ttarget)
        assert y.dtype == np.float32 and y.requires_grad
        np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
        (y * y).sum().backward()
        (ty * ty).sum().backward()
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())
    assert ours.type("torch.LongTensor").tolist() == [1, -2]
    assert ours.type(np.int64, non_blocking=True).dtype == np.int64


def test_type_errors():
    x = ng.tensor([1.0])
    with pytest.raises(TypeError, match=r"type: unknown type name 'torch.FancyTensor'"):
        x.type("torch.FancyTensor")
    with pytest.raises(TypeError, match=r"type: unknown dtype"):
        x.type("fancy")


def test_every_new_name_is_a_function_and_a_method():
    for name in COMPARISONS + CLASSIFIERS + ("sort", "argsort"):
        assert name in ng.__all__ and getattr(ng.Tensor, name) is getattr(ng, name), name
    for name in ("full_like", "randn_like", "rand_like"):
        assert name in ng.__all__, name
    assert isinstance(ng.Tensor.__dict__["mT"], property)
