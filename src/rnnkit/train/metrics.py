"""Metrics: n_items-weighted running means, the ``metrics.jsonl`` writer (one JSON object per line), its reader
and its loss plot."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class RunningMean:
    """Weighted means of several named values: ``add({"loss": 2.3}, weight=n_items)``, ``means()``."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.weight = 0.0

    def add(self, values: dict[str, float], weight: float = 1.0) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v) * weight
        self.weight += weight

    def means(self) -> dict[str, float]:
        if self.weight == 0:
            return {}
        return {k: s / self.weight for k, s in self.sums.items()}

    def reset(self) -> None:
        self.sums, self.weight = {}, 0.0


def _clean(v: Any) -> Any:
    # JSON has no NaN/inf: write them as strings so the file stays valid JSON for every reader
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


class MetricsWriter:
    """Appends records to ``metrics.jsonl``; flushed per line so a killed run keeps what it logged."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({k: _clean(v) for k, v in record.items()}) + "\n")

    def truncate_after(self, step: int) -> None:
        """Drop records logged after ``step`` (a resumed run re-logs them), keeping the file consistent."""
        if not self.path.is_file():
            return
        kept = [r for r in read_metrics(self.path) if int(r.get("step", 0)) <= step]
        from rnnkit.durable import write_text

        write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of a ``metrics.jsonl``; a torn last line (killed mid-write) is ignored."""
    out = []
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def series(records: Iterable[dict[str, Any]], event: str, key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of ``key`` over records of type ``event``, skipping non-numeric values."""
    xs, ys = [], []
    for r in records:
        if r.get("event") == event and isinstance(r.get(key), (int, float)):
            xs.append(int(r["step"]))
            ys.append(float(r[key]))
    return xs, ys


def plot_loss(metrics: str | os.PathLike | list[dict], out: str | os.PathLike, *, title: str = "loss") -> Path:
    """Train loss (per log event) and validation loss (per evaluation) against optimiser steps -> PNG.

    ``metrics`` is a ``metrics.jsonl`` path or its records (``read_metrics``)."""
    from rnnkit.plots import plt, save_figure  # matplotlib only when a plot is drawn

    records = metrics if isinstance(metrics, list) else read_metrics(metrics)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for event, key, label in (("train", "loss", "train"), ("eval", "val_loss", "validation")):
        xs, ys = series(records, event, key)
        if xs:
            ax.plot(xs, ys, marker="o" if event == "eval" else None, markersize=3, label=label)
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("loss (per item)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend()
    return save_figure(fig, out)
