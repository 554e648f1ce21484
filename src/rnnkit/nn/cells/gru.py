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
        H = h.shape[1]
        W_hh, b_hh = p[W_HH], p.get(B_HH)
        ax_r, ax_z, ax_n = xp_t.chunk(3, dim=1)  # (N, H) each: input part W_i* x + b_i*
        if self.options.gru_variant == "torch":
            ah_r, ah_z, ah_n = linear(h, W_hh, b_hh).chunk(3, dim=1)  # recurrent part, all three blocks at once
            r = F.sigmoid(ax_r + ah_r)  # reset gate
            z = F.sigmoid(ax_z + ah_z)  # update gate
            hn = ah_n  # (N, H) W_hn h + b_hn
            n = F.tanh(ax_n + r * hn)  # new state, reset after the product (torch.nn form)
        else:
            b_rz, b_n = (None, None) if b_hh is None else (b_hh[: 2 * H], b_hh[2 * H :])
            ah_r, ah_z = linear(h, W_hh[: 2 * H], b_rz).chunk(2, dim=1)  # r and z blocks only
            r = F.sigmoid(ax_r + ah_r)  # reset gate
            z = F.sigmoid(ax_z + ah_z)  # update gate
            hn = r * h  # (N, H) reset before the product, Cho et al. 2014 eq. (8)
            n = F.tanh(ax_n + linear(hn, W_hh[2 * H :], b_n))
        h = (1 - z) * n + z * h  # h' = (1 - z) ⊙ n + z ⊙ h
        return (h,)
