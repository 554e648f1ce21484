"""The classify task's configuration: what the input is and how it is encoded, pooled and split.

``ClassifierConfig`` composes the model, data and training sections; a run's ``config.json`` is one of these, and
``auto`` settings are settled from the training data by ``Classifier.prepare`` (and written back to config.json).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnkit.config import ConfigError, DataConfig, ModelConfig, RunConfig, TrainConfig, _one_of
from rnnkit.data import formats
from rnnkit.data.images import SEQUENCE_MODES
from rnnkit.models.heads import POOLINGS
from rnnkit.tasks.base import stop_on_metric

INPUTS = ("char", "word", "numeric", "image")


@dataclass(frozen=True)
class ClassifierModelConfig(ModelConfig):
    """Encoder and head: what the input is, its embedding, and how the sequence is pooled. ``auto`` settings are
    chosen from the training data by ``Classifier.prepare`` (and written to the run's config.json)."""

    hidden_size: int = 128  # a middle size for sets of 1k-20k examples; recipes raise it (names: 256, RESULTS.md)
    bidirectional: bool = True  # a label depends on the whole sequence: read it both ways
    input: str = "auto"  # char | word | numeric | image | auto (images -> image; series -> numeric; >= 3 tokens per
    # line -> word; else char)
    embed_size: int = 0  # char / word embedding size; 0: 64 for char, 128 for word input (ignored for numeric)
    embed_dropout: float = 0.3  # dropout on the embedded (or numeric) input
    pooling: str = "auto"  # last | mean | max | attention | auto (char -> last, word / numeric -> mean)
    head_dropout: float = 0.3  # dropout on the pooled vector
    word_dropout: float = 0.0  # training only: each token becomes <unk> with this probability (Iyyer et al. 2015)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.input not in (*INPUTS, "auto"):
            raise ConfigError(f"model.input must be one of {INPUTS} or 'auto', got {self.input!r}")
        if self.pooling not in (*POOLINGS, "auto"):
            raise ConfigError(f"model.pooling must be one of {POOLINGS} or 'auto', got {self.pooling!r}")
        if self.embed_size < 0:
            raise ConfigError(f"model.embed_size must be >= 1 (0: chosen from the input), got {self.embed_size}")
        if not 0.0 <= self.word_dropout < 1.0:
            raise ConfigError(f"model.word_dropout must be in [0, 1), got {self.word_dropout}")
        if self.word_dropout and self.input in ("numeric", "image"):
            raise ConfigError(
                f"model.word_dropout applies to char/word tokens; set it to 0 for model.input={self.input!r}"
            )


@dataclass(frozen=True)
class ClassifierDataConfig(DataConfig):
    """Which examples, how they are split, and how text becomes tokens."""

    test_fraction: float = 0.15  # random test split when there is no official one (names: 85/15)
    split_seed: int = 2024  # seed of the random test split (the PyTorch names tutorial uses 2024)
    folds: int = 0  # k-fold cross-validation (MR: 10); 0 = off
    fold: int = 0  # which fold is the test set when folds > 0
    max_len: int = 0  # truncate longer sequences (warning + count); 0 = no limit
    lowercase: bool = False  # the text as its authors wrote it; case can carry the class (names, emphasis)
    min_freq: int = 1  # word vocabulary: rarer tokens map to <unk> (1: every training word gets an embedding)
    encoding: str = "utf-8"  # for files given by path (the bundled data sets are UTF-8)
    format: str = "auto"  # files by path: auto | tab | space | fasttext | csv (docs/formats.md)
    text_col: str = "auto"  # csv/tsv: text column (header name or 0-based index); auto: text, sentence, review...
    label_col: str = "auto"  # csv/tsv: label column (name or index); tab/space: first or last; auto: detected
    class_weights: str = "none"  # none | balanced (n / (C * count_c), for imbalanced classes)
    image_sequence: str = "rows"  # images: rows (T=H steps of W*C) | pixels (T=H*W of C) | permuted (fixed order)
    permutation_seed: int = 0  # images, image_sequence='permuted': seed of the pixel order (saved in task.json)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"data.test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.folds and not 0 <= self.fold < self.folds:
            raise ConfigError(f"data.fold must be in [0, data.folds={self.folds}), got {self.fold}")
        if self.class_weights not in ("none", "balanced"):
            raise ConfigError(f"data.class_weights must be 'none' or 'balanced', got {self.class_weights!r}")
        _one_of(self.image_sequence, "data.image_sequence", SEQUENCE_MODES)
        if self.format not in formats.FORMATS:
            raise ConfigError(f"data.format must be one of {formats.FORMATS}, got {self.format!r}")

    def reader_options(self) -> dict[str, str]:
        """What ``readers.read_classification`` needs for files given by path."""
        return {
            "encoding": self.encoding,
            "format": self.format,
            "text_col": self.text_col,
            "label_col": self.label_col,
        }


@dataclass(frozen=True)
class ClassifierConfig(RunConfig):
    """A classify run: model, data and training sections (its config.json)."""

    task: str = "classify"
    run_dir: str = ""  # "": nothing written (the CLI's default is runs/<task>)
    model: ClassifierModelConfig = field(default_factory=ClassifierModelConfig)
    data: ClassifierDataConfig = field(default_factory=ClassifierDataConfig)
    # a metric judges a classifier: stop when validation accuracy has not improved for 5 evaluations
    train: TrainConfig = field(default_factory=lambda: stop_on_metric(lr=2e-3, patience=5))
    image_defaults: bool = True  # image input: train with images.image_defaults where the config left classify's
