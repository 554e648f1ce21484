"""minGRU (Feng et al. 2024, "Were RNNs All We Needed?" §3.1), sequential step with hand-written backward.

    z  = σ(W_iz x + b_iz)                     update gate, from the input only (no recurrent matrix)
    h~ = g(W_ih x + b_ih)                     candidate, g(a) = a + 0.5 (a >= 0), σ(a) (a < 0)
    h' = (1 - z) ⊙ h + z ⊙ h~

Gate blocks stacked in the order z, h (G = 2): W_ih (2H, D), b_ih (2H,); no W_hh / b_hh. Because the gates
do not read h, the recurrence is linear in h, ``h_t = a_t ⊙ h_{t-1} + b_t`` with ``a = 1 - z``,
``b = z ⊙ h~``, which the PyTorch engine trains with a parallel scan (``nn/scan.py``). g keeps h~ > 0 so
the paper's log-space scan is defined (§B.3); we keep g in the real-space form for the same math.
Departure from the paper: the initial state is zero (the paper starts from g(h_0)); init U(-1/√H, 1/√H).
"""

from __future__ import annotations

import sys

import numpy as np

from rnnkit.layout import B_IH, W_IH, CellLayout, CellOptions
from rnnkit.reference.functional import dsigmoid, sigmoid
from rnnkit.registry import CellFacts, register_cell

# Gates from x only (no W_hh): z the update gate, h the candidate.
FACTS = CellFacts(
    layout=CellLayout("mingru", gates=("z", "h"), state=("h",), has_hh=False),
    fast_paths={"scan": "rnnkit.nn.scan"},  # linear in h: one parallel scan per sequence
    anchor=("gru", CellOptions()),  # timed against the layer it would replace (other math: speed only)
    cache_fields=("x", "h", "z", "h_tilde", "a_h", "W_ih", "has_bias"),  # as ``step`` returns them
    gate_fields={"h": "h_tilde"},  # the candidate "gate" h is the cache's h_tilde, not the old state
)


def g(a: np.ndarray) -> np.ndarray:
    """Feng et al. 2024 §B.3: ``g(a) = a + 0.5`` for a >= 0, ``σ(a)`` for a < 0 — positive, continuous at 0."""
    return np.where(a >= 0, a + 0.5, sigmoid(np.minimum(a, 0.0)))


def dg(a: np.ndarray) -> np.ndarray:
    """Derivative of ``g`` given its *input*: 1 for a >= 0, ``σ(a)(1 - σ(a))`` for a < 0."""
    return np.where(a >= 0, 1.0, dsigmoid(sigmoid(np.minimum(a, 0.0))))


def init_state(N: int, H: int, dtype=np.float64) -> tuple[np.ndarray, ...]:
    """Zero state ``(h,)``, h (N, H)."""
    return (np.zeros((N, H), dtype=dtype),)


def step(params: dict[str, np.ndarray], x: np.ndarray, state: tuple, options: CellOptions = CellOptions()):
    """One step: x (N, D), state (h,) -> ((h',), cache)."""
    (h,) = state  # (N, H)
    W = params[W_IH]
    H = W.shape[0] // 2
    a = x @ W.T  # (N, 2H)
    if B_IH in params:
        a = a + params[B_IH]
    a_z, a_h = a[:, :H], a[:, H:]  # gate order z, h
    z = sigmoid(a_z)
    ht = g(a_h)
    h_new = (1.0 - z) * h + z * ht  # §3.1: h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h~_t
    return (h_new,), (x, h, z, ht, a_h, W, B_IH in params)


def step_backward(dnew_state: tuple, cache) -> tuple[np.ndarray, tuple, dict[str, np.ndarray]]:
    """Gradients of one step given dL/dh' (N, H): (dx (N, D), (dh,), dparams)."""
    (dh_new,) = dnew_state
    x, h, z, ht, a_h, W, has_bias = cache
    dz = dh_new * (ht - h)  # ∂h'/∂z = h~ - h
    da = np.concatenate([dz * dsigmoid(z), dh_new * z * dg(a_h)], axis=1)  # (N, 2H), order z, h
    dparams = {W_IH: da.T @ x}  # (2H, D)
    if has_bias:
        dparams[B_IH] = da.sum(axis=0)
    return da @ W, (dh_new * (1.0 - z),), dparams


register_cell("mingru", engine="reference", facts=FACTS)(sys.modules[__name__])
