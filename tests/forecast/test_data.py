"""The forecaster's data module on its own: the series read from config.data, the defaults resolved from the
frequency, the scaler fitted on the training rows only, the predict table, and the window batches."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rnnkit.tasks.forecast import data as fdata
from rnnkit.tasks.forecast.config import ForecastDataConfig, ForecastModelConfig


@pytest.fixture
def series(monthly_csv):
    return fdata.read_series(ForecastDataConfig(path=str(monthly_csv), targets=("sales",)))


def test_read_series_needs_a_path_or_a_dataset():
    from rnnkit.config import ConfigError

    with pytest.raises(ConfigError, match="give a CSV path"):
        fdata.read_series(ForecastDataConfig())


def test_season_rules():
    assert fdata.season_of(ForecastDataConfig(season=5), "MS") == 5  # the config's, first
    assert fdata.season_of(ForecastDataConfig(), "MS") == 12  # monthly data
    assert fdata.season_of(ForecastDataConfig(), None) == 1  # a saved CSV run without a season


def test_resolve_windows_from_the_frequency(series):
    d, notes = ForecastDataConfig(path="x.csv"), []
    r = fdata.resolve_windows(d, series, 12, notes)
    assert r.horizon == 6  # monthly 12, shortened to a tenth of 60 rows
    # the input length keeps MIN_TRAIN_WINDOWS training windows before the validation rows (the last 6 of 48)
    assert fdata.split_rows(d, series, horizon=6).train_end == 42
    assert r.input_length == 42 - 6 - fdata.MIN_TRAIN_WINDOWS + 1
    assert (r.time_col, r.targets) == ("date", ("sales",))  # detected columns are saved
    assert any(n.startswith("frequency 'MS': season 12") for n in notes) and len(notes) == 3


def test_scaler_sees_the_training_rows_only(series):
    d = ForecastDataConfig(scaler="standard")
    s = fdata.fit_scaler(d, series, 24)
    x = series.inputs()[:24]
    np.testing.assert_allclose(s.loc, x.mean(0))
    v, y, f = fdata.scaled(series, s, "none")
    np.testing.assert_allclose(v[:24].mean(0), 0, atol=1e-12)
    assert y.shape == (60, 1) and f.shape == (60, series.future.shape[1])


def test_log_transform_round_trip_and_check():
    v = np.array([[1.0, -3.0], [np.e, 0.0]])
    out = fdata.transform(v, 1, "log")
    np.testing.assert_allclose(out, [[0.0, -3.0], [1.0, 0.0]])  # targets only; covariates untouched
    np.testing.assert_allclose(fdata.untransform(out[:, :1], "log"), v[:, :1])
    from rnnkit.data.sources import DataError

    with pytest.raises(DataError, match="positive targets"):
        fdata.transform(-v, 1, "log")


def test_to_original_and_forecast_frame(series):
    s = fdata.fit_scaler(ForecastDataConfig(), series, 48)
    m = ForecastModelConfig(likelihood="quantile", quantiles=(0.1, 0.5, 0.9))
    params = np.zeros((1, 3, 1, 3)) + np.array([-1.0, 0.0, 1.0])  # (N, H, C, Q) in scaled units
    point, qs, q = fdata.to_original(params, s, m, "none")
    np.testing.assert_allclose(point, s.loc[0])  # the median
    np.testing.assert_allclose(qs[0, 0, 0], s.loc[0] + np.array([-1.0, 0.0, 1.0]) * s.scale[0])
    table = fdata.forecast_frame(series, point[0], qs[0], q)
    assert list(table.columns) == ["time", "target", "forecast", "q0.1", "q0.5", "q0.9"]
    assert len(table) == 3 and str(table["time"][0])[:7] == "2005-01"  # the month after the series


def test_extended_appends_the_horizon(series):
    fut = np.ones((4, series.future.shape[1]))
    ext = fdata.extended(series, fut)
    assert len(ext.targets) == len(series) + 4 and ext.future.shape[0] == len(series) + 4


def test_window_batches(series):
    d = ForecastDataConfig(input_length=12, horizon=6, batch_size=5)
    s = fdata.fit_scaler(d, series, 40)
    train, val = fdata.Span(series, 0, 40), fdata.Span(series, 40, 50)
    tb, vb = fdata.window_batches(d, fdata.scaled(series, s, "none"), train, val, recurrent=False, seed=0)
    assert len(tb.x) == 40 - 12 - 6 + 1 and len(vb.x) == 10 - 6 + 1
    x, f, y = next(tb.epoch(0))
    assert x.shape == (5, 12, series.inputs().shape[1]) and y.shape == (5, 6, 1)
    assert [b[0].tolist() for b in tb.epoch(3)] == [b[0].tolist() for b in tb.epoch(3)]  # same order for a seed
    assert fdata.window_batches(d, fdata.scaled(series, s, "none"), train, None, recurrent=False, seed=0)[1] is None


def test_spans_module_moved():
    from rnnkit.tasks.forecast import spans

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert spans.split_rows is fdata.split_rows
    assert any(issubclass(x.category, DeprecationWarning) for x in w)
