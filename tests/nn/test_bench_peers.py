"""benchmarks/bench_peers.py without TensorFlow or JAX: its arguments, the numerics check, the table and the verdict,
and a tiny end-to-end run of the torch worker (rnnkit and torch.nn in a worker process, over the JSON-lines channel)."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def peers(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("bench_peers")


def test_arguments_defaults_and_refusals(peers, capsys):
    a = peers.parse_args([])
    assert (a.seq_len, a.batch, a.hidden, a.threads) == (128, 32, 256, [2, 1])  # the case of issue #18
    assert a.frameworks == ["rnnkit", "torch.nn", "keras", "jax"]
    assert peers.parse_args(["--frameworks", "rnnkit", "jax", "rnnkit"]).frameworks == ["rnnkit", "jax"]
    for bad, said in (
        (["--frameworks", "jax"], "must include 'rnnkit'"),
        (["--threads", "0"], "--threads"),
        (["--repeats", "0"], "--repeats must be >= 1"),
        (["--frameworks", "mxnet"], "invalid choice"),
    ):
        with pytest.raises(SystemExit):
            peers.parse_args(bad)
        assert said in capsys.readouterr().err
    assert all("==" in p for p in peers.PEERS)  # the peers are pinned


def test_workers_group_variants_by_framework(peers):
    assert peers.workers_for(["jax", "rnnkit", "keras"]) == {
        "torch": ["rnnkit", "rnnkit bf16"],
        "tf": ["keras graph", "keras xla"],
        "jax": ["jax"],
    }
    assert peers.workers_for(["torch.nn", "rnnkit"]) == {"torch": ["rnnkit", "rnnkit bf16", "torch.nn"]}


def test_rel_err(peers):
    ref = np.array([[1.0, -4.0], [2.0, 0.0]])
    assert peers.rel_err(ref, ref) == 0.0
    assert peers.rel_err(ref + [[0.0, 0.04], [0.0, 0.0]], ref) == pytest.approx(0.01)  # relative to the largest
    assert peers.rel_err(np.full((2, 2), np.nan), ref) == float("inf")
    with pytest.raises(ValueError, match="shape"):
        peers.rel_err(ref.T[:1], ref)
    assert peers.tolerance("rnnkit bf16") > peers.tolerance("keras xla") == 1e-4


def _rows(peers):
    R = peers.Row
    return [
        R("rnnkit", [0.060, 0.062, 0.070], first=1.5, err=0.0, note="auto = fused"),
        R("rnnkit bf16", [0.040, 0.041, 0.050], first=0.8, err=5e-3),
        R("keras graph", [0.120, 0.130, 0.126], first=2.0, err=3e-7),
        R("jax", [0.100, 0.110, 0.150], first=3.0, err=2e-3),
    ]


def test_table_ratios_and_checks(peers):
    lines = peers.format_table(_rows(peers)).splitlines()
    assert lines[0].startswith("| variant | ms/step")
    rnnkit, bf16, keras, jax = (line.split(" | ") for line in lines[2:])
    assert rnnkit[0] == "| rnnkit (auto = fused)" and rnnkit[1] == "62.0" and rnnkit[4] == "1.00x"
    assert keras[1] == "126.0" and keras[2] == "120.0-130.0" and keras[4] == "2.03x"  # 126 / 62
    assert keras[5] == "2.00x"  # paired: median of 120/60, 130/62, 126/70
    assert keras[-1] == "ok |" and jax[-1] == "FAIL |"  # 2e-3 > the float32 tolerance 1e-4
    assert bf16[-1] == "ok |"  # 5e-3 within the bf16 tolerance


def test_verdict_says_by_how_much_a_target_is_missed(peers):
    v = peers.verdict(_rows(peers))
    assert v[0] == "rnnkit vs keras graph: 2.00x faster (meets 2x)"
    assert v[1].startswith("rnnkit vs jax: 1.77x faster (misses 2x by 1.13x)")
    assert v[2].startswith("rnnkit bf16 vs keras graph: 3.") and "meets 2x" in v[2]
    slow = peers.verdict([peers.Row("rnnkit", [2.0]), peers.Row("jax", [1.0]), peers.Row("torch.nn", [2.2])])
    assert slow == ["rnnkit vs jax: 2.00x slower (misses 2x by 4.00x)", "rnnkit vs torch.nn: 1.10x faster"]


def test_torch_worker_end_to_end(peers, capsys):
    """rnnkit (fp32, bf16) and torch.nn in a worker process on tiny inputs: same weights, outputs and gradients
    agree, every variant timed in every round."""
    peers.main(
        [
            "--frameworks",
            "rnnkit",
            "torch.nn",
            "--threads",
            "1",
            "--seq-len",
            "5",
            "--batch",
            "2",
            "--hidden",
            "8",
            "--repeats",
            "2",
            "--warmup",
            "0",
            "--gap",
            "0",
            "--clock",
            "cpu",
        ]
    )
    out = capsys.readouterr().out
    assert out.startswith("host: ")
    table = [line for line in out.splitlines() if line.startswith("| rnnkit") or line.startswith("| torch.nn")]
    from rnnkit.nn import precision

    assert len(table) == (3 if precision.bf16_support() != "none" else 2), out  # bf16 only where it can run
    assert all(line.endswith("| ok |") for line in table), out
    assert "rnnkit vs torch.nn:" in out and "keras" not in out
