"""What this installation runs on: versions, backends, CPU, threads, BLAS, Numba cache, GPU.

``info()`` gathers it as a dict and ``format_info`` prints it; ``nongate-np info`` is the two
together. Both are meant for bug reports and for a first look at a new machine, so they
never raise and never compile a kernel: a part that cannot be found says why instead.

Example::

    >>> from nongate_np.cli.sysinfo import format_info, info
    >>> print(format_info(info()))           # doctest: +SKIP
    nongate_np   0.1.0
    python       3.11.13 (/usr/bin/python3)
    ...
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

from ..kernels import gpu

__all__ = ["info", "format_info", "cpu_info"]

#: required dependencies, then the optional ones (extras "test", "plot", "safetensors", "bench")
PACKAGES = ("numpy", "numba", "llvmlite", "scipy", "torch", "matplotlib", "safetensors",
            "onnxruntime")
NOT_INSTALLED = "not installed"


def info(packages: tuple[str, ...] = PACKAGES) -> dict:
    """A description of this installation, as plain data (JSON-serialisable).

    Parameters
    ----------
    packages : tuple of str
        The distributions whose versions ``packages`` reports (default :data:`PACKAGES`).

    Returns
    -------
    dict
        ``nongate_np`` (version str), ``python`` (version str), ``python_executable``,
        ``platform``, and one dict per part:

        * ``packages``: {distribution name: version str or "not installed"} for
          ``packages``;
        * ``backends``: ``available`` (list of names that load), ``default`` (the backend
          used outside any ``backend(...)`` block), ``unavailable`` ({name: reason});
        * ``cpu``: see :func:`cpu_info`;
        * ``threads``: ``numba`` (the thread count the kernels split into, int), ``numba_source``
          (where that count comes from), ``blas`` (the thread count of the BLAS the
          kernels call, outside a kernel: inside one it is 1; or None when it cannot be
          read);
        * ``blas``: ``kernels`` (the library the Numba kernels' products call and why:
          ``kernels.cpu.blas.describe()``, or ``{"error": ...}``), ``name``, ``version``
          and ``detail`` of the BLAS SciPy is built with, plus ``loaded`` (threadpoolctl's
          view of every BLAS in the process) when threadpoolctl is installed;
        * ``numba_cache``: ``path``, ``source``, ``reason`` (where compiled kernels are
          cached and why there);
        * ``gpu``: ``usable`` (bool), ``reason`` (one line: what the CUDA backend runs
          on, or what is missing: numba-cuda, a driver, a device), ``devices`` (names),
          ``simulator`` (bool); from ``kernels.gpu.probe``, which asks the driver without
          importing numba.cuda.

        A part whose lookup failed holds ``{"error": "<exception type>: <message>"}``
        instead; this function itself never raises.

    Notes
    -----
    Imports numba (for the thread count) and scipy, but compiles
    nothing.
    """
    from .. import __version__

    return {"nongate_np": __version__,
            "python": platform.python_version(),
            "python_executable": sys.executable,
            "platform": platform.platform(),
            "packages": _guarded(lambda: _packages(packages)),
            "backends": _guarded(_backends),
            "cpu": _guarded(cpu_info),
            "threads": _guarded(_threads),
            "blas": _guarded(_blas),
            "numba_cache": _guarded(_numba_cache),
            "gpu": _guarded(_gpu)}


def _guarded(part) -> dict:
    # NOTE: one broken part (an odd platform, a half-installed package) must not hide the
    # others, which are what a bug report needs
    try:
        return part()
    except Exception as err:
        return {"error": f"{type(err).__name__}: {err}"}


def _packages(names) -> dict:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = NOT_INSTALLED
    return versions


def _backends() -> dict:
    from ..kernels import registry

    available = registry.available_backends()
    unavailable = {}
    for name in registry.known_backends():
        if name in available:
            continue
        try:
            with registry.backend(name):
                pass
        except registry.BackendUnavailable as err:
            unavailable[name] = str(err)
    return {"available": available, "default": registry.get_backend(),
            "unavailable": unavailable}


def cpu_info() -> dict:
    """The CPU this process runs on.

    Returns
    -------
    dict
        ``model`` (the marketing name from /proc/cpuinfo or ``platform.processor()``, may
        be ""), ``llvm_name`` (LLVM's name for the host CPU, the target Numba compiles for,
        e.g. "znver4", "skylake-avx512", "apple-m1"; "" without llvmlite), ``isa`` (the
        widest vector instruction set: "AVX-512", "AVX2", "AVX", "SSE", "NEON" or
        "unknown"), ``logical_cpus`` (``os.cpu_count()``) and ``usable_cpus`` (the CPUs
        this process may keep busy: its affinity mask where the OS has one, capped by its
        cgroup's CPU limit, ``nongate_np.cores.usable_cores``).
    """
    model, flags = _proc_cpuinfo()
    llvm_name = ""
    try:
        import llvmlite.binding as llvm
        llvm_name = llvm.get_host_cpu_name()
        if not flags:
            # NOTE: no /proc/cpuinfo (macOS, Windows): LLVM's feature list ("+avx2,...")
            flags = {f[1:] for f in llvm.get_host_cpu_features().flatten().split(",")
                     if f.startswith("+")}
    except ImportError:
        pass
    from ..cores import usable_cores
    return {"model": model or platform.processor(), "llvm_name": llvm_name,
            "isa": _vector_isa(flags), "logical_cpus": os.cpu_count(),
            "usable_cpus": usable_cores()}


def _proc_cpuinfo() -> tuple[str, set]:
    """(model name, feature flags) of the first CPU in /proc/cpuinfo; ("", set()) without it."""
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not model:
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:   # x86, ARM
                    flags = set(value.split())
    except OSError:
        pass
    return model, flags


def _vector_isa(flags: set) -> str:
    """The widest vector instruction set in a set of CPU feature flags (Linux's names,
    which LLVM's feature names share for these)."""
    for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"),
                       ("sve", "SVE"), ("asimd", "NEON"), ("neon", "NEON"),
                       ("sse2", "SSE")):
        if flag in flags:
            return name
    return "unknown"


def _threads() -> dict:
    from numba.np.ufunc import parallel as numba_parallel

    from ..cores import cpu_limit
    from ..kernels.cpu.threads import blas_threads, num_threads
    from_env = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    limit = cpu_limit()
    source = ("set in this process (numba.set_num_threads)"
              if getattr(numba_parallel, "_is_initialized", False) else
              f"NUMBA_NUM_THREADS={from_env}" if from_env else
              "default: the usable CPUs" if limit is None else
              f"default: the usable CPUs, cgroup CPU limit {limit:g}")
    return {"numba": num_threads(), "numba_source": source, "blas": blas_threads()}


def _blas() -> dict:
    import scipy

    build = scipy.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    out = {"name": build.get("name", "unknown"), "version": build.get("version", "unknown"),
           "detail": build.get("openblas configuration", ""), "kernels": _kernel_blas()}
    try:
        import scipy.linalg  # noqa: F401  (loads SciPy's BLAS, so threadpoolctl sees it)
        import threadpoolctl
    except ImportError:
        return out
    out["loaded"] = [{k: pool.get(k) for k in ("internal_api", "version", "num_threads",
                                                "architecture", "filepath")}
                     for pool in threadpoolctl.threadpool_info()
                     if pool.get("user_api") == "blas"]
    return out


def _kernel_blas() -> dict:
    try:
        from ..kernels.cpu import blas
    except (ImportError, ValueError) as err:       # no Numba, a bad NONGATE_NP_BLAS
        return {"error": str(err)}
    d = blas.describe()
    return {k: d.get(k) for k in ("library", "version", "core", "reason", "path")}


def _numba_cache() -> dict:
    try:
        from ..kernels.cpu.cache import cache_location
    except ImportError:
        cache_location = None
    if cache_location is not None:
        loc = cache_location()
        return {"path": None if loc.path is None else str(loc.path), "source": loc.source,
                "reason": loc.reason}
    # NOTE: without kernels/cpu/cache.py, Numba's own rule: NUMBA_CACHE_DIR, else the
    # __pycache__ folder beside each source file
    import numba

    if numba.config.CACHE_DIR:
        return {"path": numba.config.CACHE_DIR, "source": "NUMBA_CACHE_DIR",
                "reason": "NUMBA_CACHE_DIR is set."}
    return {"path": os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels",
                                 "cpu", "__pycache__"),
            "source": "numba default", "reason": "beside the kernels' source files."}


