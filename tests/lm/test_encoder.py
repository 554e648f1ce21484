"""RecurrentLM assembly: shapes, weight tying (with and without a projection), regularisers only in training."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models.encoder import RecurrentLM


@pytest.mark.parametrize("E,H", [(8, 8), (6, 10)])
def test_tied_weights_share_the_embedding(E, H):
    m = RecurrentLM(13, cell="gru", embedding_dim=E, hidden_size=H, tie_weights=True)
    assert m.head.weight is m.embedding.weight  # one Parameter, counted once
    assert (m.proj is None) == (E == H)  # a projection H -> E only when the sizes differ
    logits, state = m(torch.randint(0, 13, (2, 5)))
    assert logits.shape == (2, 5, 13) and state[0].shape == (1, 2, H)
    W, b = m.head_weight()
    assert W.shape == (13, H) and b.shape == (13,)


@pytest.mark.parametrize("kw", [{"dropout": 0.5}, {"dropout": 0.5, "locked": True}, {"embed_dropout": 0.5}])
def test_regularisers_act_in_training_only(kw):
    torch.manual_seed(0)
    m = RecurrentLM(13, cell="lstm", embedding_dim=8, hidden_size=8, num_layers=2, **kw)
    ids = torch.randint(0, 13, (3, 6))
    m.train()
    assert not torch.equal(m(ids)[0], m(ids)[0])  # fresh masks each forward
    m.eval()
    assert torch.equal(m(ids)[0], m(ids)[0])  # identity in eval mode


def test_locked_dropout_mask_is_shared_over_time():
    torch.manual_seed(0)
    m = RecurrentLM(5, cell="rnn", embedding_dim=16, hidden_size=4, dropout=0.5, locked=True).train()
    x = m._drop(torch.ones(2, 7, 16))  # (N, T, F)
    assert torch.equal(x, x[:, :1].expand_as(x))  # the same mask at every step (Gal & Ghahramani 2016)


def test_lm_errors():
    with pytest.raises(ValueError, match=r"bidirectional must be False"):
        RecurrentLM(5, bidirectional=True)
    with pytest.raises(ValueError, match=r"ids must be an integer \(N, T\) tensor"):
        RecurrentLM(5)(torch.zeros(2, 3))
