"""Optimisers, as ``torch.optim``: SGD, Adam, AdamW, and gradient clipping.

The update formulas are torch 2.x's, operation for operation (its single-tensor CPU path),
so a float64 run agrees with torch to rounding. Updates are written in place into
``p.data`` with NumPy and record nothing in the autograd graph; a parameter whose ``.grad``
is None is skipped (its state is untouched).

``state_dict()`` holds only plain ndarrays and Python scalars (lists/tuples of them for
hyper-parameters such as ``betas``), with torch's layout: ``{"state": {index: {...}},
"param_groups": [{..., "params": [index, ...]}]}``, parameters numbered by their position
across the groups. It can therefore be stored as .npz + JSON without pickle.
"""

from __future__ import annotations

import collections
import copy
import math
import numbers
import types
import warnings
from typing import Any, Callable, Iterable

import numpy as np

from ..autograd import enable_grad, mark_changed
from ..device import (
    CPU,
    DeviceError,
    copy_into,
    device_of,
    memo_device_copies,
    move,
    move_unpickled,
)
from ..tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "clip_grad_norm_", "clip_grad_value_",
           "required"]


class _Required:
    """Sentinel for a hyper-parameter with no default, as ``torch.optim.optimizer.required``
    (an SGD pickled before its ``lr`` had torch's default holds it): one instance, which
    unpickling and deep copies give back too (the optimisers test ``is required``)."""

    _instance: "_Required | None" = None

    def __new__(cls) -> "_Required":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


