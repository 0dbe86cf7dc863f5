"""Where the Numba kernels' compiled code is cached: decided once, before they are decorated.

Numba's default caches a function beside its source file, in the package's ``__pycache__``
folder when that is writable. For an installed package that is wrong twice: pip does not
record those files, so uninstalling the package leaves ``kernels/cpu/__pycache__`` behind as
an empty namespace package that hides a later (editable) install; and on a read-only install
with no writable user folder, Numba raises ``cannot cache function ...: no locator
available`` instead of compiling. So this package's kernels are cached

1. in ``NUMBA_CACHE_DIR`` when it is set: Numba's own behaviour, for every function;
2. else in the per-user cache folder ``<user cache>/nongate_np/numba``, where ``<user cache>``
   is ``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux, ``~/Library/Caches`` on macOS,
   ``%LOCALAPPDATA%`` on Windows. A cache locator put first in Numba's list picks it, for
   this package's source files only: the user's own ``@njit(cache=True)`` functions keep
   Numba's defaults. Numba names each entry after the source folder's path (each install
   has its own entries) and checks the source file's stamp, to which this locator adds the
   stamps of every kernel file (``kernel_sources_stamp``: an edit of a callee's file, or an
   upgrade, recompiles the kernels that call it);
3. else nowhere: the kernels are decorated with ``cache=False``, compile again in every
   process, and one :class:`CacheDisabledWarning` says why and how to enable the cache.

Never in a shared temporary folder: Numba's cache files are pickles, and loading files
another user could write would run their code. Caching is an optimisation; whatever fails
here (an unwritable folder, a Numba without the locator API this file uses) disables it,
never the computation.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import tempfile
import warnings
from collections.abc import Mapping
from typing import Any

from ...userline import callers_stacklevel

__all__ = ["CacheLocation", "CacheDisabledWarning", "cache_location"]

#: The package whose source files the locator applies to (``nongate_np/``).
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
_SUBFOLDER = os.path.join("nongate_np", "numba")
#: The Numba kernels' source files, which call each other (``kernel_sources_stamp``).
_KERNEL_DIR = os.path.dirname(os.path.realpath(__file__))


class CacheDisabledWarning(UserWarning):
    """The Numba kernels' compiled code is not cached: they compile again in every process."""


@dataclasses.dataclass(frozen=True)
class CacheLocation:
    """Where the Numba kernels of this package cache their compiled code.

    Attributes
    ----------
    path : str or None
        The cache folder (Numba adds one subfolder per source folder); None when caching is
        disabled, or when ``NUMBA_CACHE_LOCATOR_CLASSES`` lets its classes choose.
    source : str
        What decided it: ``"NUMBA_CACHE_DIR"``, ``"user cache folder"``,
        ``"NUMBA_CACHE_LOCATOR_CLASSES"`` or ``"disabled"``.
    reason : str
        One sentence saying why, for ``nongate-np info`` and the warning.
    """

    path: str | None
    source: str
    reason: str

    @property
    def enabled(self) -> bool:
        """Whether the kernels are decorated with ``cache=True``."""
        return self.source != "disabled"


def _user_cache_dir(environ: Mapping[str, str] = os.environ,
                    platform: str = sys.platform) -> str | None:
    """The per-user cache folder of the platform (not created), or None when there is none:
    ``%LOCALAPPDATA%`` on Windows, ``~/Library/Caches`` on macOS, ``$XDG_CACHE_HOME`` (when
    an absolute path, as the XDG spec requires) or ``~/.cache`` elsewhere."""
    found = environ.get("HOME") or environ.get("USERPROFILE") or os.path.expanduser("~")
    home = found if os.path.isabs(found) else None       # expanduser("~") is "~" with no home
    if platform == "win32":
        base = environ.get("LOCALAPPDATA") or (home and os.path.join(home, "AppData", "Local"))
    elif platform == "darwin":
        base = home and os.path.join(home, "Library", "Caches")
    else:
        xdg = environ.get("XDG_CACHE_HOME", "")
        base = xdg if os.path.isabs(xdg) else home and os.path.join(home, ".cache")
    return base or None


def _writable(path: str) -> str | None:
    """None when ``path`` exists or could be created and a file can be written in it (the
    check Numba itself makes), else the error, as text."""
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as e:
        return f"{e.strerror or e}"
    return None


@functools.lru_cache(maxsize=None)
def kernel_sources_stamp(folder: str = _KERNEL_DIR) -> tuple[tuple[str, int, int], ...]:
    """(name, mtime in ns, size) of every ``.py`` file of the kernels' folder: part of the
    freshness stamp of each cached kernel of this package (read once per process)."""
    entries = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            st = os.stat(os.path.join(folder, name))
            entries.append((name, st.st_mtime_ns, st.st_size))
    return tuple(entries)


