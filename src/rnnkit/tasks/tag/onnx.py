"""The tagger's ONNX interface: words + characters + lengths -> per-token tag scores (the CRF's transitions in the
JSON).

Built as ``rnnkit.export.OnnxSpec``; the export itself, and its check against PyTorch, is ``rnnkit.export``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.data.sequences import lengths_to_mask
from rnnkit.export import N_EXAMPLE, OnnxSpec, example_ids
from rnnkit.models.heads import pool_last
from rnnkit.tasks.tag.model import TaggerNet


class _Tag(nn.Module):
    """TaggerNet's forward; for export, the character encoder runs over every (padded) word position and the
    padding's features are zeroed by a mask (the same values as TaggerNet's boolean indexing, which ONNX lacks)."""

    def __init__(self, net: TaggerNet, *, exporting: bool) -> None:
        super().__init__()
        self.net, self.exporting = net, exporting

    def forward(self, words: Tensor, chars: Tensor, lengths: Tensor) -> Tensor:
        net = self.net
        if not self.exporting:
            return net(words, chars, lengths)  # (N, T, K)
        h = net.words(words)  # (N, T, E)
        if net.char_rnn is not None:
            assert net.chars is not None  # built with char_rnn
            N, T, L = chars.shape
            flat = chars.reshape(-1, L)  # (N*T, L)
            wlen = (flat != 0).sum(1).clamp(min=1)  # a word has >= 1 character (padding too: masked below)
            out, _ = net.char_rnn(net.chars(flat), lengths=wlen)  # (N*T, L, 2*Hc)
            feats = pool_last(out, wlen, directions=2).reshape(N, T, -1)  # (N, T, 2*Hc)
            h = torch.cat([h, feats * lengths_to_mask(lengths, T).unsqueeze(2).to(feats.dtype)], dim=2)
        out, _ = net.encoder(net.drop(h), lengths=lengths)  # (N, T, dirs*H)
        return net.head(out)  # (N, T, K)


def tag_spec(task: Any, model: nn.Module, *, exporting: bool) -> OnnxSpec:
    assert isinstance(model, TaggerNet), type(model)  # the task's network, or export's copy of it
    d = task.config.data

    def example(T: int) -> tuple[Tensor, Tensor, Tensor]:
        words, lengths = example_ids(T, len(task.words), seed=T)
        g = torch.Generator().manual_seed(T + 1)
        L = 5
        chars = torch.randint(2, max(len(task.chars), 3), (N_EXAMPLE, T, L), generator=g)
        wl = torch.randint(1, L + 1, (N_EXAMPLE, T, 1), generator=g)  # characters per word
        chars = chars.masked_fill(torch.arange(L) >= wl, 0).masked_fill(~lengths_to_mask(lengths, T)[:, :, None], 0)
        return words, chars, lengths

    crf = model.crf  # None: a softmax output (argmax per token)
    meta: dict[str, Any] = {
        "task": "tag",
        "words": task.words.itos,
        "chars": task.chars.itos,
        "tags": list(task.tags),
        "pad_id": 0,
        "unk_id": 1,
        "lowercase": d.lowercase,
        "digits_to_zero": d.digits_to_zero,
        "max_word_len": d.max_word_len,
        "crf": None if crf is None else {k: v.detach().tolist() for k, v in crf.state_dict().items()},
        "how": "words: word ids (N, T) (lower-cased, digits -> 0 as configured); chars: character ids (N, T, L) "
        "of each word's first max_word_len characters, 0-padded; lengths (N,). scores (N, T, K): argmax per token, "
        "or Viterbi with crf.transitions[i, j] (tag i -> j), crf.start and crf.end when crf is not null.",
    }
    return OnnxSpec(
        _Tag(model, exporting=exporting),
        example,
        ["words", "chars", "lengths"],
        ["scores"],
        {"words": {0: "N", 1: "T"}, "chars": {0: "N", 1: "T", 2: "L"}, "lengths": {0: "N"}, "scores": {0: "N", 1: "T"}},
        meta,
    )
