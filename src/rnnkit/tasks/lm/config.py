"""Configuration of the language-model task: the model (embedding, stack, head), the text and its batching, the run.

Every field is a dotted key for ``--config`` files and ``--section.key=value`` overrides; ``LMConfig`` is what a run
folder's ``config.json`` holds. The adaptive-softmax cutoffs are checked against the vocabulary only when the model
is built (``LanguageModel.build_model``): V is known then, not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from rnnkit.config import ConfigError, DataConfig, ModelConfig, RunConfig, TrainConfig
from rnnkit.data.text import LEVELS


@dataclass(frozen=True)
class LMModelConfig(ModelConfig):
    """The recurrent stack plus the embedding and the LM-specific regularisers (see ``tasks/lm/model.py``)."""

    embedding_dim: int = 128  # E: wider than a char vocabulary (~100 symbols); word runs usually set E = H
    locked_dropout: bool = False  # one dropout mask per sequence on embeddings/outputs (Gal & Ghahramani 2016)
    embed_dropout: float = 0.0  # drop whole embedding rows (Merity et al. 2017 §4.3)
    tie_weights: bool = False  # output matrix = embedding matrix (Press & Wolf 2017)
    # adaptive softmax (Grave et al. 2017): shortlist [0, c0), clusters [c0, c1), ..., [c_last, V); () = full
    # softmax. Word ids are ranked by frequency (Vocab.build), which is what makes the shortlist the frequent words.
    adaptive_cutoffs: tuple[int, ...] = ()
    adaptive_div_value: float = 4.0  # cluster i projects H -> H / div^(i+1) (torch's default, as in the paper)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.embedding_dim <= 0:
            raise ConfigError(f"config model.embedding_dim: must be > 0, got {self.embedding_dim}")
        if not 0.0 <= self.embed_dropout < 1.0:
            raise ConfigError(f"config model.embed_dropout: is a probability in [0, 1), got {self.embed_dropout}")
        if self.bidirectional:
            raise ConfigError("config model.bidirectional: a language model reads left to right; set it to false")
        c = self.adaptive_cutoffs
        if any(b <= a for a, b in pairwise(c)) or any(x <= 0 for x in c):
            raise ConfigError(
                f"config model.adaptive_cutoffs: must be strictly increasing positive token ids, e.g. [2000, 6000] "
                f"(empty = full softmax), got {list(c)}"
            )
        if c and self.tie_weights:
            raise ConfigError(
                "config model.adaptive_cutoffs: the adaptive softmax cannot be tied to the embedding; set "
                "model.tie_weights=false or model.adaptive_cutoffs=[]"
            )
        if self.adaptive_div_value < 1.0:
            raise ConfigError(f"config model.adaptive_div_value: must be >= 1, got {self.adaptive_div_value}")


@dataclass(frozen=True)
class LMDataConfig(DataConfig):
    """Text source and batching: ``path`` (any UTF-8 file) or ``dataset`` ('tiny-shakespeare', 'ptb')."""

    level: str = "char"  # "char" | "word"; char needs no tokeniser and reads any text
    bptt: int = 128  # truncated-BPTT chunk length (time steps per batch): two lines or so of char-level text
    test_fraction: float = 0.0  # files given by path: the last fraction is a test split; 0: validation only
    max_vocab: int = 0  # keep the most frequent tokens (counting <unk>); 0: no limit
    eval_tokens: int = 0  # periodic validation on the first N validation tokens (nanoGPT's eval_iters); 0: all

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.level not in LEVELS:
            raise ConfigError(f"config data.level: must be one of {', '.join(LEVELS)}, got {self.level!r}")
        if self.bptt <= 0:
            raise ConfigError(f"config data.bptt: must be > 0, got {self.bptt}")
        if not 0.0 <= self.test_fraction < 1.0:
            raise ConfigError(f"config data.test_fraction: must be in [0, 1), got {self.test_fraction}")
        if self.max_vocab < 0:
            raise ConfigError(f"config data.max_vocab: must be >= 0 (0 = no limit), got {self.max_vocab}")
        if self.eval_tokens < 0:
            raise ConfigError(f"config data.eval_tokens: must be >= 0 (0 = the whole split), got {self.eval_tokens}")


def lm_train() -> TrainConfig:
    """The task's training defaults: progress counted in tokens (the unit of LM throughput), and a learning rate
    of 2e-3 (char-rnn's default) instead of the library's 1e-3."""
    return TrainConfig(unit="tokens", lr=2e-3)


@dataclass(frozen=True)
class LMConfig(RunConfig):
    """A whole language-model run; ``config.json`` in the run folder is one of these (``time_limit`` and
    ``time_decay``, the wall-clock budget, are RunConfig's: every task has them)."""

    task: str = "lm"
    run_dir: str = ""  # "": nothing written (the CLI's default is runs/lm)
    model: LMModelConfig = field(default_factory=LMModelConfig)
    data: LMDataConfig = field(default_factory=LMDataConfig)
    train: TrainConfig = field(default_factory=lm_train)
    final_eval_batch_size: int = 1  # columns of the final evaluation; 1 = the exact likelihood of each split

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.final_eval_batch_size <= 0:
            raise ConfigError(f"config final_eval_batch_size: must be > 0, got {self.final_eval_batch_size}")
