"""MIDI in and out for the music task: tiny files made here with pretty_midi, exact round trips at the frame rate,
property tests over odd inputs (empty tracks, drums, notes off the keyboard), and the CLI from a folder of .mid files
to a generated .mid + .png."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.io import wavfile
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.data.sources import DataError
from rnnkit.tasks.music.midi import (
    KEYS,
    LOWEST_MIDI,
    load_midi,
    read_midi,
    read_midi_folder,
    roll_from_midi,
    roll_to_midi,
    transpositions,
)

pretty_midi = pytest.importorskip("pretty_midi", reason="MIDI needs the [music] extra (pretty_midi)")
runner = CliRunner()


Span = tuple[int, float, float]  # (MIDI pitch, start s, end s)


def song(notes: list[Span], *, drums: list[Span] = (), empty_track: bool = False):
    """A PrettyMIDI with a piano track of (pitch, start, end) notes, optionally a drum track and an empty track."""
    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [pretty_midi.Note(velocity=90, pitch=p, start=s, end=e) for p, s, e in notes]
    pm.instruments.append(piano)
    if drums:
        kit = pretty_midi.Instrument(program=0, is_drum=True)
        kit.notes = [pretty_midi.Note(velocity=90, pitch=p, start=s, end=e) for p, s, e in drums]
        pm.instruments.append(kit)
    if empty_track:
        pm.instruments.append(pretty_midi.Instrument(program=40))
    return pm


def as_bytes(pm) -> io.BytesIO:
    buf = io.BytesIO()
    pm.write(buf)
    buf.seek(0)
    return buf


def save(pm, path: Path) -> Path:
    pm.write(str(path))
    return path


def test_notes_become_frames_at_the_frame_rate():
    # at fs = 4: C4 0.0-0.5 s -> frames 0, 1; E4 0.5-0.6 s (shorter than a frame) -> frame 2 (rounded 0.5*4 = 2);
    # drums and a note above C8 are left out and counted
    pm = song([(60, 0.0, 0.5), (64, 0.5, 0.6), (120, 0.0, 1.0)], drums=[(36, 0.0, 2.0)], empty_track=True)
    roll, kept = roll_from_midi(load_midi(as_bytes(pm)), fs=4)
    assert roll.shape == (3, KEYS) and roll.dtype == np.float32
    assert np.flatnonzero(roll[:, 60 - LOWEST_MIDI]).tolist() == [0, 1]
    assert np.flatnonzero(roll[:, 64 - LOWEST_MIDI]).tolist() == [2]
    assert roll.sum() == 3 and (kept.kept, kept.drums, kept.outside) == (2, 1, 1)


@settings(max_examples=40, deadline=None)
@given(
    frames=st.integers(1, 24),
    down=st.lists(st.tuples(st.integers(0, 23), st.integers(0, KEYS - 1)), max_size=60),
    fs=st.sampled_from([1.0, 2.0, 3.0, 4.0, 7.5, 16.0, 50.0]),
)
def test_roll_to_midi_to_roll_is_exact_at_the_frame_rate(frames, down, fs):
    """Through a real MIDI file (ticks, tempo): the same roll, up to its last frame with a key down (a MIDI file
    has no notion of silence after its last note)."""
    r = np.zeros((frames, KEYS), dtype=np.float32)
    for t, k in down:
        r[t % frames, k] = 1.0
    if not r.any():
        with pytest.raises(DataError, match="has no notes"):
            roll_from_midi(load_midi(as_bytes(roll_to_midi(r, fs=fs))), fs=fs)
        return
    last = int(np.flatnonzero(r.any(1)).max())
    back, _ = roll_from_midi(load_midi(as_bytes(roll_to_midi(r, fs=fs))), fs=fs)
    np.testing.assert_array_equal(back, r[: last + 1])


def test_midi_to_roll_to_midi_keeps_notes_on_the_grid():
    fs = 8.0
    notes = [(60, 0.0, 0.5), (64, 0.25, 1.0), (67, 0.25, 0.375), (60, 0.75, 1.25), (21, 1.0, 1.125), (108, 0.0, 2.0)]
    back = roll_to_midi(read_midi_bytes(song(notes), fs), fs=fs)
    got = sorted((n.pitch, n.start, n.end) for n in back.instruments[0].notes)
    assert got == sorted(notes)


def read_midi_bytes(pm, fs: float) -> np.ndarray:
    return roll_from_midi(load_midi(as_bytes(pm)), fs=fs)[0]


notes_st = st.lists(
    st.tuples(st.integers(0, 127), st.floats(0, 4, allow_nan=False), st.floats(0, 1.5, allow_nan=False)), max_size=8
)


@settings(max_examples=80, deadline=None)
@given(piano=notes_st, drums=notes_st, fs=st.sampled_from([2.0, 4.0, 10.0]))
def test_odd_midi_drums_and_keys_off_the_piano_are_left_out(piano, drums, fs):
    """Any notes (zero length, any pitch 0..127, on drum tracks): the roll is what the piano notes alone give,
    every kept note's first frame is down, and a song with nothing to keep is refused saying why."""
    spans = [(p, s, s + d) for p, s, d in piano]
    on_piano = [(p, s, e) for p, s, e in spans if LOWEST_MIDI <= p < LOWEST_MIDI + KEYS]
    pm = song(spans, drums=[(p, s, s + d) for p, s, d in drums], empty_track=True)
    if not on_piano:
        why = "only drum notes" if drums and not spans else "no notes on the piano" if spans else "no notes"
        with pytest.raises(DataError, match=why):
            roll_from_midi(pm, fs=fs)
        return
    roll, kept = roll_from_midi(pm, fs=fs)
    assert (kept.kept, kept.drums, kept.outside) == (len(on_piano), len(drums), len(spans) - len(on_piano))
    np.testing.assert_array_equal(roll, roll_from_midi(song(on_piano), fs=fs)[0])  # the left-out notes change nothing
    assert set(np.unique(roll)) <= {0.0, 1.0}
    for p, s, _ in on_piano:
        assert roll[int(round(s * fs)), p - LOWEST_MIDI] == 1.0


