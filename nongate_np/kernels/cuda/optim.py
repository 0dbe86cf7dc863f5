"""Optimiser updates and gradient clipping on numba.cuda device arrays, in place, so a
training step with its parameters on the GPU never copies them to the host.

``adam_update`` and ``sgd_update`` compute per element exactly what ``nongate_np.optim``'s
``Adam._update`` and ``SGD._update`` compute with NumPy (torch 2.x's formulas), in the same
operation order, so the results are bit-identical to NumPy's:

- one launch per parameter, one thread per element (a grid-stride loop, ``THREADS`` per
  block, at most ``MAX_BLOCKS`` blocks), reading each state element once and writing it
  once;
- the hyper-parameters enter as NumPy's Python-float scalars do (weak, NEP 50): each scalar
  expression (``1 - beta1``, ``lr / (1 - beta1**step)``, ...) is evaluated on the host in
  Python floats, as optim.py evaluates it, and cast once to the parameter's dtype; a
  float32 update is then float32 arithmetic throughout, as NumPy's is;
- every product goes through ``mul``, which on a GPU is libdevice's ``__nv_fmul_rn`` /
  ``__nv_dmul_rn`` (PTX ``mul.rn``): NVVM contracts a product feeding a sum into one FMA
  by default (one rounding where NumPy rounds twice), and an explicitly rounded multiply is
  never contracted. In the simulator ``mul`` is Python's ``*`` (libdevice gives NaN there).
  Division and square root are the IEEE ones (``div.rn``, ``sqrt.rn``: numba leaves
  ``fastmath`` off). The simulator cannot show either point (it computes with NumPy
  scalars); tests/cuda/test_cuda_ptx_optim.py checks the compiled instructions.

Gradient clipping (``optim.clip_grad_norm_``, ``clip_grad_value_``), without a host read:
``total_norm`` is the norm of all gradients as one vector, scaled by their largest |entry|
(a first reduction) and accumulated in float64 (per
array, blocks that stride over it and combine their threads' sums in a shared-memory tree,
kernels/cuda/blocks.py's, one partial per block; then one block combines the partials of
all arrays and takes the root), ``clip_coefficient`` turns it into the factor, on the
device, and ``scale_`` multiplies by that device scalar. optim.py computes
``np.linalg.norm`` per array and then the norm of the norms; the sum here runs in another
order, so the total agrees with it to rounding (about 1e-15 relative), not bit for bit.
Its max for ``norm_type=inf`` is NaN when any entry is NaN, as torch's and ``np.max``'s
as optim.py's. ``clip_value_`` is ``np.clip``'s in place, NaN kept.

Every array must be a C-contiguous numba.cuda device array; the update functions take one
float dtype (float32 or float64) and one shape for all their arrays.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np
from numba import cuda, float64
from numba.cuda import libdevice

from . import arrays
from .blocks import TREE_THREADS, block_max, block_sum

__all__ = ["THREADS", "MAX_BLOCKS", "TREE_THREADS", "REDUCE_BLOCKS", "adam_update",
           "sgd_update", "sum_of_squares", "max_abs", "total_norm", "clip_coefficient",
           "scale_", "clip_value_"]

_SIM = bool(numba.config.ENABLE_CUDASIM)
THREADS = 16 if _SIM else 128          # threads per block of the element-wise kernels
# blocks per launch at most, the grid-stride loop covering the rest (few in the simulator,
# which runs an OS thread per CUDA thread)
MAX_BLOCKS = 4 if _SIM else 2048
# TREE_THREADS (kernels/cuda/blocks.py): threads per block of the reductions
REDUCE_BLOCKS = 2 if _SIM else 256     # blocks per array of a reduction, at most

_DTYPES = {np.dtype(np.float32): numba.float32, np.dtype(np.float64): numba.float64}

# weight decay in Adam: none, added to the gradient (Adam), or shrinking θ (AdamW)
_NO_DECAY, _COUPLED, _DECOUPLED = 0, 1, 2
# what a reduction accumulates: Σ |x|^p, or max |x|; then the root it takes of the total
_SUM, _MAX = 0, 1
_NO_ROOT, _SQRT, _POWER = 0, 1, 2


class _Kernels(NamedTuple):
    adam: Any
    sgd: Any
    scale: Any
    clip: Any


def _simulated_mul(a: Any, b: Any) -> Any:
    """a · b in the simulator, as a GPU computes it: IEEE, without the warning NumPy's
    scalars give for inf · 0 (NaN: clip_grad_norm_'s factor 0 on an inf gradient)."""
    with np.errstate(all="ignore"):
        return a * b


def _kernels(nt: Any) -> _Kernels:
    """The element-wise kernels for one element type (``nt``, a numba float type); every
    scalar argument is passed already cast to it, so float32 arithmetic stays float32."""
    if _SIM:
        mul = _simulated_mul                 # NOTE: libdevice returns NaN in the simulator
    else:
        mul = libdevice.fmul_rn if nt == numba.float32 else libdevice.dmul_rn
    one = nt(1)

    @cuda.jit
    def adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, maximize, decay, wd, shrink,
             small_w, w, one_minus_w, beta2, one_minus_beta2, amsgrad, neg_step_size,
             bias_correction2_sqrt, eps):
        """One Adam step per element, as ``optim.Adam._update`` (grid-stride)."""
        for i in range(cuda.grid(1), param.size, cuda.gridsize(1)):
            g = grad[i]
            if maximize:
                g = -g
            p = param[i]
            if decay == _COUPLED:
                g = g + mul(wd, p)
            elif decay == _DECOUPLED:
                p = mul(p, shrink)
            m = exp_avg[i]
            if small_w:                  # optim._lerp_: m + w (g − m), or g − (g − m)(1 − w)
                m = m + mul(w, g - m)
            else:
                m = g - mul(g - m, one_minus_w)
            v = mul(exp_avg_sq[i], beta2) + mul(mul(one_minus_beta2, g), g)
            exp_avg[i] = m
            exp_avg_sq[i] = v
            second = v
            if amsgrad:
                second = max_exp_avg_sq[i]
                if v > second or v != v:     # np.maximum: NaN from either side
                    second = v
                max_exp_avg_sq[i] = second
            denom = nt(math.sqrt(second)) / bias_correction2_sqrt + eps
            param[i] = p + mul(neg_step_size, m) / denom

    @cuda.jit
    def sgd(param, grad, buf, maximize, decay, wd, momentum, mu, dampened, first, nesterov,
            neg_lr):
        """One SGD step per element, as ``optim.SGD._update`` (grid-stride)."""
        for i in range(cuda.grid(1), param.size, cuda.gridsize(1)):
            g = grad[i]
            if maximize:
                g = -g
            p = param[i]
            if decay:
                g = g + mul(wd, p)
            if momentum:
                b = g if first else mul(buf[i], mu) + mul(dampened, g)
                buf[i] = b
                g = g + mul(mu, b) if nesterov else b
            param[i] = p + mul(neg_lr, g)

    @cuda.jit
    def scale(x, factor):
        """x *= factor[0] (cast to x's type, as NumPy casts a Python float); a factor of 1
        writes nothing (x · 1 = x)."""
        f = nt(factor[0])
        if f == one:
            return
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            x[i] = mul(x[i], f)

    @cuda.jit
    def clip(x, low, high):
        """x ← low where x < low, high where x > high (np.clip's; NaN stays)."""
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            v = x[i]
            if v < low:
                x[i] = low
            elif v > high:
                x[i] = high

    return _Kernels(adam, sgd, scale, clip)


