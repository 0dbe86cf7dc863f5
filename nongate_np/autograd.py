"""Graph recording and reverse-mode differentiation.

An op is a :class:`Function` subclass with two static methods working on plain ndarrays:
``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)``. ``Function.apply`` unwraps
Tensor arguments, runs ``forward`` and, when gradients are enabled and some input requires
one, records a :class:`Node` on the outputs. ``backward`` walks the recorded nodes in
reverse topological order with an explicit stack (no recursion, so a chain of 100,000 ops
is fine) and accumulates ``.grad`` on the leaves. Inside ``detect_anomaly`` both go through
``anomaly.py``, which checks every output and gradient for NaN and inf. A tensor's
``register_hook`` hooks get its whole gradient: a non-leaf's before it flows on to the op
that made it, a leaf's once the graph is walked, before it is added to ``.grad``. At its end a
backward runs the leaves' post-accumulate-grad hooks, then the callbacks they queued
(:func:`queue_callback`): how data parallelism reduces the gradients once per backward.
:func:`grad` walks the same graph for the gradients of given inputs, returned instead of
accumulated, running only the nodes on a path to them.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import inspect
import itertools
import threading
import weakref
from typing import Any, Callable

import numpy as np
import numpy.typing as npt

from . import anomaly
from .device import CPU, DeviceError, device_of
from .tensor import Tensor

__all__ = ["Function", "Context", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "backward", "grad", "queue_callback", "GradientShapeError",
           "mark_changed", "recorded_ops"]


# ---------------------------------------------------------------------------------------------
# Grad mode
# ---------------------------------------------------------------------------------------------

class _GradState(threading.local):
    enabled = True
    callbacks: list | None = None    # queue_callback's list while a backward runs

    def __init__(self):
        # the modes the open grad-mode blocks of this thread replaced, innermost last: a
        # ``with`` block ends in the thread it began, after the blocks opened inside it
        self.saved: list[bool] = []


_grad_mode = _GradState()
_anomaly = anomaly.state


def is_grad_enabled() -> bool:
    """True when ops record the graph (the default)."""
    return _grad_mode.enabled


class _GradModeContext:
    """Sets the grad mode to ``self.mode`` inside a ``with`` block or a decorated call.

    The mode a block replaced is kept on its thread's stack (``_GradState.saved``), so one
    instance may be entered again inside itself, or from several threads; a decorated
    function enters a fresh context at each call (recursion, threads).
    """

    mode = True

    def __init__(self, mode: bool | None = None):
        if mode is not None:
            self.mode = bool(mode)

    def __enter__(self):
        _grad_mode.saved.append(_grad_mode.enabled)
        _grad_mode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _grad_mode.enabled = _grad_mode.saved.pop()
        return False

    def __call__(self, fn: Callable) -> Callable:
        mode = self.mode
        if inspect.isgeneratorfunction(fn):
            return _generator_in_mode(fn, mode)

        @functools.wraps(fn)
        def decorated(*args, **kwargs):
            with _GradModeContext(mode):
                return fn(*args, **kwargs)
        return decorated


def _generator_in_mode(fn: Callable, mode: bool) -> Callable:
    """``fn``, a generator function, run in grad mode ``mode`` each time it resumes (its
    body runs at each ``next``, not at the call), the caller's mode between, as PyTorch's
    decorators do."""
    @functools.wraps(fn)
    def decorated(*args, **kwargs):
        gen = fn(*args, **kwargs)
        try:
            with _GradModeContext(mode):
                value = next(gen)
            while True:
                try:
                    sent = yield value
                except GeneratorExit:
                    with _GradModeContext(mode):
                        gen.close()
                    raise
                except BaseException as err:    # thrown in: the generator may handle it
                    with _GradModeContext(mode):
                        value = gen.throw(err)
                else:
                    with _GradModeContext(mode):
                        value = gen.send(sent)
        except StopIteration as stop:
            return stop.value
    return decorated


class _NoArguments(_GradModeContext):
    """A mode context that takes no argument: ``@no_grad`` without parentheses decorates
    the function, as PyTorch's does (``no_grad(True)`` would read as a mode)."""

    def __new__(cls, fn: Callable | None = None) -> Any:
        if fn is None:
            return super().__new__(cls)
        if not callable(fn):
            raise TypeError(f"{cls.__name__}() takes no arguments (or decorates a function), "
                            f"got {fn!r}")
        return cls()(fn)

    def __init__(self, fn: Callable | None = None):
        super().__init__()


class no_grad(_NoArguments):
    """Context manager (and decorator, with or without parentheses) in which ops record no
    graph: inference mode."""

    mode = False


class enable_grad(_NoArguments):
    """Context manager (and decorator, with or without parentheses) that turns recording
    back on inside ``no_grad``."""

    mode = True


