"""nongate_np.testing does what it promises: check_call catches each kind of violation (so
the API fuzz can fail), and the strategies draw the awkward inputs they name."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np import testing as nt
from nongate_np.data import DataError


def _kind(fn, *args, **kwargs):
    with pytest.raises(nt.FuzzFailure) as info:
        nt.check_call(fn, *args, **kwargs)
    return info.value.kind


def test_check_call_returns_the_result_or_the_accepted_error():
    assert np.array_equal(nt.check_call(ng.add, np.ones(2), np.ones(2)).numpy(), [2, 2])
    err = nt.check_call(ng.add, np.ones(2), np.ones(3))
    assert isinstance(err, ValueError) and "add" in str(err)


def test_check_call_catches_each_violation():
    def warns(x):
        warnings.warn("careful", UserWarning, stacklevel=2)
        return x

    def numpy_error(x):
        return np.ones(2) + np.ones(3)          # raised inside NumPy, passed through

    def foreign(x):
        raise KeyError("k")

    def empty_message(x):
        raise ValueError("")

    assert _kind(warns, 1.0) == "warning"
    assert _kind(lambda x: np.log(x), np.zeros(1)) == "warning"      # NumPy's RuntimeWarning
    assert _kind(numpy_error, 1.0) == "message"
    assert _kind(foreign, 1.0) == "error type"
    assert _kind(empty_message, 1.0) == "message"
    assert _kind(lambda x: x * 1e308 * 10, 1.0) == "non-finite"    # Python floats: no warning
    assert _kind(lambda x: np.array([np.nan]), np.ones(1)) == "non-finite"


def test_check_call_finite_is_the_callers_rule():
    nan = lambda x: np.array([np.nan])      # noqa: E731
    assert np.isnan(nt.check_call(nan, np.array([np.inf]))).all()     # non-finite input
    assert np.isnan(nt.check_call(nan, np.ones(1), finite=False)).all()
    assert _kind(nan, np.array([np.inf]), finite=True) == "non-finite"


def test_check_call_allows_only_the_named_warnings():
    def advises(x):
        warnings.warn("gradcheck: use float64", UserWarning, stacklevel=2)
        return x
    assert nt.check_call(advises, 1.0, allow_warnings=(r"gradcheck: ",)) == 1.0
    assert _kind(advises, 1.0, allow_warnings=(r"other",)) == "warning"


def test_explained_accepts_library_errors_and_named_files():
    assert nt.explained(DataError("x.csv, line 3: bad"))
    assert nt.explained(FileNotFoundError(2, "No such file", "/x.npz"))
    assert not nt.explained(ValueError("raised here, outside the library"))


@settings(max_examples=50)
@given(x=nt.arrays(nt.float_dtypes(), nt.shapes()))
def test_arrays_have_their_dtype_and_shape(x):
    assert x.dtype in nt.FLOAT_DTYPES and x.ndim <= 3 and max(x.shape, default=0) <= 3


def test_strategies_reach_the_special_cases():
    seen = set()

    @settings(max_examples=300, derandomize=True, database=None)
    @given(x=nt.arrays(nt.float_dtypes(), nt.shapes()), dtype=nt.dtypes())
    def draw(x, dtype):
        seen.add(dtype.kind)
        if x.size == 0:
            seen.add("empty")
        for name, hit in (("nan", np.isnan(x)), ("-inf", np.isneginf(x)), ("-0", (x == 0) &
                          np.signbit(x)), ("sub", (x != 0) & (np.abs(x) < np.finfo(x.dtype).tiny)),
                          ("1e4", np.abs(x) == 1e4), ("max", np.abs(x) == np.finfo(x.dtype).max)):
            if hit.any():
                seen.add(name)
    draw()
    assert seen >= {"nan", "-inf", "-0", "sub", "1e4", "max", "empty", "f", "i", "b", "c", "O",
                    "U"}


@settings(max_examples=50)
@given(data=st.data(), B=st.integers(0, 3), T=st.integers(0, 3))
def test_lengths_and_masks(data, B, T):
    good = data.draw(nt.lengths(B, T))
    assert good.shape == (B,) and good.dtype == np.int64 and np.all((good >= 0) & (good <= T))
    bad = np.asarray(data.draw(nt.bad_lengths(B, T)))
    assert bad.shape != (B,) or bad.dtype.kind != "i" or np.any((bad < 0) | (bad > T))
    mask = data.draw(nt.masks(B, T))
    assert mask.shape == (B, T) and mask.dtype == np.bool_
    bad_mask = np.asarray(data.draw(nt.bad_masks(B, T)))
    assert bad_mask.shape != (B, T) or bad_mask.dtype != np.bool_
