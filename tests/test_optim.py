"""nongate_np.optim: SGD / Adam / AdamW against torch step by step (float64), gradient
clipping against torch, the state_dict round trip, hyper-parameter validation."""

from __future__ import annotations

import io
import json
import math
import numbers
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np import nn, optim

SHAPES = [(3, 4), (5,), ()]
N_STEPS = 5

# (our class name, kwargs) — torch's class of the same name takes the same kwargs.
CONFIGS = [
    ("SGD", dict()),                    # torch's default lr
    ("SGD", dict(momentum=0.9)),
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.02)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.02, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.05, weight_decay=0.1)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True, betas=(0.5, 0.9))),
]


def _config_id(cfg):
    name, kw = cfg
    return name + "(" + ",".join(f"{k}={v}" for k, v in kw.items()) + ")"


def _initial(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in SHAPES]


def _grad_sequence(seed=1):
    """Fixed random gradients; parameter 2 has no gradient at step 2 (it must be skipped)."""
    rng = np.random.default_rng(seed)
    seq = []
    for step in range(N_STEPS):
        grads = [rng.standard_normal(s) for s in SHAPES]
        if step == 2:
            grads[2] = None
        seq.append(grads)
    return seq


def _run_ours(name, kw, init, grads, steps):
    params = [nn.Parameter(w.copy()) for w in init]
    opt = getattr(optim, name)(params, **kw)
    for g in grads[:steps]:
        for p, gk in zip(params, g):
            p.grad = None if gk is None else gk.copy()
        opt.step()
    return params, opt


@pytest.mark.torch
@pytest.mark.parametrize("cfg", CONFIGS, ids=_config_id)
def test_matches_torch_with_fixed_gradients(cfg):
    torch = pytest.importorskip("torch")
    name, kw = cfg
    init, grads = _initial(), _grad_sequence()
    ours, _ = _run_ours(name, kw, init, grads, N_STEPS)
    theirs = [torch.nn.Parameter(torch.tensor(w.copy())) for w in init]
    opt = getattr(torch.optim, name)(theirs, **kw)
    for g in grads:
        for p, gk in zip(theirs, g):
            p.grad = None if gk is None else torch.tensor(gk.copy())
        opt.step()
    for k, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-12, atol=1e-15,
                                   err_msg=f"{_config_id(cfg)}: parameter {k}")
        assert not np.array_equal(a.data, init[k]), "the parameter did not move"


