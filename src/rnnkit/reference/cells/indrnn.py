"""IndRNN (Li et al. 2018, "Independently Recurrent Neural Network"), step with hand-written backward.

    h' = relu(W_ih x + b_ih + u ⊙ h + b_hh)           §3, eq. 2: each unit sees only its own past

The recurrent weight ``u`` is element-wise: it is stored as ``W_hh`` of shape (H,) (``hh_diagonal``), with
``b_hh`` (H,) beside ``b_ih`` as in torch.nn's two-bias convention. ``CellOptions.recurrent_max_abs = γ``
applies the paper's constraint |u| ≤ γ (§3.1, which keeps gradients from exploding over long ranges) as
a clamp inside the step, ``u_eff = clip(u, -γ, γ)``, whose gradient is 0 where u is clamped.
Departures from the paper: the nonlinearity is always ReLU (``options.nonlinearity`` is not read); init is
the shared U(-1/√H, 1/√H) for u too (the paper draws u from a task-dependent range such as U(0, 1)); the
paper clips u after each optimiser step, here the clamp is part of the forward so both engines agree.
"""

from __future__ import annotations

import sys

import numpy as np

from rnnkit.layout import B_HH, B_IH, W_HH, W_IH, CellLayout, CellOptions
from rnnkit.reference.functional import relu
from rnnkit.registry import CellFacts, register_cell

# One gate block; W_hh is the element-wise recurrent weight u, shape (H,).
FACTS = CellFacts(
    layout=CellLayout("indrnn", gates=("h",), state=("h",), hh_diagonal=True),
    fast_paths={"bptt": "rnnkit.nn.bptt_extra"},
    anchor=("rnn", CellOptions(nonlinearity="relu")),  # an Elman RNN with ReLU and a diagonal W_hh
    # x, h_{t-1}, pre-activation a = W_ih x + u ⊙ h + b, the (clamped) recurrent weight u, its clamp mask
    cache_fields=("x", "h", "a", "u", "u_mask", "W_ih", "has_bias"),
)


def init_state(N: int, H: int, dtype=np.float64) -> tuple[np.ndarray, ...]:
    """Zero state ``(h,)``, h (N, H)."""
    return (np.zeros((N, H), dtype=dtype),)


def recurrent_weight(u: np.ndarray, options: CellOptions) -> tuple[np.ndarray, np.ndarray | None]:
    """(u_eff, mask of entries that pass gradient or None): the |u| ≤ γ clamp of Li et al. 2018 §3.1."""
    gamma = options.recurrent_max_abs
    if gamma is None:
        return u, None
    return np.clip(u, -gamma, gamma), (np.abs(u) <= gamma).astype(u.dtype)


def step(params: dict[str, np.ndarray], x: np.ndarray, state: tuple, options: CellOptions = CellOptions()):
    """One step: x (N, D), state (h,) -> ((h',), cache)."""
    (h,) = state  # (N, H)
    u, mask = recurrent_weight(params[W_HH], options)  # (H,)
    a = x @ params[W_IH].T + u * h  # (N, H)
    if B_IH in params:
        a = a + params[B_IH] + params[B_HH]
    h_new = relu(a)  # eq. 2: h_t = σ(W x_t + u ⊙ h_{t-1} + b), σ = ReLU
    return (h_new,), (x, h, a, u, mask, params[W_IH], B_IH in params)


def step_backward(dnew_state: tuple, cache) -> tuple[np.ndarray, tuple, dict[str, np.ndarray]]:
    """Gradients of one step given dL/dh' (N, H): (dx (N, D), (dh,), dparams)."""
    (dh_new,) = dnew_state
    x, h, a, u, mask, W_ih, has_bias = cache
    da = dh_new * (a > 0)  # relu'(a)
    du = (da * h).sum(axis=0)  # (H,)
    dparams = {W_IH: da.T @ x, W_HH: du if mask is None else du * mask}
    if has_bias:
        dparams[B_IH] = da.sum(axis=0)
        dparams[B_HH] = dparams[B_IH].copy()
    return da @ W_ih, (da * u,), dparams


register_cell("indrnn", engine="reference", facts=FACTS)(sys.modules[__name__])
