"""Registry conformance: every registered nn cell, including cells added later, passes the same checks.

Shapes, finite outputs, every parameter gets a gradient, save -> load through safetensors is exact, the
parameters are named and shaped by the layout, and a golden number pins the classic cells' math.
"""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file, save_file

from rnnkit import registry
from rnnkit.layout import layout
from rnnkit.nn.sequence import Recurrent

NN_CELLS = registry.cell_names("nn")


def test_classic_cells_registered():
    assert {"rnn", "lstm", "gru"} <= set(NN_CELLS)


@pytest.mark.parametrize("cell", NN_CELLS)
def test_cell_parameters_follow_the_layout(cell):
    cls = registry.get_cell(cell, engine="nn")
    for bias in (True, False):
        c = cls(3, 5, bias=bias)
        shapes = layout(cell).param_shapes(3, 5, bias=bias)
        assert list(c.params()) == list(shapes)
        assert {k: tuple(v.shape) for k, v in c.params().items()} == shapes
        assert [n for n, _ in c.named_parameters()] == list(shapes)
        # U(-1/sqrt(H), 1/sqrt(H)) like torch.nn (gains / shifts excepted)
        for name, p in c.params().items():
            if not name.endswith(("_gain", "_shift")):
                assert p.abs().max() <= 1 / math.sqrt(5)


@pytest.mark.parametrize("cell", NN_CELLS)
@pytest.mark.parametrize("lengths", [None, [4, 1, 3]])
def test_shapes_finite_and_every_parameter_gets_a_gradient(cell, lengths):
    torch.manual_seed(0)
    m = Recurrent(cell, 3, 5, num_layers=2, bidirectional=True, impl="loop")
    x = torch.randn(3, 4, 3)
    out, state = m(x, lengths=lengths)
    assert out.shape == (3, 4, 10)
    assert len(state) == len(layout(cell).state)
    assert all(s.shape == (4, 3, 5) for s in state)
    assert torch.isfinite(out).all() and all(torch.isfinite(s).all() for s in state)
    (out.square().sum() + sum(s.square().sum() for s in state)).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, f"{name} got a zero or non-finite gradient"


@pytest.mark.parametrize("cell", NN_CELLS)
def test_save_load_through_safetensors_is_exact(cell, tmp_path):
    torch.manual_seed(0)
    m = Recurrent(cell, 3, 5, num_layers=2, bidirectional=True)
    path = tmp_path / "model.safetensors"
    save_file(m.state_dict(), path)
    torch.manual_seed(1)
    m2 = Recurrent(cell, 3, 5, num_layers=2, bidirectional=True)
    m2.load_state_dict(load_file(path))
    x = torch.randn(2, 4, 3)
    a, sa = m(x)
    b, sb = m2(x)
    assert torch.equal(a, b) and all(torch.equal(s, t) for s, t in zip(sa, sb))
    assert all(k.startswith("layers.") for k in m.state_dict())


def _constant(m: Recurrent, value: float) -> None:
    with torch.no_grad():
        for p in m.parameters():
            p.fill_(value)


# Golden numbers: D = H = 1, every weight and bias 0.5, x = 1, zero state, one step. Produced by hand from
# the equations (so a silent change of gate order, bias layout or GRU variant shows up):
#   every pre-activation a = 0.5*1 + 0.5 + 0.5*0 + 0.5 = 1.5
#   RNN:  h = tanh(1.5)
#   LSTM: c = σ(1.5) tanh(1.5);  h = σ(1.5) tanh(c)
#   GRU (torch): r = z = σ(1.5); n = tanh(0.5 + 0.5 + r*(0.5*0 + 0.5)); h = (1 - z) n
#   GRU (paper): n = tanh(0.5 + 0.5 + 0.5*(r*0) + 0.5) = tanh(1.5); h = (1 - z) n
def _sig(v: float) -> float:
    return 1 / (1 + math.exp(-v))


GOLDEN = {
    ("rnn", "torch"): math.tanh(1.5),
    ("lstm", "torch"): _sig(1.5) * math.tanh(_sig(1.5) * math.tanh(1.5)),
    ("gru", "torch"): (1 - _sig(1.5)) * math.tanh(1.0 + 0.5 * _sig(1.5)),
    ("gru", "paper"): (1 - _sig(1.5)) * math.tanh(1.5),
}


@pytest.mark.parametrize(
    ("cell", "variant", "impl"),
    [(c, v, i) for (c, v) in GOLDEN for i in ("loop", "fused") if not (i == "fused" and v == "paper")],
)
def test_golden_one_step(cell, variant, impl):
    from rnnkit.layout import CellOptions

    m = Recurrent(cell, 1, 1, options=CellOptions(gru_variant=variant), impl=impl).double()
    _constant(m, 0.5)
    out, _ = m(torch.ones(1, 1, 1, dtype=torch.float64))
    assert out.item() == pytest.approx(GOLDEN[(cell, variant)], rel=1e-14)  # float64, a few ops
