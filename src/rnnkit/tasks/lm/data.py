"""The language model's data, from ``config.data``: read the text, split it, encode it, cut it into TBPTT streams.

Two roads to the same ids (a test compares them): a small file or a known dataset is read into memory, split by
``load_splits`` (contiguous cuts of the characters: train, then validation, then test) and encoded by
``encode_splits``; a prepared folder (``rnnkit lm prepare``), or a large source, is read as memory-mapped id files
(``prepare.py``), tokenised once into a cache under ``cache_root()``. Either way the vocabulary is built on the
training split alone, or is the run's own when one is given.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rnnkit.config import ConfigError
from rnnkit.data.sources import DataError
from rnnkit.data.text import EncodedText, Vocab, encode_splits, load_splits, read_text
from rnnkit.tasks.lm.config import LMDataConfig

if TYPE_CHECKING:  # pragma: no cover
    from rnnkit.data.streams import TokenStream

AUTO_PREPARE_BYTES = 64 << 20  # `--data FILE` at least this large trains from a prepared, memory-mapped cache


def cache_root() -> Path:
    """Where ``lm train --data BIG`` keeps prepared corpora: ``$RNNKIT_CACHE/lm``, else ``~/.cache/rnnkit/lm``."""
    return Path(os.environ.get("RNNKIT_CACHE") or Path.home() / ".cache" / "rnnkit") / "lm"


def load_text(d: LMDataConfig, *, vocab: Vocab | None = None, quiet: bool = False) -> EncodedText:
    """The encoded splits of ``d``'s text: with the vocabulary built on its training split, or ``vocab`` (a run's).

    ``quiet``: no progress bar while a large source is prepared.
    """
    if d.path is None and d.dataset is None:
        raise ConfigError("config data: give data.path (a UTF-8 text file) or data.dataset (tiny-shakespeare, ptb)")
    if d.path is not None and (prep := prepared_corpus(Path(d.path), d, vocab=vocab, quiet=quiet)) is not None:
        return prep
    splits = load_splits(
        path=d.path,
        dataset=d.dataset,
        data_root=d.data_root,
        valid_fraction=d.val_fraction,
        test_fraction=d.test_fraction,
    )
    if d.val_path or d.test_path:  # explicit files replace the held-out parts
        splits = replace(
            splits,
            valid=read_text(d.val_path) if d.val_path else splits.valid,
            test=read_text(d.test_path) if d.test_path else splits.test,
        )
    return encode_splits(splits, level=d.level, vocab=vocab, max_size=d.max_vocab or None)


def prepared_corpus(
    path: Path, d: LMDataConfig, *, vocab: Vocab | None = None, quiet: bool = False
) -> EncodedText | None:
    """A prepared corpus for ``path``: the folder itself (``rnnkit lm prepare``), or for a large source (a folder, a
    .gz, or a file of ``AUTO_PREPARE_BYTES`` or more) a cache built or reused under ``cache_root()``; None: the
    in-memory road (the same ids, tested)."""
    from rnnkit.tasks.lm import prepare as P

    if path.is_dir() and (meta := P.read_meta(path)) is not None:
        data = P.open_prepared(path)
        if meta["settings"]["level"] != d.level:
            raise ConfigError(
                f"config data.level: {path} was prepared at {meta['settings']['level']} level, not {d.level}; "
                f"pass --level {meta['settings']['level']} or prepare it again"
            )
    elif path.is_dir() or path.suffix == ".gz" or (path.is_file() and path.stat().st_size >= AUTO_PREPARE_BYTES):
        settings = P.Settings(
            level=d.level, max_vocab=d.max_vocab, valid_fraction=d.val_fraction, test_fraction=d.test_fraction
        )
        key = hashlib.sha256(json.dumps([str(path.resolve()), settings.to_json()]).encode()).hexdigest()[:16]
        data, _ = P.prepare(path, cache_root() / key, settings, quiet=quiet)
    else:
        return None
    if d.val_path or d.test_path:
        raise ConfigError("config data.val_path/test_path: not supported with a prepared corpus (one source)")
    if vocab is not None and vocab != data.vocab:
        raise DataError(f"{path}: its prepared vocabulary differs from the run's; evaluate on a text file instead")
    return data


def token_streams(train: np.ndarray, val: np.ndarray | None, d: LMDataConfig) -> tuple[TokenStream, TokenStream | None]:
    """Training and validation token streams: ``d.batch_size`` (validation: ``d.eval_batch_size``) contiguous rows,
    served in TBPTT chunks of ``d.bptt``; validation cut to its first ``d.eval_tokens`` when that is set."""
    from rnnkit.data.streams import TokenStream

    rows = d.eval_batch_size or d.batch_size
    if val is not None and d.eval_tokens and len(val) > d.eval_tokens:
        if d.eval_tokens < 2 * rows:
            raise ConfigError(
                f"config data.eval_tokens: {d.eval_tokens} tokens cannot fill {rows} validation rows of 2 tokens "
                f"or more; use at least {2 * rows}, or 0 for the whole split"
            )
        val = val[: d.eval_tokens]  # the same sample at every evaluation; a view (of the memory map, if any)
    train_s = TokenStream(train, batch_size=d.batch_size, bptt=d.bptt)
    val_s = TokenStream(val, batch_size=rows, bptt=d.bptt) if val is not None else None
    return train_s, val_s
