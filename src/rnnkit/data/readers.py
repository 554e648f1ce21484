"""Readers for classification and tagging data: the known datasets (checksum-verified through
``rnnkit.data.sources.resolve``) and the dispatch of a path to its format (the types and generic formats themselves
are in ``rnnkit.data.labelled``).

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
import zipfile
from collections.abc import Sequence
from pathlib import Path

from rnnkit.data import conllu
from rnnkit.data.formats import lines
from rnnkit.data.labelled import (  # noqa: F401 - types and generic formats; importable from here as before
    ClassificationData,
    ColumnData,
    decode_bytes,
    parse_columns,
    parse_ts,
    read_class_folder,
    read_columns,
    read_labelled_file,
    read_labelled_lines,
    read_text_file,
    read_ts,
    to_ascii,
)
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
