"""Tensor: an ndarray plus what reverse-mode differentiation needs. No math here.

The operators and math methods (``+``, ``@``, ``sum``, ``reshape``, ``.T``, ...) are the ops
of ``nongate_np.ops``, bound onto this class from one table in ``ops/methods.py`` when the ops
are imported; this module imports nothing above it.
"""

from __future__ import annotations

import copy
import functools
import math
import operator
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .casting import check_cast
from .defaults import from_python
from .device import (
    CPU,
    Device,
    copy_into,
    device_of,
    from_cuda_array,
    memo_device_copies,
    move,
    move_unpickled,
)
from .torch_names import install_tensor_hints

__all__ = ["Tensor", "tensor", "as_array", "InPlaceCastError"]


class InPlaceCastError(TypeError):
    """An in-place op whose result's dtype does not cast ``same_kind`` to the tensor's (a
    complex value into a real tensor, a float into an integer one): the tensor keeps its
    dtype, so the op is refused (``Tensor._in_place``)."""


_DIFFERENTIABLE_KINDS = "fc"      # floating and complex dtypes can carry gradients


@functools.cache
def _autograd() -> Any:
    """The autograd module, imported at the first backward: it imports this one (for
    Tensor). Cached, since an import statement at every backward costs about a µs."""
    from . import autograd
    return autograd


def as_array(data, dtype=None, *, what: str = "data", python_default: bool = False
             ) -> np.ndarray:
    """Convert ``data`` to a numeric ndarray, refusing strings and Python objects. A GPU
    array (a numba.cuda device array) is returned as it is, cast to ``dtype`` if given.
    With ``python_default`` and no ``dtype``, Python floats and complex numbers, and lists
    and tuples (their items read as Python numbers), become the default dtype
    (``nongate_np.get_default_dtype()``); ndarrays and NumPy scalars keep theirs.

    A value beyond a float ``dtype``'s range becomes ±inf, as in PyTorch (no warning).

    Raises
    ------
    TypeError
        Strings, Python objects, an unknown ``dtype``, or complex values for a real dtype.
    ValueError
        A NaN, an infinity or a value out of range for an integer ``dtype``; nested lists
        whose items differ in shape (sequences of different lengths), naming two of them.
    """
    if isinstance(data, Tensor):
        data = data._data
    if type(data) is np.ndarray and dtype is None and data.dtype.kind in "biufc":
        return data                 # the common case, first: this runs at every call
    if type(data) is not np.ndarray and getattr(data, "requires_grad", False) is True \
            and hasattr(data, "detach"):
        # a torch tensor in a graph (a model's parameter) refuses its NumPy and CUDA array
        # views: its values, as torch.tensor(t) and load_state_dict take them
        data = data.detach()
    if type(data) is not np.ndarray and hasattr(data, "__cuda_array_interface__") and \
            not hasattr(data, "copy_to_host"):      # PyTorch or CuPy GPU data: no copy
        data = from_cuda_array(data)
    if type(data) is not np.ndarray and device_of(data) is not CPU:
        if data.dtype.kind not in "biufc":
            raise TypeError(f"{what}: expected a numeric array, got dtype {data.dtype}")
        return data if dtype is None else device_of(data).xp.astype(data, dtype)
    if isinstance(data, (str, bytes)):
        raise TypeError(f"{what}: expected numbers or an array of numbers, got "
                        f"{type(data).__name__} {data!r:.40}")
    if isinstance(data, tuple) and hasattr(data, "batch_sizes"):
        # NOTE: by its fields: nn.utils.rnn sits above this layer; a NamedTuple would
        # otherwise be read as a ragged list of its fields
        raise TypeError(f"{what}: got a PackedSequence; only nn.LSTM and nn.GRU take one. "
                        f"Use its .data (N, *) for a per-step op, as torch does, or "
                        f"nn.utils.rnn.pad_packed_sequence(...) for the padded batch")
    try:
        target = None if dtype is None else np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{what}: unknown dtype {dtype!r}; expected a NumPy dtype such as "
                        f"np.float32 or 'int64'") from None
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError) as err:
        # NOTE: imported here, on an error only: the data package is not needed otherwise
        from .data.padding import ragged_error
        ragged = ragged_error(data, what)
        if ragged is not None:
            raise ragged from None
        raise TypeError(f"{what}: cannot convert {type(data).__name__} to a numeric array "
                        f"({err})") from None
    if arr.dtype.kind not in "biufc":
        if isinstance(data, int):           # NumPy keeps an int beyond 64 bits as an object
            if target is not None and target.kind in "fc":
                return _big_int_as_float(data, target, what)
            raise ValueError(f"{what}: the integer {data} does not fit in 64 bits")
        raise TypeError(f"{what}: expected a numeric array (bool, int, float or complex), got "
                        f"dtype {arr.dtype}; strings and Python objects are not tensors")
    if target is None:
        if python_default and isinstance(data, (float, complex, list, tuple)) and \
                not isinstance(data, np.generic):
            return from_python(arr)
        return arr
    if arr.dtype == target:
        return arr
    check_cast(arr, target, what)
    # NOTE: overflow to ±inf (float64 → float32) is the IEEE result torch gives, not an error
    with np.errstate(over="ignore"):
        return arr.astype(target, copy=False)


