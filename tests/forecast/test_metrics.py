"""Each metric against a value computed by hand, and the edge cases that make a metric undefined."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit.tasks.forecast import metrics as fm

Y = np.array([100.0, 200.0, 300.0])
F = np.array([110.0, 180.0, 300.0])  # errors -10, 20, 0


def test_point_metrics_by_hand():
    assert fm.mae(Y, F) == pytest.approx(10.0)  # (10 + 20 + 0) / 3
    assert fm.mse(Y, F) == pytest.approx(500.0 / 3)  # (100 + 400 + 0) / 3
    assert fm.rmse(Y, F) == pytest.approx(math.sqrt(500.0 / 3))
    assert fm.mape(Y, F) == pytest.approx(100 * (0.1 + 0.1 + 0) / 3)  # 10/100, 20/200, 0
    # sMAPE terms 2*10/210, 2*20/380, 0
    assert fm.smape(Y, F) == pytest.approx(100 * (20 / 210 + 40 / 380) / 3)


def test_mase_by_hand():
    insample = np.array([1.0, 3.0, 2.0, 6.0])  # |diffs| lag 1: 2, 1, 4 -> mean 7/3; lag 2: 1, 3 -> 2
    y, f = np.array([5.0, 7.0]), np.array([6.0, 5.0])  # MAE 1.5
    assert fm.mase(y, f, insample, season=1) == pytest.approx(1.5 / (7 / 3))
    assert fm.mase(y, f, insample, season=2) == pytest.approx(1.5 / 2)


def test_mase_per_column_scale():
    insample = np.array([[0.0, 0.0], [1.0, 10.0], [2.0, 20.0]])  # scales 1 and 10
    y, f = np.array([[3.0, 30.0]]), np.array([[4.0, 40.0]])  # errors 1 and 10 -> scaled 1 and 1
    assert fm.mase(y, f, insample) == pytest.approx(1.0)


def test_undefined_cases_raise_with_reason():
    with pytest.raises(ValueError, match="MAPE is undefined: some actual values are 0"):
        fm.mape(np.array([0.0, 1.0]), np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="in-sample seasonal naive error is 0"):
        fm.mase(Y, F, np.ones(5))
    with pytest.raises(ValueError, match="more than season=12 in-sample points"):
        fm.mase(Y, F, np.ones(12), season=12)
    with pytest.raises(ValueError, match=r"actuals \(3,\) and forecasts \(2,\) must have the same shape"):
        fm.mae(Y, F[:2])
    assert fm.smape(np.zeros(2), np.zeros(2)) == 0.0  # 0/0 terms count as 0
    assert math.isnan(fm.point_metrics(np.array([0.0, 1.0]), np.array([1.0, 1.0]), insample=Y, season=1)["MAPE"])


def test_crps_gaussian_closed_form_by_hand():
    # y = mu: z = 0 -> CRPS = sigma (2 phi(0) - 1/sqrt(pi)) = sigma (2/sqrt(2 pi) - 1/sqrt(pi))
    assert fm.crps_gaussian(np.array([1.0]), np.array([1.0]), np.array([2.0])) == pytest.approx(
        2.0 * (2 / math.sqrt(2 * math.pi) - 1 / math.sqrt(math.pi))
    )
    # far from the mean CRPS -> |y - mu| - sigma/sqrt(pi) (z Phi terms saturate); at z = 10, to 1e-12
    assert fm.crps_gaussian(np.array([10.0]), np.array([0.0]), np.array([1.0])) == pytest.approx(
        10.0 - 1 / math.sqrt(math.pi), abs=1e-12
    )


def test_crps_matches_monte_carlo():
    """E|X - y| - E|X - X'| / 2 by sampling, to Monte-Carlo accuracy (2e5 samples: ~0.5% relative)."""
    rng = np.random.default_rng(0)
    x, x2 = rng.normal(1.0, 0.5, 200_000), rng.normal(1.0, 0.5, 200_000)
    mc = np.mean(np.abs(x - 1.7)) - 0.5 * np.mean(np.abs(x - x2))
    assert fm.crps_gaussian(np.array([1.7]), np.array([1.0]), np.array([0.5])) == pytest.approx(mc, rel=1e-2)


def test_pinball_by_hand():
    y = np.array([10.0])
    q = np.array([[8.0, 10.0, 13.0]])  # d = y - yq = 2, 0, -3
    # q=0.1: max(0.2, -1.8) = 0.2; q=0.5: 0; q=0.9: max(-2.7, 0.3) = 0.3 -> mean 0.5/3
    assert fm.pinball(y, q, (0.1, 0.5, 0.9)) == pytest.approx(0.5 / 3)
    with pytest.raises(ValueError, match=r"quantile forecasts \(1, 2\) must be actuals \(1,\) \+ \(3,\)"):
        fm.pinball(y, q[:, :2], (0.1, 0.5, 0.9))


def test_gaussian_nll_by_hand():
    # N(0, 1) at y = 1: 0.5 log(2 pi) + 0 + 0.5
    assert fm.gaussian_nll(np.array([1.0]), np.array([0.0]), np.array([1.0])) == pytest.approx(
        0.5 * math.log(2 * math.pi) + 0.5
    )
