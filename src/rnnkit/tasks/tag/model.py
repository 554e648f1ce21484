"""The tagger network (Huang et al. 2015 §2.4; Lample et al. 2016 §2-4): word embedding [+ a character-level
word feature] -> recurrent stack -> per-step scores, with an optional linear-chain CRF on top (the shared
``rnnkit.models.crf``). Built from ``TaggerModelConfig`` (``config.py``) and the vocabulary sizes.

Shape letters: N sentences, T tokens, L characters per token, E embedding size, H hidden, K tags.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.data.sequences import lengths_to_mask
from rnnkit.models.crf import CRF
from rnnkit.models.heads import TaggerHead, pool_last
from rnnkit.nn import Recurrent
from rnnkit.tasks.tag.config import TaggerModelConfig


class TaggerNet(nn.Module):
    """(words (N, T), chars (N, T, L), lengths (N,)) -> per-token scores (N, T, K); ``crf`` when configured."""

    def __init__(self, cfg: TaggerModelConfig, *, num_words: int, num_chars: int, num_tags: int) -> None:
        super().__init__()
        self.words = nn.Embedding(num_words, cfg.word_embed, padding_idx=0)
        d_in = cfg.word_embed
        self.chars: nn.Embedding | None = None
        self.char_rnn: Recurrent | None = None
        if cfg.char_embed:
            self.chars = nn.Embedding(num_chars, cfg.char_embed, padding_idx=0)
            self.char_rnn = Recurrent("lstm", cfg.char_embed, cfg.char_hidden, bidirectional=True)
            d_in += 2 * cfg.char_hidden
        self.drop = nn.Dropout(cfg.embed_dropout)
        self.encoder = Recurrent.from_config(cfg, d_in)
        dirs = 2 if cfg.bidirectional else 1
        self.head = TaggerHead(dirs * cfg.hidden_size, num_tags, dropout=cfg.head_dropout)
        self.crf = CRF(num_tags) if cfg.crf else None

    def char_features(self, chars: Tensor, lengths: Tensor) -> Tensor:
        """(N, T, L) character ids -> (N, T, 2*Hc): final fwd/bwd states of each real word's characters."""
        assert self.chars is not None and self.char_rnn is not None  # called only with a character encoder
        N, T, L = chars.shape
        mask = lengths_to_mask(lengths, T)  # (N, T)
        words = chars[mask]  # (W, L): real words only
        wlen = (words != 0).sum(1).clamp(min=1)  # (W,) a word has >= 1 character
        out, _ = self.char_rnn(self.chars(words), lengths=wlen)  # (W, L, 2*Hc)
        feats = pool_last(out, wlen, directions=2)  # (W, 2*Hc)
        full = feats.new_zeros(N, T, feats.shape[1])
        full[mask] = feats
        return full

    def forward(self, words: Tensor, chars: Tensor, lengths: Tensor) -> Tensor:
        h = self.words(words)  # (N, T, E)
        if self.char_rnn is not None:
            h = torch.cat([h, self.char_features(chars, lengths)], dim=2)
        out, _ = self.encoder(self.drop(h), lengths=lengths)  # (N, T, dirs*H)
        return self.head(out)  # (N, T, K)
