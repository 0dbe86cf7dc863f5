"""The autograd engine: graph recording, accumulation, freeing, grad modes, Tensor basics."""

import warnings

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.autograd import Function


def leaf(*shape, seed=0):
    return ng.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_fan_out_gradients_accumulate():
    x = leaf(3)
    y = x * x + x * 3 + ng.exp(x)           # x used four times
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 3 + np.exp(x.data), rtol=1e-15)


def test_diamond_graph_visits_each_node_once():
    calls = []

    class Counting(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1.0

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return g

    x = leaf(2)
    shared = Counting.apply(x)
    (shared * 2 + shared * 3).sum().backward()
    assert len(calls) == 1
    np.testing.assert_allclose(x.grad, [5.0, 5.0])


def test_grad_accumulates_across_backward_calls_until_zeroed():
    x = leaf(2)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, [5.0, 5.0])
    x.zero_grad()
    assert x.grad is None


def test_inputs_without_requires_grad_get_no_grad():
    x, c = leaf(2), ng.Tensor(np.ones(2))
    (x * c).sum().backward()
    assert c.grad is None and x.grad is not None


def test_long_chain_is_iterative_not_recursive():
    x = leaf(1)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0])


def test_topological_order_is_deterministic():
    def run():
        x = leaf(4, seed=1)
        y = ng.tanh(x) * ng.sigmoid(x) + x.exp().sum() * x
        y.backward(np.arange(4.0))
        return x.grad
    np.testing.assert_array_equal(run(), run())


def test_graph_is_freed_unless_retained():
    x = leaf(3)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)
    with pytest.raises(RuntimeError, match="already freed.*retain_graph=True"):
        y.backward()


def test_backward_on_non_scalar_needs_grad():
    y = leaf(2, 3) * 2
    with pytest.raises(RuntimeError, match=r"only for a scalar output.*shape \(2, 3\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\), expected .*\(2, 3\)"):
        y.backward(np.ones(3))
    y.backward(np.ones((2, 3)))


@pytest.mark.parametrize("grad", [np.array("b"), np.array(1 + 2j), np.array(None, object)])
def test_backward_refuses_a_grad_that_is_not_a_real_number(grad):
    t = ng.tensor(np.ones(()), requires_grad=True)
    with pytest.raises(TypeError, match=f"grad must be .* float64, got dtype {grad.dtype}"):
        (t * 2).backward(grad)
    assert t.grad is None


def test_backward_names_a_string_grad_by_its_dtype_before_its_shape():
    with pytest.raises(TypeError, match="grad must be .* float64, got dtype <U3"):
        (ng.Tensor(np.ones(3), requires_grad=True) * 2).backward("abc")


def test_backward_casts_a_real_grad_to_the_tensor_dtype():
    t = ng.tensor(np.ones(2), requires_grad=True)
    (t * 2).backward(np.array([1, 3], np.int32))
    assert t.grad.dtype == np.float64
    np.testing.assert_array_equal(t.grad, [2.0, 6.0])


def test_backward_narrows_a_wide_grad_to_inf_without_a_warning():
    t = ng.tensor(np.ones((), np.float32), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (t * 2).backward(np.array(1.79e308))
    assert t.grad.dtype == np.float32 and t.grad == np.inf


def test_backward_without_graph_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ng.Tensor(np.ones(2)).sum().backward()


def test_no_grad_records_nothing_and_nests():
    x = leaf(2)
    with ng.no_grad():
        y = x * 2
        with ng.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad
    assert ng.is_grad_enabled()

    @ng.no_grad()
    def infer(t):
        return t * 2
    assert not infer(x).requires_grad


def test_detach_cuts_the_graph_and_shares_data():
    x = leaf(2)
    d = x.detach()
    assert not d.requires_grad and d.data is x.data
    (x * d).sum().backward()
    np.testing.assert_allclose(x.grad, x.data)


def test_retain_grad_on_intermediate():
    x = leaf(3)
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data)
    np.testing.assert_allclose(x.grad, 4 * h.data)


def test_post_accumulate_grad_hook_runs_once_per_backward_on_the_whole_gradient():
    x, w = leaf(3), leaf(3, seed=1)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.copy()))
    ((x * w) + w * w).sum().backward()           # w reached along two edges
    np.testing.assert_allclose(seen[-1], x.data + 2 * w.data, rtol=1e-15)
    (x * w).sum().backward()                     # accumulates: the hook sees the sum
    np.testing.assert_allclose(seen[-1], 2 * x.data + 2 * w.data, rtol=1e-15)
    assert len(seen) == 2
    handle.remove()
    handle.remove()                              # again: nothing
    (x * w).sum().backward()
    assert len(seen) == 2


def test_post_accumulate_grad_hook_is_for_leaves_that_require_grad():
    x = leaf(2)
    with pytest.raises(RuntimeError, match="only a leaf tensor that requires grad"):
        (x * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="only a leaf tensor that requires grad"):
        ng.Tensor(np.ones(2)).register_post_accumulate_grad_hook(print)