def _check_number(where: str, name: str, value, low: float = 0.0, high: float | None = None,
                  high_open: bool = True) -> None:
    """Raise a TypeError unless ``value`` is a real number, a ValueError unless
    ``low <= value`` (and ``value < high`` or ``<= high``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {value!r}")
    ok = low <= value and (high is None or (value < high if high_open else value <= high))
    if not ok:
        bound = f">= {low}" if high is None else \
            f"in [{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{where}: {name} must be {bound}, got {value!r}")


def _check_implementation(where: str, hp: dict) -> None:
    """torch's arguments that pick how an update is computed, not what it computes
    (``foreach``, ``fused``), or a capability (``capturable``, ``differentiable``), as far
    as they are in ``hp``: a TypeError unless None or a bool (``foreach``, ``fused``) or a
    bool; a ValueError for ``foreach=True`` with ``fused=True`` (as torch refuses), and for
    ``capturable=True`` or ``differentiable=True``, which are not supported."""
    for key in ("foreach", "fused"):
        value = hp.get(key)
        if value is not None and not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{where}: {key} must be None, True or False, got {value!r}")
    if hp.get("foreach") and hp.get("fused"):
        raise ValueError(f"{where}: fused and foreach cannot be True together (as in torch)")
    unsupported = {
        "capturable": "a step captured in a CUDA graph; the updates here read their step "
                      "count on the host",
        "differentiable": "autograd through the optimizer step; the updates here write "
                          "into p.data in place and record nothing in the graph"}
    for key, why in unsupported.items():
        if key not in hp:
            continue
        value = hp[key]
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{where}: {key} must be True or False, got {value!r}")
        if value:
            raise ValueError(f"{where}: {key}=True is not supported ({why}); pass "
                             f"{key}=False (torch's default)")


def _plain(value):
    """A hyper-parameter as a Python scalar (or a tuple of them) for ``state_dict``."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    return value


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad``, ``step``, and the
    state_dict round trip. Subclasses define ``_validate(hp)`` and ``_update(p, grad, state,
    group)``.

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        The parameters to optimise (e.g. ``model.parameters()``), or parameter groups:
        dicts with a ``"params"`` entry and any hyper-parameters that override ``defaults``.
    defaults : dict
        Hyper-parameters used by groups that do not set them.

    Attributes
    ----------
    param_groups : list of dict
        The groups: ``"params"`` and every hyper-parameter (torch's keys).
    state : collections.defaultdict
        Parameter → its state (a dict of arrays and scalars), ``{}`` for a parameter that
        has none yet, as torch's.

    Raises
    ------
    TypeError
        ``params`` is not such an iterable (a single Tensor, a Module itself: pass its
        ``parameters()``), or holds something other than floating point Tensors.
    ValueError
        No parameters, one given twice, a non-leaf tensor, or an invalid hyper-parameter.
    """

    _scalar_state: tuple[str, ...] = ("step",)   # state entries that are Python scalars

    def __init__(self, params, defaults: dict):
        name = type(self).__name__
        if isinstance(params, (Tensor, dict)):
            raise TypeError(f"{name}: params should be an iterable of Tensors or of dicts "
                            f"(parameter groups), got a single {type(params).__name__}; "
                            f"wrap it in a list")
        if hasattr(params, "named_parameters") or not hasattr(params, "__iter__"):
            # NOTE: a Module (duck-typed: nn is above this layer) would give Python's
            # "object is not iterable", or a Sequential its modules, not parameters
            hint = "; pass its parameters(), e.g. model.parameters()" if \
                hasattr(params, "named_parameters") else ""
            raise TypeError(f"{name}: params should be an iterable of Tensors or of dicts "
                            f"(parameter groups), got {type(params).__name__}{hint}")
        self.defaults = dict(defaults)
        self._validate({k: v for k, v in self.defaults.items() if v is not required})
        # Tensor -> dict of state arrays and scalars; as torch's, a parameter without state
        # reads as {} (opt.state[p] for one that has not stepped yet)
        self.state: collections.defaultdict = collections.defaultdict(dict)
        self.param_groups: list[dict] = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{name} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def _validate(self, hp: dict) -> None:  # pragma: no cover - interface
        """Raise ValueError for invalid hyper-parameters (given those present in ``hp``)."""

    def _update(self, p: Tensor, grad: np.ndarray, state: dict,
                group: dict) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _update_on_gpu(self, p: Tensor, grad: Any, state: dict,
                       group: dict) -> None:  # pragma: no cover - interface
        """The same update for a parameter on the GPU, in place, by one fused kernel
        (``kernels/cuda/optim.py``), its state arrays on the GPU too."""
        raise NotImplementedError

    def add_param_group(self, group: dict) -> None:
        """Add a parameter group (a dict with ``"params"``); missing hyper-parameters come
        from ``defaults``.

        ``"params"`` holds Tensors, or (name, Tensor) pairs as ``named_parameters()`` yields
        them (torch 2.6+): the names are kept under ``"param_names"`` (and in
        ``state_dict()``); a group may also carry its ``"param_names"`` itself, as torch's.
        ValueError, with torch's message, when some parameters have names and others not, in
        this group or across the groups."""
        name = type(self).__name__
        if not isinstance(group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict, got "
                            f"{type(group).__name__}")
        if "params" not in group:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry, got keys "
                             f"{sorted(group)}")
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{name}: parameters must be given in a fixed order; a set's "
                            "order changes between runs, use a list")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple) and len(p) == 2]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some "
                                 "param names are missing")
            params = [p for _, p in params]
        # torch's check reads the group's "param_names" key: the names of its pairs, or
        # those the group dict carries itself (as a checkpoint's rebuilt groups do)
        named = bool(names) or "param_names" in group
        if self.param_groups and named != ("param_names" in self.param_groups[0]):
            raise ValueError("all optimizer param groups should be with/without names. "
                             f"cannot add param group {'with' if named else 'without'} names "
                             "to the optimizer")
        for k, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimise Tensors, but parameter {k} is a "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: parameter {k} is not a leaf tensor (it was "
                                 f"computed by {p.grad_fn.name}); optimise the leaves")
            if p.dtype.kind != "f":
                raise TypeError(f"{name}: parameter {k} has dtype {p.dtype}; only floating "
                                "point parameters can be optimised")
        new: dict = {"params": params, **({"param_names": names} if names else {})}
        for key, default in self.defaults.items():
            value = group.get(key, default)
            if value is required:
                raise ValueError(f"{name}: parameter group {len(self.param_groups)} does not "
                                 f"specify the required hyper-parameter {key!r}")
            new[key] = _plain(value)
        for key, value in group.items():
            if key not in new:
                new[key] = value
        self._validate(new)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or seen & {id(p) for p in params}:
            raise ValueError(f"{name}: some parameters appear more than once (within a group "
                             "or in more than one group)")
        self.param_groups.append(new)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (to None, or to zeros in place)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    copy_into(p.grad, 0)

    def step(self, closure: Callable[[], object] | None = None):
        """Update every parameter that has a gradient, in place.

        ``closure``, if given, re-evaluates the model and returns the loss (it is called with
        gradients enabled, before the update); its value is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                on_cpu = type(p.data) is np.ndarray
                grad = np.asarray(p.grad) if on_cpu else p.grad
                if grad.shape != p.shape:
                    raise ValueError(f"{type(self).__name__}.step: a parameter of shape "
                                     f"{p.shape} has a gradient of shape {grad.shape}")
                state = _follow(self.state.get(p, {}), p)
                if on_cpu:
                    # IEEE results for huge or non-finite gradients (inf, NaN), as torch's,
                    # without NumPy's warnings
                    with np.errstate(all="ignore"):
                        self._update(p, grad, state, group)
                else:
                    self._update_on_gpu(p, grad, state, group)
                if state:                   # none kept for an update without state (as
                    self.state[p] = state   # torch: SGD without momentum)
                mark_changed(p.data)        # a graph that saved p can no longer backward
        return loss

    # -- pickling and copies --------------------------------------------------------------
    def __getstate__(self) -> dict:
        """Pickling: the optimiser's fields, its state arrays on the GPU as host copies with
        the device they return to, as a Module's buffers (a numba.cuda device array does
        not pickle; the parameters pickle themselves: ``Tensor.__getstate__``)."""
        fields = dict(self.__dict__)
        devices = [{key: str(device_of(v)) for key, v in entries.items()
                    if _is_array(v) and device_of(v) is not CPU}
                   for entries in self.state.values()]
        if any(devices):
            fields["state"] = {p: {key: move(v, CPU) if key in on_gpu else v
                                   for key, v in entries.items()}
                               for (p, entries), on_gpu in zip(self.state.items(), devices)}
            fields["_state_devices"] = devices      # one dict per entry of state, in order
        return fields

    def __setstate__(self, fields: dict) -> None:
        """Unpickling: the state arrays pickled on the GPU go back to it (DeviceError,
        naming ``.cpu()``, where no GPU is usable)."""
        fields = dict(fields)
        devices = fields.pop("_state_devices", [])
        # NOTE: pickled with its state as a plain dict (on the GPU, or before it was torch's
        # defaultdict)
        fields["state"] = collections.defaultdict(dict, fields.get("state", {}))
        self.__dict__.update(fields)
        for entries, on_gpu in zip(self.state.values(), devices):
            for key, where in on_gpu.items():
                entries[key] = move_unpickled(entries[key], where,
                                              f"{type(self).__name__}'s state")

    def __deepcopy__(self, memo: dict) -> "Optimizer":
        """A deep copy on the same devices, as torch's: the state arrays on the GPU are
        copied there (a numba.cuda device array has no deep copy of its own: the
        simulator's gave a host array, left there until the next step)."""
        for entries in self.state.values():
            memo_device_copies(entries.values(), memo)
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    # -- state_dict -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"state": {index: {name: ndarray copy or scalar}}, "param_groups": [...]}``.

        Parameters are numbered by position across the groups (torch's convention).
        """
        index, groups = {}, []
        for group in self.param_groups:
            packed = {k: list(v) if k == "param_names" else _plain(v)
                      for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index[id(p)] = len(index)
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {
                        k: np.array(move(v, CPU), copy=True) if _is_array(v) else _plain(v)
                        for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and per-parameter state saved by :meth:`state_dict`.

        The optimiser must hold the same number of groups, each with the same number of
        parameters as when it was saved; parameters are matched by position. State keys may
        be strings of digits (as after a JSON round trip); arrays are copied and cast to
        their parameter's dtype, and must have its shape. torch's optimiser of the same
        class gives a state this takes as it is (its CPU tensors read as arrays, its float
        ``step`` as an int); the other way, :func:`nongate_np.optim.to_torch_state_dict`.
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            got = sorted(state_dict) if isinstance(state_dict, dict) else \
                type(state_dict).__name__
            raise ValueError(f"{name}: expected a dict with keys 'state' and 'param_groups', "
                             f"got {got}")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}: the state has {len(saved_groups)} parameter groups, "
                             f"this optimiser has {len(self.param_groups)}")
        params = []
        for k, (mine, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(mine["params"]):
                raise ValueError(f"{name}: parameter group {k} has {len(saved['params'])} "
                                 f"parameters in the state but {len(mine['params'])} here")
            params += [(int(i), p) for i, p in zip(saved["params"], mine["params"])]
        by_index = dict(params)
        new_state = {}
        for key, entries in state_dict["state"].items():
            idx = int(key)
            if idx not in by_index:
                raise ValueError(f"{name}: the state has an entry for parameter {idx}, but "
                                 f"the groups number parameters {sorted(by_index)}")
            p = by_index[idx]
            new_state[p] = {k: self._restore(k, v, p, idx, name) for k, v in entries.items()}
        new_groups = []
        for mine, saved in zip(self.param_groups, saved_groups):
            group = dict(mine)
            for k, v in saved.items():
                if k == "param_names":
                    group[k] = list(v)
                elif k != "params":
                    group[k] = tuple(v) if isinstance(mine.get(k), tuple) else _plain(v)
            self._validate(group)
            new_groups.append(group)
        self.param_groups, self.state = new_groups, collections.defaultdict(dict, new_state)

    def _restore(self, key: str, value, p: Tensor, idx: int, where: str):
        if key in self._scalar_state:
            value = _plain(np.asarray(value).item())
            # NOTE: torch keeps Adam's step count as a float tensor; here it is an int
            return int(value) if isinstance(value, float) and value.is_integer() else value
        arr = np.asarray(value)
        if arr.shape != p.shape:
            raise ValueError(f"{where}: state {key!r} of parameter {idx} has shape "
                             f"{arr.shape}, expected the parameter's shape {p.shape}")
        return np.array(arr, dtype=p.dtype if arr.dtype.kind == "f" else arr.dtype, copy=True)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for k, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {k}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines + [")"])


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, as ``torch.optim.SGD`` (torch 2.x)::

        g ← ∇θ (−∇θ if maximize);   g ← g + λ θ            (weight_decay λ ≠ 0)
        b ← g at the first step, else μ b + (1 − τ) g       (momentum μ ≠ 0, dampening τ)
        g ← g + μ b if nesterov else b
        θ ← θ − γ g                                        (lr γ)

    State per parameter: ``momentum_buffer`` (when μ ≠ 0; a parameter has no state without
    momentum, as in torch). The default ``lr`` is torch's, 1e-3.

    The arguments are torch's, in its order. ``foreach`` and ``fused`` (None, True or False)
    choose an implementation in torch; there is one here (a NumPy pass per parameter, one
    fused kernel on the GPU), so they are kept in the groups, as torch keeps them, and
    change nothing. ``differentiable=True`` (autograd through the update) is not supported.

    Raises
    ------
    TypeError, ValueError
        As :class:`Optimizer`; a ValueError for a hyper-parameter out of range, nesterov
        without momentum > 0 and dampening 0, ``foreach`` and ``fused`` both True, or
        ``differentiable=True``; a TypeError for ``foreach``, ``fused`` or
        ``differentiable`` not a bool (or None).
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 *, maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    def _validate(self, hp: dict) -> None:
        _check_implementation("SGD", hp)
        if "lr" in hp:
            _check_number("SGD", "lr", hp["lr"])
        _check_number("SGD", "momentum", hp["momentum"])
        _check_number("SGD", "dampening", hp["dampening"], 0.0, 1.0, high_open=False)
        _check_number("SGD", "weight_decay", hp["weight_decay"])
        if hp["nesterov"] and (hp["momentum"] <= 0 or hp["dampening"] != 0):
            raise ValueError(f"SGD: nesterov=True requires momentum > 0 and dampening = 0, "
                             f"got momentum={hp['momentum']}, dampening={hp['dampening']}")

    def _update(self, p, grad, state, group):
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        param = p.data
        if group["maximize"]:
            grad = -grad
        if wd != 0:
            grad = grad + wd * param
        if mu != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, copy=True)
            else:
                buf *= mu
                buf += (1 - group["dampening"]) * grad
            grad = grad + mu * buf if group["nesterov"] else buf
        param += -lr * grad

    def _update_on_gpu(self, p, grad, state, group):
        mu = group["momentum"]
        buf = state.get("momentum_buffer")
        first = mu != 0 and buf is None
        if first:                       # written, not read, by the first update
            buf = state["momentum_buffer"] = p.device.xp.empty(p.shape, p.dtype)
        cuda_optim().sgd_update(p.data, grad, buf if mu != 0 else None, lr=group["lr"],
                                momentum=mu, dampening=group["dampening"],
                                weight_decay=group["weight_decay"],
                                nesterov=group["nesterov"], maximize=group["maximize"],
                                first=first)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015), as ``torch.optim.Adam`` (torch 2.x)::

        t ← t + 1;   g ← ∇θ (−∇θ if maximize)
        θ ← θ (1 − γλ)  if decoupled_weight_decay  else  g ← g + λ θ      (λ ≠ 0)
        m ← lerp(m, g, 1 − β1);   v ← β2 v + (1 − β2) g²
        v̂ ← max(v̂, v) if amsgrad (the denominator then uses v̂)
        θ ← θ − (γ / (1 − β1ᵗ)) · m / (sqrt(v) / sqrt(1 − β2ᵗ) + ε)

    State per parameter: ``step`` (int), ``exp_avg``, ``exp_avg_sq`` and, with amsgrad,
    ``max_exp_avg_sq``; the names are torch's.

    The arguments are torch's, in its order. ``foreach`` and ``fused`` (None, True or False)
    choose an implementation in torch; there is one here (a NumPy pass per parameter, one
    fused kernel on the GPU), so they are kept in the groups, as torch keeps them, and
    change nothing. ``capturable=True`` (CUDA graphs) and ``differentiable=True`` (autograd
    through the update) are not supported.

    Raises
    ------
    TypeError, ValueError
        As :class:`Optimizer`; a ValueError for a hyper-parameter out of range (``betas``
        not a pair in [0, 1)), ``foreach`` and ``fused`` both True, ``capturable=True`` or
        ``differentiable=True``; a TypeError for one of those four not a bool (or None).
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                                      capturable=capturable, differentiable=differentiable,
                                      fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _validate(self, hp: dict) -> None:
        where = type(self).__name__
        _check_implementation(where, hp)
        _check_number(where, "lr", hp["lr"])
        _check_number(where, "eps", hp["eps"])
        betas = hp["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{where}: betas must be a pair (beta1, beta2), got {betas!r}")
        for k, b in enumerate(betas):
            _check_number(where, f"betas[{k}]", b, 0.0, 1.0)
        _check_number(where, "weight_decay", hp["weight_decay"])

    def _update(self, p, grad, state, group):
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        param = p.data
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        step = state["step"]
        if wd != 0:
            if group["decoupled_weight_decay"]:
                param *= 1 - lr * wd
            else:
                grad = grad + wd * param
        _lerp_(exp_avg, grad, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        bias_correction1 = 1 - beta1 ** step
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        step_size = lr / bias_correction1
        if group["amsgrad"]:
            if "max_exp_avg_sq" not in state:     # amsgrad switched on after some steps
                state["max_exp_avg_sq"] = np.zeros_like(param)
            second = np.maximum(state["max_exp_avg_sq"], exp_avg_sq,
                                out=state["max_exp_avg_sq"])
        else:
            second = exp_avg_sq
        denom = np.sqrt(second) / bias_correction2_sqrt + eps
        param += -step_size * exp_avg / denom

    def _update_on_gpu(self, p, grad, state, group):
        xp = p.device.xp
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros(p.shape, p.dtype)
            state["exp_avg_sq"] = xp.zeros(p.shape, p.dtype)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = xp.zeros(p.shape, p.dtype)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        cuda_optim().adam_update(
            p.data, grad, state["exp_avg"], state["exp_avg_sq"],
            state.get("max_exp_avg_sq") if group["amsgrad"] else None, lr=group["lr"],
            beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
            decoupled=group["decoupled_weight_decay"], maximize=group["maximize"],
            amsgrad=group["amsgrad"], step=state["step"])


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), as ``torch.optim.AdamW``:
    the parameter is first shrunk, ``θ ← θ (1 − γλ)``, and λ never enters the moments.
    Otherwise the update is :class:`Adam`'s, and so are the other arguments and errors;
    the default ``weight_decay`` is 1e-2.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)


def _lerp_(a: np.ndarray, b: np.ndarray, w: float) -> None:
    """a ← a + w (b − a), in place, with torch's two-sided formula (exact at w = 1)."""
    if abs(w) < 0.5:
        a += w * (b - a)
    else:
        a[...] = b - (b - a) * (1 - w)


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or hasattr(value, "copy_to_host")


def _follow(state: dict, p: Tensor) -> dict:
    """``state`` with its arrays on ``p``'s device and, for those shaped like ``p``, in its
    floating dtype (the optimizer state follows its parameter, e.g. after
    ``Module.to("cuda")`` or ``.double()``: float32 moments beside float64 weights would
    round each step's update)."""
    for key, value in state.items():
        if not _is_array(value):
            continue
        if device_of(value) != p.device:
            value = state[key] = move(value, p.device)
        if value.dtype != p.dtype and value.dtype.kind in "fc" and p.dtype.kind in "fc" \
                and tuple(value.shape) == tuple(p.shape):
            state[key] = p.device.xp.astype(value, p.dtype)
    return state


def cuda_optim() -> Any:
    """The GPU's fused optimizer kernels (loaded on the first update of a GPU parameter)."""
    from ..kernels.cuda import optim as kernels
    return kernels


def _grads(parameters, where: str, warn_empty: bool = True) -> list[np.ndarray]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    elif isinstance(parameters, types.GeneratorType):
        parameters = list(parameters)
        if not parameters and warn_empty:   # torch's warning: a used-up generator clips nothing
            warnings.warn("`parameters` is an empty generator, no gradient clipping will "
                          "occur.", UserWarning, stacklevel=3)
    grads = []
    for k, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: expected Tensors (e.g. model.parameters()), but item "
                            f"{k} is a {type(p).__name__}")
        if p.grad is not None:
            grads.append(p.grad)
    return grads


def _norm_type(where: str, norm_type) -> float:
    norm_type = float(norm_type)
    if not (norm_type > 0):
        # NOTE: torch takes these too: 0 counts the gradients with a non-zero entry, -inf
        # and negative orders measure the smallest entries: no size to clip by
        raise ValueError(f"{where}: norm_type must be > 0 or inf, got {norm_type} "
                         "(torch's 0, negative orders and -inf are not supported)")
    return norm_type


def _measure(arrays: list, norm_type: float, error_if_nonfinite: bool, where: str):
    """The total ``norm_type``-norm of ``arrays`` (host or GPU arrays, at least one) as one
    vector: ``(result, parts)``, result the 0-d Tensor that clip_grad_norm_ and
    get_total_norm return (the arrays' promoted dtype, on their device), parts ``(m, r)``
    of :func:`_total_norm` for host arrays, the (1,) float64 device total for GPU ones.
    RuntimeError with ``error_if_nonfinite`` where an entry is inf or NaN."""
    dtype = np.result_type(*(a.dtype for a in arrays))
    if any(type(a) is not np.ndarray for a in arrays):
        if any(type(a) is np.ndarray for a in arrays):
            raise DeviceError(f"{where}: the gradients are on two devices, cpu and cuda; "
                              "move the parameters to one with Module.to(...)")
        total_on_gpu = cuda_optim().total_norm(arrays, norm_type)
        if error_if_nonfinite:
            total = float(total_on_gpu.copy_to_host()[0])
            if not math.isfinite(total):
                raise _nonfinite_norm(where, total, norm_type)
        xp = device_of(total_on_gpu).xp
        return Tensor(xp.astype(xp.reshape(total_on_gpu, ()), dtype)), total_on_gpu
    biggest, relative = _total_norm(arrays, norm_type)
    with np.errstate(over="ignore"):    # only when the norm itself exceeds the float64 max
        total = biggest * relative
        result = Tensor(np.array(total, dtype))     # and here the arrays' dtype's max
    if error_if_nonfinite and not math.isfinite(biggest):
        raise _nonfinite_norm(where, total, norm_type)
    return result, (biggest, relative)


def _scale_(grads: list, coefficient) -> None:
    """Every gradient multiplied in place by ``coefficient``: a Python float for host
    arrays (cast to each one's dtype, as torch casts its 0-d factor), a float device array
    of one element for GPU ones."""
    if any(type(g) is not np.ndarray for g in grads):
        cuda_optim().scale_(grads, coefficient)
        return
    with np.errstate(invalid="ignore"):     # inf · 0 is NaN, as torch's
        for g in grads:
            g *= coefficient


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> Tensor:
    """Scale the gradients in place so their joint norm is at most ``max_norm``, as
    ``torch.nn.utils.clip_grad_norm_`` (:func:`get_total_norm` of the gradients, then
    :func:`clip_grads_with_norm_`, as torch's; one total norm computation serves all
    three).

    The total norm is the ``norm_type``-norm of all gradients as one vector; ``norm_type``
    may be ``inf`` (largest absolute entry). It is computed in float64 and scaled by the
    largest entry, so it is finite for any finite gradients (torch's overflows to inf, e.g.
    for entries of 1e300, and then zeroes them). Each gradient is multiplied by
    ``c = max_norm / (total + 1e-6)`` when ``c < 1``, computed as torch computes it (as
    ``(total + 1e-6)⁻¹ · max_norm`` in the total's dtype, the total returned); a zero total
    leaves them as they are. Parameters without a gradient are skipped; an empty generator
    warns, as torch's.

    Finite gradients whose norm exceeds their dtype's maximum are clipped by the coefficient
    computed from the scaled float64 norm (a finite, non-zero result) and ``inf`` is
    returned.
    A non-finite entry (inf or NaN): with ``error_if_nonfinite`` a RuntimeError
    naming the total, before anything is scaled; without it (the default, as torch 2.13)
    the gradients are scaled as torch scales them: by c = 0 for an inf total (an inf entry
    becomes NaN, every finite one 0), by NaN for a NaN total; no NumPy warning.
    ``foreach`` picks an implementation in torch; there is one here, so it is accepted
    and changes nothing (as torch's on CPU and CUDA tensors).

    Returns
    -------
    Tensor
        The total norm before clipping, as torch's: 0-d, of the gradients' dtype (the
        promoted one for mixed dtypes; a norm beyond its range is inf), on their device,
        outside any graph; ``float(total)`` gives the number. A float64 0 when no
        parameter has a gradient.

    Raises
    ------
    ValueError
        ``norm_type`` not > 0 (torch's 0, negative orders and -inf, which measure no size
        to clip by, are not supported), or ``max_norm`` < 0 (torch would multiply the
        gradients by a negative factor).
    TypeError
        ``max_norm`` is not a real number, or an item of ``parameters`` is not a Tensor.
    RuntimeError
        ``error_if_nonfinite`` and a non-finite total norm.
    """
    grads = _grads(parameters, "clip_grad_norm_")
    norm_type = _norm_type("clip_grad_norm_", norm_type)
    _check_number("clip_grad_norm_", "max_norm", max_norm)
    if not grads:
        return Tensor(np.array(0.0))
    result, parts = _measure(grads, norm_type, error_if_nonfinite, "clip_grad_norm_")
    if not isinstance(parts, tuple):    # on the GPU: the coefficient stays there too
        _scale_(grads, cuda_optim().clip_coefficient(parts, max_norm))
        return result
    biggest, relative = parts
    if math.isinf(result.item()) and math.isfinite(biggest):
        # finite gradients whose norm exceeds their dtype's range: the coefficient from the
        # scaled norm (torch's inf norm would zero them)
        clip_coef = max_norm / biggest / relative
    else:
        clip_coef = _clip_coefficient(max_norm, result.data)
    if not clip_coef >= 1.0:            # NOTE: also for a NaN total, as torch
        _scale_(grads, clip_coef)
    return result


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of ``tensors`` (Tensors or arrays, e.g. the gradients
    ``[p.grad for p in model.parameters() if p.grad is not None]``, or one of them) as one
    vector, as ``torch.nn.utils.get_total_norm`` (torch 2.6+): :func:`clip_grad_norm_`'s
    total (the same computation: float64, scaled by the largest entry, so finite for any
    finite entries), returned as it returns it.

    Returns a 0-d Tensor of the promoted dtype, on the arrays' device, outside any graph;
    a float64 0 for no tensors. ``foreach`` is accepted and changes nothing.

    Raises ValueError for ``norm_type`` not > 0 (as clip_grad_norm_), TypeError for an item
    that is not a Tensor or an array of floats, RuntimeError with ``error_if_nonfinite``
    where an entry is inf or NaN (as torch, for a non-finite total).
    """
    items = [tensors] if isinstance(tensors, Tensor) or hasattr(tensors, "dtype") and \
        hasattr(tensors, "shape") else list(tensors)
    norm_type = _norm_type("get_total_norm", norm_type)
    arrays = []
    for k, t in enumerate(items):
        data = t.data if isinstance(t, Tensor) else t
        if not (hasattr(data, "dtype") and hasattr(data, "shape")) or \
                np.dtype(data.dtype).kind != "f":
            raise TypeError(f"get_total_norm: expected Tensors or arrays of floats (e.g. "
                            f"the gradients p.grad), but item {k} is "
                            f"{type(t).__name__}{_dtype_note(data)}")
        arrays.append(data)
    if not arrays:
        return Tensor(np.array(0.0))
    return _measure(arrays, norm_type, error_if_nonfinite, "get_total_norm")[0]


def _dtype_note(data) -> str:
    return f" of dtype {data.dtype}" if hasattr(data, "dtype") else ""


def clip_grads_with_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                          total_norm, foreach: bool | None = None) -> None:
    """Scale the gradients of ``parameters`` in place by ``min(max_norm / (total_norm +
    1e-6), 1)`` given their total norm (:func:`get_total_norm`'s), as
    ``torch.nn.utils.clip_grads_with_norm_`` (torch 2.6+): the coefficient is computed as
    torch computes it, in ``total_norm``'s dtype (``(total_norm + 1e-6)⁻¹ · max_norm``),
    NaN for a NaN total and 0 for an inf one (as torch: an inf entry becomes NaN).
    Parameters without a gradient are skipped; ``foreach`` is accepted and changes nothing.

    ``total_norm``: a 0-d (or one-element) Tensor or array, or a real number.

    Raises TypeError for an item of ``parameters`` that is not a Tensor, a ``max_norm`` or
    ``total_norm`` that is not a real number; ValueError for ``max_norm`` < 0.
    """
    grads = _grads(parameters, "clip_grads_with_norm_", warn_empty=False)
    _check_number("clip_grads_with_norm_", "max_norm", max_norm)
    total = total_norm.data if isinstance(total_norm, Tensor) else total_norm
    if isinstance(total, (bool, np.bool_)) or not (
            isinstance(total, numbers.Real) or getattr(total, "size", 0) == 1 and
            np.dtype(getattr(total, "dtype", object)).kind in "fiu"):
        raise TypeError(f"clip_grads_with_norm_: total_norm must be a real number or a "
                        f"one-element Tensor (get_total_norm's result), got "
                        f"{type(total_norm).__name__}")
    if not grads:
        return
    total = np.asarray(total) if isinstance(total, numbers.Real) else total
    if any(type(g) is not np.ndarray for g in grads):
        where = device_of(grads[0])
        on_device = where.xp.astype(where.xp.reshape(move(total, where), (1,)), np.float64)
        _scale_(grads, cuda_optim().clip_coefficient(on_device, max_norm))
        return
    coefficient = _clip_coefficient(max_norm, np.asarray(move(total, CPU)).reshape(()))
    if not coefficient >= 1.0:          # NOTE: also NaN, as torch
        _scale_(grads, coefficient)


def _clip_coefficient(max_norm: float, total: np.ndarray) -> float:
    """torch's ``min((total + 1e-6)⁻¹ · max_norm, 1)``, computed as torch computes it, in
    the dtype of the 0-d ``total`` (float64 for an integer one): NaN for a NaN total, 0
    for an inf one."""
    dtype = total.dtype if total.dtype.kind == "f" else np.dtype(np.float64)
    one = dtype.type
    with np.errstate(all="ignore"):
        c = np.reciprocal(total.astype(dtype) + one(1e-6)) * one(max_norm)
    return float(np.minimum(c, one(1.0)))


def _total_norm(grads: list[np.ndarray], norm_type: float) -> tuple[float, float]:
    """The ``norm_type``-norm of the host arrays ``grads`` as one vector, in float64, as
    (m, ‖g / m‖) with m the largest |entry| (NaN if any entry is NaN), whose powers never
    overflow; (m, 1) for ``inf`` and when m is 0, inf or NaN. The norm is their product."""
    biggest = float(np.max([np.max(np.abs(g)) if g.size else 0.0 for g in grads]))
    if math.isinf(norm_type) or not 0.0 < biggest < math.inf:
        return biggest, 1.0
    norms = [np.linalg.norm(np.ravel(g).astype(np.float64, copy=False) / biggest, norm_type)
             for g in grads]
    return biggest, float(np.linalg.norm(np.asarray(norms), norm_type))


def _nonfinite_norm(where: str, total: float, norm_type: float) -> RuntimeError:
    return RuntimeError(f"{where}: the total norm of order {norm_type} of the "
                        f"gradients is {total}, so they cannot be clipped; pass "
                        "error_if_nonfinite=False to scale them by it anyway (as torch: an "
                        "inf norm zeroes the finite entries, a NaN norm makes all NaN)")


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clip every gradient entry to [-clip_value, clip_value] in place, as torch's
    (``foreach`` is accepted and changes nothing, as in :func:`clip_grad_norm_`)."""
    _check_number("clip_grad_value_", "clip_value", clip_value)
    grads = _grads(parameters, "clip_grad_value_")
    on_gpu = [g for g in grads if type(g) is not np.ndarray]
    if on_gpu:
        cuda_optim().clip_value_(on_gpu, clip_value)
    for g in grads:
        if type(g) is np.ndarray:
            np.clip(g, -clip_value, clip_value, out=g)
