"""Readers for classification and tagging data: the known datasets (checksum-verified through
``rnnkit.data.sources.resolve``) and generic formats by path.

Known datasets:
- ``names``: 18 files ``Language.txt``, one name per line (20,074 names), UTF-8. Like the PyTorch tutorial
  the names are folded to ASCII letters (``ascii=True``; accents removed by NFD decomposition).
- ``mr-polarity``: ``rt-polarity.pos`` / ``.neg``, one lower-cased tokenised sentence per line, latin-1 as
  published (5,331 each).
- ``uci-sentiment-sentences``: ``{amazon_cells,imdb,yelp}_labelled.txt``, ``sentence<TAB>0|1``.
- ``japanese-vowels``: the sktime ``.ts`` format; 12 channels, variable length 7..29, speakers 1..9.
- ``conll2000``: ``conll2000.zip`` as published (``conll2000/{train,test}.txt``: ``word POS chunk``).
- ``conll2002-es`` / ``conll2002-nl``: ``conll2002.zip`` as published by NLTK (``conll2002/{esp,ned}.{train,testa,
  testb}``: ``word POS NE-IOB2``; the Dutch files mark articles with ``-DOCSTART-`` lines, skipped).

Generic, by path: classification files in the formats of ``rnnkit.data.formats`` (``label<TAB>text``,
``text<TAB>label``, ``label text``, fastText, CSV/TSV with a header; named or detected:
``read_labelled_file``), a folder of one-class-per-file (``read_class_folder``), CoNLL-style column files and
CoNLL-U (``read_tagging_file``; ``rnnkit.data.conllu``), any ``.ts`` file (``read_ts``). What a reader decided
from the content is in the ``notes`` of what it returns (``notes_of`` gathers them for ``Splits.notes``).

Documented behaviour for bad input:
- empty / whitespace-only lines are skipped in line formats (they separate sentences in column formats);
  the number skipped is in ``ClassificationData.skipped``;
- a line without the separator, a wrong column count or a ``.ts`` row that does not parse raises
  ``DataError`` naming the file and line;
- bytes that do not decode raise ``DataError`` with the byte offset, the line and the fix (pass
  ``encoding=...``); nothing is replaced silently;
- over-long sequences are cut by ``rnnkit.data.sequences.truncate`` at model-input time (warning + count);
- labels unseen in training are checked by the tasks at evaluation (``DataError`` listing them).
"""

from __future__ import annotations

import io
import os
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.data import conllu, formats
from rnnkit.data.formats import lines
from rnnkit.data.sources import DataError, resolve

KNOWN = (
    "names",
    "mr-polarity",
    "uci-sentiment-sentences",
    "japanese-vowels",
    "conll2000",
    "conll2002-es",
    "conll2002-nl",
)
# CoNLL-2002 NER: dataset name -> file prefix in the zip; split -> file suffix (testa is the development set)
CONLL2002 = {"conll2002-es": "esp", "conll2002-nl": "ned"}
CONLL2002_SPLITS = {"train": "train", "val": "testa", "test": "testb", "testa": "testa", "testb": "testb"}


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


# ---- known datasets ---------------------------------------------------------------------------------------


def read_names(data_root: str | os.PathLike | None = None, *, ascii: bool = True) -> ClassificationData:
    """names -> language: 20,074 names in 18 files (checksums verified); ASCII-folded as the tutorial."""
    folder = resolve("names", data_root=data_root)
    return read_class_folder(folder, ascii=ascii)


def read_mr_polarity(data_root: str | os.PathLike | None = None) -> ClassificationData:
    """MR sentence polarity (Pang & Lee 2005): 5,331 'pos' + 5,331 'neg' sentences, decoded as latin-1."""
    inputs, labels = [], []
    for label in ("neg", "pos"):
        p = resolve("mr-polarity", f"rt-polarity.{label}", data_root=data_root)
        for line in lines(decode_bytes(p.read_bytes(), str(p), "latin-1")):
            if line.strip():
                inputs.append(line.strip())
                labels.append(label)
    return ClassificationData(inputs, labels, "mr-polarity", 0, ("neg", "pos"))


UCI_SOURCES = ("amazon_cells", "imdb", "yelp")


