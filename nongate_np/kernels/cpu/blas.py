"""The BLAS every product of the Numba backend calls, chosen once per process (docs/math.md K4).

``gemm(a, b, out)`` is ``out = a @ b`` for 2-D float32 or float64 arrays, callable from
``@njit`` code on the calling thread; the step loops, ``gemm.matmul`` and the attention
kernels make all their products through it. It calls the Fortran-interface ``sgemm`` or
``dgemm`` of one library, picked when this module is first imported:

* ``scipy-openblas32`` (the OpenBLAS wheel NumPy and SciPy build on, BSD) when it is
  installed: newer than the copy SciPy bundles, and faster at the step loop's small float32
  products (bench/KERNEL_NOTES.md, "BLAS: which library the products call");
* else SciPy's BLAS, through ``scipy.linalg.cython_blas``: the very function Numba's own
  ``np.dot`` calls (OpenBLAS in SciPy's wheels, whatever SciPy was built with elsewhere).

``NONGATE_NP_BLAS`` overrides the choice: ``scipy`` forces SciPy's BLAS,
``scipy-openblas32`` requires the wheel (ImportError without it), ``auto`` (or unset) is the
order above. Set it before the kernels load; the choice holds for the process.

How the compiled kernels reach the library: the call is to an external symbol,
``nongate_np_sgemm`` / ``nongate_np_dgemm``, declared in the kernel's LLVM module the way
Numba declares its own helper functions, and bound to the chosen library's function with
``llvmlite.binding.add_symbol`` at import. The cached machine code holds the name, not an
address, so a kernel loaded from Numba's on-disk cache links to whichever library this
process chose (a function pointer baked into a kernel would make Numba refuse to cache it).
The wheel is opened with ``ctypes`` as a local library, not into the process's global
symbols: SciPy's bundled OpenBLAS exports the same ``scipy_*`` names, and a global copy
would capture the calls of SciPy's own extension modules loaded later.

Threads: the library's own thread count is set to 1 while a kernel runs
(``threads.owns_cores``, which finds the library through :func:`library`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import importlib.util
import os
import sys
from typing import Any, NamedTuple

import llvmlite.binding as ll
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .cache import cache_location

__all__ = ["ENV_VAR", "CHOICES", "gemm", "library", "describe"]

_JIT = dict(cache=cache_location().enabled, error_model="numpy", nogil=True)

#: the environment variable that overrides the choice of library
ENV_VAR = "NONGATE_NP_BLAS"
#: its values: the default order, the wheel (required), SciPy's BLAS
CHOICES = ("auto", "scipy-openblas32", "scipy")
_SYMBOLS = {"s": "nongate_np_sgemm", "d": "nongate_np_dgemm"}
_WHEEL = "scipy_openblas32"


class _Chosen(NamedTuple):
    name: str                     # "scipy-openblas32" or "scipy"
    handle: ctypes.CDLL           # the library, or a module that links it (SciPy)
    addresses: dict[str, int]     # "s"/"d" -> address of the Fortran-interface gemm
    reason: str                   # why this one, for describe()


def _wheel_library() -> tuple[ctypes.CDLL | None, str]:
    """The scipy-openblas32 wheel's library opened locally, or None and why not."""
    spec = importlib.util.find_spec(_WHEEL)
    if spec is None or not spec.submodule_search_locations:
        return None, f"{_WHEEL} is not installed"
    lib_dir = os.path.join(list(spec.submodule_search_locations)[0], "lib")
    suffix = {"win32": ".dll", "darwin": ".dylib"}.get(sys.platform, ".so")
    try:
        names = sorted(n for n in os.listdir(lib_dir)
                       if n.startswith("libscipy_openblas") and n.endswith(suffix))
    except OSError as e:
        return None, f"{_WHEEL} has no library folder ({e})"
    if not names:
        return None, f"{_WHEEL} has no libscipy_openblas*{suffix} in {lib_dir}"
    if sys.platform == "win32":            # its DLL's dependencies sit beside it
        os.add_dll_directory(lib_dir)
    try:
        lib = ctypes.CDLL(os.path.join(lib_dir, names[0]))
    except OSError as e:
        return None, f"{_WHEEL}'s library does not load ({e})"
    if not all(hasattr(lib, f"scipy_{p}gemm_") for p in _SYMBOLS):
        return None, f"{_WHEEL}'s library exports no scipy_sgemm_/scipy_dgemm_"
    return lib, f"{_WHEEL} is installed"


def _scipy_capsule_address(name: str) -> int:
    """The address of ``scipy.linalg.cython_blas``'s function ``name`` (what Numba calls)."""
    from scipy.linalg import cython_blas
    capsule = cython_blas.__pyx_capi__[name]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_ptr = ctypes.pythonapi.PyCapsule_GetPointer
    get_ptr.restype, get_ptr.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return int(get_ptr(capsule, get_name(capsule)))


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def _address(fn: Any) -> int:
    """The address of a ctypes function."""
    return int(ctypes.cast(fn, ctypes.c_void_p).value or 0)


