"""Containers, as torch's: ``Sequential`` (a chain), ``ModuleList`` (an indexable list) and
``ModuleDict`` (a dict keyed by strings).

Children are named "0", "1", ... (or by the keys of an OrderedDict given to
``Sequential``, or a ModuleDict's keys), so parameter names read ``0.weight``, ``2.bias``,
``encoder.weight`` as in torch.
"""

from __future__ import annotations

import numbers
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping

from .module import Module
from .savable import build_module, module_spec, register_savable

__all__ = ["Sequential", "ModuleList", "ModuleDict"]


def _index(idx, n: int, where: str) -> int:
    if not isinstance(idx, numbers.Integral) or isinstance(idx, bool):
        raise TypeError(f"{where}: indices must be integers or slices, got "
                        f"{type(idx).__name__}")
    if not -n <= idx < n:
        raise IndexError(f"{where}: index {idx} is out of range for {n} modules")
    return int(idx) % n


def _named_config(container: Module) -> dict:
    """``{"modules": [{"name", "class", "config"}, ...]}``: the named children in order."""
    return {"modules": [{"name": name, **module_spec(m)}
                        for name, m in container._modules.items()]}


def _named_children_from(config: dict) -> OrderedDict:
    """The children ``_named_config`` describes, rebuilt by name, in order."""
    return OrderedDict((spec["name"], build_module(spec)) for spec in config["modules"])


@register_savable
class Sequential(Module):
    """Modules applied one after another: ``Sequential(a, b)(x) == b(a(x))``.

    Parameters
    ----------
    *modules : Module
        The modules in order, named "0", "1", ...; or a single ``OrderedDict`` (or dict)
        mapping names to modules.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (OrderedDict, dict)):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for k, m in enumerate(modules):
                if not isinstance(m, Module):
                    raise TypeError(f"Sequential: argument {k} is a {type(m).__name__}, "
                                    "expected a Module (or one OrderedDict of Modules)")
                self.add_module(str(k), m)

    def __getitem__(self, idx):
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return type(self)(OrderedDict(items[idx]))
        return items[_index(idx, len(items), "Sequential")][1]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> "Sequential":
        """Add ``module`` at the end, named by the next index."""
        self.add_module(str(len(self)), module)
        return self

    def config(self) -> dict:
        """``{"modules": [{"name", "class", "config"}, ...]}``, the children in order."""
        return _named_config(self)

    @classmethod
    def from_config(cls, config: dict) -> "Sequential":
        return cls(_named_children_from(config))

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


@register_savable
class ModuleList(Module):
    """A list of modules whose parameters are registered, named "0", "1", ...

    It has no ``forward``: the owner decides how to call its elements.
    """

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return type(self)(mods[idx])
        return mods[_index(idx, len(mods), "ModuleList")]

    def __setitem__(self, idx, module: Module) -> None:
        self.add_module(str(_index(idx, len(self), "ModuleList")), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self)), module)
        return self

    def config(self) -> dict:
        """``{"modules": [{"class", "config"}, ...]}``, the elements in order."""
        return {"modules": [module_spec(m) for m in self]}

    @classmethod
    def from_config(cls, config: dict) -> "ModuleList":
        return cls(build_module(spec) for spec in config["modules"])

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        """Append each module of the iterable ``modules``; TypeError for a single module
        that is not one (``extend([m])``, not ``extend(m)``)."""
        if not hasattr(modules, "__iter__"):
            raise TypeError(f"{type(self).__name__}.extend: expected an iterable of Modules, "
                            f"got {type(modules).__name__}; wrap a single module in a list")
        for m in modules:
            self.append(m)
        return self


@register_savable
class ModuleDict(Module):
    """A dict of modules whose parameters are registered under its string keys, as torch's.

    ``ModuleDict({"enc": Linear(4, 8), "out": Linear(8, 2)})`` names its parameters
    ``enc.weight``, ``enc.bias``, ``out.weight``, ``out.bias``, in insertion order, and inside
    a model ``heads.enc.weight``: the ``state_dict`` keys of the same torch model. Like a
    dict it keeps insertion order; assigning to an existing key keeps that key's position.
    It has no ``forward``: the owner decides which module to call.

    Parameters
    ----------
    modules : Mapping[str, Module] or iterable of (str, Module) pairs, optional
        The initial entries, added as :meth:`update` adds them.

    Raises
    ------
    TypeError
        For a key that is not a ``str`` or a value that is neither a Module nor None (as
        torch's ``add_module``).
    ValueError
        For an empty key, a key containing ".", or one that would hide an attribute of the
        class (``"keys"``, ``"update"``, ...); torch raises KeyError for these.
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        try:
            return self._modules[key]
        except KeyError:
            raise KeyError(f"ModuleDict has no key {key!r}; its keys are "
                           f"{list(self._modules)}") from None

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        self.pop(key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        """The keys, in order (as a dict, not the modules as ModuleList does)."""
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self):
        """The keys, in order (a live view, as ``dict.keys``)."""
        return self._modules.keys()

    def values(self):
        """The modules, in order (a live view)."""
        return self._modules.values()

    def items(self):
        """``(key, module)`` pairs, in order (a live view)."""
        return self._modules.items()

    def pop(self, key: str) -> Module:
        """Remove ``key`` and return its module; KeyError if it is absent."""
        module = self[key]
        del self._modules[key]
        return module

    def clear(self) -> None:
        """Remove every entry."""
        self._modules.clear()

    def update(self, modules: Mapping[str, Module] | Iterable) -> None:
        """Add or overwrite entries from a mapping (a dict, OrderedDict or ModuleDict, in its
        order) or an iterable of ``(key, module)`` pairs.

        Raises
        ------
        TypeError
            If ``modules`` is not iterable, or a pair is not iterable (torch's messages).
        ValueError
            If a pair does not have exactly two elements.
        """
        if not isinstance(modules, Iterable):
            raise TypeError("ModuleDict.update should be called with an iterable of "
                            f"key/value pairs, but got {type(modules).__name__}")
        if isinstance(modules, (Mapping, ModuleDict)):
            for key, module in modules.items():
                self[key] = module
            return
        for j, pair in enumerate(modules):
            if not isinstance(pair, Iterable):
                raise TypeError(f"ModuleDict update sequence element #{j} should be an "
                                f"iterable (key, module) pair; is {type(pair).__name__}")
            pair = tuple(pair)
            if len(pair) != 2:
                raise ValueError(f"ModuleDict update sequence element #{j} has length "
                                 f"{len(pair)}; 2 is required")
            self[pair[0]] = pair[1]

    def config(self) -> dict:
        """``{"modules": [{"name", "class", "config"}, ...]}``, the entries in order."""
        return _named_config(self)

    @classmethod
    def from_config(cls, config: dict) -> "ModuleDict":
        return cls(_named_children_from(config))
