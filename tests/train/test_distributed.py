"""DDP: 2 processes (gloo, CPU, torchrun's env contract) follow the single-process run on the same global batch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.train.metrics import read_metrics
from tests.train import ddp_worker

HERE = Path(__file__).resolve().parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent.parent), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_ddp_matches_single_process(tmp_path):
    """Two ranks launched with torchrun's environment contract (RANK, WORLD_SIZE, MASTER_ADDR/PORT, env://),
    which is what `torchrun --nproc_per_node=2 tests/train/ddp_worker.py DIR` sets up; launching the workers
    directly saves the launcher's start-up and keeps the test fast. The reference runs in this process."""
    single, multi = tmp_path / "single", tmp_path / "ddp"
    port = str(_free_port())
    procs = []
    for rank in range(2):
        env = {
            **_env(),
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "LOCAL_WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, str(HERE / "ddp_worker.py"), str(multi)], env=env, stderr=subprocess.PIPE, text=True
            )
        )
    ddp_worker.main(str(single))  # the single-process run, while the two ranks start up
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-3000:]
    a, b = read_metrics(single / "metrics.jsonl"), read_metrics(multi / "metrics.jsonl")
    # only rank 0 writes: every record exactly once
    assert [(r["event"], r["step"]) for r in b] == [(r["event"], r["step"]) for r in a]
    assert len([r for r in b if r["event"] == "train"]) == 12
    for ra, rb in zip(a, b, strict=True):
        key = "loss" if ra["event"] == "train" else "val_loss"
        # the same math in another summation order: the DDP mean of two half-batch gradients vs one full batch
        assert rb[key] == pytest.approx(ra[key], rel=1e-5, abs=1e-6)
    wa, wb = load_file(str(single / "last" / "model.safetensors")), load_file(str(multi / "last" / "model.safetensors"))
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=1e-4, atol=1e-5)  # 12 SGD steps of float32 reordering
