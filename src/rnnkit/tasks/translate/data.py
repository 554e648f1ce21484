"""Sentence pairs for translation: readers (a TSV, two parallel files, the Tatoeba fra-eng zip), the text formats
the model trains on (with their exact detokenisation), the tutorial filter, seeded splits, vocabularies and batches.

Readers return **raw** pairs, exactly as in the file: references are scored raw (see ``tasks/translate``). Files:

* a TSV: ``sentence<TAB>translation`` per line; a line with fewer than 2 or more than ``2 + extra_columns`` columns
  is an error naming its line number (a TAB inside a sentence would shift the columns). Tatoeba exports carry a
  3rd attribution column: ``extra_columns=1`` (the fra-eng dataset allows it by itself).
* two parallel files, one sentence per line, line i of one translating line i of the other; their line counts must
  agree (the error gives both).
* ``fra-eng``: ``fra.txt`` inside ``fra-eng.zip`` as published (English first).

Any of them may be gzip-compressed (``.gz``) or a zip holding one ``.txt``.

Text formats (``TextFormat``): ``normalize="none"`` keeps the text (case, accents, digits, punctuation) and splits
words from punctuation with a *joiner*: a token written right after the previous one, without a space, carries the
prefix ``JOINER`` (OpenNMT's "￭"), so ``detokenize(tokens(s))`` gives ``s`` back with its whitespace runs made single
spaces. ``normalize="tutorial"`` is the PyTorch tutorial's normalizeString: ASCII, lowercase, a space before
``. ! ?``, every other run of non-letters one space; its detokenisation only re-attaches ``. ! ?``.

Two selections of the pool (never of ``--val``/``--test`` files, which are scored whole):

* ``tutorial`` -- the PyTorch "NLP From Scratch: translation with a sequence to sequence network" subset: both sides
  of fewer than ``max_len`` (default 10) words after normalisation, the English side starting with ``ENG_PREFIXES``.
* ``general`` -- every pair; with ``max_len`` > 0 only pairs whose sides have at most ``max_len`` words (after the
  tutorial normalisation, the rule older runs were split with). Whatever is dropped is counted in a note.

Vocabularies reuse ``rnnkit.data.text.Vocab`` (id 0 is ``<unk>``) with the specials ``<pad> <sos> <eos>`` at 1, 2, 3.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.data import splits
from rnnkit.data.sequences import IGNORE_INDEX, pad_sequences
from rnnkit.data.sources import DataError, resolve
from rnnkit.data.text import EOS, UNK, Vocab

PAD, BOS = "<pad>", "<sos>"
SPECIALS = (UNK, PAD, BOS, EOS)  # ids 0, 1, 2, 3
PAD_ID, BOS_ID, EOS_ID = 1, 2, 3
SETTINGS = ("tutorial", "general")
NORMALIZATIONS = ("none", "tutorial")
TUTORIAL_MAX_LEN = 10  # the tutorial's MAX_LENGTH
FRA_ENG_COLUMNS = ("eng", "fra")  # column order of fra.txt
JOINER = "\uffed"  # "￭": this token follows the previous one without a space

Pair = tuple[str, str]

# The PyTorch seq2seq tutorial's English prefixes (after normalisation "i'm" reads "i m").
ENG_PREFIXES = (
    "i am ",
    "i m ",
    "he is",
    "he s ",
    "she is",
    "she s ",
    "you are",
    "you re ",
    "we are",
    "we re ",
    "they are",
    "they re ",
)


# ---- text formats --------------------------------------------------------------------------------------------


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


_WORD = re.compile(r"\w+|[^\w\s]")  # a run of letters/digits, or one other non-space character


def split_words(s: str) -> list[str]:
    """Words and punctuation of raw text; a token not preceded by whitespace gets the JOINER prefix:
    "I'm cold." -> I ￭' ￭m cold ￭. (JOINER characters already in the text are dropped)."""
    out, end = [], None
    for m in _WORD.finditer(s.replace(JOINER, "")):
        glued = end is not None and m.start() == end
        out.append(JOINER + m.group() if glued else m.group())
        end = m.end()
    return out


