"""torch's names for what the library has under its own (``torch.cat``, ``manual_seed``,
``nn.utils.clip_grad_norm_``, ``Tensor.long()``), torch's ``arange``, ``from_numpy`` and
``as_tensor``, its dtype names (``ng.float32``, ``ng.long``), ``type_as``, ``view_as`` and
``bmm`` as methods: a porter's first calls, each against torch; and what ``ng.X`` says for
a name of torch's that is not here (Python's AttributeError, with a hint)."""

import re

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


# -- as_tensor, the dtype names, type_as, view_as, bmm, and the names that are not here ---

def test_as_tensor_shares_an_ndarray_of_its_dtype_and_copies_otherwise():
    a = np.arange(4.0)
    t = ng.as_tensor(a)
    a[1] = 10.0
    assert t.numpy()[1] == 10.0 and not t.requires_grad
    same = ng.as_tensor(a, dtype=ng.float64)
    a[2] = 20.0
    assert same.numpy()[2] == 20.0
    other = ng.as_tensor(a, dtype=ng.float32)
    a[3] = 30.0
    assert other.dtype == np.float32 and other.numpy()[3] == 3.0          # a converted copy
    copied = ng.tensor(a)                                                 # tensor always copies
    a[0] = -1.0
    assert copied.numpy()[0] == 0.0
    assert ng.as_tensor([1.0, 2.0]).dtype == ng.get_default_dtype()
    assert ng.as_tensor([1, 2]).dtype == np.int64
    assert ng.as_tensor(3.5, dtype="float32").dtype == np.float32


def test_as_tensor_of_a_tensor_is_itself_or_a_recorded_conversion():
    x = ng.tensor([1.5, -2.0], requires_grad=True)
    assert ng.as_tensor(x) is x and ng.as_tensor(x, dtype=np.float64) is x
    assert ng.as_tensor(x, device="cpu") is x
    y = ng.as_tensor(x, dtype=ng.float32)
    assert y.dtype == np.float32 and y.requires_grad             # torch's .to, in the graph
    (y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


@pytest.mark.torch
def test_as_tensor_as_torchs():
    import torch
    for data, dtype, tdtype in (([1.0, 2.0], ng.float64, torch.float64), ([1, 2], None, None),
                                (np.arange(3, dtype=np.int32), None, None),
                                (np.arange(3.0), ng.float32, torch.float32), (True, None, None)):
        ours, theirs = ng.as_tensor(data, dtype=dtype), torch.as_tensor(data, dtype=tdtype)
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch."), data
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_as_tensor_errors():
    with pytest.raises(TypeError, match="^as_tensor: expected numbers or an array of numbers"):
        ng.as_tensor("abc")
    with pytest.raises(TypeError, match="^as_tensor: unknown dtype 'fancy'"):
        ng.as_tensor([1.0], dtype="fancy")
    with pytest.raises(ValueError, match="unknown device 'gpu'; expected 'cpu' or 'cuda'"):
        ng.as_tensor([1.0], device="gpu")


@pytest.mark.torch
def test_the_dtype_names_are_torchs_as_numpys():
    import torch
    names = ["float16", "half", "float32", "float", "float64", "double", "int8", "int16",
             "short", "int32", "int", "int64", "long", "uint8", "uint16", "uint32", "uint64",
             "bool", "complex64", "cfloat", "complex128", "cdouble"]
    for name in names:
        ours, theirs = getattr(ng, name), getattr(torch, name)
        assert np.dtype(ours) == np.dtype(str(theirs).removeprefix("torch.")), name
    assert ng.float32 is np.float32 and ng.bool is np.bool_


def test_the_dtype_names_port_dtype_arguments_and_comparisons():
    x = ng.zeros(2, 3, dtype=ng.float32)
    assert x.dtype == ng.float32 and x.dtype != ng.float64
    assert ng.tensor([1, 2], dtype=ng.long).dtype == np.int64
    assert x.to(ng.double).dtype == np.float64 and x.type(ng.half).dtype == np.float16
    # float, int and bool stay out of __all__: a star import keeps Python's builtins
    assert not {"float", "int", "bool"} & set(ng.__all__)
    assert {"float32", "long", "complex128"} <= set(ng.__all__)
    namespace: dict = {}
    exec("from nongate_np import *", namespace)
    assert "float" not in namespace and namespace["float32"] is np.float32


def test_type_as_takes_the_other_tensors_dtype_with_the_gradient():
    x = ng.tensor([1.25, -2.5], requires_grad=True)
    y = x.type_as(ng.zeros(1, dtype=np.float32))
    assert y.dtype == np.float32 and y.requires_grad
    (y * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    assert x.type_as(ng.zeros(1)) is x
    assert x.type_as(ng.tensor([1])).tolist() == [1, -2]
    with pytest.raises(TypeError, match=r"^type_as: other must be a Tensor, got ndarray"):
        x.type_as(np.zeros(1, np.float32))


def test_view_as_takes_the_other_tensors_shape():
    x = ng.tensor(np.arange(6.0), requires_grad=True)
    y = x.view_as(ng.zeros(2, 3))
    assert y.shape == (2, 3)
    (y * ng.tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
    np.testing.assert_array_equal(x.grad, np.arange(6.0))
    with pytest.raises(ValueError, match="^view: a tensor of shape"):
        ng.tensor(np.ones((2, 3))).T.view_as(ng.zeros(6))
    with pytest.raises(TypeError, match=r"^view_as: other must be a Tensor, got tuple"):
        x.view_as((2, 3))


@pytest.mark.torch
def test_the_methods_equal_torchs():
    import torch
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4, 5))
    ours = [ng.tensor(v, requires_grad=True) for v in (a, b)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (a, b)]
    got, want = ours[0].bmm(ours[1]), theirs[0].bmm(theirs[1])
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-14)
    got.sum().backward()
    want.sum().backward()
    for x, t in zip(ours, theirs):
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-14)
    assert ng.Tensor.bmm is ng.bmm
    f = ng.tensor(a).type_as(ng.tensor(np.zeros(1, np.float32)))
    assert str(f.dtype) == str(torch.tensor(a).type_as(torch.zeros(1)).dtype).removeprefix(
        "torch.")
    assert ng.tensor(a).view_as(ng.tensor(b[:, :3, :4].T)).shape == tuple(
        torch.tensor(a).view_as(torch.tensor(b[:, :3, :4].T)).shape)


