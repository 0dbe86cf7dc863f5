"""Gradient checking: compare a backward pass (or a gradient another framework claims) with
numerical derivatives, and say which element is wrong and by how much.

==================  ==========================================================================
module              holds
==================  ==========================================================================
``gradcheck``       :func:`gradcheck`, the tolerance table, :class:`GradcheckError`
``numdiff``         numerical derivatives of L = Σ_k ⟨v_k, f_k(x)⟩ (docs/math.md G1-G3)
``report``          :class:`GradcheckReport`, :class:`InputReport`, their parts, their text
``blocks``          ``blocks=`` from a layout: an LSTM's gates (:func:`lstm_gate_blocks`),
                    a GRU's (:func:`gru_gate_blocks`)
``compare``         :func:`compare_arrays`: two sets of arrays (ours and torch's), element by
                    element, with :class:`ComparisonReport` and :class:`ComparisonError`
``catalog``         one seeded case per differentiable op, for ``nongate-np gradcheck``
``foreign``         recognises PyTorch/JAX/TensorFlow arrays and functions, for messages
``testing``         Hypothesis strategies (needs Hypothesis, so it is not imported here)
==================  ==========================================================================
"""

from .blocks import gru_gate_blocks, lstm_gate_blocks
from .catalog import CASES, Case
from .compare import ArrayReport, ComparisonError, ComparisonReport, compare_arrays
from .foreign import conversion_hint, library_in_traceback, library_of, vjp_hint
from .gradcheck import (
    METHODS,
    TOLERANCES,
    GradcheckError,
    GradcheckReport,
    InputReport,
    gradcheck,
    tolerance,
)
from .numdiff import (
    ArrayLoss,
    ComplexStepNotApplicable,
    ScalarLoss,
    central_gradient,
    central_steps,
    complex_step_gradient,
    complex_steps,
    directional_derivative,
    directional_step,
    numeric_gradient,
)
from .report import (
    REL_FLOOR,
    BlockSummary,
    Comparison,
    Defect,
    Directional,
    Subject,
    Tolerance,
    verdict,
)

__all__ = ["gradcheck", "numeric_gradient", "GradcheckError", "GradcheckReport",
           "InputReport", "TOLERANCES", "METHODS", "tolerance", "REL_FLOOR", "Subject",
           "Tolerance", "Defect", "Directional", "Comparison", "BlockSummary", "verdict",
           "ComplexStepNotApplicable", "ScalarLoss", "ArrayLoss", "central_steps",
           "complex_steps", "directional_step", "central_gradient", "complex_step_gradient",
           "directional_derivative", "Case", "CASES", "library_of", "library_in_traceback",
           "conversion_hint", "vjp_hint", "lstm_gate_blocks", "gru_gate_blocks", "compare_arrays",
           "ComparisonReport", "ArrayReport", "ComparisonError"]
