"""Configuration of the music task: the network over piano-roll frames, where the pieces come from, training.

Every field can be set from the command line as a dotted key (``--model.output=nade``); a run's config.json is
itself a valid ``--config``. The defaults are the run RESULTS.md reports against the published tables (JSB
Chorales test NLL 8.445 with the LSTM, against Bai et al. 2018's 8.45).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnkit.config import ConfigError, DataConfig, ModelConfig, RunConfig, TrainConfig, _check, _one_of

# The published sets ``data.dataset`` names, as the files of the checksum-verified ``polyphonic-music`` download
# (``rnnkit.data.sources``) that ``data.py`` reads.
MUSIC_DATASETS = {"jsb-chorales": "JSB_Chorales.mat", "nottingham": "Nottingham.mat"}


@dataclass(frozen=True)
class MusicModelConfig(ModelConfig):
    hidden_size: int = 256  # one layer of 256: the published LSTM figure is met with it (RESULTS.md)
    input_dropout: float = 0.0  # dropout on the keys of the frames read (never on the frames scored)
    head_dropout: float = 0.3  # dropout on the recurrent outputs before the 88 sigmoids (JSB is small: 229 pieces)
    output: str = "bernoulli"  # bernoulli: 88 independent keys; nade: keys modelled jointly (RNN-NADE)
    nade_hidden: int = 150  # the NADE's hidden units (output="nade" only)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bidirectional:
            raise ConfigError("config model.bidirectional: frame t+1 is predicted from the past only; set it false")
        for k in ("input_dropout", "head_dropout"):
            v = getattr(self, k)
            _check(0.0 <= v < 1.0, f"model.{k}", f"is a probability in [0, 1), got {v}")
        _one_of(self.output, "model.output", ("bernoulli", "nade"))
        _check(self.nade_hidden > 0, "model.nade_hidden", f"must be > 0, got {self.nade_hidden}")


@dataclass(frozen=True)
class MusicDataConfig(DataConfig):
    """``dataset`` (jsb-chorales, nottingham) or ``path``: a .mat with traindata/validdata/testdata, or a folder of
    MIDI files (with train/ valid/ test/ subfolders, or not: then ``val_fraction`` of its files validate)."""

    batch_size: int = 8  # pieces per batch: JSB's 229 training pieces give ~29 steps an epoch
    fs: float = 4.0  # frames per second when reading or writing MIDI (a .mat is already in frames)
    transpose: int = 0  # augment the training pieces with every shift of up to this many semitones either way

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.fs > 0, "data.fs", f"must be > 0 frames per second, got {self.fs}")
        _check(0 <= self.transpose <= 12, "data.transpose", f"must be 0..12 semitones, got {self.transpose}")
        if self.dataset is not None and self.dataset not in MUSIC_DATASETS:
            raise ConfigError(f"config data.dataset: one of {', '.join(MUSIC_DATASETS)}, got {self.dataset!r}")


def _music_train() -> TrainConfig:
    # progress counts frames; up to 200 epochs, stopped after 15 without a better validation NLL (JSB stops near
    # epoch 100 at lr 1e-3, RESULTS.md)
    return TrainConfig(unit="frames", epochs=200, patience=15, lr=1e-3)


@dataclass(frozen=True)
class MusicConfig(RunConfig):
    task: str = "music"
    run_dir: str = ""  # "": nothing written
    model: MusicModelConfig = field(default_factory=MusicModelConfig)
    data: MusicDataConfig = field(default_factory=MusicDataConfig)
    train: TrainConfig = field(default_factory=_music_train)