class set_grad_enabled(_GradModeContext):
    """Switch graph recording on or off: as a call (takes effect at once), a context
    manager (the mode before it comes back at its end) or a decorator (the mode is set
    during each call of the function only, as in PyTorch)."""

    def __init__(self, mode: bool):
        super().__init__(mode)
        self._prev = _grad_mode.enabled
        _grad_mode.enabled = self.mode
        self._pending = True            # the first block is the one __init__ opened

    def __enter__(self):
        if self._pending:               # the mode was set by __init__; its exit restores
            self._pending = False       # the mode __init__ found
            _grad_mode.saved.append(self._prev)
            return self
        return super().__enter__()

    def __call__(self, fn: Callable) -> Callable:
        if self._pending:               # as a decorator it changes nothing now
            self._pending = False
            _grad_mode.enabled = self._prev
        return super().__call__(fn)


# ---------------------------------------------------------------------------------------------
# In-place changes
# ---------------------------------------------------------------------------------------------

class _Changes:
    """The arrays changed in place through the library since the program started: each
    memory block's root array (weakly held) and the epoch of its latest change. A node
    records the epoch at its forward pass; a backward checks its saved arrays only where
    the epoch has moved since, so a training loop (forward, backward, then the step) pays
    nothing. The registry is per process; a change made by another thread while a forward
    pass runs may go unseen by that node."""
    counter = itertools.count(1)
    epoch = 0                       # the clock nodes record: the latest change or rebase
    changed = 0                     # the epoch of the latest mark_changed
    roots: dict[int, tuple[weakref.ref, int]] = {}
    lock = threading.Lock()
    sweep_at = 4096                 # forget the freed roots when the registry reaches this


def _root(array: Any) -> Any:
    """The array that owns ``array``'s memory (itself unless it is a view): an ndarray's
    ``base``; a GPU array's allocation (its ``gpu_data``, which views share)."""
    while isinstance(getattr(array, "base", None), np.ndarray):
        array = array.base
    if not isinstance(array, np.ndarray):       # numba.cuda: a view's pointer names its owner
        owner = getattr(getattr(array, "gpu_data", None), "owner", None)
        if owner is not None:
            return owner
        # NOTE: numba's CUDA simulator wraps a host array (``_ary``), whose base its views
        # pass on (the loop above): the root is that host array's, for a view and its base
        inner = getattr(array, "_ary", None)
        if isinstance(inner, np.ndarray):
            return _root(inner)
    return array


def mark_changed(array: Any) -> None:
    """Record that ``array`` (a parameter's data, a buffer; or a Tensor's) was changed in
    place: a backward through a node that saved it, or a view of its memory, before the
    change raises RuntimeError instead of computing a gradient at values the forward pass
    never used (PyTorch's version counter). The optimizers, ``load_state_dict``,
    ``nn.init``, the in-place operators (``x -= y``) and item assignment call it; a change
    made directly to ``.data`` is not seen (as in PyTorch) unless this is called after it.
    Raises TypeError for anything but an array or a Tensor."""
    if isinstance(array, Tensor):
        array = array._data
    if not (hasattr(array, "shape") and hasattr(array, "dtype")):
        raise TypeError(f"mark_changed: expected an array or a Tensor, got "
                        f"{type(array).__name__}")
    root = _root(array)
    with _Changes.lock:
        epoch = next(_Changes.counter)
        roots = _Changes.roots
        if len(roots) >= _Changes.sweep_at:     # forget the roots that were freed
            for key in [key for key, (ref, _) in roots.items() if ref() is None]:
                del roots[key]
            _Changes.sweep_at = max(4096, 2 * len(roots))   # so each sweep pays for itself
        roots[id(root)] = (weakref.ref(root), epoch)
        _Changes.epoch = _Changes.changed = epoch


def rebase(tensor: Tensor, result: Tensor) -> None:
    """Give ``tensor`` the place of ``result`` in the graph (a recorded op on a snapshot of
    its old value, whose values the caller has just written into ``tensor``'s array and
    marked changed, ``mark_changed``), as PyTorch's in-place ops do. The nodes recorded
    before, which read the old value, still route its gradient to the node that produced
    it: ``tensor._rebased`` keeps it, by epoch (``_producer``)."""
    with _Changes.lock:
        epoch = next(_Changes.counter)
        _Changes.epoch = epoch
    if tensor._rebased is None:
        tensor._rebased = []
    tensor._rebased.append((epoch, tensor._node, tensor._index))
    tensor._node, tensor._index = result._node, result._index
    tensor._requires_grad = True
    _save_tensor_for_output(tensor, result)


def _save_tensor_for_output(tensor: Tensor, result: Tensor) -> None:
    """Where the op that made ``result`` saved its output (exp, tanh, sigmoid), it holds
    ``tensor``'s array from now on, which ``rebase``'s caller has just written with the
    same values: a later in-place change of the tensor raises at backward, as PyTorch's
    (whose in-place op saves the tensor itself), and the copy is freed. The node's epoch
    moves to that write (the latest ``mark_changed``), the only change since its forward
    pass, unless another array it saved shares the tensor's memory (a view of it): that
    change is real, and the node keeps its copy."""
    node: Node | None = result._node
    if node is None:
        return
    out, array, ctx = result._data, tensor._data, node.ctx
    names = [name for name, value in vars(ctx).items() if value is out]
    if not (names or any(a is out for a in ctx.saved)):
        return
    root = _root(array)
    if any(a is not out and _root(a) is root
           for a in _ctx_arrays(ctx)):
        return
    ctx.saved = tuple(array if a is out else a for a in ctx.saved)
    for name in names:
        setattr(ctx, name, array)
    node.epoch = max(node.epoch, _Changes.changed)


