"""What ``nongate_np.X`` and ``tensor.X`` say for a name of torch's that is not here.

Python asks the package's module ``__getattr__`` (``nongate_np/__init__.py``) for a name it
lacks; that calls :func:`missing_name_error`, whose AttributeError carries a hint for the
names in :data:`HINTS` (each one of torch's top-level names that a porter types, with what
to write here) and Python's own message for every other name, so ``hasattr`` and tools
see the usual error.

For ``Tensor``, :func:`install_tensor_hints` sets each name of :data:`TENSOR_HINTS` on the
class as a :class:`MissingAttribute`: reading it, on the class or a tensor, raises Python's
AttributeError with the hint, so ``hasattr`` is False and ``getattr(x, name, default)``
gives the default. A descriptor per name, not ``Tensor.__getattr__``: a class with a Python
``__getattr__`` loses CPython 3.11's specialised attribute reads (a slot read such as
``x.grad`` measured 11 ns, 29-53 ns with one); the descriptors cost nothing for the other
attributes.
"""

from __future__ import annotations

import sys

__all__ = ["HINTS", "missing_name_error", "TENSOR_HINTS", "MissingAttribute",
           "install_tensor_hints"]

_NO_GRADIENT = "np.{name}(t.numpy()) computes it on the values (it has no gradient)"

#: torch's name -> what to write in nongate_np (``{name}`` stands for the name)
HINTS: dict[str, str] = {
    # under nn.functional here (torch has them in both places)
    **{name: "use nn.functional.{name} (torch has it in both places)" for name in (
        "cosine_similarity", "pairwise_distance", "kl_div", "cosine_embedding_loss",
        "margin_ranking_loss", "poisson_nll_loss", "triplet_margin_loss")},
    # compositions of ops that are here (autograd records them)
    "mm": "write ng.matmul(a, b)",
    "mv": "write ng.matmul(a, v)",
    "dot": "write (a * b).sum() (or ng.matmul(a, b) for 1-D a, b)",
    "outer": "write a[:, None] * b",
    "nan_to_num": "write ng.where(ng.isnan(x), 0.0, x) (and clamp the infinities)",
    "narrow": "slice: x.narrow(0, start, length) is x[start:start + length]",
    "movedim": "write ng.permute(x, dims) with the dims in their new order",
    "swapaxes": "write ng.transpose(x, dim0, dim1)",
    "tile": "write x.repeat(...) (torch's repeat, which tiles)",
    "std_mean": "write (ng.std(x, dim), ng.mean(x, dim))",
    "var_mean": "write (ng.var(x, dim), ng.mean(x, dim))",
    "take_along_dim": "write ng.gather(x, dim, indices) (indices with x's number of dims)",
    "diff": "write x[1:] - x[:-1] along dim 0 (x[..., 1:] - x[..., :-1] along the last)",
    "kron": "write (a[:, None, :, None] * b[None, :, None, :]).reshape(m * p, n * q) for "
            "a (m, n) and b (p, q)",
    # factories and queries
    "asarray": "use ng.as_tensor",
    "FloatTensor": "write ng.tensor(data, dtype=ng.float32)",
    "DoubleTensor": "write ng.tensor(data, dtype=ng.float64)",
    "LongTensor": "write ng.tensor(data, dtype=ng.long)",
    "is_tensor": "write isinstance(x, ng.Tensor)",
    "numel": "write x.numel()",
    "clone": "write x.clone()",
    "detach": "write x.detach()",
    "inference_mode": "write ng.no_grad() (a context manager or a decorator)",
    "bfloat16": "NumPy has none: use ng.float32 (or ng.float16)",
    # values without a gradient: NumPy's function on the tensor's values
    **{name: _NO_GRADIENT for name in ("bincount", "histogram")},
    "searchsorted": "np.searchsorted(sorted.numpy(), values.numpy()) gives the indices (no "
                    "gradient)",
    "bucketize": "np.searchsorted(boundaries.numpy(), x.numpy()) gives the indices (torch's "
                 "right=False; no gradient)",
}


def missing_name_error(name: str) -> AttributeError:
    """The AttributeError for ``nongate_np.<name>``: Python's message, followed by the hint
    where :data:`HINTS` has one for the name."""
    message = f"module 'nongate_np' has no attribute {name!r}"
    hint = HINTS.get(name)
    if hint is not None:
        message = f"{message}; for torch.{name}, {hint.format(name=name)}"
    return AttributeError(message, name=name, obj=sys.modules.get("nongate_np"))


_IN_PLACE_NOT_HERE = "write x = x.{base}(...) (a new tensor; shapes do not change in place here)"
_NO_STORAGE = ("tensors here hold NumPy arrays: x.numpy() is the array on the CPU (shared, "
               "not copied)")

