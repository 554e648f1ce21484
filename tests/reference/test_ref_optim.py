"""SGD, Adam/AdamW and global-norm clipping: exact steps computed by hand, and convergence on a quadratic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit.reference import optim


def test_sgd_plain_and_momentum_steps():
    p = {"w": np.array([1.0, -2.0])}
    g = {"w": np.array([0.5, 0.5])}
    optim.SGD(p, lr=0.1).step(g)
    np.testing.assert_allclose(p["w"], [0.95, -2.05], rtol=1e-15)
    p = {"w": np.array([1.0])}
    opt = optim.SGD(p, lr=0.1, momentum=0.9)
    opt.step({"w": np.array([1.0])})  # v = g = 1            -> w = 1 - 0.1
    opt.step({"w": np.array([1.0])})  # v = 0.9 * 1 + 1 = 1.9 -> w = 0.9 - 0.19
    np.testing.assert_allclose(p["w"], [0.71], rtol=1e-14)


def test_sgd_weight_decay_adds_to_gradient():
    p = {"w": np.array([2.0])}
    optim.SGD(p, lr=0.1, weight_decay=0.5).step({"w": np.array([0.0])})
    np.testing.assert_allclose(p["w"], [2.0 - 0.1 * 0.5 * 2.0], rtol=1e-15)


def test_adam_first_step_is_lr_times_sign():
    # Bias correction makes m_hat = g and v_hat = g^2 on step 1, so the step is lr * g / (|g| + eps).
    p = {"w": np.array([1.0, 1.0])}
    optim.Adam(p, lr=0.01, eps=1e-8).step({"w": np.array([3.0, -0.2])})
    np.testing.assert_allclose(p["w"], [1.0 - 0.01 * 3 / (3 + 1e-8), 1.0 + 0.01 * 0.2 / (0.2 + 1e-8)], rtol=1e-14)


def test_adam_second_step_by_hand():
    b1, b2, lr, eps = 0.9, 0.999, 0.1, 1e-8
    p = {"w": np.array([0.0])}
    opt = optim.Adam(p, lr=lr, betas=(b1, b2), eps=eps)
    opt.step({"w": np.array([1.0])})
    opt.step({"w": np.array([2.0])})
    m, v = (1 - b1) * (b1 * 1 + 2), (1 - b2) * (b2 * 1 + 4)
    expected = -lr * 1 / (1 + eps) - lr * (m / (1 - b1**2)) / (math.sqrt(v / (1 - b2**2)) + eps)
    np.testing.assert_allclose(p["w"], [expected], rtol=1e-12)


def test_adamw_decay_is_decoupled():
    p = {"w": np.array([2.0])}
    optim.AdamW(p, lr=0.1, weight_decay=0.5).step({"w": np.array([0.0])})  # zero gradient: only the decay
    np.testing.assert_allclose(p["w"], [2.0 * (1 - 0.1 * 0.5)], rtol=1e-15)


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
def test_every_optimizer_minimises_a_quadratic(name):
    target = np.array([1.0, -2.0, 0.5])
    p = {"w": np.zeros(3)}
    kw = {"momentum": 0.9} if name == "sgd" else {}
    opt = optim.build(name, p, lr=0.05, weight_decay=0.0, **kw)
    for _ in range(500):
        opt.step({"w": 2 * (p["w"] - target)})  # d/dw ||w - target||^2
    np.testing.assert_allclose(p["w"], target, atol=1e-3)  # converged to within 0.1% of the scale


def test_clip_grad_norm_returns_pre_clip_norm_and_scales_in_place():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    norm = optim.clip_grad_norm(grads, 1.0)
    assert norm == 5.0
    np.testing.assert_allclose(optim.global_norm(grads), 1.0 * 5 / (5 + 1e-6), rtol=1e-15)  # torch's 1e-6
    small = {"a": np.array([0.3, 0.4])}
    assert optim.clip_grad_norm(small, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(small["a"], [0.3, 0.4])  # below the limit: untouched


def test_optim_errors():
    p = {"w": np.zeros(2)}
    with pytest.raises(ValueError, match=r"unknown optimizer 'adagrad'; choose one of sgd, adam, adamw"):
        optim.build("adagrad", p, lr=0.1)
    with pytest.raises(ValueError, match=r"grads has no entry for parameters \['w'\]"):
        optim.SGD(p, lr=0.1).step({})
    with pytest.raises(ValueError, match=r"grads\['w'\] has shape \(3,\), parameter has \(2,\)"):
        optim.Adam(p).step({"w": np.zeros(3)})
    with pytest.raises(ValueError, match=r"max_norm must be > 0"):
        optim.clip_grad_norm({"w": np.zeros(2)}, 0.0)