def _producer(tensor: Tensor, epoch: int) -> tuple[Any, int]:
    """(node, output index) of the value of ``tensor`` a node recorded at ``epoch`` read:
    the one it had then, before any later in-place op (``rebase``)."""
    history = tensor._rebased or ()
    k = bisect.bisect_right(history, epoch, key=lambda entry: entry[0])
    if k < len(history):
        return history[k][1], history[k][2]
    return tensor._node, tensor._index


def keep_view_source(ctx: "Context", x: Any, y: Any) -> None:
    """In a view op's forward (reshape, permute, basic indexing): where ``y`` is a view of
    ``x``'s memory, keep x (``ctx.view_source``) for :func:`_check_view_read`."""
    base = getattr(y, "base", None)
    # NOTE: a NumPy view's base is x or x's own base (NumPy collapses the chain): tested
    # first, as this runs at every view op; the walk is for the rest (a GPU array's view)
    if base is x or (base is not None and base is getattr(x, "base", None)):
        ctx.view_source = x
    elif (base is not None or type(y) is not np.ndarray) and _root(y) is _root(x):
        ctx.view_source = x


def _check_view_read(view: "Node", reader: "Node") -> None:
    """RuntimeError where ``reader`` may have read the output of the view op ``view`` after
    an in-place change of the view's base: the values it read are then the new ones while
    the view's graph routes its gradient to the old ones' producer (PyTorch rebuilds the
    view's graph; this engine cannot, and raises rather than compute a wrong gradient).
    A reader recorded with the view, no change between them, read the values the graph
    describes (a transposed weight read by a product before an optimizer step); with a
    change anywhere between, it is taken as having read the new values."""
    source = getattr(view.ctx, "view_source", None)
    if source is None or reader.epoch <= view.epoch:
        return
    root = _root(source)
    entry = _Changes.roots.get(id(root))
    if entry is not None and entry[0]() is root and entry[1] > view.epoch:
        raise RuntimeError(
            f"backward: '{reader.name}' read a view ('{view.name}') of an array of shape "
            f"{source.shape} that was changed in place after the view was taken (by an "
            f"in-place method such as mul_, an operator such as -=, an optimizer step or "
            f"load_state_dict): the view holds the new values but its gradient would go to "
            f"the old ones; take the view after the change, or clone() it before")


def _ctx_arrays(ctx: "Context") -> list:
    """The arrays a node's context holds for its backward (a view's source aside: a
    change of it matters only to those who read the view afterwards, _check_view_read)."""
    return _held_arrays([ctx.saved, *(v for k, v in vars(ctx).items() if k != "view_source")])


def views_an_input(tensor: Tensor) -> bool:
    """Whether ``tensor``'s array is a view of memory another tensor of the graph may own:
    of an input of the op that made it (a slice, transpose or reshape), or, made outside the
    graph, of any array (as PyTorch refuses an in-place op on a view made under no_grad). A
    reshaped private result of an op (``norm(x, dim=1)``) is not one."""
    data = tensor._data
    if getattr(data, "base", None) is None:
        return False
    node = tensor._node
    if node is None:
        return True
    root = _root(data)
    return any(t is not None and _root(t._data) is root for t in node.inputs)


def _changed_since(array: Any, epoch: int) -> bool:
    root = _root(array)
    entry = _Changes.roots.get(id(root))
    return entry is not None and entry[0]() is root and entry[1] > epoch


