"""A/B of the hand-written BPTT Functions: ``nn/bptt.py`` at a git revision against the working tree, one process.

For changes to the per-step work of ``_RNN`` / ``_GRU`` / ``_LSTM``: both versions get the same weights, input and
upstream gradient; their gradients are compared first (the max difference is printed: 0.0 when the arithmetic
order is unchanged), then forward+backward is timed interleaved, and the median of per-round ratios is reported.

    python benchmarks/bench_bptt_ab.py --rev 6bee1ca --cells gru --threads 1 --clock cpu
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from common import interleaved, print_host

from rnnkit.nn import bptt as new

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = {"rnn": "_RNN", "gru": "_GRU", "lstm": "_LSTM"}
GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def load_rev(rev: str):
    """``src/rnnkit/nn/bptt.py`` as it was at ``rev``, imported as a separate module."""
    text = subprocess.run(
        ["git", "show", f"{rev}:src/rnnkit/nn/bptt.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / f"bptt_{rev}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(f"bptt_{rev}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    print_host()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", required=True, help="the git revision to compare against (the 'old' side)")
    ap.add_argument("--cells", nargs="+", default=["gru"], choices=list(FUNCTIONS))
    ap.add_argument("--hidden", nargs="+", type=int, default=[256, 512])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=["wall", "cpu"], default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    old = load_rev(args.rev)
    print(f"old = {args.rev}, new = working tree; {args.threads} threads, clock {args.clock}, {args.repeats} repeats")
    print("| case | old ms | new ms | new/old (paired median) | max grad difference |")
    print("|---|---:|---:|---:|---:|")
    T, N = 128, 32
    for cell in args.cells:
        for H in args.hidden:
            torch.manual_seed(0)
            G = GATES[cell]
            W_ih = (torch.randn(G * H, H) / H**0.5).requires_grad_()
            W_hh = (torch.randn(G * H, H) / H**0.5).requires_grad_()
            b_ih, b_hh = torch.zeros(G * H, requires_grad=True), torch.zeros(G * H, requires_grad=True)
            x, g = torch.randn(T, N, H, requires_grad=True), torch.randn(T, N, H)
            h0 = torch.zeros(N, H)
            leaves = (x, W_ih, W_hh, b_ih, b_hh)

            def run(mod, cell=cell, leaves=leaves, g=g, h0=h0):
                def f() -> list[torch.Tensor]:
                    for p in leaves:
                        p.grad = None
                    fn = getattr(mod, FUNCTIONS[cell])
                    x, W_ih, W_hh, b_ih, b_hh = leaves
                    if cell == "lstm":
                        out = fn.apply(None, x, h0, h0, W_ih, W_hh, b_ih, b_hh)[0]
                    elif cell == "gru":
                        out = fn.apply(None, x, h0, W_ih, W_hh, b_ih, b_hh)[0]
                    else:
                        out = fn.apply(None, False, x, h0, W_ih, W_hh, b_ih, b_hh)[0]
                    (out * g).sum().backward()
                    return [p.grad.clone() for p in leaves]

                return f

            diff = max(float((a - b).abs().max()) for a, b in zip(run(old)(), run(new)(), strict=True))
            r = interleaved({"old": run(old), "new": run(new)}, repeats=args.repeats, warmup=1, clock=args.clock)
            paired = statistics.median(n / o for n, o in zip(r["new"].samples, r["old"].samples, strict=True))
            print(
                f"| {cell} H={H} T={T} N={N} | {r['old'].median * 1e3:.1f} | {r['new'].median * 1e3:.1f} | "
                f"{paired:.3f} | {diff:.1e} |",
                flush=True,
            )
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}", file=sys.stdout)


if __name__ == "__main__":
    main()
