"""Which rows of a series train, validate and test.

``train_end`` is where the test span starts (default: 0.8 of the rows, leaving at least a horizon). With
``val_end`` the validation rows are ``[train_end, val_end)`` and the test starts at ``val_end``; without it,
the last ``val_fraction`` of ``[0, train_end)`` (at least a horizon; 0: none) validates, so validation is cut
from training and never from the test. Boundaries are a timestamp (inclusive end), a row count or a fraction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from rnnkit.data import timeseries as tsd
from rnnkit.tasks.forecast.windowing import Split

if TYPE_CHECKING:
    from rnnkit.tasks.forecast.config import ForecastDataConfig


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
