"""Translation: sentence pairs -> attention Seq2Seq -> greedy / beam decoding, scored honestly with sacreBLEU.

A thin task on the Task contract (``tasks/base.py``): ``data.py`` reads, splits and batches the pairs (a TSV, two
parallel files or fra-eng) and turns raw text into tokens and back (``TextFormat``); ``model.py``'s ``Seq2Seq`` (any
registered cell, Bahdanau or Luong attention, input feeding; greedy and beam decoding from ``rnnkit.models.beam``)
translates; the base trains through ``rnnkit.train.fit`` on length-bucketed batches. The loss is the token
cross-entropy over real target positions, optionally label-smoothed (Szegedy et al. 2016 §7); teacher forcing can
decay from ``teacher_forcing`` to ``teacher_forcing_end`` over ``decay_steps`` optimiser steps (scheduled sampling,
Bengio et al. 2015 §2.4, linear decay).

Scores: the headline ``bleu`` / ``chrf`` are sacreBLEU's corpus BLEU (13a tokenisation) and chrF of the
**detokenised** output against the **raw** references as they are in the file (one each). With
``data.normalize="none"`` (the default) the output is cased and detokenises exactly; a model trained on normalised
or lowercased text is scored against the raw references all the same (lower, and honest), and then also gets
``bleu_normalised`` / ``chrf_normalised``: both sides in the training text's space, labelled as such. ``best`` is
the checkpoint with the highest validation BLEU (greedy decoding of the whole validation set at each evaluation).

Configuration: ``config.py``; scores, the printed report and the attention plot: ``report.py``. The run folder holds
``config.json`` (a valid ``--config``), ``task.json`` (both vocabularies and the text format) and fit's checkpoints,
so ``Translator.load(run_dir)`` rebuilds the exact model.

Shape letters: N batch, S source length, T target length, V target vocabulary.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.config import ConfigError
from rnnkit.data.sequences import IGNORE_INDEX, BucketBatches, pad_sequences
from rnnkit.data.sources import DataError
from rnnkit.data.text import Vocab
from rnnkit.tasks.base import Splits, Task
from rnnkit.tasks.translate import data as P
from rnnkit.tasks.translate.config import (  # noqa: F401 - the config classes' home was here; importable as before
    DecodeConfig,
    ObjectiveConfig,
    TranslatorConfig,
    TranslatorDataConfig,
    TranslatorModelConfig,
)
from rnnkit.tasks.translate.data import collate
from rnnkit.tasks.translate.model import Seq2Seq, Seq2SeqSpec, padded_loss
from rnnkit.tasks.translate.report import corpus_scores

# ---- the step ---------------------------------------------------------------------------------------------


def _step(model: torch.nn.Module, batch: tuple[Tensor, ...], state: Any, *, objective: ObjectiveConfig) -> Any:
    """fit's step: teacher-forced (or scheduled-sampling) forward, mean token loss over real positions."""
    from rnnkit.train import StepOutput, unwrap

    src, lengths, tgt_in, tgt_out = batch
    if model.training:
        steps = unwrap(model).get_buffer("train_steps")  # checkpointed: a resumed run continues the schedule
        ratio = objective.ratio(int(steps))
        steps += 1  # in place
        smoothing = objective.label_smoothing
    else:
        ratio, smoothing = 1.0, 0.0
    logits, _ = model(src, lengths, tgt_in, teacher_forcing=ratio)  # (N, T, V)
    loss = padded_loss(logits, tgt_out, ignore_index=IGNORE_INDEX, label_smoothing=smoothing)
    real = tgt_out != IGNORE_INDEX
    n_tokens = int(real.sum())
    acc = float(((logits.argmax(-1) == tgt_out) & real).sum()) / max(n_tokens, 1)
    return StepOutput(loss, None, n_tokens, {"acc": acc, "tf": ratio})


# ---- the task ---------------------------------------------------------------------------------------------


