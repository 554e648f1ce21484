"""Connected speech with CTC: recordings -> the sequence of words they hold (connected digit strings).

Data: a folder of isolated recordings (labels from the file names, as the ``speech`` task reads them) is split
first - FSDD's official split, or by speaker, or at random - and the training part once more into training and
validation recordings; then ``data.make_strings`` draws 1-7-word strings from each part separately, with random
silences (and optional noise), deterministic from ``data.string_seed``. A test string therefore only ever holds
test recordings. A CSV of ``path,transcript`` rows (space-separated words) is read as it is instead.

Model (``CTCNet``): SpecAugment while training -> adjacent frames stacked (``model.subsample``: 2 halves T) ->
a bidirectional recurrent stack (any registered cell) -> a linear layer to V words + the blank -> log-softmax.
Loss: ``torch.nn.functional.ctc_loss`` (Graves et al. 2006, eq. 14) summed per utterance, averaged over the batch.
Decoding: greedy best path (``ctc.greedy_decode``) or prefix beam search (``ctc.beam_decode``); scored by WER over
words and CER over characters.

Shape letters: N batch, T frames, D features, H hidden, V words (+1: the blank, id 0).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.data.audio_features import features
from rnnkit.data.sequences import BucketBatches
from rnnkit.data.sources import DataError
from rnnkit.moved import names
from rnnkit.tasks.base import Splits, Task
from rnnkit.tasks.speech import data as speech_data
from rnnkit.tasks.speech_ctc import ctc
from rnnkit.tasks.speech_ctc.config import CTCConfig
from rnnkit.tasks.speech_ctc.data import (
    Transcribed,
    collate,
    make_strings,
    render,
    split_transcribed,
    split_validation,
)
from rnnkit.tasks.speech_ctc.model import CTCNet
from rnnkit.train import StepOutput


def ctc_sum(model: nn.Module, batch: tuple[Tensor, ...]) -> Tensor:
    """The batch's summed CTC loss: -log p(words | utterance) over all alignments, per utterance, added up."""
    x, lengths, y, tlen = batch
    logp, out_len = model(x, lengths)  # (N, T', V+1)
    return F.ctc_loss(logp.transpose(0, 1), y, out_len, tlen, blank=ctc.BLANK, reduction="sum", zero_infinity=True)


def _step(model: nn.Module, batch: tuple[Tensor, ...], state: Any) -> StepOutput:
    n = int(batch[0].shape[0])
    return StepOutput(ctc_sum(model, batch) / n, None, n)


