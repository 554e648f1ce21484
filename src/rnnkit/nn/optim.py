"""Optimisers and global-norm clipping, named as in ``rnnkit.reference.optim``, built on torch.optim.

The reference engine follows torch.optim's update rules exactly, so both engines take identical steps.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

OPTIMIZERS = ("sgd", "adam", "adamw")


def SGD(params: Iterable[Tensor], *, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):  # noqa: N802
    """Plain or momentum SGD: v = μ v + g; θ -= lr v."""
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def Adam(  # noqa: N802
    params: Iterable[Tensor],
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled: bool = False,
):
    """Adam (Kingma & Ba 2015, Algorithm 1), bias-corrected moments; L2 weight decay added to the gradient,
    or outside the moments with ``decoupled=True`` (= AdamW)."""
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    return cls(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def AdamW(  # noqa: N802
    params: Iterable[Tensor],
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.01,
):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): θ -= lr λ θ outside the moments."""
    return torch.optim.AdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def build(name: str, params: Iterable[Tensor], *, lr: float, weight_decay: float = 0.0, **kwargs):
    """An optimiser by name ('sgd', 'adam', 'adamw'), with a clear error for an unknown one."""
    if name == "sgd":
        return SGD(params, lr=lr, weight_decay=weight_decay, **kwargs)
    if name == "adam":
        return Adam(params, lr=lr, weight_decay=weight_decay, **kwargs)
    if name == "adamw":
        return AdamW(params, lr=lr, weight_decay=weight_decay, **kwargs)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def global_norm(params: Iterable[Tensor] | nn.Module) -> float:
    """``sqrt(sum_k ||g_k||^2)`` over every parameter's gradient (parameters without one are skipped)."""
    if isinstance(params, nn.Module):
        params = params.parameters()
    grads = [p.grad for p in params if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))) if grads else 0.0


def clip_grad_norm(params: Iterable[Tensor] | nn.Module, max_norm: float) -> float:
    """Scale every gradient by ``min(1, max_norm / (||g|| + 1e-6))``; returns the pre-clip global norm ||g||."""
    if max_norm <= 0:
        raise ValueError(f"clip_grad_norm: max_norm must be > 0, got {max_norm}")
    if isinstance(params, nn.Module):
        params = params.parameters()
    return float(torch.nn.utils.clip_grad_norm_(params, max_norm))
