"""Translation: sentence pairs -> attention Seq2Seq -> greedy / beam decoding, scored with sacrebleu.

A thin task over the shared core: ``rnnkit.data.pairs`` (fra-eng or any TSV, normalisation, vocabularies),
``rnnkit.models.seq2seq.Seq2Seq`` (any registered cell, Bahdanau or Luong attention, input feeding),
length-bucketed batches (``rnnkit.data.sequences.BucketBatches``) and ``rnnkit.train.fit``. The loss is the
token cross-entropy over real target positions (padding is IGNORE_INDEX), optionally label-smoothed
(Szegedy et al. 2016 §7); teacher forcing can be scheduled from ``teacher_forcing`` down to
``teacher_forcing_end`` over ``decay_steps`` optimiser steps (scheduled sampling, Bengio et al. 2015 §2.4,
linear decay). Evaluation: corpus BLEU and chrF from sacrebleu with its standard 13a tokenisation, on the
normalised references, the signature reported with the scores.

The run folder holds ``config.json`` (a valid ``--config``), ``task.json`` (both vocabularies) and fit's
checkpoints, so ``Translator.load(run_dir)`` rebuilds the exact model.

Shape letters: N batch, S source length, T target length, V target vocabulary.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.config import (
    CellConfig,
    ConfigError,
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    load_config,
    read_json,
    save_config,
    write_json,
)
from rnnkit.data import pairs as P
from rnnkit.data.sequences import IGNORE_INDEX, BucketBatches, pad_sequences
from rnnkit.data.sources import DataError
from rnnkit.data.text import Vocab
from rnnkit.models.seq2seq import ATTENTIONS, Seq2Seq, Seq2SeqSpec, padded_loss
from rnnkit.registry import register_task

TASK_FILE = "task.json"


# ---- configuration ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TranslatorModelConfig(ModelConfig):
    """Encoder/decoder sizes and attention. The encoder is always bidirectional (H/2 per direction)."""

    cell: CellConfig = field(default_factory=lambda: CellConfig(name="gru"))
    hidden_size: int = 256
    embed_size: int = 128
    attention: str = "general"  # bahdanau | dot | general
    input_feed: bool = True
    share_embeddings: bool = False  # one matrix for source and target (joint vocabulary)
    tie_output: bool = False  # output matrix = target embedding

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.attention not in ATTENTIONS:
            raise ConfigError(f"config model.attention: must be one of {ATTENTIONS}, got {self.attention!r}")
        if self.hidden_size % 2:
            raise ConfigError(
                f"config model.hidden_size: must be even (H/2 per encoder direction), got {self.hidden_size}"
            )


@dataclass(frozen=True)
class TranslatorDataConfig(DataConfig):
    """Which pairs, which direction, how they are split and tokenised."""

    dataset: str | None = "fra-eng"
    direction: str = "fra-eng"  # source-target
    columns: str = "eng-fra"  # languages of the file's first and second column (fra.txt: English first)
    setting: str = "tutorial"  # tutorial (prefix-filtered, < max_len words) | general (<= max_len words)
    max_len: int = 10
    level: str = "word"  # word | char
    min_freq: int = 1
    test_fraction: float = 0.1
    val_fraction: float = 0.05
    split_seed: int = 1234
    batch_size: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.setting not in P.SETTINGS:
            raise ConfigError(f"config data.setting: must be one of {P.SETTINGS}, got {self.setting!r}")
        if self.level not in ("word", "char"):
            raise ConfigError(f"config data.level: must be 'word' or 'char', got {self.level!r}")
        if len(self.columns.split("-")) != 2:
            raise ConfigError(f"config data.columns: two languages like 'eng-fra', got {self.columns!r}")
        if self.max_len < 1:
            raise ConfigError(f"config data.max_len: must be >= 1, got {self.max_len}")


@dataclass(frozen=True)
class ObjectiveConfig:
    """Teacher forcing schedule and label smoothing."""

    teacher_forcing: float = 1.0  # probability of feeding the gold token at the start of training
    teacher_forcing_end: float = 1.0  # ... and after decay_steps optimiser steps (linear in between)
    decay_steps: int = 0
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        for k in ("teacher_forcing", "teacher_forcing_end"):
            if not 0.0 <= getattr(self, k) <= 1.0:
                raise ConfigError(f"config objective.{k}: must be in [0, 1], got {getattr(self, k)}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"config objective.label_smoothing: must be in [0, 1), got {self.label_smoothing}")
        if self.decay_steps < 0:
            raise ConfigError(f"config objective.decay_steps: must be >= 0, got {self.decay_steps}")

    def ratio(self, step: int) -> float:
        """Teacher-forcing probability at optimiser step ``step`` (linear decay, then constant)."""
        if self.decay_steps == 0:
            return self.teacher_forcing_end if step > 0 else self.teacher_forcing
        f = min(step / self.decay_steps, 1.0)
        return self.teacher_forcing + f * (self.teacher_forcing_end - self.teacher_forcing)


@dataclass(frozen=True)
class DecodeConfig:
    """Decoding defaults for eval and translate."""

    beam_size: int = 5  # 1: greedy
    length_penalty: float = 0.0  # GNMT alpha
    max_len_ratio: float = 2.0
    max_len: int = 100
    batch_size: int = 128

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise ConfigError(f"config decode.beam_size: must be >= 1, got {self.beam_size}")
        if self.max_len_ratio <= 0 or self.max_len < 1:
            raise ConfigError("config decode.max_len_ratio must be > 0 and decode.max_len >= 1")


@dataclass(frozen=True)
class TranslatorConfig(RunConfig):
    task: str = "translate"
    run_dir: str = "runs/translate"
    model: TranslatorModelConfig = field(default_factory=TranslatorModelConfig)
    data: TranslatorDataConfig = field(default_factory=TranslatorDataConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(unit="tokens", epochs=10))
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)


# ---- batches and the step ---------------------------------------------------------------------------------


def collate(items: Sequence[tuple[Sequence[int], Sequence[int]]]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(source ids, target ids ending in EOS) items -> src (N, S) PAD-padded, lengths (N,), decoder input
    (N, T) = BOS + target[:-1] PAD-padded, decoder target (N, T) padded with IGNORE_INDEX."""
    src, lengths = pad_sequences([s for s, _ in items], padding_value=P.PAD_ID, dtype=torch.long)
    tgt_in, _ = pad_sequences([[P.BOS_ID, *t[:-1]] for _, t in items], padding_value=P.PAD_ID, dtype=torch.long)
    tgt_out, _ = pad_sequences([list(t) for _, t in items], padding_value=IGNORE_INDEX, dtype=torch.long)
    return src, lengths, tgt_in, tgt_out


