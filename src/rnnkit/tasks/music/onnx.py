"""The music model's ONNX interface: frames + states in -> next-frame logits (or the NADE's biases) + states out.

Built as ``rnnkit.export.OnnxSpec``; the export itself, and its check against PyTorch, is ``rnnkit.export``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.export import N_EXAMPLE, OnnxSpec
from rnnkit.layout import layout
from rnnkit.tasks.music.model import NadeHead, PianoRollNet


class _Music(nn.Module):
    """frames (N, T, K) + states -> Bernoulli: key logits of the next frame (N, T, K); NADE: its biases b_v (N, T, K)
    and b_h (N, T, J) (the key-by-key part, loops over 88 keys with sampling in between, runs outside)."""

    def __init__(self, net: PianoRollNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, frames: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        u, final = self.net.features(frames, tuple(state))  # (N, T, H), S x (L, N, H)
        head = self.net.head
        if isinstance(head, NadeHead):
            return (head.to_bv(u), head.to_bh(u), *final)
        return (head(u), *final)


def music_spec(task: Any, model: nn.Module) -> OnnxSpec:
    assert isinstance(model, PianoRollNet), type(model)  # the task's network, or export's copy of it
    m = task.config.model
    head = model.head
    nade = isinstance(head, NadeHead)
    names = list(layout(m.cell.name).state)
    L, H, K = m.num_layers, m.hidden_size, head.to_bv.out_features if isinstance(head, NadeHead) else head.out_features

    def example(T: int) -> tuple[Tensor, ...]:
        g = torch.Generator().manual_seed(T)
        frames = (torch.rand(N_EXAMPLE, T, K, generator=g) < 0.08).float()  # a few keys down per frame
        return (frames, *(0.5 * torch.randn(L, N_EXAMPLE, H, generator=g) for _ in names))

    ins, outs = [f"{n}0" for n in names], [f"{n}_n" for n in names]
    heads = ["b_v", "b_h"] if nade else ["logits"]
    meta: dict[str, Any] = {
        "task": "music",
        "output": m.output,
        "keys": K,
        "lowest_midi": 21,
        "state": names,
        "state_shape": ["layers", "N", "hidden"],
        "layers": L,
        "hidden": H,
    }
    if isinstance(head, NadeHead):  # nade
        meta["nade"] = {"W": head.W.detach().tolist(), "V": head.V.detach().tolist(), "hidden": head.W.shape[0]}
        meta["how"] = (
            "frames (N, T, K) float32 0/1 piano-roll frames (key k = MIDI 21 + k) and the initial states (zeros to "
            "start) -> b_v (N, T, K), b_h (N, T, J) for the frame after each input frame, and the final states. The "
            "NADE runs outside the graph with nade.W (J, K) and nade.V (K, J): a = b_h; for k = 0..K-1: "
            "l_k = b_v[k] + V[k] . sigmoid(a); p(x_k = 1) = sigmoid(l_k); draw (or read) x_k; a += x_k * W[:, k]. "
            "To generate: feed the drawn frame back (T=1) with the final states."
        )
    else:
        meta["how"] = (
            "frames (N, T, K) float32 0/1 piano-roll frames (key k = MIDI 21 + k) and the initial states (zeros to "
            "start) -> logits (N, T, K) of the frame after each input frame (p(key down) = sigmoid(logit), keys "
            "independent) and the final states. To generate: draw the next frame, feed it back (T=1) with the "
            "final states, as `rnnkit music generate` does."
        )
    axes = {"frames": {0: "N", 1: "T"}, **{h: {0: "N", 1: "T"} for h in heads}, **{n: {1: "N"} for n in ins + outs}}
    return OnnxSpec(_Music(model), example, ["frames", *ins], [*heads, *outs], axes, meta)
