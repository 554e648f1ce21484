"""The PyTorch engine: the same cells as ``rnnkit.reference``, as nn.Modules, plus fast paths.

``Recurrent`` is the runner; ``RNN``, ``LSTM``, ``GRU`` are the public classes (torch.nn calling
convention, batch first); ``from_torch`` converts a torch.nn.RNN/LSTM/GRU, ``.to_torch()`` goes back.
"""

from rnnkit.nn import cells
from rnnkit.nn.fused import from_torch
from rnnkit.nn.sequence import GRU, LSTM, RNN, Recurrent, RecurrentLayer, public_class

__all__ = ["GRU", "LSTM", "RNN", "Recurrent", "RecurrentLayer", "cells", "from_torch", "public_class"]
