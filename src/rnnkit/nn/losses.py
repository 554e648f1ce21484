"""Losses, mirroring ``rnnkit.reference.losses``: mean over counted positions, autograd for the backward."""

from __future__ import annotations

import torch
from torch import Tensor

IGNORE_INDEX = -100  # targets equal to this are skipped (padding), as in torch.nn


def cross_entropy(logits: Tensor, targets: Tensor, *, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Mean of -log softmax(logits)[target] over positions whose target != ignore_index.

    logits (..., V), targets (...) integer. A batch whose targets are all ignored gives 0, not NaN.
    """
    V = logits.shape[-1]
    logits, targets = logits.reshape(-1, V), targets.reshape(-1)  # (M, V), (M,)
    keep = targets != ignore_index  # (M,)
    count = keep.sum()
    if int(count) == 0:
        return logits.sum() * 0.0  # keeps the graph, gradient zero
    logp = torch.log_softmax(logits, dim=-1)  # (M, V), stable
    nll = -logp.gather(1, torch.where(keep, targets, 0).unsqueeze(1)).squeeze(1)  # (M,)
    return (nll * keep).sum() / count


def mse(pred: Tensor, target: Tensor) -> Tensor:
    """Mean squared error over every element."""
    if pred.shape != target.shape:
        raise ValueError(f"mse: pred shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}")
    return ((pred - target) ** 2).mean()
