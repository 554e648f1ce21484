"""Sentence pairs for translation: the Tatoeba fra-eng file, or any TSV of pairs; normalisation; splits.

``fra-eng`` is read straight from ``fra-eng.zip`` as published (``fra.txt`` inside: ``english<TAB>french``
per line, sometimes a third attribution column, ignored). Two settings:

* ``tutorial`` -- the PyTorch "NLP From Scratch: translation with a sequence to sequence network" subset:
  after normalisation keep pairs whose both sides have fewer than ``max_len`` = 10 words and whose
  English side starts with one of ``ENG_PREFIXES`` ("i am ", "he is", ...). That tutorial trains on all
  of it; we hold out a test split by a fixed seed so BLEU is measured on unseen sentences.
* ``general`` -- every pair whose sides have at most ``max_len`` words (no prefix filter), same split.

Normalisation is the tutorial's: Unicode -> ASCII (NFD, drop combining marks), lowercase, a space before
``. ! ?``, every other run of non-letters -> one space. Vocabularies reuse ``rnnkit.data.text.Vocab``
(id 0 is ``<unk>``) with the specials ``<pad> <sos> <eos>`` at ids 1, 2, 3.
"""

from __future__ import annotations

import io
import os
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnkit.data.sources import DataError, resolve
from rnnkit.data.text import EOS, UNK, Vocab

PAD, BOS = "<pad>", "<sos>"
SPECIALS = (UNK, PAD, BOS, EOS)  # ids 0, 1, 2, 3
PAD_ID, BOS_ID, EOS_ID = 1, 2, 3
SETTINGS = ("tutorial", "general")
FRA_ENG_COLUMNS = ("eng", "fra")  # column order of fra.txt

# The PyTorch seq2seq tutorial's English prefixes (after normalisation "i'm" reads "i m").
ENG_PREFIXES = (
    "i am ", "i m ", "he is", "he s ", "she is", "she s ", "you are", "you re ", "we are", "we re ",
    "they are", "they re ",
)  # fmt: skip


def unicode_to_ascii(s: str) -> str:
    """Drop combining marks after NFD decomposition: 'élève' -> 'eleve' (the tutorial's unicodeToAscii)."""
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")


def normalize(s: str) -> str:
    """The tutorial's normalizeString: ASCII, lowercase, ' .', ' !', ' ?' split off, other non-letters -> ' '."""
    s = unicode_to_ascii(s.lower().strip())
    s = re.sub(r"([.!?])", r" \1", s)
    s = re.sub(r"[^a-zA-Z.!?]+", r" ", s)
    return re.sub(r"\s+", " ", s).strip()


def tokenize(s: str, level: str) -> list[str]:
    """Words (split on spaces) or characters of a normalised sentence."""
    if level == "word":
        return s.split()
    if level == "char":
        return list(s)
    raise ValueError(f"level must be 'word' or 'char', got {level!r}")


def parse_direction(direction: str, columns: Sequence[str]) -> bool:
    """'src-tgt' -> whether the pair must be swapped (source is the second column). Raises for unknown ones."""
    parts = direction.split("-")
    a, b = columns
    if parts == [a, b]:
        return False
    if parts == [b, a]:
        return True
    raise ValueError(
        f"unknown language direction {direction!r}: this data has columns {a!r} and {b!r}; "
        f"use '{a}-{b}' or '{b}-{a}' (source-target)"
    )


def read_tsv(text: str, *, source: str) -> list[tuple[str, str]]:
    """Raw (column 1, column 2) pairs of tab-separated lines; blank lines skipped, extra columns ignored."""
    pairs = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) < 2:
            raise DataError(f"{source} line {i}: expected 'sentence<TAB>translation', got {line[:80]!r}")
        pairs.append((cols[0], cols[1]))
    if not pairs:
        raise DataError(f"{source} holds no sentence pairs; expected lines 'sentence<TAB>translation'")
    return pairs


