"""Numerical derivatives of L(x) = Σ_k ⟨v_k, f_k(x)⟩ (docs/math.md G1-G3).

:class:`ScalarLoss` turns a function ``f`` of several inputs and fixed cotangents ``v_k``
into the scalar L evaluated on plain arrays; the routines below differentiate any
``loss(arrays) -> scalar`` with respect to ``arrays[k]``. :func:`numeric_gradient` puts the
two together. ``gradcheck`` compares these numbers with backward.

Step rules (an explicit ``eps`` is used as the absolute step for every element instead):

- central      h_i = ε^(1/3)·max(1, |x_i|)       truncation h²·L'''/6, rounding ε|L|/h (G1)
- complex-step h_i = 1e-20·max(1, |x_i|)         no subtraction: exact to rounding (G2)
- directional  h   = ε^(1/3)·max(1, max_i |x_i|) along one direction u (G3)

ε is the machine epsilon of ``arrays[k]``'s dtype. ``arrays[k]`` itself is never modified:
each routine perturbs a private copy one element at a time and restores it.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
import warnings
from typing import Callable

import numpy as np

from ..autograd import no_grad
from ..tensor import InPlaceCastError, Tensor
from .foreign import conversion_hint, library_in_traceback, library_of, vjp_hint

__all__ = ["ComplexStepNotApplicable", "ScalarLoss", "ArrayLoss", "numeric_gradient",
           "check_option", "layout_copy",
           "central_steps", "central_differences_at", "one_sided_differences_at",
           "working_dtype", "output_precision",
           "complex_steps", "directional_step", "central_gradient", "complex_step_gradient",
           "complex_step_at", "directional_derivative", "progress_bar", "PROGRESS_DELAY"]

COMPLEX_STEP = 1e-20
# seconds a numerical gradient runs before its progress bar shows (progress=None)
PROGRESS_DELAY = 2.0


class ComplexStepNotApplicable(TypeError):
    """The function does not carry an imaginary perturbation through to its output."""


def check_option(who: str, name: str, value, *, positive: bool) -> float | None:
    """``value`` as a float, None kept: a step (``positive``: finite and > 0) or a
    tolerance (finite and >= 0). Otherwise a TypeError (not a real number) or ValueError
    naming the argument: a checker must not accuse a correct backward because of its own
    arguments."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                     np.floating)):
        raise TypeError(f"{who}: {name} must be a real number, got {value!r} "
                        f"({type(value).__name__})")
    number = float(value)
    if not np.isfinite(number) or number < 0 or (positive and number == 0):
        raise ValueError(f"{who}: {name} must be a finite number "
                         f"{'> 0' if positive else '>= 0'}, got {value!r}")
    return number


# ---------------------------------------------------------------------------------------------
# Derivatives of loss(arrays) with respect to arrays[k]
# ---------------------------------------------------------------------------------------------

def central_steps(x: np.ndarray, eps=None, precision=None) -> np.ndarray:
    """h_i = ε^(1/3)·max(1, |x_i|) (G1), or ``eps`` everywhere. ε is that of x's dtype, or
    of ``precision`` where given: the dtype the function computes in, when coarser (a
    float32 model fed float64 inputs, :func:`working_dtype`)."""
    if eps is not None:
        return np.full(x.shape, float(eps))
    return np.finfo(working_dtype(x, precision)).eps ** (1 / 3) * np.maximum(1.0, np.abs(x))


def _finite_parts(x: np.ndarray) -> np.ndarray:
    """The finite values of a floating array, flat; a complex one's real and imaginary
    parts."""
    finite = x[np.isfinite(x)].reshape(-1)
    return np.concatenate([finite.real, finite.imag]) if x.dtype.kind == "c" else finite


def _float32_numbers(x: np.ndarray) -> bool:
    """Whether every finite value of a float64 (or complex128) array is a float32 number."""
    if x.dtype.kind not in "fc":
        return True
    finite = _finite_parts(x)
    with np.errstate(over="ignore"):
        return bool(np.array_equal(finite.astype(np.float32).astype(finite.dtype), finite))


def working_dtype(x: np.ndarray, precision=None) -> np.dtype:
    """The real dtype whose rounding limits a finite difference in x: x's, or the coarser
    ``precision`` the function computes in."""
    real = np.finfo(x.dtype).dtype                  # complex128 -> float64
    if precision is None:
        return real
    coarse = np.finfo(np.dtype(precision)).dtype
    return coarse if np.finfo(coarse).eps > np.finfo(real).eps else real


