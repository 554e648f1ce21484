"""The NADE output of the music task: a normalised distribution over all 2^K chords, exact float64 gradients,
sampling that draws from the distribution it scores, and better NLL than independent keys where keys move together."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from rnnkit.config import ConfigError, apply_overrides
from rnnkit.tasks.music.data import collate
from rnnkit.tasks.music.model import NadeHead
from rnnkit.tasks.music.task import MusicConfig, MusicModel

K, H, J = 5, 4, 3  # keys, recurrent outputs, NADE hidden units: 2^5 = 32 chords to enumerate


def nade(seed: int = 0) -> NadeHead:
    torch.manual_seed(seed)
    head = NadeHead(H, K, J).double()
    with torch.no_grad():  # larger than the default init so that the conditionals really depend on the keys below
        head.W.mul_(4.0)
        head.V.mul_(4.0)
    return head


def chord_nll(head: NadeHead, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(..., K) frames -> (...,) NLL in nats: the training loss (binary cross-entropy summed over the keys)."""
    return F.binary_cross_entropy_with_logits(head.logits(u, x), x, reduction="none").sum(-1)


def all_chords(k: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=k)), dtype=torch.float64)  # (2^k, k)


def test_probabilities_of_all_chords_sum_to_one():
    head, chords = nade(), all_chords(K)
    u = torch.randn(3, H, dtype=torch.float64)  # three different conditioning states
    for n in range(3):
        with torch.no_grad():
            p = torch.exp(-chord_nll(head, u[n].expand(len(chords), H), chords))  # (32,)
        assert float(p.sum()) == pytest.approx(1.0, abs=1e-12)  # float64: only rounding error
        assert float(p.max()) > 2.0 / len(chords)  # not the uniform distribution, so the sum tests something


def test_a_key_depends_only_on_the_keys_below_it():
    head, u = nade(), torch.randn(1, H, dtype=torch.float64)
    x = torch.zeros(1, K, dtype=torch.float64)
    y = x.clone()
    y[0, 2] = 1.0  # flip key 2: logits of keys 0..2 unchanged, of keys 3.. changed
    lx, ly = head.logits(u, x), head.logits(u, y)
    assert torch.equal(lx[0, :3], ly[0, :3]) and not torch.allclose(lx[0, 3:], ly[0, 3:])


def test_gradients_are_exact_in_float64():
    """Autograd through the cumulative sums against central finite differences, on u and every parameter."""
    head = nade()
    names = [n for n, _ in head.named_parameters()]
    u = torch.randn(2, 3, H, dtype=torch.float64, requires_grad=True)  # (N, T, H)
    x = torch.bernoulli(torch.full((2, 3, K), 0.5, dtype=torch.float64), generator=torch.Generator().manual_seed(1))

    def loss(u: torch.Tensor, *ps: torch.Tensor) -> torch.Tensor:
        logits = torch.func.functional_call(head, dict(zip(names, ps, strict=True)), (u, x))
        return F.binary_cross_entropy_with_logits(logits, x, reduction="sum")

    ps = tuple(p.detach().clone().requires_grad_(True) for p in head.parameters())
    assert torch.autograd.gradcheck(loss, (u, *ps), eps=1e-6, atol=1e-8, rtol=1e-6)


def test_segment_logits_equal_the_dense_equations():
    """The fast path (one h per segment between keys down) against ``dense_logits`` (one h per key): logits and
    every gradient, float64, on frames with 0..K keys down, at K = 88 with the default sizes."""
    torch.manual_seed(2)
    head = NadeHead(8, 88, 150).double()
    u = torch.randn(3, 4, 8, dtype=torch.float64, requires_grad=True)
    density = torch.linspace(0, 1, 12, dtype=torch.float64).view(3, 4, 1)  # a share of keys down per frame
    x = (torch.rand(3, 4, 88, dtype=torch.float64) < density).double()
    assert x.sum(-1).min() == 0 and x.sum(-1).max() > 80  # an empty frame and nearly full ones
    fast, dense = head(u, x), head.dense_logits(u, x)
    torch.testing.assert_close(fast, dense, rtol=0, atol=1e-12)  # the same sums in another order
    g = torch.randn_like(fast)
    grads_fast = torch.autograd.grad(fast, (u, *head.parameters()), g)
    grads_dense = torch.autograd.grad(dense, (u, *head.parameters()), g)
    for a, b in zip(grads_fast, grads_dense, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-11)


