"""The classify tests train tiny models: one torch thread avoids oversubscription on the shared 2 cores
(tiny oneDNN LSTM calls were measured 10-50x slower with 2 threads on a loaded machine)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