def read_uci_sentiment(
    data_root: str | os.PathLike | None = None, *, sources: Sequence[str] = UCI_SOURCES
) -> ClassificationData:
    """UCI Sentiment Labelled Sentences: ``sentence<TAB>0|1``, 1,000 per source; labels '0' (neg) / '1' (pos)."""
    inputs, labels = [], []
    for src in sources:
        if src not in UCI_SOURCES:
            raise DataError(f"uci-sentiment-sentences: unknown source {src!r}; choose from {UCI_SOURCES}")
        p = resolve("uci-sentiment-sentences", f"{src}_labelled.txt", data_root=data_root)
        d = read_labelled_lines(p, label_first=False)
        inputs += d.inputs
        labels += d.labels
    return ClassificationData(inputs, labels, "uci-sentiment-sentences", 0, ("0", "1"))


def read_japanese_vowels(data_root: str | os.PathLike | None = None, *, split: str = "train") -> ClassificationData:
    """JapaneseVowels (Kudo et al. 1999): 270 train / 370 test series (T, 12), speaker labels '1'..'9'."""
    if split not in ("train", "test"):
        raise DataError(f"japanese-vowels: split must be 'train' or 'test', got {split!r}")
    return read_ts(resolve("japanese-vowels", f"JapaneseVowels_{split.upper()}.ts", data_root=data_root))


def read_conll2000(data_root: str | os.PathLike | None = None, *, split: str = "train") -> ColumnData:
    """CoNLL-2000 chunking read from the published zip: columns (word, POS, chunk IOB2); 8,936 / 2,012 sentences."""
    if split not in ("train", "test"):
        raise DataError(f"conll2000: split must be 'train' or 'test', got {split!r}")
    p = resolve("conll2000", "conll2000.zip", data_root=data_root)
    member = f"conll2000/{split}.txt"
    with zipfile.ZipFile(p) as z:
        try:
            raw = z.read(member)
        except KeyError:
            raise DataError(f"{p} has no member {member}; is it the published NLTK conll2000.zip?") from None
    return parse_columns(decode_bytes(raw, f"{p}!{member}", "utf-8"), f"{p}!{member}")


def read_conll2002(
    name: str,
    data_root: str | os.PathLike | None = None,
    *,
    split: str = "train",
    path: str | os.PathLike | None = None,
) -> ColumnData:
    """CoNLL-2002 NER (``conll2002-es`` or ``conll2002-nl``) read from the published NLTK zip: columns (word, POS,
    NE tag in IOB2). ``split``: train, val (= testa, the development set) or test (= testb). ``-DOCSTART-``
    lines (Dutch article boundaries) are skipped and counted in ``notes``. ``path``: a zip with the same members
    (tests), else the checksum-verified ``conll2002/conll2002.zip`` under the data root."""
    if name not in CONLL2002:
        raise DataError(f"unknown CoNLL-2002 dataset {name!r}; choose one of {', '.join(CONLL2002)}")
    if split not in CONLL2002_SPLITS:
        raise DataError(f"{name}: split must be one of {', '.join(CONLL2002_SPLITS)}, got {split!r}")
    p = Path(path) if path is not None else resolve("conll2002", "conll2002.zip", data_root=data_root)
    member = f"conll2002/{CONLL2002[name]}.{CONLL2002_SPLITS[split]}"
    with zipfile.ZipFile(p) as z:
        try:
            raw = z.read(member)
        except KeyError:
            raise DataError(f"{p} has no member {member}; is it the published NLTK conll2002.zip?") from None
    where = f"{p}!{member}"
    text = decode_bytes(raw, where, "utf-8")
    data = parse_columns(text, where)
    docstart = sum(ln.startswith("-DOCSTART-") for ln in lines(text))
    data.notes.append(
        f"{name} {split}: {member} ({len(data):,} sentences, {sum(map(len, data.sentences)):,} tokens"
        + (f"; -DOCSTART- lines skipped: {docstart:,}" if docstart else "")
        + ")"
    )
    return data


def read_zip_columns(path: str | os.PathLike, member: str, *, encoding: str = "utf-8") -> ColumnData:
    """A column file inside a zip archive, read without extracting."""
    with zipfile.ZipFile(path) as z, z.open(member) as f:
        raw = io.BufferedReader(f).read()
    return parse_columns(decode_bytes(raw, f"{path}!{member}", encoding), f"{path}!{member}")


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


