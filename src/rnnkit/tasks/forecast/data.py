"""The forecaster's data, from ``config.data``: read the series (a CSV or a published dataset), cut it into
training / validation / test rows, resolve the windows' defaults from its frequency, scale it on the training
rows, and batch its windows for ``fit``.

Which rows train, validate and test: ``train_end`` is where the test span starts (default: 0.8 of the rows,
leaving at least a horizon). With ``val_end`` the validation rows are ``[train_end, val_end)`` and the test starts
at ``val_end``; without it, the last ``val_fraction`` of ``[0, train_end)`` (at least a horizon; 0: none)
validates, so validation is cut from training and never from the test. Boundaries are a timestamp (inclusive
end), a row count or a fraction.

Shape letters: T rows, D encoder inputs (targets, past, future covariates), C targets, F known-future covariates,
N windows, L input length, H horizon, K output parameters per target, Q quantiles.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm
from torch import Tensor

from rnnkit.config import ConfigError
from rnnkit.data import timeseries as tsd
from rnnkit.data.sources import DataError
from rnnkit.data.timeparse import default_windows, season_for
from rnnkit.tasks.forecast import datasets as fds
from rnnkit.tasks.forecast.config import ForecastDataConfig, ForecastModelConfig
from rnnkit.tasks.forecast.windowing import Scaler, Split, origins, windows

MIN_TRAIN_WINDOWS = 8  # a default input length is shortened so that training keeps at least this many windows


# --------------------------------------------------------------------------------------------- reading


def read_series(d: ForecastDataConfig, path: str | Path | None = None) -> tsd.TimeSeries:
    """A CSV at ``path`` read as ``d`` reads its data, else the configured series (``d.path`` or ``d.dataset``)."""
    source = path or d.path
    if source:
        return tsd.read_csv(
            source,
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


def check_columns(series: tsd.TimeSeries, columns: dict) -> None:
    """DataError unless ``series`` has the targets and input count a run was trained on (its ``columns``)."""
    c = columns
    if c and (series.target_names != c["target_names"] or series.inputs().shape[1] != c["n_inputs"]):
        raise DataError(
            f"the series has columns {series.target_names + series.past_names + series.future_names} but the model "
            f"was trained on {c['target_names'] + c['past_names'] + c['future_names']}"
        )


# --------------------------------------------------------------------------------------------- spans


@dataclass(frozen=True)
class Span:
    """Rows ``[lo, hi)`` of a series: a training, validation or test part (windows read history before ``lo``)."""

    series: tsd.TimeSeries
    lo: int
    hi: int

    def __len__(self) -> int:
        return self.hi - self.lo


def boundary(spec: str, series: tsd.TimeSeries, default: int) -> int:
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


def split_rows(
    d: ForecastDataConfig, series: tsd.TimeSeries, *, horizon: int = 0, notes: list[str] | None = None
) -> Split:
    """Training / validation / test rows of ``series`` by the data config (see the module docstring); ``horizon``
    stands in for ``d.horizon`` before it is resolved; ``notes`` receives a line saying the three ranges."""
    n = len(series)
    end = boundary(d.test_end, series, n)
    H = horizon or d.horizon
    train_end = boundary(d.train_end, series, min(int(0.8 * n), end - H))
    n_val = round(d.val_fraction * train_end) and max(round(d.val_fraction * train_end), H)
    if d.val_end:
        sp, val = Split(train_end, boundary(d.val_end, series, train_end), end), "validation rows {}..{}"
    else:  # validation cut from the end of the training rows
        n_val = n_val if n_val < train_end else 0
        sp = Split(train_end - n_val, train_end, end)
        val = (
            f"validation rows {{}}..{{}} (the last {n_val} rows of the training span: data.val_fraction "
            f"{d.val_fraction:g}, at least a horizon; --val-end to choose, --val-fraction 0 for none)"
        )
    if notes is not None:
        val = val.format(sp.train_end, sp.val_end - 1) if sp.val_end > sp.train_end else "no validation"
        short = " (shorter than the horizon: nothing to test)" if sp.total - sp.val_end < H else ""
        notes.append(f"training rows 0..{sp.train_end - 1}, {val}, test rows {sp.val_end}..{sp.total - 1}{short}")
    return sp


# --------------------------------------------------------------------------------------------- defaults


def season_of(d: ForecastDataConfig, freq: str | None) -> int:
    """Seasonal period: data.season, else the dataset's, else the frequency's (hourly 24, daily 7, ...); 1 when
    neither a dataset nor a frequency is known (the rule of runs saved before the season was)."""
    if d.season:
        return d.season
    if d.dataset and not d.path:
        return fds.spec(d.dataset).season
    return season_for(freq)[0] if freq is not None else 1


def resolve_windows(d: ForecastDataConfig, series: tsd.TimeSeries, season: int, notes: list[str]) -> ForecastDataConfig:
    """``d`` with the horizon and input length chosen from the frequency where it leaves them at 0, and a CSV's
    detected time and target columns (saved, so `eval/predict --data` read the same ones); each choice a note."""
    _, label = season_for(series.freq)
    why = ("data.season" if d.season else "the dataset's") if (d.season or (d.dataset and not d.path)) else label
    notes.append(f"frequency {series.freq!r}: season {season} ({why}; --season to change)")
    H0, L0 = default_windows(series.freq)
    H, L = d.horizon or min(H0, max(1, len(series) // 10)), d.input_length or L0  # a short test span holds 2 H
    if not d.input_length:  # keep MIN_TRAIN_WINDOWS training windows on short series
        a = split_rows(d, series, horizon=H).train_end
        L = max(1, min(L, a - H - MIN_TRAIN_WINDOWS + 1))
    if not d.horizon:
        short = f", shortened from {H0} for a series of {len(series)} rows" if H < H0 else ""
        notes.append(f"horizon {H} (the default for {label} data{short}; --horizon to change)")
    if not d.input_length:
        short = f", shortened from {L0} to keep {MIN_TRAIN_WINDOWS} training windows" if L < L0 else ""
        notes.append(f"input length {L} (the default for {label} data{short}; --input-length to change)")
    if d.path:
        d = replace(d, time_col=d.time_col or str(series.time.name), targets=d.targets or tuple(series.target_names))
    return replace(d, horizon=H, input_length=L)


# --------------------------------------------------------------------------------------------- scaling


def transform(v: np.ndarray, C: int, kind: str) -> np.ndarray:
    """Optional log (``kind="log"``) of the target columns (the first C of v (T, D)), before scaling."""
    if kind != "log":
        return v
    if np.any(v[:, :C] <= 0):
        row, col = np.argwhere(v[:, :C] <= 0)[0]
        raise DataError(f"transform='log' needs positive targets; target {col} row {row} is {v[row, col]}")
    out = v.copy()
    out[:, :C] = np.log(v[:, :C])
    return out


def untransform(y: np.ndarray, kind: str) -> np.ndarray:
    """Undo ``transform`` on target values of any shape."""
    return np.exp(y) if kind == "log" else y


def fit_scaler(d: ForecastDataConfig, series: tsd.TimeSeries, train_end: int) -> Scaler:
    """The scaler of the encoder inputs, fitted on rows ``[0, train_end)`` only (after the transform); with
    ``calendar_span`` the calendar columns (the last inputs) are scaled over that many generated steps instead."""
    C = series.targets.shape[1]
    scaler = Scaler(d.scaler).fit(transform(series.inputs()[:train_end], C, d.transform))  # train rows only
    if d.calendar_span:
        if series.freq == tsd.ROWS:
            raise DataError("data.calendar_span needs a real frequency, not freq='rows'")
        when = pd.date_range(series.time[0], periods=d.calendar_span, freq=series.freq)
        cal = tsd.calendar_features(when, series.calendar)  # (span, K)
        sub = Scaler(d.scaler).fit(cal)
        K = cal.shape[1]
        loc, scale = scaler.fitted()
        loc[-K:], scale[-K:] = sub.fitted()
    return scaler


def scaled(series: tsd.TimeSeries, scaler: Scaler, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scaled encoder inputs (T, D), targets (T, C), future covariates (T, F) with a fitted scaler."""
    C, F = series.targets.shape[1], series.future.shape[1]
    v = scaler.transform(transform(series.inputs(), C, kind))  # (T, D)
    return v, v[:, :C], v[:, v.shape[1] - F :]


