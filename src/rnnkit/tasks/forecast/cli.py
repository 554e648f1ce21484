"""`rnnkit forecast`: its options, `predict` as CSV lines (and a plot), and its own verb `backtest` (historical
forecasts beside baselines, as a table and a plot)."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import typer

from rnnkit.config import write_json
from rnnkit.errors import UsageError
from rnnkit.tasks.cli import TaskCLI
from rnnkit.tasks.console import errors_as_messages
from rnnkit.tasks.forecast.task import Forecaster
from rnnkit.tasks.options import Opt


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


def _predict_lines(
    task: Forecaster, items: list[Any], *, data: Path | None = None, out: Path | None = None, plot: Path | None = None
) -> Iterator[str]:
    """The forecast as CSV lines (time, target, forecast, quantiles); ``out``: also as a file; ``plot``: a PNG."""
    if len(items) > 1 or (items and data is not None):
        raise UsageError("give one series to forecast after: --data FILE (or none: the run's own series)")
    src = data if data is not None else (items[0] if items else None)
    df = task.predict(src)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out, index=False)
    if plot is not None:
        plot_prediction(task, task._series_arg(src), df, plot)
    yield from df.to_csv(index=False).rstrip("\n").splitlines()


def _names(values: Sequence[str]) -> tuple[str, ...]:
    """``--target a --target b`` or ``--target a,b`` -> ("a", "b")."""
    return tuple(n.strip() for v in values for n in str(v).split(",") if n.strip())


CLI = TaskCLI(
    train_options=(
        Opt("--csv", "data.path", Path, "Same as --data: the CSV file.", path=True),
        Opt(
            "--time-col",
            "data.time_col",
            str,
            "Time column; several joined by commas (year,month,day,hour); default: detected.",
        ),
        Opt("--target", "data.targets", list[str], "Target column(s): repeat or comma-separate.", convert=_names),
        Opt("--past", "data.past_covariates", list[str], "Past covariate column(s).", convert=_names),
        Opt("--future", "data.future_covariates", list[str], "Known-future covariate column(s).", convert=_names),
        Opt(
            "--calendar",
            "data.calendar",
            list[str],
            "Calendar features: month, dayofweek, hour, dayofyear, year, month_onehot, ...",
            convert=_names,
        ),
        Opt("--date-format", "data.date_format", str, "strftime format of the time column, e.g. %d/%m/%Y."),
        Opt("--freq", "data.freq", str, "pandas frequency (default inferred); 'rows': one step per row."),
        Opt("--fill", "data.fill", str, "Fill missing values / gaps: ffill or interpolate (default: refuse)."),
        Opt("--sort", "data.sort", bool, "Sort rows by time instead of refusing an unsorted file."),
        Opt("--season", "data.season", int, "Seasonal period for seasonal naive / MASE (0: from the frequency)."),
        Opt("--horizon", "data.horizon", int, "Steps to forecast (0: from the frequency)."),
        Opt("--input-length", "data.input_length", int, "History steps the model reads (0: from the frequency)."),
        Opt(
            "--train-end",
            "data.train_end",
            str,
            "Start of the test span: timestamp (inclusive end of training), "
            "row count or fraction; default 0.8, leaving at least a horizon to test.",
        ),
        Opt(
            "--val-end",
            "data.val_end",
            str,
            "End of the validation span [train-end, val-end) (same forms); "
            "default: the last --val-fraction of the training span.",
        ),
        Opt(
            "--val-fraction",
            "data.val_fraction",
            float,
            "Without --val-end: this last fraction of the training span validates (0: none).",
        ),
        Opt("--likelihood", "model.likelihood", str, "point, gaussian or quantile."),
        Opt("--decoder", "model.decoder", str, "direct, autoregressive or recurrent."),
    ),
    predict_options=(
        Opt(
            "--data", None, Path, "Forecast after the end of this CSV instead of the run's series.", aliases=("--csv",)
        ),
        Opt("--out", None, Path, "Also write the forecast as CSV here."),
        Opt("--plot", None, Path, "Write a PNG of history, forecast and interval here."),
    ),
    train_help=(
        "Train a forecaster (validation tail, early stopping, best by validation MAE), then score the test "
        "span against naive and seasonal naive (eval.json)."
    ),
    eval_help="Score a trained forecaster on its test span, or on the test span of --data FILE, beside baselines.",
    predict_help="Forecast the next horizon steps after the run's series (or --data FILE), as CSV.",
    predict_inputs_help="A CSV to forecast after (same as --data).",
    predict_without_inputs=True,
    predict_lines=_predict_lines,
    verbs={"backtest": backtest_command},
)