_KERNELS = {dtype: _kernels(nt) for dtype, nt in _DTYPES.items()}


@cuda.jit
def _partials(x, kind, p, scaled, scale, partials, first):
    """partials[first + block] = Σ (|x| / s)^p (kind _SUM) or max |x| (_MAX) over the
    elements of x this block visits (its threads stride over x, then combine in a tree), in
    float64; s = scale[0] when ``scaled`` and it is finite and positive, else 1."""
    acc = cuda.shared.array(TREE_THREADS, float64)
    s = scale[0] if scaled and 0.0 < scale[0] < math.inf else 1.0
    total = float64(0)
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        v = abs(float64(x[i]))
        if kind == _MAX:
            if v > total or v != v:
                total = v
        else:
            v = v / s
            if p == 2.0:
                total += v * v
            elif p == 1.0:
                total += v
            else:
                total += v ** p
    # every thread takes the same branch (one kind per launch), as the trees' syncs need
    total = block_sum(acc, total) if kind == _SUM else block_max(acc, total)
    if cuda.threadIdx.x == 0:
        partials[first + cuda.blockIdx.x] = total


@cuda.jit
def _finish(partials, n, kind, root, inv_p, scaled, scale, out):
    """out[0] = the sum (kind _SUM) or max (_MAX) of partials[:n], then its square root
    (root _SQRT) or power inv_p (_POWER); when ``scaled``, times s = scale[0] where s is
    finite and positive, else s itself (a norm of 0, inf or NaN, the largest |entry|); one
    block."""
    acc = cuda.shared.array(TREE_THREADS, float64)
    total = float64(0)
    for i in range(cuda.threadIdx.x, n, TREE_THREADS):
        v = partials[i]
        if kind == _SUM:
            total += v
        elif v > total or v != v:
            total = v
    total = block_sum(acc, total) if kind == _SUM else block_max(acc, total)
    if cuda.threadIdx.x == 0:
        if root == _SQRT:
            total = math.sqrt(total)
        elif root == _POWER:
            total = total ** inv_p
        if scaled:
            s = scale[0]
            total = total * s if 0.0 < s < math.inf else s
        out[0] = total


