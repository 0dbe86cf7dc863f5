"""Learning-rate schedules, as ``torch.optim.lr_scheduler``: each sets its optimiser's
``param_groups[k]["lr"]`` when stepped, with torch's formulas (its recursive, "chainable"
forms), so the learning rates agree with torch's epoch for epoch.

Call ``scheduler.step()`` once per epoch, after the epoch's ``optimizer.step()`` calls
(``ReduceLROnPlateau.step(metric)`` with the monitored metric). Building a scheduler already
sets the epoch-0 rates and records each group's starting rate as ``group["initial_lr"]``.

``state_dict()`` holds plain data only (ints, floats, str, lists of them; torch's key names;
MultiStepLR's ``milestones`` is torch's Counter, a dict of int keys that JSON and
``nongate_np.save`` write as str and ``load_state_dict`` reads back), so it can go into
``nongate_np.save(..., extra={"scheduler": s.state_dict()})`` or JSON, and torch's
scheduler of the same class loads it (``load_state_dict``) and goes on with the same rates::

    opt = Adam(model.parameters(), lr=1e-3)
    sched = StepLR(opt, step_size=10, gamma=0.5)
    ... save(model, path, optimizer=opt, extra={"scheduler": sched.state_dict()})
    # resume: build the scheduler first, then load the optimiser's state (which holds the
    # current lr and initial_lr), then the scheduler's
    ckpt = load(path); opt = ckpt.optimizer
    sched = StepLR(opt, step_size=10, gamma=0.5); opt.load_state_dict(ckpt.optimizer_state)
    sched.load_state_dict(ckpt.extra["scheduler"])

The schedules: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LambdaLR,
MultiplicativeLR, LinearLR, ConstantLR, PolynomialLR, CosineAnnealingWarmRestarts,
CyclicLR and OneCycleLR (these two cycle the momentum too: SGD's ``momentum``, Adam's and
AdamW's ``betas[0]``), ReduceLROnPlateau, and the two that combine others, SequentialLR
and ChainedScheduler (their ``state_dict`` nests their schedulers' states).

Differences from torch: ``step()`` refuses an ``epoch`` argument (deprecated in torch; a
TypeError that says so), and there is no warning for a scheduler stepped before its
optimiser. Arguments torch takes but fails on later (a ZeroDivisionError or
NotImplementedError some epochs on) are refused when the scheduler is built, with a
ValueError, or where they can serve some epochs (ConstantLR's factor 0) with a ValueError at
the step torch fails at; a step that fails (OneCycleLR past its ``total_steps``) changes
nothing. A state is refused by a scheduler of another class by
its keys (torch's); LambdaLR's and MultiplicativeLR's hold the same keys, as torch's, so
only ``fit``'s record of the class tells them apart.
"""

from __future__ import annotations

import bisect
import collections
import math
import numbers
import types
from collections.abc import Mapping, Sequence
from typing import Any, Callable

from numpy import bool_ as np_bool

from .optimizer import Optimizer, _check_number

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "LambdaLR", "MultiplicativeLR", "LinearLR", "ConstantLR", "PolynomialLR",
           "CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR", "SequentialLR",
           "ChainedScheduler", "ReduceLROnPlateau"]


def _check_optimizer(where: str, optimizer) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{where}: {type(optimizer).__name__} is not an Optimizer; pass the "
                        "optimiser whose learning rates to schedule, e.g. "
                        "Adam(model.parameters())")


def _check_int(where: str, name: str, value, low: int) -> None:
    """A TypeError unless ``value`` is an int (not a bool), a ValueError unless >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int, got {value!r}")
    if value < low:
        raise ValueError(f"{where}: {name} must be >= {low}, got {value!r}")


def _per_group(where: str, name: str, value, optimizer: Optimizer) -> list:
    """``value`` for each parameter group: a list or tuple of one per group, or one value
    repeated (torch's ``_format_param``)."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{where}: expected {n} {name} (one per parameter group), got "
                             f"{len(value)}")
        return list(value)
    return [value] * n


class LRScheduler:
    """Base class: the epoch counter, ``step``, ``get_last_lr`` and the state round trip.

    Subclasses set their hyper-parameters, list them in ``_hyper`` (the names ``state_dict``
    saves besides the counters), implement ``_check()`` (validate them, a TypeError or
    ValueError naming the class) and ``get_lr()`` (the rates for epoch ``last_epoch``, one
    per parameter group), then call ``super().__init__``. Where torch's has them they add
    ``_get_closed_form_lr()`` (the rates at ``last_epoch`` from ``base_lrs``, which
    SequentialLR uses at a milestone) and ``_restore_rates()`` (fit's resume).

    Parameters
    ----------
    optimizer : Optimizer
        SGD, Adam or AdamW; its ``param_groups[k]["lr"]`` are overwritten at every step.
    last_epoch : int, default -1
        The index of the last epoch done; -1 starts the schedule (and records each group's
        ``lr`` as ``group["initial_lr"]``). A resumed schedule (``last_epoch >= 0``) needs
        ``initial_lr`` in every group (restored by the optimiser's ``load_state_dict``).

    Attributes
    ----------
    base_lrs : list of float
        Each group's ``initial_lr``.
    last_epoch : int
        Epochs stepped so far (0 after construction).

    Raises
    ------
    TypeError
        ``optimizer`` is not an Optimizer, or a hyper-parameter has the wrong type.
    ValueError
        A hyper-parameter is out of range.
    KeyError
        ``last_epoch >= 0`` and a group has no ``"initial_lr"`` (as torch).
    """

    _hyper: tuple[str, ...] = ()
    _counters = ("base_lrs", "last_epoch", "_step_count", "_last_lr")

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        where = type(self).__name__
        _check_optimizer(where, optimizer)
        _check_int(where, "last_epoch", last_epoch, -1)
        self._check()
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{where}: param 'initial_lr' is not specified in "
                                   f"param_groups[{i}] when resuming with last_epoch="
                                   f"{last_epoch}; load the optimiser's saved state first, "
                                   "or start with last_epoch=-1")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = int(last_epoch)
        self._is_initial = False
        self._initial_step()

    def _initial_step(self) -> None:
        """The step every schedule takes when built (SequentialLR takes it again), with
        ``_is_initial`` set: the epoch-0 rates."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def _check(self) -> None:  # pragma: no cover - interface
        """Raise TypeError or ValueError for an invalid hyper-parameter."""

    def get_lr(self) -> list[float]:  # pragma: no cover - interface
        """The learning rates for epoch ``last_epoch``, one per parameter group."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step`` set, one per parameter group (a copy)."""
        return list(self._last_lr)

    def step(self, epoch: None = None) -> None:
        """Advance one epoch and set every group's ``lr`` to the schedule's value.

        A group added to the optimiser since (``add_param_group``) is scheduled from its
        current ``lr`` by the schedules that update ``lr`` recursively (StepLR,
        MultiStepLR, ExponentialLR, CosineAnnealingLR between troughs), as torch's.

        Raises
        ------
        TypeError
            ``epoch`` is given: torch's deprecated ``step(epoch)`` is not supported.
        ValueError
            A schedule that needs each group's ``initial_lr`` (LambdaLR, CosineAnnealingLR
            at a trough) met a group added after the scheduler was built (as torch).
        """
        _no_epoch(type(self).__name__, epoch)
        self._step_count += 1
        try:
            self._update_lr()
        except BaseException:
            self._step_count -= 1
            raise

    def _update_lr(self, epoch: int | None = None) -> None:
        """Go to the next epoch (``epoch`` None), or to ``epoch`` with the closed form where
        the schedule has one (``_get_closed_form_lr``, else ``get_lr``), as torch's
        ``_update_lr``: what SequentialLR does to a scheduler at its milestone. A schedule
        that fails (an error from ``get_lr``) leaves the epoch as it was."""
        groups = self.optimizer.param_groups
        before = self.last_epoch
        self.last_epoch = before + 1 if epoch is None else epoch
        try:
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if epoch is not None and closed is not None else self.get_lr()
        except BaseException:
            self.last_epoch = before
            raise
        if len(values) != len(groups):
            self.last_epoch = before
            raise ValueError(f"{type(self).__name__}.step: the optimizer has {len(groups)} "
                             f"parameter groups, the scheduler was built for "
                             f"{len(self.base_lrs)}; build it after add_param_group")
        for group, lr in zip(groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in groups]

    def _restore_rates(self) -> None:
        """After ``load_state_dict`` on a scheduler built on an optimiser whose state was
        loaded first (``fit``'s resume): put back what building the scheduler changed, the
        rates (and cycled momenta) that the state's last step set. Nothing for the
        schedules whose building leaves the rates (StepLR, ...): the optimiser's resumed
        rates stay, or those the caller set."""

    def _lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """The schedule's counters and hyper-parameters under torch's names, as plain data
        (ints, floats, str, lists): ``base_lrs``, ``last_epoch``, ``_step_count``,
        ``_last_lr`` and e.g. ``step_size``, ``gamma``. Lists are copies."""
        return {key: _copy(getattr(self, key)) for key in self._counters + self._hyper}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (after a JSON round trip too), or what
        torch's scheduler of the same class returned (its call bookkeeping,
        ``_get_lr_called_within_step`` and ``_is_initial``, is left out). The optimiser's own
        state (its current ``lr`` and ``initial_lr``) is restored by its ``load_state_dict``,
        not here.

        Raises
        ------
        ValueError
            ``state_dict`` lacks or adds keys (another scheduler's state), or was saved for
            a different number of parameter groups.
        TypeError, ValueError
            A saved hyper-parameter is invalid (as in the constructor).
        """
        where = f"{type(self).__name__}.load_state_dict"
        expected = set(self._counters + self._hyper)
        if isinstance(state_dict, Mapping):     # torch's own bookkeeping: nothing to restore
            state_dict = {k: v for k, v in state_dict.items() if k not in _TORCH_PRIVATE}
        if not isinstance(state_dict, Mapping) or set(state_dict) != expected:
            got = sorted(state_dict) if isinstance(state_dict, Mapping) else \
                type(state_dict).__name__
            raise ValueError(f"{where}: expected a dict with keys {sorted(expected)}, got "
                             f"{got}")
        n = len(self.optimizer.param_groups)
        if len(state_dict["_last_lr"]) != n:
            raise ValueError(f"{where}: the state was saved for "
                             f"{len(state_dict['_last_lr'])} parameter groups, the optimizer "
                             f"has {n}")
        old = {key: getattr(self, key) for key in expected}
        for key, value in state_dict.items():
            setattr(self, key, _copy(value))
        try:
            self._check()
        except (TypeError, ValueError):
            for key, value in old.items():
                setattr(self, key, value)
            raise


def _no_epoch(where: str, epoch) -> None:
    """torch's deprecated ``step(epoch)`` (it jumps the schedule to ``epoch``, with a
    warning) is refused by name, not with Python's count of positional arguments."""
    if epoch is not None:
        raise TypeError(f"{where}.step: the epoch argument (deprecated in torch) is not "
                        f"supported, got epoch={epoch!r}; call step() once per epoch, or "
                        "build the scheduler with last_epoch= to resume at an epoch")