def _big_int_as_float(value: int, target: np.dtype, what: str) -> np.ndarray:
    """An int beyond 64 bits as a float ``target`` (as torch.tensor(2**70, dtype=float64))."""
    try:
        f = float(value)
    except OverflowError:
        raise ValueError(f"{what}: the integer {value!r:.40} is beyond every float "
                         f"dtype") from None
    with np.errstate(over="ignore"):    # beyond float32: inf, as above
        return np.asarray(f).astype(target)


class RemovableHandle:
    """What a hook registration returns: ``remove()`` unregisters the hook (again: nothing)."""

    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        for k, h in enumerate(self._hooks):
            if h is self._hook:                 # this registration, not an equal hook
                del self._hooks[k]
                return



class Size(int):
    """A tensor's ``size``: its number of elements, as NumPy's ``size`` (an int), and also
    torch's ``size`` method: ``t.size()`` is the shape (a tuple) and ``t.size(dim)`` the
    length of axis ``dim`` (negative counts from the end), so code written for either reads
    it. Raises IndexError for an axis out of range, TypeError for a ``dim`` that is not an
    int, as torch."""

    _shape: tuple

    def __new__(cls, shape: tuple) -> "Size":
        size = super().__new__(cls, math.prod(shape))
        size._shape = tuple(shape)
        return size

    def __reduce__(self):
        return int, (int(self),)            # pickled and copied as the count it is

    def __call__(self, dim: int | None = None):
        shape = self._shape
        if dim is None:
            return shape
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"size(): dim must be an int, got {type(dim).__name__}")
        if not shape:
            raise IndexError(f"size(): dimension specified as {dim} but the tensor has no "
                             f"dimensions (a 0-d tensor)")
        if not -len(shape) <= dim < len(shape):
            raise IndexError(f"size(): dimension out of range (expected to be in range of "
                             f"[{-len(shape)}, {len(shape) - 1}], but got {dim}) for a "
                             f"tensor of shape {shape}")
        return shape[dim]

