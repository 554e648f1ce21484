"""The recurrent language model: ``TokenEncoder`` (embedding -> recurrent stack) plus an output head over V.

    ids (N, T) -> embedding E (N, T, E) -> [dropout] -> Recurrent (N, T, H) -> [dropout] -> [proj H->E]
               -> Linear (N, T, V) logits          (full softmax, the default)
               -> adaptive softmax (N, T, V) log-probabilities    (``adaptive_cutoffs``)

The adaptive softmax (Grave et al. 2017, "Efficient softmax approximation for GPUs", §4) is
``torch.nn.AdaptiveLogSoftmaxWithLoss``: a head over the shortlist ``[0, c_0)`` plus one logit per tail
cluster ``[c_i, c_{i+1})``; cluster i scores its words through a rank-``H / div^(i+1)`` bottleneck, and
    log p(w) = log p_head(w)                                   w in the shortlist
    log p(w) = log p_head(cluster i) + log p_i(w | cluster i)   w in cluster i.
It is an exact probability model (the V probabilities sum to 1), so its perplexity is a true perplexity.
It only saves work when the shortlist holds the frequent words: ids must be sorted by frequency, as
``rnnkit.data.text.Vocab.build`` does at word level (``<unk>`` at id 0, then by count).

The encoder's regularisers (dropout, locked dropout, embedding dropout, weight drop) are described in
``rnnkit.models.encoder``; the head adds ``tie_weights``: the output matrix is the embedding matrix (Press & Wolf
2017; Inan et al. 2017); when E != H a linear projection H -> E precedes the output.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.models.encoder import TokenEncoder
from rnnkit.models.regularizers import tie_weights as tie_weights_
from rnnkit.tasks.lm.config import LMModelConfig


class RecurrentLM(TokenEncoder):
    """Next-token language model: ``forward(ids (N, T), state) -> (scores (N, T, V), state)``.

    The scores are logits (full softmax) or, with ``adaptive_cutoffs``, the adaptive softmax's full
    log-probabilities; softmax / cross-entropy of either gives the model's distribution (log-softmax of
    log-probabilities is the identity). For training and evaluation use ``nll`` (or ``forward(...,
    targets=y)``, the same thing through ``__call__``, so a DDP wrapper sees it): the adaptive softmax then
    scores only the target's cluster instead of all V words.
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        tie_weights: bool = False,
        adaptive_cutoffs: Sequence[int] | None = None,
        adaptive_div_value: float = 4.0,
        **kwargs,
    ) -> None:
        super().__init__(vocab_size, **kwargs)
        if self.bidirectional:
            raise ValueError("a language model predicts the next token left to right: bidirectional must be False")
        H, E = self.out_features, self.embedding.embedding_dim
        self.tie_weights = tie_weights
        cutoffs = list(adaptive_cutoffs or ())
        if cutoffs:
            check_adaptive(cutoffs, vocab_size, hidden_size=H, div_value=adaptive_div_value)
            if tie_weights:
                raise ValueError(
                    "adaptive_cutoffs and tie_weights cannot be combined: the adaptive softmax has no single (V, E) "
                    "output matrix to share with the embedding; use one or the other"
                )
        self.adaptive_cutoffs = tuple(int(c) for c in cutoffs)
        # weight tying (Press & Wolf 2017): logits = (P h) E^T + b; P: H -> E only when sizes differ
        self.proj = nn.Linear(H, E, bias=False) if tie_weights and H != E else None
        self.head: nn.Linear | nn.AdaptiveLogSoftmaxWithLoss
        if cutoffs:  # Grave et al. 2017 §4: shortlist + clusters; a head bias like the full softmax's
            self.head = nn.AdaptiveLogSoftmaxWithLoss(
                H, vocab_size, cutoffs, div_value=adaptive_div_value, head_bias=True
            )
        else:
            self.head = nn.Linear(E if tie_weights else H, vocab_size)
            if tie_weights:
                tie_weights_(self.head, self.embedding)
        self.reset_head()

    @classmethod
    def from_config(cls, m: LMModelConfig, vocab_size: int) -> RecurrentLM:
        """The network of the config's model section for a vocabulary of ``vocab_size`` tokens (fresh weights)."""
        return cls(
            vocab_size,
            cell=m.cell.name,
            embedding_dim=m.embedding_dim,
            hidden_size=m.hidden_size,
            num_layers=m.num_layers,
            dropout=m.dropout,
            locked=m.locked_dropout,
            embed_dropout=m.embed_dropout,
            weight_drop=m.weight_drop,
            bias=m.bias,
            options=m.cell.options(),
            impl=m.impl,
            tie_weights=m.tie_weights,
            adaptive_cutoffs=m.adaptive_cutoffs,
            adaptive_div_value=m.adaptive_div_value,
        )

    @property
    def adaptive(self) -> bool:
        return bool(self.adaptive_cutoffs)

    def reset_head(self) -> None:
        """Embedding ~ U(-0.1, 0.1) and zero output bias (Zaremba et al. 2014; pytorch/examples).

        The adaptive softmax keeps torch's default init of its projections (their fan-ins differ: H and
        H / div^(i+1)) and gets a zero head bias.
        """
        with torch.no_grad():
            self.embedding.weight.uniform_(-0.1, 0.1)
            if isinstance(self.head, nn.AdaptiveLogSoftmaxWithLoss):  # self.adaptive
                self.head.head.bias.zero_()
                return
            self.head.bias.zero_()
            if not self.tie_weights:
                self.head.weight.uniform_(-0.1, 0.1)

    def head_weight(self) -> tuple[Tensor, Tensor | None]:
        """The effective output map (V, H) and bias (V,) from the top hidden state (projection folded in)."""
        if isinstance(self.head, nn.AdaptiveLogSoftmaxWithLoss):  # self.adaptive
            raise ValueError("an adaptive-softmax model has no single (V, H) output map; use scores() / nll()")
        W = self.head.weight  # (V, E or H)
        if self.proj is not None:
            W = W @ self.proj.weight  # (V, E) @ (E, H) -> (V, H)
        return W, self.head.bias

    def scores(self, out: Tensor) -> Tensor:
        """Top hidden states (..., H) -> (..., V): logits, or log-probabilities for the adaptive softmax."""
        if isinstance(self.head, nn.AdaptiveLogSoftmaxWithLoss):  # self.adaptive
            return self.head.log_prob(out.reshape(-1, out.shape[-1])).view(*out.shape[:-1], -1)
        if self.proj is not None:
            out = self.proj(out)  # (..., E)
        return self.head(out)

    def forward(
        self, ids: Tensor, state: tuple[Tensor, ...] | None = None, *, targets: Tensor | None = None
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """(scores (N, T, V), state), or with ``targets`` (N, T): (-log p(targets) (N, T), state)."""
        out, state = super().forward(ids, state)  # (N, T, H)
        if targets is None:
            return self.scores(out), state  # (N, T, V)
        if targets.shape != ids.shape:
            raise ValueError(
                f"RecurrentLM: targets {tuple(targets.shape)} must have the shape of ids {tuple(ids.shape)}"
            )
        y = targets.reshape(-1)  # (N*T,)
        if self.adaptive:  # only the target's cluster is scored (Grave et al. 2017 §4)
            nll = -self.head(out.reshape(-1, out.shape[-1]), y).output
        else:
            nll = F.cross_entropy(self.scores(out).reshape(y.numel(), -1), y, reduction="none")
        return nll.view(targets.shape), state

    def nll(
        self, ids: Tensor, targets: Tensor, state: tuple[Tensor, ...] | None = None
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Per-token negative log-likelihood -log p(targets | ids, state) (N, T) in nats, and the final state."""
        return self(ids, state, targets=targets)


def check_adaptive(cutoffs: Sequence[int], vocab_size: int, *, hidden_size: int, div_value: float) -> None:
    """ValueError unless ``cutoffs`` are increasing integers in (0, V) whose clusters get >= 1 projection unit."""
    c = list(cutoffs)
    if not c or any(int(x) != x for x in c) or any(b <= a for a, b in pairwise(c)):
        raise ValueError(f"adaptive cutoffs must be strictly increasing integers, e.g. [2000, 6000], got {c}")
    if c[0] <= 0 or c[-1] >= vocab_size:
        raise ValueError(
            f"adaptive cutoffs must lie in (0, V) = (0, {vocab_size}) for a vocabulary of {vocab_size} tokens, "
            f"got {c} (the shortlist is [0, c_0), the last cluster [c_last, V))"
        )
    if div_value < 1.0:
        raise ValueError(f"adaptive div_value must be >= 1 (cluster i projects to H / div^(i+1)), got {div_value}")
    if int(hidden_size // div_value ** len(c)) < 1:
        raise ValueError(
            f"adaptive softmax: the last of {len(c)} clusters would project H={hidden_size} to "
            f"{hidden_size} // {div_value:g}^{len(c)} = 0 units; use fewer cutoffs or a smaller div_value"
        )