def _held_arrays(value: Any, depth: int = 4) -> list:
    """The arrays in ``value``: itself, or inside its tuples (named ones too), lists, dicts
    and dataclasses (the kernels' caches and their parameters), down to ``depth`` levels."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return [value]
    if depth == 0:
        return []
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = [getattr(value, f.name) for f in dataclasses.fields(value)]
    elif isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _held_arrays(v, depth - 1)]
    return []


def _check_saved(node: "Node") -> None:
    """RuntimeError where an array ``node`` saved for backward (in ``ctx.saved`` or as an
    attribute, alone or inside tuples, lists and dicts, as the fused kernels' caches hold
    their weights) was changed in place after its forward pass."""
    held = _ctx_arrays(node.ctx)
    for array in held:
        if _changed_since(array, node.epoch):
            raise RuntimeError(
                f"backward: '{node.name}' saved an array of shape {array.shape} for its "
                f"backward that was changed in place after the forward pass (by an optimizer "
                f"step, load_state_dict, or an in-place operator such as -=), "
                f"so the gradient would be computed at values the forward pass never used; "
                f"call backward before changing it, or run the forward pass again")


# ---------------------------------------------------------------------------------------------
# Functions and graph nodes
# ---------------------------------------------------------------------------------------------

class GradientShapeError(RuntimeError):
    """A Function's backward returned a gradient whose shape is not its argument's.

    ``tensor`` is that argument and ``grad_shape`` the shape given, so callers such as
    gradcheck can name the input.
    """

    def __init__(self, message: str, tensor: Tensor, grad_shape: tuple[int, ...]):
        super().__init__(message)
        self.tensor, self.grad_shape = tensor, grad_shape


class Context:
    """What ``forward`` hands to ``backward``: saved arrays and any attributes set on it.

    ``needs_grad[k]`` says whether input ``k`` needs a gradient; ``backward`` returns ``None``
    for the others and may skip computing them.
    """

    #: a view op's input, whose memory its output shares (``keep_view_source``)
    view_source: Any = None

    def __init__(self, needs_grad: tuple[bool, ...]):
        self.needs_grad = needs_grad
        self.saved: tuple = ()

    def save_for_backward(self, *arrays: np.ndarray | None) -> None:
        self.saved = arrays


class Node:
    """One recorded op application: the function, its context, and the input tensors."""

    __slots__ = ("fn", "ctx", "inputs", "out_meta", "epoch", "freed", "name", "hooks", "site")

    def __init__(self, fn, ctx, inputs, out_meta, epoch=0, site=None):
        self.fn = fn                    # the Function subclass
        self.ctx = ctx
        self.inputs = inputs            # tuple of Tensor-or-None, one per forward argument
        self.out_meta = out_meta        # tuple of (shape, dtype), one per output
        self.epoch = epoch              # _Changes.epoch at the forward pass
        self.freed = False
        self.name = fn.__name__
        self.site = site                # where the user called the op (anomaly mode only)
        self.hooks = None               # output index -> its Tensor.register_hook hooks

    def __getstate__(self) -> tuple[None, dict]:
        """Pickling and deep copies: every slot but the ``register_hook`` hooks, left
        behind as PyTorch's (a lambda would not pickle; they belong to the tensor's owner)."""
        return None, {name: None if name == "hooks" else getattr(self, name)
                      for name in Node.__slots__ if hasattr(self, name)}

    def __setstate__(self, state: tuple[None, dict]) -> None:
        """Unpickling, a node pickled before ``hooks`` existed too."""
        self.hooks = None
        for name, value in (state[1] or {}).items():
            setattr(self, name, value)

    def __repr__(self):
        return f"<Node {self.name}>"


class Function:
    """Base class of every op, and of your own: ``forward`` and ``backward`` side by side,
    on ndarrays (``torch.autograd.Function``'s pattern).

    Subclass it with two static methods and call ``MyOp.apply(*args)``:

    - ``forward(ctx, *args)``: each Tensor argument arrives as its ndarray; every other
      argument (Python scalars, ndarrays, axes, flags) arrives unchanged and gets no
      gradient. It returns one ndarray or a tuple of them; ``apply`` wraps them as Tensors.
    - ``backward(ctx, *grad_outputs)``: one ndarray per output, shaped like it (zeros for an
      output that was not used). It returns one gradient per ``forward`` argument, shaped
      like that argument, or ``None`` (for a non-Tensor argument, and wherever
      ``ctx.needs_grad[k]`` is False). A gradient of the wrong shape raises
      :class:`GradientShapeError` naming the op and the argument.

    ``ctx`` (a :class:`Context`) carries what ``backward`` needs:

    - ``ctx.save_for_backward(*arrays)`` stores arrays; ``backward`` reads them back as the
      tuple ``ctx.saved`` (in the order given; ``()`` if nothing was saved).
    - ``ctx.needs_grad``: a tuple of bools, one per ``forward`` argument, True where that
      argument is a Tensor requiring grad and grad mode is on; skip the others' work.
    - any attribute set on it in ``forward`` (``ctx.axis = axis``) for non-array state.

    The context is freed after ``backward`` unless ``retain_graph=True``. Check a new op's
    ``backward`` with :func:`nongate_np.gradcheck` by all three methods (complex-step needs
    ``forward`` to accept complex128 arrays). A complete op, y = a·tanh(x) with a scalar a:

    >>> import numpy as np
    >>> import nongate_np as ng
    >>> class ScaledTanh(ng.Function):
    ...     # y = a·tanh(x):  dx = dy·a·(1 − tanh²x),  da = Σ dy·tanh x
    ...     @staticmethod
    ...     def forward(ctx, x, a):
    ...         t = np.tanh(x)
    ...         ctx.save_for_backward(t, a)
    ...         return a * t
    ...     @staticmethod
    ...     def backward(ctx, dy):
    ...         t, a = ctx.saved
    ...         dx = dy * a * (1 - t * t) if ctx.needs_grad[0] else None
    ...         da = np.sum(dy * t) if ctx.needs_grad[1] else None
    ...         return dx, da
    >>> x = ng.tensor([0.5, -1.0], requires_grad=True)
    >>> a = ng.tensor(2.0, requires_grad=True)
    >>> ScaledTanh.apply(x, a).sum().backward()
    >>> print(np.round(x.grad, 6), np.round(a.grad, 6))
    [1.572895 0.839949] -0.299477
    >>> ScaledTanh.apply(x, 2.0).sum().backward()    # a Python float: needs_grad[1] is False
    >>> ng.gradcheck(ScaledTanh.apply, [x.data, a.data], method="complex_step").passed
    True
    """

    @staticmethod
    def forward(ctx, *args):  # pragma: no cover - interface
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):  # pragma: no cover - interface
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        # NOTE: one pass over the arguments: this runs for every op, and at small sizes
        # (S1 in bench/) the per-op Python cost is a large part of a training step
        raw, needs_grad = [], []
        on_gpu = on_cpu = False
        for a in args:
            is_tensor = isinstance(a, Tensor)
            raw.append(a._data if is_tensor else a)
            needs_grad.append(is_tensor and a._requires_grad)
            if is_tensor:
                if type(a._data) is np.ndarray:
                    on_cpu = True
                else:
                    on_gpu = True
        if on_gpu and on_cpu:
            raise DeviceError(f"{cls.__name__}: its tensors are on two devices, cpu and "
                              f"cuda; move them to one with .to(...) first")
        record = _grad_mode.enabled and any(needs_grad)
        # under no_grad nothing needs a gradient
        ctx = Context(tuple(needs_grad) if record else (False,) * len(args))
        site = None
        if _anomaly.enabled:
            out, site = anomaly.run_forward(cls, ctx, raw)
        else:
            out = cls.forward(ctx, *raw)
        single = not isinstance(out, tuple)
        if single and isinstance(out, list):
            raise TypeError(f"{cls.__name__}.forward returned a list; return one array, or a "
                            f"tuple of arrays for several outputs")
        outs = (out,) if single else out
        if not record:
            tensors = [Tensor._wrap(_as_array(o, cls)) for o in outs]
        else:
            outs = [_as_array(o, cls) for o in outs]
            # NOTE: tuples of lists, not of generators: faster for a few items
            inputs = tuple([a if g else None for a, g in zip(args, needs_grad)])
            node = Node(cls, ctx, inputs, tuple([(o.shape, o.dtype, device_of(o).xp)
                                                 for o in outs]), _Changes.epoch, site)
            # an integer or bool output (a cast to int, indices) has no gradient, as in torch
            tensors = [Tensor._wrap(o, node=node, index=k) if o.dtype.kind in "fc"
                       else Tensor._wrap(o) for k, o in enumerate(outs)]
        return tensors[0] if single else tuple(tensors)


# ---------------------------------------------------------------------------------------------
# Backward
# ---------------------------------------------------------------------------------------------

def _topological_order(*roots: Node) -> list[Node]:
    """Nodes reachable from ``roots``, each after every node that consumes its outputs.

    Iterative depth-first search, one root after the other (a search from a later root
    finds the earlier ones' nodes finished); the order is deterministic (inputs visited in
    order).
    """
    order: list[Node] = []
    visited: set[int] = set()
    for root in roots:
        if id(root) in visited:
            continue
        visited.add(id(root))
        stack = [(root, iter(root.inputs))]
        while stack:
            node, it = stack[-1]
            for t in it:
                if t is None:
                    continue
                child = t._node if t._rebased is None else _producer(t, node.epoch)[0]
                if child is not None and id(child) not in visited:
                    visited.add(id(child))
                    stack.append((child, iter(child.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()         # post-order reversed: consumers before producers
    return order


def recorded_ops(tensor: Tensor) -> set[tuple[str, str]]:
    """The ops recorded behind ``tensor`` (the graph its backward walks), each as (its
    Function's name, the device its outputs went to: "cpu" or "cuda"). Empty for a leaf or
    a result recorded by no op."""
    if tensor._node is None:
        return set()
    return {(node.name, xp.name) for node in _topological_order(tensor._node)
            for _, _, xp in node.out_meta}


def _as_array(value: Any, fn: Any = None, phase: str = "forward") -> Any:
    """An op's result as an array: a host or device array as it is, anything else (a NumPy
    scalar) through np.asarray. With ``fn`` (the Function), TypeError where that is not an
    array of numbers (a string, an object), naming ``fn.forward`` or ``fn.backward``."""
    if type(value) is np.ndarray or device_of(value) is not CPU:
        return value
    array = np.asarray(value)
    if fn is not None and array.dtype.kind not in "biufc":
        raise TypeError(f"{fn.__name__}.{phase} returned {type(value).__name__} (as an array, "
                        f"dtype {array.dtype}); expected an ndarray of numbers")
    return array


def _add(a: Any, b: Any) -> Any:
    return a + b if type(a) is np.ndarray else device_of(a).xp.add(a, b)


def _accumulate(store: dict, key: Any, grad: Any) -> None:
    prev = store.get(key)
    store[key] = grad if prev is None else _add(prev, grad)


def _run_grad_hooks(hooks: list, g: Any) -> Any:
    """``g`` passed through ``hooks`` (Tensor.register_hook) in order: each gets the
    gradient as a Tensor; a result replaces it, ``None`` keeps it."""
    for hook in list(hooks):                     # a copy: a hook may remove itself
        result = hook(Tensor._wrap(g))
        if result is None:
            continue
        new = result._data if isinstance(result, Tensor) else result
        name = getattr(hook, "__name__", repr(hook))
        if not (hasattr(new, "shape") and hasattr(new, "dtype")):
            raise TypeError(f"register_hook: hook '{name}' returned {type(result).__name__}; "
                            f"expected a Tensor, an ndarray or None")
        if new.shape != g.shape:
            raise RuntimeError(f"register_hook: hook '{name}' returned a gradient of shape "
                               f"{tuple(new.shape)} for a tensor of shape {tuple(g.shape)}; "
                               f"return one of the tensor's shape, or None to keep it")
        if new.dtype != g.dtype:
            raise RuntimeError(f"register_hook: hook '{name}' returned a gradient of dtype "
                               f"{new.dtype} for a tensor of dtype {g.dtype}; cast it "
                               f"(.astype({str(g.dtype)!r}))")
        if device_of(new) != device_of(g):
            raise DeviceError(f"register_hook: hook '{name}' returned a gradient on "
                              f"{device_of(new)} for a tensor on {device_of(g)}")
        g = new
    return g


def backward(tensor: Tensor, grad: npt.ArrayLike | None = None,
             retain_graph: bool = False) -> None:
    """Accumulate d(tensor)/d(leaf) · grad into ``leaf.grad`` for every leaf requiring grad."""
    if not tensor.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad and has no graph; "
                           "create its inputs with requires_grad=True")
    seed = _seed(tensor, grad, "backward", "grad")
    outer, _grad_mode.callbacks = _grad_mode.callbacks, []
    try:
        hooked: dict[int, Tensor] = {}            # leaves with hooks this backward reached
        _run_backward([(tensor, seed)], retain_graph, hooked)
        for leaf in hooked.values():              # once per leaf, its gradient complete
            for hook in list(leaf._hooks or ()):
                hook(leaf)
        for callback in _grad_mode.callbacks:     # may queue more: the loop reaches them
            callback(tensor)
    finally:
        _grad_mode.callbacks = outer


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, returned rather than added
    to ``.grad``, as ``torch.autograd.grad``: Σ_k J_kᵀ v_k for each input, J_k the Jacobian
    of output k and v_k its ``grad_outputs`` (ones for a one-element output).

    ``outputs``: a Tensor or a sequence of them, each with a graph; ``inputs``: a Tensor or
    a sequence of them that require grad, leaves or not (a non-leaf's gradient is the one
    that reaches it, before its ``register_hook`` hooks, as torch's); ``grad_outputs``: an
    array or Tensor per output, shaped like it (None for a one-element output).

    Returns a tuple with one Tensor (no graph) per input, or None for an input the outputs
    do not depend on when ``allow_unused=True`` (zeros with ``materialize_grads=True``).
    Nothing is added to any leaf's ``.grad`` and no post-accumulate-grad hook runs; the
    hooks of the tensors on the way run, and a tensor that ``retain_grad()``s gets its
    ``.grad``, as in torch. Only the nodes on a path to an input run their backward; the
    graph is freed afterwards unless ``retain_graph=True``.

    Raises RuntimeError for an output without a graph, an input that does not require grad,
    an input the outputs do not depend on (without ``allow_unused``), or a graph freed by an
    earlier backward; NotImplementedError for ``create_graph=True`` (a backward here computes
    on arrays and records no graph, so there are no gradients of gradients) and
    ``is_grads_batched=True``; TypeError, ValueError as :meth:`Tensor.backward` for a
    ``grad_outputs`` of the wrong dtype or shape, or the wrong count.
    """
    if create_graph:
        raise NotImplementedError("grad: create_graph=True is not supported: a backward here "
                                  "computes on arrays and records no graph, so there are no "
                                  "gradients of gradients (a gradient penalty needs them)")
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True is not supported; call grad "
                                  "once per row of grad_outputs")
    outs = _tensor_list(outputs, "outputs")
    ins = _tensor_list(inputs, "inputs")
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outs)} outputs; "
                         f"give one per output (None for a one-element output)")
    for k, t in enumerate(outs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: output {k} does not require grad and has no graph; "
                               f"compute it from tensors created with requires_grad=True")
    for k, t in enumerate(ins):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {k} does not require grad; create it with "
                               f"requires_grad=True (or call .requires_grad_())")
    roots = [(t, _seed(t, g, "grad", f"grad_outputs[{k}]"))
             for k, (t, g) in enumerate(zip(outs, grad_outputs))]
    captured = {id(t): None for t in ins if t._node is None}
    reached = {(id(t._node), t._index): None for t in ins if t._node is not None}
    _run_backward(roots, bool(retain_graph), {}, captured, reached)
    results = []
    for k, t in enumerate(ins):
        g = captured[id(t)] if t._node is None else reached[(id(t._node), t._index)]
        if g is None:
            if not (allow_unused or materialize_grads):
                raise RuntimeError(f"grad: input {k} was not used to compute the outputs; "
                                   f"pass allow_unused=True to get None for it "
                                   f"(materialize_grads=True: zeros)")
            results.append(Tensor._wrap(t.device.xp.zeros(t.shape, t.dtype))
                           if materialize_grads else None)
        else:
            results.append(Tensor._wrap(g))
    return tuple(results)


