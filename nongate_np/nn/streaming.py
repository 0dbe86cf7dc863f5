"""Streaming inference: feed a sequence one step or one chunk at a time and read the current
sequence embedding after each, with O(Q·D') pooling state per sequence (docs/math.md A16).

The LSTM state (h, c) is carried between chunks (a unidirectional LSTM continues exactly,
L6), and the attention pooling is folded online: a running max of the scores, a running
Σ e^{e−max} and a running Σ e^{e−max}·v, rescaled whenever the max grows. After the last
chunk the embedding equals ``model.encode`` on the whole sequence to rounding.
Inference only: no graph is built.
"""

from __future__ import annotations

import numpy as np

from ..arguments import check_count
from ..autograd import no_grad
from ..device import CPU, move
from ..kernels.contract import AttentionParams
from ..kernels.registry import kernels_for, kernels_own_the_cores
from .module import evaluating

__all__ = ["StreamingEncoder"]


class StreamingEncoder:
    """Online encoder for a :class:`MultiTaskSequenceModel` (use ``model.stream(B)``).

    ``update(chunk, lengths=None)`` takes the next steps of B sequences, token ids (B, t)
    or features (B, t, F), and returns the current embeddings (B, Q, D') in task order, a
    host ndarray whatever the model's device (as ``encode``).
    ``lengths`` (B,) says how many of the chunk's t steps are real for each sequence
    (a sequence that has ended passes 0). ``reset()`` starts new sequences.

    A stream holds its sequences' state, so one thread feeds it; streams of one model on
    several threads at once each get the bits they get alone (NumPy's BLAS on one thread
    during ``update``, as in ``predict``).
    """

    def __init__(self, model, batch_size: int):
        if model.lstm.bidirectional:
            raise ValueError("stream: a bidirectional LSTM reads each sequence backwards from "
                             "its end, so it cannot run online; use encode() on whole "
                             "sequences")
        if model.pool is None:
            raise ValueError("stream: the model has no sequence-level task, so no pooling")
        self.model = model
        self.batch_size = check_count(batch_size, "batch_size", "stream", 1)
        self.reset()

    def reset(self) -> None:
        self.hx = None                 # LSTM (h, c) after the steps seen so far
        self.state = None              # OnlinePoolState (running max, sum, vector)

    @kernels_own_the_cores
    def update(self, chunk, lengths=None) -> np.ndarray:
        """The embeddings (B, Q, D') after the next steps of the B sequences, in eval mode
        (dropout off, as ``encode``), a host array in the model's dtype.

        ``chunk``: token ids (B, t) or features (B, t, F) of the model's kind; ``lengths``
        (B,) ints in [0, t], how many of the chunk's steps are real for each sequence (0 for
        one that has ended; default all t, or for tokens up to the last non-padding one).
        Raises ValueError for a batch size other than the stream's, another shape or
        lengths out of range; TypeError for another kind of input (as ``encode``)."""
        model, pool = self.model, self.model.pool
        chunk = model._check_input(chunk)
        B, t = chunk.shape[:2]
        if B != self.batch_size:
            raise ValueError(f"stream.update: chunk has batch size {B}, expected "
                             f"{self.batch_size} (the stream's batch size)")
        lengths = model._infer_lengths(chunk, lengths, allow_empty=True)
        with evaluating(), no_grad():
            # padded feature steps are selected to 0 before the input layer (never read)
            h, self.hx = model.lstm(model.input_layer(chunk, lengths), self.hx,
                                    lengths=lengths)
        params = AttentionParams(*(None if p is None else p.data for p in pool.kernel_params()))
        pooled, self.state = kernels_for(h.data).attention_online(        # A16, A17
            self.state, h.data, params, pool.kind, model.pooling_mask(chunk, lengths))
        return move(pooled, CPU)        # a device array has no NumPy methods on a real GPU