def _step(model: torch.nn.Module, batch: tuple[Tensor, ...], state: Any, *, objective: ObjectiveConfig) -> Any:
    """fit's step: teacher-forced (or scheduled-sampling) forward, mean token loss over real positions."""
    from rnnkit.train import StepOutput, unwrap

    src, lengths, tgt_in, tgt_out = batch
    net = unwrap(model)
    if model.training:
        ratio = objective.ratio(int(net.train_steps))
        net.train_steps += 1  # a buffer: checkpointed, so a resumed run continues the schedule
        smoothing = objective.label_smoothing
    else:
        ratio, smoothing = 1.0, 0.0
    logits, _ = model(src, lengths, tgt_in, teacher_forcing=ratio)  # (N, T, V)
    loss = padded_loss(logits, tgt_out, ignore_index=IGNORE_INDEX, label_smoothing=smoothing)
    real = tgt_out != IGNORE_INDEX
    n_tokens = int(real.sum())
    acc = float(((logits.argmax(-1) == tgt_out) & real).sum()) / max(n_tokens, 1)
    return StepOutput(loss, None, n_tokens, {"acc": acc, "tf": ratio})


# ---- scores -----------------------------------------------------------------------------------------------


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """sacrebleu corpus BLEU (13a tokenisation, exp smoothing) and chrF, one reference each, with signatures."""
    from sacrebleu.metrics import BLEU, CHRF

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references; they must pair up")
    chrf = CHRF()
    # force=True: both sides are normalised text with punctuation already split off (the tutorial's
    # normalisation), which sacrebleu would otherwise flag as "tokenized"; 13a leaves it as it is.
    bleu = BLEU(force=True)
    b = bleu.corpus_score(list(hypotheses), [list(references)])
    c = chrf.corpus_score(list(hypotheses), [list(references)])
    return {
        "bleu": b.score,
        "chrf": c.score,
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "bleu_detail": str(b),
    }