def _package_locator(root: str) -> type[Any]:
    """A Numba cache locator class for this package's source files, caching in ``root``;
    None for any other file, so Numba's own locators handle it."""
    from numba.core import caching

    class PackageCacheLocator(caching.UserProvidedCacheLocator):
        # NOTE: built on Numba's NUMBA_CACHE_DIR locator so source stamps and file names stay
        # Numba's; only the folder differs.
        def __init__(self, py_func, py_file):
            super().__init__(py_func, py_file)
            subpath = self.get_suitable_cache_subpath(py_file)
            self._package_cache_path = os.path.join(root, subpath)

        def get_cache_path(self):
            return self._package_cache_path

        def get_source_stamp(self):
            # NOTE: a kernel's cached machine code holds its callees from the other kernel
            # files (the activations, the packed product), so an edit of any of them must
            # recompile it; Numba's stamp covers the function's own file only
            return super().get_source_stamp(), kernel_sources_stamp()

        @classmethod
        def from_function(cls, py_func, py_file):
            inside = os.path.realpath(py_file).startswith(_PACKAGE_DIR + os.sep)
            if not inside:
                return None
            # the source-file mixin's from_function: skips the parent's NUMBA_CACHE_DIR check
            return super(caching.UserProvidedCacheLocator, cls).from_function(py_func, py_file)

    return PackageCacheLocator


def _install_locator(root: str) -> str | None:
    """Put the package's locator first in Numba's list; None when it is in place and works
    (checked on a function of this file), else why not."""
    try:
        from numba.core import caching
        impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
        locator_class = _package_locator(root)
        probe = locator_class.from_function(_install_locator, __file__)
        if probe is None or not probe.get_cache_path().startswith(root):
            return f"Numba's cache locator API did not place a probe in {root}"
        probe.get_source_stamp(), probe.get_disambiguator()
        classes = impl._locator_classes
        classes[:] = [locator_class] + [c for c in classes
                                        if c.__name__ != locator_class.__name__]
    except Exception as e:              # noqa: BLE001  any failure disables caching only
        return f"Numba's cache locator API is not the one expected ({type(e).__name__}: {e})"
    return None


def _decide() -> CacheLocation:
    """Where the cache goes, from Numba's settings and the user's folders; installs the
    package's locator when it is the user cache folder."""
    from numba.core import config

    if config.CACHE_DIR:
        error = _writable(config.CACHE_DIR)
        if error is None:
            return CacheLocation(config.CACHE_DIR, "NUMBA_CACHE_DIR", "NUMBA_CACHE_DIR is set.")
        # NOTE: Numba would fall back to the package's own folder; never write there
        return CacheLocation(None, "disabled", f"NUMBA_CACHE_DIR={config.CACHE_DIR} is not "
                                               f"writable ({error}).")
    if getattr(config, "CACHE_LOCATOR_CLASSES", ""):
        return CacheLocation(None, "NUMBA_CACHE_LOCATOR_CLASSES",
                             "NUMBA_CACHE_LOCATOR_CLASSES is set: its classes pick the folder.")
    base = _user_cache_dir()
    if base is None:
        return CacheLocation(None, "disabled", "there is no home folder or user cache folder.")
    root = os.path.join(base, _SUBFOLDER)
    error = _writable(root) or _install_locator(root)
    if error is not None:
        return CacheLocation(None, "disabled", f"the user cache folder {root} is not usable "
                                               f"({error}).")
    return CacheLocation(root, "user cache folder",
                         "NUMBA_CACHE_DIR is unset and the per-user cache folder is writable.")


@functools.lru_cache(maxsize=None)
def cache_location() -> CacheLocation:
    """Where the Numba kernels of this package cache their compiled code (decided at the
    first call, which the kernel modules make before decorating their functions).

    Returns
    -------
    CacheLocation
        The folder, what decided it and why. When caching is disabled, the first call
        emits one :class:`CacheDisabledWarning` saying why and how to enable it.

    Notes
    -----
    The order and the reasons are in this module's docstring.
    """
    location = _decide()
    if not location.enabled:
        warnings.warn(
            f"nongate_np: the Numba kernels' compiled code will not be cached, so they compile "
            f"again in every new process: {location.reason} To cache it, set NUMBA_CACHE_DIR "
            f"to a writable folder.", CacheDisabledWarning, stacklevel=callers_stacklevel())
    return location
