"""Token streams for truncated BPTT: batchify one long stream into N rows, serve ordered chunks.

``batchify`` cuts a stream of L tokens into N contiguous pieces, one per batch row (we are batch first, so the
"columns" of the classic word_language_model layout are our rows)::

    stream:  a b c d e f g h i j k l m n o p q r s t u v w x y     (L = 25, N = 4, L // N = 6; "y" dropped)

    row 0:   a b c d e f        chunk 0 (bptt=2)   chunk 1       chunk 2
    row 1:   g h i j k l        x = [[a b]         x = [[c d]    x = [[e]
    row 2:   m n o p q r             [g h]  ...         [i j]         [k] ...
    row 3:   s t u v w x             [m n]              [o p]         [q]
                                     [s t]]             [u v]]        [w]]
                                y = x shifted one step left: [[b c] [h i] [n o] [t u]], ...

Chunks are served in order, so row n of chunk k+1 continues exactly where row n of chunk k stopped: the
recurrent state at the end of chunk k is the right initial state for chunk k+1 (fit carries it and detaches it
at the boundary). The last chunk is shorter when (L // N - 1) is not a multiple of bptt.

Variable BPTT length (Merity et al. 2017, sec. 4.1): each chunk's length is drawn as bptt with probability
``p_full`` (0.95) else bptt / 2, then ``N(that, sigma=5)``, at least ``min_len`` (5) and at most
``bptt + max_extra``; the learning rate of that step is multiplied by ``seq_len / bptt`` (the chunk's
``lr_scale``, applied by fit) so short and long chunks weigh the same per token. The lengths of epoch e come
from ``numpy.random.default_rng([seed, e])``: an epoch can be replayed, or resumed from any chunk index.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from rnnkit.train.data import Batches


class Chunk(NamedTuple):
    """One TBPTT chunk: inputs and next-token targets, both (N, seq_len)."""

    x: Tensor  # (N, t) token ids
    y: Tensor  # (N, t) the same rows shifted by one step
    seq_len: int
    lr_scale: float = 1.0  # seq_len / bptt under variable BPTT, read by fit


def batchify(tokens: Sequence[int] | np.ndarray | Tensor, batch_size: int) -> Tensor:
    """(L,) token ids -> (N, L // N) int64, row n = tokens[n*W : (n+1)*W]; the L % N tail is dropped."""
    t = torch.as_tensor(np.asarray(tokens) if not isinstance(tokens, Tensor) else tokens, dtype=torch.long)
    if t.ndim != 1:
        raise ValueError(f"batchify expects a 1-D token stream, got shape {tuple(t.shape)}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be > 0, got {batch_size}")
    width = t.numel() // batch_size
    if width < 2:
        raise ValueError(
            f"a stream of {t.numel()} tokens is too short for {batch_size} rows (each row needs >= 2 tokens): "
            f"use a smaller batch size or more data"
        )
    return t[: width * batch_size].view(batch_size, width).contiguous()  # (N, W)


def columns(tokens: Sequence[int] | np.ndarray | Tensor, batch_size: int) -> np.ndarray | Tensor:
    """The rows of ``batchify`` as a view, without a copy: a NumPy array (a ``np.memmap`` stays on disk, pages
    read as chunks touch them) gives an (N, W) array view in its own dtype; a tensor gives an int64 tensor."""
    if isinstance(tokens, Tensor):
        return batchify(tokens, batch_size)
    a = np.asarray(tokens)
    if a.ndim != 1:
        raise ValueError(f"batchify expects a 1-D token stream, got shape {a.shape}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be > 0, got {batch_size}")
    width = a.shape[0] // batch_size
    if width < 2:
        raise ValueError(
            f"a stream of {a.shape[0]} tokens is too short for {batch_size} rows (each row needs >= 2 tokens): "
            f"use a smaller batch size or more data"
        )
    return a[: width * batch_size].reshape(batch_size, width)  # (N, W) view


def as_long(a: np.ndarray | Tensor) -> Tensor:
    """A (strided) slice of ``columns`` as a contiguous int64 tensor: the only copy, one chunk at a time."""
    if isinstance(a, Tensor):
        return a
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))


class TokenStream(Batches):
    """Ordered TBPTT chunks of a batchified stream; ``epoch(e, start)`` replays or resumes an epoch.

    ``len()`` is the number of chunks per epoch with fixed length (exact for fixed bptt; an estimate with
    ``variable=True``, whose count varies a little by epoch).
    """

    def __init__(
        self,
        tokens: Sequence[int] | np.ndarray | Tensor,
        *,
        batch_size: int,
        bptt: int,
        variable: bool = False,
        seed: int = 0,
        p_full: float = 0.95,
        sigma: float = 5.0,
        min_len: int = 5,
        max_extra: int = 20,
    ) -> None:
        if bptt <= 0:
            raise ValueError(f"bptt must be > 0, got {bptt}")
        self.data = columns(tokens, batch_size)  # (N, W): a view of a NumPy stream (or memmap), never a copy
        self.batch_size, self.bptt, self.variable, self.seed = batch_size, bptt, variable, seed
        self.p_full, self.sigma, self.min_len, self.max_extra = p_full, sigma, min_len, max_extra

    @property
    def width(self) -> int:
        return self.data.shape[1]

    def lengths(self, epoch: int) -> list[int]:
        """The chunk lengths of ``epoch`` (deterministic given seed and epoch)."""
        span = self.width - 1  # positions that have a next-token target
        if not self.variable:
            return [min(self.bptt, span - i) for i in range(0, span, self.bptt)]
        rng = np.random.default_rng([self.seed, epoch])
        out, i = [], 0
        while i < span:
            base = self.bptt if rng.random() < self.p_full else self.bptt / 2  # Merity et al. 2017, sec. 4.1
            n = max(self.min_len, int(rng.normal(base, self.sigma)))
            n = min(n, self.bptt + self.max_extra, span - i)
            out.append(n)
            i += n
        return out

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Chunk]:
        lengths = self.lengths(epoch)
        i = sum(lengths[:start])
        for n in lengths[start:]:
            x, y = as_long(self.data[:, i : i + n]), as_long(self.data[:, i + 1 : i + 1 + n])  # (N, n) each
            yield Chunk(x, y, n, n / self.bptt if self.variable else 1.0)
            i += n

    def shard(self, rank: int, world_size: int) -> TokenStream:
        """Rank ``rank``'s contiguous block of rows under DDP: the same chunks as slicing each full chunk's rows
        (``shard_batch``, the default), but only these rows of the stream (a memory map) are ever read."""
        if self.batch_size % world_size:
            raise ValueError(
                f"batch dimension {self.batch_size} does not divide by the world size {world_size}: choose a batch "
                f"size that is a multiple of the number of processes"
            )
        k = self.batch_size // world_size
        part = copy.copy(self)
        part.data, part.batch_size = self.data[rank * k : (rank + 1) * k], k  # (k, W): still a view, no copy
        return part

    def __len__(self) -> int:
        return -(-(self.width - 1) // self.bptt)

    def __iter__(self) -> Iterator[Chunk]:
        return self.epoch(0)
