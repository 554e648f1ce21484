"""explain.gradients: the measured profile is the theory's product of Jacobians, and the LSTM keeps it longer."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.explain.gradients import (
    decay_rate,
    fresh_inputs,
    fresh_profiles,
    plot_profiles,
    profiles_table,
    reference_profile,
    spectral_radii,
    trained_profile,
)
from rnnkit.explain.trace import backward_steps, run_steps
from rnnkit.layout import init_params
from rnnkit.reference import losses


def _small_rnn(H: int, D: int, s: float, seed: int) -> dict[str, np.ndarray]:
    """A tanh RNN with W_hh = s Q (Q orthogonal: every singular value is s) and zero biases."""
    rng = np.random.default_rng(seed)
    p = init_params("rnn", D, H, rng=rng)
    Q, _ = np.linalg.qr(rng.standard_normal((H, H)))
    p["W_hh"] = s * Q
    p["W_ih"] = 0.05 * p["W_ih"]  # small inputs keep h small, so f'(a) = 1 - h² stays near 1
    p["b_ih"][:] = 0.0
    p["b_hh"][:] = 0.0
    return p


def test_rnn_profile_is_the_product_of_jacobians():
    """||dL/dh_{T-1-k}|| = ||g Π_j diag(1 - h_j²) W_hh|| (Pascanu et al. 2013 eq. 5), computed directly."""
    H, D, T, s = 8, 3, 25, 0.5
    p = _small_rnn(H, D, s, seed=0)
    data = fresh_inputs(batches=2, batch=3, steps=T, input_size=D, hidden_size=H, seed=0)
    prof = reference_profile("rnn", p, data)
    expected = np.zeros(T)
    for x, y in data:
        states, _ = run_steps("rnn", p, x)
        _, lc = losses.mse(states[-1][0], y)
        g = losses.mse_backward(lc)  # (N, H) dL/dh_{T-1}
        for n in range(x.shape[0]):
            v = g[n]
            for k in range(T):
                expected[k] += np.linalg.norm(v)
                h = states[T - 1 - k][0][n]
                J = np.diag(1 - h**2) @ p["W_hh"]  # ∂h_t/∂h_{t-1}, (H, H)
                v = v @ J  # row vector: dL/dh_{t-1} = dL/dh_t J_t
    expected /= 6
    # the same float64 products in a different association order: relative 1e-10 is ample
    np.testing.assert_allclose(prof.dh_norm, expected, rtol=1e-10)


def test_rnn_decays_geometrically_at_the_rate_theory_predicts():
    """With W_hh = s Q every step scales the gradient by at most s (||diag(f') Q|| <= 1) and, with h ≈ 0, by
    almost exactly s: the fitted rate must sit in [s * min(1 - h²), s]."""
    H, D, T, s = 16, 4, 30, 0.6
    p = _small_rnn(H, D, s, seed=1)
    data = fresh_inputs(batches=1, batch=4, steps=T, input_size=D, hidden_size=H, seed=1)
    prof = reference_profile("rnn", p, data)
    states, _ = run_steps("rnn", p, data[0][0])
    hmax = max(float(np.max(np.abs(st[0]))) for st in states)
    lo = s * (1 - hmax**2)
    ratios = np.asarray(prof.dh_norm[1:]) / np.asarray(prof.dh_norm[:-1])
    assert np.all(ratios <= s * (1 + 1e-12)), ratios.max()  # the upper bound is strict theory (round-off only)
    assert np.all(ratios >= lo * (1 - 1e-12)), ratios.min()
    assert lo <= prof.decay_rate <= s
    assert prof.decay_rate == pytest.approx(s, rel=0.02)  # h stays below ~0.1 here, so 1 - h² > 0.98
    assert prof.spectral_radius == {"h": pytest.approx(s, rel=1e-12)}  # eigenvalues of s Q have modulus s


@pytest.mark.parametrize("seed", [0, 1])
def test_lstm_with_forget_bias_decays_more_slowly_than_rnn(seed):
    rnn, lstm = fresh_profiles(
        ["rnn", "lstm"], hidden_size=32, input_size=8, steps=40, batch=8, batches=1, seed=seed, forget_bias=1.0
    )
    assert lstm.label == "lstm (forget bias 1)"
    assert lstm.decay_rate > rnn.decay_rate + 0.1  # measured ~0.80 vs ~0.53 per step at seed 0
    rel = lambda p: p.dh_norm[-1] / p.dh_norm[0]  # noqa: E731
    assert rel(lstm) > 1e3 * rel(rnn)
    assert lstm.dc_norm is not None and rnn.dc_norm is None


def test_clipping_effect_on_exploding_gradients():
    (big,) = fresh_profiles(["rnn"], steps=30, batch=4, batches=2, recurrent_scale=4.0, clip=1.0)
    assert big.decay_rate > 1.0  # exploding: the gradient grows with distance
    assert big.grad_norm > 10.0 and big.clipped_fraction == 1.0
    assert big.clipped_norm == pytest.approx(1.0, abs=1e-5)  # clip_grad_norm leaves max_norm (1e-6 epsilon)
    (small,) = fresh_profiles(["rnn"], steps=30, batch=4, batches=2, recurrent_scale=0.5, clip=100.0)
    assert small.clipped_fraction == 0.0 and small.clipped_norm == small.grad_norm


def test_decay_rate_and_spectral_radius_helpers():
    assert decay_rate([8.0, 4.0, 2.0, 1.0]) == pytest.approx(0.5)
    assert np.isnan(decay_rate([1.0]))
    W = np.zeros((8, 2))  # lstm, H=2: blocks i, f, g, o
    W[2:4] = [[0.0, 2.0], [-2.0, 0.0]]  # f block: a rotation scaled by 2 -> eigenvalues ±2i
    r = spectral_radii("lstm", W)
    assert r["f"] == pytest.approx(2.0) and r["i"] == 0.0 and list(r) == ["i", "f", "g", "o"]
    assert spectral_radii("mingru", np.zeros((4, 2))) == {}


def test_trained_profile_matches_the_reference_engine(lm_run):
    """The torch path (nn cells unrolled with retain_grad) against the reference engine on the same weights."""
    import torch

    from rnnkit.tasks.lm.task import LanguageModel

    warmup, T, N = 6, 15, 3
    lm = LanguageModel.load(lm_run)
    ids = np.asarray(lm.data().valid)
    win = np.stack([ids[s : s + warmup + T + 1] for s in (0, 7, 19)])  # (N, warmup + T + 1)
    prof = trained_profile(lm_run, steps=T, warmup=warmup, windows=[win], clip=0.5)
    # reference: float64 weights, the model's embedding, the head as a plain matrix
    m = lm.model
    cell = m.rnn.layers[0]["fwd"]
    p = {k: v.detach().double().numpy() for k, v in cell.params().items()}
    with torch.no_grad():
        x = m.embed(torch.as_tensor(win)).double().numpy()  # (N, warmup + T + 1, E)
    warm, _ = run_steps("lstm", p, x[:, :warmup])
    states, caches = run_steps("lstm", p, x[:, warmup : warmup + T], warm[-1])
    W, b = m.head.weight.detach().double().numpy(), m.head.bias.detach().double().numpy()
    _, ce = losses.cross_entropy(states[-1][0] @ W.T + b, win[:, warmup + T])
    dout = np.zeros((N, T, p["W_hh"].shape[1]))
    dout[:, -1] = losses.cross_entropy_backward(ce) @ W  # dL/dh_{T-1}
    steps = backward_steps("lstm", caches, dout)
    dh = np.array([np.linalg.norm(s["dnew_state"]["h"], axis=1).mean() for s in steps])
    dx = np.array([np.linalg.norm(s["dx"], axis=1).mean() for s in steps])
    # torch runs in float32: ~1e-6 relative per op, a few hundred ops per step over 15 steps -> rtol 1e-3
    np.testing.assert_allclose(prof.dh_norm, dh, rtol=1e-3)
    np.testing.assert_allclose(prof.dx_norm, dx, rtol=1e-3)
    assert prof.sequences == N and prof.batches == 1 and prof.clip == 0.5
    assert set(prof.spectral_radius) == {"0.i", "0.f", "0.g", "0.o"}
    with pytest.raises(ValueError, match=r"windows must be token-id arrays \(N, warmup \+ steps \+ 1 = 22\)"):
        trained_profile(lm_run, steps=T, warmup=warmup, windows=[win[:, :5]])


def test_plot_and_table(tmp_path):
    ps = fresh_profiles(["rnn", "gru"], steps=12, batch=2, batches=1, hidden_size=8)
    out = plot_profiles(ps, tmp_path / "g.png", title="t")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size < 100_000
    t = profiles_table(ps)
    assert [c.header for c in t.columns][:4] == ["model", "k=0", "k=1", "k=5"] and t.row_count == 2


def test_text_inputs_are_one_hot_windows():
    from rnnkit.explain.gradients import text_inputs

    data, V = text_inputs("abcabcabd", batches=2, batch=3, steps=4, hidden_size=5, seed=0)
    assert V == 5 and len(data) == 2  # a, b, c, d and the vocabulary's <unk>
    x, y = data[0]
    assert x.shape == (3, 4, 5) and y.shape == (3, 5)
    np.testing.assert_array_equal(x.sum(-1), 1.0)  # exactly one character per step