def test_a_missing_name_raises_pythons_attribute_error():
    """hasattr and tools see the standard error; getattr's default works."""
    assert not hasattr(ng, "no_such_thing") and getattr(ng, "no_such_thing", 7) == 7
    with pytest.raises(AttributeError, match=r"^module 'nongate_np' has no attribute "
                                             r"'no_such_thing'$") as info:
        ng.no_such_thing  # noqa: B018  (the attribute access is the test)
    assert info.value.name == "no_such_thing" and info.value.obj is ng
    with pytest.raises(ImportError, match="cannot import name 'no_such_thing'"):
        exec("from nongate_np import no_such_thing", {})


@pytest.mark.parametrize("name, hint", [
    ("FloatTensor", "dtype=ng.float32"), ("mm", "write ng.matmul(a, b)"),
    ("kl_div", "use nn.functional.kl_div"), ("bincount", "np.bincount(t.numpy())"),
    ("asarray", "use ng.as_tensor"), ("bfloat16", "NumPy has none"),
    ("take_along_dim", "ng.gather(x, dim, indices)"), ("kron", "(a[:, None, :, None] * b"),
    ("searchsorted", "np.searchsorted(sorted.numpy(), values.numpy())")])
def test_a_torch_name_that_is_not_here_says_what_to_write(name, hint):
    assert not hasattr(ng, name)
    with pytest.raises(AttributeError, match=rf"^module 'nongate_np' has no attribute "
                                             rf"'{name}'; for torch.{name}, .*{re.escape(hint)}"
                       ) as info:
        getattr(ng, name)
    assert info.value.name == name


@pytest.mark.torch
def test_every_hinted_name_is_torchs_and_every_name_a_hint_names_is_here():
    import torch

    from nongate_np.torch_names import HINTS
    assert [n for n in HINTS if not hasattr(torch, n)] == []
    assert [n for n in HINTS if n in vars(ng)] == []
    named = {m for hint in HINTS.values() for m in re.findall(r"\bng\.(\w+)", hint)}
    assert named and [m for m in named if not hasattr(ng, m)] == []
    functional = {m for hint in HINTS.values() for m in
                  re.findall(r"nn\.functional\.(\w+)", hint.format(name="kl_div"))}
    assert [m for m in functional if not hasattr(ng.nn.functional, m)] == []
    for name in [n for n, hint in HINTS.items() if "nn.functional" in hint]:
        assert hasattr(ng.nn.functional, name), name
