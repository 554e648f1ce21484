"""Which way should a weight gradient ``dW = a^T @ b`` be computed here? Times the candidate routes side by side.

    python benchmarks/bench_mm_tn.py                  # the BPTT shapes below, 2 threads, 7 interleaved repeats
    python benchmarks/bench_mm_tn.py --threads 1

Every hand-written backward (``nn.bptt``, ``nn.bptt_extra``, ``nn.scan``) ends in ``gemm.mm_tn``: a is the
(M, P) gate gradient of all M = T*N rows, b the (M, Q) layer input or previous state. Both operands are
row-major, so one of them is read transposed. The candidates, all in one process and interleaved per shape:

* ``onednn (b^T a)^T`` — oneDNN's linear with b^T as input and a^T as weight (what ``mm_tn`` did until now),
* ``torch.mm(a^T, b)`` — BLAS with a transposed operand, no copy,
* ``torch.mm(b^T, a)^T`` — the same product the other way round, no copy.

The table gives ms per call and GFLOP/s (2*M*P*Q / time) per route.
"""

from __future__ import annotations

import argparse

import torch
from common import interleaved, print_host, run_header

from rnnkit.nn import gemm

# (label, M, P, Q): M = T*N rows, P gate columns, Q input columns
SHAPES = [
    ("minGRU dW, T=512 N=32 H=512", 512 * 32, 1024, 512),
    ("minLSTM dW, T=512 N=32 H=512", 512 * 32, 1536, 512),
    ("LSTM dW_ih, T=128 N=32 H=512", 128 * 32, 2048, 512),
    ("LSTM dW_ih, T=128 N=32 H=256", 128 * 32, 1024, 256),
    ("LSTM dW_ih, T=64 N=32 H=128", 64 * 32, 512, 128),
    ("LSTM dW_ih, T=35 N=20 H=650", 35 * 20, 2600, 650),
]


def routes(a: torch.Tensor, b: torch.Tensor) -> dict[str, object]:
    """The candidate computations of a^T @ b, each a zero-argument callable."""
    fns = {
        "torch.mm(a^T, b)": lambda: torch.mm(a.t(), b),
        "torch.mm(b^T, a)^T": lambda: torch.mm(b.t(), a).t(),
    }
    if gemm.onednn_available():
        fns["onednn (b^T a)^T"] = lambda: torch.ops.mkldnn._linear_pointwise(b.t(), a.t(), None, "none", [], "").t()
    return fns


def main() -> None:
    print_host()  # the CPU model and flags every figure depends on
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(run_header(args.threads, args.repeats))
    print("| shape (M x P x Q) | route | ms | GFLOP/s | vs onednn |")
    print("|---|---|---:|---:|---:|")
    for label, M, P, Q in SHAPES:
        a, b = torch.randn(M, P), torch.randn(M, Q)
        fns = routes(a, b)
        ref = torch.mm(a.double().t(), b.double())
        for name, fn in fns.items():  # every route computes the same product (float32 rounding only)
            err = (fn().double() - ref).abs().max().item() / ref.abs().max().item()
            assert err < 1e-4, f"{name} on {label}: relative error {err:.1e}"
        res = interleaved(fns, repeats=args.repeats, warmup=1)
        base = res.get("onednn (b^T a)^T")
        for name, t in res.items():
            gf = 2.0 * M * P * Q / t.median / 1e9
            rel = f"{base.median / t.median:.2f}x" if base else "-"
            print(f"| {label} ({M}x{P}x{Q}) | {name} | {t.median * 1e3:.1f} | {gf:.0f} | {rel} |")


if __name__ == "__main__":
    main()
