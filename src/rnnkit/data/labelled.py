"""Labelled examples as rnnkit holds them in memory (``ClassificationData``, ``ColumnData``), strict decoding of
bytes, and the generic formats every reader builds on: labelled lines, a folder of one class per file, whitespace
column files (CoNLL), and sktime ``.ts`` series. ``rnnkit.data.readers`` dispatches a path or a known dataset to
these."""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.data import formats
from rnnkit.data.formats import lines
from rnnkit.data.sources import DataError


@dataclass
class ClassificationData:
    """Examples and their labels: text strings or numeric arrays ``(T, D)``, one label (str) each."""

    inputs: list
    labels: list[str]
    source: str = ""
    skipped: int = 0  # empty lines skipped while reading
    classes: tuple[str, ...] = field(default=())
    notes: list[str] = field(default_factory=list)  # what the reader decided (format detected, labels kept)

    def __post_init__(self) -> None:
        if len(self.inputs) != len(self.labels):
            raise DataError(f"{self.source}: {len(self.inputs)} inputs but {len(self.labels)} labels")
        if not self.classes:
            self.classes = tuple(sorted(set(self.labels)))

    def __len__(self) -> int:
        return len(self.inputs)

    def subset(self, idx: Sequence[int]) -> ClassificationData:
        """The examples at ``idx``, same class list."""
        return ClassificationData(
            [self.inputs[i] for i in idx], [self.labels[i] for i in idx], self.source, 0, self.classes, self.notes
        )


@dataclass
class ColumnData:
    """Sentences of token rows: ``sentences[s][t]`` is the tuple of columns of token t (word, POS, chunk...)."""

    sentences: list[list[tuple[str, ...]]]
    source: str = ""
    notes: list[str] = field(default_factory=list)  # what the reader decided (format detected, lines skipped)

    def __len__(self) -> int:
        return len(self.sentences)

    def column(self, k: int) -> list[list[str]]:
        """Column ``k`` of every sentence (0 = words; -1 = the last column, usually the tag)."""
        return [[row[k] for row in s] for s in self.sentences]


# ---- decoding ---------------------------------------------------------------------------------------------


def decode_bytes(raw: bytes, where: str, encoding: str = "utf-8") -> str:
    """Decode with a clear error: byte offset, line, bytes, and what to pass instead."""
    if encoding.replace("-", "").lower() in ("utf8", "utf8sig") and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # byte-order mark
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise DataError(
            f"{where} is not valid {encoding}: byte offset {e.start} (line {line}) has bytes "
            f"{raw[e.start : e.end].hex(' ')} ({e.reason}). If the file uses another encoding pass it, "
            f"e.g. encoding='latin-1' (--encoding latin-1 on the command line)"
        ) from None


def read_text_file(path: str | os.PathLike, encoding: str = "utf-8") -> str:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"file {p} does not exist")
    return decode_bytes(p.read_bytes(), str(p), encoding)


def to_ascii(s: str) -> str:
    """Drop accents and anything outside ASCII letters and `` .,;'-`` (the PyTorch names tutorial's unicodeToAscii)."""
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,;'-")
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn" and c in allowed)


# ---- generic formats --------------------------------------------------------------------------------------


def read_labelled_file(
    path: str | os.PathLike,
    *,
    format: str = "auto",
    text_col: str = "auto",
    label_col: str = "auto",
    encoding: str = "utf-8",
) -> ClassificationData:
    """A classification file in any format of ``rnnkit.data.formats`` (named, or detected with ``'auto'``);
    ``notes`` says which format was used."""
    p = Path(path)
    got = formats.parse_labelled(
        read_text_file(p, encoding), str(p), format=format, text_col=text_col, label_col=label_col
    )
    return ClassificationData(got.inputs, got.labels, str(p), got.skipped, notes=[got.note])


def read_labelled_lines(
    path: str | os.PathLike, *, label_first: bool = True, encoding: str = "utf-8"
) -> ClassificationData:
    """``label<TAB>text`` lines (``label_first=False``: ``text<TAB>label``), no detection; empty lines skipped."""
    return read_labelled_file(path, format="tab", label_col="first" if label_first else "last", encoding=encoding)


def read_class_folder(
    path: str | os.PathLike, *, pattern: str = "*.txt", encoding: str = "utf-8", ascii: bool = False
) -> ClassificationData:
    """A folder with one file per class (class = file stem), one example per line; empty lines skipped."""
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder; expected a folder of one-class-per-file text files")
    files = sorted(folder.glob(pattern))
    if not files:
        raise DataError(f"{folder} holds no files matching {pattern!r}; expected one file per class")
    inputs, labels, skipped = [], [], 0
    for f in files:
        for line in lines(read_text_file(f, encoding)):
            s = to_ascii(line) if ascii else line
            if not s.strip():
                skipped += 1
                continue
            inputs.append(s.strip())
            labels.append(f.stem)
    if not inputs:
        raise DataError(f"{folder}: every file is empty")
    note = f"format: a folder of one file per class ({len(files)} files {pattern}; {len(inputs):,} lines)"
    return ClassificationData(inputs, labels, str(folder), skipped, tuple(f.stem for f in files), [note])


