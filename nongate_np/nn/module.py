"""``Parameter`` and ``Module``: the containers every layer is built from, as torch's.

A :class:`Module` registers what is assigned to it: a :class:`Parameter` becomes a
parameter, a ``Module`` a child, and names given to :meth:`Module.register_buffer` hold
plain ndarrays that are saved with the parameters but get no gradient. Registration keeps
insertion order, so ``named_parameters()`` and ``state_dict()`` list the same names, in the
same order, as the equivalent torch model (``0.weight``, ``encoder.lstm.weight_ih_l0``).
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import inspect
from collections import namedtuple
from typing import Callable, Iterator

import numpy as np

from .. import defaults
from ..autograd import mark_changed
from ..device import (
    CPU,
    copy_into,
    device_of,
    memo_device_copies,
    move,
    move_unpickled,
    to_arguments,
)
from ..tensor import Tensor, as_array

__all__ = ["Parameter", "Module", "StateDictError", "IncompatibleKeys", "float_dtype",
           "module_dtype", "evaluating"]


# NOTE: while nongate_np.load rebuilds a model from a file's config, the bytes its parameters
# and buffers may take; None outside a load. A context variable, so threads loading in
# parallel each keep their own.
_BUILD_BUDGET: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "nongate_np_build_budget", default=None)


# True inside ``evaluating()``: every module of this thread (context) runs in eval mode
_EVALUATING: contextvars.ContextVar[bool] = contextvars.ContextVar("nongate_np_evaluating",
                                                                   default=False)


@contextlib.contextmanager
def evaluating():
    """Inside the block, in the calling thread only (a ``contextvars`` context), every
    module reads ``training`` as False: Dropout and the LSTM's dropout are off, whatever
    mode the module was set to, and nothing is changed on it. ``predict``, ``evaluate`` and
    ``sample_text`` run inside it, so one model can serve predictions on some threads while
    another thread trains it (``model.eval()`` there switched the trainer's dropout off)."""
    token = _EVALUATING.set(True)
    try:
        yield
    finally:
        _EVALUATING.reset(token)


class BuildBudgetError(MemoryError):
    """A model being rebuilt by ``nongate_np.load`` registered more parameter and buffer
    bytes than the checkpoint allows (its config describes a bigger model than its weights)."""


@contextlib.contextmanager
def build_budget(nbytes: int):
    """Within the block, registering parameters and buffers of more than ``nbytes`` bytes in
    all raises :class:`BuildBudgetError`, before they are initialised (an ``np.empty``
    array is not yet in memory): ``nongate_np.load`` bounds a model built from an untrusted
    config by the weights the file holds."""
    token = _BUILD_BUDGET.set([nbytes])
    try:
        yield
    finally:
        _BUILD_BUDGET.reset(token)


def _spend(array) -> None:
    budget = _BUILD_BUDGET.get()
    if budget is not None and array is not None:
        budget[0] -= array.nbytes
        if budget[0] < 0:
            raise BuildBudgetError(f"registering a {array.dtype} array of shape "
                                   f"{array.shape} ({array.nbytes} bytes) exceeds the model "
                                   "size allowed by the checkpoint")


def _largest(arr: np.ndarray) -> float:
    """The largest finite magnitude of a real or complex part of ``arr`` (0 if none)."""
    parts = (arr.real, arr.imag) if np.iscomplexobj(arr) else (arr,)
    return max((float(np.max(np.abs(p[np.isfinite(p)]), initial=0.0)) for p in parts),
               default=0.0)


def _overflows(arr: np.ndarray, dtype) -> bool:
    """Whether casting the floating ``arr`` to the floating ``dtype`` would turn finite
    values into ±inf (float64 beyond 3.4e38 into float32)."""
    dtype = np.dtype(dtype)
    if arr.dtype.kind not in "fc" or dtype.kind not in "fc" or arr.size == 0:
        return False
    return _largest(arr) > float(np.finfo(dtype).max)


def float_dtype(dtype, where: str) -> np.dtype:
    """``dtype`` as a NumPy floating dtype, or a TypeError naming ``where`` it was given."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where}: expected a floating dtype such as np.float32 or "
                        f"np.float64, got {dtype!r}") from None
    if dt.kind != "f":
        raise TypeError(f"{where}: expected a floating dtype such as np.float32 or "
                        f"np.float64, got {dt}")
    return dt


def module_dtype(dtype, where: str) -> np.dtype:
    """A module constructor's ``dtype``: None is the modules' default, float32 (torch's)
    until ``nongate_np.set_default_dtype`` is called and the set dtype after it; anything
    else as :func:`float_dtype` reads it."""
    return defaults.module_dtype() if dtype is None else float_dtype(dtype, where)


class Parameter(Tensor):
    """A Tensor that a :class:`Module` registers as one of its parameters.

    Parameters
    ----------
    data : array_like
        Floating-point values. An ndarray is used without a copy (as ``torch.nn.Parameter``
        shares its tensor's storage); a Tensor's underlying array is shared; Python floats
        (a list) become ``nongate_np.get_default_dtype()``, as in ``tensor``.
    requires_grad : bool, default True

    Raises
    ------
    TypeError
        If ``data`` is not floating point (integer, boolean and complex data are refused:
        a parameter has to be a point an optimiser can move along its gradient).
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        arr = as_array(data, what="Parameter", python_default=True)
        if arr.dtype.kind != "f":
            raise TypeError(f"Parameter: expected floating point data (float16/32/64), got "
                            f"dtype {arr.dtype}; convert it first, e.g. "
                            f"np.asarray(data, dtype=np.float32)")
        super().__init__(arr, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class StateDictError(RuntimeError):
    """Raised by :meth:`Module.load_state_dict`, listing every problem found at once.

    Attributes ``missing_keys``, ``unexpected_keys`` (lists of str) and ``shape_mismatches``
    (list of ``(key, module_shape, state_shape)``) hold the problems the message lists.
    """

    def __init__(self, message: str, missing_keys, unexpected_keys, shape_mismatches):
        super().__init__(message)
        self.missing_keys = list(missing_keys)
        self.unexpected_keys = list(unexpected_keys)
        self.shape_mismatches = list(shape_mismatches)


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What :meth:`Module.load_state_dict` returns (torch's ``_IncompatibleKeys``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


# the registries every Module keeps in its instance dict
_INTERNAL = ("_parameters", "_buffers", "_non_persistent", "_modules")


def _check_name(name, kind: str, owner) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a str, got {type(name).__name__}")
    if name == "" or "." in name:
        raise ValueError(f"{kind} name can't be empty or contain '.', got {name!r}")
    if hasattr(type(owner), name):
        raise ValueError(f"{kind} name {name!r} would hide the attribute "
                         f"{type(owner).__name__}.{name}; choose another name")
    if name in _INTERNAL:
        # NOTE: registering it dropped the registry itself from the instance (torch: KeyError)
        raise ValueError(f"{kind} name {name!r} would overwrite Module's own registry "
                         f"{name!r}; choose another name")


def _add_indent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    return "\n".join([lines[0]] + [" " * spaces + line for line in lines[1:]])


class Module:
    """Base class of every layer and model, as ``torch.nn.Module``.

    Subclasses call ``super().__init__()`` first, then assign their parameters, buffers and
    sub-modules as attributes, and define ``forward``. Calling the module calls ``forward``.

    Attributes
    ----------
    training : bool
        True in training mode (the default), False after :meth:`eval` and, in the calling
        thread, inside :func:`evaluating`; layers such as Dropout read it.
    """

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", {})

    @property
    def training(self) -> bool:
        return self.__dict__["training"] and not _EVALUATING.get()

    @training.setter
    def training(self, mode: bool) -> None:
        self.__dict__["training"] = bool(mode)

    # -- registration -----------------------------------------------------------------------
    def _registry(self, what: str) -> dict:
        try:
            return self.__dict__[what]
        except KeyError:
            raise AttributeError(f"cannot assign {what[1:-1]} before {type(self).__name__} "
                                 f"called Module.__init__(); call super().__init__() first"
                                 ) from None

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add ``param`` (a Parameter, or None for an absent optional one) under ``name``."""
        self._register(name, param, "_parameters", Parameter,
                       f"parameter {name!r} of {type(self).__name__}")

    def register_buffer(self, name: str, array, persistent: bool = True) -> None:
        """Add a buffer: an ndarray saved in ``state_dict`` (when ``persistent``) that gets no
        gradient, e.g. running statistics. ``array`` may be None (an absent buffer)."""
        buffers = self._registry("_buffers")
        _check_name(name, "buffer", self)
        if array is not None:
            array = as_array(array, what=f"register_buffer({name!r})")
            _spend(array)
        self._forget(name, "_buffers")
        buffers[name] = array
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Add the child ``module`` under ``name`` (``register_module`` is the same)."""
        self._register(name, module, "_modules", Module, f"child module {name!r}")

    register_module = add_module

    def _register(self, name: str, value, registry: str, cls: type, what: str) -> None:
        """Store ``value`` (an instance of ``cls`` or None) under ``name`` in ``registry``,
        removing the name from the others; a TypeError names ``what`` it was to be."""
        entries = self._registry(registry)
        _check_name(name, registry[1:-1], self)
        if value is not None and not isinstance(value, cls):
            raise TypeError(f"cannot assign {type(value).__name__} as {what}: expected a "
                            f"{cls.__name__} or None")
        if isinstance(value, Parameter):
            _spend(value.data)
        self._forget(name, registry)
        entries[name] = value

    def _forget(self, name: str, keep: str) -> None:
        """Remove ``name`` from the instance dict and every registry but ``keep`` (where a
        re-registered name keeps its position, as in torch)."""
        for what in ("_parameters", "_buffers", "_modules"):
            if what != keep:
                self.__dict__[what].pop(name, None)
        self.__dict__["_non_persistent"].discard(name)
        self.__dict__.pop(name, None)

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        if isinstance(value, Parameter):
            self.register_parameter(name, value)
        elif "_parameters" in d and name in d["_parameters"]:
            # NOTE: before the Module case, as torch: a module assigned to a parameter's
            # name is refused, not registered in its place (which dropped the parameter
            # from state_dict without a word)
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                f"of {type(self).__name__}: expected a Parameter or None")
            d["_parameters"][name] = None
        elif isinstance(value, Module):
            self.add_module(name, value)
        elif "_modules" in d and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module "
                                f"{name!r}: expected a Module or None")
            d["_modules"][name] = None
        elif "_buffers" in d and name in d["_buffers"]:
            d["_buffers"][name] = (None if value is None
                                   else as_array(value, what=f"buffer {name!r}"))
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # Only called when normal lookup fails: look in the registries.
        d = self.__dict__
        for what in ("_parameters", "_buffers", "_modules"):
            if what in d and name in d[what]:
                return d[what][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for what in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(what, {}):
                del self.__dict__[what][name]
                self.__dict__["_non_persistent"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = list(super().__dir__())
        for what in ("_parameters", "_buffers", "_modules"):
            keys += list(self.__dict__.get(what, {}))
        return sorted(set(keys))

    # -- forward ----------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} defines no forward(); subclasses "
                                  "of Module must implement it")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- traversal --------------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """This module and every descendant, pre-order, as ``(dotted name, module)``; a
        module reachable twice is listed once unless ``remove_duplicate=False``."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from child.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """Direct children as ``(name, module)``, each module once."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool):
        seen = set()
        mods = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                if recurse else [(prefix, self)])
        for mod_prefix, mod in mods:
            for name, value in mod.__dict__[registry].items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, Parameter)`` pairs in torch's order: each module's own parameters
        (in assignment order), modules visited pre-order. A shared parameter is listed once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, np.ndarray]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[np.ndarray]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> "Module":
        """The descendant named by the dotted path ``target`` ("" is this module)."""
        mod = self
        for part in target.split(".") if target else []:
            child = mod._modules.get(part)
            if child is None:
                raise AttributeError(f"get_submodule: {type(mod).__name__} has no child "
                                     f"module {part!r} (looking up {target!r}); children "
                                     f"are {list(mod._modules)}")
            mod = child
        return mod

    # -- state ------------------------------------------------------------------------------
    def _local_state(self):
        """This module's own (name, array holder) entries, in torch's state_dict order."""
        for name, p in self._parameters.items():
            if p is not None:
                yield name, p
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                yield name, b

    def _state_entries(self, prefix: str = ""):
        """Every (key, Parameter-or-ndarray) of the state dict; shared ones under each name."""
        for name, value in self._local_state():
            yield prefix + name, value
        for name, child in self._modules.items():
            if child is not None:
                yield from child._state_entries(prefix + name + ".")

    def state_dict(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Parameters and persistent buffers as ``{torch key name: ndarray copy}``.

        The arrays are host copies, whatever the module's device: training further does not
        change a saved state. Keys and their order are torch's (a parameter shared by two
        modules appears under both names).
        """
        return {key: np.array(move(value.data if isinstance(value, Tensor) else value, CPU),
                              copy=True)
                for key, value in self._state_entries(prefix)}

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy ``state_dict``'s arrays into this module's parameters and buffers, in place.

        Parameters
        ----------
        state_dict : mapping of str to array_like
            ndarrays or anything ``np.asarray`` accepts (e.g. ``t.numpy()`` of torch
            tensors). Each value is cast to the receiving parameter's dtype.
        strict : bool, default True
            Require the keys to match exactly. With ``strict=False`` missing and unexpected
            keys are returned instead of raised; a shape mismatch raises either way.

        Returns
        -------
        IncompatibleKeys
            ``(missing_keys, unexpected_keys)``, as torch's.

        Raises
        ------
        StateDictError
            Listing every missing key, every unexpected key, every shape mismatch and every
            value that cannot be cast (complex into real, finite values beyond the receiving
            dtype's range) at once. Nothing is copied when it raises (all or nothing).
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            checkpoint = isinstance(getattr(state_dict, "state_dict", None), dict)
            hint = (": pass its weights, ng.load(path).state_dict, or read them alone with "
                    "ng.load_weights(path)") if checkpoint else ""
            raise TypeError(f"load_state_dict: expected a mapping of names to arrays, got "
                            f"{type(state_dict).__name__}{hint}")
        entries = list(self._state_entries())
        expected = {key for key, _ in entries}
        missing = [key for key, _ in entries if key not in state_dict]
        unexpected = [key for key in state_dict.keys() if key not in expected]
        mismatched, bad_dtype, copies = [], [], []
        for key, target in entries:
            if key not in state_dict:
                continue
            arr = as_array(state_dict[key], what=f"load_state_dict: state[{key!r}]")
            dest = target.data if isinstance(target, Tensor) else target
            if arr.shape != dest.shape:
                mismatched.append((key, dest.shape, arr.shape))
            elif np.iscomplexobj(arr) and not np.iscomplexobj(dest):
                bad_dtype.append(f"{key!r} holds complex values (dtype {arr.dtype}) but the "
                                 f"module's array is real ({dest.dtype})")
            elif _overflows(arr, dest.dtype):
                bad_dtype.append(f"{key!r} holds finite values up to {_largest(arr):.3g} "
                                 f"(dtype {arr.dtype}), beyond the largest {dest.dtype} "
                                 f"({np.finfo(dest.dtype).max:.3g}); they would become "
                                 "±inf")
            else:
                copies.append((dest, arr))
        problems = []
        if strict and missing:
            problems.append(f"missing keys ({len(missing)}): "
                            + ", ".join(repr(k) for k in missing))
        if strict and unexpected:
            problems.append(f"unexpected keys ({len(unexpected)}): "
                            + ", ".join(repr(k) for k in unexpected))
        for key, mine, theirs in mismatched:
            problems.append(f"shape mismatch for {key!r}: the module has shape {mine}, the "
                            f"state has shape {theirs}")
        problems += bad_dtype
        if problems:
            raise StateDictError(
                f"Error(s) in loading state_dict for {type(self).__name__} (nothing was "
                f"loaded):\n  " + "\n  ".join(problems),
                missing if strict else [], unexpected if strict else [], mismatched)
        for dest, arr in copies:
            copy_into(dest, arr, casting="unsafe")
            mark_changed(dest)
        return IncompatibleKeys(missing, unexpected)

    # -- constructor arguments (see register_savable) ---------------------------------------
    def config(self) -> dict:
        """The constructor arguments that rebuild this module's architecture, JSON-ready.

        ``type(m).from_config(m.config())`` builds a module with the same parameter names
        and shapes (freshly initialised). Layers taking arguments override this; the
        default, ``{}``, serves classes whose ``__init__`` can be called with no arguments
        (rebuilt with its defaults: a module built with other arguments must return them).
        Raises NotImplementedError for a class whose ``__init__`` requires arguments.
        """
        required = [name for name, p in inspect.signature(type(self)).parameters.items()
                    if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if not required:
            return {}
        raise NotImplementedError(f"{type(self).__name__} does not define config(): add a "
                                  f"method returning its constructor arguments as a dict "
                                  f"(its __init__ requires {', '.join(required)}; see "
                                  f"nongate_np.nn.register_savable)")

    @classmethod
    def from_config(cls, config: dict) -> "Module":
        """A new module built from ``config()``'s dict: ``cls(**config)`` by default."""
        return cls(**config)

    # -- modes, gradients, dtype ------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set ``training`` on this module and every descendant; returns self."""
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"train: mode is expected to be a bool, got "
                            f"{type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad`` (to None, or to zeros in place)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                copy_into(p.grad, 0)

    def to(self, *args, device=None, dtype=None, non_blocking: bool = False) -> "Module":
        """Move parameters (and their grads) and buffers to a device ("cpu", "cuda"), and/or
        convert the floating ones to a dtype, in place, as ``torch.nn.Module.to``:
        ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)`` (its device and
        dtype), ``to(device=..., dtype=...)``; ``non_blocking`` is accepted and changes
        nothing (every copy here is synchronous).

        The Parameter objects stay the same, so an optimiser built before keeps working (its
        state follows its parameters to their device at its next step). Raises ValueError
        for an unknown device, DeviceError when "cuda" is not usable here, TypeError for a
        non-floating dtype. Returns self.
        """
        where = f"{type(self).__name__}.to"
        target, kind = to_arguments(args, device, dtype, where)
        if target is not None:
            for p in self.parameters():
                p.data = move(p.data, target)
                if p.grad is not None:
                    p.grad = move(p.grad, target)
            for m in self.modules():
                for name, b in m._buffers.items():
                    if b is not None:
                        m._buffers[name] = move(b, target)
        if kind is None:
            return self
        dt = float_dtype(kind, where)
        for p in self.parameters():
            p.data = p.device.xp.astype(p.data, dt)
            if p.grad is not None:
                p.grad = p.device.xp.astype(p.grad, dt)
        for m in self.modules():
            for name, b in m._buffers.items():
                if b is not None and b.dtype.kind == "f":
                    m._buffers[name] = device_of(b).xp.astype(b, dt)
        return self

    def __getstate__(self) -> dict:
        """Pickling: the module's fields, its buffers on the GPU as host copies with the
        device they return to, as torch's (a numba.cuda device array does not pickle; the
        parameters pickle themselves: ``Tensor.__getstate__``)."""
        state = dict(self.__dict__)
        on_gpu = {name: str(device_of(b)) for name, b in self._buffers.items()
                  if b is not None and device_of(b) is not CPU}
        if on_gpu:
            state["_buffers"] = {name: b if name not in on_gpu else move(b, CPU)
                                 for name, b in self._buffers.items()}
            state["_buffer_devices"] = on_gpu
        return state

    def __setstate__(self, state: dict) -> None:
        """Unpickling: the buffers pickled on the GPU go back to it (DeviceError, naming
        ``.cpu()``, where no GPU is usable)."""
        state = dict(state)
        on_gpu = state.pop("_buffer_devices", {})
        self.__dict__.update(state)
        for name, where in on_gpu.items():
            self._buffers[name] = move_unpickled(self._buffers[name], where,
                                                 f"a {type(self).__name__}")

    def __deepcopy__(self, memo: dict) -> "Module":
        """A deep copy on the same device, as torch's: the GPU arrays of the parameters,
        their gradients and the buffers are copied on the GPU (a numba.cuda device array has
        no deep copy of its own: the simulator's gave a host array, silently moving the copy
        to the CPU)."""
        for m in self.modules():         # the parameters' arrays: Tensor.__deepcopy__
            memo_device_copies(m._buffers.values(), memo)
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    def cpu(self) -> "Module":
        """``self.to("cpu")``, as ``torch.nn.Module.cpu`` and ``Tensor.cpu``."""
        return self.to("cpu")

    def cuda(self) -> "Module":
        """``self.to("cuda")``, as ``torch.nn.Module.cuda`` and ``Tensor.cuda`` (DeviceError
        when no GPU is usable here)."""
        return self.to("cuda")

    def double(self) -> "Module":
        return self.to(np.float64)

    def float(self) -> "Module":
        return self.to(np.float32)

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Call ``fn`` on every descendant (children first, as torch) and then on self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -- representation ---------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (override in layers)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _add_indent(repr(m), 2)
                       for name, m in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"
