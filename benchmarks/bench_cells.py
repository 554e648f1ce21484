"""Engine speed per cell: forward and forward+backward of every impl (loop, fused, bptt, scan, auto) and torch.nn.

Every registered cell by default. Correctness first: each variant's gradients (dx and every parameter) are
compared with torch.nn's with identical weights and upstream gradient where torch.nn has the cell (rnn, gru,
lstm), and with the cell's own loop impl otherwise. Then interleaved repeats and medians; ratios are against
the torch.nn row measured in the same process: the cell itself, or for a cell torch.nn lacks the layer it
would replace (``rnnkit.bench.ANCHORS``: layer-norm LSTM -> nn.LSTM, minGRU and minLSTM -> nn.GRU, IndRNN ->
nn.RNN(relu)). GFLOP/s are against the matmul peak measured in the same run through ``rnnkit.nn.gemm``.

    python benchmarks/bench_cells.py                       # every cell, T=128, N=32, H in {128,256,512}, L in {1,2}
    python benchmarks/bench_cells.py --quick               # H=512, L=1, T=128, fwd+bwd of the fast impls + torch.nn
    python benchmarks/bench_cells.py --long                # the same at T in {128, 512, 2048}, 5 repeats
    python benchmarks/bench_cells.py --long --cells mingru minlstm --seq-lens 512 2048 --write

A preset only sets defaults: options given beside it win (``--long --impls loop scan``).
"""

from __future__ import annotations

import argparse
import shlex
import sys

from common import append_section, print_host

from rnnkit.bench import IMPLS, PRESETS, bench_cells, report
from rnnkit.registry import cell_names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    cells = cell_names(engine="nn")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", nargs="+", default=cells, choices=cells, metavar="CELL", help=f"default: all of {cells}")
    ap.add_argument("--hidden", nargs="+", type=int, default=[128, 256, 512])
    ap.add_argument("--layers", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--seq-lens", nargs="+", type=int, default=[128], help="e.g. 128 512 2048")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--impls", nargs="+", default=list(IMPLS), choices=IMPLS, help="each cell runs those that apply")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="cpu: process CPU time (use 1 thread)")
    ap.add_argument("--no-forward", action="store_true", help="time forward+backward only")
    presets = ap.add_mutually_exclusive_group()
    presets.add_argument("--quick", action="store_true", help="H=512, L=1, no loop, fwd+bwd only")
    presets.add_argument(
        "--long", action="store_true", help="H=512, L=1, T in {128,512,2048}, no loop, fwd+bwd, 5 repeats"
    )
    ap.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    preset = "quick" if args.quick else "long" if args.long else None
    if preset:  # the preset becomes the defaults; parse again so explicit options win
        defaults = dict(PRESETS[preset])
        defaults["no_forward"] = not defaults.pop("forward")
        ap.set_defaults(**defaults)
        args = ap.parse_args(argv)
    return args


def main(argv: list[str] | None = None) -> None:
    print_host()  # the CPU model and flags every figure depends on
    args = parse_args(argv)
    info, peak, results = bench_cells(
        cells=args.cells,
        hidden=args.hidden,
        layers=args.layers,
        seq_lens=args.seq_lens,
        batch=args.batch,
        impls=args.impls,
        repeats=args.repeats,
        forward=not args.no_forward,
        threads=args.threads,
        clock=args.clock,
        progress=lambda s: print(s, file=sys.stderr, flush=True),
    )
    command = "python benchmarks/bench_cells.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    text = report(info, peak, results, command.strip())
    print(text)
    if args.write:
        append_section("Engine speed: cells x impls vs torch.nn (`benchmarks/bench_cells.py`)", text)


if __name__ == "__main__":
    main()