def read_raw_pairs(
    *,
    path: str | os.PathLike | None = None,
    dataset: str | None = "fra-eng",
    data_root: str | os.PathLike | None = None,
) -> tuple[list[tuple[str, str]], str]:
    """(raw pairs in file column order, source name) from a TSV path, a zip holding one, or fra-eng."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise DataError(f"pairs file {p} does not exist; pass a TSV of 'sentence<TAB>translation' lines")
        return read_tsv(_read_file(p), source=str(p)), str(p)
    if dataset != "fra-eng":
        raise DataError(f"no sentence-pair reader for dataset {dataset!r}; known: fra-eng (or a TSV by path)")
    p = resolve("fra-eng", "fra-eng.zip", data_root=data_root)
    return read_tsv(_read_file(p, member="fra.txt"), source=f"{p}:fra.txt"), "fra-eng"


def _read_file(p: Path, *, member: str | None = None) -> str:
    if zipfile.is_zipfile(p):
        with zipfile.ZipFile(p) as z:
            names = [n for n in z.namelist() if n.endswith(".txt") and not n.startswith("_")]
            name = member if member in z.namelist() else (names[0] if len(names) == 1 else None)
            if name is None:
                raise DataError(f"{p}: cannot tell which member holds the pairs ({z.namelist()}); expected fra.txt")
            raw = z.read(name)
    else:
        raw = p.read_bytes()
    try:
        return io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig").read()
    except UnicodeDecodeError as e:
        raise DataError(f"{p}: not valid UTF-8 ({e.reason} at byte {e.start}); convert it to UTF-8") from None


@dataclass(frozen=True)
class PairSplits:
    """Normalised (source, target) pairs of each split, in the chosen direction."""

    train: list[tuple[str, str]]
    val: list[tuple[str, str]]
    test: list[tuple[str, str]]
    direction: str
    source: str


def select_pairs(
    raw: Sequence[tuple[str, str]], *, columns: Sequence[str], setting: str, max_len: int
) -> list[tuple[str, str]]:
    """Normalise and filter raw pairs (column order kept). ``tutorial``: both sides < max_len words and the
    English side starts with ENG_PREFIXES (the tutorial's filterPair); ``general``: both sides <= max_len."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {SETTINGS}, got {setting!r}")
    out = []
    if setting == "tutorial":
        if "eng" not in columns:
            raise ValueError(
                f"the tutorial setting filters on English prefixes; columns {tuple(columns)} have no 'eng'"
            )
        e = list(columns).index("eng")
        for a, b in raw:
            a, b = normalize(a), normalize(b)
            if len(a.split(" ")) < max_len and len(b.split(" ")) < max_len and (a, b)[e].startswith(ENG_PREFIXES):
                out.append((a, b))
    else:
        for a, b in raw:
            a, b = normalize(a), normalize(b)
            if a and b and len(a.split()) <= max_len and len(b.split()) <= max_len:
                out.append((a, b))
    return out


def split_pairs(
    pairs: Sequence[tuple[str, str]], *, test_fraction: float, val_fraction: float, seed: int
) -> tuple[list, list, list]:
    """Seeded random train/val/test split (torch.randperm with a seeded generator): test first, then val."""
    if not 0.0 < test_fraction < 1.0 or not 0.0 <= val_fraction < 1.0 or test_fraction + val_fraction >= 1.0:
        raise ValueError(f"test_fraction {test_fraction} / val_fraction {val_fraction}: need (0,1), [0,1), sum < 1")
    n = len(pairs)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_test, n_val = max(1, round(n * test_fraction)), round(n * val_fraction)
    if n - n_test - n_val < 1:
        raise DataError(f"only {n} pairs: too few for a {test_fraction}/{val_fraction} test/validation split")
    test = [pairs[i] for i in perm[:n_test]]
    val = [pairs[i] for i in perm[n_test : n_test + n_val]]
    train = [pairs[i] for i in perm[n_test + n_val :]]
    return train, val, test


def load_pairs(
    *,
    path: str | os.PathLike | None = None,
    dataset: str | None = "fra-eng",
    data_root: str | os.PathLike | None = None,
    direction: str = "fra-eng",
    columns: Sequence[str] = FRA_ENG_COLUMNS,
    setting: str = "tutorial",
    max_len: int = 10,
    test_fraction: float = 0.1,
    val_fraction: float = 0.05,
    seed: int = 1234,
) -> PairSplits:
    """Read, normalise, filter, orient ('src-tgt') and split pairs. The split depends only on the seed."""
    swap = parse_direction(direction, columns)  # fail on a bad direction before reading 10 MB
    raw, source = read_raw_pairs(path=path, dataset=dataset, data_root=data_root)
    pairs = select_pairs(raw, columns=columns, setting=setting, max_len=max_len)
    if not pairs:
        raise DataError(f"{source}: no pairs left after the {setting!r} filter with max_len={max_len}")
    if swap:
        pairs = [(b, a) for a, b in pairs]
    tr, va, te = split_pairs(pairs, test_fraction=test_fraction, val_fraction=val_fraction, seed=seed)
    return PairSplits(tr, va, te, direction, source)


def build_vocab(sentences: Sequence[str], *, level: str, min_freq: int = 1, max_size: int | None = None) -> Vocab:
    """A ``text.Vocab`` with ``<unk> <pad> <sos> <eos>`` first, then tokens by frequency (training text only)."""
    toks = [t for s in sentences for t in tokenize(s, level)]
    if not toks:
        raise DataError("cannot build a vocabulary from no text")
    base = Vocab.build(toks, level="word", min_freq=min_freq, max_size=max_size)  # frequency order, <unk> first
    rest = [t for t in base.itos[1:] if t not in SPECIALS]
    return Vocab([*SPECIALS, *rest], level=level)


def encode(vocab: Vocab, sentence: str, *, add_eos: bool = True) -> list[int]:
    """Ids of a normalised sentence (unknown tokens -> <unk>, silently: held-out text has them), + EOS."""
    ids = [vocab.stoi.get(t, 0) for t in tokenize(sentence, vocab.level)]
    return ids + [EOS_ID] if add_eos else ids


def decode(vocab: Vocab, ids: Sequence[int]) -> str:
    """Text of ids, stopping at EOS and skipping PAD/BOS; words joined by spaces, characters concatenated."""
    toks = []
    for i in ids:
        i = int(i)
        if i == EOS_ID:
            break
        if i in (PAD_ID, BOS_ID):
            continue
        toks.append(vocab.itos[i])
    return ("" if vocab.level == "char" else " ").join(toks)
