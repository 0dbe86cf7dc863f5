"""Tensor.register_hook against torch's: what the hooks receive, what their results do to the
leaves' gradients, order, removal, errors, reuse of a tensor, retain_graph and accumulation."""

import copy
import pickle
import warnings

import numpy as np
import pytest

import nongate_np as ng

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

X0 = np.array([0.3, -1.2, 0.7])
W0 = np.array([1.5, 0.4, -0.8])
LIBS = [ng, torch]


def values(g):
    """A gradient (a hook's argument, a ``.grad``; ours or torch's) as a fresh ndarray."""
    return np.array(g if isinstance(g, np.ndarray) else g.detach().numpy())


def program(lib):
    """Leaves x, w; h = tanh(x·w) used twice and x used twice, so each of their gradients is
    a sum over two uses; the loss is a scalar."""
    x = lib.tensor(X0, requires_grad=True)
    w = lib.tensor(W0, requires_grad=True)
    h = lib.tanh(x * w)
    loss = (h * h + h * x).sum()
    return {"x": x, "w": w, "h": h, "loss": loss}


def recorder(seen, name):
    def hook(g):
        seen.setdefault(name, []).append(values(g))
    return hook


def assert_same(ours, theirs, what):
    assert ours.keys() == theirs.keys(), what
    for name in ours:
        assert len(ours[name]) == len(theirs[name]), f"{what}: calls of {name}'s hook"
        for k, (a, b) in enumerate(zip(ours[name], theirs[name])):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15,
                                       err_msg=f"{what}: {name}, call {k}")


def leaf_grads(t):
    return {"x": [values(t["x"].grad)], "w": [values(t["w"].grad)]}


@pytest.mark.parametrize("scaled", [("x",), ("h",), ("w", "h"), ("loss",), ("x", "h", "loss")])
def test_a_returned_gradient_replaces_it_as_torch(scaled):
    factors = {"x": 3.0, "w": -0.5, "h": 2.0, "loss": 4.0}
    results = []
    for lib in LIBS:
        t = program(lib)
        for name in scaled:
            t[name].register_hook(lambda g, f=factors[name]: g * f)
        t["loss"].backward()
        results.append(leaf_grads(t))
    assert_same(*results, f"leaf gradients with {scaled} scaled")
    plain = program(ng)
    plain["loss"].backward()
    assert not np.allclose(results[0]["x"][0], plain["x"].grad)     # the hooks did something


def test_a_hook_returning_none_observes_torchs_gradients_once_each():
    """x and h are each used twice: their hooks are called once, with the sum."""
    seen: list[dict] = []
    for lib in LIBS:
        t, got = program(lib), {}
        for name in ("x", "w", "h", "loss"):
            t[name].register_hook(recorder(got, name))
        t["loss"].backward()
        seen.append(got)
        assert_same(got, {**leaf_grads(t), "h": got["h"], "loss": [np.ones(())]},
                    "observed vs .grad")
    assert_same(*seen, "what the hooks received")


def test_hooks_run_in_registration_order_each_on_the_last_result():
    events: list[list] = []
    results = []
    for lib in LIBS:
        t, log = program(lib), []
        for name in ("h", "x"):
            t[name].register_hook(lambda g, n=name: log.append((n, 1)) or g * 2)
            t[name].register_hook(lambda g, n=name: log.append((n, 2)) or g + 1)
        t["loss"].backward()
        events.append(log)
        results.append(leaf_grads(t))
    assert_same(*results, "(g*2)+1 on h and x")
    for log in events:
        assert [e for e in log if e[0] == "h"] == [("h", 1), ("h", 2)]
        assert [e for e in log if e[0] == "x"] == [("x", 1), ("x", 2)]


def test_a_removed_hook_is_not_called():
    results, counts = [], []
    for lib in LIBS:
        t, got = program(lib), {}
        for name in ("x", "h"):
            first = t[name].register_hook(lambda g: g * 3)
            t[name].register_hook(recorder(got, name))
            first.remove()
            first.remove()                       # again: nothing
        t["loss"].backward()
        results.append(leaf_grads(t))
        counts.append(got)
    assert_same(*results, "after removal")
    assert_same(*counts, "the remaining hook")
    plain = program(ng)
    plain["loss"].backward()
    np.testing.assert_allclose(results[0]["x"][0], plain["x"].grad, rtol=1e-15)


