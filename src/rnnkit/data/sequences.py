"""Variable-length sequences: padding with lengths, truncation with a count, and length-bucketed batches.

Per-sequence tasks (classification, tagging, full-BPTT training) feed the recurrent runner padded batches
``(N, T, ...)`` together with ``lengths (N,)``; the runner ignores positions ``t >= lengths[n]``. Batches of
similar lengths waste less work on padding, which is what ``BucketSampler`` is for.

Shape letters: N batch, T time (the longest sequence in the batch), D features per step.
"""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Sampler

IGNORE_INDEX = -100  # target value at padded positions; torch's cross_entropy skips it by default


def _as_tensor(seq: Any, dtype: torch.dtype | None) -> Tensor:
    if isinstance(seq, Tensor):
        return seq if dtype is None else seq.to(dtype)
    if isinstance(seq, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(seq))
        return t if dtype is None else t.to(dtype)
    return torch.as_tensor(list(seq), dtype=dtype)


def pad_sequences(
    seqs: Sequence[Any],
    *,
    padding_value: float = 0,
    max_len: int | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[Tensor, Tensor]:
    """Stack sequences of shape ``(T_n, ...)`` into ``(N, T, ...)`` padded at the end, plus ``lengths (N,)``.

    Each sequence may be a list, a NumPy array or a tensor; trailing dimensions must agree. ``max_len``
    cuts every sequence to at most that many steps (use ``truncate`` first if you want a warning).
    Zero-length sequences are allowed (their row is all padding, length 0).
    """
    if len(seqs) == 0:
        raise ValueError("pad_sequences: got no sequences; pass at least one")
    tensors = [_as_tensor(s, dtype) for s in seqs]
    if max_len is not None:
        if max_len < 1:
            raise ValueError(f"pad_sequences: max_len must be >= 1, got {max_len}")
        tensors = [t[:max_len] for t in tensors]
    trailing = tensors[0].shape[1:]
    for i, t in enumerate(tensors):
        if t.dim() == 0:
            raise ValueError(f"pad_sequences: sequence {i} is a scalar; each sequence needs a time axis first")
        if t.shape[1:] != trailing:
            raise ValueError(
                f"pad_sequences: sequence {i} has per-step shape {tuple(t.shape[1:])}, sequence 0 has "
                f"{tuple(trailing)}; every step must have the same feature shape"
            )
    lengths = torch.tensor([t.shape[0] for t in tensors], dtype=torch.long)  # (N,)
    T = max(int(lengths.max()), 1)
    out_dtype = tensors[0].dtype
    padded = torch.full((len(tensors), T, *trailing), padding_value, dtype=out_dtype)  # (N, T, ...)
    for i, t in enumerate(tensors):
        padded[i, : t.shape[0]] = t
    return padded, lengths


def lengths_to_mask(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """``lengths (N,)`` -> boolean mask ``(N, T)``, True at real steps ``t < lengths[n]``."""
    T = int(lengths.max()) if max_len is None else max_len
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]  # (N, T)


def truncate(seqs: Sequence[Any], max_len: int | None, *, what: str = "sequences") -> tuple[list[Any], int]:
    """Cut sequences longer than ``max_len`` steps; warn once with how many were cut. Returns (seqs, count).

    Documented behaviour for over-long input: keep the first ``max_len`` steps (the start of a sentence or
    series), never drop the example.
    """
    if max_len is None:
        return list(seqs), 0
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    out, count, longest = [], 0, 0
    for s in seqs:
        n = len(s)
        if n > max_len:
            count += 1
            longest = max(longest, n)
            s = s[:max_len]
        out.append(s)
    if count:
        warnings.warn(
            f"{count} of {len(out)} {what} were longer than max_len={max_len} (longest {longest}) and were "
            f"truncated to their first {max_len} steps; raise max_len to keep them whole",
            stacklevel=2,
        )
    return out, count


class PadCollate:
    """Collate ``(sequence, target)`` items into ``(padded (N, T, ...), lengths (N,), targets)``.

    A target that is a scalar gives ``targets (N,)``; a target that is itself a sequence (one label per
    step, as in tagging) gives ``targets (N, T)`` padded with ``target_padding`` (IGNORE_INDEX by default,
    which torch's cross-entropy skips).
    """

    def __init__(
        self,
        *,
        padding_value: float = 0,
        target_padding: int = IGNORE_INDEX,
        dtype: torch.dtype | None = None,
        target_dtype: torch.dtype | None = None,
    ) -> None:
        self.padding_value = padding_value
        self.target_padding = target_padding
        self.dtype = dtype
        self.target_dtype = target_dtype

    def __call__(self, batch: Sequence[tuple[Any, Any]]) -> tuple[Tensor, Tensor, Tensor]:
        seqs = [item[0] for item in batch]
        targets = [item[1] for item in batch]
        padded, lengths = pad_sequences(seqs, padding_value=self.padding_value, dtype=self.dtype)
        if np.ndim(targets[0]) == 0 and not isinstance(targets[0], (list, tuple)):
            tgt = torch.as_tensor(np.asarray(targets), dtype=self.target_dtype)  # (N,)
        else:
            tgt, _ = pad_sequences(targets, padding_value=self.target_padding, dtype=self.target_dtype)
            if tgt.shape[1] < padded.shape[1]:  # keep (N, T) aligned with the inputs
                extra = torch.full((tgt.shape[0], padded.shape[1] - tgt.shape[1]), self.target_padding)
                tgt = torch.cat([tgt, extra.to(tgt.dtype)], dim=1)
        return padded, lengths, tgt


def collate(batch: Sequence[tuple[Any, Any]]) -> tuple[Tensor, Tensor, Tensor]:
    """Default ``PadCollate()``: zero padding, per-step targets padded with IGNORE_INDEX."""
    return PadCollate()(batch)


class BucketSampler(Sampler[list[int]]):
    """Batches of indices whose sequences have similar lengths (a batch sampler for ``DataLoader``).

    Each epoch: shuffle all indices, cut them into pools of ``batch_size * pool_batches``, sort each pool by
    length, cut the pools into batches, shuffle the batch order. Padding stays small while batches still
    differ from epoch to epoch. Deterministic given ``seed`` and the epoch (``set_epoch``), so a resumed run
    sees the same order; ``shuffle=False`` gives batches of the globally sorted order, for evaluation.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        pool_batches: int = 50,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"BucketSampler: batch_size must be >= 1, got {batch_size}")
        if pool_batches < 1:
            raise ValueError(f"BucketSampler: pool_batches must be >= 1, got {pool_batches}")
        self.lengths = [int(n) for n in lengths]
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool_batches = pool_batches
        self.drop_last = drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order ``__iter__`` yields (call before each epoch, as with DistributedSampler)."""
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        idx = list(range(len(self.lengths)))
        if not self.shuffle:
            idx.sort(key=lambda i: self.lengths[i])
            pools = [idx]
        else:
            rnd = random.Random(self.seed * 1_000_003 + self.epoch)
            rnd.shuffle(idx)
            size = self.batch_size * self.pool_batches
            pools = [sorted(idx[s : s + size], key=lambda i: self.lengths[i]) for s in range(0, len(idx), size)]
        batches = []
        for pool in pools:
            for s in range(0, len(pool), self.batch_size):
                b = pool[s : s + self.batch_size]
                if len(b) < self.batch_size and self.drop_last:
                    continue
                batches.append(b)
        if self.shuffle:
            random.Random(self.seed * 1_000_003 + self.epoch + 7).shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        n = len(self.lengths)
        if not self.drop_last:
            if not self.shuffle:
                return math.ceil(n / self.batch_size)
            size = self.batch_size * self.pool_batches
            full, rest = divmod(n, size)
            return full * self.pool_batches + math.ceil(rest / self.batch_size)
        return len(self._batches())


class BucketBatches:
    """Collated, length-bucketed batches of ``(sequence, target)`` items in the form ``fit`` consumes:
    ``epoch(e, start)`` yields the batches of epoch ``e`` from batch ``start`` on; the order depends only on
    ``e`` and ``seed`` (resume is exact). ``shuffle=False`` serves sorted-by-length batches (evaluation)."""

    def __init__(
        self,
        items: Sequence[tuple[Any, ...]],  # (sequence, target) or more: bucketed by the sequence's length
        batch_size: int,
        *,
        collate_fn: Any = collate,
        shuffle: bool = True,
        seed: int = 0,
        pool_batches: int = 50,
    ) -> None:
        if len(items) == 0:
            raise ValueError("BucketBatches: no items; the data set is empty")
        self.items = items
        self.collate_fn = collate_fn
        self.sampler = BucketSampler(
            [len(it[0]) for it in items], batch_size, shuffle=shuffle, seed=seed, pool_batches=pool_batches
        )

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Any]:
        self.sampler.set_epoch(epoch)
        for b in list(self.sampler)[start:]:
            yield self.collate_fn([self.items[i] for i in b])

    def __len__(self) -> int:
        return len(self.sampler)
