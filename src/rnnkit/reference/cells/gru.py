"""GRU cell (Cho et al. 2014), NumPy reference, in the torch.nn form (default) and the paper form.

Equations (row-vector convention, batch first; sigma = logistic sigmoid, * = element-wise)::

    [xr xz xn] = x W_ih^T + b_ih                   # (N, 3H) input part, gate blocks r, z, n
    [hr hz hn] = h W_hh^T + b_hh                   # (N, 3H) recurrent part ("torch" form)
    r = sigma(xr + hr)                             reset gate
    z = sigma(xz + hz)                             update gate
    n = tanh(xn + r * hn)                          new (candidate) state      -- gru_variant="torch"
    n = tanh(xn + (r * h) W_hn^T + b_hn)           reset before the product   -- gru_variant="paper"
    h' = (1 - z) * n + z * h

Gate order: r, z, n (torch.nn). State: (h,). Shapes: W_ih (3H, D), W_hh (3H, H), b_ih, b_hh (3H,).
Init: U(-1/sqrt(H), 1/sqrt(H)) for everything, as torch.nn.GRU.
Departures from the paper: the default ("torch") applies the reset gate *after* the recurrent product,
as torch.nn/cuDNN do (it lets the product of all three gates be one GEMM); Cho et al. 2014 eq. (8)
apply it before (``gru_variant="paper"``). Both use ``h' = (1 - z) n + z h``, z weighting the old state
as in eq. (7) of the paper and in torch.nn.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np

from rnnkit.layout import B_HH, B_IH, W_HH, W_IH, CellLayout, CellOptions
from rnnkit.reference.functional import dsigmoid, dtanh, sigmoid, tanh
from rnnkit.registry import CellFacts, register_cell

# Gate order r, z, n as torch.nn, so the fused path is a direct weight copy.
FACTS = CellFacts(
    layout=CellLayout("gru", gates=("r", "z", "n"), state=("h",)),
    # bptt before fused: torch.nn has no oneDNN GRU on CPU; our BPTT measured 0.51x torch.nn (benchmarks/RESULTS.md)
    fast_paths={"bptt": "rnnkit.nn.bptt", "fused": "rnnkit.nn.fused"},
    anchor=("gru", CellOptions()),  # torch.nn.GRU computes this very cell (torch form)
    field_meanings={
        "x": "input x_t (N, D)",
        "h": "previous state h_{t-1}",
        "r": "reset gate σ(a_r)",
        "z": "update gate σ(a_z)",
        "n": "candidate tanh(a_n)",
        "hn": "torch form: h W_hn^T + b_hn (what r multiplies); paper form: r ⊙ h",
    },
    affine_gates=("r", "z"),  # n = tanh(a_ih.n + r ⊙ a_hh.n): shown through its parts
    shown_gates=("r", "z"),
)


class Cache(NamedTuple):
    """What ``step_backward`` needs: inputs, gates, and the recurrent term the reset gate multiplied."""

    x: np.ndarray  # (N, D)
    h: np.ndarray  # (N, H)
    r: np.ndarray  # (N, H)
    z: np.ndarray  # (N, H)
    n: np.ndarray  # (N, H)
    hn: np.ndarray  # (N, H) torch form: h W_hn^T + b_hn (what r multiplies); paper form: r * h
    params: dict[str, np.ndarray]
    variant: str


def init_state(N: int, H: int, dtype: np.dtype | type = np.float64) -> tuple[np.ndarray, ...]:
    """Zero state ``(h,)``, h of shape (N, H)."""
    return (np.zeros((N, H), dtype=dtype),)


def step(
    params: dict[str, np.ndarray], x: np.ndarray, state: tuple[np.ndarray, ...], options: CellOptions = CellOptions()
) -> tuple[tuple[np.ndarray, ...], Cache]:
    """One GRU step. Returns ``((h',), cache)``."""
    (h,) = state
    H = h.shape[1]
    W_hh = params[W_HH]
    ax = x @ params[W_IH].T  # (N, 3H) input part
    b_hh = params.get(B_HH)
    if B_IH in params:
        ax = ax + params[B_IH]
    if options.gru_variant == "torch":
        ah = h @ W_hh.T  # (N, 3H) recurrent part, all three blocks in one product
        if b_hh is not None:
            ah = ah + b_hh
        r = sigmoid(ax[:, :H] + ah[:, :H])  # reset gate
        z = sigmoid(ax[:, H : 2 * H] + ah[:, H : 2 * H])  # update gate
        hn = ah[:, 2 * H :]  # (N, H)  W_hn h + b_hn
        n = tanh(ax[:, 2 * H :] + r * hn)  # new state, reset after the product (torch.nn form)
    else:
        ah = h @ W_hh[: 2 * H].T  # (N, 2H) r and z blocks only
        if b_hh is not None:
            ah = ah + b_hh[: 2 * H]
        r = sigmoid(ax[:, :H] + ah[:, :H])  # reset gate
        z = sigmoid(ax[:, H : 2 * H] + ah[:, H:])  # update gate
        hn = r * h  # (N, H)  reset before the product, Cho et al. 2014 eq. (8)
        an = ax[:, 2 * H :] + hn @ W_hh[2 * H :].T
        n = tanh(an if b_hh is None else an + b_hh[2 * H :])
    h_new = (1.0 - z) * n + z * h  # (N, H)
    return (h_new,), Cache(x, h, r, z, n, hn, params, options.gru_variant)


def step_backward(
    dnew_state: tuple[np.ndarray, ...], cache: Cache
) -> tuple[np.ndarray, tuple[np.ndarray, ...], dict[str, np.ndarray]]:
    """Backward of ``step``: from dL/dh' to (dL/dx, (dL/dh,), dL/dparams)."""
    (dh_new,) = dnew_state
    x, h, r, z, n, hn, params, variant = cache
    H = h.shape[1]
    W_hh = params[W_HH]
    dn = dh_new * (1.0 - z)  # h' = (1 - z) * n + z * h
    dz = dh_new * (h - n)
    dh = dh_new * z  # direct path through z * h
    dan = dn * dtanh(n)  # (N, H) pre-activation of n
    daz = dz * dsigmoid(z)
    if variant == "torch":
        dar = dan * hn * dsigmoid(r)  # n = tanh(xn + r * hn)
        dah = np.concatenate([dar, daz, dan * r], axis=1)  # (N, 3H) gradient of h W_hh^T + b_hh
        dW_hh = dah.T @ h  # (3H, H)
        dh = dh + dah @ W_hh
        db_hh = dah.sum(axis=0)
    else:
        drh = dan @ W_hh[2 * H :]  # (N, H) gradient of r * h
        dar = drh * h * dsigmoid(r)
        darz = np.concatenate([dar, daz], axis=1)  # (N, 2H)
        dW_hh = np.concatenate([darz.T @ h, dan.T @ hn], axis=0)  # (3H, H)
        dh = dh + darz @ W_hh[: 2 * H] + drh * r
        db_hh = np.concatenate([darz.sum(axis=0), dan.sum(axis=0)])
    dax = np.concatenate([dar, daz, dan], axis=1)  # (N, 3H) gradient of x W_ih^T + b_ih
    dparams = {W_IH: dax.T @ x, W_HH: dW_hh}
    if B_IH in params:
        dparams[B_IH] = dax.sum(axis=0)
        dparams[B_HH] = db_hh
    dx = dax @ params[W_IH]  # (N, D)
    return dx, (dh,), dparams


register_cell("gru", engine="reference", facts=FACTS)(sys.modules[__name__])
