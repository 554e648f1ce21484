"""ONNX export of translate runs: two graphs, the encoder and one decoder step with the state in and out. Every
registered cell matches PyTorch to 1e-5 at two source lengths (float32: the same operations in another order; the
differences measured are ~1e-7), and greedy decoding run step by step through onnxruntime alone
(examples/onnx_translate.py, numpy + onnxruntime) gives what `rnnkit translate predict --beam 1` gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("onnxruntime", reason="ONNX export tests need `pip install rnnkit[export]`")

from rnnkit.config import apply_overrides  # noqa: E402
from rnnkit.registry import cell_names  # noqa: E402
from rnnkit.tasks.translate.task import Translator, TranslatorConfig  # noqa: E402

TOL = 1e-5
EXAMPLE = Path(__file__).parents[2] / "examples" / "onnx_translate.py"
PAIRS = [
    ("i am here .", "je suis la ."),
    ("you are here .", "tu es la ."),
    ("i am tired .", "je suis fatigue ."),
    ("you are tired .", "tu es fatigue ."),
]


def _translator(cell: str, *more: str) -> Translator:
    cfg = apply_overrides(
        TranslatorConfig(),
        [f"model.cell.name={cell}", "model.hidden_size=6", "model.embed_size=4", "model.num_layers=2", *more],
    )
    tr = Translator(cfg)
    tr.prepare(PAIRS)
    torch.manual_seed(0)
    tr.model = tr.build_model().eval()
    return tr


@pytest.mark.parametrize("cell", cell_names())
def test_every_cell_exports_encoder_and_decoder_step_with_parity(tmp_path, cell):
    report = _translator(cell).export_onnx(tmp_path / "t.onnx", lengths=(5, 11), tol=None)
    assert set(report.parts) == {"encoder", "decoder"} and sorted(report.max_abs_diff) == [5, 11]
    assert max(report.max_abs_diff.values()) <= TOL, {p: r.max_abs_diff for p, r in report.parts.items()}
    assert {f.name for f in tmp_path.iterdir()} == {
        "t.encoder.onnx",
        "t.encoder.json",
        "t.decoder.onnx",
        "t.decoder.json",
    }


@pytest.mark.parametrize("attention", ["bahdanau", "dot"])
def test_attention_kinds_and_input_feeding(tmp_path, attention):
    tr = _translator("lstm", f"model.attention={attention}", "model.input_feed=false")
    report = tr.export_onnx(tmp_path / "t.onnx", lengths=(4, 9), tol=None)
    assert max(report.max_abs_diff.values()) <= TOL, report.max_abs_diff


@pytest.mark.slow
def test_greedy_decoding_with_onnxruntime_alone_matches_predict(tmp_path):
    from typer.testing import CliRunner

    from rnnkit.cli import app

    data, run = tmp_path / "p.tsv", tmp_path / "run"
    data.write_text("".join(f"{a}\t{b}\n" for a, b in PAIRS * 6), encoding="utf-8")
    r = CliRunner().invoke(
        app,
        [
            "translate",
            "train",
            "--data",
            str(data),
            "--out",
            str(run),
            "--hidden",
            "8",
            "--batch-size",
            "4",
            "--epochs",
            "3",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["export", str(run), "--onnx", str(tmp_path / "t.onnx")])
    assert r.exit_code == 0 and "decoder: onnxruntime vs PyTorch max abs diff" in r.output, r.output
    tr = Translator.load(run)
    sentences = ["i am here .", "you are tired .", "you am here here ."]
    toks = [" ".join(tr.text.tokens(s)) for s in sentences]  # the example reads tokenised text
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), str(tmp_path / "t.onnx"), *toks],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": ""},
    )  # no rnnkit
    want = [" ".join(t) for t in tr.decode([s.split() for s in toks], beam_size=1)]
    assert out.stdout.splitlines() == want and any(want)
