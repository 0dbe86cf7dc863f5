"""Optimisers and learning-rate schedules, as ``torch.optim``.

``optimizer``: SGD, Adam, AdamW and gradient clipping (their update formulas are torch's).
``lr_scheduler``: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LambdaLR,
MultiplicativeLR, LinearLR, ConstantLR, PolynomialLR, CosineAnnealingWarmRestarts,
CyclicLR, OneCycleLR, SequentialLR, ChainedScheduler and ReduceLROnPlateau, which set an
optimiser's ``param_groups[k]["lr"]`` epoch by epoch (CyclicLR and OneCycleLR its
momentum too). ``to_torch_state_dict`` (``interop``): an optimiser's (or scheduler's)
state as torch's of the same class loads it (tensors, not ndarrays). torch 2.6's
``get_total_norm`` and ``clip_grads_with_norm_`` are in ``nongate_np.nn.utils``, as in
torch.
"""

from . import lr_scheduler
from .interop import to_torch_state_dict
from .optimizer import SGD, Adam, AdamW, Optimizer, clip_grad_norm_, clip_grad_value_, required
from .optimizer import _Required as _Required  # pickles from before optim was a package

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "clip_grad_norm_", "clip_grad_value_",
           "required", "lr_scheduler", "to_torch_state_dict"]
