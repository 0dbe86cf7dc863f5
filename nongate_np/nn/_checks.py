"""Input validation shared by the sequence modules: each error names the argument, what
was expected and what was given."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, as_array


def check_features(where: str, arg: str, x, dtype: np.dtype, size: int, ndims: tuple,
                   layout: str) -> Tensor:
    """``x`` (the argument ``arg``) as a Tensor with the module's floating dtype, ``ndims``
    dimensions and ``size`` features on the last axis."""
    data = x.data if isinstance(x, Tensor) else as_array(x, what=f"{where}: {arg}")
    if data.dtype.kind != "f":
        raise TypeError(f"{where}: {arg} must be floating point ({dtype}), got dtype "
                        f"{data.dtype}; convert it, e.g. {arg}.astype(np.{dtype})")
    if data.dtype != dtype:
        raise TypeError(f"{where}: {arg} is {data.dtype} but the module's parameters are "
                        f"{dtype}; convert the {arg} or the module (.to(np.{data.dtype}))")
    if data.ndim not in ndims:
        raise ValueError(f"{where}: {arg} must be {layout}, got {data.ndim}-D shape "
                         f"{data.shape}")
    if data.shape[-1] != size:
        raise ValueError(f"{where}: {arg} has {data.shape[-1]} features (shape {data.shape}), "
                         f"expected input_size={size}")
    return x if isinstance(x, Tensor) else Tensor(data)


def check_lengths(where: str, lengths, T: int, B: int) -> np.ndarray:
    """``lengths`` as an int64 array (B,) with values in [0, T]."""
    arr = as_array(lengths.data if isinstance(lengths, Tensor) else lengths,
                   what=f"{where}: lengths")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{where}: lengths must be integers, got dtype {arr.dtype}")
    if arr.shape != (B,):
        raise ValueError(f"{where}: lengths has shape {arr.shape}, expected (B,) = ({B},), "
                         "one length per sequence in the batch")
    if arr.size and (arr.min() < 0 or arr.max() > T):
        bad = arr[(arr < 0) | (arr > T)][0]
        raise ValueError(f"{where}: lengths must lie in [0, T] = [0, {T}], got {bad}")
    return arr.astype(np.int64)
