"""Tensor's operators and math methods, bound from one table to the ops that compute them.

``tensor.py`` holds the data and the graph plumbing and imports nothing above it; this
module, run by ``nongate_np.ops`` once every op is defined, gives ``Tensor`` its arithmetic
(as PyTorch binds its ``Tensor`` methods to the functions of ``torch``). A method in
:data:`SAME_AS_OP` *is* the op, so ``help(Tensor.sum)`` shows ``nongate_np.sum``.
"""

from __future__ import annotations

import numpy as np

from ..casting import fill_value
from ..device import device as device_named
from ..device import to_arguments
from ..factories import _dtype as checked_dtype
from ..factories import _shape
from ..tensor import Tensor, tensor
from ._util import xp_of
from .activations_piecewise import hardshrink, prelu
from .device import to_device
from .diagonal import diag, diag_embed, diagonal, trace
from .elementwise import (
    abs,
    add,
    cast,
    clamp,
    clamp_max,
    clamp_min,
    clip,
    cos,
    div,
    erf,
    exp,
    expm1,
    log,
    log1p,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    sin,
    sqrt,
    square,
    sub,
    tanh,
    where,
)
from .exponential import erfc, exp2, log2, log10, logaddexp, logit, reciprocal, rsqrt
from .index import argsort, gather, sort, topk, unique
from .inplace import IN_PLACE
from .logical import (
    all,
    any,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    eq,
    ge,
    gt,
    isfinite,
    isinf,
    isnan,
    le,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    masked_fill,
    ne,
    sign,
    tril,
    triu,
)
from .matmul import bmm, matmul
from .reduce import amax, amin, argmax, argmin, max, mean, min, prod, sum
from .rounding import ceil, fix, floor, frac, round, trunc
from .scatter import (
    index_add,
    index_copy,
    index_fill,
    repeat_interleave,
    scatter,
    scatter_add,
    scatter_reduce,
)
from .shape import flatten, getitem, permute, reshape, squeeze, transpose, unsqueeze
from .softmax import log_softmax, logsumexp, softmax
from .statistics import norm, std, var
from .tile import (
    chunk,
    cumprod,
    cumsum,
    expand,
    expand_as,
    flip,
    index_select,
    repeat,
    roll,
    split,
    t,
    unbind,
)
from .trigonometric import (
    acos,
    acosh,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    cosh,
    hypot,
    sinh,
    tan,
)

__all__ = ["SAME_AS_OP", "REFLECTED", "ADAPTED", "bind_tensor_methods"]