#: keys of torch's scheduler states that hold its own call bookkeeping (torch 2.13)
_TORCH_PRIVATE = ("_get_lr_called_within_step", "_is_initial", "verbose")


def _copy(value):
    """Lists (and tuples, as after JSON: lists) and dicts copied, so no state is shared."""
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    return [_copy(v) for v in value] if isinstance(value, (list, tuple)) else value


def _callable_state(fn) -> dict | None:
    """What torch saves of a user's callable: the attributes of a callable object, None
    for a function (its code is not saved)."""
    return None if isinstance(fn, types.FunctionType) or fn is None else dict(fn.__dict__)


class StepLR(LRScheduler):
    """Multiply each group's learning rate by ``gamma`` every ``step_size`` epochs:
    ``lr_e = initial_lr · gamma^⌊e / step_size⌋``.

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        The period, in epochs (>= 1).
    gamma : float, default 0.1
        The factor (>= 0).
    last_epoch : int, default -1
        See :class:`LRScheduler`.
    """

    _hyper = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def _check(self) -> None:
        _check_int("StepLR", "step_size", self.step_size, 1)
        _check_number("StepLR", "gamma", self.gamma)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size)
                for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply each group's learning rate by ``gamma`` at each epoch in ``milestones`` (by
    ``gamma^n`` at a milestone listed n times).

    Parameters
    ----------
    optimizer : Optimizer
    milestones : iterable of int
        Epoch indices (>= 0); kept as a sorted list (``self.milestones``).
    gamma : float, default 0.1
        The factor (>= 0).
    last_epoch : int, default -1
        See :class:`LRScheduler`.

    ``state_dict()["milestones"]`` is torch's form, a ``collections.Counter`` ``{milestone:
    count}`` (a dict, in ascending order), so that torch's ``MultiStepLR.load_state_dict``,
    which takes the state's attributes as they are and indexes them
    (``milestones[last_epoch]``, ``milestones.elements()``), computes the same rates.
    JSON and ``nongate_np.save`` write its keys as str; :meth:`load_state_dict` takes them
    back, and the sorted list of ints that states held before.
    """

    _hyper = ("milestones", "gamma")

    def __init__(self, optimizer: Optimizer, milestones, gamma: float = 0.1,
                 last_epoch: int = -1):
        if not hasattr(milestones, "__iter__"):
            raise TypeError(f"MultiStepLR: milestones must be an iterable of ints, got "
                            f"{milestones!r}")
        # NOTE: a sorted list here, for bisect; the state holds torch's Counter
        self.milestones, self.gamma = sorted(milestones), gamma
        super().__init__(optimizer, last_epoch)

    def _check(self) -> None:
        for k, m in enumerate(self.milestones):
            _check_int("MultiStepLR", f"milestones[{k}]", m, 0)
        _check_number("MultiStepLR", "gamma", self.gamma)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._lrs()
        factor = self.gamma ** self.milestones.count(self.last_epoch)
        return [lr * factor for lr in self._lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** bisect.bisect_right(self.milestones, self.last_epoch)
                for base in self.base_lrs]

    def state_dict(self) -> dict[str, Any]:
        """As :meth:`LRScheduler.state_dict`, with ``milestones`` as torch's
        ``Counter({milestone: count})`` (ascending), not the sorted list kept here."""
        state = super().state_dict()
        state["milestones"] = collections.Counter(self.milestones)
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """As :meth:`LRScheduler.load_state_dict`; ``milestones`` may be a dict or Counter
        ``{milestone: count}`` (this class's and torch's state), its keys ints or, after
        JSON, strings of digits, or the sorted list of ints of states saved before.
        TypeError or ValueError for keys that are not ints >= 0 or counts that are not
        ints >= 1, naming the milestone."""
        milestones = state_dict.get("milestones") if isinstance(state_dict, Mapping) else None
        if isinstance(milestones, Mapping):
            state_dict = {**state_dict, "milestones": _expand_counts(milestones)}
        super().load_state_dict(state_dict)


def _expand_counts(counts: Mapping) -> list[int]:
    """A state's ``{milestone: count}`` as the sorted list it stands for (each milestone
    count times): keys ints or strings of digits (JSON's), counts ints >= 1."""
    where = "MultiStepLR.load_state_dict"
    listed = []
    for key, count in counts.items():
        milestone = int(key) if isinstance(key, str) and key.isdigit() else key
        _check_int(where, f"milestone {key!r}", milestone, 0)
        _check_int(where, f"the count of milestone {key!r}", count, 1)
        listed += [int(milestone)] * int(count)
    return sorted(listed)


class ExponentialLR(LRScheduler):
    """Multiply each group's learning rate by ``gamma`` every epoch:
    ``lr_e = initial_lr · gamma^e``.

    Parameters
    ----------
    optimizer : Optimizer
    gamma : float
        The factor (>= 0).
    last_epoch : int, default -1
        See :class:`LRScheduler`.
    """

    _hyper = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _check(self) -> None:
        _check_number("ExponentialLR", "gamma", self.gamma)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from each group's ``initial_lr`` down to ``eta_min`` over ``T_max``
    epochs (then back up, periodically), without restarts:
    ``lr_e = eta_min + (initial_lr - eta_min)·(1 + cos(π e / T_max)) / 2``, computed by
    torch's recursion from the current ``lr`` (so a change made to ``lr`` from outside
    carries on).

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int
        Half the period, in epochs (> 0).
    eta_min : float, default 0.0
        The lowest learning rate (>= 0).
    last_epoch : int, default -1
        See :class:`LRScheduler`.
    """

    _hyper = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1):
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def _check(self) -> None:
        _check_number("CosineAnnealingLR", "T_max", self.T_max)
        if self.T_max == 0:
            raise ValueError("CosineAnnealingLR: T_max must be > 0, got 0")
        _check_number("CosineAnnealingLR", "eta_min", self.eta_min)

    def get_lr(self) -> list[float]:
        e, T, low = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._lrs()
        if self._step_count == 1 and e > 0:
            # NOTE: resumed at last_epoch > 0 without a state: the closed form, as torch
            return [low + (base - low) * (1 + math.cos(e * math.pi / T)) / 2
                    for base in self.base_lrs]
        if (e - 1 - T) % (2 * T) == 0:
            # NOTE: at the trough the recursion's denominator 1 + cos(π) is 0: step up
            return [lr + (base - low) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, self._lrs())]
        return [(1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T))
                * (lr - low) + low for lr in self._lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        low = self.eta_min
        return [low + (base - low) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base in self.base_lrs]


class _Lambdas(LRScheduler):
    """LambdaLR's and MultiplicativeLR's functions of the epoch, one per parameter group,
    and their state (torch's: the attributes of each that is a callable object)."""

    _hyper = ("lr_lambdas",)

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | list,
                 last_epoch: int = -1):
        where = type(self).__name__
        _check_optimizer(where, optimizer)
        self.lr_lambdas = _per_group(where, "lr_lambdas", lr_lambda, optimizer)
        super().__init__(optimizer, last_epoch)

    def _check(self) -> None:
        for k, fn in enumerate(self.lr_lambdas):
            if not callable(fn):
                raise TypeError(f"{type(self).__name__}: lr_lambda must be a callable "
                                f"f(epoch) -> factor (or a list of them), but entry {k} is "
                                f"{type(fn).__name__}")

    def state_dict(self) -> dict[str, Any]:
        state = {key: _copy(getattr(self, key)) for key in self._counters}
        state["lr_lambdas"] = [_callable_state(fn) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        fns = self.lr_lambdas
        saved = state_dict.get("lr_lambdas") if isinstance(state_dict, Mapping) else None
        if not isinstance(saved, list) or len(saved) != len(fns):
            raise ValueError(f"{type(self).__name__}.load_state_dict: expected "
                             f"'lr_lambdas', a list of {len(fns)} dicts or None, got "
                             f"{saved!r:.100}")
        super().load_state_dict({**state_dict, "lr_lambdas": fns})
        for fn, attrs in zip(fns, saved):
            if attrs is not None:
                fn.__dict__.update(attrs)


class LambdaLR(_Lambdas):
    """Each group's learning rate is ``initial_lr · lr_lambda(epoch)``.

    Parameters
    ----------
    optimizer : Optimizer
    lr_lambda : callable or list of callables
        ``f(epoch: int) -> float``, or one per parameter group.
    last_epoch : int, default -1
        See :class:`LRScheduler`.

    ``state_dict()["lr_lambdas"]`` holds, as torch's, the attributes (``__dict__``) of each
    lambda that is a callable object rather than a function (None for a function): they must
    be plain data to be saved with ``nongate_np.save``.
    """

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]

    def _restore_rates(self) -> None:
        _set_lrs(self.optimizer, self._last_lr)


