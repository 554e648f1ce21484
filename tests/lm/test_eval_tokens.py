"""`--eval-tokens N`: evaluations during training score the first N validation tokens (a bounded cost on a large
corpus), the final evaluation after training scores the whole split and shows its progress."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

import rnnkit.tasks.lm.progress as progress
from rnnkit.cli import app
from rnnkit.config import ConfigError
from rnnkit.tasks.lm import prepare as P
from rnnkit.tasks.lm.config import LMConfig, LMDataConfig
from rnnkit.tasks.lm.task import LanguageModel

runner = CliRunner()
TEXT = "".join(f"line {i}: the quick brown fox jumps over the lazy dog {i * 7 % 13}\n" for i in range(120))


def test_periodic_evaluations_score_the_first_n_validation_tokens_and_the_final_one_all(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "run"
    args = [
        "lm",
        "train",
        "--data",
        str(f),
        "--out",
        str(out),
        "--hidden",
        "8",
        "--layers",
        "1",
        "--embedding",
        "4",
        "--bptt",
        "8",
        "--batch-size",
        "4",
        "--eval-tokens",
        "96",
        "--quiet",
        "--model.impl=loop",
        "--train.max_steps=4",
        "--train.eval_every=2",
        "--data.eval_batch_size=3",
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    vals = [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "val_loss" in r]
    assert [r["step"] for r in vals] == [2, 4]
    last = LanguageModel.load(out, which="last")
    valid = last.data().valid
    sample = last.evaluate(valid[:96], batch_size=3)  # the first 96 tokens in the validation stream's 3 rows
    assert vals[-1]["val_loss"] == pytest.approx(sample["loss"], rel=1e-5)  # float32, chunked differently
    whole = json.loads((out / "eval.json").read_text())["valid"]
    assert whole["tokens"] == len(valid) - 1 > 96  # the final evaluation: the whole split


def test_eval_tokens_is_a_view_of_the_memory_map_and_checked(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text(TEXT, encoding="utf-8")
    enc, _ = P.prepare(f, tmp_path / "p", P.Settings())
    lm = LanguageModel(LMConfig(data=LMDataConfig(path=str(tmp_path / "p"), batch_size=4, bptt=8, eval_tokens=50)))
    _, val = lm.make_batches(enc.train, enc.valid)
    assert val.data.shape == (4, 12) and np.shares_memory(val.data, enc.valid)  # 50 tokens in 4 rows: 48 kept
    np.testing.assert_array_equal(val.data.reshape(-1), enc.valid[:48])
    small = LanguageModel(LMConfig(data=LMDataConfig(path=str(f), batch_size=4, eval_tokens=7)))
    with pytest.raises(ConfigError, match=r"data.eval_tokens: 7 tokens cannot fill 4 validation rows.*at least 8"):
        small.make_batches(enc.train, enc.valid)
    with pytest.raises(ConfigError, match=r"data.eval_tokens: must be >= 0"):
        LMDataConfig(eval_tokens=-1)


def test_final_evaluation_shows_progress_unless_quiet(tmp_path, monkeypatch):
    f = tmp_path / "t.txt"
    f.write_text(TEXT, encoding="utf-8")
    lm = LanguageModel(LMConfig(data=LMDataConfig(path=str(f))))
    lm.model = lm.build_model()
    monkeypatch.setattr(progress, "EVERY", 0.0)  # a line per chunk (else one every 10 s)
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    n = lm.evaluate("valid")["tokens"]
    lines = err.getvalue().splitlines()
    assert len(lines) == -(-n // 256)  # one per chunk of 256 steps (batch size 1)
    assert lines[-1].startswith(f"eval valid: {n:,}/{n:,} tokens (100%), ") and lines[-1].endswith(" tokens/s")
    err.truncate(0)
    lm.config = replace(lm.config, train=replace(lm.config.train, quiet=True))
    lm.evaluate("valid")
    assert err.getvalue() == ""