# Methods whose arguments are the op's, the tensor first: ``t.NAME(*args)`` is
# ``op(t, *args)``.
SAME_AS_OP = {
    "__add__": add, "__sub__": sub, "__mul__": mul, "__truediv__": div, "__pow__": pow,
    "__matmul__": matmul, "__neg__": neg, "__getitem__": getitem,
    "add": add, "sub": sub, "mul": mul, "div": div, "neg": neg, "pow": pow, "matmul": matmul,
    "exp": exp, "log": log, "tanh": tanh, "sigmoid": sigmoid, "relu": relu, "abs": abs,
    "sqrt": sqrt, "sin": sin, "cos": cos, "log1p": log1p, "expm1": expm1, "square": square,
    "erf": erf, "clamp": clamp, "clip": clip, "maximum": maximum,
    "minimum": minimum,
    "sum": sum, "mean": mean, "max": max, "min": min, "amax": amax, "amin": amin,
    "argmax": argmax, "argmin": argmin, "var": var, "std": std, "norm": norm, "topk": topk,
    "gather": gather, "softmax": softmax, "log_softmax": log_softmax,
    "transpose": transpose, "unsqueeze": unsqueeze, "squeeze": squeeze, "flatten": flatten,
    "__invert__": bitwise_not, "__and__": bitwise_and, "__or__": bitwise_or,
    "__xor__": bitwise_xor, "bitwise_not": bitwise_not, "bitwise_and": bitwise_and,
    "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor, "logical_not": logical_not,
    "logical_and": logical_and, "logical_or": logical_or, "logical_xor": logical_xor,
    "any": any, "all": all, "masked_fill": masked_fill, "sign": sign,
    "expand": expand, "expand_as": expand_as, "repeat": repeat, "chunk": chunk,
    "split": split, "t": t, "index_select": index_select, "cumsum": cumsum,
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "isfinite": isfinite,
    "isnan": isnan, "isinf": isinf, "sort": sort, "argsort": argsort, "tril": tril,
    "triu": triu, "prod": prod, "bmm": bmm,
    "tan": tan, "atan": atan, "asin": asin, "acos": acos, "sinh": sinh, "cosh": cosh,
    "asinh": asinh, "acosh": acosh, "atanh": atanh, "atan2": atan2, "hypot": hypot,
    "arctan": arctan, "arcsin": arcsin, "arccos": arccos, "arcsinh": arcsinh,
    "arccosh": arccosh, "arctanh": arctanh, "arctan2": arctan2, "log2": log2,
    "log10": log10, "exp2": exp2, "rsqrt": rsqrt, "reciprocal": reciprocal, "erfc": erfc,
    "logit": logit, "logaddexp": logaddexp, "floor": floor, "ceil": ceil, "trunc": trunc,
    "fix": fix, "round": round, "frac": frac, "cumprod": cumprod, "diag": diag,
    "diagonal": diagonal, "diag_embed": diag_embed, "trace": trace, "unique": unique,
    "roll": roll, "logsumexp": logsumexp, "hardshrink": hardshrink, "prelu": prelu,
    "clamp_min": clamp_min, "clamp_max": clamp_max, "unbind": unbind,
    "repeat_interleave": repeat_interleave, "scatter_add": scatter_add, "scatter": scatter,
    "scatter_reduce": scatter_reduce,
    "index_add": index_add, "index_copy": index_copy, "index_fill": index_fill,
}

# Reflected operators: ``t.__rNAME__(other)`` is ``op(other, t)`` (``2 - t``, ``a @ t``).
REFLECTED = {"__radd__": add, "__rsub__": sub, "__rmul__": mul, "__rtruediv__": div,
             "__rpow__": pow, "__rmatmul__": matmul, "__rand__": bitwise_and,
             "__ror__": bitwise_or, "__rxor__": bitwise_xor}


def _reflected(op):
    def method(self, other):
        return op(other, self)
    method.__doc__ = f"``nongate_np.{op.__name__}(other, self)``, the reflected operator."
    return method


# Methods whose arguments differ from the op's, written out.
def _where(self, cond, other):
    """``nongate_np.where(cond, self, other)``: self where ``cond`` is true, else other."""
    return where(cond, self, other)


def _reshape(self, *shape):
    """``nongate_np.reshape``; the shape as one tuple or as separate ints, as torch's."""
    return reshape(self, shape[0] if len(shape) == 1 else shape)


def _view(self, *shape):
    """``reshape`` that must not copy, as torch's ``view``: ValueError where the layout
    (a transposed tensor) cannot be read in the new shape without a copy, since an
    in-place change to the result would then not reach ``self``."""
    out = reshape(self, shape[0] if len(shape) == 1 else shape)
    if type(self.data) is np.ndarray and self.size and \
            not np.may_share_memory(out.data, self.data):
        raise ValueError(f"view: a tensor of shape {self.shape} and strides "
                         f"{self.data.strides} cannot be viewed as shape {out.shape} "
                         f"without a copy; use reshape (a copy) or clone() first")
    return out


def _view_as(self, other):
    """``self.view(other.shape)``, as torch's ``view_as`` (a view or, where the layout needs
    a copy, ValueError as :meth:`view`). TypeError for an ``other`` that is not a Tensor."""
    if not isinstance(other, Tensor):
        raise TypeError(f"view_as: other must be a Tensor, got {type(other).__name__}; for a "
                        f"shape use view(shape)")
    return _view(self, other.shape)


