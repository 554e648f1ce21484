"""Connectionist temporal classification (Graves et al. 2006): the pieces the connected-speech task uses.

    greedy_decode   best-path decoding (sec. 3.2): the most probable label per frame, repeats collapsed, blanks
                    dropped
    beam_decode     prefix beam search (sec. 3.2 "prefix search decoding"; as in Hannun et al. 2014, no language
                    model): keeps the ``beam`` most probable label prefixes, each with the probability of all the
                    paths that collapse to it, split into paths ending in a blank and ending in its last label
    edit_distance   Levenshtein distance between two token sequences (insertions, deletions, substitutions)
    error_rates     WER over tokens and CER over the characters of the space-joined text, both as
                    (summed distances) / (summed reference lengths), the way jiwer pools a corpus

The blank is label 0; real labels are 1..V. Shape letters: N batch, T frames, V labels (+1 for the blank).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

BLANK = 0


def greedy_decode(log_probs: np.ndarray, length: int | None = None) -> list[int]:
    """(T, V+1) frame log-probabilities (or any scores) -> label ids: the argmax path with repeats collapsed and
    blanks removed, over the first ``length`` frames."""
    best = np.asarray(log_probs)[: length if length is not None else None].argmax(-1)  # (T,)
    out, prev = [], BLANK
    for k in best.tolist():
        if k != prev and k != BLANK:  # a repeat counts once unless a blank separates the two
            out.append(k)
        prev = k
    return out


def beam_decode(log_probs: np.ndarray, beam: int = 8, length: int | None = None) -> list[int]:
    """(T, V+1) frame log-probabilities -> the label ids of the most probable prefix kept by a width-``beam`` prefix
    beam search over the first ``length`` frames (exact for a beam as wide as the number of prefixes)."""
    lp = np.asarray(log_probs, dtype=np.float64)[: length if length is not None else None].tolist()
    beams: dict[tuple[int, ...], list[float]] = {(): [0.0, NINF]}  # prefix -> [log p ends blank, ends its label]
    for frame in lp:
        nxt: dict[tuple[int, ...], list[float]] = {}
        for prefix, (pb, pl) in beams.items():
            _add(nxt, prefix, 0, _lse(pb, pl) + frame[BLANK])  # a blank: the prefix is unchanged
            for k in range(1, len(frame)):
                if prefix and prefix[-1] == k:
                    _add(nxt, prefix, 1, pl + frame[k])  # k repeated with no blank between: still one k
                    _add(nxt, (*prefix, k), 1, pb + frame[k])  # k after a blank: a second k
                else:
                    _add(nxt, (*prefix, k), 1, _lse(pb, pl) + frame[k])
        beams = dict(sorted(nxt.items(), key=lambda kv: -_lse(*kv[1]))[:beam])
    return list(max(beams.items(), key=lambda kv: _lse(*kv[1]))[0])


NINF = float("-inf")


def _lse(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) without overflow."""
    if a == NINF:
        return b
    if b == NINF:
        return a
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def _add(table: dict[tuple[int, ...], list[float]], prefix: tuple[int, ...], which: int, value: float) -> None:
    cur = table.setdefault(prefix, [NINF, NINF])
    cur[which] = _lse(cur[which], value)


def collapse(path: Sequence[int]) -> list[int]:
    """The labelling of one frame-level path (the CTC map B: merge repeats, then drop blanks)."""
    out, prev = [], BLANK
    for k in path:
        if k != prev and k != BLANK:
            out.append(k)
        prev = k
    return out


def edit_distance(ref: Sequence, hyp: Sequence) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions turning ``ref`` into ``hyp``."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))  # delete, insert, substitute
        prev = cur
    return prev[-1]


def error_rates(refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]]) -> dict[str, float]:
    """Corpus WER and CER (pooled: total edits / total reference length) and the share of exact strings."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    w = sum(edit_distance(r, h) for r, h in zip(refs, hyps, strict=True))
    c = sum(edit_distance(" ".join(r), " ".join(h)) for r, h in zip(refs, hyps, strict=True))
    nw = sum(len(r) for r in refs)
    nc = sum(len(" ".join(r)) for r in refs)
    exact = sum(list(r) == list(h) for r, h in zip(refs, hyps, strict=True))
    return {"wer": w / max(nw, 1), "cer": c / max(nc, 1), "string_accuracy": exact / max(len(refs), 1)}
