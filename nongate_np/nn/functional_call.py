"""Call a module with some of its parameters and buffers replaced, as
``torch.func.functional_call``: the way to take a model's weights as a function's inputs
(``gradcheck`` over a model's own parameters, a Jacobian with respect to them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..device import CPU, DeviceError, device_of, move
from ..tensor import Tensor, as_array
from .module import Module

__all__ = ["functional_call"]


def functional_call(module: Module, parameters_and_buffers: Mapping[str, Any],
                    args: Any = (), kwargs: Mapping[str, Any] | None = None) -> Any:
    """``module(*args, **kwargs)`` with the parameters and buffers named in
    ``parameters_and_buffers`` (state_dict names, e.g. ``"lstm.weight_hh_l0"``) replaced by
    the values given, for this call only; the module's own are put back on return, also on
    an exception. As ``torch.func.functional_call`` (one dict; ``args`` a tuple, or one
    argument alone; a parameter shared under several names is replaced under all of them,
    as its ``tie_weights=True``).

    A value may be a Tensor, whose gradient the call's graph then reaches instead of the
    module's parameter's, or an array (a constant; from the host it is moved to the
    module's device). A Tensor must be on the replaced one's device. Its shape must be the
    replaced one's;
    its dtype may differ (float64 weights in a float32 model, complex128 ones for a
    complex-step check; the modules then take input of the same precision).

    To check the gradients of a model's own parameters (docs/math.md G1-G3):

    >>> import numpy as np
    >>> import nongate_np as ng
    >>> lstm = ng.nn.LSTM(3, 4, dtype=np.float64)
    >>> x = np.random.default_rng(0).standard_normal((5, 2, 3))
    >>> names = ["weight_ih_l0", "weight_hh_l0"]
    >>> def loss(w_ih, w_hh):
    ...     y, _ = ng.nn.functional_call(lstm, dict(zip(names, (w_ih, w_hh))), (x,))
    ...     return (y * y).sum()
    >>> params = dict(lstm.named_parameters())
    >>> ng.gradcheck(loss, [params[n].data for n in names], names=names,
    ...              method="complex_step").passed
    True

    Every parameter of a model, and its input too: ``names = [n for n, _ in
    model.named_parameters()]``, ``fn = lambda x, *ws: loss(functional_call(model,
    dict(zip(names, ws)), (x,)))`` and ``gradcheck(fn, [x, *(p.data for _, p in
    model.named_parameters())], names=["x", *names])``; gradcheck makes fresh leaves of
    them, so the model's own parameters keep their values and get no ``.grad``. Check a
    float64 model (``model.to(np.float64)``) in eval mode, or seed its dropout
    (``ng.rng.seed``) inside fn. Weights gradcheck is given but fn never reads (the model's
    own used instead of the call's) are reported as ones the output does not depend on.

    Only the call sees the values given: what is computed after it from the module's
    parameters sees the module's own. ``MultiTaskSequenceModel.loss`` reads ``log_vars``, so
    to check it too, call a Module whose ``forward`` runs both (``return
    self.model.loss(self.model(x, lengths), targets)[0]``), with the names it gives them
    (``"model.log_vars"``).

    Raises
    ------
    KeyError
        A name that is neither a parameter nor a buffer of ``module`` (the message lists
        the module's names).
    ValueError
        A value whose shape is not the replaced one's.
    TypeError
        ``module`` not a Module, or a value that is not numbers.
    DeviceError
        A Tensor on another device than the value it replaces (a host Tensor given to a
        model on the GPU: ``w.to("cuda")``), or a GPU array given to a module on the CPU.
    """
    if not isinstance(module, Module):
        raise TypeError(f"functional_call: module must be an nn.Module, got "
                        f"{type(module).__name__}")
    slots = _slots(module)
    replaced = []
    for name, value in parameters_and_buffers.items():
        if name not in slots:
            known = sorted(slots)
            raise KeyError(f"functional_call: {name!r} is not a parameter or buffer of "
                           f"{type(module).__name__}; its names are {known}")
        current = slots[name][2]
        value = _on_device(name, value, current)
        if value.shape != current.shape:
            raise ValueError(f"functional_call: {name!r} has shape {value.shape}, expected "
                             f"{current.shape} like the module's")
        replaced += [(where, k, value) for where, k, held in slots.values()
                     if held is current]
    saved = [(where, k, where[k]) for where, k, _ in replaced]
    try:
        for where, k, value in replaced:
            where[k] = value
        call_args = args if isinstance(args, tuple) else (args,)
        return module(*call_args, **(kwargs or {}))
    finally:
        for where, k, original in reversed(saved):
            where[k] = original


def _on_device(name: str, value: Any, current: Any) -> Tensor:
    """``value`` for the slot holding ``current`` as a Tensor on ``current``'s device: an
    array from the host is moved there (as the modules move host input); a Tensor or a GPU
    array on another device is a DeviceError naming ``name`` (the module's op would name
    its own input, and the wrong fix)."""
    there = current.device if isinstance(current, Tensor) else device_of(current)
    if isinstance(value, Tensor):
        if value.device != there:
            raise DeviceError(f"functional_call: {name!r} is on {value.device}, the module's "
                              f"on {there}; move it with .to('{there}')")
        return value
    data = as_array(value, what=f"functional_call: {name!r}")
    if device_of(data) != there:
        if device_of(data) is not CPU:
            raise DeviceError(f"functional_call: {name!r} is a {device_of(data)} array, the "
                              f"module's on {there}; move the module (.to('cuda')) or the "
                              f"value (copy_to_host())")
        data = move(data, there)
    return Tensor(data)


def _slots(module: Module) -> dict[str, tuple[dict, str, Any]]:
    """Each parameter's and buffer's state_dict name -> (its registry, key, value), shared
    ones under every name they have."""
    slots = {}
    for prefix, sub in module.named_modules(remove_duplicate=False):
        for registry in (sub._parameters, sub._buffers):
            for key, value in registry.items():
                if value is not None:
                    slots[prefix + ("." if prefix else "") + key] = (registry, key, value)
    return slots
