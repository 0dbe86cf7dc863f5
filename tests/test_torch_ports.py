"""What a porter of torch models types, against torch 2.13 (float64 values and gradients to
1e-12): every function of ``ng`` that torch has as a Tensor method is one here too;
``unbind``, ``clamp_min``/``clamp_max`` (and ``_``), ``is_floating_point``, ``is_complex``,
``half``/``short``/``cfloat``/``cdouble``, ``new_tensor``/``new_zeros``/``new_ones``/
``new_full``/``new_empty``, ``masked_fill_``, ``repeat_interleave`` (E43), ``scatter_add``
and ``scatter_add_`` (E44), ``cdist``, ``ng.linalg``; and what a tensor says for a torch
attribute that is not here (``TENSOR_HINTS``)."""

import inspect
import re

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.torch_names import TENSOR_HINTS, MissingAttribute

pytestmark = pytest.mark.filterwarnings("error")

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4))


def _both(fn_ng, fn_torch, *arrays):
    """fn_ng on ng tensors and fn_torch on torch tensors of ``arrays`` (float ones require
    grad); values and each float input's gradient (for a fixed random cotangent) compared
    to 1e-12, relative."""
    import torch
    ours = [ng.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    theirs = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    y, ty = fn_ng(*ours), fn_torch(*theirs)
    assert y.shape == tuple(ty.shape) and y.dtype == ty.detach().numpy().dtype
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-300,
                               err_msg="value")
    v = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(ng.tensor(v))
    ty.backward(torch.tensor(v))
    for k, (a, t) in enumerate(zip(ours, theirs)):
        if t.requires_grad:
            np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=1e-12, atol=1e-14,
                                       err_msg=f"gradient of input {k}")
    return y


# -- every function torch has as a Tensor method is one here ------------------------------

@pytest.mark.torch
def test_every_function_torch_has_as_a_tensor_method_is_a_method():
    """The README's promise: each op is also a Tensor method where PyTorch has it."""
    import torch
    methods = set(dir(torch.Tensor))
    missing = [n for n in ng.__all__ if n in methods and not hasattr(ng.Tensor, n)]
    assert missing == []
    assert {"logsumexp", "hardshrink", "prelu", "unbind", "repeat_interleave",
            "scatter_add", "clamp_min"} <= methods & set(ng.__all__)


@pytest.mark.torch
def test_the_new_methods_are_torchs():
    import torch
    x = X.copy()
    _both(lambda t: t.logsumexp(1, keepdim=True), lambda t: t.logsumexp(1, keepdim=True), x)
    _both(lambda t: t.hardshrink(0.3), lambda t: t.hardshrink(0.3), x)
    _both(lambda t, w: t.prelu(w), lambda t, w: t.prelu(w), x, np.array([0.25]))
    for name, dtype in (("half", np.float16), ("short", np.int16), ("cfloat", np.complex64),
                        ("cdouble", np.complex128)):
        got, want = getattr(ng.tensor(x), name)(), getattr(torch.tensor(x), name)()
        assert got.dtype == dtype
        np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=name)
        assert getattr(got, name)() is got
    for dtype in (np.float16, np.float32, np.float64, np.complex64, np.complex128, np.int64,
                  np.int8, np.uint8, np.bool_):
        t, tt = ng.zeros(2, dtype=dtype), torch.zeros(2, dtype=getattr(torch, np.dtype(
            dtype).name))
        assert t.is_floating_point() is tt.is_floating_point(), dtype
        assert t.is_complex() is tt.is_complex(), dtype


# -- unbind, clamp_min and clamp_max ------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unbind_as_torch(dim):
    import torch
    got = _both(lambda t: ng.stack(t.unbind(dim), 0), lambda t: torch.stack(t.unbind(dim), 0),
                X.copy())
    assert got.shape == (X.shape[dim],) + tuple(np.delete(X.shape, dim % 2))
    assert len(ng.unbind(ng.zeros(0, 2))) == 0
    with pytest.raises(ValueError, match="unbind: expected a tensor with at least 1 dim"):
        ng.unbind(ng.tensor(1.0))


