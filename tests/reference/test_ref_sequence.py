"""The reference runner's contracts: lengths, directions, stacking, dropout masks and truncated BPTT.

Each test ties the runner to a simpler computation it must equal (one sequence alone, a reversed input,
two one-layer runs chained, an unrolled loop); every cell in the registry is covered where it is cheap.
Tolerance 1e-12 where both sides do the same float64 operations in a different grouping.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import registry
from rnnkit.layout import layout, stacked_param_name
from rnnkit.reference import sequence
from rnnkit.reference.gradcheck import numerical_gradient, stacked_params

CELLS = registry.cell_names("reference")
TIGHT = dict(rtol=1e-12, atol=1e-12)  # same float64 math, different grouping


def problem(cell, *, N=3, T=5, D=2, H=3, L=1, bidirectional=False, seed=0):
    rng = np.random.default_rng(seed)
    params = stacked_params(cell, D, H, num_layers=L, bidirectional=bidirectional, rng=rng)
    dirs = 2 if bidirectional else 1
    x = rng.standard_normal((N, T, D))
    state0 = tuple(0.5 * rng.standard_normal((L * dirs, N, H)) for _ in layout(cell).state)
    return params, x, state0, rng


def _slice_state(state, n):
    return tuple(s[:, n : n + 1] for s in state)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("cell", CELLS)
def test_padded_batch_equals_each_sequence_alone(cell, bidirectional):
    """Outputs, final states and every gradient of a padded batch == running each sequence unpadded."""
    params, x, state0, rng = problem(cell, L=2, bidirectional=bidirectional)
    lengths = np.array([5, 2, 4])
    kw = dict(cell=cell, num_layers=2, bidirectional=bidirectional)
    out, final, cache = sequence.forward(params, x, state0, lengths=lengths, **kw)
    dout = rng.standard_normal(out.shape)
    dfinal = tuple(rng.standard_normal(s.shape) for s in final)
    dx, ds0, dp = sequence.backward(dout, dfinal, cache)
    total = {k: np.zeros_like(v) for k, v in dp.items()}
    for n, T_n in enumerate(lengths):
        o, f, c = sequence.forward(params, x[n : n + 1, :T_n], _slice_state(state0, n), **kw)
        np.testing.assert_allclose(out[n, :T_n], o[0], **TIGHT)
        assert np.all(out[n, T_n:] == 0.0), "positions t >= length must be exactly zero"
        for a, b in zip(final, f, strict=True):
            np.testing.assert_allclose(a[:, n], b[:, 0], **TIGHT)
        g_x, g_s, g_p = sequence.backward(dout[n : n + 1, :T_n], _slice_state(dfinal, n), c)
        np.testing.assert_allclose(dx[n, :T_n], g_x[0], **TIGHT)
        assert np.all(dx[n, T_n:] == 0.0), "padding must get no gradient"
        for a, b in zip(ds0, g_s, strict=True):
            np.testing.assert_allclose(a[:, n], b[:, 0], **TIGHT)
        for k in total:
            total[k] += g_p[k]
    for k in total:
        np.testing.assert_allclose(dp[k], total[k], **TIGHT, err_msg=k)


@pytest.mark.parametrize("cell", CELLS)
def test_backward_direction_is_the_forward_cell_on_the_reversed_sequence(cell):
    """The bwd half of a bidirectional layer == a unidirectional run on x reversed within each length."""
    params, x, state0, _ = problem(cell, bidirectional=True)
    lengths = np.array([5, 3, 1])
    out, final, _ = sequence.forward(params, x, state0, cell=cell, bidirectional=True, lengths=lengths)
    H = out.shape[2] // 2
    bwd = {k.replace(".bwd.", ".fwd."): v for k, v in params.items() if ".bwd." in k}
    for n, T_n in enumerate(lengths):
        x_rev = x[n : n + 1, :T_n][:, ::-1]
        s = tuple(st[1:2, n : n + 1] for st in state0)
        o, f, _ = sequence.forward(bwd, x_rev, s, cell=cell)
        np.testing.assert_allclose(out[n, :T_n, H:], o[0, ::-1], **TIGHT)
        for a, b in zip(final, f, strict=True):
            np.testing.assert_allclose(a[1, n], b[0, 0], **TIGHT)


def test_two_layers_equal_two_chained_single_layers():
    cell = "lstm"
    params, x, state0, _ = problem(cell, L=2)
    out, final, _ = sequence.forward(params, x, state0, cell=cell, num_layers=2)
    p0 = {k: v for k, v in params.items() if k.startswith("layers.0.")}
    p1 = {k.replace("layers.1.", "layers.0."): v for k, v in params.items() if k.startswith("layers.1.")}
    o0, f0, _ = sequence.forward(p0, x, tuple(s[:1] for s in state0), cell=cell)
    o1, f1, _ = sequence.forward(p1, o0, tuple(s[1:] for s in state0), cell=cell)
    np.testing.assert_allclose(out, o1, **TIGHT)
    for a, b0, b1 in zip(final, f0, f1, strict=True):
        np.testing.assert_allclose(a, np.concatenate([b0, b1]), **TIGHT)


def test_full_lengths_equal_no_lengths():
    params, x, state0, _ = problem("gru", bidirectional=True)
    a = sequence.forward(params, x, state0, cell="gru", bidirectional=True)
    b = sequence.forward(params, x, state0, cell="gru", bidirectional=True, lengths=[5, 5, 5])
    np.testing.assert_array_equal(a[0], b[0])


def test_dropout_masks_multiply_the_inter_layer_signal_and_their_gradient():
    cell = "gru"
    params, x, state0, rng = problem(cell, N=2, T=3, H=2, L=2, bidirectional=True)
    mask = [(rng.random((2, 3, 4)) > 0.5) / 0.5]  # keep probability 0.5, scaled by 1/(1-p)
    kw = dict(cell=cell, num_layers=2, bidirectional=True, dropout_masks=mask)
    out, final, cache = sequence.forward(params, x, state0, **kw)
    # layer 1 sees mask * layer-0 output
    p0 = {k: v for k, v in params.items() if k.startswith("layers.0.")}
    p1 = {k.replace("layers.1.", "layers.0."): v for k, v in params.items() if k.startswith("layers.1.")}
    o0, _, _ = sequence.forward(p0, x, tuple(s[:2] for s in state0), cell=cell, bidirectional=True)
    o1, _, _ = sequence.forward(p1, o0 * mask[0], tuple(s[2:] for s in state0), cell=cell, bidirectional=True)
    np.testing.assert_allclose(out, o1, **TIGHT)
    # and the backward honours it: finite differences on x and a layer-0 weight
    R = rng.standard_normal(out.shape)
    dx, _, dp = sequence.backward(R, None, cache)

    def f():
        return float(np.sum(sequence.forward(params, x, state0, **kw)[0] * R))

    # 1e-7: central differences in float64 (eps 1e-6) agree to ~1e-9 relative; see gradcheck.py
    np.testing.assert_allclose(dx, numerical_gradient(f, x), rtol=1e-7, atol=1e-9)
    w = params["layers.0.bwd.W_hh"]
    np.testing.assert_allclose(dp["layers.0.bwd.W_hh"], numerical_gradient(f, w), rtol=1e-7, atol=1e-9)


def test_tbptt_windows():
    assert sequence.tbptt_windows(5, 2) == [(0, 0, 2), (2, 2, 4), (4, 4, 5)]
    assert sequence.tbptt_windows(5, 2, 3) == [(0, 0, 2), (1, 2, 4), (3, 4, 5)]
    assert sequence.tbptt_windows(4, 4) == [(0, 0, 4)]
    with pytest.raises(ValueError, match="1 <= k1 <= k2"):
        sequence.tbptt_windows(5, 3, 2)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_tbptt_carries_the_state_and_stops_the_gradient(cell):
    params, x, state0, rng = problem(cell, T=6, L=2)
    kw = dict(cell=cell, num_layers=2)
    out, final, cache = sequence.forward(params, x, state0, **kw)
    R = rng.standard_normal(out.shape)
    _, _, dp_full = sequence.backward(R, None, cache)

    # One chunk covering everything is full BPTT.
    o1, f1, chunks = sequence.tbptt_forward_backward(params, x, R, state0, k1=6, **kw)
    assert len(chunks) == 1
    np.testing.assert_allclose(o1, out, **TIGHT)
    for k in dp_full:
        np.testing.assert_allclose(chunks[0].dparams[k], dp_full[k], **TIGHT)

    # Chunks of 2: the forward is unchanged (state carried) ...
    o2, f2, chunks = sequence.tbptt_forward_backward(params, x, R, state0, k1=2, **kw)
    assert [(c.window_start, c.start, c.stop) for c in chunks] == [(0, 0, 2), (2, 2, 4), (4, 4, 6)]
    np.testing.assert_allclose(o2, out, **TIGHT)
    for a, b in zip(f2, final, strict=True):
        np.testing.assert_allclose(a, b, **TIGHT)
    np.testing.assert_allclose(chunks[1].state_in[0], sequence.forward(params, x[:, :2], state0, **kw)[1][0], **TIGHT)
    # ... but the gradient stops at chunk boundaries, so it differs from full BPTT ...
    summed = {k: sum(c.dparams[k] for c in chunks) for k in dp_full}
    assert max(np.max(np.abs(summed[k] - dp_full[k])) for k in dp_full) > 1e-6
    # ... and each chunk's gradient equals full BPTT of that chunk alone from its (constant) entering state.
    for c in chunks:
        _, _, cc = sequence.forward(params, x[:, c.start : c.stop], c.state_in, **kw)
        _, _, g = sequence.backward(R[:, c.start : c.stop], None, cc)
        for k in g:
            np.testing.assert_allclose(c.dparams[k], g[k], **TIGHT)


def test_tbptt_callable_dout_and_on_chunk_updates_params():
    params, x, state0, _ = problem("rnn", T=6)
    seen, calls = [], []

    def dout(out_chunk, start, stop):
        seen.append((out_chunk.shape[1], start, stop))
        return np.ones_like(out_chunk)

    def on_chunk(chunk):
        calls.append(chunk.start)
        for k, g in chunk.dparams.items():
            params[k] -= 0.1 * g  # an optimiser step in place: later chunks see it

    before = params["layers.0.fwd.W_hh"].copy()
    out, _, chunks = sequence.tbptt_forward_backward(params, x, dout, state0, cell="rnn", k1=4, on_chunk=on_chunk)
    assert seen == [(4, 0, 4), (2, 4, 6)] and calls == [0, 4] and out.shape == (3, 6, 3)
    assert not np.allclose(before, params["layers.0.fwd.W_hh"])


def test_tbptt_rejects_bidirectional_by_signature():
    params, x, _, _ = problem("rnn")
    with pytest.raises(TypeError):
        sequence.tbptt_forward_backward(params, x, np.zeros((3, 5, 3)), cell="rnn", k1=2, bidirectional=True)


def test_float32_in_float32_out():
    params, x, _, _ = problem("lstm")
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    out, final, cache = sequence.forward(p32, x.astype(np.float32), cell="lstm", lengths=[5, 3, 2])
    assert out.dtype == np.float32 and final[1].dtype == np.float32
    dx, _, dp = sequence.backward(np.ones_like(out), None, cache)
    assert dx.dtype == np.float32 and dp[stacked_param_name("W_hh", 0, False)].dtype == np.float32


def test_tbptt_with_lengths_matches_the_full_forward_and_gradchecks():
    """Sequences ending inside (or before) a chunk: the padded tail keeps the state, windows of length 0 too."""
    from rnnkit.reference.gradcheck import gradcheck_tbptt

    params, x, state0, rng = problem("gru", T=5, L=2)
    lengths = np.array([5, 1, 3])
    kw = dict(cell="gru", num_layers=2, lengths=lengths)
    out, final, _ = sequence.forward(params, x, state0, **kw)
    o, f, chunks = sequence.tbptt_forward_backward(params, x, rng.standard_normal(out.shape), state0, k1=2, **kw)
    np.testing.assert_allclose(o, out, **TIGHT)
    np.testing.assert_allclose(f[0], final[0], **TIGHT)
    assert np.all(chunks[1].dx[1] == 0.0)  # sequence 1 ended before chunk 1: nothing to backpropagate
    report = gradcheck_tbptt("gru", k1=2, k2=3, num_layers=2, batch=3, steps=5, lengths=[5, 1, 3], hidden_size=2)
    assert report.passed, str(report)
