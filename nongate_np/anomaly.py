"""Anomaly mode: find the op that first gave a NaN or an infinity (PyTorch's
``torch.autograd.detect_anomaly``).

Inside ``with detect_anomaly():`` the engine (``autograd.py``) checks the outputs of every
op as it computes them and every gradient that ``backward`` computes, and raises
:class:`AnomalyError` at the first array holding a NaN or an inf: it names the op (its
:class:`~nongate_np.Function` class, e.g. ``Log``), says whether the value is in a forward
output or in the gradient with respect to which input, and gives the line of the user's
code that called the op (the first frame outside this package, recorded when the op ran
in anomaly mode).

What is checked, and what is not:

* every floating or complex output of every op, fused ones (``LSTMLayer``,
  ``AttentionPool``) included, and every gradient an op's backward returns, plus the
  gradient reaching each op's outputs (``backward``'s ``grad=``, or a sum of finite
  gradients that overflowed);
* PyTorch checks the backward only; this mode checks the forward too, so a NaN is named
  where it first appears rather than where its gradient does. A non-finite value from
  outside (the user's data, a leaf's values, a tensor computed before the block) is not an
  op's output and is not reported where it enters: the first op that outputs a non-finite
  value because of it is, and the message says which of its inputs already held one. An
  op that returns a deliberate infinity (``where(mask, x, -inf)``) is reported too; ops
  that take one and return finite values (``softmax`` over ``-inf`` scores,
  ``cross_entropy`` with a ``-inf`` logit) are not;
* ``check_nan=False`` (as PyTorch) records the call sites only: an exception raised in an
  op's backward then gets a note naming the op and where it was called.

Inside the block NumPy's floating-point warnings of the ops are silenced (the error names
more than the warning would). The mode is per thread and nests; off (the default) the
engine pays one flag check per op and backward, and records nothing. On, each op costs a
walk up the stack and a finiteness pass over each output and gradient (GPU arrays are
copied to the host for it): a tool for finding a NaN, not for training.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from .device import device_of

__all__ = ["detect_anomaly", "is_anomaly_enabled", "AnomalyError"]

_F = TypeVar("_F", bound=Callable[..., Any])

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
# the engine and the ops: frames of the op itself, never where it was called from
_ENGINE = (os.path.join(_PACKAGE, "autograd.py"), os.path.join(_PACKAGE, "anomaly.py"),
           os.path.join(_PACKAGE, "ops") + os.sep)


class AnomalyError(RuntimeError):
    """A NaN or an inf appeared in an op's output or gradient inside :class:`detect_anomaly`.

    Attributes: ``op`` (the Function class's name), ``site`` (``"path:line (in function)"``
    of the user's call that created the op, with ``", via"`` the line of the library's
    module that called it if one did; None if it ran outside anomaly mode), ``phase``
    (``"forward"`` or ``"backward"``) and ``index`` (the output, or for a gradient the
    forward argument, it concerns)."""

    def __init__(self, message: str, *, op: str, site: str | None, phase: str, index: int):
        super().__init__(message)
        self.op, self.site, self.phase, self.index = op, site, phase, index


class _AnomalyState(threading.local):
    enabled = False
    check_nan = True


state = _AnomalyState()


class _SavedModes(threading.local):
    """The modes a :class:`detect_anomaly` object found on entering, per thread."""

    def __init__(self) -> None:
        self.stack: list[tuple[bool, bool]] = []


def is_anomaly_enabled() -> bool:
    """True inside :class:`detect_anomaly` on this thread."""
    return state.enabled


class detect_anomaly:
    """Context manager (and decorator) that raises :class:`AnomalyError` at the first op
    whose output or gradient holds a NaN or an inf (see the module's docstring).

    >>> import nongate_np as ng
    >>> x = ng.tensor([1.0, -1.0], requires_grad=True)
    >>> with ng.detect_anomaly():
    ...     ng.log(x)
    Traceback (most recent call last):
    ...
    nongate_np.anomaly.AnomalyError: detect_anomaly: the forward output 0 of 'Log' holds NaN ...

    Parameters
    ----------
    check_nan : bool
        Check the values (the default); False only records where each op was called, for
        the note added to an exception raised in a backward.

    Raises
    ------
    TypeError
        ``check_nan`` is not a bool.
    """

    def __init__(self, check_nan: bool = True):
        if not isinstance(check_nan, (bool, np.bool_)):
            raise TypeError(f"detect_anomaly: check_nan must be a bool, got "
                            f"{type(check_nan).__name__} {check_nan!r}")
        self.check_nan = bool(check_nan)
        self._saved = _SavedModes()          # per thread, a stack: one object may nest

    def __enter__(self) -> detect_anomaly:
        self._saved.stack.append((state.enabled, state.check_nan))
        state.enabled, state.check_nan = True, self.check_nan
        return self

    def __exit__(self, *exc: object) -> None:
        state.enabled, state.check_nan = self._saved.stack.pop()

    def __call__(self, func: _F) -> _F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]


def call_site() -> str:
    """``"path:line (in function)"`` of the innermost frame outside this package, and, when
    a module of the package called the op on the way (``nn/lstm.py``), ``", via"`` that
    line (the engine and ``ops/`` are skipped: they are the op itself)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_ENGINE):
        frame = frame.f_back            # type: ignore[assignment]
    inner = frame
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back            # type: ignore[assignment]
    site = ("inside nongate_np (no caller outside the package)" if frame is None else
            f"{frame.f_code.co_filename}:{frame.f_lineno} (in {frame.f_code.co_name})")
    if inner is not None and inner is not frame:
        path = os.path.relpath(inner.f_code.co_filename, os.path.dirname(_PACKAGE[:-1]))
        site += f", via {path}:{inner.f_lineno} (in {inner.f_code.co_name})"
    return site


