"""`rnnkit train lm` -> `rnnkit eval` -> `rnnkit generate` round trip, error paths, and the demo, via CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rnnkit.tasks.lm.demo as demo_mod
from rnnkit.cli import app

pytestmark = pytest.mark.xdist_group(name="lm-cli")  # keep the module on one worker under --dist loadgroup
runner = CliRunner()
TEXT = "to be or not to be that is the question\n" * 150


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "in.txt").write_text(TEXT, encoding="utf-8")
    out = d / "run"
    args = [
        "train",
        "lm",
        "--data",
        str(d / "in.txt"),
        "--cell",
        "gru",
        "--hidden",
        "24",
        "--layers",
        "1",
        "--embedding",
        "8",
        "--bptt",
        "16",
        "--batch-size",
        "4",
        "--out",
        str(out),
        "--quiet",
        "--train.max_steps=8",
        "--model.impl=loop",
        "--data.val_fraction",
        "0.2",
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return out, json.loads(res.stdout)


def test_train_writes_a_run_whose_config_records_the_options(trained_run):
    out, results = trained_run
    assert results["steps"] == 8 and "valid" in results
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"]["cell"]["name"] == "gru" and cfg["model"]["hidden_size"] == 24
    assert cfg["data"]["val_fraction"] == 0.2 and cfg["train"]["max_steps"] == 8  # dotted overrides applied


def test_eval_reports_nats_bits_and_perplexity(trained_run):
    out, results = trained_run
    res = runner.invoke(app, ["eval", str(out), "--split", "valid"])
    assert res.exit_code == 0, res.output
    valid = json.loads(res.stdout)["valid"]
    assert valid["loss"] == pytest.approx(results["valid"]["loss"], rel=1e-6)
    assert valid["bpc"] == pytest.approx(valid["loss"] / 0.6931471805599453, rel=1e-9)


def test_generate_streams_and_is_seeded(trained_run):
    out, _ = trained_run
    args = ["generate", str(out), "--prompt", "to be", "--length", "30", "--seed", "5", "--top-k", "5"]
    a, b = runner.invoke(app, args), runner.invoke(app, args)
    assert a.exit_code == 0, a.output
    assert a.stdout == b.stdout and a.stdout.startswith("to be") and len(a.stdout) == len("to be") + 30 + 1


def test_generate_prompt_outside_vocabulary(trained_run):
    out, _ = trained_run
    res = runner.invoke(app, ["generate", str(out), "--prompt", "Q!", "--length", "3", "--seed", "0"])
    assert res.exit_code == 0 and "warning: prompt has 2 char(s) outside the vocabulary" in res.output
    res = runner.invoke(app, ["generate", str(out), "--prompt", "Q", "--strict"])
    assert res.exit_code == 1 and "error: prompt has 1 char(s) outside the vocabulary" in res.output


def test_cli_error_paths(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"abc\xff\n" * 10)
    res = runner.invoke(app, ["train", "lm", "--data", str(bad), "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and "not valid UTF-8: byte offset 3 (line 1)" in res.output
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    res = runner.invoke(app, ["train", "lm", "--data", str(empty), "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and "is empty" in res.output
    res = runner.invoke(app, ["train", "lm", "--data", str(empty), "--dataset", "ptb"])
    assert res.exit_code == 2 and "not both" in res.output
    res = runner.invoke(app, ["train", "lm", "--data", str(empty), "--train.lrr=1"])
    assert res.exit_code == 1 and "train.lrr" in res.output
    res = runner.invoke(app, ["generate", str(tmp_path)])
    assert res.exit_code == 1 and "is not a run folder (no config.json)" in res.output
    res = runner.invoke(app, ["eval", str(tmp_path / "nope")])
    assert res.exit_code == 1 and "does not exist or is not a folder" in res.output


def test_demo_offline_with_a_tiny_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(demo_mod, "find_demo_data_root", lambda: None)  # as on a fresh clone with no data
    monkeypatch.setattr(demo_mod, "DEMO_MODEL", {**demo_mod.DEMO_MODEL, "hidden_size": 32, "num_layers": 1})
    res = runner.invoke(app, ["demo", "--seconds", "2", "--out", str(tmp_path / "demo"), "--length", "40", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "Python Language Reference" in res.output and "bits/char" in res.output and "--- sample" in res.output
    assert (tmp_path / "demo" / "demo-input.txt").stat().st_size > 200_000
    assert (tmp_path / "demo" / "loss.png").is_file()


def test_demo_looks_for_shared_data_next_to_the_repository():
    repo = Path(__file__).resolve().parents[2]  # tests/lm/test_cli.py -> the repository
    assert (repo / "pyproject.toml").is_file()
    assert demo_mod.SHARED_DATA == repo.parent / "shared" / "data"  # <repo>/../shared/data, wherever the module lives


def test_resume_continues_the_run(trained_run):
    out, results = trained_run
    args = ["train", "lm", "--config", str(out / "config.json"), "--resume", "--train.max_steps=10", "--quiet"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["steps"] == 10  # 8 steps from the first run + 2 more, same vocabulary


def test_adaptive_softmax_train_eval_generate(tmp_path):
    words = "the cat sat on the mat\na dog ran in the park\none fish two fish red fish blue fish\n" * 40
    (tmp_path / "w.txt").write_text(words, encoding="utf-8")
    out = tmp_path / "run"
    args = [
        "train",
        "lm",
        "--data",
        str(tmp_path / "w.txt"),
        "--level",
        "word",
        "--hidden",
        "16",
        "--embedding",
        "8",
        "--bptt",
        "8",
        "--batch-size",
        "4",
        "--out",
        str(out),
        "--quiet",
        "--adaptive",
        "3,8",
        "--train.max_steps=4",
        "--model.impl=loop",
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert json.loads((out / "config.json").read_text())["model"]["adaptive_cutoffs"] == [3, 8]
    valid = json.loads(res.stdout)["valid"]
    res = runner.invoke(app, ["eval", str(out), "--split", "valid"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["valid"]["loss"] == pytest.approx(valid["loss"], rel=1e-6)
    res = runner.invoke(app, ["generate", str(out), "--prompt", "the cat ", "--length", "5", "--seed", "1"])
    assert res.exit_code == 0 and res.stdout.startswith("the cat "), res.output
    bad = [*args[:-2], "--adaptive", "3,80", "--train.max_steps=1", "--overwrite"]  # `out` holds the run above
    res = runner.invoke(app, bad)  # the vocabulary has 17 tokens
    assert res.exit_code == 1 and "adaptive cutoffs must lie in (0, V) = (0, 17)" in res.output
    res = runner.invoke(app, [*args, "--model.tie_weights=true", "--overwrite"])
    assert res.exit_code == 1 and "cannot be tied to the embedding" in res.output
    assert (out / "best").is_dir() and not list(tmp_path.glob("run.old-*"))  # refused before the old run was moved
