"""The cast rules every entry point shares (``tensor``, ``cast``, ``full``,
``pad_sequences``): a cast NumPy would do with a warning or into garbage is refused; an
array's float beyond a narrower float's range is ±inf, and a fill value there an error, as
in PyTorch. Stands below the engine so
the data pipeline can use it too."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["check_cast", "fill_value"]


def check_cast(arr: np.ndarray, target: np.dtype, what: str) -> None:
    """Refuse a cast that NumPy would do with a warning or into garbage: complex values to a
    real dtype (TypeError), and NaN, inf or out-of-range values to an integer one
    (ValueError, as torch's "cannot be converted ... without overflow")."""
    if arr.dtype.kind == "c" and target.kind in "iuf":
        raise TypeError(f"{what}: complex values do not convert to {target} (the imaginary "
                        f"part would be lost); take .real first")
    if target.kind not in "iu" or arr.dtype.kind not in "iuf":
        return
    info = np.iinfo(target)
    if arr.dtype.kind in "iu":
        bad = (arr < info.min) | (arr > info.max) if arr.size else np.zeros(0, bool)
    else:
        # NOTE: the bounds as powers of two, exact in every float dtype (info.max is not)
        upper = 2.0 ** (info.bits - (1 if info.min else 0))
        lower = -upper if info.min else 0.0
        with np.errstate(invalid="ignore"):
            t = np.trunc(arr)
        bad = ~np.isfinite(t) | (t >= upper) | (t < lower)
    if np.any(bad):
        first = arr[np.unravel_index(int(np.argmax(bad)), arr.shape)] if arr.ndim else arr
        raise ValueError(f"{what}: {int(np.count_nonzero(bad))} value(s) cannot be converted "
                         f"to {target} without overflow (the first: {first.item()!r}); "
                         f"{target} holds the integers {info.min} to {info.max}")


def fill_value(value, dtype, where: str, error: type[Exception] = ValueError) -> np.ndarray:
    """``value`` (a number) as a 0-d array of ``dtype`` to fill with. A value the dtype
    cannot hold raises ``error``, as torch's "cannot be converted ... without overflow": a
    finite float beyond a float dtype's range (±inf and NaN themselves are kept), and NaN,
    inf or an out-of-range number for an integer dtype; complex values for a real dtype, a
    non-number or an unknown dtype raise TypeError, each naming ``where``."""
    try:
        target = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where}: unknown dtype {dtype!r:.40}") from None
    if not isinstance(value, (numbers.Number, np.number, np.bool_)):
        raise TypeError(f"{where}: expected a number, got {type(value).__name__} "
                        f"{value!r:.40}")
    if isinstance(value, int) and not -2**63 <= value < 2**64:
        try:                            # beyond 64 bits: NumPy would make an object array
            value = float(value)
        except OverflowError:
            raise error(f"{where}: an integer of {value.bit_length()} bits cannot be "
                        f"converted to {target} without overflow") from None
    v = np.asarray(value)
    try:
        check_cast(v, target, where)
    except ValueError as err:
        raise error(str(err)) from None
    with np.errstate(over="ignore", invalid="ignore"):
        out = v.astype(target)
        if target.kind in "fc" and np.isfinite(v) and not np.isfinite(out):
            raise error(f"{where}: {value!r} cannot be converted to {target} without "
                        f"overflow; {target} holds magnitudes up to "
                        f"{np.finfo(target).max:.4g} (pass inf for inf)")
    return out
