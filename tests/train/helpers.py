"""A tiny char LM and a tiny sequence classifier used by the training tests (fast: a few ms per step)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

import rnnkit.nn as rnn
from rnnkit.models.regularizers import LockedDropout
from rnnkit.train import StepOutput

V = 11  # vocabulary of the synthetic streams


def token_stream(n: int = 2000, seed: int = 0) -> torch.Tensor:
    """A learnable synthetic stream: token t+1 = (token t + 1) mod V most of the time, noise elsewhere."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, dtype=torch.long)
    for i in range(1, n):
        x[i] = (x[i - 1] + 1) % V if torch.rand((), generator=g) < 0.9 else torch.randint(0, V, (), generator=g)
    return x


class TinyLM(nn.Module):
    """Embedding -> locked dropout -> rnnkit LSTM -> locked dropout -> linear. Dropout makes RNG matter."""

    def __init__(self, hidden: int = 16, p: float = 0.2) -> None:
        super().__init__()
        self.emb = nn.Embedding(V, 8)
        self.drop = LockedDropout(p)
        self.rnn = rnn.LSTM(8, hidden, impl="loop")
        self.out = nn.Linear(hidden, V)

    def forward(self, x: torch.Tensor, state=None):
        h, state = self.rnn(self.drop(self.emb(x)), state)  # (N, T, H), ((1, N, H), (1, N, H))
        return self.out(self.drop(h)), state  # (N, T, V)


def lm_step(model: nn.Module, batch, state):
    x, y = batch[0], batch[1]  # (N, T)
    logits, state = model(x, state)
    return StepOutput(F.cross_entropy(logits.reshape(-1, V), y.reshape(-1)), state, y.numel())


class TinyClassifier(nn.Module):
    """Padded (N, T, D) sequences with lengths -> class logits from the last real step."""

    def __init__(self, d: int = 3, hidden: int = 8, classes: int = 2) -> None:
        super().__init__()
        self.rnn = rnn.GRU(d, hidden, impl="loop")
        self.out = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        _, h = self.rnn(x, lengths=lengths)  # h: (1, N, H) state after each sequence's last real step
        return self.out(h[-1])


def cls_step(model: nn.Module, batch, state):
    x, lengths, y = batch
    logits = model(x, lengths)
    acc = (logits.argmax(-1) == y).float().mean().item()
    return StepOutput(F.cross_entropy(logits, y), None, y.shape[0], {"acc": acc})


def cls_batches(n_batches: int = 6, n: int = 8, seed: int = 0):
    """Padded batches whose label is whether the sum of the first feature over the real steps is positive."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        lengths = torch.randint(2, 7, (n,), generator=g)
        x = torch.randn(n, 6, 3, generator=g)
        mask = torch.arange(6)[None, :] < lengths[:, None]  # (N, T)
        x = x * mask[..., None]
        y = (x[..., 0].sum(1) > 0).long()
        out.append((x, lengths, y))
    return out


def spy_resume(monkeypatch) -> list:
    """Record the checkpoint paths fit() resumes from: a resumed run that matches a straight one proves nothing
    unless the checkpoint was really picked up (a fresh run of the same length would match too)."""
    from rnnkit.train import loop

    seen: list = []
    real = loop._resume
    monkeypatch.setattr(loop, "_resume", lambda fs, path, *a: (seen.append(path), real(fs, path, *a)))
    return seen


def assert_same_last(a, b) -> None:
    """Two runs' `last` checkpoints hold the same position, weights, optimiser and extra tensors, bit for bit."""
    from rnnkit.train import load_checkpoint

    x, y = load_checkpoint(a), load_checkpoint(b)
    assert (x["state"]["step"], x["state"]["epoch"]) == (y["state"]["step"], y["state"]["epoch"])
    for f in ("model.safetensors", "optimizer.safetensors", "state.safetensors"):
        pa, pb = a / f, b / f
        assert pa.is_file() == pb.is_file(), f
        if pa.is_file():
            assert pa.read_bytes() == pb.read_bytes(), f
