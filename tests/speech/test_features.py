"""The log-mel and MFCC features against librosa's own functions (the reference they reimplement), on known tones,
noise and real FSDD recordings, at several rates and settings; SpecAugment's masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.data.audio_features import FeatureSpec, features, hz_to_mel, mel_filters, mel_to_hz, power_to_db
from rnnkit.tasks.speech.model import SpecAugment
from tests.speech.tones import tone

librosa = pytest.importorskip("librosa")

SETTINGS = [  # (rate, win_ms, hop_ms, n_mels, n_mfcc)
    (8000, 25, 10, 40, 13),
    (16000, 25, 10, 64, 20),
    (22050, 46.4, 11.6, 128, 13),  # near librosa's own defaults: window 1023, n_fft 1024, hop 256
    (8000, 32, 8, 23, 23),
]


@pytest.mark.parametrize(("rate", "n_fft", "n_mels"), [(8000, 256, 40), (16000, 512, 80), (22050, 2048, 128)])
def test_mel_filters_are_librosas(rate, n_fft, n_mels):
    ours = mel_filters(rate, n_fft, n_mels)
    ref = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels, dtype=np.float64)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)  # the same formula in float64


def test_the_mel_scale_round_trips_and_is_linear_below_1khz():
    f = np.array([0.0, 200.0, 999.0, 1000.0, 4000.0, 11025.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f)), f, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(hz_to_mel(f), librosa.hz_to_mel(f), rtol=1e-12)
    assert hz_to_mel(600.0) == pytest.approx(9.0)  # 200/3 Hz per mel below 1 kHz


def _librosa_logmel(x, s: FeatureSpec) -> np.ndarray:
    m = librosa.feature.melspectrogram(
        y=x.astype(np.float64), sr=s.rate, n_fft=s.n_fft, hop_length=s.hop, win_length=s.win, n_mels=s.n_mels
    )
    return librosa.power_to_db(m, top_db=s.top_db).T  # (F, M)


@pytest.mark.filterwarnings("ignore:n_fft=.* is too large")  # librosa on the 3 ms signal: we pad the same way
@pytest.mark.parametrize(("rate", "win_ms", "hop_ms", "n_mels", "n_mfcc"), SETTINGS)
@pytest.mark.parametrize("signal", ["tone", "noise", "short"])
@pytest.mark.slow
def test_logmel_and_mfcc_are_librosas(rate, win_ms, hop_ms, n_mels, n_mfcc, signal):
    x = {
        "tone": tone(1000.0, rate=rate, seconds=0.4),
        "short": tone(440.0, rate=rate, seconds=0.003),
        "noise": np.random.default_rng(0).standard_normal(rate // 3).astype(np.float32) * 0.1,
    }[signal]
    spec = FeatureSpec.from_ms("logmel", rate, win_ms=win_ms, hop_ms=hop_ms, n_mels=n_mels, n_mfcc=n_mfcc)
    ours = features(x, spec)
    ref = _librosa_logmel(x, spec)
    assert ours.shape == ref.shape == (1 + len(x) // spec.hop, n_mels)
    # dB values of order 10-100: float32 output and librosa's float32 filters leave ~1e-4 dB
    np.testing.assert_allclose(ours, ref, atol=2e-3)
    mspec = FeatureSpec.from_ms("mfcc", rate, win_ms=win_ms, hop_ms=hop_ms, n_mels=n_mels, n_mfcc=n_mfcc)
    ref_mfcc = librosa.feature.mfcc(S=ref.T, n_mfcc=n_mfcc).T  # the orthonormal DCT-II of the same log-mel
    np.testing.assert_allclose(features(x, mspec), ref_mfcc, atol=5e-3)


def test_a_tone_peaks_in_the_mel_band_holding_its_frequency():
    spec = FeatureSpec.from_ms("logmel", 8000, win_ms=25, hop_ms=10, n_mels=40, n_mfcc=13)
    f = features(tone(1500.0, rate=8000, seconds=0.5), spec)
    centres = mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(4000), 42))[1:-1]
    assert abs(centres[int(np.median(f.argmax(1)))] - 1500.0) < 120  # within one band of 1.5 kHz


def test_silence_is_floored_not_minus_infinity():
    spec = FeatureSpec.from_ms("logmel", 8000, win_ms=25, hop_ms=10, n_mels=40, n_mfcc=13)
    f = features(np.zeros(800, np.float32), spec)
    assert np.isfinite(f).all() and f.max() == pytest.approx(-100.0)  # 10 log10(1e-10)
    np.testing.assert_allclose(power_to_db(np.array([1e-20, 1.0, 1e3])), [-50.0, 0.0, 30.0])  # 80 dB under the max


def test_fsdd_recordings_match_librosa(data_root):
    from rnnkit.data.audio import read_audio

    rec = data_root / "fsdd" / "recordings"
    if not rec.is_dir():
        pytest.skip(f"FSDD not in {data_root} (see ../shared/data/SOURCES.md)")
    spec = FeatureSpec.from_ms("logmel", 8000, win_ms=25, hop_ms=10, n_mels=40, n_mfcc=13)
    for name in ("0_george_0.wav", "7_jackson_32.wav", "9_yweweler_49.wav"):
        x = read_audio(rec / name).samples
        np.testing.assert_allclose(features(x, spec), _librosa_logmel(x, spec), atol=2e-3)


# ---- SpecAugment ----------------------------------------------------------------------------------------------


def test_specaugment_masks_bands_and_spans_within_bounds_only_while_training():
    aug = SpecAugment(freq_masks=2, freq_width=5, time_masks=2, time_width=8)
    x = torch.ones(64, 50, 40)
    lengths = torch.randint(5, 51, (64,), generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    aug.train()
    y = aug(x, lengths)
    zero = y == 0  # (N, T, D)
    cols = zero.all(1)  # (N, D): whole channels masked
    assert (cols.sum(1) <= 2 * 5).all() and cols.any()  # at most 2 bands of <= 5 channels, some drawn
    rows = zero.all(2)  # (N, T): whole frames masked
    assert (rows.sum(1) <= torch.minimum(torch.full_like(lengths, 16), 2 * (lengths // 5))).all()
    assert (zero & ~cols[:, None, :] & ~rows[:, :, None]).sum() == 0  # nothing but whole bands and frames
    aug.eval()
    assert torch.equal(aug(x, lengths), x)
    torch.manual_seed(0)
    aug.train()
    assert torch.equal(aug(x, lengths), y)  # torch's RNG: reproducible by seed (and by a resumed checkpoint)
