"""Callbacks of :func:`~nongate_np.training.fit`: hooks called at the start and end of the
run, of every epoch and after every step, as Keras' ``keras.callbacks.Callback``.

``ProgressBar`` draws the live bar (steps, loss, ETA); ``JSONLines`` appends one JSON
object per epoch to a file (``metrics.jsonl``).
"""

from __future__ import annotations

import json
import math
import pathlib

from ..io.atomic import write_text_atomically
from .progress import ProgressBar as _Bar

__all__ = ["Callback", "ProgressBar", "JSONLines"]


class Callback:
    """Base class: override the hooks you need (each does nothing by default)."""

    def on_train_begin(self, model, history) -> None:
        """Before the first epoch (``history`` holds the epochs of a resumed run)."""

    def on_epoch_begin(self, epoch: int, steps: int) -> None:
        """Before epoch ``epoch`` (1-based) of ``steps`` mini-batches."""

    def on_batch_end(self, step: int, loss: float) -> None:
        """After optimiser step ``step`` (1-based within the epoch) with its loss."""

    def on_epoch_end(self, epoch: int, record: dict, model, optimizer, history) -> None:
        """After the epoch's validation; ``record`` is the epoch's metrics."""

    def on_train_end(self, model, history) -> None:
        """After the last epoch (the best weights already restored)."""


class ProgressBar(Callback):
    """A live bar per epoch on ``stream`` (stderr by default) with the running loss; after
    each epoch one line of the validation metrics named in ``show``."""

    def __init__(self, epochs: int, stream=None, show=("val/loss",)):
        self.epochs, self.stream, self.show = epochs, stream, tuple(show)
        self.bar, self.losses = None, []

    def on_epoch_begin(self, epoch, steps):
        self.bar = _Bar(steps, f"epoch {epoch}/{self.epochs}", stream=self.stream)
        self.losses = []

    def on_batch_end(self, step, loss):
        self.losses.append(loss)
        recent = self.losses[-20:]
        self.bar.update(loss=sum(recent) / len(recent))

    def on_epoch_end(self, epoch, record, model, optimizer, history):
        self.bar.close()
        shown = [f"{k} {record[k]:.4g}" for k in self.show if k in record]
        if shown:
            self.bar.stream.write("  " + ", ".join(shown) +
                                  ("  (best so far)" if record.get("best") else "") + "\n")
            self.bar.stream.flush()


class JSONLines(Callback):
    """Append each epoch's record to ``path`` as one JSON object per line (non-finite
    values written as null, so every line is valid JSON).

    The file starts empty, or with ``append`` as it is, or holding exactly ``records``
    (a resumed run's ``History.epochs``: the lines of an epoch that was interrupted before
    its checkpoint go, so no epoch is listed twice)."""

    def __init__(self, path, *, append: bool = False, records: list[dict] | None = None):
        self.path = pathlib.Path(path)
        if records is not None:
            write_text_atomically(self.path, "".join(_line(r) for r in records),
                                  "JSONLines")
        elif not append:
            self.path.write_text("")

    def on_epoch_end(self, epoch, record, model, optimizer, history):
        with self.path.open("a") as f:
            f.write(_line(record))


def _line(record: dict) -> str:
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in record.items()}
    return json.dumps(clean) + "\n"
