"""The activation modules of torch.nn beside ReLU, ELU, GELU and friends (``layers.py``):
LogSigmoid, SELU, CELU, Hardtanh, ReLU6, Mish, Softsign, Hardsigmoid, Hardswish,
Tanhshrink, Softshrink, Hardshrink, Threshold, GLU and PReLU, as torch 2.13's: the same
constructor arguments, attributes, reprs and (PReLU) ``state_dict``; each forward is the
functional op (``nn.functional``; docs/math.md E6d-E6h, E7c-E7h). Arguments are checked at
construction. ``inplace=True`` is a ValueError, as for ``nn.ELU``.
"""

from __future__ import annotations

import numpy as np

from ..arguments import check_count
from ..ops import activations_piecewise as piecewise
from ..ops import activations_smooth as smooth
from ..tensor import Tensor
from . import functional as F
from . import init as nn_init
from .layers import _dim, _real_number
from .module import Module, Parameter, module_dtype
from .savable import register_savable

__all__ = ["LogSigmoid", "SELU", "CELU", "Hardtanh", "ReLU6", "Mish", "Softsign",
           "Hardsigmoid", "Hardswish", "Tanhshrink", "Softshrink", "Hardshrink", "Threshold",
           "GLU", "PReLU"]


@register_savable
class LogSigmoid(Module):
    """log σ(x) = −log(1 + e^{−x}), element-wise, as ``torch.nn.LogSigmoid``, stable for
    every x (docs/math.md E6d; ``nn.functional.logsigmoid``)."""

    def forward(self, x) -> Tensor:
        return smooth.logsigmoid(x)


@register_savable
class SELU(Module):
    """λx where x > 0, else λα(e^x − 1), element-wise, with torch's α and λ, as
    ``torch.nn.SELU`` (docs/math.md E7c; ``nongate_np.selu``). ``inplace=True`` is a
    ValueError."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        F._not_inplace("SELU", inplace)

    def forward(self, x) -> Tensor:
        return piecewise.selu(x)


@register_savable
class CELU(Module):
    """x where x > 0, else α(e^{x/α} − 1), element-wise, as ``torch.nn.CELU`` (docs/math.md
    E7c; ``nongate_np.celu``). ``inplace=True`` is a ValueError; TypeError for an ``alpha``
    that is not a real number, ValueError for alpha = 0 (torch: RuntimeError at the first
    call)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = _real_number(alpha, "alpha", "CELU")
        if self.alpha == 0:
            raise ValueError("CELU: alpha must not be 0 (x is scaled by 1/alpha where x <= 0)")
        F._not_inplace("CELU", inplace)

    def forward(self, x) -> Tensor:
        return piecewise.celu(x, self.alpha)

    def config(self) -> dict:
        return {"alpha": self.alpha}

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


@register_savable
class Hardtanh(Module):
    """x clamped to [min_val, max_val], element-wise, as ``torch.nn.Hardtanh``, the
    gradient 0 at both ends (docs/math.md E7d; ``nn.functional.hardtanh``).
    ``inplace=True`` is a ValueError, and so are torch's deprecated ``min_value`` and
    ``max_value`` (use min_val and max_val); TypeError for a bound that is not a real
    number, ValueError for min_val > max_val (torch: AssertionError)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None):
        super().__init__()
        where = type(self).__name__
        if min_value is not None or max_value is not None:
            raise ValueError(f"{where}: min_value and max_value (deprecated in torch) are not "
                             f"supported; use min_val and max_val")
        self.min_val = _real_number(min_val, "min_val", where)
        self.max_val = _real_number(max_val, "max_val", where)
        if not self.min_val <= self.max_val:
            raise ValueError(f"{where}: min_val must be <= max_val, got min_val="
                             f"{self.min_val!r} and max_val={self.max_val!r}")
        F._not_inplace(where, inplace)

    def forward(self, x) -> Tensor:
        return piecewise.hardtanh(x, self.min_val, self.max_val)

    def config(self) -> dict:
        return {"min_val": self.min_val, "max_val": self.max_val}

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


@register_savable
class ReLU6(Hardtanh):
    """min(max(x, 0), 6), element-wise, as ``torch.nn.ReLU6``: a Hardtanh with min_val 0.0
    and max_val 6.0, as torch's, so the gradient is 0 at 0 and 6 (docs/math.md E7d).
    ``inplace=True`` is a ValueError."""

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def config(self) -> dict:
        return {}

    def extra_repr(self) -> str:
        return ""


@register_savable
class Mish(Module):
    """x tanh(softplus(x)), element-wise, as ``torch.nn.Mish`` (docs/math.md E6e;
    ``nn.functional.mish``). ``inplace=True`` is a ValueError."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        F._not_inplace("Mish", inplace)

    def forward(self, x) -> Tensor:
        return smooth.mish(x)


@register_savable
class Softsign(Module):
    """x / (1 + |x|), element-wise, as ``torch.nn.Softsign`` (docs/math.md E6f;
    ``nn.functional.softsign``, whose gradient is accurate where torch's cancels)."""

    def forward(self, x) -> Tensor:
        return smooth.softsign(x)


