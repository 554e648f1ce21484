"""Generation speed at batch 1: rnnkit's FastDecoder against the three ways people write it by hand.

Runners (each one full token: embedding -> 2-layer recurrent stack -> output layer -> sampling):
- ``torch.nn.LSTM per token``: the fused module called with T=1 for every token (per-call kernel setup);
- ``2x torch.nn.LSTMCell``: eager cells under ``torch.inference_mode``;
- ``numpy mat-vec``: a plain NumPy float32 step ``x @ W_ih.T + h @ W_hh.T`` per layer (NumPy's default BLAS
  threads, and again held to one BLAS thread: on busy cores that is much faster);
- ``rnnkit``: ``rnnkit.tasks.lm.decoder.FastDecoder`` for every registered cell (same sizes).

Correctness first: every runner's logits after a fixed prompt are compared with the PyTorch model's
full-sequence forward. All runners run in this one process, interleaved, repeated; medians reported.

    python benchmarks/bench_generate.py [--hidden 512 --layers 2 --vocab 65 --tokens 300 --repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np
import torch
from common import print_host

from rnnkit.registry import cell_names
from rnnkit.tasks.lm.decoder import FastDecoder, blas_threads
from rnnkit.tasks.lm.generate import next_token_probs, sample
from rnnkit.tasks.lm.model import RecurrentLM


def _sample(logits: np.ndarray, rng: np.random.Generator) -> int:
    return sample(next_token_probs(logits, temperature=0.8), rng)


class TorchLSTMPerToken:
    """torch.nn.LSTM called with T=1 for each token (what a hand-written char-rnn sampler does)."""

    def __init__(self, m: RecurrentLM) -> None:
        self.m = m
        self.lstm = m.rnn.to_torch().eval()  # same weights, torch.nn layout

    def reset(self) -> None:
        self.state = None

    def step(self, tok: int) -> np.ndarray:
        with torch.inference_mode():
            x = self.m.embedding(torch.tensor([[tok]]))  # (1, 1, E)
            out, self.state = self.lstm(x, self.state)
            return self.m.head(out[0, 0]).numpy()


class TorchLSTMCells:
    """One torch.nn.LSTMCell per layer, eager, under inference_mode."""

    def __init__(self, m: RecurrentLM) -> None:
        self.m, lstm = m, m.rnn.to_torch()
        self.cells = []
        for l in range(lstm.num_layers):
            c = torch.nn.LSTMCell(lstm.input_size if l == 0 else lstm.hidden_size, lstm.hidden_size)
            with torch.no_grad():
                for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(c, n).copy_(getattr(lstm, f"{n}_l{l}"))
            self.cells.append(c.eval())

    def reset(self) -> None:
        self.state = [None] * len(self.cells)

    def step(self, tok: int) -> np.ndarray:
        with torch.inference_mode():
            x = self.m.embedding.weight[tok][None]  # (1, E)
            for l, c in enumerate(self.cells):
                self.state[l] = c(x, self.state[l])
                x = self.state[l][0]
            return self.m.head(x[0]).numpy()


class NumpyMatVec:
    """The plain NumPy step: per layer ``a = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh`` then the LSTM gates."""

    def __init__(self, m: RecurrentLM) -> None:
        self.E = m.embedding.weight.detach().numpy().copy()
        self.layers = [{k: v.detach().numpy().copy() for k, v in c.params().items()} for c in m.rnn.cells]
        self.Wo, self.bo = (t.detach().numpy().copy() for t in m.head_weight())
        self.H = m.rnn.hidden_size

    def reset(self) -> None:
        self.state = [(np.zeros(self.H, np.float32), np.zeros(self.H, np.float32)) for _ in self.layers]

    def step(self, tok: int) -> np.ndarray:
        x, H = self.E[tok], self.H
        for l, p in enumerate(self.layers):
            h, c = self.state[l]
            a = x @ p["W_ih"].T + p["b_ih"] + h @ p["W_hh"].T + p["b_hh"]
            i, f = 1 / (1 + np.exp(-a[:H])), 1 / (1 + np.exp(-a[H : 2 * H]))
            g, o = np.tanh(a[2 * H : 3 * H]), 1 / (1 + np.exp(-a[3 * H :]))
            c = f * c + i * g
            h = o * np.tanh(c)
            self.state[l] = (h, c)
            x = h
        return x @ self.Wo.T + self.bo


class NumpyMatVec1(NumpyMatVec):
    """The same NumPy step with OpenBLAS held to one thread (the faster choice on busy cores)."""

    def step(self, tok: int) -> np.ndarray:
        blas = blas_threads()
        blas.set(1)
        try:
            return super().step(tok)
        finally:
            blas.set(blas.default)


class Ours:
    def __init__(self, m: RecurrentLM) -> None:
        self.dec = FastDecoder(m)

    def reset(self) -> None:
        self.dec.reset()

    def step(self, tok: int) -> np.ndarray:
        return self.dec.step(tok)


def check(runner, m: RecurrentLM, prompt: list[int]) -> float:
    """Max |logit difference| over a prompt against the model's full-sequence forward."""
    with torch.no_grad():
        ref = m(torch.tensor([prompt]))[0][0].numpy()  # (T, V)
    runner.reset()
    got = np.stack([np.array(runner.step(t), copy=True) for t in prompt])
    return float(np.abs(got - ref).max())


