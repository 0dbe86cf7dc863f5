"""Sequences in, padded arrays out: loaders for your own data (``.ts``, CSV, ``.npz``),
padding, standardisation, the standard library's own source text (:mod:`.text`, the main
job's data) and the synthetic two-trigger problem.

Every loader returns a :class:`SequenceDataset` and raises :class:`DataError` (a
``ValueError``) with the file, the place in it, what was expected and what was found.
"""

from . import text
from .dataset import IGNORE_INDEX, TASK_KINDS, SequenceDataset
from .errors import DataError
from .loaders import LOADERS, load_sequences
from .npz import load_npz
from .padding import pad_sequences, unpad_sequences
from .standardize import Standardizer
from .synthetic import TwoTriggerData, make_two_trigger, minibatches
from .table import load_csv
from .ts import load_ts

__all__ = ["DataError", "SequenceDataset", "TASK_KINDS", "IGNORE_INDEX", "pad_sequences",
           "unpad_sequences", "Standardizer", "load_ts", "load_csv", "load_npz",
           "load_sequences", "LOADERS", "text", "TwoTriggerData", "make_two_trigger",
           "minibatches"]