def to_original(
    params: np.ndarray, scaler: Scaler, m: ForecastModelConfig, kind: str
) -> tuple[np.ndarray, np.ndarray | None, tuple[float, ...]]:
    """Scaled distribution parameters (N, H, C, K) -> point (N, H, C), quantiles (N, H, C, Q) or None, and the
    quantile levels, on the original scale (``kind``: the data's transform)."""
    C = params.shape[2]
    loc, scale = scaler.fitted()
    loc, scale = loc[:C], scale[:C]
    if m.likelihood == "point":
        return untransform(params[..., 0] * scale + loc, kind), None, ()
    q = tuple(m.quantiles)
    if m.likelihood == "gaussian":
        mu, sigma = params[..., 0], params[..., 1]
        z = norm.ppf(np.asarray(q))  # (Q,)
        qs = (mu[..., None] + sigma[..., None] * z) * scale[:, None] + loc[:, None]
        return untransform(mu * scale + loc, kind), untransform(qs, kind), q
    qs = params * scale[:, None] + loc[:, None]
    return untransform(qs[..., len(q) // 2], kind), untransform(qs, kind), q


def extended(series: tsd.TimeSeries, future: np.ndarray) -> tsd.TimeSeries:
    """``series`` with the horizon's rows appended: known-future covariates ``future`` (H, F), placeholder
    targets and past covariates (read by no window: they lie after the forecast origin)."""
    H = len(future)
    return tsd.TimeSeries(
        time=series.time,
        freq=series.freq,
        target_names=series.target_names,
        targets=np.vstack([series.targets, np.ones((H, series.targets.shape[1]))]),  # placeholders, unused
        past=np.vstack([series.past, np.zeros((H, series.past.shape[1]))]),
        past_names=series.past_names,
        future=np.vstack([series.future, future]),
        future_names=series.future_names,
    )


def forecast_frame(
    series: tsd.TimeSeries, point: np.ndarray, qs: np.ndarray | None, q: tuple[float, ...]
) -> pd.DataFrame:
    """The forecast of the H steps after ``series`` as a table, one row per step and target: time (the step
    number for freq='rows'), target, forecast (from ``point`` (H, C)) and q<level> per quantile (``qs`` (H, C, Q))."""
    H, n = len(point), len(series)
    when = series.future_time(H) if series.freq != tsd.ROWS else pd.RangeIndex(n, n + H)
    rows = []
    for c, name in enumerate(series.target_names):
        for h in range(H):
            row = {"time": when[h], "target": name, "forecast": point[h, c]}
            for k, level in enumerate(q):
                assert qs is not None  # quantile levels come with their values (to_original)
                row[f"q{level:g}"] = qs[h, c, k]
            rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------- batches


class WindowBatches:
    """Training windows in a fresh order every epoch (order depends only on seed + epoch: exact resume)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, f: np.ndarray, *, batch_size: int, shuffle: bool, seed: int = 0):
        self.x, self.y, self.f = (torch.as_tensor(a, dtype=torch.float32) for a in (x, y, f))  # as windows
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        """Batches ``start..`` of ``epoch``: (x (N, L, D), future (N, H, F), y (N, H, C))."""
        n = len(self.x)
        order = np.random.default_rng(self.seed + epoch).permutation(n) if self.shuffle else np.arange(n)
        for b in range(start, len(self)):
            idx = torch.as_tensor(order[b * self.batch_size : (b + 1) * self.batch_size])
            yield self.x[idx], self.f[idx], self.y[idx]


def window_batches(
    d: ForecastDataConfig,
    scaled_series: tuple[np.ndarray, np.ndarray, np.ndarray],
    train: Span,
    val: Span | None,
    *,
    recurrent: bool,
    seed: int,
) -> tuple[WindowBatches, WindowBatches | None]:
    """Shuffled training windows inside ``train`` and, when the validation span holds a horizon, its windows in
    order (their history may reach back before ``val.lo``). ``recurrent``: the recurrent decoder, whose training
    window is ``data.training_length`` inputs (its history + H - 1 teacher-forced steps) when that is set."""
    L, H = d.input_length, d.horizon
    v, y, f = scaled_series
    L_fit = d.training_length - H + 1 if (d.training_length and recurrent) else L
    t_train = origins(0, train.hi, L_fit, H)
    train_b = WindowBatches(*windows(v, y, f, t_train, L_fit, H), batch_size=d.batch_size, shuffle=True, seed=seed)
    if val is None or len(val) < H:
        return train_b, None
    t_val = origins(max(0, val.lo - L), val.hi, L, H)
    return train_b, WindowBatches(*windows(v, y, f, t_val, L, H), batch_size=d.eval_batch_size or 256, shuffle=False)
