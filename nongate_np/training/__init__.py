"""Training on :class:`~nongate_np.data.SequenceDataset`s: :func:`fit` (mini-batches,
gradient clipping, early stopping, callbacks, exact resume), :func:`evaluate`,
:func:`predict`, the per-task metrics, a run's checkpoints (:class:`ModelCheckpoint`,
:func:`resume`), the jobs behind ``nongate-np train``, and :func:`read_as_trained` to read
new data as such a run read its own."""

from .callbacks import Callback, JSONLines, ProgressBar
from .checkpoints import ModelCheckpoint, resume
from .generate import sample_text
from .jobs import read_as_trained
from .loop import History, batches, evaluate, fit, predict
from .metrics import MetricsMeter, TaskMeter

__all__ = ["fit", "evaluate", "predict", "History", "batches", "Callback", "ProgressBar",
           "JSONLines", "ModelCheckpoint", "resume", "read_as_trained", "MetricsMeter",
           "TaskMeter", "sample_text"]