@register_savable
class Hardsigmoid(Module):
    """min(max(x + 3, 0), 6) / 6, element-wise, as ``torch.nn.Hardsigmoid`` (docs/math.md
    E7e; ``nn.functional.hardsigmoid``). ``inplace=True`` is a ValueError."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        F._not_inplace("Hardsigmoid", inplace)

    def forward(self, x) -> Tensor:
        return piecewise.hardsigmoid(x)


@register_savable
class Hardswish(Module):
    """x · min(max(x + 3, 0), 6) / 6, element-wise, as ``torch.nn.Hardswish`` (docs/math.md
    E7e; ``nn.functional.hardswish``). ``inplace=True`` is a ValueError."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        F._not_inplace("Hardswish", inplace)

    def forward(self, x) -> Tensor:
        return piecewise.hardswish(x)


@register_savable
class Tanhshrink(Module):
    """x − tanh x, element-wise, as ``torch.nn.Tanhshrink`` (docs/math.md E6g;
    ``nn.functional.tanhshrink``)."""

    def forward(self, x) -> Tensor:
        return smooth.tanhshrink(x)


@register_savable
class Softshrink(Module):
    """x − λ where x > λ, x + λ where x < −λ, else 0, element-wise, as
    ``torch.nn.Softshrink`` (docs/math.md E7f; ``nn.functional.softshrink``). TypeError for
    a ``lambd`` that is not a real number, ValueError for a negative one (torch:
    RuntimeError at the first call)."""

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = _real_number(lambd, "lambd", "Softshrink")
        if not self.lambd >= 0:
            raise ValueError(f"Softshrink: lambd must be >= 0 (the half-width of the band "
                             f"set to 0), got {self.lambd!r}")

    def forward(self, x) -> Tensor:
        return piecewise.softshrink(x, self.lambd)

    def config(self) -> dict:
        return {"lambd": self.lambd}

    def extra_repr(self) -> str:
        return str(self.lambd)


@register_savable
class Hardshrink(Module):
    """x where |x| > λ, else 0, element-wise, as ``torch.nn.Hardshrink`` (docs/math.md E7f;
    ``nongate_np.hardshrink``). TypeError for a ``lambd`` that is not a real number."""

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = _real_number(lambd, "lambd", "Hardshrink")

    def forward(self, x) -> Tensor:
        return piecewise.hardshrink(x, self.lambd)

    def config(self) -> dict:
        return {"lambd": self.lambd}

    def extra_repr(self) -> str:
        return str(self.lambd)


@register_savable
class Threshold(Module):
    """``value`` where x ≤ ``threshold``, else x, element-wise, as ``torch.nn.Threshold``
    (docs/math.md E7g; ``nongate_np.threshold``). Both arguments are required, as torch's;
    ``inplace=True`` is a ValueError; TypeError for an argument that is not a real
    number."""

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold = _real_number(threshold, "threshold", "Threshold")
        self.value = _real_number(value, "value", "Threshold")
        F._not_inplace("Threshold", inplace)

    def forward(self, x) -> Tensor:
        return piecewise.threshold(x, self.threshold, self.value)

    def config(self) -> dict:
        return {"threshold": self.threshold, "value": self.value}

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}"


@register_savable
class GLU(Module):
    """The gated linear unit a ⊙ σ(b), a and b the halves of the input along ``dim``, as
    ``torch.nn.GLU`` (docs/math.md E6h; ``nn.functional.glu``): (..., 2n, ...) ->
    (..., n, ...). TypeError for a ``dim`` that is not an int; the input's errors are
    ``glu``'s."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = _dim(dim, "dim", "GLU")

    def forward(self, x) -> Tensor:
        return smooth.glu(x, self.dim)

    def config(self) -> dict:
        return {"dim": self.dim}

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


@register_savable
class PReLU(Module):
    """x where x > 0, else w x, with learnable slopes w, as ``torch.nn.PReLU`` (He et al.,
    2015; docs/math.md E7h; ``nongate_np.prelu``).

    Parameters
    ----------
    num_parameters : int, default 1
        1 (one slope shared by every element) or C, the input's channels (dimension 1 of
        an (N, C, *) input).
    init : float, default 0.25
        The slopes' initial value.
    dtype : floating dtype, optional
        Default float32 (torch's), or the dtype given to ``nongate_np.set_default_dtype``;
        the input's dtype must match (TypeError otherwise, as torch's).

    Attributes
    ----------
    weight : Parameter (num_parameters,), every element ``init`` (``state_dict`` key
        ``weight``, as torch's)

    ValueError for a ``num_parameters`` that is not an int >= 0, TypeError for an ``init``
    that is not a real number; the input's errors are ``prelu``'s.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=None):
        super().__init__()
        self.num_parameters = check_count(num_parameters, "num_parameters", "PReLU")
        self.init = _real_number(init, "init", "PReLU")
        self.weight = Parameter(np.empty(self.num_parameters, module_dtype(dtype, "PReLU")))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every slope ``init``, as torch's."""
        nn_init.constant_(self.weight, self.init)

    def forward(self, x) -> Tensor:
        return piecewise.prelu(x, self.weight)

    def config(self) -> dict:
        return {"num_parameters": self.num_parameters, "init": self.init,
                "dtype": str(self.weight.dtype)}

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
