"""Matrix products for the hand-written BPTT path, routed to the fastest library on this machine.

On this project's AMD CPUs ``torch.mm`` / ``addmm`` / ``F.linear`` run through MKL's AVX2 fallback
(~180 GFLOP/s), while oneDNN's linear with the weight reordered once reaches ~410 GFLOP/s on large and
~320-360 on step-sized products (measured; see benchmarks/RESULTS.md and ../shared/PERF-NOTES.md). That
route is the one torch's own CPU compiler uses, through private ops
(``torch.ops.mkldnn._reorder_linear_weight`` and ``torch.ops.mkldnn._linear_pointwise``), so it is
feature-checked on first use and everything falls back to ``torch.mm`` when it is missing, on non-CPU
devices and for dtypes oneDNN does not take (float64: gradient checks).

Three products cover BPTT (row-vector convention, as ``torch.nn``):

* ``linear(x, w, bias, add=...)``  ``x @ W^T (+ bias) (+ add)``  — projections, per-step recurrences, dx;
* ``mm_tn(a, b)``                   ``a^T @ b``                   — weight gradients summed over all steps.

A weight used many times is wrapped once with ``prepare`` (which reorders it for oneDNN).

Mixed precision: inside ``with products(torch.bfloat16)`` every product takes bfloat16 inputs (cast here;
weights once in ``prepare``) and accumulates in float32 inside oneDNN; results come back float32, so the
element-wise work around the products stays float32. ``nn/bptt.py`` enters it under ``precision="bf16"``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from rnnkit.host import interleaved

ROUTES = ("onednn", "torch")
_forced: str | None = None  # set by ``use_route`` (tests, benchmarks); None means "best available"
_state = threading.local()  # .products, set by ``products`` per thread: the dtype product inputs are cast to


@functools.cache
def onednn_available() -> bool:
    """True when torch has the private oneDNN linear ops and they give the right answer on a tiny product."""
    try:
        ops = torch.ops.mkldnn
        if not torch.backends.mkldnn.is_available():
            return False
        x = torch.arange(6.0).reshape(2, 3)
        w = torch.arange(12.0).reshape(4, 3) / 7
        packed = ops._reorder_linear_weight(w)
        y = ops._linear_pointwise(x, packed, None, "none", [], "")
        y2 = ops._linear_pointwise.binary(x, torch.ones(2, 4), packed, None, "add")
        ref = x @ w.T
        return bool(torch.allclose(y, ref, atol=1e-5) and torch.allclose(y2, ref + 1, atol=1e-5))
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


def route_for(t: Tensor) -> str:
    """The route products on tensors like ``t`` take: 'onednn' (CPU float32 with the ops present) or 'torch'."""
    if _forced == "torch":
        return "torch"
    if t.device.type == "cpu" and t.dtype == torch.float32 and onednn_available():
        return "onednn"
    return "torch"


@contextlib.contextmanager
def use_route(route: str | None) -> Iterator[None]:
    """Force ``route`` ('torch' or None = best available) inside the block; tests use it to cover the fallback."""
    global _forced
    if route not in (None, *ROUTES):
        raise ValueError(f"route must be one of {ROUTES} or None, got {route!r}")
    if route == "onednn" and not onednn_available():
        raise ValueError("route 'onednn' requested but torch's oneDNN linear ops are not available here")
    old, _forced = _forced, route
    try:
        yield
    finally:
        _forced = old


def product_dtype() -> torch.dtype | None:
    """The dtype products run in inside the current ``products`` block of this thread (None: the inputs' own)."""
    return getattr(_state, "products", None)


@contextlib.contextmanager
def products(dtype: torch.dtype | None) -> Iterator[None]:
    """Run every product in ``dtype`` (torch.bfloat16, or None for the inputs' own dtype) inside the block.

    Only float32 inputs are cast; results are float32. A backward pass re-enters it with the forward's dtype."""
    if dtype not in (None, torch.bfloat16):
        raise ValueError(f"products: dtype must be torch.bfloat16 or None, got {dtype}")
    old, _state.products = product_dtype(), dtype
    try:
        yield
    finally:
        _state.products = old


def _low(t: Tensor) -> bool:
    """True when products on ``t`` run in the ``products`` dtype (float32 inputs inside a bf16 block)."""
    return product_dtype() is not None and t.dtype == torch.float32


@dataclass(frozen=True)
class Weight:
    """A weight ``W (O, I)`` ready for repeated ``x @ W^T`` products: the dense tensor and, on the oneDNN
    route, a copy reordered once into oneDNN's blocked layout."""

    dense: Tensor
    packed: Tensor | None


def prepare(w: Tensor) -> Weight:
    """Wrap ``w (O, I)`` for ``linear``; reorders it for oneDNN when that route applies (costs one copy)."""
    if _low(w):  # bf16 products: the weight is cast once here; oneDNN reorders bf16 weights too
        wb = w.to(product_dtype())
        packed = torch.ops.mkldnn._reorder_linear_weight(wb.contiguous()) if route_for(w) == "onednn" else None
        return Weight(wb, packed)
    if route_for(w) == "onednn":
        return Weight(w, torch.ops.mkldnn._reorder_linear_weight(w.contiguous()))
    return Weight(w, None)


def linear(x: Tensor, w: Weight | Tensor, bias: Tensor | None = None, *, add: Tensor | None = None) -> Tensor:
    """``x (M, I) @ W^T (I, O) + bias (O,) + add (M, O)`` as a new (M, O) tensor; bias and add optional."""
    if _low(x):
        return _linear_low(x, w, bias, add)
    if not isinstance(w, Weight):
        w = Weight(w, None)
    if w.packed is not None or route_for(x) == "onednn":
        wt = w.packed if w.packed is not None else w.dense  # oneDNN takes a plain weight too (reorders inside)
        if add is None:
            return torch.ops.mkldnn._linear_pointwise(x, wt, bias, "none", [], "")
        return torch.ops.mkldnn._linear_pointwise.binary(x, add.contiguous(), wt, bias, "add")  # fused post-op
    if add is None:
        return torch.mm(x, w.dense.t()) if bias is None else torch.addmm(bias, x, w.dense.t())
    if bias is not None:
        add = add + bias
    return torch.addmm(add, x, w.dense.t())


def _linear_low(x: Tensor, w: Weight | Tensor, bias: Tensor | None, add: Tensor | None) -> Tensor:
    """``linear`` with bf16 inputs and a float32 result: (x W^T + bias) in oneDNN, ``add`` added in float32."""
    dt = product_dtype()
    if not isinstance(w, Weight):
        w = Weight(w.to(dt), None)
    xb = x.to(dt)
    b = bias.to(dt) if bias is not None else None
    if w.packed is not None or (onednn_available() and x.device.type == "cpu" and _forced != "torch"):
        wt = w.packed if w.packed is not None else w.dense
        y = torch.ops.mkldnn._linear_pointwise(xb, wt, b, "none", [], "")  # (M, O) bf16, float32 accumulation
    else:
        y = torch.nn.functional.linear(xb, w.dense.to(dt), b)
    return y.float() if add is None else torch.add(add, y)  # mixed add: float32 result


@functools.cache
def _avx512() -> bool:
    """True when torch's CPU kernels run with AVX-512 here (``torch.backends.cpu.get_cpu_capability``)."""
    return "AVX512" in torch.backends.cpu.get_cpu_capability()


def mm_tn(a: Tensor, b: Tensor) -> Tensor:
    """``a^T @ b`` for a (M, P), b (M, Q) -> (P, Q): a weight gradient summed over the M = T*N rows.

    On an AVX-512 CPU with oneDNN this is ``(b^T @ a)^T`` with ``a^T`` as the (column-major) weight operand:
    MKL runs its AVX2 fallback on AMD, and this arrangement measured ~350 against ~190 GFLOP/s for the direct
    form (2026-11-22). Where the CPU has AVX2 only, both libraries run AVX2 kernels and oneDNN's copy of the
    transposed operands is pure cost: ``torch.mm(a^T, b)`` (BLAS reads a transposed, no copy) measured
    1.15-1.9x faster on every BPTT shape but one (``benchmarks/bench_mm_tn.py``, 2026-11-30).
    """
    if _low(a):  # bf16 inputs, float32 result (a weight gradient)
        a, b = a.to(product_dtype()), b.to(product_dtype())
        if onednn_available() and a.device.type == "cpu" and _forced != "torch":
            return torch.ops.mkldnn._linear_pointwise(b.t(), a.t(), None, "none", [], "").t().float()
        return torch.mm(a.t(), b).float()
    if route_for(a) == "onednn" and _avx512():
        return torch.ops.mkldnn._linear_pointwise(b.t(), a.t(), None, "none", [], "").t()
    return torch.mm(a.t(), b)


def route_name() -> str:
    """The route large CPU float32 products take here, as benchmark reports name it."""
    return "onednn" if onednn_available() else "torch (oneDNN linear ops unavailable)"


def matmul_peak(*, repeats: int = 7, m: int = 4096, k: int = 512, n: int = 2048) -> dict[str, float]:
    """GFLOP/s of a large float32 product ``(m, k) @ (k, n)`` on each route, interleaved: the ceiling benchmark
    figures are quoted against.

    'onednn' is absent when the route is not available; 'peak' is the best route, the ceiling we quote.
    """
    x, w = torch.randn(m, k), torch.randn(n, k)
    fns: dict[str, Callable[[], object]] = {"torch.mm": lambda: torch.mm(x, w.t())}
    if onednn_available():
        packed = prepare(w)
        fns["onednn"] = lambda: linear(x, packed)
    res = interleaved(fns, repeats=repeats, warmup=2, inner=3)
    flops = 2.0 * m * k * n
    out = {name: flops / t.median / 1e9 for name, t in res.items()}
    out["peak"] = max(out.values())
    return out
