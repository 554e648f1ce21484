"""The forecaster's own verb, ``rnnkit forecast backtest``, and the plots of ``predict --plot`` / ``backtest
--plot``. ``train``, ``eval`` and ``predict`` come from the CLI factory (tasks/cli.py) like every task's."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import typer

from rnnkit.config import write_json
from rnnkit.tasks.cli import errors_as_messages


def _table(rows: list[dict], title: str) -> None:
    """A rich table of metric rows (one per model)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    cols = list(dict.fromkeys(k for r in rows for k in r))
    for c in cols:
        table.add_column(c, justify="left" if c == "model" else "right")
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, "")
            cells.append(f"{v:.4g}" if isinstance(v, float) and not math.isnan(v) else ("-" if v == "" else str(v)))
        table.add_row(*cells)
    Console(width=None if sys.stdout.isatty() else 160).print(table)  # no truncated names in logs/CI


def backtest_command(
    run: Path = typer.Argument(..., help="A run folder of `rnnkit forecast train`."),
    data: Path = typer.Option(None, "--data", "--csv", help="Backtest on this CSV instead of the run's series."),
    start: str = typer.Option(None, help="First origin: timestamp or row (default: start of the test span)."),
    stride: int = typer.Option(1, min=1, help="Rows between origins."),
    refit: bool = typer.Option(False, help="Retrain the RNN before every origin (slow: use a large stride)."),
    last_points_only: bool = typer.Option(False, help="Score only the H-th step of each forecast (Darts' default)."),
    baselines: str = typer.Option("naive,seasonal_naive,holt_winters,arima", help="Comma-separated baselines."),
    baseline_stride: int = typer.Option(1, min=1, help="Run Holt-Winters / ARIMA on every k-th origin only."),
    which: str = typer.Option("best", help="Checkpoint: best or last."),
    plot: Path = typer.Option(None, help="Write a PNG of the backtest against actuals here."),
    json_out: Path = typer.Option(None, "--json", help="Write the metrics as JSON here."),
) -> None:
    """Historical forecasts over the test span, RNN and baselines side by side, metrics as a table."""
    from rnnkit.tasks.forecast.task import Forecaster

    with errors_as_messages("rnnkit forecast"):
        fc = Forecaster.load(run, which=which)
        series = fc._series_arg(data)
        bt = fc.backtest(
            series,
            start=int(start) if start is not None and start.isdigit() else start,
            stride=stride,
            refit=refit,
            last_points_only=last_points_only,
            baselines=[b for b in baselines.split(",") if b],
            baseline_stride=baseline_stride,
        )
    _table(bt.table(), "backtest: " + "; ".join(bt.notes))
    if json_out:
        write_json(json_out, {"metrics": bt.metrics, "notes": bt.notes}, indent=2)  # durable: temp, fsync, rename
    if plot:
        from rnnkit.plots import plot_forecast

        H = fc.config.data.horizon
        h = H - 1 if last_points_only else 0  # plot the step that was scored (first step, or the H-th)
        times = series.time[bt.origins + h]
        q = bt.intervals.get("rnn")
        lo = bt.origins[0]
        plot_forecast(
            series.time[max(0, lo - 4 * H) : lo],
            series.targets[max(0, lo - 4 * H) : lo, 0],
            plot,
            forecast_time=times,
            forecast=bt.forecasts["rnn"][:, h, 0],
            lower=q[:, h, 0, 0] if q is not None else None,
            upper=q[:, h, 0, -1] if q is not None else None,
            actual_time=times,
            actual=bt.actual[:, h, 0],
            title=f"backtest, {h + 1}-step-ahead forecasts",
        )
        typer.echo(f"plot: {plot}", err=True)


def plot_prediction(fc: Any, s: Any, df: Any, path: Path) -> None:
    """History, forecast and interval of the first target as a PNG."""
    from rnnkit.plots import plot_forecast

    n = min(len(s), 8 * fc.config.data.horizon)
    first = df[df.target == s.target_names[0]]
    qcols = [c for c in df.columns if c.startswith("q")]
    hist_x = s.time[-n:] if s.freq != "rows" else list(range(len(s) - n, len(s)))  # rows: step numbers
    plot_forecast(
        hist_x,
        s.targets[-n:, 0],
        path,
        forecast_time=first.time,
        forecast=first.forecast,
        lower=first[qcols[0]] if qcols else None,
        upper=first[qcols[-1]] if qcols else None,
        interval_label=f"{qcols[0]}..{qcols[-1]}" if qcols else "",
        title=f"{s.target_names[0]}: forecast",
    )
