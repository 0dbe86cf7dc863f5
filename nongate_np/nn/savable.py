"""Savable modules: a registry of Module classes that ``nongate_np.save`` stores by name and
``nongate_np.load`` rebuilds from a JSON config, without pickle and without import paths.

Every class nongate_np itself registers is imported by ``import nongate_np`` (through
``nongate_np.nn``), so the library's own models load with no extra import. A spec also records
the class's defining module, only so that the error for an unregistered class can say what
to import: loading never imports anything."""

from __future__ import annotations

from .module import Module

__all__ = ["register_savable", "savable_modules", "module_spec", "build_module"]

_SAVABLE: dict[str, type] = {}


def register_savable(cls=None, *, name: str | None = None):
    """Class decorator: let ``nongate_np.save`` store this Module class by name and
    ``nongate_np.load`` rebuild it, without pickle.

    The class states its constructor arguments in ``config()`` (a JSON-ready dict: ints,
    floats, bools, str, None, lists, dicts; dtypes as strings such as "float32"), and
    ``from_config(config)`` rebuilds it (the default is ``cls(**config)``). A class whose
    ``__init__`` can be called with no arguments needs no ``config()`` (it is rebuilt with
    its defaults; the dtype its weights were converted to with ``.double()`` is kept by the
    checkpoint). Only registered names are ever looked up on load, never import paths, so
    a checkpoint cannot run arbitrary code::

        @register_savable
        class Scaler(Module):
            def __init__(self, size, dtype=np.float32):
                super().__init__()
                self.w = Parameter(np.ones(size, dtype))

            def config(self):
                return {"size": self.w.shape[0], "dtype": str(self.w.dtype)}

    Children of a registered container are saved as ``module_spec(child)`` (see
    ``Sequential.config``). ``name`` defaults to the class's ``__name__``; registering a
    different class under a taken name raises ValueError (the same class, or one
    redefined under the same module and qualified name, is replaced).
    """
    def register(klass):
        if not (isinstance(klass, type) and issubclass(klass, Module)):
            raise TypeError(f"register_savable: expected a subclass of Module, got {klass!r}")
        key = klass.__name__ if name is None else name
        if not isinstance(key, str) or not key:
            raise ValueError(f"register_savable: name must be a non-empty str, got {key!r}")
        old = _SAVABLE.get(key)
        if old is not None and (old.__module__, old.__qualname__) != \
                (klass.__module__, klass.__qualname__):
            raise ValueError(f"register_savable: the name {key!r} is taken by "
                             f"{old.__module__}.{old.__qualname__}; register "
                             f"{klass.__module__}.{klass.__qualname__} under another name "
                             f"(register_savable(name=...))")
        _SAVABLE[key] = klass
        klass._savable_name = key
        return klass

    return register if cls is None else register(cls)


def savable_modules() -> dict[str, type]:
    """The registered classes, ``{name: class}`` (a copy)."""
    return dict(_SAVABLE)


def module_spec(module: Module) -> dict:
    """``{"class": registered name, "module": defining module, "config": module.config()}``:
    what ``build_module`` needs to rebuild ``module`` (without its weights).

    ``"module"`` (the class's ``__module__``, e.g. ``"mypkg.models"``) is informative only:
    ``build_module`` names it when the class is not registered, and never imports it."""
    cls = type(module)
    key = cls.__dict__.get("_savable_name")
    if key is None or _SAVABLE.get(key) is not cls:
        raise TypeError(f"cannot save a {cls.__name__}: its class is not registered as "
                        f"savable. Decorate it with @nongate_np.nn.register_savable "
                        f"and give it a config() method returning its constructor arguments "
                        f"(see register_savable's docstring)")
    config = module.config()
    if not isinstance(config, dict):
        raise TypeError(f"{cls.__name__}.config() must return a dict of constructor "
                        f"arguments, got {type(config).__name__}")
    return {"class": key, "module": cls.__module__, "config": config}


def build_module(spec: dict) -> Module:
    """The module ``module_spec`` describes, freshly initialised (load weights after)."""
    if not isinstance(spec, dict) or "class" not in spec or "config" not in spec:
        raise ValueError(f"build_module: expected a dict with 'class' and 'config', got "
                         f"{spec!r:.200}")
    cls = _SAVABLE.get(spec["class"])
    if cls is None:
        raise KeyError(f"unknown module class {spec['class']!r}; the registered savable "
                       f"classes are {sorted(_SAVABLE)} ({_import_hint(spec)})")
    config = spec["config"]
    if not isinstance(config, dict):
        raise ValueError(f"build_module: the config of {spec['class']} must be a dict, got "
                         f"{type(config).__name__}")
    return cls.from_config(config)


def _import_hint(spec: dict) -> str:
    """How to make an unregistered class known: name the module that defined it when the
    spec records one (older checkpoints have no "module" key)."""
    name, where = spec["class"], spec.get("module")
    if where == "__main__":
        return (f"it was defined in the script that saved it (__main__): move {name!r} into "
                f"a module, import that module and register the class before loading")
    if isinstance(where, str) and where and all(p.isidentifier() for p in where.split(".")):
        return f"import {where} (which defines and registers {name!r}) before loading"
    return "import the module that defines and registers the class before loading"
