"""Forecasting task: ``Forecaster`` composes the series, the scaler, ``ForecastNet`` and ``rnnkit.train.fit``.

    fc = Forecaster(ForecastConfig(data=ForecastDataConfig(dataset="airline-passengers", horizon=6)))
    fc.fit()                                   # through rnnkit.train.fit; run folder if config.run_dir
    fc.predict()                               # DataFrame: the next H steps with intervals
    bt = fc.backtest(start="1959-01")          # historical forecasts + baselines side by side
    print(bt.table())

Spans (rows of the series): train ``[0, train_end)``, validation ``[train_end, val_end)``, test
``[val_end, test_end)``. The scaler (and the optional log transform's input check) sees the training span
only; training windows lie wholly inside it (see ``rnnkit.data.timeseries.origins``).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm

from rnnkit.config import ConfigError, DataConfig, ModelConfig, RunConfig, TrainConfig, load_config, write_json
from rnnkit.data import timeseries as tsd
from rnnkit.data.sources import DataError
from rnnkit.models.forecast import DECODERS, LIKELIHOODS, ForecastNet, forecast_loss
from rnnkit.registry import register_task
from rnnkit.tasks import forecast_metrics as fm
from rnnkit.tasks.forecast_baselines import BASELINES, baseline_forecast

STATE_FILE = "forecast.json"  # scaler + series metadata beside the checkpoint (JSON, no pickle)


# --------------------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class ForecastDataConfig(DataConfig):
    """The series and its spans. Span boundaries: a timestamp (inclusive end), a row count, or a fraction."""

    time_col: str = ""  # "" : the dataset's; required for a CSV path
    targets: tuple[str, ...] = ()  # "" : the dataset's default target
    past_covariates: tuple[str, ...] = ()
    future_covariates: tuple[str, ...] = ()
    calendar: tuple[str, ...] = ()  # generated known-future features: month, dayofweek, hour, ...
    freq: str = ""  # "" : inferred (datasets: their own); "rows": one step per row
    fill: str = ""  # "" : missing values / gaps are errors; "ffill" | "interpolate"
    sort: bool = False
    date_format: str = ""
    input_length: int = 24
    horizon: int = 6
    # decoder='recurrent': input steps per teacher-forced training window; 0: input_length + horizon - 1
    training_length: int = 0
    scaler: str = "standard"  # standard | minmax | none, fitted on the training span
    # >0: fit the calendar features' scaling over this many steps from the series start instead (Darts'
    # examples scale their year covariate over 1000 steps); calendar values are known in advance, no leak
    calendar_span: int = 0
    transform: str = "none"  # none | log (targets must be > 0; forecasts are exp'd back)
    train_end: str = "0.7"
    val_end: str = ""  # "" : no validation span
    test_end: str = ""  # "" : end of the series
    season: int = 0  # seasonal period for seasonal naive / MASE; 0: the dataset's, else 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.input_length <= 0 or self.horizon <= 0:
            raise ConfigError(
                f"config data.input_length and data.horizon must be > 0, got {self.input_length}, {self.horizon}"
            )
        if self.training_length < 0 or 0 < self.training_length < self.horizon:
            raise ConfigError(
                f"config data.training_length must be 0 (default) or >= horizon={self.horizon}, got "
                f"{self.training_length}"
            )
        if self.calendar_span < 0 or (self.calendar_span and not self.calendar):
            raise ConfigError(
                f"config data.calendar_span must be 0, or > 0 with calendar features, got {self.calendar_span} with "
                f"calendar={self.calendar}"
            )
        if self.scaler not in ("standard", "minmax", "none"):
            raise ConfigError(f"config data.scaler: must be 'standard', 'minmax' or 'none', got {self.scaler!r}")
        if self.transform not in ("none", "log"):
            raise ConfigError(f"config data.transform: must be 'none' or 'log', got {self.transform!r}")
        if self.fill not in ("", "ffill", "interpolate"):
            raise ConfigError(f"config data.fill: must be '', 'ffill' or 'interpolate', got {self.fill!r}")


@dataclass(frozen=True)
class ForecastModelConfig(ModelConfig):
    hidden_size: int = 64
    # direct | autoregressive | recurrent (one RNN, next-step teacher forcing, as Darts' RNNModel)
    decoder: str = "direct"
    likelihood: str = "point"  # point (MSE) | gaussian (NLL) | quantile (pinball)
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    anchor: str = "last"  # none | last (change from the last value) | seasonal (residual of seasonal naive + drift)
    relative: bool = True  # with an anchor, feed target levels relative to the last value (level-invariant)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.decoder not in DECODERS:
            raise ConfigError(f"config model.decoder: must be one of {DECODERS}, got {self.decoder!r}")
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"config model.likelihood: must be one of {LIKELIHOODS}, got {self.likelihood!r}")


@dataclass(frozen=True)
class ForecastConfig(RunConfig):
    task: str = "forecast"
    run_dir: str = ""  # "" : nothing written
    model: ForecastModelConfig = field(default_factory=ForecastModelConfig)
    data: ForecastDataConfig = field(default_factory=ForecastDataConfig)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(epochs=50, lr=3e-3, unit="samples", log_every=20, patience=10)
    )


# --------------------------------------------------------------------------------------------- batches


class WindowBatches:
    """Training windows in a fresh order every epoch (order depends only on seed + epoch: exact resume)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, f: np.ndarray, *, batch_size: int, shuffle: bool, seed: int = 0):
        self.x, self.y, self.f = (torch.as_tensor(a, dtype=torch.float32) for a in (x, y, f))  # as tsd.windows
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