def _type_as(self, other):
    """``self`` in ``other``'s dtype and on its device, as torch's ``type_as``
    (``self.type(other.type())``): recorded, as ``to`` (E1a); ``self`` itself where it has
    both already. TypeError for an ``other`` that is not a Tensor."""
    if not isinstance(other, Tensor):
        raise TypeError(f"type_as: other must be a Tensor, got {type(other).__name__}; for a "
                        f"dtype use type(dtype) or to(dtype)")
    return _to(self, other.device, other.dtype)


def _permute(self, *dims):
    """``nongate_np.permute``; the dims as one tuple or as separate ints, as torch's."""
    return permute(self, dims[0] if len(dims) == 1 else dims)


def _T(self):
    """All axes reversed (NumPy's ``.T``)."""
    return permute(self, tuple(range(self.ndim - 1, -1, -1)))


def _mT(self):
    """The last two axes swapped (torch's ``mT``: a batch of matrices, each transposed),
    recorded as ``transpose``. ValueError for fewer than two axes (torch: RuntimeError)."""
    if self.ndim < 2:
        raise ValueError(f"mT: only defined for matrices or batches of matrices, got a "
                         f"{self.ndim}-D tensor of shape {self.shape}; use .T or reshape")
    return transpose(self, -2, -1)


# torch's type strings, by dtype (``x.type()``)
_TORCH_TYPES = {np.dtype(k): v for k, v in (
    (np.float32, "FloatTensor"), (np.float64, "DoubleTensor"), (np.float16, "HalfTensor"),
    (np.uint8, "ByteTensor"), (np.int8, "CharTensor"), (np.int16, "ShortTensor"),
    (np.int32, "IntTensor"), (np.int64, "LongTensor"), (np.bool_, "BoolTensor"),
    (np.complex64, "ComplexFloatTensor"), (np.complex128, "ComplexDoubleTensor"),
    (np.uint16, "UInt16Tensor"), (np.uint32, "UInt32Tensor"), (np.uint64, "UInt64Tensor"))}


def _type(self, dtype=None, non_blocking: bool = False):
    """torch's ``type``: with no ``dtype``, the name torch gives a tensor of self's dtype
    and device ("torch.FloatTensor", "torch.cuda.DoubleTensor", ...), so code that compares
    with it ports; with one, ``self`` in that dtype, recorded as ``cast`` (E1a; ``self``
    itself where it has it, as torch). ``dtype`` is a NumPy dtype or one of those names
    (a "torch.cuda." one moves self to the GPU too, as torch's). ``non_blocking`` is
    accepted and changes nothing. Raises TypeError for another ``dtype``."""
    if dtype is None:
        cuda = ".cuda" if self.device != "cpu" else ""
        return f"torch{cuda}.{_TORCH_TYPES.get(self.dtype, f'{self.dtype}Tensor')}"
    if isinstance(dtype, str) and dtype.startswith("torch."):
        name, device = dtype[len("torch."):], "cpu"
        if name.startswith("cuda."):
            name, device = name[len("cuda."):], "cuda"
        kinds = [k for k, v in _TORCH_TYPES.items() if v == name]
        if not kinds:
            raise TypeError(f"type: unknown type name {dtype!r:.60}; expected a NumPy dtype "
                            f"or torch's names, e.g. 'torch.FloatTensor'")
        return _to(self, device, kinds[0])
    kind = checked_dtype(dtype, "type")
    return self if self.dtype == kind else cast(self, kind)


def _astype(self, dtype):
    """``nongate_np.cast(self, dtype)``: converted to ``dtype``, the gradient converted back."""
    return cast(self, dtype)