def test_bad_files_say_what_is_wrong(tmp_path):
    (tmp_path / "junk.mid").write_bytes(b"MThd\x00\x00\x00\x06 this is not midi")
    with pytest.raises(DataError, match="junk.mid: not a readable MIDI file"):
        read_midi(tmp_path / "junk.mid", fs=4)
    with pytest.raises(DataError, match="empty.mid: has no notes"):
        read_midi(save(pretty_midi.PrettyMIDI(), tmp_path / "empty.mid"), fs=4)
    with pytest.raises(DataError, match="drums.mid: has only drum notes"):
        read_midi(save(song([], drums=[(38, 0, 1)]), tmp_path / "drums.mid"), fs=4)
    with pytest.raises(DataError, match="no such MIDI file"):
        read_midi(tmp_path / "missing.mid", fs=4)
    with pytest.raises(DataError, match="must be \\(frames, 88\\)"):
        roll_to_midi(np.zeros((4, 87)), fs=4)
    (tmp_path / "none").mkdir()
    with pytest.raises(DataError, match="no .mid or .midi files"):
        read_midi_folder(tmp_path / "none", fs=4)
    save(song([(60, 0, 0.2)]), tmp_path / "none" / "short.mid")
    with pytest.raises(DataError, match="short.mid: lasts 1 frame at fs=4"):
        read_midi_folder(tmp_path / "none", fs=4)


def test_transpositions_stay_on_the_keyboard():
    r = np.zeros((3, KEYS), dtype=np.float32)
    r[:, [1, 40]] = 1.0  # lowest key down is key 1: only one semitone of room below
    shifted = transpositions([r], 3)
    assert len(shifted) == 5  # -1, 0, +1, +2, +3
    assert sorted(int(np.flatnonzero(s[0]).min()) for s in shifted) == [0, 1, 2, 3, 4]
    assert all(s.sum() == r.sum() for s in shifted)


