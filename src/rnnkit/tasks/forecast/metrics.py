"""Forecast accuracy metrics (NumPy): point errors, scaled errors and scores for probabilistic forecasts.

All functions take arrays of the same shape (any shape; usually (N, H, C) or (N, H)) and average over
every element. Percentages (MAPE, sMAPE) are in percent, as Darts and the M4 competition report them.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

SQRT_PI = math.sqrt(math.pi)


def _pair(y: np.ndarray, yhat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, yhat = np.asarray(y, dtype=np.float64), np.asarray(yhat, dtype=np.float64)
    if y.shape != yhat.shape:
        raise ValueError(f"actuals {y.shape} and forecasts {yhat.shape} must have the same shape")
    if y.size == 0:
        raise ValueError("no values to score: the forecast window is empty")
    return y, yhat


def mae(y: np.ndarray, yhat: np.ndarray) -> float:
    """Mean absolute error ``mean |y - yhat|``."""
    y, yhat = _pair(y, yhat)
    return float(np.mean(np.abs(y - yhat)))


def mse(y: np.ndarray, yhat: np.ndarray) -> float:
    """Mean squared error ``mean (y - yhat)^2`` (the Informer tables report MSE on z-scored data)."""
    y, yhat = _pair(y, yhat)
    return float(np.mean((y - yhat) ** 2))


def rmse(y: np.ndarray, yhat: np.ndarray) -> float:
    """Root mean squared error."""
    return math.sqrt(mse(y, yhat))


def mape(y: np.ndarray, yhat: np.ndarray) -> float:
    """Mean absolute percentage error ``100 mean |y - yhat| / |y|``; undefined when an actual is 0."""
    y, yhat = _pair(y, yhat)
    if np.any(y == 0):
        raise ValueError("MAPE is undefined: some actual values are 0; use sMAPE or MASE instead")
    return float(100.0 * np.mean(np.abs(y - yhat) / np.abs(y)))


def smape(y: np.ndarray, yhat: np.ndarray) -> float:
    """Symmetric MAPE ``100 mean 2|y - yhat| / (|y| + |yhat|)`` in [0, 200]; a 0/0 term counts as 0."""
    y, yhat = _pair(y, yhat)
    den = np.abs(y) + np.abs(yhat)
    term = np.divide(2.0 * np.abs(y - yhat), den, out=np.zeros_like(den), where=den > 0)
    return float(100.0 * np.mean(term))


def seasonal_scale(insample: np.ndarray, season: int = 1) -> np.ndarray:
    """MASE denominator per column: ``mean |y_t - y_{t-m}|`` over the in-sample (training) series (T, ...)."""
    x = np.asarray(insample, dtype=np.float64)
    if len(x) <= season:
        raise ValueError(f"MASE needs more than season={season} in-sample points, got {len(x)}")
    scale = np.mean(np.abs(x[season:] - x[:-season]), axis=0)
    if np.any(scale == 0):
        raise ValueError("MASE is undefined: the in-sample seasonal naive error is 0 (constant series)")
    return scale


def mase(y: np.ndarray, yhat: np.ndarray, insample: np.ndarray, season: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006): MAE / in-sample seasonal-naive MAE.

    Below 1 means better than the seasonal naive forecast measured in sample. ``insample`` is (T,) or
    (T, C) with C the last axis of ``y``; each column is scaled by its own denominator.
    """
    y, yhat = _pair(y, yhat)
    scale = seasonal_scale(insample, season)  # () or (C,), broadcasts over the last axis
    return float(np.mean(np.abs(y - yhat) / scale))


def gaussian_nll(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float:
    """Mean negative log-likelihood of ``y`` under ``N(mu, sigma^2)``."""
    y, mu = _pair(y, mu)
    sigma = np.asarray(sigma, dtype=np.float64)
    return float(np.mean(0.5 * math.log(2 * math.pi) + np.log(sigma) + 0.5 * ((y - mu) / sigma) ** 2))


def crps_gaussian(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float:
    """Mean CRPS of ``N(mu, sigma^2)`` forecasts, closed form (Gneiting et al. 2005, eq. 5).

    ``CRPS = sigma [z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)]`` with ``z = (y - mu) / sigma``; lower is
    better, and it equals MAE when sigma -> 0.
    """
    y, mu = _pair(y, mu)
    sigma = np.asarray(sigma, dtype=np.float64)
    if np.any(sigma <= 0):
        raise ValueError("CRPS needs sigma > 0 everywhere")
    z = (y - mu) / sigma
    pdf = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    return float(np.mean(sigma * (z * (2 * ndtr(z) - 1) + 2 * pdf - 1 / SQRT_PI)))


def pinball(y: np.ndarray, q_pred: np.ndarray, quantiles: tuple[float, ...] | list[float]) -> float:
    """Mean pinball (quantile) loss over quantiles: ``max(q (y - yq), (q - 1)(y - yq))``.

    ``q_pred`` has ``y``'s shape plus a last axis of len(quantiles). Half the pinball loss at q = 0.5 is
    the MAE / 2; twice the mean over a dense quantile grid approximates CRPS.
    """
    y = np.asarray(y, dtype=np.float64)[..., None]
    q_pred = np.asarray(q_pred, dtype=np.float64)
    q = np.asarray(quantiles, dtype=np.float64)
    if q_pred.shape != y.shape[:-1] + (len(q),):
        raise ValueError(f"quantile forecasts {q_pred.shape} must be actuals {y.shape[:-1]} + ({len(q)},)")
    d = y - q_pred
    return float(np.mean(np.maximum(q * d, (q - 1) * d)))


POINT_METRICS = ("MAE", "MSE", "RMSE", "MAPE", "sMAPE", "MASE")


def point_metrics(y: np.ndarray, yhat: np.ndarray, *, insample: np.ndarray, season: int) -> dict[str, float]:
    """Every point metric at once (MAPE is NaN when an actual is 0, MASE when its in-sample scale is 0)."""
    out = {"MAE": mae(y, yhat), "MSE": mse(y, yhat), "RMSE": rmse(y, yhat)}
    try:
        out["MAPE"] = mape(y, yhat)
    except ValueError:
        out["MAPE"] = float("nan")
    out["sMAPE"] = smape(y, yhat)
    try:
        out["MASE"] = mase(y, yhat, insample, season)
    except ValueError:  # a constant in-sample column (or too short a history): no scale to divide by
        out["MASE"] = float("nan")
    return out
