"""Beam and greedy search over a step function: beam search finds exactly what exhaustive search finds on a tiny
toy, width 1 is greedy, batching changes nothing, min/max lengths hold, and states of any shape are reordered."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import NamedTuple

import pytest
import torch

from rnnkit.models.beam import (
    Hypothesis,
    beam_search,
    gnmt_length_penalty,
    greedy_search,
    length_limits,
    select_rows,
)

V, BOS, EOS = 6, 0, 1  # BOS is never emitted; 4 other tokens


class Toy:
    """A tiny float64 recurrent language model: h' = tanh(E[y] + h W), log p(. | y, h) = log_softmax(h' O), BOS
    banned. The state is a dict holding a tuple, to exercise the reordering of nested states."""

    def __init__(self, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.E = torch.randn(V, 5, generator=g, dtype=torch.float64)
        self.W = 0.5 * torch.randn(5, 5, generator=g, dtype=torch.float64)
        self.O = 3.0 * torch.randn(5, V, generator=g, dtype=torch.float64)  # peaky: scores well separated
        self.h0 = torch.randn(4, 5, generator=g, dtype=torch.float64)  # one start state per input

    def state(self, rows: list[int]) -> dict:
        return {"h": (self.h0[rows],), "name": "toy"}

    def step(self, y: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        h = torch.tanh(self.E[y] + state["h"][0] @ self.W)  # (M, 5)
        logits = h @ self.O  # (M, V)
        logits[:, BOS] = float("-inf")
        return logits.log_softmax(-1), {"h": (h,), "name": state["name"]}


def exhaustive(toy: Toy, row: int, max_len: int, alpha: float, min_length: int = 0) -> list[tuple[float, list[int]]]:
    """Every output the decoder may emit (EOS-terminated, <= max_len with EOS, >= min_length tokens before EOS),
    scored token by token with the same step: [(normalised score, tokens)], best first."""
    allowed = [t for t in range(V) if t not in (BOS, EOS)]
    out = []
    for k in range(min_length, max_len):
        for ids in itertools.product(allowed, repeat=k):
            state, y, total = toy.state([row]), torch.tensor([BOS]), 0.0
            for w in [*ids, EOS]:
                logp, state = toy.step(y, state)
                total += float(logp[0, w])
                y = torch.tensor([w])
            out.append((total / gnmt_length_penalty(k + 1, alpha), list(ids)))
    return sorted(out, key=lambda x: -x[0])


def search(toy: Toy, rows: list[int], **kw) -> list[list[Hypothesis]]:
    return beam_search(toy.step, toy.state(rows), batch_size=len(rows), bos_id=BOS, eos_id=EOS, **kw)


@pytest.mark.parametrize("alpha", [0.0, 0.6, 2.0])
@pytest.mark.parametrize("min_length", [0, 2])
def test_beam_search_equals_exhaustive_search(alpha: float, min_length: int) -> None:
    toy = Toy(seed=3)
    ref = exhaustive(toy, 1, 4, alpha, min_length)
    assert len(ref) == sum(4**k for k in range(min_length, 4))  # 85 or 80 outputs
    kw = {"beam_size": len(ref), "max_lengths": [4], "length_penalty": alpha, "min_length": min_length}
    full = search(toy, [1], **kw)[0]  # early_stop by default
    full_es = search(toy, [1], early_stop=False, **kw)[0]
    # a beam as wide as the output space finds all of them, with the token-by-token scores (float64: 1e-9)
    assert [h.tokens for h in full_es] == [ids for _, ids in ref]
    assert [h.score for h in full_es] == pytest.approx([s for s, _ in ref], abs=1e-9)
    # early stopping on the bound never loses the best one
    assert full[0].tokens == ref[0][1] and full[0].score == pytest.approx(ref[0][0], abs=1e-9)
    # and a narrow beam's best is never better than the true best
    narrow = search(toy, [1], beam_size=2, max_lengths=4, length_penalty=alpha, min_length=min_length)[0]
    assert narrow[0].score <= ref[0][0] + 1e-9 and len(narrow[0].tokens) >= min_length


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("min_length", [0, 3])
def test_width_one_is_greedy(seed: int, min_length: int) -> None:
    toy, rows, limits = Toy(seed), [0, 1, 2, 3], [7, 3, 1, 12]
    beams = search(toy, rows, beam_size=1, max_lengths=limits, min_length=min_length)
    greedy = greedy_search(
        toy.step, toy.state(rows), batch_size=4, bos_id=BOS, eos_id=EOS, max_lengths=limits, min_length=min_length
    )
    assert [b[0].tokens for b in beams] == greedy
    for ids, limit in zip(greedy, limits, strict=True):
        assert len(ids) <= limit - 1  # EOS included in the limit
        assert len(ids) >= min(min_length, limit - 1)  # the limit wins over min_length
        assert EOS not in ids and BOS not in ids


def test_batched_beam_search_equals_one_input_at_a_time() -> None:
    toy, limits = Toy(seed=1), [6, 4, 2, 9]
    batched = search(toy, [0, 1, 2, 3], beam_size=3, max_lengths=limits, length_penalty=0.6)
    for n in range(4):
        alone = search(toy, [n], beam_size=3, max_lengths=limits[n], length_penalty=0.6)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in batched[n]]
        assert [h.score for h in alone] == pytest.approx([h.score for h in batched[n]], abs=1e-12)
        assert all(len(h.tokens) < limits[n] for h in alone)
        assert [h.score for h in alone] == sorted((h.score for h in alone), reverse=True)  # best first


def test_length_helpers_and_bad_arguments() -> None:
    assert gnmt_length_penalty(7, 0.0) == 1.0 and gnmt_length_penalty(1, 3.0) == 1.0
    assert gnmt_length_penalty(7, 0.6) == pytest.approx(2.0**0.6)
    lim = length_limits(torch.tensor([5, 3, 1]), max_len_ratio=1.0, max_len=50)  # ceil(S) + 1, EOS included
    assert lim.tolist() == [6, 4, 2]
    assert length_limits(torch.tensor([40, 2]), max_len_ratio=2.0, max_len=10).tolist() == [10, 5]
    toy = Toy(seed=0)
    with pytest.raises(ValueError, match="beam_size must be >= 1"):
        search(toy, [0], beam_size=0, max_lengths=3)
    with pytest.raises(ValueError, match="max_lengths must give 2 limits"):
        search(toy, [0, 1], beam_size=2, max_lengths=[3])


class Pair(NamedTuple):
    a: torch.Tensor
    b: list


@dataclass
class Carry:
    h: torch.Tensor
    extra: dict
    steps: int = 0


def test_select_rows_follows_nested_states() -> None:
    x = torch.arange(12.0).view(4, 3)
    state = Carry(x, {"pair": Pair(x[:, 0], [x, None]), "tag": "keep"}, steps=5)
    idx = torch.tensor([2, 2, 0])
    out = select_rows(state, idx)
    assert isinstance(out, Carry) and isinstance(out.extra["pair"], Pair)
    assert torch.equal(out.h, x[idx]) and torch.equal(out.extra["pair"].a, x[idx, 0])
    assert torch.equal(out.extra["pair"].b[0], x[idx]) and out.extra["pair"].b[1] is None
    assert (out.extra["tag"], out.steps) == ("keep", 5)
