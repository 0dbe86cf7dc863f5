"""Arrays and functions of other frameworks (PyTorch, JAX, TensorFlow), recognised for messages.

``gradcheck(fn, inputs)`` calls ``fn`` with nongate_np Tensors, so a PyTorch or JAX function
given that way fails deep inside that framework (``TypeError: tanh(): argument 'input'
(position 1) must be Tensor, not Tensor``). These helpers recognise such arrays and
functions by the name of the module that defines them, never importing the framework, so
the error can say what to do instead: pass NumPy float64 arrays and the gradient the
framework claims with ``gradcheck(f, inputs, grad=vjp)``.
"""

from __future__ import annotations

import types

__all__ = ["library_of", "library_in_traceback", "conversion_hint", "vjp_hint"]

# top-level module name -> the framework's name in messages
_LIBRARIES = {"torch": "PyTorch", "jax": "JAX", "jaxlib": "JAX", "tensorflow": "TensorFlow"}

_TO_NUMPY = {"PyTorch": "x.detach().numpy() (after x.double() for float64)",
             "JAX": "np.asarray(x, dtype=np.float64) (with jax_enable_x64 on for float64)",
             "TensorFlow": "x.numpy().astype(np.float64)"}

_VJP = {"PyTorch": "torch.autograd.grad(out, inputs, grad_outputs=v)",
        "JAX": "jax.vjp(f, *inputs)[1](v)",
        "TensorFlow": "tape.gradient(out, inputs, output_gradients=v)"}


def _library_of_module(name) -> str | None:
    return _LIBRARIES.get(str(name or "").split(".")[0])


def library_of(obj) -> str | None:
    """The framework ("PyTorch", "JAX", "TensorFlow") that defines ``obj`` (a module, a class,
    a function, or an array judged by its type), else None."""
    if isinstance(obj, types.ModuleType):
        return _library_of_module(obj.__name__)
    if isinstance(obj, type) or callable(obj):
        found = _library_of_module(getattr(obj, "__module__", None))
        if found or isinstance(obj, type):
            return found
    return _library_of_module(type(obj).__module__)


def _frame_library(frame) -> str | None:
    found = _library_of_module(frame.f_globals.get("__name__"))
    code = frame.f_code
    for name in (*code.co_names, *code.co_freevars):
        if found:
            break
        obj = frame.f_locals.get(name, frame.f_globals.get(name))
        if isinstance(obj, types.ModuleType) or callable(obj):
            found = library_of(obj)
    return found


def library_in_traceback(err: BaseException) -> str | None:
    """The framework an exception came from or passed through: a frame of its code, or a
    frame whose code names one of its modules or functions (``torch.tanh(t)`` in a lambda)."""
    tb = err.__traceback__
    while tb is not None:
        found = _frame_library(tb.tb_frame)
        if found:
            return found
        tb = tb.tb_next
    return None


def conversion_hint(library: str) -> str:
    """How to turn an array of ``library`` into the NumPy float64 array gradcheck wants."""
    return f"convert it with {_TO_NUMPY[library]}"


def vjp_hint(library: str) -> str:
    """The recipe for checking a function of ``library`` with ``gradcheck(f, inputs, grad=)``."""
    return (f"to check a {library} function, give gradcheck NumPy float64 arrays and the "
            "gradient the framework claims: gradcheck(f, [x, ...], grad=vjp), where "
            "f(*arrays) returns an ndarray and vjp(*arrays, v) returns one ndarray per input "
            f"(with {library}: {_VJP[library]}); see help(nongate_np.gradcheck)")
