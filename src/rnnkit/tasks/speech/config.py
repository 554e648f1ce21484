"""The speech task's configuration: the classifier over feature frames, SpecAugment, and how recordings become
labelled, split feature frames.

``SpeechDataConfig`` is also the recordings section of the connected-word task (``speech_ctc.config``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rnnkit.config import CellConfig, DataConfig, RunConfig, TrainConfig, _check, _one_of
from rnnkit.data.audio_features import KINDS, FeatureSpec
from rnnkit.tasks.base import stop_on_metric
from rnnkit.tasks.classify.config import ClassifierModelConfig
from rnnkit.tasks.speech.data import FSDD_PATTERN, default_cache_dir

SPLITS = ("auto", "index", "speaker", "random")
NORMALIZE = ("global", "utterance")


@dataclass(frozen=True)
class SpeechModelConfig(ClassifierModelConfig):
    """The classifier's encoder and head over feature frames, and SpecAugment (0 masks: off)."""

    cell: CellConfig = field(default_factory=lambda: CellConfig(name="gru"))
    hidden_size: int = 128  # FSDD's digits: 1x128 reaches 99.7% on the official test split (RESULTS.md)
    bidirectional: bool = True  # a word is known from its whole length: read the frames both ways
    input: str = "numeric"  # feature frames; the only input speech has
    pooling: str = "mean"  # every frame votes: where the word sits in the recording does not matter
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
    n_mels: int = 40  # a common mel filter bank size for small-vocabulary recognisers
    n_mfcc: int = 13  # the classic 13 cepstra
    win_ms: float = 25.0  # the standard speech window: a few pitch periods, short enough to be stationary
    hop_ms: float = 10.0  # the standard frame rate, 100 frames a second
    normalize: str = "global"  # global: training mean/std per channel | utterance: each utterance's own
    max_seconds: float = 60.0  # longer files are refused (0: no limit)
    label_pattern: str = FSDD_PATTERN  # regex over the file stem: (?P<label>) and optional speaker/index
    split: str = "auto"  # auto | index (index < test_below is test) | speaker (test_speaker) | random
    test_below: int = 5  # FSDD: recordings 0-4 of each speaker and digit are the test set
    test_speaker: str = ""
    test_fraction: float = 0.15  # split=random: as classify's random test split
    split_seed: int = 2024  # split=random: as classify's
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
        """The feature settings at ``rate`` Hz (the run's rate, known once the training files are read)."""
        return FeatureSpec.from_ms(
            self.features, rate, win_ms=self.win_ms, hop_ms=self.hop_ms, n_mels=self.n_mels, n_mfcc=self.n_mfcc
        )

    def cache_dir(self) -> Path | None:
        """Where the features are cached; None: not cached."""
        if self.cache == "off":
            return None
        return default_cache_dir() if self.cache == "auto" else Path(self.cache)


def _speech_train() -> TrainConfig:
    return stop_on_metric(lr=2e-3, patience=8, epochs=40)


@dataclass(frozen=True)
class SpeechConfig(RunConfig):
    """A speech run: model, data and training sections (its config.json)."""

    task: str = "speech"
    run_dir: str = ""
    model: SpeechModelConfig = field(default_factory=SpeechModelConfig)
    data: SpeechDataConfig = field(default_factory=SpeechDataConfig)
    # judged by validation accuracy; small data sets move slowly: more epochs and patience than classify's
    train: TrainConfig = field(default_factory=_speech_train)