@pytest.mark.torch
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_matches_torch_on_a_quadratic_with_groups_and_lr_change(name):
    """Gradients from each library's own autograd of 0.5·|A w - b|² + 0.5·|c|²; two groups
    with different hyper-parameters; the learning rate of group 0 is changed mid-run."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    A, b = rng.standard_normal((6, 4)), rng.standard_normal(6)
    w0, c0 = rng.standard_normal(4), rng.standard_normal(3)
    extra = {"SGD": dict(momentum=0.9)}.get(name, {})

    def groups(w, c):
        return [{"params": [w], "lr": 0.05}, {"params": [c], "lr": 0.01, "weight_decay": 0.1}]

    w, c = nn.Parameter(w0.copy()), nn.Parameter(c0.copy())
    tw, tc = (torch.nn.Parameter(torch.tensor(v.copy())) for v in (w0, c0))
    ours = getattr(optim, name)(groups(w, c), lr=0.02, **extra)
    theirs = getattr(torch.optim, name)(groups(tw, tc), lr=0.02, **extra)
    At, bt = torch.tensor(A), torch.tensor(b)
    for step in range(8):
        if step == 4:
            ours.param_groups[0]["lr"] = theirs.param_groups[0]["lr"] = 0.2
        ours.zero_grad()
        theirs.zero_grad()
        r = ng.matmul(A, w) - b
        (0.5 * (r * r).sum() + 0.5 * (c * c).sum()).backward()
        rt = At @ tw - bt
        (0.5 * (rt * rt).sum() + 0.5 * (tc * tc).sum()).backward()
        ours.step()
        theirs.step()
    for a, t, label in ((w, tw, "w"), (c, tc, "c")):
        np.testing.assert_allclose(a.data, t.detach().numpy(), rtol=1e-12, atol=1e-15,
                                   err_msg=f"{name}: {label}")


def test_parameters_without_grad_are_skipped_and_zero_grad():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = np.ones(2)
    opt.step()
    np.testing.assert_array_equal(b.data, np.ones(2))
    assert b not in opt.state and opt.state[a]["step"] == 1
    assert np.all(a.data < 1)
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_step_closure_returns_loss():
    w = nn.Parameter(np.array([3.0]))
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(w.data, [3.0 - 0.25 * 6.0])


# ---------------------------------------------------------------------------------------------
# state_dict
# ---------------------------------------------------------------------------------------------

def _is_plain(x) -> bool:
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "biuf"
    if isinstance(x, (list, tuple)):
        return all(_is_plain(v) for v in x)
    if isinstance(x, dict):
        return all(isinstance(k, (str, int)) and _is_plain(v) for k, v in x.items())
    return x is None or isinstance(x, (bool, int, float, str))


def _npz_json_round_trip(sd: dict) -> dict:
    """Store the arrays in an .npz and everything else as JSON (no pickle), and read back:
    what a checkpoint file would do."""
    arrays, meta = {}, {"param_groups": sd["param_groups"], "state": {}}
    for idx, entry in sd["state"].items():
        meta["state"][idx] = {}
        for key, v in entry.items():
            if isinstance(v, np.ndarray):
                arrays[f"{idx}/{key}"] = v
                meta["state"][idx][key] = {"npz": f"{idx}/{key}"}
            else:
                meta["state"][idx][key] = v
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    loaded = np.load(buf, allow_pickle=False)
    meta = json.loads(json.dumps(meta))
    for entry in meta["state"].values():
        for key, v in entry.items():
            if isinstance(v, dict):
                entry[key] = loaded[v["npz"]]
    return meta


@pytest.mark.parametrize("cfg", [CONFIGS[5], CONFIGS[6], CONFIGS[11], CONFIGS[14]],
                         ids=_config_id)
def test_state_dict_round_trip_continues_bitwise(cfg):
    name, kw = cfg
    init, grads = _initial(), _grad_sequence()
    straight, _ = _run_ours(name, kw, init, grads, 5)

    first, opt = _run_ours(name, kw, init, grads, 3)
    at_step3 = [p.data.copy() for p in first]
    sd = opt.state_dict()
    assert _is_plain(sd), sd
    assert sd["param_groups"][0]["params"] == [0, 1, 2]
    snapshot = {i: {k: np.copy(v) for k, v in e.items()} for i, e in sd["state"].items()}
    opt.step()                                       # later steps must not change the saved state
    for i, e in sd["state"].items():
        for k, v in e.items():
            np.testing.assert_array_equal(v, snapshot[i][k], err_msg=f"state {i}/{k}")

    resumed_params = [nn.Parameter(w) for w in at_step3]
    fresh = getattr(optim, name)(resumed_params, **kw)
    fresh.load_state_dict(_npz_json_round_trip(sd))
    for g in grads[3:5]:
        for p, gk in zip(resumed_params, g):
            p.grad = None if gk is None else gk.copy()
        fresh.step()
    for k, (a, b) in enumerate(zip(resumed_params, straight)):
        assert np.array_equal(a.data, b.data), f"{_config_id(cfg)}: parameter {k} differs"


def test_load_state_dict_restores_hyper_parameters_and_checks_layout():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    src = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}], betas=(0.8, 0.9))
    dst = optim.Adam([{"params": [nn.Parameter(np.ones(2))]},
                      {"params": [nn.Parameter(np.ones(3))]}])
    dst.load_state_dict(json.loads(json.dumps(src.state_dict())))
    assert dst.param_groups[1]["lr"] == 0.5 and dst.param_groups[0]["betas"] == (0.8, 0.9)
    with pytest.raises(ValueError, match="2 parameter groups"):
        optim.Adam([nn.Parameter(np.ones(2))]).load_state_dict(src.state_dict())
    with pytest.raises(ValueError, match="group 1 has 1 parameters in the state but 2"):
        optim.Adam([{"params": [nn.Parameter(np.ones(2))]},
                    {"params": [nn.Parameter(np.ones(3)), nn.Parameter(np.ones(1))]}]
                   ).load_state_dict(src.state_dict())
    a.grad, b.grad = np.ones(2), np.ones(3)
    src.step()
    wrong = optim.Adam([{"params": [nn.Parameter(np.ones(2))]},
                        {"params": [nn.Parameter(np.ones(4))]}])
    with pytest.raises(ValueError, match=r"exp_avg.*shape \(3,\).*\(4,\)"):
        wrong.load_state_dict(src.state_dict())


@pytest.mark.torch
def test_torch_optimizer_state_loads_and_continues_like_torch():
    torch = pytest.importorskip("torch")
    init, grads = _initial(), _grad_sequence()
    kw = dict(lr=0.05, amsgrad=True, weight_decay=0.1)
    theirs = [torch.nn.Parameter(torch.tensor(w.copy())) for w in init]
    topt = torch.optim.Adam(theirs, **kw)
    for step, g in enumerate(grads):
        if step == 3:
            tsd = topt.state_dict()
            state = {i: {k: v.numpy().copy() for k, v in e.items()}
                     for i, e in tsd["state"].items()}
            ours = [nn.Parameter(p.detach().numpy().copy()) for p in theirs]
            opt = optim.Adam(ours, **kw)
            opt.load_state_dict({"state": state, "param_groups": tsd["param_groups"]})
        for p, gk in zip(theirs, g):
            p.grad = None if gk is None else torch.tensor(gk.copy())
        topt.step()
        if step >= 3:
            for p, gk in zip(ours, g):
                p.grad = None if gk is None else gk.copy()
            opt.step()
    for k, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-12, atol=1e-15,
                                   err_msg=f"parameter {k}")


# optimisers with state of each kind (SGD's momentum buffer, Adam's step and moments, the
# amsgrad maximum) and one without (plain SGD)
ACROSS = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.02)),
    ("SGD", dict(lr=0.1)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True, betas=(0.5, 0.9))),
]


def _linear_run(name, kw, steps):
    """A float64 Linear(3, 2) and ``name``'s optimiser on it after ``steps`` of the fixed
    gradients ``_linear_grads()``."""
    ng.seed(0)
    model = nn.Linear(3, 2, dtype=np.float64)
    opt = getattr(optim, name)(model.parameters(), **kw)
    for g in _linear_grads()[:steps]:
        for p, gk in zip(model.parameters(), g):
            p.grad = gk.copy()
        opt.step()
    return model, opt


def _linear_grads(n=7):
    rng = np.random.default_rng(1)
    return [[rng.standard_normal((2, 3)), rng.standard_normal(2)] for _ in range(n)]


def _go_on(lib, params, opt, grads):
    """``grads`` stepped by ``opt`` (ours or torch's, ``lib``) on ``params``."""
    for g in grads:
        for p, gk in zip(params, g):
            p.grad = gk.copy() if lib is None else lib.tensor(gk)
        opt.step()


@pytest.mark.torch
@pytest.mark.parametrize("through", ["state_dict", "checkpoint"])
@pytest.mark.parametrize("cfg", ACROSS, ids=_config_id)
def test_torchs_optimizer_loads_our_state_converted_and_goes_on_as_ours(tmp_path, cfg,
                                                                          through):
    """Our state after 3 steps, as state_dict() gives it and as a checkpoint holds it
    (ng.load's optimizer_state: from .npz and JSON), given to torch's optimiser of the same
    class through to_torch_state_dict: torch's next 4 steps are ours (float64, to
    rounding). As it is, torch refuses it (its load casts each state value with .to,
    which an ndarray lacks)."""
    torch = pytest.importorskip("torch")
    name, kw = cfg
    model, opt = _linear_run(name, kw, 3)
    state = opt.state_dict()
    if through == "checkpoint":
        ng.save(model, tmp_path / "m.npz", optimizer=opt)
        state = ng.load(tmp_path / "m.npz").optimizer_state
    theirs = [torch.nn.Parameter(torch.tensor(p.numpy().copy())) for p in model.parameters()]
    topt = getattr(torch.optim, name)(theirs, **kw)
    if state["state"]:
        with pytest.raises(TypeError, match="expected a sequence of integers"):
            topt.load_state_dict(state)
    converted = optim.to_torch_state_dict(state)
    topt.load_state_dict(converted)
    if name != "SGD":       # torch's own form of the step count: a float32 0-d tensor
        step = topt.state[theirs[0]]["step"]
        assert torch.is_tensor(step) and step.dtype == torch.float32 and step.item() == 3
        assert topt.param_groups[0]["betas"] == kw.get("betas", (0.9, 0.999))
    rest = _linear_grads()[3:]
    _go_on(None, list(model.parameters()), opt, rest)
    _go_on(torch, theirs, topt, rest)
    for k, (a, b) in enumerate(zip(model.parameters(), theirs)):
        np.testing.assert_allclose(b.detach().numpy(), a.numpy(), rtol=1e-12, atol=1e-15,
                                   err_msg=f"{_config_id(cfg)} ({through}): parameter {k}")
    for index, entries in state["state"].items():       # nothing of ours changed or shared
        for key, value in entries.items():
            assert converted["state"][int(index)][key] is not value, (index, key)


@pytest.mark.torch
@pytest.mark.parametrize("cfg", ACROSS, ids=_config_id)
def test_our_optimizer_loads_torchs_state_as_it_is_and_goes_on_as_torch(cfg):
    """torch's state_dict (CPU tensors, a float step) into ours as it is, no conversion:
    ours goes on as torch's does, its step count an int again."""
    torch = pytest.importorskip("torch")
    name, kw = cfg
    model, _ = _linear_run(name, kw, 0)
    theirs = [torch.nn.Parameter(torch.tensor(p.numpy().copy())) for p in model.parameters()]
    topt = getattr(torch.optim, name)(theirs, **kw)
    grads = _linear_grads()
    _go_on(torch, theirs, topt, grads[:3])
    for p, t in zip(model.parameters(), theirs):
        p.data[...] = t.detach().numpy()
    opt = getattr(optim, name)(model.parameters(), **kw)
    opt.load_state_dict(topt.state_dict())
    if name != "SGD":
        assert all(type(s["step"]) is int and s["step"] == 3 for s in opt.state.values())
    _go_on(None, list(model.parameters()), opt, grads[3:])
    _go_on(torch, theirs, topt, grads[3:])
    for k, (a, b) in enumerate(zip(model.parameters(), theirs)):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-15,
                                   err_msg=f"{_config_id(cfg)}: parameter {k}")


