"""Losses with their backward, as pure functions (the NumPy twins of ``rnnkit.nn.losses``).

Each ``loss(...)`` returns ``(value, cache)`` and ``loss_backward(cache, dloss=1.0)`` the gradient of the
inputs. Means are over the counted positions, so the gradient is ``1/count`` per counted position.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnkit.reference.functional import log_softmax

IGNORE_INDEX = -100  # targets equal to this are skipped (padding), as in torch.nn


class CrossEntropyCache(NamedTuple):
    logp: np.ndarray  # (M, V) log-probabilities
    targets: np.ndarray  # (M,) with ignored positions replaced by 0
    keep: np.ndarray  # (M,) bool
    count: int
    shape: tuple  # the logits' original shape (..., V)


def cross_entropy(
    logits: np.ndarray, targets: np.ndarray, *, ignore_index: int = IGNORE_INDEX
) -> tuple[float, CrossEntropyCache]:
    """Mean of ``-log softmax(logits)[target]`` over positions whose target != ignore_index.

    logits (..., V), targets (...) integer. A batch whose targets are all ignored gives 0 (and a zero
    gradient), not NaN, as ``rnnkit.nn.losses.cross_entropy``.
    """
    targets = np.asarray(targets)
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"cross_entropy: logits {logits.shape} must be targets' shape {targets.shape} plus a class axis"
        )
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(f"cross_entropy: targets must be integer class ids, got dtype {targets.dtype}")
    V = logits.shape[-1]
    logits2, t = logits.reshape(-1, V), targets.reshape(-1)  # (M, V), (M,)
    keep = t != ignore_index
    t = np.where(keep, t, 0)
    if keep.any() and (t[keep].min() < 0 or t[keep].max() >= V):
        raise ValueError(f"cross_entropy: a target is outside [0, V={V}) and is not ignore_index={ignore_index}")
    logp = log_softmax(logits2, axis=-1)  # (M, V), stable: shifted by the row max
    count = int(keep.sum())
    nll = -logp[np.arange(t.size), t]  # (M,)
    loss = float((nll * keep).sum() / count) if count else 0.0
    return loss, CrossEntropyCache(logp, t, keep, count, logits.shape)


def cross_entropy_backward(cache: CrossEntropyCache, dloss: float = 1.0) -> np.ndarray:
    """d loss / d logits (..., V) = (softmax - onehot) / count on counted rows, 0 on ignored ones."""
    dlogits = np.exp(cache.logp)  # (M, V) softmax
    dlogits[np.arange(cache.targets.size), cache.targets] -= 1.0
    scale = dloss / cache.count if cache.count else 0.0
    dlogits *= cache.keep[:, None] * scale
    return dlogits.reshape(cache.shape)


class MSECache(NamedTuple):
    diff: np.ndarray  # pred - target


def mse(pred: np.ndarray, target: np.ndarray) -> tuple[float, MSECache]:
    """Mean squared error over every element."""
    if pred.shape != np.shape(target):
        raise ValueError(f"mse: pred shape {pred.shape} differs from target shape {np.shape(target)}")
    diff = pred - target
    return float(np.mean(diff * diff)), MSECache(diff)


def mse_backward(cache: MSECache, dloss: float = 1.0) -> np.ndarray:
    """d loss / d pred = 2 (pred - target) / size."""
    return (2.0 * dloss / cache.diff.size) * cache.diff
