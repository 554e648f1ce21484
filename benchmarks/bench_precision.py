"""Training step (forward + backward) in bf16 vs float32: rnnkit's impls and torch.nn, side by side.

Per cell and size: torch.nn in float32 (the anchor, with a copy of our weights) and under
``torch.autocast("cpu", torch.bfloat16)``; each rnnkit impl that applies in float32 and under ``precision="bf16"``
(``rnnkit.nn.precision.autocast``). The optimiser update is left out: precision does not change it (float32 master
weights either way). Correctness first: every variant's gradients (dx and every parameter) against torch.nn
float32's, tolerance 1e-4 for float32 variants and 12 x 2^-8 for bf16 ones (see tests/nn/test_precision.py).
Then interleaved repeats, medians, and the median of per-round ratios to torch.nn float32.

    python benchmarks/bench_precision.py                       # lstm, gru at H = 256, 512; T=128, N=32
    python benchmarks/bench_precision.py --cells gru --hidden 512 --repeats 9
    python benchmarks/bench_precision.py --threads 1 --clock cpu      # a busy shared machine: CPU time of 1 thread
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
from collections.abc import Callable

import torch
from common import interleaved, print_host, run_header

from rnnkit.nn import precision
from rnnkit.nn.sequence import Recurrent

os.environ.setdefault("RNNKIT_AUTOTUNE", "0")  # explicit impls only: no tuning inside the timed loop
TOL_FP32, TOL_BF16 = 1e-4, 12 * 2.0**-8


def variants(cell: str, H: int, impls: list[str]) -> dict[str, tuple[torch.nn.Module, str]]:
    """name -> (module, precision); every module holds the same weights."""
    torch.manual_seed(0)
    base = Recurrent(cell, H, H, impl="loop")
    out: dict[str, tuple[torch.nn.Module, str]] = {}
    twin = base.to_torch()
    out["torch.nn fp32"] = (twin, "fp32")
    out["torch.nn bf16"] = (twin, "bf16")
    for impl in impls:
        m = Recurrent(cell, H, H, impl=impl)
        try:
            m.check_impl(impl, torch.zeros(1, 2, H))
        except ValueError:
            continue
        m.load_state_dict(base.state_dict())
        out[f"rnnkit {impl} fp32"] = (m, "fp32")
        out[f"rnnkit {impl} bf16"] = (m, "bf16")
    return out


def step_fn(m: torch.nn.Module, prec: str, x: torch.Tensor, gout: torch.Tensor) -> Callable[[], list[torch.Tensor]]:
    def run() -> list[torch.Tensor]:
        for p in m.parameters():
            p.grad = None
        x.grad = None
        with precision.autocast(prec):
            out = m(x)[0]
        (out.float() * gout).sum().backward()
        return [x.grad, *(p.grad for p in m.parameters())]

    return run


def main(argv: list[str] | None = None) -> None:
    print_host()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", nargs="+", default=["lstm", "gru"])
    ap.add_argument("--hidden", nargs="+", type=int, default=[256, 512])
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--impls", nargs="+", default=["fused", "bptt"])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="cpu: process CPU time (use 1 thread)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    precision.check("bf16")
    print(f"bf16 support: {precision.bf16_support()}; {run_header(args.threads, args.repeats)}; clock {args.clock}")
    cmd = "python benchmarks/bench_precision.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    print(f"Command: `{cmd.strip()}`\n")
    print("| case | variant | fwd+bwd ms | / torch.nn fp32 | paired ratio | grad err |")
    print("|---|---|---:|---:|---:|---:|")
    for cell in args.cells:
        for H in args.hidden:
            g = torch.Generator().manual_seed(1)
            x = torch.randn(args.batch, args.seq_len, H, generator=g).requires_grad_(True)
            gout = torch.randn(args.batch, args.seq_len, H, generator=g)
            vs = variants(cell, H, args.impls)
            fns = {name: step_fn(m, prec, x, gout) for name, (m, prec) in vs.items()}
            ref = fns["torch.nn fp32"]()
            ref = [r.clone() for r in ref]
            errs = {}
            for name, fn in fns.items():  # correctness first
                got = fn()
                errs[name] = max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(got, ref, strict=True))
            times = interleaved(fns, repeats=args.repeats, warmup=1, clock=args.clock)
            anchor = times["torch.nn fp32"]
            for name, t in times.items():
                tol = TOL_BF16 if name.endswith("bf16") else TOL_FP32
                paired = statistics.median(a / b for a, b in zip(t.samples, anchor.samples, strict=True))
                ok = "ok" if errs[name] <= tol else "FAIL"
                row = f"| {cell} H={H} T={args.seq_len} N={args.batch} | {name} | {t.median * 1e3:.1f} | "
                print(row + f"{t.median / anchor.median:.2f}x | {paired:.2f}x | {errs[name]:.1e} {ok} |", flush=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
