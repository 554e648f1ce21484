"""Optimisers and global-norm clipping over ``name -> array`` dicts (the NumPy twins of ``rnnkit.nn.optim``).

Optimisers update the parameter arrays in place (so a runner holding the same dict sees the new values)
and follow torch.optim's update rules exactly, so the two engines take identical steps:

* SGD with momentum (dampening 0): ``v = mu v + g`` (``v = g`` on the first step), ``p -= lr v``.
* Adam (Kingma & Ba 2015, Algorithm 1): bias-corrected first and second moments.
* AdamW (Loshchilov & Hutter 2019): Adam with the weight decay ``p -= lr wd p`` outside the moments.
"""

from __future__ import annotations

import math

import numpy as np

OPTIMIZERS = ("sgd", "adam", "adamw")
Params = dict[str, np.ndarray]


def _check_grads(params: Params, grads: Params) -> None:
    missing = [k for k in params if k not in grads]
    if missing:
        raise ValueError(f"grads has no entry for parameters {missing}; pass one gradient per parameter")
    for k, p in params.items():
        if grads[k].shape != p.shape:
            raise ValueError(f"grads[{k!r}] has shape {grads[k].shape}, parameter has {p.shape}")


class SGD:
    """Plain or momentum SGD with optional L2 weight decay added to the gradient (torch.optim.SGD)."""

    def __init__(self, params: Params, *, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: lr, momentum and weight_decay must be >= 0, got {lr}, {momentum}, {weight_decay}")
        self.params, self.lr, self.momentum, self.weight_decay = params, lr, momentum, weight_decay
        self.velocity: Params = {}

    def step(self, grads: Params) -> None:
        """Update every parameter in place from ``grads`` (same names and shapes)."""
        _check_grads(self.params, grads)
        for k, p in self.params.items():
            g = grads[k] + self.weight_decay * p if self.weight_decay else grads[k]
            if self.momentum:
                v = self.velocity.get(k)
                v = g.copy() if v is None else self.momentum * v + g  # torch: first step v = g
                self.velocity[k] = v
                g = v
            p -= self.lr * g


class Adam:
    """Adam (Kingma & Ba 2015, Algorithm 1); ``decoupled=True`` gives AdamW (Loshchilov & Hutter 2019)."""

    def __init__(
        self,
        params: Params,
        *,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
    ) -> None:
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Adam: need lr, eps, weight_decay >= 0 and betas in [0, 1), got {lr}, {eps}, {betas}")
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.weight_decay, self.decoupled = weight_decay, decoupled
        self.t = 0
        self.m: Params = {k: np.zeros_like(p) for k, p in params.items()}  # first moment
        self.v: Params = {k: np.zeros_like(p) for k, p in params.items()}  # second moment

    def step(self, grads: Params) -> None:
        """Update every parameter in place from ``grads`` (same names and shapes)."""
        _check_grads(self.params, grads)
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1.0 - b1**self.t, 1.0 - b2**self.t  # bias corrections (Algorithm 1)
        for k, p in self.params.items():
            g = grads[k]
            if self.weight_decay and self.decoupled:
                p *= 1.0 - self.lr * self.weight_decay  # AdamW: decay outside the moments
            elif self.weight_decay:
                g = g + self.weight_decay * p  # Adam: L2 added to the gradient
            self.m[k] = b1 * self.m[k] + (1.0 - b1) * g
            self.v[k] = b2 * self.v[k] + (1.0 - b2) * g * g
            # torch.optim.Adam's form: p -= lr/c1 * m / (sqrt(v)/sqrt(c2) + eps)
            p -= (self.lr / c1) * self.m[k] / (np.sqrt(self.v[k]) / math.sqrt(c2) + self.eps)


def AdamW(  # noqa: N802 - named like the class it builds, as in rnnkit.nn.optim
    params: Params,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.01,
) -> Adam:
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019)."""
    return Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, decoupled=True)


def build(name: str, params: Params, *, lr: float, weight_decay: float = 0.0, **kwargs) -> SGD | Adam:
    """An optimiser by name ('sgd', 'adam', 'adamw'), with a clear error for an unknown one."""
    if name == "sgd":
        return SGD(params, lr=lr, weight_decay=weight_decay, **kwargs)
    if name == "adam":
        return Adam(params, lr=lr, weight_decay=weight_decay, **kwargs)
    if name == "adamw":
        return AdamW(params, lr=lr, weight_decay=weight_decay, **kwargs)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def global_norm(grads: Params) -> float:
    """``sqrt(sum_k ||g_k||^2)`` over every gradient array."""
    return math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))


def clip_grad_norm(grads: Params, max_norm: float) -> float:
    """Scale every gradient in place by ``min(1, max_norm / (||g|| + 1e-6))``; returns the pre-clip norm ||g||.

    The 1e-6 is torch.nn.utils.clip_grad_norm_'s, so both engines clip to the same numbers.
    """
    if max_norm <= 0:
        raise ValueError(f"clip_grad_norm: max_norm must be > 0, got {max_norm}")
    norm = global_norm(grads)
    coef = max_norm / (norm + 1e-6)
    if coef < 1.0:
        for g in grads.values():
            g *= coef
    return norm