def _gpu() -> dict:
    status = gpu.probe()
    return {"usable": status.usable, "reason": status.reason,
            "devices": list(status.devices), "simulator": status.simulator}


def format_info(d: dict) -> str:
    """The report ``nongate-np info`` prints: one ``label  value`` line per fact.

    Parameters
    ----------
    d : dict
        What :func:`info` returned (a part holding ``{"error": ...}`` is printed as such).

    Returns
    -------
    str
        Plain text, no trailing newline.
    """
    lines = [("nongate_np", d.get("nongate_np", "?")),
             ("python", f"{d.get('python', '?')} ({d.get('python_executable', '?')})"),
             ("platform", d.get("platform", "?"))]
    pkgs = d.get("packages", {})
    if "error" in pkgs:
        lines.append(("packages", pkgs["error"]))
    else:
        lines += [(name, version) for name, version in pkgs.items()]
    b = d.get("backends", {})
    lines.append(("backends", b["error"] if "error" in b else
                  f"{', '.join(b['available'])} (default: {b['default']})"))
    for name, why in b.get("unavailable", {}).items():     # cuda's reason: the gpu line
        lines.append((f"  {name}", "unavailable: see gpu below" if name == "cuda" else why))
    c = d.get("cpu", {})
    lines.append(("cpu", c["error"] if "error" in c else
                  f"{c['model'] or 'unknown model'} (llvm: {c['llvm_name'] or '?'}), "
                  f"{c['isa']}, {c['usable_cpus']} of {c['logical_cpus']} CPUs usable"))
    t = d.get("threads", {})
    lines.append(("threads", t["error"] if "error" in t else
                  f"numba {t['numba']} ({t['numba_source']}), BLAS "
                  f"{'?' if t['blas'] is None else t['blas']} (1 while a kernel runs)"))
    bl = d.get("blas", {})
    kb = bl.get("kernels", {})
    if kb:
        lines.append(("blas", kb["error"] if "error" in kb else
                      f"{kb['library']} {kb['version'] or '?'} {kb['core'] or ''}, the "
                      f"kernels' products ({kb['reason']})"))
    lines.append(("  scipy" if kb else "blas", bl["error"] if "error" in bl else
                  f"{bl['name']} {bl['version']}"
                  + (f" ({bl['detail']})" if bl['detail'] else "")))
    for pool in bl.get("loaded", []):
        lines.append(("  loaded", f"{pool['internal_api']} {pool['version']}, "
                                  f"{pool['num_threads']} threads, {pool['filepath']}"))
    nc = d.get("numba_cache", {})
    if "error" in nc:
        lines.append(("numba cache", nc["error"]))
    else:
        where = nc["path"] or ("off" if nc["source"] == "disabled" else "chosen by Numba")
        lines.append(("numba cache", f"{where} ({nc['source']}: {nc['reason']})"))
    g = d.get("gpu", {})
    lines.append(("gpu", g["error"] if "error" in g else
                  f"{'usable' if g['usable'] else 'not usable'}: {g['reason']}"))
    width = max(len(label) for label, _ in lines) + 2
    return "\n".join(f"{label:<{width}}{value}" for label, value in lines)
