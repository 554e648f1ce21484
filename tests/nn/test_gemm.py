"""nn/gemm.py: both routes (oneDNN reordered weights, torch.mm fallback) give x @ W^T and a^T @ b."""

from __future__ import annotations

import pytest
import torch

from rnnkit.nn import gemm

ROUTES = [None, "torch"]  # None = best available (oneDNN here when present)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny products gain nothing from threads; on a shared 2-core machine OpenMP spinning slows them."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _route_param(route):
    if route is None and not gemm.onednn_available():
        pytest.skip("torch has no oneDNN linear ops here: only the fallback route exists")
    return route


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("add", [False, True])
def test_linear_matches_matmul(route, bias, add):
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(7, 5, generator=g), torch.randn(9, 5, generator=g)
    b = torch.randn(9, generator=g) if bias else None
    other = torch.randn(7, 9, generator=g) if add else None
    ref = x.double() @ w.double().T + (b.double() if bias else 0) + (other.double() if add else 0)
    with gemm.use_route(_route_param(route)):
        got = gemm.linear(x, gemm.prepare(w), b, add=other)
    # float32 products of 5 terms: a few ulps of the largest magnitude
    torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("avx512", [True, False])  # mm_tn takes oneDNN only on AVX-512 CPUs: cover both forms
@pytest.mark.parametrize("route", ROUTES)
def test_mm_tn_matches_matmul(route, avx512, monkeypatch):
    monkeypatch.setattr(gemm, "_avx512", lambda: avx512)
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(64, 6, generator=g), torch.randn(64, 4, generator=g)
    with gemm.use_route(_route_param(route)):
        got = gemm.mm_tn(a, b)
    assert got.shape == (6, 4)
    torch.testing.assert_close(got.double(), a.double().T @ b.double(), rtol=1e-5, atol=1e-4)  # 64-term sums


def test_route_choice():
    x64 = torch.zeros(2, 2, dtype=torch.float64)
    assert gemm.route_for(x64) == "torch"  # oneDNN takes no float64: gradchecks run on torch.mm
    with gemm.use_route("torch"):
        assert gemm.route_for(torch.zeros(2, 2)) == "torch"
        assert gemm.prepare(torch.zeros(3, 2)).packed is None
    expected = "onednn" if gemm.onednn_available() else "torch"
    assert gemm.route_for(torch.zeros(2, 2)) == expected


def test_use_route_rejects_unknown():
    with pytest.raises(ValueError, match="route must be one of"):
        with gemm.use_route("mkl"):
            pass


def test_float64_is_exact_enough():
    g = torch.Generator().manual_seed(2)
    x, w = torch.randn(3, 4, generator=g, dtype=torch.float64), torch.randn(5, 4, generator=g, dtype=torch.float64)
    torch.testing.assert_close(gemm.linear(x, gemm.prepare(w)), x @ w.T, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("route", ROUTES)
def test_bf16_products_give_float32_results_within_bf16_rounding(route):
    """Inside ``gemm.products(bfloat16)`` inputs are rounded to bf16 (relative error <= 2^-9 each) and summed in
    float32: a K-term product then differs from float32 by at most ~2 * 2^-9 * sum |x_k w_k|; we check 2^-7 of the
    largest |x| |W|^T entry, and that the rounding really happened (float32 would agree to ~1e-6)."""
    route = _route_param(route)
    g = torch.Generator().manual_seed(0)
    x, w, b, add = (torch.randn(*s, generator=g) for s in ((7, 33), (20, 33), (20,), (7, 20)))
    a2, b2 = torch.randn(50, 9, generator=g), torch.randn(50, 6, generator=g)
    with gemm.use_route(route):
        ref = gemm.linear(x, gemm.prepare(w), b, add=add)
        ref_tn = gemm.mm_tn(a2, b2)
        with gemm.products(torch.bfloat16):
            got = gemm.linear(x, gemm.prepare(w), b, add=add)
            got_plain = gemm.linear(x, w)
            got_tn = gemm.mm_tn(a2, b2)
        assert gemm.product_dtype() is None  # restored after the block
    scale = (x.abs() @ w.abs().T).max()
    for r, o in ((ref, got), (x @ w.T, got_plain)):
        assert o.dtype == torch.float32
        err = float((r - o).abs().max() / scale)
        assert 1e-6 < err <= 2.0**-7
    err_tn = float((ref_tn - got_tn).abs().max() / (a2.abs().T @ b2.abs()).max())
    assert got_tn.dtype == torch.float32 and 1e-6 < err_tn <= 2.0**-7
    with pytest.raises(ValueError, match="bfloat16 or None"):
        with gemm.products(torch.float16):
            pass