# ---- the task ---------------------------------------------------------------------------------------------


@register_task("translate")
class Translator:
    """Train, evaluate and use a translation model; see the module docstring."""

    def __init__(self, config: TranslatorConfig | None = None) -> None:
        self.config = config or TranslatorConfig()
        self.src_vocab: Vocab | None = None
        self.tgt_vocab: Vocab | None = None
        self.net: Seq2Seq | None = None

    # -- data --
    def load_splits(self) -> P.PairSplits:
        """The configured pairs, normalised, oriented and split by ``data.split_seed``."""
        d = self.config.data
        return P.load_pairs(
            path=d.path, dataset=None if d.path else d.dataset, data_root=d.data_root, direction=d.direction,
            columns=tuple(d.columns.split("-")), setting=d.setting, max_len=d.max_len,
            test_fraction=d.test_fraction, val_fraction=d.val_fraction, seed=d.split_seed,
        )  # fmt: skip

    def _prepare(self, train: Sequence[tuple[str, str]]) -> None:
        d, m = self.config.data, self.config.model
        if m.share_embeddings:
            joint = P.build_vocab([s for p in train for s in p], level=d.level, min_freq=d.min_freq)
            self.src_vocab = self.tgt_vocab = joint
        else:
            self.src_vocab = P.build_vocab([s for s, _ in train], level=d.level, min_freq=d.min_freq)
            self.tgt_vocab = P.build_vocab([t for _, t in train], level=d.level, min_freq=d.min_freq)
        self._build()

    def _build(self) -> None:
        m = self.config.model
        spec = Seq2SeqSpec(
            src_vocab=len(self.src_vocab), tgt_vocab=len(self.tgt_vocab), cell=m.cell.name,
            embedding_dim=m.embed_size, hidden_size=m.hidden_size, num_layers=m.num_layers, attention=m.attention,
            input_feed=m.input_feed, dropout=m.dropout, share_embeddings=m.share_embeddings,
            tie_output=m.tie_output, pad_id=P.PAD_ID, bos_id=P.BOS_ID, eos_id=P.EOS_ID, options=m.cell.options(),
        )  # fmt: skip
        self.net = Seq2Seq(spec)
        self.net.register_buffer("train_steps", torch.zeros((), dtype=torch.long))  # teacher-forcing schedule

    def encode_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
        """(source ids + EOS, target ids + EOS); pairs whose source is empty are dropped."""
        return [
            (P.encode(self.src_vocab, s), P.encode(self.tgt_vocab, t))
            for s, t in pairs
            if P.tokenize(s, self.src_vocab.level)
        ]

    # -- training --
    def fit(
        self,
        train: Sequence[tuple[str, str]],
        val: Sequence[tuple[str, str]] | None = None,
        *,
        run_dir: str | os.PathLike | None = None,
        callbacks: Sequence[Any] = (),
        resume: bool = False,
    ) -> Any:
        """Build vocabularies and the network from ``train`` pairs, then train through ``rnnkit.train.fit``."""
        from rnnkit.train import fit, seed_everything

        cfg = self.config
        if not train:
            raise DataError("Translator.fit: no training pairs")
        seed_everything(cfg.train.seed)
        self._prepare(train)
        bs = cfg.data.batch_size
        train_b = BucketBatches(self.encode_pairs(train), bs, collate_fn=collate, seed=cfg.train.seed)
        val_b = None
        if val:
            val_b = BucketBatches(
                self.encode_pairs(val), cfg.data.eval_batch_size or bs, collate_fn=collate, shuffle=False
            )
        if run_dir is not None:
            self.save_task(run_dir)
        step = partial(_step, objective=cfg.objective)
        result = fit(self.net, step, train_b, config=cfg.train, val_data=val_b, run_dir=run_dir,
                     callbacks=callbacks, resume=resume, run_config=cfg)  # fmt: skip
        self.net = result.model
        return result

    # -- inference --
    def _check_ready(self) -> None:
        if self.net is None:
            raise RuntimeError("Translator has no model yet: call fit() or Translator.load(run_dir) first")

    def prepare_sentences(self, sentences: Sequence[str]) -> list[str]:
        """Normalise input sentences; raise ValueError for no input or a sentence with nothing left in it."""
        if len(sentences) == 0:
            raise ValueError("translate: no input sentences; pass sentences as arguments or on stdin, one per line")
        out = []
        for i, s in enumerate(sentences, 1):
            n = P.normalize(s)
            if not n:
                raise ValueError(
                    f"translate: sentence {i} ({s!r}) is empty after normalisation (letters and . ! ? are kept); "
                    f"remove it or give some words"
                )
            out.append(n)
        return out

    @torch.no_grad()
    def decode_ids(
        self, sources: Sequence[Sequence[int]], *, beam_size: int | None = None, return_attention: bool = False
    ) -> tuple[list[list[int]], list[Tensor | None]]:
        """Decode id sequences (sorted by length into batches, results in input order)."""
        self._check_ready()
        dc = self.config.decode
        K = dc.beam_size if beam_size is None else beam_size
        self.net.eval()
        dev = next(self.net.parameters()).device
        order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
        outs: list[list[int]] = [[] for _ in sources]
        atts: list[Tensor | None] = [None] * len(sources)
        for s in range(0, len(order), dc.batch_size):
            idx = order[s : s + dc.batch_size]
            src, lengths = pad_sequences([list(sources[i]) for i in idx], padding_value=P.PAD_ID, dtype=torch.long)
            src, lengths = src.to(dev), lengths.to(dev)
            kw = {"max_len_ratio": dc.max_len_ratio, "max_len": dc.max_len}
            if K == 1 or return_attention:
                ids, att = self.net.greedy(src, lengths, **kw)
            if K > 1:
                hyps = self.net.beam_search(src, lengths, beam_size=K, length_penalty=dc.length_penalty, **kw)
                ids = [h[0][0] if h else [] for h in hyps]
            for j, i in enumerate(idx):
                outs[i] = ids[j]
                if return_attention and K == 1:
                    atts[i] = att[j]
        return outs, atts

    def translate(self, sentences: Sequence[str], *, beam_size: int | None = None) -> list[str]:
        """Translations of raw sentences (normalised first), in order."""
        self._check_ready()
        norm = self.prepare_sentences(sentences)
        ids, _ = self.decode_ids([P.encode(self.src_vocab, s) for s in norm], beam_size=beam_size)
        return [P.decode(self.tgt_vocab, x) for x in ids]

    def attention(self, sentence: str) -> tuple[list[str], list[str], Tensor]:
        """Greedy translation of one sentence with its attention: (source tokens + <eos>, output tokens +
        <eos>, weights (T, S))."""
        self._check_ready()
        (norm,) = self.prepare_sentences([sentence])
        src = P.encode(self.src_vocab, norm)
        ids, att = self.decode_ids([src], beam_size=1, return_attention=True)
        src_toks = [*P.tokenize(norm, self.src_vocab.level), P.EOS]
        out_toks = [self.tgt_vocab.itos[i] for i in ids[0]] + [P.EOS]
        return src_toks, out_toks[: att[0].shape[0]], att[0]

    def evaluate(self, pairs: Sequence[tuple[str, str]], *, beam_size: int | None = None) -> dict[str, Any]:
        """Corpus BLEU / chrF of decoded sources against the (normalised) references, with the decode time."""
        self._check_ready()
        if not pairs:
            raise ValueError("evaluate: no sentence pairs to score")
        K = self.config.decode.beam_size if beam_size is None else beam_size
        srcs = [P.encode(self.src_vocab, s) for s, _ in pairs]
        t0 = time.perf_counter()
        ids, _ = self.decode_ids(srcs, beam_size=K)
        dt = time.perf_counter() - t0
        hyps = [P.decode(self.tgt_vocab, x) for x in ids]
        out = corpus_scores(hyps, [t for _, t in pairs])
        out.update(
            beam_size=K, n=len(pairs), decode_seconds=dt, sentences_per_s=len(pairs) / dt,
            exact_match=sum(h == t for h, (_, t) in zip(hyps, pairs, strict=True)) / len(pairs),
            samples=[{"source": s, "reference": t, "output": h} for (s, t), h in zip(pairs[:5], hyps, strict=False)],
        )  # fmt: skip
        return out

    # -- persistence --
    def save_task(self, run_dir: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``task.json`` (both vocabularies) into ``run_dir``."""
        d = Path(run_dir)
        d.mkdir(parents=True, exist_ok=True)
        save_config(self.config, d / "config.json")
        meta = {"src_vocab": self.src_vocab.to_json(), "tgt_vocab": self.tgt_vocab.to_json()}
        return write_json(d / TASK_FILE, meta)

    @classmethod
    def load(cls, run_dir: str | os.PathLike, *, which: str = "best") -> Translator:
        """Rebuild a trained translator from its run folder (config.json + task.json + checkpoint)."""
        from rnnkit.train import load_model

        d = Path(run_dir)
        if not (d / TASK_FILE).is_file():
            raise DataError(
                f"{d} is not a translation run folder (no {TASK_FILE}); pass the folder `translate train` wrote"
            )
        self = cls(load_config(TranslatorConfig, d / "config.json"))
        meta = read_json(d / TASK_FILE)
        self.src_vocab = Vocab.from_json(meta["src_vocab"])
        self.tgt_vocab = self.src_vocab if self.config.model.share_embeddings else Vocab.from_json(meta["tgt_vocab"])
        self._build()
        load_model(d, self.net, which=which)
        self.net.eval()
        return self


# ---- plot -------------------------------------------------------------------------------------------------


def plot_attention(
    src_tokens: Sequence[str], out_tokens: Sequence[str], weights: Any, out: str | os.PathLike, *, title: str = ""
) -> Path:
    """Attention heatmap (rows: output tokens, columns: source tokens) -> PNG."""
    import numpy as np

    from rnnkit.plots import plt, save_figure  # pyplot on the Agg backend (no display needed)

    w = np.asarray(weights.detach().cpu() if isinstance(weights, Tensor) else weights, dtype=np.float64)
    if w.shape != (len(out_tokens), len(src_tokens)):
        raise ValueError(f"plot_attention: weights {w.shape} != (outputs {len(out_tokens)}, sources {len(src_tokens)})")
    fig, ax = plt.subplots(figsize=(1 + 0.5 * len(src_tokens), 1 + 0.4 * len(out_tokens)), dpi=100)
    im = ax.imshow(w, cmap="bone", vmin=0.0, vmax=1.0, aspect="auto")
    fig.colorbar(im, ax=ax)
    ax.set_xticks(range(len(src_tokens)), list(src_tokens), rotation=90)
    ax.set_yticks(range(len(out_tokens)), list(out_tokens))
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, out)
