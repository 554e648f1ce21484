"""Batches that fit can resume: every data source becomes ``epoch(e, start) -> iterator of batches``.

The order of an epoch depends only on the epoch number and the source's own seed, never on a global RNG,
so a resumed run that skips to batch ``start`` of epoch ``e`` sees exactly what the uninterrupted run saw.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor


def map_batch(batch: Any, fn: Callable[[Tensor], Any]) -> Any:
    """Apply ``fn`` to every tensor leaf of a tensor / tuple / NamedTuple / list / dict batch."""
    if isinstance(batch, Tensor):
        return fn(batch)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(map_batch(b, fn) for b in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(map_batch(b, fn) for b in batch)
    if isinstance(batch, dict):
        return {k: map_batch(v, fn) for k, v in batch.items()}
    return batch


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor of a batch to ``device`` (no copy when already there)."""
    return map_batch(batch, lambda t: t.to(device, non_blocking=True))


def shard_batch(batch: Any, rank: int, world_size: int) -> Any:
    """Rank ``rank``'s contiguous slice along dim 0 of every tensor with ndim >= 1 (DDP, same global batch)."""

    def cut(t: Tensor) -> Tensor:
        if t.ndim == 0:
            return t
        n = t.shape[0]
        if n % world_size:
            raise ValueError(
                f"batch dimension {n} does not divide by the world size {world_size}: choose a batch size that "
                f"is a multiple of the number of processes"
            )
        k = n // world_size
        return t[rank * k : (rank + 1) * k]

    return map_batch(batch, cut)


class Batches:
    """Base of fit's data adapters: ``epoch(e, start)``, optional ``__len__``, ``shard(rank, world)``."""

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def shard(self, rank: int, world_size: int) -> Batches:
        return _Sharded(self, rank, world_size)


class _Sharded(Batches):
    def __init__(self, inner: Any, rank: int, world_size: int) -> None:
        self.inner, self.rank, self.world_size = inner, rank, world_size

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Any]:
        for b in self.inner.epoch(epoch, start):
            yield shard_batch(b, self.rank, self.world_size)

    def __len__(self) -> int:
        return len(self.inner)


class SequenceBatches(Batches):
    """A fixed list of batches; ``shuffle`` permutes it per epoch with ``default_rng([seed, epoch])``."""

    def __init__(self, batches: Sequence[Any], *, shuffle: bool = False, seed: int = 0) -> None:
        self.batches, self.shuffle, self.seed = batches, shuffle, seed

    def order(self, epoch: int) -> np.ndarray:
        n = len(self.batches)
        return np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Any]:
        for i in self.order(epoch)[start:]:
            yield self.batches[int(i)]

    def __len__(self) -> int:
        return len(self.batches)


class LoaderBatches(Batches):
    """A torch DataLoader whose sampler is re-seeded with ``seed + epoch`` so an epoch can be replayed."""

    def __init__(self, loader: Any, *, seed: int = 0) -> None:
        self.loader, self.seed = loader, seed
        sampler = getattr(loader, "sampler", None)
        if isinstance(sampler, torch.utils.data.RandomSampler) and sampler.generator is None:
            sampler.generator = torch.Generator()

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Any]:
        sampler = getattr(self.loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):  # DistributedSampler: its own seed + epoch
            sampler.set_epoch(epoch)
        gen = getattr(sampler, "generator", None)
        if isinstance(gen, torch.Generator):
            gen.manual_seed(self.seed + epoch)
        return itertools.islice(iter(self.loader), start, None)

    def shard(self, rank: int, world_size: int) -> Batches:
        if isinstance(getattr(self.loader, "sampler", None), torch.utils.data.DistributedSampler):
            return self  # already sharded by its sampler
        return _Sharded(self, rank, world_size)

    def __len__(self) -> int:
        return len(self.loader)


class CallableBatches(Batches):
    """``fn(epoch) -> iterable of batches``; resume skips ``start`` batches."""

    def __init__(self, fn: Callable[[int], Iterable[Any]]) -> None:
        self.fn = fn

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Any]:
        return itertools.islice(iter(self.fn(epoch)), start, None)


def as_batches(obj: Any, *, shuffle: bool = False, seed: int = 0) -> Any:
    """Wrap any supported data source (see rnnkit.train docstring) into an object with ``epoch(e, start)``."""
    if hasattr(obj, "epoch") and callable(obj.epoch):
        return obj
    if isinstance(obj, torch.utils.data.DataLoader):
        return LoaderBatches(obj, seed=seed)
    if isinstance(obj, (list, tuple)):
        return SequenceBatches(obj, shuffle=shuffle, seed=seed)
    if callable(obj):
        return CallableBatches(obj)
    raise TypeError(
        f"cannot train on {type(obj).__name__}: pass an object with epoch(e, start), a list of batches, a "
        f"DataLoader or a callable epoch -> batches"
    )


def shard(batches: Any, rank: int, world_size: int) -> Any:
    """This rank's view of ``batches`` (its own ``shard`` if it has one, else a dim-0 slice of each batch)."""
    if world_size == 1:
        return batches
    if hasattr(batches, "shard"):
        return batches.shard(rank, world_size)
    return _Sharded(batches, rank, world_size)


def num_batches(batches: Any) -> int | None:
    try:
        return len(batches)
    except TypeError:
        return None
