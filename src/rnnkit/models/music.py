"""A recurrent network over piano-roll frames with 88 independent Bernoulli outputs per frame.

Shape letters: N batch, T time (frames), K keys (88), H hidden. Frame t goes in, the logits of frame t+1 come out:
``p(x_{t+1} | x_<=t) = prod_k sigmoid(logit_{t,k})^x_{t+1,k} (1 - sigmoid(logit_{t,k}))^(1 - x_{t+1,k})``, the
output layer of the RNN baselines in Bai, Kolter & Koltun 2018 §5.3 (not an RNN-NADE or RNN-RBM output).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor, nn

from rnnkit.nn import Recurrent

if TYPE_CHECKING:
    from rnnkit.tasks.music.task import MusicModelConfig


class PianoRollNet(nn.Module):
    """frames (N, T, K) -> (logits of the next frames (N, T, K), state)."""

    def __init__(self, cfg: MusicModelConfig, *, keys: int) -> None:
        super().__init__()
        self.rnn = Recurrent.from_config(cfg, keys)  # one direction: frame t+1 from frames <= t
        self.drop = nn.Dropout(cfg.head_dropout)
        self.head = nn.Linear(cfg.hidden_size, keys)

    def forward(self, x: Tensor, state: tuple[Tensor, ...] | None = None, lengths: Tensor | None = None):
        out, state = self.rnn(x, state, lengths=lengths)  # (N, T, H)
        return self.head(self.drop(out)), state  # (N, T, K) logits
