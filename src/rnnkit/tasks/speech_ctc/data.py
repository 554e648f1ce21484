"""The connected-word task's data: digit strings made from isolated recordings, transcribed utterances, their
seeded splits and their batches.

Strings are deterministic from a seed and never mix splits: ``make_strings(recordings, n, seed=...)`` draws ``n``
strings of ``min_len..max_len`` recordings (uniform length, recordings drawn with replacement) and a silence
before, between and after them (uniform in 0..max_gap samples). Called once with the training recordings and once
with the test recordings, a test string can only hold test recordings. ``render`` concatenates the waveforms and
the silences (plus Gaussian noise of std ``noise`` when asked, seeded by the string), so the same seed gives the
same audio bit for bit.

The seeded splits (validation recordings out of the training recordings; a CSV's transcribed utterances into
train / validation / test) draw NumPy's order through ``rnnkit.data.splits``.

Shape letters: N batch, T frames, D features, L words of a transcript.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

from rnnkit.data import splits

R = TypeVar("R")


@dataclass(frozen=True)
class DigitString:
    """Which recordings (indices into the list it was drawn from), the silences around them, and the labels."""

    parts: tuple[int, ...]
    gaps: tuple[int, ...]  # samples of silence: before part 0, between parts, after the last (len(parts) + 1)
    labels: tuple[str, ...]
    seed: int  # the string's own noise seed


def make_strings(
    labels: Sequence[str], n: int, *, min_len: int = 1, max_len: int = 7, max_gap: int = 0, seed: int = 0
) -> list[DigitString]:
    """``n`` strings over recordings with the given ``labels`` (their order is the index space)."""
    if not labels:
        raise ValueError("make_strings needs at least one recording")
    if not 1 <= min_len <= max_len:
        raise ValueError(f"string lengths must satisfy 1 <= min_len <= max_len, got {min_len}..{max_len}")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(min_len, max_len + 1))
        parts = tuple(int(i) for i in rng.integers(0, len(labels), k))
        gaps = tuple(int(g) for g in rng.integers(0, max_gap + 1, k + 1))
        out.append(DigitString(parts, gaps, tuple(labels[i] for i in parts), int(rng.integers(2**31))))
    return out


def render(s: DigitString, waves: Sequence[np.ndarray], *, noise: float = 0.0) -> np.ndarray:
    """The string's waveform: silence, recording, silence, ..., silence (float32), plus seeded noise."""
    pieces = [np.zeros(s.gaps[0], np.float32)]
    for part, gap in zip(s.parts, s.gaps[1:], strict=True):
        pieces += [np.asarray(waves[part], np.float32), np.zeros(gap, np.float32)]
    x = np.concatenate(pieces)
    if noise > 0:
        x = x + (noise * np.random.default_rng(s.seed).standard_normal(len(x))).astype(np.float32)
    return x


@dataclass
class Transcribed:
    """Utterances as feature frames (T, D) and their word sequences."""

    inputs: list[np.ndarray]
    words: list[tuple[str, ...]]
    source: str = ""

    def __len__(self) -> int:
        return len(self.inputs)

    def subset(self, idx: Sequence[int]) -> Transcribed:
        """The utterances at ``idx``, in that order."""
        return Transcribed([self.inputs[i] for i in idx], [self.words[i] for i in idx], self.source)


def collate(items: Sequence[tuple[np.ndarray, list[int]]]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """-> (frames (N, T, D) zero-padded, lengths (N,), targets (N, L) zero-padded, target lengths (N,))."""
    lengths = torch.tensor([len(x) for x, _ in items])
    tlen = torch.tensor([len(y) for _, y in items])
    x = torch.zeros(len(items), int(lengths.max()), items[0][0].shape[1])
    y = torch.zeros(len(items), max(int(tlen.max()), 1), dtype=torch.long)
    for i, (a, b) in enumerate(items):
        x[i, : len(a)] = torch.from_numpy(a)
        y[i, : len(b)] = torch.as_tensor(b, dtype=torch.long)
    return x, lengths, y, tlen


def split_validation(recs: Sequence[R], fraction: float, seed: int) -> tuple[list[R], list[R]]:
    """(training, validation) recordings: a seeded ``fraction`` of them (at least one) held out; both parts keep the
    recordings' order."""
    perm = splits.permutation(len(recs), seed, order="numpy")
    k = max(1, round(len(recs) * fraction))
    return [recs[i] for i in sorted(perm[k:])], [recs[i] for i in sorted(perm[:k])]


def split_transcribed(
    n: int, *, test_fraction: float, val_fraction: float, seed: int, test_given: bool = False
) -> tuple[list[int], list[int], list[int]]:
    """(train, validation, test) indices of ``n`` transcribed utterances, in one seeded order: the first
    ``test_fraction`` (at least one; none when ``test_given``) is the test part, the next ``val_fraction`` of the
    rest validation, the rest training."""
    order = splits.permutation(n, seed, order="numpy")
    n_test = 0 if test_given else max(1, round(n * test_fraction))
    n_val = round((n - n_test) * val_fraction)
    return order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test]
