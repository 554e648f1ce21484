"""``rnnkit forecast train|predict|backtest``: thin commands over ``rnnkit.tasks.forecasting.Forecaster``."""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path

import typer

forecast_app = typer.Typer(
    help="Time-series forecasting: train, predict, backtest against baselines.", no_args_is_help=True
)

_EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}


def _fail(err: Exception) -> None:
    from rnnkit.tasks.cli import debug_on

    if debug_on():  # rnnkit --debug / RNNKIT_DEBUG=1: the traceback
        raise err
    typer.echo(f"rnnkit forecast: {err}", err=True)
    raise typer.Exit(2)


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


@forecast_app.command("train", context_settings=_EXTRA)
def train_command(
    ctx: typer.Context,
    csv: str = typer.Option(None, help="CSV file with a time column and target columns"),
    dataset: str = typer.Option(None, help="known dataset: airline-passengers, etth1, msft-stock, ..."),
    data_root: str = typer.Option(None, help="data root for --dataset (else $RNNKIT_DATA)"),
    time_col: str = typer.Option("", help="time column of the CSV"),
    target: list[str] = typer.Option([], help="target column(s); repeat for multivariate"),
    past: list[str] = typer.Option([], help="past covariate column(s)"),
    future: list[str] = typer.Option([], help="known-future covariate column(s)"),
    calendar: list[str] = typer.Option(
        [], help="calendar features: month, dayofweek, hour, dayofmonth, dayofyear, year, month_onehot, ..."
    ),
    freq: str = typer.Option("", help="pandas frequency (default inferred); 'rows' = one step per row"),
    fill: str = typer.Option("", help="repair missing values / gaps: ffill or interpolate (default: error)"),
    sort: bool = typer.Option(False, help="sort rows by time instead of rejecting an unsorted file"),
    horizon: int = typer.Option(None, help="forecast horizon H"),
    input_length: int = typer.Option(None, help="history length L the model sees"),
    train_end: str = typer.Option(None, help="end of the training span: timestamp (inclusive), row count or fraction"),
    val_end: str = typer.Option(None, help="end of the validation span (same forms); default: no validation"),
    cell: str = typer.Option(None, help="registered cell: lstm, gru, rnn, ..."),
    hidden: int = typer.Option(None, help="hidden units"),
    likelihood: str = typer.Option(None, help="point | gaussian | quantile"),
    decoder: str = typer.Option(None, help="direct | autoregressive | recurrent"),
    epochs: int = typer.Option(None, help="training epochs"),
    run_dir: str = typer.Option("runs/forecast", help="run folder"),
    config: str = typer.Option(None, help="a config.json to start from (dotted overrides may follow: --train.lr=1e-3)"),
    quiet: bool = typer.Option(False, help="no progress output"),
    resume: bool = typer.Option(False, help="continue the run in --run-dir from its last checkpoint"),
) -> None:
    """Train a forecaster; writes config.json, checkpoints, forecast.json and loss.png into the run folder."""
    from rnnkit.config import ConfigError, apply_overrides, load_config, parse_cli
    from rnnkit.data.sources import DataError
    from rnnkit.tasks.forecasting import ForecastConfig, Forecaster
    from rnnkit.train import CheckpointError

    try:
        cfg = load_config(ForecastConfig, config) if config else ForecastConfig()
        sets: dict[str, object] = {"run_dir": run_dir}
        for key, val in (
            ("data.path", csv),
            ("data.dataset", dataset),
            ("data.data_root", data_root),
            ("data.horizon", horizon),
            ("data.input_length", input_length),
            ("data.train_end", train_end),
            ("data.val_end", val_end),
            ("model.cell.name", cell),
            ("model.hidden_size", hidden),
            ("model.likelihood", likelihood),
            ("model.decoder", decoder),
            ("train.epochs", epochs),
        ):
            if val is not None:
                sets[key] = val
        for key, val in (("data.time_col", time_col), ("data.freq", freq), ("data.fill", fill)):
            if val:
                sets[key] = val
        for key, vals in (
            ("data.targets", target),
            ("data.past_covariates", past),
            ("data.future_covariates", future),
            ("data.calendar", calendar),
        ):
            if vals:
                sets[key] = tuple(vals)
        if sort:
            sets["data.sort"] = True
        if quiet:
            sets["train.quiet"] = True
        cfg = apply_overrides(cfg, sets)
        _, extra = parse_cli(list(ctx.args))
        cfg = apply_overrides(cfg, extra)
        fc = Forecaster(cfg)
        result = fc.fit(resume=resume)
    except (ConfigError, DataError, CheckpointError) as err:
        _fail(err)
    last = result.last or {}
    typer.echo(
        f"trained {result.step} steps; run folder {cfg.run_dir}"
        + (f"; val_loss {last['val_loss']:.4g}" if "val_loss" in last else "")
    )


