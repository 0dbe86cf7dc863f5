"""torch's named in-place methods (``add_``, ``sub_``, ``mul_``, ``div_``, ``zero_``,
``fill_``, ``copy_``, ``clamp_``/``clip_``, ``neg_``, ``exp_``, ``tanh_``, ``sigmoid_``,
``relu_``), each against torch 2.13 in float64: the values, the returned object (the tensor
itself), its dtype, the gradients of a graph using it, the errors torch raises (a leaf
requiring grad, a saved tensor changed), and an optimizer-style update of an nn.Linear's
parameters under no_grad followed by a training step. They share the path of ``x += y``
(``Tensor._in_place``; docs/math.md E23)."""

import numpy as np
import pytest

import nongate_np as ng

RNG = np.random.default_rng(7)
X = RNG.standard_normal((2, 3))
Y = RNG.standard_normal((2, 3))
ROW = RNG.standard_normal(3)
POSITIVE = RNG.uniform(0.5, 2.0, (2, 3))


class Arg:
    """A tensor argument of a case, made in each library (float64 unless ``dtype``)."""

    def __init__(self, values, dtype=np.float64):
        self.values, self.dtype = np.asarray(values, dtype), dtype

    def make(self, lib, requires_grad=False):
        if lib is ng:
            return ng.tensor(self.values, requires_grad=requires_grad)
        import torch
        return torch.tensor(self.values, requires_grad=requires_grad)


# (method, positional args, keyword args); an Arg is a tensor in both libraries
CASES = [
    ("add_", (Arg(Y),), {}),
    ("add_", (Arg(Y),), {"alpha": 2.0}),
    ("add_", (Arg(ROW),), {"alpha": -0.5}),           # broadcast to (2, 3)
    ("add_", (2.5,), {}),
    ("add_", (Arg(1.25),), {}),                       # 0-d
    ("sub_", (Arg(Y),), {}),
    ("sub_", (Arg(ROW),), {"alpha": 2.0}),
    ("sub_", (0.75,), {}),
    ("mul_", (Arg(Y),), {}),
    ("mul_", (Arg(ROW),), {}),
    ("mul_", (-3.0,), {}),
    ("div_", (Arg(POSITIVE),), {}),
    ("div_", (4.0,), {}),
    ("zero_", (), {}),
    ("fill_", (2.5,), {}),
    ("fill_", (Arg(-1.5),), {}),                      # a 0-d tensor value
    ("copy_", (Arg(Y),), {}),
    ("copy_", (Arg(ROW),), {}),                       # broadcast to (2, 3)
    ("copy_", (Arg(Y, np.float32),), {}),             # another dtype: cast
    ("clamp_", (), {"min": -0.5}),
    ("clamp_", (), {"max": 0.3}),
    ("clamp_", (-0.5, 0.5), {}),
    ("clip_", (-0.2, 0.2), {}),
    ("neg_", (), {}),
    ("exp_", (), {}),
    ("tanh_", (), {}),
    ("sigmoid_", (), {}),
    ("relu_", (), {}),
]
IDS = [f"{m}-{k}" for k, (m, _, _) in enumerate(CASES)]


def _args(lib, args, requires_grad=False):
    return [a.make(lib, requires_grad) if isinstance(a, Arg) else a for a in args]


def _values(t) -> np.ndarray:
    return t.numpy() if isinstance(t, ng.Tensor) else t.detach().numpy()


@pytest.mark.torch
@pytest.mark.parametrize("method, args, kwargs", CASES, ids=IDS)
def test_each_method_changes_the_tensor_itself_as_torch(method, args, kwargs):
    """The values torch gives, written into the tensor's own array (a view of it sees them),
    the tensor returned, its dtype kept."""
    import torch
    ours, theirs = ng.tensor(X), torch.tensor(X)
    array, view = ours.data, ours.data[0]
    out = getattr(ours, method)(*_args(ng, args), **kwargs)
    want = getattr(theirs, method)(*_args(torch, args), **kwargs)
    assert out is ours and want is theirs
    assert ours.data is array and ours.dtype == np.float64
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-15, atol=0,
                               err_msg=method)
    np.testing.assert_array_equal(view, ours.numpy()[0], err_msg=f"{method}: a view")


