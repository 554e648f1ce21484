"""The language model's ONNX interface: ids + initial states -> scores + final states, fed back to stream.

Built as ``rnnkit.export.OnnxSpec``; the export itself, and its check against PyTorch, is ``rnnkit.export``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.export import N_EXAMPLE, OnnxSpec
from rnnkit.layout import layout


class _LM(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, ids: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        scores, final = self.net(ids, tuple(state))  # (N, T, V), S x (L, N, H)
        return (scores, *final)


def lm_spec(task: Any, model: nn.Module) -> OnnxSpec:
    m = task.config.model
    names = list(layout(m.cell.name).state)  # ("h",) or ("h", "c")
    L, H = m.num_layers, m.hidden_size

    def example(T: int) -> tuple[Tensor, ...]:
        g = torch.Generator().manual_seed(T)
        ids = torch.randint(0, len(task.vocab), (N_EXAMPLE, T), generator=g)
        return (ids, *(0.5 * torch.randn(L, N_EXAMPLE, H, generator=g) for _ in names))

    ins, outs = [f"{n}0" for n in names], [f"{n}_n" for n in names]
    meta: dict[str, Any] = {
        "task": "lm",
        "vocab": task.vocab.to_json(),
        "state": names,
        "state_shape": ["layers", "N", "hidden"],
        "layers": L,
        "hidden": H,
        "adaptive_softmax": bool(m.adaptive_cutoffs),
        "how": "ids (N, T) int64 and the initial states (zeros to start) -> scores (N, T, V) (logits, or "
        "log-probabilities with the adaptive softmax) and the final states: feed them back with the next token to "
        "stream (T=1 per step), as `rnnkit generate` does.",
    }
    axes = {"ids": {0: "N", 1: "T"}, "scores": {0: "N", 1: "T"}, **{n: {1: "N"} for n in ins + outs}}
    return OnnxSpec(_LM(model), example, ["ids", *ins], ["scores", *outs], axes, meta)
