"""nongate_np.optim.lr_scheduler: the learning rates of every scheduler over 30 epochs equal
torch's on the same settings (three parameter groups with different rates), a state_dict
round trip (through JSON and through nongate_np.save) resumes exactly, bad arguments raise
as torch's do."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
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


@pytest.mark.parametrize("schedule", SCHEDULES, ids=_id)
def test_state_dict_round_trip_resumes_identically(schedule):
    name, kw = schedule
    opt, sched = _ours(name, kw)
    straight = _epochs(opt, sched, EPOCHS)

    opt, sched = _ours(name, kw)
    _epochs(opt, sched, 12)
    opt_state = opt.state_dict()
    state = json.loads(json.dumps(sched.state_dict()))     # plain data: JSON holds it
    assert state == sched.state_dict()
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