class MultiplicativeLR(_Lambdas):
    """Multiply each group's learning rate by ``lr_lambda(epoch)`` every epoch but the
    first: ``lr_e = lr_{e-1} · lr_lambda(e)``.

    Parameters
    ----------
    optimizer : Optimizer
    lr_lambda : callable or list of callables
        ``f(epoch: int) -> float``, or one per parameter group.
    last_epoch : int, default -1
        See :class:`LRScheduler`.

    The state holds the lambdas' attributes as :class:`LambdaLR`'s, under the same keys.
    """

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._lrs()
        return [lr * fn(self.last_epoch) for fn, lr in zip(self.lr_lambdas, self._lrs())]


def _set_lrs(optimizer: Optimizer, lrs: list) -> None:
    for group, lr in zip(optimizer.param_groups, lrs):
        group["lr"] = lr


def _check_fraction(where: str, name: str, value, low_open: bool = False) -> None:
    """A real number in [0, 1] (in (0, 1] with ``low_open``): TypeError, else ValueError
    (torch's)."""
    if isinstance(value, (bool, np_bool)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {value!r:.40}")
    if not ((0 < value if low_open else 0 <= value) and value <= 1):
        raise ValueError(f"{where}: {name} must be in {'(0' if low_open else '[0'}, 1], got "
                         f"{value!r}")


class ConstantLR(LRScheduler):
    """Multiply each group's learning rate by ``factor`` until epoch ``total_iters``:
    ``lr_e = initial_lr · (factor if e < total_iters else 1)``, by torch's recursion (the
    factor applied at epoch 0, undone at ``total_iters``), so changes made to ``lr`` from
    outside carry on.

    Parameters
    ----------
    optimizer : Optimizer
    factor : float, default 1/3
        In [0, 1]; 0 is refused at ``total_iters`` (a ValueError; torch's
        ZeroDivisionError: it cannot be undone), so it suits a schedule that SequentialLR
        ends before then.
    total_iters : int, default 5
        The epochs with the factor (>= 0).
    last_epoch : int, default -1
        See :class:`LRScheduler`.
    """

    _hyper = ("factor", "total_iters")

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1):
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch)

    def _check(self) -> None:
        _check_fraction("ConstantLR", "factor", self.factor)
        _check_int("ConstantLR", "total_iters", self.total_iters, 0)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._lrs()]
        if self.last_epoch != self.total_iters:
            return self._lrs()
        if self.factor == 0:
            raise ValueError(f"ConstantLR: factor=0 cannot be undone at epoch total_iters="
                             f"{self.total_iters} (torch divides by it: ZeroDivisionError); "
                             "use a factor > 0, or end the schedule before then "
                             "(SequentialLR)")
        return [lr * (1.0 / self.factor) for lr in self._lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base in self.base_lrs]

    def _restore_rates(self) -> None:
        _set_lrs(self.optimizer, self._last_lr)