def _file_of(address: int) -> str | None:
    """The file of the loaded library holding ``address`` (``dladdr``), or None."""
    try:
        libdl = ctypes.CDLL(ctypes.util.find_library("dl") or None)
        info = _DlInfo()
        if libdl.dladdr(ctypes.c_void_p(address), ctypes.byref(info)) and info.dli_fname:
            return os.path.realpath(info.dli_fname.decode())
    except (OSError, AttributeError):
        pass
    return None


def _scipy_library(reason: str) -> _Chosen:
    try:
        addresses = {p: _scipy_capsule_address(f"{p}gemm") for p in _SYMBOLS}
        path = _file_of(addresses["s"])
        # NOTE: the module that holds cython_blas's functions: a symbol looked up through
        # it is searched in the libraries it links, SciPy's BLAS among them
        handle = ctypes.CDLL(path) if path is not None else None
    except (ImportError, KeyError, OSError, AttributeError, TypeError) as e:
        raise ImportError(f"cannot reach SciPy's BLAS (scipy.linalg.cython_blas): {e}") from e
    if handle is None:
        raise ImportError("cannot locate the library of scipy.linalg.cython_blas")
    return _Chosen("scipy", handle, addresses, reason)


def _choose() -> _Chosen:
    asked = os.environ.get(ENV_VAR, "").strip().lower() or "auto"
    if asked not in CHOICES:
        valid = ", ".join(repr(c) for c in CHOICES)
        raise ValueError(f"{ENV_VAR}={asked!r}; expected one of {valid}")
    if asked == "scipy":
        return _scipy_library(f"{ENV_VAR}=scipy")
    lib, why = _wheel_library()
    if lib is None:
        if asked == "scipy-openblas32":
            raise ImportError(f"{ENV_VAR}=scipy-openblas32 but {why} "
                              "(pip install scipy-openblas32)")
        return _scipy_library(f"{why}: SciPy's BLAS")
    addresses = {p: _address(getattr(lib, f"scipy_{p}gemm_")) for p in _SYMBOLS}
    reason = f"{ENV_VAR}=scipy-openblas32" if asked != "auto" else why
    return _Chosen("scipy-openblas32", lib, addresses, reason)


_chosen = _choose()
for _p, _symbol in _SYMBOLS.items():
    ll.add_symbol(_symbol, _chosen.addresses[_p])


def library() -> ctypes.CDLL:
    """A ctypes handle through which the chosen library's exported functions are found
    (``scipy_openblas_set_num_threads``, ...): the library itself for the wheel, the module
    of ``scipy.linalg.cython_blas`` (which links SciPy's BLAS) otherwise. For
    ``threads.py``, which sets the kernels' BLAS to one thread through it."""
    return _chosen.handle


def _openblas_call(name: str, restype: Any) -> Any:
    """The chosen library's ``scipy_openblas_<name>()`` (or ``openblas_<name>()``), or None
    when it has neither (not OpenBLAS)."""
    for prefix in ("scipy_openblas_", "openblas_"):
        fn = getattr(_chosen.handle, prefix + name, None)
        if fn is not None:
            fn.restype, fn.argtypes = restype, []
            return fn()
    return None


@functools.lru_cache(maxsize=None)
def _static_description() -> dict[str, Any]:
    config = _openblas_call("get_config", ctypes.c_char_p)
    config = config.decode() if config is not None else None
    core = _openblas_call("get_corename", ctypes.c_char_p)
    words = config.split() if config else []
    version = words[1] if len(words) > 1 and words[0] == "OpenBLAS" else None
    # NOTE: the file of OpenBLAS's own function: SciPy's gemm address is in cython_blas
    get_config = getattr(_chosen.handle, "scipy_openblas_get_config", None)
    path = _file_of(_address(get_config)) if get_config is not None else None
    return {"library": _chosen.name, "path": path or _file_of(_chosen.addresses["s"]),
            "version": version, "core": core.decode() if core is not None else None,
            "config": config, "interface": "Fortran sgemm/dgemm, 32-bit integers",
            "reason": _chosen.reason}


def describe() -> dict[str, Any]:
    """Which BLAS the kernels' products run on, for the benchmark's record.

    Returns
    -------
    dict
        ``library`` ("scipy-openblas32" or "scipy"), ``path`` (the file holding its gemm),
        ``version`` and ``core`` (OpenBLAS's version and the kernel set it picked for this
        CPU, e.g. "SkylakeX"; None for a BLAS that is not OpenBLAS), ``config`` (OpenBLAS's
        build string), ``threads`` (its thread count now; None if unknown), ``interface``,
        ``reason`` (why this library: the wheel installed, or ``NONGATE_NP_BLAS``).
    """
    out = dict(_static_description())
    out["threads"] = _openblas_call("get_num_threads", ctypes.c_int)
    return out