def _tensor_list(value: Any, name: str) -> list[Tensor]:
    """A Tensor or a sequence of Tensors as a list; TypeError naming ``name`` otherwise."""
    items = [value] if isinstance(value, Tensor) else value
    if not isinstance(items, (list, tuple)) or not items or \
            not all(isinstance(t, Tensor) for t in items):
        raise TypeError(f"grad: {name} must be a Tensor or a non-empty sequence of Tensors, "
                        f"got {type(value).__name__}")
    return list(items)


def _seed(tensor: Tensor, grad: Any, where: str, name: str) -> Any:
    """d(tensor) as an array of the tensor's dtype on its device: ``grad`` checked (its
    dtype castable, its shape and device the tensor's), or ones for a one-element tensor."""
    if grad is None:
        if tensor.size != 1:
            raise RuntimeError(
                f"{where}: grad can be implicitly created only for a scalar output, but this "
                f"tensor has shape {tensor.shape}; pass {name}= an array of that shape")
        return tensor.device.xp.full(tensor.shape, 1, tensor.dtype)
    seed = _as_array(grad._data if isinstance(grad, Tensor) else grad)
    # a real tensor's gradient is real: casting would drop an imaginary part or fail
    allowed = "fiubc" if tensor.dtype.kind == "c" else "fiub"
    if seed.dtype.kind not in allowed:
        raise TypeError(f"{where}: {name} must be an array of numbers castable to the "
                        f"tensor's dtype {tensor.dtype}, got dtype {seed.dtype}")
    if seed.shape != tensor.shape:
        raise ValueError(f"{where}: {name} has shape {seed.shape}, expected the tensor's "
                         f"shape {tensor.shape}")
    if device_of(seed) != tensor.device:
        raise DeviceError(f"{where}: {name} is on {device_of(seed)}, the tensor on "
                          f"{tensor.device}")
    return tensor.device.xp.astype(seed, tensor.dtype)


