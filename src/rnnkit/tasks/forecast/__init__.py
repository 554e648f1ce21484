"""Time-series forecasting: windows, multi-step horizons, probabilistic heads, backtests against baselines."""

from rnnkit.tasks.forecast.task import ForecastConfig, Forecaster

__all__ = ["ForecastConfig", "Forecaster"]
