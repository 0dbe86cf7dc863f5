"""nongate_np.optim.lr_scheduler: the learning rates of every scheduler over 30 epochs equal
torch's on the same settings (three parameter groups with different rates), a state_dict
round trip (through JSON and through nongate_np.save) resumes exactly, bad arguments raise
as torch's do."""

from __future__ import annotations

import collections
import json
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np import nn, optim
from nongate_np.optim import lr_scheduler

EPOCHS = 30
LRS = (0.1, 0.03, 0.5)


class Warmup:
    """A callable object (not a function): its attributes are what LambdaLR saves."""

    def __init__(self, epochs):
        self.epochs = epochs

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.epochs) * 0.97 ** epoch


# metrics fed to ReduceLROnPlateau: improvements, plateaus, small gains below the
# threshold, a NaN
METRICS = [1.0, 0.9, 0.95, 0.9, 0.91, 0.899995, 0.92, 0.7, 0.7, 0.71, float("nan"), 0.72,
           0.69, 0.695, 0.7, 0.8, 0.6, 0.61, 0.62, 0.63, 0.64, 0.5, 0.5, 0.5, 0.5, 0.49,
           0.4899, 0.5, 0.52, 0.3]

# (name, kwargs) — torch's class of the same name takes the same kwargs
SCHEDULES = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("StepLR", dict(step_size=1)),
    ("MultiStepLR", dict(milestones=[22, 3, 10, 10], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=8, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=30)),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + e))),
    ("LambdaLR", dict(lr_lambda=[Warmup(5), lambda e: 0.9 ** e, Warmup(2)])),
    ("ReduceLROnPlateau", dict(patience=3)),
    ("ReduceLROnPlateau", dict(patience=1, factor=0.5, cooldown=2,
                               min_lr=[0.02, 0.0, 0.2])),
    ("ReduceLROnPlateau", dict(mode="max", patience=0, threshold=0.05,
                               threshold_mode="abs", factor=0.7, min_lr=0.01)),
    ("ReduceLROnPlateau", dict(mode="min", patience=0, threshold=0.01,
                               threshold_mode="abs", eps=0.02)),
    ("ReduceLROnPlateau", dict(mode="max", patience=2, threshold=0.1)),
]


def _id(schedule):
    name, kw = schedule
    return name + "(" + ",".join(f"{k}={v!r:.20}" for k, v in kw.items()) + ")"


def _ours(name, kw, lrs=LRS):
    params = [nn.Parameter(np.zeros(2)) for _ in lrs]
    opt = optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=1.0)
    return opt, getattr(lr_scheduler, name)(opt, **kw)


def _epochs(opt, sched, epochs, first=0):
    """Step ``epochs`` epochs (optimiser, then scheduler); the rates after each."""
    seen = []
    for e in range(first, first + epochs):
        opt.step()
        if type(sched).__name__ == "ReduceLROnPlateau":     # ours or torch's
            sched.step(METRICS[e])
        else:
            sched.step()
        seen.append((list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups]))
    return seen


@pytest.mark.torch
@pytest.mark.parametrize("schedule", SCHEDULES, ids=_id)
def test_rates_equal_torch(schedule):
    torch = pytest.importorskip("torch")
    name, kw = schedule
    opt, sched = _ours(name, kw)
    params = [torch.zeros(2, requires_grad=True) for _ in LRS]
    topt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, LRS)], lr=1.0)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-15,
                               atol=0, err_msg=f"{name}: rates when built")
    ours, theirs = _epochs(opt, sched, EPOCHS), _epochs(topt, tsched, EPOCHS)
    for e, ((last, lrs), (tlast, tlrs)) in enumerate(zip(ours, theirs), 1):
        np.testing.assert_allclose(last, tlast, rtol=1e-15, atol=0,
                                   err_msg=f"{name}: get_last_lr() after epoch {e}")
        np.testing.assert_allclose(lrs, tlrs, rtol=1e-15, atol=0,
                                   err_msg=f"{name}: param_groups' lr after epoch {e}")
    if name != "ReduceLROnPlateau":
        assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)
    # the schedule did change the rates (else the comparison above proves little)
    assert len({tuple(lrs) for _, lrs in ours}) > 1, f"{name}: the rates never changed"


def _int_milestones(state):
    """A scheduler's state after JSON with MultiStepLR's milestones' keys back as ints
    (JSON writes int keys as str): all that JSON changes of a state (the test then loads
    the JSON form itself)."""
    if isinstance(state, dict):
        return {k: {int(m): c for m, c in v.items()} if k == "milestones" and isinstance(
            v, dict) else _int_milestones(v) for k, v in state.items()}
    return [_int_milestones(v) for v in state] if isinstance(state, list) else state


@pytest.mark.parametrize("schedule", SCHEDULES, ids=_id)
def test_state_dict_round_trip_resumes_identically(schedule):
    name, kw = schedule
    opt, sched = _ours(name, kw)
    straight = _epochs(opt, sched, EPOCHS)

    opt, sched = _ours(name, kw)
    _epochs(opt, sched, 12)
    opt_state = opt.state_dict()
    state = json.loads(json.dumps(sched.state_dict()))     # plain data: JSON holds it
    assert _int_milestones(state) == sched.state_dict()
    # resume as torch documents: a new scheduler on a fresh optimiser, then the
    # optimiser's state (the current lr, initial_lr), then the scheduler's
    opt2, sched2 = _ours(name, kw, lrs=(1.0, 2.0, 3.0))
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(state)
    resumed = _epochs(opt2, sched2, EPOCHS - 12, first=12)
    for e, (a, b) in enumerate(zip(straight[12:], resumed), 13):
        np.testing.assert_allclose(b[0], a[0], rtol=1e-15, atol=0,
                                   err_msg=f"{name}: resumed get_last_lr() at epoch {e}")
        np.testing.assert_allclose(b[1], a[1], rtol=1e-15, atol=0,
                                   err_msg=f"{name}: resumed lr at epoch {e}")


@pytest.mark.torch
@pytest.mark.parametrize("schedule", [s for s in SCHEDULES if s[0] != "LambdaLR"], ids=_id)
def test_torchs_state_dict_resumes_ours_as_torch_goes_on(schedule):
    """A torch run's scheduler state (a migrated torch checkpoint) loads into ours: torch's
    call bookkeeping (_get_lr_called_within_step, _is_initial) was refused as unknown
    keys; ours then goes on with torch's rates."""
    torch = pytest.importorskip("torch")
    name, kw = schedule
    params = [torch.zeros(2, requires_grad=True) for _ in LRS]
    topt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, LRS)], lr=1.0)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    _epochs(topt, tsched, 12)
    opt, sched = _ours(name, kw)
    opt.load_state_dict({"state": {}, "param_groups": [
        {k: v for k, v in g.items()} for g in topt.state_dict()["param_groups"]]})
    sched.load_state_dict(tsched.state_dict())
    ours, theirs = _epochs(opt, sched, EPOCHS - 12, 12), _epochs(topt, tsched, EPOCHS - 12, 12)
    for e, (a, b) in enumerate(zip(ours, theirs), 13):
        np.testing.assert_allclose(a[1], b[1], rtol=1e-15, atol=0, err_msg=f"{name}: {e}")


