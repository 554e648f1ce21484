"""nn/scan.py: the parallel scans equal the sequential step (values and every gradient, float64, T up to 4096,
gates near 0 and 1), stay finite for long sequences with small a, and the fused min* layer equals the loop."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.layout import CellOptions
from rnnkit.nn import scan
from rnnkit.nn.sequence import Recurrent
from rnnkit.registry import fast_path_cells

SCAN_CELLS = fast_path_cells(scan.__name__)  # the cells whose facts name nn/scan.py: minGRU, minLSTM


def _sequential(a, b, h0, reverse=False):
    h, outs = h0, [None] * a.shape[1]
    steps = range(a.shape[1] - 1, -1, -1) if reverse else range(a.shape[1])
    for t in steps:
        h = a[:, t] * h + b[:, t]
        outs[t] = h
    return torch.stack(outs, 1)


def _grads(f, *args):
    args = [t.detach().clone().requires_grad_() for t in args]
    out = f(*args)
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(out.shape, generator=gen, dtype=out.dtype)
    (out * w).sum().backward()
    return out.detach(), [t.grad for t in args]


def _coeffs(N, T, H, *, low=0.0, high=1.0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    a = low + (high - low) * torch.rand(N, T, H, generator=gen, dtype=torch.float64)
    b = torch.randn(N, T, H, generator=gen, dtype=torch.float64)
    h0 = torch.randn(N, H, generator=gen, dtype=torch.float64)
    return a, b, h0


# float64, the same sums in another association order: ~1e-15 relative per step; 1e-10 over 4096 steps is ample
# and still catches any wrong index (which gives O(1) errors).
TOL = dict(rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    ("T", "low", "high"),
    [(1, 0.0, 1.0), (7, 0.0, 1.0), (100, 0.0, 1.0), (4096, 0.999, 1.0), (4096, 0.0, 1e-3), (333, 0.5, 1.0)],
)
@pytest.mark.parametrize("reverse", [False, True])
def test_linear_scan_equals_sequential(T, low, high, reverse):
    a, b, h0 = _coeffs(2, T, 3, low=low, high=high)
    out_s, g_s = _grads(lambda a, b, h0: scan.linear_scan(a, b, h0, reverse=reverse), a, b, h0)
    out_q, g_q = _grads(lambda a, b, h0: _sequential(a, b, h0, reverse), a, b, h0)
    torch.testing.assert_close(out_s, out_q, **TOL)
    for gs, gq, name in zip(g_s, g_q, "a b h0".split(), strict=True):
        torch.testing.assert_close(gs, gq, **TOL, msg=lambda m, name=name: f"d{name}: {m}")


@settings(max_examples=25, deadline=None)
@given(
    T=st.integers(1, 200),
    N=st.integers(1, 3),
    H=st.integers(1, 4),
    reverse=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_linear_scan_chunking_any_shape(T, N, H, reverse, seed):
    # The chunk / padding / carry bookkeeping for every T (powers of two and not, T < C, one-step chunks).
    a, b, h0 = _coeffs(N, T, H, seed=seed)
    with torch.no_grad():
        torch.testing.assert_close(scan.linear_scan(a, b, h0, reverse=reverse), _sequential(a, b, h0, reverse), **TOL)


def test_linear_scan_is_finite_for_long_sequences_with_small_a():
    # a ≈ 1e-30 in float32: any cumulative product underflows at once; a divide-by-cumprod scan gives inf/NaN.
    a = torch.full((2, 4096, 8), 1e-30)
    b = torch.rand(2, 4096, 8)
    a.requires_grad_()
    b.requires_grad_()
    h = scan.linear_scan(a, b)
    h.sum().backward()
    assert torch.isfinite(h).all() and torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()
    torch.testing.assert_close(h[:, 1:], b[:, 1:] + a[:, 1:] * b[:, :-1], rtol=1e-6, atol=0)  # one-step memory


def test_linear_scan_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"a and b must both be \(N, T, H\)"):
        scan.linear_scan(torch.zeros(1, 2, 3), torch.zeros(1, 3, 3))


def _model_pair(cell, *, bidirectional=False, num_layers=1, H=6, D=5, forget_bias=0.0):
    torch.manual_seed(0)
    opts = CellOptions(forget_bias=forget_bias)
    m_loop = Recurrent(cell, D, H, num_layers=num_layers, bidirectional=bidirectional, impl="loop", options=opts)
    m_scan = Recurrent(cell, D, H, num_layers=num_layers, bidirectional=bidirectional, impl="scan", options=opts)
    m_scan.load_state_dict(m_loop.state_dict())
    return m_loop.double(), m_scan.double()


def _run(model, x, s0, lengths, w_out, w_fin):
    x = x.clone().requires_grad_()
    s0 = s0.clone().requires_grad_()
    out, (fin,) = model(x, (s0,), lengths)
    ((out * w_out).sum() + (fin * w_fin).sum()).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    return out.detach(), fin.detach(), x.grad, s0.grad, grads


@pytest.mark.parametrize("cell", SCAN_CELLS)
@pytest.mark.parametrize(
    ("T", "bidirectional", "num_layers", "use_lengths"), [(5, False, 1, False), (37, True, 2, True)]
)
def test_scan_layer_equals_loop(cell, T, bidirectional, num_layers, use_lengths):
    m_loop, m_scan = _model_pair(cell, bidirectional=bidirectional, num_layers=num_layers)
    gen = torch.Generator().manual_seed(2)
    N, dirs = 3, 2 if bidirectional else 1
    x = 3 * torch.randn(N, T, 5, generator=gen, dtype=torch.float64)  # large inputs: gates near 0 and 1
    s0 = torch.randn(num_layers * dirs, N, 6, generator=gen, dtype=torch.float64)
    lengths = torch.tensor([T, 1, T // 2]) if use_lengths else None
    w_out = torch.randn(N, T, dirs * 6, generator=gen, dtype=torch.float64)
    w_fin = torch.randn(s0.shape, generator=gen, dtype=torch.float64)
    ref = _run(m_loop, x, s0, lengths, w_out, w_fin)
    got = _run(m_scan, x, s0, lengths, w_out, w_fin)
    for r, g in zip(ref[:4], got[:4], strict=True):
        torch.testing.assert_close(g, r, **TOL)
    for name in ref[4]:
        torch.testing.assert_close(got[4][name], ref[4][name], **TOL, msg=lambda m, name=name: f"{name}: {m}")


def test_scan_layer_long_sequence_equals_loop_and_is_finite():
    # T = 512 (the loop twin is slow; linear_scan alone is checked at 4096), forget bias 5 (f' ≈ 1, long
    # memory) for minLSTM: the regime where cumulative products underflow.
    m_loop, m_scan = _model_pair("minlstm", forget_bias=5.0)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 512, 5, generator=gen, dtype=torch.float64)
    s0 = torch.randn(1, 2, 6, generator=gen, dtype=torch.float64)
    w_out = torch.randn(2, 512, 6, generator=gen, dtype=torch.float64)
    w_fin = torch.randn(1, 2, 6, generator=gen, dtype=torch.float64)
    ref = _run(m_loop, x, s0, None, w_out, w_fin)
    got = _run(m_scan, x, s0, None, w_out, w_fin)
    for r, g in zip(ref[:4], got[:4], strict=True):
        assert torch.isfinite(g).all()
        torch.testing.assert_close(g, r, **TOL)
    for name in ref[4]:
        torch.testing.assert_close(got[4][name], ref[4][name], **TOL)


def test_scan_impl_rejects_other_cells():
    with pytest.raises(ValueError, match="impl='scan' is not available for cell 'lstm'"):
        Recurrent("lstm", 3, 4, impl="scan")(torch.zeros(1, 2, 3))


def test_scan_layer_second_backward_fails_clearly():
    # The backward writes the gate gradients over its saved projected input (saves a large buffer); a second
    # backward through the same graph must then be refused by autograd, not read overwritten values.
    torch.manual_seed(0)
    m = Recurrent("mingru", 4, 5, impl="scan")
    out, _ = m(torch.randn(2, 7, 4, requires_grad=True))
    out.sum().backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


# ---- the native (C) kernel against the aten blocks -------------------------------------------------------------


def _layer_grads(cell, x, h0, W, b, mask, reverse, w_out, *, native_fwd, native_bwd, monkeypatch):
    x, h0, W, b = (t.detach().clone().requires_grad_() for t in (x, h0, W, b))
    monkeypatch.setenv("RNNKIT_NATIVE", "1" if native_fwd else "0")
    h = scan._MinLayer.apply(x, W, b, h0, mask, cell, reverse)
    monkeypatch.setenv("RNNKIT_NATIVE", "1" if native_bwd else "0")
    (h * w_out).sum().backward()
    return [h.detach(), x.grad, h0.grad, W.grad, b.grad]


# float64: the same sums in another order and libm's vectorised exp/log1p (a few ulp): 1e-12 is ample and any
# wrong index gives O(1) errors. float32: dW and db sum N*T = 320 terms of size ~3 (x is scaled by 3), so
# rounding alone reaches ~320 * 3 * 6e-8 ≈ 6e-5 absolute where terms cancel; 1e-4 allows it.
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("cell", SCAN_CELLS)
@pytest.mark.parametrize(("reverse", "use_mask"), [(False, False), (True, True)])
def test_native_kernel_equals_aten_blocks(dtype, cell, reverse, use_mask, monkeypatch):
    if scan._native(dtype) is None:
        pytest.skip("no C compiler here: the native kernel cannot be built (the aten path is what runs)")
    gen = torch.Generator().manual_seed(4)
    # N = 5 over 2 threads splits 2 + 3; N*T*H = 81,920 is over the threading threshold
    N, T, D, H, G = 5, 64, 7, 256, 2 if cell == "mingru" else 3
    x = 3 * torch.randn(N, T, D, generator=gen, dtype=dtype)  # large: gates near 0 and 1, both sides of g's kink
    h0, W, b = (torch.randn(*s, generator=gen, dtype=dtype) for s in [(N, H), (G * H, D), (G * H,)])
    mask = (torch.arange(T)[None, :] < torch.tensor([T, 1, 30, 0, 63])[:, None]).unsqueeze(2) if use_mask else None
    w_out = torch.randn(N, T, H, generator=gen, dtype=dtype)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-4)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        args = (cell, x, h0, W, b, mask, reverse, w_out)
        ref = _layer_grads(*args, native_fwd=False, native_bwd=False, monkeypatch=monkeypatch)
        for fwd, bwd in [(True, True), (True, False), (False, True)]:  # either backward follows either forward
            got = _layer_grads(*args, native_fwd=fwd, native_bwd=bwd, monkeypatch=monkeypatch)
            for name, r, g in zip("h dx dh0 dW db".split(), ref, got, strict=True):
                torch.testing.assert_close(g, r, **tol, msg=lambda m, name=name: f"{fwd=} {bwd=} {name}: {m}")
    finally:
        torch.set_num_threads(threads)


def test_native_kernel_missing_compiler_falls_back_with_a_warning(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))  # nothing cached: a build is needed
    monkeypatch.setenv("CC", "no-such-compiler-rnnkit")
    monkeypatch.setattr(scan, "_LIBS", {})
    with pytest.warns(RuntimeWarning, match="native min\\* kernel is unavailable.*no-such-compiler-rnnkit"):
        assert scan._native(torch.float64) is None
    torch.manual_seed(0)
    m = Recurrent("mingru", 3, 4, impl="scan").double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    monkeypatch.setenv("RNNKIT_NATIVE", "0")
    ref, _ = m(x)
    monkeypatch.setenv("RNNKIT_NATIVE", "1")
    got, _ = m(x)  # the aten path, no second warning
    torch.testing.assert_close(got, ref, rtol=0, atol=0)


def test_native_kernel_switch_and_scope(monkeypatch):
    monkeypatch.setenv("RNNKIT_NATIVE", "0")
    assert scan._native(torch.float32) is None
    monkeypatch.setenv("RNNKIT_NATIVE", "1")
    assert scan._native(torch.float16) is None  # no C type for it: the aten path
    assert scan._native_for(torch.zeros(1, dtype=torch.float32), torch.zeros(1, dtype=torch.float64)) is None
