"""IndRNN (Li et al. 2018, "Independently Recurrent Neural Network"): element-wise recurrence, ReLU.

    h' = relu(W_ih x + b_ih + u ⊙ h + b_hh)           §3, eq. 2

``u`` is ``W_hh`` of shape (H,) (``hh_diagonal``). ``CellOptions.recurrent_max_abs = γ`` clamps u to
[-γ, γ] inside the step (§3.1's constraint; gradient 0 where clamped). The nonlinearity is always ReLU;
init is the shared U(-1/√H, 1/√H). The reference twin is ``rnnkit.reference.cells.indrnn``.
"""

from __future__ import annotations

from torch import Tensor

from rnnkit.layout import B_HH, LAYOUTS, W_HH, CellOptions
from rnnkit.nn import functional as F
from rnnkit.nn.cells.base import CellBase, Params
from rnnkit.registry import register_cell


def recurrent_weight(u: Tensor, options: CellOptions) -> Tensor:
    """u clamped to |u| ≤ γ when ``options.recurrent_max_abs`` is set (Li et al. 2018 §3.1), else u."""
    gamma = options.recurrent_max_abs
    return u if gamma is None else u.clamp(-gamma, gamma)


@register_cell("indrnn", engine="nn")
class IndRNNCell(CellBase):
    """One IndRNN step; state (h,)."""

    layout = LAYOUTS["indrnn"]

    def recur(self, xp_t: Tensor, state: tuple, params: Params | None = None) -> tuple:
        p = self.params() if params is None else params
        (h,) = state  # (N, H)
        a = xp_t + recurrent_weight(p[W_HH], self.options) * h  # (N, H)
        if B_HH in p:
            a = a + p[B_HH]
        return (F.relu(a),)  # eq. 2: h_t = relu(W x_t + u ⊙ h_{t-1} + b)
