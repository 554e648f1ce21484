"""fit() overhead: throughput of ``rnnkit.train.fit`` vs a bare hand-written TBPTT loop, same model and batches.

Model: char LM, embedding 256 -> 1-layer ``rnnkit.nn.LSTM`` H=256 -> linear to V=65; batches (N=32, T=128) of a
synthetic token stream (speed does not depend on the text). Both loops do the same work per step: forward from
the carried state, cross-entropy, zero_grad, backward, global-norm clipping at 1.0, AdamW step, detach the
state. fit adds its bookkeeping (NaN guard, lr schedule, running means, callbacks, quiet progress).

Correctness first: from the same initial weights both loops must give bit-identical weights after 3 steps.
Then ``--repeats`` runs of ``--steps`` steps each, bare and fit interleaved, one process; tokens/s medians.
fit's figure includes its setup (optimiser creation, seeding) amortised over the run, as a user would see it.

    nice -n 5 .venv/bin/python benchmarks/bench_fit.py --steps 8 --repeats 9 --threads 1
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
from common import print_host
from torch import nn
from torch.nn import functional as F

import rnnkit.nn as rnn
from rnnkit.config import OptimConfig, TrainConfig
from rnnkit.data.streams import TokenStream
from rnnkit.train import StepOutput, fit

V = 65


class CharLM(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(V, hidden)
        self.rnn = rnn.LSTM(hidden, hidden)
        self.out = nn.Linear(hidden, V)

    def forward(self, x: torch.Tensor, state=None):
        h, state = self.rnn(self.emb(x), state)  # (N, T, H)
        return self.out(h), state  # (N, T, V)


def step(model: nn.Module, batch, state):
    logits, state = model(batch.x, state)
    return StepOutput(F.cross_entropy(logits.reshape(-1, V), batch.y.reshape(-1)), state, batch.y.numel())


def bare_loop(model: nn.Module, stream: TokenStream, steps: int, lr: float) -> None:
    """What a user would write by hand: the pytorch/examples word_language_model loop with AdamW."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)  # = OptimConfig defaults
    state = None
    model.train()
    for i, (x, y, _, _) in enumerate(stream.epoch(0)):
        if i == steps:
            break
        logits, state = model(x, state)
        state = tuple(s.detach() for s in state)
        loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()


def fit_loop(model: nn.Module, stream: TokenStream, steps: int, lr: float) -> None:
    cfg = TrainConfig(max_steps=steps, lr=lr, quiet=True, log_every=50, optim=OptimConfig(name="adamw"))
    fit(model, step, stream, config=cfg)


def main() -> None:
    print_host()  # the CPU model and flags every figure depends on
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--bptt", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, V, (args.batch * (args.bptt * (args.steps + 2) + 1),), generator=g)
    stream = TokenStream(tokens, batch_size=args.batch, bptt=args.bptt)
    lr = 2e-3

    # correctness: identical weights after 3 steps of each loop from the same start
    torch.manual_seed(0)
    a = CharLM(args.hidden)
    b = CharLM(args.hidden)
    b.load_state_dict(a.state_dict())
    bare_loop(a, stream, 3, lr)
    fit_loop(b, stream, 3, lr)
    same = all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    print(f"correctness: fit == bare loop after 3 steps, bit for bit: {same}")
    if not same:
        raise SystemExit("fit and the bare loop disagree; fix that before timing")

    model = CharLM(args.hidden)
    bare_loop(model, stream, 2, lr)  # warm-up both paths
    fit_loop(model, stream, 2, lr)
    tokens_per_run = args.steps * args.batch * args.bptt
    # wall-clock and process CPU time: on a shared, oversubscribed machine the CPU-time figure is the stable one
    rates: dict[str, dict[str, list[float]]] = {c: {"bare": [], "fit": []} for c in ("wall", "cpu")}
    for _ in range(args.repeats):
        for name, fn in (("bare", bare_loop), ("fit", fit_loop)):
            t0, c0 = time.perf_counter(), time.process_time()
            fn(model, stream, args.steps, lr)
            rates["wall"][name].append(tokens_per_run / (time.perf_counter() - t0))
            rates["cpu"][name].append(tokens_per_run / (time.process_time() - c0))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
        f"torch {torch.__version__}, threads {args.threads}"
    )
    print(
        f"LSTM H={args.hidden}, N={args.batch}, T={args.bptt}, {args.steps} steps x {args.repeats} repeats, interleaved"
    )
    for clock, r in rates.items():
        med = {k: statistics.median(v) for k, v in r.items()}
        pairs = statistics.median(f / b for f, b in zip(r["fit"], r["bare"], strict=True))
        for k in ("bare", "fit"):
            runs = ", ".join(f"{x:,.0f}" for x in r[k])
            print(f"  [{clock:4s}] {k:5s} median {med[k]:9,.0f} tokens/s   runs: {runs}")
        print(f"  [{clock:4s}] fit / bare = {med['fit'] / med['bare']:.3f} (median of per-pair ratios {pairs:.3f})")


if __name__ == "__main__":
    main()