@pytest.mark.slow
def test_cli_trains_on_a_midi_folder_and_writes_a_midi_sample(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "midi"
    for split, n in (("train", 4), ("valid", 2), ("test", 2)):
        (data / split).mkdir(parents=True)
        for i in range(n):
            root = 60 + int(rng.integers(0, 5))
            chords = [(root + d, t / 4, (t + 1) / 4) for t in range(8) for d in (0, 4, 7)]
            save(song(chords, drums=[(36, 0, 2)]), data / split / f"{i}.mid")
    run = tmp_path / "run"
    r = runner.invoke(
        app,
        [
            "--threads",
            "1",
            "music",
            "train",
            "--data",
            str(data),
            "--fs",
            "4",
            "--output",
            "nade",
            "--transpose",
            "2",
            "--epochs",
            "1",
            "--hidden",
            "8",
            "--model.nade_hidden=8",
            "--out",
            str(run),
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "MIDI at 4 frames per second" in r.output and "4 -> 20" in r.output
    out_mid, out_png, out_wav = tmp_path / "sample.mid", tmp_path / "sample.png", tmp_path / "sample.wav"
    r = runner.invoke(
        app,
        [
            "music",
            "generate",
            str(run),
            "--prime",
            str(data / "test" / "0.mid"),
            "--frames",
            "6",
            "--seed",
            "1",
            "--temperature",
            "0.8",
            "--midi",
            str(out_mid),
            "--png",
            str(out_png),
            "--wav",
            str(out_wav),
        ],
    )
    assert r.exit_code == 0, r.output
    printed = r.output.strip().splitlines()
    assert len(printed) == 6 and out_png.stat().st_size > 1000
    back = read_midi(out_mid, fs=4) if any(line != "-" for line in printed) else None
    if back is not None:  # the file holds the printed frames, up to the last frame with a key down
        lines = [",".join(str(k + LOWEST_MIDI) for k in np.flatnonzero(f)) or "-" for f in back]
        assert lines == printed[: len(lines)]
        rate, audio = wavfile.read(out_wav)  # sounds as long as the notes (pretty_midi adds a 1 s release tail)
        assert audio.dtype == np.int16 and len(back) / 4 <= len(audio) / rate <= len(back) / 4 + 1.1
    r = runner.invoke(app, ["music", "eval", str(run), "--data", str(data / "test")])
    assert r.exit_code == 0 and '"pieces": 2' in r.output, r.output


def test_a_flat_midi_folder_holds_out_the_seeded_files(tmp_path):
    """Without train/valid/test subfolders, ``data.val_fraction`` of the files validate: the ones the numpy order of
    the seed picks (the rule runs were trained with), the rest train in that order; transposition comes after."""
    from rnnkit.tasks.music.config import MusicDataConfig
    from rnnkit.tasks.music.data import load_splits

    for i in range(6):  # piece i: one key, MIDI 60 + i, over i + 2 frames at 4 fps
        save(song([(60 + i, 0.0, (i + 2) / 4)]), tmp_path / f"p{i}.mid")
    d = MusicDataConfig(path=str(tmp_path), val_fraction=0.34)
    splits = load_splits(d, seed=7)
    key = lambda r: int(np.flatnonzero(r.any(0))[0]) + LOWEST_MIDI - 60  # noqa: E731
    order = np.random.default_rng(7).permutation(6)
    assert [key(r) for r in splits.val] == list(order[:2]) and [key(r) for r in splits.train] == list(order[2:])
    assert splits.test is None and "2 of the MIDI files held out" in splits.notes[1]
    moved = load_splits(MusicDataConfig(path=str(tmp_path), val_fraction=0.34, transpose=1), seed=7)
    assert len(moved.train) == 3 * 4 and [key(r) for r in moved.val] == list(order[:2])
