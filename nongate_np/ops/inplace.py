"""Tensor's named in-place methods, as PyTorch's: ``add_``, ``sub_``, ``mul_``, ``div_``,
``zero_``, ``fill_``, ``copy_``, ``clamp_`` (``clip_``, ``clamp_min_``, ``clamp_max_``),
``masked_fill_``, ``scatter_add_``, ``scatter_``, ``scatter_reduce_``, ``index_add_``,
``index_copy_``, ``index_fill_``, ``neg_``, ``exp_``, ``tanh_``, ``sigmoid_``, ``relu_``.

Each is ``Tensor._in_place``, the path of ``x += y`` too, given the ops that compute the new
value: x's array takes it in place (x's dtype and shape kept; the argument broadcast), x is
returned, and where gradients are recorded x takes the result's place in the graph
(docs/math.md E23). A leaf requiring grad is changed only under ``no_grad`` (RuntimeError
otherwise); a node that saved x's old values raises at backward. ``ops/methods.py`` binds
:data:`IN_PLACE` onto ``Tensor``.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._util import tensor_arg
from .elementwise import (
    add,
    clamp,
    clamp_max,
    clamp_min,
    clip,
    div,
    exp,
    mul,
    neg,
    relu,
    sigmoid,
    sub,
    tanh,
    where,
)
from .logical import masked_fill
from .scatter import index_add, index_copy, index_fill, scatter, scatter_add, scatter_reduce

__all__ = ["IN_PLACE"]


def _scaled(y, alpha):
    """``alpha · y``: y itself for alpha 1 (no op recorded), a recorded product for a
    tensor, else a constant (an array stays on the host, as ``y`` would: the op moves it)."""
    if alpha == 1:
        return y
    return mul(y, alpha) if isinstance(y, Tensor) else np.multiply(y, alpha)


def _add_(self, other, *, alpha=1):
    """``self + alpha · other`` written into self, as torch's ``add_``; returns self.

    ``other``: a tensor (broadcast to self's shape, never the reverse), an array or a number;
    ``alpha`` a number. The gradient: ``other`` gets ``alpha`` times self's (E23, E2-E3).
    Raises RuntimeError on a leaf requiring grad outside ``no_grad``, ValueError where the
    result's shape is not self's, TypeError where its dtype does not cast ``same_kind`` to
    self's (a float ``alpha`` or ``other`` for an integer tensor)."""
    return self._in_place("add_", lambda x, y: add(x, _scaled(y, alpha)), other,
                          instead="x = x.add(y)")


def _sub_(self, other, *, alpha=1):
    """``self - alpha · other`` written into self, as torch's ``sub_``; returns self. As
    :meth:`Tensor.add_`."""
    return self._in_place("sub_", lambda x, y: sub(x, _scaled(y, alpha)), other,
                          instead="x = x.sub(y)")


def _mul_(self, other):
    """``self · other`` (element-wise) written into self, as torch's ``mul_``; returns
    self. As :meth:`Tensor.add_`."""
    return self._in_place("mul_", mul, other, instead="x = x.mul(y)")


def _div_(self, other):
    """``self / other`` (true division) written into self, as torch's ``div_``; returns
    self. As :meth:`Tensor.add_`; an integer tensor raises TypeError (its quotient is a
    float), as torch's RuntimeError."""
    return self._in_place("div_", div, other, instead="x = x.div(y)")


_NOWHERE = np.False_      # where's condition: every element from the new value


def _overwrite(x: Tensor, value: Tensor) -> Tensor:
    """``where(false, x, value)`` (E23): value moved to x's device, converted to x's dtype
    (any conversion, as torch's ``copy_``: a float truncated for an integer tensor) and
    broadcast to x's shape; x's old value stays in the graph with gradient 0, as torch's."""
    return where(_NOWHERE, x, value.to(x.device).to(x.dtype))


def _zero_(self):
    """Every element of self set to 0, as torch's ``zero_``; returns self. Recorded where
    self requires grad: what self held gets gradient 0 (E23). Raises RuntimeError on a leaf
    requiring grad outside ``no_grad``."""
    return self._in_place("zero_", _overwrite, tensor_arg(0, "zero_"))


def _fill_(self, value):
    """Every element of self set to ``value``, as torch's ``fill_``; returns self.

    ``value``: a number, or a 0-d tensor (which gets the sum of self's gradient, E23),
    converted to self's dtype (2.7 is 2 in an integer tensor, as torch). Raises ValueError
    for a tensor of more dimensions (``copy_`` writes one), RuntimeError on a leaf requiring
    grad outside ``no_grad``."""
    value = tensor_arg(value, "fill_")
    if value.ndim != 0:
        raise ValueError(f"fill_: the value must be a number or a 0-d tensor, got a tensor "
                         f"of shape {value.shape}; use copy_ to write a tensor")
    return self._in_place("fill_", _overwrite, value)


def _copy_(self, src, non_blocking: bool = False):
    """``src``'s elements written into self, as torch's ``copy_``; returns self.

    ``src``: a tensor (an array is taken too) of self's shape or one that broadcasts to it,
    on either device and of any dtype: moved to self's device and converted to its dtype.
    Recorded where either requires grad: src gets self's gradient, summed over the broadcast
    axes and converted back to its dtype and device; what self held gets 0 (E23).
    ``non_blocking`` is accepted for torch's code and changes nothing (copies complete before
    the call returns). Raises ValueError where src's shape does not broadcast to self's,
    RuntimeError on a leaf requiring grad outside ``no_grad``, TypeError for complex values
    into a real tensor."""
    src = tensor_arg(src, "copy_")
    try:
        fits = np.broadcast_shapes(src.shape, self.shape) == self.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"copy_: src of shape {src.shape} does not broadcast to the "
                         f"tensor's shape {self.shape} (aligned from the right, each "
                         f"dimension of src equal to the tensor's or 1)")
    return self._in_place("copy_", _overwrite, src)


