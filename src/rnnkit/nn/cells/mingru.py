"""minGRU (Feng et al. 2024, "Were RNNs All We Needed?" §3.1): gates from the input only.

    z  = σ(W_iz x + b_iz)                     update gate (no recurrent matrix)
    h~ = g(W_ih x + b_ih)                     candidate, g(a) = a + 0.5 (a >= 0), σ(a) (a < 0)   (§B.3)
    h' = (1 - z) ⊙ h + z ⊙ h~

Gate order z, h (G = 2): W_ih (2H, D), b_ih (2H,). Linear in h: ``h' = a ⊙ h + b`` with ``a = 1 - z``,
``b = z ⊙ h~`` (``coefficients``), so a whole sequence is one parallel scan (``rnnkit.nn.scan``); ``recur``
is the sequential step used for generation and as the slow twin. Departures: zero initial state (the paper
uses g(h_0)); init U(-1/√H, 1/√H). The reference twin is ``rnnkit.reference.cells.mingru``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.layout import LAYOUTS
from rnnkit.nn import functional as F
from rnnkit.nn.cells.base import CellBase, Params
from rnnkit.registry import register_cell


def g(a: Tensor) -> Tensor:
    """Feng et al. 2024 §B.3: ``a + 0.5`` for a >= 0, ``σ(a)`` for a < 0 (positive, continuous at 0)."""
    return torch.where(a >= 0, a + 0.5, F.sigmoid(a))


def coefficients(xp: Tensor) -> tuple[Tensor, Tensor]:
    """(a, b) of ``h' = a ⊙ h + b`` from the projected input xp (..., 2H): a = 1 - z, b = z ⊙ h~."""
    a_z, a_h = xp.chunk(2, dim=-1)  # (..., H) each, gate order z, h
    z = F.sigmoid(a_z)
    return 1.0 - z, z * g(a_h)


@register_cell("mingru", engine="nn")
class MinGRUCell(CellBase):
    """One minGRU step; state (h,)."""

    layout = LAYOUTS["mingru"]

    def recur(self, xp_t: Tensor, state: tuple, params: Params | None = None) -> tuple:
        (h,) = state  # (N, H)
        a_z, a_h = xp_t.chunk(2, dim=1)  # (N, H) each
        z = F.sigmoid(a_z)
        h_tilde = g(a_h)
        return ((1.0 - z) * h + z * h_tilde,)  # §3.1: h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h~_t
