"""Inference in bf16 (``Task.inference_precision``, ``Task.load(precision=)``, ``--precision`` on eval / predict):
predictions of a small trained model in bf16 match its float32 ones, through the public API.

Tolerances. bfloat16 keeps 8 significant bits: each product input is rounded with a relative error of at most
2^-9, a product of two rounded inputs is off by ~2^-8 relative; sums accumulate in float32 and every module's
output is float32 again (``precision.inference``). These models are an embedding, a one-layer LSTM over <= 16
steps (the state carries each step's rounding forward, contracting at these sizes) and a linear head, so a logit
moves by a few units of 2^-8 of the largest logit; a two-class probability moves by at most half of that (the
softmax derivative p(1-p) <= 1/4, times two logits), and the mean NLL by the same relative amount. We allow
4 x 2^-8 (~1.6%) on probabilities and on the NLL relative to itself; measured here 4.6e-4 (probabilities) and
1.3e-4 (NLL). A floor of 1e-5 checks that bf16 really ran: two float32 runs agree to ~1e-7.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.nn import precision
from rnnkit.tasks import Classifier, LanguageModel

needs_bf16 = pytest.mark.skipif(precision.bf16_support() == "none", reason="no bf16 CPU kernels in this torch/CPU")
TOL = 4 * 2.0**-8
BF16_FLOOR = 1e-5
pytestmark = pytest.mark.usefixtures("one_thread")
TEXTS = [
    "good fun film",
    "dull bad film",
    "great fun",
    "bad plot",
    "a great cast",
    "a dull script",
    "fun and good",
    "bad and dull",
]


@pytest.fixture(scope="module")
def clf_run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("clf")
    labels = ["pos", "neg", "pos", "neg", "pos", "neg", "pos", "neg"]
    (d / "c.tsv").write_text("".join(f"{y}\t{x}\n" for y, x in zip(labels, TEXTS, strict=True)) * 6)
    torch.set_num_threads(1)
    clf = Classifier.from_options(
        data=str(d / "c.tsv"), hidden=32, epochs=6, batch_size=8, out=str(d / "run"), overrides={"train.quiet": True}
    )
    clf.fit_and_test()
    return d / "run"


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("lm")
    (d / "l.txt").write_text("to be or not to be that is the question\n" * 60, encoding="utf-8")
    torch.set_num_threads(1)
    lm = LanguageModel.from_options(
        data=str(d / "l.txt"),
        hidden=32,
        embedding=16,
        bptt=16,
        batch_size=8,
        epochs=3,
        out=str(d / "run"),
        overrides={"train.quiet": True},
    )
    lm.fit_and_test()
    return d / "run"


@needs_bf16
def test_classify_bf16_probabilities_match_float32(clf_run):
    fp32 = Classifier.load(clf_run)
    bf16 = Classifier.load(clf_run, precision="bf16")
    assert bf16.inference_precision == "bf16" and fp32.inference_precision == "fp32"
    p32, _ = fp32.predict_proba(TEXTS)
    p16, _ = bf16.predict_proba(TEXTS)
    assert p16.dtype == p32.dtype and p16.shape == p32.shape == (len(TEXTS), 2)
    err = float(np.abs(p16 - p32).max())
    assert BF16_FLOOR < err <= TOL, err
    sure = np.abs(p32[:, 0] - p32[:, 1]) > 2 * TOL  # the top class agrees wherever float32 is not near a tie
    assert sure.any() and (p16.argmax(1) == p32.argmax(1))[sure].all()
    assert all(p.dtype == torch.float32 for p in bf16.model.parameters())  # weights untouched
    assert not any(m._forward_hooks for m in bf16.model.modules())  # the output casts are removed afterwards


@needs_bf16
def test_classify_cli_predict_and_eval_in_bf16(clf_run):
    runner = CliRunner()
    r32 = runner.invoke(app, ["classify", "predict", str(clf_run), *TEXTS, "--k", "1"])
    r16 = runner.invoke(app, ["classify", "predict", str(clf_run), *TEXTS, "--k", "1", "--precision", "bf16"])
    assert r32.exit_code == 0 and r16.exit_code == 0, r16.output
    rows = lambda r: [line.split("\t") for line in r.stdout.splitlines()]  # noqa: E731 - text, "label p"
    for (t32, top32), (t16, top16) in zip(rows(r32), rows(r16), strict=True):
        (c32, s32), (c16, s16) = top32.split(), top16.split()
        assert (t32, c32) == (t16, c16) and abs(float(s32) - float(s16)) <= TOL + 1e-3  # 3 decimals printed
    e = runner.invoke(app, ["classify", "eval", str(clf_run), "--json", "--precision", "bf16"])
    assert e.exit_code == 0, e.output


@needs_bf16
def test_lm_bf16_loss_matches_float32(lm_run):
    fp32 = LanguageModel.load(lm_run)
    bf16 = LanguageModel.load(lm_run)
    bf16.inference_precision = "bf16"  # the attribute, as well as load(precision=)
    a, b = fp32.evaluate("valid"), bf16.evaluate("valid")
    assert a["tokens"] == b["tokens"]
    assert BF16_FLOOR < abs(a["loss"] - b["loss"]) <= TOL * a["loss"], (a, b)
    with pytest.warns(UserWarning, match="float32 NumPy decoder"):  # generation does not switch precision
        assert bf16.predict(["to be"], length=5, seed=0) == fp32.predict(["to be"], length=5, seed=0)


def test_bf16_is_refused_with_a_clear_message_where_the_cpu_cannot(clf_run, monkeypatch):
    monkeypatch.setattr(precision, "bf16_support", lambda: "none")
    with pytest.raises(precision.PrecisionError, match="precision='fp32'"):
        Classifier.load(clf_run, precision="bf16")
    clf = Classifier.load(clf_run)
    with pytest.raises(precision.PrecisionError, match="AVX512-BF16"):
        clf.inference_precision = "bf16"
    assert clf.inference_precision == "fp32"
    r = CliRunner().invoke(app, ["classify", "predict", str(clf_run), "good", "--precision", "bf16"])
    assert r.exit_code == 1 and "rnnkit classify: error: precision='bf16' needs" in r.output, r.output
    r = CliRunner().invoke(app, ["classify", "eval", str(clf_run), "--precision", "fp16"])
    assert r.exit_code == 1 and "must be one of fp32, bf16" in r.output, r.output
