"""The connected-word recogniser's ONNX interface: normalised feature frames + lengths -> per-frame log-probabilities
over blank + words and the output lengths (frame stacking inside the graph).

Built as ``rnnkit.export.OnnxSpec``; the export itself is ``rnnkit.export``."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from rnnkit.export import OnnxSpec, example_frames
from rnnkit.tasks.speech.onnx import FEATURES_HOW, features_meta


class _CTC(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        return self.net(x, lengths)  # (N, T', V+1) log-probabilities, (N,) T' per example


def ctc_spec(task: Any, model: nn.Module) -> OnnxSpec:
    """Connected words: features + lengths -> per-frame log-probabilities over blank + words, and the output
    lengths; the frame stacking (``model.subsample``) is inside the graph."""
    s = task.config.model.subsample
    meta: dict[str, Any] = {
        "task": "speech-ctc",
        "labels": ["<blank>", *task.words],
        "blank_id": 0,
        "subsample": s,
        **features_meta(task),
        "how": FEATURES_HOW + f" Inside the graph every {s} adjacent frames are stacked into one step (T zero-padded "
        "to a multiple of subsample), so log_probs is (N, T', 1 + words), T' = ceil(T / subsample), out_lengths = "
        "ceil(lengths / subsample). Greedy decoding: argmax per frame over the first out_lengths frames, merge "
        "repeats, drop blank_id (0); label i > 0 is labels[i].",
    }
    axes = {"x": {0: "N", 1: "T"}, "lengths": {0: "N"}, "log_probs": {0: "N", 1: "T_out"}, "out_lengths": {0: "N"}}
    return OnnxSpec(
        _CTC(model),
        lambda T: example_frames(T, task.input_size),
        ["x", "lengths"],
        ["log_probs", "out_lengths"],
        axes,
        meta,
    )
