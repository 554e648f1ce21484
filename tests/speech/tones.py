"""A tiny synthetic speech set for tests: each "word" a tone of its own pitch, files named like FSDD's."""

from __future__ import annotations

from pathlib import Path

import numpy as np

PITCHES = {"lo": 300.0, "mid": 900.0, "hi": 2400.0}  # Hz; far apart in mel, so a tiny model separates them


def tone(freq: float, *, rate: int = 8000, seconds: float = 0.25, seed: int = 0) -> np.ndarray:
    """A sine of ``freq`` Hz with a little noise and a random phase, float32 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    x = 0.5 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi)) + 0.02 * rng.standard_normal(len(t))
    return x.astype(np.float32)


def write_tones(
    folder: Path,
    *,
    per_word: int = 8,
    rate: int = 8000,
    speakers: tuple[str, ...] = ("ann", "bob"),
    subtype: str = "PCM_16",
) -> Path:
    """``{word}_{speaker}_{index}.wav`` for each word, speaker and index < per_word (index 0-1 become the test set
    under FSDD's rule with test_below=2). Lengths vary a little so batches are padded."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    k = 0
    for word, f in PITCHES.items():
        for s in speakers:
            for i in range(per_word):
                k += 1
                sf.write(
                    folder / f"{word}_{s}_{i}.wav",
                    tone(f, rate=rate, seconds=0.2 + 0.01 * (i % 5), seed=k),
                    rate,
                    subtype=subtype,
                )
    return folder
