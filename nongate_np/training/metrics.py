"""Per-task metrics, accumulated over batches so that an epoch's figure weighs every sequence
(and, for tagging, every valid step) equally, whatever the batch sizes.

=================  ===========================================================================
task kind          metrics
=================  ===========================================================================
classification     ``loss`` (mean cross-entropy, nats), ``accuracy``
tagging            ``loss`` (mean cross-entropy per valid step, nats), ``accuracy``,
                   ``bits_per_token`` (the same cross-entropy in bits: for characters, the
                   bits per character of language modelling)
regression         ``loss`` (mean squared error, as the training loss: of the standardised
                   target, ((y - target) / std)^2, for a model with ``normalize_targets``),
                   ``mae`` (in the targets' units)
=================  ===========================================================================
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["TaskMeter", "MetricsMeter"]

IGNORE = -100


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


class TaskMeter:
    """Running sums of one task's metrics; ``update`` per batch, ``result`` at the end.
    ``target_std`` (k,): a regression's loss is the squared error divided by it, squared
    (a model's ``normalize_targets``)."""

    def __init__(self, task: dict, target_std=None):
        self.task = task
        self.target_std = None if target_std is None else np.asarray(target_std, np.float64)
        self.loss_sum = self.hits = self.abs_sum = 0.0
        self.count = 0

    def update(self, output: np.ndarray, target: np.ndarray) -> None:
        """output: logits (B, C) / (B, T, C), or values (B, k); target as the task's loss
        takes it (tagging steps equal to -100 are skipped)."""
        kind = self.task["kind"]
        output = np.asarray(output, np.float64)
        if kind == "regression":
            err = output - np.asarray(target, np.float64).reshape(output.shape)
            z = err if self.target_std is None else err / self.target_std
            self.loss_sum += float(np.sum(z * z))
            self.abs_sum += float(np.sum(np.abs(err)))
            self.count += err.size
            return
        logits = output.reshape(-1, output.shape[-1])
        target = np.asarray(target).reshape(-1)
        keep = target != IGNORE
        logits, target = logits[keep], target[keep]
        logp = _log_softmax(logits)
        self.loss_sum -= float(logp[np.arange(len(target)), target].sum())
        self.hits += float(np.sum(logits.argmax(axis=1) == target))
        self.count += len(target)

    def result(self) -> dict:
        if self.count == 0:
            return {}
        loss = self.loss_sum / self.count
        if self.task["kind"] == "regression":
            return {"loss": loss, "mae": self.abs_sum / self.count}
        out = {"loss": loss, "accuracy": self.hits / self.count}
        if self.task["kind"] == "tagging":
            out["bits_per_token"] = loss / math.log(2.0)
        return out


class MetricsMeter:
    """Every task's meter; ``result()`` gives flat keys ``"<task>/<metric>"`` and ``"loss"``,
    the tasks' losses summed with their fixed weights (the training objective with
    ``loss_weighting="fixed"``). ``target_std``: task name to its regression targets' std
    (k,), for a model with ``normalize_targets``."""

    def __init__(self, tasks: list[dict], target_std: dict | None = None):
        target_std = target_std or {}
        self.meters = [TaskMeter(t, target_std.get(t["name"])) for t in tasks]

    def update(self, outputs: dict, targets: dict) -> None:
        for meter in self.meters:
            name = meter.task["name"]
            out = outputs[name]
            meter.update(out.data if hasattr(out, "data") else out, targets[name])

    def totals(self) -> np.ndarray:
        """The running sums and counts of every task, flat (to add up across processes)."""
        return np.array([[m.loss_sum, m.hits, m.abs_sum, m.count] for m in self.meters],
                        np.float64).reshape(-1)

    def set_totals(self, totals: np.ndarray) -> None:
        """Replace the running sums and counts by ``totals`` (as :meth:`totals` gives)."""
        for m, (loss_sum, hits, abs_sum, count) in zip(self.meters, totals.reshape(-1, 4)):
            m.loss_sum, m.hits, m.abs_sum, m.count = float(loss_sum), float(hits), \
                float(abs_sum), int(count)

    def result(self) -> dict:
        flat, total = {}, 0.0
        for meter in self.meters:
            res = meter.result()
            for key, value in res.items():
                flat[f"{meter.task['name']}/{key}"] = value
            total += meter.task.get("weight", 1.0) * res.get("loss", 0.0)
        return {"loss": total, **flat}
