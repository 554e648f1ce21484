"""The picture of one CTC transcription: the log-mel spectrogram, the frame-wise label posteriors under it, and the
decoded alignment (each word written where its best path first emits it).

Shape letters: F frames, M mel bands, T' model steps (F / subsample), V words (+1 the blank).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnkit.tasks.speech_ctc.ctc import BLANK


def plot_alignment(
    path: str | os.PathLike,
    logmel: np.ndarray,
    log_probs: np.ndarray,
    words: Sequence[str],
    *,
    step_s: float,
    hop_s: float,
    title: str = "",
) -> Path:
    """Write the figure: ``logmel`` (F, M) on top; ``exp(log_probs)`` (T', V+1) per word (blank dashed) below, on the
    same time axis (``hop_s`` seconds per frame, ``step_s`` per model step); the decoded words at their spikes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rnnkit.durable import atomic_path

    p = np.exp(np.asarray(log_probs, dtype=np.float64))  # (T', V+1)
    t = (np.arange(len(p)) + 0.5) * step_s
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5), sharex=True, height_ratios=(3, 2))
    top.imshow(
        np.asarray(logmel).T,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(0, len(logmel) * hop_s, 0, logmel.shape[1]),
    )
    top.set_ylabel("mel band")
    top.set_title(title or "log-mel spectrogram")
    bottom.plot(t, p[:, BLANK], "--", color="0.6", lw=1, label="blank")
    best, prev = p.argmax(1), BLANK
    colors = plt.get_cmap("tab10")
    for k in range(1, p.shape[1]):
        bottom.plot(t, p[:, k], color=colors((k - 1) % 10), lw=1.2, label=words[k - 1])
    for i, k in enumerate(best):  # the best path's emissions: a label where it starts a new run
        if k != BLANK and k != prev:
            bottom.annotate(
                words[k - 1],
                (t[i], p[i, k]),
                xytext=(0, 4),
                textcoords="offset points",
                ha="center",
                fontsize=11,
                weight="bold",
                color=colors((k - 1) % 10),
            )
            top.axvline(t[i], color="white", lw=0.8, alpha=0.7)
        prev = k
    bottom.set_ylim(0, 1.12)
    bottom.set_ylabel("posterior")
    bottom.set_xlabel("seconds")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.005, 1.05), fontsize=7, frameon=False)  # beside, not over
    fig.tight_layout()
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format=out.suffix.lstrip(".") or "png", dpi=110)
    plt.close(fig)
    return out
