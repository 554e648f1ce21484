"""The classification task's image input: how images become normalised sequences, fitted on training data only and
saved in the run's task.json (image shape, sequence mode, per-channel mean/std, and the permutation itself), so
``eval`` and ``predict`` turn images into exactly the sequences the model was trained on.

Shape letters: N images, H height, W width, C channels, T steps, D values per step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data import images as img
from rnnkit.data.sources import DataError
from rnnkit.tasks.cli import get_key


@dataclass
class ImageSequencer:
    """Images -> ``(T, D)`` float32 sequences: scaled to [0, 1], standardised per channel with training statistics,
    then read as rows, pixels or permuted pixels (``rnnkit.data.images.to_sequence``)."""

    shape: tuple[int, ...]  # (H, W) or (H, W, C) of every image
    mode: str  # rows | pixels | permuted
    mean: np.ndarray  # (C,)
    std: np.ndarray  # (C,)
    permutation: np.ndarray | None = None  # (H*W,) for mode "permuted": step t reads pixel permutation[t]

    @classmethod
    def fit(cls, train: img.ImageData, *, mode: str, seed: int) -> ImageSequencer:
        """Statistics from the training images; the permutation from ``seed`` (data.permutation_seed)."""
        if mode not in img.SEQUENCE_MODES:
            raise DataError(f"data.image_sequence must be one of {', '.join(img.SEQUENCE_MODES)}, got {mode!r}")
        mean, std = img.channel_stats(train.inputs)
        shape = tuple(train.shape)
        perm = img.make_permutation(shape[0] * shape[1], seed) if mode == "permuted" else None
        return cls(shape, mode, mean, std, perm)

    @property
    def channels(self) -> int:
        return self.shape[2] if len(self.shape) == 3 else 1

    @property
    def steps(self) -> int:
        return self.shape[0] if self.mode == "rows" else self.shape[0] * self.shape[1]

    @property
    def input_size(self) -> int:
        return self.shape[1] * self.channels if self.mode == "rows" else self.channels

    @classmethod
    def describe_images(cls, data: img.ImageData, mode: str) -> str:
        """What ``describe`` will say for these images, before any statistics are fitted."""
        return cls(tuple(data.shape), mode, np.zeros(1), np.ones(1)).describe()

    def describe(self) -> str:
        h, w = self.shape[:2]
        kind = "grayscale" if self.channels == 1 else f"{self.channels}-channel"
        how = {"rows": "row by row", "pixels": "pixel by pixel", "permuted": "pixel by pixel in a fixed random order"}[
            self.mode
        ]
        return f"image input: {h}x{w} {kind} images read {how} ({self.steps} steps x {self.input_size})"

    def load(self, item: Any) -> np.ndarray:
        """An image array, or a PNG/JPEG path read as this run's images are (grayscale or RGB)."""
        if isinstance(item, (str, Path)):
            return img.read_image_file(item, rgb=self.channels == 3)
        return np.asarray(item)

    def encode(self, items: Sequence[Any]) -> list[np.ndarray]:
        """Images (arrays or PNG/JPEG paths) -> one ``(T, D)`` float32 array each; DataError naming the first image
        whose shape differs from the training images'."""
        arrays = [self.load(x) for x in items]
        for i, a in enumerate(arrays):
            if a.shape != self.shape:
                name = items[i] if isinstance(items[i], (str, Path)) else f"image {i}"
                raise DataError(
                    f"{name} has shape {a.shape}, the run was trained on images of shape {self.shape}: resize it"
                )
        if not arrays:
            return []
        x = np.stack(arrays).astype(np.float32) / 255.0  # (N, H, W[, C])
        if x.ndim == 3:
            x = (x - self.mean[0]) / self.std[0]
        else:
            x = (x - self.mean) / self.std  # per channel, broadcast over the last axis
        seqs = img.to_sequence(x.astype(np.float32), self.mode, permutation=self.permutation)  # (N, T, D)
        return list(seqs)

    def state_dict(self) -> dict[str, Any]:
        return {
            "shape": list(self.shape),
            "mode": self.mode,
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "permutation": None if self.permutation is None else self.permutation.tolist(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ImageSequencer:
        perm = state.get("permutation")
        return cls(
            tuple(state["shape"]),
            state["mode"],
            np.asarray(state["mean"], dtype=np.float32),
            np.asarray(state["std"], dtype=np.float32),
            None if perm is None else np.asarray(perm, dtype=np.int64),
        )


def read_predict_images(path: Path) -> list[Any]:
    """``predict --file``: an idx images file (every image), or one PNG/JPEG (its path, read by the run's rules)."""
    p = Path(path)
    if img.IDX_NAME.match(p.name):
        return list(img.read_idx(p))
    if p.suffix.lower() in img.IMAGE_SUFFIXES:
        return [str(p)]
    raise DataError(f"{p}: for an image run, --file takes an idx images file or a PNG/JPEG image")


def plot_misclassified(task: Any, data: img.ImageData, out: str | Path, *, n: int = 36) -> Path:
    """The first ``n`` misclassified images of ``data`` as a grid, each titled with its predicted class (and the
    true one beneath): what the model gets wrong, seen. An all-correct set gives a figure saying so."""
    from rnnkit.plots import plt, save_figure  # the Agg backend, set in rnnkit.plots

    probs, _ = task.predict_proba(data.inputs)
    pred = probs.argmax(1)
    all_wrong = [i for i, (p, y) in enumerate(zip(pred, data.labels, strict=True)) if task.classes[p] != y]
    wrong = all_wrong[:n]
    cols = max(1, min(6, len(wrong)))
    rows = max(1, -(-len(wrong) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.7 * cols, 1.9 * rows + 0.4), dpi=100, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong, strict=False):
        x = data.inputs[i]
        ax.imshow(x, cmap="gray" if x.ndim == 2 else None, vmin=0, vmax=255)
        ax.set_title(f"{task.classes[pred[i]]}\n(true: {data.labels[i]})", fontsize=7, color="firebrick")
    fig.suptitle(
        f"the first {len(wrong)} of {len(all_wrong):,} misclassified (of {len(data):,}): predicted (true)"
        if wrong
        else f"all {len(data):,} images classified correctly",
        fontsize=9,
    )
    fig.tight_layout()
    return save_figure(fig, out)


# ---- training defaults for images ---------------------------------------------------------------------------------

# What image runs get instead of classify's text/series defaults, per sequence mode, chosen on Fashion-MNIST's
# validation split (benchmarks/RESULTS.md, "Sequential Fashion-MNIST": every setting tried, with its accuracy).
# Each applies only where the run's config still holds the classify default, so a value other than classify's
# default given on the command line or in a --config wins (e.g. --time_decay=wsd); `--image_defaults=false`
# (config image_defaults) keeps classify's defaults for an image run, e.g. to train with batches of 32.
TIME_BUDGET_DEFAULTS: dict[str, dict[str, Any]] = {  # with --seconds (time_limit > 0) only
    # the lr decays to 0 over the budget by time and training runs to its end (no early stop: the low-lr end is the
    # point; best is still chosen on validation); batches of 64 at lr 3e-3; input dropout 0.1 (0.3 held a run of
    # ~10-15 epochs back). Validation 0.9147 vs 0.9032 for classify's defaults (RESULTS.md).
    "rows": {
        "time_decay": "cosine",
        "train.patience": 0,
        "data.batch_size": 64,
        "train.lr": 3e-3,
        "model.embed_dropout": 0.1,
    },
}
PIXEL_CELL_DEFAULTS: dict[str, dict[str, Any]] = {  # pixels and permuted (784 steps x 1), per cell, any run
    # minGRU's gates see only the current input: one layer over single pixels is a bank of pixel-driven moving
    # averages (validation 0.25 on permuted pixels, bidirectional, mean pooling, with 1 or 2 layers); 2 stacked
    # layers read one way with the last state pooled learned (0.37 after 1,000 steps and rising; RESULTS.md)
    "mingru": {"model.num_layers": 2, "model.bidirectional": False, "model.pooling": "last"},
}


def image_defaults(cfg: Any, classify_defaults: Any) -> dict[str, Any]:
    """The dotted config keys (and values) an image run in ``cfg`` gets from the tables above: those whose value in
    ``cfg`` is still the one in ``classify_defaults`` (the task's default config)."""
    mode = cfg.data.image_sequence
    table = dict(PIXEL_CELL_DEFAULTS.get(cfg.model.cell.name, {})) if mode in ("pixels", "permuted") else {}
    if cfg.time_limit > 0:
        table.update(TIME_BUDGET_DEFAULTS.get(mode, {}))
    out = {}
    for key, value in table.items():
        if get_key(cfg, key) == get_key(classify_defaults, key) != value:
            out[key] = value
    return out
