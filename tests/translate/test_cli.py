"""`rnnkit translate train|eval|translate` round trips in tmp folders, stdin input, and the error messages."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnkit.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny reverse-task run: (run folder, the TSV it was trained on)."""
    tmp = tmp_path_factory.mktemp("translate")
    rnd = random.Random(0)
    lines = []
    for _ in range(300):
        w = [rnd.choice("abcd") for _ in range(rnd.randint(1, 3))]
        lines.append(" ".join(w) + "\t" + " ".join(reversed(w)))
    data = tmp / "pairs.tsv"
    data.write_text("\n".join(lines) + "\n")
    run = tmp / "run"
    res = runner.invoke(
        app,
        [
            "translate", "train", "--data", str(data), "--columns", "src-tgt", "--direction", "src-tgt",
            "--setting", "general", "--max-len", "5", "--hidden", "16", "--max-steps", "8", "--batch-size", "32",
            "--beam", "2", "--out", str(run), "--quiet", "--", "--model.embed_size=8", "--train.lr=1e-2",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "BLEU signature: nrefs:1|case:mixed|eff:no|tok:13a" in res.output
    return run, data


def test_train_writes_a_loadable_run(trained: tuple[Path, Path]) -> None:
    run, _ = trained
    for f in ("config.json", "task.json", "eval.json", "metrics.jsonl"):
        assert (run / f).is_file(), f
    ev = json.loads((run / "eval.json").read_text())
    assert set(ev) == {"greedy", "beam2"} and ev["greedy"]["n"] == ev["beam2"]["n"] > 0


def test_eval_reports_bleu_chrf_and_signatures(trained: tuple[Path, Path]) -> None:
    run, data = trained
    res = runner.invoke(app, ["translate", "eval", str(run), "--beam", "1"])
    assert res.exit_code == 0, res.output
    assert "BLEU" in res.output and "chrF" in res.output and "chrF signature: nrefs:1" in res.output
    res = runner.invoke(app, ["translate", "eval", str(run), "--data", str(data), "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert rep["n"] == 300 and rep["beam_size"] == 2 and 0.0 <= rep["bleu"] <= 100.0


def test_translate_from_arguments_stdin_and_plot(trained: tuple[Path, Path], tmp_path: Path) -> None:
    run, _ = trained
    res = runner.invoke(app, ["translate", "translate", str(run), "a b", "c d a", "--plot", str(tmp_path / "a.png")])
    assert res.exit_code == 0, res.output
    assert res.output.count("\n") == 2  # one line per sentence (an 8-step model may well print empty ones)
    assert (tmp_path / "a.png").stat().st_size > 1000
    res2 = runner.invoke(app, ["translate", "translate", str(run)], input="a b\n\nc d a\n")
    assert res2.exit_code == 0, res2.output
    assert res2.output == res.output  # blank stdin lines skipped; same translations as from arguments


def test_errors_empty_input_and_unknown_direction(trained: tuple[Path, Path]) -> None:
    run, data = trained
    res = runner.invoke(app, ["translate", "translate", str(run)], input="\n  \n")
    assert res.exit_code == 2 and "no input sentences" in res.output
    res = runner.invoke(app, ["translate", "translate", str(run), "123 ,,"])
    assert res.exit_code == 2 and "is empty after normalisation" in res.output
    res = runner.invoke(
        app, ["translate", "train", "--data", str(data), "--columns", "src-tgt", "--direction", "src-deu"]
    )
    assert res.exit_code == 2 and "unknown language direction 'src-deu'" in res.output
    res = runner.invoke(app, ["translate", "eval", str(data.parent)])
    assert res.exit_code == 2 and "not a translation run folder" in res.output


def test_train_resume_continues_exactly(trained: tuple[Path, Path], tmp_path: Path, monkeypatch) -> None:
    """`translate train --epochs 1`, then `--config RUN --epochs 2 --resume` == a straight 2-epoch run."""
    from tests.train.helpers import assert_same_last, spy_resume

    resumed_from = spy_resume(monkeypatch)
    _, data = trained
    args = ["translate", "train", "--data", str(data), "--columns", "src-tgt", "--direction", "src-tgt", "--setting",
            "general", "--max-len", "5", "--hidden", "8", "--batch-size", "64", "--beam", "1", "--quiet"]  # fmt: skip
    tail = ["--", "--model.embed_size=8"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert runner.invoke(app, [*args, "--epochs", "2", "--out", str(full), *tail]).exit_code == 0
    assert runner.invoke(app, [*args, "--epochs", "1", "--out", str(cut), *tail]).exit_code == 0
    res = runner.invoke(app, [*args, "--epochs", "2", "--out", str(cut), "--resume", *tail])
    assert res.exit_code == 0, res.output
    assert resumed_from == [cut / "last"]
    assert_same_last(full / "last", cut / "last")
