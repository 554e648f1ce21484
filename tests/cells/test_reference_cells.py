"""Reference (NumPy) engine of every registered cell: hand-written BPTT against central differences in float64,
and the math the new cells promise (paper equations at a point, normalised minLSTM gates, IndRNN clamp)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.layout import CellOptions
from rnnkit.registry import get_cell
from tests.cells.helpers import CELLS, numeric_grad, setup, unroll, unroll_backward

# Central differences with eps=1e-6 in float64 are accurate to ~1e-9 relative on these smooth losses; ReLU and
# g(x) kinks are a measure-zero risk with random inputs, so 1e-6 relative leaves ample room and still catches
# any wrong term (a wrong term gives O(1) relative error).
RTOL = 1e-6


def _loss(cell, params, x, state0, dout, dfinal, options):
    outs, final, _ = unroll(cell, params, x, state0, options)
    val = float(np.sum(np.stack(outs, 1) * dout))
    return val + sum(float(np.sum(s * d)) for s, d in zip(final, dfinal, strict=True))


def _check(cell, *, bias=True, options=CellOptions(), T=5):
    params, x, state0, dout, dfinal = setup(cell, bias=bias, options=options, T=T)
    _, _, caches = unroll(cell, params, x, state0, options)
    dx, dstate0, dparams = unroll_backward(cell, dout, dfinal, caches)
    assert set(dparams) == set(params), "step_backward must return a gradient for every parameter"

    def f():
        return _loss(cell, params, x, state0, dout, dfinal, options)

    pairs = [("x", dx, x)] + [(f"state0[{k}]", d, s) for k, (d, s) in enumerate(zip(dstate0, state0, strict=True))]
    pairs += [(name, dparams[name], params[name]) for name in params]
    for name, analytic, arr in pairs:
        num = numeric_grad(f, arr)
        err = np.max(np.abs(analytic - num)) / max(np.max(np.abs(num)), 1e-8)
        assert err < RTOL, f"{cell} d{name}: relative error {err:.2e}"


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bias", [True, False])
def test_bptt_matches_finite_differences(cell, bias):
    _check(cell, bias=bias)


def test_indrnn_clamped_gradient_matches_finite_differences():
    # γ = 0.1 clamps about half of the U(-1/√5, 1/√5) entries of u; FD sees zero slope there too.
    _check("indrnn", options=CellOptions(recurrent_max_abs=0.1))


def test_minlstm_forget_bias_gradient():
    _check("minlstm", options=CellOptions(forget_bias=1.0))


def test_mingru_g_is_positive_and_continuous():
    g = get_cell("mingru", engine="reference").g
    a = np.array([-800.0, -1.0, -1e-12, 0.0, 1e-12, 2.0])
    out = g(a)
    assert np.all(out >= 0) and np.isfinite(out).all()
    np.testing.assert_allclose(out[2:5], 0.5, atol=1e-11)  # continuous at 0: σ(0) = 0 + 0.5
    np.testing.assert_allclose(out[[1, 5]], [1 / (1 + np.e), 2.5], rtol=1e-15)


def test_minlstm_gates_are_normalised_and_finite_at_extremes():
    mod = get_cell("minlstm", engine="reference")
    H, D = 4, 1
    W = np.zeros((3 * H, D))
    b = np.array([-800.0, -800.0, 3.0, 0.0] + [-800.0, -790.0, -3.0, 0.0] + [1.0, -1.0, 0.0, 2.0])
    h = np.full((1, H), 2.0)
    (h_new,), cache = mod.step({"W_ih": W, "b_ih": b}, np.zeros((1, D)), (h,))
    fn, in_ = cache[5], cache[6]
    np.testing.assert_allclose(fn + in_, 1.0, rtol=1e-15)  # f' + i' = 1 by construction
    f, i = 1 / (1 + np.exp(-b[2])), 1 / (1 + np.exp(-b[6]))
    np.testing.assert_allclose(fn[0, 2], f / (f + i), rtol=1e-14)  # the paper's ratio where it is computable
    np.testing.assert_allclose(fn[0, 0], 0.5, rtol=1e-14)  # both gates underflow: the ratio is still 1/2
    np.testing.assert_allclose(fn[0, 1], 1 / (1 + np.exp(10.0)), rtol=1e-9)  # log σ(-800) - log σ(-790) = -10
    assert np.isfinite(h_new).all()


def test_indrnn_clamp_limits_recurrent_weight():
    mod = get_cell("indrnn", engine="reference")
    p = {"W_ih": np.zeros((2, 1)), "W_hh": np.array([5.0, -0.3]), "b_ih": np.zeros(2), "b_hh": np.zeros(2)}
    h = np.array([[1.0, 1.0]])
    (free,), _ = mod.step(p, np.zeros((1, 1)), (h,))
    (clamped,), _ = mod.step(p, np.zeros((1, 1)), (h,), CellOptions(recurrent_max_abs=2.0))
    np.testing.assert_array_equal(free, [[5.0, 0.0]])  # relu(u h): 5 and relu(-0.3) = 0
    np.testing.assert_array_equal(clamped, [[2.0, 0.0]])  # u clamped to γ = 2


def test_recurrent_max_abs_must_be_positive():
    with pytest.raises(ValueError, match="recurrent_max_abs must be a positive number"):
        CellOptions(recurrent_max_abs=0.0)


def test_layernorm_lstm_matches_paper_equations_at_a_point():
    # Written independently of the module: eq. 20-22 of Ba et al. 2016 with explicit mean/std.
    mod = get_cell("layernorm_lstm", engine="reference")
    params, x, state0, _, _ = setup("layernorm_lstm", T=1)
    h, c = state0
    H = h.shape[1]

    def ln(v, gain, shift):
        return gain * (v - v.mean(1, keepdims=True)) / np.sqrt(v.var(1, keepdims=True) + 1e-5) + shift

    a = ln(x[:, 0] @ params["W_ih"].T, params["ln_ih_gain"], params["b_ih"]) + ln(
        h @ params["W_hh"].T, params["ln_hh_gain"], params["b_hh"]
    )
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    i, f, g, o = sig(a[:, :H]), sig(a[:, H : 2 * H]), np.tanh(a[:, 2 * H : 3 * H]), sig(a[:, 3 * H :])
    c1 = f * c + i * g
    h1 = o * np.tanh(ln(c1, params["ln_c_gain"], params["ln_c_shift"]))
    (h_new, c_new), _ = mod.step(params, x[:, 0], state0)
    np.testing.assert_allclose(c_new, c1, rtol=1e-13)  # same float64 formula, different operation order
    np.testing.assert_allclose(h_new, h1, rtol=1e-13)
