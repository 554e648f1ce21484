"""`rnnkit explain gradients|states|trace` through typer's CliRunner: JSON out, tables, errors exit 2."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.explain.trace import trace

runner = CliRunner()


def test_trace_json_equals_the_library(tmp_path):
    out = tmp_path / "t.json"
    r = runner.invoke(app, ["explain", "trace", "--cell", "gru", "--seed", "3", "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert "backward step t=0" in r.output and "dpreact.z (= db_ih)" in r.output  # the rich tables too
    assert json.loads(out.read_text()) == json.loads(json.dumps(trace("gru", seed=3)))


def test_trace_json_to_stdout_and_errors():
    r = runner.invoke(app, ["explain", "trace", "--cell", "rnn", "--steps", "2", "--json", "-"])
    assert r.exit_code == 0, r.output
    tr = json.loads(r.stdout)
    assert tr["cell"] == "rnn" and len(tr["forward"]) == 2 and set(tr["forward"][0]["cache"]) == {"x", "h", "h_new"}
    r = runner.invoke(app, ["explain", "trace", "--cell", "nope"])
    assert r.exit_code == 2 and "rnnkit explain: unknown cell 'nope'" in r.output
    r = runner.invoke(app, ["explain", "trace", "--gru-variant", "cho"])
    assert r.exit_code == 2 and "gru_variant must be 'torch'" in r.output


def test_gradients_fresh_cells(tmp_path):
    png = tmp_path / "g.png"
    args = [
        "explain",
        "gradients",
        "--cell",
        "rnn,lstm",
        "--hidden",
        "8",
        "--steps",
        "15",
        "--batch",
        "3",
        "--batches",
        "1",
        "--out",
        str(png),
    ]
    r = runner.invoke(app, args + ["--json", "-"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert [p["cell"] for p in d["profiles"]] == ["rnn", "lstm"] and png.is_file()
    rnn, lstm = d["profiles"]
    assert len(rnn["dh_norm"]) == 15 and rnn["distance"] == list(range(15))
    assert lstm["decay_rate"] > rnn["decay_rate"]  # forget bias 1 by default
    r = runner.invoke(app, args, env={"COLUMNS": "160"})  # rich reads the terminal width from COLUMNS
    assert r.exit_code == 0 and "rate/step" in r.output and "plot:" in r.output
    r = runner.invoke(app, ["explain", "gradients", "--cell", "elman"])
    assert r.exit_code == 2 and "unknown cell 'elman'" in r.output


def test_gradients_and_states_of_a_run(lm_run, tmp_path):
    r = runner.invoke(
        app,
        [
            "explain",
            "gradients",
            str(lm_run),
            "--steps",
            "10",
            "--batch",
            "2",
            "--batches",
            "1",
            "--warmup",
            "5",
            "--out",
            str(tmp_path / "g.png"),
            "--json",
            "-",
        ],
    )
    assert r.exit_code == 0, r.output
    (p,) = json.loads(r.stdout)["profiles"]
    assert p["cell"] == "lstm" and len(p["dh_norm"]) == 10 and np.all(np.isfinite(p["dh_norm"]))
    assert p["clip"] == 1.0  # the run's train.clip_norm
    text = tmp_path / "t.txt"
    text.write_text('the "dog" (a fox)\nsaid the dog\n', encoding="utf-8")
    r = runner.invoke(
        app,
        [
            "explain",
            "states",
            str(lm_run),
            "--text",
            str(text),
            "--out",
            str(tmp_path / "s"),
            "--name",
            "f",
            "--json",
            "-",
        ],
    )
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["name"] == "f" and s["tokens"] == len(text.read_text()) and (tmp_path / "s" / "states.html").is_file()
    r = runner.invoke(
        app, ["explain", "states", str(lm_run), "--out", str(tmp_path / "s2"), "--chars", "30"], env={"COLUMNS": "160"}
    )
    assert r.exit_code == 0, r.output  # default text: the run's validation split
    assert "position_in_line" in r.output and "states.html" in r.output
    r = runner.invoke(app, ["explain", "states", str(tmp_path), "--text", str(text)])
    assert r.exit_code == 2 and "is not a run folder (no config.json)" in r.output


def test_gradients_fresh_cells_on_real_text(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat; (the dog) did not.\n" * 5, encoding="utf-8")
    args = [
        "explain",
        "gradients",
        "--cell",
        "rnn,lstm",
        "--hidden",
        "8",
        "--steps",
        "12",
        "--batch",
        "3",
        "--batches",
        "1",
        "--data",
        str(text),
        "--out",
        str(tmp_path / "g.png"),
    ]
    r = runner.invoke(app, args + ["--json", "-"])
    assert r.exit_code == 0, r.output
    rnn, lstm = json.loads(r.stdout)["profiles"]
    assert len(rnn["dx_norm"]) == 12 and lstm["decay_rate"] > rnn["decay_rate"]
    text.write_text("short", encoding="utf-8")
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and "the text has 5 characters; --steps 12 needs at least 13" in r.output
