"""Einstein summation, as ``torch.einsum``: one autograd node whose backward is an einsum per
operand. Derivation: docs/math.md E40."""

from __future__ import annotations

import math
import string
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..autograd import Function
from ..kernels.array_api import NUMPY
from ..tensor import Tensor
from ._util import ieee, tensor_arg, xp_of

__all__ = ["einsum"]

# torch's order of the subscripts (its implicit output sorts by it): A-Z, then a-z
_LETTERS = string.ascii_uppercase + string.ascii_lowercase
_ELLIPSIS = len(_LETTERS)           # the label of the first broadcast dim of '...'


@dataclass(frozen=True)
class _Plan:
    """A parsed equation for operands of given shapes.

    Labels are ints: 0-51 the letters in torch's order, 52 up the dims of the ellipsis
    (52 its leftmost, broadcast over every operand, right-aligned). ``inputs[k]`` holds
    operand k's labels after the axes of size 1 that broadcast against a larger size have
    been dropped (``shapes[k]``: its shape then); ``output`` the result's labels; ``sizes``
    every label's size.
    """

    equation: str
    inputs: tuple[tuple[int, ...], ...]
    output: tuple[int, ...]
    shapes: tuple[tuple[int, ...], ...]
    sizes: dict[int, int]


def _name(label: int) -> str:
    return _LETTERS[label] if label < _ELLIPSIS else "..."


def _terms(equation: str, part: str, start: int) -> list[list[int | None]]:
    """The comma-separated terms of ``part`` (which begins at index ``start`` of the
    equation), each a list of letter labels and ``None`` for '...'; spaces are skipped."""
    terms: list[list[int | None]] = [[]]
    i = 0
    while i < len(part):
        c = part[i]
        if c == ",":
            terms.append([])
        elif c == ".":
            if part[i:i + 3] != "...":
                raise ValueError(f"einsum: a '.' at index {start + i} of {equation!r} is not "
                                 f"part of an ellipsis '...'")
            if None in terms[-1]:
                raise ValueError(f"einsum: a second '...' at index {start + i} of "
                                 f"{equation!r}; a term has at most one ellipsis")
            terms[-1].append(None)
            i += 2
        elif c in _LETTERS:
            terms[-1].append(_LETTERS.index(c))
        elif not c.isspace():
            raise ValueError(f"einsum: invalid subscript {c!r} at index {start + i} of "
                             f"{equation!r}; subscripts are the letters a-z and A-Z, and "
                             f"'...' for the dims they do not name")
        i += 1
    return terms


def _parse(equation: str, shapes: list[tuple[int, ...]]) -> _Plan:
    """The plan of ``equation`` for operands of ``shapes``; ValueError naming what is wrong."""
    lhs, arrow, rhs = equation.partition("->")
    if "->" in rhs:
        raise ValueError(f"einsum: {equation!r} has more than one '->'")
    if "," in rhs:
        raise ValueError(f"einsum: the output of {equation!r} has a ','; the output is one "
                         f"term")
    terms = _terms(equation, lhs, 0)
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: the equation {equation!r} names {len(terms)} operand(s) "
                         f"(its terms before '->', separated by ','), got {len(shapes)} "
                         f"operand(s)")
    # the dims of each term: its letters, and the dims its '...' stands for
    n_ellipsis = 0
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        named = sum(t is not None for t in term)
        if (None in term and len(shape) < named) or (None not in term and len(shape) != named):
            sub = "".join("..." if t is None else _LETTERS[t] for t in term)
            raise ValueError(f"einsum: operand {k} has {len(shape)} dim(s) (shape {shape}) "
                             f"but its subscripts {sub!r} name {named}"
                             + ("" if None in term else "; '...' would stand for the rest"))
        if None in term:
            n_ellipsis = max(n_ellipsis, len(shape) - named)
    ellipsis = tuple(range(_ELLIPSIS, _ELLIPSIS + n_ellipsis))
    labels = [_expanded(term, len(shape), ellipsis) for term, shape in zip(terms, shapes)]
    output = _output(equation, arrow, rhs, labels, ellipsis, len(lhs) + 2)
    sizes = _sizes(labels, shapes)
    # NOTE: an axis of size 1 against a larger size of its label is broadcast: the operand
    # does not depend on that label, which is dropped from it (E40; summed by E1 backward)
    canonical, squeezed = [], []
    for own, shape in zip(labels, shapes):
        keep = [a for a, (label, n) in enumerate(zip(own, shape)) if n == sizes[label]]
        canonical.append(tuple(own[a] for a in keep))
        squeezed.append(tuple(shape[a] for a in keep))
    if len(sizes) > len(_LETTERS):
        raise ValueError(f"einsum: {equation!r} with these operands has {len(sizes)} "
                         f"distinct dims; at most {len(_LETTERS)} are supported")
    return _Plan(equation, tuple(canonical), output, tuple(squeezed), sizes)


