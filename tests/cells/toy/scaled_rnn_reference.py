"""Scaled Elman cell, NumPy reference (a toy): ``h' = s ⊙ tanh(W_ih x + b_ih + W_hh h + b_hh)``.

One gate block ("h"); ``s`` is a learned per-unit gain (``s_gain``), which starts at 1 as every ``*_gain``
does (``layout.init_params``), so at init the cell is torch.nn's tanh RNN. Shapes: x (N, D), h (N, H),
W_ih (H, D), W_hh (H, H), b_ih, b_hh, s_gain (H,).
"""

from __future__ import annotations

import sys

import numpy as np

from rnnkit.layout import B_HH, B_IH, W_HH, W_IH, CellLayout, CellOptions
from rnnkit.registry import CellFacts, register_cell

FACTS = CellFacts(
    layout=CellLayout("scaled_rnn", gates=("h",), state=("h",), extra={"s_gain": ("H",)}),
    anchor=("rnn", CellOptions()),  # `rnnkit bench cells` times it against torch.nn.RNN (speed only)
    cache_fields=("x", "h", "t", "params"),  # the entries of the cache `step` returns, in order
    field_meanings={"t": "tanh(a_t), so h_t = s ⊙ t"},
)


def init_state(N: int, H: int, dtype=np.float64) -> tuple[np.ndarray, ...]:
    """Zero state ``(h,)``, h (N, H)."""
    return (np.zeros((N, H), dtype=dtype),)


def step(params: dict[str, np.ndarray], x: np.ndarray, state: tuple, options: CellOptions = CellOptions()):
    """One step: x (N, D), state (h,) -> ((h',), cache)."""
    (h,) = state
    a = x @ params[W_IH].T + h @ params[W_HH].T  # (N, H)
    if B_IH in params:
        a = a + params[B_IH] + params[B_HH]
    t = np.tanh(a)
    return (params["s_gain"] * t,), (x, h, t, params)  # h' = s ⊙ tanh(a)


def step_backward(dnew_state: tuple, cache) -> tuple[np.ndarray, tuple, dict[str, np.ndarray]]:
    """Gradients of one step given dL/dh' (N, H): (dx (N, D), (dh,), dparams)."""
    (dh_new,) = dnew_state
    x, h, t, params = cache
    da = dh_new * params["s_gain"] * (1.0 - t**2)  # (N, H): through s, then tanh' = 1 - t²
    dparams = {W_IH: da.T @ x, W_HH: da.T @ h, "s_gain": (dh_new * t).sum(axis=0)}
    if B_IH in params:
        dparams[B_IH] = da.sum(axis=0)
        dparams[B_HH] = dparams[B_IH].copy()
    return da @ params[W_IH], (da @ params[W_HH],), dparams


register_cell("scaled_rnn", engine="reference", facts=FACTS)(sys.modules[__name__])
