"""Recurrent runner: shapes, state conventions, lengths (property tests), dropout / DropConnect, impl choice."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnkit.nn as rn
from rnnkit import registry
from rnnkit.layout import CellOptions
from rnnkit.nn.sequence import Recurrent, _auto_impl

HAS_BPTT = importlib.util.find_spec("rnnkit.nn.bptt") is not None
IMPLS = ["loop", "fused"] + (["bptt"] if HAS_BPTT else [])
CLASSIC = [
    ("rnn", CellOptions()),
    ("rnn", CellOptions(nonlinearity="relu")),
    ("lstm", CellOptions()),
    ("gru", CellOptions()),
    ("gru", CellOptions(gru_variant="paper")),
]


def _supported(m: Recurrent, impl: str, x: torch.Tensor) -> bool:
    try:
        m.impl = impl
        m.resolve_impl(x)
        return True
    except ValueError:
        return False


def _model(cell, options, *, layers=1, bidirectional=False, seed=0, **kw) -> Recurrent:
    torch.manual_seed(seed)
    return Recurrent(cell, 3, 4, num_layers=layers, bidirectional=bidirectional, options=options, **kw).double()


# ---- lengths: a padded batch == each sequence alone ------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    data=st.data(),
    case=st.sampled_from(CLASSIC),
    impl=st.sampled_from(IMPLS),
    bidirectional=st.booleans(),
    layers=st.integers(1, 2),
)
def test_padded_batch_equals_each_sequence_alone(data, case, impl, bidirectional, layers):
    cell, options = case
    N = data.draw(st.integers(1, 4), label="N")
    T = data.draw(st.integers(1, 6), label="T")
    lengths = data.draw(st.lists(st.integers(1, T), min_size=N, max_size=N), label="lengths")
    m = _model(cell, options, layers=layers, bidirectional=bidirectional)
    x = torch.randn(N, T, 3, dtype=torch.float64)
    if not _supported(m, impl, x):
        return
    L = layers * m.dirs
    state0 = tuple(torch.randn(L, N, 4, dtype=torch.float64) for _ in m.layout.state)
    out, final = m(x, state0, torch.tensor(lengths))
    assert out.shape == (N, T, m.dirs * 4)
    for n, len_n in enumerate(lengths):
        alone, fin_alone = m(x[n : n + 1, :len_n], tuple(s[:, n : n + 1] for s in state0))
        # float64; the padded and unpadded runs do the same arithmetic up to summation order
        torch.testing.assert_close(out[n : n + 1, :len_n], alone, rtol=1e-12, atol=1e-12)
        for s, s_alone in zip(final, fin_alone, strict=True):
            torch.testing.assert_close(s[:, n : n + 1], s_alone, rtol=1e-12, atol=1e-12)
        assert torch.all(out[n, len_n:] == 0), "positions past the length must output exactly zero"


@settings(max_examples=20, deadline=None)
@given(N=st.integers(1, 4), T=st.integers(1, 6), case=st.sampled_from(CLASSIC), impl=st.sampled_from(IMPLS))
def test_full_lengths_equal_no_lengths(N, T, case, impl):
    m = _model(*case, bidirectional=True)
    x = torch.randn(N, T, 3, dtype=torch.float64)
    if not _supported(m, impl, x):
        return
    a, sa = m(x)
    b, sb = m(x, lengths=[T] * N)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)  # float64, same arithmetic
    for s, t in zip(sa, sb, strict=True):
        torch.testing.assert_close(s, t, rtol=1e-12, atol=1e-12)


def test_gradient_does_not_leak_through_padding():
    """Changing the padded part of x changes neither outputs nor gradients of the real part."""
    m = _model("lstm", CellOptions(), bidirectional=True)
    m.impl = "loop"
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    out, (h, c) = m(x, lengths=[5, 2])
    (out.sum() + h.sum() + c.sum()).backward()
    assert torch.all(x.grad[1, 2:] == 0), "padded inputs must get zero gradient"


# ---- state and shapes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLS)
def test_state_carry_equals_one_long_run(impl):
    """Running T steps then T more from the final state equals one run of 2T steps (forward direction)."""
    m = _model("gru", CellOptions(), layers=2)
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    if not _supported(m, impl, x):
        pytest.skip(f"{impl} does not support gru")
    full, s_full = m(x)
    a, s_a = m(x[:, :3])
    b, s_b = m(x[:, 3:], s_a)
    torch.testing.assert_close(torch.cat([a, b], 1), full, rtol=1e-12, atol=1e-12)  # float64, same steps
    torch.testing.assert_close(s_b[0], s_full[0], rtol=1e-12, atol=1e-12)


def test_public_classes_follow_torch_state_convention():
    x = torch.randn(2, 5, 3)
    out, (h, c) = rn.LSTM(3, 4, num_layers=2, bidirectional=True)(x)
    assert out.shape == (2, 5, 8) and h.shape == c.shape == (4, 2, 4)
    out, h = rn.GRU(3, 4)(x, torch.zeros(1, 2, 4))
    assert isinstance(h, torch.Tensor) and h.shape == (1, 2, 4)
    out, h = rn.RNN(3, 4, nonlinearity="relu")(x)
    assert torch.all(out >= 0), "relu RNN outputs are non-negative"
    assert rn.GRU(3, 4, variant="paper").options.gru_variant == "paper"
    assert float(rn.LSTM(3, 4, forget_bias=1.0).layers[0]["fwd"].b_ih[4:8].detach().min()) > 0.4  # U(-.5,.5)+1
    assert rn.public_class("lstm") is rn.LSTM


@pytest.mark.parametrize("cell", registry.cell_names("nn"))
def test_every_registered_cell_has_a_public_class(cell):
    cls = rn.public_class(cell)
    assert cls is rn.public_class(cell) and cls.cell_name == cell
    out, state = cls(3, 4, num_layers=2)(torch.randn(2, 5, 3))
    assert out.shape == (2, 5, 4)
    n_state = len(registry.get_cell(cell, engine="nn").layout.state)
    assert (isinstance(state, torch.Tensor) and n_state == 1) or len(state) == n_state


def test_single_step_cell_equals_recur_of_projection():
    cell = rn.LSTM(3, 4).layers[0]["fwd"]
    x, s = torch.randn(2, 3), cell.init_state(2)
    a = cell(x, s)
    b = cell.recur(cell.project_input(x), s)
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(u, v, rtol=0, atol=0)  # same ops in the same order


# ---- dropout and DropConnect ------------------------------------------------------------------------------


def test_weight_drop_same_mask_on_every_impl_and_off_in_eval():
    m = _model("lstm", CellOptions(), layers=2, weight_drop=0.5).train()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    outs = {}
    for impl in IMPLS:
        if _supported(m, impl, x):
            torch.manual_seed(7)  # the DropConnect mask is drawn once per forward, before the impl runs
            outs[impl] = m(x)[0]
    for impl, o in outs.items():
        torch.testing.assert_close(o, outs["loop"], rtol=1e-12, atol=1e-12, msg=f"{impl} vs loop")
    plain = _model("lstm", CellOptions(), layers=2).eval()
    m.eval()
    m.impl = plain.impl = "loop"  # the same impl on both sides, so equality can be exact
    torch.testing.assert_close(m(x)[0], plain(x)[0], rtol=0, atol=0)  # eval: no DropConnect at all
    m.train()
    assert not torch.allclose(m(x)[0], plain(x)[0]), "training mode must drop recurrent weights"


def test_weight_drop_gradient_reaches_raw_weights_with_mask():
    m = _model("gru", CellOptions(), weight_drop=0.5).train()
    m.impl = "loop"
    m(torch.randn(2, 4, 3, dtype=torch.float64))[0].sum().backward()
    g = m.layers[0]["fwd"].W_hh.grad
    assert g is not None and (g == 0).any() and (g != 0).any(), "dropped entries get zero gradient, others not"


def test_interlayer_dropout_only_in_training():
    m = _model("rnn", CellOptions(), layers=2, dropout=0.5)
    plain = _model("rnn", CellOptions(), layers=2)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    m.eval()
    torch.testing.assert_close(m(x)[0], plain(x)[0], rtol=0, atol=0)
    m.train()
    assert not torch.allclose(m(x)[0], plain(x)[0])


# ---- implementation choice ------------------------------------------------------------------------------------


def test_auto_impl_policy():
    x = torch.randn(2, 3, 3)
    assert _auto_impl("lstm", CellOptions(), x) == "fused"
    assert _auto_impl("gru", CellOptions(gru_variant="paper"), x) in ("bptt", "loop")
    assert _auto_impl("gru", CellOptions(), x) in ("bptt", "fused")


def test_auto_uses_the_loop_for_one_step_lstm():
    """Generation calls T=1: oneDNN's per-call setup dwarfs one step (PERF-NOTES), so auto runs the loop."""
    assert _auto_impl("lstm", CellOptions(), torch.randn(1, 1, 3)) == "loop"
    assert _auto_impl("lstm", CellOptions(), torch.randn(1, 2, 3)) == "fused"


def test_fused_rejects_paper_gru():
    m = Recurrent("gru", 3, 4, options=CellOptions(gru_variant="paper"), impl="fused")
    with pytest.raises(ValueError, match=r"impl='fused' does not support cell 'gru'"):
        m(torch.randn(1, 2, 3))


@pytest.mark.skipif(HAS_BPTT, reason="bptt.py exists")
def test_bptt_missing_is_a_clear_error():
    with pytest.raises(ValueError, match=r"impl='bptt' is not available"):
        Recurrent("lstm", 3, 4, impl="bptt")(torch.randn(1, 2, 3))
