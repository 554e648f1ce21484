"""CRF log-partition, loss and Viterbi against brute-force enumeration of every tag path (tiny K, T)."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnkit.data.sequences import lengths_to_mask
from rnnkit.models.crf import CRF


def _brute(crf: CRF, em: torch.Tensor, length: int) -> tuple[torch.Tensor, list[tuple[int, ...]], torch.Tensor]:
    """All K**length paths of one sequence: (log Z, paths, scores)."""
    K = em.shape[1]
    paths = list(itertools.product(range(K), repeat=length))
    scores = []
    for y in paths:
        s = crf.start[y[0]] + em[0, y[0]] + crf.end[y[-1]]
        for t in range(1, length):
            s = s + crf.transitions[y[t - 1], y[t]] + em[t, y[t]]
        scores.append(s)
    scores = torch.stack(scores)
    return torch.logsumexp(scores, 0), paths, scores


@pytest.fixture
def setup():
    torch.manual_seed(0)
    K, T = 3, 4
    crf = CRF(K).double()
    with torch.no_grad():  # larger than the init range so transitions matter for the argmax
        for p in crf.parameters():
            p.normal_(0, 1.0)
    em = torch.randn(3, T, K, dtype=torch.float64)
    lengths = torch.tensor([4, 2, 1])
    return crf, em, lengths


def test_log_partition_and_nll_match_enumeration(setup):
    crf, em, lengths = setup
    mask = lengths_to_mask(lengths, em.shape[1])
    logz = crf.log_partition(em, mask)
    tags = torch.randint(0, 3, (3, em.shape[1]))
    tags[~mask] = -100  # padding value from the collate must be ignored
    nll = crf.nll(em, tags, mask, reduction="none")
    for n in range(3):
        L = int(lengths[n])
        ref_z, paths, scores = _brute(crf, em[n, :L], L)
        # float64 and only K**T <= 81 terms: agreement to rounding
        assert torch.allclose(logz[n], ref_z, atol=1e-10)
        gold = tuple(int(v) for v in tags[n, :L])
        assert torch.allclose(nll[n], ref_z - scores[paths.index(gold)], atol=1e-10)


def test_viterbi_matches_enumeration(setup):
    crf, em, lengths = setup
    mask = lengths_to_mask(lengths, em.shape[1])
    best, score = crf.decode(em, mask)
    for n in range(3):
        L = int(lengths[n])
        _, paths, scores = _brute(crf, em[n, :L], L)
        k = int(scores.argmax())
        assert tuple(best[n, :L].tolist()) == paths[k]
        assert torch.allclose(score[n], scores[k], atol=1e-10)
        assert (best[n, L:] == 0).all()


def test_padding_does_not_change_crf_results(setup):
    crf, em, lengths = setup
    mask = lengths_to_mask(lengths, em.shape[1])
    garbage = em.clone()
    garbage[~mask] = 1e3  # anything at padded positions must be ignored
    assert torch.allclose(crf.log_partition(em, mask), crf.log_partition(garbage, mask))
    assert torch.equal(crf.decode(em, mask)[0], crf.decode(garbage, mask)[0])


def test_nll_is_nonnegative_and_gradients_flow(setup):
    crf, em, lengths = setup
    em = em.clone().requires_grad_(True)
    tags = torch.zeros(3, em.shape[1], dtype=torch.long)
    loss = crf.nll(em, tags, lengths_to_mask(lengths, em.shape[1]))
    assert loss.item() >= 0  # a probability is at most 1
    loss.backward()
    assert crf.transitions.grad is not None and em.grad.abs().sum() > 0


def test_crf_errors_name_the_problem():
    crf = CRF(3)
    with pytest.raises(ValueError, match=r"emissions must be \(N, T, K=3\)"):
        crf.log_partition(torch.zeros(2, 4, 5))
    with pytest.raises(ValueError, match="at least one real step"):
        crf.decode(torch.zeros(1, 2, 3), torch.tensor([[False, False]]))
    with pytest.raises(ValueError, match="reduction must be"):
        crf.nll(torch.zeros(1, 2, 3), torch.zeros(1, 2, dtype=torch.long), reduction="avg")