@pytest.mark.torch
@pytest.mark.parametrize("method, args, kwargs", [
    ("add_", (Arg(Y),), {}),                          # a float64 argument: cast back
    ("mul_", (Arg(ROW, np.float32),), {}),
    ("copy_", (Arg(Y),), {}),
    ("fill_", (2.75,), {}),
    ("clamp_", (-0.5, 0.5), {}),
    ("sigmoid_", (), {}),
], ids=lambda v: v if isinstance(v, str) else "")
def test_a_float32_tensor_stays_float32_as_torch(method, args, kwargs):
    import torch
    ours, theirs = ng.tensor(X, dtype=np.float32), torch.tensor(X, dtype=torch.float32)
    assert getattr(ours, method)(*_args(ng, args), **kwargs) is ours
    getattr(theirs, method)(*_args(torch, args), **kwargs)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, err_msg=method)


@pytest.mark.torch
@pytest.mark.parametrize("method, args, kwargs", [
    ("add_", (2,), {}),
    ("add_", (Arg([1, 2, 3], np.int64),), {"alpha": 3}),
    ("mul_", (-2,), {}),
    ("sub_", (1,), {"alpha": 2}),
    ("zero_", (), {}),
    ("fill_", (2.7,), {}),                            # truncated, as torch
    ("copy_", (Arg([1.7, -1.7, 2.2]),), {}),          # truncated, as torch
    ("clamp_", (0, 1), {}),
    ("neg_", (), {}),
    ("relu_", (), {}),
], ids=lambda v: v if isinstance(v, str) else "")
def test_an_integer_tensor_stays_integer_as_torch(method, args, kwargs):
    import torch
    values = np.array([-2, 0, 3])
    ours, theirs = ng.tensor(values), torch.tensor(values)
    assert getattr(ours, method)(*_args(ng, args), **kwargs) is ours
    getattr(theirs, method)(*_args(torch, args), **kwargs)
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=method)


def _graph(lib, method, args, kwargs):
    """x (leaf) -> y = 1.5 x -> before = 3 y (recorded before: reads y's old value) ->
    y.method(args) -> a loss reading y's new value twice (nonlinear) and ``before``.
    Returns y's new values, x's gradient and each tensor argument's gradient."""
    x = X.copy()
    x = ng.tensor(x, requires_grad=True) if lib is ng else lib.tensor(x, requires_grad=True)
    made = _args(lib, args, requires_grad=True)
    y = x * 1.5
    before = y * 3.0
    assert getattr(y, method)(*made, **kwargs) is y
    assert not y.is_leaf and y.requires_grad
    loss = (y * y * 0.5).sum() + (y * 2.0).sum() + (before * before).sum()
    loss.backward()
    grads = [np.asarray(a.grad) for a in made if hasattr(a, "grad")]
    return _values(y), np.asarray(x.grad), grads


@pytest.mark.torch
@pytest.mark.parametrize("method, args, kwargs", CASES, ids=IDS)
def test_the_gradients_of_a_graph_using_each_method_are_torchs(method, args, kwargs):
    """The gradient reaches x through the new value (zero through zero_, fill_ and copy_,
    which overwrite it) and through the op recorded before, which read the old value; a
    tensor argument (copy_'s source, fill_'s 0-d value, add_'s scaled operand) gets its
    gradient in its own shape and dtype."""
    import torch
    (y, dx, dargs), (ty, tdx, tdargs) = (_graph(ng, method, args, kwargs),
                                          _graph(torch, method, args, kwargs))
    np.testing.assert_allclose(y, ty, rtol=1e-15, atol=0, err_msg=f"{method}: values")
    np.testing.assert_allclose(dx, tdx, rtol=1e-14, atol=0, err_msg=f"{method}: dx")
    assert len(dargs) == len(tdargs)
    for k, (got, want) in enumerate(zip(dargs, tdargs)):
        assert got.shape == want.shape and got.dtype == want.dtype, (method, k)
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=0,
                                   err_msg=f"{method}: argument {k}'s gradient")


