"""Prepared corpora: text larger than memory, tokenised once in streaming passes into memory-mappable id files.

``rnnkit lm prepare --data FILE|DIR --out PREP`` (or ``prepare(...)``) writes::

    PREP/train.bin valid.bin [test.bin]   token ids, raw little-endian, the smallest of uint8/uint16/uint32 holding V
    PREP/meta.json                        vocabulary, token counts, dtype, split rule, settings, and each source's
                                          path, size, mtime_ns and sha256

The ids are exactly those of the in-memory path (``load_splits`` + ``encode_splits``; a test compares them):
the split is ``split_text``'s rule on *characters* - train ``[0, a)``, valid ``[a, b)``, test ``[b, n)`` with
``a = int(n (1 - valid - test))``, ``b = int(n (1 - test))`` - and the vocabulary is built on the training
split only (``Vocab.from_counts``, the same ranking as ``Vocab.build``). The text is streamed in blocks of
``BLOCK`` bytes cut at a newline (``corpus.py``), so memory is bounded by the block size (or the longest line).
Pass 1 checks UTF-8, hashes and counts characters, which fixes ``a`` and ``b``.
Chars: pass 2 counts the training split's code points (bincount) -> the vocabulary; pass 3 encodes every split
through a lookup table over code points (over bytes for ASCII blocks). Words: pass 2 tokenises each block's
UTF-8 bytes with whole-array operations (``words.py``: ``tokenize``'s tokens, ``<eos>`` ending each line,
interned in a NumPy hash table with exact keys), writes provisional ids (uint32 temp files)
and counts the training split's ids -> the vocabulary; pass 3 remaps the provisional ids with a table (NumPy).

A corpus with its own split files (PTB) is given as ``{"train": f, "valid": f, "test": f}``: each split is its
file, and ``prepare_dataset("ptb" | "tiny-shakespeare")`` splits a known dataset as ``load_splits`` does.
Folders, ``.gz`` files and several files joined: as ``corpus.py`` reads them.

Staleness: a source whose size and mtime are unchanged is taken as unchanged; if only the mtime moved, its
sha256 is recomputed and compared (so ``touch`` costs a re-hash, not a rebuild). The folder is written under
a temp name and renamed into place, ``meta.json`` last, so a half-written cache is never read; ``open_prepared``
also checks every ``.bin`` has the size ``meta.json`` promises.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.sources import DataError, resolve
from rnnkit.data.text import LEVELS, EncodedText, Vocab
from rnnkit.durable import TMP_TAG, fsync_dir, write_text
from rnnkit.tasks.lm.corpus import (
    SPLITS,
    Source,
    cut_bytes,
    cut_chars,
    read_pieces,
    sha256_file,
    source_files,
    split_files,
)
from rnnkit.tasks.lm.words import WordInterner

BLOCK = 2 << 20  # bytes read per block (peak memory of a pass is ~15-20 blocks)
FORMAT = 1
META = "meta.json"
_MAX_CP = 0x110000  # code points


# ---- tokenising one piece ----------------------------------------------------------------------------------


def _code_points(text: str) -> np.ndarray:
    """Code points of ``text``: uint8 for ASCII text (one byte each), else uint32."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def dtype_for(vocab_size: int) -> np.dtype:
    """The smallest unsigned integer type holding ids ``0..V-1``."""
    for dt in (np.uint8, np.uint16, np.uint32):
        if vocab_size - 1 <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise DataError(f"a vocabulary of {vocab_size} tokens does not fit uint32 ids")  # pragma: no cover


# ---- prepared folders --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What the ids depend on besides the text: a change rebuilds the cache."""

    level: str = "char"
    max_vocab: int = 0  # 0: no limit
    valid_fraction: float = 0.1
    test_fraction: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "max_vocab": self.max_vocab,
            "valid_fraction": self.valid_fraction,
            "test_fraction": self.test_fraction,
        }


