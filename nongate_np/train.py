"""The main job: train the multi-task model on the two-trigger problem (``nongate-np train
multitask``), with a live progress bar, per-epoch metrics as JSON lines and a checkpoint."""

from __future__ import annotations

import json
import pathlib
import time
from dataclasses import asdict, dataclass

import numpy as np

from . import rng
from .autograd import no_grad
from .data import TwoTriggerData, make_two_trigger, minibatches
from .io import save
from .nn.multitask import MultiTaskSequenceModel
from .optim import Adam, clip_grad_norm_
from .progress import ProgressBar

TASKS = ("A", "B")


@dataclass
class TrainConfig:
    epochs: int = 6
    seed: int = 0
    n_train: int = 1500
    n_val: int = 300
    batch_size: int = 32
    lr: float = 0.01
    min_len: int = 8
    max_len: int = 16
    num_classes: int = 3
    embed_size: int = 16
    hidden_size: int = 32
    attn_size: int = 16
    attention: str = "gated"
    loss_weighting: str = "fixed"


def build_model(cfg: TrainConfig, vocab_size: int) -> MultiTaskSequenceModel:
    tasks = [{"name": name, "kind": "classification", "num_classes": cfg.num_classes}
             for name in TASKS]
    return MultiTaskSequenceModel(tasks, vocab_size=vocab_size, embed_size=cfg.embed_size,
                                  hidden_size=cfg.hidden_size, attn_size=cfg.attn_size,
                                  attention=cfg.attention, loss_weighting=cfg.loss_weighting)


def evaluate(model: MultiTaskSequenceModel, data: TwoTriggerData) -> dict:
    """Accuracy of each task and the mean attention mass on each task's own trigger step
    (and, for contrast, on the other task's trigger)."""
    model.eval()
    with no_grad():
        out = model(data.tokens, lengths=data.lengths)
    model.train()
    rows = np.arange(len(data))
    metrics = {}
    for k, name in enumerate(TASKS):
        pred = out[name].data.argmax(axis=1)
        weights = out["attention"][name].data
        metrics[f"acc_{name}"] = float(np.mean(pred == data.labels[k]))
        metrics[f"attn_own_{name}"] = float(np.mean(weights[rows, data.positions[k]]))
        metrics[f"attn_other_{name}"] = float(np.mean(weights[rows, data.positions[1 - k]]))
    return metrics


def train_multitask(cfg: TrainConfig, out_dir, *, stream=None, quiet: bool = False) -> dict:
    """Train, writing ``metrics.jsonl`` (one line per epoch) and ``model.npz`` (model,
    optimizer and the final metrics) into ``out_dir``; returns the final metrics."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng.seed(cfg.seed)
    data = make_two_trigger(cfg.n_train + cfg.n_val, min_len=cfg.min_len,
                            max_len=cfg.max_len, num_classes=cfg.num_classes, seed=cfg.seed)
    train, val = data.subset(slice(0, cfg.n_train)), data.subset(slice(cfg.n_train, None))
    model = build_model(cfg, data.vocab_size)
    opt = Adam(model.parameters(), lr=cfg.lr)
    batch_rng = np.random.default_rng(cfg.seed)
    steps_per_epoch = -(-cfg.n_train // cfg.batch_size)
    metrics_path = out_dir / "metrics.jsonl"
    metrics_path.write_text("")
    start = time.perf_counter()
    metrics = {}
    for epoch in range(1, cfg.epochs + 1):
        bar = None if quiet else ProgressBar(steps_per_epoch, f"epoch {epoch}/{cfg.epochs}",
                                             stream=stream)
        losses = []
        for idx in minibatches(cfg.n_train, cfg.batch_size, batch_rng):
            batch = train.subset(idx)
            out = model(batch.tokens, lengths=batch.lengths)
            loss, _ = model.loss(out, dict(zip(TASKS, batch.labels)))
            opt.zero_grad()
            loss.backward()
            clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            losses.append(loss.item())
            if bar:
                bar.update(loss=float(np.mean(losses[-20:])))
        if bar:
            bar.close()
        metrics = {"epoch": epoch, "train_loss": float(np.mean(losses)),
                   **evaluate(model, val), "seconds": time.perf_counter() - start}
        with metrics_path.open("a") as f:
            f.write(json.dumps(metrics) + "\n")
    save(model, out_dir / "model.npz", optimizer=opt,
         extra={"train_config": asdict(cfg), "metrics": metrics})
    return metrics


def summary(metrics: dict) -> str:
    """The lines the command prints at the end."""
    lines = [f"trained {metrics['epoch']} epochs in {metrics['seconds']:.1f} s"]
    for name in TASKS:
        lines.append(
            f"task {name}: accuracy {metrics[f'acc_{name}']:.3f}; attention mass on its own "
            f"trigger step {metrics[f'attn_own_{name}']:.2f}, on the other task's "
            f"{metrics[f'attn_other_{name}']:.2f}")
    return "\n".join(lines)
