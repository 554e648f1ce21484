"""The connected-word acoustic model: SpecAugment (training only) -> adjacent frames stacked -> recurrent stack ->
a linear layer over the words and the CTC blank.

Shape letters: N batch, T frames, D features (mel bands or MFCCs), V words (+1 the CTC blank).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.nn import Recurrent
from rnnkit.tasks.speech.model import SpecAugment
from rnnkit.tasks.speech_ctc.config import CTCModelConfig


class CTCNet(nn.Module):
    """(features (N, T, D), lengths (N,)) -> (log-probabilities (N, T', V+1), lengths (N,)), T' = ceil(T / s)."""

    def __init__(self, cfg: CTCModelConfig, *, input_size: int, num_words: int) -> None:
        super().__init__()
        self.subsample = cfg.subsample
        self.augment = SpecAugment(
            freq_masks=cfg.freq_masks, freq_width=cfg.freq_width, time_masks=cfg.time_masks, time_width=cfg.time_width
        )
        self.drop_in = nn.Dropout(cfg.input_dropout)
        self.encoder = Recurrent.from_config(cfg, input_size * cfg.subsample)
        self.drop = nn.Dropout(cfg.head_dropout)
        self.out = nn.Linear((2 if cfg.bidirectional else 1) * cfg.hidden_size, num_words + 1)  # + the blank

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x = self.augment(x, lengths)
        s = self.subsample
        if s > 1:  # (N, T, D) -> (N, T/s, s*D): zero-pad T to a multiple of s, then stack neighbours
            N, T, D = x.shape
            x = F.pad(x, (0, 0, 0, (-T) % s)).reshape(N, -1, s * D)
            lengths = torch.div(lengths + s - 1, s, rounding_mode="floor")
        out, _ = self.encoder(self.drop_in(x), lengths=lengths)  # (N, T', dirs*H)
        return F.log_softmax(self.out(self.drop(out)), dim=-1), lengths