def join_words(tokens: Sequence[str]) -> str:
    """The inverse of ``split_words``: tokens joined by spaces, except where a JOINER glues one to the previous."""
    out = []
    for t in tokens:
        if t.startswith(JOINER):
            out.append(t[len(JOINER) :])
        else:
            out.append((" " if out else "") + t)
    return "".join(out)


@dataclass(frozen=True)
class TextFormat:
    """How a raw sentence becomes the tokens the model reads and writes, and back (see the module docstring)."""

    normalize: str = "none"  # none | tutorial
    lowercase: bool = False  # normalize="none" only (the tutorial lowercases anyway)
    level: str = "word"  # word | char

    def __post_init__(self) -> None:
        if self.normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {self.normalize!r}")
        if self.level not in ("word", "char"):
            raise ValueError(f"level must be 'word' or 'char', got {self.level!r}")

    @property
    def cased(self) -> bool:
        return self.normalize == "none" and not self.lowercase

    @property
    def changes_text(self) -> bool:
        """True when detokenised output cannot reproduce the raw text (case, accents or characters are lost)."""
        return not self.cased

    def describe(self) -> str:
        if self.normalize == "tutorial":
            return "tutorial normalisation (ASCII, lowercase, letters and . ! ? only)"
        return "raw text, lowercased" if self.lowercase else "raw text (cased)"

    def is_empty(self, s: str) -> bool:
        """True when ``tokens(s)`` is empty (cheaper)."""
        return not (normalize(s) if self.normalize == "tutorial" else s.strip())

    def tokens(self, s: str) -> list[str]:
        if self.normalize == "tutorial":
            return tokenize(normalize(s), self.level)
        s = " ".join(s.lower().split() if self.lowercase else s.split())  # whitespace runs -> one space
        return split_words(s) if self.level == "word" else list(s)

    def detokenize(self, tokens: Sequence[str]) -> str:
        if self.normalize == "tutorial":
            s = (" " if self.level == "word" else "").join(tokens)
            return re.sub(r" ([.!?])", r"\1", s).strip()
        return join_words(tokens) if self.level == "word" else "".join(tokens).strip()

    def normalised(self, s: str) -> str:
        """A raw sentence in this format's text space (what the model could at best write)."""
        return self.detokenize(self.tokens(s))


# ---- readers -------------------------------------------------------------------------------------------------


def read_text(p: str | os.PathLike, *, member: str | None = None) -> str:
    """A UTF-8 file's text (BOM dropped), from a plain, ``.gz`` or zip file (``member``, or its one .txt)."""
    p = Path(p)
    if not p.is_file():
        raise DataError(f"{p} does not exist; pass a file of sentence pairs (formats: docs/formats-translate.md)")
    if zipfile.is_zipfile(p):
        with zipfile.ZipFile(p) as z:
            names = [n for n in z.namelist() if n.endswith(".txt") and not n.startswith("_")]
            name = member if member in z.namelist() else (names[0] if len(names) == 1 else None)
            if name is None:
                raise DataError(f"{p}: cannot tell which member holds the pairs ({z.namelist()}); expected fra.txt")
            raw = z.read(name)
    elif p.suffix == ".gz":
        try:
            raw = gzip.decompress(p.read_bytes())
        except (OSError, EOFError) as e:
            raise DataError(f"{p}: not a valid gzip file ({e}); decompress it or fix the name") from None
    else:
        raw = p.read_bytes()
    try:
        return io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig").read()
    except UnicodeDecodeError as e:
        raise DataError(f"{p}: not valid UTF-8 ({e.reason} at byte {e.start}); convert it to UTF-8") from None


