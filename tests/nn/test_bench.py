"""The cell benchmark (rnnkit.bench, benchmarks/bench_cells.py, `rnnkit bench cells`) at tiny sizes.

Not a timing test: it checks that every registered cell gets a torch.nn row, that each cell runs the impls that
apply to it and only those, that the gradient check runs and passes, and that the presets and sequence-length
lists reach the cases. The matmul peak (seconds of 4096x512x2048 products) is replaced by a constant.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import rnnkit.bench as bench
from rnnkit.bench import ANCHORS, GRAD_TOL, IMPLS, LOOP_CHECK_STEPS, PRESETS, TORCH, CellCase, bench_cells
from rnnkit.cli import app
from rnnkit.layout import CellOptions
from rnnkit.nn import fused
from rnnkit.registry import cell_names

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
TINY = dict(hidden=[16], layers=[1], seq_lens=[8, 24], batch=4, repeats=1)  # 24 > LOOP_CHECK_STEPS: the window


@pytest.fixture(autouse=True)
def _no_peak_and_threads_restored(monkeypatch):
    monkeypatch.setattr(bench, "matmul_peak", lambda **kw: {"torch.mm": 10.0, "peak": 10.0})
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_every_registered_cell_has_a_torch_nn_row():
    for cell in cell_names(engine="nn"):
        assert fused.supports(cell, CellOptions()) or cell in ANCHORS, f"give {cell!r} a CellFacts anchor"
    for cell, (anchor, options) in ANCHORS.items():
        assert fused.supports(anchor, options), f"{cell}: anchor {anchor!r} has no torch.nn layer"


def test_gemm_flops_follow_the_layout():
    def per_step(cell: str) -> float:  # forward FLOPs of one step, one sequence, H=16
        return CellCase(cell, 16, 1, 1, 1).gemm_flops(backward=False)

    H = 16
    assert per_step("gru") == 2 * (3 * H * H + 3 * H * H)  # x W_ih^T and h W_hh^T
    assert per_step("mingru") == 2 * 2 * H * H  # no recurrent matrix
    assert per_step("indrnn") == 2 * H * H  # u ⊙ h is element-wise, not counted
    assert CellCase("lstm", 16, 2, 8, 4).gemm_flops(backward=True) == 3 * 2 * 8 * 4 * per_step("lstm")


def test_bench_cells_runs_new_and_classic_cells_over_a_seq_len_list():
    assert LOOP_CHECK_STEPS < max(TINY["seq_lens"])
    _, _, results = bench_cells(cells=["gru", "indrnn", "mingru"], threads=None, **TINY)
    assert [(r.case.cell, r.case.seq_len) for r in results] == [
        (c, T) for T in (8, 24) for c in ("gru", "indrnn", "mingru")
    ]
    by = {(r.case.cell, r.case.seq_len): r for r in results}
    expected = {
        "gru": ({"loop", "fused", "bptt", "auto", TORCH}, TORCH, True),
        "indrnn": ({"loop", "bptt", "auto", TORCH}, "torch.nn.RNN(relu)", False),  # bptt from nn/bptt_extra.py
        "mingru": ({"loop", "scan", "auto", TORCH}, "torch.nn.GRU", False),
    }
    for (cell, _), r in by.items():
        variants, anchor, twin = expected[cell]
        assert set(r.fwdbwd) == variants and set(r.fwd) == variants, cell
        assert (r.anchor, r.anchor_twin) == (anchor, twin), cell
        checked = variants if twin else variants - {TORCH}  # a new cell's anchor is another cell: not compared
        assert set(r.max_grad_err) == checked, cell
        assert all(e <= GRAD_TOL for e in r.max_grad_err.values()), (cell, r.max_grad_err)
    assert by[("mingru", 24)].auto_impl == "scan" and by[("indrnn", 24)].auto_impl == "bptt"
    table = bench.format_results(results, 10.0)
    assert "| mingru H=16 L=1 T=24 N=4 | torch.nn.GRU (anchor) |" in table and "- (other cell)" in table
    assert "| gru H=16 L=1 T=8 N=4 | torch.nn |" in table and "FAIL" not in table


def test_a_wrong_fast_path_fails_the_check(monkeypatch):
    # the check must be able to fail: scale one parameter of the scan model after the weights are shared
    real = bench._models

    def broken(case, impls):
        built = real(case, impls)
        with torch.no_grad():
            next(built.timed["scan"].parameters()).mul_(1.01)
        return built

    monkeypatch.setattr(bench, "_models", broken)
    (r,) = bench_cells(cells=["minlstm"], threads=None, **{**TINY, "seq_lens": [8]})[2]
    assert r.max_grad_err["scan"] > GRAD_TOL and r.max_grad_err["loop"] == 0.0
    assert "FAIL" in bench.format_results([r], 10.0)


def _script(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("bench_cells")


def test_script_defaults_and_presets(monkeypatch):
    script = _script(monkeypatch)
    args = script.parse_args([])
    assert args.cells == cell_names(engine="nn") and args.impls == list(IMPLS) and args.seq_lens == [128]
    long = script.parse_args(["--long"])
    assert (long.hidden, long.layers, long.seq_lens, long.repeats) == ([512], [1], [128, 512, 2048], 5)
    assert long.no_forward and "loop" not in long.impls and "scan" in long.impls
    assert long.seq_lens == PRESETS["long"]["seq_lens"]
    # a preset only sets defaults: explicit options win
    mine = script.parse_args(["--long", "--seq-lens", "512", "2048", "--impls", "loop", "scan", "--cells", "mingru"])
    assert (mine.seq_lens, mine.impls, mine.cells, mine.hidden) == ([512, 2048], ["loop", "scan"], ["mingru"], [512])
    with pytest.raises(SystemExit):
        script.parse_args(["--quick", "--long"])


def test_script_runs_one_new_cell_at_tiny_sizes(monkeypatch, capsys):
    script = _script(monkeypatch)
    script.main(
        [
            "--cells",
            "minlstm",
            "--hidden",
            "16",
            "--layers",
            "1",
            "--seq-lens",
            "8",
            "24",
            "--batch",
            "4",
            "--repeats",
            "1",
            "--threads",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert "Command: `python benchmarks/bench_cells.py --cells minlstm --hidden 16" in out
    for T in (8, 24):
        assert f"| minlstm H=16 L=1 T={T} N=4 | scan |" in out
        assert f"| minlstm H=16 L=1 T={T} N=4 | torch.nn.GRU (anchor) |" in out
    assert "FAIL" not in out and "| fused |" not in out


def test_cli_bench_cells(monkeypatch):
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "bench",
            "cells",
            "--cell",
            "layernorm_lstm",
            "--hidden",
            "16",
            "--layers",
            "1",
            "--seq-len",
            "8",
            "--seq-len",
            "24",
            "--repeats",
            "1",
            "--threads",
            "1",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "| layernorm_lstm H=16 L=1 T=24 N=32 | bptt |" in res.stdout
    assert "| layernorm_lstm H=16 L=1 T=8 N=32 | torch.nn.LSTM (anchor) |" in res.stdout
    assert "Command: `rnnkit bench cells --cell=layernorm_lstm --hidden=16" in res.stdout
    assert "FAIL" not in res.stdout
    bad = runner.invoke(app, ["bench", "cells", "--cell", "lstn"])
    assert bad.exit_code == 2 and "unknown cell(s) lstn; known:" in bad.output
    both = runner.invoke(app, ["bench", "cells", "--quick", "--long"])
    assert both.exit_code == 2 and "give --quick or --long, not both" in both.output


def test_cli_bench_autotune_shows_the_choice_and_reads_the_cache(monkeypatch, tmp_path):
    """Tiny sizes, one thread: the timings are not checked (tests/nn/test_autotune.py checks the logic)."""
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))
    monkeypatch.setenv("RNNKIT_AUTOTUNE", "0")
    args = ["bench", "autotune", "--cell", "gru", "--hidden", "8", "--seq-len", "4", "--batch", "2", "--threads", "1"]
    off = CliRunner().invoke(app, args)
    assert off.exit_code == 0, off.output
    assert "autotuning is off" in off.stdout and "| gru H=8 L=1 T=4 N=2 | train | bptt | - |" in off.stdout
    monkeypatch.setenv("RNNKIT_AUTOTUNE", "1")
    from rnnkit.nn import autotune

    path = tmp_path / "autotune.json"
    monkeypatch.setattr(autotune, "_tuners", {path: autotune.Tuner(path, load=lambda: 0.0)})  # a quiet machine
    first = CliRunner().invoke(app, [*args, "--no-inference"])
    assert first.exit_code == 0, first.output
    assert "measured now |" in first.stdout and "fused " in first.stdout and "bptt " in first.stdout
    again = CliRunner().invoke(app, [*args, "--no-inference"])
    assert "| cache |" in again.stdout and (tmp_path / "autotune.json").exists()