def _clamp_(self, min=None, max=None):
    """self limited to [min, max] in place, as torch's ``clamp_`` (:func:`clamp`'s bounds
    and gradient, E21); returns self. A float bound for an integer tensor raises TypeError,
    as torch's RuntimeError."""
    return self._in_place("clamp_", lambda x: clamp(x, min, max), instead="x = x.clamp(...)")


def _clip_(self, min=None, max=None):
    """``clamp_`` under torch's other name."""
    return self._in_place("clip_", lambda x: clip(x, min, max), instead="x = x.clip(...)")


def _clamp_min_(self, min):
    """``clamp_(min=min)``, as torch's ``clamp_min_``; returns self."""
    return self._in_place("clamp_min_", lambda x: clamp_min(x, min),
                          instead="x = x.clamp_min(...)")


def _clamp_max_(self, max):
    """``clamp_(max=max)``, as torch's ``clamp_max_``; returns self."""
    return self._in_place("clamp_max_", lambda x: clamp_max(x, max),
                          instead="x = x.clamp_max(...)")


def _masked_fill_(self, mask, value):
    """``value`` written into self where ``mask`` is True, as torch's ``masked_fill_``;
    returns self. :func:`masked_fill`'s value and gradient (E8, E1) recorded in place (E23):
    self's old value gets dy where the mask is False, a 0-d tensor ``value`` the sum of dy
    where it is True. ``mask`` broadcasts to self's shape, never the reverse (ValueError).
    Raises RuntimeError on a leaf requiring grad outside ``no_grad``, and what
    :func:`masked_fill` raises."""
    return self._in_place("masked_fill_", lambda x, v: masked_fill(x, mask, v), value,
                          instead="x = x.masked_fill(mask, value)")


def _scatter_add_(self, dim, index, src):
    """:func:`scatter_add` written into self, as torch's ``scatter_add_``; returns self.
    Recorded in place (E23, E44): self's old value gets dy, ``src`` dy gathered at the
    positions it went to. Raises RuntimeError on a leaf requiring grad outside
    ``no_grad``, and what :func:`scatter_add` raises."""
    return self._in_place("scatter_add_", lambda x, s: scatter_add(x, dim, index, s), src,
                          instead="x = x.scatter_add(dim, index, src)")


