"""PyTorch-engine cells, one module per cell; importing this package registers every one of them."""

from rnnkit.nn.cells import gru, lstm, rnn
from rnnkit.nn.cells.base import CellBase

__all__ = ["CellBase", "gru", "lstm", "rnn"]
