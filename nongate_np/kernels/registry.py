"""The choice of backend (scipy.fft-like, no uarray).

A fused op asks ``kernels()`` for the active backend's module and calls the kernels of the
:class:`~nongate_np.kernels.contract.Backend` protocol; every backend module implements it
with the same signatures, so one test can run against all of them and compare.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import importlib.util
import warnings
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

import numpy as np

from . import gpu
from .contract import Backend, backend_members

__all__ = ["BackendUnavailable", "backend", "set_global_backend",
           "get_backend", "known_backends", "available_backends", "kernels",
           "kernels_for", "gru_kernels"]

_BACKENDS = {"numpy": "nongate_np.kernels.reference",
             "numba": "nongate_np.kernels.cpu",
             "cuda": "nongate_np.kernels.cuda"}
_INSTALL_HINT = {"numba": "needs numba (pip install numba)",
                 "cuda": f"needs numba-cuda ({gpu.INSTALL_HINT}) and a GPU"}

# NOTE: "numba" whenever numba is installed, decided without importing it (numba takes
# ~0.24 s to import; it loads, and the kernels compile, on the first kernel call).
_global = "numba" if importlib.util.find_spec("numba") is not None else "numpy"
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("nongate_backend",
                                                                     default=None)


class BackendUnavailable(ImportError):
    """A known backend that cannot be loaded here."""


def _check_name(name: str) -> None:
    if name not in _BACKENDS:
        valid = ", ".join(repr(n) for n in _BACKENDS)
        raise ValueError(f"unknown backend {name!r}; expected one of {valid}")


# name -> module, once it has loaded (kernels() runs on every op call)
_loaded: dict[str, Backend] = {}


def _load(name: str) -> Backend:
    module = _loaded.get(name)
    if module is not None:
        return module
    _check_name(name)
    if name == "cuda":
        status = gpu.probe()
        if not status.usable:
            raise BackendUnavailable(f"backend 'cuda' is unavailable: {status.reason}")
    try:
        module = importlib.import_module(_BACKENDS[name])
    except ImportError as err:
        if (err.name or "").startswith(_BACKENDS[name]):
            raise BackendUnavailable(f"backend {name!r} is unavailable: its kernels "
                                     f"({err.name}) are not written yet") from err
        raise BackendUnavailable(f"backend {name!r} is unavailable: "
                                 f"{_INSTALL_HINT.get(name, err)} ({err})") from err
    missing = [f for f in backend_members() if not hasattr(module, f)]
    if missing:
        raise BackendUnavailable(f"backend {name!r} is unavailable: it lacks the kernels "
                                 f"{missing} (not written yet)")
    _loaded[name] = cast(Backend, module)    # the members checked above; their types by mypy
    return _loaded[name]


def known_backends() -> list[str]:
    """Every backend name, whether it loads here or not."""
    return list(_BACKENDS)


def available_backends() -> list[str]:
    """The backends that load on this machine."""
    names = []
    for name in _BACKENDS:
        try:
            _load(name)
            names.append(name)
        except BackendUnavailable:
            pass
    return names


def get_backend() -> str:
    """The name of the active backend."""
    return _current.get() or _global


def set_global_backend(name: str) -> None:
    """Make ``name`` the backend outside of any ``backend(...)`` block."""
    global _global
    _load(name)
    _global = name


@contextlib.contextmanager
def backend(name: str, *, only: bool = True) -> Iterator[Backend]:
    """Use backend ``name`` inside the block, in the calling thread only (a ``contextvars``
    context): a thread started inside it runs the global backend (``set_global_backend``)
    unless it enters a block of its own, or is started with ``contextvars.copy_context()``.
    With ``only=False`` an unavailable backend falls back to "numpy" with one warning;
    otherwise it raises BackendUnavailable."""
    try:
        module = _load(name)
    except BackendUnavailable as err:
        if only:
            raise
        warnings.warn(f"{err}; falling back to 'numpy'", RuntimeWarning, stacklevel=3)
        name, module = "numpy", _load("numpy")
    token = _current.set(name)
    try:
        yield module
    finally:
        _current.reset(token)


def kernels() -> Backend:
    """The active backend's kernel module."""
    return _load(get_backend())


def kernels_for(array: Any) -> Backend:
    """The kernels for ``array``: the CUDA backend's for a GPU (numba.cuda device) array,
    else the active backend's."""
    if not isinstance(array, np.ndarray) and hasattr(array, "copy_to_host"):
        return _load("cuda")
    return kernels()


def gru_kernels() -> ModuleType:
    """The GRU's kernels for host arrays (``gru_forward``, ``gru_backward``; not in the
    protocol, kernels/README.md): the Numba CPU ones (``cpu/gru.py``) when "numba" is the
    active backend, else the NumPy reference (``gru_reference.py``), which the other
    backends run (the GRU has no numba.cuda kernels)."""
    if get_backend() == "numba":
        _load("numba")
        from .cpu import gru
        return gru
    from . import gru_reference
    return gru_reference


if TYPE_CHECKING:       # mypy checks each backend module against the protocol
    from . import cpu, cuda, reference
    _BACKEND_MODULES: tuple[Backend, ...] = (reference, cpu, cuda)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def kernels_own_the_cores(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``func`` with every loaded OpenBLAS on one thread when the Numba kernels are
    active (``kernels.cpu.threads.single_threaded_blas``): OpenBLAS's idle workers would
    spin on the cores the threaded kernels split over (bench/RESULTS.md, "NumPy's BLAS
    threads"). ``fit``, ``evaluate``, ``predict``, ``encode`` and a stream's ``update`` run
    so.

    NOTE: every entry point, not some: the count is process-wide, and NumPy's OpenBLAS
    rounds some products (a long reduction over few rows and columns) differently on one
    thread than on several, so an ``encode`` that left it alone computed other bits while
    another thread was inside ``predict`` than alone."""
    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if get_backend() != "numba":
            return func(*args, **kwargs)
        from .cpu.threads import single_threaded_blas
        with single_threaded_blas():
            return func(*args, **kwargs)
    return wrapper
