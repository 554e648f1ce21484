"""The classify task's network: embedding (or raw numeric channels) -> recurrent stack -> pooled linear head.

Shape letters: N batch, T time, D input channels, E embedding size, H hidden, C classes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.models.heads import PooledClassifier
from rnnkit.nn import Recurrent
from rnnkit.tasks.classify.config import ClassifierModelConfig


class ClassifierNet(nn.Module):
    """(tokens (N, T) or series (N, T, D), lengths (N,)) -> (logits (N, C), attention (N, T) or None)."""

    class_weight: Tensor  # (C,) buffer: cross-entropy's class weights (ones unless data.class_weights='balanced')

    def __init__(
        self, cfg: ClassifierModelConfig, *, num_classes: int, vocab_size: int = 0, input_size: int = 0
    ) -> None:
        super().__init__()
        if cfg.input in ("numeric", "image"):  # raw values per step: series channels, or image rows / pixels
            self.embed = None
            d_in = input_size
        else:
            self.embed = nn.Embedding(vocab_size, cfg.embed_size, padding_idx=0)
            d_in = cfg.embed_size
        self.drop = nn.Dropout(cfg.embed_dropout)
        self.word_dropout = cfg.word_dropout
        self.encoder = Recurrent.from_config(cfg, d_in)
        dirs = 2 if cfg.bidirectional else 1
        self.head = PooledClassifier(
            dirs * cfg.hidden_size, num_classes, pooling=cfg.pooling, directions=dirs, dropout=cfg.head_dropout
        )
        self.register_buffer("class_weight", torch.ones(num_classes))

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        if self.embed is not None and self.training and self.word_dropout > 0:
            # whole tokens, not embedding units: a dropped token reads as <unk> (id 1); padding (id 0) stays
            drop = (torch.rand(x.shape, device=x.device) < self.word_dropout) & (x != 0)
            x = x.masked_fill(drop, 1)
        h = self.embed(x) if self.embed is not None else x  # (N, T, E) or (N, T, D)
        out, _ = self.encoder(self.drop(h), lengths=lengths)  # (N, T, dirs*H)
        return self.head(out, lengths)  # (N, C), (N, T) | None
