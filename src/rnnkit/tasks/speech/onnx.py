"""The isolated-word recogniser's ONNX interface: normalised feature frames + lengths -> logits, probabilities (the
feature pipeline in the JSON).

Built as ``rnnkit.export.OnnxSpec``; the export itself is ``rnnkit.export``."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from rnnkit.export import OnnxSpec, example_frames
from rnnkit.tasks.classify.onnx import ClassifyGraph


def features_meta(task: Any) -> dict[str, Any]:
    """How a waveform becomes the graph's input: the feature settings (rnnkit.data.audio_features) at the run's
    rate and the normaliser (per-channel training mean/std, or each utterance's own)."""
    d = task.config.data
    spec = d.spec(task.sample_rate)
    return {
        "sample_rate": task.sample_rate,
        "features": {
            "kind": spec.kind,
            "rate": spec.rate,
            "win": spec.win,
            "hop": spec.hop,
            "n_mels": d.n_mels,
            "n_mfcc": d.n_mfcc,
            "dim": spec.dim,
            "win_ms": d.win_ms,
            "hop_ms": d.hop_ms,
        },
        "normalize": d.normalize,
        "max_seconds": d.max_seconds,
        "scaler": {"mean": np.asarray(task.scaler[0]).tolist(), "std": np.asarray(task.scaler[1]).tolist()},
    }


FEATURES_HOW = (
    "x (N, T, D) float32: the waveform (mono, at sample_rate) -> features (rnnkit.data.audio_features "
    "with these settings: librosa's log-mel / MFCC) -> with normalize=utterance each utterance "
    "standardised by its own per-channel mean and std (+1e-5), then (x - scaler.mean) / scaler.std; "
    "padded with 0 after each length; lengths (N,) int64 frames. SpecAugment is training-only: not in "
    "the graph."
)


def speech_spec(task: Any, model: nn.Module) -> OnnxSpec:
    """Isolated words: classify's numeric graph (features + lengths -> logits, probabilities) with the feature
    pipeline in the JSON."""
    meta: dict[str, Any] = {
        "task": "speech",
        "classes": list(task.classes),
        **features_meta(task),
        "how": FEATURES_HOW + " probabilities = softmax(logits) over classes.",
    }
    return OnnxSpec(
        ClassifyGraph(model),
        lambda T: example_frames(T, task.input_size),
        ["x", "lengths"],
        ["logits", "probabilities"],
        {"x": {0: "N", 1: "T"}, "lengths": {0: "N"}, "logits": {0: "N"}, "probabilities": {0: "N"}},
        meta,
    )
