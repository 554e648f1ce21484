"""Token streams: batchify layout, ordered TBPTT chunks, variable length, deterministic resume."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.streams import Chunk, TokenStream, batchify


def test_batchify_matches_docstring_diagram():
    data = batchify(list(range(25)), 4)  # a..y as 0..24
    assert data.shape == (4, 6) and data.dtype == torch.long
    assert data[1].tolist() == [6, 7, 8, 9, 10, 11]  # row 1 = g h i j k l; the tail "y" (24) dropped
    chunks = list(TokenStream(list(range(25)), batch_size=4, bptt=2))
    assert chunks[0].x.tolist() == [[0, 1], [6, 7], [12, 13], [18, 19]]
    assert chunks[0].y.tolist() == [[1, 2], [7, 8], [13, 14], [19, 20]]
    assert [c.seq_len for c in chunks] == [2, 2, 1]  # 5 positions with a target: 2 + 2 + 1


def test_batchify_errors():
    with pytest.raises(ValueError, match="too short for 8 rows"):
        batchify(list(range(10)), 8)
    with pytest.raises(ValueError, match="1-D token stream"):
        batchify(torch.zeros(3, 3, dtype=torch.long), 1)
    with pytest.raises(ValueError, match="bptt must be > 0"):
        TokenStream(list(range(10)), batch_size=1, bptt=0)


@settings(max_examples=60, deadline=None)
@given(
    L=st.integers(4, 300),
    N=st.integers(1, 6),
    bptt=st.integers(1, 40),
    variable=st.booleans(),
    seed=st.integers(0, 5),
    epoch=st.integers(0, 3),
)
def test_chunks_tile_the_rows_in_order(L, N, bptt, variable, seed, epoch):
    if L // N < 2:
        return
    s = TokenStream(torch.arange(L), batch_size=N, bptt=bptt, variable=variable, seed=seed)
    chunks = list(s.epoch(epoch))
    # concatenating the chunks over time gives back every row: inputs data[:, :-1], targets data[:, 1:]
    assert torch.equal(torch.cat([c.x for c in chunks], 1), s.data[:, :-1])
    assert torch.equal(torch.cat([c.y for c in chunks], 1), s.data[:, 1:])
    assert all(c.x.shape == (N, c.seq_len) for c in chunks)
    if not variable:
        assert len(chunks) == len(s) and all(c.lr_scale == 1.0 for c in chunks)
    else:
        assert all(c.lr_scale == pytest.approx(c.seq_len / bptt) for c in chunks)
        assert all(c.seq_len <= bptt + 20 for c in chunks)
    # resumable: starting at chunk k gives the tail of the same epoch
    k = len(chunks) // 2
    tail = list(s.epoch(epoch, start=k))
    assert len(tail) == len(chunks) - k and all(torch.equal(a.x, b.x) for a, b in zip(tail, chunks[k:], strict=True))


def test_variable_bptt_distribution_and_determinism():
    s = TokenStream(torch.arange(200_000), batch_size=2, bptt=70, variable=True, seed=3)
    a, b = s.lengths(0), s.lengths(0)
    assert a == b and s.lengths(1) != a  # replayable; differs by epoch
    body = torch.tensor(a[:-1], dtype=torch.float)
    assert body.min() >= 5 and body.max() <= 90
    # mixture 0.95 * N(70, 5) + 0.05 * N(35, 5), floored by int(): mean ~ 0.95*70 + 0.05*35 - 0.5 = 67.75
    assert abs(body.mean().item() - 67.75) < 0.5  # ~1400 draws, sd of the mean ~0.2
    assert ((body < 52).float().mean().item() - 0.05) ** 2 < 0.02**2  # half-length draws are ~5%


def test_chunk_is_a_namedtuple_batch():
    c = next(iter(TokenStream(torch.arange(50), batch_size=2, bptt=5)))
    assert isinstance(c, Chunk) and c._fields == ("x", "y", "seq_len", "lr_scale")
