"""Finite differences vs the hand-written BPTT, float64, for EVERY registered reference cell.

Cells come from the registry, so a cell added later is checked here with no edit: every parameter, the
input and the initial state; full BPTT (1 layer, 2 layers bidirectional, with and without lengths and
biases) and truncated BPTT (k1 = k2 and k2 > k1). Tolerances: ``gradcheck.DEFAULT_TOL`` = 1e-6 relative
(central differences with eps = 1e-6 reach ~1e-9 here; a wrong backward is off by >1e-3) or 1e-8 absolute.
"""

from __future__ import annotations

import pytest

from rnnkit import registry
from rnnkit.layout import CellOptions
from rnnkit.reference import gradcheck
from rnnkit.reference.gradcheck import gradcheck_sequence, gradcheck_tbptt

CELLS = registry.cell_names("reference")
# Option sets beyond the default that change a cell's math (a cell not listed runs with the defaults).
VARIANTS = {"rnn": [CellOptions(nonlinearity="relu")], "gru": [CellOptions(gru_variant="paper")]}
CASES = [(c, CellOptions()) for c in CELLS] + [(c, o) for c in CELLS for o in VARIANTS.get(c, [])]
IDS = [f"{c}-{o.nonlinearity}-{o.gru_variant}" for c, o in CASES]

SIZE = dict(
    input_size=2, hidden_size=2, batch=2
)  # small: every element costs two forward passes; H=2 still couples units
FULL = {
    "1layer": dict(num_layers=1, bidirectional=False, lengths=False),
    "1layer-lengths-nobias": dict(num_layers=1, bidirectional=False, lengths=True, bias=False),
    "2layers-bidirectional-lengths": dict(num_layers=2, bidirectional=True, lengths=True),
}


def test_every_classic_cell_is_registered():
    assert {"rnn", "lstm", "gru"} <= set(CELLS)


@pytest.mark.parametrize("config", list(FULL), ids=list(FULL))
@pytest.mark.parametrize(("cell", "options"), CASES, ids=IDS)
def test_full_bptt(cell, options, config):
    report = gradcheck_sequence(cell, options=options, steps=4, **SIZE, **FULL[config])
    names = {e.name for e in report.entries}
    assert "x" in names and any(n.startswith("state0.") for n in names)
    assert any(n.endswith(".W_ih") for n in names)
    assert report.passed, str(report)


@pytest.mark.parametrize(("k1", "k2"), [(2, None), (2, 3)], ids=["k1=k2=2", "k1=2,k2=3"])
@pytest.mark.parametrize(("cell", "options"), CASES, ids=IDS)
def test_truncated_bptt(cell, options, k1, k2):
    report = gradcheck_tbptt(cell, k1=k1, k2=k2, num_layers=2, steps=4, lengths=True, options=options, **SIZE)
    assert any(e.name.startswith("state_in.") for e in report.entries)
    assert report.passed, str(report)


def test_gradcheck_catches_a_wrong_backward(monkeypatch):
    """A backward off by 0.1% in one parameter must fail: the check can fail."""
    mod = registry.get_cell("lstm", engine="reference")
    good = mod.step_backward

    def bad(dnew, cache):
        dx, ds, dp = good(dnew, cache)
        dp["W_hh"] = dp["W_hh"] * 1.001
        return dx, ds, dp

    monkeypatch.setattr(mod, "step_backward", bad)
    report = gradcheck_sequence("lstm", num_layers=1)
    assert not report.passed
    assert [e.name for e in report.failures()] == ["layers.0.fwd.W_hh"]


def test_compare_relative_and_absolute():
    import numpy as np

    a = np.array([1.0, 2.0])
    assert gradcheck.compare("t", "p", a, a * (1 + 1e-9), tol=1e-6, atol=0).passed
    assert not gradcheck.compare("t", "p", a, a * (1 + 1e-4), tol=1e-6, atol=0).passed
    tiny = gradcheck.compare("t", "p", np.zeros(2), np.full(2, 1e-11), tol=1e-6, atol=1e-8)
    assert tiny.passed and tiny.rel_err == 1.0  # a ~0 gradient passes on the absolute floor