def _expanded(term: list[int | None], ndim: int, ellipsis: tuple[int, ...]) -> tuple[int, ...]:
    """A term's labels, one per dim: its letters, and its '...' as the last of the
    ``ellipsis`` labels (right-aligned: a term's '...' may stand for fewer dims)."""
    own = ndim - (len(term) - (None in term))           # the dims its '...' stands for
    out: list[int] = []
    for t in term:
        out.extend(ellipsis[len(ellipsis) - own:] if t is None else (t,))
    return tuple(out)


def _output(equation: str, arrow: str, rhs: str, labels: list[tuple[int, ...]],
            ellipsis: tuple[int, ...], start: int) -> tuple[int, ...]:
    """The output's labels: those after '->', or (implicit) the '...' dims then the letters
    that appear once in the whole equation, in torch's order (A-Z, then a-z)."""
    if not arrow:
        counts: dict[int, int] = {}
        for own in labels:
            for label in own:
                counts[label] = counts.get(label, 0) + 1
        return ellipsis + tuple(sorted(t for t, c in counts.items() if c == 1 and t < _ELLIPSIS))
    (wanted,) = _terms(equation, rhs, start)
    seen = {label for t in labels for label in t}
    for i, item in enumerate(wanted):
        if item is None:
            continue
        label = item
        if wanted.index(label) != i:
            raise ValueError(f"einsum: the output subscript {_LETTERS[label]!r} appears more "
                             f"than once in {equation!r}; each output dim has its own")
        if label not in seen:
            raise ValueError(f"einsum: the output subscript {_LETTERS[label]!r} of "
                             f"{equation!r} appears in no operand's subscripts")
    # NOTE: no '...' in an explicit output sums the dims of the inputs' '...' (torch's rule)
    return _expanded(wanted, len(wanted) - (None in wanted) + len(ellipsis), ellipsis)


def _sizes(labels: list[tuple[int, ...]], shapes: list[tuple[int, ...]]) -> dict[int, int]:
    """Each label's size: equal in every dim it labels, or 1 there (broadcast)."""
    sizes: dict[int, int] = {}
    where: dict[int, int] = {}
    for k, (term, shape) in enumerate(zip(labels, shapes)):
        for a, (label, n) in enumerate(zip(term, shape)):
            first = term.index(label)
            if first != a and shape[first] != n:
                raise ValueError(f"einsum: subscript {_name(label)!r} is repeated in operand "
                                 f"{k} (shape {shape}) on dims of sizes {shape[first]} and "
                                 f"{n}; a repeated subscript takes a diagonal, which needs "
                                 f"equal sizes")
            old = sizes.get(label)
            if old is None or old == 1:
                sizes[label], where[label] = n, k
            elif n not in (1, old):
                what = (f"subscript {_LETTERS[label]!r}" if label < _ELLIPSIS else
                        f"dim {label - _ELLIPSIS} of the '...' broadcast dims")
                raise ValueError(f"einsum: {what} has size {old} in operand {where[label]} "
                                 f"(shape {shapes[where[label]]}) and {n} in operand {k} "
                                 f"(shape {shape}); the sizes of one subscript must be equal, "
                                 f"or 1 to broadcast")
    return sizes


def _unique(labels: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(labels))


