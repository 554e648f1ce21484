"""ONNX export (rnnkit.export, Task.export_onnx): every registered cell, for classify, tag, lm and forecast, exports
with a dynamic time axis and onnxruntime matches PyTorch's normal forward to 1e-5 (float32: the same operations in
another order and another kernel library; the differences measured are ~1e-7) at two sequence lengths, one of them
not the length the graph was traced at. Tiny untrained models (random weights): parity does not need training."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="ONNX export tests need `pip install rnnkit[export]`")

from rnnkit.config import apply_overrides  # noqa: E402
from rnnkit.data.readers import ClassificationData, ColumnData  # noqa: E402
from rnnkit.data.text import Vocab  # noqa: E402
from rnnkit.registry import cell_names  # noqa: E402
from rnnkit.tasks.classify.config import ClassifierConfig  # noqa: E402
from rnnkit.tasks.classify.task import Classifier  # noqa: E402
from rnnkit.tasks.forecast.config import ForecastConfig  # noqa: E402
from rnnkit.tasks.forecast.task import Forecaster  # noqa: E402
from rnnkit.tasks.forecast.windowing import Scaler  # noqa: E402
from rnnkit.tasks.lm.task import LanguageModel, LMConfig  # noqa: E402
from rnnkit.tasks.tag.config import TaggerConfig  # noqa: E402
from rnnkit.tasks.tag.task import Tagger  # noqa: E402

TOL = 1e-5
EXAMPLE = Path(__file__).parents[2] / "examples" / "onnx_classify.py"


def _classifier(cell: str) -> Classifier:
    cfg = apply_overrides(
        ClassifierConfig(),
        [
            f"model.cell.name={cell}",
            "model.hidden_size=6",
            "model.embed_size=4",
            "model.bidirectional=true",
            "model.pooling=attention",
        ],
    )
    clf = Classifier(cfg)
    clf.prepare(ClassificationData(["abc", "bcd a", "xyz"], ["p", "q", "p"], "toy"))
    torch.manual_seed(0)
    clf.model = clf.build_model().eval()
    return clf


def _tagger(cell: str) -> Tagger:
    cfg = apply_overrides(
        TaggerConfig(),
        [
            f"model.cell.name={cell}",
            "model.hidden_size=6",
            "model.word_embed=4",
            "model.char_embed=3",
            "model.char_hidden=2",
            "model.crf=true",
        ],
    )
    tagger = Tagger(cfg)
    tagger.prepare(ColumnData([[("The", "B-NP"), ("dog", "I-NP"), ("runs", "B-VP")], [("A", "B-NP")]], "toy"))
    torch.manual_seed(0)
    tagger.model = tagger.build_model().eval()
    return tagger


def _lm(cell: str) -> LanguageModel:
    cfg = apply_overrides(
        LMConfig(), [f"model.cell.name={cell}", "model.hidden_size=6", "model.embedding_dim=4", "model.num_layers=2"]
    )
    lm = LanguageModel(cfg)
    lm.vocab = Vocab(["<unk>", *"abcdefg"], level="char")
    torch.manual_seed(0)
    lm.model = lm.build_model().eval()
    return lm


def _forecaster(cell: str, *, decoder: str = "autoregressive", n_future: int = 1) -> Forecaster:
    cfg = apply_overrides(
        ForecastConfig(),
        [
            f"model.cell.name={cell}",
            "model.hidden_size=6",
            "data.horizon=3",
            f"model.decoder={decoder}",
            "model.relative=false",
        ],
    )
    fc = Forecaster(cfg)
    fc.columns = {
        "target_names": ["y"],
        "past_names": [],
        "future_names": [f"f{i}" for i in range(n_future)],
        "n_inputs": 1 + n_future,
        "freq": "rows",
    }
    fc.scaler = Scaler("standard").fit(np.random.default_rng(0).normal(size=(20, 1 + n_future)))
    fc._season, fc.split = 1, None
    torch.manual_seed(0)
    fc.model = fc.build_model().eval()
    return fc


@pytest.mark.parametrize("cell", cell_names())
@pytest.mark.parametrize("make", [_classifier, _tagger, _lm, _forecaster], ids=["classify", "tag", "lm", "forecast"])
def test_every_cell_exports_with_parity_at_two_lengths(tmp_path, make, cell):
    task = make(cell)
    report = task.export_onnx(tmp_path / "m.onnx", lengths=(5, 11), tol=None)
    assert sorted(report.max_abs_diff) == [5, 11]  # traced at 5, also run at 11: the time axis is dynamic
    assert max(report.max_abs_diff.values()) <= TOL, report.max_abs_diff
    assert (tmp_path / "m.json").is_file()


@pytest.mark.parametrize("decoder", ["direct", "recurrent"])
def test_forecast_decoders_and_no_future_covariates(tmp_path, decoder):
    report = _forecaster("gru", decoder=decoder, n_future=0).export_onnx(tmp_path / "f.onnx", lengths=(5, 11), tol=None)
    assert max(report.max_abs_diff.values()) <= TOL, report.max_abs_diff


# ---- the command and the numpy + onnxruntime example ------------------------------------------------------------


def _train_classifier(tmp_path) -> Path:
    from typer.testing import CliRunner

    from rnnkit.cli import app

    rows = [("pos", "good fun film"), ("neg", "dull bad film"), ("pos", "great fun"), ("neg", "bad plot")] * 5
    data, run = tmp_path / "d.tsv", tmp_path / "run"
    data.write_text("".join(f"{a}\t{b}\n" for a, b in rows), encoding="utf-8")
    r = CliRunner().invoke(
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
            "--hidden",
            "4",
            "--epochs",
            "1",
            "--quiet",
            "--data.val_fraction=0",
            "--model.bidirectional=true",
        ],
    )
    assert r.exit_code == 0, r.output
    return run


def test_export_command_and_the_onnxruntime_example_agree_with_predict(tmp_path):
    from typer.testing import CliRunner

    from rnnkit.cli import app

    run, model = _train_classifier(tmp_path), tmp_path / "clf.onnx"
    r = CliRunner().invoke(app, ["export", str(run), "--onnx", str(model)])
    assert r.exit_code == 0, r.output
    assert "onnxruntime vs PyTorch max abs diff: T=7:" in r.output and (tmp_path / "clf.json").is_file()
    texts = ["good fun", "bad film plot", "unseen words here"]
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), str(model), *texts],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": ""},
    )  # no rnnkit on the path
    got = [json.loads(line) for line in out.stdout.splitlines()]
    r = CliRunner().invoke(app, ["classify", "predict", str(run), *texts, "--k", "2"])
    assert r.exit_code == 0, r.output
    for g, line in zip(got, r.output.strip().splitlines(), strict=True):
        text, top = line.split("\t")
        pairs = top.split("  ")  # "pos 0.612  neg 0.388"
        assert g["text"] == text and g["label"] == pairs[0].split()[0]
        for pair in pairs:
            label, p = pair.split()
            assert abs(g["probabilities"][label] - float(p)) < 1e-3  # predict prints 3 decimals


def test_export_refusals_are_one_line(tmp_path):
    from typer.testing import CliRunner

    from rnnkit.cli import app

    r = CliRunner().invoke(app, ["export", str(tmp_path), "--onnx", str(tmp_path / "m.onnx")])
    assert r.exit_code == 1 and "is not a run folder" in r.output and "Traceback" not in r.output


def test_without_onnx_the_command_names_the_extra(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from rnnkit.cli import app

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    r = CliRunner().invoke(app, ["export", str(tmp_path), "--onnx", str(tmp_path / "m.onnx")])
    assert r.exit_code == 1 and "pip install rnnkit[export]" in r.output and "Traceback" not in r.output


def test_lm_streams_token_by_token_through_its_states(tmp_path):
    """What generation does: one token a call (T=1), the final states fed back, equals one full-sequence pass."""
    import onnxruntime as ort

    lm = _lm("lstm")
    lm.export_onnx(tmp_path / "lm.onnx")
    sess = ort.InferenceSession(str(tmp_path / "lm.onnx"), providers=["CPUExecutionProvider"])
    ids = torch.randint(0, len(lm.vocab), (2, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        full, _ = lm.model(ids)  # (N, T, V)
    h = c = np.zeros((2, 2, 6), dtype=np.float32)  # (L, N, H), zeros to start
    for t in range(ids.shape[1]):
        scores, h, c = sess.run(["scores", "h_n", "c_n"], {"ids": ids[:, t : t + 1].numpy(), "h0": h, "c0": c})
        np.testing.assert_allclose(scores[:, 0], full[:, t].numpy(), rtol=0, atol=TOL)


def test_an_exporter_failure_is_one_clear_error(tmp_path, monkeypatch):
    from rnnkit.export import ExportError

    def refuse(*args, **kwargs):
        raise RuntimeError("Unsupported: ONNX export of operator foo\nlong trace ...")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    with pytest.raises(
        ExportError, match=r"could not export to ONNX: RuntimeError: Unsupported: ONNX export of operator foo$"
    ):
        _classifier("gru").export_onnx(tmp_path / "m.onnx")


def test_a_crf_taggers_json_holds_its_transitions(tmp_path):
    """A caller decodes an exported CRF tagger with Viterbi over the JSON's transitions: they are the model's own
    (a CRF tagger's JSON used to say "crf": null, so the scores could only be read by argmax)."""
    tagger = _tagger("lstm")
    tagger.export_onnx(tmp_path / "t.onnx", lengths=(5, 11), tol=None)
    crf = json.loads((tmp_path / "t.json").read_text())["crf"]
    assert crf is not None
    for name, value in tagger.model.crf.state_dict().items():
        assert np.allclose(crf[name], value.numpy()), name
