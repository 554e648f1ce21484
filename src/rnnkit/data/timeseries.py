"""Time series for forecasting: reading and validating, and calendar features.

A ``TimeSeries`` is a validated, regular table: a time index, target columns, past covariates (known up
to now) and known-future covariates (known for the horizon too, e.g. calendar features). Reading never
drops, reorders or guesses anything silently: missing values, duplicated / unsorted timestamps, gaps in the
frequency, non-numeric, infinite or absurd (> 1e15) values and dates whose day/month order the data do not
settle raise ``DataError`` naming the column and row, unless the caller asks for a documented repair
(``fill="ffill"|"interpolate"``, ``sort=True``, ``date_format=...``). Rows with missing values before the
series starts (or after it ends) are trimmed. Every repair and choice (time column detected or assembled from
year/month/day/hour columns, date order, rows trimmed, values filled) is a line of ``TimeSeries.notes`` with
its count (``rnnkit.data.timeparse`` reads the time).

Row numbers in messages are 0-based data rows as pandas reads them (the CSV file line is row + 2 when the
file has one header line).

Scalers, spans and windows over a series are in ``rnnkit.tasks.forecast.windowing``; the published datasets in
``rnnkit.tasks.forecast.datasets``.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rnnkit.data.sources import DataError
from rnnkit.data.timeparse import guess_targets, guess_time_columns, parse_time, time_columns

FILLS = (None, "ffill", "interpolate")
ROWS = "rows"  # freq value: one step per row, timestamps only need to increase (trading days)
CALENDAR = {  # name -> (pandas accessor, period): encoded as sin/cos of 2*pi*value/period
    "hour": ("hour", 24),
    "dayofweek": ("day_of_week", 7),
    "dayofmonth": ("day", 31),
    "dayofyear": ("day_of_year", 366),
    "month": ("month", 12),
    "year": ("year", 0),  # not cyclic: the fractional year itself (a trend covariate, as Darts' examples use)
    # one column per value (1..period), as Darts' ``datetime_attribute_timeseries(..., one_hot=True)``: a
    # separate level per month is easier for a small RNN than reading it off a sin/cos pair
    "month_onehot": ("month", 12),
    "dayofweek_onehot": ("day_of_week", 7),
    "hour_onehot": ("hour", 24),
}
ONEHOT_BASE = {"month_onehot": 1, "dayofweek_onehot": 0, "hour_onehot": 0}  # first value of the accessor


@dataclass
class TimeSeries:
    """A regular multivariate series. Arrays are float64, rows are time steps.

    time: the timestamps (T,); freq: pandas offset alias, or ``"rows"`` (one step per row).
    targets (T, C), past (T, P): past covariates, future (T, F): known-future covariates (calendar
    features are the last columns of ``future`` and are extended past the end by ``future_calendar``).
    """

    time: pd.DatetimeIndex
    freq: str
    targets: np.ndarray
    target_names: list[str]
    past: np.ndarray
    past_names: list[str]
    future: np.ndarray
    future_names: list[str]
    calendar: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.time)

    def inputs(self) -> np.ndarray:
        """Encoder inputs per step: targets, past and future covariates side by side (T, C + P + F)."""
        return np.concatenate([self.targets, self.past, self.future], axis=1)

    def index_of(self, when: str | pd.Timestamp | int) -> int:
        """Row index of a timestamp (first row at or after it) or a row number; negative counts from the end."""
        if isinstance(when, (int, np.integer)):
            i = int(when) if when >= 0 else len(self) + int(when)
            if not 0 <= i <= len(self):
                raise ValueError(f"row {when} is outside the series of {len(self)} rows")
            return i
        ts = pd.Timestamp(when)
        i = int(self.time.searchsorted(ts, side="left"))
        if i >= len(self):
            raise ValueError(f"time {ts} is after the last timestamp {self.time[-1]}")
        return i

    def future_time(self, horizon: int) -> pd.DatetimeIndex:
        """The ``horizon`` timestamps after the end (needs a real frequency, not ``"rows"``)."""
        if self.freq == ROWS:
            raise DataError("this series is indexed by rows (freq='rows'): future timestamps are unknown")
        return pd.date_range(self.time[-1], periods=horizon + 1, freq=self.freq)[1:]

    def future_calendar(self, horizon: int) -> np.ndarray:
        """Known-future covariates for the ``horizon`` steps after the end (H, F).

        Only calendar features can be generated; user-given future covariates must be supplied.
        """
        n_user = len(self.future_names) - len(_calendar_names(self.calendar))
        if n_user:
            raise DataError(
                f"the series has {n_user} user-given future covariates ({', '.join(self.future_names[:n_user])}); "
                f"forecasting past the end needs their values: pass them with future_covariates=... (H, F) array"
            )
        if not self.calendar:
            return np.zeros((horizon, 0))
        return calendar_features(self.future_time(horizon), self.calendar)


def calendar_features(time: pd.DatetimeIndex, names: Sequence[str]) -> np.ndarray:
    """Calendar features (T, F): ``sin, cos`` of ``2 pi value / period`` per cyclic name; ``year`` is one column;
    ``*_onehot`` names are ``period`` 0/1 columns."""
    cols = []
    for name in names:
        if name not in CALENDAR:
            raise ValueError(f"unknown calendar feature {name!r}; known: {', '.join(CALENDAR)}")
        attr, period = CALENDAR[name]
        v = np.asarray(getattr(time, attr), dtype=np.float64)
        if name in ONEHOT_BASE:
            cols += list(np.eye(period)[v.astype(int) - ONEHOT_BASE[name]].T)  # period columns (T,)
            continue
        if period == 0:  # year + fraction of the year elapsed; scaled later with the other inputs
            cols.append(v + (np.asarray(time.day_of_year, dtype=np.float64) - 1) / 366)
            continue
        cols += [np.sin(2 * np.pi * v / period), np.cos(2 * np.pi * v / period)]
    return np.stack(cols, axis=1) if cols else np.zeros((len(time), 0))


def _calendar_names(names: Sequence[str]) -> list[str]:
    def parts(n: str) -> list[str]:
        if n in ONEHOT_BASE:
            return [f"{n}_{ONEHOT_BASE[n] + k}" for k in range(CALENDAR[n][1])]
        return [n] if CALENDAR[n][1] == 0 else [f"{n}_sin", f"{n}_cos"]

    return [c for n in names for c in parts(n)]


# ----------------------------------------------------------------------------------------- reading


def read_csv(
    path: str | os.PathLike | io.IOBase,
    *,
    time_col: str,
    targets: Sequence[str] | str,
    past_covariates: Sequence[str] = (),
    future_covariates: Sequence[str] = (),
    freq: str | None = None,
    fill: str | None = None,
    sort: bool = False,
    calendar: Sequence[str] = (),
    date_format: str | None = None,
) -> TimeSeries:
    """Read a CSV into a validated ``TimeSeries`` (see ``from_frame`` for the checks)."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)  # strings: we do the parsing and report rows
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(f"cannot read CSV {path}: {e}") from e
    return from_frame(
        df,
        time_col=time_col,
        targets=targets,
        past_covariates=past_covariates,
        future_covariates=future_covariates,
        freq=freq,
        fill=fill,
        sort=sort,
        calendar=calendar,
        date_format=date_format,
        source=str(path) if isinstance(path, (str, os.PathLike)) else "CSV",
    )


