"""Isolated-word speech recognition: a folder of recordings -> one word (class) per recording.

The classification task with audio in front: wav/flac files (``rnnkit.data.audio``: mono, resampled to the model's
rate) -> log-mel or MFCC frames (``rnnkit.data.audio_features``, librosa's numbers; computed once and cached, see
``tasks/speech/data.py``) -> standardised with the training set's per-channel mean and std (``normalize=global``)
or each utterance's own (``utterance``) -> ``SpeechNet``: SpecAugment masks while training, then the classifier
network (a bidirectional recurrent stack over the frames, any registered cell, mean pooling, a linear layer) ->
cross-entropy. Everything after the features - training, ``best`` by validation accuracy, the report with the
confusion matrix, ensembles - is ``Classifier``'s.

Free Spoken Digit Dataset: ``rnnkit speech train --data .../fsdd/recordings`` reads the labels from the file names
(``{digit}_{speaker}_{index}.wav``) and uses its official split (index 0-4 test, 5-49 training); validation is a
seeded part of the training recordings.

Shape letters: N batch, T frames, D features, H hidden, C classes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.data.readers import ClassificationData
from rnnkit.moved import names
from rnnkit.tasks.base import Splits, Task
from rnnkit.tasks.classify.data import random_split
from rnnkit.tasks.classify.task import Classifier
from rnnkit.tasks.speech import data as speech_data
from rnnkit.tasks.speech.config import SpeechConfig
from rnnkit.tasks.speech.model import SpeechNet


class SpeechRecognizer(Classifier):
    """Train, evaluate and use an isolated-word recogniser; see the module docstring."""

    name = "speech"
    Config = SpeechConfig
    model: SpeechNet | None  # build_model's network (fit and load set it)

    def __init__(self, config: SpeechConfig | None = None) -> None:
        super().__init__(config)
        self.sample_rate = 0  # the model's rate: from the config, else the training files (task.json keeps it)

    # -- data --
    def _source(self) -> Path:
        return speech_data.recordings_source(self.config.data)

    def _recordings(self, source: str | os.PathLike) -> list[speech_data.Recording]:
        return speech_data.list_recordings(source, pattern=self.config.data.label_pattern)

    def _features(self, recs: Sequence[speech_data.Recording], source: str) -> ClassificationData:
        """The recordings as a ClassificationData of (T, D) float32 frames (read from / written to the cache)."""
        d = self.config.data
        feats, notes = speech_data.compute_features(
            [r.path for r in recs], d.spec(self.sample_rate), max_seconds=d.max_seconds, cache_dir=d.cache_dir()
        )
        return ClassificationData([self._normalized(x) for x in feats], [r.label for r in recs], source, notes=notes)

    def _normalized(self, x: np.ndarray) -> np.ndarray:
        if self.config.data.normalize == "utterance":  # cepstral mean and variance normalisation per utterance
            return ((x - x.mean(0)) / (x.std(0) + 1e-5)).astype(np.float32)
        return x

    def load_data(self) -> Splits:
        d = self.config.data
        src = self._source()
        recs = self._recordings(src)
        if d.test_path:
            train, test, how = recs, self._recordings(d.test_path), f"test set: {d.test_path}"
        else:
            train, test, how = speech_data.split_recordings(
                recs,
                split=d.split,
                test_below=d.test_below,
                test_speaker=d.test_speaker,
                test_fraction=d.test_fraction,
                seed=d.split_seed,
            )
        if not self.sample_rate:
            self.sample_rate = d.sample_rate or speech_data.common_rate(train)
        spec = d.spec(self.sample_rate)
        tr = self._features(train, str(src))
        te = self._features(test, str(d.test_path or src))
        val = None
        if d.val_path:
            val = self._features(self._recordings(d.val_path), d.val_path)
        elif d.val_fraction > 0:
            tr, val = random_split(tr, d.val_fraction, d.split_seed + 1)
        notes = [
            how,
            f"{spec.kind} features: {spec.dim} per frame at {spec.rate} Hz, window {spec.win} samples, "
            f"hop {spec.hop}, normalised {d.normalize}",
        ]
        for n in (*tr.notes, *te.notes):
            if n not in notes:
                notes.append(n)
        return Splits(tr, val, te, notes=notes)

    def describe_data(self, splits: Splits) -> str:
        n = lambda x: "none" if x is None else f"{len(x):,}"  # noqa: E731
        return f"{n(splits.train)} training, {n(splits.val)} validation, {n(splits.test)} test recordings"

    def prepare(self, train: ClassificationData) -> None:
        super().prepare(train)
        if self.config.data.normalize == "utterance":  # already standardised per utterance: no global scaler
            self.scaler = (np.zeros(self.input_size, np.float32), np.ones(self.input_size, np.float32))

    def _decide_input(self, train: ClassificationData) -> None:
        m = self.config.model
        bi = "bidirectional" if m.bidirectional else "one direction"
        self.notes.append(
            f"{bi} {m.cell.name.upper()} {m.num_layers}x{m.hidden_size}, {m.pooling} pooling"
            + (
                f", SpecAugment {m.freq_masks} frequency / {m.time_masks} time masks"
                if m.freq_masks or m.time_masks
                else ""
            )
        )

    def build_model(self) -> SpeechNet:
        net = SpeechNet(self.config.model, num_classes=len(self.classes), input_size=self.input_size)
        if self.class_weight is not None:
            net.class_weight.copy_(torch.as_tensor(self.class_weight, dtype=torch.float32))
        return net

    def onnx_spec(self, model: Any, *, exporting: bool) -> Any:
        from rnnkit.tasks.speech.onnx import speech_spec

        return speech_spec(self, model)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "sample_rate": self.sample_rate}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.sample_rate = int(state["sample_rate"])

    # -- inference --
    def featurize(self, inputs: Sequence[Any]) -> tuple[list[np.ndarray], list[str]]:
        """Audio files (paths) or mono waveforms at the run's rate ((S,) arrays) -> normalised feature frames, and
        notes on what was done to the files (resampled, downmixed)."""
        d = self.config.data
        out, notes = speech_data.featurize_inputs(list(inputs), d.spec(self.sample_rate), max_seconds=d.max_seconds)
        return [self._normalized(x) for x in out], notes

    def predict_proba(self, inputs: Sequence[Any], *, batch_size: int = 256) -> tuple[np.ndarray, list[np.ndarray]]:
        """Class probabilities (N, C) of audio files or waveforms, in input order (and attention weights)."""
        self.require_model()
        feats, _ = self.featurize(inputs)
        return self._proba(self.encode_inputs(feats), batch_size)

    def read_eval_data(self, path: Path) -> ClassificationData:
        return self._features(self._recordings(path), str(path))

    def read_predict_file(self, path: Path) -> list[Any]:
        return Task.read_predict_file(self, path)

    def attention(self, text_or_series: Any) -> Any:
        raise ValueError("speech runs do not show attention weights per frame yet")


# the config sections moved to config.py (0.2): still importable from here, with a warning
__getattr__ = names(__name__)
