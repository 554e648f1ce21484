"""Sequence labelling: one tag per token (POS tags, IOB chunks), a BiLSTM/BiGRU tagger with an optional CRF.

The network (Huang et al. 2015 §2.4; Lample et al. 2016 §2-4): word embedding, optionally concatenated
with a character-level word feature (a small bidirectional recurrent encoder over the word's characters,
final forward and backward states, Lample et al. 2016 §4.1), -> dropout -> ``rnnkit.nn.Recurrent``
(bidirectional by default, any registered cell) -> per-step linear scores -> either a softmax per token
(cross-entropy) or a linear-chain CRF (``rnnkit.models.crf``: forward-algorithm loss, Viterbi decoding).
Training goes through ``rnnkit.train.fit``.

Metrics: token accuracy, and for IOB tag sets the chunk span precision/recall/F1 (conlleval semantics).

Shape letters: N sentences, T tokens, L characters per token, E embedding size, H hidden, K tags.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.config import (
    ConfigError,
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    load_config,
    save_config,
    write_json,
)
from rnnkit.data import readers
from rnnkit.data.readers import ColumnData
from rnnkit.data.sequences import IGNORE_INDEX, BucketBatches, lengths_to_mask, pad_sequences, truncate
from rnnkit.data.sources import DataError
from rnnkit.models.crf import CRF
from rnnkit.models.heads import TaggerHead, pool_last
from rnnkit.nn import Recurrent
from rnnkit.registry import register_task
from rnnkit.tasks import class_metrics
from rnnkit.tasks.classification import TokenVocab

TASK_FILE = "task.json"
_DIGITS = re.compile(r"\d")


@dataclass(frozen=True)
class TaggerModelConfig(ModelConfig):
    hidden_size: int = 128
    bidirectional: bool = True
    word_embed: int = 100
    char_embed: int = 0  # 0: no character features; else the character embedding size (Lample et al.: 25)
    char_hidden: int = 25  # per direction of the character BiLSTM
    crf: bool = False
    embed_dropout: float = 0.5  # on the concatenated word features (Lample et al. 2016 §4.3)
    head_dropout: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.word_embed < 1 or self.char_embed < 0 or self.char_hidden < 1:
            raise ConfigError(
                f"model.word_embed must be >= 1, model.char_embed >= 0 and model.char_hidden >= 1; got "
                f"{self.word_embed}, {self.char_embed}, {self.char_hidden}"
            )


@dataclass(frozen=True)
class TaggerDataConfig(DataConfig):
    test_path: str | None = None  # explicit test file; conll2000 has its official test split
    word_column: int = 0
    tag_column: int = -1  # CoNLL-2000: 1 = POS, 2 (= -1) = chunk IOB
    lowercase: bool = True  # word embedding on lower-cased words (case still reaches the char features)
    digits_to_zero: bool = True  # '1987' -> '0000' for the word embedding
    min_freq: int = 1
    max_len: int = 0  # truncate longer sentences (warning + count); 0 = no limit
    max_word_len: int = 30  # characters per word seen by the character encoder
    encoding: str = "utf-8"
    split_seed: int = 2024
    test_fraction: float = 0.1  # random test split for a single file without a test_path

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"data.test_fraction must be in (0, 1), got {self.test_fraction}")


@dataclass(frozen=True)
class TaggerConfig(RunConfig):
    task: str = "tag"
    run_dir: str = "runs/tag"
    model: TaggerModelConfig = field(default_factory=TaggerModelConfig)
    data: TaggerDataConfig = field(default_factory=TaggerDataConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(unit="samples"))


class TaggerNet(nn.Module):
    """(words (N, T), chars (N, T, L), lengths (N,)) -> per-token scores (N, T, K); ``crf`` when configured."""

    def __init__(self, cfg: TaggerModelConfig, *, num_words: int, num_chars: int, num_tags: int) -> None:
        super().__init__()
        self.words = nn.Embedding(num_words, cfg.word_embed, padding_idx=0)
        d_in = cfg.word_embed
        self.chars = self.char_rnn = None
        if cfg.char_embed:
            self.chars = nn.Embedding(num_chars, cfg.char_embed, padding_idx=0)
            self.char_rnn = Recurrent("lstm", cfg.char_embed, cfg.char_hidden, bidirectional=True)
            d_in += 2 * cfg.char_hidden
        self.drop = nn.Dropout(cfg.embed_dropout)
        self.encoder = Recurrent(
            cfg.cell.name, d_in, cfg.hidden_size, num_layers=cfg.num_layers, bidirectional=cfg.bidirectional,
            dropout=cfg.dropout, bias=cfg.bias, options=cfg.cell.options(), impl=cfg.impl,
            weight_drop=cfg.weight_drop,
        )  # fmt: skip
        dirs = 2 if cfg.bidirectional else 1
        self.head = TaggerHead(dirs * cfg.hidden_size, num_tags, dropout=cfg.head_dropout)
        self.crf = CRF(num_tags) if cfg.crf else None

    def char_features(self, chars: Tensor, lengths: Tensor) -> Tensor:
        """(N, T, L) character ids -> (N, T, 2*Hc): final fwd/bwd states of each real word's characters."""
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


