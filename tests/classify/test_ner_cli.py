"""`rnnkit tag predict` prints entities as spans for IOB tags (a tiny model trained here), tokens on request."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.tasks.tag.task import format_spans

runner = CliRunner()


def test_format_spans_by_hand():
    tagged = list(zip("Juan Pérez vive en Madrid .".split(), ["B-PER", "I-PER", "O", "O", "B-LOC", "O"], strict=True))
    assert format_spans(tagged) == "[PER Juan Pérez] vive en [LOC Madrid] ."
    assert format_spans([("a", "I-X"), ("b", "B-X"), ("c", "I-Y")]) == "[X a] [X b] [Y c]"  # IOB1, type change
    assert format_spans([("a", "O")]) == "a"


def test_predict_spans_and_tokens(tmp_path):
    data = tmp_path / "ner.conll"
    data.write_text("Juan B-PER\nPérez I-PER\nvive O\nen O\nMadrid B-LOC\n. O\n\n" * 4, encoding="utf-8")
    run = tmp_path / "ner"
    r = runner.invoke(
        app,
        [
            "tag",
            "train",
            "--data",
            str(data),
            "--test",
            str(data),
            "--char-embed",
            "4",
            "--out",
            str(run),
            "--hidden",
            "8",
            "--epochs",
            "3",
            "--lr",
            "0.05",
            "--quiet",
            "--data.val_fraction=0",
        ],
    )
    assert r.exit_code == 0, r.output
    report = json.loads(r.output.strip().splitlines()[-1])
    assert set(report["per_type"]) <= {"PER", "LOC"} and "LOC" in report["per_type"]  # gold types always listed
    assert set(report["per_type"]["PER"]) == {"precision", "recall", "f1", "support", "predicted"}
    assert report["per_type"]["PER"]["support"] == 4

    sentence = "Juan Pérez vive en Madrid ."
    r = runner.invoke(app, ["tag", "predict", str(run), sentence, "--format", "tokens"])
    assert r.exit_code == 0, r.output
    tagged = [tuple(t.rsplit("/", 1)) for t in r.output.split()]
    assert [w for w, _ in tagged] == sentence.split()
    for args in ([], ["--format", "spans"]):  # auto: spans, since the run's tags are IOB entity tags
        r = runner.invoke(app, ["tag", "predict", str(run), sentence, *args])
        assert r.exit_code == 0 and r.output.strip() == format_spans(tagged), r.output
    r = runner.invoke(app, ["tag", "predict", str(run), sentence, "--format", "xml"])
    assert r.exit_code == 1 and "--format must be auto, tokens or spans" in r.output


def test_tag_scheme_iobes_and_its_errors(tmp_path):
    data = tmp_path / "ner.conll"
    data.write_text("Juan NC B-PER\nPérez NC I-PER\nen SP O\nMadrid NC B-LOC\n\n" * 3, encoding="utf-8")
    run = tmp_path / "ner"
    r = runner.invoke(
        app,
        [
            "tag",
            "train",
            "--data",
            str(data),
            "--test",
            str(data),
            "--tag-scheme",
            "iobes",
            "--out",
            str(run),
            "--hidden",
            "4",
            "--epochs",
            "1",
            "--quiet",
            "--data.val_fraction=0",
        ],
    )
    assert r.exit_code == 0, r.output
    assert set(json.loads((run / "task.json").read_text())["tags"]) == {"B-PER", "E-PER", "O", "S-LOC"}
    r = runner.invoke(app, ["tag", "predict", str(run), "Juan Pérez en Madrid", "--format", "tokens"])
    assert r.exit_code == 0 and {t.rsplit("/", 1)[1] for t in r.output.split()} <= {"B-PER", "E-PER", "O", "S-LOC"}
    r = runner.invoke(
        app,
        [
            "tag",
            "train",
            "--data",
            str(data),
            "--tag-column",
            "1",
            "--tag-scheme",
            "iob1",
            "--out",
            str(tmp_path / "pos"),
            "--hidden",
            "4",
            "--epochs",
            "1",
            "--quiet",
        ],
    )
    assert r.exit_code == 1 and "sentence 0, token 0: tag 'NC' is not IOB" in r.output, r.output
    pos = tmp_path / "pos2"
    r = runner.invoke(
        app,
        [
            "tag",
            "train",
            "--data",
            str(data),
            "--test",
            str(data),
            "--tag-column",
            "1",
            "--out",
            str(pos),
            "--hidden",
            "4",
            "--epochs",
            "1",
            "--quiet",
            "--data.val_fraction=0",
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["tag", "predict", str(pos), "Juan en Madrid"])  # POS tags: auto prints tokens
    assert r.exit_code == 0 and r.output.startswith("Juan/"), r.output
    r = runner.invoke(app, ["tag", "predict", str(pos), "Juan en Madrid", "--format", "spans"])
    assert r.exit_code == 1 and "--format spans needs IOB entity tags" in r.output, r.output
    r = runner.invoke(app, ["tag", "train", "--data", str(data), "--tag-scheme", "bilou", "--out", str(tmp_path / "x")])
    assert r.exit_code != 0 and "data.tag_scheme must be" in r.output, r.output
