"""``blocks=`` for :func:`~nongate_np.check.gradcheck` that a weight's layout gives: the gate
blocks of an LSTM's weights and biases (PyTorch's order i|f|g|o, docs/math.md L2) and of a
GRU's (r|z|n, R1), so that a failure says in which gate its elements lie."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..arguments import check_count

__all__ = ["GATES", "GRU_GATES", "GateBlocks", "lstm_gate_blocks", "gru_gate_blocks"]

#: The gates of an LSTM's stacked rows, in PyTorch's order (docs/math.md L2)
GATES = ("i", "f", "g", "o")
#: The gates of a GRU's stacked rows, in PyTorch's order (docs/math.md R1)
GRU_GATES = ("r", "z", "n")

# the LSTM's parameters whose first axis stacks the four gates (a projection's weight_hr
# does not), by PyTorch's names: weight_ih_l0, bias_hh_l1_reverse, lstm.weight_hh_l0, ...
_STACKED = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class GateBlocks(dict):
    """:func:`lstm_gate_blocks`'s and :func:`gru_gate_blocks`'s result: a dict ``{name:
    [(gate, rows), ...]}``, the ``hidden_size`` it was made for and its ``gates``, so that
    gradcheck refuses it for an input whose first axis is not len(gates)·hidden_size long
    (the gates would be mislabelled)."""

    def __init__(self, blocks: dict, hidden_size: int, gates: tuple = GATES):
        super().__init__(blocks)
        self.hidden_size = hidden_size
        self.gates = gates

    @property
    def made_by(self) -> str:
        """The function that made these blocks, as an error names it."""
        return "gru_gate_blocks" if self.gates == GRU_GATES else "lstm_gate_blocks"


def lstm_gate_blocks(params, hidden_size: int) -> GateBlocks:
    """``{name: [("i", rows), ("f", rows), ("g", rows), ("o", rows)]}`` for every LSTM
    weight and bias among ``params``, each gate's H rows of its (4H, ...) first axis.

    ``params``: the checked inputs' names (their last dotted part PyTorch's:
    ``weight_ih_l0``, ``lstm.bias_hh_l1_reverse``), or a mapping of those names to their
    arrays, whose stacked parameters are then checked to have 4H rows; gradcheck refuses
    blocks for names that are not its inputs (a whole state dict where only some weights
    are checked). Other names (``weight_hr_l0``, another layer's weights) are left out.

    Raises ValueError for no LSTM weight or bias among ``params``, or one whose first axis
    is not 4H long (3H: a GRU's, named so); ValueError for a ``hidden_size`` that is not an
    int >= 1.
    """
    return _gate_blocks(params, hidden_size, GATES, "lstm_gate_blocks", "an LSTM")


def gru_gate_blocks(params, hidden_size: int) -> GateBlocks:
    """``{name: [("r", rows), ("z", rows), ("n", rows)]}`` for every GRU weight and bias
    among ``params``, each gate's H rows of its (3H, ...) first axis (PyTorch's order,
    docs/math.md R1): :func:`lstm_gate_blocks` for ``nn.GRU``'s parameters.

    Raises ValueError for no GRU weight or bias among ``params``, or one whose first axis
    is not 3H long (4H: an LSTM's, named so); ValueError for a ``hidden_size`` that is not
    an int >= 1.
    """
    return _gate_blocks(params, hidden_size, GRU_GATES, "gru_gate_blocks", "a GRU")


def _gate_blocks(params, hidden_size: int, gates: tuple, where: str, cell: str) -> GateBlocks:
    """The blocks of ``gates`` (len(gates)·H stacked rows) for the stacked parameters among
    ``params``; errors name ``where`` and ``cell``."""
    H = check_count(hidden_size, "hidden_size", where, 1)
    n = len(gates)
    names = list(params)
    stacked = [k for k in names if str(k).rsplit(".", 1)[-1].startswith(_STACKED)]
    if not stacked:
        raise ValueError(f"{where}: none of {names[:6]}{' ...' if len(names) > 6 else ''}"
                         f" is {cell} weight or bias (PyTorch's names: weight_ih_l0, "
                         f"weight_hh_l0, bias_ih_l0, bias_hh_l0, ...)")
    if isinstance(params, Mapping):
        for name in stacked:
            rows = np.shape(params[name])[:1]
            if rows != (n * H,):
                raise ValueError(f"{where}: {name} has shape {np.shape(params[name])}; with "
                                 f"hidden_size={H} its first axis stacks the {n} gates, "
                                 f"{n}H = {n * H} rows" + other_cell(rows, H, gates))
    return GateBlocks({name: [(gate, slice(k * H, (k + 1) * H)) for k, gate in enumerate(gates)]
                       for name in stacked}, H, gates)


def other_cell(rows: tuple, H: int, gates: tuple) -> str:
    """"; 3H rows: a GRU's ..." where ``rows`` (a first axis' length, as a 1-tuple) fits
    the other cell's gates at ``H``, else ""."""
    if gates == GATES and rows == (3 * H,):
        return "; 3H rows are a GRU's: use gru_gate_blocks"
    if gates == GRU_GATES and rows == (4 * H,):
        return "; 4H rows are an LSTM's: use lstm_gate_blocks"
    return ""
