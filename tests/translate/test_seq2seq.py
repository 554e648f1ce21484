"""Seq2Seq: padding never leaks into outputs, beam search == exhaustive search, teacher forcing, the loss."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnkit.data.sequences import IGNORE_INDEX
from rnnkit.tasks.translate.model import Seq2Seq, Seq2SeqSpec, padded_loss
from rnnkit.tasks.translate.task import ObjectiveConfig

PAD, BOS, EOS = 1, 2, 3


def make_model(*, attention: str = "general", cell: str = "gru", tgt_vocab: int = 9, seed: int = 0, **kw) -> Seq2Seq:
    torch.manual_seed(seed)
    spec = Seq2SeqSpec(
        src_vocab=10, tgt_vocab=tgt_vocab, cell=cell, embedding_dim=6, hidden_size=8, attention=attention, **kw
    )
    return Seq2Seq(spec).double().eval()


SRC = torch.tensor([[4, 5, 6, 7, 8], [5, 6, 4, PAD, PAD], [9, PAD, PAD, PAD, PAD]])
LENGTHS = torch.tensor([5, 3, 1])
TGT_IN = torch.tensor([[BOS, 4, 5, 6], [BOS, 7, 8, 4], [BOS, 5, 5, 5]])


@pytest.mark.parametrize("attention", ["bahdanau", "dot", "general"])
@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_padding_content_never_changes_outputs(attention: str, cell: str) -> None:
    model = make_model(attention=attention, cell=cell, num_layers=2)
    logits, att = model(SRC, LENGTHS, TGT_IN)
    junk = SRC.clone()
    junk[SRC == PAD] = torch.tensor([9, 4, 8, 5, 7, 6])  # arbitrary real tokens where there was padding
    logits2, att2 = model(junk, LENGTHS, TGT_IN)
    # float64, same batch layout: padded steps are skipped by the runner and masked to -inf before the
    # softmax, so the two runs compute the same numbers; 1e-12 only allows for summation order.
    torch.testing.assert_close(logits2, logits, rtol=0, atol=1e-12)
    torch.testing.assert_close(att2, att, rtol=0, atol=1e-12)
    mask = torch.arange(5)[None, :] >= LENGTHS[:, None]  # (N, S) padded positions
    assert bool((att.masked_select(mask[:, None, :].expand_as(att)) == 0).all())  # exactly zero weight
    # and each sentence alone, unpadded, gives the same outputs (float64: 1e-10 for reduction order)
    for n in range(3):
        L = int(LENGTHS[n])
        alone, att_alone = model(SRC[n : n + 1, :L], LENGTHS[n : n + 1], TGT_IN[n : n + 1])
        torch.testing.assert_close(alone[0], logits[n], rtol=0, atol=1e-10)
        torch.testing.assert_close(att_alone[0], att[n, :, :L], rtol=0, atol=1e-10)


def _exhaustive(model: Seq2Seq, src: torch.Tensor, length: int, max_len: int, alpha: float) -> list:
    """Every hypothesis the decoder may emit (tokens other than PAD/BOS, EOS-terminated, <= max_len with EOS),
    scored by teacher forcing: [(normalised score, ids)] best first."""
    V = model.spec.tgt_vocab
    allowed = [t for t in range(V) if t not in (PAD, BOS, EOS)]
    hyps = [list(p) for k in range(max_len) for p in itertools.product(allowed, repeat=k)]
    T = max_len
    tgt = torch.tensor([[*ids, EOS] + [PAD] * (T - len(ids) - 1) for ids in hyps])  # (M, T)
    M = len(hyps)
    with torch.no_grad():
        logits, _ = model(
            src.expand(M, -1), torch.tensor([length] * M), torch.cat([torch.full((M, 1), BOS), tgt[:, :-1]], 1)
        )
    logp = model._mask_logits(logits).log_softmax(-1).gather(2, tgt.unsqueeze(2)).squeeze(2)  # (M, T)
    real = torch.arange(T)[None, :] <= torch.tensor([len(ids) for ids in hyps])[:, None]  # up to and with EOS
    total = torch.where(real, logp, 0.0).sum(1)  # teacher-forced log p(ids + EOS)
    out = [(float(total[m]) / ((5.0 + len(ids) + 1) / 6.0) ** alpha, ids) for m, ids in enumerate(hyps)]
    return sorted(out, key=lambda x: -x[0])


@pytest.mark.parametrize("alpha", [0.0, 0.6, 2.0])
@pytest.mark.parametrize("attention", ["bahdanau", "general"])
def test_beam_search_equals_exhaustive_search(alpha: float, attention: str) -> None:
    # vocabulary <unk> <pad> <sos> <eos> a b: 3 emittable tokens + EOS, at most 4 outputs with EOS -> 40 hypotheses
    model = make_model(attention=attention, tgt_vocab=6, seed=3)
    with torch.no_grad():  # a peaky hand-fixed output layer, so the hypotheses' scores are well separated
        model.out.weight.mul_(8.0)
    src, lengths = SRC[1:2, :3], LENGTHS[1:2]
    ref = _exhaustive(model, src, 3, 4, alpha)
    assert len(ref) == 40
    full = model.beam_search(src, lengths, beam_size=40, length_penalty=alpha, max_len=4, early_stop=False)[0]
    # a beam as wide as the hypothesis space finds all of them, with the teacher-forced scores (float64: 1e-9)
    assert sorted(tuple(i) for i, _ in full) == sorted(tuple(i) for _, i in ref)
    for (ids, s), (s_ref, ids_ref) in zip(full, ref, strict=True):
        assert ids == ids_ref
        assert s == pytest.approx(s_ref, abs=1e-9)
    # early stopping on the bound never loses the best one
    best = model.beam_search(src, lengths, beam_size=40, length_penalty=alpha, max_len=4, early_stop=True)[0][0]
    assert best[0] == ref[0][1] and best[1] == pytest.approx(ref[0][0], abs=1e-9)


def test_batched_beam_search_equals_one_sentence_at_a_time() -> None:
    model = make_model(seed=1)
    batched = model.beam_search(SRC, LENGTHS, beam_size=3, length_penalty=0.6, max_len=6)
    for n in range(3):
        L = int(LENGTHS[n])
        alone = model.beam_search(SRC[n : n + 1, :L], LENGTHS[n : n + 1], beam_size=3, length_penalty=0.6, max_len=6)
        assert [ids for ids, _ in alone[0]] == [ids for ids, _ in batched[n]]
        assert [s for _, s in alone[0]] == pytest.approx([s for _, s in batched[n]], abs=1e-9)


def test_greedy_respects_length_limit_and_matches_a_width_one_first_step() -> None:
    model = make_model(seed=2)
    ids, att = model.greedy(SRC, LENGTHS, max_len_ratio=1.0, max_len=50)
    limits = Seq2Seq.max_lengths(LENGTHS, max_len_ratio=1.0, max_len=50).tolist()  # ceil(S) + 1, EOS included
    assert limits == [6, 4, 2]
    for n in range(3):
        assert len(ids[n]) <= limits[n] - 1
        assert att[n].shape == (len(ids[n]) + (1 if len(ids[n]) < limits[n] else 0), int(LENGTHS[n]))
        torch.testing.assert_close(att[n].sum(1), torch.ones(att[n].shape[0], dtype=torch.float64))


def test_scheduled_sampling_feeds_the_models_own_argmax() -> None:
    model = make_model(seed=4)
    own, _ = model(SRC, LENGTHS, TGT_IN, teacher_forcing=0.0)  # every step after the first: own argmax
    fed = torch.cat([TGT_IN[:, :1], own[:, :-1].argmax(-1)], dim=1)  # (N, T) what was fed
    gold_forced, _ = model(SRC, LENGTHS, fed, teacher_forcing=1.0)
    torch.testing.assert_close(own, gold_forced, rtol=0, atol=1e-12)  # same computation, float64
    obj = ObjectiveConfig(teacher_forcing=1.0, teacher_forcing_end=0.5, decay_steps=100)
    assert [obj.ratio(s) for s in (0, 50, 100, 1000)] == pytest.approx([1.0, 0.75, 0.5, 0.5])


def test_loss_ignores_padded_positions_and_smooths_labels() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 5, dtype=torch.float64)
    target = torch.tensor([[1, 4, IGNORE_INDEX], [2, IGNORE_INDEX, IGNORE_INDEX]])
    real = [(0, 0, 1), (0, 1, 4), (1, 0, 2)]
    by_hand = -sum(float(logits[n, t].log_softmax(0)[y]) for n, t, y in real) / 3
    assert float(padded_loss(logits, target, ignore_index=IGNORE_INDEX)) == pytest.approx(by_hand, abs=1e-12)
    changed = logits.clone()
    changed[0, 2] += 100.0
    changed[1, 1:] -= 50.0
    assert float(padded_loss(changed, target, ignore_index=IGNORE_INDEX)) == pytest.approx(by_hand, abs=1e-12)
    eps = 0.1  # label smoothing: (1 - eps) * NLL + eps * mean over classes of -log p (Szegedy et al. 2016 §7)
    smooth = (
        sum(
            -(1 - eps) * float(logits[n, t].log_softmax(0)[y]) - eps * float(logits[n, t].log_softmax(0).mean())
            for n, t, y in real
        )
        / 3
    )
    got = float(padded_loss(logits, target, ignore_index=IGNORE_INDEX, label_smoothing=eps))
    assert got == pytest.approx(smooth, abs=1e-12)


def test_shared_and_tied_embeddings() -> None:
    m = make_model(tgt_vocab=10, share_embeddings=True, tie_output=True)
    assert m.tgt_embedding is m.encoder.embedding
    assert m.out.weight is m.tgt_embedding.weight
    assert m.proj is not None  # H=8 != E=6: projection before the tied output matrix
    logits, _ = m(SRC, LENGTHS, TGT_IN)
    assert logits.shape == (3, 4, 10)
    with pytest.raises(ValueError, match="share_embeddings needs one joint vocabulary"):
        Seq2SeqSpec(src_vocab=10, tgt_vocab=9, share_embeddings=True)
    with pytest.raises(ValueError, match="attention must be one of"):
        Seq2SeqSpec(src_vocab=10, tgt_vocab=9, attention="cosine")
    with pytest.raises(ValueError, match="hidden_size must be even"):
        Seq2SeqSpec(src_vocab=10, tgt_vocab=9, hidden_size=7)


def test_every_parameter_gets_a_gradient() -> None:
    m = make_model(attention="bahdanau", cell="lstm", num_layers=2)
    m.train()
    logits, _ = m(SRC, LENGTHS, TGT_IN)
    logits.sum().backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    assert missing == []


def test_the_old_seq2seq_names_warn_and_forward() -> None:
    """rnnkit.models.seq2seq was split in 0.2: its names still import from there for one release, with a warning."""
    import rnnkit.models.seq2seq as old
    from rnnkit.models import attention
    from rnnkit.tasks.translate import model

    homes = {"ATTENTIONS": attention, "Attention": attention, "DecoderState": model, "Seq2Seq": model}
    homes.update({"Seq2SeqSpec": model, "count_parameters": model, "padded_loss": model})
    for name, home in homes.items():
        with pytest.warns(DeprecationWarning, match=f"rnnkit.models.seq2seq.{name} moved to {home.__name__}"):
            assert getattr(old, name) is getattr(home, name)
    with pytest.raises(AttributeError, match="has no attribute 'beam_search'"):
        old.beam_search  # noqa: B018 - never a name of the old module