class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    Parameters
    ----------
    data : array_like
        Numbers, nested lists or an ndarray. Without a ``dtype``, Python floats (and lists
        of them) become ``nongate_np.get_default_dtype()`` (float64, NumPy's, unless
        ``set_default_dtype`` changed it), ints int64 and bools bool, as NumPy's; ndarrays
        keep their dtype and are used without a copy.
    requires_grad : bool
        Record ops on this tensor so ``backward`` can fill ``.grad``. Only floating and
        complex dtypes may require gradients.
    dtype : numpy dtype, optional
    device : "cpu" or "cuda", optional
        Where the array lives (default: where ``data`` is: the CPU for host data, the GPU
        for a numba.cuda device array). Raises DeviceError if "cuda" is not usable here.
    """

    __slots__ = ("_data", "grad", "_requires_grad", "_node", "_index", "_retains_grad",
                 "_hooks", "_grad_hooks", "_rebased", "__weakref__")

    def __init__(self, data, requires_grad: bool = False, dtype=None, device=None):
        self._data = as_array(data, dtype, what="Tensor", python_default=True)
        if device is not None:
            self._data = move(self._data, device)
        self.grad: np.ndarray | None = None
        self._node: Any = None     # the autograd Node that produced this tensor, if any
        self._index = 0            # which output of that node
        self._retains_grad = False
        self._hooks: list | None = None     # post-accumulate-grad hooks, see register_...
        self._grad_hooks: list | None = None    # a leaf's register_hook hooks
        # the (epoch, node, index) this tensor had before each recorded in-place op, for the
        # nodes recorded before it (autograd.rebase); None until the first
        self._rebased: list | None = None
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _wrap(cls, array: np.ndarray, node=None, index: int = 0) -> "Tensor":
        """Wrap an op's output without conversion or checks (internal)."""
        t = cls.__new__(cls)
        t._data, t.grad, t._node, t._index = array, None, node, index
        t._retains_grad = False
        t._hooks = t._grad_hooks = None
        t._rebased = None
        t._requires_grad = node is not None
        return t

    # -- data -------------------------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The underlying ndarray (writable; changing it in place is not recorded)."""
        return self._data

    @data.setter
    def data(self, value) -> None:
        self._data = as_array(value, what="Tensor.data")

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if flag and self._data.dtype.kind not in _DIFFERENTIABLE_KINDS:
            raise TypeError(f"only floating point and complex tensors can require gradients, "
                            f"got dtype {self._data.dtype}")
        if not flag and self._node is not None:
            raise RuntimeError("requires_grad can only be switched off on a leaf tensor; "
                               "use .detach() to cut a tensor from the graph")
        self._requires_grad = bool(flag)

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        self.requires_grad = flag
        return self

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self):
        """The recorded node that produced this tensor (``None`` for leaves)."""
        return self._node

    shape = property(lambda self: self._data.shape)
    dtype = property(lambda self: self._data.dtype)
    ndim = property(lambda self: self._data.ndim)
    #: the element count (NumPy's ``size``), callable as torch's ``size()`` / ``size(dim)``
    size = property(lambda self: Size(self._data.shape))

    @property
    def __cuda_array_interface__(self) -> dict:
        """The GPU array's interface (a tensor on the GPU only), so PyTorch
        (``torch.as_tensor(t, device="cuda")``) and CuPy (``cupy.asarray(t)``) read it
        without a copy."""
        if self.device is CPU:
            raise AttributeError("a tensor on the CPU has no __cuda_array_interface__")
        on_gpu: Any = self._data          # a numba.cuda device array
        return on_gpu.__cuda_array_interface__

    @property
    def device(self) -> Device:
        """Where the array lives: ``device("cpu")`` or ``device("cuda")``."""
        return device_of(self._data)

    def numpy(self) -> np.ndarray:
        """The values as a host ndarray: on the CPU the underlying array (shared, not
        copied, as ``torch.Tensor.numpy``); on the GPU a copy."""
        if self.device is CPU:
            return self._data
        on_gpu: Any = self._data          # a numba.cuda device array
        return on_gpu.copy_to_host()

    def item(self):
        if self._data.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a Python scalar, "
                             f"this one has shape {self.shape}")
        return self.numpy().item()

    def tolist(self):
        return self.numpy().tolist()

    def __array__(self, dtype=None, copy=None):
        if self.device is not CPU:
            raise TypeError(f"a tensor on {self.device} does not convert to a NumPy array "
                            f"implicitly; use .numpy() (a copy) or .to('cpu')")
        if copy:
            return np.array(self._data, dtype=dtype, copy=True)
        return self._data if dtype is None else self._data.astype(dtype, copy=False)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """The DLPack capsule of a tensor on the CPU (NumPy's ``ndarray.__dlpack__``), so
        ``torch.as_tensor(t)`` shares its memory and ``torch.tensor(t)`` copies it, as for
        an ndarray (torch 2.x reads ``__dlpack__`` before treating an object as a nested
        sequence). TypeError on the GPU (torch reads ``__cuda_array_interface__`` there).

        NOTE: a read-only array (a broadcast view) or one with negative strides is exported
        as a copy: DLPack cannot say read-only, and torch aborts on negative strides."""
        if self.device is not CPU:
            raise TypeError(f"a tensor on {self.device} has no DLPack export on the host; "
                            f"use .numpy() (a copy) or __cuda_array_interface__")
        data = self._data
        if not data.flags.writeable or any(s < 0 for s in data.strides):
            data = np.array(data, copy=True)
        kwargs = {} if max_version is None else {"max_version": max_version}
        if dl_device is not None:
            kwargs["dl_device"] = dl_device
        if copy is not None:
            kwargs["copy"] = copy
        return data.__dlpack__(stream=stream, **kwargs)

    def __dlpack_device__(self):
        """NumPy's (CPU) device for DLPack; see :meth:`__dlpack__`."""
        if self.device is not CPU:
            raise TypeError(f"a tensor on {self.device} has no DLPack export on the host")
        return self._data.__dlpack_device__()

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy ufuncs on a Tensor: ``ndarray (op) Tensor`` goes to the Tensor's reflected
        operator (``a + t`` is ``t.__radd__(a)``, recorded); every other ufunc raises
        TypeError naming the nongate_np op to use, or ``t.numpy()`` for the raw values."""
        reflected = _REFLECTED.get(ufunc.__name__)
        if (reflected and method == "__call__" and not kwargs and len(inputs) == 2
                and not isinstance(inputs[0], Tensor) and inputs[1] is self):
            return getattr(self, reflected)(inputs[0])
        raise TypeError(_ufunc_message(ufunc, method, kwargs))

    def __array_function__(self, func, types, args, kwargs):
        """NumPy's other functions on a Tensor (``np.sum``, ``np.dot``, ``np.concatenate``,
        ...), as its ufuncs: TypeError naming the nongate_np op to use, or ``t.numpy()`` for
        the raw values. Their result would be an ndarray that autograd does not record, so a
        gradient through it would be lost without a word (``np.dot(t, t)`` gave a float),
        and NumPy's reductions call the Tensor's own methods with arguments they do not
        take (``np.sum(t)`` failed on ``out=``). Those whose result holds no value a
        gradient could flow through (shape queries, comparisons to a bool, indices:
        ``_VALUE_FREE``) take the Tensor's array."""
        name = func.__name__
        if name in _SHAPE_QUERIES:      # NumPy's own code: reads .shape, also on the GPU
            return func._implementation(*args, **kwargs)
        if name in _VALUE_FREE:
            return func(*_host_arrays(args), **_host_arrays(kwargs))
        raise TypeError(_function_message(func))

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self):
        for k in range(len(self)):
            yield self[k]

    def __bool__(self) -> bool:
        """The truth of a one-element tensor; RuntimeError for any other size, as torch's
        (``if (x > 0).any():``, not ``if x > 0:``)."""
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of a Tensor with {self._data.size} elements "
                               f"(shape {tuple(self._data.shape)}) is ambiguous: use "
                               f".any() or .all()")
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __format__(self, spec: str) -> str:
        """A 0-d tensor formats as its Python number, as torch's (``f"{loss:.3f}"``); any
        other as ``object.__format__`` (``str(t)`` for an empty spec, else TypeError)."""
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), prefix="tensor(", separator=", ", precision=4)
        extra = "" if self.device is CPU else f", device='{self.device}'"
        if self._node is not None:
            extra += f", grad_fn={self._node.name}"
        elif self._requires_grad:
            extra += ", requires_grad=True"
        if self._data.dtype != np.float64:
            extra = f", dtype={self._data.dtype}" + extra
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__

    # -- autograd ---------------------------------------------------------------------------
    def detach(self) -> "Tensor":
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor._wrap(self._data)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor during backward (leaves always keep it)."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        self._retains_grad = True

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate the gradient of this tensor into ``.grad`` of every leaf it depends on.

        ``grad`` is required unless the tensor holds one element. The graph is freed
        afterwards unless ``retain_graph=True``.
        """
        _autograd().backward(self, grad, retain_graph=retain_graph)

    def register_post_accumulate_grad_hook(self, hook: Callable[["Tensor"], None]
                                           ) -> "RemovableHandle":
        """Call ``hook(self)`` once in each backward that reaches this leaf, after its ``.grad``
        holds the gradient of the whole backward (as PyTorch's method of the same name);
        returns a handle whose ``remove()`` undoes it.

        Raises RuntimeError on a tensor that is not a leaf requiring grad."""
        if self._node is not None or not self._requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: only a leaf tensor that "
                               "requires grad accumulates a gradient")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return RemovableHandle(self._hooks, hook)

    def register_hook(self, hook: Callable[["Tensor"], Any]) -> "RemovableHandle":
        """Call ``hook(grad)`` each time a backward computes the gradient with respect to
        this tensor, as PyTorch's ``Tensor.register_hook``.

        ``grad`` is a Tensor (no graph) holding the whole gradient of this backward: the sum
        over every use of the tensor. On a leaf the hooks run before it is added to
        ``.grad`` (and before the post-accumulate-grad hooks), once the backward has walked
        the graph; on a non-leaf, before it flows on to the op that made the tensor (a
        retained ``.grad`` gets what the hooks returned). Hooks run in the order registered;
        each gets what the one before returned. A hook registered before an in-place op on
        the tensor sees the gradient of the value it had then, as in PyTorch.

        Parameters
        ----------
        hook : callable, ``hook(grad: Tensor) -> Tensor | ndarray | None``
            ``None`` leaves the gradient as it is; a Tensor or an array of the gradient's
            shape, dtype and device replaces it.

        Returns
        -------
        RemovableHandle
            ``handle.remove()`` unregisters the hook.

        Raises
        ------
        RuntimeError
            Here, on a tensor that does not require grad (PyTorch's message); during the
            backward, when a hook returns another shape or dtype (the message names both).
        TypeError, DeviceError
            During the backward, when a hook returns something that is not an array or a
            Tensor, or one on another device.
        """
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require "
                               "gradient")
        hooks: list
        if self._node is None:
            if self._grad_hooks is None:
                self._grad_hooks = []
            hooks = self._grad_hooks
        else:
            # on the node's output, not the tensor: an in-place op later moves the tensor to
            # a new node, and PyTorch's hook stays with the value it was registered on
            node = self._node
            if node.hooks is None:
                node.hooks = {}
            hooks = node.hooks.setdefault(self._index, [])
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def _slots(self) -> dict:
        return {name: getattr(self, name) for name in Tensor.__slots__
                if name != "__weakref__" and hasattr(self, name)}

    def __copy__(self) -> "Tensor":
        """A shallow copy: a new tensor sharing every field, its arrays too (on the GPU
        as well: pickling's host copies are not taken), but not the hooks: a hook
        registered on the copy would fire on the original (PyTorch's copy has none)."""
        new = type(self).__new__(type(self))
        new.__setstate__((None, {**self._slots(), "_hooks": None, "_grad_hooks": None}))
        return new

    def __getstate__(self) -> tuple[None, dict]:
        """Pickling: every slot set but the hooks, ``register_hook``'s and the
        post-accumulate-grad ones (left behind, as PyTorch's: a lambda would make the tensor,
        and a model holding it, unpicklable). A tensor on the GPU pickles its data and
        gradient as host copies and the device they return to, as PyTorch's CUDA tensors (a
        numba.cuda device array does not pickle: the simulator's recursed without end, a
        GPU's holds a pointer)."""
        slots = self._slots()
        slots.pop("_grad_hooks", None)
        slots["_hooks"] = None
        if device_of(self._data) is not CPU:
            slots.update(_data=move(self._data, CPU), _device=str(device_of(self._data)),
                         grad=None if self.grad is None else move(self.grad, CPU))
        return None, slots

    def __setstate__(self, state) -> None:
        """Unpickling: every slot pickled, and those a tensor pickled by an earlier version
        lacks (``_rebased``, ``_grad_hooks``) at their defaults; the data and gradient of a
        tensor pickled on the GPU go back to it (DeviceError, naming ``.cpu()``, where no GPU
        is usable)."""
        self._rebased = self._grad_hooks = None
        _, slots = state if isinstance(state, tuple) else (state, None)
        slots = dict(slots or {})
        where = slots.pop("_device", None)
        for name, value in slots.items():
            setattr(self, name, value)
        if where is not None:
            self._data = move_unpickled(self._data, where, "a tensor")
            if self.grad is not None:
                self.grad = move(self.grad, where)

    def __deepcopy__(self, memo: dict) -> "Tensor":
        """A deep copy of every field but the hooks: they belong to whoever registered them
        on this tensor (a DataParallel reduces this tensor's gradient, not a copy's), and
        PyTorch's deep copy leaves them behind too. A tensor on the GPU is copied there (a
        numba.cuda device array has no deep copy of its own: the simulator's gave its host
        array, silently moving the copy to the CPU)."""
        memo_device_copies((self._data, self.grad), memo)
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for name in Tensor.__slots__:
            if name != "__weakref__":
                value = None if name in ("_hooks", "_grad_hooks") else getattr(self, name)
                setattr(new, name, copy.deepcopy(value, memo))
        return new

    def _accumulate_grad(self, g: np.ndarray) -> None:
        if type(self._data) is not np.ndarray and self.device is not CPU:
            xp = self.device.xp
            self.grad = xp.copy(g) if self.grad is None else xp.add(self.grad, g)
        elif self.grad is None:
            self.grad = np.array(g, dtype=self._data.dtype, copy=True)
        else:
            self.grad += g

    def zero_grad(self) -> None:
        self.grad = None

    # -- operators and math methods --------------------------------------------------------
    # Bound by nongate_np.ops.methods; declared here for type checkers.
    __add__: Callable[..., Tensor]
    __radd__: Callable[..., Tensor]
    __sub__: Callable[..., Tensor]
    __rsub__: Callable[..., Tensor]
    __mul__: Callable[..., Tensor]
    __rmul__: Callable[..., Tensor]
    __truediv__: Callable[..., Tensor]
    __rtruediv__: Callable[..., Tensor]
    __pow__: Callable[..., Tensor]
    __rpow__: Callable[..., Tensor]
    __matmul__: Callable[..., Tensor]
    __rmatmul__: Callable[..., Tensor]
    __neg__: Callable[..., Tensor]
    __pos__: Callable[..., Tensor]
    __getitem__: Callable[..., Tensor]
    T: Tensor

    if TYPE_CHECKING:     # the named methods (sum, reshape, ...) are Any to a type checker
        def __getattr__(self, name: str) -> Any: ...

    # -- in-place arithmetic ----------------------------------------------------------------
    # The named in-place methods (add_, zero_, copy_, ...) are bound by ops/methods.py from
    # ops/inplace.py; they and these operators all run _in_place.
    # NOTE: the ignores: mypy sees __add__ as the Callable attribute declared above
    def __iadd__(self, other) -> Tensor:  # type: ignore[misc]
        return self._in_place("+=", operator.add, other, instead="x = x + y")

    def __isub__(self, other) -> Tensor:  # type: ignore[misc]
        return self._in_place("-=", operator.sub, other, instead="x = x - y")

    def __imul__(self, other) -> Tensor:  # type: ignore[misc]
        return self._in_place("*=", operator.mul, other, instead="x = x * y")

    def __itruediv__(self, other) -> Tensor:  # type: ignore[misc]
        return self._in_place("/=", operator.truediv, other, instead="x = x / y")

    def _in_place(self, name: str, compute: Callable[..., Tensor], *args,
                  instead: str | None = None) -> "Tensor":
        """``x op= y`` and torch's ``x.op_(y)``: x's array takes ``compute(x, *args)`` (ops,
        recorded as any) in place, as PyTorch. x's dtype is kept (the result is cast
        ``same_kind``) and its shape (the arguments broadcast to it, never the reverse),
        so every reference to x and every view of its array sees the result, and a
        backward through a node that saved the old values raises instead of computing a
        wrong gradient (``autograd.mark_changed``, PyTorch's version counter). Returns x.

        Where the result is recorded (gradients on, x or a Tensor argument requiring
        grad), ``compute`` runs on a snapshot of x's old value (an argument that is x
        too) and x takes the result's place in the graph (not an integer result's: it has
        no gradient); the nodes recorded before route their gradient to the value they read
        (``autograd.rebase``; docs/math.md E23).
        ``name`` is the operator or method the errors name; ``instead`` the out-of-place
        code they suggest.

        Raises RuntimeError on a leaf that requires grad while gradients are on (PyTorch's
        rule: wrap a manual update in ``with no_grad():``), and for a recorded op on a view
        of another tensor's array (its graph would miss the change: write ``instead``);
        ValueError where the result's shape is not x's; TypeError where its dtype cannot
        be cast to x's; and what ``compute`` raises."""
        autograd = _autograd()
        grad_on = autograd.is_grad_enabled()
        if grad_on and self._requires_grad and self._node is None:
            raise RuntimeError(f"{name} on a leaf tensor that requires grad would change "
                               f"it outside the graph; update it inside `with "
                               f"nongate_np.no_grad():` (as an optimizer does)"
                               + (f", or build a new tensor ({instead})" if instead else ""))
        recorded = grad_on and (self._requires_grad or any(
            isinstance(a, Tensor) and a._requires_grad for a in args))
        source = self
        if recorded:
            if autograd.views_an_input(self):
                raise RuntimeError(f"{name} on a view of another tensor's array (a slice, "
                                   f"a transpose, a reshape) inside the graph: the other "
                                   f"tensor's graph would miss the change; "
                                   + (f"write {instead}, or " if instead else "")
                                   + "clone() first")
            # the op reads a snapshot: x's array is overwritten below, and the snapshot is
            # what the op's node saves and routes to
            source = Tensor._wrap(self.device.xp.copy(self._data), node=self._node,
                                  index=self._index)
            source._requires_grad = self._requires_grad
            args = tuple(source if a is self else a for a in args)
        result = compute(source, *args)
        data = result._data
        if data.shape != self._data.shape:
            raise ValueError(f"{name}: the result has shape {data.shape}, the tensor "
                             f"{self._data.shape}; an in-place operation cannot broadcast "
                             f"the tensor it changes")
        if not np.can_cast(data.dtype, self._data.dtype, "same_kind"):
            raise InPlaceCastError(f"{name}: the result's dtype {data.dtype} cannot be cast to "
                                   f"the tensor's {self._data.dtype} in place")
        if recorded and data.dtype != self._data.dtype:
            result = result.astype(self._data.dtype)
            data = result._data
        copy_into(self._data, data)
        autograd.mark_changed(self._data)
        if recorded and result._node is not None:    # an integer result has no gradient
            autograd.rebase(self, result)
        return self

    def __setitem__(self, index, value):
        """``x[index] = value`` where nothing is recorded (under ``no_grad``, or when
        neither side requires grad): written into x's array in place (``same_kind`` cast),
        as ``x[0] -= 1`` ends. With gradients on and either side requiring grad it is
        refused (TypeError): build the new tensor with ``where``, ``concat`` or ``stack``."""
        autograd = _autograd()
        if autograd.is_grad_enabled() and (
                self._requires_grad or (isinstance(value, Tensor) and value._requires_grad)):
            raise TypeError("Tensor item assignment is not recorded in the graph; build the new "
                            "tensor with where(), concat() or stack(), or assign under "
                            "nongate_np.no_grad() (as x[0] -= 1 does on a parameter)")
        if type(self._data) is not np.ndarray:
            raise TypeError("Tensor item assignment on the GPU is not supported; build the new "
                            "tensor with where(), concat() or stack()")
        given = value._data if isinstance(value, Tensor) else value
        index = index._data if isinstance(index, Tensor) else index
        try:
            with np.errstate(all="ignore"):     # NumPy's assignment writes in place
                self._data[index] = np.asarray(given).astype(self._data.dtype,
                                                             casting="same_kind", copy=False)
        except (TypeError, ValueError, IndexError) as err:
            raise type(err)(f"Tensor item assignment: {err}") from None
        autograd.mark_changed(self._data)

    # Comparisons give plain boolean tensors: they have no gradient.
    def _compare(self, other, op: str):
        other = other._data if isinstance(other, Tensor) else other
        if not hasattr(other, "dtype"):
            other = np.asarray(other)
            if other.dtype.kind not in "biufc":
                return NotImplemented       # Python's own result: == False, < TypeError
        if op not in ("equal", "not_equal") and "c" in (self._data.dtype.kind,
                                                        other.dtype.kind):
            raise TypeError(f"{op}: complex numbers have no order (as in PyTorch); compare "
                            f".real or abs() instead")
        try:
            np.broadcast_shapes(self._data.shape, other.shape)
        except ValueError:
            raise ValueError(f"{op}: shapes {self._data.shape} and {other.shape} cannot be "
                             "broadcast together (aligned from the right, each dimension "
                             "must be equal or 1)") from None
        xp = self.device.xp
        if isinstance(other, np.ndarray) and type(self._data) is not np.ndarray:
            other = xp.asarray(other)     # a number or host array joins a GPU tensor there
        # NOTE: NaN compares unequal and unordered, IEEE's answer: no warning (complex ==)
        with np.errstate(invalid="ignore"):
            return Tensor._wrap(getattr(xp, op)(self._data, other))

    def __lt__(self, other): return self._compare(other, "less")
    def __le__(self, other): return self._compare(other, "less_equal")
    def __gt__(self, other): return self._compare(other, "greater")
    def __ge__(self, other): return self._compare(other, "greater_equal")
    def __eq__(self, other): return self._compare(other, "equal")
    def __ne__(self, other): return self._compare(other, "not_equal")


# torch's Tensor names that are not here: reading one raises AttributeError with a hint
install_tensor_hints(Tensor)


# The ufuncs behind ndarray's binary operators, and the Tensor method that computes
# ``ndarray (op) Tensor``: the reflected operator, or the mirrored comparison.
_REFLECTED = {"add": "__radd__", "subtract": "__rsub__", "multiply": "__rmul__",
              "divide": "__rtruediv__", "power": "__rpow__", "matmul": "__rmatmul__",
              "less": "__gt__", "less_equal": "__ge__", "greater": "__lt__",
              "greater_equal": "__le__", "equal": "__eq__", "not_equal": "__ne__",
              "bitwise_and": "__rand__", "bitwise_or": "__ror__", "bitwise_xor": "__rxor__"}
#: NumPy's name -> nongate_np op's name, where they differ
_OP_NAMES = {"subtract": "sub", "multiply": "mul", "divide": "div", "negative": "neg",
             "power": "pow", "absolute": "abs", "dot": "matmul", "concatenate": "concat",
             "transpose": "permute", "rint": "round"}
#: The names of nongate_np's ops: ``nongate_np.ops``, the layer above, registers them when it
#: loads (:func:`register_op_names`)
_OPS: frozenset[str] = frozenset()


def register_op_names(names) -> None:
    """Tell the messages of NumPy's functions on a Tensor which ``ng.NAME`` ops exist."""
    global _OPS
    _OPS = frozenset(names)


def _op_for(numpy_name: str) -> str | None:
    """The nongate_np op that does what NumPy's function or ufunc of that name does, if any."""
    op = _OP_NAMES.get(numpy_name, numpy_name)
    return op if op in _OPS else None


def _ufunc_message(ufunc, method: str, kwargs: dict) -> str:
    name = ufunc.__name__
    call = f"np.{name}" + ("" if method == "__call__" else f".{method}")
    if "out" in kwargs:
        return (f"{call} cannot write into an ndarray from a nongate_np Tensor (out=, or an "
                "in-place operator such as a += t): write a = a + t, which gives a Tensor, or "
                "use t.numpy() for the raw values")
    op = _op_for(name) if method == "__call__" else None
    args = "t" if ufunc.nin == 1 else ", ".join("ab"[:ufunc.nin])
    recorded = f"ng.{op}({args}), which autograd records, or " if op else ""
    raw = f"{call}(t.numpy())" if ufunc.nin == 1 else f"{call} on each Tensor's t.numpy()"
    return (f"{call} does not take a nongate_np Tensor: use {recorded}{raw} for the raw "
            "values (not recorded for autograd)")


#: NumPy functions that read a Tensor's shape (``.shape``, ``.ndim``, ``.size``), on any
#: device
_SHAPE_QUERIES = frozenset({"shape", "ndim", "size"})
#: NumPy functions a host Tensor may go to as its array: their results hold no value a
#: gradient could flow through (bools, indices, dtypes)
_VALUE_FREE = frozenset({
    "iscomplexobj", "isrealobj", "result_type", "may_share_memory", "shares_memory",
    "allclose", "isclose", "array_equal", "array_equiv", "any", "all", "argmax", "argmin",
    "argsort", "argwhere", "nonzero", "flatnonzero", "count_nonzero", "searchsorted", "isin"})


def _host_arrays(value):
    """``value`` with each Tensor in it (in lists, tuples and dicts too) as its host array."""
    if isinstance(value, Tensor):
        return np.asarray(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_host_arrays(v) for v in value)
    if isinstance(value, dict):
        return {k: _host_arrays(v) for k, v in value.items()}
    return value


def _function_message(func) -> str:
    name, module = func.__name__, func.__module__ or "numpy"
    call = ("np" + module[len("numpy"):] if module.startswith("numpy") else module) + "." + name
    op = _op_for(name)
    ours = f"ng.{op}, which autograd records, or " if op else ""
    return (f"{call} does not take a nongate_np Tensor: use {ours}{call} on t.numpy() for "
            f"the raw values (not recorded for autograd)")


def tensor(data, requires_grad: bool = False, dtype=None, device=None) -> Tensor:
    """Create a Tensor (a copy of ``data``), as ``torch.tensor``; ``device`` "cpu" or
    "cuda" (default: the CPU for host data, the GPU for a device array). Without a
    ``dtype``, Python floats and lists of them become ``nongate_np.get_default_dtype()``
    (float64 until ``set_default_dtype``); an ndarray or NumPy scalar keeps its dtype."""
    array = as_array(data, dtype, what="tensor", python_default=True)
    if device_of(array) is CPU:
        array = np.array(array, copy=True)
    elif device is None or device_of(array) == device:
        array = device_of(array).xp.copy(array)
    return Tensor(array, requires_grad=requires_grad, device=device)

