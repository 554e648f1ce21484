"""GRU cell (Cho et al. 2014), in the torch.nn form by default and the paper form as an option.

    r = σ(W_ir x + b_ir + W_hr h + b_hr)                 reset gate
    z = σ(W_iz x + b_iz + W_hz h + b_hz)                 update gate
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))        candidate, "torch" variant (torch.nn / cuDNN)
    n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)        candidate, "paper" variant (Cho et al. 2014, eq. 8)
    h' = (1 - z) ⊙ n + z ⊙ h

Gate blocks stacked in the order r, z, n (G = 3): W_ih (3H, D), W_hh (3H, H), b_ih, b_hh (3H,).
The torch form lets one product W_hh h serve all three gates; the paper form needs r before the n product,
so it cannot run on the fused kernels (``CellOptions(gru_variant="paper")`` runs on the loop / BPTT paths).
"""

from __future__ import annotations

from torch import Tensor
from torch.nn.functional import linear

from rnnkit.layout import B_HH, LAYOUTS, W_HH
from rnnkit.nn import functional as F
from rnnkit.nn.cells.base import CellBase, Params
from rnnkit.registry import register_cell


@register_cell("gru", engine="nn")
class GRUCell(CellBase):
    """One GRU step; state (h,)."""

    layout = LAYOUTS["gru"]

    def recur(self, xp_t: Tensor, state: tuple, params: Params | None = None) -> tuple:
        p = self.params() if params is None else params
        (h,) = state  # (N, H)
        x_r, x_z, x_n = xp_t.chunk(3, dim=1)  # (N, H) each: W_i* x + b_i*
        if self.options.gru_variant == "torch":
            h_r, h_z, h_n = linear(h, p[W_HH], p.get(B_HH)).chunk(3, dim=1)  # (N, H) each: W_h* h + b_h*
            r = F.sigmoid(x_r + h_r)
            z = F.sigmoid(x_z + h_z)
            n = F.tanh(x_n + r * h_n)  # reset applied after the product
        else:
            W_hr, W_hz, W_hn = p[W_HH].chunk(3, dim=0)  # (H, H) each
            b_hr, b_hz, b_hn = p[B_HH].chunk(3) if B_HH in p else (None, None, None)
            r = F.sigmoid(x_r + linear(h, W_hr, b_hr))
            z = F.sigmoid(x_z + linear(h, W_hz, b_hz))
            n = F.tanh(x_n + linear(r * h, W_hn, b_hn))  # reset applied to h before the product (paper)
        h = (1 - z) * n + z * h  # h' = (1 - z) ⊙ n + z ⊙ h
        return (h,)