def output_precision(values, inputs=()) -> np.dtype | None:
    """float32 where a function's outputs show that it computes in float32: an output of
    dtype float32 (or complex64), or float64 outputs whose every value is a float32 number
    (a float32 model whose result is cast up), at least one of them with more significant
    bits than a short decimal has, while some of the float64 ``inputs`` are not float32
    numbers; else None. A float64 computation rounds to a float32 number by chance with
    odds of about 2^-29 per value; but exact float64 arithmetic (a selection, a reshape, a
    product by a power of 2) on inputs that are float32 numbers gives float32 numbers too."""
    coarse, by_values = False, None
    for v in values:
        v = np.asarray(v)
        if v.dtype.kind not in "fc":
            continue
        if np.finfo(v.dtype).eps >= np.finfo(np.float32).eps:
            return np.dtype(np.float32)
        if by_values is None:           # read once, at the first float64 output
            by_values = not all(_float32_numbers(np.asarray(x)) for x in inputs)
        if not by_values:               # only a float32 dtype then tells
            continue
        if not _float32_numbers(v):
            return None
        mantissa = np.frexp(_finite_parts(v))[0] * 2.0 ** 12    # more than 12 significant bits
        coarse = coarse or bool(np.any(mantissa != np.round(mantissa)))
    return np.dtype(np.float32) if coarse else None


def complex_steps(x: np.ndarray, eps=None) -> np.ndarray:
    """h_i = 1e-20·max(1, |x_i|) (G2), or ``eps`` everywhere."""
    if eps is not None:
        return np.full(x.shape, float(eps))
    return COMPLEX_STEP * np.maximum(1.0, np.abs(x))


def directional_step(x: np.ndarray, eps=None, precision=None) -> float:
    """h = ε^(1/3)·max(1, max_i |x_i|) (G3), or ``eps``; ε as in :func:`central_steps`."""
    if eps is not None:
        return float(eps)
    return float(np.finfo(working_dtype(x, precision)).eps ** (1 / 3)
                 * max(1.0, np.max(np.abs(x), initial=0.0)))


def _gradient_dtype(x: np.ndarray):
    return np.complex128 if x.dtype.kind == "c" else np.float64


def central_gradient(loss, arrays: list, k: int, eps=None) -> np.ndarray:
    """∂L/∂x_k by central differences, one element at a time (2·x.size evaluations).

    For a complex ``x`` only the real part is perturbed: that is the complex derivative
    dL/dz of a holomorphic L, the convention of this engine's backward (no conjugation).
    """
    x = arrays[k]
    every = np.arange(x.size)
    steps = central_steps(x, eps, getattr(loss, "precision", None))
    return central_differences_at(loss, arrays, k, every, steps.reshape(-1)).reshape(x.shape)


# A strided input whose elements span more than this many times its size (x[::1000]) is
# copied densely, in its axes' memory order, instead of into a buffer as sparse as its own.
LAYOUT_SPAN = 16
# The same for a copy at a wider dtype than the input's (complex-step's complex128 of a
# float64 or float32 input): there every gap costs the wider item, memory beyond what the
# input itself spans, so gaps are kept up to twice the size only (w[:, ::2]).
LAYOUT_SPAN_WIDER = 2


