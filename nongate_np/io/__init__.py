"""Persistence: checkpoints without pickle and weights in the safetensors format.

==================  ==========================================================================
module              holds
==================  ==========================================================================
``checkpoint``      :func:`save`, :func:`load`, :func:`load_weights`: the ``.npz`` checkpoint
``safetensors``     :func:`save_safetensors`, :func:`load_safetensors`: PyTorch's key names
``atomic``          writes that leave the previous file intact if they fail
==================  ==========================================================================
"""

from .checkpoint import (
    FORMAT,
    FORMAT_VERSION,
    Checkpoint,
    CheckpointError,
    load,
    load_weights,
    save,
)
from .safetensors import METADATA_KEY, load_safetensors, save_safetensors

__all__ = ["save", "load", "load_weights", "Checkpoint", "CheckpointError", "FORMAT",
           "FORMAT_VERSION", "save_safetensors", "load_safetensors", "METADATA_KEY"]
