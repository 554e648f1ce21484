"""The run folder is rnnkit's: every refusal leaves the folder byte for byte as it was; --overwrite moves a run aside
whole; one writer at a time (a live lock is refused, a dead one taken over); resume checks before it writes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.runfolder import LOCK, MARKER, RunFolderError, RunLock, RunLockedError, check_out, claim, is_run

runner = CliRunner()
SRC = Path(__file__).resolve().parents[1] / "src"


def _tsv(path: Path) -> Path:
    rows = [("pos", "good fun film"), ("neg", "dull bad film"), ("pos", "great fun"), ("neg", "bad plot")] * 5
    path.write_text("".join(f"{a}\t{b}\n" for a, b in rows), encoding="utf-8")
    return path


def _args(folder: Path, out: Path, *extra: str) -> list[str]:
    """`classify train` of a tiny model on ``folder``/d.tsv (written if missing) into ``out``."""
    data = folder / "d.tsv"
    if not data.is_file():
        _tsv(data)
    return [
        "classify",
        "train",
        "--data",
        str(data),
        "--input",
        "word",
        "--hidden",
        "4",
        "--epochs",
        "1",
        "--quiet",
        "--batch-size",
        "4",
        "--out",
        str(out),
        *extra,
    ]


def _hashes(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) -> sha256: a refusal must not change one byte or add a file."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("trained")
    run = tmp / "run"
    r = runner.invoke(app, _args(tmp, run))
    assert r.exit_code == 0, r.output
    assert is_run(run) and (run / MARKER).is_file() and (run / "last").is_dir()
    return run


@pytest.fixture()
def trained(tmp_path, trained_once) -> Path:
    """A fresh copy of one trained classify run (train once, refuse many times); its data stays where it was."""
    import shutil

    shutil.copytree(trained_once, tmp_path / "run")
    return tmp_path / "run"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ((), r"already holds a run \(classify run at step \d+, epoch 1\): pass --resume to continue it, --overwrite"),
        (
            ("--resume", "--hidden", "8"),
            r"cannot resume: .*\n  model.hidden_size: 4 in the run, 8 requested\n"
            r"these settings are fixed for a run",
        ),
        (("--resume", "--cell", "gru"), r"model.cell.name: 'lstm' in the run, 'gru' requested"),
        (("--resume", "--lr", "0.5"), r"train.lr: 0.002 in the run, 0.5 requested\npass --resume-with-new-lr"),
        (("--resume", "--overwrite"), r"give --resume \(continue the run\) or --overwrite .*not both"),
    ],
)
def test_refusals_leave_the_run_unchanged(tmp_path, trained, trained_once, extra, message):
    import re

    before = _hashes(trained)
    r = runner.invoke(app, _args(trained_once.parent, trained, *extra))
    assert r.exit_code in (1, 2) and re.search(message, r.output), r.output
    assert len(r.output.strip().splitlines()) <= 4 and "Traceback" not in r.output  # a message, not a traceback
    assert _hashes(trained) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing moved aside either


def test_resume_refused_when_the_checkpoint_does_not_fit(trained, trained_once):
    """A config.json edited (or a checkpoint swapped) behind rnnkit's back: the shapes are compared before writing."""
    cfg = json.loads((trained / "config.json").read_text())
    cfg["model"]["hidden_size"] = 6
    (trained / "config.json").write_text(json.dumps(cfg))
    before = _hashes(trained)
    r = runner.invoke(app, _args(trained_once.parent, trained, "--resume", "--hidden", "6", "--epochs", "2"))
    assert r.exit_code == 1 and "does not fit" in r.output and "in the checkpoint" in r.output, r.output
    assert _hashes(trained) == before


def test_out_that_is_not_a_run_is_refused_unchanged(tmp_path):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("my notes")
    before = _hashes(user)
    for extra in ((), ("--overwrite",)):  # --overwrite never moves a folder that is not a run
        r = runner.invoke(app, _args(tmp_path, user, *extra))
        assert r.exit_code == 1 and f"{user} is not empty (notes.txt) and is not an rnnkit run folder" in r.output
        assert _hashes(user) == before and sorted(os.listdir(user)) == ["notes.txt"]
    a_file = tmp_path / "d.tsv"
    r = runner.invoke(app, _args(tmp_path, a_file))
    assert r.exit_code == 1 and f"{a_file} is a file, not a folder: --out needs a folder" in r.output


