"""Reading a text corpus larger than memory: its files, streamed as decoded pieces that end at a newline.

A source is a file, a folder (its visible files in sorted name order, joined as if each ended with a newline), or a
corpus's own split files ``{"train": f, "valid": f[, "test": f]}``; ``.gz`` files are read through gzip. A single
file is read as is (a UTF-8 byte-order mark at its start is dropped, as ``read_text`` does). ``read_pieces``
reads ``block`` bytes at a time and cuts at the last newline, so memory is bounded by the block size (or the
longest line, at word level), checks UTF-8 (naming the file and byte offset of a bad byte) and hashes each file;
``cut_chars`` / ``cut_bytes`` cut the pieces at character positions, the split points (``prepare.py``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

from rnnkit.data.sources import DataError

SPLITS = ("train", "valid", "test")

Source = str | os.PathLike | Mapping[str, str | os.PathLike]  # a file or folder, or {split: file}
Piece = TypeVar("Piece", str, bytes)  # a piece of text, decoded or as its UTF-8 bytes


def split_files(data: Source) -> list[list[Path]] | None:
    """{split: file} given (a dataset's own files: PTB) -> the files of each split in SPLITS order; else None."""
    if not isinstance(data, Mapping):
        return None
    if set(data) - set(SPLITS) or not {"train", "valid"} <= set(data):
        raise DataError(f"split files must name train and valid (and test), got {sorted(data)}")
    return [source_files(data[s]) for s in SPLITS if s in data]


def source_files(data: Source) -> list[Path]:
    """The files of ``data``: the file itself, a folder's visible files in sorted name order, or each split's."""
    if (parts := split_files(data)) is not None:
        return [f for part in parts for f in part]
    assert not isinstance(data, Mapping)  # split_files took {split: file}
    p = Path(data)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
        if not files:
            raise DataError(f"folder {p} holds no text files; pass a UTF-8 text file or a folder of them")
        return files
    raise DataError(f"text source {p} does not exist; pass a UTF-8 text file (.gz accepted) or a folder of them")


def open_binary(path: Path) -> io.BufferedIOBase:
    """The file's stored bytes, through gzip for a ``.gz``."""
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115 - closed by caller


def sha256_file(path: Path, *, block: int) -> str:
    """The sha256 of the file's stored bytes, read ``block`` bytes at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(block):
            h.update(b)
    return h.hexdigest()


@overload
def read_pieces(
    files: Sequence[Path],
    *,
    level: str,
    block: int,
    hashes: dict[str, Any] | None = None,
    decode: Literal[True] = True,
) -> Iterator[str]: ...
@overload
def read_pieces(
    files: Sequence[Path], *, level: str, block: int, hashes: dict[str, Any] | None = None, decode: Literal[False]
) -> Iterator[bytes]: ...
@overload
def read_pieces(
    files: Sequence[Path], *, level: str, block: int, hashes: dict[str, Any] | None = None, decode: bool
) -> Iterator[str] | Iterator[bytes]: ...
def read_pieces(
    files: Sequence[Path], *, level: str, block: int, hashes: dict[str, Any] | None = None, decode: bool = True
) -> Iterator[str] | Iterator[bytes]:
    """The decoded text in pieces that end at a newline (or at a file's end; char level: at any character
    boundary once a line outgrows 4 blocks). Raises DataError naming the file and byte offset of bad UTF-8.
    ``hashes``: filled with each file's sha256 of its stored bytes. ``decode=False``: the UTF-8 bytes of the
    same pieces, unchecked (for a pass after one that checked them). ``block``: bytes read at a time."""
    if decode:
        return _pieces(files, level=level, block=block, hashes=hashes, convert=_utf8, newline="\n")
    return _pieces(files, level=level, block=block, hashes=hashes, convert=_as_is, newline=b"\n")


def _utf8(piece: bytes) -> str:
    return piece.decode("utf-8")


def _as_is(piece: bytes) -> bytes:
    return piece


def _pieces(
    files: Sequence[Path],
    *,
    level: str,
    block: int,
    hashes: dict[str, Any] | None,
    convert: Callable[[bytes], Piece],
    newline: Piece,
) -> Iterator[Piece]:
    """``read_pieces``: each piece ``convert``-ed (decoded, or kept as bytes); ``newline`` of the same kind."""
    for path in files:
        h = hashlib.sha256() if hashes is not None else None
        offset, carry = 0, b""  # offset: file bytes (uncompressed) before `carry`
        with open_binary(path) as f:
            raw_f = f.fileobj if isinstance(f, gzip.GzipFile) else None
            first, last = True, newline[:0]
            while True:
                try:
                    raw = f.read(max(block, 3) if first else block)  # a byte-order mark is read whole
                except (OSError, EOFError) as e:
                    raise DataError(f"cannot read {path}: {e}") from None
                if h is not None and raw_f is None:
                    h.update(raw)
                eof = not raw
                if first and raw.startswith(b"\xef\xbb\xbf"):
                    raw, offset = raw[3:], 3
                first = False
                buf = carry + raw
                if not eof:
                    cut = buf.rfind(b"\n") + 1
                    if cut == 0 and level == "char" and len(buf) > 4 * block:
                        cut = len(buf) - 1
                        while cut > 0 and buf[cut] & 0xC0 == 0x80:  # cut before a character's first byte
                            cut -= 1
                    if cut == 0:
                        carry = buf
                        continue
                else:
                    cut = len(buf)
                piece, carry = buf[:cut], buf[cut:]
                try:
                    text = convert(piece)
                except UnicodeDecodeError as e:
                    bad = piece[e.start : e.end].hex(" ")
                    raise DataError(
                        f"text file {path} is not valid UTF-8: byte offset {offset + e.start} has bytes {bad} "
                        f"({e.reason}). Is it a binary file? Convert text first, e.g. "
                        f"`iconv -f latin1 -t utf-8 {path.name} > fixed.txt`"
                    ) from None
                offset += cut
                if eof:
                    if len(files) > 1 and not (text or last).endswith(newline):
                        text += newline  # files are joined as if each ended with a newline
                    if text:
                        yield text
                    break
                last = text
                yield text
        if h is not None:
            assert hashes is not None  # h is made only when hashes are asked for
            hashes[str(path)] = h.hexdigest() if raw_f is None else sha256_file(path, block=block)


def cut_chars(pieces: Iterator[str], bounds: Sequence[int]) -> Iterator[tuple[int, str]]:
    """(split index, text) with the pieces cut at the character positions ``bounds`` (a, b)."""
    pos, k = 0, 0
    for text in pieces:
        while k < len(bounds) and pos + len(text) >= bounds[k]:
            head, text = text[: bounds[k] - pos], text[bounds[k] - pos :]
            if head:
                yield k, head
            pos, k = bounds[k], k + 1
        if text:
            yield k, text
        pos += len(text)


def cut_bytes(pieces: Iterator[bytes], bounds: Sequence[int]) -> Iterator[tuple[int, bytes]]:
    """``cut_chars`` for UTF-8 pieces: the same cuts (``bounds`` still count characters), as bytes."""
    pos, k = 0, 0
    for raw in pieces:
        ascii_ = raw.isascii()
        n = len(raw) if ascii_ else len(raw.decode("utf-8"))
        while k < len(bounds) and pos + n >= bounds[k]:
            j = bounds[k] - pos  # characters into `raw`
            cut = j if ascii_ else len(raw.decode("utf-8")[:j].encode("utf-8"))
            head, raw = raw[:cut], raw[cut:]
            if head:
                yield k, head
            pos, n, k = bounds[k], n - j, k + 1
        if raw:
            yield k, raw
        pos += n
