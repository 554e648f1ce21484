"""CLI round trips (train -> eval -> predict) for `rnnkit classify` and `rnnkit tag`, and bad-input exits."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rnnkit.cli import app

runner = CliRunner()
TINY = ["--hidden", "4", "--epochs", "1", "--quiet"]


def _tsv(path):
    rows = [("pos", "good fun film"), ("neg", "dull bad film"), ("pos", "great fun"), ("neg", "bad plot")] * 5
    path.write_text("".join(f"{a}\t{b}\n" for a, b in rows), encoding="utf-8")
    return path


def test_classify_round_trip(tmp_path):
    data, run = _tsv(tmp_path / "d.tsv"), tmp_path / "run"
    r = runner.invoke(
        app,
        [
            "classify",
            "train",
            "--data",
            str(data),
            "--input",
            "word",
            "--out",
            str(run),
            *TINY,
            "--data.val_fraction=0",
            "--model.pooling=attention",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "accuracy" in r.output and "confusion matrix" in r.output
    assert (run / "confusion.png").stat().st_size > 0 and (run / "eval.json").is_file()
    assert json.loads((run / "config.json").read_text())["model"]["pooling"] == "attention"
    r = runner.invoke(app, ["classify", "eval", str(run), "--data", str(data), "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["n"] == 20 and set(report["per_class"]) == {"neg", "pos"}
    r = runner.invoke(app, ["classify", "predict", str(run), "good fun", "bad", "--k", "2", "--attention"])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert lines[0].startswith("good fun\t") and len(lines[0].split("  ")) == 2
    assert "good:" in lines[1]  # attention weights per token


def test_classify_bad_inputs(tmp_path):
    r = runner.invoke(app, ["classify", "train", "--data", str(tmp_path / "none.tsv"), *TINY])
    assert r.exit_code == 1 and "no such dataset or path" in r.output
    r = runner.invoke(app, ["classify", "train", "--data", "x", "--dataset", "names", *TINY])
    assert r.exit_code == 2 and "not both" in r.output
    r = runner.invoke(app, ["classify", "train", "--data", str(_tsv(tmp_path / "d.tsv")), "--pooling", "sum", *TINY])
    assert r.exit_code == 1 and "model.pooling must be one of" in r.output
    r = runner.invoke(app, ["classify", "eval", str(tmp_path)])
    assert r.exit_code == 1 and "is not a run folder (no config.json)" in r.output
    bad = tmp_path / "latin.tsv"
    bad.write_bytes("pos\tcaf\xe9\n".encode("latin-1"))
    r = runner.invoke(app, ["classify", "train", "--data", str(bad), *TINY])
    assert r.exit_code == 1 and "--encoding latin-1" in r.output


def test_classify_eval_unknown_label(tmp_path):
    data, run = _tsv(tmp_path / "d.tsv"), tmp_path / "run"
    assert runner.invoke(app, ["classify", "train", "--data", str(data), "--out", str(run), *TINY]).exit_code == 0
    other = tmp_path / "o.tsv"
    other.write_text("pos\tfun\nmeh\tso so\n")
    r = runner.invoke(app, ["classify", "eval", str(run), "--data", str(other)])
    assert r.exit_code == 1 and "labels ['meh'] were not seen in training" in r.output
    with pytest.warns(UserWarning, match=r"dropped 1 examples with unseen labels \['meh'\]"):
        r = runner.invoke(app, ["classify", "eval", str(run), "--data", str(other), "--unknown", "skip", "--json"])
    assert r.exit_code == 0 and json.loads(r.output.splitlines()[-1])["n"] == 1


def test_tag_round_trip(tmp_path):
    data = tmp_path / "t.conll"
    data.write_text("The DT B-NP\ndog NN I-NP\nruns VBZ B-VP\n\nA DT B-NP\ncat NN I-NP\nsleeps VBZ B-VP\n" * 3)
    run = tmp_path / "tag"
    r = runner.invoke(
        app,
        [
            "tag",
            "train",
            "--data",
            str(data),
            "--test",
            str(data),
            "--crf",
            "--char-embed",
            "4",
            "--out",
            str(run),
            *TINY,
            "--data.val_fraction=0",
        ],
    )
    assert r.exit_code == 0, r.output
    assert {"token_accuracy", "span_f1"} <= set(json.loads(r.output.strip().splitlines()[-1]))
    r = runner.invoke(app, ["tag", "eval", str(run), "--data", str(data), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["tokens"] == 18
    r = runner.invoke(app, ["tag", "predict", str(run), "The cat runs", "--format", "tokens"])
    assert r.exit_code == 0 and r.output.startswith("The/")
    assert len(r.output.split()) == 3
    r = runner.invoke(app, ["tag", "predict", str(run)])
    assert r.exit_code == 2 and "nothing to tag" in r.output


def test_classify_eval_of_several_runs_is_an_ensemble(tmp_path):
    data = _tsv(tmp_path / "d.tsv")
    for seed in (0, 1):
        r = runner.invoke(
            app,
            [
                "classify",
                "train",
                "--data",
                str(data),
                "--out",
                str(tmp_path / f"r{seed}"),
                "--seed",
                str(seed),
                *TINY,
                "--data.val_fraction=0",
            ],
        )
        assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["classify", "eval", str(tmp_path / "r0"), str(tmp_path / "r1"), "--data", str(data)])
    assert r.exit_code == 0 and "mean of 2 runs" in " ".join(r.output.split()), r.output  # rich may wrap
    r = runner.invoke(
        app, ["classify", "eval", str(tmp_path / "r0"), str(tmp_path / "r1"), "--data", str(data), "--json"]
    )
    assert r.exit_code == 0 and json.loads(r.output)["members"] == 2


SHIPPED = {  # configs/<file>.json -> the benchmarks/quality_classify.py setting it must equal
    "classify-mr-polarity": "mr",
    "classify-names": "names",
    "classify-japanese-vowels": "japanese-vowels",
    "tag-conll2000-chunk": "conll-chunk",
    "tag-conll2000-pos": "conll-pos",
}


@pytest.mark.parametrize("file", sorted(SHIPPED))
def test_shipped_configs_are_the_benchmark_settings(file, monkeypatch):
    """`rnnkit classify|tag train --config configs/X.json` trains what RESULTS.md reports: the files must not drift
    from quality_classify.py's SETTINGS."""
    from pathlib import Path

    from rnnkit.config import apply_overrides, load_config
    from rnnkit.tasks.classify.config import ClassifierConfig
    from rnnkit.tasks.tag.config import TaggerConfig

    root = Path(__file__).resolve().parents[2]
    monkeypatch.syspath_prepend(str(root / "benchmarks"))
    from quality_classify import SETTINGS

    name = SHIPPED[file]
    cls = TaggerConfig if file.startswith("tag-") else ClassifierConfig
    want = apply_overrides(cls(), [*SETTINGS[name], f"run_dir=runs/{file}"])
    assert load_config(cls, root / "configs" / f"{file}.json") == want