class SpeechCTC(Task):
    """Train, evaluate and use a CTC recogniser of connected words; see the module docstring."""

    name = "speech-ctc"
    Config = CTCConfig
    model: CTCNet | None  # build_model's network (fit and load set it)

    def __init__(self, config: CTCConfig | None = None) -> None:
        super().__init__(config)
        self.words: list[str] = []  # id k+1 <-> words[k]; 0 is the blank
        self.scaler: tuple[np.ndarray, np.ndarray] | None = None
        self.input_size = 0
        self.sample_rate = 0

    # -- data --
    def _strings(self, recs: list[speech_data.Recording], n: int, seed: int, notes: list[str]) -> Transcribed:
        d = self.config.data
        spec = d.spec(self.sample_rate)
        waves, said = speech_data.read_waves([r.path for r in recs], self.sample_rate, max_seconds=d.max_seconds)
        notes += [x for x in said if x not in notes]
        gap = int(round(d.max_gap_ms * self.sample_rate / 1000))
        made = make_strings(
            [r.label for r in recs], n, min_len=d.min_words, max_len=d.max_words, max_gap=gap, seed=seed
        )
        feats = [self._normalized(features(render(s, waves, noise=d.noise), spec)) for s in made]
        return Transcribed(feats, [s.labels for s in made], f"{n} strings from {len(recs)} recordings")

    def _transcripts(self, path: str | os.PathLike, notes: list[str]) -> Transcribed:
        d = self.config.data
        recs = speech_data.list_recordings(path)
        feats, said = speech_data.compute_features(
            [r.path for r in recs], d.spec(self.sample_rate), max_seconds=d.max_seconds, cache_dir=d.cache_dir()
        )
        notes += [x for x in said if x not in notes]
        return Transcribed([self._normalized(x) for x in feats], [tuple(r.label.split()) for r in recs], str(path))

    def _normalized(self, x: np.ndarray) -> np.ndarray:
        if self.config.data.normalize == "utterance":
            return ((x - x.mean(0)) / (x.std(0) + 1e-5)).astype(np.float32)
        return x

    def load_data(self) -> Splits:
        d = self.config.data
        src = speech_data.recordings_source(d)
        notes: list[str] = []
        if src.is_file():  # a CSV of path,transcript: the utterances as they are, a seeded random test split
            recs = speech_data.list_recordings(src)
            if not self.sample_rate:
                self.sample_rate = d.sample_rate or speech_data.common_rate(recs)
            every = self._transcripts(src, notes)
            train_rows, val_rows, held = split_transcribed(
                len(every),
                test_fraction=d.test_fraction,
                val_fraction=d.val_fraction,
                seed=d.split_seed,
                test_given=bool(d.test_path),
            )
            test_part = self._transcripts(d.test_path, notes) if d.test_path else every.subset(held)
            return Splits(
                every.subset(train_rows),
                every.subset(val_rows) if val_rows else None,
                test_part,
                notes=[f"{src.name}: transcripts as given", *notes],
            )
        recs = speech_data.list_recordings(src, pattern=d.label_pattern)
        train, test, how = speech_data.split_recordings(
            recs,
            split=d.split,
            test_below=d.test_below,
            test_speaker=d.test_speaker,
            test_fraction=d.test_fraction,
            seed=d.split_seed,
        )
        val_recs: list[speech_data.Recording] = []
        if d.val_fraction > 0:  # validation recordings are a seeded part of the training recordings
            train, val_recs = split_validation(train, d.val_fraction, d.split_seed + 1)
        if not self.sample_rate:
            self.sample_rate = d.sample_rate or speech_data.common_rate(train)
        s = d.string_seed
        tr = self._strings(train, d.strings, s, notes)
        val = self._strings(val_recs, max(1, round(d.strings * d.val_fraction)), s + 1, notes) if val_recs else None
        te = self._strings(test, d.test_strings, s + 2, notes)
        notes.insert(
            0,
            f"{how}; strings of {d.min_words}-{d.max_words} words drawn from each part separately "
            f"(seed {s}), silences up to {d.max_gap_ms:g} ms",
        )
        return Splits(tr, val, te, notes=notes)

    def describe_data(self, splits: Splits) -> str:
        n = lambda x: "none" if x is None else f"{len(x):,}"  # noqa: E731
        return f"{n(splits.train)} training, {n(splits.val)} validation, {n(splits.test)} test utterances"

    def prepare(self, train: Transcribed) -> None:
        """Words and the feature scaler from the training utterances only."""
        self.words = sorted({w for ws in train.words for w in ws})
        allx = np.concatenate(train.inputs)  # (sum T, D)
        self.input_size = allx.shape[1]
        if self.config.data.normalize == "global":
            self.scaler = (allx.mean(0), allx.std(0) + 1e-8)
        else:
            self.scaler = (np.zeros(self.input_size, np.float32), np.ones(self.input_size, np.float32))
        m = self.config.model
        self.notes.append(
            f"{len(self.words)} words; {'bidirectional ' if m.bidirectional else ''}"
            f"{m.cell.name.upper()} {m.num_layers}x{m.hidden_size} over every {m.subsample} frames, "
            "CTC with a blank"
        )

    def build_model(self) -> CTCNet:
        return CTCNet(self.config.model, input_size=self.input_size, num_words=len(self.words))

    def encode(self, data: Transcribed) -> list[tuple[np.ndarray, list[int]]]:
        index = {w: i + 1 for i, w in enumerate(self.words)}
        bad = sorted({w for ws in data.words for w in ws} - set(index))
        if bad:
            raise DataError(f"{data.source}: words {bad[:10]} were not seen in training (known: {self.words[:20]})")
        return [(self._scaled(x), [index[w] for w in ws]) for x, ws in zip(data.inputs, data.words, strict=True)]

    def _scaled(self, x: np.ndarray) -> np.ndarray:
        assert self.scaler is not None  # prepare (fit) or load_state_dict (load) sets it
        mean, std = self.scaler
        return ((x - mean) / std).astype(np.float32)

    def make_batches(self, train: Transcribed, val: Transcribed | None) -> tuple[Any, Any]:
        d, seed = self.config.data, self.config.train.seed
        tb = BucketBatches(self.encode(train), d.batch_size, collate_fn=collate, seed=seed)
        vb = None
        if val is not None and len(val):
            vb = BucketBatches(self.encode(val), d.eval_batch_size or d.batch_size, collate_fn=collate, shuffle=False)
        return tb, vb

    step = staticmethod(_step)

    def onnx_spec(self, model: nn.Module, *, exporting: bool) -> Any:
        from rnnkit.tasks.speech_ctc.onnx import ctc_spec

        return ctc_spec(self, model)

    def state_dict(self) -> dict[str, Any]:
        assert self.scaler is not None  # prepare (fit) or load_state_dict (load) sets it
        return {
            "words": self.words,
            "scaler": [a.tolist() for a in self.scaler],
            "input_size": self.input_size,
            "sample_rate": self.sample_rate,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.words = list(state["words"])
        mean, std = state["scaler"]
        self.scaler = (np.asarray(mean, dtype=np.float32), np.asarray(std, dtype=np.float32))
        self.input_size, self.sample_rate = int(state["input_size"]), int(state["sample_rate"])

    # -- inference and scores --
    def _decode(self, feats: list[np.ndarray], *, beam: int = 0, batch_size: int = 64) -> list[tuple[str, ...]]:
        """Transcripts of scaled frames in input order: greedy (``beam`` 0) or a width-``beam`` prefix search."""
        model = self.require_model()

        def decode(lp: np.ndarray, n: int) -> list[int]:
            return ctc.beam_decode(lp, beam, n) if beam > 0 else ctc.greedy_decode(lp, n)

        def run(batch: list[np.ndarray]) -> list[tuple[str, ...]]:
            x, lengths, _, _ = collate([(a, []) for a in batch])
            logp, out_len = model(x.to(self.device), lengths.to(self.device))  # (N, T', V+1)
            return [
                tuple(self.words[k - 1] for k in decode(logp[i].cpu().numpy(), int(out_len[i])))
                for i in range(len(batch))
            ]

        return self.infer(feats, run, batch_size=batch_size)

    def evaluate(self, data: Transcribed, *, beam: int = 8, **_: Any) -> dict[str, Any]:
        """WER, CER and exact-string accuracy of greedy decoding (and, under "beam", of a width-``beam`` prefix beam
        search; 0: none); the mean CTC loss per utterance; a few examples."""
        items = self.encode(data)
        hyps = self._decode([x for x, _ in items])
        model = self.require_model()
        total = 0.0
        with self.inference():
            for b in BucketBatches(items, 64, collate_fn=collate, shuffle=False).epoch(0):
                total += float(ctc_sum(model, b))
        out: dict[str, Any] = ctc.error_rates(data.words, hyps)  # and the loss, counts, examples
        out.update(
            loss=total / len(items),
            n=len(items),
            examples=[{"ref": " ".join(r), "hyp": " ".join(h)} for r, h in zip(data.words[:5], hyps[:5], strict=False)],
        )
        if beam > 0:
            out["beam"] = {"width": beam, **ctc.error_rates(data.words, self._decode([x for x, _ in items], beam=beam))}
        return out

    def test_report(self, splits: Splits) -> dict[str, Any] | None:
        return self.evaluate(splits.test) if splits.test is not None else None

    def read_eval_data(self, path: Path) -> Transcribed:
        """A CSV of path,transcript as it is; a folder of recordings: test_strings strings drawn from all of them."""
        p = Path(path)
        notes: list[str] = []
        if p.is_file():
            return self._transcripts(p, notes)
        d = self.config.data
        return self._strings(
            speech_data.list_recordings(p, pattern=d.label_pattern), d.test_strings, d.string_seed + 2, notes
        )

    def predict(self, inputs: Sequence[Any], *, beam: int = 0) -> list[tuple[str, ...]]:
        """The words heard in each audio file (path) or waveform ((S,) array at the run's rate); greedy, or a
        width-``beam`` prefix beam search."""
        self.require_model()
        feats, _ = self._featurize(inputs)
        return self._decode([self._scaled(x) for x in feats], beam=beam)

    def _featurize(self, inputs: Sequence[Any]) -> tuple[list[np.ndarray], list[str]]:
        d = self.config.data
        out, notes = speech_data.featurize_inputs(list(inputs), d.spec(self.sample_rate), max_seconds=d.max_seconds)
        return [self._normalized(x) for x in out], notes

    def posteriors(self, inputs: Sequence[Any]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per input: its feature frames (F, D) before scaling and the model's log-posteriors (T', V+1)."""
        model = self.require_model().eval()
        feats, _ = self._featurize(inputs)
        out = []
        with self.inference():
            for f in feats:
                logp, _ = model(torch.from_numpy(self._scaled(f))[None], torch.tensor([len(f)]))
                out.append((f, logp[0].numpy()))
        return out


# the config sections moved to config.py (0.2): still importable from here, with a warning
__getattr__ = names(__name__)
