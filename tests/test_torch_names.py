"""torch's names for what the library has under its own (``torch.cat``, ``manual_seed``,
``nn.utils.clip_grad_norm_``, ``Tensor.long()``), and torch's ``arange`` and
``from_numpy``: a porter's first calls, each against torch."""

import numpy as np
import pytest

import nongate_np as ng


def test_the_aliases_are_the_library_functions():
    assert ng.cat is ng.concat
    assert ng.nn.utils.clip_grad_norm_ is ng.optim.clip_grad_norm_
    assert ng.nn.utils.clip_grad_value_ is ng.optim.clip_grad_value_
    ng.manual_seed(7)
    a = ng.randn(3).numpy()
    ng.seed(7)
    np.testing.assert_array_equal(ng.randn(3).numpy(), a)


@pytest.mark.torch
def test_every_nn_utils_name_is_torchs():
    """torch 2.6's get_total_norm and clip_grads_with_norm_ beside clip_grad_norm_."""
    import torch
    assert {"get_total_norm", "clip_grads_with_norm_"} <= set(ng.nn.utils.__all__)
    assert [n for n in ng.nn.utils.__all__ if not hasattr(torch.nn.utils, n)] == []


@pytest.mark.torch
@pytest.mark.parametrize("args", [(5,), (2, 9), (1, 2, 0.25), (3.5,), (5, 1, -2), (0,)])
def test_arange_as_torch(args):
    import torch
    ours, theirs = ng.arange(*args), torch.arange(*args)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    # torch's default float is float32, ours float64; ints are int64 in both
    want = np.int64 if theirs.dtype == torch.int64 else np.float64
    assert ours.dtype == want


def test_arange_errors_and_dtype():
    assert ng.arange(3, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="arange: step must be nonzero"):
        ng.arange(0, 3, 0)
    with pytest.raises(TypeError, match="arange: start, end and step must be real numbers"):
        ng.arange("3")


def test_from_numpy_shares_memory_as_torch():
    a = np.arange(4.0)
    t = ng.from_numpy(a)
    a[1] = 10.0
    assert t.numpy()[1] == 10.0 and t.dtype == a.dtype
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray, got list"):
        ng.from_numpy([1.0])
    with pytest.raises(TypeError, match="expected an array of numbers or bools, got dtype"):
        ng.from_numpy(np.array(["a"]))


@pytest.mark.torch
def test_integer_and_bool_casts_as_torch():
    import torch
    x = np.array([1.7, -2.2, 0.0, 3.5])
    t, tt = ng.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    for name, dtype in (("long", np.int64), ("int", np.int32), ("bool", np.bool_)):
        ours, theirs = getattr(t, name)(), getattr(tt, name)()
        assert ours.dtype == dtype and not ours.requires_grad
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ng.tensor(np.array([1, 2])).long() is not None
