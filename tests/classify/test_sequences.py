"""Padding, truncation, the collate and the length-bucketing sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.sequences import IGNORE_INDEX, BucketSampler, PadCollate, collate, pad_sequences, truncate


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(-5, 5), min_size=0, max_size=7), min_size=1, max_size=6))
def test_pad_sequences_round_trip(seqs):
    padded, lengths = pad_sequences(seqs, padding_value=-9)
    assert padded.shape == (len(seqs), max(max(map(len, seqs)), 1))
    for row, n, s in zip(padded, lengths, seqs, strict=True):
        assert row[:n].tolist() == s and (row[n:] == -9).all()


def test_pad_numeric_and_errors():
    p, l = pad_sequences([np.ones((2, 3)), np.zeros((4, 3))])
    assert p.shape == (2, 4, 3) and l.tolist() == [2, 4]
    with pytest.raises(ValueError, match=r"per-step shape \(2,\), sequence 0 has \(3,\)"):
        pad_sequences([np.ones((2, 3)), np.ones((2, 2))])
    with pytest.raises(ValueError, match="got no sequences"):
        pad_sequences([])


def test_truncate_warns_with_count():
    with pytest.warns(UserWarning, match=r"2 of 3 sentences were longer than max_len=2 \(longest 4\)"):
        out, n = truncate([[1, 2, 3], [1], [1, 2, 3, 4]], 2, what="sentences")
    assert n == 2 and out == [[1, 2], [1], [1, 2]]


def test_collate_scalar_and_per_step_targets():
    x, l, y = collate([([1, 2, 3], 1), ([4], 0)])
    assert x.tolist() == [[1, 2, 3], [4, 0, 0]] and l.tolist() == [3, 1] and y.tolist() == [1, 0]
    x, l, y = PadCollate(padding_value=7)([([1, 2], [0, 1]), ([3], [2])])
    assert x.tolist() == [[1, 2], [3, 7]] and y.tolist() == [[0, 1], [2, IGNORE_INDEX]]
    assert y.dtype == torch.long


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=120), st.integers(1, 9), st.integers(1, 4))
def test_bucket_sampler_covers_everything_once(lengths, bs, pool):
    s = BucketSampler(lengths, bs, pool_batches=pool, seed=3)
    batches = list(s)
    assert len(batches) == len(s)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(lengths)))
    assert all(1 <= len(b) <= bs for b in batches)
    s.set_epoch(1)
    assert sorted(i for b in s for i in b) == flat


def test_bucket_sampler_groups_similar_lengths_and_is_deterministic():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 100, 1000).tolist()
    s = BucketSampler(lengths, 20, pool_batches=50, seed=1)
    spread = np.mean([np.ptp([lengths[i] for i in b]) for b in s])
    assert spread < 10  # random batches would spread ~90
    assert list(s) == list(BucketSampler(lengths, 20, pool_batches=50, seed=1))
    s2 = BucketSampler(lengths, 20, pool_batches=50, seed=1)
    s2.set_epoch(1)
    assert list(s) != list(s2)
    assert [len(b) for b in BucketSampler([3, 1, 2], 2, shuffle=False)] == [2, 1]
    assert list(BucketSampler([3, 1, 2], 2, shuffle=False)) == [[1, 2], [0]]
