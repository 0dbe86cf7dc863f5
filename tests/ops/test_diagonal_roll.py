"""diagonal, diag_embed, diag and trace (docs/math.md E38) and roll (E39): values and
gradients against torch (offsets above, below and past the matrix, dims in any order and
negative, batches, empty dims), without torch gradient checks and the adjoint identity
<diagonal(x), d> = <x, diag_embed(d)>; dtypes and errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch

RNG = np.random.default_rng(11)
X3 = RNG.standard_normal((2, 3, 4))


@pytest.mark.torch
@pytest.mark.parametrize("offset, dim1, dim2", [(0, 0, 1), (1, 0, 1), (-1, 0, 1), (2, 1, 2),
                                                (-2, 2, 1), (1, 2, 0), (0, -1, -3), (5, 0, 1),
                                                (-4, 1, 2)])
def test_diagonal_as_torch(offset, dim1, dim2):
    import torch
    assert_matches_torch(lambda x: ng.diagonal(x, offset, dim1, dim2),
                         lambda x: torch.diagonal(x, offset, dim1, dim2), [X3])


@pytest.mark.torch
@pytest.mark.parametrize("shape, offset, dim1, dim2", [((3,), 0, -2, -1), ((2, 3), 1, -2, -1),
                                                       ((2, 3), -1, 0, 2), ((2, 3), 1, -1, -2),
                                                       ((2, 2, 3), 2, 1, 3), ((2, 0), 1, 0, 1),
                                                       ((4,), -3, 0, 1)])
def test_diag_embed_as_torch(shape, offset, dim1, dim2):
    import torch
    x = RNG.standard_normal(shape)
    assert_matches_torch(lambda t: ng.diag_embed(t, offset, dim1, dim2),
                         lambda t: torch.diag_embed(t, offset, dim1, dim2), [x])


@pytest.mark.torch
@pytest.mark.parametrize("shape, k", [((4,), 0), ((4,), 2), ((4,), -1), ((3, 5), 0),
                                      ((3, 5), 2), ((3, 5), -2), ((3, 5), 7), ((5, 3), -4),
                                      ((0,), 1)])
def test_diag_and_trace_as_torch(shape, k):
    import torch
    x = RNG.standard_normal(shape)
    assert_matches_torch(lambda t: ng.diag(t, k), lambda t: torch.diag(t, k), [x])
    if len(shape) == 2:
        assert_matches_torch(ng.trace, torch.trace, [x])


@given(data=st.data(), shape=nt.shapes(min_dims=2, max_dims=4, min_side=0))
def test_diag_embed_is_the_adjoint_of_diagonal(data, shape):
    """<diagonal(x), d> = <x, diag_embed(d)> for the same offset and dims (E38): each is
    the other's gradient."""
    ndim = len(shape)
    dim1, dim2 = data.draw(st.permutations(range(ndim)))[:2]
    offset = data.draw(st.integers(-3, 3))
    x = data.draw(nt.arrays(shape))
    y = ng.diagonal(x, offset, dim1, dim2)
    d = data.draw(nt.arrays(y.shape))
    embedded = ng.diag_embed(d, offset, dim1, dim2).numpy()
    # diag_embed's matrices are square, (L + |offset|) each way: they hold the diagonal's
    # positions in x's matrices, and zeros beyond x's shape
    overlap = tuple(slice(0, min(a, b)) for a, b in zip(shape, embedded.shape))
    written = np.zeros(shape)
    written[overlap] = embedded[overlap]
    outside = embedded.copy()
    outside[overlap] = 0
    assert not outside.any()
    np.testing.assert_allclose(np.sum(y.numpy() * d), np.sum(x * written),
                               rtol=1e-12, atol=1e-12)


def test_diagonal_gradients_three_ways():
    assert_gradients(lambda x: ng.diagonal(x, 1, 2, 0), [X3])
    assert_gradients(lambda x: ng.diag_embed(x, -1, 0, 2), [X3[0]])
    assert_gradients(ng.trace, [X3[1]])
    assert_gradients(lambda x: ng.diag(x, 1), [X3[0, 0]])


def test_diag_of_a_vector_and_a_matrix():
    v = ng.tensor([1.0, 2.0], requires_grad=True)
    m = ng.diag(v, -1)
    np.testing.assert_array_equal(m.numpy(), [[0, 0, 0], [1, 0, 0], [0, 2, 0]])
    (m * ng.tensor(np.arange(9.0).reshape(3, 3))).sum().backward()
    np.testing.assert_array_equal(v.grad, [3.0, 7.0])
    a = ng.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    ng.trace(a).backward()
    np.testing.assert_array_equal(a.grad, [[1, 0, 0], [0, 1, 0]])
    assert ng.diag(a, 5).shape == (0,)
    np.testing.assert_array_equal(ng.diag(ng.tensor([True, False])).numpy(),
                                  [[True, False], [False, False]])


