"""Audio in: odd wav/flac files (lengths, channels, rates, sample formats) read as mono float32 at the rate asked
for; resampling keeps a tone's pitch; stereo is the mean of its channels; every bad file is refused by name."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.data.audio import audio_files, read_audio, resample
from rnnkit.data.sources import DataError

sf = pytest.importorskip("soundfile")

RATES = (8000, 11025, 16000, 22050, 44100)
# (container, subtype, quantisation step of the stored samples: the tolerance of a round trip)
FORMATS = [
    ("WAV", "PCM_16", 2.0**-15),
    ("WAV", "PCM_24", 2.0**-23),
    ("WAV", "FLOAT", 1e-7),
    ("WAV", "PCM_U8", 2.0**-7),
    ("FLAC", "PCM_16", 2.0**-15),
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(1, 3000),
    channels=st.integers(1, 3),
    rate=st.sampled_from(RATES),
    fmt=st.sampled_from(FORMATS),
    seed=st.integers(0, 2**16),
)
def test_any_file_reads_as_the_mean_of_its_channels_at_its_own_rate(tmp_path, n, channels, rate, fmt, seed):
    container, subtype, step = fmt
    x = np.random.default_rng(seed).uniform(-0.9, 0.9, (n, channels)).astype(np.float32)  # (S, K)
    p = tmp_path / f"a.{container.lower()}"
    sf.write(p, x, rate, format=container, subtype=subtype)
    a = read_audio(p)
    assert a.samples.dtype == np.float32 and a.samples.shape == (n,)
    assert a.rate == a.source_rate == rate and a.channels == channels
    np.testing.assert_allclose(a.samples, x.mean(1), atol=step * 1.01)  # only the file's quantisation is lost


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 4000), rate=st.sampled_from(RATES), target=st.sampled_from(RATES))
def test_resampled_length_is_the_duration_at_the_new_rate(tmp_path, n, rate, target):
    p = tmp_path / "a.wav"
    sf.write(p, np.zeros(n, np.float32), rate, subtype="FLOAT")
    a = read_audio(p, rate=target)
    g = math.gcd(rate, target)
    assert len(a.samples) == math.ceil(n * (target // g) / (rate // g))  # scipy's resample_poly length
    assert a.rate == target and a.source_rate == rate and a.samples.dtype == np.float32


def test_resampling_keeps_the_pitch_and_matches_a_tone_made_at_the_target_rate():
    t16 = np.arange(16000) / 16000
    t8 = np.arange(8000) / 8000
    y = resample(np.sin(2 * np.pi * 440 * t16).astype(np.float32), 16000, 8000)
    want = np.sin(2 * np.pi * 440 * t8)
    # the polyphase filter's edges are transients; the middle of the signal is the same tone to 1e-3
    np.testing.assert_allclose(y[200:-200], want[200:-200], atol=1e-3)
    assert np.argmax(np.abs(np.fft.rfft(y))) == 440  # 1 Hz bins over one second


def test_a_tone_above_the_new_nyquist_is_filtered_out_not_aliased():
    t = np.arange(16000) / 16000
    y = resample(np.sin(2 * np.pi * 5000 * t).astype(np.float32), 16000, 8000)  # 5 kHz > 4 kHz Nyquist
    assert np.abs(y[200:-200]).max() < 0.01  # naive decimation would alias it to 3 kHz at full amplitude


def test_stereo_is_downmixed_to_the_mean(tmp_path):
    left = np.linspace(-0.5, 0.5, 800, dtype=np.float32)
    sf.write(tmp_path / "s.wav", np.stack([left, np.zeros_like(left)], 1), 8000, subtype="FLOAT")
    a = read_audio(tmp_path / "s.wav")
    assert a.channels == 2
    np.testing.assert_allclose(a.samples, left / 2, atol=1e-7)


def test_int16_samples_are_scaled_to_minus_one_one(tmp_path):
    sf.write(tmp_path / "i.wav", np.array([-32768, 0, 16384, 32767], np.int16), 8000, subtype="PCM_16")
    np.testing.assert_allclose(read_audio(tmp_path / "i.wav").samples, [-1.0, 0.0, 0.5, 32767 / 32768])


# ---- bad files: each refused, naming the file and what to do ------------------------------------------------


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match=r"nope\.wav: no such audio file"):
        read_audio(tmp_path / "nope.wav")


def test_an_empty_recording_is_refused(tmp_path):
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 8000)
    with pytest.raises(DataError, match=r"empty\.wav: holds no audio samples"):
        read_audio(tmp_path / "empty.wav")


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00", b"not audio at all, just text\n" * 20])
def test_a_file_that_is_not_audio_is_refused(tmp_path, content):
    (tmp_path / "bad.wav").write_bytes(content)
    with pytest.raises(DataError, match=r"bad\.wav: not a readable audio file .*give wav or flac"):
        read_audio(tmp_path / "bad.wav")


def test_a_truncated_file_reads_what_it_holds_or_is_refused_by_name(tmp_path):
    sf.write(tmp_path / "t.wav", np.full(4000, 0.25, np.float32), 8000, subtype="PCM_16")
    data = (tmp_path / "t.wav").read_bytes()
    (tmp_path / "t.wav").write_bytes(data[: len(data) // 2])  # header says 4000 samples, half are there
    try:
        a = read_audio(tmp_path / "t.wav")
    except DataError as e:
        assert "t.wav" in str(e)
    else:
        assert 0 < len(a.samples) <= 4000 and np.isfinite(a.samples).all()


def test_an_absurdly_long_file_is_refused_with_the_limit(tmp_path):
    sf.write(tmp_path / "long.wav", np.zeros(8000 * 3, np.float32), 8000)
    with pytest.raises(DataError, match=r"long\.wav: is 3\.0 s long, over the limit of 2 s.*data\.max_seconds"):
        read_audio(tmp_path / "long.wav", max_seconds=2)
    assert len(read_audio(tmp_path / "long.wav", max_seconds=0).samples) == 24000  # 0: no limit


def test_non_finite_samples_are_refused(tmp_path):
    sf.write(tmp_path / "nan.wav", np.array([0.1, np.nan, 0.2], np.float32), 8000, subtype="FLOAT")
    with pytest.raises(DataError, match=r"nan\.wav: holds NaN or infinite samples"):
        read_audio(tmp_path / "nan.wav")


def test_a_folder_without_recordings_says_so(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="holds no .wav or .flac files"):
        audio_files(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        audio_files(tmp_path / "missing")


def test_audio_files_are_found_recursively_in_path_order(tmp_path: Path):
    for name in ("b/2.flac", "a/1.WAV", "c.wav", "skip.mp3"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(
            tmp_path / name, np.zeros(10, np.float32), 8000, format="FLAC" if "flac" in name else "WAV"
        ) if not name.endswith(".mp3") else (tmp_path / name).write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in audio_files(tmp_path)] == ["a/1.WAV", "b/2.flac", "c.wav"]
