"""minLSTM (Feng et al. 2024, "Were RNNs All We Needed?" §3.2), sequential step with hand-written backward.

    f  = σ(W_if x + b_if),  i = σ(W_ii x + b_ii)      gates from the input only (no recurrent matrix)
    f' = f / (f + i),       i' = i / (f + i)          normalised, time-independent scale (§3.2.3)
    h~ = g(W_ih x + b_ih)                              candidate, g as minGRU's
    h' = f' ⊙ h + i' ⊙ h~

Gate blocks stacked in the order f, i, h (G = 3): W_ih (3H, D), b_ih (3H,); ``forget_bias`` adds to the f
slice. The ratio is computed in log space so it never divides 0 by 0: ``f' = σ(d)``, ``i' = σ(-d)`` with
``d = log σ(a_f) - log σ(a_i) = softplus(-a_i) - softplus(-a_f)``. Linear in h (``a = f'``, ``b = i' ⊙ h~``),
so ``nn/scan.py`` trains it in parallel. Departure from the paper: zero initial state; init U(-1/√H, 1/√H).
"""

from __future__ import annotations

import sys

import numpy as np

from rnnkit.layout import B_IH, W_IH, CellLayout, CellOptions
from rnnkit.reference.cells.mingru import dg, g
from rnnkit.reference.functional import sigmoid, softplus
from rnnkit.registry import CellFacts, register_cell

# Forget f, input i and candidate h from x only (no W_hh); f, i normalised to sum 1.
FACTS = CellFacts(
    layout=CellLayout("minlstm", gates=("f", "i", "h"), state=("h",), has_hh=False),
    fast_paths={"scan": "rnnkit.nn.scan"},  # linear in h: one parallel scan per sequence
    anchor=("gru", CellOptions()),  # paired with GRU as in the issue-8 measurements (benchmarks/RESULTS.md)
    # pre-activations, normalised gates f' = f / (f + i), i' = i / (f + i), candidate h~, as ``step`` returns them
    cache_fields=("x", "h", "a_f", "a_i", "a_h", "f", "i", "h_tilde", "W_ih", "has_bias"),
    gate_fields={"h": "h_tilde"},
)


def init_state(N: int, H: int, dtype=np.float64) -> tuple[np.ndarray, ...]:
    """Zero state ``(h,)``, h (N, H)."""
    return (np.zeros((N, H), dtype=dtype),)


def step(params: dict[str, np.ndarray], x: np.ndarray, state: tuple, options: CellOptions = CellOptions()):
    """One step: x (N, D), state (h,) -> ((h',), cache)."""
    (h,) = state  # (N, H)
    W = params[W_IH]
    H = W.shape[0] // 3
    a = x @ W.T  # (N, 3H)
    if B_IH in params:
        a = a + params[B_IH]
    a_f, a_i, a_h = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]  # gate order f, i, h
    d = softplus(-a_i) - softplus(-a_f)  # log f - log i
    fn, in_ = sigmoid(d), sigmoid(-d)  # §3.2.3: f' = f / (f + i), i' = i / (f + i)
    ht = g(a_h)
    h_new = fn * h + in_ * ht  # h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ h~_t
    return (h_new,), (x, h, a_f, a_i, a_h, fn, in_, ht, W, B_IH in params)


def step_backward(dnew_state: tuple, cache) -> tuple[np.ndarray, tuple, dict[str, np.ndarray]]:
    """Gradients of one step given dL/dh' (N, H): (dx (N, D), (dh,), dparams)."""
    (dh_new,) = dnew_state
    x, h, a_f, a_i, a_h, fn, in_, ht, W, has_bias = cache
    # h' = h~ + f' (h - h~) since i' = 1 - f'; f' = σ(d): ∂f'/∂d = f' i'.
    dd = dh_new * (h - ht) * fn * in_
    da_f = dd * sigmoid(-a_f)  # ∂d/∂a_f = σ(-a_f)   (d/da softplus(-a) = -σ(-a))
    da_i = -dd * sigmoid(-a_i)  # ∂d/∂a_i = -σ(-a_i)
    da_h = dh_new * in_ * dg(a_h)
    da = np.concatenate([da_f, da_i, da_h], axis=1)  # (N, 3H)
    dparams = {W_IH: da.T @ x}
    if has_bias:
        dparams[B_IH] = da.sum(axis=0)
    return da @ W, (dh_new * fn,), dparams


register_cell("minlstm", engine="reference", facts=FACTS)(sys.modules[__name__])
