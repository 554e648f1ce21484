"""The published files read as documented (skipped without a data root)."""

from __future__ import annotations

import pytest

from rnnkit.data import timeseries as tsd
from rnnkit.tasks.forecast import datasets as fds


@pytest.mark.parametrize(
    ("name", "rows", "freq", "first", "last", "first_value"),
    [
        ("airline-passengers", 144, "MS", "1949-01-01", "1960-12-01", 112.0),
        ("monthly-sunspots", 2820, "MS", "1749-01-01", "1983-12-01", 58.0),
        ("shampoo-sales", 36, "MS", "1901-01-01", "1903-12-01", 266.0),  # "1-01" read as 1901-01
        ("etth1", 17420, "h", "2016-07-01 00:00", "2018-06-26 19:00", 30.5310001373291),
        ("etth2", 17420, "h", "2016-07-01 00:00", "2018-06-26 19:00", 38.66199875),
        ("msft-stock", 7983, "rows", "1986-03-13", "2017-11-10", 0.07533),  # read from the .tar.gz
    ],
)
def test_dataset_reads(data_root, name, rows, freq, first, last, first_value):
    s = fds.load_dataset(name, data_root=data_root)
    assert (len(s), s.freq) == (rows, freq)
    assert str(s.time[0]).startswith(first) and str(s.time[-1]).startswith(last)
    assert s.targets[0, 0] == pytest.approx(first_value)
    assert s.notes == []


def test_daily_min_temperatures_fills_the_two_missing_new_years_eves(data_root):
    s = fds.load_dataset("daily-min-temperatures", data_root=data_root)
    assert len(s) == 3652 and s.freq == "D"
    assert "inserted 2 missing 'D' timestamps (first 1984-12-31" in s.notes[0]
    with pytest.raises(tsd.DataError, match="irregular frequency: 2 'D' steps are missing, the first 1984-12-31"):
        fds.load_dataset("daily-min-temperatures", data_root=data_root, fill=None)


def test_ett_multivariate(data_root):
    s = fds.load_dataset("ett", data_root=data_root, targets=["HUFL", "OT"], calendar=["hour"])
    assert s.targets.shape == (17420, 2) and s.future.shape == (17420, 2)
