"""Autograd ops: one Function per op, forward and hand-derived backward side by side.

Each op is also a function ``nongate_np.NAME``; the derivations are in docs/math.md (E1-E47).
Importing this package gives ``Tensor`` its operators and math methods (``ops/methods.py``).
"""

from ..tensor import register_op_names
from .activations import elu, gelu, leaky_relu, silu, softplus
from .activations_piecewise import celu, hardshrink, prelu, rrelu, selu, threshold
from .diagonal import diag, diag_embed, diagonal, trace
from .einsum import einsum
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
from .loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
)
from .matmul import bmm, matmul
from .methods import bind_tensor_methods
from .normalization import layer_norm
from .random import dropout
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
from .shape import (
    cat,
    concat,
    embedding,
    flatten,
    getitem,
    permute,
    reshape,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
from .softmax import log_softmax, logsumexp, softmax
from .statistics import cdist, norm, std, var
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

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "exp", "log", "tanh", "sigmoid", "relu",
           "abs", "sqrt", "sin", "cos", "clamp", "clip", "maximum", "minimum", "where", "cast",
           "matmul",
           "sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std",
           "norm", "topk", "gather", "reshape",
           "transpose", "permute",
           "concat", "cat", "stack", "getitem", "embedding", "unsqueeze", "squeeze", "flatten",
           "softmax", "log_softmax", "logsumexp", "layer_norm", "leaky_relu", "silu", "gelu",
           "bmm",
           "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "dropout",
           "logical_not", "logical_and", "logical_or", "logical_xor", "bitwise_not",
           "bitwise_and", "bitwise_or", "bitwise_xor", "any", "all", "masked_fill", "sign",
           "expand", "expand_as", "repeat", "chunk", "split", "t", "flip", "index_select",
           "cumsum", "sort", "argsort", "eq", "ne", "lt", "le", "gt", "ge", "isfinite",
           "isnan", "isinf", "log1p", "expm1", "square", "erf", "softplus", "elu", "tril",
           "triu", "prod", "einsum", "selu", "celu", "hardshrink", "threshold", "prelu",
           "rrelu",
           "tan", "atan", "asin", "acos", "sinh", "cosh", "asinh", "acosh", "atanh", "atan2",
           "hypot", "arctan", "arcsin", "arccos", "arcsinh", "arccosh", "arctanh", "arctan2",
           "log2", "log10", "exp2", "rsqrt", "reciprocal", "erfc", "logit", "logaddexp",
           "floor", "ceil", "trunc", "fix", "round", "frac", "cumprod", "roll", "diag",
           "diagonal", "diag_embed", "trace", "unique", "clamp_min", "clamp_max", "unbind",
           "repeat_interleave", "scatter_add", "scatter", "scatter_reduce", "index_add",
           "index_copy", "index_fill", "cdist"]

bind_tensor_methods()
register_op_names(__all__)