def test_queued_callbacks_run_once_after_every_hook_with_the_root():
    from nongate_np.autograd import queue_callback
    a, b = leaf(2), leaf(2, seed=1)
    events = []

    def end(root):
        events.append(("end", float(root.item())))

    def hook(t):
        events.append(("hook", t is a))
        queue_callback(end)                      # by both hooks: runs once

    a.register_post_accumulate_grad_hook(hook)
    b.register_post_accumulate_grad_hook(hook)
    loss = (a * b).sum()
    loss.backward()
    assert sorted(events[:2]) == [("hook", False), ("hook", True)]
    assert events[2] == ("end", pytest.approx(float(loss.item())))
    assert len(events) == 3
    with pytest.raises(RuntimeError, match="no backward is running"):
        queue_callback(print)


def test_numpy_interop():
    x = leaf(3)
    y = np.ones(3) + x                   # ndarray on the left defers to Tensor
    assert isinstance(y, ng.Tensor) and y.requires_grad
    np.testing.assert_array_equal(np.asarray(x), x.data)
    assert x.numpy() is x.data
    assert (x > 0).dtype == np.bool_ and not (x > 0).requires_grad
    assert x.shape == (3,) and x.ndim == 1 and x.dtype == np.float64 and len(x) == 3


def test_data_is_writable():
    x = leaf(2)
    x.data[0] = 5.0
    assert x.data[0] == 5.0
    x.data = np.zeros(2)
    np.testing.assert_array_equal(x.numpy(), [0.0, 0.0])


@pytest.mark.parametrize("bad", ["abc", b"xy", np.array(["a", "b"]),
                                 np.array([object(), 1], dtype=object), [1, "a"]])
def test_strings_and_objects_are_refused(bad):
    with pytest.raises(TypeError):
        ng.Tensor(bad)


@pytest.mark.parametrize("bad, where", [
    ([[1.0, 2.0], [3.0]], r"item \[0\] has shape \(2,\) and item \[1\] \(1,\)"),
    ([[[1, 2], [3]]], r"item \[0\]\[0\] has shape \(2,\) and item \[0\]\[1\] \(1,\)"),
    ((np.ones((5, 1)), np.ones((3, 1))), r"item \[0\] has shape \(5, 1\) and item \[1\] "
                                         r"\(3, 1\)"),
])
def test_ragged_sequences_are_refused_with_a_pointer_to_padding(bad, where):
    with pytest.raises(ValueError, match=where + r"; sequences of different lengths must be "
                                                 r"padded .*pad_sequences"):
        ng.tensor(bad)


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating point and complex"):
        ng.Tensor(np.arange(3), requires_grad=True)


def test_item_assignment_is_refused_with_a_hint():
    with pytest.raises(TypeError, match="where\\(\\)"):
        leaf(2)[0] = 1.0


def test_backward_returning_wrong_shape_is_reported():
    class Bad(Function):
        @staticmethod
        def forward(ctx, a):
            return a.sum()

        @staticmethod
        def backward(ctx, g):
            return np.ones(7)

    with pytest.raises(RuntimeError, match=r"Bad.backward returned a gradient of shape "
                                           r"\(7,\) for argument 0"):
        Bad.apply(leaf(3)).backward()


def test_multi_output_function_gets_zeros_for_unused_outputs():
    class Split(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2, a * 3

        @staticmethod
        def backward(ctx, g1, g2):
            return 2 * g1 + 3 * g2

    x = leaf(2)
    first, _ = Split.apply(x)
    first.sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0])


def test_seed_makes_factories_reproducible():
    ng.seed(3)
    a = ng.randn(4).data
    ng.seed(3)
    np.testing.assert_array_equal(ng.randn(4).data, a)


def test_set_grad_enabled_as_a_call_and_as_a_context():
    x = leaf(2)
    ng.set_grad_enabled(False)
    assert not (x * 2).requires_grad
    ng.set_grad_enabled(True)
    assert (x * 2).requires_grad
    with ng.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad and ng.is_grad_enabled()


@pytest.mark.parametrize("value, dtype, match", [
    (-1.79e308, np.int64, r"1 value\(s\) cannot be converted to int64 without overflow "
                          r"\(the first: -1.79e\+308\)"),
    (np.inf, np.int64, r"to int64 without overflow \(the first: inf\)"),
    ([np.nan, 1.0], np.int32, r"to int32 without overflow \(the first: nan\)"),
    ([2.0 ** 63], np.int64, r"the first: 9.223372036854776e\+18"),
    ([0, 256], np.uint8, r"the first: 256\); uint8 holds the integers 0 to 255"),
    (-1, np.uint8, r"the first: -1\)"),
    (2 ** 70, None, r"the integer 1180591620717411303424 does not fit in 64 bits"),
])
def test_values_an_integer_dtype_cannot_hold_are_refused(value, dtype, match):
    """As torch.tensor: "value cannot be converted to type int64_t without overflow"; never
    NumPy's OverflowError or a garbage cast with a RuntimeWarning (issue 15, F6)."""
    with pytest.raises(ValueError, match=match):
        ng.tensor(value, dtype=dtype)