def test_lambda_state_keeps_callable_objects_attributes():
    opt, sched = _ours("LambdaLR", dict(lr_lambda=[Warmup(5), lambda e: 1.0, Warmup(2)]))
    sched.lr_lambdas[0].epochs = 9
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"epochs": 9}, None, {"epochs": 2}]
    opt2, sched2 = _ours("LambdaLR", dict(lr_lambda=[Warmup(5), lambda e: 1.0, Warmup(2)]))
    sched2.load_state_dict(json.loads(json.dumps(state)))
    assert sched2.lr_lambdas[0].epochs == 9


def test_scheduler_state_saved_with_the_checkpoint(tmp_path):
    model = nn.Linear(3, 2, dtype=np.float64)
    opt = optim.Adam([{"params": [model.weight], "lr": 0.01},
                      {"params": [model.bias], "lr": 0.1}])
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=1e-4)
    x = np.random.default_rng(0).standard_normal((4, 3))
    for _ in range(4):
        opt.zero_grad()
        (model(x) ** 2).sum().backward()
        opt.step()
        sched.step()
    ng.save(model, tmp_path / "ckpt.npz", optimizer=opt,
            extra={"scheduler": sched.state_dict()})
    expected = []
    for _ in range(5):
        sched.step()
        expected.append(sched.get_last_lr())

    ckpt = ng.load(tmp_path / "ckpt.npz")
    sched2 = lr_scheduler.CosineAnnealingLR(ckpt.optimizer, T_max=6, eta_min=1e-4)
    ckpt.optimizer.load_state_dict(ckpt.optimizer_state)
    sched2.load_state_dict(ckpt.extra["scheduler"])
    assert [g["initial_lr"] for g in ckpt.optimizer.param_groups] == [0.01, 0.1]
    for k, want in enumerate(expected):
        sched2.step()
        np.testing.assert_allclose(sched2.get_last_lr(), want, rtol=1e-15, atol=0,
                                   err_msg=f"epoch {5 + k} after load")


# -- bad arguments ---------------------------------------------------------------------------

def _optimizers(lib):
    """Three parameter groups, in ``lib`` (nongate_np or torch)."""
    if lib is ng:
        return _ours("StepLR", dict(step_size=1))[0].__class__(
            [{"params": [nn.Parameter(np.zeros(1))], "lr": lr} for lr in LRS], lr=1.0)
    return lib.optim.SGD([{"params": [lib.zeros(1, requires_grad=True)], "lr": lr}
                          for lr in LRS], lr=1.0)


def _add_group_then_step(s, lib):
    p = nn.Parameter(np.zeros(1)) if lib is ng else lib.zeros(1, requires_grad=True)
    s.optimizer.add_param_group({"params": [p], "lr": 0.1})
    s.optimizer.step()
    s.step()


@pytest.mark.torch
@pytest.mark.parametrize("name, kw", [("ExponentialLR", dict(gamma=0.5)),
                                      ("StepLR", dict(step_size=2)),
                                      ("CosineAnnealingLR", dict(T_max=20))])
def test_group_added_later_is_scheduled_as_torch(name, kw):
    torch = pytest.importorskip("torch")
    rates = []
    for lib in (ng, torch):
        sched = getattr(lib.optim.lr_scheduler, name)(_optimizers(lib), **kw)
        sched.optimizer.step()
        sched.step()
        _add_group_then_step(sched, lib)
        for _ in range(4):
            sched.optimizer.step()
            sched.step()
        rates.append(sched.get_last_lr())
    np.testing.assert_allclose(rates[0], rates[1], rtol=1e-15, atol=0, err_msg=name)


# (make(optimizer, lib), what torch raises): ours raises the same type
AS_TORCH = [
    (lambda o, lib: lib.optim.lr_scheduler.StepLR([1.0], 3), TypeError),
    (lambda o, lib: lib.optim.lr_scheduler.ReduceLROnPlateau(nn.Linear(1, 1), 3), TypeError),
    (lambda o, lib: lib.optim.lr_scheduler.StepLR(o, 3, last_epoch=4), KeyError),
    (lambda o, lib: lib.optim.lr_scheduler.LambdaLR(o, [abs, abs]), ValueError),
    (lambda o, lib: lib.optim.lr_scheduler.LambdaLR(o, 0.5), TypeError),
    (lambda o, lib: lib.optim.lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError),
    (lambda o, lib: lib.optim.lr_scheduler.ReduceLROnPlateau(o, mode="lowest"), ValueError),
    (lambda o, lib: lib.optim.lr_scheduler.ReduceLROnPlateau(o, threshold_mode="x"),
     ValueError),
    (lambda o, lib: lib.optim.lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.0, 0.0]),
     ValueError),
    (lambda o, lib: lib.optim.lr_scheduler.ReduceLROnPlateau(o).step("low"), ValueError),
    (lambda o, lib: lib.optim.lr_scheduler.ReduceLROnPlateau(o).step(None), TypeError),
    (lambda o, lib: _add_group_then_step(lib.optim.lr_scheduler.LambdaLR(o, abs), lib),
     ValueError),
]


@pytest.mark.torch
@pytest.mark.parametrize("make, error", AS_TORCH)
def test_bad_arguments_raise_as_torch(make, error):
    torch = pytest.importorskip("torch")
    for lib in (ng, torch):
        with pytest.raises(error):
            make(_optimizers(lib), lib)


@pytest.mark.parametrize("make, message", [
    (lambda o: lr_scheduler.StepLR(nn.Linear(1, 1), 3),
     "StepLR: Linear is not an Optimizer; pass the optimiser"),
    (lambda o: lr_scheduler.StepLR(o, 3, last_epoch=4),
     r"StepLR: param 'initial_lr' is not specified in param_groups\[0\]"),
    (lambda o: lr_scheduler.LambdaLR(o, [abs, abs]),
     r"LambdaLR: expected 3 lr_lambdas \(one per parameter group\), got 2"),
    (lambda o: lr_scheduler.LambdaLR(o, 0.5),
     "LambdaLR: lr_lambda must be a callable f\\(epoch\\) -> factor .* entry 0 is float"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0),
     r"ReduceLROnPlateau: factor must be in \[0.0, 1.0\), got 1.0"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="lowest"),
     "mode must be 'min' or 'max', got 'lowest'"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o).step(None),
     "ReduceLROnPlateau.step: metrics must be a real number .* got NoneType"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o).step("low"),
     "ReduceLROnPlateau.step: metrics must be a real number .* got str"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1),
     "ReduceLROnPlateau: patience must be >= 0, got -1"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, cooldown=1.5),
     "ReduceLROnPlateau: cooldown must be an int, got 1.5"),
    # torch accepts these and fails later with a ZeroDivisionError, or never
    (lambda o: lr_scheduler.StepLR(o, 0), "StepLR: step_size must be >= 1, got 0"),
    (lambda o: lr_scheduler.StepLR(o, 2.0), "StepLR: step_size must be an int, got 2.0"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, 0), "T_max must be > 0, got 0"),
    (lambda o: lr_scheduler.ExponentialLR(o, -0.5), "gamma must be >= 0.0, got -0.5"),
    (lambda o: lr_scheduler.MultiStepLR(o, 3), "milestones must be an iterable of ints"),
    (lambda o: lr_scheduler.MultiStepLR(o, [2, 1.5]), r"milestones\[0\] must be an int"),
    (lambda o: _add_group_then_step(lr_scheduler.LambdaLR(o, abs), ng),
     "LambdaLR.step: the optimizer has 4 parameter groups, the scheduler was built for 3"),
])
def test_error_messages(make, message):
    with pytest.raises((TypeError, ValueError, KeyError), match=message):
        make(_optimizers(ng))


