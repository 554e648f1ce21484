"""Forecast tests: tiny models on one torch thread (the machine is shared; small products gain nothing)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here at one torch thread (tests/conftest.py)."""


@pytest.fixture
def monthly_csv(tmp_path):
    """A clean monthly series with trend and a 12-month season, as a CSV file (60 rows)."""
    t = pd.date_range("2000-01-01", periods=60, freq="MS")
    y = 100 + np.arange(60) + 10 * np.sin(2 * np.pi * np.arange(60) / 12)
    p = tmp_path / "series.csv"
    pd.DataFrame({"date": t.strftime("%Y-%m-%d"), "sales": np.round(y, 3), "promo": np.arange(60) % 3}).to_csv(
        p, index=False
    )
    return p
