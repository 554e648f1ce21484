"""Running means weighted by n_items, the metrics.jsonl writer/reader, the loss plot."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.train import StepOutput
from rnnkit.train.data import SequenceBatches
from rnnkit.train.distributed import DistInfo
from rnnkit.train.loop import evaluate
from rnnkit.train.metrics import MetricsWriter, RunningMean, plot_loss, read_metrics, series


def test_running_mean_is_item_weighted():
    m = RunningMean()
    m.add({"loss": 1.0}, 1)
    m.add({"loss": 4.0}, 3)
    assert m.means() == {"loss": 3.25}
    m.reset()
    assert m.means() == {}


def test_evaluate_is_the_per_item_mean_over_unequal_batches():
    # batches of 1, 2 and 5 items with per-batch mean losses 1, 2, 3 -> (1 + 4 + 15) / 8
    batches = [torch.full((n,), float(v)) for n, v in ((1, 1), (2, 2), (5, 3))]

    def step(model, batch, state):
        return StepOutput(batch.mean(), None, batch.numel(), {"acc": float(batch[0] > 1.5)})

    got = evaluate(torch.nn.Linear(1, 1), step, SequenceBatches(batches), device=torch.device("cpu"), info=DistInfo())
    assert got["val_loss"] == pytest.approx(20 / 8, rel=1e-12)
    assert got["val_acc"] == pytest.approx(7 / 8, rel=1e-12)


def test_metrics_file_survives_torn_lines_and_nonfinite(tmp_path):
    w = MetricsWriter(tmp_path / "m.jsonl")
    w.write({"event": "train", "step": 1, "loss": 2.0})
    w.write({"event": "train", "step": 2, "loss": math.inf})
    w.write({"event": "eval", "step": 2, "val_loss": 1.5})
    with open(tmp_path / "m.jsonl", "a") as f:
        f.write('{"event": "train", "st')  # killed mid-write
    rec = read_metrics(tmp_path / "m.jsonl")
    assert len(rec) == 3 and rec[1]["loss"] == "inf"
    assert series(rec, "train", "loss") == ([1], [2.0])  # the non-numeric inf is left out of plots
    w.truncate_after(1)
    assert [r["step"] for r in read_metrics(tmp_path / "m.jsonl")] == [1]
    png = plot_loss(rec, tmp_path / "loss.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
