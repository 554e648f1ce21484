"""Classifier and Tagger through fit() on tiny data: training learns, save -> load gives the same predictions,
bad input (unknown labels, over-long sequences, wrong input kind) gives the documented behaviour."""

from __future__ import annotations

import importlib
from dataclasses import replace

import numpy as np
import pytest
import torch

from rnnkit.config import apply_overrides
from rnnkit.data.readers import ClassificationData, ColumnData
from rnnkit.data.sources import DataError
from rnnkit.moved import MOVED_NAMES
from rnnkit.tasks.classify.config import ClassifierConfig
from rnnkit.tasks.classify.data import kfold_split, random_split
from rnnkit.tasks.classify.task import Classifier
from rnnkit.tasks.tag.config import TaggerConfig
from rnnkit.tasks.tag.task import Tagger

QUIET = ["train.quiet=true", "data.val_fraction=0", "train.log_every=1000"]


def _toy_text(n: int = 60) -> ClassificationData:
    rng = np.random.default_rng(0)
    a = ["".join(rng.choice(list("aeiou"), rng.integers(2, 7))) for _ in range(n)]
    b = ["".join(rng.choice(list("xyzqk"), rng.integers(2, 7))) for _ in range(n)]
    return ClassificationData(a + b, ["vowel"] * n + ["consonant"] * n, "toy")


def test_char_classifier_learns_and_round_trips(tmp_path):
    cfg = apply_overrides(
        ClassifierConfig(),
        [
            *QUIET,
            "model.hidden_size=16",
            "model.embed_size=8",
            "model.pooling=attention",
            "model.cell.name=lstm",
            "model.bidirectional=true",
            "train.epochs=3",
            "train.lr=2e-2",
            "data.batch_size=24",
        ],
    )
    data = _toy_text()
    clf = Classifier(replace(cfg, run_dir=str(tmp_path / "run")))
    clf.fit(data)
    report = clf.evaluate(data)
    assert report["accuracy"] > 0.9  # separable by character set
    top = clf.predict(["aeiea", "zzkq"], k=2)
    assert [t[0][0] for t in top] == ["vowel", "consonant"]
    assert all(abs(sum(p for _, p in t) - 1) < 1e-6 for t in top)  # k = C: probabilities sum to 1
    toks, w = clf.attention("aeiou")
    assert toks == list("aeiou") and w.shape == (5,) and abs(w.sum() - 1) < 1e-5
    again = Classifier.load(tmp_path / "run")
    p1, _ = clf.predict_proba(["aeiea", "zzkq"])
    p2, _ = again.predict_proba(["aeiea", "zzkq"])
    np.testing.assert_allclose(p1, p2, rtol=0, atol=1e-6)  # same weights, float32 on the same path


def test_numeric_classifier_and_class_weights():
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(int(rng.integers(3, 9)), 3)).astype(np.float32) + (2 if i % 2 else -2) for i in range(40)]
    data = ClassificationData(xs, ["hi" if i % 2 else "lo" for i in range(40)], "toy-series")
    cfg = apply_overrides(
        ClassifierConfig(),
        [
            *QUIET,
            "model.input=numeric",
            "model.hidden_size=8",
            "model.pooling=mean",
            "train.epochs=3",
            "train.lr=2e-2",
            "data.class_weights=balanced",
        ],
    )
    clf = Classifier(cfg)
    clf.fit(data)
    assert torch.allclose(clf.net.class_weight, torch.ones(2))  # balanced classes -> weight 1 each
    assert clf.evaluate(data)["accuracy"] > 0.9
    with pytest.raises(DataError, match=r"expected a \(T>0, D=3\) series"):
        clf.predict([np.zeros((4, 2), dtype=np.float32)])