def _to(self, *args, device=None, dtype=None, non_blocking: bool = False):
    """``self`` on a device ("cpu", "cuda", a Device) and/or in a dtype, as torch's ``to``:
    ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other)`` (another tensor's
    device and dtype), ``to(device=..., dtype=...)``; ``non_blocking`` is accepted and
    changes nothing (every copy here is synchronous). Recorded either way (the gradient
    goes back to self's device and dtype); ``self`` itself where it is there already, as
    torch's."""
    where, kind = to_arguments(args, device, dtype, "to")
    out = self
    if where is not None and out.device != where:
        out = to_device(out, where)
    if kind is not None and out.dtype != kind:
        out = cast(out, kind)
    return out


def _cpu(self):
    """``self.to("cpu")``."""
    return to_device(self, "cpu")


def _cuda(self):
    """``self.to("cuda")``."""
    return to_device(self, "cuda")


def _double(self):
    """``self`` as float64 (recorded, as ``nongate_np.cast``; ``self`` itself where it is
    float64 already, as torch's)."""
    return self if self.dtype == np.float64 else cast(self, np.float64)


def _float(self):
    """``self`` as float32 (recorded, as ``nongate_np.cast``; ``self`` itself where it is
    float32 already, as torch's)."""
    return self if self.dtype == np.float32 else cast(self, np.float32)


def _half(self):
    """``self`` as float16 (torch's ``half()``; recorded, as :meth:`float`)."""
    return self if self.dtype == np.float16 else cast(self, np.float16)


def _short(self):
    """``self`` as int16 (torch's ``short()``; no gradient flows through an integer
    result)."""
    return self if self.dtype == np.int16 else cast(self, np.int16)


def _cfloat(self):
    """``self`` as complex64 (torch's ``cfloat()``; recorded, as :meth:`float`)."""
    return self if self.dtype == np.complex64 else cast(self, np.complex64)


def _cdouble(self):
    """``self`` as complex128 (torch's ``cdouble()``; recorded, as :meth:`float`)."""
    return self if self.dtype == np.complex128 else cast(self, np.complex128)


def _is_floating_point(self) -> bool:
    """Whether self's dtype is a floating one (float16, float32, float64), as torch's."""
    return self.dtype.kind == "f"


def _is_complex(self) -> bool:
    """Whether self's dtype is a complex one (complex64, complex128), as torch's."""
    return self.dtype.kind == "c"


def _long(self):
    """``self`` as int64 (torch's ``long()``; no gradient flows through an integer result;
    ``self`` itself where it is int64 already)."""
    return self if self.dtype == np.int64 else cast(self, np.int64)


def _int(self):
    """``self`` as int32 (torch's ``int()``; no gradient flows through an integer result)."""
    return self if self.dtype == np.int32 else cast(self, np.int32)


def _bool(self):
    """``self`` as bool (torch's ``bool()``: nonzero is True; no gradient)."""
    return self if self.dtype == np.bool_ else cast(self, np.bool_)


def _pos(self):
    """``+self``: the tensor itself."""
    return self


def _clone(self):
    """A copy of ``self`` in the graph (the gradient passes through unchanged), as torch's
    ``clone``."""
    return cast(self, self.dtype)


def _numel(self):
    """The number of elements (torch's ``numel()``; NumPy's ``size`` property)."""
    return self.size


def _flip(self, *dims):
    """``nongate_np.flip``; the dims as one tuple or as separate ints, as torch's."""
    return flip(self, dims[0] if len(dims) == 1 else dims)


def _contiguous(self):
    """``self``, as torch's ``contiguous()`` of a contiguous tensor. Every op here accepts
    any layout (a transposed or expanded array is read through its strides), so no copy is
    needed; a ``view`` that needs a contiguous layout says so, and ``clone()`` copies."""
    return self


def _new(self, shape, value, dtype, device, requires_grad: bool, op: str) -> Tensor:
    """A tensor of ``shape`` filled with ``value``, on self's device (``device`` where
    given), in ``dtype`` (self's when None), with no graph (``requires_grad`` as given)."""
    dt = self.dtype if dtype is None else checked_dtype(dtype, op)
    v = fill_value(value, dt, op)
    xp = xp_of(self._data) if device is None else device_named(device).xp
    out = Tensor._wrap(xp.full(_shape(shape, op), v.item(), dt))
    if requires_grad:
        out.requires_grad = True
    return out