def _parse_numeric(df: pd.DataFrame, col: str, source: str) -> np.ndarray:
    """Column -> float64; a non-numeric cell is an error naming column, row and value; blanks become NaN."""
    raw = df[col]
    if pd.api.types.is_numeric_dtype(raw):
        return _finite(raw.to_numpy(dtype=np.float64), raw, col, source)
    s = raw.astype("string").str.strip()
    missing = s.isna() | s.isin(["", "NA", "NaN", "nan", "null", "None", "?"])
    vals = pd.to_numeric(s.where(~missing), errors="coerce")
    bad = vals.isna() & ~missing
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{source}: column {col!r} row {row} holds {raw.iloc[row]!r}, which is not a number "
            f"({int(bad.sum())} such rows); clean the file or choose another target column"
        )
    return _finite(vals.to_numpy(dtype=np.float64), raw, col, source)


ABSURD = 1e15  # larger magnitudes are taken for sentinels (9.99e30) or unit errors, not measurements


def _finite(v: np.ndarray, raw: pd.Series, col: str, source: str) -> np.ndarray:
    """Refuse inf and absurd magnitudes (NaN is missing, for ``fill``), naming the first row and the count."""
    bad = np.isinf(v) | (np.abs(np.nan_to_num(v)) > ABSURD)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{source}: column {col!r} row {row} holds {raw.iloc[row]!r}, which is not a usable value (infinite "
            f"or beyond {ABSURD:g} in magnitude; {int(bad.sum())} such rows in this column); clean the file, or "
            f"blank those cells and pass fill='interpolate' (--fill)"
        )
    return v