def test_registering_on_a_tensor_without_grad_is_torchs_runtime_error():
    for lib in LIBS:
        for t in (lib.tensor(X0), lib.tensor(X0, requires_grad=True).detach()):
            with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that "
                                                   "doesn't require gradient"):
                t.register_hook(lambda g: g)


@pytest.mark.parametrize("name", ["x", "h"])
def test_a_result_of_another_shape_dtype_or_type_raises_as_torch(name):
    bad = {"shape": (RuntimeError, lambda g: g[:1],
                     r"returned a gradient of shape \(1,\) for a tensor of shape \(3,\)"),
           "dtype": (RuntimeError, lambda g: g.float(),
                     r"returned a gradient of dtype float32 for a tensor of dtype float64"),
           "type": (TypeError, lambda g: 5, r"hook '<lambda>' returned int; expected")}
    for error, hook, message in bad.values():
        for lib in LIBS:
            t = program(lib)
            t[name].register_hook(hook)
            with pytest.raises(error, match=message if lib is ng else None):
                t["loss"].backward()


def test_retain_graph_calls_the_hooks_in_each_backward_as_torch():
    results, seen = [], []
    for lib in LIBS:
        t, got = program(lib), {}
        for name in ("x", "h"):
            t[name].register_hook(lambda g: g * 3)
            t[name].register_hook(recorder(got, name))
        t["loss"].backward(retain_graph=True)
        t["loss"].backward()
        results.append(leaf_grads(t))
        seen.append(got)
    assert len(seen[0]["x"]) == len(seen[0]["h"]) == 2
    assert_same(*results, "two backwards through one graph")
    assert_same(*seen, "what the hooks received")


def test_a_leaf_hook_gets_each_backwards_gradient_and_grad_accumulates_its_results():
    results, seen = [], []
    for lib in LIBS:
        t, got = program(lib), {}
        t["x"].register_hook(recorder(got, "x"))
        t["x"].register_hook(lambda g: g * 3)
        t["loss"].backward()
        (t["x"] * t["x"]).sum().backward()
        t["x"].backward(lib.tensor([1.0, 2.0, 3.0]))    # on the leaf itself: the seed
        results.append(leaf_grads(t))
        seen.append(got)
    assert_same(*seen, "the hook sees this backward's gradient, not .grad")
    np.testing.assert_allclose(seen[0]["x"][2], [1.0, 2.0, 3.0])
    assert_same(*results, ".grad after three backwards")


def test_retained_grad_is_what_the_hooks_returned_as_torch():
    results = []
    for lib in LIBS:
        t = program(lib)
        for name in ("h", "loss"):
            t[name].retain_grad()
            t[name].register_hook(lambda g: g * 10)
        t["loss"].backward()
        results.append({**leaf_grads(t), "h": [values(t["h"].grad)],
                        "loss": [values(t["loss"].grad)]})
    assert_same(*results, "retained gradients")
    np.testing.assert_allclose(results[0]["loss"][0], 10.0)


def test_a_leafs_hooks_run_before_its_post_accumulate_grad_hooks_as_torch():
    logs = []
    for lib in LIBS:
        t, log = program(lib), []
        w = t["w"]
        w.register_post_accumulate_grad_hook(lambda p: log.append(("post", values(p.grad))))
        w.register_hook(lambda g: log.append(("hook", values(g))) or g * 2)
        t["loss"].backward()
        logs.append(log)
    for ours, theirs in zip(*logs):
        assert ours[0] == theirs[0]
        np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-13)
    assert [e[0] for e in logs[0]] == ["hook", "post"]
    np.testing.assert_allclose(logs[0][1][1], 2 * logs[0][0][1], rtol=1e-15)


