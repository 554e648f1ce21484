"""Speech features: log-mel filterbank energies and MFCCs, the same numbers librosa gives with its defaults.

Written out in NumPy/SciPy (librosa pulls numba and scikit-learn; only the tests import it, to check these
functions against ``librosa.feature.melspectrogram`` / ``librosa.power_to_db`` / ``librosa.feature.mfcc``):

    frames      the waveform padded by n_fft/2 zeros at both ends (librosa ``center=True``,
                ``pad_mode="constant"``), cut every ``hop`` samples into n_fft-sample frames
    power       |rfft(frame * hann(win) centred in n_fft)|^2                       (F frames, n_fft/2+1 bins)
    mel         power @ filters.T, filters the Slaney-style triangles of ``mel_filters``   (F, n_mels)
    log-mel     10 log10(max(mel, 1e-10)), floored at (its max - 80 dB)           (librosa.power_to_db)
    MFCC        the orthonormal DCT-II of the log-mel over the mel axis, first n_mfcc (librosa.feature.mfcc)

Shape letters: S samples, F frames, M mel bands, B frequency bins (n_fft/2+1).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

KINDS = ("logmel", "mfcc")


@dataclass(frozen=True)
class FeatureSpec:
    """What ``features`` computes: the kind, the analysis window and hop in samples, the FFT size and the bands."""

    kind: str = "logmel"
    rate: int = 8000
    n_fft: int = 256
    win: int = 200
    hop: int = 80
    n_mels: int = 40
    n_mfcc: int = 13
    top_db: float = 80.0

    @classmethod
    def from_ms(cls, kind: str, rate: int, *, win_ms: float, hop_ms: float, n_mels: int, n_mfcc: int) -> FeatureSpec:
        """Window and hop given in milliseconds (25 / 10 ms is the speech default); n_fft the next power of two."""
        win = max(2, round(rate * win_ms / 1000))
        hop = max(1, round(rate * hop_ms / 1000))
        return cls(kind, int(rate), 1 << (win - 1).bit_length(), win, hop, n_mels, n_mfcc)

    @property
    def dim(self) -> int:
        return self.n_mels if self.kind == "logmel" else self.n_mfcc

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


# ---- the mel scale (Slaney's Auditory Toolbox, librosa's default htk=False) --------------------------------

_F_SP = 200.0 / 3  # Hz per mel below 1 kHz (linear part)
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP  # = 15 mels at 1 kHz
_LOGSTEP = np.log(6.4) / 27.0  # above 1 kHz: 27 mels per factor 6.4 in frequency


def hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, log, lin)


def mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), _F_SP * m)


def mel_filters(rate: int, n_fft: int, n_mels: int, *, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """(M, B) triangular filters with centres equally spaced in mel between fmin and fmax (default rate/2), each
    scaled by 2 / (its bandwidth in Hz) so every filter has the same area (Slaney norm; librosa.filters.mel)."""
    fmax = rate / 2 if fmax is None else fmax
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)  # (B,)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))  # (M+2,) left/centre/right
    width = np.diff(edges)  # (M+1,)
    ramps = edges[:, None] - freqs[None, :]  # (M+2, B)
    rising = -ramps[:-2] / width[:-1, None]  # (M, B): 0 at the left edge, 1 at the centre
    falling = ramps[2:] / width[1:, None]  # (M, B): 1 at the centre, 0 at the right edge
    w = np.maximum(0.0, np.minimum(rising, falling))
    return w * (2.0 / (edges[2:] - edges[:-2]))[:, None]


# ---- spectra -----------------------------------------------------------------------------------------------


def power_spectrogram(x: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """(S,) -> (F, B) power spectra of centred, Hann-windowed frames (librosa.stft with center=True, constant pad)."""
    from scipy.signal import get_window

    n_fft, hop = spec.n_fft, spec.hop
    window = np.zeros(n_fft)
    left = (n_fft - spec.win) // 2  # a window shorter than n_fft sits in the middle of the frame
    window[left : left + spec.win] = get_window("hann", spec.win, fftbins=True)  # periodic Hann
    padded = np.pad(np.asarray(x, dtype=np.float64), n_fft // 2)
    if len(padded) < n_fft:
        padded = np.pad(padded, (0, n_fft - len(padded)))
    n_frames = 1 + (len(padded) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]  # (F, n_fft) sample indices
    return np.abs(np.fft.rfft(padded[idx] * window, axis=1)) ** 2  # (F, B)


def power_to_db(s: np.ndarray, *, amin: float = 1e-10, top_db: float | None = 80.0) -> np.ndarray:
    """10 log10(max(s, amin)), then nothing more than ``top_db`` below the maximum (librosa.power_to_db, ref 1)."""
    db = 10.0 * np.log10(np.maximum(s, amin))
    return np.maximum(db, db.max() - top_db) if top_db is not None else db


def features(x: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """(S,) waveform at ``spec.rate`` -> (F, D) float32 log-mel (D = n_mels) or MFCC (D = n_mfcc) frames."""
    from scipy.fft import dct

    mel = power_spectrogram(x, spec) @ _filters(spec.rate, spec.n_fft, spec.n_mels).T  # (F, M)
    logmel = power_to_db(mel, top_db=spec.top_db)
    if spec.kind == "logmel":
        return logmel.astype(np.float32)
    return dct(logmel, type=2, norm="ortho", axis=1)[:, : spec.n_mfcc].astype(np.float32)  # (F, n_mfcc)


_FILTERS: dict[tuple[int, int, int], np.ndarray] = {}


def _filters(rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """``mel_filters`` memoised by its arguments (a pure function of them; computed once per setting)."""
    k = (rate, n_fft, n_mels)
    if k not in _FILTERS:
        _FILTERS[k] = mel_filters(rate, n_fft, n_mels)
    return _FILTERS[k]
