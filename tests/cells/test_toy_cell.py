"""Adding a cell is its two files and its registration with its facts, nothing else.

The toy cell of ``tests/cells/toy`` (a scaled Elman cell, kept outside the rnnkit package so no rnnkit file is
touched) runs through the conformance suite, ``rnnkit bench cells`` and ``rnnkit explain gradients``; then it is
unregistered, so no other test sees it. The registration's own refusals are checked here too.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import rnnkit.bench as bench
from rnnkit import registry
from rnnkit.cli import app
from rnnkit.layout import LAYOUTS, CellLayout, CellOptions, layout
from rnnkit.registry import CellFacts, register_cell

REPO = Path(__file__).resolve().parents[2]
TOY = "tests.cells.toy"
NAME = "scaled_rnn"


def _forget_toy() -> None:
    """Unregister the toy and drop its modules, so the next import registers it afresh."""
    registry.unregister_cell(NAME)
    for m in [m for m in sys.modules if m == TOY or m.startswith(TOY + ".")]:
        del sys.modules[m]


@pytest.fixture
def toy():
    """The toy cell, registered for one test."""
    importlib.import_module(TOY)
    yield NAME
    _forget_toy()


@pytest.mark.slow
def test_the_toy_passes_every_test_parametrised_over_the_registry():
    # A fresh pytest run that registers the toy before collection (-p loads the package as a plugin), so every
    # test parametrised over registry.cell_names() gets a scaled_rnn case; -k keeps only those. ~35 s, 30 cases.
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", TOY, "tests", "-k", NAME]
    cmd += ["--ignore", str(Path(__file__).relative_to(REPO))]  # not this file again
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    tail = run.stdout[-3000:] + run.stderr[-2000:]
    assert run.returncode == 0, tail
    passed = re.search(r"(\d+) passed", run.stdout)
    assert passed and int(passed.group(1)) >= 25 and "failed" not in run.stdout, tail  # 30 when written (#29)


def test_the_toy_passes_the_registry_wide_checks(toy):
    # The checks that loop over every registered cell at run time, called while the toy is registered (not
    # tests/nn/test_nn_mirror.py's: it wants each cell's files inside rnnkit, which the toy is kept out of).
    from tests.explain import test_trace
    from tests.nn import test_bench

    assert registry.cell_names("reference") == registry.cell_names("nn") and toy in registry.cell_names()
    assert registry.get_cell(toy, engine="nn").layout is layout(toy)
    assert LAYOUTS[toy].extra == {"s_gain": ("H",)} and bench.ANCHORS[toy] == ("rnn", CellOptions())
    test_trace.test_every_registered_cell_has_named_cache_fields()
    test_bench.test_every_registered_cell_has_a_torch_nn_row()


def test_rnnkit_bench_cells_times_the_toy(toy, monkeypatch):
    monkeypatch.setattr(bench, "matmul_peak", lambda **kw: {"torch.mm": 10.0, "peak": 10.0})  # seconds saved
    threads = torch.get_num_threads()
    args = ["bench", "cells", "--cells", toy, "--hidden", "16", "--layers", "1", "--seq-len", "8", "--repeats", "1"]
    try:
        r = CliRunner().invoke(app, [*args, "--threads", "1"])
    finally:
        torch.set_num_threads(threads)
    assert r.exit_code == 0, r.output
    assert f"| {toy} H=16 L=1 T=8 N=32 | loop |" in r.output  # the only impl it has: no fast paths declared
    assert "torch.nn.RNN (anchor)" in r.output and "FAIL" not in r.output  # its anchor, from its facts


def test_rnnkit_explain_gradients_and_trace_show_the_toy(toy, tmp_path):
    args = ["--hidden", "8", "--steps", "6", "--batch", "4", "--batches", "1", "--out", str(tmp_path / "g.png")]
    r = CliRunner().invoke(app, ["explain", "gradients", "--cell", toy, *args, "--json", "-"])
    assert r.exit_code == 0, r.output
    (profile,) = json.loads(r.stdout)["profiles"]
    assert profile["cell"] == toy and len(profile["dh_norm"]) == 6 and (tmp_path / "g.png").is_file()
    r = CliRunner().invoke(app, ["explain", "trace", "--cell", toy, "--steps", "2", "--json", "-"])
    assert r.exit_code == 0, r.output
    tr = json.loads(r.stdout)
    assert list(tr["forward"][0]["cache"]) == ["x", "h", "t"]  # named by its facts' cache_fields
    assert tr["cache_fields"] == {"t": "tanh(a_t), so h_t = s ⊙ t"}


def test_unregistering_leaves_the_registry_as_it_was():
    before = registry.cell_names()
    importlib.import_module(TOY)
    assert NAME in registry.cell_names() and NAME in LAYOUTS
    _forget_toy()
    assert registry.cell_names() == before and NAME not in LAYOUTS and NAME not in bench.ANCHORS
    with pytest.raises(ValueError, match=r"unknown cell 'scaled_rnn'; known cells: gru, "):
        layout(NAME)


def test_each_cell_package_registers_every_module_in_its_folder():
    src = REPO / "src" / "rnnkit"
    reference = {p.stem for p in (src / "reference" / "cells").glob("*.py")} - {"__init__"}
    nn = {p.stem for p in (src / "nn" / "cells").glob("*.py")} - {"__init__", "base"}
    assert reference == set(registry.cell_names("reference")) and nn == set(registry.cell_names("nn"))


def test_registration_refuses_a_cell_without_its_facts():
    lay = CellLayout("nofacts", gates=("h",), state=("h",))
    with pytest.raises(ValueError, match=r"the reference registration declares the cell's facts"):
        register_cell("nofacts", engine="reference")
    with pytest.raises(ValueError, match=r"its facts describe a layout named 'nofacts'"):
        register_cell("other", engine="reference", facts=CellFacts(layout=lay))
    with pytest.raises(ValueError, match=r"declare its facts with its reference registration, not with 'nn'"):
        register_cell("nofacts", engine="nn", facts=CellFacts(layout=lay))
    with pytest.raises(ValueError, match=r"cell 'nofacts' has no facts: import its reference module first"):
        register_cell("nofacts", engine="nn")(type("NoFacts", (), {}))
    assert "nofacts" not in registry.cell_names("nn")


def test_cell_facts_name_only_what_the_cell_has():
    lay = CellLayout("bad", gates=("i", "g"), state=("h",))
    with pytest.raises(ValueError, match=r"fast_paths \['jit'\] are not impls"):
        CellFacts(layout=lay, fast_paths={"jit": "somewhere"})
    with pytest.raises(ValueError, match=r"shown_gates names \['f'\], which are not among its gates"):
        CellFacts(layout=lay, shown_gates=("f",))
    with pytest.raises(ValueError, match=r"forget_gate=True needs a gate named 'f'"):
        CellFacts(layout=lay, forget_gate=True)


def test_an_nn_cell_with_another_layout_is_refused(toy):
    other = type("Other", (), {"layout": CellLayout(toy, gates=("h",), state=("h",))})  # no s_gain
    registry.unregister_cell(toy)
    importlib.reload(sys.modules[f"{TOY}.scaled_rnn_reference"])  # the facts again, without the nn twin
    with pytest.raises(ValueError, match=r"the nn cell's layout differs from the one its facts declare"):
        register_cell(toy, engine="nn")(other)
