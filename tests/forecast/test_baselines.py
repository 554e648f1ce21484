"""Baselines: exact values for the naive ones, near-exact recovery of clean series for the statistical ones."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.tasks.forecast.baselines import baseline_forecast, naive, seasonal_naive


def test_naive_repeats_last_value():
    assert naive(np.array([1.0, 2.0, 5.0]), 3).tolist() == [5.0, 5.0, 5.0]


def test_seasonal_naive_repeats_last_season():
    h = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0])
    assert seasonal_naive(h, 6, season=4).tolist() == [10.0, 20.0, 30.0, 40.0, 10.0, 20.0]
    with pytest.raises(ValueError, match="needs at least season=12 points"):
        seasonal_naive(h, 2, season=12)


def test_multicolumn_and_unknown():
    h = np.stack([np.arange(5.0), 10 + np.arange(5.0)], axis=1)
    assert baseline_forecast("naive", h, 2).tolist() == [[4.0, 14.0], [4.0, 14.0]]
    with pytest.raises(ValueError, match="unknown baseline 'prophet'; known: naive, seasonal_naive"):
        baseline_forecast("prophet", h, 2)


@pytest.mark.parametrize("name", ["holt_winters", "arima"])
def test_statistical_baselines_recover_a_clean_seasonal_trend(name):
    """trend + period-12 season + N(0, 0.5^2) noise: both recover the clean continuation within 3 noise sigmas."""
    n = 48  # 4 seasons: enough for both models, and the ARIMA fit stays well under a second
    t = np.arange(n + 6)
    clean = 50 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12)
    y = clean + np.random.default_rng(0).normal(0, 0.5, len(t))
    fc = baseline_forecast(name, y[:n], 6, season=12)[:, 0]
    assert np.max(np.abs(fc - clean[n:])) < 1.5  # 3 noise sigmas; measured ~0.5
    capped = baseline_forecast(name, y[:n], 6, season=12, max_history=40)
    assert capped.shape == (6, 1) and np.isfinite(capped).all()