@pytest.mark.torch
@pytest.mark.parametrize("method, args, kwargs", CASES, ids=IDS)
def test_a_leaf_requiring_grad_raises_and_updates_under_no_grad_as_torch(method, args,
                                                                        kwargs):
    import torch
    w, tw = ng.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match=rf"{method} on a leaf tensor that requires grad "
                                           rf".*no_grad\(\)"):
        getattr(w, method)(*_args(ng, args), **kwargs)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        getattr(tw, method)(*_args(torch, args), **kwargs)
    np.testing.assert_array_equal(w.numpy(), X, err_msg=f"{method}: changed by the refusal")
    with ng.no_grad():
        assert getattr(w, method)(*_args(ng, args), **kwargs) is w
    with torch.no_grad():
        getattr(tw, method)(*_args(torch, args), **kwargs)
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    np.testing.assert_allclose(w.numpy(), _values(tw), rtol=1e-15, atol=0, err_msg=method)


@pytest.mark.torch
@pytest.mark.parametrize("method, args, kwargs", CASES, ids=IDS)
def test_a_saved_tensor_changed_by_each_method_raises_at_backward_as_torch(method, args,
                                                                          kwargs):
    """exp saved its output h; h changed in place (under no_grad too) gives a backward
    that raises in both libraries instead of a gradient at values the forward never used."""
    import torch
    for grad_mode in (True, False):
        x, tx = ng.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
        h, th = x.exp(), tx.exp()
        with ng.set_grad_enabled(grad_mode):
            getattr(h, method)(*_args(ng, args), **kwargs)
        with torch.set_grad_enabled(grad_mode):
            getattr(th, method)(*_args(torch, args), **kwargs)
        with pytest.raises(RuntimeError, match=r"'Exp' saved an array of shape \(2, 3\) .*"
                                               r"changed in place after the forward pass"):
            h.sum().backward()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            th.sum().backward()


@pytest.mark.torch
@pytest.mark.parametrize("method", ["exp_", "tanh_", "sigmoid_"])
@pytest.mark.parametrize("then", ["add_", "zero_"])
def test_an_in_place_op_that_saves_its_output_sees_a_later_change_as_torch(method, then):
    """y.exp_() saves y itself (torch's saved output): a later y.add_(1) makes the backward
    raise; without it the gradient is torch's."""
    import torch
    args = (1.0,) if then == "add_" else ()
    x, tx = ng.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    y, ty = x * 2.0, tx * 2.0
    getattr(getattr(y, method)(), then)(*args)
    getattr(getattr(ty, method)(), then)(*args)
    with pytest.raises(RuntimeError, match=r"saved an array of shape \(2, 3\) .*changed in "
                                           r"place after the forward pass"):
        y.sum().backward()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ty.sum().backward()
    x, tx = ng.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    y, ty = getattr(x * 2.0, method)(), getattr(tx * 2.0, method)()
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-14, err_msg=method)


def test_relu_then_another_in_place_change_gives_the_out_of_place_gradient():
    """relu_ saves its mask, not its output (torch saves the output, so its backward
    raises here): a later change of y leaves the gradient that of the out-of-place
    program."""
    x = ng.tensor(X, requires_grad=True)
    y = (x * 2.0).relu_().add_(1.0)
    (y * y).sum().backward()
    x2 = ng.tensor(X, requires_grad=True)
    y2 = (x2 * 2.0).relu() + 1.0
    (y2 * y2).sum().backward()
    np.testing.assert_array_equal(y.numpy(), y2.numpy())
    np.testing.assert_allclose(x.grad, x2.grad, rtol=1e-15)


@pytest.mark.torch
def test_copy_into_a_constant_puts_it_in_the_graph_as_torch():
    """z = zeros; z.copy_(w): z now requires grad (not a leaf) and w gets the gradient,
    summed over the broadcast axis and in w's dtype; z.add_(z) reads z's old value twice."""
    import torch
    w32 = ROW.astype(np.float32)
    z, tz = ng.zeros((2, 3)), torch.zeros(2, 3, dtype=torch.float64)
    w, tw = ng.tensor(w32, requires_grad=True), torch.tensor(w32, requires_grad=True)
    z.copy_(w).add_(z)
    tz.copy_(tw).add_(tz)
    assert z.requires_grad and not z.is_leaf and z.dtype == np.float64
    (z * z).sum().backward()
    (tz * tz).sum().backward()
    np.testing.assert_allclose(z.numpy(), tz.detach().numpy(), rtol=1e-15)
    assert w.grad.dtype == np.float32 and w.grad.shape == (3,)
    np.testing.assert_allclose(w.grad, tw.grad.numpy(), rtol=1e-6)


