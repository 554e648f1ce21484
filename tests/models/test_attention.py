"""Attention: each score is the paper's formula, the weights sum to 1 over the valid positions and are exactly 0 on
padding, the context is their weighted sum, and padded memory never changes an output."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models.attention import ATTENTIONS, Attention

N, S, H, D = 3, 5, 4, 6
LENGTHS = torch.tensor([5, 2, 1])
MASK = torch.arange(S)[None, :] < LENGTHS[:, None]  # (N, S) True at real positions


def make(kind: str, memory_size: int = D) -> tuple[Attention, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    size = H if kind == "dot" else memory_size
    att = Attention(kind, H, size, attention_size=3).double()
    return att, torch.randn(N, H, dtype=torch.float64), torch.randn(N, S, size, dtype=torch.float64)


def by_hand(att: Attention, q: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Scores (N, S) written out position by position (Luong et al. 2015 eq. 8; Bahdanau et al. 2015 A.1.2)."""
    e = torch.empty(N, S, dtype=torch.float64)
    for n in range(N):
        for s in range(S):
            if att.kind == "dot":
                e[n, s] = q[n] @ m[n, s]
            elif att.kind == "general":
                e[n, s] = q[n] @ (att.W_a.weight @ m[n, s])
            else:
                hidden = torch.tanh(att.W_q.weight @ q[n] + att.W_k.weight @ m[n, s] + att.W_k.bias)
                e[n, s] = att.v.weight[0] @ hidden
    return e


@pytest.mark.parametrize("kind", ATTENTIONS)
def test_weights_are_the_masked_softmax_of_the_papers_scores(kind: str) -> None:
    att, q, m = make(kind)
    ctx, a = att(q, att.keys(m), m, MASK)
    # float64; 1e-12 allows only for summation order
    ref = torch.softmax(by_hand(att, q, m).masked_fill(~MASK, float("-inf")), dim=1)
    torch.testing.assert_close(a, ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(a.sum(1), torch.ones(N, dtype=torch.float64), rtol=0, atol=1e-12)
    assert bool((a[~MASK] == 0).all())  # padding: exactly zero weight
    assert bool((a[MASK] > 0).all())
    torch.testing.assert_close(ctx, torch.einsum("ns,nsd->nd", a, m), rtol=0, atol=1e-12)
    assert ctx.shape == (N, m.shape[2])


@pytest.mark.parametrize("kind", ATTENTIONS)
def test_padded_memory_never_changes_an_output(kind: str) -> None:
    att, q, m = make(kind)
    junk = m.clone()
    junk[~MASK] = 1e3 * torch.randn(int((~MASK).sum()), m.shape[2], dtype=torch.float64)
    ctx, a = att(q, att.keys(m), m, MASK)
    ctx2, a2 = att(q, att.keys(junk), junk, MASK)
    torch.testing.assert_close(ctx2, ctx, rtol=0, atol=1e-12)
    torch.testing.assert_close(a2, a, rtol=0, atol=1e-12)


def test_sizes_default_to_the_query_size_and_bad_choices_are_refused() -> None:
    att = Attention("bahdanau", 8)
    assert (att.W_q.weight.shape, att.W_k.weight.shape, att.v.weight.shape) == ((8, 8), (8, 8), (1, 8))
    assert Attention("general", 8).W_a.weight.shape == (8, 8)
    assert Attention("general", 8, 5).W_a.weight.shape == (8, 5)  # keys (N, S, H) from a memory of width D = 5
    assert list(Attention("dot", 8).parameters()) == []
    with pytest.raises(ValueError, match="dot attention needs memory_size == query_size"):
        Attention("dot", 8, 5)
    with pytest.raises(ValueError, match="attention must be one of"):
        Attention("cosine", 8)
