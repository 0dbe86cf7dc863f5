"""Fuzzing a numerical API the way this project fuzzes its own: Hypothesis strategies for
awkward inputs, and :func:`check_call`, the property every public call must keep.

The property (docs/reliability.md): a call either

- succeeds, and its floating-point results are finite when its inputs are (where the math
  is: the caller says so with ``finite=``), or
- raises one of the documented error types (:data:`DOCUMENTED_ERRORS`, or the ones the
  caller names) with a message that explains it (:func:`explained`): a non-empty message
  from a ``raise`` statement in the library's own code, an error of one of the library's
  own classes, or an OSError naming its file. A bare NumPy or Numba error passed through
  (``operands could not be broadcast together ...``) does not count;

and it never emits a warning (each call runs under ``warnings.simplefilter("error")``).

The strategies draw what breaks numerical code: shapes with empty dimensions, the wrong
dtypes (int, bool, complex, object, strings), special values (±0, ±inf, NaN, subnormals,
±1e4 logits, the largest finite float), sequence lengths that are valid, too long, negative
or of the wrong count, and step masks with fully masked rows. Well-conditioned values for
gradient checks are in :mod:`nongate_np.check.testing`; this module is for bad and extreme
input.

Example::

    import numpy as np
    from hypothesis import given, settings, strategies as st
    import nongate_np as ng
    from nongate_np import testing as nt

    @given(x=nt.arrays(nt.dtypes(), nt.shapes()))
    def test_tanh_keeps_the_property(x):
        nt.check_call(ng.tanh, x)                  # raises FuzzFailure on a violation

    @settings(deadline=None)        # the first call compiles the LSTM kernels
    @given(data=st.data(), T=st.integers(1, 4), B=st.integers(0, 3))
    def test_lstm_lengths(data, T, B):
        lstm = ng.nn.LSTM(2, 3, dtype=np.float64)
        # up to 1e4: W x itself overflows near the float range (to inf - inf = NaN)
        x = data.draw(nt.arrays(np.float64, (T, B, 2), finite=True, max_magnitude=1e4))
        lengths = data.draw(nt.lengths(B, T) | nt.bad_lengths(B, T))
        nt.check_call(lstm, x, lengths=lengths)     # a result, or an error naming lengths

Requires Hypothesis (``pip install hypothesis``).
"""

from __future__ import annotations

import dis
import pathlib
import warnings
from typing import Any, Callable

import numpy as np

from .extras import install_hint

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as err:  # pragma: no cover - exercised only without hypothesis
    raise ImportError(f"nongate_np.testing needs Hypothesis: "
                      f"{install_hint('test')}") from err

from .anomaly import AnomalyError
from .autograd import GradientShapeError
from .check.numdiff import ComplexStepNotApplicable
from .data.errors import DataError
from .device import DeviceError
from .io.checkpoint import CheckpointError
from .kernels.registry import BackendUnavailable
from .nn.module import StateDictError
from .tensor import Tensor

__all__ = ["FLOAT_DTYPES", "BAD_DTYPES", "DOCUMENTED_ERRORS", "LIBRARY_ERRORS",
           "FuzzFailure", "float_dtypes", "bad_dtypes", "dtypes", "special_values", "values",
           "shapes", "arrays", "lengths", "bad_lengths", "masks", "bad_masks", "check_call",
           "explained", "all_finite"]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# What a user passes by mistake: the numeric kinds a float op may refuse or promote, and the
# kinds that are not numbers at all.
BAD_DTYPES = (np.dtype(np.int64), np.dtype(np.int32), np.dtype(np.bool_),
              np.dtype(np.complex128), np.dtype(object), np.dtype("<U3"))

# The library's own error classes; each is a subclass of a built-in type named beside it.
LIBRARY_ERRORS = (DataError,                  # ValueError: a data file or array is malformed
                  CheckpointError,            # ValueError: a checkpoint is damaged or foreign
                  StateDictError,             # RuntimeError: weights do not fit a module
                  GradientShapeError,         # RuntimeError: a backward returned a bad shape
                  DeviceError,                # RuntimeError: a device is missing or mixed
                  AnomalyError,               # RuntimeError: NaN/inf under detect_anomaly()
                  BackendUnavailable,         # ImportError: a backend cannot be loaded
                  ComplexStepNotApplicable)   # TypeError: a function is not complex-safe
DOCUMENTED_ERRORS = (ValueError, TypeError) + LIBRARY_ERRORS

_PACKAGE = pathlib.Path(__file__).resolve().parent
_RAISE = dis.opmap["RAISE_VARARGS"]


class FuzzFailure(AssertionError):
    """A call broke the property. ``kind`` is "warning", "error type", "message" or
    "non-finite"; ``call`` names the function and its arguments."""

    def __init__(self, kind: str, call: str, detail: str):
        super().__init__(f"{kind}: {call}: {detail}")
        self.kind, self.call, self.detail = kind, call, detail


# -- dtypes and values --------------------------------------------------------------------

