"""Baselines every backtest reports beside the RNN: naive, seasonal naive, Holt-Winters and ARIMA.

Each baseline is a function ``(history (T,), horizon, season) -> forecast (H,)`` on one column, fitted on
``history`` only (so a backtest refits it at every origin: the statistical models are cheap, and that is
how Darts and statsmodels users run them). ``max_history`` caps how much history the statistical models
see, to keep long hourly series affordable; it is reported with the results.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

BASELINES = ("naive", "seasonal_naive", "holt_winters", "arima")


def naive(history: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """Repeat the last value: ``yhat_{T+h} = y_T``."""
    return np.full(horizon, float(history[-1]))


def seasonal_naive(history: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """Repeat the last season: ``yhat_{T+h} = y_{T + h - m k}`` with k the smallest such that it is observed."""
    m = max(1, season)
    if len(history) < m:
        raise ValueError(f"seasonal naive needs at least season={m} points of history, got {len(history)}")
    last = np.asarray(history[-m:], dtype=np.float64)
    return last[np.arange(horizon) % m]


def holt_winters(history: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """statsmodels ExponentialSmoothing: additive damped trend, additive seasonality when 2+ seasons exist."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = np.asarray(history, dtype=np.float64)
    seasonal = "add" if season > 1 and len(y) >= 2 * season + 2 else None
    model = ExponentialSmoothing(
        y, trend="add", damped_trend=True, seasonal=seasonal, seasonal_periods=season if seasonal else None
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter from the optimiser
        res = model.fit()
    return np.asarray(res.forecast(horizon), dtype=np.float64)


def arima(history: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """statsmodels ARIMA: Box & Jenkins' airline model (0,1,1)(0,1,1)_m when 1 < m <= 24 and 3+ seasons
    exist, else ARIMA(1,1,1).

    A fixed, widely used order rather than an automatic search (which costs minutes per origin here).
    """
    from statsmodels.tsa.arima.model import ARIMA

    y = np.asarray(history, dtype=np.float64)
    if 1 < season <= 24 and len(y) >= 3 * season:
        order, seasonal = (0, 1, 1), (0, 1, 1, season)
    else:
        order, seasonal = (1, 1, 1), (0, 0, 0, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ARIMA(y, order=order, seasonal_order=seasonal).fit()
    return np.asarray(res.forecast(horizon), dtype=np.float64)


REGISTRY: dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "holt_winters": holt_winters,
    "arima": arima,
}


def baseline_forecast(
    name: str, history: np.ndarray, horizon: int, *, season: int = 1, max_history: int | None = None
) -> np.ndarray:
    """Forecast (H, C) from history (T, C) with baseline ``name``, column by column."""
    if name not in REGISTRY:
        raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    h = np.asarray(history, dtype=np.float64)
    h = h[:, None] if h.ndim == 1 else h
    if max_history is not None and name in ("holt_winters", "arima"):
        h = h[-max_history:]
    fn = REGISTRY[name]
    return np.stack([fn(h[:, c], horizon, season) for c in range(h.shape[1])], axis=1)  # (H, C)