def test_unknown_labels_and_truncation():
    cfg = apply_overrides(ClassifierConfig(), [*QUIET, "model.hidden_size=4", "data.max_len=3"])
    clf = Classifier(cfg)
    with pytest.warns(UserWarning, match=r"were longer than max_len=3"):
        clf.fit(_toy_text(8))
    other = ClassificationData(["aei", "xyz"], ["vowel", "alien"], "eval-set")
    with pytest.raises(DataError, match=r"eval-set: labels \['alien'\] were not seen in training"):
        clf.evaluate(other)
    with pytest.warns(UserWarning, match="dropped 1 examples with unseen labels"):
        assert clf.evaluate(other, unknown="skip")["n"] == 1
    with pytest.raises(DataError, match="model.input='numeric' needs numeric series"):
        Classifier(apply_overrides(cfg, ["model.input=numeric"])).fit(_toy_text(4))


def test_splits_are_seeded_partitions():
    d = _toy_text(50)
    tr, te = random_split(d, 0.15, 2024)
    assert (len(tr), len(te)) == (85, 15)
    assert sorted(tr.inputs + te.inputs) == sorted(d.inputs)
    tests = [kfold_split(d, 10, k, 0)[1] for k in range(10)]
    assert sorted(x for t in tests for x in t.inputs) == sorted(d.inputs)  # folds partition the data


def _toy_chunks() -> ColumnData:
    sents = [
        [("The", "DT", "B-NP"), ("dog", "NN", "I-NP"), ("runs", "VBZ", "B-VP")],
        [("A", "DT", "B-NP"), ("cat", "NN", "I-NP"), ("sleeps", "VBZ", "B-VP"), (".", ".", "O")],
        [("Dogs", "NNS", "B-NP"), ("bark", "VBP", "B-VP")],
    ] * 6
    return ColumnData(sents, "toy-chunks")


@pytest.mark.parametrize("crf", [True, False])
def test_tagger_learns_with_chars_and_crf(tmp_path, crf):
    cfg = apply_overrides(
        TaggerConfig(),
        [
            *QUIET,
            "model.hidden_size=16",
            "model.word_embed=8",
            "model.char_embed=6",
            "model.char_hidden=4",
            f"model.crf={str(crf).lower()}",
            "model.embed_dropout=0",
            "train.epochs=6",
            "train.lr=3e-2",
            "data.batch_size=6",
        ],
    )
    data = _toy_chunks()
    tagger = Tagger(replace(cfg, run_dir=str(tmp_path / "tag")))
    tagger.fit(data)
    r = tagger.evaluate(data)
    assert r["token_accuracy"] > 0.95 and r["span_f1"] > 0.9
    again = Tagger.load(tmp_path / "tag")
    assert again.predict(["The cat runs"]) == tagger.predict([["The", "cat", "runs"]])
    unseen = ColumnData([[("in", "IN", "B-PP")], [("The", "DT", "B-NP")]], "x")
    with pytest.raises(DataError, match=r"tags \['B-PP'\] were not seen in training"):
        tagger.evaluate(unseen, unknown="error")
    with pytest.warns(UserWarning, match=r"1 gold tags of kinds \['B-PP'\] .* scored as errors"):
        r = tagger.evaluate(unseen)  # conlleval's behaviour: kept, and necessarily wrong
    assert r["tokens"] == 2 and r["token_accuracy"] <= 0.5
    with pytest.warns(UserWarning, match="dropped 1 sentences with unseen tags"):
        assert tagger.evaluate(unseen, unknown="skip")["tokens"] == 1
    with pytest.raises(DataError, match="sentence 0 has no tokens"):
        tagger.predict([""])


