"""Forecasting on the Task contract: ``Forecaster`` composes the series, the scaler and ``ForecastNet``; the base
``Task`` fits, saves, loads and reports it, and ``rnnkit forecast train|eval|predict|backtest`` comes from the
CLI factory (``backtest`` is the task's own verb, in ``cli.py``).

    fc = Forecaster(ForecastConfig(data=ForecastDataConfig(path="sales.csv", targets=("sales",))))
    fc.fit()                                   # Task.fit: validation tail, early stopping, best by val_MAE
    fc.predict()                               # DataFrame: the next H steps after the series, with intervals
    fc = Forecaster.load("runs/forecast")      # config.json + task.json (scaler, columns, split) + best weights
    fc.predict("newer.csv")                    # after the end of another file with the same columns
    print(fc.backtest(start="1959-01").to_frame())   # RNN and baselines from the same origins

Rows of the series: training ``[0, a)``, validation ``[a, b)``, test ``[b, end)`` (a ``Split(a, b, end)``).
``data.val_end`` given: ``a = train_end``, ``b = val_end``; else validation is the last ``data.val_fraction`` of
``[0, train_end)`` (at least a horizon; 0: none) and the test starts at ``train_end``. The scaler (and the log
transform's input check) sees rows ``[0, a)`` only; training windows lie wholly inside them
(``rnnkit.data.timeseries.origins``). Season, horizon and input length default from the frequency
(``rnnkit.data.timeparse``); every decision is a line of ``Splits.notes``, printed by the CLI.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm
from torch import nn

from rnnkit.config import ConfigError
from rnnkit.data import timeseries as tsd
from rnnkit.data.sources import DataError
from rnnkit.data.timeparse import default_windows, season_for
from rnnkit.tasks.base import Splits, Task
from rnnkit.tasks.forecast import datasets as fds
from rnnkit.tasks.forecast import metrics as fm
from rnnkit.tasks.forecast.backtest import Backtest, run_backtest
from rnnkit.tasks.forecast.baselines import BASELINES
from rnnkit.tasks.forecast.config import ForecastConfig, ForecastDataConfig, ForecastModelConfig
from rnnkit.tasks.forecast.model import ForecastNet, forecast_loss
from rnnkit.tasks.forecast.spans import split_rows
from rnnkit.tasks.forecast.windowing import Scaler, Split, origins, windows

MIN_TRAIN_WINDOWS = 8  # a default input length is shortened so that training keeps at least this many windows


# --------------------------------------------------------------------------------------------- batches


class WindowBatches:
    """Training windows in a fresh order every epoch (order depends only on seed + epoch: exact resume)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, f: np.ndarray, *, batch_size: int, shuffle: bool, seed: int = 0):
        self.x, self.y, self.f = (torch.as_tensor(a, dtype=torch.float32) for a in (x, y, f))  # as windows
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def epoch(self, epoch: int, start: int = 0):
        n = len(self.x)
        order = np.random.default_rng(self.seed + epoch).permutation(n) if self.shuffle else np.arange(n)
        for b in range(start, len(self)):
            idx = torch.as_tensor(order[b * self.batch_size : (b + 1) * self.batch_size])
            yield self.x[idx], self.f[idx], self.y[idx]


def _step(model, batch, state):
    """One forward + loss for fit(): teacher forcing for the autoregressive decoder in training mode only.

    The recurrent decoder trains on next-step predictions at every step of the window (``sequence``) and is
    evaluated, like the others, on its free-running H-step forecast.
    """
    from rnnkit.train import StepOutput, unwrap

    x, f, y = batch
    net = unwrap(model)
    if model.training and net.decoder_kind == "recurrent":
        params, target = net.sequence(x, f, y)  # (N, S, C, K), (N, S, C) with S = window steps
        return StepOutput(forecast_loss(net, params, target), None, x.shape[0])
    teacher = y if (model.training and net.decoder_kind == "autoregressive") else None
    params = model(x, f, teacher)  # (N, H, C, K)
    return StepOutput(forecast_loss(net, params, y), None, x.shape[0])


# --------------------------------------------------------------------------------------------- task