def non_finite(value: Any) -> str | None:
    """What is not finite in ``value`` (an array on any device, or a Python number), e.g.
    ``"NaN (1 of 3 elements, the first at index (2,))"``; None if all is finite or the
    value is not a floating or complex number."""
    if isinstance(value, (float, complex, np.generic)):
        value = np.asarray(value)
    dtype = getattr(value, "dtype", None)
    if dtype is None or getattr(dtype, "kind", "") not in "fc":
        return None
    if type(value) is not np.ndarray:
        value = np.asarray(device_of(value).xp.to_host(value))
    finite = np.isfinite(value)
    if finite.all():
        return None
    n_nan = int(np.isnan(value).sum())
    n_bad = value.size - int(finite.sum())
    kinds = " and ".join(k for k, n in (("NaN", n_nan), ("inf", n_bad - n_nan)) if n)
    first = tuple(int(i) for i in np.unravel_index(int(np.argmin(finite)), value.shape))
    return f"{kinds} ({n_bad} of {value.size} elements, the first at index {first})"


def _argument_name(fn: type, k: int) -> str:
    """``"input k 'name'"`` from the signature of ``fn.forward`` (after ctx)."""
    params = list(inspect.signature(fn.forward).parameters.values())[1:]  # type: ignore[attr-defined]
    if k < len(params) and params[k].kind in (params[k].POSITIONAL_ONLY,
                                              params[k].POSITIONAL_OR_KEYWORD):
        return f"input {k} '{params[k].name}'"
    return f"input {k}"


def _where(site: str | None) -> str:
    return (f"the op was called at {site}" if site is not None else
            "the op was created outside detect_anomaly, so where is not known: run its "
            "forward inside the block too")


def check_forward(fn: type, args: Sequence[Any], outs: Sequence[Any], site: str) -> None:
    """AnomalyError at the first output of ``fn`` (run on ``args``) that is not finite."""
    for k, out in enumerate(outs):
        what = non_finite(out)
        if what is None:
            continue
        bad = [f"{_argument_name(fn, j)} held {found}" for j, a in enumerate(args)
               if (found := non_finite(a)) is not None]
        cause = ("from finite inputs" if not bad else
                 "but it did not start there: " + "; ".join(bad) + " (values from outside "
                 "the checked ops: your data, a leaf, or a tensor computed before the block)")
        raise AnomalyError(f"detect_anomaly: the forward output {k} of '{fn.__name__}' "
                           f"holds {what}, {cause}; {_where(site)}",
                           op=fn.__name__, site=site, phase="forward", index=k)


def run_forward(fn: type, ctx: Any, args: Sequence[Any]) -> tuple[Any, str]:
    """``fn.forward(ctx, *args)`` in anomaly mode, and the call site recorded for it; the
    outputs are checked (with ``check_nan``)."""
    site = call_site()
    if not state.check_nan:
        return fn.forward(ctx, *args), site  # type: ignore[attr-defined]
    with np.errstate(all="ignore"):
        out = fn.forward(ctx, *args)  # type: ignore[attr-defined]
    check_forward(fn, args, out if isinstance(out, tuple) else (out,), site)
    return out, site


def run_backward(fn: type, ctx: Any, grad_outputs: Sequence[Any], site: str | None,
                 inputs: Sequence[Any]) -> Any:
    """``fn.backward(ctx, *grad_outputs)`` in anomaly mode: the gradients reaching the op
    and those it returns for the ``inputs`` needing one are checked (with ``check_nan``),
    and an exception raised inside gets a note naming the op and its call site."""
    name = fn.__name__
    if state.check_nan:
        for k, g in enumerate(grad_outputs):
            if (what := non_finite(g)) is not None:
                raise AnomalyError(
                    f"detect_anomaly: the gradient reaching output {k} of '{name}' holds "
                    f"{what} before its backward ran (backward's grad=, or finite "
                    f"gradients from several uses whose sum overflowed); {_where(site)}",
                    op=name, site=site, phase="backward", index=k)
    try:
        with np.errstate(all="ignore") if state.check_nan else np.errstate():
            grads = fn.backward(ctx, *grad_outputs)  # type: ignore[attr-defined]
    except Exception as err:
        if hasattr(err, "add_note"):                 # Python 3.11+
            err.add_note(f"detect_anomaly: raised in the backward of '{name}'; "
                         f"{_where(site)}")
        raise
    if state.check_nan:
        for k, (t, g) in enumerate(zip(inputs, grads if isinstance(grads, tuple)
                                       else (grads,))):
            if t is not None and g is not None and (what := non_finite(g)) is not None:
                raise AnomalyError(
                    f"detect_anomaly: the gradient of '{name}' with respect to its "
                    f"{_argument_name(fn, k)} holds {what}, from finite gradients of its "
                    f"outputs; {_where(site)}",
                    op=name, site=site, phase="backward", index=k)
    return grads
