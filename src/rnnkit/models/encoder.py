"""Token encoder: ids -> embedding -> recurrent stack (any registered cell), shared by the tasks that read tokens.

    ids (N, T) -> embedding E (N, T, E) -> [dropout] -> Recurrent (N, T, dirs*H) -> [dropout]

Used by the language model (``rnnkit.tasks.lm.model.RecurrentLM`` adds its output head) and by translation's
sequence-to-sequence encoder.

Regularisers (all identity in eval mode):
- ``dropout``: on the embedding output and the last layer's output, and between layers inside the stack
  (Zaremba et al. 2014 §3: dropout on the non-recurrent connections only);
- ``locked``: make the input/output dropout masks the same at every time step (variational / locked
  dropout, Gal & Ghahramani 2016; Merity et al. 2017 §4.2);
- ``embed_dropout``: drop whole words of the embedding matrix (Merity et al. 2017 §4.3);
- ``weight_drop``: DropConnect on every W_hh, once per forward (Merity et al. 2017 §4.1; keeps the fast path).
"""

from __future__ import annotations

from torch import Tensor, nn

from rnnkit.layout import CellOptions
from rnnkit.models.regularizers import LockedDropout, embedding_dropout
from rnnkit.moved import names
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
            cell,
            embedding_dim,
            hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            bias=bias,
            options=options,
            impl=impl,
            weight_drop=weight_drop,
        )
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


__getattr__ = names(__name__)  # RecurrentLM, check_adaptive: moved to rnnkit.tasks.lm.model (0.2)
