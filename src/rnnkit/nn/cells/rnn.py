"""Elman RNN cell: ``h' = f(W_ih x + b_ih + W_hh h + b_hh)``, f = tanh (default) or relu.

Elman (1990), "Finding structure in time": h_t = f(W x_t + U h_{t-1} + b); in our names W = W_ih,
U = W_hh and b is split in two biases b_ih + b_hh as torch.nn / cuDNN do. One gate block (G = 1).
Shapes: W_ih (H, D), W_hh (H, H), b_ih (H,), b_hh (H,). Init U(-1/sqrt(H), 1/sqrt(H)).
"""

from __future__ import annotations

from torch import Tensor
from torch.nn.functional import linear

from rnnkit.layout import B_HH, LAYOUTS, W_HH
from rnnkit.nn import functional as F
from rnnkit.nn.cells.base import CellBase, Params
from rnnkit.registry import register_cell


@register_cell("rnn", engine="nn")
class RNNCell(CellBase):
    """Elman cell, ``options.nonlinearity`` in {'tanh', 'relu'}."""

    layout = LAYOUTS["rnn"]

    def recur(self, xp_t: Tensor, state: tuple, params: Params | None = None) -> tuple:
        p = self.params() if params is None else params
        (h,) = state  # (N, H)
        a = xp_t + linear(h, p[W_HH], p.get(B_HH))  # (N, H): W_ih x + b_ih + W_hh h + b_hh
        h = F.ACTIVATIONS[self.options.nonlinearity](a)  # h' = f(a)
        return (h,)
