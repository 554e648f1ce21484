"""Timestamps of a forecasting CSV, and what a frequency implies.

* ``parse_time``: one time column, or several (``year,month,day,hour`` as in the UCI Beijing PM2.5 file, or
  ``date,time`` joined with a space); an explicit strftime ``date_format`` wins; without one, numeric
  ``a-b-year`` dates are read only when the data settle which of ``a`` and ``b`` is the day (a value above 12
  somewhere): otherwise the reader refuses and asks for ``date_format`` rather than guess. pandas guesses from
  the first row, and a guessed month-first reading of a day-first file scrambles the series.
* ``season_for(freq)``: the seasonal period of a pandas frequency (hourly 24, daily 7, business-daily 5,
  weekly 52, monthly 12, quarterly 4, yearly 1), used by seasonal naive, MASE and the default windows.
* ``default_windows(label)``: horizon and input length a frequency suggests when the user gives none.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from rnnkit.data.sources import DataError

UNITS = ("year", "month", "day", "hour", "minute", "second")  # column names pandas assembles into a timestamp
_NUMERIC_DATE = r"^\s*(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})(?=$|[ T])"
_TIME_SUFFIXES = ("", " %H:%M", " %H:%M:%S", "T%H:%M:%S", "T%H:%M")


def time_columns(spec: str | tuple[str, ...] | list[str]) -> list[str]:
    """``"year,month,day,hour"`` -> the column names (one name stays one column)."""
    cols = [c.strip() for c in (spec.split(",") if isinstance(spec, str) else spec)]
    return [c for c in cols if c]


def parse_time(
    df: pd.DataFrame, cols: list[str], *, date_format: str | None, source: str
) -> tuple[pd.Series, pd.Series, list[str]]:
    """(timestamps with NaT where a row does not parse, the raw text shown in messages, notes)."""
    if len(cols) > 1 and {c.lower() for c in cols} <= set(UNITS):
        return _from_units(df, cols)
    raw = df[cols[0]].astype(str) if len(cols) == 1 else df[cols].astype(str).agg(" ".join, axis=1)
    notes = [f"time from columns {', '.join(cols)} joined with a space"] if len(cols) > 1 else []
    if date_format:
        return pd.to_datetime(raw, format=date_format, errors="coerce"), raw, notes
    fmt, note = _day_month_format(raw, " + ".join(cols), source)
    if fmt is not None:
        for suffix in _TIME_SUFFIXES:
            t = pd.to_datetime(raw, format=fmt + suffix, errors="coerce")
            if not t.isna().any():
                return t, raw, [*notes, note.replace("FMT", fmt + suffix)]
        t = pd.to_datetime(raw, format="mixed", dayfirst=fmt.startswith("%d"), errors="coerce")
        return t, raw, [*notes, note.replace("FMT", fmt + " plus a time")]
    t = pd.to_datetime(raw, errors="coerce")
    if t.isna().any():  # pandas guesses one format from row 0; allow a mix of ISO-like spellings
        t = pd.to_datetime(raw, format="mixed", errors="coerce")
    return t, raw, notes


def _from_units(df: pd.DataFrame, cols: list[str]) -> tuple[pd.Series, pd.Series, list[str]]:
    """Columns named year, month, day, hour, ... (any case) assembled into timestamps; day defaults to 1."""
    parts = {c.lower(): pd.to_numeric(df[c].astype(str).str.strip(), errors="coerce") for c in cols}
    if "year" not in parts or "month" not in parts:
        raise DataError(f"time columns {cols}: assembling a timestamp needs at least year and month columns")
    frame = pd.DataFrame(parts)
    if "day" not in frame:
        frame["day"] = 1
    bad = frame.isna().any(axis=1) | (frame % 1 != 0).any(axis=1)
    time = pd.to_datetime(frame.where(~bad, 1).astype("int64"), errors="coerce")
    time[bad] = pd.NaT
    raw = df[cols].astype(str).agg(" ".join, axis=1)
    return time, raw, [f"time from columns {', '.join(cols)}"]


def _day_month_format(raw: pd.Series, col: str, source: str) -> tuple[str | None, str]:
    """The strftime date format of ``a-b-year`` dates when the values settle the day/month order; refuses when
    both orders fit every row (e.g. 01-02-2020 ... with no value above 12). (None, "") for other spellings."""
    m = raw.str.extract(_NUMERIC_DATE)
    if len(raw) == 0 or m[0].isna().any():
        return None, ""
    a, b = m[0].astype(int).to_numpy(), m[2].astype(int).to_numpy()
    day_first = bool(((a >= 1) & (a <= 31) & (b >= 1) & (b <= 12)).all())
    month_first = bool(((a >= 1) & (a <= 12) & (b >= 1) & (b <= 31)).all())
    sep, year = m[1].iloc[0], "%Y" if len(m[3].iloc[0]) == 4 else "%y"
    dmy, mdy = f"%d{sep}%m{sep}{year}", f"%m{sep}%d{sep}{year}"
    if day_first and month_first:
        raise DataError(
            f"{source}: column {col!r}: dates like {raw.iloc[0]!r} are ambiguous: every row reads as day-month "
            f"({dmy!r}) and as month-day ({mdy!r}), and the reader will not guess; say which with "
            f"date_format (--date-format '{dmy}' or --date-format '{mdy}')"
        )
    if not (day_first or month_first):
        return None, ""  # neither order fits every row: the parse error names the first bad row
    big = a if day_first else b
    row = int(np.flatnonzero(big > 12)[0])
    order = "day-month-year" if day_first else "month-day-year"
    return (dmy if day_first else mdy), (
        f"dates read as {order} (FMT): row {row} holds {raw.iloc[row]!r}, which fits no other order"
    )


# ---- what a frequency implies --------------------------------------------------------------------------------

# label -> (period in steps of 1 unit, default horizon, default input length)
_FREQS = {
    "h": ("hourly", 24, 24, 96),
    "min": ("minutely", 1440, 60, 240),
    "D": ("daily", 7, 7, 56),
    "B": ("business-daily", 5, 5, 40),
    "W": ("weekly", 52, 13, 104),
    "M": ("monthly", 12, 12, 36),
    "Q": ("quarterly", 4, 8, 16),
    "Y": ("yearly", 1, 4, 12),
}
_ALIASES = {
    "MS": "M",
    "ME": "M",
    "SM": "M",
    "SMS": "M",
    "QS": "Q",
    "QE": "Q",
    "YS": "Y",
    "YE": "Y",
    "A": "Y",
    "AS": "Y",
    "BME": "M",
    "BMS": "M",
    "BQE": "Q",
    "BQS": "Q",
    "BYE": "Y",
    "BYS": "Y",
    "T": "min",
    "H": "h",
}


def _unit(freq: str) -> tuple[str | None, int]:
    try:
        off = pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        return None, 1
    base = off.rule_code.split("-")[0]
    return _ALIASES.get(base, base), off.n


def season_for(freq: str) -> tuple[int, str]:
    """(seasonal period in steps, a label for the notes): hourly 24, daily 7, weekly 52, monthly 12, quarterly 4;
    1 (no season) for yearly, ``"rows"`` and anything else. A multiple (``2h``) divides the period if it can."""
    unit, n = _unit(freq) if freq != "rows" else (None, 1)
    if unit not in _FREQS:
        return 1, "one step per row" if freq == "rows" else f"{freq!r} steps"
    label, period, _, _ = _FREQS[unit]
    if n > 1:
        label = f"{label} x {n}"
        period = period // n if period % n == 0 else 1
    return period, label


def default_windows(freq: str) -> tuple[int, int]:
    """(horizon, input length) suggested by a frequency: a day of hours from four days, a week of days from eight
    weeks, a year of months from three years, ...; (6, 24) when the frequency says nothing."""
    unit, n = _unit(freq) if freq != "rows" else (None, 1)
    if unit not in _FREQS or n > 1:
        return 6, 24
    _, _, horizon, input_length = _FREQS[unit]
    return horizon, input_length


# ---- a stranger's CSV: which columns are the time and the target ---------------------------------------------

_TIME_NAMES = ("date", "datetime", "timestamp", "time", "ds", "month", "period", "week", "day")


def guess_time_columns(df: pd.DataFrame, source: str) -> tuple[list[str], str]:
    """(time columns, note) for a CSV given without ``time_col``: year/month/day/hour columns if there are year and
    month columns, else the first column named like a date, else the first whose values read as dates."""
    lower = {str(c).lower(): c for c in df.columns}
    if "year" in lower and "month" in lower:
        cols = [lower[u] for u in UNITS if u in lower]
        return cols, f"time from columns {', '.join(map(str, cols))} (detected; --time-col to choose)"
    named = [lower[n] for n in _TIME_NAMES if n in lower]
    for c in [*named, *[c for c in df.columns if c not in named]]:
        sample = df[c].astype(str).str.strip().head(50)
        sample = sample[sample != ""]
        if len(sample) and pd.to_numeric(sample, errors="coerce").isna().all():  # numbers are not dates
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pandas' "could not infer format" chatter
                ok = pd.to_datetime(sample, errors="coerce", format="mixed").notna().mean()
            if ok >= 0.9:
                return [c], f"time column {c!r} (detected; --time-col to choose)"
    raise DataError(
        f"{source}: no column reads as dates (columns: {', '.join(map(str, df.columns))}); name the time column "
        f"with time_col (--time-col; several: year,month,day,hour), or use freq='rows' with a row-number column"
    )


def guess_targets(df: pd.DataFrame, used: list[str], source: str) -> tuple[list[str], str]:
    """The only numeric column besides the time and covariates, when no target is given."""
    numeric = []
    for c in df.columns:
        if c in used:
            continue
        v = pd.to_numeric(df[c].astype(str).str.strip().replace({"": None, "NA": None}), errors="coerce")
        if v.notna().mean() >= 0.5:
            numeric.append(c)
    if len(numeric) != 1:
        raise DataError(
            f"{source}: give the target column(s) (targets, --target); numeric columns are "
            f"{', '.join(map(str, numeric)) or 'none'}"
        )
    return numeric, f"target column {numeric[0]!r} (the only numeric column; --target to choose)"