@pytest.mark.torch
def test_diagonal_dtypes_as_torch():
    import torch
    for x in (np.arange(6, dtype=np.int32).reshape(2, 3), np.ones((2, 2), np.float32)):
        got, want = ng.trace(x), torch.trace(torch.from_numpy(x))
        assert str(got.dtype) == str(want.dtype).removeprefix("torch."), x.dtype
        assert got.item() == want.item()
        assert ng.diagonal(x).dtype == x.dtype and ng.diag(x[0]).dtype == x.dtype


def test_diagonal_names_and_errors():
    for name in ("diag", "diagonal", "diag_embed", "trace"):
        assert getattr(ng.Tensor, name) is getattr(ng, name) and name in ng.__all__, name
    with pytest.raises(ValueError, match=r"^diag: expected a vector \(1 dim\) or a matrix "
                                         r"\(2 dims\), got shape \(2, 3, 4\)"):
        ng.diag(X3)
    with pytest.raises(ValueError, match=r"^diag: .*got shape \(\)"):
        ng.diag(ng.tensor(3.0))
    with pytest.raises(ValueError, match=r"^diagonal: dim1 and dim2 name the same dim \(1, -2 "
                                         r"of 3\)"):
        ng.diagonal(X3, 0, 1, -2)
    with pytest.raises(ValueError, match=r"^diagonal: expected a tensor with at least 2 dims, "
                                         r"got shape \(4,\)"):
        ng.diagonal(X3[0, 0])
    with pytest.raises(ValueError, match=r"^diag_embed: axis 3 is out of range for a tensor "
                                         r"with 3 dimension"):
        ng.diag_embed(X3[0], 0, 0, 3)
    with pytest.raises(ValueError, match="^diag_embed: expected a tensor with at least 1 dim"):
        ng.diag_embed(ng.tensor(2.0))
    with pytest.raises(ValueError, match=r"^trace: expected a matrix \(2 dims\), got shape "
                                         r"\(2, 3, 4\)"):
        ng.trace(X3)
    with pytest.raises(TypeError, match="^diagonal: offset must be an int, got 1.5"):
        ng.diagonal(X3, 1.5)
    with pytest.raises(TypeError, match="^diag: diagonal must be an int, got True"):
        ng.diag(X3[0], True)
    with pytest.raises(TypeError, match="^diagonal: dim1 and dim2 must be ints, got 'a'"):
        ng.diagonal(X3, 0, "a", 1)


# -- roll (E39) ---------------------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("shifts, dims", [(1, None), (-7, None), (1, 0), (-7, 1), (5, -1),
                                          ((1, -1), (0, 1)), ((2, 3), (2, 2)),
                                          ([1, 2, 3], [0, 1, 2]), ((13,), (1,)), (0, 0)])
def test_roll_as_torch(shifts, dims):
    import torch
    assert_matches_torch(lambda x: ng.roll(x, shifts, dims),
                         lambda x: torch.roll(x, shifts, dims), [X3])


@pytest.mark.torch
def test_roll_of_empty_and_0d_tensors_as_torch():
    import torch
    for x, shifts, dims in ((np.zeros((0, 3)), 1, 0), (np.zeros((0, 3)), 2, 1),
                            (np.array(3.5), 1, None), (np.arange(4), 3, None)):
        got = ng.roll(x, shifts, dims)
        want = torch.roll(torch.from_numpy(x), shifts, dims)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        assert got.shape == tuple(want.shape)


def test_roll_gradient_is_dy_rolled_back():
    x = ng.tensor(np.arange(5.0), requires_grad=True)
    ng.roll(x, 2).backward(ng.tensor([10.0, 20.0, 30.0, 40.0, 50.0]))
    np.testing.assert_array_equal(x.grad, [30.0, 40.0, 50.0, 10.0, 20.0])
    assert_gradients(lambda t: ng.roll(t, (1, -2), (0, 2)), [X3])
    assert_gradients(lambda t: ng.roll(t, 3), [X3[0]])


def test_roll_is_a_copy_on_the_same_device():
    x = ng.tensor(np.arange(4.0))
    y = ng.roll(x, 0, 0)
    y.data[0] = 9.0
    assert x.numpy()[0] == 0.0
    assert ng.Tensor.roll is ng.roll and "roll" in ng.__all__
    np.testing.assert_array_equal(x.roll(1).numpy(), [3.0, 0.0, 1.0, 2.0])


def test_roll_errors_say_what_was_given():
    with pytest.raises(ValueError, match=r"^roll: 2 shifts \(1, 2\) and 1 dims \(0,\); give "
                                         r"one shift per dim"):
        ng.roll(X3, (1, 2), 0)
    with pytest.raises(ValueError, match=r"^roll: 2 shifts \(1, 2\) without dims"):
        ng.roll(X3, (1, 2))
    with pytest.raises(ValueError, match="^roll: shifts is empty"):
        ng.roll(X3, ())
    with pytest.raises(ValueError, match="^roll: axis 3 is out of range"):
        ng.roll(X3, 1, 3)
    with pytest.raises(TypeError, match="^roll: shifts must be ints, got 1.5"):
        ng.roll(X3, (1.5,), (0,))
    with pytest.raises(TypeError, match="^roll: dims must be an int or a sequence of ints, "
                                        "got 'x'"):
        ng.roll(X3, 1, "x")
