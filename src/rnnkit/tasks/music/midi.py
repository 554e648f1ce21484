"""MIDI files <-> binary piano rolls (T, 88) at ``fs`` frames per second, through ``pretty_midi`` (the ``[music]``
extra, imported lazily).

Reading (``roll_from_midi``): every note of every pitched instrument sounds in the frames
``round(start * fs) .. round(end * fs) - 1`` (at least one frame, so a note shorter than a frame is kept);
the instruments are merged (a piano roll has no instruments). Left out, and counted in the returned
``MidiNotes``: drum tracks (their note numbers name percussion sounds, not pitches) and notes outside the piano's
range A0..C8 (MIDI 21..108). Velocities, pedals, pitch bends and program changes are ignored. A file with no
pitched note on the piano is refused.

Writing (``roll_to_midi``): each run of consecutive frames with a key down becomes one note (a key held over two
frames and a key struck twice are the same roll), on one acoustic-piano track, velocity 80. So
roll -> MIDI -> roll gives the roll back exactly at the same ``fs`` (tested); MIDI -> roll -> MIDI keeps notes
whose start and end lie on the frame grid, except that touching notes of one key merge.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.sources import DataError

KEYS = 88  # piano keys A0..C8: the columns of a piano roll
LOWEST_MIDI = 21  # MIDI note number of key 0 (A0)

MIDI_SUFFIXES = (".mid", ".midi")
VELOCITY = 80


def _pretty_midi() -> Any:
    try:
        import pretty_midi
    except ImportError:  # pragma: no cover - the extra is installed in CI
        raise DataError("MIDI input/output needs pretty_midi: pip install 'rnnkit[music]'") from None
    return pretty_midi


@dataclass(frozen=True)
class MidiNotes:
    """What reading a MIDI file kept and left out."""

    kept: int
    drums: int  # notes on drum tracks
    outside: int  # pitched notes outside A0..C8


def load_midi(path: str | os.PathLike | io.BytesIO) -> Any:
    """A ``pretty_midi.PrettyMIDI`` from a file (or bytes); DataError naming the file if it is not a MIDI file."""
    pm = _pretty_midi()
    where = path if not isinstance(path, io.BytesIO) else "<bytes>"
    if not isinstance(path, io.BytesIO) and not Path(path).is_file():
        raise DataError(f"{where}: no such MIDI file")
    try:
        return pm.PrettyMIDI(path if isinstance(path, io.BytesIO) else str(path))
    except Exception as e:  # mido raises OSError, EOFError, KeyError, ValueError... on a corrupt file
        raise DataError(f"{where}: not a readable MIDI file ({type(e).__name__}: {e})") from None


def roll_from_midi(midi: Any, *, fs: float, where: str = "MIDI") -> tuple[np.ndarray, MidiNotes]:
    """A ``PrettyMIDI`` -> (float32 (T, 88) roll of 0/1 at ``fs`` frames per second, what was kept); see the module
    docstring for the rules. T runs to the end of the last kept note."""
    if not fs > 0:
        raise DataError(f"{where}: the frame rate fs must be > 0 frames per second, got {fs}")
    spans, drums, outside = [], 0, 0
    for inst in midi.instruments:
        for n in inst.notes:
            if inst.is_drum:
                drums += 1
            elif not LOWEST_MIDI <= n.pitch < LOWEST_MIDI + KEYS:
                outside += 1
            else:
                start = int(round(n.start * fs))
                spans.append((n.pitch - LOWEST_MIDI, start, max(int(round(n.end * fs)), start + 1)))
    if not spans:
        why = (
            "only drum notes"
            if drums and not outside
            else "no notes on the piano's keys A0..C8 (MIDI 21..108)"
            if outside
            else "no notes"
        )
        raise DataError(f"{where}: has {why}; a piano roll needs pitched notes (drum tracks are left out)")
    roll = np.zeros((max(e for _, _, e in spans), KEYS), dtype=np.float32)
    for k, s, e in spans:
        roll[s:e, k] = 1.0
    return roll, MidiNotes(len(spans), drums, outside)


def read_midi(path: str | os.PathLike, *, fs: float) -> np.ndarray:
    """One MIDI file -> its (T, 88) roll at ``fs`` frames per second (``roll_from_midi``)."""
    return roll_from_midi(load_midi(path), fs=fs, where=str(path))[0]


def roll_to_midi(roll: np.ndarray, *, fs: float, program: int = 0) -> Any:
    """A (T, 88) roll of 0/1 -> a ``PrettyMIDI`` with one instrument (General MIDI ``program``, 0 = piano) whose
    notes are the runs of frames with a key down, frame t lasting [t / fs, (t + 1) / fs) seconds."""
    pm = _pretty_midi()
    r = np.asarray(roll)
    if r.ndim != 2 or r.shape[1] != KEYS:
        raise DataError(f"a piano roll to write must be (frames, {KEYS}), got shape {r.shape}")
    if not fs > 0:
        raise DataError(f"the frame rate fs must be > 0 frames per second, got {fs}")
    midi, inst = pm.PrettyMIDI(), pm.Instrument(program=program)
    down = np.pad(r > 0.5, ((1, 1), (0, 0)))  # (T + 2, K): a silent frame either side closes every run
    edges = np.diff(down.astype(np.int8), axis=0)  # (T + 1, K): +1 where a run starts, -1 one past its end
    for k in range(KEYS):
        starts, ends = np.flatnonzero(edges[:, k] == 1), np.flatnonzero(edges[:, k] == -1)
        for s, e in zip(starts, ends, strict=True):
            inst.notes.append(pm.Note(velocity=VELOCITY, pitch=k + LOWEST_MIDI, start=s / fs, end=e / fs))
    inst.notes.sort(key=lambda n: (n.start, n.pitch))
    midi.instruments.append(inst)
    return midi


def write_midi(roll: np.ndarray, path: str | os.PathLike, *, fs: float) -> Path:
    """Write a (T, 88) roll as a MIDI file (``roll_to_midi``); returns the path."""
    from rnnkit.durable import atomic_path

    out = Path(path)
    with atomic_path(out) as tmp:
        roll_to_midi(roll, fs=fs).write(str(tmp))
    return out


def write_wav(roll: np.ndarray, path: str | os.PathLike, *, fs: float, rate: int = 22050) -> Path:
    """Render a (T, 88) roll as a 16-bit mono .wav with pretty_midi's own synthesis (one sine wave per note, no
    soundfont: a sketch to hear, not a piano); returns the path."""
    from scipy.io import wavfile

    from rnnkit.durable import atomic_path

    audio = roll_to_midi(roll, fs=fs).synthesize(fs=rate)  # float64, peak-normalised to 1 by pretty_midi
    out = Path(path)
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        wavfile.write(f, rate, (np.clip(audio, -1, 1) * 32767 * 0.8).astype(np.int16))
    return out


def midi_files(folder: str | os.PathLike) -> list[Path]:
    """The .mid/.midi files directly in ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in MIDI_SUFFIXES)


