"""Recordings for the speech task: which files, their labels, the split, and their features (computed once, cached).

Labels come from the file names (a regular expression with a ``label`` group; FSDD's ``{digit}_{speaker}_{index}
.wav`` by default, whose ``speaker`` and ``index`` groups drive its official split) or from a CSV of ``path,label``
rows (paths relative to the CSV). The features of a list of files are cached in one ``.npz`` keyed by the sha256
of every file's bytes and the feature settings, so a second run (or ``eval``) reads them instead of recomputing;
a file changed by one byte, or a different window, is a different key.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.config import ConfigError
from rnnkit.data import splits
from rnnkit.data.audio import AUDIO_SUFFIXES, audio_files, read_audio
from rnnkit.data.audio_features import FeatureSpec, features
from rnnkit.data.sources import DataError, find_data_root, sha256

FSDD_PATTERN = r"^(?P<label>[^_]+)_(?P<speaker>[^_]+)_(?P<index>\d+)$"  # 7_jackson_32.wav
CACHE_ENV = "RNNKIT_CACHE"


@dataclass(frozen=True)
class Recording:
    """One labelled file; ``speaker`` and ``index`` when the file name says them (else "" and -1)."""

    path: Path
    label: str
    speaker: str = ""
    index: int = -1


def list_recordings(source: str | os.PathLike, *, pattern: str = FSDD_PATTERN) -> list[Recording]:
    """The labelled recordings of a folder (labels from the file names by ``pattern``) or of a ``path,label`` CSV."""
    src = Path(source)
    if src.is_file() and src.suffix.lower() in (".csv", ".tsv", ".txt"):
        return _from_csv(src)
    if src.is_file() and src.suffix.lower() in AUDIO_SUFFIXES:
        raise DataError(f"{src}: is one recording; give the folder holding the recordings (or a CSV path,label)")
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise DataError(f"data.label_pattern {pattern!r} is not a regular expression ({e})") from None
    if "label" not in rx.groupindex:
        raise DataError(f"data.label_pattern {pattern!r} has no (?P<label>...) group: it must say where the label is")
    out, bad = [], []
    for p in audio_files(src):
        m = rx.search(p.stem)
        if m is None:
            bad.append(p.name)
            continue
        g = m.groupdict()
        out.append(Recording(p, g["label"], g.get("speaker") or "", int(g["index"]) if g.get("index") else -1))
    if bad:
        raise DataError(
            f"{src}: {len(bad)} file name(s) do not match data.label_pattern {pattern!r} (e.g. {bad[:3]}); give "
            "--label-pattern with a (?P<label>...) group, or a CSV of path,label rows as --data"
        )
    return out


def _from_csv(path: Path) -> list[Recording]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e}); save the CSV as UTF-8") from None
    delim = "\t" if path.suffix.lower() == ".tsv" else ","
    rows = [r for r in csv.reader(text.splitlines(), delimiter=delim) if r and any(c.strip() for c in r)]
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["path", "label"]:
        rows = rows[1:]
    out = []
    for i, r in enumerate(rows, 1):
        if len(r) < 2 or not r[0].strip() or not r[1].strip():
            raise DataError(f"{path} row {i}: expected 'path,label', got {delim.join(r)!r}")
        p = Path(r[0].strip())
        p = p if p.is_absolute() else path.parent / p
        if not p.is_file():
            raise DataError(f"{path} row {i}: {p} does not exist (paths are relative to the CSV's folder)")
        out.append(Recording(p, r[1].strip()))
    if not out:
        raise DataError(f"{path}: holds no 'path,label' rows")
    return out


def split_recordings(
    recs: list[Recording], *, split: str, test_below: int, test_speaker: str, test_fraction: float, seed: int
) -> tuple[list[Recording], list[Recording], str]:
    """(train, test, a note saying how). ``index``: recordings with index < test_below are the test set (FSDD's
    official split: 0-4); ``speaker``: test_speaker's recordings; ``random``: a seeded test_fraction; ``auto``:
    ``index`` when every file name carries an index, else ``random``."""
    if split == "auto":
        split = "index" if recs and all(r.index >= 0 for r in recs) else "random"
    if split == "index":
        if any(r.index < 0 for r in recs):
            raise DataError("data.split='index' needs an (?P<index>...) group in data.label_pattern for every file")
        test = [r for r in recs if r.index < test_below]
        why = f"official split: recordings with index < {test_below} are the test set"
    elif split == "speaker":
        speakers = sorted({r.speaker for r in recs})
        if test_speaker not in speakers:
            raise DataError(
                f"data.split='speaker' holds out data.test_speaker (--test-speaker NAME), one of the "
                f"speakers {speakers}; got {test_speaker!r}"
            )
        test = [r for r in recs if r.speaker == test_speaker]
        why = f"speaker held out: {test_speaker}'s recordings are the test set"
    else:
        n_test = int(round(len(recs) * test_fraction))
        held = set(splits.permutation(len(recs), seed, order="numpy")[:n_test])  # the test set keeps file order
        test = [r for i, r in enumerate(recs) if i in held]
        why = f"random split: {test_fraction:g} of the recordings (seed {seed}) are the test set"
    taken = {id(r) for r in test}
    train = [r for r in recs if id(r) not in taken]
    if not train or not test:
        raise DataError(f"the split leaves {len(train)} training and {len(test)} test recordings ({why})")
    return train, test, why


def common_rate(recs: list[Recording]) -> int:
    """The most common sample rate among the files (the model's rate when data.sample_rate is 0)."""
    from rnnkit.data.audio import _soundfile

    sf = _soundfile()
    rates: Counter[int] = Counter()
    for r in recs:
        try:
            rates[sf.info(str(r.path)).samplerate] += 1
        except Exception:
            read_audio(r.path)  # raises the DataError naming the file
    return rates.most_common(1)[0][0]


def default_cache_dir() -> Path:
    """``$RNNKIT_CACHE/speech``, else ``~/.cache/rnnkit/speech``."""
    env = os.environ.get(CACHE_ENV)
    return (Path(env) if env else Path.home() / ".cache" / "rnnkit") / "speech"


def read_waves(paths: list[Path], rate: int, *, max_seconds: float) -> tuple[list[np.ndarray], list[str]]:
    """Mono float32 waveforms at ``rate`` of every file, and notes on what was converted (said once, with counts)."""
    waves: list[np.ndarray] = []
    resampled: Counter[int] = Counter()  # files per source rate
    stereo = 0
    for p in paths:
        a = read_audio(p, rate=rate, max_seconds=max_seconds)
        if a.source_rate != a.rate:
            resampled[a.source_rate] += 1
        stereo += a.channels > 1
        waves.append(a.samples)
    notes = [f"resampled {n} file(s) from {r} Hz to {rate} Hz" for r, n in sorted(resampled.items())]
    if stereo:
        notes.append(f"downmixed {stereo} multi-channel file(s) to mono (the mean of the channels)")
    return waves, notes


def featurize_inputs(inputs: list[Any], spec: FeatureSpec, *, max_seconds: float) -> tuple[list[np.ndarray], list[str]]:
    """What predict reads: audio files (paths; converted to ``spec.rate``) or mono waveforms already at that rate
    ((S,) arrays) -> (F, D) features each, in input order, and notes on the files converted."""
    paths = [Path(x) for x in inputs if isinstance(x, (str, os.PathLike))]
    waves, notes = read_waves(paths, spec.rate, max_seconds=max_seconds)
    files = iter(waves)
    out = []
    for i, x in enumerate(inputs):
        a = next(files) if isinstance(x, (str, os.PathLike)) else np.asarray(x, dtype=np.float32)
        if a.ndim != 1 or len(a) == 0 or not np.isfinite(a).all():
            raise DataError(
                f"input {i}: a waveform must be a non-empty (samples,) array of finite values at "
                f"{spec.rate} Hz, got shape {a.shape}"
            )
        out.append(features(a, spec))
    return out, notes


def recordings_source(d: Any) -> Path:
    """The folder (or CSV) of recordings a speech data config names: data.path, or --dataset fsdd under the root."""
    if d.path is not None:
        return Path(d.path)
    if d.dataset == "fsdd":
        root = find_data_root(d.data_root)
        if root is None:
            raise DataError(
                "dataset 'fsdd' needs a data root: pass --data-root DIR or set $RNNKIT_DATA to a "
                "folder holding fsdd/recordings/"
            )
        return root / "fsdd" / "recordings"
    if d.dataset is not None:
        raise ConfigError(f"config data.dataset: the speech tasks know 'fsdd', got {d.dataset!r}")
    raise ConfigError("config data: give --data (a folder of recordings or a CSV path,label) or --dataset fsdd")


def compute_features(
    paths: list[Path], spec: FeatureSpec, *, max_seconds: float, cache_dir: Path | None
) -> tuple[list[np.ndarray], list[str]]:
    """(F, D) float32 features of every file, and notes (resampled, downmixed), read from or written to the cache."""
    key = None
    if cache_dir is not None and paths:
        h = hashlib.sha256(spec.key().encode())
        h.update(f"max_seconds={max_seconds}".encode())
        for p in paths:
            h.update(sha256(p).encode())
        key = cache_dir / f"{h.hexdigest()[:40]}.npz"
        if key.is_file():
            try:
                with np.load(key) as z:
                    flat, lengths = z["features"], z["lengths"]
                    notes = json.loads(str(z["notes"]))
                return list(np.split(flat, np.cumsum(lengths)[:-1])), notes
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache file is recomputed and replaced
    waves, notes = read_waves(paths, spec.rate, max_seconds=max_seconds)
    feats = [features(x, spec) for x in waves]
    if key is not None:
        from rnnkit.durable import atomic_path

        try:
            with atomic_path(key) as tmp, open(tmp, "wb") as f:
                np.savez(
                    f,
                    features=np.concatenate(feats),
                    lengths=np.array([len(x) for x in feats]),
                    notes=np.array(json.dumps(notes)),
                )
        except OSError:
            pass  # a cache that cannot be written is only slower next time
    return feats, notes
