"""Attention of one query over a memory (encoder outputs): score every memory position, softmax over the valid
ones, and take the weighted sum as the context. A building block for every decoder that reads an encoded input
one step at a time: translation, and summarisation, captioning and speech synthesis as they come.

    e_s = score(q, m_s)                  for each memory position s
    a   = softmax(e) over the valid s    (padding: e_s = -inf, so exactly zero weight)
    c   = sum_s a_s m_s

Scores (``kind``):
    ``dot``       e_s = q^T m_s                        (Luong et al. 2015 eq. 8, "dot")
    ``general``   e_s = q^T W_a m_s                    (Luong eq. 8, "general")
    ``bahdanau``  e_s = v^T tanh(W_q q + W_k m_s)      (Bahdanau et al. 2015 §3.1, A.1.2; Luong's "concat")

The memory side of the score (W_a m_s, W_k m_s) does not depend on the query, so ``keys`` computes it once per
input and each decoder step only pays for the query side. Which query a decoder uses (the previous state, Bahdanau,
or the new one, Luong) is the decoder's choice, not this module's.

Shape letters: N batch, S memory length, H query size, D memory size, A attention size (bahdanau).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

ATTENTIONS = ("bahdanau", "dot", "general")


class Attention(nn.Module):
    """Scores of one query against every memory position, masked softmax and the context vector.

    ``query_size`` H, ``memory_size`` D (default H; ``dot`` needs D = H) and, for ``bahdanau``, the size A of its
    hidden layer (default H). The context has the memory's width D.
    """

    def __init__(
        self, kind: str, query_size: int, memory_size: int | None = None, *, attention_size: int | None = None
    ) -> None:
        super().__init__()
        if kind not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {kind!r}")
        H = query_size
        D = H if memory_size is None else memory_size
        A = H if attention_size is None else attention_size
        if kind == "dot" and D != H:
            raise ValueError(f"dot attention needs memory_size == query_size, got {D} and {H}; use 'general'")
        self.kind = kind
        if kind == "general":
            self.W_a = nn.Linear(D, H, bias=False)  # Luong eq. 8, "general"
        elif kind == "bahdanau":
            self.W_q = nn.Linear(H, A, bias=False)  # Bahdanau A.1.2: W_a s_{i-1}
            self.W_k = nn.Linear(D, A, bias=True)  # U_a h_j (precomputed once per input by ``keys``)
            self.v = nn.Linear(A, 1, bias=False)  # v_a^T

    def keys(self, memory: Tensor) -> Tensor:
        """The memory side of the score, once per input: memory (N, S, D) -> keys (N, S, H) (bahdanau: (N, S, A),
        dot: the memory itself)."""
        if self.kind == "general":
            return self.W_a(memory)  # (W_a m_s), so score = q . (W_a m_s)
        if self.kind == "bahdanau":
            return self.W_k(memory)
        return memory

    def forward(self, query: Tensor, keys: Tensor, memory: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """query (N, H), keys (``keys(memory)``), memory (N, S, D), mask (N, S) True at real positions ->
        (context (N, D), weights (N, S)). Each row needs at least one real position (else its weights are NaN)."""
        if self.kind == "bahdanau":
            e = self.v(torch.tanh(self.W_q(query).unsqueeze(1) + keys)).squeeze(2)  # (N, S)  Bahdanau eq. 6
        else:
            e = torch.bmm(keys, query.unsqueeze(2)).squeeze(2)  # (N, S)  Luong eq. 8 (dot / general)
        e = e.masked_fill(~mask, float("-inf"))  # padding gets exactly zero weight
        a = torch.softmax(e, dim=1)  # (N, S)  Luong eq. 7 / Bahdanau eq. 6
        return torch.bmm(a.unsqueeze(1), memory).squeeze(1), a  # (N, D)  c = sum_s a_s m_s


__all__ = ["ATTENTIONS", "Attention"]