@intrinsic
def _xgemm(typingctx, ta, tb, m, n, k, a, lda, b, ldb, c, ldc):
    """C = op(A) op(B) in row-major terms (alpha 1, beta 0), ``ta``/``tb`` 1 for transposed,
    through the Fortran-interface gemm of the chosen library: column-major, so it computes
    Cᵀ = op(B)ᵀ op(A)ᵀ. Integers must fit 32 bits."""
    sig = types.void(ta, tb, m, n, k, a, lda, b, ldb, c, ldc)

    def codegen(context, builder, sig, args):
        ta, tb, m, n, k, a, lda, b, ldb, c, ldc = args
        float_t = context.get_value_type(sig.args[5].dtype)
        ptr = float_t.as_pointer()
        i8, i32 = ir.IntType(8), ir.IntType(32)
        symbol = _SYMBOLS["s" if sig.args[5].dtype == types.float32 else "d"]
        fnty = ir.FunctionType(ir.VoidType(), [i8.as_pointer()] * 2 + [i32.as_pointer()] * 3
                               + [ptr, ptr, i32.as_pointer(), ptr, i32.as_pointer(), ptr, ptr,
                                  i32.as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, symbol)

        def data(i, value):
            return context.make_array(sig.args[i])(context, builder, value).data

        def int32(value):
            return cgutils.alloca_once_value(builder, builder.trunc(value, i32)
                                             if value.type.width > 32 else value)

        def trans(flag):                   # 0 -> 'N' (78), 1 -> 'T' (84)
            code = builder.add(ir.Constant(i8, 78), builder.mul(builder.trunc(flag, i8),
                                                                ir.Constant(i8, 6)))
            return cgutils.alloca_once_value(builder, code)

        one = cgutils.alloca_once_value(builder, ir.Constant(float_t, 1.0))
        zero = cgutils.alloca_once_value(builder, ir.Constant(float_t, 0.0))
        builder.call(fn, [trans(tb), trans(ta), int32(n), int32(m), int32(k), one,
                          data(7, b), int32(ldb), data(5, a), int32(lda), zero, data(9, c),
                          int32(ldc)])
        return context.get_dummy_value()

    return sig, codegen


@njit(inline="always", **_JIT)
def _layout(x):
    """(t, ld) through which BLAS reads the 2-D ``x`` in place: t = 0 with rows of unit
    stride ld elements apart, t = 1 with columns so (x a transposed row-major array);
    (-1, 0) when neither (the caller copies)."""
    r, c = x.shape
    s = x.itemsize
    s0, s1 = x.strides
    if (c <= 1 or s1 == s) and (r <= 1 or (s0 % s == 0 and s0 >= c * s)):
        return 0, max(s0 // s if r > 1 else c, 1)
    if (r <= 1 or s0 == s) and (c <= 1 or (s1 % s == 0 and s1 >= r * s)):
        return 1, max(s1 // s if c > 1 else r, 1)
    return -1, 0


@njit(inline="always", **_JIT)
def _copy(src, dst):
    # NOTE: element loops, not slice assignments (bench/KERNEL_NOTES.md, "Compile time:
    # slice assignments")
    for i in range(src.shape[0]):
        for j in range(src.shape[1]):
            dst[i, j] = src[i, j]


_INT32_MAX = 2**31 - 1


@njit(**_JIT)
def gemm(a, b, out):
    """out = a @ b through the chosen BLAS, on the calling thread (docs/math.md K4).

    a (M, K), b (K, N), out (M, N): 2-D float32 or float64, one dtype. Any layout: a, b
    whose rows or columns have unit stride (C-contiguous, transposed C arrays, row slices
    of either) are read in place, others copied; out is written in place when its rows have
    unit stride, else through a copy. out must not overlap a or b. K = 0 gives zeros.
    Raises ValueError on mismatched shapes or a dimension past 2³¹ − 1 (BLAS's 32-bit
    integers). A fixed input gives the same bits every call.
    """
    M, K = a.shape
    N = b.shape[1]
    if b.shape[0] != K or out.shape[0] != M or out.shape[1] != N:
        raise ValueError("gemm: shapes of a (M, K), b (K, N) and out (M, N) do not match")
    if M > _INT32_MAX or N > _INT32_MAX or K > _INT32_MAX:
        raise ValueError("gemm: a dimension exceeds BLAS's 32-bit integers")
    if M == 0 or N == 0:
        return
    if K == 0:
        for i in range(M):
            for j in range(N):
                out[i, j] = 0
        return
    ta, lda = _layout(a)
    if ta < 0:
        a_c = np.empty((M, K), a.dtype)
        _copy(a, a_c)
        ta, lda = 0, K
    else:
        a_c = a
    tb, ldb = _layout(b)
    if tb < 0:
        b_c = np.empty((K, N), b.dtype)
        _copy(b, b_c)
        tb, ldb = 0, N
    else:
        b_c = b
    tc, ldc = _layout(out)
    if max(lda, ldb, ldc) > _INT32_MAX:
        raise ValueError("gemm: a stride exceeds BLAS's 32-bit integers")
    if tc == 0:
        _xgemm(ta, tb, M, N, K, a_c, lda, b_c, ldb, out, ldc)
    else:
        out_c = np.empty((M, N), out.dtype)
        _xgemm(ta, tb, M, N, K, a_c, lda, b_c, ldb, out_c, N)
        _copy(out_c, out)
