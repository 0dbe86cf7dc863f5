"""torch's eye, empty, empty_like, randperm (factories) and unique (no gradient): shapes,
dtypes, devices, the library's random-number conventions (seed, generator=), unique's
results against torch (NaN, -0, dims, inverse and counts), and the errors."""

import numpy as np
import pytest

import nongate_np as ng


@pytest.mark.torch
@pytest.mark.parametrize("args", [(3,), (2, 4), (4, 2), (0,), (3, 0)])
def test_eye_as_torch(args):
    import torch
    got, want = ng.eye(*args), torch.eye(*args)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert got.dtype == ng.get_default_dtype()        # torch's default is float32
    assert ng.eye(*args, dtype=np.int64).dtype == np.int64


def test_eye_and_empty_take_dtype_device_and_requires_grad():
    e = ng.eye(2, dtype=np.float32, requires_grad=True)
    assert e.dtype == np.float32 and e.requires_grad and e.device == "cpu"
    z = ng.empty(2, 3)
    assert z.shape == (2, 3) and not z.numpy().any()   # zeros, where torch's are garbage
    assert ng.empty((2, 3), dtype=np.int32).dtype == np.int32
    assert ng.empty(()).shape == ()
    like = ng.empty_like(ng.tensor(np.ones((2, 1), np.float32)))
    assert like.shape == (2, 1) and like.dtype == np.float32 and not like.numpy().any()
    assert ng.empty_like(np.ones(3), dtype=np.int64, requires_grad=False).dtype == np.int64
    g = ng.empty_like(np.ones(2), requires_grad=True)
    assert g.requires_grad and g.grad is None


def test_randperm_is_a_permutation_drawn_as_randn():
    """The library's generator (seed / manual_seed) or a numpy Generator, as randn_like."""
    ng.manual_seed(3)
    p = ng.randperm(10)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(10))
    ng.manual_seed(3)
    np.testing.assert_array_equal(ng.randperm(10).numpy(), p.numpy())
    a = ng.randperm(6, generator=np.random.default_rng(1)).numpy()
    np.testing.assert_array_equal(a, np.random.default_rng(1).permutation(6))
    assert ng.randperm(0).shape == (0,)
    assert ng.randperm(4, dtype=np.float32).dtype == np.float32


def test_factory_errors():
    with pytest.raises(ValueError, match="^eye: n must be >= 0, got -1"):
        ng.eye(-1)
    with pytest.raises(TypeError, match="^eye: m must be an int, got 2.5"):
        ng.eye(2, 2.5)
    with pytest.raises(ValueError, match="^randperm: n must be >= 0, got -2"):
        ng.randperm(-2)
    with pytest.raises(TypeError, match="^randperm: n must be an int, got True"):
        ng.randperm(True)
    with pytest.raises(TypeError, match="^randperm: generator must be None .* got int"):
        ng.randperm(3, generator=7)
    with pytest.raises(ValueError, match=r"^empty: every side of a shape must be >= 0"):
        ng.empty(2, -1)
    with pytest.raises(TypeError, match="^empty: unknown dtype 'x'"):
        ng.empty(2, dtype="x")
    for name in ("eye", "empty", "empty_like", "randperm"):
        assert name in ng.__all__


# -- unique --------------------------------------------------------------------------------

def _unique_pair(x, torch, **kwargs):
    got = ng.unique(x, return_inverse=True, return_counts=True, **kwargs)
    want = torch.unique(torch.from_numpy(x), return_inverse=True, return_counts=True,
                        **kwargs)
    for g, w, what in zip(got, want, ("values", "inverse", "counts")):
        assert g.shape == tuple(w.shape), what
        assert str(g.dtype) == str(w.dtype).removeprefix("torch."), what
        np.testing.assert_array_equal(g.numpy(), w.numpy(), err_msg=what)
    return got


@pytest.mark.torch
def test_unique_as_torch():
    import torch
    x = np.array([3.0, 1.0, np.nan, 2.0, 1.0, np.nan, -0.0, 0.0])
    values, _, _ = _unique_pair(x, torch)               # each NaN its own value, last
    assert np.signbit(values.numpy()[0])                # -0 first, as torch's
    _unique_pair(np.array([[1, 2], [3, 4], [1, 2]]), torch)
    _unique_pair(np.array([[1, 2], [3, 4], [1, 2]]), torch, dim=0)
    _unique_pair(np.array([[1, 2], [3, 4], [1, 2]]).T.copy(), torch, dim=1)
    # slices holding NaN stay apart, as torch's (which leaves their order to its sort's
    # comparisons with NaN; ours puts them last)
    values, inverse, counts = ng.unique(np.array([[np.nan, 1.0], [np.nan, 1.0], [0.5, 2.0]]),
                                        dim=0, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(values.numpy(), [[0.5, 2.0], [np.nan, 1.0], [np.nan, 1.0]])
    assert inverse.tolist() == [1, 2, 0] and counts.tolist() == [1, 1, 1]
    _unique_pair(np.array([True, False, True]), torch)
    _unique_pair(np.array(3.0), torch)
    _unique_pair(np.zeros(0), torch)
    _unique_pair(np.random.default_rng(0).integers(0, 3, (4, 3, 2)), torch, dim=1)
    _unique_pair(np.random.default_rng(1).integers(0, 2, (3, 5)).astype(np.float32), torch,
                 dim=-1)


def test_unique_results_and_flags():
    x = ng.tensor([2.0, 1.0, 2.0], requires_grad=True)
    values = ng.unique(x)
    assert isinstance(values, ng.Tensor) and not values.requires_grad   # no graph
    np.testing.assert_array_equal(values.numpy(), [1.0, 2.0])
    values, counts = ng.unique(x, sorted=False, return_counts=True)
    np.testing.assert_array_equal(counts.numpy(), [1, 2])
    values, inverse = x.unique(return_inverse=True)
    np.testing.assert_array_equal(values.numpy()[inverse.numpy()], x.numpy())
    assert ng.Tensor.unique is ng.unique and "unique" in ng.__all__


def test_unique_errors():
    with pytest.raises(TypeError, match="^unique: return_inverse must be True or False"):
        ng.unique(np.ones(2), return_inverse="yes")
    with pytest.raises(ValueError, match="^unique: dim=0 given for a 0-d tensor"):
        ng.unique(np.array(1.0), dim=0)
    with pytest.raises(ValueError, match="^unique: axis 2 is out of range"):
        ng.unique(np.ones((2, 2)), dim=2)
    with pytest.raises(TypeError, match=r"^unique: dim must be an int .*got 1.5"):
        ng.unique(np.ones((2, 2)), dim=1.5)