def test_load_state_dict_refuses_another_schedulers_state():
    opt, step = _ours("StepLR", dict(step_size=2))
    _, expo = _ours("ExponentialLR", dict(gamma=0.5))
    with pytest.raises(ValueError, match=r"StepLR.load_state_dict: expected a dict with keys "
                                         r"\['_last_lr', '_step_count', 'base_lrs', 'gamma', "
                                         r"'last_epoch', 'step_size'\]"):
        step.load_state_dict(expo.state_dict())
    _, other = _ours("StepLR", dict(step_size=2), lrs=(0.1, 0.2))
    with pytest.raises(ValueError, match="saved for 2 parameter groups, the optimizer has 3"):
        step.load_state_dict(other.state_dict())
    bad = {**step.state_dict(), "step_size": 0}
    with pytest.raises(ValueError, match="step_size must be >= 1, got 0"):
        step.load_state_dict(bad)
    assert step.step_size == 2, "a refused state changed the scheduler"
    assert not math.isnan(step.get_last_lr()[0])


# -- resuming, chaining, ReduceLROnPlateau over many settings: against torch ----------------

def _both(make, lrs=LRS, initial=None):
    """``make(optimizer, lib)`` for ours and torch's, on three groups of rates ``lrs`` (with
    ``initial_lr`` set to ``initial`` when given, as a loaded optimiser state sets it)."""
    import torch
    built = []
    for lib in (ng, torch):
        opt = _optimizers(lib)
        for group, lr, first in zip(opt.param_groups, lrs, initial or lrs):
            group["lr"] = lr
            if initial:
                group["initial_lr"] = first
        built.append((opt, make(opt, lib)))
    return built


RESUMABLE = [s for s in SCHEDULES if s[0] != "ReduceLROnPlateau"] + [
    ("CosineAnnealingLR", dict(T_max=7.5, eta_min=0.01))]


@pytest.mark.torch
@pytest.mark.parametrize("last_epoch", [0, 3, 9])
@pytest.mark.parametrize("schedule", RESUMABLE, ids=_id)
def test_built_at_a_last_epoch_goes_on_as_torch(schedule, last_epoch):
    """A schedule built with ``last_epoch >= 0`` (resumed without its state dict: the
    groups hold ``initial_lr`` and the current lr) sets torch's rates when built and at
    every epoch after."""
    pytest.importorskip("torch")
    name, kw = schedule
    (opt, sched), (topt, tsched) = _both(
        lambda o, lib: getattr(lib.optim.lr_scheduler, name)(o, last_epoch=last_epoch, **kw),
        lrs=(0.05, 0.01, 0.2), initial=LRS)
    np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-13, atol=0)
    assert sched.last_epoch == tsched.last_epoch
    ours, theirs = _epochs(opt, sched, 15), _epochs(topt, tsched, 15)
    for e, (a, b) in enumerate(zip(ours, theirs), last_epoch + 2):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=0, err_msg=f"{name}: epoch {e}")


@pytest.mark.torch
@pytest.mark.parametrize("first, second", [(SCHEDULES[3], SCHEDULES[2]),
                                           (SCHEDULES[0], SCHEDULES[4]),
                                           (SCHEDULES[4], SCHEDULES[3]),
                                           (SCHEDULES[6], SCHEDULES[1])],
                         ids=lambda s: s[0])
def test_two_schedulers_on_one_optimizer_chain_as_torchs(first, second):
    """Both stepped every epoch: each multiplies the rate the other set (the recursive
    forms), as torch's chaining; get_last_lr of each and the groups' rates agree."""
    pytest.importorskip("torch")

    def make(opt, lib):
        mod = lib.optim.lr_scheduler
        return [getattr(mod, first[0])(opt, **first[1]), getattr(mod, second[0])(opt,
                                                                                 **second[1])]

    rates = []
    for opt, scheds in _both(make):
        seen = [scheds[0].get_last_lr() + scheds[1].get_last_lr()]
        for _ in range(25):
            opt.step()
            for s in scheds:
                s.step()
            seen.append(scheds[0].get_last_lr() + scheds[1].get_last_lr() +
                        [g["lr"] for g in opt.param_groups])
        rates.append(seen)
    for e, (a, b) in enumerate(zip(*rates)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=0, err_msg=f"epoch {e}")


@st.composite
def plateau_runs(draw):
    """ReduceLROnPlateau's arguments and 25 metrics: a random walk, rounded so ties and
    small changes near the threshold occur, with maybe a NaN or an infinity."""
    kw = dict(mode=draw(st.sampled_from(["min", "max"])),
              factor=draw(st.sampled_from([0.0, 0.1, 0.5, 0.9])),
              patience=draw(st.integers(0, 3)),
              threshold=draw(st.sampled_from([0.0, 1e-4, 0.05, 0.5])),
              threshold_mode=draw(st.sampled_from(["rel", "abs"])),
              cooldown=draw(st.integers(0, 3)),
              min_lr=draw(st.one_of(st.sampled_from([0, 0.02]),
                                    st.lists(st.sampled_from([0.0, 0.01, 0.05]), min_size=3,
                                             max_size=3))),
              eps=draw(st.sampled_from([1e-8, 1e-2])))
    steps = draw(st.lists(st.sampled_from([-1.0, -0.5, -0.01, 0.0, 0.01, 0.5, 1.0]),
                          min_size=25, max_size=25))
    metrics = list(np.cumsum(steps) + draw(st.sampled_from([-3.0, 0.0, 3.0])))
    for value in draw(st.lists(st.sampled_from([math.nan, math.inf, -math.inf]),
                               max_size=2)):
        metrics[draw(st.integers(0, 24))] = value
    return kw, metrics


@pytest.mark.torch
@given(run=plateau_runs())
def test_reduce_on_plateau_follows_torch_for_any_settings(run):
    """Each epoch's rates, get_last_lr, best value, bad-epoch and cooldown counters equal
    torch's, for either mode and threshold mode, any patience, cooldown, min_lr (one or per
    group), eps, and metrics with ties, NaN and infinities."""
    kw, metrics = run
    seen = []
    for opt, sched in _both(lambda o, lib: lib.optim.lr_scheduler.ReduceLROnPlateau(o, **kw)):
        trace = []
        for m in metrics:
            opt.step()
            sched.step(m)
            trace.append(sched.get_last_lr() + [g["lr"] for g in opt.param_groups] +
                         [sched.best, sched.num_bad_epochs, sched.cooldown_counter,
                          sched.last_epoch])
        seen.append(trace)
    for e, (a, b) in enumerate(zip(*seen), 1):
        np.testing.assert_allclose(a, b, rtol=1e-15, atol=0, equal_nan=True,
                                   err_msg=f"epoch {e}, metrics {metrics[:e]}")