def queue_callback(callback: Callable[[Tensor], Any]) -> None:
    """Run ``callback(tensor)`` at the end of the backward now running, after every
    gradient has been accumulated (``tensor`` is the one backward was called on), as
    PyTorch's ``Variable._execution_engine.queue_callback``. Queued again in the same
    backward, it still runs once: each parameter's post-accumulate-grad hook can queue the
    same callback (nongate_np.distributed reduces the gradients there).

    Raises RuntimeError outside a backward."""
    if _grad_mode.callbacks is None:
        raise RuntimeError("queue_callback: no backward is running in this thread; call it "
                           "from a hook that a backward runs")
    if callback not in _grad_mode.callbacks:
        _grad_mode.callbacks.append(callback)


def _leaf_gradient(t: Tensor, g: Any, hooked: dict[int, Tensor], held: dict[int, list],
                   captured: dict | None) -> None:
    """A leaf's part ``g`` of its gradient: into its ``.grad``, or with ``captured`` (grad())
    into ``captured[id(t)]`` where t is asked for and nowhere otherwise."""
    if captured is not None and id(t) not in captured:
        return
    if t._grad_hooks:           # its hooks get the sum over all its uses: held to the end
        entry = held.get(id(t))
        if entry is None:
            held[id(t)] = [t, g]
        else:
            entry[1] = _add(entry[1], g)
        return
    if captured is not None:
        _accumulate(captured, id(t), g)
        return
    t._accumulate_grad(g)
    if t._hooks:
        hooked[id(t)] = t


