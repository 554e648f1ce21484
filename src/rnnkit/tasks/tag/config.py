"""Configuration of the tagging task: the network (``TaggerModelConfig``), the data (``TaggerDataConfig``) and the
run (``TaggerConfig``, what a run folder's ``config.json`` holds).

Every field is a dotted key for ``--config`` files and ``--section.key=value`` overrides. The defaults follow Lample
et al. 2016 where the paper fixes a value (character embedding 25, character BiLSTM 25 per direction, dropout 0.5 on
the word features); the rest are small sizes that train in minutes on CoNLL-2000 on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rnnkit.config import ConfigError, DataConfig, ModelConfig, RunConfig, TrainConfig
from rnnkit.data import conllu, iob
from rnnkit.tasks.base import stop_on_metric


@dataclass(frozen=True)
class TaggerModelConfig(ModelConfig):
    """Sizes of the tagger network (``rnnkit.tasks.tag.model.TaggerNet``) and its output layer."""

    hidden_size: int = 128  # per direction (Lample et al. 2016 use 100); a little room for POS tag sets of ~45
    bidirectional: bool = True  # a tag depends on the words after it too (Huang et al. 2015 §2.3)
    word_embed: int = 100  # Lample et al. 2016 §4.1 (the size of the usual pretrained vectors)
    char_embed: int = 25  # character embedding size (Lample et al.: 25); 0: no character features
    char_hidden: int = 25  # per direction of the character BiLSTM
    crf: bool | Literal["auto"] = "auto"  # auto: a CRF for IOB tag sets (spans stay well-formed), else a softmax
    embed_dropout: float = 0.5  # on the concatenated word features (Lample et al. 2016 §4.3)
    head_dropout: float = 0.0  # Lample et al. drop out only the word features (embed_dropout); this is extra
    embeddings: str = ""  # word2vec/GloVe text file initialising the word embedding (word_embed = its size)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.word_embed < 1 or self.char_embed < 0 or self.char_hidden < 1:
            raise ConfigError(
                f"model.word_embed must be >= 1, model.char_embed >= 0 and model.char_hidden >= 1; got "
                f"{self.word_embed}, {self.char_embed}, {self.char_hidden}"
            )


@dataclass(frozen=True)
class TaggerDataConfig(DataConfig):
    """Which files, which columns, how words become ids and how a single file is split (``tasks/tag/data.py``)."""

    word_column: int = 0  # every CoNLL format puts the word first
    tag_column: int = -1  # CoNLL-2000: 1 = POS, 2 (= -1) = chunk IOB; CoNLL-2002: -1 = entity IOB2
    tag_scheme: str = ""  # "": tags as in the files; iob1 | iob2 | iobes: entity tags rewritten (rnnkit.data.iob)
    lowercase: bool = True  # word embedding on lower-cased words (case still reaches the char features)
    digits_to_zero: bool = True  # '1987' -> '0000' for the word embedding
    min_freq: int = 1  # every training word gets a row: rare words still have character features
    max_len: int = 0  # truncate longer sentences (warning + count); 0 = no limit
    max_word_len: int = 30  # characters per word seen by the character encoder: bounds L in (N, T, L)
    encoding: str = "utf-8"  # of files given by path; a wrong guess is an error naming the byte, never replaced
    format: str = "auto"  # files by path: auto | conll (whitespace columns) | conllu (docs/formats.md)
    conllu_tag: str = "upos"  # CoNLL-U: the tag is UPOS or XPOS (the word is FORM)
    split_seed: int = 2024  # fixed, so a single file splits into the same test set in every run
    test_fraction: float = 0.1  # random test split for a single file without a test_path

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"data.test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.format not in conllu.TAGGING_FORMATS:
            raise ConfigError(f"data.format must be one of {conllu.TAGGING_FORMATS}, got {self.format!r}")
        if self.tag_scheme and self.tag_scheme not in iob.SCHEMES:
            raise ConfigError(
                f"data.tag_scheme must be '' (as in the files) or one of {iob.SCHEMES}, got {self.tag_scheme!r}"
            )
        if self.conllu_tag not in conllu.TAG_FIELDS:
            raise ConfigError(f"data.conllu_tag must be 'upos' or 'xpos', got {self.conllu_tag!r}")

    def reader_options(self) -> dict[str, str]:
        """What ``readers.read_tagging`` needs for files given by path."""
        return {"encoding": self.encoding, "format": self.format, "conllu_tag": self.conllu_tag}


@dataclass(frozen=True)
class TaggerConfig(RunConfig):
    """A tagging run: what ``rnnkit tag train`` builds from its flags and a run folder's ``config.json`` holds."""

    task: str = "tag"
    run_dir: str = ""  # "": nothing written (the CLI's default is runs/<task>)
    model: TaggerModelConfig = field(default_factory=TaggerModelConfig)
    data: TaggerDataConfig = field(default_factory=TaggerDataConfig)
    # best = the highest validation span F1 / token accuracy, stopping after 3 evaluations without a gain
    train: TrainConfig = field(default_factory=lambda: stop_on_metric(lr=3e-3, patience=3))
