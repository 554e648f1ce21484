"""ONNX export of the speech, speech-ctc and music tasks (each task's onnx.py): onnxruntime matches PyTorch's
normal forward to 1e-5 at two lengths (one not the traced one) for every registered cell; the CTC frame stacking runs
inside the graph for odd and even T; the music graphs stream frame by frame through their states; the command on a
tiny speech run trained in seconds. Tiny untrained models otherwise (parity does not need training)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="ONNX export tests need `pip install rnnkit[export]`")

from rnnkit.config import apply_overrides  # noqa: E402
from rnnkit.registry import cell_names  # noqa: E402
from rnnkit.tasks.music.data import KEYS  # noqa: E402
from rnnkit.tasks.music.task import MusicConfig, MusicModel  # noqa: E402
from rnnkit.tasks.speech.config import SpeechConfig  # noqa: E402
from rnnkit.tasks.speech.task import SpeechRecognizer  # noqa: E402
from rnnkit.tasks.speech_ctc.config import CTCConfig  # noqa: E402
from rnnkit.tasks.speech_ctc.task import SpeechCTC  # noqa: E402

TOL = 1e-5
CELLS = cell_names()
FEATURES = ["data.n_mfcc=4", "data.n_mels=5"]  # 5 log-mel channels (n_mfcc must not exceed n_mels)


def _scaler(D: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=D).astype(np.float32), (1 + rng.random(D)).astype(np.float32)


def _speech(cell: str) -> SpeechRecognizer:
    cfg = apply_overrides(SpeechConfig(), [f"model.cell.name={cell}", "model.hidden_size=6", *FEATURES])
    task = SpeechRecognizer(cfg)
    task.classes, task.input_size, task.sample_rate, task.scaler = ["hi", "lo", "mid"], 5, 8000, _scaler(5)
    torch.manual_seed(0)
    task.model = task.build_model().eval()
    return task


def _ctc(cell: str, subsample: int = 2) -> SpeechCTC:
    cfg = apply_overrides(
        CTCConfig(), [f"model.cell.name={cell}", "model.hidden_size=6", *FEATURES, f"model.subsample={subsample}"]
    )
    task = SpeechCTC(cfg)
    task.words, task.input_size, task.sample_rate, task.scaler = ["one", "two"], 5, 8000, _scaler(5)
    torch.manual_seed(0)
    task.model = task.build_model().eval()
    return task


def _music(cell: str, output: str = "bernoulli") -> MusicModel:
    cfg = apply_overrides(
        MusicConfig(),
        [
            f"model.cell.name={cell}",
            "model.hidden_size=6",
            "model.num_layers=2",
            f"model.output={output}",
            "model.nade_hidden=4",
        ],
    )
    task = MusicModel(cfg)
    torch.manual_seed(0)
    task.model = task.build_model().eval()
    return task


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(
    "make", [_speech, _ctc, _music, lambda c: _music(c, "nade")], ids=["speech", "speech-ctc", "music", "music-nade"]
)
def test_exports_with_parity_at_two_lengths(tmp_path, make, cell):
    task = make(cell)
    report = task.export_onnx(tmp_path / "m.onnx", lengths=(6, 11), tol=None)  # even then odd T (CTC: padding)
    assert sorted(report.max_abs_diff) == [6, 11]
    assert max(report.max_abs_diff.values()) <= TOL, report.max_abs_diff
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["task"] == task.name and "how" in meta


def test_speech_json_holds_the_feature_pipeline(tmp_path):
    task = _speech("gru")
    task.export_onnx(tmp_path / "s.onnx")
    meta = json.loads((tmp_path / "s.json").read_text())
    assert meta["classes"] == ["hi", "lo", "mid"] and meta["sample_rate"] == 8000
    assert meta["features"]["kind"] == "logmel" and meta["features"]["dim"] == 5 and meta["normalize"] == "global"
    np.testing.assert_allclose(meta["scaler"]["std"], task.scaler[1], rtol=1e-6)


def test_ctc_stacks_frames_inside_the_graph(tmp_path):
    import onnxruntime as ort

    task = _ctc("gru", subsample=3)
    task.export_onnx(tmp_path / "c.onnx", lengths=(6, 10))
    sess = ort.InferenceSession(str(tmp_path / "c.onnx"), providers=["CPUExecutionProvider"])
    x, lengths = torch.randn(2, 7, 5), torch.tensor([7, 4])  # T=7: padded to 9 inside, 3 steps
    lp, n = sess.run(None, {"x": x.numpy(), "lengths": lengths.numpy()})
    with torch.no_grad():
        ref, ref_n = task.model(x, lengths)
    assert lp.shape == (2, 3, 3) and n.tolist() == [3, 2] == ref_n.tolist()
    np.testing.assert_allclose(lp, ref.numpy(), rtol=0, atol=TOL)
    meta = json.loads((tmp_path / "c.json").read_text())
    assert meta["subsample"] == 3 and meta["labels"] == ["<blank>", "one", "two"] and meta["blank_id"] == 0


@pytest.mark.parametrize("output", ["bernoulli", "nade"])
def test_music_streams_frame_by_frame_through_its_states(tmp_path, output):
    """What generation does: one frame a call (T=1), the states fed back, equals one pass over the piece; for the
    NADE, the JSON's W and V with the graph's biases give the model's own logits of a frame."""
    import onnxruntime as ort

    task = _music("lstm", output)
    task.export_onnx(tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    meta = json.loads((tmp_path / "m.json").read_text())
    roll = (torch.rand(1, 6, KEYS, generator=torch.Generator().manual_seed(1)) < 0.1).float()
    with torch.no_grad():
        full, _ = task.model(roll[:, :-1], target=roll[:, 1:])  # (1, T-1, K): logits of frames 1..T-1
    h = c = np.zeros((2, 1, 6), dtype=np.float32)
    heads = ["b_v", "b_h"] if output == "nade" else ["logits"]
    for t in range(roll.shape[1] - 1):
        *out, h, c = sess.run([*heads, "h_n", "c_n"], {"frames": roll[:, t : t + 1].numpy(), "h0": h, "c0": c})
        if output == "bernoulli":
            got = out[0][0, 0]
        else:  # the NADE loop of the JSON's "how", reading the true next frame
            W, V = np.array(meta["nade"]["W"]), np.array(meta["nade"]["V"])
            bv, a, x = out[0][0, 0], out[1][0, 0].astype(np.float64), roll[0, t + 1].numpy()
            got = np.empty(KEYS)
            for k in range(KEYS):
                got[k] = bv[k] + V[k] @ (1 / (1 + np.exp(-a)))
                a = a + x[k] * W[:, k]
        np.testing.assert_allclose(got, full[0, t].numpy(), rtol=0, atol=TOL)


def test_export_command_on_a_tiny_trained_speech_run(tmp_path):
    from typer.testing import CliRunner

    from rnnkit.cli import app
    from tests.speech.tones import write_tones

    pytest.importorskip("soundfile")
    rec, run = write_tones(tmp_path / "rec", per_word=3), tmp_path / "run"
    r = CliRunner().invoke(
        app,
        [
            "speech",
            "train",
            "--data",
            str(rec),
            "--out",
            str(run),
            "--hidden",
            "4",
            "--epochs",
            "1",
            "--cell",
            "lstm",
            "--cache",
            "off",
            "--quiet",
            "--data.test_below=1",
        ],
    )
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["export", str(run), "--onnx", str(tmp_path / "s.onnx")])
    assert r.exit_code == 0, r.output
    assert "onnxruntime vs PyTorch max abs diff: T=7:" in r.output
    meta = json.loads((tmp_path / "s.json").read_text())
    assert meta["task"] == "speech" and meta["sample_rate"] == 8000 and len(meta["scaler"]["mean"]) == 40


def test_a_task_without_an_onnx_interface_is_refused_naming_those_that_have_one(tmp_path):
    from rnnkit.export import ExportError
    from rnnkit.tasks.base import Task

    task = _music("gru")
    with pytest.raises(ExportError, match=r"music runs is not supported yet \(done: .*speech-ctc, music"):
        Task.onnx_spec(task, task.model, exporting=True)  # the base's answer, for a task that gives no onnx_spec