@pytest.mark.torch
def test_copy_into_an_integer_tensor_leaves_it_out_of_the_graph_as_torch():
    """A float source requiring grad truncated into an int64 tensor: no gradient flows
    through an integer (it was made an integer leaf "requiring grad")."""
    import torch
    z, tz = ng.zeros(3, dtype=np.int64), torch.zeros(3, dtype=torch.int64)
    z.copy_(ng.tensor(ROW * 3, requires_grad=True))
    tz.copy_(torch.tensor(ROW * 3, requires_grad=True))
    assert not z.requires_grad and not tz.requires_grad and z.grad_fn is None
    np.testing.assert_array_equal(z.numpy(), tz.numpy())


@pytest.mark.torch
def test_a_method_on_a_constant_with_a_constant_records_nothing_as_torch():
    import torch
    c, tc = ng.tensor(X), torch.tensor(X)
    c.add_(ng.tensor(Y)).mul_(2.0).clamp_(-1.0, 1.0)
    tc.add_(torch.tensor(Y)).mul_(2.0).clamp_(-1.0, 1.0)
    assert c.is_leaf and not c.requires_grad and c.grad_fn is None
    np.testing.assert_allclose(c.numpy(), tc.numpy(), rtol=1e-15)


def test_the_errors_name_the_method():
    """Where torch raises RuntimeError (shape, dtype, no clamp bound, bool negation,
    fill_ with a tensor of more than 0 dims) the library raises its documented error type,
    naming the method, what was expected and what was given."""
    t, i = ng.tensor(X), ng.tensor(np.arange(3))
    with pytest.raises(ValueError, match=r"add_: the result has shape \(2, 2, 3\), the tensor "
                                         r"\(2, 3\)"):
        t.add_(ng.tensor(np.ones((2, 2, 3))))
    with pytest.raises(TypeError, match=r"mul_: the result's dtype float64 cannot be cast to "
                                        r"the tensor's int64"):
        i.mul_(1.5)
    with pytest.raises(TypeError, match=r"div_: the result's dtype float64 cannot be cast"):
        i.div_(2)
    with pytest.raises(TypeError, match=r"exp_: the result's dtype float64 cannot be cast"):
        i.exp_()
    with pytest.raises(TypeError, match=r"clamp: at least one of min or max"):
        t.clamp_()
    with pytest.raises(TypeError, match=r"neg: not defined for a bool tensor"):
        ng.tensor([True, False]).neg_()
    with pytest.raises(ValueError, match=r"fill_: the value must be a number or a 0-d tensor, "
                                         r"got a tensor of shape \(2,\)"):
        t.fill_(ng.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"copy_: src of shape \(2, 2, 3\) does not broadcast "
                                         r"to the tensor's shape \(2, 3\)"):
        t.copy_(ng.tensor(np.ones((2, 2, 3))))
    with pytest.raises(ValueError, match=r"copy_: src of shape \(2,\) does not broadcast"):
        t.copy_(np.ones(2))
    np.testing.assert_array_equal(t.numpy(), X, err_msg="changed by a refused call")
    np.testing.assert_array_equal(i.numpy(), np.arange(3), err_msg="changed by a refusal")


def test_copy_takes_an_array_and_torchs_non_blocking():
    t = ng.zeros((2, 3))
    assert t.copy_(Y, non_blocking=True) is t
    np.testing.assert_array_equal(t.numpy(), Y)


def test_the_operators_and_the_methods_share_one_path():
    """x += y and x.add_(y) give the same tensor, values and gradients; both refuse a leaf
    requiring grad with the same message but for the name."""
    results = []
    for how in ("operator", "method"):
        x, w = ng.tensor(X, requires_grad=True), ng.tensor(Y, requires_grad=True)
        y = x * 1.5
        before = y
        if how == "operator":
            y += w
            y *= w
        else:
            y.add_(w).mul_(w)
        assert y is before
        (y * y).sum().backward()
        results.append((y.numpy(), x.grad, w.grad))
    for got, want in zip(*results):
        np.testing.assert_array_equal(got, want)
    w = ng.tensor(X, requires_grad=True)
    messages = []
    for change in (lambda: w.__iadd__(1.0), lambda: w.add_(1.0)):
        with pytest.raises(RuntimeError) as err:
            change()
        messages.append(str(err.value))
    assert messages[0].replace("+=", "add_").replace("x = x + y", "x = x.add(y)") == \
        messages[1]


