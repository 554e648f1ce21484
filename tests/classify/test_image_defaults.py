"""Image runs' own training defaults (``rnnkit.tasks.classify.images.image_defaults``): applied where the config
still holds classify's defaults, never over a value given on the command line, recorded in task.json so a load or
a resume rebuilds the same run, and never applied to text or series."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.tasks.classify import Classifier
from rnnkit.tasks.classify.images import PIXEL_CELL_DEFAULTS, TIME_BUDGET_DEFAULTS
from tests.classify.test_images import idx_folder

runner = CliRunner()


def _fit(d, out, *, seconds=0.0, mode="rows", cell="lstm", **overrides):
    task = Classifier.from_options(
        data=str(d),
        out=str(out),
        epochs=1,
        hidden=4,
        seed=0,
        seconds=seconds,
        cell=cell,
        overrides={"data.image_sequence": mode, "train.quiet": True, **overrides},
    )
    task.fit_and_test()
    return task


def _expected(mode: str, seconds: float, cell: str) -> dict:
    want = dict(PIXEL_CELL_DEFAULTS.get(cell, {})) if mode != "rows" else {}
    if seconds:
        want.update(TIME_BUDGET_DEFAULTS.get(mode, {}))
    return want


@pytest.mark.parametrize(
    ("mode", "cell"),
    [("rows", "lstm"), ("pixels", "lstm"), ("pixels", "mingru"), ("permuted", "mingru"), ("rows", "mingru")],
)
@pytest.mark.parametrize("seconds", [0.0, 600.0])
def test_image_runs_get_the_table_and_record_it(tmp_path, mode, cell, seconds):
    task = _fit(idx_folder(tmp_path / "d"), tmp_path / "run", seconds=seconds, mode=mode, cell=cell)
    want = _expected(mode, seconds, cell)
    assert task.image_defaults == want
    saved_cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    saved_task = json.loads((tmp_path / "run" / "task.json").read_text())
    assert saved_task["image_defaults"] == want
    for key, value in want.items():
        node = saved_cfg
        for part in key.split("."):
            node = node[part]
        assert node == value, key  # config.json, the run's re-runnable config, holds the applied value
    if want:
        assert any(n.startswith("image defaults: ") for n in task.notes)


def test_the_rows_budget_defaults_decay_the_lr_and_train_to_the_end(tmp_path):
    """The row-wise default measured in RESULTS.md: with --seconds, lr cosine over the budget, no early stop."""
    task = _fit(idx_folder(tmp_path / "d"), tmp_path / "run", seconds=600.0)
    assert task.config.time_decay == "cosine" and task.config.train.patience == 0
    assert (task.config.data.batch_size, task.config.train.lr, task.config.model.embed_dropout) == (64, 3e-3, 0.1)
    plain = _fit(idx_folder(tmp_path / "d2"), tmp_path / "run2")  # no budget: nothing to decay over
    assert plain.config.time_decay == "none" and plain.config.train.patience == 5
    assert (plain.config.data.batch_size, plain.config.train.lr, plain.config.model.embed_dropout) == (32, 2e-3, 0.3)


def test_mingru_on_pixels_is_stacked_one_way_with_the_last_state(tmp_path):
    """The pixel-sequence default measured in RESULTS.md, shown in the note the CLI prints; LSTM keeps classify's."""
    task = _fit(idx_folder(tmp_path / "d"), tmp_path / "run", mode="permuted", cell="mingru")
    m = task.config.model
    assert (m.num_layers, m.bidirectional, m.pooling) == (2, False, "last")
    assert any("one direction MINGRU 2x4, last pooling" in n for n in task.notes), task.notes
    lstm = _fit(idx_folder(tmp_path / "d2"), tmp_path / "run2", mode="permuted", cell="lstm").config.model
    assert (lstm.num_layers, lstm.bidirectional, lstm.pooling) == (1, True, "mean")
    given = _fit(
        idx_folder(tmp_path / "d3"),
        tmp_path / "run3",
        mode="pixels",
        cell="mingru",
        **{"model.pooling": "mean", "model.num_layers": 3},
    ).config.model
    assert (given.num_layers, given.bidirectional, given.pooling) == (3, False, "mean")


def test_values_given_by_the_user_win(tmp_path):
    task = _fit(
        idx_folder(tmp_path / "d"), tmp_path / "run", seconds=600.0, **{"time_decay": "wsd", "train.patience": 3}
    )
    assert task.config.time_decay == "wsd" and task.config.train.patience == 3
    assert "time_decay" not in task.image_defaults and "train.patience" not in task.image_defaults


def test_image_defaults_false_keeps_classify_defaults(tmp_path):
    """The way to train an image run with a classify default the table replaces (here batches of 32), from the CLI."""
    d = idx_folder(tmp_path / "d")
    train = ["classify", "train", "--data", str(d), "--epochs", "1", "--hidden", "4", "--seconds", "600", "--quiet"]
    r = runner.invoke(app, [*train, "--out", str(tmp_path / "with")])
    assert r.exit_code == 0 and "image defaults: time_decay=cosine" in r.output, r.output  # the note a user sees
    out = tmp_path / "run"
    r = runner.invoke(app, [*train, "--out", str(out), "--image_defaults=false"])
    assert r.exit_code == 0, r.output
    assert "image defaults" not in r.output
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["data"]["batch_size"] == 32 and cfg["time_decay"] == "none" and cfg["image_defaults"] is False
    assert json.loads((out / "task.json").read_text())["image_defaults"] == {}


def test_load_and_resume_keep_the_image_defaults(tmp_path):
    d = idx_folder(tmp_path / "d")
    task = _fit(d, tmp_path / "run", seconds=600.0)
    loaded = Classifier.load(tmp_path / "run")
    assert loaded.image_defaults == task.image_defaults
    assert loaded.config.time_decay == task.config.time_decay
    # `--resume` starts from the run's config.json, which holds the applied values
    again = Classifier.from_options(config=str(tmp_path / "run" / "config.json"), epochs=2)
    result = again.fit(resume=True)
    assert result.epoch == 2 and again.config.train.patience == task.config.train.patience
    assert again.config.time_decay == task.config.time_decay


def test_text_runs_keep_classify_defaults(tmp_path):
    names = tmp_path / "names.tsv"
    names.write_text("".join(f"{c}\t{w}{i}\n" for i in range(12) for c, w in (("a", "anna"), ("b", "bob"))))
    out = tmp_path / "run"
    r = runner.invoke(
        app,
        [
            "classify",
            "train",
            "--data",
            str(names),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--hidden",
            "4",
            "--seconds",
            "600",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["time_decay"] == "none" and cfg["train"]["patience"] == 5 and cfg["data"]["batch_size"] == 32
    assert json.loads((out / "task.json").read_text())["image_defaults"] == {}
