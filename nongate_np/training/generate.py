"""Text generation from a model trained with a ``next_char`` tagging task (the main job):
feed the prompt, then draw one character at a time from the softmax of the task's head,
carrying the LSTM state (h, c) from step to step (docs/math.md L6), so each new character
costs one LSTM step."""

from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..nn.module import evaluating

__all__ = ["sample_text"]


def sample_text(model, vocab, prompt: str = "\n", *, length: int = 300,
                temperature: float = 0.8, seed: int = 0, task: str = "next_char") -> str:
    """``length`` characters that follow ``prompt``, drawn from the model.

    Parameters
    ----------
    model : MultiTaskSequenceModel
        Token input, a unidirectional LSTM, and a tagging task ``task`` over ``vocab``'s
        ids.
    vocab : CharVocab
    prompt : str
        At least one character; characters outside the vocabulary read as unknown.
    temperature : float
        > 0: the logits are divided by it (lower is more conservative).

    Raises
    ------
    ValueError
        No such tagging task, a bidirectional LSTM, an empty prompt, length < 0 or
        temperature <= 0.
    """
    heads = {t["name"]: (t, head) for t, head in zip(model.tasks, model.heads)}
    if task not in heads or heads[task][0]["kind"] != "tagging":
        raise ValueError(f"sample_text: the model has no tagging task {task!r} (its tasks: "
                         f"{model.task_names}); sampling needs a next-character model")
    if model.lstm.bidirectional:
        raise ValueError("sample_text: a bidirectional LSTM reads the future, so it cannot "
                         "generate text")
    if not prompt:
        raise ValueError("sample_text: the prompt must hold at least one character")
    if length < 0 or not temperature > 0:
        raise ValueError(f"sample_text: need length >= 0 and temperature > 0, got "
                         f"length={length}, temperature={temperature}")
    head = heads[task][1]
    rng = np.random.default_rng(seed)
    ids = vocab.encode(prompt)[None, :]
    out, hx = [], None
    with evaluating(), no_grad():               # the mode stays this thread's
        for _ in range(length):
            h, hx = model.lstm(model.input_layer(ids), hx)
            logits = head(h[:, -1]).data[0].astype(np.float64) / temperature
            logits[:2] = -np.inf                         # never padding or unknown
            p = np.exp(logits - logits.max())
            nxt = int(rng.choice(len(p), p=p / p.sum()))
            out.append(nxt)
            ids = np.array([[nxt]], np.int64)
    return vocab.decode(out)
