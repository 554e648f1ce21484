"""`rnnkit tune show STUDY --plots`: optimisation history, parameter importances and parallel coordinates as valid
PNGs; a study too small to draw (one completed trial, only failed ones) gets a clear message, not a traceback."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rnnkit.cli import app

optuna = pytest.importorskip("optuna")
Image = pytest.importorskip("PIL.Image")

from rnnkit.tune import TuneError  # noqa: E402
from rnnkit.tune_report import PLOTS, write_plots  # noqa: E402

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _study_dir(tmp_path, states):
    """A study folder as `rnnkit tune` leaves it (study.json + SQLite), holding trials in ``states`` (no training)."""
    d = tmp_path / "study"
    d.mkdir()
    storage = f"sqlite:///{d / 'study.db'}"
    meta = {"task": "classify", "study_name": "study", "storage": storage, "monitor": "val_acc", "mode": "max"}
    (d / "study.json").write_text(json.dumps(meta))
    study = optuna.create_study(study_name="study", storage=storage, direction="maximize")
    dists = {
        "train.lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True),
        "model.hidden_size": optuna.distributions.CategoricalDistribution([16, 32, 64]),
        "train.epochs": optuna.distributions.IntDistribution(1, 5),
    }
    for i, state in enumerate(states):
        params = {"train.lr": 10 ** (-4 + 0.4 * i), "model.hidden_size": [16, 32, 64][i % 3], "train.epochs": 1 + i % 5}
        value = 0.5 + 0.04 * i if state == "COMPLETE" else None
        inter = {1: 0.3} if state == "PRUNED" else {}
        trial = optuna.trial.create_trial(
            state=getattr(optuna.trial.TrialState, state),
            value=value,
            params=params,
            distributions=dists,
            intermediate_values=inter,
        )
        study.add_trial(trial)
    return d, study


def _valid_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    with Image.open(path) as im:
        im.verify()  # raises on a truncated or corrupt file
    with Image.open(path) as im:
        w, h = im.size
    assert w >= 400 and h >= 300, (path, im.size)


def test_write_plots_draws_three_valid_pngs(tmp_path):
    _, study = _study_dir(tmp_path, ["COMPLETE"] * 6 + ["FAIL", "PRUNED"])
    paths = write_plots(study, tmp_path / "out", monitor="val_acc")
    assert set(paths) == {"history", "importances", "parallel"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(PLOTS.values())  # no temp files left
    for p in paths.values():
        _valid_png(p)


def test_tune_show_plots_from_the_cli(tmp_path):
    d, _ = _study_dir(tmp_path, ["COMPLETE"] * 3)
    r = runner.invoke(app, ["tune", "show", str(d), "--plots"])
    assert r.exit_code == 0, r.output
    assert "3 trials" in r.output and "plots:" in r.output
    for name in PLOTS.values():
        _valid_png(d / "plots" / name)
        assert str(d / "plots" / name) in r.output.replace("\n", "")
    r = runner.invoke(app, ["tune", "show", str(d), "--plots", "--plots-dir", str(tmp_path / "elsewhere")])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == sorted(PLOTS.values())


def test_show_without_plots_draws_nothing(tmp_path):
    d, _ = _study_dir(tmp_path, ["COMPLETE"] * 3)
    r = runner.invoke(app, ["tune", "show", str(d)])
    assert r.exit_code == 0, r.output
    assert not (d / "plots").exists() and "plots:" not in r.output


@pytest.mark.parametrize(
    "states, says",
    [
        (["COMPLETE"], "has 1 (1 complete)"),
        (["FAIL", "FAIL", "FAIL"], "has 0 (3 fail)"),
        (["COMPLETE", "PRUNED", "FAIL"], "has 1 (1 complete, 1 fail, 1 pruned)"),
        ([], "has 0 (no trials)"),
    ],
)
def test_too_few_completed_trials_is_a_clear_message(tmp_path, states, says):
    d, study = _study_dir(tmp_path, states)
    with pytest.raises(TuneError, match="at least 2 completed trials") as e:
        write_plots(study, tmp_path / "out")
    assert says in str(e.value) and not (tmp_path / "out").exists()
    r = runner.invoke(app, ["tune", "show", str(d), "--plots"])
    assert r.exit_code == 1, r.output
    assert "at least 2 completed trials" in r.output and says in r.output.replace("\n", " ")
    assert "Traceback" not in r.output and not (d / "plots").exists()


def test_a_search_with_one_completed_trial_ends_with_a_note_not_plots(tmp_path):
    data, space, out = tmp_path / "d.tsv", tmp_path / "space.json", tmp_path / "study"
    data.write_text("pos\tgood fun\nneg\tdull bad\n" * 8, encoding="utf-8")
    space.write_text(json.dumps({"train.lr": [0.01]}))
    r = runner.invoke(
        app,
        [
            "tune",
            "classify",
            "--data",
            str(data),
            "--space",
            str(space),
            "--out",
            str(out),
            "--trials",
            "1",
            "--model.hidden_size=4",
            "--train.epochs=1",
        ],
    )
    assert r.exit_code == 0, r.output  # the search succeeded; only the drawing is skipped, and it says why
    assert "no plots: plots need at least 2 completed trials" in r.output.replace("\n", " ")
    assert not (out / "plots").exists() and (out / "best-config.json").is_file()