def layout_copy(x: np.ndarray, dtype=None) -> np.ndarray:
    """A copy of ``x`` (cast to ``dtype`` where given) laid out in memory as ``x`` is: C- or
    Fortran-ordered, transposed, or strided with gaps (``w[:, ::2]``) or negative strides,
    the strides counted in elements, so that fn sees the layout the caller passed, as
    torch.autograd.gradcheck perturbs the input itself.

    An input whose elements overlap (a broadcast view, a stride of 0), or that spans more
    than ``LAYOUT_SPAN`` times its size (``LAYOUT_SPAN_WIDER`` where ``dtype`` has a wider
    item than ``x``), gets a dense copy in its axes' memory order instead. The memory
    allocated is therefore at most the larger of what ``x`` spans in its own buffer and
    ``LAYOUT_SPAN_WIDER`` times the result's ``nbytes``."""
    dtype = np.dtype(x.dtype if dtype is None else dtype)
    if x.flags.c_contiguous or x.flags.f_contiguous:
        return np.array(x, dtype=dtype, copy=True, order="F" if not x.flags.c_contiguous
                        else "C")
    item = x.dtype.itemsize
    sides = [(abs(st), n) for st, n in zip(x.strides, x.shape) if n > 1]
    nested = all(st > 0 and st % item == 0 for st, _ in sides) and all(
        big >= small * n for (small, n), (big, _) in zip(sorted(sides), sorted(sides)[1:]))
    span = 1 + sum((n - 1) * st // item for st, n in sides)
    widest = LAYOUT_SPAN_WIDER if dtype.itemsize > item else LAYOUT_SPAN
    if not nested or not sides or span > widest * x.size:
        return np.array(x, dtype=dtype, copy=True, order="K")
    buffer = np.zeros(span, dtype)
    # NOTE: a negative stride (x[::-1]) starts its axis at the far end of the buffer
    start = sum((n - 1) * -st // item for st, n in zip(x.strides, x.shape) if st < 0)
    out = np.lib.stride_tricks.as_strided(
        buffer[start:], x.shape, [st // item * dtype.itemsize for st in x.strides])
    out[...] = x
    return out


def _element_indices(shape: tuple, flat_indices) -> list:
    """The index tuple of each flat (C-order) index into an array of ``shape``."""
    if not shape:
        return [()] * len(flat_indices)
    coords = np.unravel_index(np.asarray(flat_indices, dtype=np.intp), shape)
    return list(zip(*(c.tolist() for c in coords)))


def _quiet(function):
    """``function`` under ``np.errstate(all="ignore")``: a step from a huge x_i may overflow
    (x ± h, L(x + h) − L(x − h) of infinities), and the NaN or inf it gives is the estimate,
    which the caller reports; NumPy's warning would only repeat it, once per element."""
    @functools.wraps(function)
    def quiet(*args, **kwargs):
        with np.errstate(all="ignore"):
            return function(*args, **kwargs)
    return quiet


@_quiet
def central_differences_at(loss, arrays: list, k: int, flat_indices, steps) -> np.ndarray:
    """(L(x + h e_i) − L(x − h e_i)) / (actual step up + down) for each flat index i of
    ``arrays[k]`` with its own step h (G1): 2 evaluations per index. The divisor is the
    step actually taken after rounding x ± h, so no rounding of the step itself is blamed
    on the function."""
    x = arrays[k]
    work = layout_copy(x)
    args = list(arrays)
    args[k] = work
    out = np.zeros(len(flat_indices), _gradient_dtype(x))
    for j, (i, h) in enumerate(zip(_element_indices(x.shape, flat_indices), steps)):
        xi = work[i]
        work[i] = xi + h
        up = work[i] - xi                        # NOTE: the steps actually taken after rounding
        lp = loss(args)
        work[i] = xi - h
        down = xi - work[i]
        lm = loss(args)
        work[i] = xi
        diff = lp - lm if out.dtype.kind == "c" else np.real(lp - lm)
        out[j] = diff / (up + down)
    return out


@_quiet
def one_sided_differences_at(loss, arrays: list, k: int, flat_index: int, h: float
                             ) -> tuple[float, float]:
    """The slopes of L left and right of element ``flat_index`` of ``arrays[k]``:
    ((L(x) − L(x − h e_i)) / step down, (L(x + h e_i) − L(x)) / step up), the steps as
    actually taken after rounding (3 evaluations). Where they differ by more than the
    step explains, L has a kink there."""
    work = layout_copy(arrays[k])
    (i,) = _element_indices(work.shape, [flat_index])
    args = list(arrays)
    args[k] = work
    xi = work[i]
    centre = loss(args)
    work[i] = xi + h
    up = work[i] - xi
    right = np.real(loss(args) - centre) / up
    work[i] = xi - h
    down = xi - work[i]
    left = np.real(centre - loss(args)) / down
    return float(left), float(right)


def complex_step_gradient(loss, arrays: list, k: int, eps=None) -> np.ndarray:
    """∂L/∂x_k = Im L(x + i h e_i) / h, one element at a time (x.size evaluations).

    ``x`` is cast to complex128 for the evaluation. Raises :class:`ComplexStepNotApplicable`
    for a complex ``x`` (its imaginary part is taken) or when L comes back real.
    """
    x = arrays[k]
    every = np.arange(x.size)
    steps = complex_steps(x, eps).reshape(-1)
    return complex_step_at(loss, arrays, k, every, steps).reshape(x.shape)


@_quiet
def complex_step_at(loss, arrays: list, k: int, flat_indices, steps) -> np.ndarray:
    """Im L(x + i h e_i) / h for each flat index i of ``arrays[k]`` with its own step h (G2):
    1 evaluation per index, with x cast to complex128. Raises
    :class:`ComplexStepNotApplicable` as :func:`complex_step_gradient` does."""
    x = arrays[k]
    if x.dtype.kind == "c":
        raise ComplexStepNotApplicable(
            f"complex-step is not applicable to a complex input (dtype {x.dtype}): its "
            "imaginary part is already taken; use method='central'")
    work = layout_copy(x, np.complex128)
    args = list(arrays)
    args[k] = work
    out = np.zeros(len(flat_indices))
    for j, (i, h) in enumerate(zip(_element_indices(x.shape, flat_indices), steps)):
        xi = work[i]
        work[i] = xi + 1j * h
        value = loss(args)
        work[i] = xi
        if not np.iscomplexobj(value):
            raise ComplexStepNotApplicable(
                "complex-step is not applicable: the function returned a real value for a "
                "complex input (it drops the imaginary part, e.g. with .real, abs or a cast "
                "to a real dtype); use method='central'")
        out[j] = np.imag(value) / h
    return out


@_quiet
def directional_derivative(loss, arrays: list, k: int, u: np.ndarray, h: float):
    """(L(x + h u) − L(x − h u)) / 2h, and the direction actually stepped.

    Returns ``(derivative, u_eff)`` with ``u_eff = (x₊ − x₋) / 2h``: rounding moves each
    element's step a little, and ⟨∇L, u_eff⟩ is what the difference really measures.
    """
    x = arrays[k]
    args = list(arrays)
    xp, xm = layout_copy(x), layout_copy(x)     # in place: x's memory layout is kept
    xp += (h * u).astype(x.dtype)
    xm -= (h * u).astype(x.dtype)
    args[k] = xp
    lp = loss(args)
    args[k] = xm
    lm = loss(args)
    u_eff = (xp.astype(_gradient_dtype(x)) - xm) / (2 * h)
    diff = lp - lm if x.dtype.kind == "c" else np.real(lp - lm)
    return diff / (2 * h), u_eff


# ---------------------------------------------------------------------------------------------
# L(x) = Σ_k ⟨v_k, f_k(x)⟩ from a function of Tensors
# ---------------------------------------------------------------------------------------------

def _function_name(fn) -> str:
    """fn.__name__; ``MyOp.apply`` for a Function's apply; the type's name for a callable."""
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type):
        return f"{owner.__name__}.{fn.__name__}"
    return getattr(fn, "__name__", None) or type(fn).__name__


def parameter_names(fn, n: int) -> list[str] | None:
    """The names of fn's first ``n`` positional parameters, where they name its ``n``
    positional inputs one each: None where fn takes ``*args`` or fewer positional
    parameters, or has no signature to read (a builtin)."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind is p.VAR_POSITIONAL for p in parameters) or len(positional) < n:
        return None
    return [p.name for p in positional[:n]]


def _kind_of(value) -> str:
    """What a gradcheck input is, for the message that says none of them can be checked:
    its type, and its dtype where it has one."""
    if isinstance(value, Tensor):
        grad = "" if value.requires_grad else " without requires_grad"
        return f"a {value.dtype} Tensor{grad}"
    if isinstance(value, np.ndarray):
        return f"an ndarray of dtype {value.dtype}"
    return f"a {type(value).__name__}"


def _in_place_advice(err: Exception) -> str:
    """What to do where fn's in-place op refused a complex value (Tensor._in_place's cast
    error), else ""."""
    if not isinstance(err, InPlaceCastError):
        return ""
    return ("an in-place op wrote a complex value into a real tensor, which keeps its dtype; "
            "complex-step perturbs one input at a time, so a tensor fn made from another "
            "input stays real: write that op out of place (y = y.index_copy(...), not "
            "y.index_copy_(...)) or make the tensor from the perturbed input")


class ScalarLoss:
    """``fn`` and its inputs as the callable scalar L(arrays) = Σ_k ⟨v_k, f_k⟩.

    Checked inputs (floating/complex ndarrays, Tensors with ``requires_grad=True``, narrowed
    by ``only``) become private copies in ``arrays``, laid out in memory as the caller's
    (:func:`layout_copy`: a transposed or strided input stays so); the others are passed to
    ``fn`` unchanged (a floating ndarray as a constant Tensor, a Tensor that requires grad
    detached). The cotangents v_k are drawn at the first call, ``np.random.default_rng(seed)``
    standard normal per output (1 for a one-element output), unless given.
    """

    takes_arrays = False                        # fn takes Tensors (ArrayLoss: ndarrays)
    # what to do where fn raised on a complex input (complex-step)
    _complex_advice = ("every Function.forward it calls must accept complex128 arrays, and "
                       "code with no complex version cannot be complex-stepped: a Numba "
                       "kernel compiled for float64, scipy.special functions such as expit, "
                       "math.* functions")

    def __init__(self, fn, inputs, *, names=None, only=None, seed=0, name=None,
                 cotangents=None, array_outputs=False, who="gradcheck"):
        self.fn, self.seed, self.who = fn, seed, who
        self.name = name or _function_name(fn)
        self.array_outputs = array_outputs      # accept ndarray outputs (other frameworks)
        self.keyword = isinstance(inputs, dict)
        if isinstance(inputs, (Tensor, np.ndarray)) or library_of(inputs):
            inputs = [inputs]                   # one array is one input, not a list of rows
        # the dict's keys (fn's keyword names), or the positions
        self.keys: list = list(inputs) if self.keyword else list(range(len(inputs)))
        values = list(inputs.values()) if self.keyword else list(inputs)
        if names is not None and self.keyword:
            raise ValueError(f"{who}: names= is for positional inputs; a dict's keys already "
                             "name its inputs")
        if names is not None and len(names) != len(values):
            raise ValueError(f"{who}: names= gives {len(names)} names for {len(values)} inputs")
        self.arrays, self.constants, self.checked = [], [], []
        self.real_outputs: list = []            # outputs that stayed real in a complex step
        # called after each evaluation of L (gradcheck's progress bar), or None
        self.evaluated: Callable[[], None] | None = None
        # fn's outputs at x, which L subtracts (gradcheck sets them): see __call__
        self.reference: list | None = None
        # the dtype fn computes in where its outputs show one coarser than the inputs'
        # (gradcheck sets it from the first call: numdiff.output_precision)
        self.precision: np.dtype | None = None
        # fn's recorded ops, (Function name, device) (gradcheck reads them from the graph)
        self.ops: set[tuple[str, str]] = set()
        # fn's output number of each output in L (integer and bool ones are left out), and
        # how many it returns: a report names outputs as fn numbers them
        self.positions: tuple[int, ...] = (0,)
        self.n_outputs = 1
        self.names, self.labels, self.displays = [], [], []
        # the constant inputs already warned about (a scalar whose gradient is ignored)
        self.warned_constant: set[int] = set()
        # the names= the caller gave positional inputs (a report's reproduce line repeats them)
        self.given_names = () if names is None or self.keyword else tuple(map(str, names))
        named_by_caller = names is not None
        if not named_by_caller and not self.keyword:
            names = parameter_names(fn, len(values))     # None: "input 0", "input 1", ...
        # whether every input has a name (a dict's key, names=, fn's parameter) for only=
        self.named = self.keyword or names is not None
        for k, (key, v) in enumerate(zip(self.keys, values)):
            self._refuse_foreign(k, key, v)
            data = v.data if isinstance(v, Tensor) else v
            floating = isinstance(data, np.ndarray) and data.dtype.kind in "fc"
            check = floating and (v.requires_grad if isinstance(v, Tensor) else True)
            self.checked.append(check)
            self.arrays.append(layout_copy(data) if check else None)
            if isinstance(v, Tensor):
                self.constants.append(v.detach() if v.requires_grad else v)
            else:
                self.constants.append(Tensor(v) if floating else v)
            if self.keyword:                    # (name, label, how an element is written)
                nm, label, display = str(key), f"input {str(key)!r}", str(key)
            elif names is not None:
                nm = str(names[k])
                label, display = f"input {k} {nm!r}", nm
            else:
                nm, label, display = f"input {k}", f"input {k}", f"inputs[{k}]"
            self.names.append(nm)
            self.labels.append(label)
            self.displays.append(display)
            if named_by_caller and isinstance(v, (float, np.floating)):
                # a named scalar is one the caller means to check, but a scalar is held
                # constant: its gradient would be ignored without a word in the verdict
                self.warned_constant.add(k)
                warnings.warn(f"{who}: {label} is a scalar ({type(v).__name__}), held "
                              f"constant and not checked; pass np.array({float(v)!r}) to "
                              f"check its gradient", UserWarning, stacklevel=4)
        if only is not None:
            chosen = {self._resolve(w) for w in
                      (only if isinstance(only, (list, tuple, set)) else [only])}
            self.checked = [k in chosen for k in range(len(values))]
        if not any(self.checked):
            given = "; ".join(f"{label} is {_kind_of(v)}"
                              for label, v in zip(self.labels, values))
            raise ValueError(f"{who}: no input to check ({given}): pass floating-point "
                             "ndarrays (np.asarray(x, dtype=np.float64)), or Tensors with "
                             "requires_grad=True; other inputs are held constant")
        self.cotangents = None if cotangents is None else \
            [np.asarray(c, dtype=np.float64) for c in cotangents]

    def refuse_non_finite(self) -> None:
        """ValueError naming the first checked input that holds NaN or inf, and where: a
        derivative at a non-finite point is not defined, and x ± h stays where x is (inf) or
        is NaN, so every estimate there would be NaN and no step or method could help."""
        for k, x in enumerate(self.arrays):
            if x is None or not self.checked[k]:
                continue
            bad = ~np.isfinite(x)
            if np.any(bad):
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                at = f"{self.displays[k]}[{', '.join(map(str, idx))}]" if idx else \
                    self.displays[k]
                raise ValueError(
                    f"{self.who}: {self.labels[k]} is not finite: {at} is {x[idx]} "
                    f"({int(bad.sum())} of {x.size} elements NaN or infinite); derivatives "
                    f"are checked at finite points only (x ± h cannot step from inf or NaN): "
                    f"pass finite values, or hold the input constant (only= the others)")

    def _refuse_foreign(self, k: int, key, v) -> None:
        """A PyTorch/JAX array among the inputs: say how to convert it and how to check it."""
        library = library_of(v)
        if library is None:
            return
        what = f"input {key!r}" if self.keyword else f"input {k}"
        also = "" if self.takes_arrays or self.array_outputs else "; " + vjp_hint(library)
        raise TypeError(f"{self.who}: {what} is a {library} array ({_type_name(v)}); "
                        f"{self.who} takes NumPy arrays: {conversion_hint(library)}{also}")

    def _resolve(self, wanted) -> int:
        if isinstance(wanted, (int, np.integer)) and not isinstance(wanted, bool):
            k = int(wanted)
            if not 0 <= k < len(self.keys):
                raise ValueError(f"{self.who}: only={wanted!r} is out of range: there are "
                                 f"{len(self.keys)} inputs")
        elif wanted in self.names:
            k = self.names.index(wanted)
        elif not self.keyword and wanted in [f"input {j}" for j in range(len(self.keys))]:
            k = int(wanted.split()[1])          # the label's form of a named input
        else:
            raise ValueError(f"{self.who}: only={wanted!r} names no input; the inputs are "
                             + ", ".join(repr(n) for n in self.names))
        if not self.checked[k]:
            raise ValueError(f"{self.who}: only={wanted!r}: {self.labels[k]} cannot be checked "
                             "(pass a floating-point ndarray or a Tensor with "
                             "requires_grad=True)")
        return k

    def invoke(self, arrays, requires_grad: bool):
        """Call fn on ``arrays`` (checked positions) and the constants; return the argument
        list and the outputs L uses (floating Tensors; arrays too with array_outputs)."""
        args = [Tensor(a, requires_grad=requires_grad) if c else const
                for a, c, const in zip(arrays, self.checked, self.constants)]
        try:
            out = self.fn(**dict(zip(self.keys, args))) if self.keyword else self.fn(*args)
        except TypeError as err:
            library = library_in_traceback(err)
            if library is None:
                raise
            fix = vjp_hint(library) if not self.array_outputs else \
                f"convert each Tensor t with np.asarray(t) before handing it to {library}"
            raise TypeError(f"{self.who}: {self.name} calls {library}, which cannot take the "
                            f"nongate_np Tensors {self.who} passes to it ({err}); {fix}") from err
        outs = out if isinstance(out, (tuple, list)) else (out,)
        for o in outs:
            library = library_of(o)
            if library is not None:
                raise TypeError(f"{self.who}: {self.name} returned a {library} array "
                                f"({_type_name(o)}); " + (
                                    f"return NumPy arrays: {conversion_hint(library)}"
                                    if self.array_outputs else vjp_hint(library)))
        numbered = list(enumerate(outs))
        if self.array_outputs:
            numbered = [(j, o if isinstance(o, Tensor) else np.asarray(o)) for j, o in numbered
                        if o is not None]
        else:
            # a floating ndarray is an output backward cannot reach (integer ones, indices
            # beside the results, are left out of L)
            arrays = [j for j, o in enumerate(outs)
                      if isinstance(o, np.ndarray) and o.dtype.kind in "fc"]
            if arrays:
                which = "" if len(outs) == 1 else f" as output {arrays[0]}"
                raise TypeError(f"{self.who}: {self.name} returned an ndarray{which}; "
                                f"expected Tensors made by nongate_np ops, which backward "
                                f"can reach. To check a function on NumPy arrays, pass "
                                f"its vector-Jacobian product: {self.who}(fn, inputs, "
                                f"grad=vjp)")
        kept = [(j, o) for j, o in numbered
                if isinstance(o, (Tensor, np.ndarray)) and o.dtype.kind in "fc"]
        if not kept:
            raise TypeError(f"{self.who}: {self.name} returned {_type_name(out)}; expected "
                            "a floating-point Tensor or a tuple/list of them")
        self.positions, self.n_outputs = tuple(j for j, _ in kept), len(outs)
        self._draw_cotangents([tuple(o.shape) for _, o in kept])
        return args, [o for _, o in kept]

    def _draw_cotangents(self, shapes: list) -> None:
        """v_k at the first call; later calls must return outputs of the same shapes."""
        if self.cotangents is None:
            rng = np.random.default_rng(self.seed)
            self.cotangents = [np.ones(s) if int(np.prod(s)) == 1 else rng.standard_normal(s)
                               for s in shapes]
        if shapes != [c.shape for c in self.cotangents]:
            raise ValueError(f"{self.who}: {self.name} returned outputs of shapes {shapes}; "
                             f"expected {[c.shape for c in self.cotangents]} (the cotangents', "
                             "or those of its first call)")

    def __call__(self, arrays, complex_step: bool = False):
        """L(arrays), evaluated without recording a graph. Floating-point warnings are off:
        a probe x ± h may leave fn's domain (log of a negative), and the NaN or inf it gives
        is reported as such."""
        with no_grad(), warnings.catch_warnings(), np.errstate(all="ignore"):
            if complex_step:
                warnings.simplefilter("error", np.exceptions.ComplexWarning)
            try:
                _, outs = self.invoke(arrays, requires_grad=False)
            except np.exceptions.ComplexWarning as warning:
                raise ComplexStepNotApplicable(
                    f"{self.who}: {self.name}: complex-step is not applicable: fn casts a "
                    f"complex value to a real dtype ({warning}), which drops the imaginary "
                    "part that carries the derivative; use method='central'") from None
            except ComplexStepNotApplicable:
                raise
            except Exception as err:
                if not complex_step:
                    raise
                # NOTE: fn worked on the real inputs already (gradcheck's backward pass
                # called it): the complex input is what it cannot take
                raise ComplexStepNotApplicable(
                    f"{self.who}: {self.name}: complex-step is not applicable: fn raised "
                    f"{type(err).__name__} ({_first_line(err)}) on a complex128 input. "
                    f"Complex-step needs fn to compute in complex arithmetic: "
                    f"{_in_place_advice(err) or self._complex_advice}; use "
                    f"method='central' or 'directional'") from err
        datas = [o.data if isinstance(o, Tensor) else o for o in outs]
        if complex_step:
            # An output that does not depend on the perturbed input may stay real; if every
            # output does, nothing carries the perturbation and complex-step cannot work.
            self.real_outputs = [j for j, d in enumerate(datas) if not np.iscomplexobj(d)]
            if len(self.real_outputs) == len(datas):
                raise ComplexStepNotApplicable(
                    f"{self.who}: {self.name}: complex-step is not applicable: every output "
                    f"is real ({', '.join(str(d.dtype) for d in datas)}) for a complex input, "
                    "so fn drops the imaginary part (.real, abs, a cast to a real dtype, a "
                    "detour through .data into real arrays) or ignores that input; use "
                    "method='central'")
        assert self.cotangents is not None      # invoke draws them
        if self.evaluated is not None:
            self.evaluated()
        # NOTE: Σ⟨v, f − f(x)⟩ with the outputs at x set as ``reference``: the same
        # derivatives, but each output's change is taken before the sum, so a large output
        # that does not move (a count, a constant) cannot round away the others' changes
        ref = self.reference if self.reference is not None and \
            [np.shape(r) for r in self.reference] == [np.shape(d) for d in datas] \
            else [0.0] * len(datas)
        # NOTE: inf − inf where an output overflows: L is then NaN, which the checks report
        with np.errstate(all="ignore"):
            return sum((np.sum(v * (d - r)) for v, d, r in zip(self.cotangents, datas, ref)),
                       0.0)

    def gradient(self, k: int, method: str, eps=None) -> np.ndarray:
        """Numerical ∂L/∂x_k by "central" or "complex_step"."""
        if method == "central":
            return central_gradient(self, self.arrays, k, eps)
        try:
            return complex_step_gradient(lambda arrays: self(arrays, complex_step=True),
                                         self.arrays, k, eps)
        except ComplexStepNotApplicable as err:
            if str(err).startswith(f"{self.who}:"):
                raise
            raise ComplexStepNotApplicable(f"{self.who}: {self.labels[k]}: {err}") from None


def _first_line(err: BaseException, limit: int = 300) -> str:
    """An exception's message on one line, cut at ``limit`` characters (Numba's typing
    errors run to dozens of lines; the chained traceback keeps them whole)."""
    text = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _type_name(obj) -> str:
    """``torch.Tensor``, ``numpy.ndarray``, ``float``: the type as a user would write it."""
    cls = type(obj)
    return cls.__qualname__ if cls.__module__ == "builtins" else \
        f"{cls.__module__.split('.')[0]}.{cls.__qualname__}"


class ArrayLoss(ScalarLoss):
    """L(arrays) = Σ_k ⟨v_k, f_k⟩ for a function on NumPy arrays (any framework's, wrapped).

    ``fn(*arrays)`` receives the checked inputs as copies laid out in memory as the caller's
    (float64 ones stay float64; complex128 while complex-stepping) and every other input
    unchanged, and returns
    an ndarray, a scalar, or a tuple/list of them, floating-point; integer and bool ones
    (indices beside the values, as torch.max gives) are left out of L, their positions in
    ``integral``. ``single_output`` is True when it returns one value (not a tuple/list):
    the cotangent handed to a claimed vector-Jacobian product is then one array, else a
    tuple, with None in the place of each integer or bool output.
    """

    takes_arrays = True
    _complex_advice = ("where it mixes dtypes, convert every input to their common dtype, "
                       "np.result_type(*inputs), before the framework sees it; an op with no "
                       "complex version (in PyTorch relu, clamp, maximum, softplus) cannot be "
                       "complex-stepped")

    def __init__(self, fn, inputs, *, names=None, only=None, seed=0, name=None,
                 who="gradcheck"):
        if isinstance(inputs, dict):
            raise TypeError(f"{who}: with grad=, pass the inputs as a list (names= names "
                            "them), not a dict: fn and grad are called with positional "
                            "arguments, grad(*inputs, v)")
        one = isinstance(inputs, (np.ndarray, Tensor)) or library_of(inputs)
        inputs = [inputs] if one else list(inputs)
        for k, v in enumerate(inputs):
            if isinstance(v, Tensor):
                raise TypeError(f"{who}: input {k} is a nongate_np Tensor, but with grad= fn "
                                "takes NumPy arrays: pass t.numpy(); or drop grad= to check "
                                "the backward of a function of nongate_np Tensors")
        super().__init__(fn, inputs, names=names, only=only, seed=seed, name=name,
                         array_outputs=True, who=who)
        self.constants = inputs               # unchecked inputs are passed as they are
        self.single_output = True
        self.integral: tuple[int, ...] = ()   # positions of fn's integer and bool outputs

    def invoke(self, arrays, requires_grad: bool = False):
        """Call fn on ``arrays`` (checked positions) and the constants; return the argument
        list and the outputs as ndarrays."""
        args = [a if c else const for a, c, const in zip(arrays, self.checked, self.constants)]
        out = self.fn(*args)
        self.single_output = not isinstance(out, (tuple, list))
        every = [self._output(j, o) for j, o in enumerate([out] if self.single_output else out)]
        # as in backward's path (ScalarLoss.invoke): indices beside the values are left out
        self.integral = tuple(j for j, o in enumerate(every) if o.dtype.kind not in "fc")
        self.positions = tuple(j for j, o in enumerate(every) if o.dtype.kind in "fc")
        self.n_outputs = len(every)
        outs = [every[j] for j in self.positions]
        if not outs:
            raise TypeError(f"{self.who}: {self.name} returned dtype {every[0].dtype} as "
                            "output 0; expected a floating-point ndarray or scalar (integer "
                            "and bool outputs are left out of the check, and fn returned no "
                            "other)")
        self._draw_cotangents([o.shape for o in outs])
        return args, outs

    def _output(self, j: int, value) -> np.ndarray:
        library = library_of(value)
        if library is not None:
            raise TypeError(f"{self.who}: {self.name} returned a {library} array "
                            f"({_type_name(value)}) as output {j}; with grad=, fn returns "
                            f"NumPy arrays: {conversion_hint(library)}")
        arr = np.asarray(value) if isinstance(value, (np.ndarray, np.generic, float, complex,
                                                      int)) else None
        if arr is None or arr.dtype.kind not in "fciub":
            got = _type_name(value) if arr is None else f"dtype {arr.dtype}"
            raise TypeError(f"{self.who}: {self.name} returned {got} as output {j}; expected "
                            "a floating-point ndarray or scalar (or a tuple/list of them; "
                            "integer and bool ones are left out)")
        return arr


@contextlib.contextmanager
def progress_bar(loss: ScalarLoss, k: int, method: str, progress: bool | None):
    """A progress bar on stderr over the evaluations of L while input k's numerical
    gradient is computed by ``method``: always for ``progress`` True, never for False, for
    None on a terminal once it has run ``PROGRESS_DELAY`` seconds."""
    tty = getattr(sys.stderr, "isatty", None)
    if progress is False or (progress is None and not (tty is not None and tty())):
        yield
        return
    # imported here: training imports check
    from ..training.progress import ProgressBar
    x = loss.arrays[k]
    assert x is not None
    bar = ProgressBar((2 if method == "central" else 1) * x.size,
                      f"{loss.who} {loss.labels[k]}: {method.replace('_', '-')}",
                      delay=0.0 if progress else PROGRESS_DELAY)
    loss.evaluated = bar.update
    try:
        yield
    finally:
        loss.evaluated = None
        bar.close()


def numeric_gradient(fn, inputs, *, method: str = "central", eps=None, seed: int = 0,
                     only=None, names=None, cotangents=None, progress: bool | None = None):
    """Numerical vector-Jacobian products ∂L/∂x_j, L = Σ_k ⟨v_k, f_k(x)⟩, to compare with
    any framework's backward.

    ``inputs``, ``only``, ``names``, ``seed``, ``eps`` and ``progress`` are as in
    ``gradcheck``; ``method``
    is "central" or "complex_step". ``cotangents`` gives v_k, one array per output (default:
    the fixed-seed ones gradcheck draws). ``fn`` receives nongate_np Tensors and may return
    ndarrays (or anything ``np.asarray`` accepts), so it can wrap another framework::

        def f(x, w):                       # x, w: Tensors; np.asarray(x) is their ndarray
            x, w = np.asarray(x), np.asarray(w)
            dt = np.result_type(x, w)      # complex128 while complex-stepping one of them
            return torch.tanh(torch.from_numpy(x.astype(dt)) @
                              torch.from_numpy(w.astype(dt))).numpy()
        v = np.ones((3, 2))
        dx, dw = numeric_gradient(f, [x, w], method="complex_step", cotangents=[v])
        # against torch: y = torch.tanh(x_t @ w_t); y.backward(torch.from_numpy(v)); x_t.grad

    Returns a list aligned with ``inputs`` (None for inputs not checked), or a dict for a
    dict of inputs.
    """
    if method not in ("central", "complex_step"):
        raise ValueError(f"numeric_gradient: method must be 'central' or 'complex_step', "
                         f"got {method!r}")
    eps = check_option("numeric_gradient", "eps", eps, positive=True)
    loss = ScalarLoss(fn, inputs, names=names, only=only, seed=seed, cotangents=cotangents,
                      array_outputs=True, who="numeric_gradient")
    if progress not in (None, True, False):
        raise TypeError(f"numeric_gradient: progress must be True, False or None, got "
                        f"{progress!r}")
    loss.refuse_non_finite()
    grads = []
    for k, c in enumerate(loss.checked):
        with progress_bar(loss, k, method, progress if c else False):
            grads.append(loss.gradient(k, method, eps) if c else None)
    return dict(zip(loss.keys, grads)) if loss.keyword else grads
