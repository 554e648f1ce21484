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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.config import CellConfig, DataConfig, RunConfig, TrainConfig, _check, _one_of
from rnnkit.data.audio_features import KINDS, FeatureSpec
from rnnkit.data.readers import ClassificationData
from rnnkit.tasks.base import Splits, Task, stop_on_metric
from rnnkit.tasks.classify.task import Classifier, ClassifierModelConfig, random_split
from rnnkit.tasks.speech import data as speech_data
from rnnkit.tasks.speech.model import SpeechNet

SPLITS = ("auto", "index", "speaker", "random")
NORMALIZE = ("global", "utterance")


@dataclass(frozen=True)
class SpeechModelConfig(ClassifierModelConfig):
    """The classifier's encoder and head over feature frames, and SpecAugment (0 masks: off)."""

    cell: CellConfig = field(default_factory=lambda: CellConfig(name="gru"))
    hidden_size: int = 128
    bidirectional: bool = True
    input: str = "numeric"  # feature frames; the only input speech has
    pooling: str = "mean"
    embed_dropout: float = 0.1  # dropout on the standardised feature frames
    freq_masks: int = 2  # SpecAugment (Park et al. 2019): masks over feature channels per utterance (0: off)
    freq_width: int = 8  # ... each at most this many channels wide
    time_masks: int = 2  # masks over frames per utterance (FSDD: 99.7% with 2 + 2, 98.3% without; RESULTS.md)
    time_width: int = 10  # ... each at most this many frames (and a fifth of the utterance)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(
            self.input == "numeric",
            "model.input",
            f"speech reads feature frames: must be 'numeric', got {self.input!r}",
        )
        _check(self.pooling != "auto", "model.pooling", "give last, mean, max or attention")
        for k in ("freq_masks", "freq_width", "time_masks", "time_width"):
            _check(getattr(self, k) >= 0, f"model.{k}", f"must be >= 0, got {getattr(self, k)}")


@dataclass(frozen=True)
class SpeechDataConfig(DataConfig):
    """Which recordings, their labels and split, and the features computed from them."""

    sample_rate: int = 0  # Hz the model reads; 0: the training files' most common rate (others are resampled)
    features: str = "logmel"  # logmel | mfcc
    n_mels: int = 40
    n_mfcc: int = 13
    win_ms: float = 25.0
    hop_ms: float = 10.0
    normalize: str = "global"  # global: training mean/std per channel | utterance: each utterance's own
    max_seconds: float = 60.0  # longer files are refused (0: no limit)
    label_pattern: str = speech_data.FSDD_PATTERN  # regex over the file stem: (?P<label>) and optional speaker/index
    split: str = "auto"  # auto | index (index < test_below is test) | speaker (test_speaker) | random
    test_below: int = 5  # FSDD: recordings 0-4 of each speaker and digit are the test set
    test_speaker: str = ""
    test_fraction: float = 0.15
    split_seed: int = 2024
    cache: str = "auto"  # auto ($RNNKIT_CACHE/speech or ~/.cache/rnnkit/speech) | off | a folder
    class_weights: str = "none"  # none | balanced
    max_len: int = 0  # frames; longer utterances are truncated with a warning (0: no limit)

    def __post_init__(self) -> None:
        super().__post_init__()
        _one_of(self.features, "data.features", KINDS)
        _one_of(self.normalize, "data.normalize", NORMALIZE)
        _one_of(self.split, "data.split", SPLITS)
        _one_of(self.class_weights, "data.class_weights", ("none", "balanced"))
        _check(
            self.sample_rate >= 0, "data.sample_rate", f"must be >= 0 Hz (0: from the files), got {self.sample_rate}"
        )
        _check(self.n_mels >= 2, "data.n_mels", f"must be >= 2, got {self.n_mels}")
        _check(
            1 <= self.n_mfcc <= self.n_mels,
            "data.n_mfcc",
            f"must be in [1, data.n_mels={self.n_mels}], got {self.n_mfcc}",
        )
        _check(
            0 < self.hop_ms <= self.win_ms,
            "data.hop_ms",
            f"must be in (0, data.win_ms={self.win_ms}], got {self.hop_ms}",
        )
        _check(self.max_seconds >= 0, "data.max_seconds", f"must be >= 0 (0: no limit), got {self.max_seconds}")
        _check(0.0 < self.test_fraction < 1.0, "data.test_fraction", f"must be in (0, 1), got {self.test_fraction}")

    def spec(self, rate: int) -> FeatureSpec:
        return FeatureSpec.from_ms(
            self.features, rate, win_ms=self.win_ms, hop_ms=self.hop_ms, n_mels=self.n_mels, n_mfcc=self.n_mfcc
        )

    def cache_dir(self) -> Path | None:
        if self.cache == "off":
            return None
        return speech_data.default_cache_dir() if self.cache == "auto" else Path(self.cache)


def _speech_train() -> TrainConfig:
    return stop_on_metric(lr=2e-3, patience=8, epochs=40)


@dataclass(frozen=True)
class SpeechConfig(RunConfig):
    task: str = "speech"
    run_dir: str = ""
    model: SpeechModelConfig = field(default_factory=SpeechModelConfig)
    data: SpeechDataConfig = field(default_factory=SpeechDataConfig)
    train: TrainConfig = field(default_factory=_speech_train)


# ---- the task ---------------------------------------------------------------------------------------------


class SpeechRecognizer(Classifier):
    """Train, evaluate and use an isolated-word recogniser; see the module docstring."""

    name = "speech"
    Config = SpeechConfig

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
