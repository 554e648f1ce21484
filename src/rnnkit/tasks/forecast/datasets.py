"""The published forecasting datasets: how each file is read (time column, targets, frequency, season, repairs).

Files and checksums are in ``rnnkit.data.sources``; reading is ``rnnkit.data.timeseries``.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rnnkit.data.sources import DataError, resolve
from rnnkit.data.timeseries import ROWS, TimeSeries, from_frame, read_csv


@dataclass(frozen=True)
class DatasetSpec:
    """How to read a published dataset (see rnnkit.data.sources for its files and checksums)."""

    file: str
    time_col: str
    targets: tuple[str, ...]
    freq: str | None = None
    fill: str | None = None
    season: int = 1  # seasonal period for MASE / seasonal naive
    date_format: str | None = None
    note: str = ""


SPECS: dict[str, DatasetSpec] = {
    "airline-passengers": DatasetSpec("airline-passengers.csv", "Month", ("Passengers",), "MS", season=12),
    "monthly-sunspots": DatasetSpec(
        "monthly-sunspots.csv",
        "Month",
        ("Sunspots",),
        "MS",
        season=1,
        note="no annual season; the ~11-year cycle is irregular, so seasonal naive is the naive forecast",
    ),
    "daily-min-temperatures": DatasetSpec(
        "daily-min-temperatures.csv",
        "Date",
        ("Temp",),
        "D",
        fill="interpolate",
        season=365,
        note="the published file lacks 1984-12-31 and 1988-12-31; they are inserted and interpolated (in notes)",
    ),
    # "1-01" is year 1, month 01 of three anonymous years; mapped to 1901-01 (only the spacing matters).
    "shampoo-sales": DatasetSpec("shampoo.csv", "Month", ("Sales",), "MS", season=12, date_format="%Y-%m"),
    "etth1": DatasetSpec("ETTh1.csv", "date", ("OT",), "h", season=24),
    "etth2": DatasetSpec("ETTh2.csv", "date", ("OT",), "h", season=24),
    # Trading days: weekends and holidays are absent, so one step is one row.
    "msft-stock": DatasetSpec("msft.tar.gz", "Date", ("Close",), ROWS, season=5, note="one step per trading day"),
}
ALIASES = {"ett": "etth1", "ETTh1": "etth1", "ETTh2": "etth2"}
FOLDERS = {"etth1": "ett", "etth2": "ett"}


def dataset_names() -> list[str]:
    return sorted(SPECS)


def spec(name: str) -> DatasetSpec:
    key = ALIASES.get(name, name)
    if key not in SPECS:
        raise DataError(f"unknown forecasting dataset {name!r}; known: {', '.join(dataset_names())}")
    return SPECS[key]


def load_dataset(
    name: str,
    *,
    data_root: str | os.PathLike | None = None,
    targets: Sequence[str] | None = None,
    past_covariates: Sequence[str] = (),
    calendar: Sequence[str] = (),
    fill: str | None = "default",
) -> TimeSeries:
    """A published dataset as a ``TimeSeries``, read from the checksum-verified file under the data root.

    ``targets`` overrides the default target (e.g. all seven ETT columns for multivariate forecasting).
    """
    key = ALIASES.get(name, name)
    sp = spec(key)
    path = resolve(FOLDERS.get(key, key), sp.file, data_root=data_root)
    kw: dict[str, Any] = dict(  # read_csv's / from_frame's keywords, of several types
        time_col=sp.time_col,
        targets=list(targets or sp.targets),
        past_covariates=past_covariates,
        freq=sp.freq,
        fill=sp.fill if fill == "default" else fill,
        calendar=calendar,
        date_format=sp.date_format,
    )
    if path.name.endswith(".tar.gz"):
        return read_csv(_read_member(path, "msft.csv"), **kw)
    if key == "shampoo-sales":
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        df[sp.time_col] = "190" + df[sp.time_col]  # "1-01" -> "1901-01"
        return from_frame(df, source=str(path), **kw)
    return read_csv(path, **kw)


def _read_member(path: Path, member: str) -> io.StringIO:
    """One CSV member of a .tar.gz as text (the archive is read as published, never extracted to disk)."""
    with tarfile.open(path, "r:gz") as tar:
        f = tar.extractfile(member)
        if f is None:
            raise DataError(f"{path}: member {member!r} is not a regular file")
        return io.StringIO(f.read().decode("utf-8"))