def test_the_methods_are_bound_under_their_names():
    for name in ("add_", "sub_", "mul_", "div_", "zero_", "fill_", "copy_", "clamp_",
                 "clip_", "neg_", "exp_", "tanh_", "sigmoid_", "relu_"):
        method = getattr(ng.Tensor, name)
        assert method.__name__ == name and method.__qualname__ == f"Tensor.{name}", name
        assert method.__doc__, name


def _linear_pair(torch):
    ng.seed(3)
    ours = ng.nn.Linear(3, 2, dtype=np.float64)
    theirs = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.numpy()))
    return ours, theirs


@pytest.mark.torch
def test_no_grad_updates_of_a_linears_parameters_then_a_training_step_as_torch():
    """The optimizer-style manual updates under no_grad (zero_, fill_, copy_, add_ with
    alpha, mul_, clamp_) change the parameters themselves, which stay leaves requiring
    grad; a loss computed before the update raises at backward (the parameter it saved
    changed, torch's version counter); then a forward, backward and SGD step give torch's
    parameters."""
    import torch
    ours, theirs = _linear_pair(torch)
    xb = RNG.standard_normal((4, 3))
    params = list(ours.parameters())
    stale = (ours(ng.tensor(xb, requires_grad=True)) ** 2).sum()
    tstale = (theirs(torch.tensor(xb, requires_grad=True)) ** 2).sum()
    new_weight = RNG.standard_normal((2, 3))
    for lib, model in ((ng, ours), (torch, theirs)):
        with lib.no_grad():
            model.bias.zero_()
            model.bias.fill_(0.25)
            model.weight.copy_(lib.tensor(new_weight))
            model.weight.add_(lib.tensor(np.ones((2, 3))), alpha=-0.5)
            model.weight.mul_(0.5).clamp_(-0.6, 0.6)
    with pytest.raises(RuntimeError, match="changed in place after the forward pass"):
        stale.backward()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tstale.backward()
    assert [id(p) for p in ours.parameters()] == [id(p) for p in params]
    assert all(p.is_leaf and p.requires_grad for p in ours.parameters())
    opt, topt = ng.optim.SGD(ours.parameters(), lr=0.1), torch.optim.SGD(theirs.parameters(),
                                                                        lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        topt.zero_grad()
        (ours(ng.tensor(xb)) ** 2).sum().backward()
        (theirs(torch.tensor(xb)) ** 2).sum().backward()
        opt.step()
        topt.step()
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-14, err_msg=name)


def test_an_op_saving_its_output_and_a_view_of_the_tensor_keeps_its_copy():
    """y ← y ** y[0] (the op saves its output and its exponent, a view of y): the exponent
    changed with y, so the backward raises, as torch's version counter does, where sharing
    y's array with the saved output would have hidden the change (a wrong gradient)."""
    x = ng.tensor(POSITIVE, requires_grad=True)
    y = x * 1.0
    y._in_place("pow_", ng.pow, y[0])
    with pytest.raises(RuntimeError, match=r"'Pow' saved an array of shape \(3,\)"):
        y.sum().backward()


VIEWS = {"slice": lambda a: a[0:1], "tail": lambda a: a[1:], "transpose": lambda a: a.T,
         "reshape": lambda a: a.reshape(-1)}
CHANGES = {"mul_": lambda a, w: a.mul_(w), "exp_": lambda a, w: a.exp_(),
           "+=": lambda a, w: a.__iadd__(w), "zero_": lambda a, w: a.zero_()}


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("change", CHANGES)
def test_a_view_taken_before_its_base_changed_in_place_raises_at_backward(view, change):
    """The view holds the base's new values while its graph reads the old ones, so its
    gradient would be wrong (x.grad [1, 0], w none, where torch rebuilds the view's graph
    and gives x.grad [3, 0], w.grad [1, 0]): a clear RuntimeError instead."""
    x = ng.tensor(X, requires_grad=True)
    w = ng.tensor(Y, requires_grad=True)
    a = x * 1
    b = VIEWS[view](a)
    CHANGES[change](a, w)
    with pytest.raises(RuntimeError, match=r"'Mul' read a view \('(GetItem|Permute|Reshape)'"
                                           r"\) of an array of shape \(2, 3\) that was "
                                           r"changed in place after the view was taken"):
        (b * b).sum().backward()


