"""prod (docs/math.md E9a), tril and triu (E8a), as torch 2.13's: values and gradients in
float64 against torch, prod with zeros in its slices (one, several, all), empty and 0-d
inputs, dtypes; gradient checks without torch (central, complex step, directional, at
zeros too: a product is a polynomial); methods and errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch, shape_and_axis

# prod's slices along dim 1: no zero, one zero, two zeros, all zeros, a zero at either end
WITH_ZEROS = np.array([[1.5, -2.0, 0.5, 3.0],
                       [1.5, 0.0, 0.5, 3.0],
                       [0.0, -2.0, 0.0, 3.0],
                       [0.0, 0.0, 0.0, 0.0],
                       [0.0, -2.0, 0.5, 3.0],
                       [1.5, -2.0, 0.5, 0.0]])


@pytest.mark.torch
@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (1, False), (1, True),
                                          (-1, True), (0, True)])
def test_prod_with_zeros_equals_torchs(dim, keepdim):
    """One zero in a slice: its position gets the product of the rest, the others 0; two
    or more: 0 everywhere, as torch's."""
    import torch

    def call(lib, t):
        return lib.prod(t) if dim is None else lib.prod(t, dim, keepdim)

    for x in (WITH_ZEROS, WITH_ZEROS[:2], WITH_ZEROS[1:2], WITH_ZEROS[[0]],
              np.random.default_rng(0).normal(size=(3, 4))):
        assert_matches_torch(lambda t: call(ng, t), lambda t: call(torch, t), [x.copy()],
                             rtol=1e-13, atol=1e-300)


def test_prod_gradient_at_zeros_without_torch():
    """dx_k = Π_{j≠k} x_j, written out for each kind of slice of WITH_ZEROS."""
    t = ng.tensor(WITH_ZEROS, requires_grad=True)
    ng.prod(t, 1).sum().backward()
    np.testing.assert_array_equal(t.grad, [[-3.0, 2.25, -9.0, -1.5],
                                           [0.0, 2.25, 0.0, 0.0],
                                           [0.0, 0.0, 0.0, 0.0],
                                           [0.0, 0.0, 0.0, 0.0],
                                           [-3.0, 0.0, 0.0, 0.0],
                                           [0.0, 0.0, 0.0, -1.5]])
    whole = ng.tensor(WITH_ZEROS[1], requires_grad=True)       # the full product, one zero
    ng.prod(whole).backward()
    np.testing.assert_array_equal(whole.grad, [0.0, 2.25, 0.0, 0.0])


@pytest.mark.parametrize("x", [WITH_ZEROS, WITH_ZEROS[:, :1], np.array([[2.0, 0.0, 1e-3]])],
                         ids=["zeros", "one-column", "small"])
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_prod_gradients_three_ways_at_zeros(x, dim):
    assert_gradients(lambda t: ng.prod(t, dim), [x.copy()])


@given(shape_axis=shape_and_axis(), data=st.data())
def test_prod_gradients_over_shapes_and_axes(shape_axis, data):
    """Any axis spec, NumPy's tuples too (torch takes one int)."""
    shape, axis, keepdims = shape_axis
    x = data.draw(nt.arrays(shape, low=-1.5, high=1.5))
    assert_gradients(lambda t: ng.prod(t, axis, keepdims), [x])
    np.testing.assert_allclose(ng.prod(ng.tensor(x), axis, keepdims).numpy(),
                               np.prod(x, axis=axis, keepdims=keepdims), rtol=1e-15)


@pytest.mark.torch
@given(shape_axis=shape_and_axis(), data=st.data())
def test_prod_over_shapes_equals_torchs(shape_axis, data):
    import torch
    shape, axis, keepdim = shape_axis
    dim = axis if isinstance(axis, int) else None
    x = data.draw(nt.arrays(shape, low=-1.5, high=1.5))
    if dim is None:
        assert_matches_torch(lambda t: ng.prod(t), lambda t: torch.prod(t), [x], rtol=1e-13)
    else:
        assert_matches_torch(lambda t: t.prod(dim, keepdim=keepdim),
                             lambda t: t.prod(dim, keepdim=keepdim), [x], rtol=1e-13)


def test_prod_of_empty_and_0d_tensors():
    t = ng.tensor(np.zeros((0, 3)), requires_grad=True)
    y = ng.prod(t, 0)
    np.testing.assert_array_equal(y.numpy(), [1.0, 1.0, 1.0])     # the empty product
    y.sum().backward()
    assert t.grad.shape == (0, 3)
    e = ng.tensor(np.zeros((2, 0)), requires_grad=True)
    ng.prod(e, 0).sum().backward()
    assert e.grad.shape == (2, 0)
    s = ng.tensor(2.5, requires_grad=True)
    y = ng.prod(s, 0)
    assert y.shape == () and y.item() == 2.5
    y.backward()
    assert s.grad == 1.0


