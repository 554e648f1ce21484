"""The tagging task's data: which sentences train, validate and test (``load_splits``), the columns read from them,
the word keys the word embedding sees, and the batches the network reads (``collate``).

Files are CoNLL-style columns or CoNLL-U (``rnnkit.data.readers.read_tagging``); a single file without a test file is
split at random by ``data.split_seed`` through ``rnnkit.data.splits`` (torch order, the split tagging runs have
always used).

Shape letters: N sentences, T tokens, L characters per token.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import Tensor

from rnnkit.config import ConfigError
from rnnkit.data import iob, readers, splits
from rnnkit.data.readers import ColumnData
from rnnkit.data.sequences import IGNORE_INDEX, pad_sequences
from rnnkit.data.sources import DataError
from rnnkit.tasks.tag.config import TaggerDataConfig

_DIGITS = re.compile(r"\d")

# one sentence, encoded: (word ids (T,), character ids per word (T, <= max_word_len), tag ids (T,))
Encoded = tuple[list[int], list[list[int]], list[int]]


def word_key(w: str, cfg: TaggerDataConfig) -> str:
    """The word embedding's key of a token: lower-cased and digits -> 0 as ``cfg`` says (the characters keep both)."""
    w = w.lower() if cfg.lowercase else w
    return _DIGITS.sub("0", w) if cfg.digits_to_zero else w


def word_and_tag_columns(data: ColumnData, cfg: TaggerDataConfig) -> tuple[list[list[str]], list[list[str]]]:
    """(words, tags) per sentence from the configured columns, the tags rewritten into ``cfg.tag_scheme``."""
    try:
        words, tags = data.column(cfg.word_column), data.column(cfg.tag_column)
    except IndexError:
        raise DataError(
            f"{data.source}: rows have {len(data.sentences[0][0])} columns; data.word_column={cfg.word_column} "
            f"or data.tag_column={cfg.tag_column} is out of range"
        ) from None
    if cfg.tag_scheme:  # the same entities, in the scheme asked for (Lample et al. 2016 use IOBES)
        tags = [iob.convert(t, cfg.tag_scheme, where=f"{data.source}: sentence {i}, ") for i, t in enumerate(tags)]
    return words, tags


def collate(items: Sequence[Encoded]) -> tuple[Tensor, ...]:
    """Encoded sentences -> words (N, T) 0-padded, chars (N, T, L) 0-padded, lengths (N,), tags (N, T) padded with
    IGNORE_INDEX."""
    words, lengths = pad_sequences([w for w, _, _ in items], dtype=torch.long)  # (N, T)
    tags, _ = pad_sequences([t for _, _, t in items], padding_value=IGNORE_INDEX, dtype=torch.long)
    L = max(len(c) for _, cs, _ in items for c in cs)
    chars = torch.zeros(words.shape[0], words.shape[1], L, dtype=torch.long)  # (N, T, L)
    for n, (_, cs, _) in enumerate(items):
        for t, c in enumerate(cs):
            chars[n, t, : len(c)] = torch.as_tensor(c)
    return words, chars, lengths, tags


def load_splits(cfg: TaggerDataConfig) -> tuple[ColumnData, ColumnData | None, ColumnData]:
    """(train, val, test): official test for conll2000 and conll2002-* (or data.test_path), else a seeded random
    split of sentences; validation is the official development set (conll2002-*: testa), else cut from training."""
    source = cfg.path or cfg.dataset
    if source is None:
        raise ConfigError(
            "data: give data.path (a CoNLL-style column file) or data.dataset ('conll2000', 'conll2002-es', "
            "'conll2002-nl')"
        )
    kw = cfg.reader_options()
    train = readers.read_tagging(source, data_root=cfg.data_root, split="train", **kw)
    if cfg.test_path:
        test = readers.read_tagging(cfg.test_path, **kw)
    elif source == "conll2000" or source in readers.CONLL2002:
        test = readers.read_tagging(source, data_root=cfg.data_root, split="test")
    else:
        train, test = split_sentences(train, cfg.test_fraction, cfg.split_seed)
    val = None
    if cfg.val_path:
        val = readers.read_tagging(cfg.val_path, **kw)
    elif source in readers.CONLL2002:  # the shared task's development set, used for model selection
        val = readers.read_tagging(source, data_root=cfg.data_root, split="val")
    elif cfg.val_fraction > 0:
        train, val = split_sentences(train, cfg.val_fraction, cfg.split_seed + 1)
    return train, val, test


def split_sentences(data: ColumnData, fraction: float, seed: int) -> tuple[ColumnData, ColumnData]:
    """(the rest, ``fraction`` of the sentences held out, at least one): the first ones of the seeded torch order
    are held out, both parts in that order."""
    n_held = max(1, int(len(data) * fraction))  # floored
    rest, held = splits.held_out(data.sentences, n_held, splits.permutation(len(data), seed))
    return ColumnData(rest, data.source, data.notes), ColumnData(held, data.source, data.notes)