@pytest.mark.parametrize("name, kw, call", [
    ("StepLR", dict(step_size=2), lambda s: s.step(3)),
    ("CosineAnnealingLR", dict(T_max=5), lambda s: s.step(epoch=3)),
    ("ReduceLROnPlateau", dict(), lambda s: s.step(0.5, 3)),
    ("ReduceLROnPlateau", dict(), lambda s: s.step(0.5, epoch=3)),
])
def test_the_deprecated_epoch_argument_is_refused_by_name(name, kw, call):
    """torch's step(epoch) (deprecated there): a TypeError that says so, not Python's
    "takes 1 positional argument", and nothing changes."""
    opt, sched = _ours(name, kw)
    before = sched.state_dict()
    with pytest.raises(TypeError, match=rf"^{name}.step: the epoch argument \(deprecated in "
                                        r"torch\) is not supported, got epoch=3; call step\(\) "
                                        "once per epoch"):
        call(sched)
    assert sched.state_dict() == before


# -- torch's other schedules: warm-ups, polynomial decay, warm restarts, cycles, and the
# -- two that combine schedules ------------------------------------------------------------

STEPS = 40


class Halving:
    """A callable object as CyclicLR's scale_fn: its attributes are saved."""

    def __init__(self, base):
        self.base = base

    def __call__(self, x):
        return self.base ** x


# (id, make(optimizer, module)): the same call on ours (module lr_scheduler) and torch's
NEW = [
    ("LinearLR()", lambda o, m: m.LinearLR(o)),
    ("LinearLR(0.25,0.9,7)", lambda o, m: m.LinearLR(o, 0.25, 0.9, 7)),
    ("LinearLR(decay)", lambda o, m: m.LinearLR(o, start_factor=1.0, end_factor=0.05,
                                                total_iters=30)),
    ("ConstantLR()", lambda o, m: m.ConstantLR(o)),
    ("ConstantLR(0.5,12)", lambda o, m: m.ConstantLR(o, factor=0.5, total_iters=12)),
    ("MultiplicativeLR", lambda o, m: m.MultiplicativeLR(o, lambda e: 0.95)),
    ("MultiplicativeLR(list)", lambda o, m: m.MultiplicativeLR(
        o, [lambda e: 0.9, lambda e: 1.0 + 0.01 * e, Warmup(3)])),
    ("PolynomialLR()", lambda o, m: m.PolynomialLR(o)),
    ("PolynomialLR(30,2)", lambda o, m: m.PolynomialLR(o, total_iters=30, power=2.0)),
    ("PolynomialLR(10,0.5)", lambda o, m: m.PolynomialLR(o, 10, 0.5)),
    ("CosineAnnealingWarmRestarts(5)", lambda o, m: m.CosineAnnealingWarmRestarts(o, 5)),
    ("CosineAnnealingWarmRestarts(3,2)", lambda o, m: m.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=1e-3)),
    ("CyclicLR()", lambda o, m: m.CyclicLR(o, 0.01, 0.1, step_size_up=4)),
    ("CyclicLR(triangular2)", lambda o, m: m.CyclicLR(
        o, [0.01, 0.02, 0.001], [0.1, 0.2, 0.05], step_size_up=3, step_size_down=5,
        mode="triangular2")),
    ("CyclicLR(exp_range)", lambda o, m: m.CyclicLR(
        o, 0.01, 0.1, step_size_up=5, mode="exp_range", gamma=0.97,
        base_momentum=[0.7, 0.8, 0.85], max_momentum=0.95)),
    ("CyclicLR(scale_fn)", lambda o, m: m.CyclicLR(
        o, 0.01, 0.1, step_size_up=2.5, scale_fn=Halving(0.9), scale_mode="iterations",
        cycle_momentum=False)),
    ("OneCycleLR()", lambda o, m: m.OneCycleLR(o, 0.5, total_steps=STEPS)),
    ("OneCycleLR(three_phase)", lambda o, m: m.OneCycleLR(
        o, [0.5, 1.0, 0.2], epochs=4, steps_per_epoch=10, pct_start=0.25,
        anneal_strategy="linear", three_phase=True, div_factor=10.0, final_div_factor=100.0,
        base_momentum=0.8, max_momentum=[0.9, 0.95, 0.99])),
    ("OneCycleLR(no momentum)", lambda o, m: m.OneCycleLR(
        o, 0.5, total_steps=45, cycle_momentum=False, pct_start=0.5)),
    ("SequentialLR(warm-up, decay)", lambda o, m: m.SequentialLR(
        o, [m.LinearLR(o, 0.1, total_iters=5), m.ExponentialLR(o, 0.9)], milestones=[5])),
    ("SequentialLR(three)", lambda o, m: m.SequentialLR(
        o, [m.ConstantLR(o, 0.2, 3), m.CosineAnnealingLR(o, T_max=10), m.StepLR(o, 4, 0.5)],
        milestones=[3, 20])),
    ("SequentialLR(lambdas)", lambda o, m: m.SequentialLR(
        o, [m.MultiplicativeLR(o, lambda e: 0.9), m.LambdaLR(o, lambda e: 1 / (e + 1)),
            m.MultiStepLR(o, [0, 3, 5], 0.5)], milestones=[6, 15])),
    ("SequentialLR(restarts)", lambda o, m: m.SequentialLR(
        o, [m.LinearLR(o, 0.5, total_iters=4), m.CosineAnnealingWarmRestarts(o, 6)],
        milestones=[4])),
    ("SequentialLR(one cycle)", lambda o, m: m.SequentialLR(
        o, [m.OneCycleLR(o, 0.5, total_steps=20), m.PolynomialLR(o, 10, 2.0)],
        milestones=[18])),
    ("SequentialLR(milestone 0)", lambda o, m: m.SequentialLR(
        o, [m.ExponentialLR(o, 0.5), m.LinearLR(o, 0.3, total_iters=3)], milestones=[0])),
    ("SequentialLR(chain first)", lambda o, m: m.SequentialLR(
        o, [m.ChainedScheduler([m.ExponentialLR(o, 0.9), m.StepLR(o, 3, 0.5)]),
            m.LinearLR(o, 0.5)], milestones=[10])),
    ("SequentialLR(sequence first)", lambda o, m: m.SequentialLR(
        o, [m.SequentialLR(o, [m.ConstantLR(o, 0.5, 2), m.LinearLR(o, 0.5)], [3]),
            m.ExponentialLR(o, 0.9)], milestones=[10])),
    ("SequentialLR(chain at 0)", lambda o, m: m.SequentialLR(
        o, [m.ExponentialLR(o, 0.5), m.ChainedScheduler([m.LinearLR(o, 0.5, total_iters=4),
                                                          m.ExponentialLR(o, 0.95)])],
        milestones=[0])),
    ("ChainedScheduler", lambda o, m: m.ChainedScheduler([m.ConstantLR(o, 0.1, 4),
                                                         m.ExponentialLR(o, 0.9)])),
    ("ChainedScheduler(three)", lambda o, m: m.ChainedScheduler(
        [m.LinearLR(o, 0.2, total_iters=6), m.StepLR(o, 5, 0.7), m.PolynomialLR(o, 30)],
        optimizer=o)),
    ("ChainedScheduler(cyclic)", lambda o, m: m.ChainedScheduler(
        [m.CyclicLR(o, 0.01, 0.1, 3), m.ExponentialLR(o, 0.99)])),
]
COMBINED = ("SequentialLR", "ChainedScheduler")