def test_to_torch_state_dict_says_what_it_needs(monkeypatch):
    """Without torch: an ImportError with the install line of the torch extra; with it, a
    TypeError for what is not a state_dict."""
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "torch", None)           # torch not installed
        with pytest.raises(ImportError, match=r"^to_torch_state_dict: needs PyTorch, which "
                                              r"is not installed: pip install torch==2\.13\.0 "
                                              r"--extra-index-url https://download\.pytorch"
                                              r"\.org/whl/cpu \(or, in the checkout, pip "
                                              r"install -e '\.\[torch\]'\)$"):
            optim.to_torch_state_dict({"state": {}, "param_groups": []})
    pytest.importorskip("torch")
    with pytest.raises(TypeError, match="expected an optimiser's or scheduler's state_dict "
                                        r"\(a dict\), got list"):
        optim.to_torch_state_dict([])
    with pytest.raises(TypeError, match="state 'exp_avg' of parameter 0 is a str"):
        optim.to_torch_state_dict({"state": {0: {"exp_avg": "x"}}, "param_groups": []})


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------

def _p():
    return [nn.Parameter(np.zeros(2))]


@pytest.mark.parametrize("make, match", [
    (lambda: optim.SGD(_p(), lr=-0.1), "lr must be >= 0"),
    (lambda: optim.SGD(_p(), lr=0.1, momentum=-0.5), "momentum must be >= 0"),
    (lambda: optim.SGD(_p(), lr=0.1, weight_decay=-1), "weight_decay must be >= 0"),
    (lambda: optim.SGD(_p(), lr=0.1, nesterov=True), "nesterov=True requires momentum > 0"),
    (lambda: optim.SGD(_p(), lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     "dampening = 0"),
    (lambda: optim.SGD([{"params": _p(), "lr": -1.0}], lr=0.1), "lr must be >= 0"),
    (lambda: optim.Adam(_p(), lr=-1e-3), "lr must be >= 0"),
    (lambda: optim.Adam(_p(), betas=(1.0, 0.999)), r"betas\[0\] must be in \[0.0, 1.0\)"),
    (lambda: optim.Adam(_p(), betas=(0.9, -0.1)), r"betas\[1\] must be in"),
    (lambda: optim.Adam(_p(), betas=(0.9,)), "betas must be a pair"),
    (lambda: optim.Adam(_p(), eps=-1.0), "eps must be >= 0"),
    (lambda: optim.Adam(_p(), weight_decay=-0.1), "weight_decay must be >= 0"),
    (lambda: optim.AdamW(_p(), betas=(0.9, 1.0)), r"AdamW: betas\[1\]"),
    (lambda: optim.Adam(_p(), lr=float("nan")), "lr must be >= 0"),
    (lambda: optim.Adam([]), "empty parameter list"),
    (lambda: optim.Adam(_p() * 2), "more than once"),
])
def test_invalid_hyper_parameters_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_invalid_params_raise_type_error():
    with pytest.raises(TypeError, match="single Parameter"):
        optim.SGD(nn.Parameter(np.zeros(2)), lr=0.1)
    with pytest.raises(TypeError, match="can only optimise Tensors"):
        optim.SGD([np.zeros(2)], lr=0.1)
    # the model itself (Python's "'Linear' object is not iterable"; a Sequential's modules
    # were taken for parameters), and no iterable at all
    for model in (nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2))):
        with pytest.raises(TypeError, match=f"got {type(model).__name__}; pass its "
                                            r"parameters\(\), e.g. model.parameters\(\)"):
            optim.Adam(model)
    with pytest.raises(TypeError, match="params should be an iterable of Tensors or of dicts "
                                        r"\(parameter groups\), got NoneType"):
        optim.SGD(None, lr=0.1)


