"""Losses named as in ``rnnkit.reference.losses``: means over counted positions, autograd for the backward."""

from __future__ import annotations

import torch
from torch import Tensor

IGNORE_INDEX = -100  # targets equal to this are skipped (padding), as in torch.nn


def cross_entropy(logits: Tensor, targets: Tensor, *, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Mean of ``-log softmax(logits)[target]`` over positions whose target != ignore_index.

    logits (..., V), targets (...) integer. A batch whose targets are all ignored gives 0 (and a zero
    gradient), not NaN, as ``rnnkit.reference.losses.cross_entropy``.
    """
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"cross_entropy: logits {tuple(logits.shape)} must be targets' shape {tuple(targets.shape)} "
            "plus a class axis"
        )
    if targets.is_floating_point() or targets.dtype == torch.bool:
        raise ValueError(f"cross_entropy: targets must be integer class ids, got dtype {targets.dtype}")
    V = logits.shape[-1]
    logits2, t = logits.reshape(-1, V), targets.reshape(-1)  # (M, V), (M,)
    keep = t != ignore_index  # (M,)
    t = torch.where(keep, t, 0)
    if bool(keep.any()) and (int(t[keep].min()) < 0 or int(t[keep].max()) >= V):
        raise ValueError(f"cross_entropy: a target is outside [0, V={V}) and is not ignore_index={ignore_index}")
    count = keep.sum()
    logp = torch.log_softmax(logits2, dim=-1)  # (M, V), stable
    nll = -logp.gather(1, t.unsqueeze(1)).squeeze(1)  # (M,)
    return (nll * keep).sum() / count.clamp(min=1)  # all ignored: 0 with a zero gradient


def mse(pred: Tensor, target: Tensor) -> Tensor:
    """Mean squared error over every element."""
    if pred.shape != target.shape:
        raise ValueError(f"mse: pred shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}")
    return ((pred - target) ** 2).mean()
