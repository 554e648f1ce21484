"""Finite differences against the PyTorch engine's gradients, for every registered cell and every impl."""

from __future__ import annotations

import importlib.util

import pytest
import torch

import rnnkit.nn as rn
from rnnkit import registry
from rnnkit.layout import CellOptions
from rnnkit.nn import fused
from rnnkit.nn.gradcheck import gradcheck, gradcheck_sequence, gradcheck_tbptt, numerical_gradient, run

HAS_BPTT = importlib.util.find_spec("rnnkit.nn.bptt") is not None
FAST = ["fused"] + (["bptt"] if HAS_BPTT else [])
CLASSIC = {
    "rnn-relu": ("rnn", CellOptions(nonlinearity="relu")),
    "lstm": ("lstm", CellOptions()),
    "gru-torch": ("gru", CellOptions()),
    "gru-paper": ("gru", CellOptions(gru_variant="paper")),
}


def _assert_passed(report):
    assert report.entries and report.passed, str(report)


@pytest.mark.parametrize("cell", registry.cell_names("nn"))
def test_loop_every_registered_cell(cell):
    _assert_passed(gradcheck_sequence(cell, num_layers=2, bidirectional=True))


@pytest.mark.parametrize("impl", FAST)
@pytest.mark.parametrize("case", CLASSIC)
def test_fast_paths(case, impl):
    cell, options = CLASSIC[case]
    m = rn.public_class(cell)(3, 3, options=options, impl=impl)
    try:
        m.resolve_impl(torch.zeros(1, 1, 3))
    except ValueError:
        pytest.skip(f"{impl} does not cover {case}")
    _assert_passed(gradcheck_sequence(cell, num_layers=2, bidirectional=True, options=options, impl=impl))


@pytest.mark.parametrize("case", CLASSIC)
def test_truncated_bptt_windows(case):
    cell, options = CLASSIC[case]
    _assert_passed(gradcheck_tbptt(cell, k1=2, k2=3, num_layers=2, options=options))


def test_torch_autograd_gradcheck_wrapper():
    m = rn.LSTM(2, 2, bidirectional=True)
    for impl in ["loop"] + [i for i in FAST if fused.supports("lstm", CellOptions())]:
        assert gradcheck(m, torch.randn(2, 3, 2), lengths=[3, 1], impl=impl)


def test_numerical_gradient_of_a_known_function():
    a = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    g = numerical_gradient(lambda: float((a**3).sum()), a)
    torch.testing.assert_close(torch.tensor(g), 3 * a**2, rtol=1e-8, atol=1e-9)  # O(eps^2) truncation error
    assert a.tolist() == [1.0, -2.0, 0.5], "perturbations must be undone"


def test_a_wrong_gradient_fails():
    """The check can fail: a model whose forward secretly differs from what backward sees is caught."""

    class Leaky(rn.GRU):
        def forward(self, x, hx=None, lengths=None):
            out, h = super().forward(x, hx, lengths)
            return out + 1e-3 * x.detach().sum() * out.detach(), h  # value depends on x, gradient does not

    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        gradcheck(Leaky(2, 2), torch.randn(1, 2, 2))


def test_run_prints_and_reports(capsys):
    from rich.console import Console

    assert run("rnn", console=Console(width=120))
    assert "gradcheck passed" in capsys.readouterr().out
    with pytest.raises(ValueError, match="lengths must be False"):
        gradcheck_tbptt("rnn", lengths=True)
