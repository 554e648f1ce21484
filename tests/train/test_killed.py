"""Fault injection: a training process killed with SIGKILL at a random point (often inside a checkpoint swap)
leaves a run folder whose checkpoint loads and whose resume completes - and matches an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rnnkit.config import CheckpointConfig, TrainConfig
from rnnkit.data.streams import TokenStream
from rnnkit.train import fit, load_checkpoint
from tests.train.helpers import TinyLM, assert_same_last, lm_step, token_stream

ROOT = Path(__file__).resolve().parents[2]
STEPS = 10
# `last` after every step, an evaluation every 5: most of a step's time is checkpoint writing (fsyncs)
CONFIG = TrainConfig(
    max_steps=STEPS,
    epochs=5,
    eval_every=5,
    log_every=5,
    lr=3e-3,
    quiet=True,
    checkpoint=CheckpointConfig(every_steps=1),
)


def streams():
    tokens = token_stream(1400)
    return TokenStream(tokens[:1200], batch_size=4, bptt=12, seed=1), TokenStream(tokens[1200:], batch_size=2, bptt=20)


def _run(run_dir: Path, resume: bool = False):
    torch.set_num_threads(1)  # as the worker: the same reduction order, so the runs can match bit for bit
    torch.manual_seed(123)
    train, val = streams()
    return fit(TinyLM(), lm_step, train, config=CONFIG, val_data=val, run_dir=run_dir, resume=resume)


def _kill_at_random(run_dir: Path, seed: int) -> int:
    """Start the worker, SIGKILL it a random time after a random step (it waits two steps later, so the kill comes
    before the end: during one of the two steps, one of their checkpoint swaps, or the wait); returns that step."""
    rng = random.Random(seed)
    target, delay = rng.randint(2, STEPS - 4), rng.uniform(0.0, 0.05)
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.train.kill_worker", str(run_dir), str(target + 2)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    last = 0
    try:
        for line in proc.stdout:
            last = int(line)
            if last >= target:
                time.sleep(delay)
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdin.close()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL and last >= target, "the worker failed before it was killed"
    return last


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    return _run(tmp_path_factory.mktemp("full") / "run").run_dir


@pytest.mark.slow  # a subprocess per seed (importing torch: ~3 s of the ~5 s)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sigkill_at_a_random_point_then_resume(tmp_path, seed, uninterrupted):
    run = tmp_path / "run"
    printed = _kill_at_random(run, seed)
    state = load_checkpoint(run / "last")["state"]  # whole and verified (checksums), wherever the kill landed
    assert state["step"] >= printed  # `last` is saved before a step is printed: the newest finished one is kept
    resumed = _run(run, resume=True)  # takes over the dead process's lock, removes its temp files
    assert resumed.step == STEPS and not resumed.interrupted
    assert not [p.name for p in run.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
    assert_same_last(uninterrupted / "last", run / "last")  # resumed == uninterrupted, bit for bit
