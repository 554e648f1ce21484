"""Sequential Fashion-MNIST: seconds per training epoch of pixel-by-pixel sequences (784 steps x 1) for each cell,
through the classification task as a user runs it (`rnnkit classify train --image-sequence pixels --cell X`).

Pixel sequences are long (T = 784), which is where minGRU / minLSTM's parallel scan should pay off against the
sequential LSTM / GRU. Every cell gets classify's defaults (bidirectional, hidden 128, mean pooling, batch 32, impl
auto; `image_defaults` off, so minGRU is not switched to its 2-layer pixel default and every cell is timed at the
same settings); a small training sample (``--n``, default 2,000 images) keeps an epoch short. Each repeat times one
epoch of every cell, interleaved, in one process; the median is reported with the test accuracy after the last epoch
on ``--n-test`` test images (one epoch on a small sample: a speed figure, not a quality one).

Correctness first: the permuted sequence of an image holds its pixel sequence's values in the saved order, and
every cell's forward gives finite logits of the right shape.

    python benchmarks/bench_images.py --threads 1 --n 2000 --repeats 2
    python benchmarks/bench_images.py --threads 1 --record   # also appends a section to RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch
from common import append_section, host_line, print_host

from rnnkit.data import images as img
from rnnkit.tasks.classify import Classifier


def _task(cell: str, mode: str, seed: int) -> Classifier:
    return Classifier.from_options(
        cell=cell,
        epochs=1,
        seed=seed,
        overrides={"data.image_sequence": mode, "data.val_fraction": 0.0, "train.quiet": True, "image_defaults": False},
    )


def check(train: img.ImageData) -> None:
    """Permuted == pixels reordered by the saved permutation; finite logits for every cell."""
    x = np.stack(train.inputs[:4])
    perm = img.make_permutation(x.shape[1] * x.shape[2], 0)
    pix, per = img.to_sequence(x, "pixels"), img.to_sequence(x, "permuted", permutation=perm)
    assert np.array_equal(per, pix[:, perm]), "permuted != pixels[:, perm]"
    for cell in ("lstm", "gru", "mingru", "minlstm"):
        t = _task(cell, "pixels", 0)
        t.prepare(train)
        net = t.build_model().eval()
        seqs = t.encode_inputs(train.inputs[:3])
        with torch.no_grad():
            logits, _ = net(torch.from_numpy(np.stack(seqs)), torch.full((3,), len(seqs[0])))
        assert logits.shape == (3, len(t.classes)) and torch.isfinite(logits).all(), cell


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=img.FASHION_MNIST_DIR, help="folder of the four Fashion-MNIST idx files")
    ap.add_argument("--n", type=int, default=2000, help="training images (the first N of the training file)")
    ap.add_argument("--n-test", type=int, default=1000, help="test images scored after the last epoch")
    ap.add_argument("--cells", default="lstm,gru,mingru,minlstm")
    ap.add_argument("--mode", default="pixels", choices=img.SEQUENCE_MODES)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print_host()
    load0 = os.getloadavg()[0]
    host = host_line()
    train = img.read_idx_split(args.data, "train").subset(range(args.n))
    test = img.read_idx_split(args.data, "test").subset(range(args.n_test))
    check(train)
    cells = args.cells.split(",")
    for c in cells:  # warm-up: impl="auto" measures the impls once per shape (not cached on a busy machine)
        _task(c, args.mode, seed=0).fit(train.subset(range(80)))
    secs: dict[str, list[float]] = {c: [] for c in cells}
    acc: dict[str, float] = {}
    for r in range(args.repeats):
        for c in cells:  # interleaved: a change of load touches every cell alike
            task = _task(c, args.mode, seed=r)
            t0 = time.perf_counter()
            task.fit(train)
            secs[c].append(time.perf_counter() - t0)
            acc[c] = task.evaluate(test)["accuracy"]
            print(f"repeat {r} {c}: {secs[c][-1]:.1f} s/epoch, test acc {acc[c]:.3f}", flush=True)
    base = statistics.median(secs[cells[0]])
    rows = [
        "| cell | s / epoch (median) | all repeats | speed-up vs " + cells[0] + " | test acc after 1 epoch |",
        "|---|---|---|---|---|",
    ]
    for c in cells:
        m = statistics.median(secs[c])
        rows.append(f"| {c} | {m:.1f} | {', '.join(f'{s:.1f}' for s in secs[c])} | {base / m:.2f}x | {acc[c]:.3f} |")
    table = "\n".join(rows)
    print(table)
    load1 = os.getloadavg()[0]
    if args.record:
        cmd = (
            f"python benchmarks/bench_images.py --threads {args.threads} --n {args.n} --repeats {args.repeats} "
            f"--mode {args.mode} --record"
        )
        body = (
            f"{host}\n\nCommand: `{cmd}`. 1-minute load {load0:.1f} at the start, {load1:.1f} at the end. "
            f"{args.n} training images as {args.mode} sequences (T = 784, D = 1), task defaults (bidirectional, "
            f"hidden 128, mean pooling, batch 32, impl auto), one epoch per repeat, cells interleaved.\n\n{table}"
        )
        title = f"Sequential Fashion-MNIST, {args.mode}: seconds per epoch by cell (`benchmarks/bench_images.py`)"
        append_section(title, body)


if __name__ == "__main__":
    main()
