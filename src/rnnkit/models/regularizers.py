"""Regularisers for recurrent models that torch.nn does not ship (Merity et al. 2017, "Regularizing and
Optimizing LSTM Language Models", the awd-lstm paper; Gal & Ghahramani 2016).

- ``LockedDropout``: variational dropout, ONE mask per sequence shared over all time steps (sec. 4.2).
- ``EmbeddingDropout``: drops whole rows of the embedding matrix, i.e. every occurrence of a word (sec. 4.3).
- ``ActivationRegularizer``: AR (L2 of the dropped outputs) and TAR (L2 of the step-to-step change of the raw
  outputs) penalties (sec. 4.6), zero in eval mode.
- ``tie_weights``: the output layer shares the embedding matrix (Press & Wolf 2017; Inan et al. 2017; sec. 4.5).
DropConnect on the recurrent matrix is ``rnnkit.nn.Recurrent(weight_drop=...)`` (sec. 2), applied once per
forward to W_hh so the fast paths are kept.
Every module here is the identity (or zero penalty) in eval mode.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class LockedDropout(nn.Module):
    """Dropout with one Bernoulli mask per (sequence, feature), reused at every time step.

    x: (N, T, D) batch first. Standard dropout draws a fresh mask per step, which on recurrent inputs and
    outputs destroys the signal the model carries through time; a locked mask does not (Gal & Ghahramani 2016).
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"LockedDropout p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.ndim != 3:
            raise ValueError(f"LockedDropout expects (N, T, D) input, got shape {tuple(x.shape)}")
        mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - self.p) / (1 - self.p)  # (N, 1, D)
        return x * mask  # the same mask broadcast over T

    def extra_repr(self) -> str:
        return f"p={self.p}"


def embedding_dropout(embedding: nn.Embedding, words: Tensor, p: float, *, training: bool = True) -> Tensor:
    """Look up ``words`` (N, T) in ``embedding`` with whole rows (word types) dropped with probability ``p``.

    The kept rows are scaled by 1 / (1 - p) so the expected embedding is unchanged (sec. 4.3).
    """
    if not training or p == 0.0:
        return embedding(words)
    w = embedding.weight  # (V, E)
    mask = w.new_empty(w.shape[0], 1).bernoulli_(1 - p) / (1 - p)  # (V, 1): one draw per word type
    return F.embedding(
        words,
        w * mask,
        embedding.padding_idx,
        embedding.max_norm,
        embedding.norm_type,
        embedding.scale_grad_by_freq,
        embedding.sparse,
    )  # (N, T, E)


class EmbeddingDropout(nn.Module):
    """``nn.Embedding`` whose forward drops whole word rows in training (see ``embedding_dropout``)."""

    def __init__(self, embedding: nn.Embedding, p: float = 0.1) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"EmbeddingDropout p must be in [0, 1), got {p}")
        self.embedding, self.p = embedding, p

    @property
    def weight(self) -> nn.Parameter:
        return self.embedding.weight

    def forward(self, words: Tensor) -> Tensor:
        return embedding_dropout(self.embedding, words, self.p, training=self.training)


class ActivationRegularizer(nn.Module):
    """AR + TAR penalty to add to the training loss; exactly zero in eval mode (sec. 4.6).

    AR  = alpha * mean(dropped_h ** 2)                  on the dropped output of the last layer
    TAR = beta * mean((raw_h[:, 1:] - raw_h[:, :-1]) ** 2)   on the raw (undropped) output, slowness prior
    awd-lstm uses alpha = 2, beta = 1.
    """

    def __init__(self, alpha: float = 2.0, beta: float = 1.0) -> None:
        super().__init__()
        if alpha < 0 or beta < 0:
            raise ValueError(f"AR alpha and TAR beta must be >= 0, got {alpha} and {beta}")
        self.alpha, self.beta = alpha, beta

    def forward(self, dropped_h: Tensor, raw_h: Tensor | None = None) -> Tensor:
        zero = dropped_h.new_zeros(())
        if not self.training:
            return zero
        penalty = zero
        if self.alpha:
            penalty = penalty + activation_regularization(dropped_h, self.alpha)
        if self.beta and raw_h is not None:
            penalty = penalty + temporal_activation_regularization(raw_h, self.beta)
        return penalty


def activation_regularization(h: Tensor, alpha: float) -> Tensor:
    """AR: ``alpha * mean(h**2)`` over (N, T, H) outputs (Merity et al. 2017, sec. 4.6)."""
    return alpha * h.pow(2).mean()


def temporal_activation_regularization(h: Tensor, beta: float) -> Tensor:
    """TAR: ``beta * mean((h_t - h_{t-1})**2)`` over consecutive steps of (N, T, H) outputs (sec. 4.6)."""
    if h.shape[1] < 2:
        return h.new_zeros(())
    return beta * (h[:, 1:] - h[:, :-1]).pow(2).mean()


def tie_weights(decoder: nn.Linear, embedding: nn.Embedding | EmbeddingDropout) -> None:
    """Make ``decoder.weight`` the very same Parameter as ``embedding.weight`` (V, E) (Press & Wolf 2017).

    Needs the decoder's input size to equal the embedding size E; awd-lstm sizes the last recurrent layer to E.
    """
    w = embedding.weight
    if decoder.weight.shape != w.shape:
        raise ValueError(
            f"weight tying needs decoder weight shape {tuple(decoder.weight.shape)} == embedding weight shape "
            f"{tuple(w.shape)} (V, E): make the last layer's output size equal the embedding size, or project "
            f"to it before the decoder"
        )
    decoder.weight = w


@torch.no_grad()
def are_tied(decoder: nn.Linear, embedding: nn.Module) -> bool:
    """True when the decoder and the embedding share one Parameter object."""
    return decoder.weight is embedding.weight
