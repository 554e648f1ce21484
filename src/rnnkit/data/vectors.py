"""Pretrained word vectors in the word2vec / GloVe text format, read for one vocabulary.

One word per line followed by its D numbers, space-separated; word2vec's files start with a ``count D`` header
line, GloVe's do not (both are accepted). Only the rows of the words asked for are kept, so a large file costs
one pass and little memory. The first line whose key matches a word wins (files list frequent words first).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from pathlib import Path

import numpy as np

from rnnkit.data.sources import DataError


def read_vectors(
    path: str | os.PathLike,
    wanted: Collection[str],
    *,
    key: Callable[[str], str] = lambda w: w,
    encoding: str = "utf-8",
) -> tuple[dict[str, np.ndarray], int]:
    """``({key(word): vector (D,) float32} for the keys in ``wanted``, D)``; DataError for a malformed file."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"embeddings file {p} does not exist; give a word2vec/GloVe text file (word v1 ... vD)")
    found: dict[str, np.ndarray] = {}
    dim = 0
    with open(p, encoding=encoding, errors="strict") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").rstrip(" ").split(" ")
            if n == 1 and len(parts) == 2 and all(x.isdigit() for x in parts):  # word2vec header: count D
                dim = int(parts[1])
                continue
            if len(parts) < 2:
                if not line.strip():
                    continue
                raise DataError(f"{p}:{n}: expected 'word v1 ... vD', got {line[:60]!r}")
            if not dim:
                dim = len(parts) - 1
            if len(parts) - 1 != dim:
                raise DataError(f"{p}:{n}: {len(parts) - 1} numbers after the word, expected {dim} like the first row")
            k = key(parts[0])
            if k in wanted and k not in found:
                try:
                    found[k] = np.asarray(parts[1:], dtype=np.float32)
                except ValueError:
                    raise DataError(f"{p}:{n}: a value after {parts[0]!r} is not a number") from None
    if not dim:
        raise DataError(f"{p} holds no vectors")
    return found, dim
