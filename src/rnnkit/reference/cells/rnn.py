"""Elman RNN cell (Elman 1990), NumPy reference: one step forward and its exact backward.

Equations (row-vector convention, batch first; ``f`` is tanh or relu via ``CellOptions.nonlinearity``)::

    a  = x W_ih^T + b_ih + h W_hh^T + b_hh        # the classic  W x_t + U h_{t-1} + b,  W=W_ih, U=W_hh
    h' = f(a)

Gate order: one block ("h"). Shapes: x (N, D), h (N, H), W_ih (H, D), W_hh (H, H), b_ih, b_hh (H,).
Init: every parameter U(-1/sqrt(H), 1/sqrt(H)) (``rnnkit.layout.init_params``), as torch.nn.RNN.
Departure from the paper: the bias is split in two (``b_ih + b_hh``) exactly as torch.nn/cuDNN do, so
weights copy one-to-one into the fused kernels; the sum is what matters mathematically.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np

from rnnkit.layout import B_HH, B_IH, W_HH, W_IH, CellLayout, CellOptions
from rnnkit.reference.functional import ACTIVATIONS
from rnnkit.registry import CellFacts, register_cell

# Elman: one gate block; h' = f(W_ih x + b_ih + W_hh h + b_hh).
FACTS = CellFacts(
    layout=CellLayout("rnn", gates=("h",), state=("h",)),
    # bptt before fused: torch.nn has no oneDNN RNN on CPU; our BPTT measured 0.64x torch.nn (benchmarks/RESULTS.md)
    fast_paths={"bptt": "rnnkit.nn.bptt", "fused": "rnnkit.nn.fused"},
    anchor=("rnn", CellOptions()),  # torch.nn.RNN computes this very cell
    field_meanings={"x": "input x_t (N, D)", "h": "previous state h_{t-1}", "h_new": "h_t = f(a_t)"},
    affine_gates=("h",),
)


class Cache(NamedTuple):
    """What ``step_backward`` needs: the step's inputs, its output and the parameters used."""

    x: np.ndarray  # (N, D)
    h: np.ndarray  # (N, H) previous state
    h_new: np.ndarray  # (N, H) = f(a)
    params: dict[str, np.ndarray]
    options: CellOptions


def init_state(N: int, H: int, dtype: np.dtype | type = np.float64) -> tuple[np.ndarray, ...]:
    """Zero state ``(h,)``, h of shape (N, H)."""
    return (np.zeros((N, H), dtype=dtype),)


def step(
    params: dict[str, np.ndarray], x: np.ndarray, state: tuple[np.ndarray, ...], options: CellOptions = CellOptions()
) -> tuple[tuple[np.ndarray, ...], Cache]:
    """One Elman step: ``h' = f(x W_ih^T + b_ih + h W_hh^T + b_hh)``. Returns ``((h',), cache)``."""
    (h,) = state
    f, _ = ACTIVATIONS[options.nonlinearity]
    a = x @ params[W_IH].T + h @ params[W_HH].T  # (N, H)
    if B_IH in params:
        a = a + params[B_IH] + params[B_HH]
    h_new = f(a)  # (N, H)
    return (h_new,), Cache(x, h, h_new, params, options)


def step_backward(
    dnew_state: tuple[np.ndarray, ...], cache: Cache
) -> tuple[np.ndarray, tuple[np.ndarray, ...], dict[str, np.ndarray]]:
    """Backward of ``step``: from dL/dh' to (dL/dx, (dL/dh,), dL/dparams)."""
    (dh_new,) = dnew_state
    x, h, h_new, params, options = cache
    _, df = ACTIVATIONS[options.nonlinearity]
    da = dh_new * df(h_new)  # (N, H)  dL/da = dL/dh' * f'(a)
    dparams = {W_IH: da.T @ x, W_HH: da.T @ h}  # (H, D), (H, H)
    if B_IH in params:
        dparams[B_IH] = da.sum(axis=0)
        dparams[B_HH] = dparams[B_IH].copy()
    dx = da @ params[W_IH]  # (N, D)
    dh = da @ params[W_HH]  # (N, H)
    return dx, (dh,), dparams


register_cell("rnn", engine="reference", facts=FACTS)(sys.modules[__name__])
