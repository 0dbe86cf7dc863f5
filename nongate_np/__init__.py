"""nongate_np: a sequence-learning engine in NumPy and Numba.

A small reverse-mode autograd engine with hand-derived backward passes, PyTorch-compatible
modules and a gradient-checking toolkit. See README.md and docs/math.md.
"""

__version__ = "0.1.0"

from typing import TYPE_CHECKING

from .tensor import Tensor, tensor
from .autograd import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .anomaly import AnomalyError, detect_anomaly
from .ops import (add, sub, mul, div, neg, pow, exp, log, tanh, sigmoid, relu, abs, sqrt,
                  sin, cos, clamp, clip, maximum, minimum, where, cast, matmul, sum, mean, max,
                  min, amax, amin, argmax, argmin, var, std, norm, topk, gather, reshape,
                  transpose, permute, concat, cat, stack, getitem,
                  embedding, unsqueeze, squeeze, flatten, softmax, log_softmax, layer_norm,
                  cross_entropy, nll_loss, mse_loss, l1_loss, binary_cross_entropy,
                  binary_cross_entropy_with_logits, dropout, logsumexp, leaky_relu, silu, gelu,
                  bmm, logical_not, logical_and, logical_or, logical_xor, bitwise_not,
                  bitwise_and, bitwise_or, bitwise_xor, any, all, masked_fill, sign, expand,
                  expand_as, repeat, chunk, split, t, flip, index_select, cumsum, sort,
                  argsort, eq, ne, lt, le, gt, ge, isfinite, isnan, isinf, log1p, expm1,
                  square, erf, softplus, elu, tril, triu, prod, selu, celu, hardshrink,
                  threshold, prelu, rrelu, tan, atan, asin, acos, sinh, cosh, asinh, acosh,
                  atanh, atan2, hypot, arctan, arcsin, arccos, arcsinh, arccosh, arctanh,
                  arctan2, log2, log10, exp2, rsqrt, reciprocal, erfc, logit, logaddexp, floor,
                  ceil, trunc, fix, round, frac, cumprod, roll, diag, diagonal, diag_embed,
                  trace, unique, clamp_min, clamp_max, unbind, repeat_interleave, scatter_add,
                  scatter, scatter_reduce, index_add, index_copy, index_fill, cdist)
from .ops import einsum
from .ops import __all__ as _ops_all
from .rng import manual_seed, seed
from .defaults import get_default_dtype, set_default_dtype
from . import nn, optim
from .factories import (zeros, ones, full, zeros_like, ones_like, full_like, randn_like,
                        rand_like, randn, rand, randint, arange, linspace, from_numpy,
                        as_tensor, empty, empty_like, eye, randperm)
from .dtypes import (float16, half, float32, float64, double, int8, int16, short, int32,
                     int64, long, uint8, uint16, uint32, uint64, complex64, cfloat, complex128,
                     cdouble, float, int, bool)
from .dtypes import __all__ as _dtypes_all
from .check import GradcheckError, GradcheckReport, gradcheck, numeric_gradient
from .kernels.registry import available_backends, backend, get_backend, set_global_backend
from .io import (Checkpoint, CheckpointError, load, load_weights, save, load_safetensors,
                 save_safetensors)
from . import check, cuda, data, device, io, linalg, training

__all__ = ["Tensor", "tensor", "Function", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "seed", "manual_seed", "set_default_dtype", "get_default_dtype",
           "zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "randn_like",
           "rand_like", "as_tensor", "empty", "empty_like", "eye", "randperm", *_dtypes_all,
           "randn", "rand", "randint", "arange", "linspace", "from_numpy", "gradcheck", "numeric_gradient", "GradcheckError",
           "GradcheckReport", "check", "nn", "optim", "io", "data", "training", "save", "load",
           "load_weights", "Checkpoint", "CheckpointError", "save_safetensors",
           "load_safetensors", "backend", "detect_anomaly", "AnomalyError",
           "set_global_backend", "get_backend", "available_backends", "device", "cuda", "linalg",
           *_ops_all]


if not TYPE_CHECKING:       # NOTE: hidden from type checkers, which would type every name
    def __getattr__(name: str):
        """``nongate_np.<name>`` for a name not here: AttributeError, with a hint for torch's
        names a porter types (``torch_names.HINTS``), Python's message otherwise."""
        from .torch_names import missing_name_error     # NOTE: on use, not at import
        raise missing_name_error(name)
