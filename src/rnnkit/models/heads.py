"""Heads that turn the recurrent outputs ``(N, T, F)`` into predictions.

* ``pool`` / ``PooledClassifier`` — one vector per sequence (last state, mean, max or attention over the
  real steps), then a linear layer to class logits. Padding never changes the result: every pooling
  looks only at steps ``t < lengths[n]``.
* ``TaggerHead`` — one score vector per step (emissions for a softmax or a CRF).

Shape letters: N batch, T time, F features per step (``dirs * H``), C classes, K tags.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.data.sequences import lengths_to_mask

POOLINGS = ("last", "mean", "max", "attention")


def _full_lengths(out: Tensor, lengths: Tensor | None) -> Tensor:
    N, T = out.shape[:2]
    if lengths is None:
        return torch.full((N,), T, dtype=torch.long, device=out.device)
    lengths = torch.as_tensor(lengths, device=out.device).long()
    if lengths.shape != (N,) or bool((lengths < 1).any()) or bool((lengths > T).any()):
        raise ValueError(f"pooling: lengths must be (N,) = ({N},) with values in [1, T={T}], got {lengths.tolist()}")
    return lengths


def pool_last(out: Tensor, lengths: Tensor | None, *, directions: int = 1) -> Tensor:
    """The last real step's output; for a bidirectional encoder the forward half at ``lengths-1`` and the
    backward half at t=0 (where the backward direction has read the whole sequence). (N, T, F) -> (N, F)."""
    lengths = _full_lengths(out, lengths)
    idx = (lengths - 1).view(-1, 1, 1).expand(-1, 1, out.shape[2])  # (N, 1, F)
    last = out.gather(1, idx).squeeze(1)  # (N, F)
    if directions == 1:
        return last
    H = out.shape[2] // 2
    return torch.cat([last[:, :H], out[:, 0, H:]], dim=1)


def pool_mean(out: Tensor, lengths: Tensor | None) -> Tensor:
    """Mean over real steps: (N, T, F) -> (N, F)."""
    lengths = _full_lengths(out, lengths)
    m = lengths_to_mask(lengths, out.shape[1]).unsqueeze(2).to(out.dtype)  # (N, T, 1)
    return (out * m).sum(1) / lengths.unsqueeze(1).to(out.dtype)


def pool_max(out: Tensor, lengths: Tensor | None) -> Tensor:
    """Element-wise max over real steps: (N, T, F) -> (N, F)."""
    lengths = _full_lengths(out, lengths)
    m = lengths_to_mask(lengths, out.shape[1]).unsqueeze(2)  # (N, T, 1)
    return out.masked_fill(~m, float("-inf")).amax(1)


class AttentionPool(nn.Module):
    """Additive attention pooling (Yang et al. 2016 §2.2): u_t = tanh(W h_t + b), a_t = softmax_t(u_t · q),
    s = sum_t a_t h_t, with the softmax over real steps only."""

    def __init__(self, features: int, attn_size: int | None = None) -> None:
        super().__init__()
        attn_size = attn_size or features
        self.proj = nn.Linear(features, attn_size)
        self.query = nn.Parameter(torch.empty(attn_size).uniform_(-0.1, 0.1))  # the context vector u_w

    def forward(self, out: Tensor, lengths: Tensor | None) -> tuple[Tensor, Tensor]:
        """(N, T, F), lengths (N,) -> (pooled (N, F), weights (N, T) summing to 1 over real steps, 0 on padding)."""
        lengths = _full_lengths(out, lengths)
        scores = torch.tanh(self.proj(out)) @ self.query  # (N, T)
        m = lengths_to_mask(lengths, out.shape[1])  # (N, T)
        weights = torch.softmax(scores.masked_fill(~m, float("-inf")), dim=1)  # (N, T)
        return torch.einsum("nt,ntf->nf", weights, out), weights


class PooledClassifier(nn.Module):
    """Pool the encoder outputs over time, then dropout and a linear layer to class logits.

    ``forward(out (N, T, F), lengths) -> (logits (N, C), attention weights (N, T) or None)``.
    """

    def __init__(
        self,
        features: int,
        num_classes: int,
        *,
        pooling: str = "last",
        directions: int = 1,
        dropout: float = 0.0,
        attn_size: int | None = None,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if directions not in (1, 2):
            raise ValueError(f"directions must be 1 or 2, got {directions}")
        self.pooling, self.directions = pooling, directions
        self.attention = AttentionPool(features, attn_size) if pooling == "attention" else None
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(features, num_classes)

    def pool(self, out: Tensor, lengths: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """(N, T, F) -> (N, F) and attention weights (N, T) for attention pooling, else None."""
        if self.pooling == "attention":
            return self.attention(out, lengths)
        if self.pooling == "last":
            return pool_last(out, lengths, directions=self.directions), None
        if self.pooling == "mean":
            return pool_mean(out, lengths), None
        return pool_max(out, lengths), None

    def forward(self, out: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        pooled, weights = self.pool(out, lengths)
        return self.out(self.dropout(pooled)), weights  # (N, C)


class TaggerHead(nn.Module):
    """Per-step linear scores: (N, T, F) -> (N, T, K); dropout on the features first."""

    def __init__(self, features: int, num_tags: int, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(features, num_tags)

    def forward(self, out: Tensor) -> Tensor:
        return self.out(self.dropout(out))  # (N, T, K)
