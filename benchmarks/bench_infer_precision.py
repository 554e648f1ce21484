"""Inference in bf16 vs float32 through a task's public API: ``Classifier.predict_proba`` of a word classifier.

A run folder (``--run``, a classify run) or, by default, a small one trained here for one epoch on synthetic text
(speed does not depend on what the weights learnt): a word-level 1-layer LSTM classifier, ``--hidden`` units.
The same run is loaded twice, ``Classifier.load(run)`` and ``Classifier.load(run, precision="bf16")``; correctness
first (the largest probability difference, and how many top classes differ), then interleaved repeats of
``predict_proba`` over ``--inputs`` texts of ``--tokens`` words, medians and the median of paired ratios.

    python benchmarks/bench_infer_precision.py --threads 1 --clock cpu
    python benchmarks/bench_infer_precision.py --run runs/clf --threads 2
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from common import interleaved, print_host

from rnnkit.tasks import Classifier


def synthetic_texts(n: int, tokens: int, *, vocab: int = 2000, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(vocab)]
    return [" ".join(rng.choice(words, size=max(1, int(rng.normal(tokens, tokens / 5))))) for _ in range(n)]


def train_small(folder: Path, *, hidden: int, tokens: int) -> Path:
    texts = synthetic_texts(1000, tokens, seed=1)
    (folder / "train.tsv").write_text("".join(f"{'ab'[i % 2]}\t{t}\n" for i, t in enumerate(texts)))
    clf = Classifier.from_options(
        data=str(folder / "train.tsv"),
        hidden=hidden,
        epochs=1,
        out=str(folder / "run"),
        overrides={"train.quiet": True, "model.input": "word"},
    )
    clf.fit()
    return folder / "run"


def main(argv: list[str] | None = None) -> None:
    print_host()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="a classify run folder (default: train a small one here)")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--inputs", type=int, default=256)
    ap.add_argument("--tokens", type=int, default=50, help="mean words per input")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="cpu: process CPU time (use 1 thread)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cmd = "python benchmarks/bench_infer_precision.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="rnnkit-infer-") as tmp:
        run = args.run or train_small(Path(tmp), hidden=args.hidden, tokens=args.tokens)
        fp32, bf16 = Classifier.load(run), Classifier.load(run, precision="bf16")
        texts = synthetic_texts(args.inputs, args.tokens, seed=2)
        p32, p16 = fp32.predict_proba(texts)[0], bf16.predict_proba(texts)[0]
        err = float(np.abs(p32 - p16).max())
        flipped = p32.argmax(1) != p16.argmax(1)
        flips = int(flipped.sum())
        top2 = np.sort(p32, axis=1)[:, -2:]  # float32's two most probable classes per input
        margin = float((top2[:, 1] - top2[:, 0])[flipped].max()) if flips else float("nan")
        times = interleaved(
            {"fp32": lambda: fp32.predict_proba(texts), "bf16": lambda: bf16.predict_proba(texts)},
            repeats=args.repeats,
            warmup=1,
            clock=args.clock,
        )
    a, b = times["fp32"], times["bf16"]
    paired = statistics.median(y / x for x, y in zip(a.samples, b.samples, strict=True))
    m = fp32.config.model
    print(f"Command: `{cmd.strip()}`; {args.threads} thread(s), clock {args.clock}, load {os.getloadavg()[0]:.1f}")
    print(
        f"classify predict_proba, {args.inputs} inputs of ~{args.tokens} words, {m.cell.name} H={m.hidden_size} "
        f"layers={m.num_layers} bidirectional={m.bidirectional}, pooling {m.pooling}"
    )
    print(
        f"fp32 {a.median * 1e3:.1f} ms, bf16 {b.median * 1e3:.1f} ms: bf16/fp32 {b.median / a.median:.2f}x "
        f"(paired {paired:.2f}x); max |p_bf16 - p_fp32| {err:.1e}, top class differs for {flips} of {len(texts)}"
        + (f" (their float32 top-2 margin <= {margin:.1e})" if flips else "")
    )


if __name__ == "__main__":
    main()
