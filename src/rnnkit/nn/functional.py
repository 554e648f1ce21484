"""Activations and stable log-space helpers, named as in ``rnnkit.reference.functional``.

The reference engine writes each derivative by hand (``dsigmoid``, ``dtanh``, ``drelu``); here autograd
supplies them, so only the forward functions are mirrored. Each is torch's own numerically stable kernel.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def sigmoid(a: Tensor) -> Tensor:
    """Logistic ``1 / (1 + exp(-a))``."""
    return torch.sigmoid(a)


def tanh(a: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return torch.tanh(a)


def relu(a: Tensor) -> Tensor:
    """``max(a, 0)``."""
    return torch.relu(a)


def softplus(a: Tensor) -> Tensor:
    """``log(1 + exp(a))`` without overflow."""
    return torch.nn.functional.softplus(a)


def log_sigmoid(a: Tensor) -> Tensor:
    """``log(sigmoid(a)) = -softplus(-a)``, finite for every finite ``a``."""
    return torch.nn.functional.logsigmoid(a)


def log_softmax(a: Tensor, axis: int = -1) -> Tensor:
    """``a - logsumexp(a)`` along ``axis``."""
    return torch.log_softmax(a, dim=axis)


def softmax(a: Tensor, axis: int = -1) -> Tensor:
    """Rows along ``axis`` sum to 1."""
    return torch.softmax(a, dim=axis)


def logcumsumexp(a: Tensor, axis: int = 0) -> Tensor:
    """``log(cumsum(exp(a)))`` along ``axis`` in log space (the log-space scan of Heinsen 2023)."""
    return torch.logcumsumexp(a, dim=axis)


ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"tanh": tanh, "relu": relu}
"""Elman nonlinearity name -> activation (the reference pairs each with its derivative)."""