@pytest.mark.torch
def test_named_parameters_are_taken_as_torch(tmp_path):
    """torch 2.13 takes (name, parameter) pairs (``model.named_parameters()``): the group and
    its state_dict keep ``param_names``, the steps are the same; mixing named and unnamed
    parameters, in a group or across groups, is torch's ValueError. The names survive a
    state_dict round trip and a checkpoint."""
    torch = pytest.importorskip("torch")
    ours = nn.Linear(3, 2, dtype=np.float64)
    theirs = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        for p, t in zip(ours.parameters(), theirs.parameters()):
            t.copy_(torch.tensor(p.numpy()))
    opt = optim.Adam(ours.named_parameters(), lr=0.1)
    topt = torch.optim.Adam(theirs.named_parameters(), lr=0.1)
    assert opt.param_groups[0]["param_names"] == topt.param_groups[0]["param_names"]
    x = np.random.default_rng(0).standard_normal((4, 3))
    for _ in range(2):
        ours(ng.tensor(x)).sum().backward()
        theirs(torch.tensor(x)).sum().backward()
        opt.step()
        topt.step()
    for (name, p), (_, t) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=1e-12, err_msg=name)
    saved = opt.state_dict()["param_groups"][0]
    assert saved["param_names"] == topt.state_dict()["param_groups"][0]["param_names"]
    again = optim.Adam(ours.parameters())
    sd = opt.state_dict()
    again.load_state_dict({"state": sd["state"],
                           "param_groups": json.loads(json.dumps(sd["param_groups"]))})
    assert again.param_groups[0]["param_names"] == ["weight", "bias"]
    ng.save(ours, tmp_path / "m.npz", optimizer=opt)
    assert ng.load(tmp_path / "m.npz").optimizer.param_groups[0]["param_names"] == \
        ["weight", "bias"]
    for lib, model in ((optim, ours), (torch.optim, theirs)):
        named = list(model.named_parameters())
        with pytest.raises(ValueError, match="all optimizer params should be with/without "
                                             "names. Some param names are missing"):
            lib.SGD([named[0], named[1][1]], lr=0.1)
        with pytest.raises(ValueError, match="all optimizer param groups should be "
                                             "with/without names. cannot add param group "
                                             "without names to the optimizer"):
            lib.SGD([{"params": named[:1]}, {"params": [named[1][1]]}], lr=0.1)



@pytest.mark.torch
def test_named_parameter_groups_survive_a_checkpoint(tmp_path):
    """Several groups of (name, parameter) pairs (no weight decay on the biases, the usual
    AdamW setup) save and load with their optimiser: ``ng.load`` rebuilds the groups with
    their ``param_names``, which a group dict may carry itself, as torch's accepts it (its
    check of named against unnamed groups reads the group's ``param_names`` key, not only
    the pairs). A checkpoint of such an optimiser could be written but not read back."""
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    named = list(model.named_parameters())
    opt = optim.AdamW([{"params": [(n, p) for n, p in named if n.endswith("weight")]},
                       {"params": [(n, p) for n, p in named if n.endswith("bias")],
                        "weight_decay": 0.0}], lr=0.1)
    model(np.ones((2, 3), np.float32)).sum().backward()
    opt.step()
    ng.save(model, tmp_path / "m.npz", optimizer=opt)
    loaded = ng.load(tmp_path / "m.npz").optimizer
    assert [g["param_names"] for g in loaded.param_groups] == \
        [["0.weight", "1.weight"], ["0.bias", "1.bias"]]
    assert [g["weight_decay"] for g in loaded.param_groups] == [0.01, 0.0]
    for a, b in zip(opt.state_dict()["state"].values(), loaded.state_dict()["state"].values()):
        np.testing.assert_array_equal(a["exp_avg"], b["exp_avg"])
    # a group dict carrying param_names itself, as torch's takes it
    w, b = model[0].weight, model[0].bias
    tw, tb = torch.nn.Parameter(torch.zeros(4, 3)), torch.nn.Parameter(torch.zeros(4))
    for lib, (x, y) in ((optim, (w, b)), (torch.optim, (tw, tb))):
        o = lib.SGD([{"params": [x], "param_names": ["w"]},
                     {"params": [y], "param_names": ["b"]}], lr=0.1)
        assert [g["param_names"] for g in o.param_groups] == [["w"], ["b"]]
        with pytest.raises(ValueError, match="all optimizer param groups should be "
                                             "with/without names. cannot add param group "
                                             "without names to the optimizer"):
            lib.SGD([{"params": [x], "param_names": ["w"]}, {"params": [y]}], lr=0.1)