def _load(run_dir: str, csv: str | None):
    from rnnkit.config import load_config
    from rnnkit.tasks.forecasting import ForecastConfig, Forecaster

    series = None
    if csv:
        cfg = load_config(ForecastConfig, Path(run_dir) / "config.json")
        series = Forecaster(replace(cfg, data=replace(cfg.data, path=csv, dataset=None))).load_series()
    return Forecaster.load(run_dir, series=series)


@forecast_app.command("predict")
def predict_command(
    run_dir: str = typer.Argument(..., help="run folder written by `rnnkit forecast train`"),
    csv: str = typer.Option(None, help="forecast after the end of this CSV instead of the training data"),
    out: str = typer.Option(None, help="write the forecast as CSV here"),
    plot: str = typer.Option(None, help="write a PNG of history, forecast and interval here"),
) -> None:
    """Forecast the next H steps after the end of the series, with intervals for probabilistic models."""
    from rnnkit.config import ConfigError
    from rnnkit.data.sources import DataError
    from rnnkit.train import CheckpointError

    try:
        fc = _load(run_dir, csv)
        df = fc.predict()
    except (ConfigError, DataError, CheckpointError) as err:
        _fail(err)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out, index=False)
    _table(
        [{k: (v if not hasattr(v, "isoformat") else str(v)) for k, v in r.items()} for r in df.to_dict("records")],
        "forecast",
    )
    if plot:
        from rnnkit.plots import plot_forecast

        s = fc.series
        n = min(len(s), 8 * fc.config.data.horizon)
        first = df[df.target == s.target_names[0]]
        qcols = [c for c in df.columns if c.startswith("q")]
        hist_x = s.time[-n:] if s.freq != "rows" else list(range(len(s) - n, len(s)))  # rows: step numbers
        plot_forecast(
            hist_x,
            s.targets[-n:, 0],
            plot,
            forecast_time=first.time,
            forecast=first.forecast,
            lower=first[qcols[0]] if qcols else None,
            upper=first[qcols[-1]] if qcols else None,
            interval_label=f"{qcols[0]}..{qcols[-1]}" if qcols else "",
            title=f"{s.target_names[0]}: forecast",
        )
        typer.echo(f"plot: {plot}")


@forecast_app.command("backtest")
def backtest_command(
    run_dir: str = typer.Argument(..., help="run folder written by `rnnkit forecast train`"),
    csv: str = typer.Option(None, help="backtest on this CSV instead of the training data"),
    start: str = typer.Option(None, help="first origin: timestamp or row (default: start of the test span)"),
    stride: int = typer.Option(1, min=1, help="rows between origins"),
    refit: bool = typer.Option(False, help="retrain the RNN before every origin (slow: use a large stride)"),
    last_points_only: bool = typer.Option(False, help="score only the H-th step of each forecast (Darts' default)"),
    baselines: str = typer.Option("naive,seasonal_naive,holt_winters,arima", help="comma-separated baselines"),
    baseline_stride: int = typer.Option(1, min=1, help="run Holt-Winters / ARIMA on every k-th origin only"),
    plot: str = typer.Option(None, help="write a PNG of the backtest against actuals here"),
    json_out: str = typer.Option(None, "--json", help="write the metrics as JSON here"),
) -> None:
    """Historical forecasts over the test span, RNN and baselines side by side, metrics as a table."""
    from rnnkit.config import ConfigError
    from rnnkit.data.sources import DataError
    from rnnkit.train import CheckpointError

    try:
        fc = _load(run_dir, csv)
        start_arg = int(start) if start is not None and start.isdigit() else start
        bt = fc.backtest(
            start=start_arg,
            stride=stride,
            refit=refit,
            last_points_only=last_points_only,
            baselines=[b for b in baselines.split(",") if b],
            baseline_stride=baseline_stride,
        )
    except (ConfigError, DataError, CheckpointError, ValueError) as err:
        _fail(err)
    _table(bt.table(), "backtest: " + "; ".join(bt.notes))
    if json_out:
        from rnnkit.config import write_json

        write_json(json_out, {"metrics": bt.metrics, "notes": bt.notes}, indent=2)
    if plot:
        from rnnkit.plots import plot_forecast

        s = fc.series
        H = fc.config.data.horizon
        h = H - 1 if last_points_only else 0  # plot the step that was scored (first step, or the H-th)
        times = s.time[bt.origins + h]
        q = bt.intervals.get("rnn")
        lo = bt.origins[0]
        plot_forecast(
            s.time[max(0, lo - 4 * H) : lo],
            s.targets[max(0, lo - 4 * H) : lo, 0],
            plot,
            forecast_time=times,
            forecast=bt.forecasts["rnn"][:, h, 0],
            lower=q[:, h, 0, 0] if q is not None else None,
            upper=q[:, h, 0, -1] if q is not None else None,
            actual_time=times,
            actual=bt.actual[:, h, 0],
            title=f"backtest, {h + 1}-step-ahead forecasts",
        )
        typer.echo(f"plot: {plot}")
