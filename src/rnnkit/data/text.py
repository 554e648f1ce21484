"""Text for language models: reading UTF-8 files safely, char and word vocabularies, known text datasets.

A vocabulary maps tokens to ids ``0..V-1`` and back. Id 0 is always the unknown token ``<unk>``, so any
text can be encoded: characters (or words) never seen in training map to it. Word level follows the
Penn Treebank convention of Mikolov / Zaremba et al. 2014 / pytorch/examples: whitespace-split words and
an ``<eos>`` token at the end of every line (PTB already writes rare words as ``<unk>``, which is our id 0).

Datasets:
- ``tiny-shakespeare``: Karpathy's ``input.txt``; the split everyone compares on is the first 90% of the
  characters for training and the last 10% for validation (char-rnn, nanoGPT). No test split.
- ``ptb``: the standard ``ptb.{train,valid,test}.txt`` files.
- any UTF-8 file by path: the last ``valid_fraction`` of the text is validation (and optionally the
  ``test_fraction`` before the very end is test), cut at a line boundary when one is near.

Prompts with tokens outside the vocabulary: ``encode(..., unknown="unk")`` (the default for generation)
maps them to ``<unk>`` and warns once, naming the characters; ``unknown="error"`` raises instead.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.config import write_json
from rnnkit.data.sources import DataError, resolve

UNK = "<unk>"
PAD = "<pad>"
EOS = "<eos>"
LEVELS = ("char", "word")
VOCAB_FILE = "vocab.json"


def read_text(path: str | os.PathLike) -> str:
    """The contents of a UTF-8 text file, with clear errors for a missing, empty or undecodable file."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"text file {p} does not exist; pass the path of a UTF-8 text file")
    raw = p.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte-order mark: not part of the text
        raw = raw[3:]
    if not raw.strip():
        raise DataError(f"text file {p} is empty (or only whitespace); a language model needs text to learn from")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        bad = raw[e.start : e.end].hex(" ")
        raise DataError(
            f"text file {p} is not valid UTF-8: byte offset {e.start} (line {line}) has bytes {bad} ({e.reason}). "
            f"Convert it first, e.g. `iconv -f latin1 -t utf-8 {p.name} > fixed.txt`"
        ) from None


def tokenize(text: str, level: str) -> list[str]:
    """Characters (``char``), or whitespace-split words with ``<eos>`` ending every line (``word``, PTB style)."""
    if level == "char":
        return list(text)
    if level == "word":
        out: list[str] = []
        for line in text.splitlines():
            out.extend(line.split())
            out.append(EOS)
        return out
    raise ValueError(f"level must be one of {LEVELS}, got {level!r}")


