"""Audio in: wav/flac files -> mono float32 waveforms at one sample rate, checked at the boundary.

``read_audio`` reads with ``soundfile`` (libsndfile: wav, flac, ogg; int16/int32/float samples all come back as
floats in [-1, 1]), averages the channels of a stereo file (downmix), resamples with a polyphase filter
(``scipy.signal.resample_poly``) when the file's rate differs from the one asked for, and refuses, naming the
file and what to do: a file that is missing, unreadable or not audio, one with no samples, one longer than
``max_seconds``, and one holding NaN or infinite samples.

``soundfile`` is the ``[speech]`` extra (``pip install rnnkit[speech]``), imported only when audio is read.

Shape letters: S samples, K channels.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data.sources import DataError

AUDIO_SUFFIXES = (".wav", ".flac")


def _soundfile():
    try:
        import soundfile
    except ImportError:  # pragma: no cover - the [speech] extra is installed in CI
        raise DataError("reading audio needs soundfile: pip install 'rnnkit[speech]' (or soundfile)") from None
    return soundfile


@dataclass(frozen=True)
class Audio:
    """One recording as read: mono float32 ``samples`` (S,) at ``rate`` Hz, and what was done to it."""

    samples: np.ndarray
    rate: int
    source_rate: int  # the file's own rate (differs from ``rate`` when it was resampled)
    channels: int  # the file's channels (> 1: downmixed by averaging)

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def resample(x: np.ndarray, source_rate: int, rate: int) -> np.ndarray:
    """``x`` (S,) sampled at ``source_rate`` -> at ``rate``: polyphase FIR (Kaiser window) by the reduced ratio
    ``rate/source_rate``, so 16 kHz -> 8 kHz is "up 1, down 2" with an anti-aliasing low-pass below 4 kHz."""
    if source_rate == rate:
        return x
    from scipy.signal import resample_poly

    g = math.gcd(int(source_rate), int(rate))
    return resample_poly(x, rate // g, source_rate // g).astype(np.float32)


def read_audio(path: str | os.PathLike, *, rate: int | None = None, max_seconds: float = 60.0) -> Audio:
    """Read one wav/flac file as a mono float32 waveform, resampled to ``rate`` Hz (None: the file's own rate).

    DataError naming the file when it is missing, not readable audio, empty, longer than ``max_seconds``
    (0: no limit) or holds non-finite samples."""
    sf = _soundfile()
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such audio file; check the path (wav or flac)")
    try:
        info = sf.info(str(p))
    except Exception as e:  # libsndfile's LibsndfileError / RuntimeError for anything that is not audio
        raise DataError(f"{p}: not a readable audio file ({_short(e)}); give wav or flac, or remove it") from None
    if info.frames <= 0:
        raise DataError(f"{p}: holds no audio samples (an empty recording); remove it or record it again")
    if max_seconds and info.frames / info.samplerate > max_seconds:
        raise DataError(
            f"{p}: is {info.frames / info.samplerate:.1f} s long, over the limit of {max_seconds:g} s for one "
            "utterance; cut it into utterances, or raise data.max_seconds"
        )
    try:
        x, sr = sf.read(str(p), dtype="float32", always_2d=True)  # (S, K), ints scaled to [-1, 1)
    except Exception as e:
        raise DataError(f"{p}: its audio data is damaged ({_short(e)}); remove the file or export it again") from None
    if len(x) == 0:
        raise DataError(f"{p}: holds no audio samples (an empty recording); remove it or record it again")
    if not np.isfinite(x).all():
        raise DataError(f"{p}: holds NaN or infinite samples; the file is damaged, export it again")
    mono = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]  # downmix: the mean of the channels
    target = int(rate) if rate else int(sr)
    return Audio(resample(np.ascontiguousarray(mono, dtype=np.float32), int(sr), target), target, int(sr), x.shape[1])


def _short(e: Exception) -> str:
    s = str(e).strip().splitlines()
    return (s[-1] if s else type(e).__name__)[:200]


def audio_files(folder: str | os.PathLike) -> list[Path]:
    """The wav/flac files under ``folder`` (recursively), sorted by path; DataError if there are none."""
    d = Path(folder)
    if not d.is_dir():
        raise DataError(f"{d}: no such folder of recordings")
    files = sorted(p for p in d.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"{d}: holds no .wav or .flac files; give the folder of recordings (or a CSV path,label)")
    return files
