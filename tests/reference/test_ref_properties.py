"""Property tests of the runner's shape logic over random N, T, D, H, layers, directions and lengths."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit import registry
from rnnkit.layout import layout
from rnnkit.reference import sequence
from rnnkit.reference.gradcheck import stacked_params


@st.composite
def configs(draw):
    cell = draw(st.sampled_from(registry.cell_names("reference")))
    N, T = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    D, H = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    L, bi = draw(st.integers(1, 2)), draw(st.booleans())
    lengths = draw(st.none() | st.lists(st.integers(1, T), min_size=N, max_size=N))
    seed = draw(st.integers(0, 2**16))
    return cell, N, T, D, H, L, bi, lengths, seed


@settings(max_examples=40, deadline=None)
@given(configs())
def test_shapes_masks_and_gradient_shapes(cfg):
    cell, N, T, D, H, L, bi, lengths, seed = cfg
    rng = np.random.default_rng(seed)
    dirs = 2 if bi else 1
    params = stacked_params(cell, D, H, num_layers=L, bidirectional=bi, rng=rng)
    x = rng.standard_normal((N, T, D))
    kw = dict(cell=cell, num_layers=L, bidirectional=bi, lengths=lengths)
    out, final, cache = sequence.forward(params, x, **kw)
    S = len(layout(cell).state)
    assert out.shape == (N, T, dirs * H)
    assert len(final) == S and all(f.shape == (L * dirs, N, H) for f in final)
    assert np.all(np.isfinite(out))
    if lengths is not None:
        for n, T_n in enumerate(lengths):
            assert np.all(out[n, T_n:] == 0.0)
            # the forward direction's final h is its output at the last real step
            np.testing.assert_array_equal(final[0][(L - 1) * dirs, n], out[n, T_n - 1, :H])
    else:
        np.testing.assert_array_equal(final[0][(L - 1) * dirs], out[:, -1, :H])
    if bi:  # the backward direction's final h is its output at t = 0
        np.testing.assert_array_equal(final[0][(L - 1) * dirs + 1], out[:, 0, H:])
    dx, ds0, dp = sequence.backward(rng.standard_normal(out.shape), None, cache)
    assert dx.shape == x.shape
    assert len(ds0) == S and all(s.shape == (L * dirs, N, H) for s in ds0)
    assert dp.keys() == params.keys() and all(dp[k].shape == params[k].shape for k in params)
    if lengths is not None:
        for n, T_n in enumerate(lengths):
            assert np.all(dx[n, T_n:] == 0.0)


@settings(max_examples=30, deadline=None)
@given(T=st.integers(1, 30), k1=st.integers(1, 8), extra=st.integers(0, 5))
def test_tbptt_windows_cover_every_step_once(T, k1, extra):
    k2 = k1 + extra
    windows = sequence.tbptt_windows(T, k1, k2)
    starts = [s for _, s, _ in windows]
    assert starts == list(range(0, T, k1))
    assert windows[-1][2] == T
    for w, s, e in windows:
        assert 0 <= w <= s < e <= T and e - s <= k1 and s - w == min(s, k2 - k1)
    assert sum(e - s for _, s, e in windows) == T  # each step's loss is used exactly once