@pytest.mark.torch
@pytest.mark.parametrize("view", VIEWS)
def test_a_view_taken_after_the_change_gets_torchs_gradients(view):
    import torch
    grads = []
    for lib in (ng, torch):
        x, w = Arg(X).make(lib, True), Arg(Y).make(lib, True)
        a = x * 1
        a.mul_(w)
        b = VIEWS[view](a)          # the same code in both libraries
        (b * b).sum().backward()
        grads.append([np.asarray(x.grad), np.asarray(w.grad)])
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)


OP_RESULTS = {
    "norm": lambda lib, x: x.norm(dim=1),
    "std": lambda lib, x: x.std(1),
    "var": lambda lib, x: x.var(1),
    "amax": lambda lib, x: lib.amax(x, 1) if lib is ng else x.amax(1),
    "max_values": lambda lib, x: x.max(1).values,
    "topk_values": lambda lib, x: x.topk(2).values,
    "gather": lambda lib, x: x.gather(1, (np.array([[0, 2], [1, 1]]) if lib is ng else
                                          __import__("torch").tensor([[0, 2], [1, 1]]))),
}


@pytest.mark.torch
@pytest.mark.parametrize("op", OP_RESULTS)
def test_an_in_place_method_on_an_ops_result_is_allowed_with_torchs_gradient(op):
    """These ops return their result reshaped from an array of their own: not a view of
    another tensor's array, so an in-place method on it is allowed, as torch's, with the
    gradients of the out-of-place program (torch's, out of place: its norm, std and var
    save their output and refuse the change at backward; ours do not need it)."""
    import torch
    grads = []
    for lib in (ng, torch):
        x, w = Arg(X).make(lib, True), Arg(1.5).make(lib, True)
        y = OP_RESULTS[op](lib, x)
        y = y.mul_(w) if lib is ng else y * w
        (y * y).sum().backward()
        grads.append([np.asarray(x.grad), np.asarray(w.grad)])
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_an_in_place_method_on_a_view_made_under_no_grad_is_refused():
    """As torch: the base's graph would miss the change."""
    a = ng.tensor(X, requires_grad=True) * 1
    with ng.no_grad():
        v = a[0]
    with pytest.raises(RuntimeError, match="mul_ on a view of another tensor's array"):
        v.mul_(ng.tensor(ROW, requires_grad=True))


@pytest.mark.torch
@pytest.mark.parametrize("view", VIEWS)
def test_a_view_read_before_its_base_changed_routes_torchs_gradient(view):
    """The reader read the values the view's graph describes: no error, torch's gradients
    (a transposed weight read by a product before an optimizer step is this case)."""
    import torch
    grads = []
    for lib in (ng, torch):
        x, w = Arg(X).make(lib, True), Arg(Y).make(lib, True)
        a = x * 1
        b = VIEWS[view](a)          # the same code in both libraries
        y = b.sum()
        a.mul_(w)
        (y + (a * a).sum()).backward()
        grads.append([np.asarray(x.grad), np.asarray(w.grad)])
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)


def test_an_in_place_result_beyond_the_dtypes_range_is_inf_without_a_warning(recwarn):
    """As torch: float64 values beyond float32's range written into a float32 tensor are
    ±inf, with no NumPy RuntimeWarning (the library's promise, docs/reliability.md)."""
    y = ng.tensor(np.array([1.0, 2.0], np.float32))
    y.add_(ng.tensor([1e39, -1e39]))
    assert list(y.numpy()) == [np.inf, -np.inf]
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("change", [lambda x: x + 300, lambda x: x.add_(300),
                                    lambda x: x.__imul__(-200)])
def test_a_python_int_an_integer_tensor_cannot_hold_is_a_clear_error(change):
    """NumPy's raw OverflowError from deep inside the op was what the user got."""
    x = ng.tensor(np.array([1, 2], np.int8))
    with pytest.raises(ValueError, match=r"(add|mul): Python integer (300|-200) out of bounds "
                                         r"for int8; the tensor's dtype cannot hold it"):
        change(x)
    np.testing.assert_array_equal(x.numpy(), [1, 2])
