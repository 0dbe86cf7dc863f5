"""``blocks=`` for :func:`~nongate_np.check.gradcheck` that a weight's layout gives: the four
gate blocks of an LSTM's weights and biases (PyTorch's order i|f|g|o, docs/math.md L2), so
that a failure says in which gate its elements lie."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..arguments import check_count

__all__ = ["GATES", "GateBlocks", "lstm_gate_blocks"]

#: The gates of an LSTM's stacked rows, in PyTorch's order (docs/math.md L2)
GATES = ("i", "f", "g", "o")

# the LSTM's parameters whose first axis stacks the four gates (a projection's weight_hr
# does not), by PyTorch's names: weight_ih_l0, bias_hh_l1_reverse, lstm.weight_hh_l0, ...
_STACKED = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class GateBlocks(dict):
    """:func:`lstm_gate_blocks`'s result: a dict ``{name: [(gate, rows), ...]}``, and the
    ``hidden_size`` it was made for, so that gradcheck refuses it for an input whose first
    axis is not 4·hidden_size long (the gates would be mislabelled)."""

    def __init__(self, blocks: dict, hidden_size: int):
        super().__init__(blocks)
        self.hidden_size = hidden_size


def lstm_gate_blocks(params, hidden_size: int) -> GateBlocks:
    """``{name: [("i", rows), ("f", rows), ("g", rows), ("o", rows)]}`` for every LSTM
    weight and bias among ``params``, each gate's H rows of its (4H, ...) first axis.

    ``params``: the checked inputs' names (their last dotted part PyTorch's:
    ``weight_ih_l0``, ``lstm.bias_hh_l1_reverse``), or a mapping of those names to their
    arrays, whose stacked parameters are then checked to have 4H rows; gradcheck refuses
    blocks for names that are not its inputs (a whole state dict where only some weights
    are checked). Other names (``weight_hr_l0``, another layer's weights) are left out.

    Raises ValueError for no LSTM weight or bias among ``params``, or one whose first axis
    is not 4H long; ValueError for a ``hidden_size`` that is not an int >= 1.
    """
    H = check_count(hidden_size, "hidden_size", "lstm_gate_blocks", 1)
    names = list(params)
    stacked = [n for n in names if str(n).rsplit(".", 1)[-1].startswith(_STACKED)]
    if not stacked:
        raise ValueError(f"lstm_gate_blocks: none of {names[:6]}{' ...' if len(names) > 6 else ''}"
                         f" is an LSTM weight or bias (PyTorch's names: weight_ih_l0, "
                         f"weight_hh_l0, bias_ih_l0, bias_hh_l0, ...)")
    if isinstance(params, Mapping):
        for name in stacked:
            rows = np.shape(params[name])[:1]
            if rows != (4 * H,):
                raise ValueError(f"lstm_gate_blocks: {name} has shape "
                                 f"{np.shape(params[name])}; with hidden_size={H} its first "
                                 f"axis stacks the four gates, 4H = {4 * H} rows")
    return GateBlocks({name: [(gate, slice(k * H, (k + 1) * H)) for k, gate in enumerate(GATES)]
                       for name in stacked}, H)