def test_overwrite_moves_the_old_run_aside_whole(tmp_path, trained):
    before = _hashes(trained)
    r = runner.invoke(app, _args(tmp_path, trained, "--overwrite", "--seed", "3"))  # other data too: a new run
    assert r.exit_code == 0, r.output
    (aside,) = tmp_path.glob("run.old-*")
    after = _hashes(aside)
    assert after.pop(LOCK) and before.pop(LOCK)  # the lock file names who held it last (the mover): rnnkit's own
    assert after == before  # the previous run, untouched, under a new name
    assert json.loads((trained / "config.json").read_text())["train"]["seed"] == 3 and (trained / "last").is_dir()
    assert not (trained / "prev").exists()  # a fresh run: no checkpoint of the old one mixed in


def test_resume_with_a_new_lr_is_recorded(trained, trained_once):
    step = json.loads((trained / "last" / "state.json").read_text())["state"]["step"]
    new_lr = ("--lr", "0.01", "--resume-with-new-lr")
    r = runner.invoke(app, _args(trained_once.parent, trained, "--resume", "--epochs", "2", *new_lr))
    assert r.exit_code == 0, r.output
    assert "resumed with: train.epochs 1 -> 2, train.lr 0.002 -> 0.01" in r.output
    assert json.loads((trained / "config.json").read_text())["train"]["lr"] == 0.01
    records = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    (rec,) = [r for r in records if r["event"] == "resume"]
    assert rec["changed"] == {"train.epochs": [1, 2], "train.lr": [0.002, 0.01]} and rec["step"] == step
    from rnnkit.train import load_checkpoint

    groups = json.loads((trained / "last" / "state.json").read_text())["optimizer"]["param_groups"]
    assert groups[0]["initial_lr"] == 0.01 and load_checkpoint(trained)["state"]["step"] == 2 * step


def _holder(folder: Path) -> subprocess.Popen:
    """Another process holding ``folder``'s run lock until its stdin closes."""
    code = "import sys; from rnnkit.runfolder import RunLock; RunLock(sys.argv[1]).acquire(); print('locked', flush=True); sys.stdin.read()"  # noqa: E501
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    p = subprocess.Popen(
        [sys.executable, "-c", code, str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
    )
    assert p.stdout.readline().strip() == "locked"
    return p


def test_a_second_writer_is_refused_and_a_dead_ones_lock_taken_over(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    other = _holder(run)
    try:
        r = runner.invoke(app, _args(tmp_path, run))
        assert r.exit_code == 1, r.output
        assert f"{run} is being written by process {other.pid} since " in r.output and "pick another --out" in r.output
        assert sorted(os.listdir(run)) == [LOCK]  # the refused run wrote nothing
    finally:
        other.kill()  # as a crashed run: the kernel drops its lock, the file still names it
        other.wait()
    with claim(run, task="classify") as notes:
        assert notes == [f"took over the lock of process {other.pid}, which is no longer running"]
        with claim(run) as again:  # re-entrant in one process (fit_and_test -> fit)
            assert again == []
        with pytest.raises(RunLockedError, match="is being written by process"):
            RunLock(run).acquire()  # but a second lock of the same folder is refused, even in-process
    r = runner.invoke(app, _args(tmp_path, run, "--overwrite"))
    assert r.exit_code == 0, r.output  # a marker-only run (claimed, then nothing written) is replaced


def test_check_out_and_stale_temp_files(tmp_path):
    check_out(tmp_path / "new")  # absent or empty: fine
    run = tmp_path / "run"
    run.mkdir()
    check_out(run)
    (run / MARKER).write_text("{}")  # a run killed while saving: its temp files are left behind
    for name in (".last.tmp-999999", ".prev.old-999999", ".config.json.tmp-999999"):
        p = run / name
        p.mkdir() if "last" in name or "prev" in name else p.write_text("{")
    assert is_run(run)
    with pytest.raises(RunFolderError, match="already holds a run"):
        check_out(run)
    with claim(run, resume=True) as notes:
        assert len(notes) == 3 and all("left by a run killed while writing it" in n for n in notes)
    assert sorted(os.listdir(run)) == [LOCK, MARKER]