def _scatter_(self, dim, index, src=None, *, value=None, reduce=None):
    """:func:`scatter` written into self, as torch's ``scatter_``; returns self. Recorded in
    place (E23, E45): self's old value gets dy off the positions written, ``src`` dy where
    each kept value went. Raises RuntimeError on a leaf requiring grad outside
    ``no_grad``, and what :func:`scatter` raises."""
    if isinstance(src, Tensor):
        return self._in_place("scatter_", lambda x, s: scatter(x, dim, index, s), src,
                              instead="x = x.scatter(dim, index, src)")
    return self._in_place("scatter_", lambda x: scatter(x, dim, index, src, value=value,
                                                        reduce=reduce),
                          instead="x = x.scatter(dim, index, src)")


def _scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
    """:func:`scatter_reduce` written into self, as torch's ``scatter_reduce_``; returns
    self (E23, E48). Raises RuntimeError on a leaf requiring grad outside ``no_grad``, and
    what :func:`scatter_reduce` raises."""
    return self._in_place("scatter_reduce_", lambda x, s: scatter_reduce(
        x, dim, index, s, reduce, include_self=include_self), src,
        instead="x = x.scatter_reduce(dim, index, src, reduce)")


def _index_add_(self, dim, index, source, *, alpha=1):
    """:func:`index_add` written into self, as torch's ``index_add_``; returns self (E23,
    E46). Raises RuntimeError on a leaf requiring grad outside ``no_grad``, and what
    :func:`index_add` raises."""
    return self._in_place("index_add_", lambda x, s: index_add(x, dim, index, s, alpha=alpha),
                          source, instead="x = x.index_add(dim, index, source)")


def _index_copy_(self, dim, index, source):
    """:func:`index_copy` written into self, as torch's ``index_copy_``; returns self (E23,
    E46). Raises RuntimeError on a leaf requiring grad outside ``no_grad``, and what
    :func:`index_copy` raises."""
    return self._in_place("index_copy_", lambda x, s: index_copy(x, dim, index, s), source,
                          instead="x = x.index_copy(dim, index, source)")


def _index_fill_(self, dim, index, value):
    """:func:`index_fill` written into self, as torch's ``index_fill_``; returns self (E23,
    E46). Raises RuntimeError on a leaf requiring grad outside ``no_grad``, and what
    :func:`index_fill` raises."""
    return self._in_place("index_fill_", lambda x: index_fill(x, dim, index, value),
                          instead="x = x.index_fill(dim, index, value)")


def _unary(op):
    """The in-place method of the element-wise op ``op``: ``self.NAME_()`` writes
    ``op(self)`` into self."""
    name = f"{op.__name__}_"

    def method(self):
        return self._in_place(name, op, instead=f"x = x.{op.__name__}()")
    method.__doc__ = (f"``{op.__name__}(self)`` written into self, as torch's ``{name}``; "
                      f"returns self (the gradient: E23 and the op's own). Raises "
                      f"RuntimeError on a leaf requiring grad outside ``no_grad``, "
                      f"TypeError where the result's dtype does not cast to self's.")
    return method


# The methods, by name (ops/methods.py binds them onto Tensor).
IN_PLACE = {"add_": _add_, "sub_": _sub_, "mul_": _mul_, "div_": _div_, "zero_": _zero_,
            "fill_": _fill_, "copy_": _copy_, "clamp_": _clamp_, "clip_": _clip_,
            "clamp_min_": _clamp_min_, "clamp_max_": _clamp_max_,
            "masked_fill_": _masked_fill_, "scatter_add_": _scatter_add_,
            "scatter_": _scatter_, "scatter_reduce_": _scatter_reduce_,
            "index_add_": _index_add_, "index_copy_": _index_copy_, "index_fill_": _index_fill_,
            **{f"{op.__name__}_": _unary(op) for op in (neg, exp, tanh, sigmoid, relu)}}
