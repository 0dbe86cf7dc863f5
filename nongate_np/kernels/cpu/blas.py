"""The BLAS every product of the Numba backend calls, chosen once per process (docs/math.md K4).

``gemm(a, b, out)`` is ``out = a @ b`` for 2-D float32 or float64 arrays, callable from
``@njit`` code on the calling thread; the step loops, ``gemm.matmul`` and the attention
kernels make all their products through it. It calls the Fortran-interface ``?gemm`` (or
``?gemv`` for a row or column vector) of one library, picked when this module is first
imported:

* ``scipy-openblas32`` (the OpenBLAS wheel NumPy and SciPy build on, BSD) when it is
  installed: newer than the copy SciPy bundles, and faster at the step loop's small float32
  products (bench/KERNEL_NOTES.md, "BLAS: which library the products call");
* else SciPy's BLAS, through ``scipy.linalg.cython_blas``: the very function Numba's own
  ``np.dot`` calls (OpenBLAS in SciPy's wheels, whatever SciPy was built with elsewhere).

``NONGATE_NP_BLAS`` overrides the choice: ``scipy`` forces SciPy's BLAS,
``scipy-openblas32`` requires the wheel (ImportError without it), ``auto`` (or unset) is the
order above. Set it before the kernels load; the choice holds for the process.

How the compiled kernels reach the library: the call is to an external symbol,
``nongate_np_sgemm``, ``nongate_np_dgemv``, ..., declared in the kernel's LLVM module the way
Numba declares its own helper functions, and bound to the chosen library's function with
``llvmlite.binding.add_symbol`` at import. The cached machine code holds the name, not an
address, so a kernel loaded from Numba's on-disk cache links to whichever library this
process chose (a function pointer baked into a kernel would make Numba refuse to cache it).
The wheel is opened with ``ctypes`` as a local library, not into the process's global
symbols: SciPy's bundled OpenBLAS exports the same ``scipy_*`` names, and a global copy
would capture the calls of SciPy's own extension modules loaded later.

Threads: the library's own thread count is 1 while a kernel runs (``threads.owns_cores``,
which finds the library through :func:`library`; for good when :func:`private`).
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
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ...sharedlib import file_of

__all__ = ["ENV_VAR", "CHOICES", "gemm", "library", "core", "describe"]

#: the environment variable that overrides the choice of library
ENV_VAR = "NONGATE_NP_BLAS"
#: its values: the default order, the wheel (required), SciPy's BLAS
CHOICES = ("auto", "scipy-openblas32", "scipy")
#: BLAS function (Fortran name, no prefix) -> the symbol the compiled kernels call
_SYMBOLS = {f: f"nongate_np_{f}" for f in ("sgemm", "dgemm", "sgemv", "dgemv")}
_WHEEL = "scipy_openblas32"


class _Chosen(NamedTuple):
    name: str                     # "scipy-openblas32" or "scipy"
    handle: ctypes.CDLL | None    # the library, or a module that links it (SciPy); None:
                                  # not found (no dladdr, as on Windows)
    addresses: dict[str, int]     # "sgemm", ... -> address of the Fortran-interface function
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
    if not all(hasattr(lib, f"scipy_{f}_") for f in _SYMBOLS):
        return None, f"{_WHEEL}'s library lacks one of scipy_{{s,d}}{{gemm,gemv}}_"
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


def _address(fn: Any) -> int:
    """The address of a ctypes function."""
    return int(ctypes.cast(fn, ctypes.c_void_p).value or 0)


def _scipy_library(reason: str) -> _Chosen:
    try:
        addresses = {f: _scipy_capsule_address(f) for f in _SYMBOLS}
        path = file_of(addresses["sgemm"])
        # NOTE: the module that holds cython_blas's functions: a symbol looked up through
        # it is searched in the libraries it links, SciPy's BLAS among them
        handle = ctypes.CDLL(path) if path is not None else None
    except (ImportError, KeyError, OSError, AttributeError, TypeError) as e:
        raise ImportError(f"cannot reach SciPy's BLAS (scipy.linalg.cython_blas): {e}") from e
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
    addresses = {f: _address(getattr(lib, f"scipy_{f}_")) for f in _SYMBOLS}
    reason = f"{ENV_VAR}=scipy-openblas32" if asked != "auto" else why
    return _Chosen("scipy-openblas32", lib, addresses, reason)


_chosen = _choose()
for _f, _symbol in _SYMBOLS.items():
    ll.add_symbol(_symbol, _chosen.addresses[_f])


def library() -> ctypes.CDLL | None:
    """A ctypes handle through which the chosen library's exported functions are found
    (``scipy_openblas_set_num_threads``, ...): the library itself for the wheel, the module
    of ``scipy.linalg.cython_blas`` (which links SciPy's BLAS) otherwise; None when that
    module's file cannot be found (no ``dladdr``). For ``threads.py``, which sets the
    kernels' BLAS to one thread through it."""
    return _chosen.handle


def private() -> bool:
    """Whether the chosen library is one only the kernels call: the wheel, opened locally
    (SciPy's BLAS serves SciPy's own calls too)."""
    return _chosen.name == "scipy-openblas32"


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
    path = file_of(_address(get_config)) if get_config is not None else None
    if path is None:                       # not OpenBLAS, or no dladdr (Windows)
        path = file_of(_chosen.addresses["sgemm"]) if _chosen.name == "scipy" else \
            getattr(_chosen.handle, "_name", None)
    return {"library": _chosen.name, "path": path,
            "version": version, "core": core.decode() if core is not None else None,
            "config": config,
            "interface": "Fortran ?gemm, ?gemv for vectors; 32-bit integers",
            "reason": _chosen.reason}


def core() -> str | None:
    """The kernel set OpenBLAS picked for this CPU (e.g. "SkylakeX", "Haswell", "Zen";
    ``OPENBLAS_CORETYPE`` overrides it), or None for a BLAS that is not OpenBLAS."""
    return _static_description()["core"]


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


_INT32_MAX = 2**31 - 1
_N, _T = ord("N"), ord("T")


def _storage(context, builder, aty, arr):
    """(col, ld, ok) of a 2-D array (r, c) as BLAS reads it: with ``col`` (i1) true, a
    column-major r x c matrix (a transposed row-major array), else row-major, i.e. the
    column-major c x r matrix of its transpose; ld its leading dimension (i64); ok (i1)
    false when it has no unit stride. Fixed by the type for 'C' arrays, and for 'F' arrays
    of more than one row and column; read from the strides for 'A'.

    A single row or column is row-major whatever its type, as an 'A' array's strides make
    it: a (K, 1) 'F' array (the transpose of a (1, K) C array) and the same memory as a
    (K, 1) C array then make the same BLAS call, and so the same bits (a dot product is
    one gemv with 'T' row-major, another with 'N' column-major, summed in another order)."""
    i1, i64 = ir.IntType(1), ir.IntType(64)
    r, c = cgutils.unpack_tuple(builder, arr.shape, 2)
    one = ir.Constant(i64, 1)

    def at_least_1(v):
        return builder.select(builder.icmp_signed("<", v, one), one, v)

    if aty.layout == "C":                  # NOTE: Numba's 'C'/'F' types are contiguous
        return ir.Constant(i1, 0), at_least_1(c), ir.Constant(i1, 1)
    if aty.layout == "F":
        vector = builder.or_(builder.icmp_signed("<=", r, one), builder.icmp_signed("<=", c, one))
        col = builder.not_(vector)
        return col, builder.select(col, at_least_1(r), at_least_1(c)), ir.Constant(i1, 1)
    s0, s1 = cgutils.unpack_tuple(builder, arr.strides, 2)
    size = ir.Constant(i64, context.get_abi_sizeof(context.get_data_type(aty.dtype)))
    zero = ir.Constant(i64, 0)

    def usable(n_lines, line_stride, n_along, unit_stride):
        """lines of unit stride (or one element), line_stride apart (or one line), no
        overlap: a BLAS matrix with leading dimension line_stride / size."""
        unit = builder.or_(builder.icmp_signed("<=", n_along, one),
                           builder.icmp_signed("==", unit_stride, size))
        apart = builder.and_(
            builder.icmp_signed("==", builder.srem(line_stride, size), zero),
            builder.icmp_signed(">=", line_stride, builder.mul(n_along, size)))
        one_line = builder.icmp_signed("<=", n_lines, one)
        ld = builder.select(one_line, at_least_1(n_along),
                            at_least_1(builder.sdiv(line_stride, size)))
        return builder.and_(unit, builder.or_(one_line, apart)), ld

    row_ok, row_ld = usable(r, s0, c, s1)
    col_ok, col_ld = usable(c, s1, r, s0)
    col = builder.and_(builder.not_(row_ok), col_ok)
    return col, builder.select(col, col_ld, row_ld), builder.or_(row_ok, col_ok)


@intrinsic
def gemm(typingctx, a, b, out):
    """out = a @ b through the chosen BLAS, on the calling thread (docs/math.md K4).

    a (M, K), b (K, N), out (M, N): 2-D float32 or float64 arrays of one dtype, each with a
    unit stride along its rows or its columns (C-contiguous, a transposed C array, slices of
    rows of either: the layouts the kernels pass), read and written in place; out must not
    overlap a or b. K = 0 gives zeros. A fixed input gives the same bits every call.

    Raises ValueError (inside jitted code) on mismatched shapes, an operand with no unit
    stride (pass a copy), or a dimension or stride past 2³¹ − 1 (BLAS's 32-bit integers).

    NOTE: an intrinsic, not an @njit function: one small block of LLVM per call site, and
    no function compiled per layout (bench/KERNEL_NOTES.md, "BLAS: which library the
    products call").
    """
    arrays = (a, b, out)
    if not all(isinstance(x, types.Array) and x.ndim == 2 for x in arrays):
        return None
    if a.dtype not in (types.float32, types.float64) or b.dtype != a.dtype or \
            out.dtype != a.dtype:
        return None
    sig = types.void(a, b, out)

    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        float_t = context.get_value_type(sig.args[0].dtype)
        views = [context.make_array(t)(context, builder, v) for t, v in zip(sig.args, args)]
        (M, K), (Kb, N), (Mo, No) = (cgutils.unpack_tuple(builder, v.shape, 2)
                                     for v in views)
        mismatch = builder.or_(builder.icmp_signed("!=", Kb, K), builder.or_(
            builder.icmp_signed("!=", Mo, M), builder.icmp_signed("!=", No, N)))
        with builder.if_then(mismatch, likely=False):
            context.call_conv.return_user_exc(
                builder, ValueError,
                ("gemm: shapes of a (M, K), b (K, N) and out (M, N) do not match",))
        zero = ir.Constant(i64, 0)
        empty = builder.or_(builder.icmp_signed("==", M, zero),
                            builder.icmp_signed("==", N, zero))
        with builder.if_else(empty) as (then, otherwise):
            with then:
                pass
            with otherwise:
                no_k = builder.icmp_signed("==", K, zero)
                with builder.if_else(no_k, likely=False) as (zeros, product):
                    with zeros:
                        with cgutils.for_range(builder, M) as i:
                            with cgutils.for_range(builder, N) as j:
                                ptr = cgutils.get_item_pointer(
                                    context, builder, sig.args[2], views[2],
                                    [i.index, j.index])
                                builder.store(ir.Constant(float_t, 0.0), ptr)
                    with product:
                        _call(context, builder, sig, views, float_t, M, N, K)
        return context.get_dummy_value()

    return sig, codegen


def _call(context, builder, sig, views, float_t, M, N, K):
    """The BLAS call for M, N, K > 0, to the Fortran (column-major) interface: gemv when
    M or N is 1, else gemm."""
    i8, i32, i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
    (a_col, lda, a_ok), (b_col, ldb, b_ok), (c_col, ldc, c_ok) = (
        _storage(context, builder, t, v) for t, v in zip(sig.args, views))
    strided = builder.not_(builder.and_(a_ok, builder.and_(b_ok, c_ok)))
    with builder.if_then(strided, likely=False):
        context.call_conv.return_user_exc(
            builder, ValueError, ("gemm: an operand has no unit stride; pass a copy",))
    limit = ir.Constant(i64, _INT32_MAX)
    too_big = ir.Constant(ir.IntType(1), 0)
    for v in (M, N, K, lda, ldb, ldc):
        too_big = builder.or_(too_big, builder.icmp_signed(">", v, limit))
    with builder.if_then(too_big, likely=False):
        context.call_conv.return_user_exc(
            builder, ValueError,
            ("gemm: a dimension or stride exceeds BLAS's 32-bit integers",))

    def flag(transposed):                  # i1 -> 'T' or 'N'
        return builder.select(transposed, ir.Constant(i8, _T), ir.Constant(i8, _N))

    def value(v):
        return cgutils.alloca_once_value(builder, v)

    def int32(v):
        return value(builder.trunc(v, i32))

    ptr = float_t.as_pointer()
    prefix = "s" if sig.args[0].dtype == types.float32 else "d"
    one, zero = value(ir.Constant(float_t, 1.0)), value(ir.Constant(float_t, 0.0))
    i64_1 = ir.Constant(i64, 1)
    vector = builder.or_(builder.icmp_signed("==", M, i64_1), builder.icmp_signed("==", N, i64_1))
    # NOTE: a row or column vector through gemv, as Numba's np.dot does: OpenBLAS's gemm
    # is up to 10x slower there with its Haswell (AVX2) kernels (bench/KERNEL_NOTES.md,
    # "BLAS: which library the products call")
    with builder.if_else(vector) as (gemv, gemm):
        with gemv:
            # M == 1: y (N) = Bᵀ x with x = a's row; else (N == 1): y (M) = A x with x = b's
            # column. The matrix as stored is column-major, op 'T' where it is the
            # transpose of the one wanted; x and y step by 1 or by their ld.
            row = builder.icmp_signed("==", M, i64_1)
            mat_col = builder.select(row, b_col, a_col)
            fnty = ir.FunctionType(ir.VoidType(), [i8.as_pointer()] + [i32.as_pointer()] * 2
                                   + [ptr, ptr, i32.as_pointer(), ptr, i32.as_pointer(), ptr,
                                      ptr, i32.as_pointer()])
            fn = cgutils.get_or_insert_function(builder.module, fnty,
                                                _SYMBOLS[prefix + "gemv"])
            trans = builder.select(row, b_col, builder.not_(a_col))
            stored_rows = builder.select(mat_col, builder.select(row, K, M),
                                         builder.select(row, N, K))
            stored_cols = builder.select(mat_col, builder.select(row, N, K),
                                         builder.select(row, K, M))
            x_step = builder.select(row, builder.select(a_col, lda, i64_1),
                                    builder.select(b_col, i64_1, ldb))
            y_step = builder.select(row, builder.select(c_col, ldc, i64_1),
                                    builder.select(c_col, i64_1, ldc))
            builder.call(fn, [value(flag(trans)), int32(stored_rows), int32(stored_cols), one,
                              builder.select(row, views[1].data, views[0].data),
                              int32(builder.select(row, ldb, lda)),
                              builder.select(row, views[0].data, views[1].data),
                              int32(x_step), zero, views[2].data, int32(y_step)])
        with gemm:
            # out column-major: C = op(A) op(B), an operand stored row-major being its
            # transpose to BLAS ('T'); out row-major is Cᵀ to BLAS: Cᵀ = op(B)ᵀ op(A)ᵀ, B
            # first, and a row-major operand is then the transpose wanted ('N')
            fnty = ir.FunctionType(ir.VoidType(), [i8.as_pointer()] * 2
                                   + [i32.as_pointer()] * 3
                                   + [ptr, ptr, i32.as_pointer(), ptr, i32.as_pointer(), ptr,
                                      ptr, i32.as_pointer()])
            fn = cgutils.get_or_insert_function(builder.module, fnty,
                                                _SYMBOLS[prefix + "gemm"])
            builder.call(fn, [
                value(flag(builder.select(c_col, builder.not_(a_col), b_col))),
                value(flag(builder.select(c_col, builder.not_(b_col), a_col))),
                int32(builder.select(c_col, M, N)), int32(builder.select(c_col, N, M)),
                int32(K), one, builder.select(c_col, views[0].data, views[1].data),
                int32(builder.select(c_col, lda, ldb)),
                builder.select(c_col, views[1].data, views[0].data),
                int32(builder.select(c_col, ldb, lda)), zero, views[2].data, int32(ldc)])
