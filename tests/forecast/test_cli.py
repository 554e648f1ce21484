"""The CLI end to end on a tiny CSV: train -> predict -> backtest, plus a bad-input exit."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from rnnkit.cli import app

runner = CliRunner()


def test_train_predict_backtest(monthly_csv, tmp_path):
    run = tmp_path / "run"
    r = runner.invoke(
        app,
        ["forecast", "train", "--csv", str(monthly_csv), "--time-col", "date", "--target", "sales",
         "--horizon", "3", "--input-length", "12", "--train-end", "36", "--val-end", "48", "--hidden", "4",
         "--epochs", "2", "--likelihood", "gaussian", "--run-dir", str(run), "--quiet", "--data.season=12"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (run / "config.json").is_file() and (run / "forecast.json").is_file()
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["data"]["season"] == 12 and cfg["model"]["likelihood"] == "gaussian"

    r = runner.invoke(
        app, ["forecast", "predict", str(run), "--out", str(tmp_path / "f.csv"), "--plot", str(tmp_path / "f.png")]
    )
    assert r.exit_code == 0, r.output
    assert "q0.9" in r.output and (tmp_path / "f.png").stat().st_size > 1000
    assert len((tmp_path / "f.csv").read_text().splitlines()) == 1 + 3

    r = runner.invoke(
        app,
        ["forecast", "backtest", str(run), "--start", "48", "--stride", "2", "--baselines", "naive,seasonal_naive",
         "--json", str(tmp_path / "m.json"), "--plot", str(tmp_path / "b.png")],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "seasonal_naive" in r.output and "MASE" in r.output
    m = json.loads((tmp_path / "m.json").read_text())["metrics"]
    assert set(m) == {"rnn", "naive", "seasonal_naive"} and "CRPS" in m["rnn"]


def test_bad_input_exits_with_the_message(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("date,sales\n2020-01-01,1\n2020-01-02,oops\n2020-01-03,3\n")
    r = runner.invoke(
        app,
        [
            "forecast",
            "train",
            "--csv",
            str(p),
            "--time-col",
            "date",
            "--target",
            "sales",
            "--run-dir",
            str(tmp_path / "r"),
        ],
    )
    assert r.exit_code == 2
    assert "column 'sales' row 1 holds 'oops', which is not a number" in r.output
    r = runner.invoke(app, ["forecast", "train", "--csv", str(p), "--run-dir", str(tmp_path / "r")])
    assert r.exit_code == 2 and "data.time_col and data.targets are required" in r.output


def test_train_resume_continues_exactly(monthly_csv, tmp_path, monkeypatch):
    """`forecast train --epochs 1`, then the same with `--epochs 2 --resume` == a straight 2-epoch run."""
    from tests.train.helpers import assert_same_last, spy_resume

    resumed_from = spy_resume(monkeypatch)
    args = ["forecast", "train", "--csv", str(monthly_csv), "--time-col", "date", "--target", "sales", "--horizon",
            "3", "--input-length", "12", "--train-end", "36", "--val-end", "48", "--hidden", "4", "--quiet",
            "--data.batch_size=4"]  # fmt: skip
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert runner.invoke(app, [*args, "--epochs", "2", "--run-dir", str(full)]).exit_code == 0
    assert runner.invoke(app, [*args, "--epochs", "1", "--run-dir", str(cut)]).exit_code == 0
    r = runner.invoke(app, [*args, "--epochs", "2", "--run-dir", str(cut), "--resume"])
    assert r.exit_code == 0, r.output
    assert resumed_from == [cut / "last"]
    assert_same_last(full / "last", cut / "last")
    r = runner.invoke(app, [*args, "--run-dir", str(tmp_path / "none"), "--resume"])
    assert r.exit_code == 2 and "no checkpoint at" in r.output