def test_integer_casts_at_the_edges_of_the_range_are_exact():
    assert ng.tensor([-2.0 ** 63, 2.0 ** 63 - 1024], dtype=np.int64).tolist() == \
        [-2 ** 63, 2 ** 63 - 1024]
    assert ng.tensor([255.9, -0.9], dtype=np.uint8).tolist() == [255, 0]   # truncation


def test_a_float_beyond_float32_is_inf_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = ng.tensor([-1.4e64, 1e39, 1.0], dtype=np.float32)
    assert t.dtype == np.float32 and t.tolist() == [-np.inf, np.inf, 1.0]


def test_bad_dtype_and_complex_to_real_are_type_errors():
    with pytest.raises(TypeError, match="unknown dtype 'foo'"):
        ng.tensor([1.0], dtype="foo")
    with pytest.raises(TypeError, match="complex values do not convert to float32"):
        ng.tensor([1 + 2j], dtype=np.float32)


def test_a_real_weights_gradient_through_complex_input_is_its_real_part_without_a_warning():
    """Complex input (a complex step) through a float64 Linear, backward with a complex
    cotangent: the weight's gradient is cast to its dtype, its real part, and NumPy's
    ComplexWarning leaked (found by the API fuzz's dev profile)."""
    lin = ng.nn.Linear(1, 1, dtype=np.float64)
    x, v = np.array([[0.5 + 0.25j]]), np.array([[0.9 + 0.1j]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lin(ng.tensor(x)).backward(v)
    assert lin.weight.grad.dtype == np.float64
    np.testing.assert_array_equal(lin.weight.grad, (v.T @ x).real)


def test_comparisons_name_the_shapes_and_refuse_complex_order():
    with pytest.raises(ValueError, match=r"less: shapes \(2, 3\) and \(3, 2, 2\) cannot be "
                                         r"broadcast"):
        _ = ng.tensor(np.ones((2, 3))) < ng.tensor(np.ones((3, 2, 2)))
    with pytest.raises(TypeError, match="less: complex numbers have no order"):
        _ = ng.tensor(np.array([[5468j]])) < ng.tensor(np.array([np.nan]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = ng.tensor(np.array([5468j, np.nan])) == ng.tensor(np.array([5468j, np.nan]))
    assert same.tolist() == [True, False]
    assert (ng.tensor([1.0]) == None) is False          # noqa: E711  (Python's answer)
    with pytest.raises(TypeError, match="'<' not supported"):
        _ = ng.tensor([1.0]) < "a"
    assert (ng.tensor([1.0, 2.0]) < np.array([2.0, 2.0])).tolist() == [True, False]


# -- in-place changes and the version counter ---------------------------------------------

def test_backward_after_an_optimizer_step_on_a_saved_input_raises():
    """loss2 saved w before the step; its backward would use the stepped w (a silently wrong
    gradient: 2·w_new instead of 2·w_old). An op that saves nothing of w (an addition) still
    backpropagates, as in PyTorch."""
    w = leaf(3)
    opt = ng.optim.SGD([w], lr=0.1)
    loss1, loss2, linear = (w * w).sum(), (w * w).sum(), (w + 1.0).sum()
    loss1.backward()
    opt.step()
    with pytest.raises(RuntimeError, match=r"'Mul' saved an array of shape \(3,\) for its "
                                           r"backward that was changed in place after the "
                                           r"forward pass"):
        loss2.backward()
    w.grad = None
    linear.backward()
    np.testing.assert_array_equal(w.grad, np.ones(3))


def test_load_state_dict_and_in_place_operators_move_the_version():
    model = ng.nn.Linear(3, 2).to(np.float64)
    x = ng.Tensor(np.ones((1, 3)), requires_grad=True)      # dx reads the weight
    loss = model(x).sum()
    model.load_state_dict(model.state_dict())
    with pytest.raises(RuntimeError, match=r"changed in place after the forward pass"):
        loss.backward()                          # through the transposed view of the weight
    constant = model(ng.Tensor(np.ones((1, 3)))).sum()      # dW reads x only, as in torch
    model.load_state_dict(model.state_dict())
    constant.backward()
    np.testing.assert_array_equal(model.weight.grad, np.ones((2, 3)))
    c = ng.Tensor(np.full(3, 2.0))               # a constant saved by Mul
    w = leaf(3)
    loss = (w * c).sum()
    c += 1.0
    with pytest.raises(RuntimeError, match=r"'Mul' saved an array of shape \(3,\)"):
        loss.backward()


def test_manual_sgd_under_no_grad_updates_the_parameter_in_place():
    """PyTorch's idiom `with no_grad(): w -= lr * w.grad` changes w itself: the same tensor,
    still a leaf requiring grad, at the values SGD computes (it made a new constant tensor,
    and a loop over model.parameters() trained nothing)."""
    model, reference = ng.nn.Linear(3, 2).to(np.float64), ng.nn.Linear(3, 2).to(np.float64)
    reference.load_state_dict(model.state_dict())
    opt = ng.optim.SGD(reference.parameters(), lr=0.1)
    x = ng.Tensor(np.random.default_rng(1).standard_normal((4, 3)))
    params = list(model.parameters())
    for _ in range(3):
        for m in (model, reference):
            m.zero_grad()
            (m(x) ** 2).sum().backward()
        with ng.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        opt.step()
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    assert all(p.requires_grad and p.is_leaf for p in model.parameters())
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-14)


def test_in_place_operators_follow_pytorchs_rules():
    w = leaf(3)
    with pytest.raises(RuntimeError, match=r"\+= on a leaf tensor that requires grad .*"
                                           r"no_grad\(\)"):
        w += 1.0
    h = w * 2.0
    h += w                                       # recorded: h is rebound, the gradient right
    h.sum().backward()
    np.testing.assert_array_equal(w.grad, np.full(3, 3.0))
    g = w * 2.0
    e = ng.exp(g)                                # saves its output, not g
    t = ng.tanh(g)                               # saves its output too
    with ng.no_grad():
        g -= 1.0                                 # in place, as torch: values change
    np.testing.assert_array_equal(g.data, 2.0 * w.data - 1.0)
    w.grad = None
    (e.sum() + t.sum()).backward()               # neither read g: the gradient stands
    np.testing.assert_allclose(w.grad, 2.0 * (np.exp(2.0 * w.data) +
                                               1 - np.tanh(2.0 * w.data) ** 2))
    x = ng.Tensor(np.zeros(3, np.float32))
    same = x
    x += np.float64(1.5)
    x *= 2
    x /= ng.Tensor(np.array([1.0, 2.0, 3.0]))
    assert x is same and x.dtype == np.float32
    np.testing.assert_array_equal(x.data, np.float32([3.0, 1.5, 1.0]))
    with pytest.raises(ValueError, match=r"result has shape \(2, 3\), the tensor \(3,\)"):
        x += np.ones((2, 3))
    i = ng.Tensor(np.arange(3))
    with pytest.raises(TypeError, match=r"dtype float64 cannot be cast to the tensor's int64"):
        i += 0.5


def test_an_integer_output_has_no_gradient():
    """A cast to int64 (truncation: piecewise constant) carried the graph, so x got
    gradient 1 through it; as in torch it is a constant now."""
    x = leaf(3)
    k = ng.cast(x, np.int64)
    assert not k.requires_grad and k.grad_fn is None
    w = leaf(3, seed=1)
    (k * w + x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones(3))          # through "+ x" only
    np.testing.assert_array_equal(w.grad, k.data)


def test_a_custom_op_returning_a_list_or_a_string_is_told_what_to_return():
    class TwoAsList(Function):
        @staticmethod
        def forward(ctx, a):
            return [a * 2, a * 3]

    class Text(Function):
        @staticmethod
        def forward(ctx, a):
            return "abcd"

    class GradAsList(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, dy):
            return [dy]
    x = leaf(3)
    with pytest.raises(TypeError, match=r"TwoAsList.forward returned a list; return one "
                                        r"array, or a tuple of arrays for several outputs"):
        TwoAsList.apply(x)
    with pytest.raises(TypeError, match=r"Text.forward returned str \(as an array, dtype "
                                        r"<U4\); expected an ndarray of numbers"):
        Text.apply(x)
    with pytest.raises(TypeError, match=r"GradAsList.backward returned a list; return a tuple"):
        GradAsList.apply(x).sum().backward()


def test_grad_mode_decorators_restore_the_mode_after_every_call():
    """A recursive no_grad function, two functions sharing one no_grad object, and
    set_grad_enabled(False) as a decorator left gradients off for the rest of the program
    (the later graphs were not recorded); now each call restores the mode, as in torch."""
    @ng.no_grad()
    def depth(n):
        return ng.is_grad_enabled() if n == 0 else depth(n - 1)
    assert depth(3) is False and ng.is_grad_enabled()
    shared = ng.no_grad()
    inner = shared(lambda: ng.is_grad_enabled())
    outer = shared(lambda: inner())
    assert outer() is False and ng.is_grad_enabled()

    @ng.set_grad_enabled(False)
    def off():
        return ng.is_grad_enabled()
    assert ng.is_grad_enabled()                  # decorating changes nothing
    assert off() is False and ng.is_grad_enabled()
    with shared:
        with shared:
            assert not ng.is_grad_enabled()
        assert not ng.is_grad_enabled()
    assert ng.is_grad_enabled()
    x = leaf(2)
    assert (x * 2).requires_grad                 # graphs are recorded again


@pytest.mark.torch
def test_mixed_dtypes_promote_as_pytorch():
    """NumPy widens float32 beside an int64 array, a 0-d float64 array or a NumPy float64
    scalar (NEP 50) to float64; torch keeps float32, and so does the engine now (attention
    scores divided by np.sqrt(d) stayed float32 in torch, became float64 here)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    cases = [(np.float32, (3,), np.float64, ()), (np.float32, (3,), np.int64, (3,)),
             (np.int32, (3,), np.float64, ()), (np.float32, (3,), np.complex128, ()),
             (np.float64, (3,), np.complex64, (3,)), (np.int32, (3,), np.int64, ()),
             (np.bool_, (3,), np.int64, ()), (np.float32, (), np.int64, (3,)),
             (np.float32, (3,), np.float64, (3,)), (np.float64, (), np.float32, (2, 3))]
    for ta, sa, tb, sb in cases:
        a = (rng.standard_normal(sa) * 3).astype(ta)
        b = (rng.standard_normal(sb) * 3 + 1).astype(tb)
        for op in ("add", "mul", "sub"):
            if np.bool_ in (ta, tb) and op == "sub":
                continue                         # torch refuses a bool subtraction
            ours = getattr(ng, op)(ng.Tensor(a), ng.Tensor(b))
            theirs = getattr(torch, op)(torch.from_numpy(np.asarray(a)),
                                        torch.from_numpy(np.asarray(b)))
            assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch."), (op, ta, tb)
            np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)
    q = ng.Tensor(np.ones((2, 8), np.float32), requires_grad=True)
    scores = (q @ q.T) / np.sqrt(8)              # a NumPy float64 scalar
    assert scores.dtype == np.float32
    scores.sum().backward()
    assert q.grad.dtype == np.float32
    c = ng.Tensor(np.float64(2.0), requires_grad=True)    # a 0-d float64 parameter
    (q * c).sum().backward()
    assert c.grad.dtype == np.float64 and c.grad == pytest.approx(16.0)


def test_retain_grad_on_the_tensor_backward_starts_from():
    """loss.retain_grad(); loss.backward() left loss.grad None (torch: 1), as did a non-leaf
    given its own gradient."""
    x = leaf(3)
    loss = (x * x).sum()
    loss.retain_grad()
    loss.backward()
    assert loss.grad == 1.0
    h = x * 2.0
    h.retain_grad()
    g = np.array([1.0, -2.0, 0.5])
    h.backward(g)
    np.testing.assert_array_equal(h.grad, g)


def test_permute_refuses_a_dim_out_of_range_as_torch():
    """Dims were taken modulo ndim: permute(1, 3, 2) on 3 axes gave shape (3, 2, 4) and
    (0, 1, 5) the tensor unchanged."""
    x = leaf(2, 3, 4)
    for dims, bad in (((1, 3, 2), 3), ((0, 1, 5), 5), ((1, -4, 2), -4)):
        with pytest.raises(ValueError, match=rf"permute: dim {bad} is out of range for a "
                                             rf"tensor of shape \(2, 3, 4\) \(expected one in "
                                             rf"\[-3, 2\]\)"):
            ng.permute(x, dims)
    with pytest.raises(ValueError, match=r"dims \(1, 1, 2\) is not a permutation"):
        ng.permute(x, (1, 1, 2))
    with pytest.raises(TypeError, match=r"dims must be a sequence of 3 ints, got int 0"):
        ng.permute(x, 0)
    assert ng.permute(x, (-1, 0, 1)).shape == (4, 2, 3)


def test_no_grad_without_parentheses_decorates_and_a_mode_argument_is_refused():
    """@no_grad (torch accepts it) built no_grad(mode=func) and the call returned a function;
    no_grad(True) switched gradients on; a set_grad_enabled object entered twice raised
    IndexError."""
    @ng.no_grad
    def inside():
        return ng.is_grad_enabled()
    assert inside() is False and ng.is_grad_enabled()
    with pytest.raises(TypeError, match=r"no_grad\(\) takes no arguments"):
        ng.no_grad(True)
    off = ng.set_grad_enabled(False)
    with off:
        pass
    with off:
        assert not ng.is_grad_enabled()
    assert ng.is_grad_enabled()


def test_one_no_grad_object_entered_on_two_threads_restores_each_threads_mode():
    import threading
    shared, ready, release = ng.no_grad(), threading.Barrier(2), threading.Event()
    seen = {}

    def worker(name, start):
        ng.set_grad_enabled(start)
        with shared:
            ready.wait(10)
            release.wait(10)
        seen[name] = ng.is_grad_enabled()
    threads = [threading.Thread(target=worker, args=(n, m)) for n, m in (("a", True),
                                                                         ("b", False))]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join()
    assert seen == {"a": True, "b": False}


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_a_fused_kernels_weights_changed_after_its_forward_are_named(backend):
    """The LSTM and attention keep their weights inside the kernel's cache (a named tuple,
    a dataclass): an optimizer step before their backward gave x a gradient off by 0.1
    without a word."""
    with ng.backend(backend):
        for module in (ng.nn.LSTM(3, 2), ng.nn.AttentionPooling(3, 2)):
            module = module.to(np.float64)
            x = ng.Tensor(np.random.default_rng(0).standard_normal((2, 4, 3)),
                          requires_grad=True)
            out = module(x)[0]
            for p in module.parameters():
                p.grad = np.ones(p.shape)
            ng.optim.SGD(module.parameters(), lr=0.5).step()
            with pytest.raises(RuntimeError, match=r"saved an array of shape .* changed in "
                                                   r"place after the forward pass"):
                out.sum().backward()


def test_mark_changed_takes_a_tensor_and_refuses_anything_else():
    w = leaf(3)
    loss = (w * w).sum()
    ng.autograd.mark_changed(w)                  # the Tensor, not its .data
    with pytest.raises(RuntimeError, match="changed in place"):
        loss.backward()
    with pytest.raises(TypeError, match=r"mark_changed: expected an array or a Tensor, got "
                                        r"int"):
        ng.autograd.mark_changed(3)


@pytest.mark.torch
def test_a_recorded_in_place_op_changes_the_tensor_itself_as_torch():
    """h += b on a tensor in the graph rebound the name: a helper updating its argument
    changed nothing, an alias kept the old value, and the gradient was that of h without
    the update. h now takes the result's place; nodes recorded before read the old h."""
    torch = pytest.importorskip("torch")
    a0 = np.array([1.0, -2.0, 0.5])

    def add_bias_(t, b):
        t += b

    def run(lib):
        w = lib.tensor(a0, requires_grad=True)
        h = w * 2
        alias = h
        before = h * 3                           # recorded before: reads the old h
        add_bias_(h, 1.0)
        h.retain_grad()
        ((h * h).sum() + before.sum()).backward()
        values = h.detach().numpy() if lib is torch else h.numpy()
        return alias is h, np.asarray(values), np.asarray(w.grad), np.asarray(h.grad)
    ours, theirs = run(ng), run(torch)
    assert ours[0] and theirs[0]
    for got, want in zip(ours[1:], theirs[1:]):
        np.testing.assert_allclose(got, want, rtol=1e-15)


def test_a_recorded_in_place_op_keeps_the_tensors_dtype_and_shape():
    w32 = ng.Tensor(np.ones(3, np.float32), requires_grad=True)
    h = w32 * 2
    h += ng.Tensor(np.ones(3), requires_grad=True)           # float64: cast back, recorded
    assert h.dtype == np.float32 and h.requires_grad
    h.sum().backward()
    np.testing.assert_array_equal(w32.grad, np.full(3, 2.0, np.float32))
    g = w32 * 1
    with pytest.raises(ValueError, match=r"result has shape \(2, 3\), the tensor \(3,\)"):
        g += ng.Tensor(np.ones((2, 3), np.float32))
    ids = ng.Tensor(np.arange(3))
    with pytest.raises(TypeError, match=r"dtype float32 cannot be cast to the tensor's int64"):
        ids += w32


def test_item_assignment_outside_the_graph_writes_in_place():
    """W[0] -= 10 under no_grad changed W, then raised TypeError from __setitem__; x[1] += 5
    on a plain tensor raised too. Both are PyTorch idioms."""
    W = ng.Tensor(np.zeros((2, 2)), requires_grad=True)
    loss = (W * W).sum()                         # Mul saved W
    with ng.no_grad():
        W[0] -= 10
    np.testing.assert_array_equal(W.data, [[-10.0, -10.0], [0.0, 0.0]])
    with pytest.raises(RuntimeError, match="changed in place"):
        loss.backward()
    x = ng.Tensor(np.zeros(3))
    x[1] += 5
    x[x.data > 4] = 7.0
    x[ng.Tensor(np.array([0]))] = np.float64(2.0)
    np.testing.assert_array_equal(x.data, [2.0, 7.0, 0.0])
    with pytest.raises(TypeError, match=r"item assignment is not recorded in the graph"):
        W[1] = 1.0
    with pytest.raises(IndexError, match=r"Tensor item assignment: index 5 is out of bounds"):
        x[5] = 1.0


def test_an_op_saves_only_the_operands_its_gradients_read():
    """w·x with a constant x, and x @ W.T with a constant x, saved w and W too, so a step
    between two backwards through them raised where PyTorch computes the gradient."""
    w = leaf(3)
    x = ng.Tensor(np.array([1.0, 2.0, 3.0]))
    y = (x * w).sum()
    with ng.no_grad():
        w -= 1.0
    y.backward()
    np.testing.assert_array_equal(w.grad, x.data)
    W = leaf(2, 3, seed=1)
    X = ng.Tensor(np.random.default_rng(2).standard_normal((4, 3)))
    pred = X @ W.T
    first, second = (pred ** 2).sum(), pred.sum()
    first.backward(retain_graph=True)
    ng.optim.SGD([W], lr=0.1).step()
    W.grad = None
    second.backward()
    np.testing.assert_allclose(W.grad, np.tile(X.data.sum(0), (2, 1)))


@pytest.mark.torch
def test_where_concat_stack_and_mse_promote_and_matmul_refuses_mixed_dtypes_as_pytorch():
    """where(mask, float32 scores, ng.tensor(-1e9)) gave float64, as did concat of float32
    and int64 and mse_loss against an int64 target (a float32 Linear then refused the
    result); float32 @ float64 gave float64 where torch raises."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    f32 = rng.standard_normal((2, 3)).astype(np.float32)
    i64 = rng.integers(0, 5, (2, 3))
    mask = f32 > 0
    cases = [
        (lambda m: m.where(ng.Tensor(mask), ng.Tensor(f32), ng.Tensor(np.float64(-1e9))),
         lambda t: t.where(torch.from_numpy(mask), torch.from_numpy(f32),
                           torch.tensor(-1e9, dtype=torch.float64))),
        (lambda m: m.where(ng.Tensor(mask), ng.Tensor(f32), ng.Tensor(i64)),
         lambda t: t.where(torch.from_numpy(mask), torch.from_numpy(f32),
                           torch.from_numpy(i64))),
        (lambda m: m.concat([ng.Tensor(f32), ng.Tensor(i64)]),
         lambda t: t.cat([torch.from_numpy(f32), torch.from_numpy(i64)])),
        (lambda m: m.stack([ng.Tensor(i64), ng.Tensor(f32)]),
         lambda t: t.stack([torch.from_numpy(i64), torch.from_numpy(f32)])),
        (lambda m: m.mse_loss(ng.Tensor(f32), ng.Tensor(i64)),
         lambda t: t.nn.functional.mse_loss(torch.from_numpy(f32), torch.from_numpy(i64))),
    ]
    for ours, theirs in cases:
        got, want = ours(ng), theirs(torch)
        assert str(got.dtype) == str(want.dtype).removeprefix("torch."), (got.dtype, want.dtype)
        np.testing.assert_allclose(got.data, want.numpy(), rtol=1e-6)
    x = ng.Tensor(f32, requires_grad=True)
    ng.concat([x, ng.Tensor(i64)]).sum().backward()
    assert x.grad.dtype == np.float32
    with pytest.raises(TypeError, match=r"matmul: a is float32 and b is float64"):
        ng.Tensor(f32) @ ng.Tensor(f32.T.astype(np.float64))
    assert (ng.Tensor(f32.astype(np.complex64)) @ ng.Tensor(f32.T)).dtype == np.complex64


def test_a_decorated_generator_runs_in_the_mode_at_each_resumption():
    """@no_grad on a generator function set the mode only for the call, which returns the
    generator at once: its body ran with gradients on."""
    w = leaf(2)

    @ng.no_grad()
    def batches():
        for _ in range(2):
            yield (w * 2).requires_grad, ng.is_grad_enabled()
        return "done"
    gen = batches()
    assert next(gen) == (False, False) and ng.is_grad_enabled()   # the caller's mode between
    assert next(gen) == (False, False)
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "done"

    @ng.enable_grad
    def recorded():
        received = yield (w * 2).requires_grad
        yield received
    with ng.no_grad():
        gen = recorded()
        assert next(gen) is True and gen.send("sent") == "sent"


def test_view_refuses_a_layout_it_cannot_view_and_to_returns_self_where_nothing_changes():
    """x.T.view(-1) copied, so an in-place change to it did not reach x (torch raises);
    .float() on a float32 tensor returned a copy (torch returns the tensor)."""
    x = ng.Tensor(np.arange(6.0).reshape(2, 3))
    v = x.view(3, 2)
    with ng.no_grad():
        v += 1.0
    np.testing.assert_array_equal(x.data, np.arange(6.0).reshape(2, 3) + 1)
    with pytest.raises(ValueError, match=r"view: a tensor of shape \(3, 2\) .* cannot be "
                                         r"viewed as shape \(6,\) without a copy"):
        x.T.view(-1)
    f = ng.Tensor(np.ones(2, np.float32))
    assert f.float() is f and f.to(np.float32) is f and f.to("cpu") is f
    assert f.double() is not f and f.double().dtype == np.float64


def test_adam_state_follows_its_parameters_dtype():
    """After model.double() the moments stayed float32 beside float64 weights (torch
    raises); they follow the parameter now, as they follow its device."""
    model = ng.nn.Linear(3, 2)                   # float32
    opt = ng.optim.Adam(model.parameters(), lr=0.1)
    x = ng.Tensor(np.ones((4, 3), np.float32))
    model(x).sum().backward()
    opt.step()
    model.double()
    opt.zero_grad()
    model(ng.Tensor(np.ones((4, 3)))).sum().backward()
    opt.step()
    assert all(v.dtype == np.float64 for state in opt.state.values() for v in state.values()
               if isinstance(v, np.ndarray) and v.ndim)


def test_in_place_writes_through_views_outside_the_graph_and_refuses_them_inside():
    """A recorded op on a view (h.T *= 2) gave the view a new array: h kept its values and
    its graph missed the change (x.grad 1 where torch gives 2). Outside the graph the view
    writes through, as in torch; inside, it is refused."""
    x = leaf(2, 3)
    h = x * 1.0
    with pytest.raises(RuntimeError, match=r"\*= on a view of another tensor's array .* "
                                           r"clone\(\) first"):
        t = h.T
        t *= 2.0
    with ng.no_grad():
        row = h[0]
        row += 100.0
    np.testing.assert_array_equal(h.data[0], x.data[0] + 100.0)


@pytest.mark.torch
def test_in_place_ops_raise_where_pytorchs_version_counter_does():
    """h = tanh(x); h += 1: tanh saved its output, now changed, so the backward raises as
    torch's does; h = a / b; h += 1 under no_grad does not (Div saves its operands, as
    torch's), and gives torch's gradient."""
    torch = pytest.importorskip("torch")
    x = leaf(3)
    h = ng.tanh(x)
    h += 1.0
    with pytest.raises(RuntimeError, match=r"'Tanh' saved an array of shape \(3,\)"):
        h.sum().backward()
    th = torch.tanh(torch.tensor(x.data, requires_grad=True))
    th += 1.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        th.sum().backward()
    a, b = leaf(4), ng.Tensor(np.arange(2.0, 6.0), requires_grad=True)
    q = a / b
    with ng.no_grad():
        q += 1.0
    q.sum().backward()
    tb = torch.tensor(np.arange(2.0, 6.0), requires_grad=True)
    tq = torch.tensor(a.data) / tb
    with torch.no_grad():
        tq += 1.0
    tq.sum().backward()
    np.testing.assert_allclose(b.grad, tb.grad.numpy(), rtol=1e-15)


def test_a_graph_is_freed_by_its_backward_without_the_cycle_collector():
    """A backward frees each node's inputs with its context: an intermediate the caller
    no longer holds goes at once, though the loss (and its node) lives on; and h += b
    leaves no reference cycle (h, its new node, the node reading its old value), whose
    arrays waited for gc (29 of 60 steps' alive, 130 MiB against 23)."""
    import gc
    import weakref
    x = leaf(1000)
    gc.disable()
    try:
        inner = ng.tanh(x * 2.0)
        loss = (inner * 3.0).sum()
        alive = weakref.ref(inner)
        del inner
        loss.backward()
        assert alive() is None and loss.grad_fn is not None
        h = x * 2.0
        h += x
        alive = weakref.ref(h.data)
        h.sum().backward()
        del h
        assert alive() is None
    finally:
        gc.enable()


def test_grad_mode_objects_nest_copy_and_unpickle():
    import copy
    import pickle
    off = ng.set_grad_enabled(False)
    with off:
        with off:
            assert not ng.is_grad_enabled()
        assert not ng.is_grad_enabled()
    assert ng.is_grad_enabled()
    for clone in (copy.deepcopy(ng.no_grad()), pickle.loads(pickle.dumps(ng.no_grad()))):
        with clone:
            assert not ng.is_grad_enabled()
        assert ng.is_grad_enabled()


def test_a_tensor_pickled_before_rebase_existed_unpickles():
    t = ng.Tensor.__new__(ng.Tensor)
    t.__setstate__((None, {"_data": np.ones(2), "grad": None, "_requires_grad": True,
                           "_node": None, "_index": 0, "_retains_grad": False,
                           "_hooks": None}))
    (t * 2).sum().backward()
    np.testing.assert_array_equal(t.grad, [2.0, 2.0])


@pytest.mark.torch
def test_truth_value_of_a_tensor_is_that_of_one_element_as_torch():
    """``if x > 0:`` on several elements is torch's RuntimeError naming .any()/.all() (it
    let NumPy's ValueError through); one element, of any shape, is its truth."""
    torch = pytest.importorskip("torch")
    for values in ([2.0], [[0.0]], 3.0, 0.0):
        assert bool(ng.tensor(values) > 1) == bool(torch.tensor(values) > 1), values
    for values in ([1.0, 2.0], [], [[1.0], [2.0]]):
        with pytest.raises(RuntimeError) as theirs:
            bool(torch.tensor(values) > 0)
        with pytest.raises(RuntimeError, match=r"Boolean value of a Tensor with \d+ elements "
                                               r"\(shape .*\) is ambiguous: use .any\(\) or "
                                               r"\.all\(\)"):
            bool(ng.tensor(values) > 0)
        assert "ambiguous" in str(theirs.value)


@pytest.mark.torch
def test_format_of_a_0d_tensor_is_that_of_its_item_as_torch():
    """f"{loss:.3f}" on a 0-d tensor (a loss, clip_grad_norm_'s norm) raised "unsupported
    format string"; torch formats item(), and any other tensor as object.__format__ (an
    empty spec: str(t), any other a TypeError)."""
    torch = pytest.importorskip("torch")
    for value, spec in ((1.23456, ".3f"), (1.23456, ""), (1.23456, "e"), (5, "d"), (5, ">4"),
                        (True, "")):
        ours = ng.tensor(value)
        assert format(ours, spec) == format(torch.tensor(ours.numpy()), spec), (value, spec)
    t = ng.tensor([1.0, 2.0])
    assert f"{t}" == str(t)
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{t:.3f}"