@dataclass(frozen=True)
class Span:
    """Rows ``[lo, hi)`` of a series: a training, validation or test part (windows read history before ``lo``)."""

    series: tsd.TimeSeries
    lo: int
    hi: int

    def __len__(self) -> int:
        return self.hi - self.lo


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
        """A CSV at ``path`` read as the config reads its data, else the configured series (file or dataset)."""
        d = self.config.data
        if path is None and self.series is not None:
            return self.series
        if path is not None or d.path:
            return tsd.read_csv(
                path or d.path,
                time_col=d.time_col,
                targets=list(d.targets),
                past_covariates=d.past_covariates,
                future_covariates=d.future_covariates,
                freq=d.freq or None,
                fill=d.fill or None,
                sort=d.sort,
                calendar=d.calendar,
                date_format=d.date_format or None,
            )
        if d.dataset:
            return fds.load_dataset(
                d.dataset,
                data_root=d.data_root,
                targets=list(d.targets) or None,
                past_covariates=d.past_covariates,
                calendar=d.calendar,
                fill=d.fill or "default",
            )
        raise ConfigError("config data: give a CSV path (data.path / --data) or a dataset (data.dataset / --dataset)")

    def load_data(self) -> Splits:
        """The series, its season / horizon / input length (defaults from the frequency) and its spans."""
        series = self.series = self.read_series()
        notes = list(series.notes)
        self._resolve(series, notes)
        own = self.split is not None and self.split.total == len(series)  # a loaded run: its own split
        sp = self.split if own else self.spans(series, notes)
        self.split = sp
        d = self.config.data
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
        d = self.config.data
        if self._season:
            return self._season
        if d.season:
            return d.season
        if d.dataset and not d.path:
            return fds.spec(d.dataset).season
        return season_for(self.series.freq)[0] if self.series is not None else 1

    def _resolve(self, series: tsd.TimeSeries, notes: list[str]) -> None:
        """Season, horizon and input length from the frequency where the config leaves them at 0 (said in notes)."""
        d = self.config.data
        _, label = season_for(series.freq)
        if not self._season:
            self._season = self.season
        why = ("data.season" if d.season else "the dataset's") if (d.season or (d.dataset and not d.path)) else label
        notes.append(f"frequency {series.freq!r}: season {self._season} ({why}; --season to change)")
        H0, L0 = default_windows(series.freq)
        H, L = d.horizon or min(H0, max(1, len(series) // 10)), d.input_length or L0  # a short test span holds 2 H
        if not d.input_length:  # keep MIN_TRAIN_WINDOWS training windows on short series
            a = self.spans(series, [], horizon=H).train_end
            L = max(1, min(L, a - H - MIN_TRAIN_WINDOWS + 1))
        if not d.horizon:
            short = f", shortened from {H0} for a series of {len(series)} rows" if H < H0 else ""
            notes.append(f"horizon {H} (the default for {label} data{short}; --horizon to change)")
        if not d.input_length:
            short = f", shortened from {L0} to keep {MIN_TRAIN_WINDOWS} training windows" if L < L0 else ""
            notes.append(f"input length {L} (the default for {label} data{short}; --input-length to change)")
        if d.path:  # detected columns are saved, so `eval/predict --data` read the same ones
            d = replace(
                d, time_col=d.time_col or str(series.time.name), targets=d.targets or tuple(series.target_names)
            )
        self.config = replace(self.config, data=replace(d, horizon=H, input_length=L))

    def spans(self, series: tsd.TimeSeries, notes: list[str] | None = None, *, horizon: int = 0) -> Split:
        """Training / validation / test rows of ``series`` by the config (``spans.split_rows``)."""
        return split_rows(self.config.data, series, horizon=horizon, notes=notes)

    def describe_data(self, splits: Splits) -> str:
        s, d = splits.train.series, self.config.data
        where = d.path or d.dataset or "the given series"
        return f"{where}: {len(s):,} rows of {', '.join(s.target_names)} from {s.time[0]} to {s.time[-1]}"

    def _transform(self, v: np.ndarray, C: int) -> np.ndarray:
        """Optional log of the target columns (first C), before scaling."""
        if self.config.data.transform != "log":
            return v
        if np.any(v[:, :C] <= 0):
            row, col = np.argwhere(v[:, :C] <= 0)[0]
            raise DataError(f"transform='log' needs positive targets; target {col} row {row} is {v[row, col]}")
        out = v.copy()
        out[:, :C] = np.log(v[:, :C])
        return out

    def _untransform(self, y: np.ndarray) -> np.ndarray:
        return np.exp(y) if self.config.data.transform == "log" else y

    def _scaled(self, series: tsd.TimeSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scaled encoder inputs (T, D), targets (T, C), future covariates (T, F) with the fitted scaler."""
        C, F = series.targets.shape[1], series.future.shape[1]
        v = self.scaler.transform(self._transform(series.inputs(), C))  # (T, D)
        return v, v[:, :C], v[:, v.shape[1] - F :]

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
        C = series.targets.shape[1]
        self.scaler = Scaler(d.scaler).fit(self._transform(series.inputs()[: train.hi], C))  # train rows only
        if d.calendar_span:
            self._scale_calendar_over_span(series)
        self.columns = {
            "target_names": series.target_names,
            "past_names": series.past_names,
            "future_names": series.future_names,
            "n_inputs": int(series.inputs().shape[1]),
            "freq": series.freq,
        }

    def _scale_calendar_over_span(self, series: tsd.TimeSeries) -> None:
        """Refit the calendar columns' scaling (the last inputs) on ``calendar_span`` generated steps from the start."""
        if series.freq == tsd.ROWS:
            raise DataError("data.calendar_span needs a real frequency, not freq='rows'")
        when = pd.date_range(series.time[0], periods=self.config.data.calendar_span, freq=series.freq)
        cal = tsd.calendar_features(when, series.calendar)  # (span, K)
        sub = Scaler(self.config.data.scaler).fit(cal)
        K = cal.shape[1]
        self.scaler.loc[-K:], self.scaler.scale[-K:] = sub.loc, sub.scale

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
        d, cfg = self.config.data, self.config
        L, H = d.input_length, d.horizon
        v, y, f = self._scaled(train.series)
        # The recurrent decoder's training window is training_length inputs (L_fit history + H - 1 teacher steps).
        L_fit = d.training_length - H + 1 if (d.training_length and cfg.model.decoder == "recurrent") else L
        t_train = origins(0, train.hi, L_fit, H)
        train_b = WindowBatches(
            *windows(v, y, f, t_train, L_fit, H), batch_size=d.batch_size, shuffle=True, seed=cfg.train.seed
        )
        if val is None or len(val) < H:
            return train_b, None
        t_val = origins(max(0, val.lo - L), val.hi, L, H)
        return train_b, WindowBatches(
            *windows(v, y, f, t_val, L, H), batch_size=d.eval_batch_size or 256, shuffle=False
        )

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
        legacy = d.season or (fds.spec(d.dataset).season if d.dataset and not d.path else 1)
        self._season = state.get("season", legacy)
        H, L = state.get("horizon", d.horizon), state.get("input_length", d.input_length)
        self.config = replace(self.config, data=replace(d, horizon=H, input_length=L))
        sp = state.get("split")
        self.split = Split(sp["train_end"], sp["val_end"], sp["total"]) if sp else None

    # ---------------------------------------------------------------- inference
    def _series_arg(self, series: tsd.TimeSeries | str | Path | None) -> tsd.TimeSeries:
        """None: the run's series; a path: that CSV read as the run reads its data; checked against the columns."""
        s = (
            self.read_series()
            if series is None
            else (self.read_series(series) if not isinstance(series, tsd.TimeSeries) else series)
        )
        if series is None:
            self.series = s
        c = self.columns
        if c and (s.target_names != c["target_names"] or s.inputs().shape[1] != c["n_inputs"]):
            raise DataError(
                f"the series has columns {s.target_names + s.past_names + s.future_names} but the model was trained "
                f"on {c['target_names'] + c['past_names'] + c['future_names']}"
            )
        return s

    def split_of(self, series: tsd.TimeSeries) -> Split:
        """The run's own split for its series (task.json), else the config's rules applied to ``series``."""
        own = self.split is not None and series is self.series and self.split.total == len(series)
        return self.split if own else self.spans(series)

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

    def _to_original(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, tuple[float, ...]]:
        """Scaled parameters -> point (N, H, C) and quantiles (N, H, C, Q) on the original scale."""
        C = params.shape[2]
        loc, scale = self.scaler.loc[:C], self.scaler.scale[:C]
        m = self.config.model
        if m.likelihood == "point":
            return self._untransform(params[..., 0] * scale + loc), None, ()
        q = tuple(m.quantiles)
        if m.likelihood == "gaussian":
            mu, sigma = params[..., 0], params[..., 1]
            z = norm.ppf(np.asarray(q))  # (Q,)
            qs = (mu[..., None] + sigma[..., None] * z) * scale[:, None] + loc[:, None]
            return self._untransform(mu * scale + loc), self._untransform(qs), q
        qs = params * scale[:, None] + loc[:, None]
        return self._untransform(qs[..., len(q) // 2]), self._untransform(qs), q

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
        ext = tsd.TimeSeries(
            time=series.time,
            freq=series.freq,
            target_names=series.target_names,
            targets=np.vstack([series.targets, np.ones((H, series.targets.shape[1]))]),  # placeholders, unused
            past=np.vstack([series.past, np.zeros((H, series.past.shape[1]))]),
            past_names=series.past_names,
            future=np.vstack([series.future, fut]),
            future_names=series.future_names,
        )
        v, _, f = self._scaled(ext)
        point, qs, q = self._to_original(self._forecast(v, f, np.array([len(series)])))
        when = series.future_time(H) if series.freq != tsd.ROWS else pd.RangeIndex(len(series), len(series) + H)
        rows = []
        for c, name in enumerate(series.target_names):
            for h in range(H):
                row = {"time": when[h], "target": name, "forecast": point[0, h, c]}
                for k, level in enumerate(q):
                    row[f"q{level:g}"] = qs[0, h, c, k]
                rows.append(row)
        return pd.DataFrame(rows)

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
