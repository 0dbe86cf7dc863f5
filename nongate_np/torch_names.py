"""What ``nongate_np.X`` says for a name of torch's that is not here.

Python asks the package's module ``__getattr__`` (``nongate_np/__init__.py``) for a name it
lacks; that calls :func:`missing_name_error`, whose AttributeError carries a hint for the
names in :data:`HINTS` (each one of torch's top-level names that a porter types, with what
to write here) and Python's own message for every other name, so ``hasattr`` and tools
see the usual error.
"""

from __future__ import annotations

import sys

__all__ = ["HINTS", "missing_name_error"]

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
}


def missing_name_error(name: str) -> AttributeError:
    """The AttributeError for ``nongate_np.<name>``: Python's message, followed by the hint
    where :data:`HINTS` has one for the name."""
    message = f"module 'nongate_np' has no attribute {name!r}"
    hint = HINTS.get(name)
    if hint is not None:
        message = f"{message}; for torch.{name}, {hint.format(name=name)}"
    return AttributeError(message, name=name, obj=sys.modules.get("nongate_np"))
