"""Scaled Elman cell, PyTorch engine (a toy): ``h' = s ⊙ tanh(W_ih x + b_ih + W_hh h + b_hh)``.

The equations, shapes and facts are in its reference twin (``scaled_rnn_reference``); this is one step.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.functional import linear

from rnnkit.layout import B_HH, LAYOUTS, W_HH
from rnnkit.nn.cells.base import CellBase, Params
from rnnkit.registry import register_cell


@register_cell("scaled_rnn", engine="nn")
class ScaledRNNCell(CellBase):
    """One scaled Elman step; state (h,)."""

    layout = LAYOUTS["scaled_rnn"]

    def recur(self, xp_t: Tensor, state: tuple, params: Params | None = None) -> tuple:
        p = self.params() if params is None else params
        (h,) = state  # (N, H)
        a = xp_t + linear(h, p[W_HH], p.get(B_HH))  # (N, H): W_ih x + b_ih (hoisted by the runner) + W_hh h + b_hh
        return (p["s_gain"] * torch.tanh(a),)