def _diagonal_index(labels: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    """The flat (C order) positions in an array of ``shape`` with ``labels`` (a label
    repeated) of its diagonal: shape (size of each unique label), element [i, j, ...] the
    position where every axis of the first unique label is i, of the second j, ..."""
    unique = _unique(labels)
    grid = [shape[labels.index(label)] for label in unique]
    strides = [math.prod(shape[a + 1:]) for a in range(len(shape))]
    flat = np.zeros(grid, np.int64)
    for a, label in enumerate(labels):
        u = unique.index(label)
        axis = np.arange(grid[u], dtype=np.int64).reshape(
            (1,) * u + (grid[u],) + (1,) * (len(unique) - u - 1))
        flat = flat + axis * strides[a]
    return flat


def _letters(labels: tuple[int, ...], names: dict[int, str]) -> str:
    return "".join(names[label] for label in labels)


def _contract(xp: Any, inputs: list[tuple[int, ...]], output: tuple[int, ...],
              arrays: list[Any]) -> Any:
    """Σ over the labels not in ``output`` of the product of ``arrays`` (each with its
    ``inputs`` labels; every output label is in some input, none repeated there): NumPy's
    einsum on the CPU, :func:`_composed` on another device."""
    if xp is not NUMPY:
        return _composed(xp, inputs, output, arrays)
    every = sorted({label for term in inputs for label in term})
    names = {label: _LETTERS[i] for i, label in enumerate(every)}
    spec = ",".join(_letters(t, names) for t in inputs) + "->" + _letters(output, names)
    # NOTE: NumPy's path search (BLAS for the pairs that are products) pays from 2 operands
    y = np.einsum(spec, *arrays, optimize=len(arrays) > 1)
    if any(np.may_share_memory(y, a) for a in arrays):
        y = y.copy()                # a transpose or a diagonal: a view of the operand
    return y


def _composed(xp: Any, inputs: list[tuple[int, ...]], output: tuple[int, ...],
              arrays: list[Any]) -> Any:
    """:func:`_contract` from the device's functions: each operand's diagonals (``take``),
    its labels needed nowhere else summed out, then the operands taken pairwise left to
    right, each pair one batched ``matmul`` (batch dims, the kept dims of each, and the dims
    summed together), and the output's order at the end."""
    ops: list[tuple[tuple[int, ...], Any]] = []
    for labels, a in zip(inputs, arrays):
        unique = _unique(labels)
        if len(unique) < len(labels):
            a = xp.take(xp.reshape(a, (-1,)), _diagonal_index(labels, tuple(a.shape)))
        ops.append((unique, a))

    def needed(skip: tuple[int, ...]) -> set[int]:
        """The labels the output or an operand other than those at ``skip`` has."""
        return set(output).union(*(t for i, (t, _) in enumerate(ops) if i not in skip))

    def summed(labels: tuple[int, ...], a: Any, keep: set[int]) -> tuple[tuple[int, ...], Any]:
        gone = tuple(i for i, label in enumerate(labels) if label not in keep)
        if not gone:
            return labels, a
        return tuple(t for t in labels if t in keep), xp.sum(a, axis=gone)

    def moved(labels: tuple[int, ...], a: Any, order: list[int]) -> Any:
        axes = tuple(labels.index(t) for t in order)
        return a if axes == tuple(range(len(axes))) else xp.transpose(a, axes)

    while len(ops) > 1:
        keep = needed((0, 1))
        (la, a), (lb, b) = ops[0], ops[1]
        la, a = summed(la, a, keep | set(lb))
        lb, b = summed(lb, b, keep | set(la))
        batch = [t for t in la if t in lb and t in keep]
        inner = [t for t in la if t in lb and t not in keep]
        rows = [t for t in la if t not in lb]
        cols = [t for t in lb if t not in la]

        def size(order: list[int], labels: tuple[int, ...], shape: Any) -> int:
            return math.prod(shape[labels.index(t)] for t in order)

        n = size(batch, la, a.shape)
        a2 = xp.reshape(moved(la, a, batch + rows + inner),
                        (n, size(rows, la, a.shape), size(inner, la, a.shape)))
        b2 = xp.reshape(moved(lb, b, batch + inner + cols),
                        (n, size(inner, lb, b.shape), size(cols, lb, b.shape)))
        shape = tuple(a.shape[la.index(t)] for t in batch + rows) + \
            tuple(b.shape[lb.index(t)] for t in cols)
        ops[:2] = [(tuple(batch + rows + cols), xp.reshape(xp.matmul(a2, b2), shape))]
    labels, a = summed(*ops[0], set(output))
    return moved(labels, a, list(output))


@ieee
class Einsum(Function):
    """y = einsum(equation, x_1, …, x_n): the product of the operands summed over the
    subscripts the output lacks;  dx_k = einsum(dy, x_j for j ≠ k → x_k's subscripts)  (E40).

    The two cases an einsum cannot write (E40): a subscript of x_k in neither the output nor
    another operand (summed in x_k alone) has a gradient constant along it, broadcast; a
    subscript repeated in x_k (a diagonal) gets its gradient on the diagonal, 0 elsewhere.
    Axes of size 1 broadcast against a larger size of their subscript are dropped from the
    operand first (the plan's ``shapes``), so their gradient is summed (E1).
    Saved: the operands the other operands' gradients need. Inputs: the plan, then the
    operands.
    """

    @staticmethod
    def forward(ctx, plan: _Plan, *xs):
        xp = xp_of(*xs)
        arrays = [x if tuple(x.shape) == s else xp.reshape(x, s)
                  for x, s in zip(xs, plan.shapes)]
        ctx.plan, ctx.shapes = plan, tuple(tuple(x.shape) for x in xs)
        wanted = ctx.needs_grad[1:]
        # NOTE: operand j is needed by the gradient of every other operand
        ctx.save_for_backward(*(a if sum(wanted) - wanted[j] > 0 else None
                                for j, a in enumerate(arrays)))
        return _contract(xp, list(plan.inputs), plan.output, arrays)

    @staticmethod
    def backward(ctx, dy):
        plan: _Plan = ctx.plan
        xp = xp_of(dy)
        grads: list[Any] = [None]
        for k, labels in enumerate(plan.inputs):
            if not ctx.needs_grad[k + 1]:
                grads.append(None)
                continue
            others = [j for j in range(len(plan.inputs)) if j != k]
            present = set(plan.output).union(*(plan.inputs[j] for j in others))
            unique = _unique(labels)
            target = tuple(t for t in unique if t in present)
            g = _contract(xp, [plan.output] + [plan.inputs[j] for j in others], target,
                          [dy] + [ctx.saved[j] for j in others])
            grid = tuple(plan.sizes[t] for t in unique)
            if len(target) < len(unique):       # E40: summed in x_k alone, so broadcast
                g = xp.broadcast_to(xp.reshape(g, tuple(n if t in present else 1 for t, n
                                                        in zip(unique, grid))), grid)
            if len(unique) < len(labels):       # E40: a repeated subscript, the diagonal
                g = _on_diagonal(xp, g, labels, plan.shapes[k])
            grads.append(xp.reshape(g, ctx.shapes[k]))
        return tuple(grads)


def _on_diagonal(xp: Any, g: Any, labels: tuple[int, ...], shape: tuple[int, ...]) -> Any:
    """An array of ``shape`` (``labels``, some repeated) holding ``g`` (one axis per unique
    label) on its diagonal and 0 elsewhere (E40)."""
    flat = _diagonal_index(labels, shape).reshape(-1)
    if xp is NUMPY:
        out = np.zeros(math.prod(shape), g.dtype)
        out[flat] = np.reshape(g, -1)
    else:
        out = xp.zeros((math.prod(shape),), g.dtype)
        xp.add_at(out, flat, xp.reshape(g, (-1,)))
    return xp.reshape(out, shape)


def _from_sublists(args: tuple) -> tuple[str, list]:
    """torch's sublist form ``einsum(x, [0, 1], y, [1, 2], [0, 2])``: the equation (ints
    0-25 as A-Z, 26-51 as a-z, ``...`` as an ellipsis) and the operands."""
    def term(sub, what: str) -> str:
        if not isinstance(sub, (list, tuple)):
            raise TypeError(f"einsum: {what} must be a list of ints (0-51) and ..., got "
                            f"{type(sub).__name__}")
        out = []
        for s in sub:
            if s is Ellipsis:
                out.append("...")
            elif isinstance(s, (int, np.integer)) and not isinstance(s, bool) and \
                    0 <= s < len(_LETTERS):
                out.append(_LETTERS[s])
            else:
                raise ValueError(f"einsum: {what} holds {s!r}; a sublist holds ints in "
                                 f"[0, 52) and ...")
        return "".join(out)
    operands, subs = list(args[0::2]), list(args[1::2])
    output = None
    if len(args) % 2:                   # a last sublist without its operand: the output
        output = term(operands.pop(), "the output sublist")
    lhs = ",".join(term(s, f"the sublist of operand {k}") for k, s in enumerate(subs))
    return lhs + ("" if output is None else "->" + output), operands


def _check_dtypes(xs: list[Tensor]) -> None:
    dtypes = [x.dtype for x in xs]
    first = dtypes[0]
    for k, d in enumerate(dtypes[1:], 1):
        if d != first and not ({d.kind, first.kind} == {"c", "f"} and
                               np.finfo(d).dtype == np.finfo(first).dtype):
            raise TypeError(f"einsum: operand 0 is {first} and operand {k} is {d}; convert "
                            f"them to one dtype, as torch, which refuses mixed dtypes too")


def einsum(*args) -> Tensor:
    """Einstein summation, as ``torch.einsum``: ``einsum("ij,jk->ik", a, b)`` is a @ b.

    Call forms: ``einsum(equation, *operands)``, ``einsum(equation, [operands])`` (a list
    or tuple), and torch's sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` (ints 0-25
    stand for A-Z, 26-51 for a-z, ``...`` for an ellipsis).

    The equation: one term of subscripts (letters a-z, A-Z) per operand, separated by
    ``,``, naming its dims in order; ``...`` in a term stands for the dims its letters
    leave, broadcast across operands (right-aligned, as NumPy's). ``->`` then the output's
    subscripts (none: a scalar); without ``->`` the output is the ``...`` dims, then the
    letters that appear once, in torch's order (A-Z before a-z). The result multiplies the
    operands and sums over every subscript the output lacks; a subscript repeated in one
    term takes the diagonal (``"ii->i"``, ``"ii"`` the trace); an explicit output without
    ``...`` sums the ``...`` dims. Dims of one subscript have one size, or size 1 to
    broadcast (torch's rule). Spaces are ignored.

    Gradient: one einsum of dy with the other operands per operand, broadcast along the
    subscripts only it has, on the diagonal of its repeated ones (docs/math.md E40). The
    forward and backward run NumPy's ``einsum`` (its path search from 2 operands, BLAS for
    the products); on the GPU a composition of the device's functions (diagonals by
    ``take``, transposes, sums and one batched ``matmul`` per pair of operands, left to
    right; float32 and float64 there, as the device matmul).

    Shapes: per the equation; dtype: the operands', which must agree (TypeError otherwise,
    as torch), except complex and real of one precision (a complex-step check); integer
    and bool operands compute as NumPy's einsum does, without gradient.

    Raises ValueError (torch: RuntimeError) for a number of operands other than the
    equation's terms (or none), a term naming another number of dims than its operand has,
    sizes of one subscript that differ (neither 1), a repeated subscript on dims of
    different sizes, a character that is not a letter (or a '.' outside '...', two '...' in
    one term), an output subscript in no input or repeated, more than one '->'; TypeError
    for an equation that is not a str and for dtypes that differ.
    """
    if args and not isinstance(args[0], str) and not isinstance(args[0], (list, tuple)) \
            and len(args) >= 2 and isinstance(args[1], (list, tuple)):
        equation, operands = _from_sublists(args)
    elif not args or not isinstance(args[0], str):
        raise TypeError("einsum: the first argument must be the equation, a str such as "
                        f"'ij,jk->ik', got {type(args[0]).__name__ if args else 'nothing'}")
    else:
        equation, operands = args[0], list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])            # torch's einsum(equation, [a, b])
    if not operands:
        raise ValueError(f"einsum: {equation!r} needs at least one operand, got none")
    xs = [tensor_arg(x, "einsum") for x in operands]
    _check_dtypes(xs)
    plan = _parse(equation, [tuple(x.shape) for x in xs])
    return Einsum.apply(plan, *xs)
