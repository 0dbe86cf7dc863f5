"""Optimiser and scheduler states across to PyTorch: :func:`to_torch_state_dict`.

An optimiser's ``state_dict()`` here has torch's layout but holds ndarrays and Python
scalars, which ``torch.optim.Optimizer.load_state_dict`` cannot take (it casts each state
value with ``.to``; an ndarray fails with "TypeError: expected a sequence of integers or a
single integer"). :func:`to_torch_state_dict` gives the same state with tensors::

    torch_opt = torch.optim.Adam(torch_model.parameters(), lr=1e-3)
    torch_opt.load_state_dict(to_torch_state_dict(opt.state_dict()))

The other way needs nothing: ``opt.load_state_dict(torch_opt.state_dict())`` reads torch's
CPU tensors as arrays (``.cpu()`` a GPU optimiser's state first). A scheduler's state
torch reads as it is, except after JSON (a checkpoint's ``extra``), where MultiStepLR's
milestones have str keys: :func:`to_torch_state_dict` gives them back as torch's Counter.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..extras import install_hint

__all__ = ["to_torch_state_dict"]


def _torch():
    """The ``torch`` module, or an ImportError naming the extra that installs it."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(f"to_torch_state_dict: needs PyTorch, which is not installed: "
                          f"{install_hint('torch')}") from exc
    return torch


def to_torch_state_dict(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """``state_dict`` as torch's optimiser or scheduler of the same class loads it.

    Parameters
    ----------
    state_dict : dict
        An optimiser's ``state_dict()`` (SGD, Adam, AdamW: ``{"state": {index: {name:
        value}}, "param_groups": [...]}``), as returned or as a checkpoint holds it
        (``nongate_np.load(path).optimizer_state``: indices may be strings of digits,
        ``betas`` a list); or a learning-rate scheduler's ``state_dict()``, as returned or
        after JSON.

    Returns
    -------
    dict
        A new dict; nothing in ``state_dict`` is changed or shared. Optimiser: each state
        array as a CPU ``torch.Tensor`` of its dtype (a copy: float64 stays float64;
        torch's ``load_state_dict`` then casts it to its parameter's dtype and device),
        ``step`` as torch keeps it, a 0-d tensor of float32 (float64 where torch's default
        dtype is float64), the indices as ints and each group's lists (``betas`` after
        JSON) as tuples, ``params`` and ``param_names`` excepted. Scheduler: the same,
        with MultiStepLR's ``milestones`` (in a SequentialLR's or ChainedScheduler's
        ``_schedulers`` too) as torch's ``Counter`` of int keys.

    Raises
    ------
    ImportError
        torch is not installed (the message says how to install it).
    TypeError
        ``state_dict`` is not a dict, or a state value is neither an array nor a number.
    """
    torch = _torch()
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"to_torch_state_dict: expected an optimiser's or scheduler's "
                        f"state_dict (a dict), got {type(state_dict).__name__}")
    if set(state_dict) == {"state", "param_groups"}:
        return _optimizer_state(torch, state_dict)
    return _scheduler_state(state_dict)


def _optimizer_state(torch, state_dict: Mapping[str, Any]) -> dict[str, Any]:
    # NOTE: torch's _get_scalar_dtype: the dtype its optimisers keep ``step`` in
    step_dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    state = {}
    for index, entries in state_dict["state"].items():
        converted = {}
        for name, value in entries.items():
            if name == "step":
                converted[name] = torch.tensor(float(np.asarray(value)), dtype=step_dtype)
            elif isinstance(value, (np.ndarray, np.generic, int, float)) and \
                    not isinstance(value, bool):
                converted[name] = torch.from_numpy(np.array(value, copy=True))
            elif value is None:         # torch's SGD keeps a momentum_buffer of None
                converted[name] = None
            else:
                raise TypeError(f"to_torch_state_dict: state {name!r} of parameter {index} "
                                f"is a {type(value).__name__}; expected an ndarray or a "
                                f"number, as an optimiser's state_dict() holds")
        state[int(index)] = converted
    groups = [{key: list(value) if key in ("params", "param_names") else
               tuple(value) if isinstance(value, list) else value
               for key, value in group.items()}
              for group in state_dict["param_groups"]]
    return {"state": state, "param_groups": groups}


def _scheduler_state(state: Mapping[str, Any]) -> dict[str, Any]:
    converted = dict(state)
    milestones = converted.get("milestones")
    if isinstance(milestones, Mapping):      # MultiStepLR's; SequentialLR's is a list
        converted["milestones"] = collections.Counter(
            {int(k): int(v) for k, v in milestones.items()})
    if isinstance(converted.get("_schedulers"), list):
        converted["_schedulers"] = [_scheduler_state(s) if isinstance(s, Mapping) else s
                                    for s in converted["_schedulers"]]
    return converted