@pytest.mark.torch
@pytest.mark.parametrize("name", ["clamp_min", "clamp_max"])
def test_clamp_min_max_as_torch(name):
    import torch
    x = X.copy()
    x[0, 0] = 0.1                                       # at the bound: the gradient passes
    _both(lambda t: getattr(ng, name)(t, 0.1), lambda t: getattr(torch, name)(t, 0.1), x)
    _both(lambda t: getattr(t, name)(0.1), lambda t: getattr(t, name)(0.1), x)

    def in_place(t):
        u = t * 1.0
        assert getattr(u, name + "_")(0.1) is u
        return u
    _both(in_place, in_place, x)
    with pytest.raises(TypeError, match=rf"^{name}: {name[-3:]} must be a real number, got "
                                        r"None"):
        getattr(ng, name)(ng.tensor(x), None)
    with pytest.raises(TypeError, match=rf"^{name}: .*tensor bounds are not supported"):
        getattr(ng, name)(ng.tensor(x), ng.tensor(0.1))


# -- new_* --------------------------------------------------------------------------------

@pytest.mark.torch
def test_new_tensor_and_friends_take_selfs_dtype_and_device_as_torch():
    import torch
    for dtype in (np.float32, np.int64):
        x, tx = ng.zeros(2, dtype=dtype), torch.zeros(2, dtype=getattr(torch,
                                                                      np.dtype(dtype).name))
        for data in ([1, 2], [1.5, -2.0], np.array([3, 4], np.int32)):
            got, want = x.new_tensor(data), tx.new_tensor(data)
            np.testing.assert_array_equal(got.numpy(), want.numpy())
            assert got.dtype == dtype and got.device == "cpu" and not got.requires_grad
        for name in ("new_zeros", "new_ones", "new_empty"):
            got, want = getattr(x, name)(2, 3), getattr(tx, name)((2, 3))
            assert got.shape == tuple(want.shape) and got.dtype == dtype, name
            if name != "new_empty":
                np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=name)
        np.testing.assert_array_equal(x.new_full((2,), 3.7).numpy(),
                                      tx.new_full((2,), 3.7).numpy())
    x = ng.zeros(2, dtype=np.float32)
    src = ng.tensor([1.0, 2.0], requires_grad=True)
    copy = x.new_tensor(src, dtype=np.float64, device=ng.device("cpu"), requires_grad=True)
    assert copy.dtype == np.float64 and copy.is_leaf and copy.requires_grad
    copy.data[0] = 7.0
    assert src.numpy()[0] == 1.0                                    # a copy
    assert x.new_zeros((2,), device="cpu").device == "cpu"
    assert x.new_empty(3, dtype=np.int64).dtype == np.int64
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        x.new_ones(2, device="gpu")


# -- masked_fill_ --------------------------------------------------------------------------

@pytest.mark.torch
def test_masked_fill_in_place_as_torch():
    import torch
    mask = np.array([True, False, True, False])                     # broadcast over rows

    def ours(t):
        u = t * 1.0
        assert u.masked_fill_(ng.tensor(mask), 2.5) is u
        return u

    def theirs(t):
        u = t * 1.0
        u.masked_fill_(torch.tensor(mask), 2.5)
        return u
    _both(ours, theirs, X.copy())
    # a 0-d tensor value gets the sum of dy where the mask is True
    _both(lambda t, v: (t * 1.0).masked_fill_(ng.tensor(mask), v),
          lambda t, v: (t * 1.0).masked_fill_(torch.tensor(mask), v), X.copy(), np.array(0.5))
    leaf = ng.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="masked_fill_ on a leaf tensor that requires grad"):
        leaf.masked_fill_(ng.tensor(mask), 0.0)
    with pytest.raises(ValueError, match="masked_fill_: the result has shape"):
        ng.zeros(4).masked_fill_(ng.tensor(np.ones((2, 4), bool)), 1.0)
    with ng.no_grad():
        leaf.masked_fill_(ng.tensor(mask), 0.0)
    assert (leaf.numpy()[:, mask] == 0).all()


# -- repeat_interleave (E43) --------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("repeats, dim", [
    (2, None), (3, 1), ([0, 2, 3], 0), ([1, 0, 2, 1], -1), ([2], 0), (0, 1), ("0-d", 1)])
def test_repeat_interleave_as_torch(repeats, dim):
    import torch
    r = np.array(2) if isinstance(repeats, str) else repeats
    ours = r if isinstance(r, int) else ng.tensor(np.array(r))
    theirs = r if isinstance(r, int) else torch.tensor(np.array(r))
    y = _both(lambda t: t.repeat_interleave(ours, dim),
              lambda t: t.repeat_interleave(theirs, dim), X.copy())
    assert y.grad_fn.name == "IndexSelect"
    _both(lambda t: ng.repeat_interleave(t, ours, dim=dim),
          lambda t: torch.repeat_interleave(t, theirs, dim=dim), X.copy())