def _groups(lib, kind, lrs=LRS):
    """An optimiser of ``lib`` (nongate_np or torch) of ``kind`` over three groups."""
    params = [nn.Parameter(np.zeros(2)) if lib is ng else lib.zeros(2, requires_grad=True)
              for _ in lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, lrs)]
    extra = dict(momentum=0.5) if kind == "SGD" else {}
    return getattr(lib.optim, kind)(groups, lr=1.0, **extra)


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def _trace(opt, sched, steps):
    """get_last_lr, the groups' rates and momenta when built and after each step."""
    seen = [(list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups], _momenta(opt))]
    for _ in range(steps):
        opt.step()
        sched.step()
        seen.append((list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups],
                     _momenta(opt)))
    return seen


def _assert_traces(ours, theirs, what):
    for e, (a, b) in enumerate(zip(ours, theirs)):
        for name, x, y in zip(("get_last_lr()", "lr", "momentum"), a, b):
            np.testing.assert_allclose(x, y, rtol=1e-15, atol=0,
                                       err_msg=f"{what}: {name} at step {e}")


def _both_new(make, kind="SGD"):
    import torch
    built = []
    for lib, module in ((ng, lr_scheduler), (torch, torch.optim.lr_scheduler)):
        opt = _groups(lib, kind)
        built.append((opt, make(opt, module)))
    return built


# torch warns when a SequentialLR gives a scheduler inside another its initial step
QUIET = pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")


@pytest.mark.torch
@QUIET
@pytest.mark.parametrize("kind", ["SGD", "Adam"])
@pytest.mark.parametrize("name, make", NEW, ids=[n for n, _ in NEW])
def test_new_schedules_rates_and_momenta_equal_torchs(name, make, kind):
    """40 steps over three groups: get_last_lr, every group's lr and its momentum (SGD's
    momentum, Adam's betas[0], which CyclicLR and OneCycleLR cycle) equal torch's, bit for
    bit in practice (1e-15 relative: torch's expressions in its order)."""
    pytest.importorskip("torch")
    (opt, sched), (topt, tsched) = _both_new(make, kind)
    ours, theirs = _trace(opt, sched, STEPS), _trace(topt, tsched, STEPS)
    _assert_traces(ours, theirs, name)
    assert len({tuple(lrs) for _, lrs, _ in ours}) > 1, f"{name}: the rates never changed"


def _plain_state(state):
    """torch's state as ours holds it: torch's own call bookkeeping left out (MultiStepLR's
    Counter is ours too)."""
    if isinstance(state, collections.Counter):
        return collections.Counter(state)
    if isinstance(state, dict):
        return {k: _plain_state(v) for k, v in state.items()
                if k not in ("_get_lr_called_within_step", "_is_initial")}
    if isinstance(state, (list, tuple)):
        return [_plain_state(v) for v in state]
    return state


@pytest.mark.torch
@QUIET
@pytest.mark.parametrize("name, make", NEW, ids=[n for n, _ in NEW])
def test_new_schedules_state_round_trip_mid_run_goes_on_as_torch(name, make):
    """After 13 steps: our state_dict is torch's (keys and values) and plain data; through
    JSON, into a new scheduler on a new optimiser (torch's order: the scheduler built, then
    the optimiser's state loaded, then the scheduler's), it goes on as torch's run goes
    on; so does torch's state loaded into ours."""
    pytest.importorskip("torch")
    (opt, sched), (topt, tsched) = _both_new(make)
    _trace(opt, sched, 13)
    _trace(topt, tsched, 13)
    state = json.loads(json.dumps(sched.state_dict()))
    assert _int_milestones(state) == sched.state_dict() == _plain_state(tsched.state_dict())
    resumed = []
    for saved in (state, tsched.state_dict()):
        fresh = _groups(ng, "SGD", lrs=(1.0, 2.0, 3.0))
        again = make(fresh, lr_scheduler)
        fresh.load_state_dict(opt.state_dict())
        again.load_state_dict(saved)
        resumed.append(_trace(fresh, again, STEPS - 13)[1:])
    theirs = _trace(topt, tsched, STEPS - 13)[1:]
    _assert_traces(resumed[0], theirs, f"{name} resumed from our state")
    _assert_traces(resumed[1], theirs, f"{name} resumed from torch's state")


RESUMABLE_NEW = [(n, make) for n, make in NEW if not n.startswith(COMBINED)]


@pytest.mark.torch
@pytest.mark.parametrize("last_epoch", [0, 3, 9])
@pytest.mark.parametrize("name, make", RESUMABLE_NEW, ids=[n for n, _ in RESUMABLE_NEW])
def test_new_schedules_built_at_a_last_epoch_go_on_as_torch(name, make, last_epoch):
    """Built with ``last_epoch >= 0`` on groups that hold what a saved optimiser state
    holds (``initial_lr``; OneCycleLR's ``max_lr``, ``min_lr`` and momenta): torch's
    rates and momenta when built and after."""
    import torch
    traces = []
    for lib, module in ((ng, lr_scheduler), (torch, torch.optim.lr_scheduler)):
        opt = _groups(lib, "SGD", lrs=(0.05, 0.01, 0.2))
        for group, first in zip(opt.param_groups, LRS):
            group.update(initial_lr=first, max_lr=5 * first, min_lr=first / 100,
                         max_momentum=0.9, base_momentum=0.8)
        sched = make(opt, _AtEpoch(module, last_epoch))
        assert sched.last_epoch == last_epoch + 1
        traces.append(_trace(opt, sched, 15))
    _assert_traces(*traces, name)


class _AtEpoch:
    """A module whose classes are built with ``last_epoch=``."""

    def __init__(self, module, last_epoch):
        self.module, self.last_epoch = module, last_epoch

    def __getattr__(self, name):
        cls = getattr(self.module, name)
        return lambda *args, **kw: cls(*args, last_epoch=self.last_epoch, **kw)


@st.composite
def cycles(draw):
    """CyclicLR's arguments: any mode, step sizes (fractional too), amplitudes per group."""
    kw = dict(base_lr=draw(st.sampled_from([0.001, [0.001, 0.01, 0.0]])),
              max_lr=draw(st.sampled_from([0.1, [0.05, 0.2, 0.01]])),
              step_size_up=draw(st.sampled_from([1, 2, 3.5, 7])),
              step_size_down=draw(st.sampled_from([None, 0, 1, 4.5])),
              mode=draw(st.sampled_from(["triangular", "triangular2", "exp_range"])),
              gamma=draw(st.sampled_from([1.0, 0.9, 0.99])),
              cycle_momentum=draw(st.booleans()),
              base_momentum=draw(st.sampled_from([0.8, [0.5, 0.6, 0.7]])),
              max_momentum=draw(st.sampled_from([0.9, 0.95])))
    return kw, draw(st.sampled_from(["SGD", "Adam", "AdamW"]))


