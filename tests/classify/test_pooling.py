"""Pooling and padding: whatever is in the padded positions, and however long the padding, results agree
with running each sequence alone."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.sequences import pad_sequences
from rnnkit.models.heads import POOLINGS, AttentionPool, PooledClassifier, pool_last

lengths_st = st.lists(st.integers(1, 6), min_size=1, max_size=4)


@settings(max_examples=25, deadline=None)
@given(lengths=lengths_st, extra=st.integers(0, 3), pooling=st.sampled_from(POOLINGS), dirs=st.sampled_from([1, 2]))
def test_padding_never_changes_pooled_logits(lengths, extra, pooling, dirs):
    torch.manual_seed(0)
    F = 4
    head = PooledClassifier(F, 3, pooling=pooling, directions=dirs).double().eval()
    seqs = [torch.randn(n, F, dtype=torch.float64) for n in lengths]
    padded, lens = pad_sequences(seqs, padding_value=0.0)
    # extra padding filled with garbage: must be ignored
    junk = torch.full((len(seqs), extra, F), 123.0, dtype=torch.float64)
    padded = torch.cat([padded, junk], 1)
    for i, n in enumerate(lengths):
        padded[i, n:] = 99.0
    logits, w = head(padded, lens)
    for i, s in enumerate(seqs):
        alone, w1 = head(s.unsqueeze(0), None)
        # float64, same ops on the same numbers except a masked sum order: 1e-12
        assert torch.allclose(logits[i], alone[0], atol=1e-12)
        if pooling == "attention":
            assert torch.allclose(w[i, : lengths[i]], w1[0], atol=1e-12)
            assert (w[i, lengths[i] :] == 0).all()


def test_attention_weights_are_a_distribution_over_real_steps():
    att = AttentionPool(3)
    out = torch.randn(2, 5, 3)
    _, w = att(out, torch.tensor([5, 2]))
    assert torch.allclose(w.sum(1), torch.ones(2))
    assert (w[1, 2:] == 0).all()


def test_last_pooling_takes_backward_half_at_t0():
    out = torch.arange(2 * 3 * 4, dtype=torch.float32).view(2, 3, 4)  # F = 4, H = 2 per direction
    got = pool_last(out, torch.tensor([3, 2]), directions=2)
    assert got[1].tolist() == [out[1, 1, 0].item(), out[1, 1, 1].item(), out[1, 0, 2].item(), out[1, 0, 3].item()]


def test_pooling_errors():
    with pytest.raises(ValueError, match="pooling must be one of"):
        PooledClassifier(3, 2, pooling="sum")
    with pytest.raises(ValueError, match=r"values in \[1, T=2\]"):
        pool_last(torch.zeros(1, 2, 3), torch.tensor([3]))
