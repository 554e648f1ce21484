"""One error handler for every command: rnnkit errors and OSErrors are one line naming the path and what to do
(exit 1), a traceback only with --debug or RNNKIT_DEBUG=1."""

from __future__ import annotations

import random

import pytest
from typer.testing import CliRunner

from rnnkit.cli import app

runner = CliRunner()


def _text(path):
    rng = random.Random(0)
    words = "the cat sat on the mat and a dog ran in the park while one fish swam".split()
    path.write_text("\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(120)), encoding="utf-8")
    return path


def _lm(tmp_path, out, *extra):
    return [
        "lm",
        "train",
        "--data",
        str(_text(tmp_path / "t.txt")),
        "--hidden",
        "8",
        "--embedding",
        "4",
        "--bptt",
        "8",
        "--batch-size",
        "4",
        "--quiet",
        "--out",
        str(out),
        *extra,
    ]


@pytest.mark.parametrize("command", ["lm", "forecast"])  # the CLI factory's commands and one with its own CLI
def test_an_os_error_is_one_line_with_the_path_and_what_to_do(tmp_path, command):
    a_file = _text(tmp_path / "t.txt")
    out = a_file / "run"  # a folder under a file: NotADirectoryError wherever it is first written
    if command == "lm":
        args = _lm(tmp_path, out, "--train.max_steps=1")
    else:
        csv = tmp_path / "s.csv"
        hours = [f"2020-01-{1 + i // 24:02d} {i % 24:02d}:00,{(i * 7) % 11}\n" for i in range(80)]  # hourly series
        csv.write_text("t,y\n" + "".join(hours))
        args = [
            "forecast",
            "train",
            "--csv",
            str(csv),
            "--time-col",
            "t",
            "--target",
            "y",
            "--horizon",
            "4",
            "--input-length",
            "8",
            "--epochs",
            "1",
            "--hidden",
            "4",
            "--quiet",
            "--run-dir",
            str(out),
        ]
    r = runner.invoke(app, args, env={"RNNKIT_DEBUG": ""})
    assert r.exit_code == 1, r.output
    (line,) = [ln for ln in r.output.splitlines() if "error" in ln]
    assert f"error: Not a directory: {out}" in line and "a part of this path is a file" in line
    assert "Traceback" not in r.output


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_exception(tmp_path, how):
    out = _text(tmp_path / "t.txt") / "run"
    args = ["--debug", *_lm(tmp_path, out)] if how == "flag" else _lm(tmp_path, out)
    r = runner.invoke(app, args, env={"RNNKIT_DEBUG": "1" if how == "env" else ""})
    assert isinstance(r.exception, NotADirectoryError)  # propagated (typer prints its traceback), not a message
    r = runner.invoke(app, _lm(tmp_path, out), env={"RNNKIT_DEBUG": ""})
    assert r.exit_code == 1 and "error: Not a directory" in r.output  # --debug lasted one command only


def test_divergence_and_bad_sampling_options_are_error_lines(tmp_path):
    run = tmp_path / "run"
    r = runner.invoke(app, _lm(tmp_path, run, "--train.max_steps=3"))
    assert r.exit_code == 0, r.output
    for bad in (["--temperature", "nan"], ["--temperature", "inf"], ["--top-p", "0"], ["--top-k", "0"]):
        r = runner.invoke(app, ["lm", "generate", str(run), "--prompt", "the ", "--length", "5", *bad])
        assert r.exit_code == 1 and "error: --" in r.output and "Traceback" not in r.output, (bad, r.output)
    r = runner.invoke(app, _lm(tmp_path, run, "--lr", "1000", "--train.max_steps=60", "--overwrite"))
    assert r.exit_code == 1, r.output
    assert "rnnkit lm: error: training diverged at step" in r.output and "Lower train.lr (now 1000)" in r.output


def test_debug_shows_the_exception_a_forecast_command_raised(tmp_path):
    from rnnkit.data.sources import DataError

    args = ["forecast", "train", "--csv", str(tmp_path / "s.csv"), "--target", "y", "--quiet"]  # no such file
    r = runner.invoke(app, ["--debug", *args], env={"RNNKIT_DEBUG": ""})
    assert isinstance(r.exception, DataError) and "s.csv" in str(r.exception)
    r = runner.invoke(app, args, env={"RNNKIT_DEBUG": ""})
    assert r.exit_code == 1 and "rnnkit forecast: error: cannot read CSV" in r.output
