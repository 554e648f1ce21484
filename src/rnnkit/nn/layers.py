"""The non-recurrent layers models need, as thin modules mirroring ``rnnkit.reference.layers``.

Same parameter names, shapes and init as the reference: ``Embedding.weight (V, D)`` ~ N(0, 1) and
``Linear.weight (out, in)``, ``Linear.bias (out,)`` ~ U(-1/sqrt(in), 1/sqrt(in)), so weights copy across.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class Embedding(nn.Module):
    """Token ids (...,) -> vectors (..., D): row lookup in ``weight (V, D)``."""

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_embeddings, embedding_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight)

    def forward(self, ids: Tensor) -> Tensor:
        return nn.functional.embedding(ids, self.weight)  # (..., D)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, {self.weight.shape[1]}"


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
        return nn.functional.linear(x, self.weight, self.bias)  # (..., out)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]}, {self.weight.shape[0]}, bias={self.bias is not None}"
