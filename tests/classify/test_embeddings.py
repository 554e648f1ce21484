"""--embeddings: word2vec/GloVe text vectors start the tagger's word embedding; malformed files are clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.data.readers import read_tagging_file
from rnnkit.data.sources import DataError
from rnnkit.data.vectors import read_vectors
from rnnkit.tasks.tag.config import TaggerConfig, TaggerDataConfig, TaggerModelConfig
from rnnkit.tasks.tag.task import Tagger

TEXT = "Juan B-PER\nvive O\nen O\nMadrid B-LOC\nen O\n1987 O\n\n"


def test_read_vectors_formats_and_errors(tmp_path):
    glove = tmp_path / "g.txt"
    glove.write_text("madrid 1 2 3\nJuan 4 5 6\njuan 7 8 9\nzzz 0 0 0\n", encoding="utf-8")
    found, dim = read_vectors(glove, {"madrid", "juan"}, key=str.lower)
    assert dim == 3 and set(found) == {"madrid", "juan"}
    np.testing.assert_array_equal(found["juan"], [4, 5, 6])  # the first matching line wins
    w2v = tmp_path / "w.txt"
    w2v.write_text("2 2\nmadrid 0.5 -1\nen 1e-3 2\n", encoding="utf-8")
    assert read_vectors(w2v, {"en"})[1] == 2
    bad = tmp_path / "b.txt"
    bad.write_text("a 1 2\nb 1\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"b.txt:2: 1 numbers after the word, expected 2"):
        read_vectors(bad, {"a"})
    bad.write_text("a 1 x\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"b.txt:1: a value after 'a' is not a number"):
        read_vectors(bad, {"a"})
    with pytest.raises(DataError, match="does not exist"):
        read_vectors(tmp_path / "none.txt", {"a"})


def test_tagger_starts_from_the_vectors(tmp_path):
    data, vec = tmp_path / "d.conll", tmp_path / "v.txt"
    data.write_text(TEXT, encoding="utf-8")
    vec.write_text("Madrid 1 2 3 4\n0000 -1 -1 -1 -1\n", encoding="utf-8")  # keys as the embedding's: '1987' -> '0000'
    task = Tagger(TaggerConfig(data=TaggerDataConfig(path=str(data)), model=TaggerModelConfig(embeddings=str(vec))))
    task.prepare(read_tagging_file(data))
    assert task.config.model.word_embed == 4 and "2 of 5 training words found in v.txt" in task.notes[0]
    w = task.build_model().words.weight.detach()
    np.testing.assert_array_equal(w[task.words.stoi["madrid"]].numpy(), [1, 2, 3, 4])
    np.testing.assert_array_equal(w[task.words.stoi["0000"]].numpy(), [-1, -1, -1, -1])

    run = tmp_path / "run"
    r = CliRunner().invoke(
        app,
        [
            "tag",
            "train",
            "--data",
            str(data),
            "--test",
            str(data),
            "--embeddings",
            str(vec),
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
    assert json.loads((run / "config.json").read_text())["model"]["word_embed"] == 4
    assert CliRunner().invoke(app, ["tag", "predict", str(run), "Juan vive en Madrid"]).exit_code == 0
