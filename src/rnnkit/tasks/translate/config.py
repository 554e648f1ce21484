"""Configuration of the translation task: model, data (sources, splits, text format), objective, decoding.

Every field is a dotted key for ``--config`` files and ``--section.key=value`` overrides; ``TranslatorConfig`` is what
a run folder's ``config.json`` holds. Sources that contradict each other are checked when the data is read
(``TranslatorDataConfig.check_sources``): command-line overrides arrive one key at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnkit.config import CellConfig, CheckpointConfig, DataConfig, ModelConfig, RunConfig, TrainConfig, _check, _one_of
from rnnkit.models.attention import ATTENTIONS
from rnnkit.tasks.translate import data as P

# ---- configuration ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TranslatorModelConfig(ModelConfig):
    """Encoder/decoder sizes and attention. The encoder is always bidirectional (H/2 per direction)."""

    cell: CellConfig = field(default_factory=lambda: CellConfig(name="gru"))  # the recorded fra-eng model's cell
    hidden_size: int = 256  # decoder H (encoder H/2 per direction), as in benchmarks/RESULTS.md's fra-eng figures
    embed_size: int = 128  # the same recorded model
    attention: str = "general"  # bahdanau | dot | general; Luong's "general" is the recorded model's
    input_feed: bool = True  # Luong §3.3: the decoder sees its previous attentional state
    share_embeddings: bool = False  # one matrix for source and target (joint vocabulary)
    tie_output: bool = False  # output matrix = target embedding

    def __post_init__(self) -> None:
        super().__post_init__()
        _one_of(self.attention, "model.attention", ATTENTIONS)
        _check(
            self.hidden_size % 2 == 0,
            "model.hidden_size",
            f"must be even (H/2 per encoder direction), got {self.hidden_size}",
        )


@dataclass(frozen=True)
class TranslatorDataConfig(DataConfig):
    """Which pairs, which direction, how they are split and how text becomes tokens (docs/formats-translate.md).

    The training pool is ``src_path`` + ``tgt_path`` (two parallel files), else ``path`` (a TSV), else ``dataset``.
    Validation: ``val_path`` (TSV) or ``val_src_path`` + ``val_tgt_path``, else ``val_fraction`` of the pool; test
    likewise, else ``test_fraction`` of the pool (0: no test). Files given for validation and test are used whole.
    """

    dataset: str | None = "fra-eng"
    src_path: str | None = None  # two parallel files: source sentences, one per line (.gz ok) ...
    tgt_path: str | None = None  # ... and their translations, line for line
    val_src_path: str | None = None
    val_tgt_path: str | None = None
    test_src_path: str | None = None
    test_tgt_path: str | None = None
    direction: str = ""  # source-target languages; "": fra-eng for the fra-eng dataset, else the file's column order
    columns: str = ""  # languages of a TSV's two columns; "": eng-fra for fra-eng (English first), else = direction
    extra_columns: int = 0  # TSV columns after the two sentences to ignore (Tatoeba's attribution: 1)
    setting: str = "general"  # general (every pair, or <= max_len words) | tutorial (the PyTorch tutorial subset)
    max_len: int = 0  # drop pairs with a side longer than this many words (0: keep all; tutorial: < 10)
    normalize: str = "none"  # none (raw, cased text) | tutorial (ASCII, lowercase, letters and . ! ?)
    lowercase: bool = False  # with normalize=none: train on lowercased text (output is then lowercase)
    level: str = "word"  # word | char
    min_freq: int = 1  # every training token gets an id; unseen ones at test time are <unk>
    test_fraction: float = 0.1  # held-out test part of the pool when no test file is given (0: none)
    val_fraction: float = 0.05  # validation only chooses the checkpoint: a small part is enough
    split_seed: int = 1234  # the seed the recorded fra-eng split (9,284 / 546 / 1,092 pairs) was drawn with
    batch_size: int = 64  # pairs per step, length-bucketed (the recorded model's)

    def __post_init__(self) -> None:
        super().__post_init__()
        _one_of(self.setting, "data.setting", P.SETTINGS)
        _one_of(self.level, "data.level", ("word", "char"))
        _one_of(self.normalize, "data.normalize", P.NORMALIZATIONS)
        _check(
            not self.columns or len(self.columns.split("-")) == 2,
            "data.columns",
            f"two languages like 'eng-fra', got {self.columns!r}",
        )
        _check(
            not self.direction or len(self.direction.split("-")) == 2,
            "data.direction",
            f"source-target like 'fra-eng', got {self.direction!r}",
        )
        _check(self.max_len >= 0, "data.max_len", f"must be >= 0 (0: no limit), got {self.max_len}")
        _check(self.extra_columns >= 0, "data.extra_columns", f"must be >= 0, got {self.extra_columns}")
        _check(0.0 <= self.test_fraction < 1.0, "data.test_fraction", f"must be in [0, 1), got {self.test_fraction}")

    def languages(self) -> tuple[str, str]:
        """(direction, columns) with the defaults filled in: the fra-eng dataset is English<TAB>French and is
        translated French -> English; a user's TSV is source<TAB>target unless --direction / --columns say more."""
        own = not (self.path or self.src_path) and self.dataset == "fra-eng"
        direction = self.direction or ("fra-eng" if own else (self.columns or "src-tgt"))
        return direction, self.columns or ("eng-fra" if own else direction)

    def check_sources(self) -> None:
        """Sources that contradict each other (checked when the data is read: overrides arrive one key at a time)."""
        for part in ("", "val_", "test_"):
            a, b = getattr(self, f"{part}src_path"), getattr(self, f"{part}tgt_path")
            _check(
                (a is None) == (b is None),
                f"data.{part}src_path",
                f"two parallel files go together: give both {part}src_path and {part}tgt_path",
            )
        _check(
            not (self.path and self.src_path), "data.path", "give a TSV (--data) or two files (--src/--tgt), not both"
        )
        _check(not (self.val_path and self.val_src_path), "data.val_path", "give a TSV or two files, not both")
        _check(not (self.test_path and self.test_src_path), "data.test_path", "give a TSV or two files, not both")

    @property
    def text_format(self) -> P.TextFormat:
        return P.TextFormat(normalize=self.normalize, lowercase=self.lowercase, level=self.level)