#: torch's Tensor attribute -> what to write in nongate_np (``{name}`` stands for the name,
#: ``{base}`` for it without its trailing underscore)
TENSOR_HINTS: dict[str, str] = {
    # writes at positions an index names
    "index_put_": "write x.index_copy_(dim, index, source) for whole slices, or assign "
                  "x[indices] = values under ng.no_grad() (not recorded)",
    "put_": "write x.reshape(-1).scatter(0, index.reshape(-1), source.reshape(-1))"
            ".reshape(x.shape) (recorded)",
    **{name: "write ng.where(mask, values, x) with the values laid out as x"
       for name in ("masked_scatter_", "masked_scatter")},
    "take_along_dim": "write x.gather(dim, indices) (indices with x's number of dims)",
    "diff": "write x[1:] - x[:-1] along dim 0 (x[..., 1:] - x[..., :-1] along the last)",
    "unfold": "for the last dim write ng.stack([x[..., i:i + size] for i in range(0, "
              "x.shape[-1] - size + 1, step)], -2) (recorded; a copy, not a view)",
    "masked_select": "index with the mask: x[mask] (recorded; 1-d)",
    "nonzero": "np.argwhere(x.numpy()) gives the indices (no gradient)",
    # memory, storage and layout
    **{name: _NO_STORAGE for name in ("storage", "untyped_storage")},
    "data_ptr": "x.numpy().ctypes.data is the CPU array's address",
    "pin_memory": "there is no pinned memory here: drop the call (a copy to the GPU is "
                  "synchronous)",
    "is_pinned": "nothing is pinned here (a copy to the GPU is synchronous): it is False",
    "share_memory_": "tensors here are NumPy arrays: share one between processes with "
                     "multiprocessing.shared_memory (an ndarray over its buffer), or train "
                     "data-parallel with nongate_np.distributed",
    "record_stream": "there are no CUDA streams here (each op completes before it returns): "
                     "drop the call",
    **{name: "x.dtype.itemsize (x.dtype is a NumPy dtype)"
       for name in ("element_size", "itemsize")},
    "nbytes": "x.numel() * x.dtype.itemsize",
    "stride": "x.numpy().strides is NumPy's, in bytes: divide by x.dtype.itemsize for "
              "torch's",
    "is_contiguous": "x.numpy().flags.c_contiguous (every op here reads any layout, and "
                     "x.contiguous() is x)",
    "to_sparse": "there are no sparse tensors here: x is dense",
    # queries and conversions under other names
    "is_cuda": "write x.device == 'cuda'",
    "get_device": "x.device.index is 0 on the GPU and None on the CPU (torch's -1)",
    "nelement": "write x.numel()",
    "ndimension": "write x.dim()",
    "bfloat16": "NumPy has none: use x.float() (or x.half())",
    "byte": "write x.to(ng.uint8)",
    "char": "write x.to(ng.int8)",
    "multiply": "write x.mul(y)",
    "subtract": "write x.sub(y)",
    **{name: "write x.div(y)" for name in ("divide", "true_divide")},
    "negative": "write x.neg()",
    # shapes
    "tile": "write x.repeat(...) (torch's repeat, which tiles)",
    "narrow": "slice: x[start:start + length] along dim 0 (x[:, start:start + length] "
              "along dim 1, ...)",
    **{name: "write x.permute(dims) with the dims in their new order"
       for name in ("movedim", "moveaxis")},
    **{name: "write x.transpose(dim0, dim1)" for name in ("swapaxes", "swapdims")},
    "reshape_as": "write x.reshape(other.shape)",
    "unflatten": "write x.reshape(...) with the dim's sizes in its place",
    **{name: _IN_PLACE_NOT_HERE for name in ("unsqueeze_", "squeeze_", "t_", "transpose_")},
    "resize_": "write x = x.reshape(...) (the same number of elements), or make a new tensor",
    "detach_": "write x = x.detach()",
    # products
    "mm": "write x.matmul(y)",
    "mv": "write x.matmul(v)",
    "dot": "write (x * y).sum()",
    "outer": "write x[:, None] * y",
    # values
    "nan_to_num": "write ng.where(ng.isnan(x), 0.0, x) (and clamp the infinities)",
    "uniform_": "write nn.init.uniform_(x, a, b)",
    "normal_": "write nn.init.normal_(x, mean, std)",
    "bernoulli_": "write x.copy_(ng.rand_like(x) < p) under ng.no_grad()",
    **{name: "NumPy on x.numpy() (in place, not recorded: no gradient)"
       for name in ("apply_", "map_")},
}


def _hint_message(owner: str, name: str, hint: str | None) -> str:
    message = f"{owner} has no attribute {name!r}"
    if hint is not None:
        message = (f"{message}; for torch's Tensor.{name}, "
                   f"{hint.format(name=name, base=name.rstrip('_'))}")
    return message


class MissingAttribute:
    """A name of torch's Tensor that is not here, on ``Tensor``: reading it (on the class or
    an instance) raises Python's AttributeError, with the hint of :data:`TENSOR_HINTS`, so
    ``hasattr`` is False. Setting it on a tensor raises AttributeError as for any name a
    tensor lacks (``Tensor`` has ``__slots__``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, owner: type | None = None):
        owner_name = f"'{type(obj).__name__}' object" if obj is not None else \
            f"type object '{getattr(owner, '__name__', '?')}'"
        raise AttributeError(_hint_message(owner_name, self.name,
                                           TENSOR_HINTS.get(self.name)),
                             name=self.name, obj=obj if obj is not None else owner)


def install_tensor_hints(cls: type) -> None:
    """Set a :class:`MissingAttribute` on ``cls`` for each name of :data:`TENSOR_HINTS` it
    does not have (a method bound later under the name replaces it)."""
    for name in TENSOR_HINTS:
        if not any(name in vars(k) for k in cls.__mro__):
            setattr(cls, name, MissingAttribute(name))