def parse_columns(text: str, where: str, *, sep: str | None = None, ncols: int | None = None) -> ColumnData:
    """CoNLL-style text: one token per line with whitespace-separated columns, blank line between sentences.

    Lines starting with ``-DOCSTART-`` are skipped, and so are comment lines starting with ``#`` unless they
    have the columns of a token row: ``# # I-NP`` is the pound sign of CoNLL-2000 (47 of its tokens), not a
    comment. Every row must have the same number of columns.
    """
    split = (lambda ln: tuple(ln.split(sep))) if sep else (lambda ln: tuple(ln.split()))  # noqa: E731
    all_lines = lines(text)
    if ncols is None:  # from the first row that is surely a token
        first = next((ln for ln in all_lines if ln.strip() and not ln.startswith(("-DOCSTART-", "#"))), None)
        ncols = len(split(first)) if first is not None else None
    sentences: list[list[tuple[str, ...]]] = []
    cur: list[tuple[str, ...]] = []
    for n, line in enumerate(all_lines, 1):
        if not line.strip():
            if cur:
                sentences.append(cur)
                cur = []
            continue
        row = split(line)
        if line.startswith("-DOCSTART-") or (line.startswith("#") and len(row) != ncols):
            continue
        if ncols is None:
            ncols = len(row)
        if len(row) != ncols:
            raise DataError(f"{where}:{n}: expected {ncols} columns, got {len(row)} in {line[:60]!r}")
        cur.append(row)
    if cur:
        sentences.append(cur)
    if not sentences:
        raise DataError(f"{where} holds no sentences; expected one token per line, blank lines between sentences")
    return ColumnData(sentences, where)


def read_columns(path: str | os.PathLike, *, encoding: str = "utf-8", sep: str | None = None) -> ColumnData:
    """A CoNLL-style column file by path (see ``parse_columns``)."""
    p = Path(path)
    return parse_columns(read_text_file(p, encoding), str(p), sep=sep)


def parse_ts(text: str, where: str) -> tuple[list[np.ndarray], list[str], dict[str, str]]:
    """The sktime/UEA ``.ts`` format: ``@key value`` header lines, then ``@data`` and one series per line,
    channels separated by ``:``, values by ``,``, the class label last. Returns (series (T, D) float32,
    labels, header). Variable lengths are allowed; every channel of one series must have the same length;
    missing values ``?`` are rejected (documented: no imputation).
    """
    header: dict[str, str] = {}
    series: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    dims: int | None = None
    for n, line in enumerate(lines(text), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if not in_data:
            if s.lower() == "@data":
                in_data = True
                continue
            if not s.startswith("@"):
                raise DataError(f"{where}:{n}: expected a @header line or @data before the series, got {s[:40]!r}")
            key, _, value = s[1:].partition(" ")
            header[key.lower()] = value.strip()
            continue
        parts = s.split(":")
        if header.get("classlabel", "true").split()[0].lower() == "true":
            label, parts = parts[-1].strip(), parts[:-1]
        else:
            label = ""
        try:
            chans = [np.array([float(v) for v in p.split(",")], dtype=np.float32) for p in parts]
        except ValueError:
            raise DataError(f"{where}:{n}: a value is not a number (missing values '?' are not supported)") from None
        if dims is None:
            dims = len(chans)
        if len(chans) != dims:
            raise DataError(f"{where}:{n}: {len(chans)} channels, earlier series have {dims}")
        lens = {len(c) for c in chans}
        if len(lens) != 1:
            raise DataError(f"{where}:{n}: channels of one series differ in length {sorted(lens)}")
        series.append(np.stack(chans, axis=1))  # (T, D)
        labels.append(label)
    if not in_data:
        raise DataError(f"{where}: no @data line; is this a sktime .ts file?")
    if not series:
        raise DataError(f"{where}: no series after @data")
    if "dimensions" in header and dims != int(header["dimensions"]):
        raise DataError(f"{where}: header says @dimensions {header['dimensions']} but the series have {dims}")
    return series, labels, header


def read_ts(path: str | os.PathLike) -> ClassificationData:
    """A ``.ts`` file by path; classes from its ``@classLabel`` header when present."""
    p = Path(path)
    series, labels, header = parse_ts(read_text_file(p), str(p))
    declared = header.get("classlabel", "").split()[1:]
    classes = tuple(declared) if declared else ()
    unknown = sorted(set(labels) - set(classes)) if classes else []
    if unknown:
        raise DataError(f"{p}: labels {unknown} are not in the declared @classLabel list {list(classes)}")
    return ClassificationData(series, labels, str(p), 0, classes)
