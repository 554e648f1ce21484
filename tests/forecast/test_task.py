"""Forecaster through rnnkit.train.fit: no leakage from later rows, backtest bookkeeping, predict, load, refit."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from rnnkit.config import TrainConfig
from rnnkit.data import timeseries as tsd
from rnnkit.data.sources import DataError
from rnnkit.tasks.forecast.task import ForecastConfig, ForecastDataConfig, Forecaster, ForecastModelConfig

TINY = TrainConfig(epochs=2, lr=1e-2, quiet=True, log_every=1000)


def config(path, run_dir="", likelihood="point", **data):
    d = dict(
        path=str(path),
        time_col="date",
        targets=("sales",),
        input_length=12,
        horizon=3,
        train_end="36",
        season=12,
        val_fraction=0.0,
    )
    d.update(data)
    model = ForecastModelConfig(hidden_size=4, likelihood=likelihood)
    return ForecastConfig(run_dir=str(run_dir), data=ForecastDataConfig(**d), model=model, train=TINY)


def test_training_never_sees_rows_after_train_end(monthly_csv):
    """Two fits that differ only in the values after train_end end with identical scalers and weights."""
    a = Forecaster(config(monthly_csv))
    a.fit()
    s = a.series
    corrupted = tsd.TimeSeries(**{**s.__dict__, "targets": s.targets.copy()})
    corrupted.targets[36:] = 1e6
    b = Forecaster(config(monthly_csv), series=corrupted)
    b.fit()
    assert np.array_equal(a.scaler.loc, b.scaler.loc) and np.array_equal(a.scaler.scale, b.scaler.scale)
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k


def test_backtest_bookkeeping(monthly_csv):
    fc = Forecaster(config(monthly_csv))
    fc.fit()
    s = fc.series
    bt = fc.backtest(start=40, stride=2, baselines=["naive", "seasonal_naive"])
    assert bt.origins.tolist() == list(range(40, 60 - 3 + 1, 2))  # last origin leaves room for H = 3
    for k, t in enumerate(bt.origins):
        assert np.array_equal(bt.actual[k], s.targets[t : t + 3])
        assert np.array_equal(bt.forecasts["naive"][k], np.repeat(s.targets[t - 1 : t], 3, axis=0))
        assert np.array_equal(bt.forecasts["seasonal_naive"][k], s.targets[t - 12 : t - 9])
    assert bt.times[0] == s.time[40]
    assert set(bt.metrics) == {"rnn", "naive", "seasonal_naive"}
    # MASE of seasonal naive by hand: its MAE over the scaled in-sample seasonal difference
    scale = np.mean(np.abs(s.targets[12:36] - s.targets[:24]))
    mae = np.mean(np.abs(bt.forecasts["seasonal_naive"] - bt.actual))
    assert bt.metrics["seasonal_naive"]["MASE"] == pytest.approx(mae / scale, rel=1e-12)
    last = fc.backtest(start=40, stride=2, baselines=["naive"], last_points_only=True)
    assert last.metrics["naive"]["MAE"] == pytest.approx(
        np.mean(np.abs(bt.forecasts["naive"][:, 2] - bt.actual[:, 2])), rel=1e-12
    )
    # the RNN forecast from origin t only reads rows < t: corrupting rows >= t changes nothing
    other = tsd.TimeSeries(**{**s.__dict__, "targets": s.targets.copy()})
    other.targets[46:] = -1e3
    again = fc.backtest(other, start=46, end=49, baselines=[])
    assert np.allclose(again.forecasts["rnn"][0], bt.forecasts["rnn"][3], rtol=0, atol=0)


def test_backtest_statistical_baseline_subset_is_reported(monthly_csv):
    fc = Forecaster(config(monthly_csv))
    fc.fit()
    bt = fc.backtest(start=48, baselines=["holt_winters"], baseline_stride=5)
    assert "rnn@holt_winters" in bt.metrics
    assert any("holt_winters: 2 of 10 origins (every 5)" in n for n in bt.notes)


def test_backtest_start_too_early(monthly_csv):
    fc = Forecaster(config(monthly_csv))
    fc.fit()
    with pytest.raises(DataError, match="backtest start row 5 leaves fewer than input_length=12 rows"):
        fc.backtest(start=5)


def test_probabilistic_predict_save_load_and_refit(monthly_csv, tmp_path):
    fc = Forecaster(config(monthly_csv, tmp_path / "run", val_end="48", likelihood="quantile", calendar=("month",)))
    fc.fit()
    df = fc.predict()
    assert list(df.columns) == ["time", "target", "forecast", "q0.1", "q0.5", "q0.9"]
    assert df.time.tolist() == list(pd.date_range("2005-01-01", periods=3, freq="MS"))
    assert (df["q0.1"] <= df["q0.5"]).all() and (df["q0.5"] <= df["q0.9"]).all()
    loaded = Forecaster.load(tmp_path / "run")
    pd.testing.assert_frame_equal(loaded.predict(), df)
    bt = loaded.backtest(start=50, stride=4, baselines=[])
    assert bt.intervals["rnn"].shape == (len(bt.origins), 3, 1, 3) and "pinball" in bt.metrics["rnn"]
    refit = loaded.backtest(start=54, stride=3, refit=True, baselines=["naive"])
    assert refit.origins.tolist() == [54, 57] and np.isfinite(refit.forecasts["rnn"]).all()


def test_gaussian_backtest_reports_crps(monthly_csv):
    fc = Forecaster(config(monthly_csv, likelihood="gaussian"))
    fc.fit()
    m = fc.backtest(start=50, baselines=[]).metrics["rnn"]
    assert m["CRPS"] > 0 and m["pinball"] > 0


def test_load_rejects_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(
        DataError, match="is not a run folder \\(no config.json\\); pass the --out folder of `rnnkit forecast train`"
    ):
        Forecaster.load(tmp_path)


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_multivariate_targets_with_past_covariates(monthly_csv, decoder):
    """Two targets (sales, promo as a target) or one target + a past covariate: shapes, names and per-target MASE."""
    fc = Forecaster(config(monthly_csv, targets=("sales", "promo"), calendar=("month",)))
    fc = Forecaster(replace(fc.config, model=replace(fc.config.model, decoder=decoder)))
    fc.fit()
    df = fc.predict()
    assert df.target.tolist() == ["sales"] * 3 + ["promo"] * 3
    bt = fc.backtest(start=48, baselines=["naive"])
    assert bt.actual.shape == bt.forecasts["rnn"].shape == (10, 3, 2)
    assert np.isnan(bt.metrics["rnn"]["MASE"])  # promo = t mod 3 repeats every 12 months: no MASE scale
    past = Forecaster(config(monthly_csv, past_covariates=("promo",)))
    past.fit()
    assert past.series.inputs().shape[1] == 2 and past.model.D == 2
    assert np.isfinite(past.backtest(start=48, baselines=[]).forecasts["rnn"]).all()


def recurrent_config(path, run_dir="", **data):
    """Darts' RNNModel layout: one LSTM trained on next-step predictions over training_length-step windows."""
    cfg = config(path, run_dir, calendar=("month_onehot", "year"), training_length=8, scaler="minmax", **data)
    return replace(cfg, model=replace(cfg.model, decoder="recurrent", anchor="none"))


