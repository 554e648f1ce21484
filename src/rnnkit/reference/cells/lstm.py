"""LSTM cell (Hochreiter & Schmidhuber 1997, forget gate of Gers et al. 2000), NumPy reference.

Equations (row-vector convention, batch first; sigma = logistic sigmoid, * = element-wise)::

    [a_i a_f a_g a_o] = x W_ih^T + b_ih + h W_hh^T + b_hh      # (N, 4H), gate blocks in this order
    i = sigma(a_i)        input gate
    f = sigma(a_f)        forget gate
    g = tanh(a_g)         cell candidate
    o = sigma(a_o)        output gate
    c' = f * c + i * g
    h' = o * tanh(c')

Gate order: i, f, g, o (torch.nn). State: (h, c), each (N, H). Shapes: W_ih (4H, D), W_hh (4H, H),
b_ih, b_hh (4H,). Init: U(-1/sqrt(H), 1/sqrt(H)) for everything; ``CellOptions.forget_bias`` is added to
the f slice of b_ih at init (Jozefowicz et al. 2015 recommend 1.0); it does not change the step.
Departures from the 1997 paper: the forget gate (Gers et al. 2000) and no peepholes, as torch.nn; the
bias is split in two (b_ih + b_hh) as torch.nn/cuDNN.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np

from rnnkit.layout import B_HH, B_IH, W_HH, W_IH, CellLayout, CellOptions
from rnnkit.reference.functional import dsigmoid, dtanh, sigmoid, tanh
from rnnkit.registry import CellFacts, register_cell

# Gate order i, f, g, o as torch.nn, so the fused path is a direct weight copy.
FACTS = CellFacts(
    layout=CellLayout("lstm", gates=("i", "f", "g", "o"), state=("h", "c")),
    # fused first: torch's oneDNN LSTM on CPU is hard to beat (our BPTT measured 1.14x it, benchmarks/RESULTS.md)
    fast_paths={"fused": "rnnkit.nn.fused", "bptt": "rnnkit.nn.bptt"},
    anchor=("lstm", CellOptions()),  # torch.nn.LSTM computes this very cell
    field_meanings={
        "x": "input x_t (N, D)",
        "h": "previous output h_{t-1}",
        "c": "previous cell c_{t-1}",
        "i": "input gate σ(a_i)",
        "f": "forget gate σ(a_f)",
        "g": "cell candidate tanh(a_g)",
        "o": "output gate σ(a_o)",
        "tanh_c_new": "tanh(c_t), c_t = f ⊙ c_{t-1} + i ⊙ g",
    },
    affine_gates=("i", "f", "g", "o"),
    shown_gates=("i", "f", "o"),
    forget_gate=True,
)


class Cache(NamedTuple):
    """What ``step_backward`` needs: inputs, previous state, gate activations and tanh(c')."""

    x: np.ndarray  # (N, D)
    h: np.ndarray  # (N, H)
    c: np.ndarray  # (N, H)
    i: np.ndarray  # (N, H)
    f: np.ndarray  # (N, H)
    g: np.ndarray  # (N, H)
    o: np.ndarray  # (N, H)
    tanh_c_new: np.ndarray  # (N, H)
    params: dict[str, np.ndarray]


def init_state(N: int, H: int, dtype: np.dtype | type = np.float64) -> tuple[np.ndarray, ...]:
    """Zero state ``(h, c)``, each (N, H)."""
    return (np.zeros((N, H), dtype=dtype), np.zeros((N, H), dtype=dtype))


def step(
    params: dict[str, np.ndarray], x: np.ndarray, state: tuple[np.ndarray, ...], options: CellOptions = CellOptions()
) -> tuple[tuple[np.ndarray, ...], Cache]:
    """One LSTM step. Returns ``((h', c'), cache)``."""
    h, c = state
    H = h.shape[1]
    a = x @ params[W_IH].T + h @ params[W_HH].T  # (N, 4H)
    if B_IH in params:
        a = a + params[B_IH] + params[B_HH]
    i = sigmoid(a[:, 0 * H : 1 * H])  # input gate
    f = sigmoid(a[:, 1 * H : 2 * H])  # forget gate (Gers et al. 2000)
    g = tanh(a[:, 2 * H : 3 * H])  # cell candidate
    o = sigmoid(a[:, 3 * H : 4 * H])  # output gate
    c_new = f * c + i * g  # (N, H)
    tanh_c_new = tanh(c_new)
    h_new = o * tanh_c_new  # (N, H)
    return (h_new, c_new), Cache(x, h, c, i, f, g, o, tanh_c_new, params)


def step_backward(
    dnew_state: tuple[np.ndarray, ...], cache: Cache
) -> tuple[np.ndarray, tuple[np.ndarray, ...], dict[str, np.ndarray]]:
    """Backward of ``step``: from (dL/dh', dL/dc') to (dL/dx, (dL/dh, dL/dc), dL/dparams)."""
    dh_new, dc_new = dnew_state
    x, h, c, i, f, g, o, tanh_c_new, params = cache
    do = dh_new * tanh_c_new  # h' = o * tanh(c')
    dc = dc_new + dh_new * o * dtanh(tanh_c_new)  # total dL/dc': from the next step and through h'
    di, df, dg = dc * g, dc * c, dc * i  # c' = f * c + i * g
    da = np.concatenate(  # (N, 4H) gradient of the pre-activations, gate order i, f, g, o
        [di * dsigmoid(i), df * dsigmoid(f), dg * dtanh(g), do * dsigmoid(o)], axis=1
    )
    dparams = {W_IH: da.T @ x, W_HH: da.T @ h}  # (4H, D), (4H, H)
    if B_IH in params:
        dparams[B_IH] = da.sum(axis=0)
        dparams[B_HH] = dparams[B_IH].copy()
    dx = da @ params[W_IH]  # (N, D)
    dh = da @ params[W_HH]  # (N, H)
    dc_prev = dc * f  # (N, H) the "constant error carousel": dc flows back scaled only by f
    return dx, (dh, dc_prev), dparams


register_cell("lstm", engine="reference", facts=FACTS)(sys.modules[__name__])
