"""Containers, as torch's: ``Sequential`` (a chain) and ``ModuleList`` (an indexable list).

Children are named "0", "1", ... (or by the keys of an OrderedDict given to
``Sequential``), so parameter names read ``0.weight``, ``2.bias`` as in torch.
"""

from __future__ import annotations

import numbers
from collections import OrderedDict
from typing import Iterable, Iterator

from .module import Module
from .savable import build_module, module_spec, register_savable

__all__ = ["Sequential", "ModuleList"]


def _index(idx, n: int, where: str) -> int:
    if not isinstance(idx, numbers.Integral) or isinstance(idx, bool):
        raise TypeError(f"{where}: indices must be integers or slices, got "
                        f"{type(idx).__name__}")
    if not -n <= idx < n:
        raise IndexError(f"{where}: index {idx} is out of range for {n} modules")
    return int(idx) % n


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
        return {"modules": [{"name": name, **module_spec(m)}
                            for name, m in self._modules.items()]}

    @classmethod
    def from_config(cls, config: dict) -> "Sequential":
        return cls(OrderedDict((spec["name"], build_module(spec))
                               for spec in config["modules"]))

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
