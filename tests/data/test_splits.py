"""rnnkit.data.splits: the seeded orders are the ones the published recipes drew, and the cuts partition them."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.data import splits


@pytest.mark.parametrize("n, f", [(20_074, 0.15), (10, 0.15), (7, 0.5), (1, 0.3)])
def test_torch_order_and_sizes_are_random_split(n, f):
    """The names tutorial's 85/15 split is torch.utils.data.random_split with a seeded generator: same sizes, same
    members, same order."""
    ref = torch.utils.data.random_split(range(n), [1 - f, f], generator=torch.Generator().manual_seed(2024))
    sizes = splits.random_split_sizes(n, [1 - f, f])
    perm = splits.permutation(n, 2024)
    assert sizes == [len(p) for p in ref]
    assert perm[: sizes[0]] == list(ref[0].indices) and perm[sizes[0] :] == list(ref[1].indices)


def test_numpy_order_is_default_rng():
    assert splits.permutation(50, 7, order="numpy") == np.random.default_rng(7).permutation(50).tolist()
    with pytest.raises(ValueError, match="order must be"):
        splits.permutation(5, 0, order="python")


@given(st.integers(1, 200), st.integers(2, 12), st.integers(0, 2**31 - 1))
def test_kfold_parts_partition_the_data(n, folds, seed):
    perm = splits.permutation(n, seed, order="numpy")
    tests = []
    for fold in range(folds):
        train, test = splits.kfold(perm, folds, fold)
        assert sorted(train + test) == list(range(n))
        tests += test
    assert sorted(tests) == list(range(n))  # every example is tested exactly once


@given(st.lists(st.integers(), min_size=1, max_size=50), st.data())
def test_held_out_takes_k_in_order(items, data):
    k = data.draw(st.integers(0, len(items)))
    perm = splits.permutation(len(items), 0)
    rest, held = splits.held_out(items, k, perm)
    assert held == [items[i] for i in perm[:k]] and rest == [items[i] for i in perm[k:]]
