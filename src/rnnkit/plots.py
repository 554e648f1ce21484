"""Plots written as PNG files with matplotlib's Agg backend (no display needed). Other modules append theirs."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_loss(metrics: str | os.PathLike | list[dict], out: str | os.PathLike, *, title: str = "loss") -> Path:
    """Train loss (per log event) and validation loss (per evaluation) against optimiser steps -> PNG."""
    from rnnkit.train.metrics import read_metrics, series

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
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}{out.suffix}")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, out)
    return out
