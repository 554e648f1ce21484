"""RecurrentLM assembly: shapes, weight tying (with and without a projection), regularisers only in training."""

from __future__ import annotations

import pytest
import torch

from rnnkit.tasks.lm.model import RecurrentLM


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


# ---- adaptive softmax (Grave et al. 2017) -------------------------------------------------------------------


def _adaptive(**kw) -> RecurrentLM:
    torch.manual_seed(0)
    return RecurrentLM(30, cell="lstm", embedding_dim=8, hidden_size=16, num_layers=2, adaptive_cutoffs=[5, 12], **kw)


def test_adaptive_nll_is_the_log_probability_of_the_target():
    m = _adaptive().double()  # float64: the two paths differ only by summation order, far below the 1e-6 below
    ids, y = torch.randint(0, 30, (3, 9)), torch.randint(0, 30, (3, 9))
    y[0, 0], y[1, 0] = 29, 5  # the last id and the first id of a cluster are scored
    logp, state = m(ids)  # (N, T, V) full log-probabilities
    assert logp.shape == (3, 9, 30) and state[0].shape == (2, 3, 16)
    torch.testing.assert_close(logp.exp().sum(-1), torch.ones(3, 9, dtype=torch.float64), rtol=0, atol=1e-12)
    nll, state2 = m.nll(ids, y)
    assert nll.shape == (3, 9)
    torch.testing.assert_close(nll, -logp.gather(-1, y[..., None])[..., 0], rtol=0, atol=1e-6)
    torch.testing.assert_close(state2[0], state[0])  # the same recurrent pass
    # callers that treat the scores as logits stay correct: log_softmax(log p) = log p, so cross-entropy = nll
    torch.testing.assert_close(torch.log_softmax(logp, -1), logp, rtol=0, atol=1e-12)
    ce = torch.nn.functional.cross_entropy(logp.reshape(-1, 30), y.reshape(-1), reduction="none")
    torch.testing.assert_close(ce.view(3, 9), nll, rtol=0, atol=1e-6)
    nll.sum().backward()
    assert all(p.grad is not None for p in m.parameters())  # every parameter of the head and tails is trained


def test_full_softmax_nll_is_cross_entropy_of_the_logits():
    torch.manual_seed(0)
    m = RecurrentLM(13, cell="gru", embedding_dim=6, hidden_size=10, tie_weights=True)
    ids, y = torch.randint(0, 13, (2, 5)), torch.randint(0, 13, (2, 5))
    logits, _ = m(ids)
    ref = torch.nn.functional.cross_entropy(logits.reshape(-1, 13), y.reshape(-1), reduction="none").view(2, 5)
    torch.testing.assert_close(m.nll(ids, y)[0], ref)
    with pytest.raises(ValueError, match=r"targets \(2, 4\) must have the shape of ids \(2, 5\)"):
        m.nll(ids, y[:, :4])


def test_adaptive_errors():
    with pytest.raises(ValueError, match=r"adaptive_cutoffs and tie_weights cannot be combined"):
        _adaptive(tie_weights=True)
    with pytest.raises(ValueError, match=r"must lie in \(0, V\) = \(0, 30\).*got \[5, 30\]"):
        RecurrentLM(30, hidden_size=16, adaptive_cutoffs=[5, 30])
    with pytest.raises(ValueError, match=r"strictly increasing integers, e.g. \[2000, 6000\], got \[12, 5\]"):
        RecurrentLM(30, hidden_size=16, adaptive_cutoffs=[12, 5])
    with pytest.raises(ValueError, match=r"would project H=16 to 16 // 4\^3 = 0 units"):
        RecurrentLM(30, hidden_size=16, adaptive_cutoffs=[5, 10, 20])
    with pytest.raises(ValueError, match=r"no single \(V, H\) output map"):
        _adaptive().head_weight()


def test_from_config_builds_what_the_model_section_says():
    from rnnkit.config import CellConfig
    from rnnkit.tasks.lm.config import LMModelConfig

    m = LMModelConfig(cell=CellConfig("gru", gru_variant="paper"), embedding_dim=6, hidden_size=10, num_layers=2)
    net = RecurrentLM.from_config(m, 17)
    assert net.cell == "gru" and net.embedding.weight.shape == (17, 6) and len(net.rnn.layers) == 2
    assert net.rnn.layers[0]["fwd"].options.gru_variant == "paper" and net.rnn.layers[1]["fwd"].hidden_size == 10
    tied = RecurrentLM.from_config(LMModelConfig(embedding_dim=8, hidden_size=8, tie_weights=True), 13)
    assert tied.head.weight is tied.embedding.weight
    adaptive = RecurrentLM.from_config(LMModelConfig(hidden_size=16, adaptive_cutoffs=(5, 12)), 30)
    assert adaptive.adaptive_cutoffs == (5, 12) and adaptive.head.n_classes == 30