def read_midi_folder(folder: str | os.PathLike, *, fs: float) -> dict[str, list[np.ndarray]]:
    """A folder of MIDI files -> ``{"train": [...], "valid": [...], "test": [...]}`` rolls: its ``train/``,
    ``valid/`` and ``test/`` subfolders when it has them (``train/`` alone is fine), else every file in it as
    ``train`` (the task then holds out ``data.val_fraction`` for validation). A piece shorter than 2 frames,
    or a file without pitched piano notes, is refused with its name."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder of MIDI files")
    subs = {s: root / d for s, d in (("train", "train"), ("valid", "valid"), ("test", "test"))}
    layout = {s: p for s, p in subs.items() if p.is_dir()} or {"train": root}
    out: dict[str, list[np.ndarray]] = {}
    for split, d in layout.items():
        files = midi_files(d)
        if not files:
            raise DataError(f"{d}: no .mid or .midi files in it")
        out[split] = []
        for f in files:
            roll = read_midi(f, fs=fs)
            if len(roll) < 2:
                raise DataError(
                    f"{f}: lasts {len(roll)} frame at fs={fs}; a piece needs at least 2 frames "
                    "(frame t predicts frame t+1): raise --fs"
                )
            out[split].append(roll)
    return out


def transpositions(rolls: list[np.ndarray], semitones: int) -> list[np.ndarray]:
    """Every roll shifted by -semitones..+semitones (0 included) where all its notes stay on the keyboard: the
    transposition augmentation (a piece in another key is as likely a piece)."""
    out = []
    for r in rolls:
        on = np.flatnonzero(r.any(0))
        lo, hi = (int(on.min()), int(on.max())) if len(on) else (0, KEYS - 1)
        for d in range(-semitones, semitones + 1):
            if 0 <= lo + d and hi + d < KEYS:
                out.append(np.roll(r, d, axis=1))  # no wrap-around: the keys rolled past an edge are all 0
    return out


def plot_roll(roll: np.ndarray, out: str | os.PathLike, *, fs: float | None = None, title: str = "") -> Path:
    """A piano-roll PNG: keys (MIDI note numbers) up, frames (or seconds, given ``fs``) across."""
    from rnnkit.plots import plt, save_figure

    r = np.asarray(roll)
    on = np.flatnonzero(r.any(0))
    lo, hi = (max(int(on.min()) - 2, 0), min(int(on.max()) + 3, KEYS)) if len(on) else (0, KEYS)
    fig, ax = plt.subplots(figsize=(max(4.0, min(16.0, len(r) / 8)), 3.5))
    extent = (0, len(r) / (fs or 1), lo + LOWEST_MIDI - 0.5, hi + LOWEST_MIDI - 0.5)
    ax.imshow(r[:, lo:hi].T, origin="lower", aspect="auto", cmap="Greys", interpolation="nearest", extent=extent)
    ax.set_xlabel("seconds" if fs else "frame")
    ax.set_ylabel("MIDI note")
    ax.set_title(title or f"{len(r)} frames, {int(r.sum())} key-frames down")
    fig.tight_layout()
    return save_figure(fig, out)