def test_prod_with_an_infinity_gives_the_others_product():
    """E9a without a division: the infinity's gradient is the finite product of the rest
    (torch's result / input gives inf / inf = NaN there)."""
    t = ng.tensor([np.inf, 2.0, 3.0], requires_grad=True)
    ng.prod(t).backward()
    np.testing.assert_array_equal(t.grad, [6.0, np.inf, np.inf])


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_, np.float32])
def test_prod_dtypes_as_torch(dtype):
    import torch
    x = (np.arange(6).reshape(2, 3) % 3 + 1).astype(dtype)
    for args in ((), (1,), (0, True)):
        got, want = ng.prod(x, *args), torch.prod(torch.from_numpy(x), *args)
        assert str(got.dtype) == str(want.dtype).removeprefix("torch."), (dtype, args)
        np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=str(args))
    got = ng.prod(ng.tensor(x), dim=1, dtype=np.float64)
    assert got.dtype == np.float64


def test_prod_keeps_float32_and_takes_torchs_and_numpys_names():
    x = ng.tensor(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), requires_grad=True)
    y = x.prod(dim=0, keepdim=True)
    assert y.dtype == np.float32 and y.shape == (1, 2)
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [[3.0, 4.0], [1.0, 2.0]])
    np.testing.assert_array_equal(ng.prod(x, axis=(0, 1), keepdims=True).numpy(), [[24.0]])
    assert ng.Tensor.prod is ng.prod and "prod" in ng.__all__


def test_prod_errors():
    x = ng.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"^prod: axis 2 is out of range"):
        ng.prod(x, 2)
    with pytest.raises(TypeError, match=r"^prod: axis must be an int or a tuple of ints"):
        ng.prod(x, 1.5)
    with pytest.raises(TypeError, match=r"^prod: give axis or dim"):
        ng.prod(x, 0, dim=1)
    with pytest.raises(TypeError, match=r"^prod: argument: expected numbers"):
        ng.prod("abc")


# -- tril and triu (E8a) -----------------------------------------------------------------

TRI = ("tril", "triu")


@pytest.mark.torch
@pytest.mark.parametrize("name", TRI)
@pytest.mark.parametrize("shape", [(3, 4), (4, 3), (2, 3, 4), (2, 1, 3, 3), (1, 5), (0, 3)],
                         ids=str)
def test_triangles_equal_torchs(name, shape):
    import torch
    x = np.random.default_rng(1).normal(size=shape)
    for diagonal in range(-5, 6):
        assert_matches_torch(lambda t: getattr(ng, name)(t, diagonal),
                             lambda t: getattr(torch, name)(t, diagonal), [x])
    assert_matches_torch(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x])


@pytest.mark.parametrize("name", TRI)
@pytest.mark.parametrize("diagonal", [-1, 0, 2])
def test_triangle_gradients_three_ways(name, diagonal):
    x = np.random.default_rng(2).normal(size=(2, 3, 4))
    assert_gradients(lambda t: getattr(ng, name)(t, diagonal), [x])


def test_triangle_values_and_gradient_mask_without_torch():
    t = ng.tensor(np.arange(1.0, 10.0).reshape(3, 3), requires_grad=True)
    lower = ng.tril(t)
    np.testing.assert_array_equal(lower.numpy(), [[1, 0, 0], [4, 5, 0], [7, 8, 9]])
    lower.backward(ng.tensor(np.full((3, 3), 2.0)))
    np.testing.assert_array_equal(t.grad, [[2, 0, 0], [2, 2, 0], [2, 2, 2]])
    t.grad = None
    ng.triu(t, 1).backward(ng.tensor(np.full((3, 3), np.inf)))      # no inf · 0 = NaN
    np.testing.assert_array_equal(t.grad, [[0, np.inf, np.inf], [0, 0, np.inf], [0, 0, 0]])


@pytest.mark.torch
@pytest.mark.parametrize("name", TRI)
@pytest.mark.parametrize("dtype", [np.bool_, np.int64, np.uint8, np.float32])
def test_triangles_keep_the_dtype_as_torch(name, dtype):
    import torch
    x = np.ones((3, 4), dtype)
    got, want = getattr(ng, name)(x, -1), getattr(torch, name)(torch.from_numpy(x), -1)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_triangle_methods_and_errors():
    for name in TRI:
        assert getattr(ng.Tensor, name) is getattr(ng, name) and name in ng.__all__
        with pytest.raises(ValueError, match=rf"^{name}: input must have at least 2 "
                                             rf"dimensions .*got shape \(3,\)"):
            getattr(ng, name)(ng.tensor([1.0, 2.0, 3.0]))
        with pytest.raises(TypeError, match=rf"^{name}: diagonal must be an int, got 1.5"):
            getattr(ng, name)(ng.tensor(np.ones((2, 2))), 1.5)
        with pytest.raises(TypeError, match=rf"^{name}: diagonal must be an int, got True"):
            getattr(ng, name)(ng.tensor(np.ones((2, 2))), True)
