"""DDP: `torchrun --nproc_per_node=2` (gloo, CPU) follows the single-process run on the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.train.metrics import read_metrics

HERE = Path(__file__).resolve().parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.mark.slow
def test_two_process_ddp_matches_single_process(tmp_path):
    single, multi = tmp_path / "single", tmp_path / "ddp"
    worker = str(HERE / "ddp_worker.py")
    subprocess.run([sys.executable, worker, str(single)], check=True, env=_env(), timeout=120)
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", worker, str(multi)]
    proc = subprocess.run(launch, env=_env(), timeout=120, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
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