def float_dtypes():
    """float32 and float64."""
    return st.sampled_from(FLOAT_DTYPES)


def bad_dtypes():
    """int64, int32, bool, complex128, object and a string dtype."""
    return st.sampled_from(BAD_DTYPES)


def dtypes():
    """Any of :func:`float_dtypes` and :func:`bad_dtypes`."""
    return st.sampled_from(FLOAT_DTYPES + BAD_DTYPES)


def special_values(dtype=np.float64, *, finite: bool = False,
                   max_magnitude: float | None = None) -> list[float]:
    """The values numerical code gets wrong: ±0, the smallest subnormal, the smallest normal,
    ±1, ±1e4 (a saturating logit), the largest finite value of ``dtype`` and, unless
    ``finite``, ±inf and NaN. ``max_magnitude`` drops the finite ones above it."""
    dt = np.dtype(dtype)
    info = np.finfo(dt)
    tiny_sub = float(np.nextafter(dt.type(0), dt.type(1)))
    finite_values = [0.0, -0.0, tiny_sub, -tiny_sub, float(info.tiny), 1.0, -1.0, 1e4, -1e4,
                     float(info.max), -float(info.max)]
    if max_magnitude is not None:
        finite_values = [v for v in finite_values if abs(v) <= max_magnitude]
    return finite_values + ([] if finite else [np.inf, -np.inf, np.nan])


def values(dtype=np.float64, *, finite: bool = False, max_magnitude: float | None = None):
    """Scalars of a floating ``dtype``, in three even parts: non-finite (±inf, NaN; unless
    ``finite``), the finite special values (:func:`special_values`) and any representable
    value (subnormals included) up to ``max_magnitude``. Each element of a size-3 array is
    drawn alone, so about one such array in three holds a given non-finite value."""
    dtype = np.dtype(dtype)
    bound = float(np.finfo(dtype).max) if max_magnitude is None else max_magnitude
    ordinary = st.floats(-bound, bound, width=dtype.itemsize * 8, allow_subnormal=True)
    special = st.sampled_from(special_values(dtype, finite=True, max_magnitude=max_magnitude))
    if finite:
        return st.one_of(special, ordinary)
    return st.one_of(st.sampled_from([np.inf, -np.inf, np.nan]), special, ordinary)


# -- shapes, arrays ------------------------------------------------------------------------

