"""Polyphonic music modelling on piano rolls (JSB Chorales, Nottingham): frame t predicts frame t+1.

A thin task over the shared core: (T, 88) rolls from ``rnnkit.tasks.music.data`` -> ``PianoRollNet`` (``rnnkit.nn
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
frame (``rnnkit.tasks.music.model``), and the same sum is the exact NLL of the frame under the NADE.

MIDI: ``--data FOLDER`` of .mid files (``rnnkit.tasks.music.midi``) at ``data.fs`` frames per second, optionally
transposed (``data.transpose``); ``generate --midi/--png/--wav`` writes the sample (the .wav by pretty_midi's sine
synthesis: no soundfont renderer here). Not here: RNN-RBM outputs.

Shape letters: N batch, T frames, K keys (88), H hidden.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.config import ConfigError
from rnnkit.data.sources import DataError
from rnnkit.tasks.base import Splits, Task
from rnnkit.tasks.music import data as music_data
from rnnkit.tasks.music.config import MusicConfig, MusicDataConfig, MusicModelConfig
from rnnkit.tasks.music.data import KEYS, check_roll, parse_frames
from rnnkit.tasks.music.model import NadeHead, PianoRollNet
from rnnkit.train import StepOutput

# ---- the metric -------------------------------------------------------------------------------------------


def frame_nll(logits: Tensor, target: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """(summed NLL in nats, number of scored frames): the Bernoulli NLL of ``target`` (N, T, K) under
    ``sigmoid(logits)`` (N, T, K), summed over the K keys and over the first ``lengths`` (N,) frames of each row."""
    per_key = F.binary_cross_entropy_with_logits(logits, target, reduction="none")  # (N, T, K), stable log-sigmoid
    mask = torch.arange(target.shape[1], device=target.device)[None, :] < lengths[:, None]  # (N, T)
    return (per_key.sum(-1) * mask).sum(), mask.sum()


def _step(model: torch.nn.Module, batch: tuple[Tensor, Tensor], state: Any) -> StepOutput:
    """fit's step: NLL per predicted frame (summed over keys); n_items = frames, so means are frame-weighted."""
    rolls, lengths = batch  # (N, T, K), (N,)
    logits, _ = model(rolls[:, :-1], lengths=lengths - 1, target=rolls[:, 1:])  # (N, T-1, K): t -> t+1's logits
    total, frames = frame_nll(logits, rolls[:, 1:], lengths - 1)
    return StepOutput(total / frames, None, int(frames))


# ---- the task ---------------------------------------------------------------------------------------------


class MusicModel(Task):
    """Train, evaluate and query a polyphonic next-frame model; see the module docstring."""

    name = "music"
    Config = MusicConfig
    model: PianoRollNet | None  # build_model's network (fit and load set it)

    def load_data(self) -> Splits:
        """The configured pieces and their splits (``data.load_splits``)."""
        return music_data.load_splits(self.config.data, seed=self.config.train.seed)

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
        val_b = music_data.batches(val, d.eval_batch_size or d.batch_size, shuffle=False) if val else None
        return music_data.batches(train, d.batch_size, shuffle=True, seed=seed), val_b

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
            batches = music_data.batches(pieces, self.config.data.eval_batch_size or 32, shuffle=False)
            for rolls, lengths in batches.epoch(0):
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
        return music_data.eval_pieces(path, fs=self.config.data.fs)

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


__all__ = ["MusicConfig", "MusicDataConfig", "MusicModel", "MusicModelConfig", "frame_nll", "parse_frames"]
