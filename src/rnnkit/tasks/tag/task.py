"""Sequence labelling: one tag per token (POS tags, IOB chunks), a BiLSTM/BiGRU tagger with an optional CRF.

The network (Huang et al. 2015 §2.4; Lample et al. 2016 §2-4): word embedding, optionally concatenated
with a character-level word feature (a small bidirectional recurrent encoder over the word's characters,
final forward and backward states, Lample et al. 2016 §4.1), -> dropout -> ``rnnkit.nn.Recurrent``
(bidirectional by default, any registered cell) -> per-step linear scores -> either a softmax per token
(cross-entropy) or a linear-chain CRF (``rnnkit.models.crf``: forward-algorithm loss, Viterbi decoding).
Training goes through ``rnnkit.train.fit``. The network is ``model.py``, its configuration ``config.py``, reading,
splitting and batching sentences ``data.py``; this module holds the task's hooks and its metrics.

Metrics: token accuracy, and for IOB tag sets the chunk / entity span precision/recall/F1, overall and per type
(conlleval / seqeval semantics). Named entities: ``--dataset conll2002-es|conll2002-nl``, ``--tag-scheme`` (IOB1 /
IOB2 / IOBES, ``rnnkit.data.iob``), ``--embeddings`` (pretrained vectors), ``predict`` prints ``[PER ...]`` spans.

Shape letters: N sentences, T tokens, L characters per token, E embedding size, H hidden, K tags.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.data import iob, readers
from rnnkit.data.readers import ColumnData
from rnnkit.data.sequences import IGNORE_INDEX, BucketBatches, lengths_to_mask, truncate
from rnnkit.data.sources import DataError
from rnnkit.data.text import Vocab
from rnnkit.tasks import metrics as class_metrics
from rnnkit.tasks.base import Splits, Task
from rnnkit.tasks.tag.config import (  # noqa: F401 - the config classes' home was here; importable as before
    TaggerConfig,
    TaggerDataConfig,
    TaggerModelConfig,
)
from rnnkit.tasks.tag.data import Encoded, collate, load_splits, word_and_tag_columns, word_key
from rnnkit.tasks.tag.model import TaggerNet


def _loss(net: TaggerNet, scores: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
    """CRF: mean negative log-likelihood per sentence; else mean token cross-entropy (padding ignored)."""
    if net.crf is not None:
        return net.crf.nll(scores, tags, lengths_to_mask(lengths, tags.shape[1]))
    return F.cross_entropy(scores.reshape(-1, scores.shape[2]), tags.reshape(-1), ignore_index=IGNORE_INDEX)


def _step(model: nn.Module, batch: tuple[Tensor, ...], state: Any) -> Any:
    from rnnkit.train import StepOutput, unwrap

    words, chars, lengths, tags = batch
    scores = model(words, chars, lengths)  # (N, T, K)
    net = unwrap(model)
    assert isinstance(net, TaggerNet), type(net)  # fit trains what build_model gave
    loss = _loss(net, scores, tags, lengths)
    m = tags != IGNORE_INDEX
    acc = ((scores.argmax(2) == tags) & m).sum().item() / max(int(m.sum()), 1)
    return StepOutput(loss, None, int(words.shape[0]), {"tok_acc": acc})


is_iob = iob.is_iob  # every tag is 'O' or 'B-X' / 'I-X' / 'E-X' / 'S-X': span F1 is meaningful


class Tagger(Task):
    """Train, evaluate and use a per-token tagger; see the module docstring."""

    name = "tag"
    Config = TaggerConfig
    model: TaggerNet | None  # build_model's network (fit and load set it)

    def __init__(self, config: TaggerConfig | None = None) -> None:
        super().__init__(config)
        self.words: Vocab | None = None  # <pad> 0, <unk> 1, then the training words
        self.chars: Vocab | None = None
        self.tags: list[str] = []
        self._pretrained: dict[int, np.ndarray] | None = None  # word id -> vector, for build_model of a new run
        self.predict_format = "tokens"  # what `predict --format auto` prints: spans for runs with IOB tags

    def _vocabs(self) -> tuple[Vocab, Vocab]:
        """The word and character vocabularies (set by ``prepare`` in fit, or by ``load``)."""
        assert self.words is not None and self.chars is not None, "prepare or load_state_dict sets them"
        return self.words, self.chars

    # -- inputs --
    def columns(self, data: ColumnData) -> tuple[list[list[str]], list[list[str]]]:
        """(words, tags) per sentence of ``data``, from the configured columns and tag scheme."""
        return word_and_tag_columns(data, self.config.data)

    def encode_sentences(self, sentences: Sequence[Sequence[str]]) -> list[tuple[list[int], list[list[int]]]]:
        """Token lists -> (word ids, char ids per word); truncated to data.max_len with a warning."""
        d = self.config.data
        sentences, _ = truncate(sentences, d.max_len or None, what="sentences")
        out = []
        words, chars = self._vocabs()
        for s in sentences:
            w = words.ids([word_key(t, d) for t in s])
            c = [chars.ids(list(t[: d.max_word_len])) or [1] for t in s]
            out.append((w, c))
        return out

    def encode(self, data: ColumnData, *, unknown: str = "error") -> list[Encoded]:
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

    # -- the Task contract --
    def load_data(self) -> Splits:
        train, val, test = load_splits(self.config.data)
        return Splits(train, val, test, notes=readers.notes_of(train, val, test))

    def prepare(self, train: ColumnData) -> None:
        d = self.config.data
        words, tags = self.columns(train)
        self.words = Vocab.from_token_lists([[word_key(t, d) for t in s] for s in words], min_freq=d.min_freq)
        self.chars = Vocab.from_token_lists([list(t) for s in words for t in s])
        self.tags = sorted({t for s in tags for t in s})
        self.predict_format = "spans" if is_iob(self.tags) else "tokens"
        self._pretrained = None
        if self.config.model.embeddings:
            self._read_embeddings(self.config.model.embeddings)
        if self.config.model.crf == "auto":
            spans = is_iob(self.tags)
            self.decide(
                f"{len(self.tags)} tags" + (", IOB spans: a CRF output layer" if spans else ": a softmax per token"),
                crf=spans,
            )

    def _read_embeddings(self, path: str) -> None:
        """Pretrained rows for the training vocabulary (keys made as the word embedding's: lower-cased, digits
        -> 0); words the file lacks keep their random init. Sets model.word_embed to the file's size."""
        from rnnkit.data.vectors import read_vectors

        words, _ = self._vocabs()
        found, dim = read_vectors(path, set(words.stoi), key=lambda w: word_key(w, self.config.data))
        rows = {words.stoi[k]: v for k, v in found.items()}
        self._pretrained = rows
        self.decide(
            f"embeddings: {len(rows):,} of {len(words) - 2:,} training words found in {Path(path).name} "
            f"(size {dim}); the rest start random",
            word_embed=dim,
        )

    def default_monitor(self) -> tuple[str, str]:
        return ("val_span_f1" if is_iob(self.tags) else "val_token_accuracy"), "max"

    def build_model(self) -> TaggerNet:
        words, chars = self._vocabs()
        net = TaggerNet(self.config.model, num_words=len(words), num_chars=len(chars), num_tags=len(self.tags))
        rows = self._pretrained  # set by prepare (a fresh training run), never by load or resume
        if rows:
            with torch.no_grad():
                idx = torch.as_tensor(list(rows), dtype=torch.long)
                net.words.weight[idx] = torch.as_tensor(np.stack(list(rows.values())))
        return net

    def onnx_spec(self, model: nn.Module, *, exporting: bool) -> Any:
        from rnnkit.tasks.tag.onnx import tag_spec

        return tag_spec(self, model, exporting=exporting)

    def state_dict(self) -> dict[str, Any]:
        words, chars = self._vocabs()
        return {"words": words.itos, "chars": chars.itos, "tags": self.tags, "predict": self.predict_format}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.words, self.chars = Vocab(state["words"]), Vocab(state["chars"])
        self.tags = state["tags"]
        self.predict_format = state.get("predict", "tokens")  # runs from before span output keep printing tokens

    def make_batches(self, train: ColumnData, val: ColumnData | None) -> tuple[Any, Any]:
        cfg = self.config
        bs = cfg.data.batch_size
        train_b = BucketBatches(self.encode(train), bs, collate_fn=collate, seed=cfg.train.seed)
        val_b = None
        if val is not None and len(val):
            val_b = BucketBatches(
                self.encode(val, unknown="skip"), cfg.data.eval_batch_size or bs, collate_fn=collate, shuffle=False
            )
        return train_b, val_b

    step = staticmethod(_step)

    def val_metrics(self, val: ColumnData) -> Any:
        """Span F1 (IOB tag sets) or token accuracy over the whole validation set, for choosing ``best``."""

        def score(model: nn.Module) -> dict[str, float]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # unseen tags are counted as errors, as at test time
                r = self.evaluate(val)
            out = {"val_token_accuracy": r["token_accuracy"]}
            if "span_f1" in r:
                out["val_span_f1"] = r["span_f1"]
            return out

        return score

    # -- inference --
    def _decode(self, encoded: list[tuple[list[int], list[list[int]]]], batch_size: int = 128) -> list[list[int]]:
        net, dev = self.require_model(), self.device

        def run(batch: list[tuple[list[int], list[list[int]]]]) -> list[list[int]]:
            words, chars, lengths, _ = collate([(*e, [0] * len(e[0])) for e in batch])
            scores = net(words.to(dev), chars.to(dev), lengths.to(dev))  # (N, T, K)
            if net.crf is not None:
                best, _ = net.crf.decode(scores, lengths_to_mask(lengths.to(dev), scores.shape[1]))
            else:
                best = scores.argmax(2)
            return [best[j, : lengths[j]].tolist() for j in range(len(batch))]

        return self.infer(encoded, run, batch_size=batch_size, length=lambda e: len(e[0]))

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
            out["per_type"] = {  # seqeval / conlleval per entity type
                k: dict(precision=v.precision, recall=v.recall, f1=v.f1, support=v.n_true, predicted=v.n_pred)
                for k, v in class_metrics.span_f1_by_type(gold, guess).items()
            }
        return out

    def describe_data(self, splits: Splits) -> str:
        n = lambda x: "none" if x is None else f"{len(x):,}"  # noqa: E731
        return f"{n(splits.train)} training, {n(splits.val)} validation, {n(splits.test)} test sentences"

    def read_eval_data(self, path: Path) -> ColumnData:
        return readers.read_tagging(path, **self.config.data.reader_options())


def format_spans(tagged: Sequence[tuple[str, str]]) -> str:
    """[(token, IOB tag), ...] -> 'O' tokens as they are, entities bracketed with their type:
    ``[PER Juan Pérez] vive en [LOC Madrid] .`` (entities read as conlleval reads them)."""
    words = [w for w, _ in tagged]
    out, i = [], 0
    for typ, a, b in iob.spans([t for _, t in tagged]):
        out += words[i:a] + [f"[{typ} {' '.join(words[a:b])}]"]
        i = b
    return " ".join(out + words[i:])
