"""Polyphonic music modelling on piano rolls (JSB Chorales, Nottingham): frame t predicts frame t+1.

A thin task over the shared core: (T, 88) rolls from ``rnnkit.data.music`` -> ``PianoRollNet`` (``rnnkit.nn
.Recurrent`` over any registered cell, then 88 sigmoid outputs) -> binary cross-entropy summed over the keys.
Pieces are whole sequences, batched by length (``BucketBatches``); each piece starts from a zero state.

The metric is the one the published tables report (Boulanger-Lewandowski et al. 2012; Bai et al. 2018 Table 1,
computed as in locuslab/TCN ``poly_music``): for every piece x_1..x_T the frames 2..T are predicted from their
prefix, and

    NLL = (1 / Σ_pieces (T - 1)) Σ_pieces Σ_{t=2..T} Σ_{k=1..88} -[x_tk log p_tk + (1 - x_tk) log(1 - p_tk)]

nats per frame: summed over the 88 keys, averaged over all predicted frames of the split (a long piece weighs
more than a short one; the first frame of a piece is read, never scored). ``frame_nll`` computes the sums;
the training loss is the same quantity per batch, so fit's frame-weighted ``val_loss`` is the validation NLL
and picks ``best``. With ``model.output=nade`` the logits of key k also depend on the keys below it in the same
frame (``rnnkit.models.music``), and the same sum is the exact NLL of the frame under the NADE.

MIDI: ``--data FOLDER`` of .mid files (``rnnkit.data.midi``) at ``data.fs`` frames per second, optionally
transposed (``data.transpose``); ``generate --midi/--png/--wav`` writes the sample (the .wav by pretty_midi's sine
synthesis: no soundfont renderer here). Not here: RNN-RBM outputs.

Shape letters: N batch, T frames, K keys (88), H hidden.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.config import ConfigError, DataConfig, ModelConfig, RunConfig, TrainConfig, _check, _one_of
from rnnkit.data.midi import (
    MIDI_SUFFIXES,
    read_midi,
    read_midi_folder,
    transpositions,
)
from rnnkit.data.music import KEYS, LOWEST_MIDI, MUSIC_DATASETS, SPLITS, check_roll, dataset_path, read_rolls
from rnnkit.data.sequences import BucketBatches
from rnnkit.data.sources import DataError
from rnnkit.models.music import NadeHead, PianoRollNet
from rnnkit.tasks.base import Splits, Task
from rnnkit.train import StepOutput

# ---- configuration ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MusicModelConfig(ModelConfig):
    hidden_size: int = 256
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

    batch_size: int = 8
    fs: float = 4.0  # frames per second when reading or writing MIDI (a .mat is already in frames)
    transpose: int = 0  # augment the training pieces with every shift of up to this many semitones either way

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.fs > 0, "data.fs", f"must be > 0 frames per second, got {self.fs}")
        _check(0 <= self.transpose <= 12, "data.transpose", f"must be 0..12 semitones, got {self.transpose}")
        if self.dataset is not None and self.dataset not in MUSIC_DATASETS:
            raise ConfigError(f"config data.dataset: one of {', '.join(MUSIC_DATASETS)}, got {self.dataset!r}")


def _music_train() -> TrainConfig:
    return TrainConfig(unit="frames", epochs=200, patience=15, lr=1e-3)


@dataclass(frozen=True)
class MusicConfig(RunConfig):
    task: str = "music"
    run_dir: str = ""
    model: MusicModelConfig = field(default_factory=MusicModelConfig)
    data: MusicDataConfig = field(default_factory=MusicDataConfig)
    train: TrainConfig = field(default_factory=_music_train)


# ---- the metric -------------------------------------------------------------------------------------------


def frame_nll(logits: Tensor, target: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """(summed NLL in nats, number of scored frames): the Bernoulli NLL of ``target`` (N, T, K) under
    ``sigmoid(logits)`` (N, T, K), summed over the K keys and over the first ``lengths`` (N,) frames of each row."""
    per_key = F.binary_cross_entropy_with_logits(logits, target, reduction="none")  # (N, T, K), stable log-sigmoid
    mask = torch.arange(target.shape[1], device=target.device)[None, :] < lengths[:, None]  # (N, T)
    return (per_key.sum(-1) * mask).sum(), mask.sum()


def _collate(items: Sequence[tuple[np.ndarray]]) -> tuple[Tensor, Tensor]:
    """Pieces -> (rolls (N, T, K) zero-padded, lengths (N,))."""
    lengths = torch.tensor([len(it[0]) for it in items])
    rolls = torch.zeros(len(items), int(lengths.max()), KEYS)
    for i, (r,) in enumerate(items):
        rolls[i, : len(r)] = torch.from_numpy(r)
    return rolls, lengths


def _step(model: torch.nn.Module, batch: tuple[Tensor, Tensor], state: Any) -> StepOutput:
    """fit's step: NLL per predicted frame (summed over keys); n_items = frames, so means are frame-weighted."""
    rolls, lengths = batch  # (N, T, K), (N,)
    logits, _ = model(rolls[:, :-1], lengths=lengths - 1, target=rolls[:, 1:])  # (N, T-1, K): t -> t+1's logits
    total, frames = frame_nll(logits, rolls[:, 1:], lengths - 1)
    return StepOutput(total / frames, None, int(frames))


