"""Shared helpers for the new-cell tests: a plain unroll of a reference cell and its BPTT, independent of the
runner, and central finite differences."""

from __future__ import annotations

import numpy as np

from rnnkit import registry
from rnnkit.layout import CellOptions, init_params
from rnnkit.registry import get_cell

# Every registered cell, the classic ones too: a cell added later is checked here with no edit.
CELLS = tuple(registry.cell_names())


def unroll(cell: str, params, x, state0, options=CellOptions()):
    """x (N, T, D) -> (outs list of (N, H), final state, caches) by repeated ``step``."""
    mod = get_cell(cell, engine="reference")
    state, outs, caches = state0, [], []
    for t in range(x.shape[1]):
        state, cache = mod.step(params, x[:, t], state, options)
        outs.append(state[0])
        caches.append(cache)
    return outs, state, caches


def unroll_backward(cell: str, dout, dfinal, caches):
    """BPTT of ``unroll``: dout (N, T, H), dfinal tuple -> (dx (N, T, D), dstate0, dparams summed over t)."""
    mod = get_cell(cell, engine="reference")
    dstate = tuple(d.copy() for d in dfinal)
    dxs, total = [], {}
    for t in range(len(caches) - 1, -1, -1):
        dstate = (dstate[0] + dout[:, t],) + dstate[1:]
        dx, dstate, dp = mod.step_backward(dstate, caches[t])
        dxs.append(dx)
        for k, v in dp.items():
            total[k] = total.get(k, 0.0) + v
    return np.stack(dxs[::-1], axis=1), dstate, total


def setup(cell: str, *, N=3, T=5, D=4, H=5, bias=True, options=CellOptions(), seed=0, scale=1.0):
    """Random float64 params (perturbed extras so gains are not all 1), input, state0, upstream gradients."""
    rng = np.random.default_rng(seed)
    params = init_params(cell, D, H, bias=bias, options=options, rng=rng)
    for k in params:
        if k.startswith("ln_"):
            params[k] = params[k] + 0.3 * rng.standard_normal(params[k].shape)
        elif k != "W_hh" or cell != "indrnn":
            params[k] = params[k] * scale
    x = rng.standard_normal((N, T, D))
    mod = get_cell(cell, engine="reference")
    state0 = tuple(0.5 * rng.standard_normal(s.shape) for s in mod.init_state(N, H))
    dout = rng.standard_normal((N, T, H))
    dfinal = tuple(rng.standard_normal(s.shape) for s in state0)
    return params, x, state0, dout, dfinal


def numeric_grad(f, arr: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar ``f()`` w.r.t. every entry of ``arr`` (perturbed in place)."""
    g = np.zeros_like(arr)
    it = np.nditer(arr, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = arr[i]
        arr[i] = old + eps
        fp = f()
        arr[i] = old - eps
        fm = f()
        arr[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g