def _new_zeros(self, *size, dtype=None, device=None, requires_grad: bool = False):
    """Zeros of ``size`` (separate ints or one tuple) in self's dtype and on its device, as
    torch's ``new_zeros``; ``dtype`` and ``device`` override them."""
    return _new(self, size, 0, dtype, device, requires_grad, "new_zeros")


def _new_ones(self, *size, dtype=None, device=None, requires_grad: bool = False):
    """Ones, as :meth:`new_zeros`."""
    return _new(self, size, 1, dtype, device, requires_grad, "new_ones")


def _new_empty(self, *size, dtype=None, device=None, requires_grad: bool = False):
    """A tensor of ``size`` as :meth:`new_zeros`, as torch's ``new_empty``: zeros here
    (torch's values are uninitialised; as ``nongate_np.empty``)."""
    return _new(self, size, 0, dtype, device, requires_grad, "new_empty")


def _new_full(self, size, fill_value, *, dtype=None, device=None,
              requires_grad: bool = False):
    """``size`` (a tuple) filled with ``fill_value`` converted to self's dtype (3.7 in an
    int64 tensor is 3, as torch), on self's device, as torch's ``new_full``; ``dtype`` and
    ``device`` override them."""
    return _new(self, (size,), fill_value, dtype, device, requires_grad, "new_full")


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad: bool = False):
    """A copy of ``data`` (numbers, lists, an array, a tensor: its values, no graph) in
    self's dtype and on its device, as torch's ``new_tensor`` (whatever dtype ``data`` has
    of its own); ``dtype`` and ``device`` override them. As ``nongate_np.tensor``'s
    conversion: TypeError for complex values into a real dtype, ValueError for NaN into an
    integer one."""
    dt = self.dtype if dtype is None else checked_dtype(dtype, "new_tensor")
    where = self.device if device is None else device_named(device)
    values = data.detach() if isinstance(data, Tensor) else data
    return tensor(values, dtype=dt, device=where, requires_grad=requires_grad)


def _dim(self):
    """The number of axes (torch's ``dim()``; NumPy's ``ndim`` property)."""
    return self.ndim


# The methods written out above, by name (T and mT are bound as properties).
ADAPTED = {"where": _where, "reshape": _reshape, "view": _view, "permute": _permute,
           "T": _T, "astype": _astype, "to": _to, "cpu": _cpu, "cuda": _cuda, "double": _double,
           "float": _float, "long": _long, "int": _int, "bool": _bool, "__pos__": _pos,
           "clone": _clone, "numel": _numel, "dim": _dim, "flip": _flip,
           "contiguous": _contiguous, "new_zeros": _new_zeros, "new_ones": _new_ones,
           "new_full": _new_full, "new_empty": _new_empty, "new_tensor": _new_tensor,
           "mT": _mT, "type": _type, "view_as": _view_as, "type_as": _type_as,
           "half": _half, "short": _short, "cfloat": _cfloat, "cdouble": _cdouble,
           "is_floating_point": _is_floating_point, "is_complex": _is_complex}


def bind_tensor_methods() -> None:
    """Set the methods of the three tables, and the in-place methods of
    ``ops/inplace.py`` (``add_``, ``copy_``, ...), on ``Tensor`` under the tables' names."""
    for name, op in SAME_AS_OP.items():
        setattr(Tensor, name, op)
    written = {**{name: _reflected(op) for name, op in REFLECTED.items()}, **ADAPTED,
               **IN_PLACE}
    for name, function in written.items():
        if not function.__qualname__.startswith("Tensor."):   # aliases keep the first name
            function.__name__, function.__qualname__ = name, f"Tensor.{name}"
        setattr(Tensor, name, property(function) if name in ("T", "mT") else function)
