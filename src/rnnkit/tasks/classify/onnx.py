"""The classifier's ONNX interface: ids (or series) + lengths -> logits, probabilities.

Built as ``rnnkit.export.OnnxSpec``; the export itself, and its check against PyTorch, is ``rnnkit.export``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.data.sequences import lengths_to_mask
from rnnkit.export import N_EXAMPLE, OnnxSpec, example_ids, example_lengths


class ClassifyGraph(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        logits, _ = self.net(x, lengths)  # (N, C)
        return logits, torch.softmax(logits, dim=1)


def classify_spec(task: Any, model: nn.Module) -> OnnxSpec:
    m, d = task.config.model, task.config.data
    numeric = m.input in ("numeric", "image")  # image runs: the standardised row / pixel sequences

    def example(T: int) -> tuple[Tensor, Tensor]:
        if not numeric:
            return example_ids(T, len(task.vocab), seed=T)
        g = torch.Generator().manual_seed(T)
        lengths = example_lengths(T)
        x = torch.randn(N_EXAMPLE, T, task.input_size, generator=g) * lengths_to_mask(lengths, T)[:, :, None]
        return x, lengths

    meta: dict[str, Any] = {
        "task": "classify",
        "input": m.input,
        "lowercase": d.lowercase,
        "max_len": d.max_len,
        "pad_id": 0,
        "unk_id": 1,
        "vocab": task.vocab.itos if task.vocab else None,
        "classes": list(task.classes),
        "scaler": {"mean": task.scaler[0].tolist(), "std": task.scaler[1].tolist()} if task.scaler else None,
        "images": task.images.state_dict() if getattr(task, "images", None) else None,  # shape, mode, mean/std, order
        "how": "x: token ids (N, T) int64 (or standardised series (N, T, D) float32), padded with 0; lengths (N,) "
        "int64. Tokens: characters (input=char) or whitespace-split words (input=word), lower-cased if lowercase; "
        "unknown -> unk_id; an empty text is [unk_id]. probabilities = softmax(logits).",
    }
    return OnnxSpec(
        ClassifyGraph(model),
        example,
        ["x", "lengths"],
        ["logits", "probabilities"],
        {"x": {0: "N", 1: "T"}, "lengths": {0: "N"}, "logits": {0: "N"}, "probabilities": {0: "N"}},
        meta,
    )
