"""Sampling distributions against hand-computed ones, FastDecoder against the model, seeded determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnkit.data.text import Vocab
from rnnkit.layout import CellOptions
from rnnkit.registry import cell_names
from rnnkit.tasks.lm.decoder import FastDecoder
from rnnkit.tasks.lm.generate import generate, next_token_probs, sample
from rnnkit.tasks.lm.model import RecurrentLM

LOGITS = np.array([2.0, 1.0, 0.0, -1.0])
E = [math.exp(v) for v in LOGITS]
SOFTMAX = np.array(E) / sum(E)  # [0.6439, 0.2369, 0.0871, 0.0321]


def test_plain_and_temperature():
    np.testing.assert_allclose(next_token_probs(LOGITS), SOFTMAX, rtol=1e-12)  # float64 throughout
    e2 = [math.exp(v / 2) for v in LOGITS]
    np.testing.assert_allclose(next_token_probs(LOGITS, temperature=2.0), np.array(e2) / sum(e2), rtol=1e-12)
    assert next_token_probs(LOGITS, temperature=0).tolist() == [1.0, 0.0, 0.0, 0.0]  # greedy


def test_top_k_by_hand():
    p = next_token_probs(LOGITS, top_k=2)
    np.testing.assert_allclose(p, [E[0] / (E[0] + E[1]), E[1] / (E[0] + E[1]), 0, 0], rtol=1e-12)
    # ties at the k-th value keep the lower id
    assert next_token_probs(np.zeros(4), top_k=1).tolist() == [1.0, 0.0, 0.0, 0.0]
    np.testing.assert_allclose(next_token_probs(LOGITS, top_k=10), SOFTMAX, rtol=1e-12)  # k >= V: no-op


def test_top_p_by_hand():
    # sorted mass: 0.644, 0.881, 0.968, 1.0 -> p=0.7 needs the first two tokens; p=0.6 only the first
    p = next_token_probs(LOGITS, top_p=0.7)
    np.testing.assert_allclose(p, [E[0] / (E[0] + E[1]), E[1] / (E[0] + E[1]), 0, 0], rtol=1e-12)
    assert next_token_probs(LOGITS, top_p=0.6).tolist() == [1.0, 0.0, 0.0, 0.0]
    p = next_token_probs(LOGITS, top_p=0.95)  # 0.968 >= 0.95: three tokens
    np.testing.assert_allclose(p, [*(np.array(E[:3]) / sum(E[:3])), 0], rtol=1e-12)
    # top-k first, then top-p on the renormalised distribution: k=3 gives 0.705, 0.259, 0.095 -> p=0.9 keeps 2
    p = next_token_probs(LOGITS, top_k=3, top_p=0.9)
    assert (p > 0).tolist() == [True, True, False, False]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"temperature": -1}, r"--temperature must be a finite number >= 0 \(0 = greedy.*got -1"),
        ({"temperature": float("inf")}, r"--temperature must be a finite number >= 0 .*got inf"),
        ({"temperature": float("nan")}, r"--temperature must be a finite number >= 0 .*got nan"),
        ({"top_k": 0}, r"--top-k must be an integer >= 1"),
        ({"top_k": 2.5}, r"--top-k must be an integer >= 1"),
        ({"top_p": 1.5}, r"--top-p must be in \(0, 1\]"),
        ({"top_p": 0.0}, r"--top-p must be in \(0, 1\]"),
        ({"top_p": float("nan")}, r"--top-p must be in \(0, 1\]"),
    ],
)
def test_sampling_options_are_validated(options, message):
    with pytest.raises(ValueError, match=message):
        next_token_probs(LOGITS, **options)
    next_token_probs(LOGITS, temperature=0, top_k=np.int64(1), top_p=1.0)  # the edges of each range are allowed


def test_sample_frequencies_match_the_distribution():
    rng = np.random.default_rng(0)
    n = 20000
    counts = np.bincount([sample(SOFTMAX, rng) for _ in range(n)], minlength=4) / n
    # binomial std sqrt(p(1-p)/n) <= 0.0036: 4 sigma is 0.015
    np.testing.assert_allclose(counts, SOFTMAX, atol=0.015)
    assert sample(np.array([0.0, 0.0, 1.0]), rng) == 2  # zero-mass tokens are never drawn


@pytest.mark.parametrize("cell", cell_names("nn"))
def test_fast_decoder_matches_the_model(cell):
    torch.manual_seed(0)
    m = RecurrentLM(23, cell=cell, embedding_dim=8, hidden_size=12, num_layers=2, dropout=0.5).eval()
    ids = torch.randint(0, 23, (1, 15))
    with torch.no_grad():
        ref = m(ids)[0][0].numpy()  # (T, V) full-sequence forward
    dec = FastDecoder(m)
    got = np.stack([dec.step(int(t)).copy() for t in ids[0]])
    # float32 on both sides, different summation order: ~1e-6 relative to the logit scale
    np.testing.assert_allclose(got, ref, atol=1e-5 * max(1.0, np.abs(ref).max()))
    dec.reset()
    np.testing.assert_allclose(dec.feed(ids[0].numpy()), ref[-1], atol=1e-5 * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize(
    "cell,options,tie",
    [("gru", CellOptions(gru_variant="paper"), False), ("rnn", CellOptions(nonlinearity="relu"), True)],
)
def test_fast_decoder_options_and_tied_projection(cell, options, tie):
    torch.manual_seed(1)
    m = RecurrentLM(17, cell=cell, embedding_dim=6, hidden_size=10, num_layers=3, options=options, tie_weights=tie)
    m.eval()
    ids = torch.randint(0, 17, (1, 9))
    with torch.no_grad():
        ref = m(ids)[0][0].numpy()
    dec = FastDecoder(m)
    got = np.stack([dec.step(int(t)).copy() for t in ids[0]])
    np.testing.assert_allclose(got, ref, atol=1e-5 * max(1.0, np.abs(ref).max()))
    with pytest.raises(ValueError, match=r"token id 17 is outside the vocabulary of 17"):
        dec.step(17)


def _tiny_lm(vocab: Vocab) -> RecurrentLM:
    torch.manual_seed(0)
    return RecurrentLM(len(vocab), cell="lstm", embedding_dim=8, hidden_size=16)


def test_generation_is_deterministic_with_a_seed():
    vocab = Vocab.build("abcdefgh ijkl\n", level="char")
    m = _tiny_lm(vocab)
    a = list(generate(m, vocab, prompt="abc", length=60, seed=3))
    b = list(generate(m, vocab, prompt="abc", length=60, seed=3))
    c = list(generate(m, vocab, prompt="abc", length=60, seed=4))
    assert a == b and len(a) == 60 and all(len(p) == 1 for p in a)  # one character per streamed piece
    assert a != c  # 60 draws over 14 symbols: equal by chance with negligible probability
    greedy = "".join(generate(m, vocab, prompt="abc", length=20, temperature=0))
    assert greedy == "".join(generate(m, vocab, prompt="abc", length=20, temperature=0, seed=99))


def test_generation_prompt_fallback_and_errors():
    vocab = Vocab.build("abc\n", level="char")
    m = _tiny_lm(vocab)
    with pytest.warns(UserWarning, match=r"prompt has 1 char\(s\) outside the vocabulary.*'Z'.*read as <unk>"):
        out = "".join(generate(m, vocab, prompt="aZ", length=5, seed=0))
    assert len(out) == 5
    with pytest.raises(ValueError, match=r"prompt has 1 char\(s\) outside"):
        list(generate(m, vocab, prompt="aZ", length=5, strict=True))
    with pytest.raises(ValueError, match=r"length must be >= 0"):
        list(generate(m, vocab, length=-1))
    assert len("".join(generate(m, vocab, prompt="", length=7, seed=0))) == 7  # empty prompt: starts at "\n"
    with pytest.raises(ValueError, match=r"the model predicts 5 tokens but the vocabulary has 4"):
        list(generate(m, Vocab.build("ab\n", level="char"), prompt="a", length=3))


def test_word_level_generation_joins_words():
    vocab = Vocab.build("the cat sat\nthe dog ran\n", level="word")
    m = _tiny_lm(vocab)
    pieces = list(generate(m, vocab, prompt="the", length=30, seed=0))
    words = ["<eos>" if p == "\n" else p.strip() for p in pieces]
    assert len(pieces) == 30 and all(w in vocab.stoi and w != "<unk>" for w in words)  # one token per piece
    # the streamed pieces are exactly the decoded token sequence (spaces between words, <eos> as a newline)
    assert "the" + "".join(pieces) == vocab.decode([vocab.stoi["the"], *(vocab.stoi[w] for w in words)])


def test_blas_thread_choice_is_local_to_the_step():
    from rnnkit.tasks.lm.decoder import blas_threads

    torch.manual_seed(0)
    m = RecurrentLM(9, cell="lstm", embedding_dim=4, hidden_size=8).eval()
    dec = FastDecoder(m)
    blas = blas_threads()
    if not blas.available:
        pytest.skip("NumPy's BLAS is not an OpenBLAS this process can reach")
    # None: NumPy's BLAS has one thread (e.g. OMP_NUM_THREADS=1), so calibrate had nothing to choose between
    assert dec.threads in ((None,) if blas.default <= 1 else (1, blas.default))
    ref = dec.step(3).copy()
    for n in (1, blas.default):
        dec.threads = n
        dec.reset()
        np.testing.assert_allclose(dec.step(3), ref, rtol=1e-6, atol=1e-7)  # float32, any BLAS split
        assert blas.get() == blas.default  # restored after the step


def test_fast_decoder_adaptive_softmax_log_probabilities():
    torch.manual_seed(2)
    m = RecurrentLM(
        40,
        cell="lstm",
        embedding_dim=8,
        hidden_size=16,
        num_layers=2,
        adaptive_cutoffs=[6, 15, 30],
        adaptive_div_value=2.0,
    )
    m.eval()
    ids = torch.randint(0, 40, (1, 12))
    with torch.no_grad():
        ref = m(ids)[0][0].numpy()  # (T, V): torch's AdaptiveLogSoftmaxWithLoss.log_prob
    dec = FastDecoder(m)
    got = np.stack([dec.step(int(t)).copy() for t in ids[0]])
    np.testing.assert_allclose(got, ref, atol=1e-5)  # float32 both sides; log-probs are O(1..10)
    np.testing.assert_allclose(np.exp(got.astype(np.float64)).sum(1), 1.0, atol=1e-5)
    # sampling reads them as logits: the distribution is the model's own
    np.testing.assert_allclose(next_token_probs(got[-1]), np.exp(ref[-1].astype(np.float64)), atol=1e-6)
    vocab = Vocab(["<unk>", *(f"w{i}" for i in range(39))], level="word")
    a = "".join(generate(m, vocab, prompt="w1 w2 ", length=20, seed=1, top_k=10))
    assert a == "".join(generate(m, vocab, prompt="w1 w2 ", length=20, seed=1, top_k=10)) and len(a.split()) == 20