@dataclass(frozen=True)
class ObjectiveConfig:
    """Teacher forcing schedule and label smoothing."""

    teacher_forcing: float = 1.0  # probability of feeding the gold token at the start of training (1: always)
    teacher_forcing_end: float = 1.0  # ... and after decay_steps optimiser steps (linear in between)
    decay_steps: int = 0  # 0: no schedule, plain teacher forcing
    label_smoothing: float = 0.0  # off unless asked for (the recorded fra-eng model used 0.1)

    def __post_init__(self) -> None:
        for k in ("teacher_forcing", "teacher_forcing_end"):
            _check(0.0 <= getattr(self, k) <= 1.0, f"objective.{k}", f"must be in [0, 1], got {getattr(self, k)}")
        _check(
            0.0 <= self.label_smoothing < 1.0,
            "objective.label_smoothing",
            f"must be in [0, 1), got {self.label_smoothing}",
        )
        _check(self.decay_steps >= 0, "objective.decay_steps", f"must be >= 0, got {self.decay_steps}")

    def ratio(self, step: int) -> float:
        """Teacher-forcing probability at optimiser step ``step`` (linear decay, then constant)."""
        if self.decay_steps == 0:
            return self.teacher_forcing_end if step > 0 else self.teacher_forcing
        f = min(step / self.decay_steps, 1.0)
        return self.teacher_forcing + f * (self.teacher_forcing_end - self.teacher_forcing)


@dataclass(frozen=True)
class DecodeConfig:
    """Decoding defaults for eval and translate (validation BLEU during training is always greedy)."""

    beam_size: int = 5  # 1: greedy; 5 is the recorded beam (+2.1 BLEU over greedy on fra-eng)
    length_penalty: float = 0.0  # GNMT alpha; 0: plain log-probability
    max_len_ratio: float = 2.0  # an output may be twice as long as its source (+ EOS)
    max_len: int = 100  # and never longer than this, EOS included
    batch_size: int = 128  # sentences decoded at once, sorted by length

    def __post_init__(self) -> None:
        _check(self.beam_size >= 1, "decode.beam_size", f"must be >= 1, got {self.beam_size}")
        _check(
            self.max_len_ratio > 0 and self.max_len >= 1, "decode.max_len_ratio", "must be > 0, and decode.max_len >= 1"
        )


def _translate_train() -> TrainConfig:
    # best = highest validation BLEU (Task.val_metrics), not lowest loss: the loss rewards hedged distributions
    return TrainConfig(unit="tokens", epochs=10, checkpoint=CheckpointConfig(monitor="val_bleu", mode="max"))


@dataclass(frozen=True)
class TranslatorConfig(RunConfig):
    task: str = "translate"
    run_dir: str = ""  # "": nothing written (the CLI's default is runs/translate)
    model: TranslatorModelConfig = field(default_factory=TranslatorModelConfig)
    data: TranslatorDataConfig = field(default_factory=TranslatorDataConfig)
    train: TrainConfig = field(default_factory=_translate_train)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
