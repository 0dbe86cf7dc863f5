"""The default floating dtype, as torch's ``set_default_dtype`` / ``get_default_dtype``.

One rule, in two parts, since this library's tensors started as NumPy's and its modules as
torch's:

- Tensors made without a ``dtype`` from Python floats (``tensor(1.5)``, ``Tensor([[1.0]])``,
  ``nn.Parameter([0.5])``) and the float factories (``zeros``, ``ones``, ``full``,
  ``randn``, ``rand``, ``arange`` with a float bound) are of ``get_default_dtype()``:
  float64, NumPy's, until ``set_default_dtype`` is called. Complex Python numbers follow
  it (complex64 under float32, as torch). An ndarray or a NumPy scalar keeps its dtype (as
  ``torch.from_numpy`` and ``torch.as_tensor``), and so does the input of ``zeros_like``.
- Modules made without a ``dtype`` (``nn.Linear``, ``nn.LSTM``, ...) and a loss module's
  list of class weights are float32, torch's default, until ``set_default_dtype`` is
  called, and the set dtype after it (``set_default_dtype(np.float64)`` before a gradient
  check makes ``nn.Linear`` float64, as in torch).

So after ``set_default_dtype(np.float32)`` everything made without a dtype is float32, as
in torch, and after ``set_default_dtype(np.float64)`` everything is float64.

The setting is process-global, as torch's (not per thread, not per context): set it once
at the start of a program, before building models and tensors, not while other threads
create tensors. Imports nothing of the engine.
"""

from __future__ import annotations

import numpy as np

__all__ = ["set_default_dtype", "get_default_dtype", "reset_default_dtype"]

_ACCEPTED = (np.dtype(np.float32), np.dtype(np.float64))

# None until set_default_dtype is called: tensors float64 (NumPy's), modules float32 (torch's)
_set: np.dtype | None = None


def set_default_dtype(dtype) -> None:
    """Make ``dtype`` (``np.float32`` or ``np.float64``, or a name NumPy reads as one, such
    as ``"float32"``) the dtype of tensors and modules made without one (see this module's
    docstring for which). Process-global: call it once, at the start.

    Raises
    ------
    TypeError
        ``dtype`` is not a dtype (None, a torch dtype, a number, an unknown name).
    ValueError
        Another dtype (float16, an integer or complex dtype); torch also takes float16 and
        bfloat16, which NumPy's kernels here do not compute in.
    """
    global _set
    if dtype is None:           # np.dtype(None) is float64: refused as torch refuses it
        raise TypeError("set_default_dtype: expected np.float32 or np.float64, got None")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"set_default_dtype: expected np.float32 or np.float64, got "
                        f"{type(dtype).__name__} {dtype!r:.40}") from None
    if dt not in _ACCEPTED:
        raise ValueError(f"set_default_dtype: expected np.float32 or np.float64, got {dt}")
    _set = dt


def get_default_dtype() -> type:
    """The dtype of tensors made from Python floats without a ``dtype``, as a NumPy type
    (``np.float64`` until :func:`set_default_dtype` is called, then the set one)."""
    return np.float64 if _set is None else _set.type


def reset_default_dtype() -> None:
    """Back to the state before any :func:`set_default_dtype`: tensors float64, modules
    float32 (``set_default_dtype(np.float64)`` is not that: it makes modules float64).
    For tests that set the default and must leave the process as they found it."""
    global _set
    _set = None


def module_dtype() -> np.dtype:
    """The dtype of a module built without one: float32 until :func:`set_default_dtype` is
    called, then the set dtype."""
    return np.dtype(np.float32) if _set is None else _set


def from_python(arr: np.ndarray) -> np.ndarray:
    """``arr``, converted by NumPy from Python numbers, in the default dtype: float64 made
    the default float dtype, complex128 its complex counterpart; other dtypes as they
    are. A value beyond float32's range becomes ±inf, as torch.tensor(1e300) there."""
    if _set is None or _set == np.float64 or arr.dtype.kind not in "fc":
        return arr                  # NOTE: the fast path: float64 is NumPy's own result
    target = _set if arr.dtype.kind == "f" else np.result_type(_set, np.complex64)
    with np.errstate(over="ignore"):
        return arr.astype(target)
