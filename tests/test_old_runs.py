"""Run folders written by rnnkit 0.1 (tests/fixtures/runs, made once by tests/fixtures/make_runs.py and never
rewritten) must keep loading and predicting the same: a user's trained models outlive our refactors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.tasks import get_task

RUNS = Path(__file__).resolve().parent / "fixtures" / "runs"
EXPECTED = json.loads((RUNS / "expected.json").read_text(encoding="utf-8"))
PREDICT = {"lm": ["--temperature", "0", "--length", "12"]}


@pytest.mark.parametrize("task", sorted(EXPECTED))
def test_an_old_run_folder_loads_and_predicts_the_same(task, tmp_path):
    run = tmp_path / task
    import shutil

    shutil.copytree(RUNS / task, run)  # a copy: nothing may be written into the fixtures
    torch.set_num_threads(1)
    loaded = get_task(task).load(run)
    assert loaded.model is not None and loaded.weights()["which"] == "best"
    r = CliRunner().invoke(app, [task, "predict", str(run), EXPECTED[task]["input"], *PREDICT.get(task, [])])
    assert r.exit_code == 0, r.output
    assert r.stdout == EXPECTED[task]["output"]
