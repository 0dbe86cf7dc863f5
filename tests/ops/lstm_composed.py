"""The LSTM written step by step with the engine's primitive ops: an independent derivation
(the autograd of matmul, sigmoid, tanh, where, stack) to compare the fused BPTT against."""

import numpy as np

import nongate_np as ng


def composed_lstm_layer(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None,
                        lengths=None, reverse=False):
    T, B = x.shape[:2]
    H = w_hh.shape[0] // 4
    active = np.ones((T, B), bool) if lengths is None else \
        np.arange(T)[:, None] < np.asarray(lengths)[None, :]
    h, c = h0, c0
    ys = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        a = x[t] @ ng.transpose(w_ih, 0, 1) + h @ ng.transpose(w_hh, 0, 1)
        if b_ih is not None:
            a = a + b_ih + b_hh
        i, f = ng.sigmoid(a[:, :H]), ng.sigmoid(a[:, H:2 * H])
        g, o = ng.tanh(a[:, 2 * H:3 * H]), ng.sigmoid(a[:, 3 * H:])
        c_new = f * c + i * g
        h_new = o * ng.tanh(c_new)
        if w_hr is not None:
            h_new = h_new @ ng.transpose(w_hr, 0, 1)
        act = active[t][:, None]
        c = ng.where(act, c_new, c)
        h = ng.where(act, h_new, h)
        ys[t] = ng.where(act, h_new, 0.0)
    return ng.stack(ys), h, c
