"""Linear-chain CRF over per-step tag scores: the forward algorithm for log Z, the path score, and Viterbi.

For emissions ``E (N, T, K)`` (scores of tag k at step t) and a tag path ``y``, the score is

    s(y) = start[y_0] + sum_t E[t, y_t] + sum_{t>0} A[y_{t-1}, y_t] + end[y_{T-1}]

and ``p(y | x) = exp(s(y)) / Z`` with ``Z = sum_y exp(s(y))`` (Lafferty et al. 2001 §2; as used on top of a
BiLSTM by Huang et al. 2015 §2.4 and Lample et al. 2016 §2.2). ``A[i, j]`` scores moving from tag i to tag j.
Padding is handled by a mask ``(N, T)`` that is True on a prefix of each row: masked steps neither add
emissions nor transitions, and ``end`` is applied after the last real step.

Shape letters: N batch, T time, K tags.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _check(emissions: Tensor, mask: Tensor | None, tags: Tensor | None, K: int) -> Tensor:
    if emissions.dim() != 3 or emissions.shape[2] != K:
        raise ValueError(f"CRF: emissions must be (N, T, K={K}), got {tuple(emissions.shape)}")
    N, T, _ = emissions.shape
    if mask is None:
        mask = torch.ones(N, T, dtype=torch.bool, device=emissions.device)
    if mask.shape != (N, T):
        raise ValueError(f"CRF: mask must be (N, T) = {(N, T)}, got {tuple(mask.shape)}")
    mask = mask.bool()
    if not bool(mask[:, 0].all()):
        raise ValueError("CRF: every sequence needs at least one real step (mask[:, 0] must be True)")
    if tags is not None and tags.shape != (N, T):
        raise ValueError(f"CRF: tags must be (N, T) = {(N, T)}, got {tuple(tags.shape)}")
    return mask


class CRF(nn.Module):
    """Transition scores between ``num_tags`` tags plus start/end scores, with loss and Viterbi decoding."""

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"CRF: num_tags must be >= 1, got {num_tags}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))  # (K, K): from i (row) to j (col)
        self.start = nn.Parameter(torch.empty(num_tags))  # (K,)
        self.end = nn.Parameter(torch.empty(num_tags))  # (K,)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-0.1, 0.1), small so the emissions dominate at the start of training."""
        for p in (self.transitions, self.start, self.end):
            nn.init.uniform_(p, -0.1, 0.1)

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """s(y) of the given tag paths: emissions (N, T, K), tags (N, T) -> (N,)."""
        mask = _check(emissions, mask, tags, self.num_tags)
        tags = tags.masked_fill(~mask, 0)  # padded positions may hold IGNORE_INDEX; any valid index will do
        m = mask.to(emissions.dtype)  # (N, T)
        emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (N, T): E[t, y_t]
        trans = self.transitions[tags[:, :-1], tags[:, 1:]]  # (N, T-1): A[y_{t-1}, y_t]
        s = self.start[tags[:, 0]] + (emit * m).sum(1) + (trans * m[:, 1:]).sum(1)
        last = mask.long().sum(1) - 1  # (N,) index of the last real step
        return s + self.end[tags.gather(1, last.unsqueeze(1)).squeeze(1)]

    def log_partition(self, emissions: Tensor, mask: Tensor | None = None) -> Tensor:
        """log Z by the forward algorithm in log space: emissions (N, T, K) -> (N,)."""
        mask = _check(emissions, mask, None, self.num_tags)
        alpha = self.start + emissions[:, 0]  # (N, K): log-sum of scores of paths ending in k at t=0
        for t in range(1, emissions.shape[1]):
            # alpha'_j = logsumexp_i(alpha_i + A[i, j]) + E[t, j]
            nxt = torch.logsumexp(alpha.unsqueeze(2) + self.transitions, dim=1) + emissions[:, t]  # (N, K)
            alpha = torch.where(mask[:, t : t + 1], nxt, alpha)  # padded steps carry alpha unchanged
        return torch.logsumexp(alpha + self.end, dim=1)  # (N,)

    def nll(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None, *, reduction: str = "mean") -> Tensor:
        """Negative log-likelihood ``log Z - s(y)``; reduction 'mean' (over sequences), 'sum' or 'none'."""
        out = self.log_partition(emissions, mask) - self.score(emissions, tags, mask)  # (N,)
        if reduction == "none":
            return out
        if reduction == "sum":
            return out.sum()
        if reduction == "mean":
            return out.mean()
        raise ValueError(f"CRF.nll: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")

    @torch.no_grad()
    def decode(self, emissions: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Viterbi: the highest-scoring path per sequence -> (tags (N, T) with 0 at padding, best scores (N,))."""
        mask = _check(emissions, mask, None, self.num_tags)
        N, T, K = emissions.shape
        delta = self.start + emissions[:, 0]  # (N, K): best score of a path ending in k
        backptr = []
        for t in range(1, T):
            cand = delta.unsqueeze(2) + self.transitions  # (N, K_prev, K)
            best, arg = cand.max(dim=1)  # (N, K)
            nxt = best + emissions[:, t]
            m = mask[:, t : t + 1]
            delta = torch.where(m, nxt, delta)
            # on padded steps point every tag to itself so backtracking passes through unchanged
            ident = torch.arange(K, device=emissions.device).expand(N, K)
            backptr.append(torch.where(m, arg, ident))
        final = delta + self.end
        best_score, last = final.max(dim=1)  # (N,)
        path = [last]
        for bp in reversed(backptr):
            last = bp.gather(1, last.unsqueeze(1)).squeeze(1)
            path.append(last)
        tags = torch.stack(path[::-1], dim=1)  # (N, T)
        return tags.masked_fill(~mask, 0), best_score