@pytest.mark.torch
@given(case=cycles())
def test_cyclic_lr_follows_torch_for_any_settings(case):
    kw, kind = case
    (opt, sched), (topt, tsched) = _both_new(lambda o, m: m.CyclicLR(o, **kw), kind)
    _assert_traces(_trace(opt, sched, 30), _trace(topt, tsched, 30), f"CyclicLR({kw})")


@st.composite
def one_cycles(draw):
    """OneCycleLR's arguments: steps, the rising fraction (not one of no step, where torch
    divides by 0), either annealing, two or three phases, factors, momenta."""
    total = draw(st.integers(2, 30))
    pct = draw(st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.5, 0.9, 1.0]))
    assume(float(pct * total) - 1 != 0)
    kw = dict(max_lr=draw(st.sampled_from([0.1, [0.05, 0.5, 1.0]])), total_steps=total,
              pct_start=pct, anneal_strategy=draw(st.sampled_from(["cos", "linear"])),
              three_phase=draw(st.booleans()), cycle_momentum=draw(st.booleans()),
              div_factor=draw(st.sampled_from([25.0, 4.0])),
              final_div_factor=draw(st.sampled_from([1e4, 10.0])),
              base_momentum=draw(st.sampled_from([0.85, [0.5, 0.6, 0.7]])))
    return kw, draw(st.sampled_from(["SGD", "Adam"]))


@pytest.mark.torch
@given(case=one_cycles())
def test_one_cycle_lr_follows_torch_for_any_settings(case):
    """Every step of the cycle, to its last (a last phase of no step, which torch reaches
    at the last step with a ZeroDivisionError, is a ValueError here, at that step)."""
    import torch
    kw, kind = case
    traces = []
    for lib, module in ((ng, lr_scheduler), (torch, torch.optim.lr_scheduler)):
        opt = _groups(lib, kind)
        sched = module.OneCycleLR(opt, **kw)
        trace, failure = _trace(opt, sched, 0), ValueError if lib is ng else ZeroDivisionError
        for _ in range(kw["total_steps"]):
            opt.step()
            try:
                sched.step()
            except failure:
                trace.append("fails")
                break
            trace.append(_trace(opt, sched, 0)[0])
        traces.append(trace)
    assert [t == "fails" for t in traces[0]] == [t == "fails" for t in traces[1]], \
        "the same steps, ending alike"
    _assert_traces([t for t in traces[0] if t != "fails"],
                   [t for t in traces[1] if t != "fails"], f"OneCycleLR({kw})")


# -- the new schedules' errors ----------------------------------------------------------------

AS_TORCH_NEW = [
    (lambda o, m: m.LinearLR(o, start_factor=0), ValueError),
    (lambda o, m: m.LinearLR(o, start_factor=1.5), ValueError),
    (lambda o, m: m.LinearLR(o, end_factor=-0.1), ValueError),
    (lambda o, m: m.ConstantLR(o, factor=1.5), ValueError),
    (lambda o, m: m.MultiplicativeLR(o, [abs]), ValueError),
    (lambda o, m: m.MultiplicativeLR(o, 0.9), TypeError),
    (lambda o, m: m.CosineAnnealingWarmRestarts(o, 0), ValueError),
    (lambda o, m: m.CosineAnnealingWarmRestarts(o, 2.0), ValueError),
    (lambda o, m: m.CosineAnnealingWarmRestarts(o, 2, T_mult=0), ValueError),
    (lambda o, m: m.CosineAnnealingWarmRestarts(o, 2, eta_min="0"), ValueError),
    (lambda o, m: m.CyclicLR(o, 0.01, 0.1, mode="sawtooth"), ValueError),
    (lambda o, m: m.CyclicLR(o, [0.01, 0.02], 0.1), ValueError),
    (lambda o, m: m.OneCycleLR(o, 0.1), ValueError),
    (lambda o, m: m.OneCycleLR(o, 0.1, total_steps=0), ValueError),
    (lambda o, m: m.OneCycleLR(o, 0.1, total_steps=2.0), ValueError),
    (lambda o, m: m.OneCycleLR(o, 0.1, epochs=2, steps_per_epoch=-1), ValueError),
    (lambda o, m: m.OneCycleLR(o, 0.1, total_steps=10, pct_start=1), ValueError),
    (lambda o, m: m.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5), ValueError),
    (lambda o, m: m.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="exp"), ValueError),
    (lambda o, m: m.OneCycleLR(o, 0.1, total_steps=10, last_epoch=3), KeyError),
    (lambda o, m: m.SequentialLR(o, [], []), ValueError),
    (lambda o, m: m.SequentialLR(o, [m.ExponentialLR(o, 0.9)], [2]), ValueError),
    (lambda o, m: m.SequentialLR(o, [m.ExponentialLR(o, 0.9), m.ReduceLROnPlateau(o)], [2]),
     ValueError),
    (lambda o, m: m.ChainedScheduler([]), ValueError),
    (lambda o, m: m.ChainedScheduler([m.ExponentialLR(o, 0.9), m.ReduceLROnPlateau(o)]),
     ValueError),
    (lambda o, m: m.ChainedScheduler([m.ExponentialLR(o, 0.9)],
                                     optimizer=type(o)([p for g in o.param_groups
                                                        for p in g["params"]], lr=0.1)),
     ValueError),
]


@pytest.mark.torch
@pytest.mark.parametrize("make, error", AS_TORCH_NEW)
def test_new_schedules_bad_arguments_raise_as_torch(make, error):
    import torch
    for lib, module in ((ng, lr_scheduler), (torch, torch.optim.lr_scheduler)):
        with pytest.raises(error):
            make(_groups(lib, "SGD"), module)


@pytest.mark.torch
def test_a_combined_schedule_after_a_milestone_is_refused_when_built():
    """torch's SequentialLR sets the scheduler of a milestone to its epoch 0, which a
    SequentialLR or ChainedScheduler inside cannot do: torch fails at that milestone
    (NotImplementedError); ours refuses it when built (ValueError)."""
    import torch
    opt = _groups(torch, "SGD")
    m = torch.optim.lr_scheduler
    sched = m.SequentialLR(opt, [m.ConstantLR(opt, 0.5, 2),
                                 m.ChainedScheduler([m.ExponentialLR(opt, 0.9)])], [2])
    _trace(opt, sched, 1)
    with pytest.raises(NotImplementedError):
        sched.step()
    opt, m = _groups(ng, "SGD"), lr_scheduler
    for inner in (lambda: m.ChainedScheduler([m.ExponentialLR(opt, 0.9)]),
                  lambda: m.SequentialLR(opt, [m.ExponentialLR(opt, 0.9)], [])):
        with pytest.raises(ValueError, match=r"SequentialLR: the (ChainedScheduler|"
                                             r"SequentialLR) at index 1 would be set to its "
                                             "epoch 0 at its milestone 2"):
            m.SequentialLR(opt, [m.ConstantLR(opt, 0.5, 2), inner()], [2])
        m.SequentialLR(opt, [m.ConstantLR(opt, 0.5, 2), inner()], [0])     # at epoch 0: fine


