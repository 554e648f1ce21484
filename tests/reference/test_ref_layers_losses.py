"""Embedding, linear, cross-entropy and MSE: forward values and hand-written backwards vs finite differences.

Finite-difference tolerance: rtol 1e-7 / atol 1e-9 (float64 central differences with eps = 1e-6 agree to
~1e-9 relative on these sizes; a wrong backward is off by O(1)).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit.reference import layers, losses
from rnnkit.reference.gradcheck import numerical_gradient

FD = dict(rtol=1e-7, atol=1e-9)


def test_embedding_lookup_and_scatter_add_backward(rng):
    W = layers.init_embedding(5, 3, rng=rng)
    ids = np.array([[1, 3, 1], [0, 1, 4]])  # id 1 repeated: its rows' gradients must add up
    out, cache = layers.embedding(W, ids)
    np.testing.assert_array_equal(out[0, 2], W[1])
    R = rng.standard_normal(out.shape)
    dW = layers.embedding_backward(R, cache)
    np.testing.assert_allclose(dW, numerical_gradient(lambda: float(np.sum(layers.embedding(W, ids)[0] * R)), W), **FD)
    np.testing.assert_allclose(dW[1], R[0, 0] + R[0, 2] + R[1, 1], rtol=1e-15)
    assert np.all(dW[2] == 0.0)


def test_embedding_padding_idx_and_bad_ids(rng):
    W = layers.init_embedding(4, 2, rng=rng)
    _, cache = layers.embedding(W, np.array([0, 2, 0]), padding_idx=0)
    dW = layers.embedding_backward(np.ones((3, 2)), cache)
    assert np.all(dW[0] == 0.0) and np.all(dW[2] == 1.0)
    with pytest.raises(ValueError, match=r"embedding: id 4 is out of range for a table of V=4 rows"):
        layers.embedding(W, np.array([1, 4]))
    with pytest.raises(ValueError, match=r"embedding: ids must be integers"):
        layers.embedding(W, np.array([1.0]))


@pytest.mark.parametrize("bias", [True, False])
def test_linear_backward(rng, bias):
    p = layers.init_linear(4, 3, rng=rng, bias=bias)
    k = 1 / math.sqrt(4)
    assert np.all(np.abs(p["weight"]) <= k) and ("bias" in p) == bias
    x = rng.standard_normal((2, 5, 4))  # any leading dims
    y, cache = layers.linear(x, p["weight"], p.get("bias"))
    assert y.shape == (2, 5, 3)
    R = rng.standard_normal(y.shape)
    dx, dW, db = layers.linear_backward(R, cache)

    def f():
        return float(np.sum(layers.linear(x, p["weight"], p.get("bias"))[0] * R))

    np.testing.assert_allclose(dx, numerical_gradient(f, x), **FD)
    np.testing.assert_allclose(dW, numerical_gradient(f, p["weight"]), **FD)
    if bias:
        np.testing.assert_allclose(db, numerical_gradient(f, p["bias"]), **FD)
    else:
        assert db is None
    with pytest.raises(ValueError, match=r"linear: x has 5 features .* expects 4"):
        layers.linear(np.zeros((2, 5)), p["weight"])


def test_cross_entropy_value_ignore_index_and_backward(rng):
    logits = rng.standard_normal((2, 3, 4))  # (N, T, V)
    targets = np.array([[1, -100, 3], [0, 2, -100]])
    loss, cache = losses.cross_entropy(logits, targets)
    keep = [(0, 0), (0, 2), (1, 0), (1, 1)]
    by_hand = -np.mean([logits[n, t, targets[n, t]] - np.log(np.exp(logits[n, t]).sum()) for n, t in keep])
    np.testing.assert_allclose(loss, by_hand, rtol=1e-14)  # same formula, summed in another order
    d = losses.cross_entropy_backward(cache)
    assert np.all(d[0, 1] == 0.0) and np.all(d[1, 2] == 0.0)  # ignored positions get no gradient
    np.testing.assert_allclose(d, numerical_gradient(lambda: losses.cross_entropy(logits, targets)[0], logits), **FD)
    np.testing.assert_allclose(losses.cross_entropy_backward(cache, 2.0), 2.0 * d, rtol=1e-15)


def test_cross_entropy_is_stable_and_all_ignored_is_zero():
    logits = np.array([[1e4, 0.0, -1e4]])  # naive exp overflows
    loss, cache = losses.cross_entropy(logits, np.array([1]))
    np.testing.assert_allclose(loss, 1e4, rtol=1e-12)
    assert np.all(np.isfinite(losses.cross_entropy_backward(cache)))
    loss, cache = losses.cross_entropy(logits, np.array([losses.IGNORE_INDEX]))
    assert loss == 0.0 and np.all(losses.cross_entropy_backward(cache) == 0.0)


def test_cross_entropy_errors():
    with pytest.raises(ValueError, match=r"logits \(2, 3\) must be targets' shape \(3,\) plus a class axis"):
        losses.cross_entropy(np.zeros((2, 3)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match=r"a target is outside \[0, V=3\)"):
        losses.cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"targets must be integer class ids"):
        losses.cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))


def test_mse_value_and_backward(rng):
    pred, target = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    loss, cache = losses.mse(pred, target)
    np.testing.assert_allclose(loss, np.mean((pred - target) ** 2), rtol=1e-15)
    np.testing.assert_allclose(
        losses.mse_backward(cache), numerical_gradient(lambda: losses.mse(pred, target)[0], pred), **FD
    )
    with pytest.raises(ValueError, match=r"mse: pred shape \(3, 4\) differs from target shape \(4,\)"):
        losses.mse(pred, target[0])