def _release_held(held: dict[int, list], hooked: dict[int, Tensor],
                  captured: dict | None) -> None:
    """Each leaf's held gradient through its hooks, then into its ``.grad`` (or
    ``captured``)."""
    for t, g in held.values():
        g = _run_grad_hooks(t._grad_hooks or [], g)
        if captured is not None:
            captured[id(t)] = g
            continue
        t._accumulate_grad(g)
        if t._hooks:
            hooked[id(t)] = t


def _retain(t: Tensor, g: Any, node: Node, index: int, retained: dict) -> None:
    """``t.grad += g`` for a tensor that retains its gradient; where hooks are registered on
    it, after them (``retained``), as in PyTorch: its ``.grad`` is what they returned."""
    if node.hooks is not None and index in node.hooks:
        retained[(id(node), index)] = t
    else:
        t._accumulate_grad(g)


def _run_backward(roots: list[tuple[Tensor, Any]], retain_graph: bool,
                  hooked: dict[int, Tensor], captured: dict | None = None,
                  outputs: dict | None = None) -> None:
    """The gradient of Σ ⟨seed, root⟩ over ``roots`` ((tensor, seed) pairs), into the
    leaves' ``.grad``; or, for :func:`grad`, only into ``captured`` (id(leaf) -> its
    gradient) and ``outputs`` ((id(node), output index) of a non-leaf asked for -> its
    gradient, as it reaches the node), running only the nodes on a path to those."""
    held: dict[int, list] = {}                    # id(leaf) -> [leaf, gradient], hooked leaves
    checked = _anomaly.enabled                    # read once: the mode at backward's start
    grads: dict = {}                              # (id(node), output index) -> array
    retained: dict = {}                           # (id(node), output index) -> tensor, see _retain
    for tensor, seed in roots:
        if tensor._node is None:                  # a leaf as a root: the seed is its gradient
            _leaf_gradient(tensor, seed, hooked, held, captured)
            continue
        _accumulate(grads, (id(tensor._node), tensor._index), seed)
        if tensor._retains_grad:                  # its gradient is the seed, as torch's
            _retain(tensor, seed, tensor._node, tensor._index, retained)
    order = _topological_order(*[t._node for t, _ in roots if t._node is not None])
    needed = None if captured is None else _leading_to(order, captured, outputs or {})
    for node in order:
        if node.freed:
            raise RuntimeError(
                f"backward: the graph through '{node.name}' was already freed by an earlier "
                "backward; pass retain_graph=True to the first backward to go through it twice")
        outs = []
        hooks = node.hooks
        for k, (shape, dtype, xp) in enumerate(node.out_meta):
            g = grads.pop((id(node), k), None)
            if outputs and g is not None and (id(node), k) in outputs:
                outputs[(id(node), k)] = g        # before its hooks, as torch's grad()
            if hooks is not None and g is not None:
                # the total gradient of output k is known here, before it flows on
                g = _run_grad_hooks(hooks.get(k, ()), g)
                t = retained.pop((id(node), k), None)
                if t is not None:
                    t._accumulate_grad(g)
            outs.append(xp.zeros(shape, dtype) if g is None else g)
        if needed is not None and id(node) not in needed:
            _free(node, retain_graph)
            continue
        if node.epoch < _Changes.changed:
            _check_saved(node)
        if checked:
            in_grads = anomaly.run_backward(node.fn, node.ctx, outs, node.site, node.inputs)
        else:
            in_grads = node.fn.backward(node.ctx, *outs)
        if not isinstance(in_grads, tuple):
            if isinstance(in_grads, list):
                raise TypeError(f"{node.name}.backward returned a list; return a tuple of "
                                f"gradients, one per forward argument (or one array for one)")
            in_grads = (in_grads,)
        if len(in_grads) != len(node.inputs):
            raise RuntimeError(f"{node.name}.backward returned {len(in_grads)} gradients, "
                               f"expected {len(node.inputs)} (one per forward argument)")
        for k, (t, g) in enumerate(zip(node.inputs, in_grads)):
            if t is None or g is None:
                continue
            if type(g) is not np.ndarray:
                g = _as_array(g, node.fn, "backward")
            data = t._data              # NOTE: not t.shape, t.dtype: properties, per input
            if g.shape != data.shape:
                raise GradientShapeError(f"{node.name}.backward returned a gradient of shape "
                                         f"{g.shape} for argument {k}, whose shape is "
                                         f"{data.shape}", t, g.shape)
            if g.dtype != data.dtype:
                g = t.device.xp.astype(g, data.dtype)
            produced, index = (t._node, t._index) if t._rebased is None else \
                _producer(t, node.epoch)
            if produced is not None and produced.epoch < _Changes.changed:
                _check_view_read(produced, node)
            if produced is None:
                _leaf_gradient(t, g, hooked, held, captured)
            else:
                if t._retains_grad and produced is t._node:
                    _retain(t, g, produced, index, retained)
                _accumulate(grads, (id(produced), index), g)
        _free(node, retain_graph)
    _release_held(held, hooked, captured)


def _free(node: Node, retain_graph: bool) -> None:
    """The node's saved values dropped after its backward, unless ``retain_graph``."""
    if not retain_graph:
        # NOTE: the inputs too: an in-place op leaves a cycle (the tensor, its new node,
        # an older node reading it) that would wait for the cycle collector
        node.ctx, node.inputs = None, ()
        node.freed = True


def _leading_to(order: list[Node], captured: dict, outputs: dict) -> set[int]:
    """The ids of the nodes in ``order`` whose backward reaches a leaf in ``captured`` or
    an output in ``outputs``: those :func:`grad` runs (producers before consumers here)."""
    needed: set[int] = set()
    for node in reversed(order):
        for t in node.inputs:
            if t is None:
                continue
            produced, index = (t._node, t._index) if t._rebased is None else \
                _producer(t, node.epoch)
            if (id(t) in captured if produced is None else
                    id(produced) in needed or (id(produced), index) in outputs):
                needed.add(id(node))
                break
    return needed
