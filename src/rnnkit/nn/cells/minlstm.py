"""minLSTM (Feng et al. 2024, "Were RNNs All We Needed?" §3.2): gates from the input only, normalised.

    f  = σ(W_if x + b_if),  i = σ(W_ii x + b_ii)
    f' = f / (f + i),       i' = i / (f + i)          (§3.2.3, computed as σ(±d), d = log σ(a_f) - log σ(a_i))
    h~ = g(W_ih x + b_ih)                              g as minGRU's
    h' = f' ⊙ h + i' ⊙ h~

Gate order f, i, h (G = 3): W_ih (3H, D), b_ih (3H,); ``forget_bias`` adds to the f slice. Linear in h
(``a = f'``, ``b = i' ⊙ h~``), trained by the parallel scan in ``rnnkit.nn.scan``. Departures: zero initial
state; init U(-1/√H, 1/√H). The reference twin is ``rnnkit.reference.cells.minlstm``.
"""

from __future__ import annotations

from torch import Tensor
from torch.nn.functional import logsigmoid

from rnnkit.layout import LAYOUTS
from rnnkit.nn import functional as F
from rnnkit.nn.cells.base import CellBase, Params
from rnnkit.nn.cells.mingru import g
from rnnkit.registry import register_cell


def coefficients(xp: Tensor) -> tuple[Tensor, Tensor]:
    """(a, b) of ``h' = a ⊙ h + b`` from the projected input xp (..., 3H): a = f', b = i' ⊙ h~."""
    a_f, a_i, a_h = xp.chunk(3, dim=-1)  # (..., H) each, gate order f, i, h
    d = logsigmoid(a_f) - logsigmoid(a_i)  # log f - log i: no 0/0 when both gates underflow
    return F.sigmoid(d), F.sigmoid(-d) * g(a_h)


@register_cell("minlstm", engine="nn")
class MinLSTMCell(CellBase):
    """One minLSTM step; state (h,)."""

    layout = LAYOUTS["minlstm"]

    def recur(self, xp_t: Tensor, state: tuple, params: Params | None = None) -> tuple:
        (h,) = state  # (N, H)
        a_f, a_i, a_h = xp_t.chunk(3, dim=1)  # (N, H) each
        d = logsigmoid(a_f) - logsigmoid(a_i)
        f_n, i_n = F.sigmoid(d), F.sigmoid(-d)  # §3.2.3: f' = f / (f + i), i' = i / (f + i)
        return (f_n * h + i_n * g(a_h),)  # h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ h~_t
