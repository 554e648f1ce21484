"""A recurrent network over piano-roll frames with 88 independent Bernoulli outputs per frame.

Shape letters: N batch, T time (frames), K keys (88), H hidden. Frame t goes in, the logits of frame t+1 come out:
``p(x_{t+1} | x_<=t) = prod_k sigmoid(logit_{t,k})^x_{t+1,k} (1 - sigmoid(logit_{t,k}))^(1 - x_{t+1,k})``, the
output layer of the RNN baselines in Bai, Kolter & Koltun 2018 §5.3 (not an RNN-NADE or RNN-RBM output).
"""

from __future__ import annotations

from torch import Tensor, nn

from rnnkit.layout import CellOptions
from rnnkit.nn import Recurrent


class PianoRollNet(nn.Module):
    """frames (N, T, K) -> (logits of the next frames (N, T, K), state)."""

    def __init__(
        self,
        keys: int,
        *,
        cell: str = "lstm",
        hidden_size: int = 256,
        num_layers: int = 1,
        dropout: float = 0.0,
        head_dropout: float = 0.0,
        bias: bool = True,
        options: CellOptions | None = None,
        impl: str = "auto",
        weight_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.rnn = Recurrent(cell, keys, hidden_size, num_layers=num_layers, dropout=dropout, bias=bias,
                             options=options, impl=impl, weight_drop=weight_drop)  # fmt: skip
        self.drop = nn.Dropout(head_dropout)
        self.head = nn.Linear(hidden_size, keys)

    def forward(self, x: Tensor, state: tuple[Tensor, ...] | None = None, lengths: Tensor | None = None):
        out, state = self.rnn(x, state, lengths=lengths)  # (N, T, H)
        return self.head(self.drop(out)), state  # (N, T, K) logits
