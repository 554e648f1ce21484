"""ONNX model (onnxruntime) vs the PyTorch engine for one case, inference, batch 1 and 32.

--case classify (default):
Case: word classifier, V=5000, embedding 64, 1-layer bidirectional LSTM H=128, attention pooling, C=2, T=50 (every
sequence full length). PyTorch: the task's model as `rnnkit classify predict` runs it (impl auto: the fused oneDNN
LSTM), under no_grad. ONNX: `Task.export_onnx` (the recurrence as an ONNX Loop over the cell step, see
rnnkit/export.py) run by onnxruntime's CPU provider with the same thread count. Correctness first (max abs diff of
the probabilities), then interleaved repeats, medians (ms per batch).

--case speech: the speech task's default model (1-layer bidirectional GRU H=128, mean pooling) over 40 standardised
log-mel channels, C=10 words, T=50 frames (an FSDD utterance at a 10 ms hop is ~40-60 frames); random frames (the
timing does not depend on the values). ONNX: the same Task.export_onnx graph (features + lengths -> probabilities).

    nice -n 5 .venv/bin/python benchmarks/bench_onnx.py --threads 1 --repeats 15 [--case speech]
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from common import host_line, interleaved

from rnnkit.config import apply_overrides
from rnnkit.data.readers import ClassificationData
from rnnkit.tasks.classify.config import ClassifierConfig
from rnnkit.tasks.classify.task import Classifier
from rnnkit.tasks.speech.config import SpeechConfig
from rnnkit.tasks.speech.task import SpeechRecognizer


def build(V: int, H: int) -> Classifier:
    cfg = apply_overrides(
        ClassifierConfig(),
        [
            "model.cell.name=lstm",
            f"model.hidden_size={H}",
            "model.embed_size=64",
            "model.bidirectional=true",
            "model.pooling=attention",
        ],
    )
    clf = Classifier(cfg)
    words = [f"w{i}" for i in range(V - 2)]
    clf.prepare(ClassificationData([" ".join(words), "w0"], ["a", "b"], "synthetic"))
    torch.manual_seed(0)
    clf.model = clf.build_model().eval()
    return clf


def build_speech(H: int) -> SpeechRecognizer:
    task = SpeechRecognizer(apply_overrides(SpeechConfig(), [f"model.hidden_size={H}"]))  # defaults: BiGRU, mean
    task.classes, task.input_size, task.sample_rate = [str(d) for d in range(10)], 40, 8000
    task.scaler = (np.zeros(40, np.float32), np.ones(40, np.float32))
    torch.manual_seed(0)
    task.model = task.build_model().eval()
    return task


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--T", type=int, default=50)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--case", choices=["classify", "speech"], default="classify")
    args = ap.parse_args()
    import onnxruntime as ort

    torch.set_num_threads(args.threads)
    print(host_line())
    clf = build(5000, args.hidden) if args.case == "classify" else build_speech(args.hidden)
    print(f"case: {args.case}, T={args.T}, hidden {args.hidden}")
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "clf.onnx"
        report = clf.export_onnx(path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = args.threads, 1
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    print("export parity:", {t: f"{d:.1e}" for t, d in report.max_abs_diff.items()})
    print("| batch | PyTorch engine (ms) | ONNX Runtime (ms) | ONNX / PyTorch | max abs diff (probabilities) |")
    print("|---|---|---|---|---|")
    g = torch.Generator().manual_seed(1)
    for N in (1, 32):
        if args.case == "classify":
            x = torch.randint(2, 5000, (N, args.T), generator=g)
        else:
            x = torch.randn(N, args.T, 40, generator=g)  # standardised log-mel frames
        lengths = torch.full((N,), args.T)
        feeds = {"x": x.numpy(), "lengths": lengths.numpy()}

        def run_torch(x=x, lengths=lengths):
            with torch.no_grad():
                return torch.softmax(clf.model(x, lengths)[0], 1)

        def run_onnx(feeds=feeds):
            return sess.run(["probabilities"], feeds)[0]

        diff = float(np.abs(run_onnx() - run_torch().numpy()).max())
        t = interleaved({"torch": run_torch, "onnx": run_onnx}, repeats=args.repeats, warmup=2)
        a, b = t["torch"].median * 1e3, t["onnx"].median * 1e3
        print(f"| {N} | {a:.2f} | {b:.2f} | {b / a:.2f} | {diff:.1e} |")
    print(host_line())


if __name__ == "__main__":
    main()