def read_tsv(text: str, *, source: str, extra_columns: int = 0) -> list[Pair]:
    """Raw (column 1, column 2) pairs of tab-separated lines; blank lines skipped; up to ``extra_columns`` more
    columns (e.g. Tatoeba's attribution) ignored, any further one an error naming the line."""
    pairs = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) < 2:
            raise DataError(f"{source} line {i}: expected 'sentence<TAB>translation', got {line[:80]!r}")
        if len(cols) > 2 + extra_columns:
            allowed = "2 columns" if not extra_columns else f"2 columns + {extra_columns} ignored"
            raise DataError(
                f"{source} line {i}: {len(cols)} tab-separated columns, expected {allowed} (a TAB inside a sentence?); "
                f"fix the line, or set data.extra_columns to ignore trailing columns (Tatoeba's attribution: 1)"
            )
        pairs.append((cols[0], cols[1]))
    if not pairs:
        raise DataError(f"{source} holds no sentence pairs; expected lines 'sentence<TAB>translation'")
    return pairs


def read_tsv_file(path: str | os.PathLike, *, extra_columns: int = 0) -> list[Pair]:
    return read_tsv(read_text(path), source=str(path), extra_columns=extra_columns)


def read_parallel(src: str | os.PathLike, tgt: str | os.PathLike) -> list[Pair]:
    """Raw pairs from two line-aligned files (line i of ``src`` translates line i of ``tgt``)."""
    a, b = read_text(src).splitlines(), read_text(tgt).splitlines()
    if len(a) != len(b):
        raise DataError(
            f"parallel files differ in length: {src} has {len(a):,} lines but {tgt} has {len(b):,}; they must be "
            f"line-aligned (one sentence per line, line i of one translating line i of the other)"
        )
    if not a:
        raise DataError(f"{src} and {tgt} are empty; expected one sentence per line")
    return list(zip(a, b, strict=True))


def read_fra_eng(data_root: str | os.PathLike | None = None) -> tuple[list[Pair], str]:
    """(raw pairs in file order: English, French; source name) of the published Tatoeba fra-eng.zip."""
    p = resolve("fra-eng", "fra-eng.zip", data_root=data_root)
    return read_tsv(read_text(p, member="fra.txt"), source=f"{p}:fra.txt", extra_columns=1), "fra-eng"


def read_raw_pairs(
    *,
    path: str | os.PathLike | None = None,
    dataset: str | None = "fra-eng",
    data_root: str | os.PathLike | None = None,
    extra_columns: int = 0,
) -> tuple[list[Pair], str]:
    """(raw pairs in file column order, source name) from a TSV path (zip / gz too), or the fra-eng dataset."""
    if path is not None:
        return read_tsv_file(path, extra_columns=extra_columns), str(path)
    if dataset != "fra-eng":
        raise DataError(f"no sentence-pair reader for dataset {dataset!r}; known: fra-eng (or a TSV by path)")
    return read_fra_eng(data_root)


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


# ---- selection and splits ------------------------------------------------------------------------------------


