"""A tiny trained language model shared by the explain tests (trained once per session, ~2 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

# Quotes, parentheses and line structure, so every text feature of explain.states varies.
TEXT = (
    'He said "the quick brown fox (a red one) jumps over the lazy dog" and left.\n'
    "She wrote (twice) that the dog slept; nobody answered.\n"
    'Then "why?" asked the fox (again), and the dog said "because".\n'
)


@pytest.fixture(scope="session")
def lm_run(tmp_path_factory) -> Path:
    """A run folder written by LanguageModel.train: a 1-layer char LSTM, H=16, trained for 20 steps."""
    import torch

    from rnnkit.config import CellConfig, TrainConfig
    from rnnkit.tasks.lm.task import LanguageModel, LMConfig, LMDataConfig, LMModelConfig

    root = tmp_path_factory.mktemp("explain-lm")
    path = root / "text.txt"
    path.write_text(TEXT * 40, encoding="utf-8")
    cfg = LMConfig(
        run_dir=str(root / "run"),
        model=LMModelConfig(cell=CellConfig("lstm"), hidden_size=16, embedding_dim=8, impl="loop"),
        data=LMDataConfig(path=str(path), batch_size=8, bptt=20),
        train=TrainConfig(lr=1e-2, epochs=1, max_steps=20, quiet=True, unit="tokens", log_every=10),
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 16-unit model: thread hand-offs cost more than they give on a shared machine
    try:
        LanguageModel(cfg).fit_and_test()
    finally:
        torch.set_num_threads(threads)
    return Path(cfg.run_dir)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny models on a shared 2-core machine: one intra-op thread avoids spin-waiting on a busy partner core."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
