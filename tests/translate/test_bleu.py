"""Corpus BLEU / chrF are sacreBLEU's defaults (13a, case-sensitive), with the signature of what was done."""

from __future__ import annotations

import pytest
import sacrebleu

from rnnkit.tasks.translate.task import corpus_scores

HYPS = ["the cat sat on the mat .", "there is a dog in the garden", "i m cold .", "he is not here ."]
REFS = ["the cat is on the mat .", "a dog is in the garden", "i am cold .", "he is not here ."]


def test_bleu_and_chrf_match_sacrebleu_on_fixed_strings() -> None:
    got = corpus_scores(HYPS, REFS)
    assert got["bleu"] == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS]).score, abs=1e-12)
    assert got["chrf"] == pytest.approx(sacrebleu.corpus_chrf(HYPS, [REFS]).score, abs=1e-12)
    # by hand: clipped n-gram matches 20/23, 12/19, 6/15, 3/11 (13a leaves these strings as they are),
    # hypothesis longer than the reference so BP = 1; BLEU = 100 * geometric mean of the four precisions
    by_hand = 100 * (20 / 23 * 12 / 19 * 6 / 15 * 3 / 11) ** 0.25
    assert got["bleu"] == pytest.approx(by_hand, abs=1e-9)
    assert got["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert "nc:6" in got["chrf_signature"]


def test_perfect_and_empty_outputs() -> None:
    assert corpus_scores(REFS, REFS)["bleu"] == pytest.approx(100.0)
    assert corpus_scores(REFS, REFS)["chrf"] == pytest.approx(100.0)
    assert corpus_scores([""] * 4, REFS)["bleu"] == 0.0
    with pytest.raises(ValueError, match="3 hypotheses but 4 references"):
        corpus_scores(HYPS[:3], REFS)


def test_case_counts() -> None:
    """The headline score is case-sensitive, as its signature (case:mixed) says: lowercased output loses."""
    refs = ["The cat sat on the mat.", "He is not here."]
    lower = corpus_scores([r.lower() for r in refs], refs)
    assert corpus_scores(refs, refs)["bleu"] == pytest.approx(100.0) and lower["bleu"] < 80
    assert lower["bleu"] == pytest.approx(sacrebleu.corpus_bleu([r.lower() for r in refs], [refs]).score)
    assert "case:mixed" in lower["bleu_signature"] and "case:lc" not in lower["bleu_signature"]


def tiny(**data: object):
    from rnnkit.config import apply_overrides
    from rnnkit.tasks.translate.task import Translator, TranslatorConfig

    over = {"model.hidden_size": 8, "model.embed_size": 4, "decode.beam_size": 1, "decode.max_len": 6}
    tr = Translator(apply_overrides(TranslatorConfig(), {**over, **{f"data.{k}": v for k, v in data.items()}}))
    tr.prepare(PAIRS)
    tr.model = tr.build_model()
    return tr


PAIRS = [("Je suis là.", "I'm here."), ("Il est grand !", "He is tall!"), ("Tu es en retard.", "You are late.")]


def test_reports_say_what_was_compared() -> None:
    cased = tiny().evaluate(PAIRS)
    assert cased["output"] == "detokenised, cased" and cased["references"] == "raw" and "bleu_normalised" not in cased
    lower = tiny(lowercase=True).evaluate(PAIRS)
    assert lower["output"] == "detokenised, lowercased" and lower["normalised_text"] == "raw text, lowercased"
    assert {"bleu_normalised", "chrf_normalised"} <= set(lower)
    tut = tiny(normalize="tutorial").evaluate(PAIRS)
    assert tut["output"] == "detokenised, lowercased" and tut["normalised_text"].startswith("tutorial")


def test_validation_bleu_leaves_the_model_training() -> None:
    tr = tiny()
    tr.model.train()
    got = tr.val_metrics(PAIRS)(tr.model)
    assert set(got) == {"val_bleu", "val_chrf"} and tr.model.training  # dropout stays on for the next steps