class Vocab:
    """Token <-> id map for one level ('char' or 'word'), the one vocabulary class of every task. Special tokens
    come first: ``<unk>`` alone for language models (id 0), ``<unk> <pad> <sos> <eos>`` for translation,
    ``<pad> <unk>`` for classification and tagging (``from_token_lists``: pad 0, unk 1). Saved as JSON with the
    run (or as its ``itos`` list in task.json)."""

    def __init__(self, tokens: Sequence[str], *, level: str = "word") -> None:
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        tokens = list(tokens)
        if UNK not in tokens[:2]:
            raise ValueError(f"a vocabulary's first or second token must be {UNK!r}, got {tokens[:2]!r}")
        if len(set(tokens)) != len(tokens):
            dup = [t for t, n in Counter(tokens).items() if n > 1]
            raise ValueError(f"vocabulary has duplicate tokens: {dup[:10]!r}")
        self.level = level
        self.itos: list[str] = tokens
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(tokens)}
        self._unk = self.stoi[UNK]
        # char level: `<unk>` decodes as U+FFFD (one character, like a decoder's replacement character)
        self._decode_table = list(tokens)
        if level == "char":
            self._decode_table[self._unk] = "\ufffd"

    @classmethod
    def from_token_lists(cls, token_lists: Iterable[Sequence[str]], *, min_freq: int = 1, level: str = "word") -> Vocab:
        """``<pad>`` (id 0), ``<unk>`` (id 1), then the tokens seen at least ``min_freq`` times, in sorted order:
        the vocabulary of per-sequence tasks (classify, tag), which pad their batches with id 0."""
        counts = Counter(t for toks in token_lists for t in toks)
        kept = sorted(t for t, c in counts.items() if c >= min_freq and t not in (PAD, UNK))
        return cls([PAD, UNK, *kept], level=level)

    @classmethod
    def build(cls, text: str | Iterable[str], *, level: str, max_size: int | None = None, min_freq: int = 1) -> Vocab:
        """Vocabulary of ``text`` (or an iterable of tokens): ``<unk>`` first, then by frequency, ties by token.

        ``max_size`` (counting ``<unk>``) and ``min_freq`` drop rare tokens; they encode as ``<unk>``.
        Word ids are therefore ranked by training-split frequency (``<unk>`` aside, whatever its count): the
        adaptive softmax (``RecurrentLM(adaptive_cutoffs=...)``) relies on it, since its shortlist is ids
        ``[0, c_0)``. Char vocabularies are sorted by code point instead.
        """
        toks = tokenize(text, level) if isinstance(text, str) else list(text)
        return cls.from_counts(Counter(toks), level=level, max_size=max_size, min_freq=min_freq)

    @classmethod
    def from_counts(
        cls, counts: dict[str, int], *, level: str, max_size: int | None = None, min_freq: int = 1
    ) -> Vocab:
        """``build`` from token counts already made (the streaming preparation counts block by block)."""
        counts = Counter(counts)
        counts.pop(UNK, None)
        if not counts:
            raise DataError("cannot build a vocabulary from empty text")
        ranked = sorted((t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t))
        if max_size is not None:
            ranked = ranked[: max(max_size - 1, 0)]
        if level == "char":
            ranked.sort()  # char vocabularies read better in code-point order (and match char-rnn)
        return cls([UNK, *ranked], level=level)

    def __len__(self) -> int:
        return len(self.itos)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and other.level == self.level and other.itos == self.itos

    def __repr__(self) -> str:
        return f"Vocab(level={self.level!r}, size={len(self)})"

    @property
    def unk_id(self) -> int:
        return self._unk

    def ids(self, tokens: Sequence[str]) -> list[int]:
        """Ids of ``tokens``, out-of-vocabulary ones as ``<unk>``, silently (per-sequence tasks count them
        themselves)."""
        get, unk = self.stoi.get, self._unk
        return [get(t, unk) for t in tokens]

    def encode(self, text: str | Sequence[str], *, unknown: str = "unk", where: str = "text") -> np.ndarray:
        """Ids (int64) of ``text`` (a string, tokenised at this level, or a list of tokens).

        unknown: ``"unk"`` maps out-of-vocabulary tokens to ``<unk>`` (id 0) and warns, naming them;
        ``"error"`` raises ValueError naming them. ``where`` names the input in those messages.
        """
        if unknown not in ("unk", "error"):
            raise ValueError(f"unknown must be 'unk' or 'error', got {unknown!r}")
        toks = tokenize(text, self.level) if isinstance(text, str) else list(text)
        if isinstance(text, str) and self.level == "word" and not text.endswith("\n") and toks:
            toks.pop()  # a prompt without a final newline has not ended its line: no <eos> yet
        stoi, unk = self.stoi, self._unk
        ids = np.fromiter((stoi.get(t, unk) for t in toks), dtype=np.int64, count=len(toks))
        missing = sorted({t for t, i in zip(toks, ids, strict=True) if i == unk and t != UNK})
        if missing:
            shown = ", ".join(repr(t) for t in missing[:20]) + (" ..." if len(missing) > 20 else "")
            msg = f"{where} has {len(missing)} {self.level}(s) outside the vocabulary of {len(self)}: {shown}"
            if unknown == "error":
                raise ValueError(f"{msg}. Remove them, or allow the fallback (they become {UNK}).")
            warnings.warn(f"{msg}; they are read as {UNK}", stacklevel=2)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``: characters joined (``<unk>`` shown as U+FFFD), or words joined by spaces with
        ``<eos>`` as a newline."""
        table = self._decode_table
        if self.level == "char":
            return "".join(table[int(i)] for i in ids)
        out: list[str] = []
        for i in ids:
            t = table[int(i)]
            if t == EOS:
                out.append("\n")
            else:
                if out and out[-1] != "\n":
                    out.append(" ")
                out.append(t)
        return "".join(out)

    def decode_one(self, i: int, *, first: bool = False) -> str:
        """Text of one generated id, as it should be streamed after the previous one."""
        t = self._decode_table[int(i)]
        if self.level == "char":
            return t
        return "\n" if t == EOS else (t if first else " " + t)

    def to_json(self) -> dict:
        return {"level": self.level, "tokens": self.itos}

    @classmethod
    def from_json(cls, obj: dict) -> Vocab:
        try:
            return cls(obj["tokens"], level=obj["level"])
        except (KeyError, TypeError) as e:
            raise DataError(f"vocabulary JSON is malformed ({e!r}); expected keys 'level' and 'tokens'") from None

    def save(self, path: str | os.PathLike) -> None:
        """Write as JSON (UTF-8, atomic: temp file + rename)."""
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        p = Path(path)
        if not p.is_file():
            raise DataError(f"vocabulary file {p} does not exist; is this a language-model run folder?")
        try:
            obj = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DataError(f"vocabulary file {p} is not valid JSON: {e}") from None
        return cls.from_json(obj)


@dataclass(frozen=True)
class TextSplits:
    """Raw text of each split and where it came from (``test`` is None when the source has no test split)."""

    train: str
    valid: str
    test: str | None
    source: str


def split_text(text: str, *, valid_fraction: float = 0.1, test_fraction: float = 0.0) -> tuple[str, str, str | None]:
    """Contiguous split: train first, then validation, then test at the end (no shuffling: text is a stream)."""
    if not 0.0 < valid_fraction < 1.0 or not 0.0 <= test_fraction < 1.0 or valid_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"valid_fraction {valid_fraction} and test_fraction {test_fraction} must be in [0, 1) with "
            f"valid_fraction > 0 and a sum below 1"
        )
    n = len(text)
    a = int(n * (1.0 - valid_fraction - test_fraction))
    b = int(n * (1.0 - test_fraction))
    if a == 0 or b == a or (test_fraction and b == n):
        raise DataError(f"text of {n} characters is too short for a {valid_fraction}/{test_fraction} split")
    return text[:a], text[a:b], (text[b:] if test_fraction else None)


def load_splits(
    *,
    path: str | os.PathLike | None = None,
    dataset: str | None = None,
    data_root: str | os.PathLike | None = None,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.0,
) -> TextSplits:
    """Train/valid(/test) text from a file path or a known dataset (checksum-verified under the data root).

    ``tiny-shakespeare`` is always first 90% / last 10% (the published split); ``ptb`` uses its own files.
    """
    if (path is None) == (dataset is None):
        raise ValueError("give exactly one of path (a UTF-8 text file) or dataset ('tiny-shakespeare' or 'ptb')")
    if path is not None:
        tr, va, te = split_text(read_text(path), valid_fraction=valid_fraction, test_fraction=test_fraction)
        return TextSplits(tr, va, te, source=str(path))
    if dataset == "tiny-shakespeare":
        text = read_text(resolve("tiny-shakespeare", "input.txt", data_root=data_root))
        tr, va, _ = split_text(text, valid_fraction=0.1)  # the published 90/10 split (char-rnn, nanoGPT)
        return TextSplits(tr, va, None, source="tiny-shakespeare")
    if dataset == "ptb":
        files = [read_text(resolve("ptb", f"ptb.{s}.txt", data_root=data_root)) for s in ("train", "valid", "test")]
        return TextSplits(*files, source="ptb")
    raise DataError(f"no text loader for dataset {dataset!r}; text datasets: tiny-shakespeare, ptb (or --data FILE)")


@dataclass(frozen=True)
class EncodedText:
    """A vocabulary and the id streams of each split (1-D int64 arrays)."""

    vocab: Vocab
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray | None
    source: str


def encode_splits(
    splits: TextSplits, *, level: str, vocab: Vocab | None = None, max_size: int | None = None
) -> EncodedText:
    """Build the vocabulary on the training split only (unless given) and encode every split with it."""
    vocab = vocab or Vocab.build(splits.train, level=level, max_size=max_size)
    if vocab.level != level:
        raise ValueError(f"vocabulary is {vocab.level}-level but level={level!r} was asked for")

    def enc(text: str, name: str) -> np.ndarray:
        # validation/test characters unseen in training are legitimately <unk>: no warning for those
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return vocab.encode(tokenize(text, level), where=f"{splits.source} {name} split")

    test = enc(splits.test, "test") if splits.test is not None else None
    return EncodedText(vocab, enc(splits.train, "train"), enc(splits.valid, "valid"), test, splits.source)


# ---- offline fallback text for the demo --------------------------------------------------------------


def builtin_english(min_chars: int = 200_000) -> tuple[str, str]:
    """English prose that ships inside CPython itself, for the offline demo: (text, description).

    The choice: ``pydoc_data.topics`` - the Python Language Reference's help topics (~465 KB of English
    on CPython 3.11, what ``help("assert")`` prints), joined in sorted topic order so it is deterministic.
    If a distribution stripped that module, fall back to the docstrings of the standard-library modules.
    """
    try:
        from pydoc_data.topics import topics

        text = "\n\n".join(topics[k].strip() for k in sorted(topics))
        desc = "the Python Language Reference help topics (pydoc_data.topics, shipped with CPython)"
    except ImportError:  # pragma: no cover - only on stripped Python builds
        text, desc = "", ""
    if len(text) < min_chars:  # pragma: no cover - only on stripped Python builds
        text, desc = _stdlib_docstrings(min_chars), "docstrings of CPython standard-library modules"
    return text, desc


def _stdlib_docstrings(min_chars: int) -> str:  # pragma: no cover - fallback of a fallback
    import importlib
    import inspect
    import sys

    parts: list[str] = []
    for name in sorted(sys.stdlib_module_names):
        if name.startswith("_") or name in ("antigravity", "this", "idlelib", "tkinter", "turtledemo"):
            continue
        try:
            mod = importlib.import_module(name)
        except Exception:  # noqa: BLE001 - any import failure just skips the module
            continue
        for obj in [mod, *(v for _, v in inspect.getmembers(mod) if inspect.isclass(v) or inspect.isfunction(v))]:
            doc = inspect.getdoc(obj)
            if doc and len(doc) > 200:
                parts.append(doc)
        if sum(map(len, parts)) >= min_chars:
            break
    return "\n\n".join(parts)
