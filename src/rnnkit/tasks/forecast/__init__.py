"""Time-series forecasting: windows, multi-step horizons, probabilistic heads, backtests against baselines."""

from rnnkit.tasks.info import TaskInfo, lazy_exports

TASK = TaskInfo(
    name="forecast",
    help="Time-series forecasting: train, eval, predict, backtest against baselines.",
    task="rnnkit.tasks.forecast.task:Forecaster",
    cli="rnnkit.tasks.forecast.cli:CLI",
)

__all__ = ["TASK", "ForecastConfig", "Forecaster"]
__getattr__ = lazy_exports(
    {"Forecaster": "rnnkit.tasks.forecast.task", "ForecastConfig": "rnnkit.tasks.forecast.config"}
)
