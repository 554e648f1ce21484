"""Speed of the issue-8 cells (layer-norm LSTM, minGRU, minLSTM, IndRNN) beside the torch.nn layer they replace.

Forward+backward of one layer, batch first, float32, input size = H. Each rnnkit path is first checked against
its loop twin (outputs and input gradients at a small size), then every variant runs once per round,
interleaved, and the median over rounds is reported with its ratio to the torch.nn baseline measured in the
same rounds (the machine is shared and noisy: ratios, not absolute times, are the result).

    python benchmarks/bench_new_cells.py --seq-lens 128 512 2048 --hidden 512 --batch 32 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from rnnkit.nn.sequence import Recurrent

# variant -> (cell, impl, the torch.nn layer it is compared with: the nearest classic cell)
CASES = {
    "mingru/scan": ("mingru", "scan", "torch.nn.GRU"),
    "minlstm/scan": ("minlstm", "scan", "torch.nn.GRU"),
    "mingru/loop": ("mingru", "loop", "torch.nn.GRU"),
    "layernorm_lstm/bptt": ("layernorm_lstm", "bptt", "torch.nn.LSTM"),
    "layernorm_lstm/loop": ("layernorm_lstm", "loop", "torch.nn.LSTM"),
    "indrnn/bptt": ("indrnn", "bptt", "torch.nn.RNN(relu)"),
    "indrnn/loop": ("indrnn", "loop", "torch.nn.RNN(relu)"),
}
BASELINES = {
    "torch.nn.GRU": lambda H: torch.nn.GRU(H, H, batch_first=True),
    "torch.nn.LSTM": lambda H: torch.nn.LSTM(H, H, batch_first=True),
    "torch.nn.RNN(relu)": lambda H: torch.nn.RNN(H, H, nonlinearity="relu", batch_first=True),
}


def check(cell: str, impl: str) -> float:
    """Max relative difference of the fast path against the loop twin (float32, N=4, T=33, H=64)."""
    torch.manual_seed(0)
    loop = Recurrent(cell, 64, 64, impl="loop")
    fast = Recurrent(cell, 64, 64, impl=impl)
    fast.load_state_dict(loop.state_dict())
    x = torch.randn(4, 33, 64)
    errs = []
    outs = []
    for m in (loop, fast):
        xi = x.clone().requires_grad_()
        out, _ = m(xi)
        out.square().sum().backward()
        outs.append((out.detach(), xi.grad))
    for a, b in zip(*outs, strict=True):
        errs.append(float((a - b).abs().max() / b.abs().max()))
    return max(errs)


def fwd_bwd(model, x):
    def run() -> None:
        out = model(x)[0]
        out.sum().backward()

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq-lens", type=int, nargs="+", default=[128])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    H, N = args.hidden, args.batch
    for name in args.cases:
        cell, impl, _ = CASES[name]
        if impl != "loop":
            err = check(cell, impl)
            assert err < 1e-4, f"{name}: fast path differs from the loop twin by {err:.2e} (relative)"
            print(f"check {name}: max relative difference vs loop {err:.1e}")
    rows = []
    for T in args.seq_lens:
        torch.manual_seed(0)
        x = torch.randn(N, T, H)
        runs = {}
        for name in args.cases:
            cell, impl, base = CASES[name]
            runs[name] = fwd_bwd(Recurrent(cell, H, H, impl=impl), x)
            runs.setdefault(base, fwd_bwd(BASELINES[base](H), x))
        for run in runs.values():  # warm-up (oneDNN primitive creation, allocator)
            run()
        times: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(args.rounds):
            for k, run in runs.items():
                t0 = time.perf_counter()
                run()
                times[k].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"\nT={T} N={N} H={H} threads={args.threads}, forward+backward, median of {args.rounds} rounds")
        for k in runs:
            base = CASES[k][2] if k in CASES else k
            ratio = med[k] / med[base]
            print(f"  {k:24s} {med[k] * 1e3:9.1f} ms   {ratio:5.2f}x {base}")
            rows.append({"variant": k, "T": T, "N": N, "H": H, "ms": med[k] * 1e3, "baseline": base, "ratio": ratio})
    if args.json:
        meta = {"torch": torch.__version__, "machine": platform.processor() or platform.machine(),
                "threads": args.threads, "rounds": args.rounds}  # fmt: skip
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
