"""Layer-norm LSTM (Ba, Kiros & Hinton 2016, "Layer Normalization" §3.1 / eq. 20-22), hand-written backward.

    a  = LN(W_ih x; α_x, b_ih) + LN(W_hh h; α_h, b_hh)        eq. 20: the two products normalised apart
    i, f, o = σ(a_i), σ(a_f), σ(a_o);  g = tanh(a_g)          gate order i, f, g, o (as torch.nn LSTM)
    c' = f ⊙ c + i ⊙ g                                        eq. 21
    h' = o ⊙ tanh(LN(c'; α_c, β_c))                           eq. 22

``LN(v; α, β) = α ⊙ (v - mean(v)) / sqrt(var(v) + ε) + β`` over the features of each row (all 4H gate
pre-activations together, as in the paper; ε = 1e-5 as torch.nn.LayerNorm). Parameters: W_ih (4H, D),
W_hh (4H, H); the LN shifts of the two products are the usual b_ih, b_hh (4H,) (the paper's separate bias b
would be redundant with them; with ``bias=False`` those LNs have no shift); gains ``ln_ih_gain``,
``ln_hh_gain`` (4H,), ``ln_c_gain``, ``ln_c_shift`` (H,) start at 1 and 0. ``forget_bias`` adds to the f
slice of b_ih. Since ``LN(W_ih x)`` does not read the state, the PyTorch engine computes it for all steps
at once (the hoisted input projection).
"""

from __future__ import annotations

import sys

import numpy as np

from rnnkit.layout import B_HH, B_IH, W_HH, W_IH, CellLayout, CellOptions
from rnnkit.reference.functional import dsigmoid, dtanh, sigmoid, tanh
from rnnkit.registry import CellFacts, register_cell

EPS = 1e-5  # LayerNorm ε, as torch.nn.LayerNorm
GAIN_IH, GAIN_HH, GAIN_C, SHIFT_C = "ln_ih_gain", "ln_hh_gain", "ln_c_gain", "ln_c_shift"

# LN over the 4H pre-activations of W_ih x and of W_hh h apart (gains *_gain; b_ih / b_hh are the two LN
# shifts), and LN of c' before the output tanh; gate order i, f, g, o as the LSTM.
FACTS = CellFacts(
    layout=CellLayout(
        "layernorm_lstm",
        gates=("i", "f", "g", "o"),
        state=("h", "c"),
        extra={"ln_ih_gain": ("GH",), "ln_hh_gain": ("GH",), "ln_c_gain": ("H",), "ln_c_shift": ("H",)},
    ),
    fast_paths={"bptt": "rnnkit.nn.bptt_extra"},
    anchor=("lstm", CellOptions()),  # timed against the layer it would replace (other math: speed only)
    # LN of both products (xhat, hhat and their 1/σ), gates, LN of c' (chat, 1/σ), tanh(LN(c')): the cache below
    cache_fields=(
        "x",
        "h",
        "c",
        "xhat",
        "inv_x",
        "hhat",
        "inv_h",
        "i",
        "f",
        "g",
        "o",
        "chat",
        "inv_c",
        "tanh_c_new",
        "params",
        "has_bias",
    ),
    shown_gates=("i", "f", "o"),
    forget_gate=True,
)


def layer_norm(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(v̂, 1/σ): each row of v (N, F) shifted to mean 0 and scaled to variance 1 (ε added to the variance)."""
    mu = v.mean(axis=1, keepdims=True)
    inv = 1.0 / np.sqrt(v.var(axis=1, keepdims=True) + EPS)  # (N, 1)
    return (v - mu) * inv, inv


def layer_norm_backward(dvhat: np.ndarray, vhat: np.ndarray, inv: np.ndarray) -> np.ndarray:
    """dL/dv from dL/dv̂ for v̂ = LN(v) without gain: ``(dv̂ - mean(dv̂) - v̂ mean(dv̂ ⊙ v̂)) / σ``."""
    return inv * (dvhat - dvhat.mean(axis=1, keepdims=True) - vhat * (dvhat * vhat).mean(axis=1, keepdims=True))


def init_state(N: int, H: int, dtype=np.float64) -> tuple[np.ndarray, ...]:
    """Zero state ``(h, c)``, each (N, H)."""
    return (np.zeros((N, H), dtype=dtype), np.zeros((N, H), dtype=dtype))


def step(params: dict[str, np.ndarray], x: np.ndarray, state: tuple, options: CellOptions = CellOptions()):
    """One step: x (N, D), state (h, c) -> ((h', c'), cache)."""
    h, c = state  # (N, H) each
    H = h.shape[1]
    xhat, inv_x = layer_norm(x @ params[W_IH].T)  # (N, 4H)
    hhat, inv_h = layer_norm(h @ params[W_HH].T)  # (N, 4H)
    a = params[GAIN_IH] * xhat + params[GAIN_HH] * hhat  # eq. 20
    if B_IH in params:
        a = a + params[B_IH] + params[B_HH]
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H : 2 * H])
    gg = tanh(a[:, 2 * H : 3 * H])
    o = sigmoid(a[:, 3 * H :])
    c_new = f * c + i * gg  # eq. 21
    chat, inv_c = layer_norm(c_new)  # (N, H)
    t = tanh(params[GAIN_C] * chat + params[SHIFT_C])
    h_new = o * t  # eq. 22
    cache = (x, h, c, xhat, inv_x, hhat, inv_h, i, f, gg, o, chat, inv_c, t, params, B_IH in params)
    return (h_new, c_new), cache


def step_backward(dnew_state: tuple, cache) -> tuple[np.ndarray, tuple, dict[str, np.ndarray]]:
    """Gradients of one step given (dL/dh', dL/dc'): (dx (N, D), (dh, dc), dparams)."""
    dh_new, dc_new = dnew_state
    x, h, c, xhat, inv_x, hhat, inv_h, i, f, gg, o, chat, inv_c, t, params, has_bias = cache
    do = dh_new * t
    dn = dh_new * o * dtanh(t)  # through tanh of the normalised cell, n = α_c ĉ + β_c
    dc = dc_new + layer_norm_backward(dn * params[GAIN_C], chat, inv_c)
    da = np.concatenate([dc * gg * dsigmoid(i), dc * c * dsigmoid(f), dc * i * dtanh(gg), do * dsigmoid(o)], axis=1)
    dax = layer_norm_backward(da * params[GAIN_IH], xhat, inv_x)  # (N, 4H)
    dah = layer_norm_backward(da * params[GAIN_HH], hhat, inv_h)  # (N, 4H)
    dparams = {
        W_IH: dax.T @ x,
        W_HH: dah.T @ h,
        GAIN_IH: (da * xhat).sum(axis=0),
        GAIN_HH: (da * hhat).sum(axis=0),
        GAIN_C: (dn * chat).sum(axis=0),
        SHIFT_C: dn.sum(axis=0),
    }
    if has_bias:
        dparams[B_IH] = da.sum(axis=0)
        dparams[B_HH] = dparams[B_IH].copy()
    return dax @ params[W_IH], (dah @ params[W_HH], dc * f), dparams


register_cell("layernorm_lstm", engine="reference", facts=FACTS)(sys.modules[__name__])