def _stat(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def stale_reason(meta: dict[str, Any], data: Source | None = None) -> str | None:
    """Why the prepared folder no longer matches its sources (None: it matches). ``data``: the source now asked
    for (default: the one recorded)."""
    recorded = meta["sources"]
    if data is not None:
        try:
            now = [str(p.resolve()) for p in source_files(data)]
        except DataError as e:
            return str(e)
        if now != [s["path"] for s in recorded]:
            return f"the source files are now {now[:3]}{' ...' if len(now) > 3 else ''}, not the ones prepared"
    for s in recorded:
        p = Path(s["path"])
        if not p.is_file():
            return f"source {p} no longer exists"
        st = _stat(p)
        if st["size"] != s["size"]:
            return f"source {p} changed: {s['size']:,} bytes when prepared, {st['size']:,} now"
        if st["mtime_ns"] != s["mtime_ns"] and sha256_file(p, block=BLOCK) != s["sha256"]:
            return f"source {p} changed since it was prepared (same size, different sha256)"
    return None


def read_meta(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The folder's ``meta.json`` (None when there is none: not a prepared folder, or never finished)."""
    p = Path(folder) / META
    if not p.is_file():
        return None
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{p} is damaged ({e}); delete the folder and run `rnnkit lm prepare` again") from None
    if meta.get("format") != FORMAT:
        raise DataError(f"{p} has format {meta.get('format')!r}, this rnnkit reads {FORMAT}; prepare it again")
    return meta


def open_prepared(folder: str | os.PathLike, *, check_source: bool = True) -> EncodedText:
    """The vocabulary and memory-mapped id streams of a prepared folder (nothing is read into memory).

    Raises DataError when the folder is incomplete or damaged, or (``check_source``) when a source changed since.
    """
    d = Path(folder)
    meta = read_meta(d)
    if meta is None:
        raise DataError(f"{d} is not a prepared corpus (no {META}); run `rnnkit lm prepare --data FILE --out {d}`")
    if check_source and (why := stale_reason(meta)):
        raise DataError(f"prepared corpus {d} is stale: {why}. Run `rnnkit lm prepare` again to rebuild it")
    dtype = np.dtype(meta["dtype"])
    arrays: dict[str, np.ndarray] = {}  # every split meta.json counts (train and valid always)
    for name in SPLITS:
        n = meta["counts"].get(name)
        if n is None:
            continue
        f = d / f"{name}.bin"
        if not f.is_file() or f.stat().st_size != n * dtype.itemsize:
            raise DataError(
                f"prepared corpus {d} is damaged: {f.name} should hold {n:,} {dtype.name} ids; prepare it again"
            )
        arrays[name] = np.memmap(f, dtype=dtype, mode="r", shape=(n,)) if n else np.zeros(0, dtype)
    vocab = Vocab.from_json(meta["vocab"])
    return EncodedText(vocab, arrays["train"], arrays["valid"], arrays.get("test"), meta["source"])


def prepare(
    data: Source,
    out: str | os.PathLike,
    settings: Settings = Settings(),
    *,
    quiet: bool = True,
    source: str | None = None,
) -> tuple[EncodedText, bool]:
    """Tokenise ``data`` into ``out`` (see the module docstring); reuse ``out`` when it is up to date.

    ``data``: a file or folder, split by ``settings``' fractions; or ``{"train": f, "valid": f[, "test": f]}``, a
    corpus's own split files (the fractions are then unused). ``source``: the name recorded (default: ``data``).
    Returns the opened corpus and whether it was (re)built.
    """
    if settings.level not in LEVELS:
        raise DataError(f"level must be one of {', '.join(LEVELS)}, got {settings.level!r}")
    out = Path(out)
    files = source_files(data)
    if out.exists():
        meta = read_meta(out) if out.is_dir() else None
        if meta is None and (not out.is_dir() or any(out.iterdir())):
            raise DataError(f"{out} exists and is not a prepared corpus; choose another --out")
        if meta is not None and meta["settings"] == settings.to_json():
            if meta.get("split_files", False) == isinstance(data, Mapping) and stale_reason(meta, data) is None:
                return open_prepared(out, check_source=False), False
    tmp = out.with_name(f".{out.name}{TMP_TAG}{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        name = source or (str(data) if not isinstance(data, Mapping) else ", ".join(map(str, data.values())))
        _build(files, split_files(data), tmp, settings, source=name, quiet=quiet)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
        fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return open_prepared(out, check_source=False), True


def prepare_dataset(
    name: str,
    out: str | os.PathLike,
    settings: Settings = Settings(),
    *,
    data_root: str | os.PathLike | None = None,
    quiet: bool = True,
) -> tuple[EncodedText, bool]:
    """``prepare`` for a known dataset, split as ``load_splits(dataset=name)`` splits it: tiny-shakespeare the
    published 90/10 of its characters (the fractions in ``settings`` are replaced), ptb its own three files."""
    if name == "tiny-shakespeare":
        path = resolve(name, "input.txt", data_root=data_root)
        return prepare(path, out, replace(settings, valid_fraction=0.1, test_fraction=0.0), quiet=quiet, source=name)
    if name == "ptb":
        files = {s: resolve(name, f"ptb.{s}.txt", data_root=data_root) for s in SPLITS}
        return prepare(files, out, settings, quiet=quiet, source=name)
    raise DataError(f"no text dataset {name!r} to prepare; text datasets: tiny-shakespeare, ptb (or --data FILE)")


@contextlib.contextmanager
def _progress(quiet: bool):
    """A rich progress display in bytes and MB/s (or a no-op when quiet)."""
    if quiet:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    cols = (
        TextColumn("{task.description:<8}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*cols, transient=False) as p:
        yield p


def _build(
    files: list[Path], parts: list[list[Path]] | None, tmp: Path, settings: Settings, *, source: str, quiet: bool
) -> None:
    level = settings.level
    total = sum(f.stat().st_size for f in files)
    bounds: tuple[int, ...] | None = None  # None: one piece stream (pass 1), or the split files themselves
    with _progress(quiet) as bar:

        def split_pieces(desc: str, size: int, *, decode: bool = True, hashes: dict | None = None) -> Iterator[Any]:
            """(split index, piece) over every split, with a progress bar ``desc`` of ``size`` bytes."""
            pairs: Iterator[tuple[int, str | bytes]]
            if parts is None and decode:
                text = read_pieces(files, level=level, block=BLOCK, decode=True, hashes=hashes)
                pairs = ((0, p) for p in text) if bounds is None else cut_chars(text, bounds)
            elif parts is None:
                raw = read_pieces(files, level=level, block=BLOCK, decode=False, hashes=hashes)
                pairs = ((0, p) for p in raw) if bounds is None else cut_bytes(raw, bounds)
            else:
                pairs = (
                    (k, p)
                    for k, fs in enumerate(parts)
                    for p in read_pieces(fs, level=level, block=BLOCK, decode=decode, hashes=hashes)
                )
            task = bar.add_task(desc, total=size) if bar is not None else None
            for k, t in pairs:
                if bar is not None:
                    bar.advance(task, len(t) if isinstance(t, bytes) or t.isascii() else len(t.encode("utf-8")))
                yield k, t

        # pass 1: UTF-8 check, hashes, characters -> the split points (split_text's rule)
        hashes: dict[str, str] = {}
        n, nbytes, has_text = [0, 0, 0], 0, [False] * 3
        for k, t in split_pieces("scan", total, hashes=hashes):
            n[k] += len(t)
            nbytes += len(t) if t.isascii() else len(t.encode("utf-8"))
            has_text[k] = has_text[k] or not t.isspace()
        if parts is None:
            if not has_text[0]:
                raise DataError(f"text source {source} is empty (or only whitespace); a language model needs text")
            v, te = settings.valid_fraction, settings.test_fraction
            a, b = int(n[0] * (1.0 - v - te)), int(n[0] * (1.0 - te))
            if a == 0 or b == a or (te and b == n[0]):
                raise DataError(f"text of {n[0]} characters is too short for a {v}/{te} split")
            bounds = (a, b) if te else (a,)
            names = SPLITS[: len(bounds) + 1]
        else:
            names = SPLITS[: len(parts)]
            for k, name in enumerate(names):
                if not has_text[k]:
                    raise DataError(f"the {name} split ({parts[k][0]}) is empty; a language model needs text")
        encode = _encode_chars if level == "char" else _encode_words
        vocab, dtype, counts_out = encode(split_pieces, tmp, names, settings, nbytes)
    meta = {
        "format": FORMAT,
        "source": source,
        "settings": settings.to_json(),
        "split_files": parts is not None,
        "split_rule": "one file each"
        if parts
        else "characters [0,a) train, [a,b) valid, [b,n) test; "
        "a = int(n*(1-valid-test)), b = int(n*(1-test)) (rnnkit.data.text.split_text)",
        "characters": sum(n),
        "bytes": nbytes,
        "bounds": list(bounds) if bounds else None,
        "counts": counts_out,
        "dtype": dtype.name,
        "vocab_size": len(vocab),
        "vocab": vocab.to_json(),
        "sources": [{**_stat(f), "sha256": hashes[str(f)]} for f in files],
    }
    write_text(tmp / META, json.dumps(meta, ensure_ascii=False, indent=1))  # last: it marks the folder complete


def _encode_chars(split_pieces, tmp, names, settings, nbytes):
    """Pass 2: code-point counts of the training split -> the vocabulary. Pass 3: every split through a lookup
    table over code points (over bytes for ASCII blocks)."""
    cp_counts = np.zeros(_MAX_CP, dtype=np.int64)
    for k, t in split_pieces("count", nbytes):
        if k > 0:
            break
        cps = _code_points(t)
        m = 256 if cps.dtype == np.uint8 else _MAX_CP
        cp_counts[:m] += np.bincount(cps, minlength=m)
    counts = {chr(c): int(cp_counts[c]) for c in np.flatnonzero(cp_counts)}
    vocab = Vocab.from_counts(counts, level="char", max_size=settings.max_vocab or None)
    dtype = dtype_for(len(vocab))
    lut = np.zeros(_MAX_CP, dtype=dtype)  # code point -> id; unknown -> 0 (<unk>)
    for i, tok in enumerate(vocab.itos[1:], start=1):
        lut[ord(tok)] = i
    sizes = dict.fromkeys(names, 0)
    with _writers(tmp, names, ".bin") as outs:
        for k, t in split_pieces("encode", nbytes):
            ids = lut[_code_points(t)]
            ids.tofile(outs[k])
            sizes[names[k]] += len(ids)
    return vocab, dtype, sizes


def _encode_words(split_pieces, tmp, names, settings, nbytes):
    """Pass 2: tokenise every block's bytes once (``WordInterner``: provisional ids, uint32 in
    temp files) and count the training split's ids with bincount -> the vocabulary. Pass 3: remap the provisional
    ids through a table (NumPy, block by block) into the final dtype."""
    interner = WordInterner()
    train_counts = np.zeros(0, dtype=np.int64)
    sizes = dict.fromkeys(names, 0)
    with _writers(tmp, names, ".u32") as outs:
        for k, raw in split_pieces("tokenise", nbytes, decode=False):
            ids = interner.encode(raw)
            ids.tofile(outs[k])
            sizes[names[k]] += len(ids)
            if k == 0:
                c = np.bincount(ids, minlength=len(interner))
                c[: len(train_counts)] += train_counts
                train_counts = c
    words_seen = interner.words()  # provisional id -> word
    seen_in_train = np.flatnonzero(train_counts)
    counts = {words_seen[i]: int(train_counts[i]) for i in seen_in_train}
    vocab = Vocab.from_counts(counts, level="word", max_size=settings.max_vocab or None)
    dtype = dtype_for(len(vocab))
    table = np.zeros(len(interner), dtype=dtype)  # provisional id -> final id; not in the vocabulary -> 0 (<unk>)
    table[seen_in_train] = [vocab.stoi.get(words_seen[i], 0) for i in seen_in_train]
    del interner, words_seen
    step = max(BLOCK // 4, 1)
    with _writers(tmp, names, ".bin") as outs:
        for k, name in enumerate(names):
            src = tmp / f"{name}.u32"
            for start in range(0, sizes[name], step):
                ids = np.fromfile(src, dtype=np.uint32, count=min(step, sizes[name] - start), offset=4 * start)
                table[ids].tofile(outs[k])
            src.unlink()
    return vocab, dtype, sizes


@contextlib.contextmanager
def _writers(tmp: Path, names: Sequence[str], suffix: str):
    outs = [open(tmp / f"{name}{suffix}", "wb") for name in names]  # noqa: SIM115 - closed below
    try:
        yield outs
        for f in outs:
            f.flush()
            os.fsync(f.fileno())
    finally:
        for f in outs:
            f.close()
