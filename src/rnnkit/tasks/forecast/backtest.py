"""Backtests: historical forecasts of a trained ``Forecaster`` from many origins, beside the baselines.

From every origin ``t`` (every ``stride`` rows from ``start``) the RNN forecasts ``[t, t + H)`` from the rows
before ``t`` only (a test corrupts the future and checks the forecast does not move). ``refit=True`` retrains
a fresh copy on ``[0, t)`` before each origin (slow: use a large stride). ``last_points_only`` scores only the
H-th step of each forecast (Darts' default). Statistical baselines run on every ``baseline_stride``-th origin
(they refit at each origin; ``max_history`` caps their history) and the RNN is then also scored on the same
origins (``rnn@<baseline>``). MASE is scaled by the in-sample seasonal naive of the training rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rnnkit.data import timeseries as tsd
from rnnkit.data.sources import DataError
from rnnkit.tasks.forecast import metrics as fm
from rnnkit.tasks.forecast.baselines import BASELINES, baseline_forecast
from rnnkit.tasks.forecast.windowing import origins

if TYPE_CHECKING:
    from rnnkit.tasks.forecast.task import Forecaster


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


def run_backtest(
    fc: Forecaster,
    series: tsd.TimeSeries,
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
    """See the module docstring; ``start`` defaults to the test span's first row, ``end`` to the span's end."""
    d = fc.config.data
    L, H = d.input_length, d.horizon
    sp = fc.split_of(series)
    first = sp.val_end if start is None else (series.index_of(start) if not isinstance(start, int) else start)
    last_end = sp.total if end is None else end
    if first < L:
        raise DataError(f"backtest start row {first} leaves fewer than input_length={L} rows of history")
    t = origins(first - L, last_end, L, H, stride=stride)
    actual = np.stack([series.targets[i : i + H] for i in t])  # (N, H, C)
    point = np.empty_like(actual)
    qs_all, gauss = None, None  # gauss: (mu, sigma) on the original scale, for the closed-form CRPS
    if refit:
        for k, ti in enumerate(t):
            other = fc.refit_copy(series, int(ti))
            v, _, f = other._scaled(series)
            p, qk, q = other._to_original(other._forecast(v, f, t[k : k + 1]))
            point[k] = p[0]
            if qk is not None:
                qs_all = qs_all if qs_all is not None else np.empty(actual.shape + (len(q),))
                qs_all[k] = qk[0]
    else:
        v, _, f = fc._scaled(series)
        params = fc._forecast(v, f, t)
        point, qs_all, q = fc._to_original(params)
        if fc.config.model.likelihood == "gaussian":
            C = params.shape[2]
            mu_s, sig_s = params[..., 0], params[..., 1]
            assert fc.scaler is not None  # a trained forecaster's (_scaled used it above)
            loc, scale = fc.scaler.fitted()
            gauss = (mu_s * scale[:C] + loc[:C], sig_s * scale[:C])
    q = tuple(fc.config.model.quantiles) if qs_all is not None else ()
    insample = series.targets[: sp.train_end]
    sel = (slice(None), slice(H - 1, H)) if last_points_only else (slice(None),)
    season = fc.season

    def score(forecast: np.ndarray, rows: np.ndarray) -> dict[str, float]:
        return fm.point_metrics(actual[rows][sel], forecast[rows][sel], insample=insample, season=season)

    forecasts = {"rnn": point}
    all_rows = np.arange(len(t))
    metrics = {"rnn": score(point, all_rows)}
    if qs_all is not None:
        metrics["rnn"]["pinball"] = fm.pinball(actual[sel], qs_all[sel], q)
    if gauss is not None and d.transform == "none":
        metrics["rnn"]["CRPS"] = fm.crps_gaussian(actual[sel], gauss[0][sel], gauss[1][sel])
    notes = [f"{len(t)} origins from {series.time[t[0]]} every {stride} rows, horizon {H}, season {season}"]
    for name in baselines:
        bstride = 1 if name in ("naive", "seasonal_naive") else max(1, baseline_stride)
        rows = all_rows[::bstride]
        fc_b = np.full_like(actual, np.nan)
        for r in rows:
            fc_b[r] = baseline_forecast(name, series.targets[: t[r]], H, season=season, max_history=max_history)
        forecasts[name] = fc_b
        metrics[name] = score(fc_b, rows)
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
