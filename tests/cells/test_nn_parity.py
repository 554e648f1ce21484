"""PyTorch engine ↔ reference engine for every registered cell: same float64 weights and upstream gradients; outputs,
final states and every gradient compared (loop runner, and each cell's fast path where it has one)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.layout import CellOptions
from rnnkit.nn.sequence import Recurrent
from tests.cells.helpers import CELLS, setup, unroll, unroll_backward

# Both sides are float64 and compute the same formulas in a different order: agreement to ~1e-12 relative;
# 1e-9 leaves room for the sums over T and N and still catches any wrong term.
TOL = dict(rtol=1e-9, atol=1e-11)


def _run_nn(cell, params, x, state0, dout, dfinal, *, impl, options, bias):
    N, T, D = x.shape
    H = state0[0].shape[1]
    model = Recurrent(cell, D, H, options=options, impl=impl, bias=bias).double()
    with torch.no_grad():
        for name, p in model.layers[0]["fwd"].params().items():
            p.copy_(torch.from_numpy(params[name]))
    xt = torch.from_numpy(x).requires_grad_()
    s0 = tuple(torch.from_numpy(s)[None].clone().requires_grad_() for s in state0)
    out, final = model(xt, s0)
    loss = (out * torch.from_numpy(dout)).sum() + sum(
        (f[0] * torch.from_numpy(d)).sum() for f, d in zip(final, dfinal, strict=True)
    )
    loss.backward()
    grads = {name: p.grad.numpy() for name, p in model.layers[0]["fwd"].params().items()}
    return (
        out.detach().numpy(),
        [f[0].detach().numpy() for f in final],
        xt.grad.numpy(),
        [s.grad[0].numpy() for s in s0],
        grads,
    )


def _compare(cell, *, impl="loop", options=CellOptions(), bias=True, T=6):
    params, x, state0, dout, dfinal = setup(cell, bias=bias, options=options, T=T)
    outs, final, caches = unroll(cell, params, x, state0, options)
    dx, dstate0, dparams = unroll_backward(cell, dout, dfinal, caches)
    out_t, final_t, dx_t, ds_t, dp_t = _run_nn(
        cell, params, x, state0, dout, dfinal, impl=impl, options=options, bias=bias
    )
    np.testing.assert_allclose(out_t, np.stack(outs, 1), **TOL)
    for a, b in zip(final_t, final, strict=True):
        np.testing.assert_allclose(a, b, **TOL)
    np.testing.assert_allclose(dx_t, dx, **TOL)
    for a, b in zip(ds_t, dstate0, strict=True):
        np.testing.assert_allclose(a, b, **TOL)
    assert set(dp_t) == set(dparams)
    for name in dparams:
        np.testing.assert_allclose(dp_t[name], dparams[name], **TOL, err_msg=f"{cell} d{name}")


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bias", [True, False])
def test_loop_matches_reference(cell, bias):
    _compare(cell, bias=bias)


def test_indrnn_clamp_matches_reference():
    _compare("indrnn", options=CellOptions(recurrent_max_abs=0.1))


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_auto_picks_scan_and_weight_drop_is_refused_without_w_hh(cell):
    assert Recurrent(cell, 3, 4).resolve_impl(torch.zeros(1, 2, 3)) == "scan"
    with pytest.raises(ValueError, match=f"cell '{cell}' has no recurrent matrix"):
        Recurrent(cell, 3, 4, weight_drop=0.5)


def test_indrnn_weight_drop_runs():
    # DropConnect on the element-wise u (H,) keeps working: one mask per forward.
    model = Recurrent("indrnn", 3, 4, weight_drop=0.5).train()
    out, (h,) = model(torch.randn(2, 5, 3))
    out.sum().backward()
    assert model.layers[0]["fwd"].W_hh.grad is not None