def time_runner(runner, tokens: int, seed: int = 0) -> float:
    """ms per generated token, sampling included."""
    rng = np.random.default_rng(seed)
    runner.reset()
    tok = 1
    t0 = time.perf_counter()
    for _ in range(tokens):
        tok = _sample(runner.step(tok), rng)
    return (time.perf_counter() - t0) / tokens * 1e3


def main() -> None:
    print_host()  # the CPU model and flags every figure depends on
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--embedding", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=65)
    ap.add_argument("--tokens", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cells", default="all", help="comma-separated cell names, or 'all' registered cells")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = ap.parse_args()
    torch.manual_seed(0)
    cells = cell_names("nn") if args.cells == "all" else args.cells.split(",")
    size = dict(embedding_dim=args.embedding, hidden_size=args.hidden, num_layers=args.layers)
    lstm = RecurrentLM(args.vocab, cell="lstm", **size).eval()
    runners = {
        "torch.nn.LSTM per token": TorchLSTMPerToken(lstm),
        "2x torch.nn.LSTMCell": TorchLSTMCells(lstm),
        "numpy mat-vec": NumpyMatVec(lstm),
    }
    if blas_threads().available and blas_threads().default > 1:
        runners["numpy mat-vec, 1 thread"] = NumpyMatVec1(lstm)
    for cell in cells:
        m = lstm if cell == "lstm" else RecurrentLM(args.vocab, cell=cell, **size).eval()
        runners[f"rnnkit {cell}"] = (Ours(m), m)
    prompt = list(np.random.default_rng(1).integers(0, args.vocab, 32))
    # correctness first (float32 paths against the float32 full-sequence forward: ~1e-5 expected)
    errors = {}
    for name, r in runners.items():
        runner, model = r if isinstance(r, tuple) else (r, lstm)
        errors[name] = check(runner, model, prompt)
        if errors[name] > 1e-3:
            raise SystemExit(f"{name}: logits differ from the model by {errors[name]:.2e}; not timing a wrong path")
    times: dict[str, list[float]] = {n: [] for n in runners}
    for rep in range(args.repeats + 1):  # repeat 0 is warm-up
        for name, r in runners.items():
            runner = r[0] if isinstance(r, tuple) else r
            tokens = args.tokens if "per token" not in name else max(args.tokens // 5, 20)
            t = time_runner(runner, tokens, seed=rep)
            if rep:
                times[name].append(t)
    med = {n: statistics.median(v) for n, v in times.items()}
    base_lstm = med["torch.nn.LSTM per token"]
    base_np = min(v for n, v in med.items() if n.startswith("numpy"))  # the faster plain NumPy step here
    print(
        f"batch 1, {args.layers}x{args.hidden} (embedding {args.embedding}, V={args.vocab}), sampling included; "
        f"torch {torch.__version__}, numpy {np.__version__}, {torch.get_num_threads()} torch threads, "
        f"{platform.processor() or platform.machine()}"
    )
    print(f"load average {os.getloadavg()[0]:.1f}; numpy BLAS threads {blas_threads().default}; ratios: speed-up over")
    print("torch.nn.LSTM per token, and time relative to the faster plain NumPy step (target <= 1.5x)")
    print(f"{'runner':28s} {'ms/token':>9s} {'vs nn.LSTM/token':>17s} {'vs numpy step':>14s} {'max |dlogit|':>13s}")
    for n in runners:
        extra = ""
        if isinstance(runners[n], tuple) and runners[n][0].dec.threads is not None:
            extra = f"  (BLAS threads chosen: {runners[n][0].dec.threads})"
        print(f"{n:28s} {med[n]:9.3f} {base_lstm / med[n]:16.1f}x {med[n] / base_np:13.2f}x {errors[n]:13.1e}{extra}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"ms_per_token": med, "max_abs_logit_error": errors, "args": vars(args)}, f, indent=1)


if __name__ == "__main__":
    main()
