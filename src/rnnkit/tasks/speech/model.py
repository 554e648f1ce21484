"""The speech networks: SpecAugment masks (training only), then the classifier network over feature frames
(isolated words, ``SpeechNet``). SpecAugment is shared with the connected-word task (``speech_ctc.model``).

Shape letters: N batch, T frames, D features (mel bands or MFCCs), C classes, V words (+1 the CTC blank).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.tasks.classify.model import ClassifierNet
from rnnkit.tasks.speech.config import SpeechModelConfig


class SpecAugment(nn.Module):
    """Frequency and time masking of Park et al. 2019 ("SpecAugment", sec. 2), no time warping.

    Each of ``freq_masks`` masks zeroes f consecutive feature channels [f0, f0 + f), f ~ U{0..freq_width},
    f0 ~ U{0..D - f}; each of ``time_masks`` masks zeroes t consecutive frames [t0, t0 + t) of an utterance,
    t ~ U{0..time_width} capped at a fifth of its length (the paper's upper bound p = 0.2), t0 inside the
    utterance. The input is standardised, so zero is the training mean. Draws come from torch's global RNG, like
    dropout, so a resumed run masks as an uninterrupted one does. Identity in eval mode."""

    def __init__(self, *, freq_masks: int, freq_width: int, time_masks: int, time_width: int) -> None:
        super().__init__()
        self.freq_masks, self.freq_width = freq_masks, freq_width
        self.time_masks, self.time_width = time_masks, time_width

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        if not self.training or not (self.freq_masks or self.time_masks):
            return x
        N, T, D = x.shape
        dev = x.device
        keep = torch.ones(N, T, D, dtype=torch.bool, device=dev)
        d, t = torch.arange(D, device=dev), torch.arange(T, device=dev)
        for _ in range(self.freq_masks):
            w = torch.floor(torch.rand(N, device=dev) * (min(self.freq_width, D) + 1))  # (N,)
            f0 = torch.floor(torch.rand(N, device=dev) * (D - w + 1))  # (N,)
            band = (d[None] >= f0[:, None]) & (d[None] < (f0 + w)[:, None])  # (N, D)
            keep &= ~band[:, None, :]
        lens = lengths.to(dev).float()
        for _ in range(self.time_masks):
            w = torch.minimum(torch.floor(torch.rand(N, device=dev) * (self.time_width + 1)), torch.floor(lens / 5))
            t0 = torch.floor(torch.rand(N, device=dev) * (lens - w + 1))  # (N,)
            span = (t[None] >= t0[:, None]) & (t[None] < (t0 + w)[:, None])  # (N, T)
            keep &= ~span[:, :, None]
        return x * keep


class SpeechNet(ClassifierNet):
    """(features (N, T, D), lengths (N,)) -> (logits (N, C), attention (N, T) or None): SpecAugment while training,
    then ``ClassifierNet`` (input dropout -> recurrent stack -> pooling -> linear)."""

    def __init__(self, cfg: SpeechModelConfig, *, num_classes: int, input_size: int) -> None:
        super().__init__(cfg, num_classes=num_classes, input_size=input_size)
        self.augment = SpecAugment(
            freq_masks=cfg.freq_masks, freq_width=cfg.freq_width, time_masks=cfg.time_masks, time_width=cfg.time_width
        )

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        return super().forward(self.augment(x, lengths), lengths)