def from_frame(
    df: pd.DataFrame,
    *,
    time_col: str,
    targets: Sequence[str] | str,
    past_covariates: Sequence[str] = (),
    future_covariates: Sequence[str] = (),
    freq: str | None = None,
    fill: str | None = None,
    sort: bool = False,
    calendar: Sequence[str] = (),
    date_format: str | None = None,
    source: str = "DataFrame",
) -> TimeSeries:
    """Validate a DataFrame into a ``TimeSeries``.

    ``time_col``: one column, several joined by commas (``"year,month,day,hour"``), or "" to detect it; no
    ``targets``: the only numeric column. Checks, in order, each raising ``DataError`` naming column and row:
    columns exist; timestamps parse (a day/month order the data do not settle is refused); no duplicated
    timestamps; timestamps increase (or ``sort=True``); values are numeric and finite; leading / trailing rows
    with missing values are trimmed; the frequency (given, else inferred as the most common step) holds on
    every step — gaps are an error unless ``fill`` is set, then the missing rows are inserted and filled; no
    missing values inside unless ``fill`` is set.
    ``freq="rows"`` takes one step per row (trading days) and skips the gap check.
    """
    targets = [targets] if isinstance(targets, str) else list(targets)
    if fill not in FILLS:
        raise DataError(f"fill must be one of None, 'ffill', 'interpolate'; got {fill!r}")
    notes: list[str] = []
    tcols = time_columns(time_col)
    guessed = not tcols
    if guessed:  # a stranger's CSV: the date-like column (or year, month, day, hour columns)
        tcols, note = guess_time_columns(df, source)
        notes.append(note)
    if not targets:  # ... and its only numeric column
        targets, note = guess_targets(df, [*tcols, *past_covariates, *future_covariates], source)
        notes.append(note)
    time_col = ",".join(tcols)
    cols = [*tcols, *targets, *past_covariates, *future_covariates]
    for c in cols:
        if c not in df.columns:
            raise DataError(f"{source}: no column {c!r}; columns are {', '.join(map(str, df.columns))}")
    if len(set(cols)) != len(cols):
        raise DataError(f"{source}: a column is used twice among time/targets/covariates: {cols}")
    cols = [time_col, *cols[len(tcols) :]]

    # --- timestamps: parse (refusing to guess a day/month order), duplicates, order
    time, raw_time, time_notes = parse_time(df, tcols, date_format=date_format, source=source)
    notes += [n for n in time_notes if not (guessed and n.startswith("time from columns"))]  # said once
    bad = time.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{source}: column {time_col!r} row {row}: cannot parse {raw_time.iloc[row]!r} as a timestamp"
            + (f" with format {date_format!r}" if date_format else "; pass date_format=... (e.g. '%Y-%m')")
        )
    dup = time.duplicated(keep="first").to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        first = int(np.flatnonzero((time == time.iloc[row]).to_numpy())[0])
        raise DataError(
            f"{source}: column {time_col!r} row {row}: timestamp {time.iloc[row]} duplicates row {first}; "
            f"remove or aggregate duplicated rows before forecasting"
        )
    down = (time.diff() < pd.Timedelta(0)).to_numpy()
    if down.any():
        row = int(np.flatnonzero(down)[0])
        if not sort:
            raise DataError(
                f"{source}: column {time_col!r} row {row}: timestamp {time.iloc[row]} (from {raw_time.iloc[row]!r}) "
                f"comes before the previous row's {time.iloc[row - 1]} (from {raw_time.iloc[row - 1]!r}). If "
                f"those dates are read wrongly, give their format (date_format, --date-format); only if the file "
                f"really is out of time order, sort=True (--sort) sorts it"
            )
        order = np.argsort(time.to_numpy(), kind="stable")
        df, time = df.iloc[order].reset_index(drop=True), time.iloc[order].reset_index(drop=True)
        notes.append(f"sorted {len(df)} rows by {time_col!r} (sort=True)")
    if len(time) < 2:
        raise DataError(f"{source}: need at least 2 rows, got {len(time)}")

    # --- values: numeric, before any reindexing so rows refer to the input
    values = {c: _parse_numeric(df, c, source) for c in cols[1:]}
    frame = pd.DataFrame(values, index=pd.DatetimeIndex(time, name=time_col))
    input_row = pd.Index(frame.index)  # timestamp -> row of the input, for messages after trimming / reindexing

    # --- missing values at either end: the series starts (ends) at the first (last) row with every value
    complete = frame.notna().all(axis=1).to_numpy()
    if not complete.any():
        raise DataError(f"{source}: no row has a value in every column of {cols[1:]}; check the column names")
    lo, hi = int(np.argmax(complete)), len(frame) - int(np.argmax(complete[::-1]))
    if lo > 0 or hi < len(frame):
        notes.append(
            f"trimmed {lo} leading and {len(frame) - hi} trailing rows with missing values (rows {lo}..{hi - 1} "
            f"kept: {frame.index[lo]} to {frame.index[hi - 1]}, {hi - lo} rows)"
        )
        frame = frame.iloc[lo:hi]
        if len(frame) < 2:
            raise DataError(f"{source}: need at least 2 rows with values, got {len(frame)}")

    # --- frequency
    if freq != ROWS:
        freq = freq or _infer_freq(frame.index, time_col, source)
        try:
            full = pd.date_range(frame.index[0], frame.index[-1], freq=freq)
        except ValueError as e:
            raise DataError(f"{source}: invalid frequency {freq!r}: {e}") from e
        off_grid = ~frame.index.isin(full)
        if off_grid.any():
            row = int(np.flatnonzero(off_grid)[0])
            raise DataError(
                f"{source}: column {time_col!r} row {row}: timestamp {frame.index[row]} is not on the "
                f"{freq!r} grid starting at {frame.index[0]}; pass the right freq=... or resample the data"
            )
        if len(full) != len(frame):
            missing_times = full.difference(frame.index)
            row = int(frame.index.searchsorted(missing_times[0]))
            if fill is None:
                raise DataError(
                    f"{source}: column {time_col!r}: irregular frequency: {len(missing_times)} {freq!r} steps are "
                    f"missing, the first {missing_times[0]} before row {row}; pass fill='ffill' or "
                    f"'interpolate' (--fill) to insert and fill them, or freq='rows' to use one step per row"
                )
            frame = frame.reindex(full)
            notes.append(
                f"inserted {len(missing_times)} missing {freq!r} timestamps (first {missing_times[0]}), "
                f"filled by {fill}"
            )

    # --- missing values inside the series
    for c in cols[1:]:
        nan = frame[c].isna().to_numpy()
        if not nan.any():
            continue
        row = int(np.flatnonzero(nan)[0])
        ts = frame.index[row]
        where = f"row {input_row.get_loc(ts)} ({ts})" if ts in input_row else f"inserted time {ts}"
        if fill is None:
            raise DataError(
                f"{source}: column {c!r} {where} is missing ({int(nan.sum())} missing in this column); pass "
                f"fill='ffill' or 'interpolate' (--fill) or clean the file"
            )
        if fill == "ffill":
            frame[c] = frame[c].ffill()
        else:  # linear in time, as the values would lie on a straight line between neighbours
            frame[c] = frame[c].interpolate(method="time" if freq != ROWS else "linear", limit_area="inside")
        notes.append(f"column {c!r}: filled {int(nan.sum())} missing values by {fill}")

    cal = tuple(calendar)
    if cal and freq == ROWS:
        raise DataError(f"{source}: calendar features need a real frequency, not freq='rows'")
    fut = frame[list(future_covariates)].to_numpy()
    if cal:
        fut = np.concatenate([fut, calendar_features(frame.index, cal)], axis=1)
    return TimeSeries(
        time=frame.index,
        freq=freq,
        targets=frame[targets].to_numpy(),
        target_names=targets,
        past=frame[list(past_covariates)].to_numpy().reshape(len(frame), -1),
        past_names=list(past_covariates),
        future=fut.reshape(len(frame), -1),
        future_names=list(future_covariates) + _calendar_names(cal),
        calendar=cal,
        notes=notes,
    )


def _infer_freq(index: pd.DatetimeIndex, time_col: str, source: str) -> str:
    """pandas' inferred frequency, else the most common step (gaps then show up as missing rows)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces an offset return type; we normalise below
        f = pd.infer_freq(index) if len(index) >= 3 else None
    if f is not None:
        return f if isinstance(f, str) else f.freqstr
    steps = pd.Series(index[1:] - index[:-1])
    step = steps.mode().iloc[0]
    if step % pd.Timedelta(days=1) == pd.Timedelta(0) and step < pd.Timedelta(days=28):
        return "D" if step.days == 1 else f"{step.days}D"
    # Calendar-month/year steps vary in days: recognise them by the day count.
    if pd.Timedelta(days=28) <= step <= pd.Timedelta(days=31) and (index.day == index.day[0]).all():
        return "MS" if index.day[0] == 1 else "ME"
    if pd.Timedelta(days=365) <= step <= pd.Timedelta(days=366):
        return "YS" if (index.day_of_year == 1).all() else "YE"
    try:
        return pd.tseries.frequencies.to_offset(step).freqstr
    except ValueError as e:  # pragma: no cover - every Timedelta has an offset
        raise DataError(f"{source}: cannot infer a frequency from column {time_col!r}; pass freq=...") from e
