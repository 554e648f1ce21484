"""Embedding and linear layers as thin modules, with the functional forms named as in ``rnnkit.reference.layers``.

Same parameter names, shapes and init as the reference, so weights copy across: ``Embedding.weight (V, D)``
~ N(0, 1); ``Linear.weight (out, in)`` and ``Linear.bias (out,)`` ~ U(-1/sqrt(in), 1/sqrt(in)). A linear
layer is also the output map of the classic Elman network, ``y_t = g(V h_t + c)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def init_embedding(
    num_embeddings: int, embedding_dim: int, *, generator: torch.Generator | None = None, dtype=torch.float32
) -> Tensor:
    """Embedding table (V, D) drawn from N(0, 1), as torch.nn.Embedding."""
    return torch.randn(num_embeddings, embedding_dim, generator=generator, dtype=dtype)


def init_linear(
    in_features: int,
    out_features: int,
    *,
    generator: torch.Generator | None = None,
    bias: bool = True,
    dtype=torch.float32,
) -> dict[str, Tensor]:
    """``{"weight": (out, in), "bias": (out,)}`` drawn from U(-1/sqrt(in), 1/sqrt(in)), as torch.nn.Linear."""
    k = 1.0 / math.sqrt(in_features)
    params = {"weight": torch.empty(out_features, in_features, dtype=dtype).uniform_(-k, k, generator=generator)}
    if bias:
        params["bias"] = torch.empty(out_features, dtype=dtype).uniform_(-k, k, generator=generator)
    return params


def embedding(weight: Tensor, ids: Tensor, *, padding_idx: int | None = None) -> Tensor:
    """Row lookup: ids (...,) -> (..., D). ``padding_idx`` rows receive no gradient (as torch.nn)."""
    if ids.is_floating_point():
        raise ValueError(f"embedding: ids must be integers, got dtype {ids.dtype}")
    V = weight.shape[0]
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= V):
        bad = int(ids.min()) if int(ids.min()) < 0 else int(ids.max())
        raise ValueError(f"embedding: id {bad} is out of range for a table of V={V} rows; ids must be in [0, V)")
    return nn.functional.embedding(ids, weight, padding_idx=padding_idx)  # (..., D)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y = x W^T + b``: (..., in) -> (..., out)."""
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: x has {x.shape[-1]} features (shape {tuple(x.shape)}) but weight {tuple(weight.shape)} "
            f"expects {weight.shape[1]}"
        )
    return nn.functional.linear(x, weight, bias)


class Embedding(nn.Module):
    """Token ids (...,) -> vectors (..., D): row lookup in ``weight (V, D)``."""

    def __init__(self, num_embeddings: int, embedding_dim: int, *, padding_idx: int | None = None) -> None:
        super().__init__()
        self.padding_idx = padding_idx
        self.weight = nn.Parameter(torch.empty(num_embeddings, embedding_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.weight.normal_()

    def forward(self, ids: Tensor) -> Tensor:
        return embedding(self.weight, ids, padding_idx=self.padding_idx)  # (..., D)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, {self.weight.shape[1]}, padding_idx={self.padding_idx}"


class Linear(nn.Module):
    """(..., in) -> (..., out): ``x W^T + b`` (e.g. the output map V h + c of an Elman network)."""

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        k = 1.0 / math.sqrt(self.weight.shape[1])
        with torch.no_grad():
            self.weight.uniform_(-k, k)
            if self.bias is not None:
                self.bias.uniform_(-k, k)

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)  # (..., out)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]}, {self.weight.shape[0]}, bias={self.bias is not None}"