def test_sampling_draws_from_the_distribution_it_scores():
    """Key-by-key samples of 20,000 frames against the exact chord probabilities (4 standard errors)."""
    head, chords, n = nade(), all_chords(K), 20_000
    u = torch.randn(1, H, dtype=torch.float64)
    exact = torch.exp(-chord_nll(head, u.expand(len(chords), H), chords))  # (32,)
    with torch.no_grad():
        draws = head.sample(u.expand(n, H), generator=torch.Generator().manual_seed(0))  # (n, K)
    code = (draws * 2 ** torch.arange(K - 1, -1, -1, dtype=torch.float64)).sum(1).long()  # chord -> its row
    freq = torch.bincount(code, minlength=len(chords)).double() / n
    assert torch.all((freq - exact).abs() <= 4 * (exact * (1 - exact) / n).sqrt() + 1e-3)


def test_config_refuses_an_unknown_output():
    with pytest.raises(ConfigError, match="model.output"):
        apply_overrides(MusicConfig(), ["model.output=rbm"])


def chord_rolls(pieces: int, frames: int, seed: int) -> list[np.ndarray]:
    """Every frame one of three disjoint triads, drawn independently of the past: the best independent-key model
    scores 9 H(1/3) = 5.73 nats per frame, the best joint model log 3 = 1.10."""
    rng = np.random.default_rng(seed)
    triads = [(39, 43, 46), (40, 44, 47), (41, 45, 48)]  # C, C#, D major at middle C (key = MIDI - 21): 9 keys
    out = []
    for _ in range(pieces):
        r = np.zeros((frames, 88), dtype=np.float32)
        for t, c in enumerate(rng.integers(0, 3, frames)):
            r[t, list(triads[c])] = 1.0
        out.append(r)
    return out


def test_nade_beats_independent_keys_on_chords():
    """Both outputs trained alike (full-batch Adam through the task's own step, 100 steps), scored by evaluate."""
    train, val = chord_rolls(16, 12, 0), chord_rolls(8, 12, 1)
    batch = collate([(r,) for r in train])
    nll, threads = {}, torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: more threads only add synchronisation on a loaded machine
    for output in ("bernoulli", "nade"):
        cfg = apply_overrides(
            MusicConfig(),
            [
                f"model.output={output}",
                "model.hidden_size=16",
                "model.nade_hidden=16",
                "model.head_dropout=0",
                "model.impl=loop",
            ],
        )
        torch.manual_seed(0)
        task = MusicModel(cfg)
        task.model = task.build_model()
        opt = torch.optim.Adam(task.model.parameters(), lr=0.03)
        for _ in range(100):
            opt.zero_grad()
            task.step(task.model, batch, None).loss.backward()
            opt.step()
        nll[output] = task.evaluate(val)["nll"]
    torch.set_num_threads(threads)
    independent_best = 9 * -(np.log(1 / 3) / 3 + np.log(2 / 3) * 2 / 3)  # 5.73: no Bernoulli output can go lower
    assert nll["bernoulli"] > independent_best - 0.3, nll  # 88 scored frames: sampling noise only
    assert nll["nade"] < independent_best - 2.7, nll  # log 3 = 1.10 is the joint model's best (1.9 here in 100 steps)


def test_predict_gives_sampled_marginals_for_the_nade_output():
    """With W = V = 0 the keys are independent, so the exact marginals are sigmoid(b_v): the sampled ones agree."""
    task = MusicModel(apply_overrides(MusicConfig(), ["model.output=nade", "model.hidden_size=8"]))
    task.model = task.build_model()
    with torch.no_grad():
        task.model.head.W.zero_()
        task.model.head.V.zero_()
        task.model.head.to_bv.weight.zero_()
        task.model.head.to_bv.bias.copy_(torch.linspace(-4, 2, 88))
    exact = torch.sigmoid(torch.linspace(-4, 2, 88)).numpy()
    p = task.predict([np.zeros((3, 88), dtype=np.float32)], samples=4000, seed=0)[0]
    assert p.shape == (88,) and np.all(np.abs(p - exact) <= 4 * np.sqrt(exact * (1 - exact) / 4000) + 1e-3)
    assert np.array_equal(p, task.predict([np.zeros((3, 88), dtype=np.float32)], samples=4000, seed=0)[0])