def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 0, max_side: int = 3):
    """Array shapes; sides of 0 (empty arrays) and 1 (broadcasting) appear often."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def _elements(dtype: np.dtype, finite: bool, max_magnitude: float | None):
    if dtype.kind == "f":
        return values(dtype, finite=finite, max_magnitude=max_magnitude)
    if dtype.kind in "iu":
        return st.integers(-3, 3)
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind == "c":
        # finite and moderate: complex input is for complex-step differentiation, not for
        # IEEE special cases (NumPy's complex functions warn on them)
        real = values(np.float64, finite=True, max_magnitude=1e4)
        return st.builds(complex, real, real)
    if dtype.kind == "U":
        return st.text("ab1.", max_size=3)
    return st.one_of(st.none(), st.floats(-2, 2), st.text("ab", max_size=2))  # object


@st.composite
def arrays(draw, dtype, shape, *, finite: bool = False, max_magnitude: float | None = None):
    """Arrays of ``dtype`` and ``shape`` (each a value or a strategy). Floating elements
    come from :func:`values` (non-finite ones unless ``finite``), complex ones have finite
    parts up to 1e4; integers are in [-3, 3]; object arrays mix None, floats and strings;
    string arrays hold short strings. Every element is drawn on its own (no fill value), so
    special values are frequent and mixed."""
    if not isinstance(dtype, np.dtype) and hasattr(dtype, "example"):
        dtype = draw(dtype)
    if not isinstance(shape, tuple):
        shape = draw(shape)
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    flat = draw(st.lists(_elements(dtype, finite, max_magnitude), min_size=n, max_size=n))
    out = np.empty(n, dtype=dtype)
    out[:] = flat if dtype.kind == "O" else np.array(flat, dtype=dtype) if n else []
    return out.reshape(shape)


# -- sequence lengths and step masks -------------------------------------------------------

def lengths(B: int, T: int):
    """Valid lengths: (B,) int64 in [0, T] (0: a sequence with no step)."""
    return hnp.arrays(np.int64, (B,), elements=st.integers(0, T))


def bad_lengths(B: int, T: int):
    """Lengths an op must refuse: one too long, a negative one, the wrong count, fractions,
    a 2-D array, strings."""
    def with_one(value):
        return hnp.arrays(np.int64, (B,), elements=st.integers(0, T)).map(
            lambda a: np.concatenate([a[:-1], [value]]) if B else np.array([value]))
    return st.one_of(
        with_one(T + 1), with_one(-1),
        hnp.arrays(np.int64, (B + 1,), elements=st.integers(0, T)),
        st.just(np.full(B, 0.5)) if B else st.just(np.array([0.5])),
        st.just(np.zeros((B, 1), np.int64)),
        st.just(np.array(["1"] * max(B, 1))),
    )


def masks(B: int, T: int):
    """Valid step masks: (B, T) booleans (True = a real step), fully masked rows included."""
    return hnp.arrays(np.bool_, (B, T), elements=st.booleans())


def bad_masks(B: int, T: int):
    """Masks an op must refuse: the wrong shape, integers instead of booleans, strings."""
    return st.one_of(st.just(np.ones((B, T + 1), bool)), st.just(np.ones((B + 1, T), bool)),
                     st.just(np.ones((B, T), np.int64)), st.just(np.full((B, T), "x")))


# -- the property ----------------------------------------------------------------------------

def all_finite(obj) -> bool:
    """True when every real or complex floating array (or Tensor, or float) in ``obj``, looked
    for through tuples, lists and dict values, is finite. Other dtypes count as finite."""
    if isinstance(obj, Tensor):
        obj = obj.numpy()
    if isinstance(obj, (tuple, list)):
        return all(all_finite(o) for o in obj)
    if isinstance(obj, dict):
        return all(all_finite(o) for o in obj.values())
    if isinstance(obj, (float, complex, np.floating, np.complexfloating)):
        return bool(np.isfinite(obj))
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "fc":
        return bool(np.isfinite(obj).all())
    return True


def explained(exc: BaseException) -> bool:
    """Whether an error explains itself: a non-empty message, and either one of the
    library's own classes, an OSError naming its file, or raised by a ``raise`` statement
    in the library's code (an error NumPy or Numba raised and the library let through is
    not)."""
    if not str(exc).strip():
        return False
    if isinstance(exc, LIBRARY_ERRORS) or (isinstance(exc, OSError) and exc.filename):
        return True     # the library's own class, or the OS naming the file
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    code = tb.tb_frame.f_code
    path = pathlib.Path(code.co_filename).resolve()
    if _PACKAGE not in path.parents or path == pathlib.Path(__file__).resolve():
        return False
    # the frame's last instruction: RAISE_VARARGS for a raise statement, a CALL when NumPy
    # or Numba raised inside the call
    return code.co_code[tb.tb_lasti] == _RAISE


def _describe(fn: Callable, args: tuple, kwargs: dict) -> str:
    def short(a):
        if isinstance(a, Tensor):
            a = a.numpy()
        if isinstance(a, np.ndarray):
            return f"array(shape={a.shape}, dtype={a.dtype}, {np.array2string(a.ravel()[:6])})"
        return repr(a)[:80]
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    parts = [short(a) for a in args] + [f"{k}={short(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _origin(exc: BaseException) -> str:
    """``Type: message (at file:line)``, the line where it was raised (or warned)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return f"{type(exc).__name__}: {exc}"
    path = pathlib.Path(tb.tb_frame.f_code.co_filename).resolve()
    shown = path.relative_to(_PACKAGE.parent) if _PACKAGE in path.parents else path.name
    return f"{type(exc).__name__}: {exc} (at {shown}:{tb.tb_lineno})"


def check_call(fn: Callable, *args, finite: bool | None = None, errors: tuple = DOCUMENTED_ERRORS,
               allow_warnings: tuple = (), **kwargs) -> Any:
    """Call ``fn(*args, **kwargs)`` under warnings-as-errors and check the property.

    Parameters
    ----------
    fn : callable
    *args, **kwargs : passed to ``fn``
    finite : bool, optional
        Whether the result must be finite. Default: when every floating array among the
        arguments is finite (:func:`all_finite`). Pass False where the math itself overflows
        (``exp(1e4)``), True where it must stay finite whatever the inputs (a masked value).
    errors : tuple of exception types
        The accepted errors (default :data:`DOCUMENTED_ERRORS`; add ``IndexError`` for
        indexing, ``OSError`` for file functions).
    allow_warnings : tuple of str
        Regular expressions of warnings ``fn`` documents (e.g. gradcheck's advice on
        float32); every other warning is a failure.

    Returns
    -------
    The result of the call, or the accepted exception (an instance of one of ``errors``).

    Raises
    ------
    FuzzFailure
        kind "warning": a warning was emitted; "error type": an exception outside
        ``errors``; "message": an accepted type whose message does not explain it
        (:func:`explained`); "non-finite": a NaN or inf result where ``finite`` holds.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for pattern in allow_warnings:
            warnings.filterwarnings("ignore", message=pattern)
        try:
            result = fn(*args, **kwargs)
        except Warning as w:
            raise FuzzFailure("warning", _describe(fn, args, kwargs), _origin(w)) from w
        except errors as exc:
            if not explained(exc):
                raise FuzzFailure("message", _describe(fn, args, kwargs), _origin(exc)) from exc
            return exc
        except Exception as exc:
            raise FuzzFailure("error type", _describe(fn, args, kwargs), _origin(exc)) from exc
    if finite is None:
        finite = all_finite((args, kwargs))
    if finite and not all_finite(result):
        raise FuzzFailure("non-finite", _describe(fn, args, kwargs),
                          "finite input gave a NaN or inf result")
    return result