@pytest.mark.parametrize("make, error, message", [
    # torch accepts these and fails later (a ZeroDivisionError), or never uses them
    (lambda o: lr_scheduler.LinearLR(o, total_iters=0), ValueError,
     "LinearLR: total_iters must be >= 1, got 0"),
    (lambda o: lr_scheduler.ConstantLR(o, total_iters=2.5), TypeError,
     "ConstantLR: total_iters must be an int, got 2.5"),
    (lambda o: lr_scheduler.PolynomialLR(o, power=-1.0), ValueError,
     r"PolynomialLR: power must be >= 0.0, got -1.0"),
    (lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1, step_size_up=0), ValueError,
     "CyclicLR: step_size_up must be > 0 and finite, got 0"),
    (lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1, scale_mode="epochs",
                                     scale_fn=abs), ValueError,
     "CyclicLR: scale_mode must be 'cycle' or 'iterations', got 'epochs'"),
    (lambda o: lr_scheduler.CyclicLR(o, "0.01", 0.1), TypeError,
     r"CyclicLR: base_lr\[0\] must be a real number, got '0.01'"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=5, div_factor=0), ValueError,
     "OneCycleLR: div_factor must be > 0 and finite, got 0"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=10, pct_start=0.1),
     ValueError, r"OneCycleLR: pct_start · total_steps = 0.1 · 10 is 1: a rising phase of no "
                 r"step, which torch divides by \(ZeroDivisionError\)"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=10, last_epoch=3), KeyError,
     r"OneCycleLR: param 'initial_lr' is not specified in param_groups\[0\]"),
    (lambda o: [g.update(initial_lr=0.1) for g in o.param_groups] and
     lr_scheduler.OneCycleLR(o, 0.1, total_steps=10, last_epoch=3), KeyError,
     r"OneCycleLR: param_groups\[0\] has no 'max_lr', which building the scheduler with "
     "last_epoch=-1 sets"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(o, 2)] * 3, [5, 2]),
     ValueError, r"SequentialLR: milestones must be in ascending order, got \[5, 2\]"),
    (lambda o: lr_scheduler.SequentialLR(o, [o, lr_scheduler.StepLR(o, 2)], [2]), TypeError,
     "SequentialLR: the scheduler at index 0 is a SGD, not a learning-rate scheduler"),
    (lambda o: lr_scheduler.ChainedScheduler(lr_scheduler.StepLR(o, 2)), TypeError,
     "ChainedScheduler: schedulers must be a list of schedulers, got StepLR"),
])
def test_new_schedules_error_messages(make, error, message):
    with pytest.raises(error, match=message):
        make(_groups(ng, "SGD"))


@pytest.mark.torch
def test_a_failing_step_raises_and_changes_nothing():
    """OneCycleLR built with a rising phase of no step, stepped past total_steps, or into
    a last phase of no step, and ConstantLR(factor=0) at total_iters: torch raises
    (ValueError, ZeroDivisionError); ours raises a ValueError and the scheduler's state
    and the rates stay as they were."""
    import torch
    cases = [  # (make, steps first, torch's error, our message)
        (lambda o, m: m.OneCycleLR(o, 0.1, total_steps=3), 3, ValueError,
         "OneCycleLR: tried to step 4 times; the specified number of total steps is 3"),
        (lambda o, m: m.OneCycleLR(o, 0.1, total_steps=4, pct_start=1.0), 3,
         ZeroDivisionError, "OneCycleLR: phase 2 of the schedule has no steps .* so step 4 "
                            "would divide by 0"),
        (lambda o, m: m.ConstantLR(o, factor=0.0, total_iters=2), 1, ZeroDivisionError,
         r"ConstantLR: factor=0 cannot be undone at epoch total_iters=2 \(torch divides by "
         r"it: ZeroDivisionError\)")]
    for make, steps, error, message in cases:
        for lib, module in ((ng, lr_scheduler), (torch, torch.optim.lr_scheduler)):
            opt = _groups(lib, "SGD")
            sched = make(opt, module)
            _trace(opt, sched, steps)
            before = (repr(sched.state_dict()), repr(opt.param_groups[0]))
            with pytest.raises(ValueError if lib is ng else error,
                               match=message if lib is ng else None):
                sched.step()
            if lib is ng:
                assert (repr(sched.state_dict()), repr(opt.param_groups[0])) == before
    with pytest.raises(ZeroDivisionError):
        torch.optim.lr_scheduler.OneCycleLR(_groups(torch, "SGD"), 0.1, total_steps=10,
                                            pct_start=0.1)


def test_a_state_refused_by_another_schedule_changes_nothing():
    """Another class's state (its keys), a SequentialLR's whose second scheduler is of
    another class (refused by it, after the first loaded: rolled back), a chain of
    another length."""
    o = _groups(ng, "SGD")
    linear = lr_scheduler.LinearLR(o)
    with pytest.raises(ValueError, match=r"ConstantLR.load_state_dict: expected a dict with "
                                         r"keys \['_last_lr', '_step_count', 'base_lrs', "
                                         r"'factor', 'last_epoch', 'total_iters'\]"):
        lr_scheduler.ConstantLR(o).load_state_dict(linear.state_dict())

    def sequence(second):
        opt = _groups(ng, "SGD")
        return lr_scheduler.SequentialLR(opt, [lr_scheduler.ConstantLR(opt, 0.5, 2),
                                               second(opt)], milestones=[3])
    saved = sequence(lambda o: lr_scheduler.ExponentialLR(o, 0.9))
    for _ in range(5):
        saved.step()
    target = sequence(lambda o: lr_scheduler.StepLR(o, 2))
    before = target.state_dict()
    with pytest.raises(ValueError, match="StepLR.load_state_dict: expected a dict with keys"):
        target.load_state_dict(saved.state_dict())
    assert target.state_dict() == before
    chain = lr_scheduler.ChainedScheduler([lr_scheduler.ExponentialLR(o, 0.9)])
    with pytest.raises(ValueError, match="ChainedScheduler.load_state_dict: the state holds "
                                         "2 schedulers' states, this one has 1 schedulers"):
        chain.load_state_dict({"_last_lr": [0.1] * 3,
                               "_schedulers": [chain._schedulers[0].state_dict()] * 2})


@pytest.mark.parametrize("name, kw, call", [
    ("CosineAnnealingWarmRestarts", dict(T_0=3), lambda s: s.step(1.5)),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10), lambda s: s.step(epoch=3)),
    ("LinearLR", dict(), lambda s: s.step(3)),
])
def test_the_new_schedules_refuse_the_epoch_argument(name, kw, call):
    opt = _groups(ng, "SGD")
    sched = getattr(lr_scheduler, name)(opt, **kw)
    before = sched.state_dict()
    with pytest.raises(TypeError, match=rf"^{name}.step: the epoch argument \(deprecated in "
                                        r"torch\) is not supported"):
        call(sched)
    assert sched.state_dict() == before
    for combined in (lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2)], []),
                     lr_scheduler.ChainedScheduler([lr_scheduler.StepLR(opt, 2)])):
        with pytest.raises(TypeError, match=rf"^{type(combined).__name__}.step: the epoch "
                                            "argument"):
            combined.step(3)