def test_word_dropout_replaces_tokens_with_unk_in_training_only():
    from rnnkit.config import ConfigError
    from rnnkit.tasks.classify.model import ClassifierNet

    cfg = apply_overrides(
        ClassifierConfig(),
        [
            "model.input=word",
            "model.word_dropout=0.5",
            "model.hidden_size=4",
            "model.embed_size=8",
            "model.pooling=mean",
        ],
    )
    net = ClassifierNet(cfg.model, num_classes=2, vocab_size=50)
    seen = []
    net.embed.register_forward_hook(lambda mod, args, out: seen.append(args[0].clone()))
    torch.manual_seed(0)
    x = torch.randint(2, 50, (64, 40))
    x[:, 30:] = 0  # padding
    lengths = torch.full((64,), 30)
    net.train()
    net(x, lengths)
    dropped = seen[-1] != x
    assert (seen[-1][dropped] == 1).all()  # a dropped token reads as <unk>
    assert not dropped[:, 30:].any()  # padding is never touched
    assert 0.45 < dropped[:, :30].float().mean().item() < 0.55  # 1920 draws at p = 0.5: 4.4 sd either side
    net.eval()
    net(x, lengths)
    assert torch.equal(seen[-1], x)  # evaluation sees the tokens as given
    with pytest.raises(ConfigError, match=r"model.word_dropout must be in \[0, 1\)"):
        apply_overrides(ClassifierConfig(), ["model.word_dropout=1.0"])
    with pytest.raises(ConfigError, match="model.word_dropout applies to char/word tokens"):
        apply_overrides(ClassifierConfig(), ["model.input=numeric", "model.word_dropout=0.1"])


def test_ensemble_averages_member_probabilities():
    from rnnkit.tasks.classify.ensemble import evaluate_ensemble

    data = _toy_text(20)
    members = []
    for seed in (0, 1):
        cfg = apply_overrides(
            ClassifierConfig(),
            [*QUIET, "model.hidden_size=4", "model.embed_size=4", "train.epochs=1", f"train.seed={seed}"],
        )
        clf = Classifier(cfg)
        clf.fit(data)
        members.append(clf)
    # checked against predict_proba, not against evaluate() (which is evaluate_ensemble of one)
    p0, p1 = (m.predict_proba(data.inputs)[0] for m in members)
    y = np.array([members[0].classes.index(c) for c in data.labels])
    one = evaluate_ensemble(members[:1], data)
    assert one["members"] == 1 and one["accuracy"] == pytest.approx(float(np.mean(p0.argmax(1) == y)))
    both = evaluate_ensemble(members, data)
    p = (p0 + p1) / 2
    assert both["members"] == 2 and both["n"] == len(y)
    assert both["accuracy"] == pytest.approx(float(np.mean(p.argmax(1) == y)))
    assert both["loss"] == pytest.approx(float(-np.mean(np.log(p[np.arange(len(y)), y]))))
    # a member whose classes come in another order is read by class name, not by column
    members[1].classes = members[1].classes[::-1]
    out = members[1].net.head.out  # the same model with its output rows swapped
    out.weight.data, out.bias.data = out.weight.data.flip(0), out.bias.data.flip(0)
    assert evaluate_ensemble(members, data)["accuracy"] == pytest.approx(both["accuracy"])
    members[1].classes = ["vowel", "other"]
    with pytest.raises(ValueError, match="members must be trained on the same label set"):
        evaluate_ensemble(members, data)
    with pytest.raises(ValueError, match="at least one"):
        evaluate_ensemble([], data)


_MOVED_HERE = [  # the names that left classify's, speech's and speech-ctc's task.py for config.py / data.py
    (old, name, new)
    for old, moved in MOVED_NAMES.items()
    if old.startswith(("rnnkit.tasks.classify.", "rnnkit.tasks.speech"))
    for name, new in moved.items()
]


@pytest.mark.parametrize(
    ("old", "name", "new"),
    [
        *_MOVED_HERE,
        ("rnnkit.models.classifier", "ClassifierNet", "rnnkit.tasks.classify.model"),
        ("rnnkit.tasks.classify.metrics", "class_report", "rnnkit.tasks.metrics"),
    ],
)
def test_names_that_left_a_classify_or_speech_module_still_import_from_it_with_a_warning(old, name, new):
    """One release of grace (rnnkit.moved): the old path hands over the very object and says where it lives now."""
    with pytest.warns(DeprecationWarning, match=rf"{old}\.{name} moved to {new}\.{name}"):
        got = getattr(importlib.import_module(old), name)
    assert got is getattr(importlib.import_module(new), name)
