"""Would weight averaging or a different stopping epoch help a classifier? One training run per fold, scored on
validation after every epoch and, at the end, with averaged weights instead of the final ones (a paired
comparison: every variant shares the same trajectory).

    python benchmarks/probe_averaging.py mr --folds 0,1,2              # 8 epochs, as quality_classify's setting
    python benchmarks/probe_averaging.py mr --folds 0,1,2 -- train.epochs=5   # the setting before 2026-12-02

Averages: the trainer's own ``WeightEMA`` (what ``train.ema=d`` does) for each decay d, updated after every
optimiser step, and "swa": the mean of the weights at the ends of the last three epochs (Izmailov et al.
2018, without their cyclic lr). Scored on 10% of each fold's training part (``data.val_fraction=0.1``), never on
the test part. Prints one JSON line per fold and appends it to ``results/tune_classify.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_host, split_overrides  # noqa: E402
from quality_classify import SETTINGS, machine  # noqa: E402

from rnnkit.config import apply_overrides  # noqa: E402
from rnnkit.data.readers import ClassificationData  # noqa: E402
from rnnkit.tasks.classify.config import ClassifierConfig  # noqa: E402
from rnnkit.tasks.classify.data import load_splits as classify_splits  # noqa: E402
from rnnkit.tasks.classify.task import Classifier  # noqa: E402
from rnnkit.train import FitState  # noqa: E402
from rnnkit.train.callbacks import Callback  # noqa: E402
from rnnkit.train.loop import WeightEMA  # noqa: E402

HERE = Path(__file__).resolve().parent
DECAYS = (0.98, 0.99, 0.995, 0.998)


class Averages(Callback):
    """Parameter EMAs (one per decay) after every step, the end-of-epoch mean of the last 3 epochs, and the
    validation accuracy of the live weights after every epoch."""

    def __init__(self, clf: Classifier, val: ClassificationData, epochs: int) -> None:
        self.clf, self.val, self.epochs = clf, val, epochs
        self.ema: dict[float, WeightEMA] = {}
        self.swa: list[torch.Tensor] = []
        self.n_swa = 0
        self.curve: list[float] = []

    def on_fit_start(self, fs: FitState) -> None:
        self.ema = {d: WeightEMA(fs.raw_model, d) for d in DECAYS}  # from the initial weights, as fit does

    def on_step_end(self, fs: FitState, logs: dict) -> None:
        for ema in self.ema.values():
            ema.update()

    def on_epoch_end(self, fs: FitState) -> None:
        if fs.epoch > self.epochs - 3:
            ps = [p.detach().clone() for p in fs.raw_model.parameters()]
            self.n_swa += 1
            if self.n_swa == 1:
                self.swa = ps
            else:
                torch._foreach_lerp_(self.swa, ps, 1 / self.n_swa)
        self.clf.net = fs.raw_model
        self.curve.append(round(self.clf.evaluate(self.val)["accuracy"], 4))
        fs.raw_model.train()


def accuracy_with(clf: Classifier, weights: list[torch.Tensor], val: ClassificationData) -> float:
    """Validation accuracy with ``weights`` loaded, the live weights put back afterwards."""
    live = [p.detach().clone() for p in clf.net.parameters()]
    with torch.no_grad():
        for p, w in zip(clf.net.parameters(), weights, strict=True):
            p.copy_(w)
        acc = clf.evaluate(val)["accuracy"]
        for p, w in zip(clf.net.parameters(), live, strict=True):
            p.copy_(w)
    return round(acc, 4)


def main(argv: list[str] | None = None) -> None:
    print_host(stderr=True)  # the CPU model and flags every figure depends on
    argv, extra = split_overrides(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("which", choices=[n for n in SETTINGS if not n.startswith("conll")])
    ap.add_argument("--folds", default="0", help="comma-separated folds (k-fold settings)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("RNNKIT_DATA", str(HERE.parent.parent / "shared" / "data"))
    for fold in map(int, args.folds.split(",")):
        t0 = time.perf_counter()
        over = [*SETTINGS[args.which], "train.quiet=true", *extra, "data.val_fraction=0.1", f"data.fold={fold}"]
        cfg = apply_overrides(ClassifierConfig(), over)
        train, val, _ = classify_splits(cfg.data)
        clf = Classifier(cfg)
        cb = Averages(clf, val, cfg.train.epochs)
        clf.fit(train, callbacks=[cb])
        rec = {"probe": "averaging", "dataset": args.which, "fold": fold, "final": cb.curve[-1], "curve": cb.curve}
        rec.update({f"ema{d}": accuracy_with(clf, list(e.avg.values()), val) for d, e in cb.ema.items()})
        rec["swa_last3"] = accuracy_with(clf, cb.swa, val)
        rec.update(seconds=round(time.perf_counter() - t0, 1), extra=extra, machine=machine())
        rec["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        line = json.dumps(rec)
        print(line, flush=True)
        with (HERE / "results" / "tune_classify.jsonl").open("a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
