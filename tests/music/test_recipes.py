"""The shipped music recipes (configs/music-*.json) are the settings benchmarks/RESULTS.md reports, and they train."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.config import apply_overrides, load_config
from rnnkit.tasks.music.task import MusicConfig
from tests.music.test_music import roll, write_mat

ROOT = Path(__file__).resolve().parents[2]

# configs/<file>.json -> the defaults plus these overrides: the command lines in RESULTS.md ("Bernoulli rows against
# the published LSTM/GRU"), which the files must not drift from.
RECIPES = {
    "music-jsb-chorales-bernoulli": [
        "data.dataset=jsb-chorales",
        "time_limit=1800",
        "train.lr=2e-3",
        "model.input_dropout=0.2",
        "model.weight_drop=0.3",
        "model.cell.forget_bias=1.0",
        "train.schedule.name=plateau",
        "train.schedule.patience=3",
    ],
    "music-nottingham-bernoulli": [
        "data.dataset=nottingham",
        "time_limit=1800",
        "time_decay=wsd",
        "model.hidden_size=256",
        "data.batch_size=4",
        "train.lr=1.5e-3",
        "model.weight_drop=0.25",
        "model.cell.forget_bias=1.0",
        "train.patience=0",
    ],
}


@pytest.mark.parametrize("file", sorted(RECIPES))
def test_recipes_are_the_reported_settings(file):
    want = apply_overrides(MusicConfig(), [*RECIPES[file], f"run_dir=runs/{file}"])
    assert load_config(MusicConfig, ROOT / "configs" / f"{file}.json") == want


@pytest.mark.parametrize("file", sorted(RECIPES))
def test_a_recipe_trains_from_the_command_line(tmp_path, file):
    """The recipe with its data and size swapped for a tiny .mat: one epoch (inside the recipe's time budget), and the
    run's config keeps the rest."""
    data = write_mat(
        tmp_path / "tiny.mat", traindata=[roll(6, 0), roll(5, 1)], validdata=[roll(5, 2)], testdata=[roll(4, 3)]
    )
    run = tmp_path / "run"
    r = CliRunner().invoke(
        app,
        [
            "--threads",
            "1",
            "music",
            "train",
            "--config",
            str(ROOT / "configs" / f"{file}.json"),
            "--data",
            str(data),
            "--hidden",
            "8",
            "--epochs",
            "1",
            "--out",
            str(run),
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    saved = json.loads((run / "config.json").read_text())
    recipe = json.loads((ROOT / "configs" / f"{file}.json").read_text())
    assert saved["model"]["hidden_size"] == 8 and saved["data"]["path"] == str(data)
    assert {k: v for k, v in saved["train"].items() if k not in ("epochs", "quiet")} == {
        k: v for k, v in recipe["train"].items() if k not in ("epochs", "quiet")
    }
    assert (saved["time_limit"], saved["time_decay"]) == (recipe["time_limit"], recipe["time_decay"])
    assert np.isfinite(json.loads((run / "eval.json").read_text())["nll"])
