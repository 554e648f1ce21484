"""Training tests use tiny models: one intra-op thread is faster for them and immune to a busy machine
(OpenMP workers spinning on oversubscribed cores made a 1 ms step take ~1 s)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here at one torch thread (tests/conftest.py)."""