@cuda.jit
def _clip_coefficient(norm, max_norm, out):
    """out[0] = max_norm / (norm[0] + 1e-6) where that is below 1 or NaN, else 1."""
    if cuda.grid(1) == 0:
        c = max_norm / (norm[0] + 1e-6)
        out[0] = c if c < 1.0 or c != c else 1.0


# ---------------------------------------------------------------------------------------------
# Host side: checks, scalars, launches
# ---------------------------------------------------------------------------------------------

def _blocks(n: int, threads: int, most: int) -> int:
    return max(1, min(most, (n + threads - 1) // threads))


def _flat(name: str, what: str, a: Any) -> Any:
    """A C-contiguous float device array as a 1-D view of its elements."""
    if not arrays.is_device(a):
        raise TypeError(f"{name}: {what} must be a numba.cuda device array, got "
                        f"{type(a).__name__}")
    if np.dtype(a.dtype) not in _DTYPES:
        raise TypeError(f"{name}: {what} has dtype {a.dtype}; float32 or float64 is needed")
    if not a.is_c_contiguous():
        raise ValueError(f"{name}: {what} must be C-contiguous (it is updated in place)")
    return a.reshape(a.size)


def _same(name: str, named: dict[str, Any]) -> tuple[np.dtype, list[Any]]:
    """The dtype and flat views of arrays that must share the first one's dtype and shape."""
    (first_name, first), *rest = named.items()
    flats = [_flat(name, first_name, first)]
    for what, a in rest:
        flats.append(_flat(name, what, a))
        if a.dtype != first.dtype:
            raise TypeError(f"{name}: {what} has dtype {a.dtype}, {first_name} {first.dtype}")
        if tuple(a.shape) != tuple(first.shape):
            raise ValueError(f"{name}: {what} has shape {tuple(a.shape)}, {first_name} "
                             f"{tuple(first.shape)}")
    return np.dtype(first.dtype), flats


def _elementwise(n: int) -> tuple[int, int]:
    return _blocks(n, THREADS, MAX_BLOCKS), THREADS


def adam_update(param: Any, grad: Any, exp_avg: Any, exp_avg_sq: Any, max_exp_avg_sq: Any,
                *, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
                decoupled: bool, maximize: bool, amsgrad: bool, step: int) -> None:
    """One Adam (or AdamW) step, in place, as ``optim.Adam._update`` (torch 2.x)::

        g ← −∇ if maximize;  θ ← θ (1 − γλ) if decoupled else g ← g + λθ   (λ ≠ 0)
        m ← lerp(m, g, 1 − β1);  v ← β2 v + (1 − β2) g²;  v̂ ← max(v̂, v) if amsgrad
        θ ← θ − (γ / (1 − β1ᵗ)) m / (sqrt(v or v̂) / sqrt(1 − β2ᵗ) + ε)

    Parameters
    ----------
    param, grad, exp_avg, exp_avg_sq : device arrays, one shape, one float dtype
        θ, the gradient, m and v; θ, m and v are updated in place, the gradient is read.
    max_exp_avg_sq : device array like ``param``, or None
        v̂, updated in place with ``amsgrad`` (required then); ignored without.
    lr, beta1, beta2, eps, weight_decay : float
        γ, β1, β2, ε, λ (the caller has checked their ranges).
    decoupled, maximize, amsgrad : bool
    step : int
        t, this step's number (1 at the first step), after optim.py's increment.

    Raises
    ------
    TypeError
        An array that is not a device array, not float32/float64, or of another dtype.
    ValueError
        An array of another shape, or not C-contiguous; ``step < 1``; amsgrad without
        ``max_exp_avg_sq``.
    """
    name = "adam_update"
    named = {"param": param, "grad": grad, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
    if amsgrad:
        if max_exp_avg_sq is None:
            raise ValueError(f"{name}: amsgrad needs max_exp_avg_sq")
        named["max_exp_avg_sq"] = max_exp_avg_sq
    if step < 1:
        raise ValueError(f"{name}: step must be >= 1 (counted from 1), got {step}")
    dtype, flats = _same(name, named)
    if param.size == 0:
        return
    p, g, m, v = flats[:4]
    v_max = flats[4] if amsgrad else v          # never read without amsgrad
    _KERNELS[dtype].adam[_elementwise(param.size)](
        p, g, m, v, v_max, *_adam_scalars(dtype, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                                          weight_decay=weight_decay, decoupled=decoupled,
                                          maximize=maximize, amsgrad=amsgrad, step=step))


def _adam_scalars(dtype: np.dtype, *, lr: float, beta1: float, beta2: float, eps: float,
                  weight_decay: float, decoupled: bool, maximize: bool, amsgrad: bool,
                  step: int) -> tuple:
    """The ``adam`` kernel's scalar arguments: optim.py's expressions, evaluated in Python
    floats as there, each then cast once to ``dtype`` (NumPy's weak scalars, NEP 50)."""
    cast = dtype.type
    w = 1 - beta1
    bias_correction1 = 1 - beta1 ** step
    bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
    step_size = lr / bias_correction1
    decay = _NO_DECAY if weight_decay == 0 else _DECOUPLED if decoupled else _COUPLED
    return (bool(maximize), decay, cast(weight_decay), cast(1 - lr * weight_decay),
            abs(w) < 0.5, cast(w), cast(1 - w), cast(beta2), cast(1 - beta2), bool(amsgrad),
            cast(-step_size), cast(bias_correction2_sqrt), cast(eps))

def sgd_update(param: Any, grad: Any, momentum_buffer: Any, *, lr: float, momentum: float,
               dampening: float, weight_decay: float, nesterov: bool, maximize: bool,
               first: bool) -> None:
    """One SGD step, in place, as ``optim.SGD._update`` (torch 2.x)::

        g ← −∇ if maximize;  g ← g + λθ  (λ ≠ 0)
        b ← g if first else μ b + (1 − τ) g;  g ← g + μ b if nesterov else b   (μ ≠ 0)
        θ ← θ − γ g

    Parameters
    ----------
    param, grad : device arrays, one shape, one float dtype
        θ (updated in place) and the gradient (read).
    momentum_buffer : device array like ``param``, or None
        b, written in place when μ ≠ 0 (required then; at ``first`` its old contents are
        not read); ignored when μ = 0.
    lr, momentum, dampening, weight_decay : float
        γ, μ, τ, λ.
    nesterov, maximize : bool
    first : bool
        The buffer's first step (optim.py creates it then): b ← g.

    Raises
    ------
    TypeError, ValueError
        As :func:`adam_update`'s; ValueError also for μ ≠ 0 without a buffer.
    """
    name = "sgd_update"
    named = {"param": param, "grad": grad}
    if momentum != 0:
        if momentum_buffer is None:
            raise ValueError(f"{name}: momentum {momentum} needs a momentum_buffer")
        named["momentum_buffer"] = momentum_buffer
    dtype, flats = _same(name, named)
    if param.size == 0:
        return
    p, g = flats[:2]
    buf = flats[2] if momentum != 0 else g      # never read or written without momentum
    _KERNELS[dtype].sgd[_elementwise(param.size)](
        p, g, buf, *_sgd_scalars(dtype, lr=lr, momentum=momentum, dampening=dampening,
                                 weight_decay=weight_decay, nesterov=nesterov,
                                 maximize=maximize, first=first))


def _sgd_scalars(dtype: np.dtype, *, lr: float, momentum: float, dampening: float,
                 weight_decay: float, nesterov: bool, maximize: bool, first: bool) -> tuple:
    """The ``sgd`` kernel's scalar arguments, as :func:`_adam_scalars`'s."""
    cast = dtype.type
    return (bool(maximize), weight_decay != 0, cast(weight_decay), momentum != 0,
            cast(momentum), cast(1 - dampening), bool(first), bool(nesterov), cast(-lr))

def _result(name: str, out: Any) -> Any:
    """``out`` (a float64 device array of one element) as a (1,) view, or a new one."""
    if out is None:
        return arrays.empty((1,), np.float64)
    if not arrays.is_device(out) or out.dtype != np.float64 or out.size != 1:
        raise TypeError(f"{name}: out must be a float64 device array of one element")
    return out.reshape(1)


def _reduce(name: str, grads: Any, kind: int, p: float, root: int, out: Any,
            scale: Any = None) -> Any:
    """Launch ``_partials`` per array (one partial per block, side by side), then
    ``_finish`` over all of them; the (1,) float64 device result. ``scale``: a (1,) float64
    device array s, the sum taken of (|x| / s)^p and the result multiplied by s (None: 1)."""
    flats = [_flat(name, f"array {k}", a) for k, a in enumerate(grads)]
    flats = [x for x in flats if x.size]
    blocks = [_blocks(x.size, TREE_THREADS, REDUCE_BLOCKS) for x in flats]
    partials = cuda.device_array(max(1, sum(blocks)), np.float64)
    s = partials if scale is None else scale    # read only when given
    first = 0
    for x, b in zip(flats, blocks):
        _partials[b, TREE_THREADS](x, kind, float(p), scale is not None, s, partials, first)
        first += b
    result = _result(name, out)
    _finish[1, TREE_THREADS](partials, first, kind, root, 1.0 / p if root == _POWER else 1.0,
                             scale is not None, s, result)
    return result


def sum_of_squares(grads: Any, out: Any = None) -> Any:
    """Σ x² over every element of every array, accumulated in float64.

    ``grads``: a sequence of C-contiguous float device arrays (any shapes, empty ones
    count 0). Returns a (1,) float64 device array (``out``, if given: one float64 element).
    Raises TypeError / ValueError for an array that is not such a device array.
    """
    return _reduce("sum_of_squares", grads, _SUM, 2.0, _NO_ROOT, out)


def max_abs(grads: Any, out: Any = None) -> Any:
    """max |x| over every element of every array (0 when there is none; NaN when any is
    NaN), as a (1,) float64 device array; as :func:`sum_of_squares` otherwise."""
    return _reduce("max_abs", grads, _MAX, 1.0, _NO_ROOT, out)


def total_norm(grads: Any, norm_type: float = 2.0, out: Any = None) -> Any:
    """The ``norm_type``-norm of all arrays as one vector, as ``optim.clip_grad_norm_``'s
    total: max |x| = m for p = inf; else m (Σ (|x| / m)^p)^(1/p) in float64 (a square root
    for p = 2), scaled by m so that no power overflows (finite for any finite entries,
    unless the norm itself exceeds the float64 maximum), and m itself where m is 0, inf or
    NaN. Two reductions (m, then the sum), no host read.

    Returns a (1,) float64 device array (``out`` if given). Raises ValueError unless
    ``norm_type > 0``; as :func:`sum_of_squares` otherwise.
    """
    p = float(norm_type)
    if not p > 0:
        raise ValueError(f"total_norm: norm_type must be > 0 or inf, got {norm_type}")
    biggest = _reduce("total_norm", grads, _MAX, 1.0, _NO_ROOT, out if math.isinf(p) else None)
    if math.isinf(p):
        return biggest
    root = _SQRT if p == 2.0 else _NO_ROOT if p == 1.0 else _POWER
    return _reduce("total_norm", grads, _SUM, p, root, out, scale=biggest)


def clip_coefficient(norm: Any, max_norm: float, out: Any = None) -> Any:
    """The factor ``clip_grad_norm_`` scales the gradients by, on the device:
    max_norm / (norm + 1e-6) where that is below 1 (or NaN, as torch), else 1.

    ``norm``: a float64 device array of one element (:func:`total_norm`'s result). Returns
    a (1,) float64 device array (``out`` if given: one float64 element).
    """
    norm = _result("clip_coefficient", norm)
    result = _result("clip_coefficient", out)
    _clip_coefficient[1, 1](norm, float(max_norm), result)
    return result


def scale_(grads: Any, factor: Any) -> None:
    """x ← x · factor for every array, in place; ``factor`` is a float device array of one
    element, cast to each array's dtype as NumPy casts a Python float (``g *= c``).

    Raises TypeError / ValueError for an array that is not a C-contiguous float device
    array, or a factor that is not a float device array of one element."""
    if not arrays.is_device(factor) or np.dtype(factor.dtype) not in _DTYPES or \
            factor.size != 1:
        raise TypeError("scale_: factor must be a float device array of one element")
    f = factor.reshape(1)
    for k, a in enumerate(grads):
        x = _flat("scale_", f"array {k}", a)
        if x.size:
            _KERNELS[np.dtype(x.dtype)].scale[_elementwise(x.size)](x, f)


def clip_value_(grads: Any, clip_value: float) -> None:
    """Clip every element of every array to [-clip_value, clip_value] in place, as
    ``np.clip(g, -clip_value, clip_value, out=g)`` (the bounds cast to the array's dtype;
    NaN stays NaN). Raises as :func:`scale_` for an array."""
    for k, a in enumerate(grads):
        x = _flat("clip_value_", f"array {k}", a)
        if x.size:
            _KERNELS[np.dtype(x.dtype)].clip[_elementwise(x.size)](
                x, *_clip_scalars(np.dtype(x.dtype), clip_value))


def _clip_scalars(dtype: np.dtype, clip_value: float) -> tuple:
    """The ``clip`` kernel's bounds, cast to ``dtype`` as np.clip casts Python floats."""
    return dtype.type(-clip_value), dtype.type(clip_value)
