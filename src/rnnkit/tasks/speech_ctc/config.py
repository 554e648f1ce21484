"""The connected-word task's configuration: the CTC acoustic model, the recordings (as the speech task reads them)
and the digit strings drawn from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnkit.config import CellConfig, ModelConfig, RunConfig, TrainConfig, _check
from rnnkit.tasks.speech.config import SpeechDataConfig


@dataclass(frozen=True)
class CTCModelConfig(ModelConfig):
    """The acoustic model: frames stacked in time, a recurrent stack, a linear layer to the words and the blank."""

    cell: CellConfig = field(default_factory=lambda: CellConfig(name="gru"))
    hidden_size: int = 128  # FSDD digit strings: 2x128 reaches WER 0.9%, CER 0.5% (RESULTS.md)
    num_layers: int = 2  # the setting of the RESULTS.md runs
    bidirectional: bool = True  # a word is known once heard whole: the backward direction has heard its end
    dropout: float = 0.1  # between the recurrent layers
    input_dropout: float = 0.1  # on the standardised feature frames
    head_dropout: float = 0.2  # before the output layer
    subsample: int = 2  # stack this many adjacent frames into one step (T / subsample steps; 2: 20 ms steps)
    freq_masks: int = 0  # SpecAugment, as in the speech task (0: off, as in the RESULTS.md runs)
    freq_width: int = 8
    time_masks: int = 0
    time_width: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.subsample >= 1, "model.subsample", f"must be >= 1, got {self.subsample}")
        for k in ("input_dropout", "head_dropout"):
            _check(0 <= getattr(self, k) < 1, f"model.{k}", f"is a probability in [0, 1), got {getattr(self, k)}")


@dataclass(frozen=True)
class CTCDataConfig(SpeechDataConfig):
    """The recordings (as the speech task reads them) and the strings made from them."""

    batch_size: int = 16  # 4 words a string on average: 16 strings hold twice the words of speech's 32
    strings: int = 3000  # training strings (validation: val_fraction of this many, from validation recordings)
    test_strings: int = 500
    min_words: int = 1
    max_words: int = 7  # as TIDIGITS' strings (1-7 digits)
    max_gap_ms: float = 300.0  # silence before, between and after the words: uniform in 0..this
    noise: float = 0.0  # std of Gaussian noise added to each string (0: none)
    string_seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.strings >= 1 and self.test_strings >= 1, "data.strings", "strings and test_strings must be >= 1")
        _check(
            1 <= self.min_words <= self.max_words,
            "data.min_words",
            f"must be in [1, data.max_words={self.max_words}], got {self.min_words}",
        )
        _check(self.max_gap_ms >= 0 and self.noise >= 0, "data.max_gap_ms", "max_gap_ms and noise must be >= 0")


def _ctc_train() -> TrainConfig:
    return TrainConfig(unit="samples", epochs=40, patience=6, lr=2e-3)


@dataclass(frozen=True)
class CTCConfig(RunConfig):
    """A speech-ctc run: model, data and training sections (its config.json)."""

    task: str = "speech-ctc"
    run_dir: str = ""
    model: CTCModelConfig = field(default_factory=CTCModelConfig)
    data: CTCDataConfig = field(default_factory=CTCDataConfig)
    # judged by the validation CTC loss (no metric: the default monitor), patience 6 evaluations
    train: TrainConfig = field(default_factory=_ctc_train)
