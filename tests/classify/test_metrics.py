"""Metric values against hand-computed ones."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.tasks.metrics import (
    accuracy,
    class_report,
    confusion_matrix,
    iob_spans,
    macro_f1,
    majority_baseline,
    span_f1,
    token_accuracy,
)


def test_confusion_and_report_by_hand():
    y = [0, 0, 0, 1, 1, 2]
    p = [0, 1, 0, 1, 2, 2]
    C = confusion_matrix(y, p, 3)
    assert C.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    r = class_report(y, p, 3)
    # class 0: P = 2/2, R = 2/3; class 1: P = 1/2, R = 1/2; class 2: P = 1/2, R = 1/1
    assert np.allclose(r.precision, [1.0, 0.5, 0.5])
    assert np.allclose(r.recall, [2 / 3, 0.5, 1.0])
    f1 = [2 * (2 / 3) / (1 + 2 / 3), 0.5, 2 * 0.5 / 1.5]
    assert np.allclose(r.f1, f1)
    assert r.macro_f1 == pytest.approx(np.mean(f1))
    assert r.accuracy == pytest.approx(4 / 6) == accuracy(y, p)
    assert r.support.tolist() == [3, 2, 1]
    assert macro_f1(y, p, 3) == pytest.approx(np.mean(f1))


def test_class_never_predicted_counts_zero_in_macro():
    r = class_report([0, 1], [0, 0], 3)  # class 1 never predicted, class 2 absent
    assert r.precision.tolist() == [0.5, 0.0, 0.0]
    assert r.f1[2] == 0.0 and r.macro_f1 == pytest.approx((2 * 0.5 * 1 / 1.5) / 3)


def test_majority_baseline():
    assert majority_baseline([1, 1, 2], [1, 2, 2, 1]) == 0.5


def test_metric_errors():
    with pytest.raises(ValueError, match="y_true has 2 labels but y_pred has 1"):
        accuracy([0, 1], [0])
    with pytest.raises(ValueError, match=r"class ids must be in \[0, 2\)"):
        confusion_matrix([0, 5], [0, 1], 2)
    with pytest.raises(ValueError, match="is not IOB"):
        iob_spans(["NP"])


def test_iob_spans_follow_conlleval():
    tags = ["B-NP", "I-NP", "O", "I-VP", "I-VP", "B-NP", "B-NP", "I-PP"]
    assert iob_spans(tags) == {("NP", 0, 2), ("VP", 3, 5), ("NP", 5, 6), ("NP", 6, 7), ("PP", 7, 8)}
    assert iob_spans(["S-X", "S-X", "B-Y", "E-Y", "I-Y"]) == {("X", 0, 1), ("X", 1, 2), ("Y", 2, 4), ("Y", 4, 5)}


def test_span_f1_and_token_accuracy_by_hand():
    gold = [["B-NP", "I-NP", "O", "B-VP"], ["B-PP", "B-NP"]]
    pred = [["B-NP", "I-NP", "O", "O"], ["B-PP", "I-PP"]]
    s = span_f1(gold, pred)
    # gold chunks: NP(0,2), VP(3,4), PP(0,1), NP(1,2) = 4; pred: NP(0,2), PP(0,2) = 2; correct: NP(0,2) = 1
    assert (s.n_true, s.n_pred, s.n_correct) == (4, 2, 1)
    assert s.precision == 0.5 and s.recall == 0.25 and s.f1 == pytest.approx(2 * 0.5 * 0.25 / 0.75)
    assert token_accuracy(gold, pred) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="sentence 0 has 4 gold tags but 3 predicted"):
        span_f1([gold[0]], [pred[0][:3]])