class Translator(Task):
    """Train, evaluate and use a translation model; see the module docstring."""

    name = "translate"
    Config = TranslatorConfig
    model: Seq2Seq | None  # build_model's network (fit and load set it)

    def __init__(self, config: TranslatorConfig | None = None) -> None:
        super().__init__(config)
        self.src_vocab: Vocab | None = None
        self.tgt_vocab: Vocab | None = None

    def _vocabs(self) -> tuple[Vocab, Vocab]:
        """The source and target vocabularies (set by ``prepare`` in fit, or by ``load``)."""
        assert self.src_vocab is not None and self.tgt_vocab is not None, "prepare or load_state_dict sets them"
        return self.src_vocab, self.tgt_vocab

    @property
    def text(self) -> P.TextFormat:
        return self.config.data.text_format

    # -- data --
    def _orient(self, raw: list[P.Pair]) -> list[P.Pair]:
        """File column order -> (source, target) by data.direction and data.columns; a run trained on two files
        (--src/--tgt) reads its TSVs as source<TAB>target."""
        d = self.config.data
        if d.src_path:
            return raw
        direction, columns = d.languages()
        swap = P.parse_direction(direction, tuple(columns.split("-")))
        return [(b, a) for a, b in raw] if swap else raw

    def _read_part(self, part: str) -> tuple[list[P.Pair] | None, str]:
        """The ``val`` / ``test`` pairs given as files (None: none given), and where they came from."""
        d = self.config.data
        tsv, src, tgt = (getattr(d, f"{part}_{k}") for k in ("path", "src_path", "tgt_path"))
        if src:
            return P.read_parallel(src, tgt), f"{src} + {tgt}"
        if tsv:
            return self.read_eval_data(Path(tsv)), str(tsv)
        return None, ""

    def load_data(self) -> Splits:
        """The pool (two files, a TSV or fra-eng) oriented and selected, then split; val/test files used whole."""
        d, notes = self.config.data, []
        d.check_sources()
        if d.src_path:
            pool, source = P.read_parallel(d.src_path, d.tgt_path), f"{d.src_path} + {d.tgt_path}"
        elif d.path or d.dataset:
            direction, columns = d.languages()
            P.parse_direction(direction, tuple(columns.split("-")))  # a bad direction fails before the read
            raw, source = P.read_raw_pairs(
                path=d.path, dataset=None if d.path else d.dataset, data_root=d.data_root, extra_columns=d.extra_columns
            )
            pool = self._orient(raw)
        else:
            raise ConfigError("config data: give data.src_path + data.tgt_path, data.path (a TSV) or data.dataset")
        pool, note = P.select_pairs(pool, languages=d.languages()[0].split("-"), setting=d.setting, max_len=d.max_len)
        notes += [note] if note else []
        fmt = self.text
        kept = [p for p in pool if not (fmt.is_empty(p[0]) or fmt.is_empty(p[1]))]
        if len(kept) < len(pool):
            notes.append(f"dropped {len(pool) - len(kept):,} pairs with a side left empty by the {fmt.describe()}")
        if not kept:
            raise DataError(f"{source}: no pairs left to train on ({'; '.join(notes) or 'the file is empty'})")
        val, val_from = self._read_part("val")
        test, test_from = self._read_part("test")
        tf, vf = (0.0 if test is not None else d.test_fraction), (0.0 if val is not None else d.val_fraction)
        train, held_val, held_test = P.split_pairs(kept, test_fraction=tf, val_fraction=vf, seed=d.split_seed)
        for part, given, frm, held, frac in (
            ("validation", val, val_from, held_val, vf),
            ("test", test, test_from, held_test, tf),
        ):
            if given is not None:
                notes.append(f"{part}: {frm} (all {len(given):,} pairs)")
            elif held:
                notes.append(f"{part}: {len(held):,} pairs held out of {source} ({frac} by seed {d.split_seed})")
            else:
                notes.append(f"{part}: none")
        return Splits(
            train,
            val if val is not None else (held_val or None),
            test if test is not None else (held_test or None),
            notes,
        )

    def read_eval_data(self, path: Path) -> list[P.Pair]:
        """A TSV of pairs in the run's column order, oriented like its training data."""
        return self._orient(P.read_tsv_file(path, extra_columns=self.config.data.extra_columns))

    def describe_data(self, splits: Splits) -> str:
        return f"{super().describe_data(splits).replace('examples', 'pairs')}; training text: {self.text.describe()}"

    def prepare(self, train: Sequence[P.Pair]) -> None:
        """Source and target vocabularies (one joint one with model.share_embeddings) from the training pairs."""
        d, fmt = self.config.data, self.text
        src, tgt = [fmt.tokens(s) for s, _ in train], [fmt.tokens(t) for _, t in train]
        if self.config.model.share_embeddings:
            self.src_vocab = self.tgt_vocab = P.build_vocab(src + tgt, level=d.level, min_freq=d.min_freq)
        else:
            self.src_vocab = P.build_vocab(src, level=d.level, min_freq=d.min_freq)
            self.tgt_vocab = P.build_vocab(tgt, level=d.level, min_freq=d.min_freq)

    def build_model(self) -> Seq2Seq:
        src, tgt = self._vocabs()
        sizes = {"src_vocab": len(src), "tgt_vocab": len(tgt)}
        net = Seq2Seq(Seq2SeqSpec.from_config(self.config.model, **sizes))
        net.register_buffer("train_steps", torch.zeros((), dtype=torch.long))  # teacher-forcing schedule
        return net

    def onnx_spec(self, model: torch.nn.Module, *, exporting: bool) -> Any:
        """Two graphs, ``encoder`` and one ``decoder`` step (state in and out): a caller runs the decoding loop."""
        from rnnkit.tasks.translate.onnx import translate_specs

        return translate_specs(self, model)

    def state_dict(self) -> dict[str, Any]:
        d = self.config.data
        text = {"normalize": d.normalize, "lowercase": d.lowercase, "level": d.level}
        src, tgt = self._vocabs()
        return {"src_vocab": src.to_json(), "tgt_vocab": tgt.to_json(), "text": text}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.src_vocab = Vocab.from_json(state["src_vocab"])
        shared = self.config.model.share_embeddings
        self.tgt_vocab = self.src_vocab if shared else Vocab.from_json(state["tgt_vocab"])
        # runs written before task.json said how text was tokenised all used the tutorial normalisation
        text = state.get("text") or {"normalize": "tutorial", "lowercase": False, "level": self.src_vocab.level}
        self.config = replace(self.config, data=replace(self.config.data, **text))

    def encode_pairs(self, pairs: Sequence[P.Pair]) -> list[tuple[list[int], list[int]]]:
        """(source ids + EOS, target ids + EOS) of raw pairs."""
        fmt, (src, tgt) = self.text, self._vocabs()
        return [(P.encode(src, fmt.tokens(s)), P.encode(tgt, fmt.tokens(t))) for s, t in pairs]

    def make_batches(self, train: Sequence[P.Pair], val: Sequence[P.Pair] | None) -> tuple[Any, Any]:
        cfg = self.config
        bs = cfg.data.batch_size
        train_b = BucketBatches(self.encode_pairs(train), bs, collate_fn=collate, seed=cfg.train.seed)
        val_b = None
        if val:
            val_b = BucketBatches(
                self.encode_pairs(val), cfg.data.eval_batch_size or bs, collate_fn=collate, shuffle=False
            )
        return train_b, val_b

    def step(self, model: torch.nn.Module, batch: tuple[Tensor, ...], state: Any) -> Any:
        return _step(model, batch, state, objective=self.config.objective)

    def val_metrics(self, val: Sequence[P.Pair]) -> Any:
        """Greedy BLEU / chrF of the whole validation set (as the test is scored), for choosing ``best``."""

        def score(model: torch.nn.Module) -> dict[str, float]:
            was_training = model.training
            try:
                r = self.evaluate(val, beam_size=1)
            finally:
                model.train(was_training)
            return {"val_bleu": r["bleu"], "val_chrf": r["chrf"]}

        return score

    # -- inference --
    def _tokens(self, sentences: Sequence[str]) -> list[list[str]]:
        """Source tokens of raw input sentences; a sentence with none left is an error naming it."""
        out = []
        for i, s in enumerate(sentences, 1):
            toks = self.text.tokens(s)
            if not toks:
                raise ValueError(f"sentence {i} ({s!r}) is empty after the {self.text.describe()}; give some words")
            out.append(toks)
        return out

    def decode(
        self, sources: Sequence[Sequence[str]], *, beam_size: int | None = None, length_penalty: float | None = None
    ) -> list[list[str]]:
        """Output tokens for source token lists (batched, sorted by length; results in input order)."""
        model, dc = self.require_model(), self.config.decode
        K = dc.beam_size if beam_size is None else beam_size
        alpha = dc.length_penalty if length_penalty is None else length_penalty
        kw = {"max_len_ratio": dc.max_len_ratio, "max_len": dc.max_len}
        dev, (src_vocab, tgt_vocab) = self.device, self._vocabs()

        def run(batch: list[list[int]]) -> list[list[str]]:
            src, lengths = pad_sequences(batch, padding_value=P.PAD_ID, dtype=torch.long)  # (N, S), (N,)
            src, lengths = src.to(dev), lengths.to(dev)
            if K == 1:
                ids, _ = model.greedy(src, lengths, **kw)
            else:
                hyps = model.beam_search(src, lengths, beam_size=K, length_penalty=alpha, **kw)
                ids = [h[0][0] if h else [] for h in hyps]
            return [P.decode_tokens(tgt_vocab, x) for x in ids]

        encoded = [P.encode(src_vocab, t) for t in sources]
        return self.infer(encoded, run, batch_size=dc.batch_size)

    def translate(self, sentences: Sequence[str], *, beam_size: int | None = None) -> list[str]:
        """Detokenised translations of raw sentences, in order."""
        if len(sentences) == 0:
            raise ValueError("no input sentences; pass sentences as arguments, --file or stdin, one per line")
        return [self.text.detokenize(t) for t in self.decode(self._tokens(sentences), beam_size=beam_size)]

    predict = translate

    def attention(self, sentence: str) -> tuple[list[str], list[str], Tensor]:
        """Greedy translation of one sentence with its attention: (source tokens + <eos>, output tokens +
        <eos>, weights (T, S))."""
        model, (src_vocab, tgt_vocab) = self.require_model(), self._vocabs()
        (toks,) = self._tokens([sentence])
        src = torch.tensor([P.encode(src_vocab, toks)], device=self.device)  # (1, S)
        with self.inference():
            dc = self.config.decode
            ids, att = model.greedy(
                src,
                torch.tensor([src.shape[1]], device=self.device),
                max_len_ratio=dc.max_len_ratio,
                max_len=dc.max_len,
            )
        out_toks = [tgt_vocab.itos[i] for i in ids[0]] + [P.EOS]
        return [*toks, P.EOS], out_toks[: att[0].shape[0]], att[0]

    def evaluate(
        self, pairs: Sequence[P.Pair], *, beam_size: int | None = None, length_penalty: float | None = None
    ) -> dict[str, Any]:
        """sacreBLEU BLEU / chrF of the detokenised output against the raw references (+ the normalised-text
        scores when the model's text is normalised or lowercased), exact match and the decode time."""
        if not pairs:
            raise ValueError("evaluate: no sentence pairs to score")
        fmt, K = self.text, self.config.decode.beam_size if beam_size is None else beam_size
        t0 = time.perf_counter()
        out_toks = self.decode([fmt.tokens(s) for s, _ in pairs], beam_size=K, length_penalty=length_penalty)
        dt = time.perf_counter() - t0
        hyps, refs = [fmt.detokenize(t) for t in out_toks], [t for _, t in pairs]
        out = corpus_scores(hyps, refs)
        out.update(output="detokenised, " + ("cased" if fmt.cased else "lowercased"), references="raw")
        if fmt.changes_text:  # the same output against references put through the training text's normalisation
            norm = corpus_scores(hyps, [fmt.normalised(r) for r in refs])
            out.update(bleu_normalised=norm["bleu"], chrf_normalised=norm["chrf"], normalised_text=fmt.describe())
        out.update(
            beam_size=K,
            n=len(pairs),
            decode_seconds=dt,
            sentences_per_s=len(pairs) / max(dt, 1e-9),
            exact_match=sum(h == t for h, t in zip(hyps, refs, strict=True)) / len(pairs),
            samples=[{"source": s, "reference": t, "output": h} for (s, t), h in zip(pairs[:5], hyps, strict=False)],
        )
        return out

    def test_report(self, splits: Splits) -> dict[str, Any] | None:
        """Greedy and (decode.beam_size > 1) beam scores of the test split, with the run's facts."""
        if splits.test is None:
            return None
        K = self.config.decode.beam_size
        report: dict[str, Any] = {"greedy": self.evaluate(splits.test, beam_size=1)}
        if K > 1:
            report[f"beam{K}"] = self.evaluate(splits.test, beam_size=K)
        n = lambda x: len(x) if x else 0  # noqa: E731
        report.update(
            pairs={"train": n(splits.train), "val": n(splits.val), "test": n(splits.test)},
            steps=int(self.require_model().get_buffer("train_steps")),
            train_seconds=round(getattr(self, "train_seconds", 0.0), 1),
        )
        return report

    def eval_data(self, path: Path | None) -> Any:
        return None if path is None else self.read_eval_data(path)  # None: resolved in evaluate_runs