def test_recurrent_training_windows_never_see_rows_after_train_end(monthly_csv):
    """training_length sets the teacher-forced window; still no row at or after train_end reaches training."""
    a = Forecaster(recurrent_config(monthly_csv))
    a.fit()
    n_windows = 36 - 8  # origins t in [8 - 3 + 1, 36 - 3]: history 6 + horizon 3 = 9 values = 8 inputs
    assert a.fit_result.step == 2 * math.ceil(n_windows / a.config.data.batch_size)  # 2 epochs
    corrupted = tsd.TimeSeries(**{**a.series.__dict__, "targets": a.series.targets.copy()})
    corrupted.targets[36:] = 1e6
    b = Forecaster(recurrent_config(monthly_csv), series=corrupted)
    b.fit()
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k


def test_recurrent_predict_save_load_and_backtest(monthly_csv, tmp_path):
    fc = Forecaster(recurrent_config(monthly_csv, tmp_path / "run", calendar_span=120))
    fc.fit()
    # calendar columns scaled over 120 generated months from 2000-01 (Darts' fixed-span covariate scaling)
    year_min, year_max = 2000.0, 2009 + 334 / 366  # fractional year of 2000-01-01 and 2009-12-01
    assert fc.scaler.loc[-1] == pytest.approx(year_min) and fc.scaler.scale[-1] == pytest.approx(year_max - year_min)
    assert fc.scaler.loc[0] == pytest.approx(fc.series.targets[:36].min())  # targets: the training span only
    df = fc.predict()
    pd.testing.assert_frame_equal(Forecaster.load(tmp_path / "run").predict(), df)
    bt = fc.backtest(start=48, baselines=["naive"], last_points_only=True)
    assert bt.forecasts["rnn"].shape == (10, 3, 1) and np.isfinite(bt.metrics["rnn"]["MAPE"])


def test_recurrent_config_errors(monthly_csv):
    from rnnkit.config import ConfigError

    with pytest.raises(ConfigError, match="data.training_length must be 0 \\(default\\) or >= horizon=3, got 2"):
        ForecastDataConfig(horizon=3, training_length=2)
    with pytest.raises(ConfigError, match="data.calendar_span must be 0, or > 0 with calendar features"):
        ForecastDataConfig(calendar_span=100)
    direct = replace(recurrent_config(monthly_csv), model=ForecastModelConfig(hidden_size=4))
    with pytest.raises(ConfigError, match="training_length applies to model.decoder='recurrent' only"):
        Forecaster(direct).fit()
