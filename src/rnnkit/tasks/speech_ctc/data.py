"""Connected digit strings made from isolated recordings: deterministic from a seed, never mixing splits.

``make_strings(recordings, n, seed=...)`` draws ``n`` strings of ``min_len..max_len`` recordings (uniform length,
recordings drawn with replacement) and a silence before, between and after them (uniform in 0..max_gap samples).
Called once with the training recordings and once with the test recordings, a test string can only hold test
recordings. ``render`` concatenates the waveforms and the silences (plus Gaussian noise of std ``noise`` when
asked, seeded by the string), so the same seed gives the same audio bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


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
