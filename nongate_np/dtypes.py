"""torch's dtype names, as NumPy's dtypes: ``dtype=ng.float32`` ports ``dtype=torch.float32``.

Each name is NumPy's scalar type itself (``ng.float32 is np.float32``), which every
``dtype=`` here takes and which equals a tensor's ``dtype`` (``t.dtype == ng.float32``).
torch's other spellings are here too: ``half``, ``float`` (float32, as torch's, not Python's
float64), ``double``, ``short``, ``int`` (int32, as torch's), ``long``, ``cfloat``,
``cdouble``; and ``bool``. ``float``, ``int`` and ``bool`` are left out of ``__all__`` (of
this module and the package) so that ``from nongate_np import *`` does not hide Python's
builtins. NumPy has no bfloat16 (``ng.bfloat16`` says so).
"""

from __future__ import annotations

import numpy as np

__all__ = ["float16", "half", "float32", "float64", "double", "int8", "int16", "short",
           "int32", "int64", "long", "uint8", "uint16", "uint32", "uint64", "complex64",
           "cfloat", "complex128", "cdouble"]

float16 = half = np.float16
float32 = float = np.float32        # torch's float is float32, not Python's float64
float64 = double = np.float64
int8 = np.int8
int16 = short = np.int16
int32 = int = np.int32              # torch's int is int32
int64 = long = np.int64
uint8 = np.uint8
uint16 = np.uint16
uint32 = np.uint32
uint64 = np.uint64
bool = np.bool_                     # torch's bool
complex64 = cfloat = np.complex64
complex128 = cdouble = np.complex128
