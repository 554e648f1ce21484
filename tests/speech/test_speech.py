"""The speech task through its Python API and its CLI on tiny synthetic recordings (one tone per word): labels from
file names or a CSV, the splits, normalisation fitted on training only, the feature cache, predict on files and
waveforms, the messages for bad input; an FSDD check that skips without the data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.config import ConfigError
from rnnkit.data.sources import DataError
from rnnkit.tasks.speech import SpeechRecognizer
from rnnkit.tasks.speech import data as speech_data
from tests.speech.tones import PITCHES, tone, write_tones

sf = pytest.importorskip("soundfile")
runner = CliRunner()


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def tones(tmp_path) -> Path:
    return write_tones(tmp_path / "rec", per_word=6)


def _task(tones: Path, tmp_path: Path, **kw) -> SpeechRecognizer:
    opts = dict(
        data=str(tones),
        hidden=8,
        epochs=8,
        batch_size=6,
        lr=0.02,
        out=str(tmp_path / "run"),
        cache=str(tmp_path / "cache"),
    )
    overrides = {"train.quiet": True, "data.test_below": 2, **kw.pop("overrides", {})}
    return SpeechRecognizer.from_options(**{**opts, **kw}, overrides=overrides)


def test_trained_on_tones_it_recognises_them_from_files_and_waveforms(tones, tmp_path):
    task = _task(tones, tmp_path)
    report = task.fit_and_test()
    assert report["n"] == 3 * 2 * 2  # index 0-1 of each word and speaker: the test set
    assert report["accuracy"] == 1.0, report  # three pitches far apart: a tiny BiGRU separates them
    loaded = SpeechRecognizer.load(tmp_path / "run")
    files = [tones / "hi_ann_0.wav", tones / "lo_bob_1.wav"]
    assert [top[0][0] for top in loaded.predict(files)] == ["hi", "lo"]
    assert [top[0][0] for top in loaded.predict([tone(PITCHES["mid"], seed=99)])] == ["mid"]  # an array at 8 kHz
    p, _ = loaded.predict_proba(files)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)


def test_official_index_split_and_validation_from_training_only(tones, tmp_path):
    task = _task(tones, tmp_path, overrides={"data.val_fraction": 0.25})
    s = task.load_data()
    assert len(s.test) == 12 and len(s.train) + len(s.val) == 24  # index 0-1 test; 2-5 training (+ validation)
    assert "index < 2 are the test set" in s.notes[0]
    recs = speech_data.list_recordings(tones)
    train, test, _ = speech_data.split_recordings(
        recs, split="index", test_below=2, test_speaker="", test_fraction=0.1, seed=0
    )
    assert {r.index for r in test} == {0, 1} and {r.index for r in train} == {2, 3, 4, 5}
    train, test, why = speech_data.split_recordings(
        recs, split="speaker", test_below=2, test_speaker="bob", test_fraction=0.1, seed=0
    )
    assert {r.speaker for r in test} == {"bob"} and {r.speaker for r in train} == {"ann"} and "bob" in why
    with pytest.raises(DataError, match=r"--test-speaker NAME\), one of the speakers \['ann', 'bob'\]; got ''"):
        speech_data.split_recordings(recs, split="speaker", test_below=2, test_speaker="", test_fraction=0.1, seed=0)
    a = speech_data.split_recordings(recs, split="random", test_below=0, test_speaker="", test_fraction=0.25, seed=3)
    b = speech_data.split_recordings(recs, split="random", test_below=0, test_speaker="", test_fraction=0.25, seed=3)
    assert [r.path for r in a[1]] == [r.path for r in b[1]] and len(a[1]) == 9  # seeded, a quarter
    assert not {r.path for r in a[0]} & {r.path for r in a[1]}


@pytest.mark.parametrize(("n", "fraction", "seed"), [(12, 0.25, 2024), (8, 0.15, 0), (101, 0.1, 7), (40, 0.5, 3)])
def test_the_random_split_holds_out_the_recordings_it_always_held_out(n, fraction, seed):
    """split='random' goes through rnnkit.data.splits (NumPy's order) and keeps the draw it had before: the test set
    is the first round(n * fraction) of ``default_rng(seed).permutation(n)``, in file order; saved runs keep theirs."""
    recs = [speech_data.Recording(Path(f"{i}.wav"), "x") for i in range(n)]
    train, test, _ = speech_data.split_recordings(
        recs, split="random", test_below=0, test_speaker="", test_fraction=fraction, seed=seed
    )
    held = set(np.random.default_rng(seed).permutation(n)[: int(round(n * fraction))].tolist())
    assert [r.path.stem for r in test] == [str(i) for i in range(n) if i in held]
    assert [r.path.stem for r in train] == [str(i) for i in range(n) if i not in held]
    if (n, fraction, seed) == (12, 0.25, 2024):
        assert [r.path.stem for r in test] == ["5", "7", "10"]  # pinned: the draw before the move (0.1)


def test_global_normalisation_is_fitted_on_the_training_part_only(tones, tmp_path):
    task = _task(tones, tmp_path, overrides={"data.val_fraction": 0.0})
    s = task.load_data()
    task.prepare(s.train)
    mean, std = task.scaler
    train = np.concatenate(s.train.inputs)
    np.testing.assert_allclose(mean, train.mean(0), rtol=1e-5)
    np.testing.assert_allclose(std, train.std(0) + 1e-8, rtol=1e-5)
    assert not np.allclose(mean, np.concatenate([*s.train.inputs, *s.test.inputs]).mean(0), rtol=1e-5)


def test_utterance_normalisation_standardises_each_utterance(tones, tmp_path):
    task = _task(tones, tmp_path, overrides={"data.normalize": "utterance", "data.features": "mfcc"})
    s = task.load_data()
    x = s.train.inputs[0]
    assert x.shape[1] == 13
    np.testing.assert_allclose(x.mean(0), 0.0, atol=1e-4)
    task.prepare(s.train)
    assert np.all(task.scaler[0] == 0) and np.all(task.scaler[1] == 1)  # no second, global scaling


def test_features_are_cached_by_file_content_and_settings(tones, tmp_path, monkeypatch):
    from rnnkit.data.audio_features import FeatureSpec

    spec = FeatureSpec.from_ms("logmel", 8000, win_ms=25, hop_ms=10, n_mels=40, n_mfcc=13)
    paths = sorted(tones.glob("*.wav"))[:5]
    cache = tmp_path / "c"
    first, _ = speech_data.compute_features(paths, spec, max_seconds=60, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 1

    def boom(*a, **k):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(speech_data, "features", boom)
    again, _ = speech_data.compute_features(paths, spec, max_seconds=60, cache_dir=cache)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    monkeypatch.undo()
    sf.write(paths[0], tone(500.0, seed=7), 8000)  # one file changed: a new key
    changed, _ = speech_data.compute_features(paths, spec, max_seconds=60, cache_dir=cache)
    assert not np.array_equal(changed[0], first[0]) and len(list(cache.glob("*.npz"))) == 2
    other = FeatureSpec.from_ms("mfcc", 8000, win_ms=25, hop_ms=10, n_mels=40, n_mfcc=13)
    speech_data.compute_features(paths, other, max_seconds=60, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 3  # other settings: another key
    sorted(cache.glob("*.npz"))[0].write_bytes(b"damaged")  # a damaged cache file is recomputed, not trusted
    speech_data.compute_features(paths, spec, max_seconds=60, cache_dir=cache)


def test_labels_from_a_csv_with_relative_paths(tones, tmp_path):
    rows = ["path,label"] + [f"rec/{p.name},{p.stem.split('_')[0].upper()}" for p in sorted(tones.glob("*.wav"))]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    recs = speech_data.list_recordings(tmp_path / "labels.csv")
    assert len(recs) == 36 and {r.label for r in recs} == {"LO", "MID", "HI"}
    task = _task(tones, tmp_path, data=str(tmp_path / "labels.csv"), epochs=1)
    s = task.load_data()
    assert "random split" in s.notes[0]  # no index in a CSV: a seeded random test split
    (tmp_path / "bad.csv").write_text("rec/missing.wav,LO\n")
    with pytest.raises(DataError, match=r"bad\.csv row 1: .*missing\.wav does not exist"):
        speech_data.list_recordings(tmp_path / "bad.csv")
    (tmp_path / "short.csv").write_text("rec/lo_ann_0.wav\n")
    with pytest.raises(DataError, match=r"short\.csv row 1: expected 'path,label'"):
        speech_data.list_recordings(tmp_path / "short.csv")


def test_file_names_that_do_not_match_the_pattern_are_named(tones):
    sf.write(tones / "stray.wav", tone(300.0), 8000)
    with pytest.raises(DataError, match=r"1 file name\(s\) do not match .*stray\.wav.*--label-pattern"):
        speech_data.list_recordings(tones)
    recs = speech_data.list_recordings(tones, pattern=r"^(?P<label>[a-z]+)")  # a looser pattern takes it
    assert len(recs) == 37
    with pytest.raises(DataError, match="no \\(\\?P<label>"):
        speech_data.list_recordings(tones, pattern=r"^([a-z]+)")


def test_other_rates_and_stereo_are_converted_and_said_once(tones, tmp_path):
    x = tone(PITCHES["hi"], rate=16000, seed=5)
    sf.write(tones / "hi_cat_9.wav", x, 16000)
    sf.write(tones / "hi_cat_8.wav", np.stack([x, x], 1), 16000)
    task = _task(tones, tmp_path, overrides={"data.split": "speaker", "data.test_speaker": "cat"})
    s = task.load_data()
    assert task.sample_rate == 8000  # the training files' common rate
    assert "resampled 2 file(s) from 16000 Hz to 8000 Hz" in s.notes
    assert "downmixed 1 multi-channel file(s) to mono (the mean of the channels)" in s.notes


def test_cli_train_eval_predict(tones, tmp_path):
    run = tmp_path / "run"
    args = [
        "speech",
        "train",
        "--data",
        str(tones),
        "--hidden",
        "8",
        "--epochs",
        "6",
        "--batch-size",
        "6",
        "--lr",
        "0.02",
        "--out",
        str(run),
        "--cache",
        "off",
        "--quiet",
        "--data.test_below=2",
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "index < 2 are the test set" in r.output and "logmel features: 40 per frame at 8000 Hz" in r.output
    assert (run / "confusion.png").is_file() and json.loads((run / "task.json").read_text())["sample_rate"] == 8000
    r = runner.invoke(app, ["speech", "eval", str(run), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["n"] == 12
    r = runner.invoke(app, ["speech", "eval", str(run), "--json", "--data", str(tones)])  # a whole folder scored
    assert json.loads(r.stdout)["n"] == 36
    x16 = tone(PITCHES["lo"], rate=16000, seed=3)
    sf.write(tmp_path / "q.flac", x16, 16000)
    r = runner.invoke(
        app, ["speech", "predict", str(run), str(tones / "mid_ann_0.wav"), str(tmp_path / "q.flac"), "--k", "2"]
    )
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith(str(tones / "mid_ann_0.wav") + "\t")
    assert len(lines[0].split("\t")[1].split("  ")) == 2  # k=2 words with probabilities
    assert "resampled 1 file(s) from 16000 Hz to 8000 Hz" in r.stderr
    r = runner.invoke(app, ["speech", "predict", str(run), str(tmp_path / "nope.wav")])
    assert r.exit_code == 1 and "nope.wav: no such audio file" in r.output


def test_bad_options_are_refused_with_their_key(tmp_path):
    with pytest.raises(ConfigError, match="data.features"):
        SpeechRecognizer.from_options(overrides={"data.features": "spectrogram"})
    with pytest.raises(ConfigError, match="model.input"):
        SpeechRecognizer.from_options(overrides={"model.input": "char"})
    with pytest.raises(ConfigError, match="data.n_mfcc"):
        SpeechRecognizer.from_options(overrides={"data.n_mfcc": 50})
    with pytest.raises(ConfigError, match="give --data"):
        SpeechRecognizer.from_options().load_data()
    r = runner.invoke(app, ["speech", "train", "--data", str(tmp_path), "--out", str(tmp_path / "r")])
    assert r.exit_code == 1 and "holds no .wav or .flac files" in r.output


@pytest.mark.parametrize("cell", ["lstm", "mingru", "rnn"])
def test_other_cells_train_as_the_recurrence(tones, tmp_path, cell):
    task = _task(tones, tmp_path, cell=cell, epochs=1, overrides={"model.freq_masks": 1, "model.time_masks": 1})
    task.fit_and_test()
    assert type(task.model.encoder).__name__ == "Recurrent"
    assert task.config.model.cell.name == cell


def test_fsdd_layout_and_official_split(data_root, tmp_path):
    rec = data_root / "fsdd" / "recordings"
    if not rec.is_dir():
        pytest.skip(f"FSDD not in {data_root} (see ../shared/data/SOURCES.md)")
    recs = speech_data.list_recordings(rec)
    assert len(recs) == 3000 and {r.label for r in recs} == {str(d) for d in range(10)}
    assert len({r.speaker for r in recs}) == 6
    train, test, _ = speech_data.split_recordings(
        recs, split="auto", test_below=5, test_speaker="", test_fraction=0.1, seed=0
    )
    assert (len(train), len(test)) == (2700, 300) and max(r.index for r in test) == 4
    task = SpeechRecognizer.from_options(dataset="fsdd", data_root=str(data_root), cache=str(tmp_path))
    assert task._source().resolve() == rec.resolve()  # a data root may be a symlink
    from rnnkit.data.audio_features import FeatureSpec

    feats, notes = speech_data.compute_features(
        [r.path for r in test[:30]], FeatureSpec(), max_seconds=60, cache_dir=None
    )
    assert notes == [] and all(f.shape[1] == 40 and 5 < len(f) < 300 for f in feats)  # 8 kHz mono, < 3 s each
