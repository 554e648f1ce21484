"""Reading, validation (every bad-input path with its message), calendar features, scalers and windows."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data import timeseries as tsd
from rnnkit.data.sources import DataError
from rnnkit.tasks.forecast import datasets as fds
from rnnkit.tasks.forecast.windowing import Scaler, origins, windows


def csv(text: str) -> io.StringIO:
    return io.StringIO(text)


GOOD = "t,y,x\n2020-01-01,1,5\n2020-01-02,2,6\n2020-01-03,3,7\n2020-01-04,4,8\n"


def test_read_good_csv_infers_daily_frequency():
    s = tsd.read_csv(csv(GOOD), time_col="t", targets="y", past_covariates=["x"])
    assert s.freq == "D"
    assert s.targets.ravel().tolist() == [1, 2, 3, 4]
    assert s.past.ravel().tolist() == [5, 6, 7, 8]
    assert s.inputs().shape == (4, 2)
    assert s.notes == []


def test_read_csv_file(monthly_csv):
    s = tsd.read_csv(monthly_csv, time_col="date", targets=["sales"], calendar=["month"])
    assert s.freq == "MS" and len(s) == 60
    assert s.future_names == ["month_sin", "month_cos"]
    # month 12 -> angle 2*pi: sin 0, cos 1
    assert s.future[11] == pytest.approx([0.0, 1.0], abs=1e-12)


def test_missing_column_is_named():
    with pytest.raises(DataError, match=r"no column 'z'; columns are t, y, x"):
        tsd.read_csv(csv(GOOD), time_col="t", targets="z")


def test_unparseable_timestamp_names_row():
    bad = GOOD.replace("2020-01-03", "not a date")
    with pytest.raises(DataError, match=r"column 't' row 2: cannot parse 'not a date' as a timestamp"):
        tsd.read_csv(csv(bad), time_col="t", targets="y")


def test_duplicated_timestamp_names_both_rows():
    bad = GOOD.replace("2020-01-03", "2020-01-02")
    with pytest.raises(DataError, match=r"column 't' row 2: timestamp 2020-01-02 00:00:00 duplicates row 1"):
        tsd.read_csv(csv(bad), time_col="t", targets="y")


def test_unsorted_is_an_error_unless_sort():
    bad = "t,y\n2020-01-01,1\n2020-01-03,3\n2020-01-02,2\n2020-01-04,4\n"
    with pytest.raises(DataError, match=r"column 't' row 2: .* comes before the previous row's .*sort=True"):
        tsd.read_csv(csv(bad), time_col="t", targets="y")
    s = tsd.read_csv(csv(bad), time_col="t", targets="y", sort=True)
    assert s.targets.ravel().tolist() == [1, 2, 3, 4]
    assert "sorted 4 rows" in s.notes[0]


def test_non_numeric_target_names_column_row_and_value():
    bad = GOOD.replace("2020-01-03,3", "2020-01-03,three")
    with pytest.raises(DataError, match=r"column 'y' row 2 holds 'three', which is not a number"):
        tsd.read_csv(csv(bad), time_col="t", targets="y")


def test_missing_value_is_an_error_naming_column_and_row():
    bad = GOOD.replace("2020-01-03,3", "2020-01-03,")
    with pytest.raises(DataError, match=r"column 'y' row 2 \(2020-01-03 00:00:00\) is missing .*fill='ffill'"):
        tsd.read_csv(csv(bad), time_col="t", targets="y")


@pytest.mark.parametrize(("fill", "expected"), [("ffill", 2.0), ("interpolate", 3.0)])
def test_fill_missing_value(fill, expected):
    bad = GOOD.replace("2020-01-03,3", "2020-01-03,NA")
    s = tsd.read_csv(csv(bad), time_col="t", targets="y", fill=fill)
    assert s.targets[2, 0] == expected
    assert f"filled 1 missing values by {fill}" in s.notes[0]


def test_missing_values_at_the_ends_are_trimmed_never_invented():
    """A series that starts (ends) late: the leading (trailing) rows are dropped, with or without fill, and the
    note gives the counts; nothing is filled there."""
    bad = GOOD.replace("2020-01-01,1", "2020-01-01,").replace("2020-01-04,4,8", "2020-01-04,,8")
    for fill in (None, "ffill"):
        s = tsd.read_csv(csv(bad), time_col="t", targets="y", fill=fill)
        assert s.targets.ravel().tolist() == [2, 3] and s.time[0] == pd.Timestamp("2020-01-02")
        assert s.notes == [
            "trimmed 1 leading and 1 trailing rows with missing values (rows 1..2 kept: 2020-01-02 00:00:00 to "
            "2020-01-03 00:00:00, 2 rows)"
        ]


def test_gap_is_irregular_frequency_error_unless_fill():
    gap = "t,y\n2020-01-01,1\n2020-01-02,2\n2020-01-04,4\n2020-01-05,5\n2020-01-06,6\n"
    with pytest.raises(
        DataError, match=r"column 't': irregular frequency: 1 'D' steps are missing, the first 2020-01-03"
    ):
        tsd.read_csv(csv(gap), time_col="t", targets="y")
    s = tsd.read_csv(csv(gap), time_col="t", targets="y", fill="interpolate")
    assert len(s) == 6 and s.targets[2, 0] == pytest.approx(3.0)
    assert any("inserted 1 missing 'D' timestamps" in n for n in s.notes)


def test_off_grid_timestamp_is_an_error():
    bad = "t,y\n2020-01-01,1\n2020-01-02,2\n2020-01-02 12:00,2.5\n2020-01-03,3\n2020-01-04,4\n"
    with pytest.raises(DataError, match=r"row 2: timestamp 2020-01-02 12:00:00 is not on the 'D' grid"):
        tsd.read_csv(csv(bad), time_col="t", targets="y", freq="D")


def test_rows_frequency_accepts_trading_day_gaps():
    s = tsd.read_csv(csv("t,y\n2020-01-02,1\n2020-01-03,2\n2020-01-06,3\n"), time_col="t", targets="y", freq="rows")
    assert s.freq == "rows" and len(s) == 3
    with pytest.raises(DataError, match="future timestamps are unknown"):
        s.future_time(2)
    with pytest.raises(DataError, match="calendar features need a real frequency"):
        tsd.read_csv(
            csv("t,y\n2020-01-02,1\n2020-01-03,2\n"), time_col="t", targets="y", freq="rows", calendar=["month"]
        )


def test_bad_fill_option():
    with pytest.raises(DataError, match="fill must be one of None, 'ffill', 'interpolate'; got 'zero'"):
        tsd.read_csv(csv(GOOD), time_col="t", targets="y", fill="zero")


def test_too_few_points_for_one_window():
    with pytest.raises(
        DataError, match=r"too few points: the span \[0, 4\) has 4 steps but input_length 3 \+ horizon 2 = 5"
    ):
        origins(0, 4, 3, 2)


def test_calendar_year_and_future_extension():
    s = tsd.read_csv(csv(GOOD), time_col="t", targets="y", calendar=["dayofweek", "year"])
    assert s.future_names == ["dayofweek_sin", "dayofweek_cos", "year"]
    nxt = s.future_calendar(2)  # 2020-01-05 (Sunday, dayofweek 6) and 2020-01-06 (Monday, 0)
    assert nxt[1, :2] == pytest.approx([0.0, 1.0], abs=1e-12)
    assert nxt[0, 2] == pytest.approx(2020 + 4 / 366)


def test_windows_gather_the_right_rows():
    v = np.arange(20, dtype=float)[:, None]
    x, y, f = windows(v, v, np.zeros((20, 0)), np.array([5, 10]), 3, 2)
    assert x[:, :, 0].tolist() == [[2, 3, 4], [7, 8, 9]]
    assert y[:, :, 0].tolist() == [[5, 6], [10, 11]]
    assert f.shape == (2, 2, 0)


@settings(max_examples=60, deadline=None)
@given(
    total=st.integers(10, 200),
    L=st.integers(1, 20),
    H=st.integers(1, 10),
    frac=st.floats(0.2, 0.9),
    stride=st.integers(1, 5),
)
def test_training_windows_never_touch_the_test_span(total, L, H, frac, stride):
    """Every window [t-L, t+H) of a span stays inside it; so a training window never reads a test row."""
    hi = int(total * frac)
    if hi < L + H:
        with pytest.raises(DataError, match="too few points"):
            origins(0, hi, L, H, stride=stride)
        return
    t = origins(0, hi, L, H, stride=stride)
    assert t.min() - L >= 0 and t.max() + H <= hi
    assert np.all(np.diff(t) == stride)
    # windows read only rows < hi: mark the test rows with NaN and check no window sees one
    v = np.arange(total, dtype=float)[:, None]
    v[hi:] = np.nan
    x, y, _ = windows(v, v, np.zeros((total, 0)), t, L, H)
    assert np.isfinite(x).all() and np.isfinite(y).all()
    # the last origin is the last one possible: one more step would need row hi
    assert t.max() + stride + H > hi or stride > 1


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(["standard", "minmax"]),
    seed=st.integers(0, 2**16),
    n=st.integers(5, 50),
    C=st.integers(1, 3),
)
def test_scaler_sees_only_the_training_span(kind, seed, n, C):
    """Changing test values leaves the fitted scaler unchanged; transform then inverse is the identity."""
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(n + 10, C)) * 5 + 3
    sc = Scaler(kind).fit(data[:n])
    other = data.copy()
    other[n:] = 1e6
    sc2 = Scaler(kind).fit(other[:n])
    assert np.array_equal(sc.loc, sc2.loc) and np.array_equal(sc.scale, sc2.scale)
    z = sc.transform(data[:n])
    if kind == "standard":
        assert np.allclose(z.mean(0), 0, atol=1e-9) and np.allclose(z.std(0), 1, atol=1e-9)
    else:
        assert np.allclose(z.min(0), 0, atol=1e-12) and np.allclose(z.max(0), 1, atol=1e-12)
    assert np.allclose(sc.inverse_transform(sc.transform(data)), data, rtol=1e-12, atol=1e-9)
    back = Scaler.from_dict(sc.to_dict())
    assert np.array_equal(back.loc, sc.loc)


def test_scaler_constant_column_and_unfitted():
    sc = Scaler("standard").fit(np.ones((4, 1)))
    assert sc.scale[0] == 1.0
    with pytest.raises(RuntimeError, match="not fitted"):
        Scaler().transform(np.ones((2, 1)))
    with pytest.raises(ValueError, match="scaler must be 'standard', 'minmax' or 'none'"):
        Scaler("robust")


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(3, 40),
    start=st.dates(min_value=pd.Timestamp("1990-01-01").date(), max_value=pd.Timestamp("2030-01-01").date()),
    freq=st.sampled_from(["D", "h", "MS", "W-SUN"]),
    drop=st.integers(0, 100),
)
def test_reader_roundtrip_and_gap_detection(n, start, freq, drop):
    """Any regular series reads back exactly; removing one inner row is reported as a gap."""
    t = pd.date_range(pd.Timestamp(start), periods=n, freq=freq)
    if freq == "W-SUN":
        t = pd.date_range(pd.Timestamp(start), periods=n, freq="W-SUN")
    y = np.round(np.random.default_rng(drop).normal(size=n), 4)
    text = "time,v\n" + "".join(f"{a},{b}\n" for a, b in zip(t.strftime("%Y-%m-%d %H:%M:%S"), y))
    s = tsd.read_csv(csv(text), time_col="time", targets="v", freq=freq)
    assert np.array_equal(s.targets[:, 0], y) and len(s) == n
    k = 1 + drop % (n - 2)
    lines = text.splitlines(keepends=True)
    del lines[1 + k]
    with pytest.raises(DataError, match="irregular frequency: 1 "):
        tsd.read_csv(csv("".join(lines)), time_col="time", targets="v", freq=freq)


def test_dataset_unknown_name():
    with pytest.raises(DataError, match="unknown forecasting dataset 'nope'; known: airline-passengers"):
        fds.spec("nope")


def test_from_dataframe_with_typed_columns():
    df = pd.DataFrame({"t": pd.date_range("2021-01-01", periods=4, freq="h"), "y": [1.0, np.nan, 3.0, 4.0]})
    with pytest.raises(DataError, match=r"DataFrame: column 'y' row 1 \(2021-01-01 01:00:00\) is missing"):
        tsd.from_frame(df, time_col="t", targets="y")
    s = tsd.from_frame(df, time_col="t", targets="y", fill="interpolate", calendar=["hour"])
    assert s.freq == "h" and s.targets[1, 0] == pytest.approx(2.0) and s.future.shape == (4, 2)


def test_calendar_one_hot_month_and_its_future_extension():
    df = pd.DataFrame({"t": pd.date_range("1949-01-01", periods=14, freq="MS"), "y": np.arange(14.0)})
    s = tsd.from_frame(df, time_col="t", targets="y", calendar=["month_onehot", "dayofweek_onehot"])
    assert s.future_names == [f"month_onehot_{m}" for m in range(1, 13)] + [f"dayofweek_onehot_{d}" for d in range(7)]
    f = s.future[:, :12]
    assert f.shape == (14, 12) and (f.sum(axis=1) == 1).all() and (s.future[:, 12:].sum(axis=1) == 1).all()
    assert f[0, 0] == 1 and f[11, 11] == 1 and f[13, 1] == 1  # Jan 1949, Dec 1949, Feb 1950
    assert s.future[0, 12 + 5] == 1  # 1949-01-01 was a Saturday (dayofweek 5)
    nxt = s.future_calendar(2)  # 1950-03, 1950-04
    assert nxt[:, :12].argmax(axis=1).tolist() == [2, 3]