def _batches(pieces: Sequence[np.ndarray], batch_size: int, *, shuffle: bool, seed: int = 0) -> BucketBatches:
    return BucketBatches([(r,) for r in pieces], batch_size, collate_fn=_collate, shuffle=shuffle, seed=seed)


def parse_frames(line: str) -> np.ndarray:
    """``"60,64,67 62,65 -"`` (frames separated by spaces, MIDI notes by commas, ``-`` a silent frame) -> (T, 88)."""
    frames = line.split()
    if not frames:
        raise DataError("an empty input: give frames like '60,64,67 62,65,69' (MIDI notes 21..108, '-' = silence)")
    roll = np.zeros((len(frames), KEYS), dtype=np.float32)
    for t, f in enumerate(frames):
        for n in [] if f == "-" else f.split(","):
            try:
                k = int(n) - LOWEST_MIDI
            except ValueError:
                raise DataError(f"frame {t + 1} {f!r}: {n!r} is not a MIDI note number (21..108)") from None
            if not 0 <= k < KEYS:
                raise DataError(f"frame {t + 1} {f!r}: MIDI note {n} is outside the piano (21..108)")
            roll[t, k] = 1.0
    return roll


# ---- the task ---------------------------------------------------------------------------------------------


class MusicModel(Task):
    """Train, evaluate and query a polyphonic next-frame model; see the module docstring."""

    name = "music"
    Config = MusicConfig

    def _source(self) -> Path:
        d = self.config.data
        if d.path is None and d.dataset is None:
            raise ConfigError(
                f"config data: give --dataset ({', '.join(MUSIC_DATASETS)}) or --data FILE.mat "
                "or --data FOLDER of .mid files"
            )
        return Path(d.path) if d.path is not None else dataset_path(d.dataset, data_root=d.data_root)

    def _read(self, path: str | Path) -> dict[str, list[np.ndarray]]:
        """Rolls by split from a .mat, a folder of MIDI files or one MIDI file (all ``train``)."""
        p = Path(path)
        if p.is_dir():
            return read_midi_folder(p, fs=self.config.data.fs)
        if p.suffix.lower() in MIDI_SUFFIXES:
            return {"train": [check_roll(read_midi(p, fs=self.config.data.fs), where=str(p))]}
        return read_rolls(p)

    def _all(self, path: str | Path, split: str) -> list[np.ndarray]:
        """The pieces of a --val/--test source: a .mat's ``split`` (validdata, testdata), or every MIDI piece."""
        rolls = self._read(path)
        if Path(path).suffix.lower() == ".mat":
            if split not in rolls:
                raise DataError(f"{path}: has no {SPLITS[split]} to use")
            return rolls[split]
        return [r for pieces in rolls.values() for r in pieces]

    def load_data(self) -> Splits:
        d = self.config.data
        src = self._source()
        rolls = self._read(src)
        if "train" not in rolls:
            raise DataError(f"{src}: has no training pieces (traindata, or MIDI files)")
        train, notes = (
            rolls["train"],
            [
                f"{src.name}: "
                + ("official splits as published" if src.suffix == ".mat" else f"MIDI at {d.fs:g} frames per second")
            ],
        )
        val = self._all(d.val_path, "valid") if d.val_path else rolls.get("valid")
        if val is None and src.suffix != ".mat" and d.val_fraction > 0 and len(train) > 1:
            order = np.random.default_rng(self.config.train.seed).permutation(len(train))
            n_val = max(1, int(round(d.val_fraction * len(train))))
            val, train = [train[i] for i in order[:n_val]], [train[i] for i in order[n_val:]]
            notes.append(f"{n_val} of the MIDI files held out for validation (data.val_fraction)")
        test = self._all(d.test_path, "test") if d.test_path else rolls.get("test")
        if d.transpose:
            n = len(train)
            train = transpositions(train, d.transpose)
            notes.append(f"training pieces transposed by up to ±{d.transpose} semitones: {n} -> {len(train)}")
        return Splits(train, val, test, notes=notes)

    def describe_data(self, splits: Splits) -> str:
        n = lambda x: "none" if x is None else f"{len(x):,} ({sum(len(r) for r in x):,} frames)"  # noqa: E731
        return f"{n(splits.train)} training, {n(splits.val)} validation, {n(splits.test)} test pieces"

    def build_model(self) -> PianoRollNet:
        return PianoRollNet(self.config.model, keys=KEYS)

    def onnx_spec(self, model: torch.nn.Module, *, exporting: bool) -> Any:
        from rnnkit.tasks.music.onnx import music_spec

        return music_spec(self, model)

    def make_batches(self, train: Any, val: Any) -> tuple[Any, Any]:
        d, seed = self.config.data, self.config.train.seed
        val_b = _batches(val, d.eval_batch_size or d.batch_size, shuffle=False) if val else None
        return _batches(train, d.batch_size, shuffle=True, seed=seed), val_b

    step = staticmethod(_step)

    # -- evaluation ---------------------------------------------------------------------------------------

    def evaluate(self, data: Sequence[np.ndarray], **_: Any) -> dict[str, Any]:
        """``nll`` (nats per frame, summed over the 88 keys; see the module docstring), frames and pieces."""
        model = self.require_model()
        pieces = [check_roll(r, where=f"piece {i}") for i, r in enumerate(data)]
        if not pieces:
            raise DataError("nothing to evaluate: no pieces")
        was, t0 = model.training, time.monotonic()
        model.eval()
        total, frames = 0.0, 0
        with self.inference():
            for rolls, lengths in _batches(pieces, self.config.data.eval_batch_size or 32, shuffle=False).epoch(0):
                logits, _ = model(rolls[:, :-1], lengths=lengths - 1, target=rolls[:, 1:])
                s, n = frame_nll(logits.double(), rolls[:, 1:].double(), lengths - 1)
                total, frames = total + float(s), frames + int(n)
        model.train(was)
        return {
            "nll": total / frames,
            "frames": frames,
            "pieces": len(pieces),
            "seconds": round(time.monotonic() - t0, 2),
        }

    def test_report(self, splits: Splits) -> dict[str, Any] | None:
        if splits.test is None:
            return None
        r = self.fit_result
        out = self.evaluate(splits.test)
        if splits.val is not None:
            out["valid"] = {k: v for k, v in self.evaluate(splits.val).items() if k != "seconds"}
        out.update(
            train_seconds=round(getattr(self, "train_seconds", 0.0), 1),
            steps=r.step if r else None,
            epochs=r.epoch if r else None,
        )
        return out

    def read_eval_data(self, path: Path) -> Any:
        """A .mat's testdata, or every piece of a MIDI file or folder (at the run's data.fs)."""
        if path.is_dir() or path.suffix.lower() in MIDI_SUFFIXES:
            return self._all(path, "test")
        rolls = read_rolls(path)
        if "test" not in rolls:
            raise DataError(f"{path}: has no testdata to score")
        return rolls["test"]

    # -- prediction ---------------------------------------------------------------------------------------

    def predict(self, pieces: Sequence[np.ndarray], *, samples: int = 512, seed: int = 0) -> list[np.ndarray]:
        """The probability of each key in the frame after each piece: one (88,) array per piece. Exact for the
        Bernoulli output; for the NADE output the marginals have no closed form, so they are the key frequencies
        of ``samples`` frames drawn from the model (seeded; standard error at most 0.5 / sqrt(samples))."""
        model = self.require_model()
        rolls = [np.asarray(r, dtype=np.float32) for r in pieces]
        for i, r in enumerate(rolls):  # one frame is enough to predict the next (training needs two)
            if r.ndim != 2 or r.shape[1] != KEYS or len(r) == 0:
                raise DataError(f"input {i}: a piano roll must be (frames >= 1, {KEYS}), got shape {r.shape}")
        out = []
        model.eval()
        gen = torch.Generator().manual_seed(seed)
        with self.inference():
            for r in rolls:
                u, _ = model.features(torch.from_numpy(r)[None])  # (1, T, H)
                if isinstance(model.head, NadeHead):
                    draws = model.head.sample(u[:, -1].expand(samples, -1), generator=gen)  # (samples, K)
                    out.append(draws.mean(0).numpy())
                else:
                    out.append(torch.sigmoid(model.head.logits(u[0, -1])).numpy())
        return out

    def generate(
        self, prompt: np.ndarray | None = None, *, frames: int = 32, seed: int | None = None, temperature: float = 1.0
    ) -> np.ndarray:
        """Sample ``frames`` new frames after ``prompt`` (a (T, 88) roll; None: one silent frame); returns the
        (frames, 88) sampled roll, the prompt not repeated. Bernoulli: keys independent given the past; NADE: key
        by key within each frame. ``temperature`` divides every logit (< 1: surer, > 1: more random)."""
        if not temperature > 0:
            raise ConfigError(f"temperature: must be > 0, got {temperature}")
        model = self.require_model().eval()
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        x = torch.zeros(1, 1, KEYS) if prompt is None else torch.as_tensor(prompt, dtype=torch.float32)[None]
        out, state = [], None
        with self.inference():
            for _ in range(frames):  # the state carries the history; each step reads only the newest frames
                nxt, state = model.sample_next(x, state, temperature=temperature, generator=gen)  # (1, K)
                x = nxt[:, None]  # (1, 1, K)
                out.append(nxt[0].numpy())
        return np.stack(out) if out else np.zeros((0, KEYS), dtype=np.float32)
