"""Checkpoints: exact round trips of model and optimiser, atomic writes, clear errors, nothing pickled."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import torch
from torch import nn

import rnnkit.train.checkpoint as ck
from rnnkit.train import CheckpointError, checkpoint_path, load_checkpoint, load_model, save_checkpoint


def _model_and_opt(kind: str):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    opt = {
        "sgd": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
        "adam": lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.9)),
        "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
        "asgd": lambda p: torch.optim.ASGD(p, lr=0.1, t0=0, lambd=0.0),
    }[kind](m.parameters())
    for _ in range(3):
        opt.zero_grad()
        m(torch.randn(5, 3)).pow(2).sum().backward()
        opt.step()
    return m, opt


@pytest.mark.parametrize("kind", ["sgd", "adam", "adamw", "asgd"])
def test_round_trip_continues_identically(tmp_path, kind):
    m, opt = _model_and_opt(kind)
    save_checkpoint(
        tmp_path / "c",
        model=m,
        optimizer=opt,
        state={"step": 3, "betas": (0.1, 0.2)},
        tensors={"carry.0": torch.ones(2, 3)},
    )
    m2, opt2 = _model_and_opt(kind)
    with torch.no_grad():
        for p in m2.parameters():
            p.add_(1.0)
    opt2.state.clear()
    got = load_checkpoint(tmp_path / "c", model=m2, optimizer=opt2)
    assert got["state"] == {"step": 3, "betas": (0.1, 0.2)} and torch.equal(got["tensors"]["carry.0"], torch.ones(2, 3))
    x = torch.randn(5, 3)
    for model, o in ((m, opt), (m2, opt2)):  # one more identical step on both
        o.zero_grad()
        model(x).pow(2).sum().backward()
        o.step()
    for a, b in zip(m.parameters(), m2.parameters(), strict=True):
        assert torch.equal(a, b)  # bit for bit: same state, same arithmetic
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]


def test_files_are_safetensors_and_json_only(tmp_path):
    m, opt = _model_and_opt("adam")
    p = save_checkpoint(tmp_path / "c", model=m, optimizer=opt, state={"a": 1})
    assert sorted(os.listdir(p)) == ["model.safetensors", "optimizer.safetensors", "state.json"]
    meta = json.loads((p / "state.json").read_text())
    assert meta["format"] == ck.FORMAT and set(meta["files"]) == {"model.safetensors", "optimizer.safetensors"}
    src = Path(ck.__file__).read_text() + Path(ck.__file__).with_name("loop.py").read_text()
    assert not re.search(r"import pickle|pickle\.|torch\.save|torch\.load", src)


def test_tied_weights_save(tmp_path):
    emb, dec = nn.Embedding(5, 3), nn.Linear(3, 5)
    dec.weight = emb.weight
    m = nn.ModuleDict({"emb": emb, "dec": dec})
    save_checkpoint(tmp_path / "c", model=m)
    m2 = nn.ModuleDict({"emb": nn.Embedding(5, 3), "dec": nn.Linear(3, 5)})
    m2["dec"].weight = m2["emb"].weight
    load_checkpoint(tmp_path / "c", model=m2)
    assert torch.equal(m2["emb"].weight, emb.weight) and m2["dec"].weight is m2["emb"].weight


def test_corrupt_or_truncated_checkpoint_gives_clear_error_and_prev_is_kept(tmp_path):
    m, opt = _model_and_opt("adam")
    last = tmp_path / "last"
    save_checkpoint(last, model=m, optimizer=opt, state={"n": 1}, keep_prev=True)
    save_checkpoint(last, model=m, optimizer=opt, state={"n": 2}, keep_prev=True)
    assert load_checkpoint(tmp_path / "prev")["state"] == {"n": 1}
    f = last / "model.safetensors"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])  # truncate
    msg = r"model.safetensors is corrupt or truncated.*previous good checkpoint is kept at .*prev"
    with pytest.raises(CheckpointError, match=msg):
        load_checkpoint(tmp_path, model=m)  # a run folder resolves to its `last`
    (last / "state.json").write_text('{"format": "rnnkit.checkp')
    with pytest.raises(CheckpointError, match=r"state.json is corrupt or truncated"):
        load_checkpoint(last)
    (last / "state.json").unlink()
    with pytest.raises(CheckpointError, match=r"state.json is missing \(an interrupted save\?\)"):
        load_checkpoint(last)
    assert load_checkpoint(tmp_path / "prev", model=m)["state"] == {"n": 1}  # the older one still loads


def test_failed_save_leaves_previous_checkpoint(tmp_path, monkeypatch):
    m, opt = _model_and_opt("sgd")
    save_checkpoint(tmp_path / "last", model=m, optimizer=opt, state={"n": 1})

    def boom(tensors, filename):
        Path(filename).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ck, "save_file", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path / "last", model=m, optimizer=opt, state={"n": 2})
    assert load_checkpoint(tmp_path / "last", model=m)["state"] == {"n": 1}
    assert sorted(os.listdir(tmp_path)) == ["last"]  # no temp folder left behind


def test_mismatched_model_and_optimizer(tmp_path):
    m, opt = _model_and_opt("adam")
    save_checkpoint(tmp_path / "c", model=m, optimizer=opt)
    with pytest.raises(CheckpointError, match=r"does not fit Linear: .*missing in the checkpoint.*build the"):
        load_checkpoint(tmp_path / "c", model=nn.Linear(3, 2))
    save_checkpoint(tmp_path / "lin", model=nn.Linear(3, 2))
    with pytest.raises(CheckpointError, match=r"weight: \(2, 3\) in the checkpoint, \(4, 3\) in the model"):
        load_checkpoint(tmp_path / "lin", model=nn.Linear(3, 4))  # a size mismatch, not torch's RuntimeError
    with pytest.raises(CheckpointError, match=r"checkpoint holds Adam state but the optimiser is SGD"):
        load_checkpoint(tmp_path / "c", optimizer=torch.optim.SGD(m.parameters(), lr=0.1))
    with pytest.raises(CheckpointError, match=r"no checkpoint at .*nothing"):
        load_checkpoint(tmp_path / "nothing")


def test_checkpoint_path_and_load_model(tmp_path):
    m, _ = _model_and_opt("adam")
    save_checkpoint(tmp_path / "last", model=m, state={"which": "last"})
    assert checkpoint_path(tmp_path) == tmp_path / "last"  # no best yet: fall back to last
    save_checkpoint(tmp_path / "best", model=m, state={"which": "best"})
    assert checkpoint_path(tmp_path) == tmp_path / "best" and checkpoint_path(tmp_path, "last") == tmp_path / "last"
    assert load_model(tmp_path, m)["which"] == "best"


def test_loading_never_executes_code(tmp_path):
    """A checkpoint with a pickle payload in place of safetensors is rejected, never unpickled."""
    m, _ = _model_and_opt("adam")
    p = save_checkpoint(tmp_path / "c", model=m)
    marker = tmp_path / "pwned"
    payload = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    (p / "model.safetensors").write_bytes(payload)
    meta = json.loads((p / "state.json").read_text())
    meta["files"]["model.safetensors"] = ck._sha256(p / "model.safetensors")  # even with a matching checksum
    (p / "state.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(p, model=m)
    assert not marker.exists()
