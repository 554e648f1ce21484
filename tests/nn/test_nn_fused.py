"""from_torch / to_torch round trips, and our classes equal torch.nn modules given the same weights."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

import rnnkit.nn as rn
from rnnkit.layout import CellOptions
from rnnkit.nn import fused

TORCH = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
CASES = list(itertools.product(["rnn", "lstm", "gru"], [True, False], [1, 2], [False, True]))


def _torch_module(cell, bias, layers, bidirectional, **kw):
    torch.manual_seed(0)
    return TORCH[cell](3, 4, num_layers=layers, bias=bias, bidirectional=bidirectional, batch_first=True, **kw)


@pytest.mark.parametrize(("cell", "bias", "layers", "bidirectional"), CASES)
def test_from_torch_then_to_torch_is_identity(cell, bias, layers, bidirectional):
    theirs = _torch_module(cell, bias, layers, bidirectional)
    ours = rn.from_torch(theirs)
    assert type(ours) is rn.public_class(cell)
    back = ours.to_torch()
    a, b = theirs.state_dict(), back.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k  # a copy, bit for bit


@pytest.mark.parametrize(("cell", "bias", "layers", "bidirectional"), CASES)
def test_ours_equals_torch_module_with_the_same_weights(cell, bias, layers, bidirectional):
    theirs = _torch_module(cell, bias, layers, bidirectional).double()
    x = torch.randn(3, 5, 3, dtype=torch.float64)
    ref_out, ref_state = theirs(x)
    for impl in ("loop", "fused"):
        ours = rn.from_torch(theirs, impl=impl)
        assert next(ours.parameters()).dtype == torch.float64
        out, state = ours(x)
        # float64: same math, summation order may differ (~1e-16 per op over 5 steps)
        torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-12)
        for s, r in zip(state if cell == "lstm" else (state,), ref_state if cell == "lstm" else (ref_state,)):
            torch.testing.assert_close(s, r, rtol=1e-10, atol=1e-12)


def test_to_torch_then_from_torch_is_identity():
    ours = rn.GRU(3, 4, num_layers=2, bidirectional=True, dropout=0.25)
    theirs = ours.to_torch()
    assert theirs.batch_first and theirs.dropout == 0.25
    again = rn.from_torch(theirs)
    for k, v in ours.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k


def test_relu_rnn_keeps_its_nonlinearity():
    theirs = nn.RNN(3, 4, nonlinearity="relu")
    assert rn.from_torch(theirs).options.nonlinearity == "relu"
    assert rn.RNN(3, 4, nonlinearity="relu").to_torch().nonlinearity == "relu"


def test_conversion_errors():
    with pytest.raises(ValueError, match=r"proj_size=2 has no rnnkit equivalent"):
        rn.from_torch(nn.LSTM(3, 4, proj_size=2))
    with pytest.raises(TypeError, match=r"from_torch expects torch.nn.RNN, LSTM or GRU, got Linear"):
        rn.from_torch(nn.Linear(3, 4))
    with pytest.raises(ValueError, match=r"to_torch: cell 'gru' with .*gru_variant='paper'.* no torch.nn equivalent"):
        rn.GRU(3, 4, variant="paper").to_torch()


def test_supports():
    assert fused.supports("lstm", CellOptions())
    assert fused.supports("rnn", CellOptions(nonlinearity="relu"))
    assert fused.supports("gru", CellOptions())
    assert not fused.supports("gru", CellOptions(gru_variant="paper"))
    assert not fused.supports("mingru", CellOptions())
    assert not fused.supports("lstm", CellOptions(), x=torch.zeros(1, 1, 1, dtype=torch.int64))