# ---------------------------------------------------------------------------------------------
# Gradient clipping
# ---------------------------------------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    """The total is torch's: a 0-d Tensor of the gradients' dtype, outside any graph (ours
    sums in float64 and rounds once, torch in the gradients' dtype: float32 agrees to its
    rounding); the gradients are scaled as torch scales them."""
    torch = pytest.importorskip("torch")
    grads = [g.astype(dtype) for g in _grad_sequence()[0] if g is not None]
    ours = [nn.Parameter(np.zeros(g.shape, dtype)) for g in grads] + \
        [nn.Parameter(np.zeros(2, dtype))]
    theirs = [torch.nn.Parameter(torch.zeros(g.shape, dtype=getattr(torch, dtype.__name__)))
              for g in grads]
    for p, t, g in zip(ours, theirs, grads):
        p.grad, t.grad = g.copy(), torch.tensor(g.copy())
    total = optim.clip_grad_norm_(ours, max_norm, norm_type)   # the last one has no grad
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, ng.Tensor) and total.shape == () and total.device == "cpu"
    assert total.dtype == dtype == ttotal.numpy().dtype and not total.requires_grad
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=rtol)
    for k, (p, t) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=rtol, atol=1e-15,
                                   err_msg=f"clipped gradient {k}")
    clipped = max_norm < total
    assert clipped == any(not np.array_equal(p.grad, g) for p, g in zip(ours, grads))


@pytest.mark.torch
def test_clip_grad_norm_of_mixed_or_no_gradients_and_foreach_as_torch():
    """float32 and float64 gradients: a float64 total, as torch's; no gradient: 0; an empty
    generator: torch's warning; ``foreach`` (a choice of implementation in torch) is
    accepted and changes nothing, for clip_grad_value_ too."""
    torch = pytest.importorskip("torch")

    def both(values):
        ps, ts = [], []
        for v in values:
            ps.append(nn.Parameter(np.zeros(v.shape, v.dtype)))
            ps[-1].grad = v.copy()
            ts.append(torch.nn.Parameter(torch.zeros(v.shape,
                                                     dtype=getattr(torch, v.dtype.name))))
            ts[-1].grad = torch.tensor(v.copy())
        return ps, ts

    ps, ts = both([np.array([3.0, 4.0], np.float32), np.array([12.0])])   # exact: 13
    total = optim.clip_grad_norm_(ps, 1.0)
    want = torch.nn.utils.clip_grad_norm_(ts, 1.0)
    assert total.dtype == np.float64 == want.numpy().dtype
    np.testing.assert_allclose(total.item(), want.item(), rtol=1e-15)
    none = optim.clip_grad_norm_([nn.Parameter(np.zeros(2))], 1.0)
    assert isinstance(none, ng.Tensor) and none.shape == () and float(none) == 0.0
    with pytest.warns(UserWarning, match="`parameters` is an empty generator, no gradient "
                                         "clipping will occur"):
        assert float(optim.clip_grad_norm_((p for p in []), 1.0)) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optim.clip_grad_norm_([], 1.0)          # a list: no warning, as torch
    values = [np.array([3.0, -4.0]), np.array([12.0])]
    results = []
    for foreach in (None, True, False):
        ps, _ = both(values)
        total = optim.clip_grad_norm_(ps, 1.0, foreach=foreach)
        optim.clip_grad_value_(ps, 0.5, foreach=foreach)
        results.append((total.item(), [p.grad.copy() for p in ps]))
    for total, grads in results[1:]:
        assert total == results[0][0]
        for g, g0 in zip(grads, results[0][1]):
            np.testing.assert_array_equal(g, g0)


def test_clip_grad_norm_independent_formula_and_errors():
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal((4, 3)), rng.standard_normal(5)]
    ps = [nn.Parameter(np.zeros(g.shape)) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = g.copy()
    flat = np.concatenate([g.ravel() for g in grads])
    total = optim.clip_grad_norm_(ps, 1.0)
    assert total == pytest.approx(math.sqrt(np.sum(flat ** 2)), rel=1e-14)
    new = np.concatenate([p.grad.ravel() for p in ps])
    np.testing.assert_allclose(np.sqrt(np.sum(new ** 2)), total / (total + 1e-6), rtol=1e-14)
    assert optim.clip_grad_norm_([nn.Parameter(np.zeros(2))], 1.0) == 0.0
    ps[0].grad[0, 0] = np.nan
    with pytest.raises(RuntimeError, match="non-finite|nan"):
        optim.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    for order in (0, -1.0, -math.inf):
        with pytest.raises(ValueError, match=r"clip_grad_norm_: norm_type must be > 0 or inf, "
                                             r"got .* \(torch's 0, negative orders and -inf "
                                             r"are not supported\)"):
            optim.clip_grad_norm_(ps, 1.0, norm_type=order)


def _both_with_grads(grads):
    """Parameters holding ``grads``: ours, and torch's."""
    import torch
    ps, ts = [], []
    for g in grads:
        ps.append(nn.Parameter(np.zeros(g.shape, g.dtype)))
        ps[-1].grad = g.copy()
        ts.append(torch.nn.Parameter(torch.zeros(g.shape, dtype=getattr(torch, g.dtype.name))))
        ts[-1].grad = torch.tensor(g.copy())
    return ps, ts


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_get_total_norm_and_clip_grads_with_norm_as_torch(norm_type, max_norm, dtype):
    """torch 2.6's two halves of clip_grad_norm_: the total of the gradients (given as
    arrays, or as one array) is clip_grad_norm_'s, torch's to rounding; clipping by a total
    scales as torch's, bit for bit given torch's own total (its coefficient computed as
    torch's, in the total's dtype), and then equals clip_grad_norm_'s."""
    torch = pytest.importorskip("torch")
    grads = [g.astype(dtype) for g in _grad_sequence()[0] if g is not None]
    ps, ts = _both_with_grads(grads)
    total = nn.utils.get_total_norm([p.grad for p in ps], norm_type)
    ttotal = torch.nn.utils.get_total_norm([t.grad for t in ts], norm_type)
    assert isinstance(total, ng.Tensor) and total.shape == () and total.dtype == dtype
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=rtol)
    one = nn.utils.get_total_norm(ps[0].grad, norm_type)
    np.testing.assert_allclose(one.item(), torch.nn.utils.get_total_norm(ts[0].grad,
                                                                         norm_type).item(),
                               rtol=rtol)
    nn.utils.clip_grads_with_norm_(ps, max_norm, ttotal.numpy())
    torch.nn.utils.clip_grads_with_norm_(ts, max_norm, ttotal)
    for k, (p, t) in enumerate(zip(ps, ts)):
        np.testing.assert_array_equal(p.grad, t.grad.numpy(), err_msg=f"gradient {k}")
    again, _ = _both_with_grads(grads)
    whole, _ = _both_with_grads(grads)
    nn.utils.clip_grads_with_norm_(again, max_norm,
                                   nn.utils.get_total_norm([p.grad for p in again], norm_type))
    assert nn.utils.clip_grad_norm_(whole, max_norm, norm_type).item() == total.item()
    for a, b in zip(again, whole):
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-15 if dtype == np.float64 else
                                   1e-7)


