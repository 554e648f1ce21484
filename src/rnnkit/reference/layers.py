"""Embedding and linear layers with their backward, as pure functions (the NumPy twins of ``rnnkit.nn.layers``).

Initialisation matches the PyTorch engine so weights copy across: ``embedding weight (V, D) ~ N(0, 1)``,
``linear weight (out, in)`` and ``bias (out,) ~ U(-1/sqrt(in), 1/sqrt(in))``. A linear layer is also the
output map of the classic Elman network, ``y_t = g(V h_t + c)`` with ``V = weight`` and ``c = bias``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


def init_embedding(
    num_embeddings: int, embedding_dim: int, *, rng: np.random.Generator, dtype: type = np.float64
) -> np.ndarray:
    """Embedding table (V, D) drawn from N(0, 1), as torch.nn.Embedding."""
    return rng.standard_normal((num_embeddings, embedding_dim)).astype(dtype)


def init_linear(
    in_features: int, out_features: int, *, rng: np.random.Generator, bias: bool = True, dtype: type = np.float64
) -> dict[str, np.ndarray]:
    """``{"weight": (out, in), "bias": (out,)}`` drawn from U(-1/sqrt(in), 1/sqrt(in)), as torch.nn.Linear."""
    k = 1.0 / math.sqrt(in_features)
    params = {"weight": rng.uniform(-k, k, (out_features, in_features)).astype(dtype)}
    if bias:
        params["bias"] = rng.uniform(-k, k, out_features).astype(dtype)
    return params


class EmbeddingCache(NamedTuple):
    ids: np.ndarray  # (...,) int
    V: int
    padding_idx: int | None


def embedding(
    weight: np.ndarray, ids: np.ndarray, *, padding_idx: int | None = None
) -> tuple[np.ndarray, EmbeddingCache]:
    """Row lookup: ids (...,) -> (..., D). ``padding_idx`` rows receive no gradient (as torch.nn)."""
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"embedding: ids must be integers, got dtype {ids.dtype}")
    V = weight.shape[0]
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        bad = ids.min() if ids.min() < 0 else ids.max()
        raise ValueError(f"embedding: id {int(bad)} is out of range for a table of V={V} rows; ids must be in [0, V)")
    return weight[ids], EmbeddingCache(ids, V, padding_idx)  # (..., D)


def embedding_backward(dout: np.ndarray, cache: EmbeddingCache) -> np.ndarray:
    """Gradient of the table (V, D): rows scatter-added (``np.add.at`` sums repeated ids correctly)."""
    D = dout.shape[-1]
    dweight = np.zeros((cache.V, D), dtype=dout.dtype)
    np.add.at(dweight, cache.ids.reshape(-1), dout.reshape(-1, D))
    if cache.padding_idx is not None:
        dweight[cache.padding_idx] = 0.0
    return dweight


class LinearCache(NamedTuple):
    x: np.ndarray  # (..., in)
    weight: np.ndarray  # (out, in)
    has_bias: bool


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> tuple[np.ndarray, LinearCache]:
    """``y = x W^T + b``: (..., in) -> (..., out)."""
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: x has {x.shape[-1]} features (shape {x.shape}) but weight {weight.shape} expects "
            f"{weight.shape[1]}; the last axis of x must equal weight.shape[1]"
        )
    y = x @ weight.T  # (..., out)
    if bias is not None:
        y = y + bias
    return y, LinearCache(x, weight, bias is not None)


def linear_backward(dy: np.ndarray, cache: LinearCache) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(dx (..., in), dweight (out, in), dbias (out,) or None) from dy (..., out)."""
    x2 = cache.x.reshape(-1, cache.x.shape[-1])  # (M, in)
    dy2 = dy.reshape(-1, dy.shape[-1])  # (M, out)
    dx = dy @ cache.weight  # (..., in)
    dweight = dy2.T @ x2  # (out, in)
    dbias = dy2.sum(axis=0) if cache.has_bias else None
    return dx, dweight, dbias
