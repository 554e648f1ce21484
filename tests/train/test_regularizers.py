"""Regularisers: each changes the output in training mode and is the identity (or zero) in eval mode."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnkit.nn as rnn
from rnnkit.models.regularizers import (
    ActivationRegularizer,
    EmbeddingDropout,
    LockedDropout,
    activation_regularization,
    are_tied,
    temporal_activation_regularization,
    tie_weights,
)


def test_locked_dropout_one_mask_per_sequence():
    torch.manual_seed(0)
    d = LockedDropout(0.5)
    x = torch.ones(4, 7, 16)
    y = d(x)
    assert not torch.equal(y, x)
    # the same (N, D) mask at every time step: all steps equal to step 0
    assert torch.equal(y, y[:, :1].expand_as(y))
    assert set(y.unique().tolist()) <= {0.0, 2.0}  # kept units scaled by 1 / (1 - p)
    assert not torch.equal(y[0], y[1])  # but different sequences get different masks
    d.eval()
    assert d(x) is x
    with pytest.raises(ValueError, match=r"LockedDropout expects \(N, T, D\) input"):
        LockedDropout(0.5)(torch.ones(3, 4))
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        LockedDropout(1.0)


def test_embedding_dropout_drops_whole_words():
    torch.manual_seed(0)
    emb = nn.Embedding(20, 6)
    d = EmbeddingDropout(emb, 0.5)
    words = torch.arange(20).repeat(3, 1)  # (3, 20): every word appears in every row
    y = d(words)  # (3, 20, 6)
    dropped = (y == 0).all(-1)  # (3, 20): a whole embedding vector zeroed
    assert dropped.any() and not dropped.all()
    assert torch.equal(dropped, dropped[:1].expand_as(dropped))  # a dropped word is dropped at every occurrence
    kept = ~dropped[0]
    torch.testing.assert_close(y[0, kept], emb.weight[kept] * 2)  # exact up to one float multiply
    d.eval()
    assert torch.equal(d(words), emb(words))


def test_activation_regularizer():
    h = torch.randn(2, 5, 3)
    raw = torch.randn(2, 5, 3)
    ar = ActivationRegularizer(alpha=2.0, beta=1.0)
    expected = 2.0 * (h**2).mean() + ((raw[:, 1:] - raw[:, :-1]) ** 2).mean()
    torch.testing.assert_close(ar(h, raw), expected, rtol=1e-6, atol=0)  # same ops, float32 rounding
    assert activation_regularization(h, 0.5).item() == pytest.approx(0.5 * (h**2).mean().item())
    assert temporal_activation_regularization(h[:, :1], 1.0).item() == 0.0  # one step has no change
    ar.eval()
    assert ar(h, raw).item() == 0.0


def test_tie_weights():
    emb, dec = nn.Embedding(10, 4), nn.Linear(4, 10)
    tie_weights(dec, emb)
    assert are_tied(dec, emb) and len(list(nn.ModuleList([emb, dec]).parameters())) == 2  # weight once + bias
    with pytest.raises(ValueError, match=r"weight tying needs decoder weight shape \(10, 5\) =="):
        tie_weights(nn.Linear(5, 10), emb)


def test_weight_drop_dropconnect_on_recurrent_weights():
    torch.manual_seed(0)
    m = rnn.Recurrent("lstm", 3, 8, weight_drop=0.5)
    x = torch.randn(2, 6, 3)
    m.eval()
    ref, _ = m(x)
    again, _ = m(x)
    assert torch.equal(ref, again)  # eval: deterministic, no DropConnect
    plain = rnn.Recurrent("lstm", 3, 8)
    plain.load_state_dict(m.state_dict())
    plain.eval()
    assert torch.equal(plain(x)[0], ref)  # eval with weight_drop == the same weights without it
    m.train()
    out1, _ = m(x)
    out2, _ = m(x)
    assert not torch.allclose(out1, ref) and not torch.allclose(out1, out2)  # a new W_hh mask per forward
    # the input map is untouched: with a zero state and one step, W_hh does not enter the output
    first_train, _ = m(x[:, :1])
    torch.testing.assert_close(first_train, m.eval()(x[:, :1])[0], rtol=0, atol=1e-6)  # fused vs loop path
