"""How fast can a minGRU layer be here? Times its products alone (the floor) beside the whole layer and nn.GRU.

    python benchmarks/bench_scan_floor.py                    # T=512, N=32, H=512, 2 threads, 5 interleaved repeats
    python benchmarks/bench_scan_floor.py --seq-len 2048 --threads 1

A minGRU layer cannot be faster than the matrix products it has to do: forward ``xp = x W^T`` (all steps at
once, (N*T, D) @ (D, 2H)), backward ``dW = dxp^T x`` and, when x requires grad, ``dx = dxp W``. Timing just
those products, through the same ``rnnkit.nn.gemm`` route the layer uses, gives the best ratio to
``torch.nn.GRU`` that any float32 minGRU implementation could reach on this machine today; the layer's own
time shows how much of the gap is the element-wise gate and scan work, done either by the native C kernel
(``nn/scan.c``, the default on CPU) or by blocks of aten ops (``RNNKIT_NATIVE=0``, set per call here so both
run in the same process). Everything runs interleaved in one
process (``common.interleaved``), so the ratios are fair even when the host's speed drifts.
"""

from __future__ import annotations

import argparse
import os

import torch
from common import interleaved, matmul_peak, print_host, run_header

from rnnkit.nn import gemm
from rnnkit.nn.sequence import Recurrent


def main() -> None:
    print_host()  # the CPU model and flags every figure depends on
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    N, T, H = args.batch, args.seq_len, args.hidden
    torch.manual_seed(0)
    gru = torch.nn.GRU(H, H, batch_first=True)
    mingru = Recurrent("mingru", H, H, impl="auto")
    W = mingru.state_dict()["layers.0.fwd.W_ih"].detach()  # (2H, D): minGRU's only weight (z and h~ rows)
    x = torch.randn(N, T, H)
    dxp = torch.randn(N * T, W.shape[0])  # the gradient the products see: (N*T, 2H)
    x2 = x.reshape(N * T, H)

    def layer_step(model: torch.nn.Module, with_dx: bool, native: str = "1"):
        def step() -> None:
            # a fresh leaf each call (as a training step sees); this copy is in both layers' times, not the floor's
            xi = x.clone().requires_grad_(with_dx)
            before = os.environ.get("RNNKIT_NATIVE")
            os.environ["RNNKIT_NATIVE"] = native  # read by nn.scan at each forward and backward
            try:
                out, _ = model(xi)
                out.sum().backward()
            finally:
                if before is None:
                    del os.environ["RNNKIT_NATIVE"]
                else:
                    os.environ["RNNKIT_NATIVE"] = before

        return step

    def floor_step(with_dx: bool):
        def step() -> None:
            gemm.linear(x2, W)  # forward: every step's input product at once
            gemm.mm_tn(dxp, x2)  # dW
            if with_dx:
                gemm.linear(dxp, W.t())  # dx

        return step

    rows = []
    for with_dx in (True, False):
        fns = {
            "torch.nn.GRU": layer_step(gru, with_dx),
            "rnnkit mingru (auto)": layer_step(mingru, with_dx),
            "rnnkit mingru, aten element-wise (RNNKIT_NATIVE=0)": layer_step(mingru, with_dx, "0"),
            "mingru products alone (floor)": floor_step(with_dx),
        }
        res = interleaved(fns, repeats=args.repeats, warmup=1)
        base = res["torch.nn.GRU"].median
        for name, t in res.items():
            rows.append((with_dx, name, t.median * 1e3, base / t.median))
    peak = matmul_peak(repeats=3)["peak"]
    print(f"T={T} N={N} H={H}, {run_header(args.threads, args.repeats)}; matmul peak now {peak:.0f} GFLOP/s")
    print("| x requires grad | variant | fwd+bwd ms | nn.GRU time / this |")
    print("|---|---|---:|---:|")
    for with_dx, name, ms, speedup in rows:
        print(f"| {'yes' if with_dx else 'no'} | {name} | {ms:.1f} | {speedup:.2f}x |")


if __name__ == "__main__":
    main()
