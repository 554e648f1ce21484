"""Engine speed per cell: forward and forward+backward of every impl (loop, fused, bptt, auto) and torch.nn.

Correctness first (every variant's gradients against torch.nn's with identical weights and upstream
gradient), then interleaved repeats and medians; ratios are against torch.nn in the same process; GFLOP/s
are against the matmul peak measured in the same run through ``rnnkit.nn.gemm``.

    python benchmarks/bench_cells.py                       # T=128, N=32, H in {128,256,512}, L in {1,2}
    python benchmarks/bench_cells.py --quick               # H=512, L=1, fwd+bwd of fused/bptt/auto + torch.nn
    python benchmarks/bench_cells.py --cells gru --hidden 512 --seq-lens 512 2048 --write
"""

from __future__ import annotations

import argparse
import shlex
import sys

from common import append_section

from rnnkit.bench import IMPLS, bench_cells, report


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", nargs="+", default=["rnn", "gru", "lstm"])
    ap.add_argument("--hidden", nargs="+", type=int, default=[128, 256, 512])
    ap.add_argument("--layers", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--seq-lens", nargs="+", type=int, default=[128])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--impls", nargs="+", default=list(IMPLS), choices=IMPLS)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="cpu: process CPU time (use 1 thread)")
    ap.add_argument("--no-forward", action="store_true", help="time forward+backward only")
    ap.add_argument("--quick", action="store_true", help="H=512, L=1, no loop, fwd+bwd only")
    ap.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    if args.quick:
        args.hidden, args.layers, args.no_forward = [512], [1], True
        args.impls = [i for i in args.impls if i != "loop"]
    info, peak, results = bench_cells(
        cells=args.cells, hidden=args.hidden, layers=args.layers, seq_lens=args.seq_lens, batch=args.batch,
        impls=args.impls, repeats=args.repeats, forward=not args.no_forward, threads=args.threads, clock=args.clock,
        progress=lambda s: print(s, file=sys.stderr, flush=True),
    )  # fmt: skip
    command = "python benchmarks/bench_cells.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    text = report(info, peak, results, command.strip())
    print(text)
    if args.write:
        append_section("Engine speed: cells x impls vs torch.nn (`benchmarks/bench_cells.py`)", text)


if __name__ == "__main__":
    main()
