"""Layer-norm LSTM (Ba, Kiros & Hinton 2016, "Layer Normalization" §3.1, eq. 20-22).

    a  = LN(W_ih x; α_x, b_ih) + LN(W_hh h; α_h, b_hh)        eq. 20: the two products normalised apart
    i, f, o = σ(a_i), σ(a_f), σ(a_o);  g = tanh(a_g)          gate order i, f, g, o
    c' = f ⊙ c + i ⊙ g                                        eq. 21
    h' = o ⊙ tanh(LN(c'; α_c, β_c))                           eq. 22

LN over all 4H pre-activations of a row (as the paper), ε = 1e-5. The shifts of the two gate LNs are b_ih,
b_hh; gains ``ln_ih_gain``, ``ln_hh_gain`` (4H,), ``ln_c_gain``, ``ln_c_shift`` (H,). ``project_input``
returns ``LN(W_ih x; α_x, b_ih)``: it does not read the state, so runners hoist it over all steps. The
reference twin is ``rnnkit.reference.cells.layernorm_lstm`` (see its docstring for the derivation notes).
"""

from __future__ import annotations

from torch import Tensor
from torch.nn.functional import layer_norm, linear

from rnnkit.layout import B_HH, B_IH, LAYOUTS, W_HH, W_IH
from rnnkit.nn import functional as F
from rnnkit.nn.cells.base import CellBase, Params
from rnnkit.registry import register_cell

EPS = 1e-5  # LayerNorm ε, as torch.nn.LayerNorm and the reference twin
GAIN_IH, GAIN_HH, GAIN_C, SHIFT_C = "ln_ih_gain", "ln_hh_gain", "ln_c_gain", "ln_c_shift"


@register_cell("layernorm_lstm", engine="nn")
class LayerNormLSTMCell(CellBase):
    """One layer-norm LSTM step; state (h, c)."""

    layout = LAYOUTS["layernorm_lstm"]

    def project_input(self, x: Tensor, params: Params | None = None) -> Tensor:
        """(..., D) -> (..., 4H): ``LN(W_ih x; α_x, b_ih)``, the state-free half of eq. 20."""
        p = self.params() if params is None else params
        v = linear(x, p[W_IH])
        return layer_norm(v, p[GAIN_IH].shape, p[GAIN_IH], p.get(B_IH), EPS)

    def recur(self, xp_t: Tensor, state: tuple, params: Params | None = None) -> tuple:
        p = self.params() if params is None else params
        h, c = state  # (N, H) each
        v = linear(h, p[W_HH])  # (N, 4H)
        a = xp_t + layer_norm(v, p[GAIN_HH].shape, p[GAIN_HH], p.get(B_HH), EPS)  # eq. 20
        a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
        i, f, g, o = F.sigmoid(a_i), F.sigmoid(a_f), F.tanh(a_g), F.sigmoid(a_o)
        c = f * c + i * g  # eq. 21
        h = o * F.tanh(layer_norm(c, p[GAIN_C].shape, p[GAIN_C], p[SHIFT_C], EPS))  # eq. 22
        return h, c
