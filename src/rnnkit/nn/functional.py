"""Activations used by the cells, named as in ``rnnkit.reference.functional``.

The reference engine writes each activation and its derivative by hand; here autograd supplies the
derivative, so only the forward functions are mirrored.
"""

from __future__ import annotations

import torch
from torch import Tensor


def sigmoid(x: Tensor) -> Tensor:
    """σ(x) = 1 / (1 + e^-x), elementwise."""
    return torch.sigmoid(x)


def tanh(x: Tensor) -> Tensor:
    """tanh(x), elementwise."""
    return torch.tanh(x)


def relu(x: Tensor) -> Tensor:
    """max(x, 0), elementwise."""
    return torch.relu(x)


def activation(name: str):
    """The Elman nonlinearity ``name`` ('tanh' or 'relu') as a function; CellOptions validated the name."""
    if name == "tanh":
        return tanh
    if name == "relu":
        return relu
    raise ValueError(f"unknown nonlinearity {name!r}; use 'tanh' or 'relu'")
