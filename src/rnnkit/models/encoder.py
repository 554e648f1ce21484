"""Token encoder and recurrent language model: embedding -> recurrent stack (any registered cell) -> head.

    ids (N, T) -> embedding E (N, T, E) -> [dropout] -> Recurrent (N, T, H) -> [dropout] -> [proj H->E]
               -> Linear (N, T, V) logits

Regularisers (all identity in eval mode):
- ``dropout``: on the embedding output and the last layer's output, and between layers inside the stack
  (Zaremba et al. 2014 §3: dropout on the non-recurrent connections only);
- ``locked``: make the input/output dropout masks the same at every time step (variational / locked
  dropout, Gal & Ghahramani 2016; Merity et al. 2017 §4.2);
- ``embed_dropout``: drop whole words of the embedding matrix (Merity et al. 2017 §4.3);
- ``weight_drop``: DropConnect on every W_hh, once per forward (Merity et al. 2017 §4.1; keeps the fast path);
- ``tie_weights``: the output matrix is the embedding matrix (Press & Wolf 2017; Inan et al. 2017); when
  E != H a linear projection H -> E precedes the output.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.layout import CellOptions
from rnnkit.models.regularizers import LockedDropout, embedding_dropout
from rnnkit.models.regularizers import tie_weights as tie_weights_
from rnnkit.nn.sequence import Recurrent


class TokenEncoder(nn.Module):
    """ids (N, T) -> embeddings -> recurrent stack -> (out (N, T, dirs*H), state)."""

    def __init__(
        self,
        vocab_size: int,
        *,
        cell: str = "lstm",
        embedding_dim: int = 128,
        hidden_size: int = 256,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        locked: bool = False,
        embed_dropout: float = 0.0,
        weight_drop: float = 0.0,
        bias: bool = True,
        options: CellOptions | None = None,
        impl: str = "auto",
    ) -> None:
        super().__init__()
        if vocab_size < 1 or embedding_dim < 1:
            raise ValueError(f"vocab_size and embedding_dim must be positive, got {vocab_size} and {embedding_dim}")
        if not 0.0 <= embed_dropout < 1.0:
            raise ValueError(f"embed_dropout must be in [0, 1), got {embed_dropout}")
        self.cell, self.bidirectional = cell, bidirectional
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = Recurrent(
            cell, embedding_dim, hidden_size, num_layers=num_layers, bidirectional=bidirectional,
            dropout=dropout, bias=bias, options=options, impl=impl, weight_drop=weight_drop,
        )  # fmt: skip
        self.dropout, self.locked, self.embed_dropout = float(dropout), locked, float(embed_dropout)
        self.locked_drop = LockedDropout(dropout)
        self.out_features = hidden_size * (2 if bidirectional else 1)

    def _drop(self, x: Tensor) -> Tensor:
        """Dropout on (N, T, F); with ``locked`` one mask per sequence shared over T (Gal & Ghahramani 2016)."""
        return self.locked_drop(x) if self.locked else nn.functional.dropout(x, self.dropout, self.training)

    def embed(self, ids: Tensor) -> Tensor:
        """(N, T) int -> (N, T, E); embedding dropout drops whole rows of E (Merity et al. 2017 §4.3)."""
        return embedding_dropout(self.embedding, ids, self.embed_dropout, training=self.training)

    def forward(self, ids: Tensor, state: tuple[Tensor, ...] | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
        if ids.dim() != 2 or ids.is_floating_point():
            raise ValueError(f"TokenEncoder: ids must be an integer (N, T) tensor, got {ids.dtype} {tuple(ids.shape)}")
        x = self._drop(self.embed(ids))  # (N, T, E)
        out, state = self.rnn(x, state)  # (N, T, dirs*H)
        return self._drop(out), state


class RecurrentLM(TokenEncoder):
    """Next-token language model: ``forward(ids (N, T), state) -> (logits (N, T, V), state)``."""

    def __init__(self, vocab_size: int, *, tie_weights: bool = False, **kwargs) -> None:
        super().__init__(vocab_size, **kwargs)
        if self.bidirectional:
            raise ValueError("a language model predicts the next token left to right: bidirectional must be False")
        H, E = self.out_features, self.embedding.embedding_dim
        self.tie_weights = tie_weights
        # weight tying (Press & Wolf 2017): logits = (P h) E^T + b; P: H -> E only when sizes differ
        self.proj = nn.Linear(H, E, bias=False) if tie_weights and H != E else None
        self.head = nn.Linear(E if tie_weights else H, vocab_size)
        if tie_weights:
            tie_weights_(self.head, self.embedding)
        self.reset_head()

    def reset_head(self) -> None:
        """Embedding ~ U(-0.1, 0.1) and zero output bias (Zaremba et al. 2014; pytorch/examples)."""
        with torch.no_grad():
            self.embedding.weight.uniform_(-0.1, 0.1)
            self.head.bias.zero_()
            if not self.tie_weights:
                self.head.weight.uniform_(-0.1, 0.1)

    def head_weight(self) -> tuple[Tensor, Tensor | None]:
        """The effective output map (V, H) and bias (V,) from the top hidden state (projection folded in)."""
        W = self.head.weight  # (V, E or H)
        if self.proj is not None:
            W = W @ self.proj.weight  # (V, E) @ (E, H) -> (V, H)
        return W, self.head.bias

    def forward(self, ids: Tensor, state: tuple[Tensor, ...] | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
        out, state = super().forward(ids, state)  # (N, T, H)
        if self.proj is not None:
            out = self.proj(out)  # (N, T, E)
        return self.head(out), state  # (N, T, V)