def select_pairs(
    pairs: Sequence[Pair], *, languages: Sequence[str], setting: str, max_len: int
) -> tuple[list[Pair], str | None]:
    """(kept raw pairs in order, a note saying what was dropped or None). ``languages``: of the two sides.
    ``tutorial``: both sides < max_len (0: 10) normalised words and the English side starts with ENG_PREFIXES
    (the tutorial's filterPair); ``general``: both sides <= max_len normalised words (0: keep everything)."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {SETTINGS}, got {setting!r}")
    n = len(pairs)
    if setting == "tutorial":
        if "eng" not in languages:
            raise ValueError(
                f"the tutorial setting filters on English prefixes; the languages {tuple(languages)} have no 'eng'"
            )
        e, limit = list(languages).index("eng"), max_len or TUTORIAL_MAX_LEN
        out = []
        for p in pairs:
            a, b = normalize(p[0]), normalize(p[1])
            if len(a.split(" ")) < limit and len(b.split(" ")) < limit and (a, b)[e].startswith(ENG_PREFIXES):
                out.append(p)
        why = f"tutorial setting (English prefix, both sides < {limit} words)"
    elif max_len:
        out = [p for p in pairs if len(normalize(p[0]).split()) <= max_len and len(normalize(p[1]).split()) <= max_len]
        why = f"max_len {max_len} (more than {max_len} words on a side)"
    else:
        return list(pairs), None
    return out, f"{why}: kept {len(out):,} of {n:,} pairs, dropped {n - len(out):,}"


def split_pairs(
    pairs: Sequence[Pair], *, test_fraction: float, val_fraction: float, seed: int
) -> tuple[list[Pair], list[Pair], list[Pair]]:
    """Seeded random (train, val, test) split through ``rnnkit.data.splits`` (torch order): the first pairs of the
    order are the test part, the next ones validation, the rest training. A fraction of 0 gives an empty part."""
    if not 0.0 <= test_fraction < 1.0 or not 0.0 <= val_fraction < 1.0 or test_fraction + val_fraction >= 1.0:
        raise ValueError(f"test_fraction {test_fraction} / val_fraction {val_fraction}: need [0,1), [0,1), sum < 1")
    n = len(pairs)
    n_test = max(1, round(n * test_fraction)) if test_fraction else 0
    n_val = round(n * val_fraction)
    if n - n_test - n_val < 1:
        raise DataError(f"only {n} pairs: too few for a {test_fraction}/{val_fraction} test/validation split")
    train, held = splits.held_out(pairs, n_test + n_val, splits.permutation(n, seed))
    return train, held[n_test:], held[:n_test]


# ---- vocabularies ----------------------------------------------------------------------------------------------


def build_vocab(
    token_lists: Sequence[Sequence[str]], *, level: str, min_freq: int = 1, max_size: int | None = None
) -> Vocab:
    """A ``text.Vocab`` with ``<unk> <pad> <sos> <eos>`` first, then tokens by frequency (training text only)."""
    toks = [t for s in token_lists for t in s]
    if not toks:
        raise DataError("cannot build a vocabulary from no text")
    base = Vocab.build(toks, level="word", min_freq=min_freq, max_size=max_size)  # frequency order, <unk> first
    rest = [t for t in base.itos[1:] if t not in SPECIALS]
    return Vocab([*SPECIALS, *rest], level=level)


def encode(vocab: Vocab, tokens: Sequence[str], *, add_eos: bool = True) -> list[int]:
    """Ids of tokens (unknown ones -> <unk>, silently: held-out text has them), + EOS."""
    ids = [vocab.stoi.get(t, 0) for t in tokens]
    return ids + [EOS_ID] if add_eos else ids


def decode_tokens(vocab: Vocab, ids: Sequence[int]) -> list[str]:
    """Tokens of ids, stopping at EOS and skipping PAD/BOS."""
    toks = []
    for i in ids:
        i = int(i)
        if i == EOS_ID:
            break
        if i not in (PAD_ID, BOS_ID):
            toks.append(vocab.itos[i])
    return toks


# ---- batches ---------------------------------------------------------------------------------------------------


def collate(items: Sequence[tuple[Sequence[int], Sequence[int]]]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(source ids, target ids ending in EOS) items -> src (N, S) PAD-padded, lengths (N,), decoder input
    (N, T) = BOS + target[:-1] PAD-padded, decoder target (N, T) padded with IGNORE_INDEX."""
    src, lengths = pad_sequences([s for s, _ in items], padding_value=PAD_ID, dtype=torch.long)
    tgt_in, _ = pad_sequences([[BOS_ID, *t[:-1]] for _, t in items], padding_value=PAD_ID, dtype=torch.long)
    tgt_out, _ = pad_sequences([list(t) for _, t in items], padding_value=IGNORE_INDEX, dtype=torch.long)
    return src, lengths, tgt_in, tgt_out
