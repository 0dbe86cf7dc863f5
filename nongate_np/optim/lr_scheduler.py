"""Learning-rate schedules, as ``torch.optim.lr_scheduler``: each sets its optimiser's
``param_groups[k]["lr"]`` when stepped, with torch's formulas (its recursive, "chainable"
forms), so the learning rates agree with torch's epoch for epoch.

Call ``scheduler.step()`` once per epoch, after the epoch's ``optimizer.step()`` calls
(``ReduceLROnPlateau.step(metric)`` with the monitored metric). Building a scheduler already
sets the epoch-0 rates and records each group's starting rate as ``group["initial_lr"]``.

``state_dict()`` holds plain data only (ints, floats, str, lists of them; torch's key names),
so it can go into ``nongate_np.save(..., extra={"scheduler": s.state_dict()})`` or JSON::

    opt = Adam(model.parameters(), lr=1e-3)
    sched = StepLR(opt, step_size=10, gamma=0.5)
    ... save(model, path, optimizer=opt, extra={"scheduler": sched.state_dict()})
    # resume: build the scheduler first, then load the optimiser's state (which holds the
    # current lr and initial_lr), then the scheduler's
    ckpt = load(path); opt = ckpt.optimizer
    sched = StepLR(opt, step_size=10, gamma=0.5); opt.load_state_dict(ckpt.optimizer_state)
    sched.load_state_dict(ckpt.extra["scheduler"])

Differences from torch: ``step()`` refuses an ``epoch`` argument (deprecated in torch; a
TypeError that says so), and there is no warning for a scheduler stepped before its
optimiser.
"""

from __future__ import annotations

import collections
import math
import numbers
import types
from collections.abc import Mapping
from typing import Any, Callable

from .optimizer import Optimizer, _check_number

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "LambdaLR", "ReduceLROnPlateau"]


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
    per parameter group), then call ``super().__init__``.

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
        groups = self.optimizer.param_groups
        self._step_count += 1
        self.last_epoch += 1
        values = self.get_lr()
        if len(values) != len(groups):
            raise ValueError(f"{type(self).__name__}.step: the optimizer has {len(groups)} "
                             f"parameter groups, the scheduler was built for "
                             f"{len(self.base_lrs)}; build it after add_param_group")
        for group, lr in zip(groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in groups]

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
    """Lists (and tuples, as after JSON: lists) copied, so no state is shared."""
    return [_copy(v) for v in value] if isinstance(value, (list, tuple)) else value


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


class MultiStepLR(LRScheduler):
    """Multiply each group's learning rate by ``gamma`` at each epoch in ``milestones`` (by
    ``gamma^n`` at a milestone listed n times).

    Parameters
    ----------
    optimizer : Optimizer
    milestones : iterable of int
        Epoch indices (>= 0); kept sorted.
    gamma : float, default 0.1
        The factor (>= 0).
    last_epoch : int, default -1
        See :class:`LRScheduler`.
    """

    _hyper = ("milestones", "gamma")

    def __init__(self, optimizer: Optimizer, milestones, gamma: float = 0.1,
                 last_epoch: int = -1):
        if not hasattr(milestones, "__iter__"):
            raise TypeError(f"MultiStepLR: milestones must be an iterable of ints, got "
                            f"{milestones!r}")
        # NOTE: a sorted list, not torch's Counter, so state_dict is plain data
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

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        milestones = state_dict.get("milestones") if isinstance(state_dict, Mapping) else None
        if isinstance(milestones, collections.Counter):     # torch's form: as ours
            state_dict = {**state_dict, "milestones": sorted(milestones.elements())}
        super().load_state_dict(state_dict)


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


class LambdaLR(LRScheduler):
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

    _hyper = ("lr_lambdas",)

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | list,
                 last_epoch: int = -1):
        _check_optimizer("LambdaLR", optimizer)
        self.lr_lambdas = _per_group("LambdaLR", "lr_lambdas", lr_lambda, optimizer)
        super().__init__(optimizer, last_epoch)

    def _check(self) -> None:
        for k, fn in enumerate(self.lr_lambdas):
            if not callable(fn):
                raise TypeError(f"LambdaLR: lr_lambda must be a callable f(epoch) -> factor "
                                f"(or a list of them), but entry {k} is "
                                f"{type(fn).__name__}")

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict[str, Any]:
        state = {key: _copy(getattr(self, key)) for key in self._counters}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else
                               dict(fn.__dict__) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        fns = self.lr_lambdas
        saved = state_dict.get("lr_lambdas") if isinstance(state_dict, Mapping) else None
        if not isinstance(saved, list) or len(saved) != len(fns):
            raise ValueError(f"LambdaLR.load_state_dict: expected 'lr_lambdas', a list of "
                             f"{len(fns)} dicts or None, got {saved!r:.100}")
        super().load_state_dict({**state_dict, "lr_lambdas": fns})
        for fn, attrs in zip(fns, saved):
            if attrs is not None:
                fn.__dict__.update(attrs)


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
