"""The music task: the published NLL convention against a hand computation, the .mat reader (real files and a tiny
one written here), every registered cell as the recurrence, and the messages for bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.io import savemat
from torch import Tensor
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.config import ConfigError, apply_overrides
from rnnkit.data.sources import DataError
from rnnkit.registry import cell_names
from rnnkit.tasks.music.data import KEYS, collate, parse_frames, read_rolls
from rnnkit.tasks.music.model import PianoRollNet
from rnnkit.tasks.music.task import MusicConfig, MusicModel, _step, frame_nll

runner = CliRunner()


def write_mat(path: Path, **splits: list[np.ndarray]) -> Path:
    """A .mat in the published layout: each split a 1 x n cell array of (T, 88) rolls."""
    cells = {}
    for var, pieces in splits.items():
        c = np.empty((1, len(pieces)), dtype=object)
        for i, r in enumerate(pieces):
            c[0, i] = r.astype(np.uint8)
        cells[var] = c
    savemat(path, cells)
    return path


def roll(T: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((T, KEYS)) < 0.1).astype(np.uint8)


def test_frame_nll_is_the_hand_sum_over_keys_of_the_scored_frames():
    logits = torch.tensor([[[0.5, -1.0] + [0.0] * (KEYS - 2)] * 3])  # (1, 3, K); only 2 of 3 frames scored
    target = torch.zeros(1, 3, KEYS)
    target[0, 0, 0] = 1.0
    target[0, 1, 1] = 1.0
    total, frames = frame_nll(logits, target, torch.tensor([2]))
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    frame0 = -math.log(sig(0.5)) - math.log(1 - sig(-1.0)) + (KEYS - 2) * math.log(2)  # key 0 on, key 1 off
    frame1 = -math.log(1 - sig(0.5)) - math.log(sig(-1.0)) + (KEYS - 2) * math.log(2)  # key 0 off, key 1 on
    assert int(frames) == 2
    assert float(total) == pytest.approx(frame0 + frame1, rel=1e-6)


def test_split_nll_averages_over_all_predicted_frames_not_pieces():
    """A model with constant output p_k = sigmoid(b_k): NLL = mean over frames 2..T of every piece (pooled)."""
    task = MusicModel(MusicConfig())
    task.model = task.build_model()
    b = torch.linspace(-3, 1, KEYS)
    with torch.no_grad():
        task.model.head.weight.zero_()
        task.model.head.bias.copy_(b)
    pieces = [roll(3, 0), roll(7, 1)]
    p = 1 / (1 + np.exp(-b.double().numpy()))
    scored = np.concatenate([r[1:] for r in pieces]).astype(float)  # (2 + 6, K): the first frame is never scored
    hand = -(scored * np.log(p) + (1 - scored) * np.log(1 - p)).sum(1).mean()
    got = task.evaluate(pieces)
    assert got["frames"] == 8 and got["pieces"] == 2
    assert got["nll"] == pytest.approx(hand, rel=1e-6)
    per_piece_mean = np.mean([-(r[1:] * np.log(p) + (1 - r[1:]) * np.log(1 - p)).sum(1).mean() for r in pieces])
    assert abs(per_piece_mean - hand) > 1e-3  # the two conventions differ here, so the test can tell them apart


def test_reader_round_trip_of_a_tiny_mat(tmp_path):
    tr, va, te = [roll(5, 0), roll(9, 1)], [roll(4, 2)], [roll(6, 3)]
    got = read_rolls(write_mat(tmp_path / "m.mat", traindata=tr, validdata=va, testdata=te))
    assert [len(got[s]) for s in ("train", "valid", "test")] == [2, 1, 1]
    assert got["train"][1].dtype == np.float32 and np.array_equal(got["train"][1], tr[1])


@pytest.mark.parametrize(("name", "counts"), [("jsb-chorales", (229, 76, 77)), ("nottingham", (694, 173, 170))])
def test_published_files_read_and_verify(data_root, name, counts):
    from rnnkit.tasks.music.data import dataset_path

    path = dataset_path(name, data_root=data_root)  # checks the sha256 registered in data/sources.py
    got = read_rolls(path)
    assert tuple(len(got[s]) for s in ("train", "valid", "test")) == counts


@pytest.mark.parametrize(
    ("pieces", "message"),
    [
        ([np.ones((5, 87), dtype=np.uint8)], "must be (frames, 88)"),
        ([np.zeros((0, 88), dtype=np.uint8)], "no frames (an empty piece)"),
        ([np.zeros((1, 88), dtype=np.uint8)], "only 1 frame"),
        ([np.full((4, 88), 2, dtype=np.uint8)], "only 0 (key up) and 1"),
    ],
)
def test_bad_rolls_are_refused_with_the_piece_named(tmp_path, pieces, message):
    path = write_mat(tmp_path / "bad.mat", traindata=[roll(4, 0), *pieces])
    with pytest.raises(DataError, match="traindata piece 1") as e:
        read_rolls(path)
    assert message in str(e.value)


def test_bad_files_and_inputs(tmp_path):
    (tmp_path / "x.mat").write_bytes(b"not a mat")
    with pytest.raises(DataError, match="not a readable MATLAB .mat file"):
        read_rolls(tmp_path / "x.mat")
    savemat(tmp_path / "y.mat", {"pieces": np.zeros((3, 88))})
    with pytest.raises(DataError, match="neither traindata nor testdata"):
        read_rolls(tmp_path / "y.mat")
    with pytest.raises(DataError, match="outside the piano"):
        parse_frames("60,64 200")
    with pytest.raises(DataError, match="not a MIDI note"):
        parse_frames("60,C4")
    assert parse_frames("21,108 -").sum() == 2


def test_cli_says_what_is_wrong_with_a_bad_roll(tmp_path):
    path = write_mat(tmp_path / "bad.mat", traindata=[roll(4, 0), np.ones((4, 12), dtype=np.uint8)])
    r = runner.invoke(app, ["music", "train", "--data", str(path), "--out", str(tmp_path / "run"), "--quiet"])
    assert r.exit_code == 1
    assert "traindata piece 1" in r.output and "must be (frames, 88)" in r.output


@pytest.mark.parametrize("cell", cell_names("nn"))
def test_every_registered_cell_is_the_recurrence(cell):
    torch.manual_seed(0)
    net = PianoRollNet(
        apply_overrides(MusicConfig(), [f"model.cell.name={cell}", "model.hidden_size=8", "model.impl=loop"]).model,
        keys=KEYS,
    )
    batch = collate([(roll(5, 0).astype(np.float32),), (roll(3, 1).astype(np.float32),)])
    out = _step(net, batch, None)
    out.loss.backward()
    assert out.n_items == 4 + 2 and torch.isfinite(out.loss)
    assert all(p.grad is not None for p in net.parameters())


def test_generate_samples_frames_reproducibly(tmp_path):
    task = MusicModel(MusicConfig())
    task.model = task.build_model()
    a = task.generate(parse_frames("60,64,67"), frames=5, seed=3)
    assert a.shape == (5, KEYS) and set(np.unique(a)) <= {0.0, 1.0}
    assert np.array_equal(a, task.generate(parse_frames("60,64,67"), frames=5, seed=3))


@pytest.mark.parametrize("key", ["input_dropout", "head_dropout"])
@pytest.mark.parametrize("bad", [-0.1, 1.0])
def test_dropouts_are_probabilities(key, bad):
    with pytest.raises(ConfigError, match=rf"model\.{key}: is a probability in \[0, 1\), got {bad}"):
        apply_overrides(MusicConfig(), [f"model.{key}={bad}"])


def test_input_dropout_hides_notes_from_the_recurrence_in_training_only():
    """The recurrence reads each key of the input frames dropped with probability p (kept ones scaled by 1/(1-p));
    the scored target frames are never dropped; in eval mode the layer is the identity."""
    p, T = 0.5, 200
    cfg = apply_overrides(
        MusicConfig(), [f"model.input_dropout={p}", "model.head_dropout=0", "model.hidden_size=8", "model.impl=loop"]
    )
    torch.manual_seed(0)
    net = PianoRollNet(cfg.model, keys=KEYS)
    plain = PianoRollNet(apply_overrides(cfg, ["model.input_dropout=0"]).model, keys=KEYS)
    plain.load_state_dict(net.state_dict())  # the dropout adds no parameters: old checkpoints still load
    x = torch.ones(2, T, KEYS)
    seen: list[Tensor] = []
    net.rnn.register_forward_hook(lambda _m, args, _out: seen.append(args[0]))
    net.train()
    out = _step(net, (torch.ones(2, T + 1, KEYS), torch.tensor([T + 1, T + 1])), None)
    read = seen[-1]  # (N, T, K) what the recurrence was given
    assert set(torch.unique(read).tolist()) == {0.0, 1 / (1 - p)}
    assert abs(float((read == 0).float().mean()) - p) < 0.02  # 35,200 draws: 5 standard errors
    with torch.no_grad():  # the target is all ones: only p_k of the recurrent output's logits enter the loss
        logits = net.head(net.rnn(read)[0])
    assert torch.allclose(out.loss, frame_nll(logits, torch.ones(2, T, KEYS), torch.tensor([T, T]))[0] / (2 * T))
    net.eval(), plain.eval()
    with torch.no_grad():
        assert torch.equal(net(x)[0], plain(x)[0])


def test_cli_sets_the_regularisers(tmp_path):
    path = write_mat(tmp_path / "tiny.mat", traindata=[roll(6, 0), roll(5, 1)], validdata=[roll(5, 2)])
    run = tmp_path / "run"
    r = runner.invoke(
        app,
        [
            "--threads",
            "1",
            "music",
            "train",
            "--data",
            str(path),
            "--hidden",
            "8",
            "--epochs",
            "1",
            "--input-dropout",
            "0.2",
            "--weight-drop",
            "0.25",
            "--out",
            str(run),
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    saved = json.loads((run / "config.json").read_text())["model"]
    assert (saved["input_dropout"], saved["weight_drop"]) == (0.2, 0.25)
    bad = ["music", "train", "--data", str(path), "--input-dropout", "1.5", "--out", str(tmp_path / "x")]
    r = runner.invoke(app, bad)
    assert r.exit_code != 0 and "model.input_dropout" in r.output
