"""Plots written as PNG files with matplotlib's Agg backend (no display needed). Other modules append theirs.

The ground floor: it imports nothing of rnnkit above it (the loss curve of a run lives beside its data, in
``rnnkit.train.metrics.plot_loss``).
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from rnnkit.moved import names  # noqa: E402


def save_figure(fig, out: str | os.PathLike) -> Path:
    """Write ``fig`` to ``out`` (PNG) and close it; returns the path.

    The PNG goes to a temporary file in the same folder first, is fsynced and renamed into place (rnnkit.durable),
    so a reader never sees half a file; every plot in rnnkit is written through here.
    """
    from rnnkit.durable import atomic_path

    out = Path(out)
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format=out.suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
    return out


def plot_confusion_matrix(
    confusion, classes: list[str], out: str | os.PathLike, *, title: str = "confusion matrix (row-normalised)"
) -> Path:
    """Confusion matrix (rows: true class, columns: predicted) normalised per row, counts in the cells -> PNG."""
    import numpy as np

    C = np.asarray(confusion, dtype=np.float64)  # (K, K)
    rates = C / np.maximum(C.sum(1, keepdims=True), 1)  # recall on the diagonal
    K = len(classes)
    size = max(4.0, 0.45 * K + 2)
    fig, ax = plt.subplots(figsize=(size, size), dpi=100)
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(K), classes, rotation=90 if K > 6 else 0)
    ax.set_yticks(range(K), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if K <= 25:
        for i in range(K):
            for j in range(K):
                if C[i, j]:
                    ax.text(
                        j,
                        i,
                        int(C[i, j]),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black",
                    )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return save_figure(fig, out)


def plot_forecast(
    history_time,
    history,
    out: str | os.PathLike,
    *,
    forecast_time=None,
    forecast=None,
    lower=None,
    upper=None,
    actual_time=None,
    actual=None,
    interval_label: str = "interval",
    title: str = "forecast",
    ylabel: str = "",
) -> Path:
    """History, point forecast, shaded prediction interval and actuals on one time axis -> PNG (forecasting)."""
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    ax.plot(history_time, history, color="0.3", lw=1, label="history")
    if actual is not None:
        ax.plot(actual_time, actual, color="black", lw=1.2, label="actual")
    if forecast is not None:
        if lower is not None and upper is not None:
            ax.fill_between(forecast_time, lower, upper, color="tab:blue", alpha=0.25, label=interval_label)
        ax.plot(forecast_time, forecast, color="tab:blue", lw=1.5, label="forecast")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.autofmt_xdate()
    return save_figure(fig, out)


__getattr__ = names(__name__)  # plot_loss: moved to rnnkit.train.metrics (0.2)