# -- torch reads what ours saves -----------------------------------------------------------

def _by_name(name, kw):
    return lambda o, m: getattr(m, name)(o, **kw)


# every schedule, (id, make(optimizer, module)) as NEW's
EVERY = [(_id(s), _by_name(*s)) for s in SCHEDULES] + NEW


def _go_on(opt, sched, steps, first):
    """The rates and momenta after each of ``steps`` more epochs (the plateau fed
    METRICS from epoch ``first``)."""
    seen = []
    for e in range(first, first + steps):
        opt.step()
        if type(sched).__name__ == "ReduceLROnPlateau":     # ours or torch's
            sched.step(METRICS[e % len(METRICS)])
        else:
            sched.step()
        seen.append((list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups],
                     _momenta(opt)))
    return seen


@pytest.mark.torch
@QUIET
@pytest.mark.parametrize("through", ["memory", "checkpoint"])
@pytest.mark.parametrize("name, make", EVERY, ids=[n for n, _ in EVERY])
def test_torchs_scheduler_loads_our_state_and_goes_on_as_ours(tmp_path, name, make, through):
    """After 13 epochs of ours: torch's scheduler of the same class, built on torch's
    optimiser, then given our optimiser's groups and ``load_state_dict(ours.state_dict())``
    (torch's order) goes on with our rates and momenta, bit for bit in practice; from
    ``state_dict()`` as it is, and through a checkpoint (``ng.save``'s JSON, where
    MultiStepLR's milestones lose their int keys) and ``to_torch_state_dict``. MultiStepLR's
    milestones were a sorted list, which torch indexed as a count: other rates, silently."""
    torch = pytest.importorskip("torch")
    opt, sched = _groups(ng, "SGD"), None
    sched = make(opt, lr_scheduler)
    _go_on(opt, sched, 13, 0)
    state, groups = sched.state_dict(), opt.state_dict()
    if through == "checkpoint":
        ng.save(nn.Linear(1, 1), tmp_path / "ckpt.npz",
                extra={"scheduler": state, "groups": groups["param_groups"]})
        extra = ng.load(tmp_path / "ckpt.npz").extra
        state = optim.to_torch_state_dict(extra["scheduler"])
        groups = optim.to_torch_state_dict({"state": {}, "param_groups": extra["groups"]})
    topt = _groups(torch, "SGD")
    tsched = make(topt, torch.optim.lr_scheduler)
    topt.load_state_dict({"state": {}, "param_groups": groups["param_groups"]})
    tsched.load_state_dict(state)
    ours, theirs = _go_on(opt, sched, STEPS - 13, 13), _go_on(topt, tsched, STEPS - 13, 13)
    _assert_traces(ours, theirs, f"{name}, torch from our state ({through})")


def test_multistep_state_holds_torchs_counter_and_loads_every_form(tmp_path):
    """MultiStepLR's state holds its milestones as torch's Counter {milestone: count}, in
    ascending order; through ng.save and ng.load (JSON: str keys), as the sorted list
    states held before, and as a Counter, it loads and goes on as the run never stopped
    (a milestone after the load, one listed twice); keys or counts that are not
    ints >= 0 / >= 1 are refused, naming the milestone, and change nothing."""
    opt, sched = _ours("MultiStepLR", dict(milestones=[22, 3, 10, 10], gamma=0.3))
    straight = _epochs(opt, sched, EPOCHS)
    opt, sched = _ours("MultiStepLR", dict(milestones=[22, 3, 10, 10], gamma=0.3))
    _epochs(opt, sched, 8)
    state = sched.state_dict()
    assert type(state["milestones"]) is collections.Counter
    assert list(state["milestones"].items()) == [(3, 1), (10, 2), (22, 1)]
    ng.save(nn.Linear(1, 1), tmp_path / "ckpt.npz", extra={"scheduler": state})
    saved = ng.load(tmp_path / "ckpt.npz").extra["scheduler"]
    assert saved["milestones"] == {"3": 1, "10": 2, "22": 1}
    forms = {"checkpoint": saved, "list (before)": {**state, "milestones": [3, 10, 10, 22]},
             "Counter": state, "dict": {**state, "milestones": {22: 1, 10: 2, 3: 1}}}
    for form, loaded in forms.items():
        opt2, sched2 = _ours("MultiStepLR", dict(milestones=[1], gamma=0.9),
                             lrs=(1.0, 2.0, 3.0))
        opt2.load_state_dict(opt.state_dict())
        sched2.load_state_dict(loaded)
        assert sched2.milestones == [3, 10, 10, 22] and sched2.gamma == 0.3, form
        resumed = _epochs(opt2, sched2, EPOCHS - 8, first=8)
        for e, (a, b) in enumerate(zip(straight[8:], resumed), 9):
            np.testing.assert_allclose(b[1], a[1], rtol=1e-15, atol=0,
                                       err_msg=f"MultiStepLR from {form}: lr at epoch {e}")
    for bad, error, message in (({"x": 1}, TypeError, r"milestone 'x' must be an int"),
                                ({"-1": 1}, TypeError, r"milestone '-1' must be an int"),
                                ({3: 0}, ValueError, r"the count of milestone 3 must be >= 1"),
                                ({3: 1.5}, TypeError, r"the count of milestone 3 must be an "
                                                      r"int")):
        with pytest.raises(error, match=rf"^MultiStepLR.load_state_dict: {message}"):
            sched.load_state_dict({**state, "milestones": bad})
        assert sched.state_dict() == state


@pytest.mark.torch
def test_torchs_multistep_computed_other_rates_from_our_former_list():
    """Why the state holds a Counter: torch's MultiStepLR takes the state's attributes as
    they are and reads milestones[last_epoch] as a count, so the sorted list the state
    held before gave torch other rates at a milestone (here gamma^2 at epoch 1, listed
    once), without a word; from the Counter, torch's rates are ours."""
    torch = pytest.importorskip("torch")
    opt, sched = _ours("MultiStepLR", dict(milestones=[1, 2, 2], gamma=0.5))
    state, groups = sched.state_dict(), opt.state_dict()["param_groups"]

    def torchs(milestones):
        topt = _groups(torch, "SGD")
        tsched = torch.optim.lr_scheduler.MultiStepLR(topt, [7], gamma=0.9)
        topt.load_state_dict({"state": {}, "param_groups": groups})
        tsched.load_state_dict({**state, "milestones": milestones})
        return _epochs(topt, tsched, 3)
    ours = np.array(_epochs(opt, sched, 3))           # (epoch, last_lr | lr, group)
    np.testing.assert_allclose(ours[:, 1], [[lr * f for lr in LRS] for f in (0.5, 0.125,
                                                                               0.125)],
                               rtol=1e-15, atol=0, err_msg="ours, epochs 1-3")
    np.testing.assert_allclose(np.array(torchs(state["milestones"])), ours, rtol=1e-15,
                               atol=0, err_msg="torch's from the Counter")
    np.testing.assert_allclose(np.array(torchs([1, 2, 2]))[0, 1], [lr * 0.25 for lr in LRS],
                               rtol=1e-15, atol=0, err_msg="torch's from the list, epoch 1")
