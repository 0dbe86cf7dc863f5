"""What each contender ran on: the CPU, and the BLAS and OpenMP libraries its process loaded.

A figure without its host is not a figure (issue 16): the same code ran 1.3-2.3x slower on
one CPU than on another because SciPy's OpenBLAS picked other kernels there. So the parent
records the machine (:func:`machine_info`) and every worker records, after it measured,
what its own process loaded (:func:`worker_record`): the BLAS and OpenMP libraries with
their version, the core type OpenBLAS chose (e.g. "Haswell", "SkylakeX") and their thread
count; for ours also the library the kernels' products call, for torch its CPU capability
and whether oneDNN is on. Nothing here raises: a part that cannot be read says why.

The libraries come from ``threadpoolctl.threadpool_info()`` when threadpoolctl is installed
(the ``bench`` extra), else from /proc/self/maps and OpenBLAS's own ``openblas_get_config``
(Linux only; elsewhere the list is empty and says so).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import re

from ..sharedlib import file_of

#: file names (without "lib" and version suffixes) of the libraries recorded from the maps
_LIBRARY_API = (("openblas", "openblas"), ("mkl_rt", "mkl"), ("mkl_core", "mkl"),
                ("blis", "blis"), ("gomp", "openmp"), ("iomp5", "openmp"), ("omp", "openmp"))
#: OpenBLAS's symbols under the names its builds export (SciPy's and NumPy's copies are
#: prefixed ``scipy_``, NumPy's ILP64 copy also suffixed ``64_``)
_OPENBLAS_AFFIXES = (("", ""), ("scipy_", ""), ("scipy_", "64_"), ("", "64_"))


#: the environment variables that make a contender run narrower code than the CPU has
#: (``OPENBLAS_CORETYPE=Haswell`` with these gives every contender its AVX2 kernels on an
#: AVX-512 host): Numba's target, PyTorch's dispatch, oneDNN's and MKL's instruction sets
ISA_VARS = ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "ATEN_CPU_CAPABILITY",
            "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def machine_info() -> dict:
    """The machine of a run: CPU model, LLVM's name for it, its vector ISA, CPU count,
    platform, Python, the versions of the packages measured, ``OPENBLAS_CORETYPE``, and
    ``isa_overrides``: those of :data:`ISA_VARS` that are set (the workers inherit them)."""
    from importlib.metadata import PackageNotFoundError, version

    from ..cli.sysinfo import cpu_info
    versions: dict = {}
    for mod in ("numpy", "numba", "scipy", "torch", "onnxruntime", "threadpoolctl"):
        try:
            versions[mod] = version(mod)
        except PackageNotFoundError:
            versions[mod] = None
    cpu = cpu_info()
    return {"cpu": cpu["model"], "cpu_llvm_name": cpu["llvm_name"], "isa": cpu["isa"],
            "cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "versions": versions,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "<unset>"),
            "isa_overrides": {v: os.environ[v] for v in ISA_VARS if os.environ.get(v)}}


def worker_record(contender: str | None = None) -> dict:
    """What this worker process ran on, read after it measured (so every library it used
    is loaded): ``libraries`` (:func:`loaded_libraries`), and for ``"numba"`` also
    ``kernel_blas`` (:func:`kernel_blas`), for ``"torch"`` ``torch`` (:func:`torch_info`),
    for ``"onnx"`` ``onnxruntime`` (version and providers)."""
    rec = {"libraries": _guarded(loaded_libraries)}
    if contender == "numba":
        rec["kernel_blas"] = _guarded(kernel_blas)
        rec["kernel_target"] = _guarded(kernel_target)
    elif contender == "torch":
        rec["torch"] = _guarded(torch_info)
    elif contender == "onnx":
        rec["onnxruntime"] = _guarded(_onnxruntime_info)
    return rec


def _guarded(part):
    # NOTE: the record must never cost the measurement: a part that fails says why
    try:
        return part()
    except Exception as err:
        return {"error": f"{type(err).__name__}: {err}"}


# -- the loaded libraries -------------------------------------------------------------------
def loaded_libraries() -> dict:
    """The BLAS and OpenMP libraries this process has loaded.

    Returns
    -------
    dict
        ``source`` ("threadpoolctl", "/proc/self/maps" or "none": why nothing could be
        read) and ``libraries``: a list of {``api`` ("openblas", "mkl", "blis", "openmp",
        ...), ``version`` (str or None), ``core`` (the kernels OpenBLAS chose, e.g.
        "Haswell"; None for the others), ``threads`` (int or None), ``path``}.
    """
    try:
        import threadpoolctl
    except ImportError:
        return _from_maps()
    return {"source": "threadpoolctl",
            "libraries": [{"api": i.get("internal_api"), "version": i.get("version"),
                           "core": i.get("architecture"), "threads": i.get("num_threads"),
                           "path": i.get("filepath")}
                          for i in threadpoolctl.threadpool_info()]}


def _from_maps() -> dict:
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "/" in line})
    except OSError:
        return {"source": "none", "libraries": [],
                "note": "no threadpoolctl and no /proc/self/maps: "
                        "pip install threadpoolctl to record the libraries"}
    libs = []
    for path in paths:
        api = _library_api(os.path.basename(path))
        if api == "openblas":
            libs.append({"api": api, **openblas_facts(path)})
        elif api is not None:
            libs.append({"api": api, "version": None, "core": None,
                         "threads": _openmp_threads(path) if api == "openmp" else None,
                         "path": path})
    return {"source": "/proc/self/maps", "libraries": libs}


def _library_api(name: str) -> str | None:
    """"openblas", "mkl", "blis" or "openmp" for a shared library's file name, else None
    (Python extension modules such as SciPy's ``cython_blas`` are not libraries here)."""
    if not name.startswith("lib") or ".so" not in name and not name.endswith(".dylib"):
        return None
    stem = re.split(r"[.-]", name[3:], maxsplit=1)[0]
    for key, api in _LIBRARY_API:
        if stem == key or (key == "openblas" and "openblas" in stem):
            return api
    return None


def openblas_facts(path: str) -> dict:
    """``version``, ``core``, ``threads``, ``config`` and ``path`` of the OpenBLAS at
    ``path`` (already loaded, or loaded now), from its ``openblas_get_config``,
    ``openblas_get_corename`` and ``openblas_get_num_threads`` under whichever prefix its
    build exports; the values it lacks are None."""
    out: dict = {"version": None, "core": None, "threads": None, "config": None, "path": path}
    try:
        lib = ctypes.CDLL(path)
    except OSError as err:
        return {**out, "error": f"OSError: {err}"}
    for prefix, suffix in _OPENBLAS_AFFIXES:
        config = getattr(lib, f"{prefix}openblas_get_config{suffix}", None)
        if config is None:
            continue
        config.restype, config.argtypes = ctypes.c_char_p, []
        # NOTE: a handle finds symbols in the libraries it depends on too (SciPy's
        # cython_blas module): name the file that holds the symbol
        out["path"] = file_of(ctypes.cast(config, ctypes.c_void_p).value) or path
        out["config"] = (config() or b"").decode(errors="replace").strip()
        # e.g. "OpenBLAS 0.3.30 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64"
        words = out["config"].split()
        out["version"] = words[1] if len(words) > 1 and words[0] == "OpenBLAS" else None
        core = getattr(lib, f"{prefix}openblas_get_corename{suffix}", None)
        if core is not None:
            core.restype, core.argtypes = ctypes.c_char_p, []
            out["core"] = (core() or b"").decode(errors="replace") or None
        threads = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
        if threads is not None:
            threads.restype, threads.argtypes = ctypes.c_int, []
            out["threads"] = threads()
        break
    return out


def _openmp_threads(path: str) -> int | None:
    try:
        get = ctypes.CDLL(path).omp_get_max_threads
    except (OSError, AttributeError):
        return None
    get.restype, get.argtypes = ctypes.c_int, []
    return get()


# -- ours: the library behind the kernels' products ----------------------------------------
def kernel_blas() -> dict:
    """Which library the Numba kernels' matrix products call, with its version, core and
    thread count (``kernels.cpu.blas.describe()``: that module chooses the library), or
    ``{"error": ...}`` when it cannot load (a bad ``NONGATE_NP_BLAS``, no BLAS)."""
    try:
        from ..kernels.cpu import blas
    except (ImportError, ValueError) as err:
        return {"source": "nongate_np.kernels.cpu.blas", "error": str(err)}
    return {"source": "nongate_np.kernels.cpu.blas.describe()", **blas.describe()}


def kernel_target() -> dict:
    """The CPU the Numba kernels were compiled for (``NUMBA_CPU_NAME``, else this host's
    LLVM name) and the vector width of the packed products in bytes (64 with AVX-512, else
    32: ``kernels.cpu.packed.wide_registers``)."""
    import llvmlite.binding as llvm
    from numba.core import config

    from ..kernels.cpu.packed import wide_registers
    name = config.CPU_NAME if config.CPU_NAME not in (None, "host") else \
        llvm.get_host_cpu_name()
    return {"cpu": name, "vector_bytes": 64 if wide_registers() else 32}


# -- torch and ONNX Runtime -------------------------------------------------------------------
def torch_info() -> dict:
    """torch's version, ``cpu_capability`` (the kernels it dispatches to: "AVX2",
    "AVX512", ...), whether oneDNN (``mkldnn``) and MKL are available and enabled, its
    thread count, its BLAS (``BLAS_INFO``), the MKL and oneDNN versions, and the BLAS /
    oneDNN / OpenMP lines of ``torch.__config__.show()``."""
    import torch
    show = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=([^,\s]+)", show)
    mkl = re.search(r"Math Kernel Library Version ([\w.]+)", show)
    onednn = re.search(r"(?:MKL-DNN|oneDNN) v?([\d.]+)", show)
    return {"version": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "mkldnn": bool(torch.backends.mkldnn.is_available()
                           and torch.backends.mkldnn.enabled),
            "mkl": bool(torch.backends.mkl.is_available()),
            "threads": torch.get_num_threads(),
            "blas": blas.group(1) if blas else None,
            "mkl_version": mkl.group(1) if mkl else None,
            "onednn_version": onednn.group(1) if onednn else None,
            "libraries": [line.strip(" -") for line in show.splitlines()
                          if re.search(r"Math Kernel|MKL-DNN|oneDNN|OpenMP \d|OpenBLAS", line)]}


def _onnxruntime_info() -> dict:
    import onnxruntime as ort
    return {"version": ort.__version__, "providers": ort.get_available_providers()}


# -- one line per contender for the report's header ------------------------------------------
def describe_record(rec: dict) -> str:
    """One line: the libraries a worker loaded (``api version core, N threads``), and the
    kernels' BLAS or torch's capability."""
    parts = []
    kt = rec.get("kernel_target")
    if kt:
        parts.append(kt["error"] if "error" in kt else
                     f"kernels compiled for {kt['cpu']}, {kt['vector_bytes'] * 8}-bit vectors")
    kb = rec.get("kernel_blas")
    if kb:
        parts.append("products: " + (kb["error"] if "error" in kb and not kb.get("path")
                                     else _lib_words(kb)))
    t = rec.get("torch")
    if t:
        parts.append(t["error"] if "error" in t else
                     f"torch {t['version']}, CPU capability {t['cpu_capability']}, oneDNN "
                     f"{t.get('onednn_version') or ''} {'on' if t['mkldnn'] else 'off'}, "
                     f"BLAS {t['blas']} {t.get('mkl_version') or ''}, {t['threads']} threads")
    o = rec.get("onnxruntime")
    if o:
        parts.append(o["error"] if "error" in o else
                     f"onnxruntime {o['version']} (its own MLAS kernels, no BLAS)")
    libs = rec.get("libraries", {})
    if "error" in libs:
        parts.append(f"libraries: {libs['error']}")
    elif libs:
        loaded = ", ".join(f"{lib['api']} {_lib_words(lib)}" for lib in libs["libraries"])
        parts.append(f"loaded ({libs['source']}): {loaded or 'none found'}")
    return "; ".join(parts)


def _lib_words(lib: dict) -> str:
    # NOTE: kernels.cpu.blas.describe() may name its choice ("library"/"name") as well
    name = os.path.basename(str(lib.get("path") or "?"))
    chosen = lib.get("library") or lib.get("name")
    return ((f"{chosen} " if chosen else "") + f"{lib.get('version') or '?'}"
            + (f" {lib['core']}" if lib.get("core") else "")
            + (f", {lib['threads']} threads" if lib.get("threads") is not None else "")
            + f" ({name})")
