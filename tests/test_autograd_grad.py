"""``ng.autograd.grad``, torch's ``torch.autograd.grad``: the gradients of outputs with
respect to inputs returned, not added to ``.grad``; against torch's, against backward's,
and what it leaves alone (other leaves' ``.grad``, the nodes off the path)."""

from __future__ import annotations

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.autograd import Function


def _graph(xp):
    """h = tanh(x @ w), y = Σ h² + Σ b·h[0], for ng (xp=ng) or torch (xp=torch)."""
    rng = np.random.default_rng(0)
    arrays = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    x, w, b = (xp.tensor(a, requires_grad=True) for a in arrays)
    h = xp.tanh(x @ w)
    y = (h * h).sum() + (b * h[0]).sum()
    return x, w, b, h, y


def _numpy(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.torch
def test_gradients_of_leaves_and_of_an_intermediate_equal_torchs():
    import torch
    x, w, b, h, y = _graph(ng)
    tx, tw, tb, th, ty = _graph(torch)
    ours = ng.autograd.grad(y, [x, h, b], retain_graph=True)
    theirs = torch.autograd.grad(ty, [tx, th, tb], retain_graph=True)
    for a, e in zip(ours, theirs):
        assert isinstance(a, ng.Tensor) and not a.requires_grad
        np.testing.assert_allclose(a.numpy(), e.numpy(), rtol=1e-13, atol=1e-15)
    v = np.random.default_rng(1).standard_normal((3, 2))
    ours = ng.autograd.grad([h, y], (w,), [v, None])
    theirs = torch.autograd.grad([th, ty], (tw,), [torch.tensor(v), None])
    np.testing.assert_allclose(ours[0].numpy(), theirs[0].numpy(), rtol=1e-13, atol=1e-15)


def test_grad_equals_backward_and_touches_no_grad():
    """The returned gradients are backward's .grad, and after grad() every .grad is still
    None (torch's grad accumulates nothing)."""
    x, w, b, _, y = _graph(ng)
    gx, gw = ng.autograd.grad(y, [x, w], retain_graph=True)
    assert x.grad is None and w.grad is None and b.grad is None
    y.backward()
    np.testing.assert_array_equal(gx.numpy(), x.grad)
    np.testing.assert_array_equal(gw.numpy(), w.grad)


def test_only_the_nodes_on_a_path_to_an_input_run_their_backward():
    """x feeds the output through `Exploding`, whose backward raises; the gradient asked
    for, of w, does not need it, so it never runs (backward() would run it)."""
    class Exploding(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, dy):
            raise AssertionError("a node off the path ran its backward")

    x = ng.tensor(np.ones(3), requires_grad=True)
    w = ng.tensor(np.arange(3.0), requires_grad=True)
    y = (Exploding.apply(x) * w).sum()
    (gw,) = ng.autograd.grad(y, w, retain_graph=True)
    np.testing.assert_array_equal(gw.numpy(), 2 * np.ones(3))
    with pytest.raises(AssertionError, match="off the path"):
        y.backward()


@pytest.mark.torch
def test_hooks_and_retain_grad_as_torchs():
    """A hook on an intermediate changes what flows on, not that intermediate's own
    returned gradient; a leaf input's hook changes its returned gradient; a tensor that
    retains its gradient gets its .grad; all as torch's."""
    import torch
    results = []
    for xp, grad in ((ng, ng.autograd.grad), (torch, torch.autograd.grad)):
        x, w, b, h, y = _graph(xp)
        h.retain_grad()
        h.register_hook(lambda g: g * 3)
        x.register_hook(lambda g: g * 10)
        gx, gh = grad(y, [x, h])
        results.append([_numpy(gx), _numpy(gh), _numpy(h.grad)])
    for a, e in zip(*results):
        np.testing.assert_allclose(a, e, rtol=1e-13, atol=1e-15)


def test_unused_inputs_and_materialize_grads():
    x, w, _, _, y = _graph(ng)
    u = ng.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"input 1 was not used to compute the outputs; "
                                           r"pass allow_unused=True"):
        ng.autograd.grad(y, [x, u], retain_graph=True)
    assert ng.autograd.grad(y, [u, x], retain_graph=True, allow_unused=True)[0] is None
    zeros = ng.autograd.grad(y, [u], materialize_grads=True)[0]
    np.testing.assert_array_equal(zeros.numpy(), np.zeros(2))


def test_a_leaf_output_and_a_freed_graph():
    x = ng.tensor(np.ones((2, 2)), requires_grad=True)
    (g,) = ng.autograd.grad(x, x, np.full((2, 2), 3.0))
    np.testing.assert_array_equal(g.numpy(), np.full((2, 2), 3.0))
    y = (x * x).sum()
    ng.autograd.grad(y, x)                               # frees the graph, as torch's
    with pytest.raises(RuntimeError, match="already freed"):
        ng.autograd.grad(y, x)


def test_errors_say_what_was_expected():
    x, w, _, h, y = _graph(ng)
    c = ng.tensor(np.ones(2))
    with pytest.raises(RuntimeError, match="output 0 does not require grad"):
        ng.autograd.grad(c * 2, x)
    with pytest.raises(RuntimeError, match="input 0 does not require grad"):
        ng.autograd.grad(y, c, retain_graph=True)
    with pytest.raises(RuntimeError, match=r"grad can be implicitly created only for a scalar "
                                           r"output.*grad_outputs\[0\]="):
        ng.autograd.grad(h, x, retain_graph=True)
    with pytest.raises(ValueError, match=r"grad_outputs\[0\] has shape \(2,\), expected the "
                                         r"tensor's shape \(3, 2\)"):
        ng.autograd.grad(h, x, np.ones(2), retain_graph=True)
    with pytest.raises(ValueError, match="1 grad_outputs for 2 outputs"):
        ng.autograd.grad([h, y], x, [np.ones((3, 2))], retain_graph=True)
    with pytest.raises(TypeError, match="inputs must be a Tensor or a non-empty sequence"):
        ng.autograd.grad(y, [], retain_graph=True)
    with pytest.raises(NotImplementedError, match="create_graph=True is not supported"):
        ng.autograd.grad(y, x, create_graph=True)
    with pytest.raises(NotImplementedError, match="is_grads_batched"):
        ng.autograd.grad(y, x, is_grads_batched=True)
