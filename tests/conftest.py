"""Shared test fixtures: the data root, seeded RNGs, and one torch thread per pytest-xdist worker."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# Tests never spend time autotuning `impl="auto"` (nn/autotune.py): the static table keeps them fast and
# deterministic. The autotune tests switch it back on themselves, with a fake clock and a temporary cache.
os.environ["RNNKIT_AUTOTUNE"] = "0"

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def _data_root() -> Path | None:
    env = os.environ.get("RNNKIT_DATA")
    if env and Path(env).is_dir():
        return Path(env)
    return SHARED_DATA if SHARED_DATA.is_dir() else None


def pytest_configure(config: pytest.Config) -> None:
    # Two xdist workers share the 2 cores: one intra-op thread each avoids oversubscription.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        try:
            import torch

            torch.set_num_threads(1)
        except ImportError:  # pragma: no cover
            pass


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The folder of published datasets (../shared/data or $RNNKIT_DATA); skips when absent."""
    root = _data_root()
    if root is None:
        pytest.skip("no data root: set RNNKIT_DATA or place the published datasets in ../shared/data")
    return root


@pytest.fixture
def one_thread():
    """One torch thread for the test (restored after): small models, stable timings beside another xdist worker.
    Folders take it with an autouse fixture of their own, modules with ``pytest.mark.usefixtures("one_thread")``."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
