"""Sharded token streams under DDP: each rank reads only its own contiguous rows of the (memory-mapped) stream,
and gets exactly the chunks that slicing every full chunk would give it (what `shard_batch` did before), so the
2-process == 1-process guarantee of tests/train/test_distributed.py (which trains from a memory map) carries over."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data.streams import TokenStream
from rnnkit.train.data import shard, shard_batch


@pytest.mark.parametrize("variable", [False, True])
@pytest.mark.parametrize("world", [2, 3])
def test_each_rank_reads_its_rows_and_gets_the_sliced_chunks(tmp_path, variable, world):
    ids = np.random.default_rng(0).integers(0, 50, 5000).astype(np.uint16)
    ids.tofile(tmp_path / "t.bin")
    mm = np.memmap(tmp_path / "t.bin", dtype=np.uint16, mode="r")
    full = TokenStream(mm, batch_size=6, bptt=16, variable=variable, seed=3)
    for rank in range(world):
        part = shard(full, rank, world)
        k = 6 // world
        assert isinstance(part, TokenStream) and part.data.shape == (k, full.width)
        assert np.shares_memory(part.data, mm)  # a view: this rank's rows stay on disk until read
        np.testing.assert_array_equal(part.data, full.data[rank * k : (rank + 1) * k])
        for e, start in ((0, 0), (1, 3)):  # a resumed epoch too
            got, want = list(part.epoch(e, start)), [shard_batch(c, rank, world) for c in full.epoch(e, start)]
            assert len(got) == len(want) > 3 and len(part) == len(full)
            for g, w in zip(got, want, strict=True):
                assert g.x.equal(w.x) and g.y.equal(w.y) and (g.seq_len, g.lr_scale) == (w.seq_len, w.lr_scale)


def test_rows_must_divide_among_ranks():
    with pytest.raises(ValueError, match="batch dimension 5 does not divide by the world size 2"):
        TokenStream(np.arange(100), batch_size=5, bptt=4).shard(0, 2)
