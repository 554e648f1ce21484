"""Bad input is reported at forward entry, saying what, where and what to do."""

from __future__ import annotations

import pytest
import torch

import rnnkit.nn as rn
from rnnkit.layout import CellOptions
from rnnkit.nn.sequence import Recurrent


@pytest.fixture
def lstm() -> rn.LSTM:
    return rn.LSTM(3, 4, num_layers=2)


def test_wrong_rank(lstm):
    with pytest.raises(ValueError, match=r"LSTM\(lstm\)\.forward: input must be a batch-first \(N, T, D\).*unsqueeze"):
        lstm(torch.randn(5, 3))


def test_wrong_feature_size(lstm):
    with pytest.raises(ValueError, match=r"input has D=7 features per step but input_size=3"):
        lstm(torch.randn(2, 5, 7))


def test_empty_sequence(lstm):
    with pytest.raises(ValueError, match=r"T=0 time steps"):
        lstm(torch.randn(2, 0, 3))


def test_empty_batch(lstm):
    with pytest.raises(ValueError, match=r"empty batch \(N=0\)"):
        lstm(torch.randn(0, 4, 3))


def test_state_shape_mismatch(lstm):
    h = torch.zeros(1, 2, 4)  # one layer's worth for a two-layer stack
    with pytest.raises(ValueError, match=r"state h has shape \(1, 2, 4\), expected \(L\*dirs, N, H\) = \(2, 2, 4\)"):
        lstm(torch.randn(2, 5, 3), (h, h))


def test_state_count_mismatch(lstm):
    with pytest.raises(ValueError, match=r"state must be a tuple of 2 tensor\(s\) \(h, c\)"):
        lstm(torch.randn(2, 5, 3), torch.zeros(2, 2, 4))


@pytest.mark.parametrize("bad", [[5, 0], [6, 2], [-1, 3]])
def test_lengths_out_of_range(lstm, bad):
    with pytest.raises(ValueError, match=r"lengths\[\d\]=-?\d is out of range; every length must be in \[1, T=5\]"):
        lstm(torch.randn(2, 5, 3), lengths=torch.tensor(bad))


def test_lengths_wrong_shape_or_dtype(lstm):
    with pytest.raises(ValueError, match=r"lengths must be an integer tensor of shape \(N,\) = \(2,\)"):
        lstm(torch.randn(2, 5, 3), lengths=torch.tensor([5, 5, 5]))
    with pytest.raises(ValueError, match=r"lengths must be an integer tensor"):
        lstm(torch.randn(2, 5, 3), lengths=torch.tensor([5.0, 2.0]))


def test_dtype_mismatch(lstm):
    with pytest.raises(ValueError, match=r"input is torch.float64 on cpu but the parameters are torch.float32 on cpu"):
        lstm(torch.randn(2, 5, 3, dtype=torch.float64))


def test_constructor_errors():
    with pytest.raises(ValueError, match=r"impl must be one of"):
        Recurrent("lstm", 3, 4, impl="fast")
    with pytest.raises(ValueError, match=r"unknown cell 'lstn'"):
        Recurrent("lstn", 3, 4)
    with pytest.raises(ValueError, match=r"num_layers must be >= 1"):
        rn.GRU(3, 4, num_layers=0)
    with pytest.raises(ValueError, match=r"dropout and weight_drop must be in \[0, 1\)"):
        rn.GRU(3, 4, dropout=1.0)
    with pytest.raises(ValueError, match=r"LSTM has fixed sigmoid/tanh activations"):
        rn.LSTM(3, 4, nonlinearity="relu")
    with pytest.raises(ValueError, match=r"GRU: variant='paper' conflicts with options.gru_variant"):
        rn.GRU(3, 4, variant="paper", options=CellOptions())
    with pytest.raises(ValueError, match=r"LSTM: give forget_bias or options"):
        rn.LSTM(3, 4, forget_bias=1.0, options=CellOptions())
    with pytest.raises(ValueError, match=r"unknown cell 'nope' for engine 'nn'"):
        rn.public_class("nope")
    with pytest.raises(ValueError, match=r"input_size and hidden_size must be positive"):
        rn.RNN(0, 4)