def test_a_hook_registered_before_an_in_place_op_sees_the_old_values_gradient_as_torch():
    seen = []
    for lib in LIBS:
        x = lib.tensor(X0, requires_grad=True)
        w = lib.tensor(W0, requires_grad=True)
        got: dict = {}
        h = x * w
        h.register_hook(recorder(got, "before"))
        h *= 3.0
        h.register_hook(recorder(got, "after"))
        (h * h).sum().backward()
        seen.append({**got, "x": [values(x.grad)]})
    assert_same(*seen, "hooks around an in-place op")


def test_a_deep_copy_or_a_pickled_copy_leaves_the_hooks_behind_as_torch():
    for lib in LIBS:
        x = lib.tensor(X0, requires_grad=True)
        x.register_hook(lambda g: g * 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)    # torch's: "will not be serialized"
            copies = [copy.deepcopy(x), pickle.loads(pickle.dumps(x))]
        for y in copies:
            (y * 2).sum().backward()
            np.testing.assert_allclose(values(y.grad), 2.0, err_msg=f"{lib.__name__}")


def test_a_non_leafs_hooks_stay_behind_in_its_copies_and_pickles():
    """A non-leaf keeps its hooks on the node that made it: a deep copy or a pickle of the
    tensor (its graph with it: torch copies leaves only) took them along, and a lambda made
    it unpicklable; they stay behind, as a leaf's do."""
    x = ng.tensor(X0, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 10)
    for z in (copy.deepcopy(y), pickle.loads(pickle.dumps(y))):
        leaf = z._node.inputs[0]
        z.sum().backward()
        np.testing.assert_allclose(values(leaf.grad), 2.0)
    y.sum().backward()                                      # the original keeps its hook
    np.testing.assert_allclose(values(x.grad), 20.0)


def test_a_shallow_copy_has_no_hooks_of_its_own_origin():
    """copy.copy shared the hooks list: a hook registered on the copy fired on the original
    (torch's copy has no hooks)."""
    for lib in LIBS:
        x = lib.tensor(X0, requires_grad=True)
        x.register_hook(lambda g: None)
        c = copy.copy(x)
        c.register_hook(lambda g: g * 100)
        (x * 1).sum().backward()
        np.testing.assert_allclose(values(x.grad), 1.0, err_msg=f"{lib.__name__}")


def test_a_graph_pickled_before_hooks_existed_runs_its_backward():
    """A node pickled by a version without the hooks slot (its state lacks it) unpickles
    with none, and the backward through it runs."""
    x = ng.tensor(X0, requires_grad=True)
    y = x * 2
    state = y._node.__getstate__()
    del state[1]["hooks"]
    node = type(y._node).__new__(type(y._node))
    node.__setstate__(state)
    assert node.hooks is None and node.name == y._node.name


def test_post_accumulate_grad_hooks_stay_behind_in_pickles_copies_and_checkpoints(tmp_path):
    """A lambda post-accumulate-grad hook on a parameter made the model unpicklable; torch
    pickles, deep-copies and saves its tensors without these hooks, silently (its warning is
    for register_hook hooks only). The copies' backward calls none; the original keeps its."""
    def model_with_hook(lib, calls):
        model = lib.nn.Linear(3, 1).double()
        model.weight.register_post_accumulate_grad_hook(lambda p: calls.append(1))
        return model

    for lib in LIBS:
        calls: list = []
        model = model_with_hook(lib, calls)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            copies = [pickle.loads(pickle.dumps(model)), copy.deepcopy(model)]
        for twin in copies:
            twin(lib.tensor(X0)).sum().backward()
            np.testing.assert_allclose(values(twin.weight.grad), [X0], err_msg=lib.__name__)
        assert calls == [], lib.__name__
        model(lib.tensor(X0)).sum().backward()
        assert calls == [1], lib.__name__
    calls = []
    model = model_with_hook(ng, calls)
    ng.save(model, tmp_path / "model.npz")
    loaded = ng.load(tmp_path / "model.npz").model
    loaded(ng.tensor(X0)).sum().backward()
    assert calls == []
    np.testing.assert_array_equal(loaded.weight.numpy(), model.weight.numpy())
