"""Forecasting on the Task contract: ``Forecaster`` composes the series, the scaler and ``ForecastNet``; the base
``Task`` fits, saves, loads and reports it, and ``rnnkit forecast train|eval|predict|backtest`` comes from the
CLI factory (``backtest`` is the task's own verb, in ``cli.py``).

    fc = Forecaster(ForecastConfig(data=ForecastDataConfig(path="sales.csv", targets=("sales",))))
    fc.fit()                                   # Task.fit: validation tail, early stopping, best by val_MAE
    fc.predict()                               # DataFrame: the next H steps after the series, with intervals
    fc = Forecaster.load("runs/forecast")      # config.json + task.json (scaler, columns, split) + best weights
    fc.predict("newer.csv")                    # after the end of another file with the same columns
    print(fc.backtest(start="1959-01").to_frame())   # RNN and baselines from the same origins

Rows of the series: training ``[0, a)``, validation ``[a, b)``, test ``[b, end)`` (a ``Split(a, b, end)``; how
``data.py`` chooses them is its docstring). The scaler (and the log transform's input check) sees rows ``[0, a)``
only; training windows lie wholly inside them (``windowing.origins``). Season, horizon and input length default
from the frequency (``rnnkit.data.timeparse``); every decision is a line of ``Splits.notes``, printed by the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from rnnkit.config import ConfigError
from rnnkit.data import timeseries as tsd
from rnnkit.data.sources import DataError
from rnnkit.tasks.base import Splits, Task
from rnnkit.tasks.forecast import data as fdata
from rnnkit.tasks.forecast import metrics as fm
from rnnkit.tasks.forecast.backtest import Backtest, run_backtest
from rnnkit.tasks.forecast.baselines import BASELINES
from rnnkit.tasks.forecast.config import ForecastConfig, ForecastDataConfig, ForecastModelConfig
from rnnkit.tasks.forecast.data import Span, WindowBatches
from rnnkit.tasks.forecast.model import ForecastNet, forecast_loss
from rnnkit.tasks.forecast.windowing import Scaler, Split, origins

# --------------------------------------------------------------------------------------------- training step


def _step(model, batch, state):
    """One forward + loss for fit(): teacher forcing for the autoregressive decoder in training mode only.

    The recurrent decoder trains on next-step predictions at every step of the window (``sequence``) and is
    evaluated, like the others, on its free-running H-step forecast.
    """
    from rnnkit.train import StepOutput, unwrap

    x, f, y = batch
    net = unwrap(model)
    assert isinstance(net, ForecastNet), type(net)  # fit trains what build_model gave
    if model.training and net.decoder_kind == "recurrent":
        params, target = net.sequence(x, f, y)  # (N, S, C, K), (N, S, C) with S = window steps
        return StepOutput(forecast_loss(net, params, target), None, x.shape[0])
    teacher = y if (model.training and net.decoder_kind == "autoregressive") else None
    params = model(x, f, teacher)  # (N, H, C, K)
    return StepOutput(forecast_loss(net, params, y), None, x.shape[0])


# --------------------------------------------------------------------------------------------- task


class Forecaster(Task):
    """Train, predict, evaluate and backtest an RNN forecaster (see the module docstring)."""

    name = "forecast"
    Config = ForecastConfig
    legacy_task_files = ("forecast.json",)  # runs written before the Task contract

    def __init__(self, config: ForecastConfig | None = None, *, series: tsd.TimeSeries | None = None) -> None:
        super().__init__(config)
        self.series = series  # the run's series (given, or read from config.data on first use)
        self.scaler: Scaler | None = None
        self.split: Split | None = None  # rows of the run's series: train / validation / test
        self.columns: dict[str, Any] = {}  # target, past and future names, encoder inputs, frequency
        self._season = 0  # resolved seasonal period (0: not yet)

    # ---------------------------------------------------------------- data
    def read_series(self, path: str | Path | None = None) -> tsd.TimeSeries:
        """A CSV at ``path`` read as the config reads its data, else the run's series (given, or the configured
        file or dataset)."""
        if path is None and self.series is not None:
            return self.series
        return fdata.read_series(self.config.data, path)

    def load_data(self) -> Splits:
        """The series, its season / horizon / input length (defaults from the frequency) and its spans."""
        series = self.series = self.read_series()
        notes = list(series.notes)
        self._season = self._season or self.season
        self.config = replace(self.config, data=fdata.resolve_windows(self.config.data, series, self._season, notes))
        if self.split is None or self.split.total != len(series):  # else a loaded run: its own split
            self.split = self.spans(series, notes)
        sp, d = self.split, self.config.data
        if sp.train_end < d.input_length + d.horizon:
            raise DataError(
                f"too few points: the training span has {sp.train_end} rows but input_length {d.input_length} + "
                f"horizon {d.horizon} are needed for one window; use --input-length / --horizon, or a later "
                f"--train-end"
            )
        val = Span(series, sp.train_end, sp.val_end) if sp.val_end > sp.train_end else None
        test = Span(series, sp.val_end, sp.total) if sp.total - sp.val_end >= d.horizon else None
        return Splits(Span(series, 0, sp.train_end), val, test, notes)

    @property
    def season(self) -> int:
        """Seasonal period: data.season, else the dataset's, else the frequency's (hourly 24, daily 7, ...)."""
        return self._season or fdata.season_of(self.config.data, self.series.freq if self.series is not None else None)

    def spans(self, series: tsd.TimeSeries, notes: list[str] | None = None, *, horizon: int = 0) -> Split:
        """Training / validation / test rows of ``series`` by the config (``data.split_rows``)."""
        return fdata.split_rows(self.config.data, series, horizon=horizon, notes=notes)

    def describe_data(self, splits: Splits) -> str:
        s, d = splits.train.series, self.config.data
        where = d.path or d.dataset or "the given series"
        return f"{where}: {len(s):,} rows of {', '.join(s.target_names)} from {s.time[0]} to {s.time[-1]}"

    def _scaled(self, series: tsd.TimeSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scaled encoder inputs (T, D), targets (T, C), future covariates (T, F) with the run's scaler."""
        assert self.scaler is not None, "prepare (fit) or load_state_dict (load) sets it"
        return fdata.scaled(series, self.scaler, self.config.data.transform)

    def _to_original(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, tuple[float, ...]]:
        """Scaled parameters (N, H, C, K) -> point (N, H, C) and quantiles (N, H, C, Q) on the original scale."""
        assert self.scaler is not None, "prepare (fit) or load_state_dict (load) sets it"
        return fdata.to_original(params, self.scaler, self.config.model, self.config.data.transform)

    # ---------------------------------------------------------------- what the base trains
    def fit(self, train: Span | None = None, val: Span | None = None, **kw: Any) -> Any:
        """``Task.fit``; without ``train`` the configured data are read first, so the resolved horizon and input
        length are the ones saved in config.json."""
        if train is None:
            splits = self.load_data()
            train, val = splits.train, val if val is not None else splits.val
        return super().fit(train, val, **kw)

    def prepare(self, train: Span) -> None:
        """Scaler on the training rows only; column names and shapes for build_model and task.json."""
        series, d = train.series, self.config.data
        self.series = series
        if d.training_length and self.config.model.decoder != "recurrent":
            raise ConfigError(
                f"config data.training_length applies to model.decoder='recurrent' only, got decoder="
                f"{self.config.model.decoder!r}: leave training_length at 0"
            )
        self.scaler = fdata.fit_scaler(d, series, train.hi)  # training rows only
        self.columns = {
            "target_names": series.target_names,
            "past_names": series.past_names,
            "future_names": series.future_names,
            "n_inputs": int(series.inputs().shape[1]),
            "freq": series.freq,
        }

    def build_model(self) -> ForecastNet:
        c = self.columns
        return ForecastNet.from_config(
            self.config.model,
            n_inputs=c["n_inputs"],
            n_targets=len(c["target_names"]),
            n_future=len(c["future_names"]),
            horizon=self.config.data.horizon,
            season=self.season,
        )

    def make_batches(self, train: Span, val: Span | None) -> tuple[WindowBatches, WindowBatches | None]:
        recurrent, seed = self.config.model.decoder == "recurrent", self.config.train.seed
        scaled = self._scaled(train.series)
        return fdata.window_batches(self.config.data, scaled, train, val, recurrent=recurrent, seed=seed)

    step = staticmethod(_step)

    def val_metrics(self, val: Span | None) -> Any:
        """``val_MAE``: the mean absolute error of every validation forecast on the original scale (picks ``best``)."""
        if val is None or len(val) < self.config.data.horizon:
            return None
        L, H = self.config.data.input_length, self.config.data.horizon
        v, _, f = self._scaled(val.series)
        t = origins(max(0, val.lo - L), val.hi, L, H)
        actual = np.stack([val.series.targets[i : i + H] for i in t])  # (N, H, C)

        def score(model: nn.Module) -> dict[str, float]:
            was = model.training
            point = self._to_original(self._forecast(v, f, t, model=model))[0]
            model.train(was)
            return {"val_MAE": fm.mae(actual, point)}

        return score

    def onnx_spec(self, model: nn.Module, *, exporting: bool) -> Any:
        from rnnkit.tasks.forecast.onnx import forecast_spec

        return forecast_spec(self, model)

    def state_dict(self) -> dict[str, Any]:
        sp, d = self.split, self.config.data
        assert self.scaler is not None, "prepare (fit) or load_state_dict (load) sets it"
        return {
            "scaler": self.scaler.to_dict(),
            **self.columns,
            "season": self.season,
            "horizon": d.horizon,
            "input_length": d.input_length,
            "split": {"train_end": sp.train_end, "val_end": sp.val_end, "total": sp.total} if sp else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """task.json, or forecast.json of a run written before the Task contract (no season: its rule, 1 for CSVs)."""
        self.scaler = Scaler.from_dict(state["scaler"])
        self.columns = {k: state[k] for k in ("target_names", "past_names", "future_names", "n_inputs", "freq")}
        d = self.config.data
        self._season = state.get("season", fdata.season_of(d, None))
        H, L = state.get("horizon", d.horizon), state.get("input_length", d.input_length)
        self.config = replace(self.config, data=replace(d, horizon=H, input_length=L))
        sp = state.get("split")
        self.split = Split(sp["train_end"], sp["val_end"], sp["total"]) if sp else None

    # ---------------------------------------------------------------- inference
    def _series_arg(self, series: tsd.TimeSeries | str | Path | None) -> tsd.TimeSeries:
        """None: the run's series; a path: that CSV read as the run reads its data; checked against the columns."""
        if series is None:
            s = self.series = self.read_series()
        else:
            s = series if isinstance(series, tsd.TimeSeries) else self.read_series(series)
        fdata.check_columns(s, self.columns)
        return s

    def split_of(self, series: tsd.TimeSeries) -> Split:
        """The run's own split for its series (task.json), else the config's rules applied to ``series``."""
        sp = self.split
        return sp if sp is not None and series is self.series and sp.total == len(series) else self.spans(series)

    def _forecast(
        self, v: np.ndarray, f: np.ndarray, t: np.ndarray, batch: int = 512, *, model: nn.Module | None = None
    ) -> np.ndarray:
        """Scaled-space distribution parameters (N, H, C, K) for origins t, given scaled inputs/futures."""
        L, H = self.config.data.input_length, self.config.data.horizon
        net = model if model is not None else self.require_model()
        net.eval()
        dev = next(net.parameters()).device
        out = []
        with self.inference(net):
            for i in range(0, len(t), batch):
                tt = t[i : i + batch]
                x = v[tt[:, None] + np.arange(-L, 0)]  # (n, L, D)
                fut = f[tt[:, None] + np.arange(H)]  # (n, H, F)
                p = net(
                    torch.as_tensor(x, dtype=torch.float32, device=dev),
                    torch.as_tensor(fut, dtype=torch.float32, device=dev),
                )
                out.append(p.double().cpu().numpy())
        return np.concatenate(out, axis=0)

    def predict(
        self, series: tsd.TimeSeries | str | Path | None = None, *, future: np.ndarray | None = None
    ) -> pd.DataFrame:
        """Forecast the ``horizon`` steps after the end of ``series`` (default: the run's; a path: that CSV): one
        row per step and target. Columns: time (or step for freq='rows'), target, forecast, and q<level> per
        quantile when the model is probabilistic. ``future`` (H, F) supplies user-given known-future covariates.
        """
        self.require_model()
        series = self._series_arg(series)
        d = self.config.data
        L, H = d.input_length, d.horizon
        if len(series) < L:
            raise DataError(
                f"too few points: predict needs input_length={L} rows of history, the series has {len(series)}"
            )
        fut = series.future_calendar(H) if future is None else np.asarray(future, dtype=np.float64)
        if fut.shape != (H, series.future.shape[1]):
            raise DataError(f"future covariates must be (horizon={H}, F={series.future.shape[1]}), got {fut.shape}")
        v, _, f = self._scaled(fdata.extended(series, fut))
        point, qs, q = self._to_original(self._forecast(v, f, np.array([len(series)])))
        return fdata.forecast_frame(series, point[0], None if qs is None else qs[0], q)

    def backtest(
        self,
        series: tsd.TimeSeries | str | Path | None = None,
        *,
        start: str | int | None = None,
        end: int | None = None,
        stride: int = 1,
        refit: bool = False,
        last_points_only: bool = False,
        baselines: Sequence[str] = BASELINES,
        baseline_stride: int = 1,
        max_history: int | None = None,
    ) -> Backtest:
        """Historical forecasts from each origin in ``[start, end - H]`` every ``stride`` rows, RNN and baselines
        side by side (``rnnkit.tasks.forecast.backtest.run_backtest`` says how)."""
        self.require_model()
        return run_backtest(
            self,
            self._series_arg(series),
            start=start,
            end=end,
            stride=stride,
            refit=refit,
            last_points_only=last_points_only,
            baselines=baselines,
            baseline_stride=baseline_stride,
            max_history=max_history,
        )

    def refit_copy(self, series: tsd.TimeSeries, train_end: int) -> Forecaster:
        """A fresh forecaster trained on rows ``[0, train_end)`` only, nothing written (backtest ``refit=True``)."""
        other = type(self)(replace(self.config, run_dir=""), series=series)
        other._season = self.season
        other.fit(Span(series, 0, train_end), None)
        return other

    # ---------------------------------------------------------------- what `rnnkit forecast` asks of the task
    def evaluate(self, data: Span | tsd.TimeSeries | str | Path, **_: Any) -> dict[str, Any]:
        """Every forecast from the test span's origins: MAE, RMSE, MAPE, sMAPE, MASE, and naive / seasonal naive
        scored on the same origins (``naive_MAE``, ``seasonal_naive_MASE``, ...)."""
        span = data if isinstance(data, Span) else self.read_eval_data(data)
        bt = self.backtest(span.series, start=span.lo, end=span.hi, baselines=("naive", "seasonal_naive"))
        out: dict[str, Any] = {
            "origins": len(bt.origins),
            "first_origin": str(bt.times[0]),
            "horizon": self.config.data.horizon,
            "season": self.season,
        }
        out.update(bt.metrics["rnn"])
        for name in ("naive", "seasonal_naive"):
            out.update({f"{name}_{k}": bt.metrics[name][k] for k in ("MAE", "RMSE", "MASE")})
        return out

    def read_eval_data(self, path: str | Path | tsd.TimeSeries) -> Span:
        """The test span of another file (or series), split by the run's rules."""
        s = self._series_arg(path)
        sp = self.split_of(s)
        if sp.total - sp.val_end < self.config.data.horizon:
            raise DataError(f"{path}: its test span (rows {sp.val_end}..{sp.total - 1}) is shorter than the horizon")
        return Span(s, sp.val_end, sp.total)

    def test_report(self, splits: Splits) -> dict[str, Any] | None:
        return self.evaluate(splits.test) if splits.test is not None else None

    def read_predict_file(self, path: Path) -> list[Any]:
        return [path]  # `predict RUN --file X.csv` = `predict RUN --data X.csv`


__all__ = ["Backtest", "ForecastConfig", "ForecastDataConfig", "ForecastModelConfig", "Forecaster", "Span"]
