"""docs/examples: every example file of docs/formats.md reads through the public readers, the page names every
file, the CLI trains one tiny epoch from an example (the wiring: --format / --conllu-tag reach the readers, the
note reaches the user), and --help shows the new options with their defaults."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.data import readers

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = DOCS / "examples"
CLASSIFY = sorted(p for p in (EXAMPLES / "classify").iterdir())
TAG = sorted((EXAMPLES / "tag").iterdir())
runner = CliRunner()
TINY = ["--hidden", "4", "--epochs", "1", "--quiet", "--data.val_fraction=0"]


@pytest.mark.parametrize("path", CLASSIFY, ids=lambda p: p.name)
def test_classify_examples_read(path):
    d = readers.read_classification(path)
    assert len(d) >= 4 and len(d.classes) == 2
    if path.suffix != ".ts":
        assert all(isinstance(x, str) and x and "\t" not in x and not x.startswith("__") for x in d.inputs)
        assert len(d.notes) == 1 and d.notes[0].startswith("format: ")


@pytest.mark.parametrize("path", TAG, ids=lambda p: p.name)
def test_tag_examples_read(path):
    d = readers.read_tagging(path)
    assert len(d) == 2 and d.notes[0].startswith("format: CoNLL")
    words = {w for s in d.column(0) for w in s}
    assert not words & {"1", "2", "3", "-DOCSTART-"}  # words, never token IDs or document markers


def test_formats_page_shows_every_example():
    page = (DOCS / "formats.md").read_text(encoding="utf-8")
    for p in [*CLASSIFY, *TAG]:
        assert f"examples/{p.parent.name}/{p.name}" in page, p
    for flag in ("--format", "--text-col", "--label-col", "--conllu-tag"):
        assert flag in page


def test_classify_trains_from_a_csv_example(tmp_path):
    run = tmp_path / "run"
    r = runner.invoke(
        app,
        [
            "classify",
            "train",
            "--data",
            str(EXAMPLES / "classify" / "reviews.csv"),
            "--input",
            "word",
            "--out",
            str(run),
            *TINY,
        ],
    )
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())  # rich may wrap
    assert "format: CSV with a header (text column 'text', label column 'label') detected in reviews.csv" in out
    assert json.loads((run / "config.json").read_text())["data"]["format"] == "auto"
    r = runner.invoke(
        app,
        [
            "classify",
            "train",
            "--data",
            str(EXAMPLES / "classify" / "reviews.csv"),
            "--format",
            "tab",
            "--out",
            str(tmp_path / "r2"),
            *TINY,
        ],
    )
    assert r.exit_code == 1 and "reviews.csv" in r.output and "--label-col" in r.output


def test_tag_trains_from_the_conllu_example_and_scores_words_only(tmp_path):
    data, run = EXAMPLES / "tag" / "ud.conllu", tmp_path / "run"
    r = runner.invoke(app, ["tag", "train", "--data", str(data), "--test", str(data), "--out", str(run), *TINY])
    assert r.exit_code == 0, r.output
    assert "format: CoNLL-U detected in ud.conllu" in " ".join(r.output.split())
    task = json.loads((run / "task.json").read_text())
    assert "PRON" in task["tags"] and "can" in task["words"] and "1" not in task["words"]
    report = json.loads((run / "eval.json").read_text())
    assert report["tokens"] == 12  # 14 word lines minus 'cannot' (range 2-3) and 'likes' (empty node 5.1)
    r = runner.invoke(app, ["tag", "eval", str(run), "--data", str(data), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["tokens"] == 12
    r = runner.invoke(
        app,
        [
            "tag",
            "train",
            "--data",
            str(data),
            "--test",
            str(data),
            "--conllu-tag",
            "xpos",
            "--out",
            str(tmp_path / "x"),
            *TINY,
        ],
    )
    assert r.exit_code == 0 and "MD" in json.loads((tmp_path / "x" / "task.json").read_text())["tags"]


@pytest.mark.parametrize(
    "task, shown",
    [
        (
            "classify",
            ["--format", "default auto; config data.format", "--text-col", "--label-col", "config data.label_col"],
        ),
        ("tag", ["--format", "config data.format", "--conllu-tag", "default upos; config data.conllu_tag"]),
    ],
)
def test_help_shows_the_reader_options_with_defaults(task, shown):
    r = runner.invoke(app, [task, "train", "--help"], env={"COLUMNS": "240", "TERMINAL_WIDTH": "240"})
    assert r.exit_code == 0
    text = re.sub(r"[\s│]+", " ", r.output)
    for s in shown:
        assert s in text, (s, text)


def test_bad_reader_options_are_config_errors(tmp_path):
    data = EXAMPLES / "classify" / "reviews.csv"
    r = runner.invoke(app, ["classify", "train", "--data", str(data), "--format", "xml", *TINY])
    assert r.exit_code == 1 and "data.format must be one of ('auto', 'tab', 'space', 'fasttext', 'csv')" in r.output
    r = runner.invoke(
        app, ["tag", "train", "--data", str(EXAMPLES / "tag" / "ud.conllu"), "--conllu-tag", "deprel", *TINY]
    )
    assert r.exit_code == 1 and "data.conllu_tag must be 'upos' or 'xpos'" in r.output
