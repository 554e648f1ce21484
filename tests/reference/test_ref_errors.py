"""Bad input is refused at the runner's boundary with a message that says what, where and what to do."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.layout import CellOptions
from rnnkit.reference import sequence
from rnnkit.reference.gradcheck import stacked_params


@pytest.fixture
def lstm():
    params = stacked_params("lstm", 3, 4, num_layers=2, rng=np.random.default_rng(0))
    x = np.zeros((2, 5, 3))  # (N, T, D)
    return params, x


def run(params, x, state0=None, **kw):
    kw = {"cell": "lstm", "num_layers": 2, **kw}
    return sequence.forward(params, x, state0, **kw)


def test_wrong_rank(lstm):
    params, x = lstm
    with pytest.raises(ValueError, match=r"x must be \(N, T, D\) \(batch first\), got shape \(5, 3\) with 2 dims"):
        run(params, x[0])


def test_wrong_feature_size(lstm):
    params, _ = lstm
    with pytest.raises(ValueError, match=r"x has D=7 features per step but layers.0.fwd.W_ih expects 3"):
        run(params, np.zeros((2, 5, 7)))


def test_empty_sequence(lstm):
    params, _ = lstm
    with pytest.raises(ValueError, match=r"x has T=0 time steps"):
        run(params, np.zeros((2, 0, 3)))


def test_mismatched_state_shape(lstm):
    params, x = lstm
    h = np.zeros((1, 2, 4))  # one layer's worth, the net has two
    with pytest.raises(ValueError, match=r"state0\[0\] \('h'\) has shape \(1, 2, 4\), expected .* = \(2, 2, 4\)"):
        run(params, x, (h, np.zeros((2, 2, 4))))


def test_wrong_number_of_state_tensors(lstm):
    params, x = lstm
    with pytest.raises(ValueError, match=r"cell 'lstm' has state \('h', 'c'\) \(2 tensors\), got 1"):
        run(params, x, (np.zeros((2, 2, 4)),))


@pytest.mark.parametrize(
    ("lengths", "msg"),
    [
        ([5, 0], r"lengths\[1\] = 0 is out of range"),
        ([6, 2], r"lengths\[0\] = 6 is out of range: .* \[1, T=5\]"),
        ([-1, 2], r"lengths\[0\] = -1 is out of range"),
    ],
)
def test_lengths_out_of_range(lstm, lengths, msg):
    params, x = lstm
    with pytest.raises(ValueError, match=msg):
        run(params, x, lengths=lengths)


def test_lengths_wrong_shape_and_dtype(lstm):
    params, x = lstm
    with pytest.raises(ValueError, match=r"lengths must have shape \(N,\) = \(2,\), got \(3,\)"):
        run(params, x, lengths=[5, 4, 3])
    with pytest.raises(ValueError, match=r"lengths must be integers, got dtype float64"):
        run(params, x, lengths=[5.0, 4.0])


def test_params_for_another_configuration(lstm):
    params, x = lstm
    with pytest.raises(ValueError, match=r"params is missing \['layers.0.bwd.W_ih'.*bidirectional=True"):
        run(params, x, bidirectional=True)
    with pytest.raises(ValueError, match=r"unexpected entries \['layers.1.fwd.W_hh'.*num_layers=1"):
        run(params, x, num_layers=1)
    with pytest.raises(ValueError, match=r"unexpected entries .*b_hh.*bias=False"):
        run(params, x, bias=False)
    with pytest.raises(ValueError, match=r"params has no 'layers.0.fwd.W_ih': pass stacked parameter names"):
        run({"W_ih": params["layers.0.fwd.W_ih"]}, x)


def test_wrong_parameter_shape(lstm):
    params, x = lstm
    params = dict(params, **{"layers.1.fwd.W_hh": np.zeros((16, 5))})
    with pytest.raises(ValueError, match=r"layers.1.fwd.W_hh has shape \(16, 5\), expected \(16, 4\)"):
        run(params, x)


def test_unknown_cell_and_bad_options(lstm):
    params, x = lstm
    with pytest.raises(ValueError, match=r"unknown cell 'lstmm'"):
        sequence.forward(params, x, cell="lstmm")
    with pytest.raises(TypeError, match=r"options must be a rnnkit.layout.CellOptions, got dict"):
        run(params, x, options={"nonlinearity": "relu"})
    with pytest.raises(ValueError, match=r"nonlinearity must be 'tanh' or 'relu'"):
        CellOptions(nonlinearity="sigmoid")


def test_dropout_masks_shape(lstm):
    params, x = lstm
    with pytest.raises(ValueError, match=r"dropout_masks must be num_layers - 1 = 1 arrays of shape"):
        run(params, x, dropout_masks=[np.ones((2, 5, 3))])


def test_backward_gradient_shapes(lstm):
    params, x = lstm
    out, _, cache = run(params, x)
    with pytest.raises(ValueError, match=r"dout has shape \(2, 5, 3\), expected the output's shape"):
        sequence.backward(np.zeros((2, 5, 3)), None, cache)
    with pytest.raises(ValueError, match=r"dfinal_state must have 2 entries"):
        sequence.backward(np.zeros_like(out), (np.zeros((2, 2, 4)),), cache)
