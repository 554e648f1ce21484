"""Activations and their derivatives for the NumPy reference engine, written to be numerically stable.

Derivatives are expressed through the activation's *output* where that is the textbook form
(``sigmoid' = s (1 - s)``, ``tanh' = 1 - t^2``), because the cells cache outputs, not pre-activations.
"""

from __future__ import annotations

import numpy as np


def sigmoid(a: np.ndarray) -> np.ndarray:
    """Logistic ``1 / (1 + exp(-a))`` without overflow: only ``exp(-|a|) <= 1`` is ever evaluated."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def dsigmoid(s: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid given its output ``s = sigmoid(a)``: ``s (1 - s)``."""
    return s * (1.0 - s)


def tanh(a: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent (NumPy's is already stable for large |a|)."""
    return np.tanh(a)


def dtanh(t: np.ndarray) -> np.ndarray:
    """Derivative of tanh given its output ``t = tanh(a)``: ``1 - t^2``."""
    return 1.0 - t * t


def relu(a: np.ndarray) -> np.ndarray:
    """``max(a, 0)``."""
    return np.maximum(a, 0.0)


def drelu(a: np.ndarray) -> np.ndarray:
    """Derivative of relu given its *input* ``a`` (its output works too): 1 where ``a > 0``, else 0."""
    return (a > 0).astype(a.dtype)


def softplus(a: np.ndarray) -> np.ndarray:
    """``log(1 + exp(a))`` without overflow: ``max(a, 0) + log1p(exp(-|a|))``."""
    return np.maximum(a, 0.0) + np.log1p(np.exp(-np.abs(a)))


def log_sigmoid(a: np.ndarray) -> np.ndarray:
    """``log(sigmoid(a)) = -softplus(-a)``, finite for every finite ``a``."""
    return -softplus(-a)


def log_softmax(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """``a - logsumexp(a)`` along ``axis``, shifted by the max so ``exp`` never overflows."""
    shifted = a - np.max(a, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """``exp(log_softmax(a))``: rows sum to 1."""
    return np.exp(log_softmax(a, axis=axis))


def logcumsumexp(a: np.ndarray, axis: int = 0) -> np.ndarray:
    """``log(cumsum(exp(a)))`` along ``axis`` in log space: ``np.logaddexp`` never exponentiates a large value.

    The building block of the log-space parallel scan (Heinsen 2023) used by minGRU/minLSTM.
    """
    return np.logaddexp.accumulate(a, axis=axis)


ACTIVATIONS = {"tanh": (tanh, dtanh), "relu": (relu, drelu)}
"""Elman nonlinearity name -> (activation, derivative given the activation's output).

``drelu`` of the output equals ``drelu`` of the input (both are positive exactly when the input is), so one
calling convention, "derivative given the output", serves both.
"""