class LinearLR(LRScheduler):
    """Scale each group's learning rate by a factor going linearly from ``start_factor``
    to ``end_factor`` over ``total_iters`` epochs, then hold it:
    ``lr_e = initial_lr · (s + (t - s)·min(e, total_iters) / total_iters)``, by torch's
    recursion (each epoch's ratio to the last applied to the current ``lr``).

    Parameters
    ----------
    optimizer : Optimizer
    start_factor : float, default 1/3
        In (0, 1].
    end_factor : float, default 1.0
        In [0, 1].
    total_iters : int, default 5
        The epochs the factor takes to reach ``end_factor`` (>= 1).
    last_epoch : int, default -1
        See :class:`LRScheduler`.
    """

    _hyper = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1):
        self.start_factor, self.end_factor = start_factor, end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def _check(self) -> None:
        _check_fraction("LinearLR", "start_factor", self.start_factor, low_open=True)
        _check_fraction("LinearLR", "end_factor", self.end_factor)
        _check_int("LinearLR", "total_iters", self.total_iters, 1)

    def get_lr(self) -> list[float]:
        e, s, t = self.last_epoch, self.start_factor, self.end_factor
        if e == 0:
            return [lr * s for lr in self._lrs()]
        if self._is_initial or e > self.total_iters:
            return self._lrs()
        return [lr * (1.0 + (t - s) / (self.total_iters * s + (e - 1) * (t - s)))
                for lr in self._lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        s, t = self.start_factor, self.end_factor
        return [base * (s + (t - s) * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base in self.base_lrs]

    def _restore_rates(self) -> None:
        _set_lrs(self.optimizer, self._last_lr)


class PolynomialLR(LRScheduler):
    """Decay each group's learning rate polynomially to 0 over ``total_iters`` epochs:
    ``lr_e = initial_lr · (1 - min(e, total_iters) / total_iters)^power``, by torch's
    recursion.

    Parameters
    ----------
    optimizer : Optimizer
    total_iters : int, default 5
        The epochs to reach 0 (>= 1).
    power : float, default 1.0
        The polynomial's power (>= 0; torch's negative powers divide by 0 at the end).
    last_epoch : int, default -1
        See :class:`LRScheduler`.
    """

    _hyper = ("total_iters", "power")

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1):
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer, last_epoch)

    def _check(self) -> None:
        _check_int("PolynomialLR", "total_iters", self.total_iters, 1)
        _check_number("PolynomialLR", "power", self.power)

    def get_lr(self) -> list[float]:
        e, T = self.last_epoch, self.total_iters
        if self._is_initial or e > T:
            return self._lrs()
        decay = ((1.0 - e / T) / (1.0 - (e - 1) / T)) ** self.power
        return [lr * decay for lr in self._lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        T = self.total_iters
        return [base * (1.0 - min(T, self.last_epoch) / T) ** self.power
                for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017):
    ``lr = eta_min + (initial_lr - eta_min)·(1 + cos(π T_cur / T_i)) / 2``, T_cur the
    epochs since the last restart, T_i the current period: ``T_0`` first, then ``T_mult``
    times the last at each restart (when T_cur reaches T_i).

    Parameters
    ----------
    optimizer : Optimizer
    T_0 : int
        The first period (>= 1).
    T_mult : int, default 1
        The factor of each next period (>= 1).
    eta_min : float, default 0.0
        The lowest learning rate.
    last_epoch : int, default -1
        See :class:`LRScheduler`; resumed at ``last_epoch >= 0`` without a state, T_cur
        starts at ``last_epoch`` and T_i at ``T_0``, as torch's.

    As torch's, ``T_0`` and ``T_mult`` that are not positive ints, and an ``eta_min`` that
    is not a number, are ValueErrors; ``_step_count`` stays 0 (torch's own ``step``).
    """

    _hyper = ("T_0", "T_i", "T_mult", "eta_min", "T_cur")

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1):
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def _check(self) -> None:
        where = "CosineAnnealingWarmRestarts"
        for name in ("T_0", "T_i", "T_mult"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{where}: {name} must be an int >= 1, got {value!r:.40}")
        if isinstance(self.eta_min, bool) or not isinstance(self.eta_min, numbers.Real):
            raise ValueError(f"{where}: eta_min must be a real number, got "
                             f"{self.eta_min!r:.40}")
        if isinstance(self.T_cur, bool) or not isinstance(self.T_cur, numbers.Integral):
            raise ValueError(f"{where}: T_cur must be an int, got {self.T_cur!r:.40}")

    def get_lr(self) -> list[float]:
        low = self.eta_min
        return [low + (base - low) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base in self.base_lrs]

    def step(self, epoch: None = None) -> None:
        """Advance one epoch (or one batch: it may be stepped after every batch), restarting
        when T_cur reaches T_i. Raises TypeError for torch's deprecated ``step(epoch)``
        (its fractional epochs are not supported)."""
        _no_epoch(type(self).__name__, epoch)
        if self.last_epoch < 0:
            self.T_i, self.T_cur, epoch_now = self.T_0, 0, 0
        else:
            epoch_now = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        self.last_epoch = epoch_now
        values = self.get_lr()
        _set_lrs(self.optimizer, values)
        self._last_lr = self._lrs()

    def _restore_rates(self) -> None:
        _set_lrs(self.optimizer, self._last_lr)


class ReduceLROnPlateau(LRScheduler):
    """Multiply each group's learning rate by ``factor`` when a metric has stopped
    improving for more than ``patience`` epochs; ``step(metric)`` once per epoch.

    Parameters
    ----------
    optimizer : Optimizer
    mode : {"min", "max"}, default "min"
        Whether lower or higher metric values are better.
    factor : float, default 0.1
        ``new_lr = lr · factor``, in [0, 1).
    patience : int, default 10
        Epochs without improvement allowed; the rate drops on the next one (>= 0).
    threshold : float, default 1e-4
        How much better counts as better (>= 0), relative or absolute per ``threshold_mode``.
    threshold_mode : {"rel", "abs"}, default "rel"
        "rel": better than ``best·(1 ∓ threshold)``; "abs": than ``best ∓ threshold``.
    cooldown : int, default 0
        Epochs after a reduction during which bad epochs are not counted (>= 0).
    min_lr : float or list of float, default 0
        Lower bound on each group's learning rate (one for all, or one per group).
    eps : float, default 1e-8
        A reduction smaller than this is skipped.

    Unlike the other schedulers it does not touch the rates when built, nor record
    ``initial_lr``. A NaN metric counts as a bad epoch (as in torch).
    """

    _counters = ("last_epoch", "_last_lr")
    _hyper = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
              "min_lrs", "default_min_lr", "eps", "best", "num_bad_epochs",
              "cooldown_counter", "mode_worse")

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | list[float] = 0, eps: float = 1e-8):
        _check_optimizer("ReduceLROnPlateau", optimizer)
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else min_lr
        self.min_lrs = _per_group("ReduceLROnPlateau", "min_lrs", min_lr, optimizer)
        self._check()
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.best, self.cooldown_counter, self.num_bad_epochs = self.mode_worse, 0, 0
        self.last_epoch = 0
        self._last_lr = self._lrs()

    def _check(self) -> None:
        where = "ReduceLROnPlateau"
        if self.mode not in ("min", "max"):
            raise ValueError(f"{where}: mode must be 'min' or 'max', got {self.mode!r}")
        if self.threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{where}: threshold_mode must be 'rel' or 'abs', got "
                             f"{self.threshold_mode!r}")
        _check_number(where, "factor", self.factor, 0.0, 1.0)
        _check_int(where, "patience", self.patience, 0)
        _check_number(where, "threshold", self.threshold)
        _check_int(where, "cooldown", self.cooldown, 0)
        for k, m in enumerate(self.min_lrs):
            _check_number(where, f"min_lr[{k}]" if self.default_min_lr is None else "min_lr",
                          m)
        _check_number(where, "eps", self.eps)

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics, epoch: None = None) -> None:  # type: ignore[override]
        """Record one epoch's ``metrics`` (a real number, e.g. ``record["val/loss"]``) and
        reduce the rates if it has not improved for more than ``patience`` epochs.

        Raises
        ------
        TypeError, ValueError
            ``metrics`` is not a real number (``float(metrics)`` fails); a TypeError for an
            ``epoch`` given (torch's deprecated ``step(metrics, epoch)``: not supported).
        RuntimeError
            The optimiser gained parameter groups and ``min_lr`` was given per group.
        """
        _no_epoch("ReduceLROnPlateau", epoch)
        try:
            current = float(metrics)
        except (TypeError, ValueError) as e:
            # NOTE: float()'s error type kept (ValueError for a str, TypeError for None), as torch
            raise type(e)(f"ReduceLROnPlateau.step: metrics must be a real number (the "
                          f"monitored value, e.g. record['val/loss']), got "
                          f"{type(metrics).__name__}") from None
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0     # bad epochs in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = self._lrs()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer has {len(groups)} "
                                   f"parameter groups but min_lr was given for "
                                   f"{len(self.min_lrs)}; set the scheduler's min_lrs to "
                                   "one per group")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, low in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, low)
            if old - new > self.eps:
                group["lr"] = new


# -- the schedules of one cycle or many, which cycle the momentum too ----------------------

def _use_beta1(where: str, optimizer: Optimizer) -> bool:
    """Whether the cycled momentum is ``betas[0]`` (Adam, AdamW) rather than ``momentum``
    (SGD); ValueError, torch's, for an optimiser with neither."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(f"{where}: optimizer must support momentum or beta1 with "
                         f"`cycle_momentum` option enabled (as torch); pass "
                         f"cycle_momentum=False")
    return "betas" in optimizer.defaults


def _set_momenta(optimizer: Optimizer, use_beta1: bool, momenta: list) -> None:
    """Each group's ``betas[0]`` (``use_beta1``) or ``momentum``, as torch sets them."""
    for group, m in zip(optimizer.param_groups, momenta):
        if use_beta1:
            group["betas"] = (m, *group["betas"][1:])
        else:
            group["momentum"] = m


def _check_numbers(where: str, name: str, values: list, count: int | None = None) -> None:
    """A list of real numbers >= 0 (one per parameter group: ``count``)."""
    if not isinstance(values, list) or (count is not None and len(values) != count):
        raise ValueError(f"{where}: {name} must be a list of {count} numbers (one per "
                         f"parameter group), got {values!r:.80}")
    for k, v in enumerate(values):
        _check_number(where, f"{name}[{k}]" if len(values) > 1 else name, v)


def _check_positive(where: str, name: str, value, zero: bool = False) -> float:
    """A real number > 0 (>= 0 with ``zero``), as a float: TypeError, else ValueError."""
    if isinstance(value, (bool, np_bool)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {value!r:.40}")
    if not (value >= 0 if zero else value > 0) or math.isinf(value):
        raise ValueError(f"{where}: {name} must be {'>= 0' if zero else '> 0'} and finite, "
                         f"got {value!r}")
    return float(value)


_CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


class CyclicLR(LRScheduler):
    """Cyclical learning rates (CLR, Smith 2017): each group's rate goes linearly from
    ``base_lr`` up to ``max_lr`` in ``step_size_up`` steps and back in ``step_size_down``,
    ``lr = base_lr + (max_lr - base_lr)·max(0, 1 - |x|)·scale``, x the position in the
    cycle, the amplitude scaled by ``mode``: "triangular" 1, "triangular2" halved every
    cycle (``1 / 2^(cycle - 1)``), "exp_range" ``gamma^iteration``; or by ``scale_fn``.
    Meant to be stepped after every batch (``last_epoch`` counts batches).

    Parameters
    ----------
    optimizer : Optimizer
    base_lr, max_lr : float or list of float
        The cycle's bounds, one for all groups or one per group. Building the scheduler
        sets each group's ``lr`` to ``base_lr`` (as torch's).
    step_size_up : float, default 2000
        The steps of the rising half (> 0).
    step_size_down : float, optional
        The steps of the falling half (>= 0); ``step_size_up`` by default.
    mode : {"triangular", "triangular2", "exp_range"}, default "triangular"
    gamma : float, default 1.0
        "exp_range"'s base.
    scale_fn : callable, optional
        ``f(x) -> float`` in [0, 1], replacing ``mode``; evaluated on the cycle number or
        the iteration (``scale_mode``). Its attributes are saved, as LambdaLR's lambdas'.
    scale_mode : {"cycle", "iterations"}, default "cycle"
        Set by ``mode`` when ``scale_fn`` is None (as torch).
    cycle_momentum : bool, default True
        Cycle the momentum inversely, from ``max_momentum`` down to ``base_momentum`` at
        the peak: SGD's ``momentum``, Adam's and AdamW's ``betas[0]`` (each group also gets
        ``base_momentum`` and ``max_momentum`` keys, as torch's).
    base_momentum, max_momentum : float or list of float, default 0.8, 0.9
    last_epoch : int, default -1
        See :class:`LRScheduler`: resumed (>= 0), the groups' rates and momenta are left
        for the first step to set.

    Raises ValueError for an unknown ``mode`` without ``scale_fn`` (as torch), a step size
    or ``scale_mode`` out of range (torch divides by 0 or ignores them), lists of another
    length than the groups; TypeError for values that are not numbers.
    """

    def __init__(self, optimizer: Optimizer, base_lr: float | list[float],
                 max_lr: float | list[float], step_size_up: float = 2000,
                 step_size_down: float | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn: Callable[[float], float] | None = None,
                 scale_mode: str = "cycle", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.8,
                 max_momentum: float | list[float] = 0.9, last_epoch: int = -1):
        where = "CyclicLR"
        _check_optimizer(where, optimizer)
        _check_int(where, "last_epoch", last_epoch, -1)
        n = len(optimizer.param_groups)
        base_lrs = _per_group(where, "base_lr", base_lr, optimizer)
        _check_numbers(where, "base_lr", base_lrs, n)
        self.max_lrs = _per_group(where, "max_lr", max_lr, optimizer)
        up = _check_positive(where, "step_size_up", step_size_up)
        down = up if step_size_down is None else \
            _check_positive(where, "step_size_down", step_size_down, zero=True)
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in _CYCLIC_MODES and scale_fn is None:
            raise ValueError(f"{where}: mode must be one of {_CYCLIC_MODES} when scale_fn is "
                             f"None (mode is invalid and scale_fn is None, as torch), got "
                             f"{mode!r:.40}")
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"{where}: scale_fn must be a callable f(x) -> float or None, "
                            f"got {type(scale_fn).__name__}")
        self.mode, self.gamma, self.scale_mode = mode, gamma, scale_mode
        self._scale_fn_custom = scale_fn
        self._init_scale_fn()
        self.cycle_momentum = cycle_momentum
        self._hyper = ("max_lrs", "total_size", "step_ratio", "mode", "gamma",
                       "_scale_fn_custom", "scale_mode", "cycle_momentum")
        if cycle_momentum:
            self.use_beta1 = _use_beta1(where, optimizer)
            self.base_momentums = _per_group(where, "base_momentum", base_momentum, optimizer)
            self.max_momentums = _per_group(where, "max_momentum", max_momentum, optimizer)
            self._hyper += ("use_beta1", "base_momentums", "max_momentums")
        self._check()                   # before the optimiser's groups change
        if last_epoch == -1:
            _set_lrs(optimizer, base_lrs)
            if cycle_momentum:
                _set_momenta(optimizer, self.use_beta1, self.max_momentums)
                for group, high, low in zip(optimizer.param_groups, self.max_momentums,
                                            self.base_momentums):
                    group["max_momentum"], group["base_momentum"] = high, low
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _check(self) -> None:
        where = "CyclicLR"
        n = len(self.optimizer.param_groups) if hasattr(self, "optimizer") else \
            len(self.max_lrs)
        _check_numbers(where, "max_lr", self.max_lrs, n)
        _check_positive(where, "total_size", self.total_size)
        if isinstance(self.step_ratio, bool) or not isinstance(self.step_ratio, numbers.Real) \
                or not 0 < self.step_ratio <= 1:
            raise ValueError(f"{where}: step_ratio must be in (0, 1], got "
                             f"{self.step_ratio!r:.40}")
        if self.mode not in _CYCLIC_MODES and self._scale_fn_custom is None:
            raise ValueError(f"{where}: mode must be one of {_CYCLIC_MODES}, got "
                             f"{self.mode!r:.40}")
        if self.scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"{where}: scale_mode must be 'cycle' or 'iterations', got "
                             f"{self.scale_mode!r:.40}")
        _check_number(where, "gamma", self.gamma)
        if not isinstance(self.cycle_momentum, (bool, np_bool)):
            raise TypeError(f"{where}: cycle_momentum must be True or False, got "
                            f"{self.cycle_momentum!r:.40}")
        if self.cycle_momentum:
            if not isinstance(self.use_beta1, (bool, np_bool)):
                raise TypeError(f"{where}: use_beta1 must be True or False, got "
                                f"{self.use_beta1!r:.40}")
            _check_numbers(where, "base_momentum", self.base_momentums, n)
            _check_numbers(where, "max_momentum", self.max_momentums, n)

    def _init_scale_fn(self) -> None:
        """torch's: without ``scale_fn``, ``mode`` decides ``scale_mode``."""
        if self._scale_fn_custom is None:
            self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"

    def scale_fn(self, x) -> float:
        """The amplitude's scale at ``x`` (the cycle number, or the iteration)."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def get_lr(self) -> list[float]:
        e = self.last_epoch
        cycle = math.floor(1 + e / self.total_size)
        x = 1.0 + e / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else e)
        lrs = [base + (high - base) * scale_factor * scale
               for base, high in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            _set_momenta(self.optimizer, self.use_beta1,
                         [high - (high - low) * scale_factor * scale
                          for low, high in zip(self.base_momentums, self.max_momentums)])
        return lrs

    def state_dict(self) -> dict[str, Any]:
        """As :meth:`LRScheduler.state_dict`, with torch's keys; ``_scale_fn_custom`` holds
        the attributes of a ``scale_fn`` that is a callable object (None for a function or
        none). The keys for the momenta are there only with ``cycle_momentum``."""
        state = super().state_dict()
        state["_scale_fn_custom"] = _callable_state(self._scale_fn_custom)
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        fn = self._scale_fn_custom
        saved = state_dict.get("_scale_fn_custom") if isinstance(state_dict, Mapping) else None
        if saved is not None and (fn is None or not isinstance(saved, Mapping)):
            raise ValueError(f"CyclicLR.load_state_dict: the state holds a scale_fn's "
                             f"attributes ({saved!r:.60}) but this scheduler has "
                             f"{'no scale_fn' if fn is None else 'them as a non-dict'}; "
                             "build it with the run's scale_fn")
        if isinstance(state_dict, Mapping) and "_scale_fn_custom" in state_dict:
            state_dict = {**state_dict, "_scale_fn_custom": fn}
        super().load_state_dict(state_dict)
        if saved is not None and fn is not None:
            fn.__dict__.update(saved)
        self._init_scale_fn()

    def _restore_rates(self) -> None:
        self.get_lr()                   # the momenta of the state's epoch
        _set_lrs(self.optimizer, self._last_lr)


_ONECYCLE_KEYS = ("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum")


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin 2017, "Super-Convergence"): each group's rate goes
    from ``max_lr / div_factor`` up to ``max_lr`` over the first ``pct_start`` of
    ``total_steps``, then down to ``max_lr / (div_factor · final_div_factor)``
    (``three_phase``: back to the start first, symmetrically, then down), annealed by
    cosine ``end + (start - end)·(1 + cos(π p)) / 2`` or linearly over each phase's
    fraction p; the momentum goes the other way between ``max_momentum`` and
    ``base_momentum``. Meant to be stepped after every batch; stepping past
    ``total_steps`` is a ValueError (as torch), which changes nothing here.

    Parameters
    ----------
    optimizer : Optimizer
    max_lr : float or list of float
        The peak rate, one for all groups or one per group.
    total_steps : int, optional
        The steps in the cycle; else ``epochs · steps_per_epoch``.
    epochs, steps_per_epoch : int, optional
    pct_start : float, default 0.3
        The fraction of the steps spent rising (a float in [0, 1], as torch requires).
    anneal_strategy : {"cos", "linear"}, default "cos"
    cycle_momentum : bool, default True
        Cycle SGD's ``momentum`` or Adam's and AdamW's ``betas[0]``.
    base_momentum, max_momentum : float or list of float, default 0.85, 0.95
    div_factor : float, default 25.0
        ``initial_lr = max_lr / div_factor`` (> 0).
    final_div_factor : float, default 1e4
        ``min_lr = initial_lr / final_div_factor`` (> 0).
    three_phase : bool, default False
    last_epoch : int, default -1
        See :class:`LRScheduler`. Built with -1 it writes each group's ``initial_lr``,
        ``max_lr``, ``min_lr`` (and ``max_momentum``, ``base_momentum``), which the
        schedule reads at every step and the optimiser's ``state_dict`` keeps; resumed
        (>= 0), the groups must hold them (the optimiser's saved state).

    Raises ValueError for the arguments torch refuses (its messages' sense), for
    ``div_factor`` or ``final_div_factor`` <= 0, and where ``pct_start · total_steps`` is 1
    (a rising phase of no step: torch's ZeroDivisionError when built); a step into a last
    phase of no step (``pct_start=1.0`` at step ``total_steps``) is a ValueError (torch's
    ZeroDivisionError).
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | list[float],
                 total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.85,
                 max_momentum: float | list[float] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1):
        where = "OneCycleLR"
        _check_optimizer(where, optimizer)
        _check_int(where, "last_epoch", last_epoch, -1)

        def positive_int(name, value):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
                raise ValueError(f"{where}: expected a positive int {name}, got {value!r:.40}")
            return int(value)

        if total_steps is not None:
            self.total_steps = positive_int("total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = positive_int("epochs", epochs) * \
                positive_int("steps_per_epoch", steps_per_epoch)
        else:
            raise ValueError(f"{where}: define either total_steps or (epochs and "
                             "steps_per_epoch)")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"{where}: pct_start must be a float in [0, 1] (as torch), got "
                             f"{pct_start!r:.40}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{where}: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r:.40}")
        T = self.total_steps
        rise = float(pct_start * T) - 1
        if three_phase:
            self._schedule_phases = [
                _phase(rise, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                _phase(float(2 * pct_start * T) - 2, "max_lr", "initial_lr", "base_momentum",
                       "max_momentum"),
                _phase(T - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self._schedule_phases = [
                _phase(rise, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                _phase(T - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        self._anneal_func_type = anneal_strategy
        max_lrs = _per_group(where, "max_lr", max_lr, optimizer)
        _check_numbers(where, "max_lr", max_lrs)
        _check_positive(where, "div_factor", div_factor)
        _check_positive(where, "final_div_factor", final_div_factor)
        self.cycle_momentum = cycle_momentum
        self._hyper = ("total_steps", "_schedule_phases", "_anneal_func_type", "cycle_momentum")
        if cycle_momentum:
            self.use_beta1 = _use_beta1(where, optimizer)
            high = _per_group(where, "max_momentum", max_momentum, optimizer)
            low = _per_group(where, "base_momentum", base_momentum, optimizer)
            _check_numbers(where, "max_momentum", high)
            _check_numbers(where, "base_momentum", low)
            self._hyper += ("use_beta1",)
        self._check()
        if rise == 0:
            raise ValueError(f"{where}: pct_start · total_steps = {pct_start} · {T} is 1: a "
                             "rising phase of no step, which torch divides by "
                             "(ZeroDivisionError); choose another pct_start")
        if last_epoch == -1:
            for group, peak in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
            if cycle_momentum:
                _set_momenta(optimizer, self.use_beta1, high)
                for group, h, b in zip(optimizer.param_groups, high, low):
                    group["max_momentum"], group["base_momentum"] = h, b
        super().__init__(optimizer, last_epoch)

    def _check(self) -> None:
        where = "OneCycleLR"
        if isinstance(self.total_steps, bool) or not isinstance(self.total_steps,
                                                                numbers.Integral) \
                or self.total_steps <= 0:
            raise ValueError(f"{where}: expected a positive int total_steps, got "
                             f"{self.total_steps!r:.40}")
        phases = self._schedule_phases
        if not isinstance(phases, list) or len(phases) not in (2, 3) or any(
                not isinstance(p, Mapping) or set(p) != set(_PHASE_KEYS)
                or isinstance(p["end_step"], bool)
                or not isinstance(p["end_step"], numbers.Real)
                or any(p[k] not in _ONECYCLE_KEYS for k in _PHASE_KEYS[1:]) for p in phases):
            raise ValueError(f"{where}: _schedule_phases must be 2 or 3 phases, dicts with "
                             f"keys {list(_PHASE_KEYS)}, got {phases!r:.120}")
        if self._anneal_func_type not in ("cos", "linear"):
            raise ValueError(f"{where}: anneal_strategy must be 'cos' or 'linear', got "
                             f"{self._anneal_func_type!r:.40}")
        for name in ("cycle_momentum",) + (("use_beta1",) if self.cycle_momentum else ()):
            if not isinstance(getattr(self, name), (bool, np_bool)):
                raise TypeError(f"{where}: {name} must be True or False, got "
                                f"{getattr(self, name)!r:.40}")

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            cos_out = math.cos(math.pi * pct) + 1
            return end + (start - end) / 2.0 * cos_out
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times; the specified number "
                             f"of total steps is {self.total_steps} (as torch: build it "
                             "with total_steps, or epochs and steps_per_epoch, that cover "
                             "every step)")
        lrs, momenta = [], []
        phases = self._schedule_phases
        for i, group in enumerate(self.optimizer.param_groups):
            start = 0.0
            for k, phase in enumerate(phases):
                end = phase["end_step"]
                if step <= end or k == len(phases) - 1:
                    if end == start:
                        raise ValueError(
                            f"OneCycleLR: phase {k + 1} of the schedule has no steps (it "
                            f"ends at step {end}, where the one before ends), so step {step}"
                            f" would divide by 0 (torch: ZeroDivisionError); choose another "
                            f"pct_start")
                    pct = (step - start) / (end - start)
                    lrs.append(self._anneal(_group_value(group, phase["start_lr"], i),
                                            _group_value(group, phase["end_lr"], i), pct))
                    if self.cycle_momentum:
                        momenta.append(self._anneal(
                            _group_value(group, phase["start_momentum"], i),
                            _group_value(group, phase["end_momentum"], i), pct))
                    break
                start = phase["end_step"]
        if self.cycle_momentum:
            _set_momenta(self.optimizer, self.use_beta1, momenta)
        return lrs

    def _restore_rates(self) -> None:
        self.get_lr()                   # the momenta of the state's epoch
        _set_lrs(self.optimizer, self._last_lr)


_PHASE_KEYS = ("end_step", "start_lr", "end_lr", "start_momentum", "end_momentum")


def _phase(end_step, start_lr, end_lr, start_momentum, end_momentum) -> dict:
    """One of OneCycleLR's phases, torch's ``_SchedulePhase``: plain data."""
    return dict(zip(_PHASE_KEYS, (end_step, start_lr, end_lr, start_momentum, end_momentum)))


def _group_value(group: dict, key: str, index: int) -> float:
    try:
        return group[key]
    except KeyError:
        raise KeyError(f"OneCycleLR: param_groups[{index}] has no {key!r}, which building "
                       f"the scheduler with last_epoch=-1 sets; load the optimiser's saved "
                       f"state before resuming with last_epoch >= 0") from None


# -- the schedules of schedules ------------------------------------------------------------

def _check_schedulers(where: str, schedulers, optimizer) -> list:
    """SequentialLR's and ChainedScheduler's schedulers: a non-empty sequence of this
    module's schedulers (not ReduceLROnPlateau, whose step needs a metric) of
    ``optimizer``; torch's errors (TypeError, ValueError), naming the index."""
    if isinstance(schedulers, (str, bytes)) or not isinstance(schedulers, Sequence):
        raise TypeError(f"{where}: schedulers must be a list of schedulers, got "
                        f"{type(schedulers).__name__}")
    if len(schedulers) < 1:
        raise ValueError(f"{where} expects at least one scheduler, but got no scheduler")
    for k, sched in enumerate(schedulers):
        if not isinstance(sched, LRScheduler):
            raise TypeError(f"{where}: the scheduler at index {k} is a "
                            f"{type(sched).__name__}, not a learning-rate scheduler")
        if isinstance(sched, ReduceLROnPlateau):
            raise ValueError(f"{where} does not support `ReduceLROnPlateau` scheduler as it "
                             "requires additional kwargs to be specified when calling "
                             f"`step`, but got one at index {k} in the given schedulers "
                             "sequence")
        if sched.optimizer is not optimizer:
            raise ValueError(f"{where} expects all schedulers to belong to the same "
                             f"optimizer, but the {type(sched).__name__} at index {k} "
                             "schedules another one")
    return list(schedulers)


def _load_nested(where: str, owner: LRScheduler, state_dict, keys: tuple, load_own) -> None:
    """Load SequentialLR's or ChainedScheduler's (``owner``'s) state: its schedulers'
    states (each refusing another class's), then the rest (``keys``) by ``load_own``;
    ValueError for other keys or another count of schedulers. A state refused at any point
    leaves every scheduler as it was. ``_step_count`` may be there too (torch's, for one
    that a SequentialLR holds first: it took torch's initial step)."""
    schedulers = owner._schedulers
    expected = set(keys) | {"_schedulers"}
    if isinstance(state_dict, Mapping):     # torch's own bookkeeping: nothing to restore
        state_dict = {k: v for k, v in state_dict.items() if k not in _TORCH_PRIVATE}
        count = state_dict.pop("_step_count", None)
        if count is not None:
            _check_int(where, "_step_count", count, 0)
    if not isinstance(state_dict, Mapping) or set(state_dict) != expected:
        got = sorted(state_dict) if isinstance(state_dict, Mapping) else \
            type(state_dict).__name__
        raise ValueError(f"{where}: expected a dict with keys {sorted(expected)}, got {got}")
    nested = state_dict["_schedulers"]
    if not isinstance(nested, list) or len(nested) != len(schedulers):
        raise ValueError(f"{where}: the state holds "
                         f"{len(nested) if isinstance(nested, list) else 'no list of'} "
                         f"schedulers' states, this one has {len(schedulers)} schedulers")
    before = [sched.state_dict() for sched in schedulers]
    try:
        for sched, state in zip(schedulers, nested):
            sched.load_state_dict(state)
        load_own({k: v for k, v in state_dict.items() if k != "_schedulers"})
    except BaseException:
        for sched, state in zip(schedulers, before):
            sched.load_state_dict(state)
        raise
    if count is not None:
        owner._step_count = count


def _nested_state(owner: LRScheduler, state: dict) -> dict:
    """``state`` with its schedulers' states, and ``_step_count`` where the owner took an
    initial step (first in a SequentialLR), as torch's."""
    state["_schedulers"] = [s.state_dict() for s in owner._schedulers]
    if "_step_count" in vars(owner):
        state["_step_count"] = owner._step_count
    return state


class SequentialLR(LRScheduler):
    """One scheduler after another: ``schedulers[i]`` is stepped from epoch
    ``milestones[i-1]`` (the first from epoch 0) until the next milestone; the others are
    not stepped.

    torch's semantics, its quirks included: building it sets every group's ``lr`` back to
    its ``initial_lr``, takes one epoch off each scheduler's ``last_epoch`` (undoing the
    step each took when built; inside a nested SequentialLR or ChainedScheduler too) and
    gives the scheduler of epoch 0 its first step again. At a milestone the next scheduler
    is not stepped but set to its epoch 0 (torch's ``step(0)``): its closed form at epoch 0
    where it has one (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR,
    ConstantLR, PolynomialLR: ``initial_lr`` times its factor at epoch 0), else its
    ``get_lr`` at epoch 0 (LambdaLR: ``initial_lr · f(0)``; MultiplicativeLR: the current
    rate times ``f(0)``; CyclicLR, OneCycleLR: their first rates;
    CosineAnnealingWarmRestarts: the rate of the T_cur it holds); so the rate restarts
    from the groups' ``initial_lr``, not from where the previous schedule left it. A
    SequentialLR or ChainedScheduler inside may only start at epoch 0: at a later
    milestone torch's fails (NotImplementedError), so this one refuses it when built
    (ValueError).

    Parameters
    ----------
    optimizer : Optimizer
    schedulers : list of LRScheduler
        Built on ``optimizer``; not ReduceLROnPlateau.
    milestones : list of int
        One fewer than the schedulers, ascending epochs (>= 0; torch does not check the
        order).
    last_epoch : int, default -1
        Its own epoch count starts at ``last_epoch + 1``, as torch's.

    ``state_dict()`` holds ``_milestones``, ``last_epoch``, ``_last_lr`` and
    ``_schedulers``, the list of its schedulers' states.
    """

    _counters = ("last_epoch", "_last_lr")
    _hyper = ("_milestones",)

    def __init__(self, optimizer: Optimizer, schedulers: list[LRScheduler],
                 milestones: list[int], last_epoch: int = -1):
        where = "SequentialLR"
        _check_optimizer(where, optimizer)
        schedulers = _check_schedulers(where, schedulers, optimizer)
        if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Sequence):
            raise TypeError(f"{where}: milestones must be a list of ints, got "
                            f"{type(milestones).__name__}")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"{where} expects number of schedulers provided to be one more "
                             f"than the number of milestone points, but got number of "
                             f"schedulers {len(schedulers)} and the number of milestones "
                             f"to be equal to {len(milestones)}")
        _check_int(where, "last_epoch", last_epoch, -1)
        self._schedulers, self._milestones = schedulers, list(milestones)
        self._check()
        for k, (sched, m) in enumerate(zip(schedulers[1:], self._milestones), 1):
            if isinstance(sched, (SequentialLR, ChainedScheduler)) and m > 0:
                raise ValueError(f"{where}: the {type(sched).__name__} at index {k} would be "
                                 f"set to its epoch 0 at its milestone {m}, which it cannot "
                                 f"be (torch's SequentialLR fails there: "
                                 f"NotImplementedError); put it first, or list its "
                                 f"schedulers in this one")
        self.optimizer, self.last_epoch = optimizer, last_epoch + 1
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self.recursive_undo()
        first = self._schedulers[bisect.bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _check(self) -> None:
        for k, m in enumerate(self._milestones):
            _check_int("SequentialLR", f"milestones[{k}]", m, 0)
        if self._milestones != sorted(self._milestones):
            raise ValueError(f"SequentialLR: milestones must be in ascending order, got "
                             f"{self._milestones}")

    def recursive_undo(self, sched: LRScheduler | None = None) -> None:
        """One epoch off the ``last_epoch`` of every scheduler inside (torch's: the step
        each took when built)."""
        scheds = self if sched is None else sched
        if hasattr(scheds, "_schedulers"):
            for s in scheds._schedulers:
                self.recursive_undo(s)
        elif hasattr(scheds, "last_epoch"):
            scheds.last_epoch -= 1

    def step(self, epoch: None = None) -> None:
        """Step the scheduler of the next epoch, or set the next one to its epoch 0 at its
        milestone. TypeError for torch's deprecated ``step(epoch)``."""
        _no_epoch("SequentialLR", epoch)
        self.last_epoch += 1
        idx = bisect.bisect_right(self._milestones, self.last_epoch)
        sched = self._schedulers[idx]
        try:
            if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
                sched._update_lr(0)
            else:
                sched.step()
        except BaseException:
            self.last_epoch -= 1
            raise
        self._last_lr = sched.get_last_lr()

    def get_lr(self) -> list[float]:
        return self.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        return _nested_state(self, super().state_dict())

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s (or torch's) state, each scheduler's with its own
        ``load_state_dict`` (which refuses another class's). ValueError for other keys,
        another number of schedulers, or milestones that are not ascending ints."""
        _load_nested("SequentialLR.load_state_dict", self, state_dict,
                     self._counters + self._hyper, super().load_state_dict)

    def _restore_rates(self) -> None:
        self._schedulers[bisect.bisect_right(self._milestones,
                                             max(self.last_epoch, 0))]._restore_rates()
        _set_lrs(self.optimizer, self._last_lr)


class ChainedScheduler(LRScheduler):
    """Several schedulers stepped together, in order, at every ``step()``: each applies its
    change to the rate the ones before it set (the recursive schedules compose, e.g. a
    ConstantLR warm-up under an ExponentialLR decay), as torch's.

    Parameters
    ----------
    schedulers : sequence of LRScheduler
        Built on one optimiser; not ReduceLROnPlateau.
    optimizer : Optimizer, optional
        The schedulers' (by default the first one's).

    ``state_dict()`` holds ``_last_lr`` and ``_schedulers``, their states, as torch's.
    """

    _counters = ("_last_lr",)
    _hyper = ()

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None):
        where = "ChainedScheduler"
        if optimizer is None and isinstance(schedulers, Sequence) and schedulers and \
                isinstance(schedulers[0], LRScheduler):
            optimizer = schedulers[0].optimizer
        if optimizer is not None:
            _check_optimizer(where, optimizer)
        self._schedulers = _check_schedulers(where, schedulers, optimizer)
        self.optimizer = optimizer
        self._last_lr = self._lrs()

    def step(self, epoch: None = None) -> None:
        """Step every scheduler, in order. TypeError for torch's deprecated
        ``step(epoch)``."""
        _no_epoch("ChainedScheduler", epoch)
        for sched in self._schedulers:
            sched.step()
        self._last_lr = self._lrs()

    def get_lr(self) -> list[float]:
        return self.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        return _nested_state(self, {"_last_lr": list(self._last_lr)})

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s (or torch's) state, each scheduler's with its own
        ``load_state_dict``. ValueError for other keys or another number of schedulers."""
        _load_nested("ChainedScheduler.load_state_dict", self, state_dict,
                     self._counters, self._load_own)

    def _load_own(self, state: dict) -> None:
        last, n = state["_last_lr"], len(self.optimizer.param_groups)
        if not isinstance(last, list) or len(last) != n:
            raise ValueError(f"ChainedScheduler.load_state_dict: the state was saved for "
                             f"another number of parameter groups than the optimizer's {n}")
        self._last_lr = _copy(last)

    def _restore_rates(self) -> None:
        for sched in self._schedulers:
            sched._restore_rates()
        _set_lrs(self.optimizer, self._last_lr)
