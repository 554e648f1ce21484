"""Seeded splits of a data set into parts: the one place where a task's train / validation / test examples are
drawn at random, so that a seed means the same examples everywhere.

Two orders exist because published recipes were written against both, and a run's split must not change under it:

* ``"torch"``: ``torch.randperm`` with a seeded generator, the order ``torch.utils.data.random_split`` draws (the
  PyTorch tutorials' names split, MR, CoNLL sentence splits, translation pairs);
* ``"numpy"``: ``numpy.random.default_rng(seed).permutation`` (recordings, MIDI files).

``held_out`` and ``kfold`` cut an order into parts; ``random_split_sizes`` is torch's rule for fractional sizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, TypeVar

import numpy as np

T = TypeVar("T")
Order = Literal["torch", "numpy"]


def permutation(n: int, seed: int, *, order: Order = "torch") -> list[int]:
    """A seeded permutation of ``range(n)``, drawn as ``order`` says (see the module docstring)."""
    if order == "torch":
        import torch

        return torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    if order == "numpy":
        return np.random.default_rng(seed).permutation(n).tolist()
    raise ValueError(f"order must be 'torch' or 'numpy', got {order!r}")


def random_split_sizes(n: int, fractions: Sequence[float]) -> list[int]:
    """Part sizes for fractions summing to 1, as ``torch.utils.data.random_split`` computes them: each floored,
    the remainder given one by one to the parts in order."""
    sizes = [math.floor(n * f) for f in fractions]
    for i in range(n - sum(sizes)):
        sizes[i % len(sizes)] += 1
    return sizes


def held_out(items: Sequence[T], k: int, perm: Sequence[int]) -> tuple[list[T], list[T]]:
    """(the rest, the ``k`` held out): the items at ``perm[:k]`` are held out, in ``perm`` order; the rest follow
    ``perm`` too."""
    return [items[i] for i in perm[k:]], [items[i] for i in perm[:k]]


def kfold(perm: Sequence[int], folds: int, fold: int) -> tuple[list[int], list[int]]:
    """(training indices, test indices) of fold ``fold`` of a ``folds``-way partition of ``perm``: every
    ``folds``-th index from position ``fold`` is the test part."""
    if not 0 <= fold < folds:
        raise ValueError(f"fold must be in [0, {folds}), got {fold}")
    test = list(perm[fold::folds])
    held = set(test)
    return [i for i in perm if i not in held], test
