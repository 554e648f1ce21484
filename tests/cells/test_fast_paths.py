"""Fast paths of the new cells against the loop runner (their slow twin): same weights, same upstream
gradients; outputs, final states and every gradient. nn/bptt_extra.py (layer-norm LSTM, IndRNN) and the
fused scan layer of nn/scan.py (minGRU, minLSTM), float64 and the float32 oneDNN route."""

from __future__ import annotations

import pytest
import torch

from rnnkit.layout import CellOptions
from rnnkit.nn import gemm
from rnnkit.nn.sequence import Recurrent

# float64: same math, other association order, ~1e-14 relative; 1e-9 still catches any wrong term.
TOL64 = dict(rtol=1e-9, atol=1e-9)
# float32 through oneDNN vs torch.mm on the loop: accumulation order differs, ~1e-6 relative per product,
# compounded over T=12 steps and LN's division by σ; 2e-4 relative to the largest magnitude.
TOL32 = dict(rtol=2e-4, atol=2e-4)


def _pair(cell, impl, *, bias=True, num_layers=1, bidirectional=False, options=CellOptions(), dtype=torch.float64):
    torch.manual_seed(0)
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, bias=bias, options=options)
    loop = Recurrent(cell, 5, 6, impl="loop", **kw)
    fast = Recurrent(cell, 5, 6, impl=impl, **kw)
    with torch.no_grad():  # perturb LN gains/shifts away from 1 / 0 so their gradients are exercised
        for name, p in loop.named_parameters():
            if "ln_" in name:
                p.add_(0.3 * torch.randn_like(p))
    fast.load_state_dict(loop.state_dict())
    return loop.to(dtype), fast.to(dtype)


def _run(model, x, s0, lengths, w_out, w_fin):
    x = x.clone().requires_grad_()
    s0 = tuple(s.clone().requires_grad_() for s in s0)
    out, fin = model(x, s0, lengths)
    loss = (out * w_out).sum() + sum((f * w).sum() for f, w in zip(fin, w_fin, strict=True))
    loss.backward()
    return [out.detach(), *[f.detach() for f in fin], x.grad, *[s.grad for s in s0]], {
        n: p.grad.clone() for n, p in model.named_parameters()
    }


def _compare(
    cell,
    impl,
    *,
    T=9,
    bias=True,
    num_layers=1,
    bidirectional=False,
    use_lengths=False,
    options=CellOptions(),
    dtype=torch.float64,
    tol=TOL64,
):
    loop, fast = _pair(
        cell, impl, bias=bias, num_layers=num_layers, bidirectional=bidirectional, options=options, dtype=dtype
    )
    gen = torch.Generator().manual_seed(1)
    N, dirs, H = 4, 2 if bidirectional else 1, 6
    nstate = len(loop.layout.state)
    x = 2 * torch.randn(N, T, 5, generator=gen, dtype=dtype)
    s0 = tuple(torch.randn(num_layers * dirs, N, H, generator=gen, dtype=dtype) for _ in range(nstate))
    lengths = torch.tensor([T, 2, T - 3, 1]) if use_lengths else None
    w_out = torch.randn(N, T, dirs * H, generator=gen, dtype=dtype)
    w_fin = tuple(torch.randn(s.shape, generator=gen, dtype=dtype) for s in s0)
    ref, ref_p = _run(loop, x, s0, lengths, w_out, w_fin)
    got, got_p = _run(fast, x, s0, lengths, w_out, w_fin)
    for k, (g, r) in enumerate(zip(got, ref, strict=True)):
        torch.testing.assert_close(g, r, **tol, msg=lambda m, k=k: f"{cell} {impl} tensor #{k}: {m}")
    assert set(got_p) == set(ref_p)
    for name in ref_p:
        torch.testing.assert_close(got_p[name], ref_p[name], **tol, msg=lambda m, name=name: f"{name}: {m}")


# (bias, layers, bidirectional, lengths): every pair of option values appears in some row, a pairwise cover of
# the 16-row product that keeps this set fast (interactions of three options are not all covered).
GRID = [
    (True, 1, False, False),
    (False, 2, True, True),
    (True, 2, False, True),
    (False, 1, True, False),
    (True, 1, True, True),
    (False, 2, False, False),
]


@pytest.mark.parametrize(("bias", "num_layers", "bidirectional", "use_lengths"), GRID)
@pytest.mark.parametrize("cell", ["layernorm_lstm", "indrnn"])
def test_bptt_extra_equals_loop(cell, bias, num_layers, bidirectional, use_lengths):
    _compare(cell, "bptt", bias=bias, num_layers=num_layers, bidirectional=bidirectional, use_lengths=use_lengths)


@pytest.mark.parametrize(("bias", "use_lengths"), [(False, True), (True, False)])
@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_scan_bias_and_lengths_equal_loop(cell, bias, use_lengths):
    _compare(cell, "scan", bias=bias, bidirectional=True, use_lengths=use_lengths)


def test_indrnn_bptt_clamp_equals_loop():
    _compare("indrnn", "bptt", options=CellOptions(recurrent_max_abs=0.1), bidirectional=True, use_lengths=True)


@pytest.mark.skipif(not gemm.onednn_available(), reason="torch's oneDNN linear ops are not available here")
@pytest.mark.parametrize(
    ("cell", "impl"), [("layernorm_lstm", "bptt"), ("indrnn", "bptt"), ("mingru", "scan"), ("minlstm", "scan")]
)
def test_float32_onednn_route_equals_loop(cell, impl):
    _compare(cell, impl, T=12, bidirectional=True, use_lengths=True, dtype=torch.float32, tol=TOL32)


@pytest.mark.parametrize(("cell", "impl"), [("layernorm_lstm", "bptt"), ("indrnn", "bptt"), ("mingru", "scan")])
def test_auto_picks_the_fast_path(cell, impl):
    assert Recurrent(cell, 3, 4).resolve_impl(torch.zeros(1, 2, 3)) == impl