@pytest.mark.torch
def test_repeat_interleave_gradient_sums_each_block_and_the_other_forms():
    import torch
    x = ng.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = ng.repeat_interleave(x, ng.tensor([2, 0, 3]))
    y.backward(ng.tensor(np.arange(1.0, 6.0)))
    np.testing.assert_array_equal(x.grad, [1 + 2, 0, 3 + 4 + 5])             # E43
    counts = np.array([2, 1, 0, 3])
    got = ng.repeat_interleave(ng.tensor(counts))
    np.testing.assert_array_equal(got.numpy(), torch.repeat_interleave(
        torch.tensor(counts)).numpy())
    assert got.dtype == np.int64
    assert ng.repeat_interleave(ng.tensor(3.0), 2).shape == (2,)
    assert ng.repeat_interleave(ng.zeros(0, 3), 3, dim=0).shape == (0, 3)
    assert ng.repeat_interleave(x, 2, 0, output_size=6).shape == (6,)


@pytest.mark.parametrize("args, kwargs, error, message", [
    ((np.ones(3), -1), {}, ValueError, "repeats must be non-negative, got -1"),
    ((np.ones((2, 3)), [1, 2, 3]), {"dim": 0}, ValueError, "repeats has 3 entries, the dim 2"),
    ((np.ones(3), np.ones((1, 3), int)), {"dim": 0}, ValueError, "0-d or 1-d tensor"),
    ((np.ones(3), 2.0), {}, TypeError, "repeats must be an int or a tensor of integers"),
    ((np.ones(3), np.array([1.0, 2, 1])), {}, TypeError, "repeats must be an int or a tensor"),
    ((np.ones(3), True), {}, TypeError, "repeats must be an int"),
    ((np.ones(3), 2), {"dim": 1}, ValueError, "axis 1 is out of range"),
    ((np.array(1.0), 2), {"dim": 0}, ValueError, "given for a 0-d tensor"),
    ((np.ones(3), 2), {"output_size": 5}, ValueError, "output_size=5 but the repeats sum "
                                                      "to 6"),
    ((np.ones((2, 2), int),), {}, ValueError, "must be a 1-d tensor of integers"),
])
def test_repeat_interleave_errors(args, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        ng.repeat_interleave(*args, **kwargs)


# -- scatter_add (E44) --------------------------------------------------------------------

INDEX = np.array([[0, 1, 2, 0], [2, 2, 0, 1]])      # repeated targets sum


@pytest.mark.torch
@pytest.mark.parametrize("dim, index", [(0, INDEX), (1, INDEX[:, ::-1] % 4), (-1, INDEX[:1]),
                                        (0, np.zeros((0, 4), np.int64))])
def test_scatter_add_as_torch(dim, index):
    import torch
    src = RNG.standard_normal(index.shape)      # torch's src gradient needs index's shape
    _both(lambda x, s: ng.scatter_add(x, dim, index, s),
          lambda x, s: torch.scatter_add(x, dim, torch.tensor(index), s), X.copy(), src)
    _both(lambda x, s: x.scatter_add(dim, ng.tensor(index), s),
          lambda x, s: x.scatter_add(dim, torch.tensor(index), s), X.copy(), src)

    def in_place(x, s, index=index):
        u = x * 1.0
        assert u.scatter_add_(dim, index if isinstance(x, ng.Tensor) else
                              torch.tensor(index), s) is u
        return u
    _both(in_place, in_place, X.copy(), src)


def test_scatter_add_reads_the_leading_part_of_a_larger_src():
    """E44: dsrc is dy gathered at the positions written, 0 beyond index's shape (torch's
    backward fails there: its gather returns index's shape)."""
    x = ng.tensor(np.zeros((3, 4)), requires_grad=True)
    src = ng.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    y = ng.scatter_add(x, 1, np.array([[3], [0]]), src)
    want = np.zeros((3, 4))
    want[0, 3], want[1, 0] = 0.0, 4.0
    np.testing.assert_array_equal(y.numpy(), want)
    dy = np.arange(1.0, 13.0).reshape(3, 4)
    y.backward(ng.tensor(dy))
    np.testing.assert_array_equal(x.grad, dy)
    want_src = np.zeros((3, 4))
    want_src[0, 0], want_src[1, 0] = dy[0, 3], dy[1, 0]
    np.testing.assert_array_equal(src.grad, want_src)
    assert ng.scatter_add(ng.zeros((), dtype=np.int64), 0, np.array(0), ng.tensor(5)).item() == 5


def test_scatter_add_and_repeat_interleave_pass_gradcheck():
    rng = np.random.default_rng(3)
    x, s = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    for method in ("central", "complex_step"):
        ng.gradcheck(lambda a, b: ng.scatter_add(a, 0, INDEX, b), (x, s), method=method)
        ng.gradcheck(lambda a: ng.repeat_interleave(a, ng.tensor([2, 0, 1]), 0), (x,),
                     method=method)
    ng.gradcheck(lambda a, b: ng.cdist(a, b), (x, s), method="central")


@pytest.mark.parametrize("args, error, message", [
    ((np.zeros((3, 4)), 0, INDEX.astype(float), np.ones((2, 4))), TypeError,
     "index must be an integer array"),
    ((np.zeros((3, 4)), 0, INDEX, np.ones((2, 4), np.float32)), TypeError,
     "src is float32 and input float64"),
    ((np.zeros((3, 4)), 0, INDEX, 2.0), TypeError, "src must be a tensor, got float"),
    ((np.zeros((3, 4)), 0, INDEX[0], np.ones((2, 4))), ValueError,
     "must have one number of dimensions"),
    ((np.zeros((3, 4)), 0, np.zeros((3, 4), int), np.ones((2, 4))), ValueError,
     "index of shape (3, 4) must be no longer than src (2, 4)"),
    ((np.zeros((3, 2)), 0, INDEX, np.ones((2, 4))), ValueError, "axis 1 is longer"),
    ((np.zeros((3, 4)), 0, INDEX + 1, np.ones((2, 4))), IndexError,
     "index 3 is out of range for dim 0 of size 3"),
    ((np.zeros((3, 4)), 0, -INDEX, np.ones((2, 4))), IndexError, "index -1 is out of range"),
    ((np.zeros((3, 4)), 2, INDEX, np.ones((2, 4))), ValueError, "axis 2 is out of range"),
])
def test_scatter_add_errors(args, error, message):
    with pytest.raises(error, match=re.escape(message)):
        ng.scatter_add(*args)


# -- cdist, linalg ------------------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 2.0, 3.0, np.inf])
@pytest.mark.parametrize("shapes", [((5, 3), (4, 3)), ((2, 5, 3), (4, 3)),
                                    ((2, 1, 5, 3), (3, 4, 3)), ((0, 3), (2, 3))])
def test_cdist_as_torch(p, shapes):
    import torch
    a, b = (RNG.standard_normal(s) for s in shapes)
    _both(lambda x, y: ng.cdist(x, y, p), lambda x, y: torch.cdist(
        x, y, p, compute_mode="donot_use_mm_for_euclid_dist"), a, b)


@pytest.mark.torch
def test_cdist_of_equal_rows_has_gradient_zero_as_torch():
    import torch
    a = np.array([[1.0, 2.0], [0.5, -1.0]])
    for p in (1.0, 2.0, 3.0):
        _both(lambda x, y: ng.cdist(x, y, p), lambda x, y: torch.cdist(x, y, p), a, a.copy())


@pytest.mark.parametrize("args, kwargs, error, message", [
    ((np.ones(3), np.ones((2, 3))), {}, ValueError, "at least 2 dims"),
    ((np.ones((2, 3)), np.ones((2, 4))), {}, ValueError, "the same number of columns"),
    ((np.ones((2, 3)), np.ones((2, 3)), -1.0), {}, ValueError, "p must be a number >= 0"),
    ((np.ones((2, 3)), np.ones((2, 3)), "2"), {}, TypeError, "p must be a number >= 0"),
    ((np.ones((2, 3), int), np.ones((2, 3), int)), {}, TypeError, "floating-point"),
    ((np.ones((2, 3)), np.ones((2, 3), np.float32)), {}, TypeError, "x1 is float64 and x2"),
    ((np.ones((2, 2, 3)), np.ones((3, 2, 3))), {}, ValueError, "do not broadcast"),
    ((np.ones((2, 3)), np.ones((2, 3))), {"compute_mode": "mm"}, ValueError,
     "unknown compute_mode 'mm'"),
])
def test_cdist_errors(args, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        ng.cdist(*args, **kwargs)


@pytest.mark.torch
@pytest.mark.parametrize("ord", [2, 1, 3.5, 0, np.inf, -np.inf])
@pytest.mark.parametrize("dim, keepdim", [(None, False), (1, True), ((0, 1), False),
                                          (-1, False)])
def test_linalg_vector_norm_as_torch(ord, dim, keepdim):
    import torch
    x = X.copy()
    if ord == 0:            # no gradient: values only
        np.testing.assert_array_equal(
            ng.linalg.vector_norm(ng.tensor(x), ord, dim, keepdim).numpy(),
            torch.linalg.vector_norm(torch.tensor(x), ord, dim, keepdim).numpy())
        return
    _both(lambda t: ng.linalg.vector_norm(t, ord, dim, keepdim),
          lambda t: torch.linalg.vector_norm(t, ord, dim, keepdim), x)


@pytest.mark.torch
def test_linalg_norm_of_vectors_as_torch():
    import torch
    x = X.copy()
    for args, kwargs in (((), {}), ((None, 1), {}), ((3.0,), {"dim": 0}),
                         (("fro",), {}), ((None, (0, 1), True), {})):
        _both(lambda t: ng.linalg.norm(t, *args, **kwargs),
              lambda t: torch.linalg.norm(t, *args, **kwargs), x)
    _both(lambda t: ng.linalg.norm(t, 1), lambda t: torch.linalg.norm(t, 1), x[0].copy())
    got = ng.linalg.vector_norm(ng.tensor(x, dtype=np.float32), dtype=np.float64)
    assert got.dtype == np.float64
    # the matrix norms it dispatches to: tests/ops/test_matrix_norm.py
    for args, message in (((np.ones((2, 2, 2)), 2), "must be 1-d or 2-d"),
                          ((x[0], "fro"), "needs A of at least 2 dims")):
        with pytest.raises(ValueError, match=re.escape(message)):
            ng.linalg.norm(*args)
    with pytest.raises(TypeError, match="ord must be a number"):
        ng.linalg.vector_norm(x, "fro")


# -- what a tensor says for a torch attribute that is not here ----------------------------

@pytest.mark.torch
def test_every_tensor_hint_is_a_torch_attribute_and_not_here():
    import torch
    assert [n for n in TENSOR_HINTS if not hasattr(torch.Tensor, n)] == []
    installed = {n: inspect.getattr_static(ng.Tensor, n, None) for n in TENSOR_HINTS}
    assert [n for n, v in installed.items() if not isinstance(v, MissingAttribute)] == []
    x = ng.zeros(2)
    assert [n for n in TENSOR_HINTS if hasattr(x, n) or hasattr(ng.Tensor, n)] == []
    # what the hints name exists
    text = " ".join(h.format(name="x", base="unsqueeze") for h in TENSOR_HINTS.values())
    assert [m for m in re.findall(r"\bx\.(\w+)\(", text) if not hasattr(ng.Tensor, m)] == []
    assert [m for m in re.findall(r"\bng\.(\w+)", text) if not hasattr(ng, m)] == []
    assert [m for m in re.findall(r"nn\.init\.(\w+)", text) if not hasattr(ng.nn.init, m)
            ] == []


@pytest.mark.parametrize("name, hint", [
    ("index_put_", "x.index_copy_(dim, index, source)"), ("storage", "x.numpy() is the array"),
    ("unsqueeze_", "write x = x.unsqueeze(...)"), ("element_size", "x.dtype.itemsize"),
    ("pin_memory", "there is no pinned memory here"),
    ("unfold", "ng.stack([x[..., i:i + size]"), ("masked_scatter", "ng.where(mask, values, x)")])
def test_a_torch_tensor_attribute_that_is_not_here_says_what_to_write(name, hint):
    x = ng.zeros(2)
    assert not hasattr(x, name) and getattr(x, name, 7) == 7
    with pytest.raises(AttributeError, match=rf"^'Tensor' object has no attribute '{name}'; "
                                             rf"for torch's Tensor\.{name}, .*"
                                             rf"{re.escape(hint)}") as info:
        getattr(x, name)
    assert info.value.name == name and info.value.obj is x
    with pytest.raises(AttributeError, match=rf"^type object 'Tensor' has no attribute "
                                             rf"'{name}'; for torch's"):
        getattr(ng.Tensor, name)
    p = ng.nn.Parameter(np.zeros(2))
    with pytest.raises(AttributeError, match=rf"^'Parameter' object has no attribute "
                                             rf"'{name}'"):
        getattr(p, name)


def test_other_missing_attributes_keep_pythons_message():
    x = ng.zeros(2)
    with pytest.raises(AttributeError, match=r"^'Tensor' object has no attribute "
                                             r"'no_such_thing'$"):
        x.no_such_thing  # noqa: B018  (the attribute access is the test)
    with pytest.raises(AttributeError, match="a tensor on the CPU has no "
                                             "__cuda_array_interface__"):
        x.__cuda_array_interface__  # noqa: B018


def test_the_module_hints_for_the_new_names_are_gone():
    from nongate_np.torch_names import HINTS
    for name in ("clamp_min", "clamp_max", "unbind"):
        assert name not in HINTS and callable(getattr(ng, name))
