"""`rnnkit forecast train|eval|predict|backtest` end to end on tiny CSVs (from the CLI factory), old runs, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from rnnkit.cli import app

runner = CliRunner()
DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "forecast"
TINY = ["--hidden", "4", "--epochs", "2", "--quiet", "--seed", "0"]


def test_round_trip_train_eval_predict_backtest(monthly_csv, tmp_path):
    run = tmp_path / "run"
    r = runner.invoke(
        app,
        [
            "forecast",
            "train",
            "--csv",
            str(monthly_csv),
            "--time-col",
            "date",
            "--target",
            "sales",
            "--horizon",
            "3",
            "--input-length",
            "12",
            "--train-end",
            "36",
            "--val-end",
            "48",
            "--likelihood",
            "gaussian",
            "--season",
            "12",
            "--run-dir",
            str(run),
            *TINY,
        ],
    )
    assert r.exit_code == 0, r.output
    task = json.loads((run / "task.json").read_text())
    assert task["task"] == "forecast" and task["split"] == {"train_end": 36, "val_end": 48, "total": 60}
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["data"]["season"] == 12 and cfg["model"]["likelihood"] == "gaussian"
    report = json.loads((run / "eval.json").read_text())
    assert report["origins"] == 10 and report["season"] == 12 and report["weights"]["which"] == "best"
    assert {"MAE", "MASE", "naive_MAE", "seasonal_naive_MASE"} <= set(report)

    r = runner.invoke(app, ["forecast", "eval", str(run), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["MAE"] == report["MAE"]  # the weights train scored are the ones eval loads

    r = runner.invoke(
        app, ["forecast", "predict", str(run), "--out", str(tmp_path / "f.csv"), "--plot", str(tmp_path / "f.png")]
    )
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == "time,target,forecast,q0.1,q0.5,q0.9" and lines[1].startswith("2005-01-01,sales,")
    assert len(lines) == 1 + 3 and (tmp_path / "f.png").stat().st_size > 1000
    assert (tmp_path / "f.csv").read_text().splitlines() == lines

    r = runner.invoke(
        app,
        [
            "forecast",
            "backtest",
            str(run),
            "--start",
            "48",
            "--stride",
            "2",
            "--baselines",
            "naive,seasonal_naive",
            "--json",
            str(tmp_path / "m.json"),
            "--plot",
            str(tmp_path / "b.png"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "seasonal_naive" in r.output and "MASE" in r.output
    m = json.loads((tmp_path / "m.json").read_text())["metrics"]
    assert set(m) == {"rnn", "naive", "seasonal_naive"} and "CRPS" in m["rnn"]


def test_defaults_on_a_strangers_csv(tmp_path):
    """Only --data: time column, target, season, horizon, input length and a validation tail are decided and
    printed; `best` is chosen by the validation MAE."""
    run = tmp_path / "run"
    r = runner.invoke(app, ["forecast", "train", "--data", str(EXAMPLES / "monthly.csv"), "--out", str(run), *TINY])
    assert r.exit_code == 0, r.output
    for line in [
        "time column 'date' (detected; --time-col to choose)",
        "target column 'sales' (the only numeric column; --target to choose)",
        "frequency 'MS': season 12 (monthly; --season to change)",
        "horizon 7 (the default for monthly data, shortened from 12 for a series of 72 rows; --horizon to change)",
        "input length 36 (the default for monthly data; --input-length to change)",
        "training rows 0..49, validation rows 50..56 (the last 7 rows of the training span",
        "test rows 57..71",
    ]:
        assert line in r.output, line
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["train"]["checkpoint"]["monitor"] == "val_MAE" and cfg["train"]["patience"] == 10
    assert (cfg["data"]["horizon"], cfg["data"]["input_length"]) == (7, 36)  # the resolved values are saved
    assert (cfg["data"]["time_col"], cfg["data"]["targets"]) == ("date", ["sales"])
    best = json.loads((run / "eval.json").read_text())["weights"]
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [e for e in evals if e.get("event") == "eval"]
    assert best["which"] == "best" and len(evals) == 2
    assert best["metrics"]["val_MAE"] == round(min(e["val_MAE"] for e in evals), 6)  # the MAE, not the loss, picks


def test_predict_and_backtest_another_file(monthly_csv, tmp_path):
    run = tmp_path / "run"
    args = [
        "--data",
        str(monthly_csv),
        "--target",
        "sales",
        "--horizon",
        "3",
        "--input-length",
        "12",
        "--train-end",
        "36",
        "--out",
    ]
    assert runner.invoke(app, ["forecast", "train", *args, str(run), *TINY]).exit_code == 0
    longer = pd.read_csv(monthly_csv)
    shorter = tmp_path / "first50.csv"
    longer.head(50).to_csv(shorter, index=False)
    r = runner.invoke(app, ["forecast", "predict", str(run), "--data", str(shorter)])
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[1].startswith("2004-03-01,sales,")  # after row 49 (2004-02)
    r = runner.invoke(app, ["forecast", "eval", str(run), "--data", str(shorter), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["origins"] == 12, r.output  # its rows 36..49, by the run's rules
    r = runner.invoke(app, ["forecast", "backtest", str(run), "--csv", str(shorter), "--baselines", "naive"])
    assert r.exit_code == 0 and "12 origins from 2003-01-01" in r.output.replace("\n", " "), r.output


def test_errors_are_one_line_with_exit_1(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("date,sales\n2020-01-01,1\n2020-01-02,oops\n2020-01-03,3\n")
    r = runner.invoke(app, ["forecast", "train", "--csv", str(p), "--target", "sales", "--out", str(tmp_path / "r")])
    assert r.exit_code == 1
    assert "rnnkit forecast: error: " in r.output and "column 'sales' row 1 holds 'oops', which is not a number" in (
        r.output
    )
    r = runner.invoke(app, ["forecast", "predict", str(tmp_path)])
    assert r.exit_code == 1 and "is not a run folder (no config.json)" in r.output


def test_train_resume_continues_exactly(monthly_csv, tmp_path, monkeypatch):
    """`forecast train --epochs 1`, then the same with `--epochs 2 --resume` == a straight 2-epoch run."""
    from tests.train.helpers import assert_same_last, spy_resume

    resumed_from = spy_resume(monkeypatch)
    args = [
        "forecast",
        "train",
        "--csv",
        str(monthly_csv),
        "--time-col",
        "date",
        "--target",
        "sales",
        "--horizon",
        "3",
        "--input-length",
        "12",
        "--train-end",
        "36",
        "--val-end",
        "48",
        "--hidden",
        "4",
        "--quiet",
        "--data.batch_size=4",
    ]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert runner.invoke(app, [*args, "--epochs", "2", "--run-dir", str(full)]).exit_code == 0
    assert runner.invoke(app, [*args, "--epochs", "1", "--run-dir", str(cut)]).exit_code == 0
    r = runner.invoke(app, [*args, "--epochs", "2", "--run-dir", str(cut), "--resume"])
    assert r.exit_code == 0, r.output
    assert resumed_from == [cut / "last"]
    assert_same_last(full / "last", cut / "last")
    r = runner.invoke(app, [*args, "--run-dir", str(tmp_path / "none"), "--resume"])
    assert r.exit_code == 1 and "rnnkit forecast: error:" in r.output


def test_a_run_written_before_the_task_contract_still_loads(tmp_path, monkeypatch):
    """tests/forecast/data/legacy_run was written by the old Forecaster (forecast.json, config with a relative CSV
    path): it loads, predicts exactly what the old code predicted, and eval / backtest run on it."""
    from rnnkit.tasks.forecast.task import Forecaster

    shutil.copytree(DATA / "legacy_run", tmp_path / "legacy")
    shutil.copy(DATA / "legacy_series.csv", tmp_path / "series.csv")
    monkeypatch.chdir(tmp_path)
    fc = Forecaster.load("legacy")
    assert fc.season == 12 and fc.split.val_end == 48 and not (tmp_path / "legacy" / "task.json").exists()
    expected = pd.read_csv(DATA / "legacy_predict.csv")
    got = fc.predict()
    assert (got.forecast.to_numpy() == expected.forecast.to_numpy()).all()
    r = runner.invoke(app, ["forecast", "predict", "legacy"])
    assert r.exit_code == 0 and r.stdout.splitlines()[1:] == (DATA / "legacy_predict.csv").read_text().splitlines()[1:]
    r = runner.invoke(app, ["forecast", "eval", "legacy", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["MAE"] == 6.762179871814192  # the old code's backtest from row 48
    r = runner.invoke(app, ["forecast", "backtest", "legacy", "--baselines", "naive"])
    assert r.exit_code == 0 and "10 origins from 2004-01-01" in r.output.replace("\n", " "), r.output
