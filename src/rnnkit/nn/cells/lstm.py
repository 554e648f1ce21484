"""LSTM cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000), torch.nn form.

    i = σ(W_ii x + b_ii + W_hi h + b_hi)        input gate
    f = σ(W_if x + b_if + W_hf h + b_hf)        forget gate
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)     cell candidate
    o = σ(W_io x + b_io + W_ho h + b_ho)        output gate
    c' = f ⊙ c + i ⊙ g
    h' = o ⊙ tanh(c')

Gate blocks stacked in the order i, f, g, o (G = 4): W_ih (4H, D), W_hh (4H, H), b_ih, b_hh (4H,).
Init U(-1/sqrt(H), 1/sqrt(H)); ``options.forget_bias`` is added to the f slice of b_ih (Jozefowicz et al.
2015 recommend 1). No peepholes, as torch.nn.
"""

from __future__ import annotations

from torch import Tensor
from torch.nn.functional import linear

from rnnkit.layout import B_HH, LAYOUTS, W_HH
from rnnkit.nn import functional as F
from rnnkit.nn.cells.base import CellBase, Params
from rnnkit.registry import register_cell


@register_cell("lstm", engine="nn")
class LSTMCell(CellBase):
    """One LSTM step; state (h, c)."""

    layout = LAYOUTS["lstm"]

    def recur(self, xp_t: Tensor, state: tuple, params: Params | None = None) -> tuple:
        p = self.params() if params is None else params
        h, c = state  # (N, H) each
        a = xp_t + linear(h, p[W_HH], p.get(B_HH))  # (N, 4H) pre-activations
        a_i, a_f, a_g, a_o = a.chunk(4, dim=1)  # (N, H) each, gate order i, f, g, o
        i = F.sigmoid(a_i)
        f = F.sigmoid(a_f)
        g = F.tanh(a_g)
        o = F.sigmoid(a_o)
        c = f * c + i * g  # c' = f ⊙ c + i ⊙ g
        h = o * F.tanh(c)  # h' = o ⊙ tanh(c')
        return h, c
