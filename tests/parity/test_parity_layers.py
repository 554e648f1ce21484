"""Parity of the non-recurrent twins: layers, losses, optimisers and clipping, reference ↔ nn, float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.nn import layers as nl
from rnnkit.nn import losses as nloss
from rnnkit.nn import optim as nopt

rl = pytest.importorskip("rnnkit.reference.layers")
rloss = pytest.importorskip("rnnkit.reference.losses")
ropt = pytest.importorskip("rnnkit.reference.optim")

# float64 and the same formulas on both sides: differences are summation order only (~1e-16 relative).
TOL = dict(rtol=1e-12, atol=1e-13)


def _close(a, b, what=""):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), **TOL, err_msg=what)


def test_embedding_forward_and_gradient(rng):
    W = rng.standard_normal((7, 4))
    ids = np.array([[1, 3, 3], [0, 6, 1]])
    dout = rng.standard_normal((2, 3, 4))
    r_out, cache = rl.embedding(W, ids, padding_idx=3)
    r_dW = rl.embedding_backward(dout, cache)
    m = nl.Embedding(7, 4, padding_idx=3).double()
    with torch.no_grad():
        m.weight.copy_(torch.tensor(W))
    out = m(torch.tensor(ids))
    (out * torch.tensor(dout)).sum().backward()
    _close(out.detach(), r_out, "embedding out")
    _close(m.weight.grad, r_dW, "embedding dW (repeated ids summed, padding row zero)")


def test_linear_forward_and_gradient(rng):
    W, b = rng.standard_normal((5, 3)), rng.standard_normal(5)
    x, dy = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 5))
    r_y, cache = rl.linear(x, W, b)
    r_dx, r_dW, r_db = rl.linear_backward(dy, cache)
    m = nl.Linear(3, 5).double()
    with torch.no_grad():
        m.weight.copy_(torch.tensor(W))
        m.bias.copy_(torch.tensor(b))
    xt = torch.tensor(x, requires_grad=True)
    y = m(xt)
    (y * torch.tensor(dy)).sum().backward()
    for got, want, what in [
        (y.detach(), r_y, "y"),
        (xt.grad, r_dx, "dx"),
        (m.weight.grad, r_dW, "dW"),
        (m.bias.grad, r_db, "db"),
    ]:
        _close(got, want, what)


def test_init_rules_match():
    torch.manual_seed(0)
    lin = nl.Linear(16, 8)
    assert lin.weight.abs().max() <= 0.25 and lin.bias.abs().max() <= 0.25  # U(-1/sqrt(16), 1/sqrt(16))
    emb = nl.init_embedding(200, 50, generator=torch.Generator().manual_seed(0))
    assert abs(float(emb.mean())) < 0.05 and abs(float(emb.std()) - 1) < 0.05  # N(0, 1), 10^4 draws
    p = nl.init_linear(16, 8, generator=torch.Generator().manual_seed(0))
    assert set(p) == {"weight", "bias"} and p["weight"].shape == (8, 16)


@pytest.mark.parametrize("all_ignored", [False, True])
def test_cross_entropy_with_ignore_index(rng, all_ignored):
    logits = rng.standard_normal((2, 5, 6)) * 3
    targets = rng.integers(0, 6, (2, 5))
    targets[0, 1] = targets[1, 4] = -100
    if all_ignored:
        targets[:] = -100
    r_loss, cache = rloss.cross_entropy(logits, targets)
    r_d = rloss.cross_entropy_backward(cache)
    lt = torch.tensor(logits, requires_grad=True)
    loss = nloss.cross_entropy(lt, torch.tensor(targets))
    loss.backward()
    _close(float(loss.detach()), r_loss, "loss")
    _close(lt.grad, r_d, "dlogits")
    if all_ignored:
        assert float(loss.detach()) == 0.0 and torch.all(lt.grad == 0)


def test_mse(rng):
    p, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    r_loss, cache = rloss.mse(p, t)
    pt = torch.tensor(p, requires_grad=True)
    loss = nloss.mse(pt, torch.tensor(t))
    loss.backward()
    _close(float(loss.detach()), r_loss)
    _close(pt.grad, rloss.mse_backward(cache))


def test_loss_and_layer_errors():
    with pytest.raises(ValueError, match=r"cross_entropy: logits \(2, 3\) must be targets' shape \(3,\) plus"):
        nloss.cross_entropy(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"targets must be integer class ids"):
        nloss.cross_entropy(torch.zeros(2, 3), torch.zeros(2))
    with pytest.raises(ValueError, match=r"a target is outside \[0, V=3\)"):
        nloss.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"mse: pred shape \(2,\) differs from target shape \(3,\)"):
        nloss.mse(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match=r"embedding: id 7 is out of range for a table of V=7 rows"):
        nl.Embedding(7, 2)(torch.tensor([7]))
    with pytest.raises(ValueError, match=r"linear: x has 4 features"):
        nl.Linear(3, 2)(torch.zeros(1, 4))


OPTIMS = [
    ("sgd", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("sgd", dict(lr=0.1)),
    ("adam", dict(lr=0.01, weight_decay=0.01)),
    ("adamw", dict(lr=0.01, weight_decay=0.1)),
]


@pytest.mark.parametrize(("name", "kw"), OPTIMS)
def test_optimisers_take_identical_steps(rng, name, kw):
    params = {"a": rng.standard_normal((3, 2)), "b": rng.standard_normal(4)}
    grads = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(4)]
    tparams = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    r_opt = ropt.build(name, params, **kw)
    t_opt = nopt.build(name, tparams.values(), **kw)
    for g in grads:
        r_opt.step({k: v.copy() for k, v in g.items()})
        for k, p in tparams.items():
            p.grad = torch.tensor(g[k])
        t_opt.step()
    for k in params:
        _close(tparams[k].detach(), params[k], f"{name} {k} after {len(grads)} steps")


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm(rng, max_norm):
    grads = {"a": rng.standard_normal((3, 2)), "b": rng.standard_normal(4)}
    tparams = {k: torch.zeros(v.shape, dtype=torch.float64, requires_grad=True) for k, v in grads.items()}
    for k, p in tparams.items():
        p.grad = torch.tensor(grads[k].copy())
    assert nopt.global_norm(tparams.values()) == pytest.approx(ropt.global_norm(grads), rel=1e-12)
    t_norm = nopt.clip_grad_norm(tparams.values(), max_norm)
    r_norm = ropt.clip_grad_norm(grads, max_norm)
    assert t_norm == pytest.approx(r_norm, rel=1e-12)
    for k in grads:
        _close(tparams[k].grad, grads[k], f"clipped {k}")
    with pytest.raises(ValueError, match=r"max_norm must be > 0"):
        nopt.clip_grad_norm(tparams.values(), 0.0)
    with pytest.raises(ValueError, match=r"unknown optimizer 'rmsprop'"):
        nopt.build("rmsprop", tparams.values(), lr=0.1)