def read_classification(
    source: str | os.PathLike,
    *,
    data_root: str | os.PathLike | None = None,
    split: str = "train",
    encoding: str = "utf-8",
    **file_options: str,
) -> ClassificationData:
    """One entry point for the CLI: a known dataset name, a folder of class files, a ``.ts`` file, or a
    classification file (``file_options``: ``format``, ``text_col``, ``label_col`` of ``read_labelled_file``).
    Options a source does not use are ignored (a known dataset has its own format and encoding)."""
    s = str(source)
    if s == "names":
        return read_names(data_root)
    if s == "mr-polarity":
        return read_mr_polarity(data_root)
    if s == "uci-sentiment-sentences":
        return read_uci_sentiment(data_root)
    if s == "japanese-vowels":
        return read_japanese_vowels(data_root, split=split)
    from rnnkit.data import images  # images: idx files and PNG/JPEG class folders (rnnkit.data.images)

    if s == "fashion-mnist":
        return images.read_idx_split(images.fashion_mnist_dir(data_root), split)
    p = Path(source)
    if images.is_image_source(p):
        return images.read_images(p, split=split)
    if p.is_dir():
        return read_class_folder(p, encoding=encoding)
    if p.suffix == ".ts":
        return read_ts(p)
    if p.is_file():
        return read_labelled_file(p, encoding=encoding, **file_options)
    raise DataError(
        f"no such dataset or path {s!r}: pass a known dataset ({', '.join(KNOWN[:4])}, fashion-mnist), a folder of "
        f"one-class-per-file text files, a .ts file, a classification file (formats: docs/formats.md), a folder of "
        f"idx files or of PNG/JPEG class sub-folders"
    )


def read_tagging_file(
    path: str | os.PathLike, *, format: str = "auto", conllu_tag: str = "upos", encoding: str = "utf-8"
) -> ColumnData:
    """A tagging file: CoNLL-U (``.conllu`` or detected: rows of (FORM, UPOS|XPOS)) or whitespace columns
    (``word POS chunk``, all columns kept); ``notes`` says which. ``format``: auto | conll | conllu."""
    if format not in conllu.TAGGING_FORMATS:
        raise DataError(f"unknown tagging format {format!r}: choose one of {', '.join(conllu.TAGGING_FORMATS)}")
    p = Path(path)
    text = read_text_file(p, encoding)
    how = "detected" if format == "auto" else "as given"
    if format == "conllu" or (format == "auto" and conllu.is_conllu(text, str(p))):
        sentences, note = conllu.parse_conllu(text, str(p), tag=conllu_tag)
        return ColumnData(sentences, str(p), [f"format: CoNLL-U {how} in {p.name} ({note})"])
    data = parse_columns(text, str(p))
    if format == "auto":
        conllu.reject_id_column(data.sentences, str(p))
    docstart = sum(ln.startswith("-DOCSTART-") for ln in lines(text))
    data.notes.append(
        f"format: CoNLL columns {how} in {p.name} ({len(data.sentences[0][0])} whitespace-separated columns; "
        f"{len(data):,} sentences, {sum(map(len, data.sentences)):,} tokens"
        + (f"; -DOCSTART- lines skipped: {docstart:,}" if docstart else "")
        + ")"
    )
    return data


def read_tagging(
    source: str | os.PathLike, *, data_root: str | os.PathLike | None = None, split: str = "train", **file_options
) -> ColumnData:
    """A known column dataset (``conll2000``, ``conll2002-es``, ``conll2002-nl``) or a tagging file by path
    (``file_options``: ``format``, ``conllu_tag``, ``encoding`` of ``read_tagging_file``)."""
    if str(source) == "conll2000":
        return read_conll2000(data_root, split=split)
    if str(source) in CONLL2002:
        return read_conll2002(str(source), data_root, split=split)
    p = Path(source)
    if p.is_file():
        return read_tagging_file(p, **file_options)
    raise DataError(
        f"no such dataset or file {str(source)!r}: pass 'conll2000', 'conll2002-es', 'conll2002-nl', a CoNLL-U "
        "file or a CoNLL-style column file"
    )


def notes_of(*parts: ClassificationData | ColumnData | None) -> list[str]:
    """The readers' notes of a task's splits, each once, in order (for ``Splits.notes``)."""
    out: list[str] = []
    for part in parts:
        for n in getattr(part, "notes", None) or []:
            if n not in out:
                out.append(n)
    return out