@pytest.mark.torch
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_get_total_norm_of_non_finite_entries_as_torch(bad):
    """An inf or NaN entry: the total is torch's (inf, NaN), clipping by it scales as
    torch's (by 0: NaN at the inf entry, 0 elsewhere; by NaN); with error_if_nonfinite a
    RuntimeError, as torch."""
    torch = pytest.importorskip("torch")
    grads = [np.array([1.0, bad, 3.0]), np.array([[2.0, -1.0]])]
    ps, ts = _both_with_grads(grads)
    total = nn.utils.get_total_norm([p.grad for p in ps])
    ttotal = torch.nn.utils.get_total_norm([t.grad for t in ts])
    np.testing.assert_array_equal(total.numpy(), ttotal.numpy())
    nn.utils.clip_grads_with_norm_(ps, 1.0, total)
    torch.nn.utils.clip_grads_with_norm_(ts, 1.0, ttotal)
    for p, t in zip(ps, ts):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())
    with pytest.raises(RuntimeError, match=r"get_total_norm: the total norm of order 2.0 of "
                                           r"the gradients is (inf|nan)"):
        nn.utils.get_total_norm(grads, error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        torch.nn.utils.get_total_norm([torch.tensor(g) for g in grads], error_if_nonfinite=True)


def test_get_total_norm_and_clip_grads_with_norm_edges_and_errors():
    """No tensors: a float64 0 (as clip_grad_norm_); no gradient: nothing scaled, no
    warning; a total of 0 or below max_norm scales nothing; bad arguments name the
    function."""
    assert float(nn.utils.get_total_norm([])) == 0.0
    assert nn.utils.get_total_norm([]).dtype == np.float64
    p = nn.Parameter(np.array([3.0, 4.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.utils.clip_grads_with_norm_((q for q in []), 1.0, 5.0)
        nn.utils.clip_grads_with_norm_([p], 1.0, 5.0)        # no grad: nothing to do
        p.grad = np.array([3.0, 4.0])
        nn.utils.clip_grads_with_norm_(p, 10.0, nn.utils.get_total_norm(p.grad))
        np.testing.assert_array_equal(p.grad, [3.0, 4.0])
        nn.utils.clip_grads_with_norm_(p, 1.0, 0.0)
        np.testing.assert_array_equal(p.grad, [3.0, 4.0])
        nn.utils.clip_grads_with_norm_(p, 1.0, ng.tensor(np.float32(5.0)))
    np.testing.assert_allclose(p.grad, [0.6, 0.8], rtol=1e-6)
    assert nn.utils.get_total_norm(ng.tensor(np.array([3.0, 4.0]))).item() == 5.0
    for order in (0, -1.0, -math.inf):
        with pytest.raises(ValueError, match=r"get_total_norm: norm_type must be > 0 or inf"):
            nn.utils.get_total_norm([p.grad], norm_type=order)
    with pytest.raises(TypeError, match="get_total_norm: expected Tensors or arrays of "
                                        "floats .*item 1 is ndarray of dtype int64"):
        nn.utils.get_total_norm([p.grad, np.array([1, 2])])
    with pytest.raises(TypeError, match="get_total_norm: .* item 0 is str"):
        nn.utils.get_total_norm(["a"])
    with pytest.raises(TypeError, match="clip_grads_with_norm_: total_norm must be a real "
                                        "number or a one-element Tensor"):
        nn.utils.clip_grads_with_norm_([p], 1.0, "5")
    with pytest.raises(ValueError, match="clip_grads_with_norm_: max_norm must be >= 0"):
        nn.utils.clip_grads_with_norm_([p], -1.0, 5.0)
    with pytest.raises(TypeError, match="clip_grads_with_norm_: expected Tensors"):
        nn.utils.clip_grads_with_norm_([p.grad], 1.0, 5.0)


def test_clip_grad_value():
    p = nn.Parameter(np.zeros(4))
    p.grad = np.array([-3.0, -0.5, 0.2, 9.0])
    optim.clip_grad_value_([p], 1.0)
    np.testing.assert_array_equal(p.grad, np.clip([-3.0, -0.5, 0.2, 9.0], -1.0, 1.0))


def test_repr_lists_groups():
    text = repr(optim.SGD(_p(), lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text
    assert isinstance(optim.Adam(_p()).param_groups[0]["lr"], numbers.Real)


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e308), (np.float32, 3e38)])
def test_clip_grad_norm_of_finite_gradients_whose_norm_overflows(dtype, big):
    # four entries of 1e308 (3e38): the 2-norm 2e308 (6e38) exceeds float64 (float32), the
    # clipped values do not; the total, in the gradients' dtype, is inf
    p = ng.nn.Parameter(np.zeros(4, dtype))
    p.grad = np.full(4, big, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        total = optim.clip_grad_norm_([p], max_norm=1.0)
    assert total.dtype == dtype and total.item() == math.inf
    rtol = 1e-15 if dtype == np.float64 else 1e-7
    np.testing.assert_allclose(p.grad, np.full(4, 0.5), rtol=rtol)   # g / ‖g‖, exact 1/2


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, weight_decay=0.1),
                                  lambda ps: optim.Adam(ps), lambda ps: optim.AdamW(ps)])
@pytest.mark.parametrize("grad", [1.7e308, np.inf, np.nan])
def test_optimizer_step_on_huge_or_non_finite_gradients_gives_ieee_results_silently(make,
                                                                                       grad):
    p = ng.nn.Parameter(np.array([1e308, 1.0]))
    p.grad = np.array([grad, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make([p]).step()
    # the finite coordinate moves as usual; the other is whatever IEEE arithmetic gives
    assert np.isfinite(p.data[1]) and p.data[1] < 1.0


def test_clip_grad_norm_names_a_max_norm_that_is_not_a_number():
    with pytest.raises(TypeError, match="max_norm must be a real number, got 'a'"):
        optim.clip_grad_norm_([ng.nn.Parameter(np.ones(2))], "a")


def test_the_required_sentinel_stays_itself_through_pickles_and_copies():
    """An SGD pickled when its lr had no default keeps ``required`` in its defaults: pickles
    from before optim was a package name ``nongate_np.optim._Required`` (they failed to
    load), and a copy or unpickled sentinel must still be ``required`` (the checks test
    ``is``): such an optimiser still steps, and refuses a group without an lr."""
    import copy
    import pickle
    old = b"cnongate_np.optim\n_Required\n)\x81."      # NEWOBJ of the class as it was named
    assert pickle.loads(old) is optim.required
    assert copy.deepcopy(optim.required) is optim.required
    model = nn.Linear(2, 1, dtype=np.float64)      # float64: the expected step is exact
    sgd = optim.SGD([{"params": [model.weight], "lr": 0.1}])
    sgd.defaults["lr"] = optim.required            # as SGD's defaults were before lr had one
    again = pickle.loads(pickle.dumps(sgd))
    assert again.defaults["lr"] is optim.required
    with pytest.raises(ValueError, match="required hyper-parameter 'lr'"):
        again.add_param_group({"params": [nn.Parameter(np.zeros(2))]})
    w = again.param_groups[0]["params"][0]
    before = w.numpy().copy()
    w.grad = np.ones(w.shape)
    again.step()
    np.testing.assert_allclose(w.numpy(), before - 0.1, rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# torch's arguments, groups and state layout; a property over configurations
# ---------------------------------------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_the_constructors_take_torchs_arguments(name):
    """Names, order, defaults and kinds, so a torch call moves over as it is (``foreach``,
    ``fused``, ``capturable`` and ``differentiable`` were a TypeError); the groups hold
    the same keys and values as torch's, in state_dict too."""
    torch = pytest.importorskip("torch")
    import inspect

    def params(cls):
        return [(p.name, p.default, p.kind)
                for p in inspect.signature(cls).parameters.values()]
    assert params(getattr(optim, name)) == params(getattr(torch.optim, name))
    ours = getattr(optim, name)([nn.Parameter(np.zeros(2))], lr=0.1)
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], lr=0.1)
    assert ours.defaults == theirs.defaults
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]


@pytest.mark.torch
@pytest.mark.parametrize("name, kw", [("SGD", dict()), ("SGD", dict(momentum=0.9)),
                                      ("Adam", dict(amsgrad=True)), ("AdamW", dict())])
def test_the_state_holds_what_torchs_holds(name, kw):
    """The same parameters have state, under the same keys: none for SGD without momentum
    (its empty entries made ``len(opt.state)`` and ``state_dict()["state"]`` differ), none
    for a parameter that never had a gradient."""
    torch = pytest.importorskip("torch")
    ours = [nn.Parameter(np.ones(3)) for _ in range(2)]
    theirs = [torch.ones(3, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    opt, topt = getattr(optim, name)(ours, **kw), getattr(torch.optim, name)(theirs, **kw)
    ours[0].grad, theirs[0].grad = np.ones(3), torch.ones(3, dtype=torch.float64)
    opt.step()
    topt.step()
    want = {i: sorted(e) for i, e in topt.state_dict()["state"].items()}
    assert {i: sorted(e) for i, e in opt.state_dict()["state"].items()} == want
    assert len(opt.state) == len(topt.state)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_foreach_and_fused_change_nothing(name):
    """They choose an implementation in torch; there is one here: the same numbers, bit for
    bit, and the choice kept in the groups (as torch keeps it) and in state_dict."""
    init, grads = _initial(), _grad_sequence()
    kw = dict(lr=0.05, momentum=0.9) if name == "SGD" else dict(lr=0.05)
    plain, _ = _run_ours(name, kw, init, grads, N_STEPS)
    for choice in (dict(foreach=True), dict(foreach=False), dict(fused=True),
                   dict(fused=False, foreach=False)):
        got, opt = _run_ours(name, {**kw, **choice}, init, grads, N_STEPS)
        for k, (a, b) in enumerate(zip(got, plain)):
            np.testing.assert_array_equal(a.data, b.data, err_msg=f"{choice}: parameter {k}")
        for key, value in choice.items():
            assert opt.param_groups[0][key] is value
            assert opt.state_dict()["param_groups"][0][key] is value


@pytest.mark.parametrize("make, error, match", [
    (lambda: optim.SGD(_p(), foreach=True, fused=True), ValueError,
     "SGD: fused and foreach cannot be True together"),
    (lambda: optim.AdamW([{"params": _p(), "fused": True}], foreach=True), ValueError,
     "AdamW: fused and foreach cannot be True together"),
    (lambda: optim.SGD(_p(), differentiable=True), ValueError,
     r"SGD: differentiable=True is not supported \(autograd through the optimizer step"),
    (lambda: optim.Adam(_p(), capturable=True), ValueError,
     r"Adam: capturable=True is not supported \(a step captured in a CUDA graph"),
    (lambda: optim.AdamW([{"params": _p(), "differentiable": True}]), ValueError,
     "AdamW: differentiable=True is not supported"),
    (lambda: optim.Adam(_p(), foreach="yes"), TypeError,
     "Adam: foreach must be None, True or False, got 'yes'"),
    (lambda: optim.SGD(_p(), fused=1), TypeError, "SGD: fused must be None, True or False"),
    (lambda: optim.Adam(_p(), capturable=None), TypeError,
     "Adam: capturable must be True or False, got None"),
])
def test_implementation_arguments_that_cannot_be_honoured_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.torch
def test_a_torch_state_with_foreach_or_fused_loads():
    """A torch checkpoint's groups name torch's implementation choices: they load (and keep
    their values); a group saved with capturable=True is refused by name."""
    torch = pytest.importorskip("torch")
    t = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    topt = torch.optim.AdamW([t], fused=True)
    t.grad = torch.ones(2, dtype=torch.float64)
    topt.step()
    sd = topt.state_dict()
    state = {i: {k: v.numpy() for k, v in e.items()} for i, e in sd["state"].items()}
    opt = optim.AdamW([nn.Parameter(t.detach().numpy().copy())])
    opt.load_state_dict({"state": state, "param_groups": sd["param_groups"]})
    assert opt.param_groups[0]["fused"] is True and opt.state_dict()["state"][0]["step"] == 1
    groups = [{**g, "capturable": True} for g in sd["param_groups"]]
    with pytest.raises(ValueError, match="capturable=True is not supported"):
        opt.load_state_dict({"state": state, "param_groups": groups})
    assert opt.param_groups[0]["capturable"] is False, "a refused state changed the groups"


@st.composite
def optimizer_runs(draw):
    """An optimiser and its arguments, two parameter groups (the second overriding some),
    which parameters have no gradient at which step, a step at which group 0's lr and
    weight_decay change, and a step at which the run is saved and resumed."""
    name = draw(st.sampled_from(["SGD", "Adam", "AdamW"]))
    rate = st.sampled_from([1e-3, 0.01, 0.1])
    decay = st.sampled_from([0.0, 1e-2, 0.3])
    kw = dict(lr=draw(rate), weight_decay=draw(decay), maximize=draw(st.booleans()))
    if name == "SGD":
        kw["momentum"] = draw(st.sampled_from([0.0, 0.5, 0.9]))
        if kw["momentum"] and draw(st.booleans()):
            kw["nesterov"] = True
        else:
            kw["dampening"] = draw(st.sampled_from([0.0, 0.1, 1.0]))
    else:
        kw["betas"] = (draw(st.sampled_from([0.0, 0.5, 0.9])),
                       draw(st.sampled_from([0.5, 0.99, 0.999])))
        kw["eps"] = draw(st.sampled_from([1e-8, 1e-3]))
        kw["amsgrad"] = draw(st.booleans())
        if name == "Adam":
            kw["decoupled_weight_decay"] = draw(st.booleans())
    second = draw(st.fixed_dictionaries({}, optional={"lr": rate, "weight_decay": decay}))
    steps = draw(st.integers(2, 6))
    missing = draw(st.lists(st.tuples(st.integers(0, steps - 1), st.integers(0, 2)),
                            max_size=4))
    change_at = draw(st.integers(0, steps))
    resume_at = draw(st.integers(0, steps))
    return name, kw, second, steps, set(missing), change_at, resume_at


@pytest.mark.torch
@given(run=optimizer_runs())
def test_any_configuration_runs_as_torchs(run):
    """Fixed gradients (some None at some steps: skipped), two groups, a change of group 0's
    lr and weight_decay mid-run, and a save and resume mid-run (ours through an .npz and
    JSON, torch's through its own state_dict): the parameters equal torch's (float64)."""
    import torch
    name, kw, second, steps, missing, change_at, resume_at = run
    rng = np.random.default_rng(steps)
    init = _initial()
    grads = [[None if (s, k) in missing else rng.standard_normal(shape)
              for k, shape in enumerate(SHAPES)] for s in range(steps)]

    def build(lib, values):
        ps = [nn.Parameter(v.copy()) if lib is optim else
              torch.nn.Parameter(torch.tensor(v.copy())) for v in values]
        return ps, getattr(lib, name)([{"params": ps[:2]}, {"params": ps[2:], **second}],
                                      **kw)

    results = []
    for lib in (optim, torch.optim):
        ps, opt = build(lib, init)
        for s in range(steps):
            if s == resume_at:
                sd = opt.state_dict()
                if lib is optim:
                    sd = _npz_json_round_trip(sd)
                    values = [p.data.copy() for p in ps]
                else:
                    values = [p.detach().numpy().copy() for p in ps]
                ps, opt = build(lib, values)
                opt.load_state_dict(sd)
            if s == change_at:
                opt.param_groups[0]["lr"] *= 3.0
                opt.param_groups[0]["weight_decay"] = 0.05
            opt.zero_grad()
            for p, g in zip(ps, grads[s]):
                if g is not None:
                    p.grad = g.copy() if lib is optim else torch.tensor(g.copy())
            opt.step()
        results.append([p.data if lib is optim else p.detach().numpy() for p in ps])
    for k, (a, b) in enumerate(zip(*results)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, err_msg=f"parameter {k}")


@pytest.mark.torch
def test_the_state_of_a_parameter_that_never_stepped_reads_as_torchs():
    """``opt.state[p]`` is {} for a parameter without state (a KeyError before), as torch's
    defaultdict, after a load_state_dict, a pickle or a copy too; reading it adds the
    empty entry to state_dict, as in torch."""
    import copy
    import pickle
    torch = pytest.importorskip("torch")
    ours = [nn.Parameter(np.ones(3)) for _ in range(2)]
    theirs = [torch.ones(3, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    opt, topt = optim.Adam(ours), torch.optim.Adam(theirs)
    ours[0].grad, theirs[0].grad = np.ones(3), torch.ones(3, dtype=torch.float64)
    opt.step()
    topt.step()
    assert opt.state[ours[1]] == topt.state[theirs[1]] == {}
    assert sorted(opt.state_dict()["state"]) == sorted(topt.state_dict()["state"]) == [0, 1]
    again = optim.Adam([nn.Parameter(np.ones(3)) for _ in range(2)])
    again.load_state_dict(opt.state_dict())
    for other in (again, pickle.loads(pickle.dumps(opt)), copy.deepcopy(opt)):
        p = other.param_groups[0]["params"][1]
        assert other.state[p] == {}
        assert other.state[other.param_groups[0]["params"][0]]["step"] == 1
