"""A recurrent network over piano-roll frames with one of two output layers for the next frame's K = 88 keys.

Shape letters: N batch, T time (frames), K keys (88), H hidden, J the NADE's hidden units. Frame t goes in, the
distribution of frame t+1 comes out, as K logits ``l`` with ``p(x_{t+1} | x_<=t) = prod_k p_k`` where
``p_k = sigmoid(l_k)`` if x_{t+1,k} = 1 else ``1 - sigmoid(l_k)``, so the frame's NLL is always the binary
cross-entropy of the logits summed over the keys. The two outputs differ in what ``l_k`` may depend on:

- ``bernoulli`` (``BernoulliHead``): ``l = W u_t + b`` from the recurrent output u_t alone; the keys are
  independent given the past (the RNN baselines of Bai, Kolter & Koltun 2018 §5.3).
- ``nade`` (``NadeHead``): ``l_k`` also depends on the keys below k of the same frame, so a chord is modelled
  jointly; the RNN-NADE of Boulanger-Lewandowski, Bengio & Vincent 2012 (NADE: Larochelle & Murray 2011)::

      b_v = b_v0 + W_uv u_t   (K,)        b_h = b_h0 + W_uh u_t   (J,)      the RNN sets the NADE's biases
      h_k = sigmoid(b_h + sum_{j<k} x_j W[:, j])                 (J,)      key k sees keys 0..k-1 (A0 upwards)
      l_k = b_v[k] + V[k] . h_k

  The product of the K conditionals is an exact, normalised distribution over all 2^K chords (tested by
  enumeration for small K); training feeds the true keys below k (teacher forcing), sampling draws the keys one
  by one from the lowest up. Departure from the paper: trained by backpropagation with AdamW only (the paper's
  best figures also used Hessian-free optimisation and RBM pretraining of the weights).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.nn import Recurrent

if TYPE_CHECKING:
    from rnnkit.tasks.music.config import MusicModelConfig


class BernoulliHead(nn.Linear):
    """u (..., H) -> logits (..., K) of K independent keys (an ``nn.Linear``: checkpoints keep ``head.weight``)."""

    def logits(self, u: Tensor, target: Tensor | None = None) -> Tensor:
        return self(u)

    def sample(self, u: Tensor, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
        """u (N, H) -> one frame (N, K) of 0/1, every key drawn independently from sigmoid(logit / temperature)."""
        return torch.bernoulli(torch.sigmoid(self(u) / temperature), generator=generator)


class NadeHead(nn.Module):
    """A NADE over the K keys of a frame whose biases are set by the recurrent output; see the module docstring."""

    def __init__(self, hidden: int, keys: int, nade_hidden: int) -> None:
        super().__init__()
        self.to_bv = nn.Linear(hidden, keys)  # b_v0 + W_uv u
        self.to_bh = nn.Linear(hidden, nade_hidden)  # b_h0 + W_uh u
        bound = nade_hidden**-0.5  # torch.nn.Linear's U(-1/sqrt(fan_in), +) for V (fan-in J); W alike
        self.W = nn.Parameter(torch.empty(nade_hidden, keys).uniform_(-bound, bound))  # (J, K): key j -> hidden
        self.V = nn.Parameter(torch.empty(keys, nade_hidden).uniform_(-bound, bound))  # (K, J): hidden -> key k

    def logits(self, u: Tensor, target: Tensor | None = None) -> Tensor:
        return self(u, target)

    def forward(self, u: Tensor, target: Tensor | None = None) -> Tensor:
        """u (..., H), the true frame ``target`` (..., K) of 0/1 -> (..., K) logits of p(x_k = 1 | x_<k, u).

        The sum over the keys below k changes only at keys that are down, so h_k takes at most S + 1 values in a
        frame with S keys down (S <= 7 in the published sets, against K = 88): h is computed once per segment
        between two down keys, and each key gathers its segment's logit. Equal to ``dense_logits`` (tested), in
        about S/K of its memory and time."""
        if target is None:
            raise ValueError(
                "the NADE output scores a frame key by key: pass target= (the frame to score); "
                "use sample() to draw a new frame"
            )
        on = target > 0.5  # (..., K)
        seg = torch.cumsum(on, -1) - on.long()  # (..., K): keys down below k = the segment of key k
        down = on.sum(-1, keepdim=True)  # (..., 1)
        S = int(down.max()) if on.numel() else 0
        first = torch.argsort((~on).to(torch.uint8), dim=-1, stable=True)[..., :S]  # (..., S): keys down, lowest first
        real = torch.arange(S, device=on.device) < down  # (..., S): False where a frame has fewer than S keys down
        cols = self.W.t()[first] * real[..., None]  # (..., S, J): W[:, j] of the s-th key down (0 for padding)
        below = F.pad(torch.cumsum(cols, dim=-2), (0, 0, 1, 0))  # (..., S+1, J): sum over the first s keys down
        h = torch.sigmoid(self.to_bh(u)[..., None, :] + below)  # (..., S+1, J): h of every segment
        per_segment = h @ self.V.t()  # (..., S+1, K): V[k] . h_s for every key and segment
        return self.to_bv(u) + per_segment.gather(-2, seg[..., None, :]).squeeze(-2)  # (..., K)

    def dense_logits(self, u: Tensor, target: Tensor) -> Tensor:
        """The same logits straight from the equations, one h_k per key: (..., K, J) memory; the slow twin."""
        contrib = target.to(self.W.dtype)[..., :, None] * self.W.t()  # (..., K, J): x_j W[:, j]
        below = F.pad(torch.cumsum(contrib[..., :-1, :], dim=-2), (0, 0, 1, 0))  # (..., K, J): sum_{j<k}, 0 at k=0
        h = torch.sigmoid(self.to_bh(u)[..., None, :] + below)  # (..., K, J): h_k
        return self.to_bv(u) + (h * self.V).sum(-1)  # (..., K)

    def sample(self, u: Tensor, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
        """u (N, H) -> one frame (N, K) of 0/1 drawn key by key, lowest first; ``temperature`` divides each logit."""
        bv, a = self.to_bv(u), self.to_bh(u)  # (N, K), (N, J): a accumulates b_h + sum_{j<k} x_j W[:, j]
        x = torch.zeros_like(bv)
        for k in range(bv.shape[-1]):
            logit = bv[:, k] + torch.sigmoid(a) @ self.V[k]  # (N,)
            x[:, k] = torch.bernoulli(torch.sigmoid(logit / temperature), generator=generator)
            a = a + x[:, k, None] * self.W[:, k]
        return x


class PianoRollNet(nn.Module):
    """frames (N, T, K) -> (logits of the next frames (N, T, K), state); the output layer per ``cfg.output``."""

    def __init__(self, cfg: MusicModelConfig, *, keys: int) -> None:
        super().__init__()
        self.drop_in = nn.Dropout(cfg.input_dropout)  # on the frames read, never on the frames scored
        self.rnn = Recurrent.from_config(cfg, keys)  # one direction: frame t+1 from frames <= t
        self.drop = nn.Dropout(cfg.head_dropout)
        self.head: BernoulliHead | NadeHead = (
            NadeHead(cfg.hidden_size, keys, cfg.nade_hidden)
            if cfg.output == "nade"
            else BernoulliHead(cfg.hidden_size, keys)
        )

    def forward(
        self,
        x: Tensor,
        state: tuple[Tensor, ...] | None = None,
        lengths: Tensor | None = None,
        target: Tensor | None = None,
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """``target`` (N, T, K): the next frames, which the NADE output needs to score them (Bernoulli ignores it)."""
        u, state = self.features(x, state, lengths)
        return self.head.logits(u, target), state  # (N, T, K) logits

    def features(self, x: Tensor, state: tuple[Tensor, ...] | None = None, lengths: Tensor | None = None):
        """frames (N, T, K) -> (recurrent outputs after dropout (N, T, H), state): what the output layer reads."""
        out, state = self.rnn(self.drop_in(x), state, lengths=lengths)
        return self.drop(out), state

    def sample_next(
        self,
        x: Tensor,
        state: tuple[Tensor, ...] | None = None,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Read frames (N, T, K), draw the frame after them: ((N, K) of 0/1, state after the read frames)."""
        u, state = self.features(x, state)
        return self.head.sample(u[:, -1], temperature=temperature, generator=generator), state