@pytest.mark.parametrize("task", ["classify", "tag"])
def test_train_resume_continues_exactly(tmp_path, task, monkeypatch):
    """`train --epochs 1`, then `train --config RUN --epochs 2 --resume` == a straight 2-epoch run, bit for bit."""
    from tests.train.helpers import assert_same_last, spy_resume

    resumed_from = spy_resume(monkeypatch)
    if task == "classify":
        data = _tsv(tmp_path / "d.tsv")
        args = ["classify", "train", "--data", str(data), "--input", "word", "--hidden", "4", "--quiet"]
    else:
        data = tmp_path / "t.conll"
        data.write_text("The DT B-NP\ndog NN I-NP\nruns VBZ B-VP\n\nA DT B-NP\ncat NN I-NP\nsleeps VBZ B-VP\n" * 4)
        args = ["tag", "train", "--data", str(data), "--test", str(data), "--crf", "--hidden", "4", "--quiet"]
    args += ["--batch-size", "2", "--data.val_fraction=0", "--train.ema=0.9"]  # several steps per epoch; EMA too
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert runner.invoke(app, [*args, "--epochs", "2", "--out", str(full)]).exit_code == 0
    assert runner.invoke(app, [*args, "--epochs", "1", "--out", str(cut)]).exit_code == 0
    assert not resumed_from
    r = runner.invoke(app, [*args, "--config", str(cut), "--epochs", "2", "--out", str(cut), "--resume"])
    assert r.exit_code == 0, r.output
    assert resumed_from == [cut / "last"]
    assert_same_last(full / "last", cut / "last")  # weights, optimiser, and the EMA's averaged weights
    assert json.loads((full / "eval.json").read_text()) == json.loads((cut / "eval.json").read_text())


def test_train_resume_without_a_checkpoint_is_a_clear_error(tmp_path):
    r = runner.invoke(
        app,
        ["classify", "train", "--data", str(_tsv(tmp_path / "d.tsv")), "--out", str(tmp_path / "x"), "--resume", *TINY],
    )
    assert r.exit_code == 1 and "is not a classify run folder (no task.json)" in r.output