# --------------------------------------------------------------------------------------------- results


@dataclass
class Backtest:
    """Historical forecasts from many origins, with every model's forecasts and metrics on the same origins."""

    origins: np.ndarray  # (N,) row index of each forecast's first step
    times: pd.DatetimeIndex  # (N,) timestamp of each origin
    actual: np.ndarray  # (N, H, C) original scale
    forecasts: dict[str, np.ndarray]  # model name -> (N, H, C)
    metrics: dict[str, dict[str, float]]  # model name -> metric -> value
    intervals: dict[str, np.ndarray] = field(default_factory=dict)  # "rnn" -> (N, H, C, Q) quantiles
    quantiles: tuple[float, ...] = ()
    notes: list[str] = field(default_factory=list)

    def table(self) -> list[dict[str, float | str]]:
        """Rows for printing: one per model, columns = metrics."""
        return [{"model": name, **m} for name, m in self.metrics.items()]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.table()).set_index("model")


# --------------------------------------------------------------------------------------------- task


@register_task("forecast")
class Forecaster:
    """Train, predict and backtest an RNN forecaster (see module docstring)."""

    def __init__(self, config: ForecastConfig | None = None, *, series: tsd.TimeSeries | None = None) -> None:
        self.config = config or ForecastConfig()
        self.series = series
        self.model: ForecastNet | None = None
        self.scaler: tsd.Scaler | None = None
        self.result = None

    # ---------------------------------------------------------------- data
    def load_series(self) -> tsd.TimeSeries:
        """The series named by the config (a CSV path or a known dataset), validated."""
        d = self.config.data
        if self.series is not None:
            return self.series
        if d.path:
            if not d.time_col or not d.targets:
                raise ConfigError(
                    "config data.time_col and data.targets are required with a CSV path (--time-col, --target)"
                )
            self.series = tsd.read_csv(
                d.path,
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
        elif d.dataset:
            self.series = tsd.load_dataset(
                d.dataset,
                data_root=d.data_root,
                targets=list(d.targets) or None,
                past_covariates=d.past_covariates,
                calendar=d.calendar,
                fill=d.fill or "default",
            )
        else:
            raise ConfigError(
                "config data: give a CSV path (data.path / --csv) or a dataset (data.dataset / --dataset)"
            )
        return self.series

    @property
    def season(self) -> int:
        d = self.config.data
        if d.season:
            return d.season
        return tsd.spec(d.dataset).season if d.dataset and not d.path else 1

    def boundary(self, spec: str, series: tsd.TimeSeries, default: int) -> int:
        """Row boundary from a config string: '' -> default; '0.7' fraction; '8640' rows; '1959-01' inclusive end."""
        if spec == "":
            return default
        try:
            v = float(spec)
        except ValueError:
            v = None
        if v is not None and ("." in spec and 0 < v < 1):
            return int(len(series) * v)
        if v is not None and v.is_integer():
            return min(int(v), len(series))
        ts = pd.Timestamp(spec)
        return int(series.time.searchsorted(ts, side="right"))  # rows with time <= spec

    def spans(self, series: tsd.TimeSeries) -> tsd.Split:
        d = self.config.data
        train_end = self.boundary(d.train_end, series, int(0.7 * len(series)))
        val_end = self.boundary(d.val_end, series, train_end)
        return tsd.Split(train_end, val_end, self.boundary(d.test_end, series, len(series)))

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

    def _scale_calendar_over_span(self, series: tsd.TimeSeries) -> None:
        """Refit the calendar columns' scaling (the last inputs) on ``calendar_span`` generated steps from the start."""
        if series.freq == tsd.ROWS:
            raise DataError("data.calendar_span needs a real frequency, not freq='rows'")
        when = pd.date_range(series.time[0], periods=self.config.data.calendar_span, freq=series.freq)
        cal = tsd.calendar_features(when, series.calendar)  # (span, K)
        sub = tsd.Scaler(self.config.data.scaler).fit(cal)
        K = cal.shape[1]
        self.scaler.loc[-K:], self.scaler.scale[-K:] = sub.loc, sub.scale

    def _scaled(self, series: tsd.TimeSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scaled encoder inputs (T, D), targets (T, C), future covariates (T, F) with the fitted scaler."""
        C, F = series.targets.shape[1], series.future.shape[1]
        v = self.scaler.transform(self._transform(series.inputs(), C))  # (T, D)
        return v, v[:, :C], v[:, v.shape[1] - F :]

    # ---------------------------------------------------------------- fit
    def build_model(self, series: tsd.TimeSeries) -> ForecastNet:
        m, d = self.config.model, self.config.data
        return ForecastNet(
            n_inputs=series.inputs().shape[1],
            n_targets=series.targets.shape[1],
            n_future=series.future.shape[1],
            horizon=d.horizon,
            cell=m.cell.name,
            options=m.cell.options(),
            hidden_size=m.hidden_size,
            num_layers=m.num_layers,
            dropout=m.dropout,
            weight_drop=m.weight_drop,
            decoder=m.decoder,
            likelihood=m.likelihood,
            quantiles=m.quantiles,
            anchor=m.anchor,
            season=self.season,
            relative=m.relative,
            impl=m.impl,
        )

    def fit(
        self,
        series: tsd.TimeSeries | None = None,
        *,
        train_end: int | None = None,
        callbacks: Sequence = (),
        resume: bool = False,
    ):
        """Fit the scaler on the training span and train through ``rnnkit.train.fit``; returns its FitResult.
        ``resume``: continue from ``config.run_dir``'s last checkpoint (the scaler is refit on the same span)."""
        from rnnkit.train import fit, seed_everything

        if resume and not self.config.run_dir:
            raise ConfigError("resume needs config.run_dir: the run folder whose last checkpoint to continue")

        series = series or self.load_series()
        self.series = series
        d, cfg = self.config.data, self.config
        sp = self.spans(series)
        if train_end is not None:  # refit inside a backtest: train on everything before the origin
            sp = tsd.Split(train_end, train_end, len(series))
        L, H = d.input_length, d.horizon
        C = series.targets.shape[1]
        self.scaler = tsd.Scaler(d.scaler).fit(self._transform(series.inputs()[: sp.train_end], C))  # train only
        if d.calendar_span:
            self._scale_calendar_over_span(series)
        v, y, f = self._scaled(series)
        # The recurrent decoder's training window is training_length inputs (L_fit history + H - 1 teacher steps).
        L_fit = d.training_length - H + 1 if (d.training_length and self.config.model.decoder == "recurrent") else L
        if d.training_length and self.config.model.decoder != "recurrent":
            raise ConfigError(
                f"config data.training_length applies to model.decoder='recurrent' only, got decoder="
                f"{self.config.model.decoder!r}: leave training_length at 0"
            )
        t_train = tsd.origins(0, sp.train_end, L_fit, H)
        seed_everything(cfg.train.seed)
        self.model = self.build_model(series)
        train = WindowBatches(
            *tsd.windows(v, y, f, t_train, L_fit, H), batch_size=d.batch_size, shuffle=True, seed=cfg.train.seed
        )
        val, extra = None, list(callbacks)
        if sp.val_end > sp.train_end:
            t_val = tsd.origins(max(0, sp.train_end - L), sp.val_end, L, H)
            val = WindowBatches(*tsd.windows(v, y, f, t_val, L, H), batch_size=d.eval_batch_size or 256, shuffle=False)
        # With a validation span we keep the best checkpoint; without a run folder it lives in a temp folder.
        tmp = tempfile.TemporaryDirectory(prefix="rnnkit-forecast-") if (val is not None and not cfg.run_dir) else None
        run_dir = cfg.run_dir or (tmp.name if tmp else None)
        try:
            self.result = fit(
                self.model,
                _step,
                train,
                config=cfg.train,
                val_data=val,
                run_dir=run_dir,
                callbacks=extra,
                run_config=cfg,
                resume=resume,
            )
            self.model = self.result.model
            if val is not None:  # use the best validation checkpoint, as saved
                from rnnkit.train import load_model

                load_model(run_dir, self.model, which="best")
        finally:
            if tmp is not None:
                tmp.cleanup()
        run_dir = cfg.run_dir or None
        if run_dir:
            self.save_state(run_dir, sp)
        return self.result

    def save_state(self, run_dir: str | Path, sp: tsd.Split) -> Path:
        """Scaler and series metadata as JSON beside the checkpoint (what predict needs besides weights)."""
        s = self.series
        state = {
            "scaler": self.scaler.to_dict(),
            "split": {"train_end": sp.train_end, "val_end": sp.val_end, "total": sp.total},
            "target_names": s.target_names,
            "past_names": s.past_names,
            "future_names": s.future_names,
            "n_inputs": int(s.inputs().shape[1]),
            "freq": s.freq,
        }
        return write_json(Path(run_dir) / STATE_FILE, state, indent=2)

    @classmethod
    def load(cls, run_dir: str | Path, *, series: tsd.TimeSeries | None = None) -> Forecaster:
        """A trained forecaster from a run folder (config.json, forecast.json, best/last checkpoint)."""
        from rnnkit.train import load_model

        run_dir = Path(run_dir)
        if not (run_dir / STATE_FILE).is_file():
            raise DataError(f"{run_dir} has no {STATE_FILE}: it is not a finished forecast run (train one first)")
        cfg = replace(load_config(ForecastConfig, run_dir / "config.json"), run_dir=str(run_dir))
        self = cls(cfg, series=series)
        from rnnkit.config import read_json

        state = read_json(run_dir / STATE_FILE)  # a truncated file: a ConfigError naming it
        series = self.load_series()
        if series.inputs().shape[1] != state["n_inputs"] or series.target_names != state["target_names"]:
            raise DataError(
                f"the series has columns {series.target_names + series.past_names + series.future_names} but the "
                f"model was trained on {state['target_names'] + state['past_names'] + state['future_names']}"
            )
        self.scaler = tsd.Scaler.from_dict(state["scaler"])
        self.model = self.build_model(series)
        load_model(run_dir, self.model, which="best")
        return self

    # ---------------------------------------------------------------- inference
    def _check_ready(self) -> None:
        if self.model is None or self.scaler is None:
            raise RuntimeError("the forecaster is not trained: call fit() or Forecaster.load(run_dir) first")

    @torch.no_grad()
    def _forecast(self, v: np.ndarray, f: np.ndarray, t: np.ndarray, batch: int = 512) -> np.ndarray:
        """Scaled-space distribution parameters (N, H, C, K) for origins t, given scaled inputs/futures."""
        L, H = self.config.data.input_length, self.config.data.horizon
        self.model.eval()
        out = []
        for i in range(0, len(t), batch):
            tt = t[i : i + batch]
            x = v[tt[:, None] + np.arange(-L, 0)]  # (n, L, D)
            fut = f[tt[:, None] + np.arange(H)]  # (n, H, F)
            p = self.model(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(fut, dtype=torch.float32))
            out.append(p.double().numpy())
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

    def predict(self, series: tsd.TimeSeries | None = None, *, future: np.ndarray | None = None) -> pd.DataFrame:
        """Forecast the ``horizon`` steps after the end of ``series``: one row per step and target.

        Columns: time (or step for freq='rows'), target, forecast, and q<level> per quantile when the model
        is probabilistic. ``future`` (H, F) supplies user-given known-future covariates.
        """
        self._check_ready()
        series = series or self.load_series()
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
            targets=np.vstack([series.targets, np.ones((H, series.targets.shape[1]))]),  # placeholders, unused
            target_names=series.target_names,
            past=np.vstack([series.past, np.zeros((H, series.past.shape[1]))]),
            past_names=series.past_names,
            future=np.vstack([series.future, fut]),
            future_names=series.future_names,
        )
        v, _, f = self._scaled(ext)
        params = self._forecast(v, f, np.array([len(series)]))
        point, qs, q = self._to_original(params)
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
        series: tsd.TimeSeries | None = None,
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
        """Historical forecasts: from each origin ``t`` in ``[start, end - H]`` every ``stride`` rows, forecast
        ``[t, t + H)`` from the history before ``t`` only.

        ``start`` defaults to the test span's start; ``refit=True`` retrains the RNN on ``[0, t)`` before each
        origin (slow: use a large stride). ``last_points_only`` scores only the H-th step of each forecast
        (Darts' default). Statistical baselines run on every ``baseline_stride``-th origin (they refit at each
        origin; ``max_history`` caps their history); the RNN is scored on the same origins as each baseline
        (``rnn`` row: all origins).
        """
        self._check_ready()
        series = series or self.load_series()
        d = self.config.data
        L, H = d.input_length, d.horizon
        sp = self.spans(series)
        first = sp.val_end if start is None else (series.index_of(start) if not isinstance(start, int) else start)
        last_end = sp.total if end is None else end
        if first < L:
            raise DataError(f"backtest start row {first} leaves fewer than input_length={L} rows of history")
        t = tsd.origins(first - L, last_end, L, H, stride=stride)
        actual = np.stack([series.targets[i : i + H] for i in t])  # (N, H, C)
        point = np.empty_like(actual)
        qs_all, gauss = None, None  # gauss: (mu, sigma) on the original scale, for the closed-form CRPS
        if refit:
            for k, ti in enumerate(t):
                self.fit(series, train_end=int(ti))
                v, _, f = self._scaled(series)
                p, qk, q = self._to_original(self._forecast(v, f, t[k : k + 1]))
                point[k] = p[0]
                if qk is not None:
                    qs_all = qs_all if qs_all is not None else np.empty(actual.shape + (len(q),))
                    qs_all[k] = qk[0]
        else:
            v, _, f = self._scaled(series)
            params = self._forecast(v, f, t)
            point, qs_all, q = self._to_original(params)
            if self.config.model.likelihood == "gaussian":
                C = params.shape[2]
                mu_s, sig_s = params[..., 0], params[..., 1]
                gauss = (mu_s * self.scaler.scale[:C] + self.scaler.loc[:C], sig_s * self.scaler.scale[:C])
        q = tuple(self.config.model.quantiles) if qs_all is not None else ()
        insample = series.targets[: sp.train_end]
        sel = (slice(None), slice(H - 1, H)) if last_points_only else (slice(None),)

        def score(fc: np.ndarray, rows: np.ndarray) -> dict[str, float]:
            return fm.point_metrics(actual[rows][sel], fc[rows][sel], insample=insample, season=self.season)

        forecasts = {"rnn": point}
        all_rows = np.arange(len(t))
        metrics = {"rnn": score(point, all_rows)}
        if qs_all is not None:
            metrics["rnn"]["pinball"] = fm.pinball(actual[sel], qs_all[sel], q)
        if gauss is not None and self.config.data.transform == "none":
            metrics["rnn"]["CRPS"] = fm.crps_gaussian(actual[sel], gauss[0][sel], gauss[1][sel])
        notes = [f"{len(t)} origins from {series.time[t[0]]} every {stride} rows, horizon {H}"]
        for name in baselines:
            bstride = 1 if name in ("naive", "seasonal_naive") else max(1, baseline_stride)
            rows = all_rows[::bstride]
            fc = np.full_like(actual, np.nan)
            for r in rows:
                fc[r] = baseline_forecast(name, series.targets[: t[r]], H, season=self.season, max_history=max_history)
            forecasts[name] = fc
            metrics[name] = score(fc, rows)
            if bstride > 1:
                metrics[f"rnn@{name}"] = score(point, rows)
                notes.append(f"{name}: {len(rows)} of {len(t)} origins (every {bstride}); rnn@{name} is the RNN there")
        return Backtest(
            origins=t,
            times=pd.DatetimeIndex(series.time[t]),
            actual=actual,
            forecasts=forecasts,
            metrics=metrics,
            intervals={"rnn": qs_all} if qs_all is not None else {},
            quantiles=q,
            notes=notes,
        )
