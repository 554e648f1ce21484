"""Decoding a sequence one token at a time from any step function: batched beam search and greedy search.

A decoder is given as ``step(tokens, state) -> (scores, state)``: the last token of every row (M,) and the
decoder's state for those rows in, the next-token scores (M, V) and the new state out. For ``beam_search`` the
scores are log-probabilities (tokens that may never be emitted at -inf); ``greedy_search`` only takes their argmax,
so logits do as well. The state is whatever the decoder carries (tensors, tuples, lists, dicts, dataclasses of
them); beam search reorders its rows with ``select_rows`` (or a ``reorder`` of the caller's).

Both stop a row at ``eos_id`` or at its length limit, where EOS is the only choice left; ``min_length`` forbids EOS
before that many tokens. Hypotheses are ranked by log p(y) / lp(|y|) with the GNMT length penalty
lp = ((5 + |y|) / 6) ** alpha (Wu et al. 2016 §7), |y| counting EOS; alpha = 0 is the plain log-probability.
Sequence-to-sequence models (translation; summarisation, captioning, speech synthesis as they come) share them.

Shape letters: N inputs, K beams per input, M = N*K rows, V vocabulary, S source length.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

Step = Callable[[Tensor, Any], tuple[Tensor, Any]]  # (last tokens (M,), state) -> (scores (M, V), next state)


class Hypothesis(NamedTuple):
    """A finished output: its tokens (BOS and EOS excluded) and its score log p(tokens + EOS) / lp(len + 1)."""

    tokens: list[int]
    score: float


def gnmt_length_penalty(length: int, alpha: float) -> float:
    """lp(|y|) = ((5 + |y|) / 6) ** alpha (Wu et al. 2016 §7): dividing log p by it favours longer outputs."""
    return ((5.0 + length) / 6.0) ** alpha


def length_limits(src_lengths: Tensor, *, max_len_ratio: float, max_len: int) -> Tensor:
    """Output length limit per input, EOS included: min(max_len, ceil(ratio * S_n) + 1) -> (N,)."""
    lim = torch.ceil(src_lengths.double() * max_len_ratio).long() + 1
    return lim.clamp(min=1, max=max_len)


def select_rows(state: Any, idx: Tensor) -> Any:
    """Rows ``idx`` (M,) of every tensor in a decoder state (along dim 0), keeping its structure: tensors, tuples,
    lists, dicts and dataclasses are followed; anything else (sizes, flags, None) is kept as it is."""
    if isinstance(state, Tensor):
        return state.index_select(0, idx)
    if isinstance(state, (tuple, list)):
        rows = [select_rows(s, idx) for s in state]
        return type(state)(rows) if not hasattr(state, "_fields") else type(state)(*rows)  # NamedTuple: by field
    if isinstance(state, dict):
        return {k: select_rows(v, idx) for k, v in state.items()}
    if dataclasses.is_dataclass(state) and not isinstance(state, type):
        return dataclasses.replace(
            state, **{f.name: select_rows(getattr(state, f.name), idx) for f in dataclasses.fields(state) if f.init}
        )
    return state


def _first_tensor(state: Any) -> Tensor | None:
    if isinstance(state, Tensor):
        return state
    items = state.values() if isinstance(state, dict) else state if isinstance(state, (tuple, list)) else ()
    if dataclasses.is_dataclass(state) and not isinstance(state, type):
        items = [getattr(state, f.name) for f in dataclasses.fields(state)]
    for s in items:
        t = _first_tensor(s)
        if t is not None:
            return t
    return None


def _limits(max_lengths: int | Sequence[int] | Tensor, n: int) -> list[int]:
    limit = [int(max_lengths)] * n if isinstance(max_lengths, int) else [int(x) for x in max_lengths]
    if len(limit) != n or min(limit, default=1) < 1:
        raise ValueError(f"max_lengths must give {n} limits >= 1 (EOS included), got {limit}")
    return limit


@torch.no_grad()
def greedy_search(
    step: Step,
    state: Any,
    *,
    batch_size: int,
    bos_id: int,
    eos_id: int,
    max_lengths: int | Sequence[int] | Tensor,
    min_length: int = 0,
    device: torch.device | str | None = None,
) -> list[list[int]]:
    """Argmax decoding of ``batch_size`` rows from ``state`` (one row per input). Returns per input the tokens
    (EOS excluded); every row ends with EOS, at the latest at its limit (``max_lengths``, EOS included)."""
    N, limit = batch_size, _limits(max_lengths, batch_size)
    dev = device if device is not None else getattr(_first_tensor(state), "device", "cpu")
    y = torch.full((N,), bos_id, dtype=torch.long, device=dev)
    done = [False] * N
    out: list[list[int]] = [[] for _ in range(N)]
    for t in range(max(limit)):
        scores, state = step(y, state)
        scores = scores.clone()  # (N, V), changed in place below
        for n in range(N):
            if t == limit[n] - 1:  # the last allowed position can only end the output
                scores[n].fill_(float("-inf"))
                scores[n, eos_id] = 0.0
            elif t < min_length:
                scores[n, eos_id] = float("-inf")
        y = scores.argmax(1)
        for n, tok in enumerate(y.tolist()):
            if done[n]:
                continue
            if tok == eos_id:
                done[n] = True
            else:
                out[n].append(tok)
        if all(done):
            break
    return out


@torch.no_grad()
def beam_search(
    step: Step,
    state: Any,
    *,
    batch_size: int,
    beam_size: int,
    bos_id: int,
    eos_id: int,
    max_lengths: int | Sequence[int] | Tensor,
    length_penalty: float = 0.0,
    min_length: int = 0,
    early_stop: bool = True,
    reorder: Callable[[Any, Tensor], Any] = select_rows,
    device: torch.device | str | None = None,
) -> list[list[Hypothesis]]:
    """Batched beam search: ``batch_size`` inputs x ``beam_size`` beams in one ``step`` call per position.

    ``state`` holds one row per input; it is repeated to N*K rows (``reorder``) and reordered after every step as
    beams are kept. Hypotheses end with EOS (forced at the length limit, forbidden before ``min_length`` tokens).
    An input is done when it holds K finished hypotheses or, with ``early_stop``, as soon as no live beam can beat
    its best finished one: log p only falls as a hypothesis grows, so a live beam's best possible score is its log p
    divided by the largest penalty it could reach, lp(limit) -- a bound, so stopping never loses the best one.
    Returns per input the finished hypotheses, best first.
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    K, N, eos, ninf = beam_size, batch_size, eos_id, float("-inf")
    limit = _limits(max_lengths, N)
    dev = device if device is not None else getattr(_first_tensor(state), "device", "cpu")

    def lp(n_tokens: int) -> float:
        return gnmt_length_penalty(n_tokens, length_penalty)

    state = reorder(state, torch.arange(N, device=dev).repeat_interleave(K))  # N*K rows
    scores: Tensor | None = None  # (N, K) log p of the live beams
    tokens = torch.full((N * K, 1), bos_id, dtype=torch.long, device=dev)  # (M, t+1)
    finished: list[list[Hypothesis]] = [[] for _ in range(N)]
    active = [True] * N
    for t in range(max(limit)):
        logp, state = step(tokens[:, -1], state)
        V = logp.shape[-1]
        logp = logp.reshape(N, K, V).clone()  # (N, K, V), changed in place below
        if scores is None:
            scores = torch.full((N, K), ninf, device=dev, dtype=logp.dtype)
            scores[:, 0] = 0.0  # all K rows start identical: only the first one is expanded
        for n in range(N):
            if not active[n]:
                logp[n] = ninf
            elif t == limit[n] - 1:  # forced end at the length limit
                keep = logp[n, :, eos].clone()
                logp[n] = ninf
                logp[n, :, eos] = keep
            elif t < min_length:
                logp[n, :, eos] = ninf
        cand = (scores.unsqueeze(2) + logp).view(N, K * V)  # (N, K*V)
        top_s, top_i = cand.topk(min(2 * K, K * V), dim=1)  # (N, 2K): enough to keep K live ones
        beam_idx, tok = top_i // V, top_i % V
        ns = [[ninf] * K for _ in range(N)]  # the next live beams: score, source row, token
        nr = [[n * K] * K for n in range(N)]
        nt = [[eos] * K for _ in range(N)]  # a dead beam's token is never read (its score stays -inf)
        ts, tb, tt = top_s.tolist(), beam_idx.tolist(), tok.tolist()
        for n in range(N):
            if not active[n]:
                continue
            live = 0
            for rank, (s, b, w) in enumerate(zip(ts[n], tb[n], tt[n], strict=True)):
                if s == ninf or live == K:
                    break
                if w == eos:
                    if rank < K:  # an EOS among the best K candidates ends a hypothesis
                        ids = tokens[n * K + b, 1:].tolist()
                        finished[n].append(Hypothesis(ids, s / lp(len(ids) + 1)))
                    continue
                ns[n][live], nr[n][live], nt[n][live] = s, n * K + b, w
                live += 1
            best_done = max((f.score for f in finished[n]), default=ninf)
            if live == 0 or len(finished[n]) >= K:
                active[n] = False
            elif early_stop and best_done >= ns[n][0] / lp(limit[n]):
                active[n] = False  # no live beam can beat the best finished one (bound above)
        if not any(active):
            break
        rows = torch.tensor(nr, dtype=torch.long, device=dev).view(-1)  # (M,)
        state = reorder(state, rows)
        new_tok = torch.tensor(nt, dtype=torch.long, device=dev).view(-1, 1)
        tokens = torch.cat([tokens.index_select(0, rows), new_tok], dim=1)  # (M, t+2)
        scores = torch.tensor(ns, device=dev, dtype=logp.dtype)  # (N, K)
    for n in range(N):
        finished[n].sort(key=lambda f: -f.score)
    return finished


__all__ = ["Hypothesis", "beam_search", "gnmt_length_penalty", "greedy_search", "length_limits", "select_rows"]
