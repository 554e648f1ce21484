"""PyTorch-engine cells, one module per cell; importing this package registers every one of them."""

from rnnkit.nn.cells import gru, indrnn, layernorm_lstm, lstm, mingru, minlstm, rnn
from rnnkit.nn.cells.base import CellBase

__all__ = ["CellBase", "gru", "indrnn", "layernorm_lstm", "lstm", "mingru", "minlstm", "rnn"]