def _loss(net: TaggerNet, scores: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
    """CRF: mean negative log-likelihood per sentence; else mean token cross-entropy (padding ignored)."""
    if net.crf is not None:
        return net.crf.nll(scores, tags, lengths_to_mask(lengths, tags.shape[1]))
    return F.cross_entropy(scores.reshape(-1, scores.shape[2]), tags.reshape(-1), ignore_index=IGNORE_INDEX)


def _step(model: nn.Module, batch: tuple[Tensor, ...], state: Any) -> Any:
    from rnnkit.train import StepOutput, unwrap

    words, chars, lengths, tags = batch
    scores = model(words, chars, lengths)  # (N, T, K)
    loss = _loss(unwrap(model), scores, tags, lengths)
    m = tags != IGNORE_INDEX
    acc = ((scores.argmax(2) == tags) & m).sum().item() / max(int(m.sum()), 1)
    return StepOutput(loss, None, int(words.shape[0]), {"tok_acc": acc})


def _collate(items: Sequence[tuple[list[int], list[list[int]], list[int]]]) -> tuple[Tensor, ...]:
    words, lengths = pad_sequences([w for w, _, _ in items], dtype=torch.long)  # (N, T)
    tags, _ = pad_sequences([t for _, _, t in items], padding_value=IGNORE_INDEX, dtype=torch.long)
    L = max(len(c) for _, cs, _ in items for c in cs)
    chars = torch.zeros(words.shape[0], words.shape[1], L, dtype=torch.long)  # (N, T, L)
    for n, (_, cs, _) in enumerate(items):
        for t, c in enumerate(cs):
            chars[n, t, : len(c)] = torch.as_tensor(c)
    return words, chars, lengths, tags


def is_iob(tags: Sequence[str]) -> bool:
    """True when every tag is 'O' or 'B-X' / 'I-X' / 'E-X' / 'S-X' (span F1 is meaningful)."""
    return all(t == "O" or (len(t) > 2 and t[1] == "-" and t[0] in "BIES") for t in tags)


@register_task("tag")
class Tagger:
    """Train, evaluate and use a per-token tagger; see the module docstring."""

    def __init__(self, config: TaggerConfig | None = None) -> None:
        self.config = config or TaggerConfig()
        self.words: TokenVocab | None = None
        self.chars: TokenVocab | None = None
        self.tags: list[str] = []
        self.net: TaggerNet | None = None

    # -- inputs --
    def _word_key(self, w: str) -> str:
        d = self.config.data
        w = w.lower() if d.lowercase else w
        return _DIGITS.sub("0", w) if d.digits_to_zero else w

    def columns(self, data: ColumnData) -> tuple[list[list[str]], list[list[str]]]:
        d = self.config.data
        try:
            return data.column(d.word_column), data.column(d.tag_column)
        except IndexError:
            raise DataError(
                f"{data.source}: rows have {len(data.sentences[0][0])} columns; data.word_column={d.word_column} "
                f"or data.tag_column={d.tag_column} is out of range"
            ) from None

    def encode_sentences(self, sentences: Sequence[Sequence[str]]) -> list[tuple[list[int], list[list[int]]]]:
        """Token lists -> (word ids, char ids per word); truncated to data.max_len with a warning."""
        d = self.config.data
        sentences, _ = truncate(sentences, d.max_len or None, what="sentences")
        out = []
        for s in sentences:
            w = self.words.encode([self._word_key(t) for t in s])
            c = [self.chars.encode(list(t[: d.max_word_len])) or [1] for t in s]
            out.append((w, c))
        return out

    def encode(self, data: ColumnData, *, unknown: str = "error") -> list[tuple[list[int], list[list[int]], list[int]]]:
        """(word ids, char ids, tag ids) per sentence. Tags unseen in training: 'error' raises, 'skip' drops the
        sentence with a warning."""
        words, tags = self.columns(data)
        index = {t: i for i, t in enumerate(self.tags)}
        bad = sorted({t for s in tags for t in s} - set(index))
        keep = list(range(len(words)))
        if bad:
            if unknown == "error":
                raise DataError(self._unseen_message(data, bad))
            keep = [i for i in keep if all(t in index for t in tags[i])]
            warnings.warn(f"{data.source}: dropped {len(words) - len(keep)} sentences with unseen tags", stacklevel=2)
        enc = self.encode_sentences([words[i] for i in keep])
        return [(w, c, [index[t] for t in tags[i][: len(w)]]) for (w, c), i in zip(enc, keep, strict=True)]

    def _unseen_message(self, data: ColumnData, bad: list[str]) -> str:
        return (
            f"{data.source}: tags {bad[:10]} were not seen in training (known: {self.tags[:30]}); retrain with "
            f"them, or evaluate with unknown='score' (count them as errors) or 'skip' (drop those sentences)"
        )

    def _prepare(self, train: ColumnData) -> None:
        d = self.config.data
        words, tags = self.columns(train)
        self.words = TokenVocab.build([[self._word_key(t) for t in s] for s in words], min_freq=d.min_freq)
        self.chars = TokenVocab.build([list(t) for s in words for t in s])
        self.tags = sorted({t for s in tags for t in s})
        self._build()

    def _build(self) -> None:
        self.net = TaggerNet(
            self.config.model, num_words=len(self.words), num_chars=len(self.chars), num_tags=len(self.tags)
        )

    # -- training --
    def fit(
        self,
        train: ColumnData,
        val: ColumnData | None = None,
        *,
        run_dir: str | os.PathLike | None = None,
        callbacks: Sequence[Any] = (),
        resume: bool = False,
    ) -> Any:
        """Vocabularies and tag set from ``train``, then ``rnnkit.train.fit``."""
        from rnnkit.train import fit, seed_everything

        cfg = self.config
        seed_everything(cfg.train.seed)
        self._prepare(train)
        bs = cfg.data.batch_size
        train_b = BucketBatches(self.encode(train), bs, collate_fn=_collate, seed=cfg.train.seed)
        val_b = None
        if val is not None and len(val):
            val_b = BucketBatches(
                self.encode(val, unknown="skip"), cfg.data.eval_batch_size or bs, collate_fn=_collate, shuffle=False
            )
        if run_dir is not None:
            self.save_task(run_dir)
        result = fit(self.net, _step, train_b, config=cfg.train, val_data=val_b, run_dir=run_dir,
                     callbacks=callbacks, resume=resume, run_config=cfg)  # fmt: skip
        self.net = result.model
        return result

    # -- inference --
    @torch.no_grad()
    def _decode(self, encoded: list[tuple[list[int], list[list[int]]]], batch_size: int = 128) -> list[list[int]]:
        if self.net is None:
            raise RuntimeError("Tagger has no model yet: call fit() or Tagger.load(run_dir) first")
        self.net.eval()
        dev = next(self.net.parameters()).device
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
        out: list[list[int]] = [[] for _ in encoded]
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            words, chars, lengths, _ = _collate([(*encoded[i], [0] * len(encoded[i][0])) for i in idx])
            scores = self.net(words.to(dev), chars.to(dev), lengths.to(dev))  # (N, T, K)
            if self.net.crf is not None:
                best, _ = self.net.crf.decode(scores, lengths_to_mask(lengths.to(dev), scores.shape[1]))
            else:
                best = scores.argmax(2)
            for j, i in enumerate(idx):
                out[i] = best[j, : lengths[j]].tolist()
        return out

    def predict(self, sentences: Sequence[Sequence[str] | str]) -> list[list[tuple[str, str]]]:
        """Tag token lists (or whitespace-tokenised strings): [(token, tag), ...] per sentence."""
        toks = [s.split() if isinstance(s, str) else list(s) for s in sentences]
        empty = [i for i, s in enumerate(toks) if not s]
        if empty:
            raise DataError(f"sentence {empty[0]} has no tokens; give at least one token per sentence")
        pred = self._decode(self.encode_sentences(toks))
        return [list(zip(s, [self.tags[k] for k in p], strict=False)) for s, p in zip(toks, pred, strict=True)]

    def evaluate(self, data: ColumnData, *, unknown: str = "score") -> dict[str, Any]:
        """Token accuracy; for IOB tag sets chunk span precision/recall/F1 too.

        Gold tags never seen in training (CoNLL-2000's test set has I-LST, absent from train):
        ``unknown='score'`` (default, conlleval's behaviour) keeps them and counts them as errors, with a
        warning; ``'skip'`` drops those sentences; ``'error'`` raises DataError naming them.
        """
        if unknown not in ("score", "skip", "error"):
            raise ValueError(f"unknown must be 'score', 'skip' or 'error', got {unknown!r}")
        words, gold = self.columns(data)
        bad = sorted({t for s in gold for t in s} - set(self.tags))
        if bad and unknown == "score":
            n = sum(t in bad for s in gold for t in s)
            warnings.warn(
                f"{data.source}: {n} gold tags of kinds {bad[:10]} were not seen in training; they are scored "
                f"as errors (the tagger cannot predict them)",
                stacklevel=2,
            )
        elif bad:
            if unknown == "error":
                raise DataError(self._unseen_message(data, bad))
            keep = [i for i, g in enumerate(gold) if not set(g) & set(bad)]
            warnings.warn(f"{data.source}: dropped {len(gold) - len(keep)} sentences with unseen tags", stacklevel=2)
            words, gold = [words[i] for i in keep], [gold[i] for i in keep]
        enc = self.encode_sentences(words)
        pred = self._decode(enc)
        gold = [g[: len(w)] for g, (w, _) in zip(gold, enc, strict=True)]  # truncated like the inputs
        guess = [[self.tags[k] for k in p] for p in pred]
        out: dict[str, Any] = {"token_accuracy": class_metrics.token_accuracy(gold, guess), "sentences": len(gold)}
        out["tokens"] = sum(map(len, gold))
        if is_iob(self.tags):
            s = class_metrics.span_f1(gold, guess)
            out.update(span_precision=s.precision, span_recall=s.recall, span_f1=s.f1, chunks=s.n_true)
        return out

    # -- persistence --
    def save_task(self, run_dir: str | os.PathLike) -> Path:
        d = Path(run_dir)
        d.mkdir(parents=True, exist_ok=True)
        save_config(self.config, d / "config.json")
        meta = {"words": self.words.itos, "chars": self.chars.itos, "tags": self.tags}
        return write_json(d / TASK_FILE, meta)

    @classmethod
    def load(cls, run_dir: str | os.PathLike, *, which: str = "best") -> Tagger:
        from rnnkit.train import load_model

        d = Path(run_dir)
        if not (d / TASK_FILE).is_file():
            raise DataError(f"{d} is not a tagger run folder (no {TASK_FILE}); pass the folder `tag train` wrote")
        self = cls(load_config(TaggerConfig, d / "config.json"))
        meta = json.loads((d / TASK_FILE).read_text())
        self.words, self.chars = TokenVocab(meta["words"][2:]), TokenVocab(meta["chars"][2:])
        self.tags = meta["tags"]
        self._build()
        load_model(d, self.net, which=which)
        self.net.eval()
        return self


def load_splits(cfg: TaggerDataConfig) -> tuple[ColumnData, ColumnData | None, ColumnData]:
    """(train, val, test): official test for conll2000 (or data.test_path), else a seeded random split of
    sentences; validation is cut from training."""
    source = cfg.path or cfg.dataset
    if source is None:
        raise ConfigError("data: give data.path (a CoNLL-style column file) or data.dataset='conll2000'")
    kw = {} if source == "conll2000" else {"encoding": cfg.encoding}
    train = readers.read_tagging(source, data_root=cfg.data_root, split="train", **kw)
    if cfg.test_path:
        test = readers.read_tagging(cfg.test_path, **kw)
    elif source == "conll2000":
        test = readers.read_tagging(source, data_root=cfg.data_root, split="test")
    else:
        train, test = _split(train, cfg.test_fraction, cfg.split_seed)
    val = None
    if cfg.val_fraction > 0:
        train, val = _split(train, cfg.val_fraction, cfg.split_seed + 1)
    return train, val, test


def _split(data: ColumnData, fraction: float, seed: int) -> tuple[ColumnData, ColumnData]:
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed)).tolist()
    n_test = max(1, int(np.floor(len(data) * fraction)))
    pick = lambda idx: ColumnData([data.sentences[i] for i in idx], data.source)  # noqa: E731
    return pick(perm[n_test:]), pick(perm[:n_test])
